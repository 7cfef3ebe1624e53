//! The identity provider's configuration: clients (applications), APIs (resource
//! servers), demo users and a few server settings, read from one TOML file.
//!
//! The shipped file `idp/hashgate-idp.toml` documents every field. Tests build a
//! [`Config`] in code (see [`Config::demo`] and [`ClientConfig::spa`]) and change what
//! they need, for example an API's `token_lifetime_secs`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

/// The default configuration shipped with the crate (`idp/hashgate-idp.toml`).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../hashgate-idp.toml");

/// Scopes defined by OpenID Connect that this provider understands.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// Why a configuration could not be loaded. Messages name the file, and where
/// possible the line and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong, as the TOML parser says it.
        message: String,
    },
    /// A value parsed but breaks a rule (duplicate id, bad URL shape, ...).
    #[error("{}{}: {field}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending value, when it can be found.
        line: Option<usize>,
        /// Which field, e.g. `clients[0].callbacks[1]`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory of Auth0-style rules and Actions (`*.js`, run in file-name order
    /// on every successful authorization). Relative paths are resolved against the
    /// config file's directory. `None`: no rules.
    #[serde(default)]
    pub rules_dir: Option<PathBuf>,
    /// Limits and settings for running rules.
    #[serde(default)]
    pub rules: RulesConfig,
    /// Login session settings.
    #[serde(default)]
    pub session: SessionConfig,
    /// Failed-login throttling.
    #[serde(default)]
    pub throttle: ThrottleConfig,
    /// Signing key settings.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Registered applications.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// Registered APIs (resource servers, chosen with the `audience` parameter).
    #[serde(default)]
    pub apis: Vec<ApiConfig>,
    /// Users seeded into the database on every start.
    #[serde(default)]
    pub users: Vec<UserConfig>,
}

/// Login session settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// How long a login session lasts, in seconds (default 3 days, like Auth0's
    /// inactivity timeout).
    #[serde(default = "default_session_lifetime")]
    pub lifetime_secs: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifetime_secs: default_session_lifetime(),
        }
    }
}

/// Failed-login throttling: after `max_failures` failures for one username or one
/// client IP within `window_secs`, further attempts are refused until old failures
/// age out of the window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Failures allowed inside the window (default 5).
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// Length of the window in seconds (default 300).
    #[serde(default = "default_window")]
    pub window_secs: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            max_failures: default_max_failures(),
            window_secs: default_window(),
        }
    }
}

/// How rules run: limits per rule, an optional separate Actions directory and the
/// `configuration` object rules read (Auth0 "rules configuration").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Wall-clock limit per rule or Action, in milliseconds (default 2000).
    #[serde(default = "default_rule_timeout")]
    pub timeout_ms: u64,
    /// Memory cap of the JavaScript engine per rule, in bytes (default 32 MiB).
    #[serde(default = "default_rule_memory")]
    pub memory_limit_bytes: u64,
    /// Directory of Auth0 Actions (`exports.onExecutePostLogin`), run after
    /// everything in `rules_dir`. Relative to the config file. Optional.
    #[serde(default)]
    pub actions_dir: Option<PathBuf>,
    /// The global `configuration` object rules see (string values, like Auth0).
    #[serde(default)]
    pub configuration: BTreeMap<String, String>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            timeout_ms: default_rule_timeout(),
            memory_limit_bytes: default_rule_memory(),
            actions_dir: None,
            configuration: BTreeMap::new(),
        }
    }
}

/// Signing key settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// How long a key replaced by `rotate-keys` stays in the JWKS, in seconds
    /// (default 1 day, longer than any token lifetime).
    #[serde(default = "default_grace")]
    pub grace_period_secs: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            grace_period_secs: default_grace(),
        }
    }
}

