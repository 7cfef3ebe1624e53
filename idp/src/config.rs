//! The identity provider's configuration: clients (applications), APIs (resource
//! servers), demo users and a few server settings, read from one TOML file.
//!
//! The shipped file `idp/hashgate-idp.toml` documents every field. Tests build a
//! [`Config`] in code (see [`Config::demo`] and [`ClientConfig::spa`]) and change what
//! they need, for example an API's `token_lifetime_secs`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

/// The default configuration shipped with the crate (`idp/hashgate-idp.toml`).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../hashgate-idp.toml");

/// Scopes defined by OpenID Connect that this provider understands.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// The scope that asks for a refresh token (OIDC Core §11). Understood only in
/// authorization code requests, and granted only to clients with refresh-token
/// rotation on; it is never an API permission.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The grant types a client may list in `grant_types`.
pub const GRANT_TYPES: [&str; 3] = ["implicit", "authorization_code", "refresh_token"];

/// Auth0's default absolute lifetime of a rotating refresh token: 30 days.
pub const DEFAULT_REFRESH_TOKEN_LIFETIME_SECS: u64 = 30 * 24 * 3600;

/// Auth0's default inactivity lifetime of a rotating refresh token: 15 days.
pub const DEFAULT_REFRESH_TOKEN_IDLE_LIFETIME_SECS: u64 = 15 * 24 * 3600;

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

/// The whole configuration file. Every table and field except the required ones of
/// clients, APIs and users may be left out: [`Default`] says what it then is.
/// Serializing one (`toml::to_string`) writes a file [`Config::load`] reads back, for
/// tools that start the provider's binary with an edited config.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory of Auth0-style rules and Actions (`*.js`, run in file-name order
    /// on every successful authorization). Relative paths are resolved against the
    /// config file's directory. `None`: no rules.
    pub rules_dir: Option<PathBuf>,
    /// Limits and settings for running rules.
    pub rules: RulesConfig,
    /// Login session settings.
    pub session: SessionConfig,
    /// Failed-login throttling, and the proxies whose `X-Forwarded-For` is believed.
    pub throttle: ThrottleConfig,
    /// Caps on pending logins (authorization requests waiting for the login form).
    pub transactions: TransactionsConfig,
    /// Signing key settings.
    pub keys: KeysConfig,
    /// DPoP proofs at the token endpoint (RFC 9449).
    pub dpop: DpopConfig,
    /// Registered applications.
    pub clients: Vec<ClientConfig>,
    /// Registered APIs (resource servers, chosen with the `audience` parameter).
    pub apis: Vec<ApiConfig>,
    /// Users seeded into the database on every start.
    pub users: Vec<UserConfig>,
}

/// DPoP at the token endpoint (RFC 9449, see `idp/README.md`, "DPoP"). A client may
/// always send a proof; `dpop_bound_access_tokens` on a client makes one required.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DpopConfig {
    /// Require a server-provided nonce in every proof (RFC 9449 §8; default false): a
    /// proof without the current one gets 400 `use_dpop_nonce` and a `DPoP-Nonce`
    /// header to retry with.
    pub require_nonce: bool,
    /// How far a proof's `iat` may be from the provider's clock, either way, in
    /// seconds (default 60); its `jti` is remembered this long and twice over.
    pub proof_window_secs: u64,
    /// How long a server nonce is offered before a new one replaces it, in seconds
    /// (default 300); the previous one is still accepted for as long again.
    pub nonce_lifetime_secs: u64,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            require_nonce: false,
            proof_window_secs: 60,
            nonce_lifetime_secs: 300,
        }
    }
}

/// Login session settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// How long a login session lasts, in seconds (default 3 days, like Auth0's
    /// inactivity timeout).
    pub lifetime_secs: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifetime_secs: 3 * 24 * 3600,
        }
    }
}

/// Failed-login throttling: after `max_failures` failures from one client IP within
/// `window_secs`, that IP may not try again until old failures age out of the window;
/// after `max_failures` for one username, only IPs without failures may still try it
/// (see `idp/README.md`, "Throttling").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Failures allowed inside the window (default 5).
    pub max_failures: u32,
    /// Length of the window in seconds (default 300).
    pub window_secs: u64,
    /// Reverse proxies in front of the provider (default none): addresses (`"10.0.0.2"`)
    /// or CIDR ranges (`"10.0.0.0/8"`). For a request from one of these the client IP is
    /// the right-most `X-Forwarded-For` entry that is not one of them; from any other peer
    /// the header is ignored.
    pub trusted_proxies: Vec<ProxyRange>,
}