/// A registered application (Auth0 "Application").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The `client_id` the app sends.
    pub client_id: String,
    /// Human name shown on the login and consent pages.
    pub name: String,
    /// Allowed `redirect_uri` values, matched exactly (Auth0 "Allowed Callback URLs").
    pub callbacks: Vec<Url>,
    /// Origins allowed to receive `web_message` responses and to call `/userinfo`
    /// from a browser (Auth0 "Allowed Web Origins").
    #[serde(default)]
    pub web_origins: Vec<Url>,
    /// Where logout may send the browser back to, matched exactly (Auth0 "Allowed
    /// Logout URLs").
    #[serde(default, alias = "logout_urls")]
    pub allowed_logout_urls: Vec<Url>,
    /// Grants the client may use; `/authorize` answers `unauthorized_client` unless
    /// this contains `implicit` (default `["implicit"]`).
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    /// Skip the consent page for this client (like an Auth0 first-party app).
    #[serde(default)]
    pub skip_consent: bool,
    /// ID token lifetime in seconds (default 36000, Auth0's default).
    #[serde(default = "default_id_token_lifetime")]
    pub id_token_lifetime_secs: u64,
}

impl ClientConfig {
    /// A client for a single-page app served at `origin` (e.g. `http://127.0.0.1:8080`):
    /// callbacks `{origin}/callback` and `{origin}/silent-callback.html`, web origin
    /// `{origin}`, logout URL `{origin}/`.
    pub fn spa(client_id: &str, name: &str, origin: &str) -> Result<Self, url::ParseError> {
        let base = Url::parse(origin)?;
        Ok(Self {
            client_id: client_id.to_owned(),
            name: name.to_owned(),
            callbacks: vec![base.join("/callback")?, base.join("/silent-callback.html")?],
            web_origins: vec![base.join("/")?],
            allowed_logout_urls: vec![base.join("/")?],
            grant_types: default_grant_types(),
            skip_consent: false,
            id_token_lifetime_secs: default_id_token_lifetime(),
        })
    }
}

/// A registered API (Auth0 "API"): its identifier is the `audience` apps request and
/// the access token's `aud`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// The API identifier (the `audience` value).
    pub identifier: String,
    /// Human name shown on the consent page.
    pub name: String,
    /// The permissions (scopes) the API defines.
    #[serde(default)]
    pub scopes: Vec<ScopeConfig>,
    /// Access token lifetime in seconds (default 7200).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
}

/// One API permission.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// The scope string, e.g. `read:messages`.
    pub value: String,
    /// What it allows, in words, shown on the consent page.
    pub description: String,
}

/// A user seeded into the database on start. Give either `password` (hashed with
/// argon2 when loaded, never stored or logged as is) or `password_hash` (a PHC
/// string such as `$argon2id$v=19$...`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub username: String,
    /// Plain password for demo users; hashed at load.
    #[serde(default)]
    pub password: Option<String>,
    /// Argon2 PHC hash of the password.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// The `sub` claim; default `auth0|{username}`.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Full name (`name` claim).
    pub name: String,
    /// Email address (`email` claim).
    pub email: String,
    /// Whether the email is verified (default true).
    #[serde(default = "default_true")]
    pub email_verified: bool,
    /// Nickname (default the username).
    #[serde(default)]
    pub nickname: Option<String>,
    /// Picture URL (default an initials avatar served by this provider).
    #[serde(default)]
    pub picture: Option<String>,
    /// Auth0 `app_metadata` (e.g. roles); rules read it.
    #[serde(default = "empty_object")]
    pub app_metadata: serde_json::Value,
    /// Auth0 `user_metadata`.
    #[serde(default = "empty_object")]
    pub user_metadata: serde_json::Value,
    /// Granted API permissions: API identifier -> scopes.
    #[serde(default)]
    pub permissions: BTreeMap<String, Vec<String>>,
}

impl fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl UserConfig {
    /// The user's `sub`.
    pub fn effective_user_id(&self) -> String {
        self.user_id
            .clone()
            .unwrap_or_else(|| format!("auth0|{}", self.username))
    }
}

fn default_session_lifetime() -> u64 {
    3 * 24 * 3600
}
fn default_max_failures() -> u32 {
    5
}
fn default_window() -> u64 {
    300
}
fn default_rule_timeout() -> u64 {
    2000
}
fn default_rule_memory() -> u64 {
    32 * 1024 * 1024
}
fn default_grace() -> u64 {
    24 * 3600
}
fn default_grant_types() -> Vec<String> {
    vec!["implicit".to_owned()]
}
fn default_id_token_lifetime() -> u64 {
    36000
}
fn default_token_lifetime() -> u64 {
    7200
}
fn default_true() -> bool {
    true
}
fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    /// Parses and validates TOML text; `path` names the file in error messages and
    /// anchors a relative `rules_dir`.
    pub fn from_toml_str(text: &str, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        config.validate_with_source(path, Some(text))?;
        let anchor = |dir: &mut Option<PathBuf>| {
            if let (Some(d), Some(parent)) = (dir.as_mut(), path.parent()) {
                if d.is_relative() {
                    *d = parent.join(&*d);
                }
            }
        };
        anchor(&mut config.rules_dir);
        anchor(&mut config.rules.actions_dir);
        Ok(config)
    }

    /// The shipped default configuration (demo client, API, users and the example
    /// rules in `idp/rules`, found through this crate's source directory).
    pub fn demo() -> Self {
        // The shipped file is checked by a unit test, so this cannot fail at run time
        // unless the file is broken, in which case an empty config is the safe answer.
        // Anchored at the crate directory so tests and tools started from any working
        // directory find the example rules.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/hashgate-idp.toml");
        Self::from_toml_str(DEFAULT_CONFIG_TOML, path).unwrap_or_else(|_| Self {
            rules_dir: None,
            rules: RulesConfig::default(),
            session: SessionConfig::default(),
            throttle: ThrottleConfig::default(),
            keys: KeysConfig::default(),
            clients: Vec::new(),
            apis: Vec::new(),
            users: Vec::new(),
        })
    }

    /// Checks the rules a parsed config must follow (unique ids, URL shapes,
    /// permissions naming defined scopes). Call it after changing a config in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with_source(Path::new("<config>"), None)
    }

    /// The client with this id.
    pub fn client(&self, client_id: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The API with this identifier.
    pub fn api(&self, identifier: &str) -> Option<&ApiConfig> {
        self.apis.iter().find(|a| a.identifier == identifier)
    }

    fn validate_with_source(&self, path: &Path, source: Option<&str>) -> Result<(), ConfigError> {
        let invalid = |field: String, needle: &str, message: &str| ConfigError::Invalid {
            path: path.to_owned(),
            line: source.and_then(|s| find_line(s, needle)),
            field,
            message: message.to_owned(),
        };
        let mut ids = HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let f = |name: &str| format!("clients[{i}].{name}");
            if c.client_id.trim().is_empty() {
                return Err(invalid(f("client_id"), "client_id", "must not be empty"));
            }
            if !ids.insert(c.client_id.as_str()) {
                return Err(invalid(f("client_id"), &c.client_id, "duplicate client id"));
            }
            if c.name.trim().is_empty() {
                return Err(invalid(f("name"), &c.client_id, "must not be empty"));
            }
            if c.callbacks.is_empty() {
                return Err(invalid(
                    f("callbacks"),
                    &c.client_id,
                    "at least one callback url is required",
                ));
            }
            for (j, u) in c.callbacks.iter().enumerate() {
                check_redirect_url(u)
                    .map_err(|m| invalid(f(&format!("callbacks[{j}]")), u.as_str(), m))?;
            }
            for (j, u) in c.allowed_logout_urls.iter().enumerate() {
                check_redirect_url(u)
                    .map_err(|m| invalid(f(&format!("allowed_logout_urls[{j}]")), u.as_str(), m))?;
            }
            for (j, u) in c.web_origins.iter().enumerate() {
                let field = f(&format!("web_origins[{j}]"));
                let needle = u.as_str().trim_end_matches('/');
                check_redirect_url(u).map_err(|m| invalid(field.clone(), needle, m))?;
                if u.path() != "/" || u.query().is_some() {
                    return Err(invalid(
                        field,
                        needle,
                        "a web origin is scheme, host and port only",
                    ));
                }
            }
            if c.id_token_lifetime_secs == 0 {
                return Err(invalid(
                    f("id_token_lifetime_secs"),
                    "id_token_lifetime_secs",
                    "must be positive",
                ));
            }
        }
        if self.rules.timeout_ms == 0 || self.rules.timeout_ms > 60_000 {
            return Err(invalid(
                "rules.timeout_ms".into(),
                "timeout_ms",
                "must be between 1 and 60000 milliseconds",
            ));
        }
        if self.rules.memory_limit_bytes < 1024 * 1024
            || self.rules.memory_limit_bytes > 1024 * 1024 * 1024
        {
            return Err(invalid(
                "rules.memory_limit_bytes".into(),
                "memory_limit_bytes",
                "must be between 1 MiB and 1 GiB",
            ));
        }
        let mut apis = HashSet::new();
        for (i, a) in self.apis.iter().enumerate() {
            let f = |name: &str| format!("apis[{i}].{name}");
            if a.identifier.trim().is_empty() || a.identifier.contains(char::is_whitespace) {
                return Err(invalid(
                    f("identifier"),
                    "identifier",
                    "must be non-empty without spaces",
                ));
            }
            if !apis.insert(a.identifier.as_str()) {
                return Err(invalid(
                    f("identifier"),
                    &a.identifier,
                    "duplicate api identifier",
                ));
            }
            if a.token_lifetime_secs == 0 || a.token_lifetime_secs > 2_592_000 {
                return Err(invalid(
                    f("token_lifetime_secs"),
                    "token_lifetime_secs",
                    "must be between 1 and 2592000 seconds",
                ));
            }
            let mut scopes = HashSet::new();
            for (j, s) in a.scopes.iter().enumerate() {
                let field = f(&format!("scopes[{j}].value"));
                if s.value.is_empty() || s.value.contains(char::is_whitespace) {
                    return Err(invalid(field, "value", "must be non-empty without spaces"));
                }
                if OIDC_SCOPES.contains(&s.value.as_str()) {
                    return Err(invalid(
                        field,
                        &s.value,
                        "an openid connect scope cannot be an api scope",
                    ));
                }
                if !scopes.insert(s.value.as_str()) {
                    return Err(invalid(field, &s.value, "duplicate scope"));
                }
            }
        }
        let mut names = HashSet::new();
        let mut subs = HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            let f = |name: &str| format!("users[{i}].{name}");
            if u.username.trim().is_empty() {
                return Err(invalid(f("username"), "username", "must not be empty"));
            }
            if !names.insert(u.username.to_lowercase()) {
                return Err(invalid(f("username"), &u.username, "duplicate username"));
            }
            if !subs.insert(u.effective_user_id()) {
                return Err(invalid(f("user_id"), &u.username, "duplicate user id"));
            }
            match (&u.password, &u.password_hash) {
                (Some(_), None) => {}
                (None, Some(h)) => {
                    if argon2::PasswordHash::new(h).is_err() {
                        return Err(invalid(
                            f("password_hash"),
                            "password_hash",
                            "not a PHC hash string",
                        ));
                    }
                }
                _ => {
                    return Err(invalid(
                        f("password"),
                        &u.username,
                        "give exactly one of password or password_hash",
                    ))
                }
            }
            if !u.app_metadata.is_object() {
                return Err(invalid(
                    f("app_metadata"),
                    "app_metadata",
                    "must be a table",
                ));
            }
            if !u.user_metadata.is_object() {
                return Err(invalid(
                    f("user_metadata"),
                    "user_metadata",
                    "must be a table",
                ));
            }
            for (api, perms) in &u.permissions {
                let field = f(&format!("permissions.{api}"));
                let Some(def) = self.api(api) else {
                    return Err(invalid(field, api, "no api with this identifier"));
                };
                for p in perms {
                    if !def.scopes.iter().any(|s| &s.value == p) {
                        return Err(invalid(field, p, "the api defines no such scope"));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_redirect_url(u: &Url) -> Result<(), &'static str> {
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err("must be an http or https url");
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not contain user information");
    }
    if u.fragment().is_some() {
        return Err("must not contain a fragment");
    }
    if u.host_str().is_none() {
        return Err("must have a host");
    }
    Ok(())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn find_line(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains(needle))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_parses_and_registers_the_demo() {
        let c = Config::from_toml_str(DEFAULT_CONFIG_TOML, "hashgate-idp.toml").unwrap();
        let spa = c.client("hashgate-spa").unwrap();
        assert_eq!(spa.name, "Hashgate Demo");
        assert_eq!(spa.callbacks.len(), 4);
        let api = c.api("https://api.hashgate.local").unwrap();
        assert_eq!(api.token_lifetime_secs, 7200);
        assert_eq!(c.users.len(), 3);
        assert_eq!(c.rules_dir.as_deref(), Some(Path::new("rules")));
        assert_eq!(c.rules.timeout_ms, 2000);
        assert_eq!(c.users[0].app_metadata["roles"][0], "admin");
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column() {
        let err = Config::from_toml_str("[[clients]]\nclient_id = \n", "x.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x.toml:2:"), "{msg}");
    }

    #[test]
    fn an_unknown_field_is_an_error_naming_the_line() {
        let err = Config::from_toml_str("rules_dir = \"r\"\nbogus = 1\n", "x.toml").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("x.toml:2:") && msg.contains("bogus"),
            "{msg}"
        );
    }

    #[test]
    fn a_bad_callback_url_names_the_field_and_line() {
        let text =
            "[[clients]]\nclient_id = \"a\"\nname = \"A\"\ncallbacks = [\"http://x/cb#frag\"]\n";
        let err = Config::from_toml_str(text, "x.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml:4: clients[0].callbacks[0]: must not contain a fragment"
        );
    }

    #[test]
    fn a_permission_for_an_undefined_scope_is_rejected() {
        let mut c = Config::demo();
        c.users[1].permissions.insert(
            "https://api.hashgate.local".into(),
            vec!["delete:everything".into()],
        );
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("no such scope"));
    }

    #[test]
    fn the_rules_table_is_read_and_its_limits_checked() {
        let text = "rules_dir = \"r\"\n[rules]\ntimeout_ms = 500\nactions_dir = \"a\"\n[rules.configuration]\nKEY = \"v\"\n";
        let c = Config::from_toml_str(text, "conf/x.toml").unwrap();
        assert_eq!(c.rules_dir.as_deref(), Some(Path::new("conf/r")));
        assert_eq!(c.rules.actions_dir.as_deref(), Some(Path::new("conf/a")));
        assert_eq!(c.rules.timeout_ms, 500);
        assert_eq!(c.rules.configuration["KEY"], "v");
        let err = Config::from_toml_str("[rules]\ntimeout_ms = 0\n", "x.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml:2: rules.timeout_ms: must be between 1 and 60000 milliseconds"
        );
    }

    #[test]
    fn debug_output_never_shows_passwords() {
        let c = Config::demo();
        let dump = format!("{c:?}");
        assert!(!dump.contains("alice-password"));
        assert!(dump.contains("[redacted]"));
    }

    #[test]
    fn a_spa_client_gets_callbacks_origin_and_logout_url() {
        let c = ClientConfig::spa("id", "App", "http://127.0.0.1:4321").unwrap();
        assert_eq!(c.callbacks[0].as_str(), "http://127.0.0.1:4321/callback");
        assert_eq!(
            c.callbacks[1].as_str(),
            "http://127.0.0.1:4321/silent-callback.html"
        );
        assert_eq!(c.web_origins[0].as_str(), "http://127.0.0.1:4321/");
    }
}