/// A trusted proxy in `[throttle] trusted_proxies`: one address, or a CIDR range of them
/// (a load balancer whose address is not fixed). Host bits after the prefix are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProxyRange(ipnet::IpNet);

impl ProxyRange {
    /// Whether `ip` is this proxy, or in its range. IPv4-mapped IPv6 addresses
    /// (`::ffff:10.0.0.2`) count as the IPv4 address they carry.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl std::str::FromStr for ProxyRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let net = match s.parse::<ipnet::IpNet>() {
            Ok(net) => net.trunc(),
            Err(_) => match s.parse::<IpAddr>() {
                Ok(ip) => ipnet::IpNet::from(ip.to_canonical()),
                Err(_) => {
                    return Err(format!(
                        "{s:?} is neither an IP address nor a CIDR range (like \"10.0.0.0/8\")"
                    ))
                }
            },
        };
        Ok(Self(net))
    }
}

impl TryFrom<String> for ProxyRange {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ProxyRange> for String {
    fn from(range: ProxyRange) -> Self {
        range.0.to_string()
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_secs: 300,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Caps on pending logins: every `/authorize` that shows the login or consent page
/// stores the request until it is finished or 30 minutes pass. A network over its cap
/// loses its own oldest pending logins; a full store loses the oldest of the network
/// holding the most. Nobody is refused (see `idp/README.md`, "Flood caps").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransactionsConfig {
    /// Pending logins one client address may hold: an IPv4 address, an IPv6 /64
    /// (default 200).
    pub max_pending_per_ip: u32,
    /// Pending logins one site may hold: an IPv6 /48, an IPv4 /24 (default 1000).
    pub max_pending_per_site: u32,
    /// Pending logins one IPv6 /32 may hold (default 2000; IPv4 has no level above
    /// the /24).
    pub max_pending_per_allocation: u32,
    /// Pending logins in all (default 20000).
    pub max_pending_total: u32,
}

impl Default for TransactionsConfig {
    fn default() -> Self {
        Self {
            max_pending_per_ip: 200,
            max_pending_per_site: 1000,
            max_pending_per_allocation: 2000,
            max_pending_total: 20_000,
        }
    }
}

/// How rules run: limits per rule, an optional separate Actions directory and the
/// `configuration` object rules read (Auth0 "rules configuration").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Wall-clock limit per rule or Action, in milliseconds (default 2000).
    pub timeout_ms: u64,
    /// Memory cap of the JavaScript engine per rule, in bytes (default 32 MiB).
    pub memory_limit_bytes: u64,
    /// Directory of Auth0 Actions (`exports.onExecutePostLogin`), run after
    /// everything in `rules_dir`. Relative to the config file. Optional.
    pub actions_dir: Option<PathBuf>,
    /// The global `configuration` object rules see (string values, like Auth0).
    pub configuration: BTreeMap<String, String>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 2000,
            memory_limit_bytes: 32 * 1024 * 1024,
            actions_dir: None,
            configuration: BTreeMap::new(),
        }
    }
}

/// Signing key settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// How long a key replaced by `rotate-keys` stays in the JWKS, in seconds
    /// (default 1 day, longer than any token lifetime).
    pub grace_period_secs: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            grace_period_secs: 24 * 3600,
        }
    }
}

/// A registered application (Auth0 "Application"). `client_id`, `name` and
/// `callbacks` are required (checked by [`Config::validate`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// The `client_id` the app sends.
    pub client_id: String,
    /// Human name shown on the login and consent pages.
    pub name: String,
    /// Allowed `redirect_uri` values, matched exactly (Auth0 "Allowed Callback URLs").
    pub callbacks: Vec<Url>,
    /// Origins allowed to receive `web_message` responses and to call `/userinfo`
    /// from a browser (Auth0 "Allowed Web Origins").
    pub web_origins: Vec<Url>,
    /// Where logout may send the browser back to, matched exactly (Auth0 "Allowed
    /// Logout URLs").
    #[serde(alias = "logout_urls")]
    pub allowed_logout_urls: Vec<Url>,
    /// Grants the client may use (default `["implicit"]`): `implicit`
    /// (`response_type` `token` / `id_token`), `authorization_code` (`response_type=code`
    /// with PKCE, redeemed at `/oauth/token`) and `refresh_token`. A request for a
    /// grant not listed gets `unauthorized_client`.
    pub grant_types: Vec<String>,
    /// Skip the consent page for this client (like an Auth0 first-party app).
    pub skip_consent: bool,
    /// ID token lifetime in seconds (default 36000, Auth0's default).
    pub id_token_lifetime_secs: u64,
    /// Issue rotating refresh tokens to code requests that ask for `offline_access`
    /// (Auth0 "Refresh Token Rotation"; default false). Needs `refresh_token` in
    /// `grant_types`. Every refresh spends the token and returns a new one; a spent
    /// token presented again revokes its whole family.
    pub refresh_token_rotation: bool,
    /// Absolute lifetime of a refresh-token family, from the login, in seconds
    /// (Auth0 `token_lifetime`; default 2592000, 30 days).
    pub refresh_token_lifetime_secs: u64,
    /// Inactivity lifetime: a refresh token unused this long expires, in seconds
    /// (Auth0 `idle_token_lifetime`; default 1296000, 15 days).
    pub refresh_token_idle_lifetime_secs: u64,
    /// How long a spent refresh token may still be exchanged, so that tabs refreshing
    /// at the same moment are not taken for a replay, in seconds (Auth0 "Reuse
    /// Interval", `leeway`; default 0).
    pub refresh_token_leeway_secs: u64,
    /// Require a DPoP proof (RFC 9449) at the token endpoint for this client, so every
    /// access token it gets is bound to its key (RFC 9449 §5.2,
    /// `dpop_bound_access_tokens`; default false: a proof is optional).
    pub dpop_bound_access_tokens: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            name: String::new(),
            callbacks: Vec::new(),
            web_origins: Vec::new(),
            allowed_logout_urls: Vec::new(),
            grant_types: vec!["implicit".to_owned()],
            skip_consent: false,
            id_token_lifetime_secs: 36000,
            refresh_token_rotation: false,
            refresh_token_lifetime_secs: DEFAULT_REFRESH_TOKEN_LIFETIME_SECS,
            refresh_token_idle_lifetime_secs: DEFAULT_REFRESH_TOKEN_IDLE_LIFETIME_SECS,
            refresh_token_leeway_secs: 0,
            dpop_bound_access_tokens: false,
        }
    }
}

impl ClientConfig {
    /// A client for a single-page app served at `origin` (e.g. `http://127.0.0.1:8080`):
    /// callbacks `{origin}/callback` and `{origin}/silent-callback.html`, web origin
    /// `{origin}`, logout URL `{origin}/`, every grant (`implicit`,
    /// `authorization_code`, `refresh_token`) with refresh-token rotation on and the
    /// default lifetimes, so the app may log in with either flow.
    pub fn spa(client_id: &str, name: &str, origin: &str) -> Result<Self, url::ParseError> {
        let base = Url::parse(origin)?;
        Ok(Self {
            client_id: client_id.to_owned(),
            name: name.to_owned(),
            callbacks: vec![base.join("/callback")?, base.join("/silent-callback.html")?],
            web_origins: vec![base.join("/")?],
            allowed_logout_urls: vec![base.join("/")?],
            grant_types: GRANT_TYPES.iter().map(|g| (*g).to_owned()).collect(),
            refresh_token_rotation: true,
            ..Self::default()
        })
    }

    /// Whether `grant_types` lists `grant`.
    pub fn allows(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// Whether a code request asking for `offline_access` gets a refresh token.
    pub fn issues_refresh_tokens(&self) -> bool {
        self.refresh_token_rotation && self.allows("refresh_token")
    }
}

/// A registered API (Auth0 "API"): its identifier is the `audience` apps request and
/// the access token's `aud`. `identifier` and `name` are required.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// The API identifier (the `audience` value).
    pub identifier: String,
    /// Human name shown on the consent page.
    pub name: String,
    /// The permissions (scopes) the API defines.
    pub scopes: Vec<ScopeConfig>,
    /// Access token lifetime in seconds (default 7200).
    pub token_lifetime_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            identifier: String::new(),
            name: String::new(),
            scopes: Vec::new(),
            token_lifetime_secs: 7200,
        }
    }
}

/// One API permission.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// The scope string, e.g. `read:messages`.
    pub value: String,
    /// What it allows, in words, shown on the consent page.
    pub description: String,
}

/// A user seeded into the database on start. Give either `password` (hashed with
/// argon2 when loaded, never stored or logged as is) or `password_hash` (a PHC
/// string such as `$argon2id$v=19$...`). `username`, `name` and `email` are required.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub username: String,
    /// Plain password for demo users; hashed at load.
    pub password: Option<String>,
    /// Argon2 PHC hash of the password.
    pub password_hash: Option<String>,
    /// The `sub` claim; default `auth0|{username}`.
    pub user_id: Option<String>,
    /// Full name (`name` claim).
    pub name: String,
    /// Email address (`email` claim).
    pub email: String,
    /// Whether the email is verified (default true).
    pub email_verified: bool,
    /// Nickname (default the username).
    pub nickname: Option<String>,
    /// Picture URL (default an initials avatar served by this provider).
    pub picture: Option<String>,
    /// Auth0 `app_metadata` (e.g. roles); rules read it. Default: an empty table.
    pub app_metadata: serde_json::Value,
    /// Auth0 `user_metadata`. Default: an empty table.
    pub user_metadata: serde_json::Value,
    /// Granted API permissions: API identifier -> scopes.
    pub permissions: BTreeMap<String, Vec<String>>,
}

impl Default for UserConfig {
    fn default() -> Self {
        let empty = serde_json::Value::Object(serde_json::Map::new());
        Self {
            username: String::new(),
            password: None,
            password_hash: None,
            user_id: None,
            name: String::new(),
            email: String::new(),
            email_verified: true,
            nickname: None,
            picture: None,
            app_metadata: empty.clone(),
            user_metadata: empty,
            permissions: BTreeMap::new(),
        }
    }
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

/// Where a value sits in the file, e.g. `apis[1].identifier`: the name errors show,
/// and the way to the value's span in the parsed document.
#[derive(Debug, Clone, Default)]
struct FieldPath(Vec<Segment>);

#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

impl FieldPath {
    fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    fn at(&self, key: &str, index: usize) -> Self {
        let mut path = self.key(key);
        path.0.push(Segment::Index(index));
        path
    }

    /// The span of the deepest part of the path the document has: a value left out
    /// (a default) is reported at the table that lacks it.
    fn span_in(&self, doc: &toml_edit::ImDocument<&str>) -> Option<std::ops::Range<usize>> {
        let mut item = doc.as_item();
        let mut span = None;
        for segment in &self.0 {
            let next = match segment {
                Segment::Key(k) => item.get(k.as_str()),
                Segment::Index(i) => item.get(*i),
            };
            let Some(next) = next else { break };
            item = next;
            span = item.span().or(span);
        }
        span
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
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
        config.check().map_err(|(field, message)| {
            // Parsed a second time, keeping spans, only to name the line.
            let line = toml_edit::ImDocument::parse(text)
                .ok()
                .and_then(|doc| field.span_in(&doc))
                .map(|span| line_col(text, span.start).0);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                field: field.to_string(),
                message: message.to_owned(),
            }
        })?;
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
        Self::from_toml_str(DEFAULT_CONFIG_TOML, path).unwrap_or_default()
    }

    /// Checks the rules a parsed config must follow (unique ids, URL shapes,
    /// permissions naming defined scopes). Call it after changing a config in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check()
            .map_err(|(field, message)| ConfigError::Invalid {
                path: PathBuf::from("<config>"),
                line: None,
                field: field.to_string(),
                message: message.to_owned(),
            })
    }

    /// The client with this id.
    pub fn client(&self, client_id: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The API with this identifier.
    pub fn api(&self, identifier: &str) -> Option<&ApiConfig> {
        self.apis.iter().find(|a| a.identifier == identifier)
    }

    /// The first broken rule: which field, and what is wrong with it.
    fn check(&self) -> Result<(), (FieldPath, &'static str)> {
        let root = FieldPath::default();
        let mut ids = HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let at = root.at("clients", i);
            if c.client_id.trim().is_empty() {
                return Err((at.key("client_id"), "must not be empty"));
            }
            if !ids.insert(c.client_id.as_str()) {
                return Err((at.key("client_id"), "duplicate client id"));
            }
            if c.name.trim().is_empty() {
                return Err((at.key("name"), "must not be empty"));
            }
            if c.callbacks.is_empty() {
                return Err((at.key("callbacks"), "at least one callback url is required"));
            }
            for (j, u) in c.callbacks.iter().enumerate() {
                check_redirect_url(u).map_err(|m| (at.at("callbacks", j), m))?;
            }
            for (j, u) in c.allowed_logout_urls.iter().enumerate() {
                check_redirect_url(u).map_err(|m| (at.at("allowed_logout_urls", j), m))?;
            }
            for (j, u) in c.web_origins.iter().enumerate() {
                let field = at.at("web_origins", j);
                check_redirect_url(u).map_err(|m| (field.clone(), m))?;
                if u.path() != "/" || u.query().is_some() {
                    return Err((field, "a web origin is scheme, host and port only"));
                }
            }
            if c.id_token_lifetime_secs == 0 {
                return Err((at.key("id_token_lifetime_secs"), "must be positive"));
            }
            check_grants(c, &at)?;
        }
        let rules = root.key("rules");
        if self.rules.timeout_ms == 0 || self.rules.timeout_ms > 60_000 {
            return Err((
                rules.key("timeout_ms"),
                "must be between 1 and 60000 milliseconds",
            ));
        }
        if self.rules.memory_limit_bytes < 1024 * 1024
            || self.rules.memory_limit_bytes > 1024 * 1024 * 1024
        {
            return Err((
                rules.key("memory_limit_bytes"),
                "must be between 1 MiB and 1 GiB",
            ));
        }
        let dpop = root.key("dpop");
        if self.dpop.proof_window_secs == 0 || self.dpop.proof_window_secs > 3600 {
            return Err((
                dpop.key("proof_window_secs"),
                "must be between 1 and 3600 seconds",
            ));
        }
        if self.dpop.nonce_lifetime_secs == 0 || self.dpop.nonce_lifetime_secs > 86_400 {
            return Err((
                dpop.key("nonce_lifetime_secs"),
                "must be between 1 and 86400 seconds",
            ));
        }
        let transactions = root.key("transactions");
        if self.transactions.max_pending_per_ip == 0 {
            return Err((transactions.key("max_pending_per_ip"), "must be positive"));
        }
        if self.transactions.max_pending_total < self.transactions.max_pending_per_ip {
            return Err((
                transactions.key("max_pending_total"),
                "must be at least max_pending_per_ip",
            ));
        }
        if self.transactions.max_pending_per_site < self.transactions.max_pending_per_ip {
            return Err((
                transactions.key("max_pending_per_site"),
                "must be at least max_pending_per_ip",
            ));
        }
        if self.transactions.max_pending_per_allocation < self.transactions.max_pending_per_site {
            return Err((
                transactions.key("max_pending_per_allocation"),
                "must be at least max_pending_per_site",
            ));
        }
        let mut apis = HashSet::new();
        for (i, a) in self.apis.iter().enumerate() {
            let at = root.at("apis", i);
            if a.identifier.trim().is_empty() || a.identifier.contains(char::is_whitespace) {
                return Err((at.key("identifier"), "must be non-empty without spaces"));
            }
            if !apis.insert(a.identifier.as_str()) {
                return Err((at.key("identifier"), "duplicate api identifier"));
            }
            if a.name.trim().is_empty() {
                return Err((at.key("name"), "must not be empty"));
            }
            if a.token_lifetime_secs == 0 || a.token_lifetime_secs > 2_592_000 {
                return Err((
                    at.key("token_lifetime_secs"),
                    "must be between 1 and 2592000 seconds",
                ));
            }
            let mut scopes = HashSet::new();
            for (j, s) in a.scopes.iter().enumerate() {
                let field = at.at("scopes", j).key("value");
                if s.value.is_empty() || s.value.contains(char::is_whitespace) {
                    return Err((field, "must be non-empty without spaces"));
                }
                if OIDC_SCOPES.contains(&s.value.as_str()) {
                    return Err((field, "an openid connect scope cannot be an api scope"));
                }
                if !scopes.insert(s.value.as_str()) {
                    return Err((field, "duplicate scope"));
                }
            }
        }
        let mut names = HashSet::new();
        let mut subs = HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            let at = root.at("users", i);
            if u.username.trim().is_empty() {
                return Err((at.key("username"), "must not be empty"));
            }
            if !names.insert(u.username.to_lowercase()) {
                return Err((at.key("username"), "duplicate username"));
            }
            if !subs.insert(u.effective_user_id()) {
                return Err((at.key("user_id"), "duplicate user id"));
            }
            if u.name.trim().is_empty() {
                return Err((at.key("name"), "must not be empty"));
            }
            if u.email.trim().is_empty() {
                return Err((at.key("email"), "must not be empty"));
            }
            match (&u.password, &u.password_hash) {
                (Some(_), None) => {}
                (None, Some(h)) => {
                    if argon2::PasswordHash::new(h).is_err() {
                        return Err((at.key("password_hash"), "not a PHC hash string"));
                    }
                }
                _ => {
                    return Err((
                        at.key("password"),
                        "give exactly one of password or password_hash",
                    ))
                }
            }
            if !u.app_metadata.is_object() {
                return Err((at.key("app_metadata"), "must be a table"));
            }
            if !u.user_metadata.is_object() {
                return Err((at.key("user_metadata"), "must be a table"));
            }
            for (api, perms) in &u.permissions {
                let field = at.key("permissions").key(api);
                let Some(def) = self.api(api) else {
                    return Err((field, "no api with this identifier"));
                };
                for (k, p) in perms.iter().enumerate() {
                    if !def.scopes.iter().any(|s| &s.value == p) {
                        return Err((
                            at.key("permissions").at(api, k),
                            "the api defines no such scope",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The grant settings of one client must agree with each other: refresh tokens come
/// only from code exchanges, and only rotating ones exist here.
fn check_grants(c: &ClientConfig, at: &FieldPath) -> Result<(), (FieldPath, &'static str)> {
    let mut seen = HashSet::new();
    for (j, g) in c.grant_types.iter().enumerate() {
        if !GRANT_TYPES.contains(&g.as_str()) {
            return Err((
                at.at("grant_types", j),
                "unknown grant type (supported: implicit, authorization_code, refresh_token)",
            ));
        }
        if !seen.insert(g.as_str()) {
            return Err((at.at("grant_types", j), "duplicate grant type"));
        }
    }
    let refresh = c.grant_types.iter().position(|g| g == "refresh_token");
    if c.refresh_token_rotation && refresh.is_none() {
        return Err((
            at.key("refresh_token_rotation"),
            "needs \"refresh_token\" in grant_types",
        ));
    }
    if let Some(j) = refresh {
        if !c.allows("authorization_code") {
            return Err((
                at.at("grant_types", j),
                "refresh_token needs authorization_code: refresh tokens are issued only by code exchanges",
            ));
        }
        if !c.refresh_token_rotation {
            return Err((
                at.at("grant_types", j),
                "refresh_token needs refresh_token_rotation = true (only rotating refresh tokens are issued)",
            ));
        }
    }
    if c.refresh_token_lifetime_secs == 0 || c.refresh_token_lifetime_secs > 10 * 365 * 24 * 3600 {
        return Err((
            at.key("refresh_token_lifetime_secs"),
            "must be between 1 and 315360000 seconds",
        ));
    }
    if c.refresh_token_idle_lifetime_secs == 0
        || c.refresh_token_idle_lifetime_secs > c.refresh_token_lifetime_secs
    {
        return Err((
            at.key("refresh_token_idle_lifetime_secs"),
            "must be positive and at most refresh_token_lifetime_secs",
        ));
    }
    if c.refresh_token_leeway_secs >= c.refresh_token_idle_lifetime_secs {
        return Err((
            at.key("refresh_token_leeway_secs"),
            "must be shorter than refresh_token_idle_lifetime_secs",
        ));
    }
    Ok(())
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
    fn an_error_in_a_second_table_names_that_tables_line() {
        // idp/README.md: a broken file stops start-up with the file, line and field;
        // the line is the offending value's own, not the first one that looks alike.
        let text = "[[apis]]\nidentifier = \"https://a.example\"\nname = \"A\"\n\n\
                    [[apis]]\nidentifier = \"https://a.example\"\nname = \"B\"\n";
        let err = Config::from_toml_str(text, "x.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml:6: apis[1].identifier: duplicate api identifier"
        );
        let text = "[[apis]]\nidentifier = \"https://a.example\"\nname = \"A\"\n\
                    token_lifetime_secs = 60\n\n[[apis]]\nidentifier = \"https://b.example\"\n\
                    name = \"B\"\ntoken_lifetime_secs = 0\n";
        let err = Config::from_toml_str(text, "x.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml:9: apis[1].token_lifetime_secs: must be between 1 and 2592000 seconds"
        );
    }

    #[test]
    fn a_required_value_left_out_is_reported_at_its_table() {
        // idp/README.md: clients need client_id, name and callbacks; a missing one is
        // named, at the line of the table that lacks it.
        let text = "[[clients]]\nclient_id = \"a\"\nname = \"A\"\ncallbacks = [\"http://x/cb\"]\n\
                    \n[[clients]]\nclient_id = \"b\"\ncallbacks = [\"http://x/cb\"]\n";
        let err = Config::from_toml_str(text, "x.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml:6: clients[1].name: must not be empty"
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
    fn trusted_proxies_and_pending_caps_are_read_and_checked() {
        let text = "[throttle]\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n\
                    [transactions]\nmax_pending_per_ip = 5\nmax_pending_total = 50\n";
        let c = Config::from_toml_str(text, "x.toml").unwrap();
        assert_eq!(c.throttle.trusted_proxies.len(), 2);
        assert_eq!(c.transactions.max_pending_per_ip, 5);
        let err = Config::from_toml_str("[throttle]\ntrusted_proxies = [\"nginx\"]\n", "x.toml")
            .unwrap_err();
        assert!(err.to_string().starts_with("x.toml:2:"), "{err}");
        assert!(err.to_string().contains("CIDR"), "{err}");
        for bad in ["10.0.0.0/33", "10.0.0.0/", "::1/129", ""] {
            let text = format!("[throttle]\ntrusted_proxies = [{bad:?}]\n");
            assert!(
                Config::from_toml_str(&text, "x.toml").is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn network_caps_are_read_and_must_nest() {
        // idp/README.md (Flood caps): a wider network holds at least what a narrower one may.
        let text = "[transactions]\nmax_pending_per_ip = 5\nmax_pending_per_site = 20\n\
                    max_pending_per_allocation = 40\nmax_pending_total = 50\n";
        let c = Config::from_toml_str(text, "x.toml").unwrap();
        assert_eq!(c.transactions.max_pending_per_site, 20);
        assert_eq!(c.transactions.max_pending_per_allocation, 40);
        let err = Config::from_toml_str(
            "[transactions]\nmax_pending_per_ip = 10\nmax_pending_per_site = 5\n",
            "x.toml",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml:3: transactions.max_pending_per_site: must be at least max_pending_per_ip"
        );
        let err = Config::from_toml_str(
            "[transactions]\nmax_pending_per_allocation = 999\n",
            "x.toml",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml:2: transactions.max_pending_per_allocation: must be at least max_pending_per_site"
        );
    }

    #[test]
    fn a_trusted_proxy_is_an_address_or_a_range() {
        let range = |s: &str| s.parse::<ProxyRange>().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(range("10.0.0.2").contains(ip("10.0.0.2")));
        assert!(!range("10.0.0.2").contains(ip("10.0.0.3")));
        // Host bits after the prefix are dropped: 10.9.9.9/8 is 10.0.0.0/8.
        assert!(range("10.9.9.9/8").contains(ip("10.200.0.1")));
        assert!(!range("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(range("fd00::/8").contains(ip("fd12:3456::1")));
        assert!(!range("fd00::/8").contains(ip("2001:db8::1")));
        // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 addresses.
        assert!(range("127.0.0.0/8").contains(ip("::ffff:127.0.0.1")));
        assert!(range("::ffff:10.0.0.2").contains(ip("10.0.0.2")));
        let err = Config::from_toml_str(
            "[transactions]\nmax_pending_per_ip = 10\nmax_pending_total = 5\n",
            "x.toml",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml:3: transactions.max_pending_total: must be at least max_pending_per_ip"
        );
    }

    #[test]
    fn a_config_written_as_toml_reads_back_the_same() {
        let mut c = Config::demo();
        c.clients[0].skip_consent = true;
        c.throttle.trusted_proxies =
            vec!["127.0.0.1".parse().unwrap(), "10.1.2.3/8".parse().unwrap()];
        let text = toml::to_string(&c).unwrap();
        let back = Config::from_toml_str(&text, "/x/written.toml").unwrap();
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        assert_eq!(back.users[0].password, c.users[0].password);
        assert_eq!(back.users[1].permissions, c.users[1].permissions);
    }

    #[test]
    fn debug_output_never_shows_passwords() {
        let c = Config::demo();
        let dump = format!("{c:?}");
        assert!(!dump.contains("alice-password"));
        assert!(dump.contains("[redacted]"));
    }

    #[test]
    fn the_shipped_demo_client_speaks_both_flows_with_rotation() {
        // idp/README.md "Configuration file": implicit, code + PKCE and rotating
        // refresh tokens with Auth0's default lifetimes.
        let c = Config::from_toml_str(DEFAULT_CONFIG_TOML, "hashgate-idp.toml").unwrap();
        let spa = c.client("hashgate-spa").unwrap();
        assert_eq!(
            spa.grant_types,
            ["implicit", "authorization_code", "refresh_token"]
        );
        assert!(spa.issues_refresh_tokens());
        assert_eq!(spa.refresh_token_lifetime_secs, 30 * 24 * 3600);
        assert_eq!(spa.refresh_token_idle_lifetime_secs, 15 * 24 * 3600);
        assert_eq!(spa.refresh_token_leeway_secs, 0);
    }

    #[test]
    fn contradicting_grant_settings_name_the_file_line_and_field() {
        // idp/README.md "Configuration file": the check refuses contradictions.
        let client =
            "[[clients]]\nclient_id = \"a\"\nname = \"A\"\ncallbacks = [\"http://x/cb\"]\n";
        let cases = [
            (
                "refresh_token_rotation = true\n",
                "x.toml:5: clients[0].refresh_token_rotation: needs \"refresh_token\" in grant_types",
            ),
            (
                "grant_types = [\"implicit\", \"refresh_token\"]\nrefresh_token_rotation = true\n",
                "x.toml:5: clients[0].grant_types[1]: refresh_token needs authorization_code: \
                 refresh tokens are issued only by code exchanges",
            ),
            (
                "grant_types = [\"authorization_code\", \"refresh_token\"]\n",
                "x.toml:5: clients[0].grant_types[1]: refresh_token needs \
                 refresh_token_rotation = true (only rotating refresh tokens are issued)",
            ),
            (
                "grant_types = [\"implicit\",\n  \"password\"]\n",
                "x.toml:6: clients[0].grant_types[1]: unknown grant type \
                 (supported: implicit, authorization_code, refresh_token)",
            ),
            (
                "grant_types = [\"implicit\", \"implicit\"]\n",
                "x.toml:5: clients[0].grant_types[1]: duplicate grant type",
            ),
            (
                "refresh_token_lifetime_secs = 60\nrefresh_token_idle_lifetime_secs = 120\n",
                "x.toml:6: clients[0].refresh_token_idle_lifetime_secs: \
                 must be positive and at most refresh_token_lifetime_secs",
            ),
            (
                "refresh_token_idle_lifetime_secs = 60\nrefresh_token_leeway_secs = 60\n",
                "x.toml:6: clients[0].refresh_token_leeway_secs: \
                 must be shorter than refresh_token_idle_lifetime_secs",
            ),
        ];
        for (extra, expected) in cases {
            let err = Config::from_toml_str(&format!("{client}{extra}"), "x.toml").unwrap_err();
            assert_eq!(err.to_string(), expected, "{extra}");
        }
        let fine = "grant_types = [\"authorization_code\", \"refresh_token\"]\n\
                    refresh_token_rotation = true\n";
        Config::from_toml_str(&format!("{client}{fine}"), "x.toml").unwrap();
    }

    #[test]
    fn a_spa_client_gets_callbacks_origin_and_logout_url() {
        let c = ClientConfig::spa("id", "App", "http://127.0.0.1:4321").unwrap();
        // Both flows, so an app may switch between them without a config change.
        assert_eq!(
            c.grant_types,
            ["implicit", "authorization_code", "refresh_token"]
        );
        assert!(c.refresh_token_rotation && c.issues_refresh_tokens());
        let mut config = Config::default();
        config.clients.push(c.clone());
        config.validate().unwrap();
        assert_eq!(c.callbacks[0].as_str(), "http://127.0.0.1:4321/callback");
        assert_eq!(
            c.callbacks[1].as_str(),
            "http://127.0.0.1:4321/silent-callback.html"
        );
        assert_eq!(c.web_origins[0].as_str(), "http://127.0.0.1:4321/");
    }
}
