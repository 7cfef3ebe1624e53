//! Auth0-style Rules and Actions, run on every successful authorization before
//! tokens (or an authorization code) are issued, and again on every refresh-token
//! exchange.
//!
//! Every `*.js` file in `rules_dir` is loaded and compiled at start-up (a syntax
//! error stops start-up with `file:line`), then run in file-name order on each
//! login. A file is either an Auth0 **Rule**, written exactly as in Auth0:
//!
//! ```js
//! function (user, context, callback) {
//!   context.idToken['https://hashgate.dev/roles'] = context.authorization.roles;
//!   callback(null, user, context);
//! }
//! ```
//!
//! or an Auth0 post-login **Action** (its source contains
//! `exports.onExecutePostLogin`; files in `[rules] actions_dir` always are):
//!
//! ```js
//! exports.onExecutePostLogin = async (event, api) => {
//!   api.idToken.setCustomClaim('https://hashgate.dev/grant', event.transaction.protocol);
//! };
//! ```
//!
//! Each script runs in a fresh QuickJS runtime on a blocking thread, with a time
//! limit and a memory cap ([`engine`]). `UnauthorizedError` and `api.access.deny`
//! end the login with `error=unauthorized`; anything else that goes wrong ends it
//! with `error=server_error` and a log line naming the file. Claims in
//! [`PROTECTED_CLAIMS`] are never taken from rules.

mod engine;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::config::{Config, RulesConfig};
use crate::request::AuthRequest;
use crate::store::{SessionRecord, UserRecord};

use engine::{Input, Kind, Limits, Script, Step};

/// `context.protocol` / `event.transaction.protocol` for implicit-grant requests.
pub const IMPLICIT_PROTOCOL: &str = "oidc-implicit-profile";

/// `context.protocol` / `event.transaction.protocol` for authorization code requests
/// (`response_type=code`), as Auth0 names them.
pub const CODE_PROTOCOL: &str = "oidc-basic-profile";

/// `context.protocol` / `event.transaction.protocol` for refresh-token exchanges at
/// the token endpoint, as Auth0 names them.
pub const REFRESH_PROTOCOL: &str = "oauth2-refresh-token";

/// `context.connection`: Auth0's name for its username/password database.
pub const CONNECTION: &str = "Username-Password-Authentication";

/// Claims a rule or Action can never set, in either token; an attempt is ignored
/// with a warning. They are the claims the provider computes and every claim that a
/// part of Hashgate (or a usual resource server) reads as authority: JWT registered
/// claims (RFC 7519 §4.1), OIDC ID token claims (OIDC Core §2, §3.2.2.10), JWT access
/// token claims (RFC 9068 §2.2: `client_id`, `scope`), scopes and grants as Auth0
/// (`permissions`, `gty`) and Okta (`scp`, which hashgate-api reads as granted scopes)
/// write them, confirmation and delegation (RFC 7800 `cnf`, RFC 8693 `act`, `may_act`).
/// API access therefore comes only from the users' configured grants (RBAC).
pub const PROTECTED_CLAIMS: [&str; 25] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "nonce",
    "at_hash",
    "c_hash",
    "s_hash",
    "auth_time",
    "acr",
    "amr",
    "azp",
    "sid",
    "client_id",
    "scope",
    "scp",
    "permissions",
    "gty",
    "typ",
    "cnf",
    "act",
    "may_act",
];

/// The description the app gets when a rule fails for any reason other than
/// `UnauthorizedError`; details go to the server log only.
pub const FAILURE_DESCRIPTION: &str = "a rule failed";

/// Longest `error_description` passed on from `UnauthorizedError`.
const MAX_DENY_MESSAGE: usize = 500;

/// Why the rules could not be loaded. Stops start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The rules or actions directory could not be listed.
    #[error("cannot read rules directory {}: {source}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A rule file could not be read (or is not UTF-8).
    #[error("cannot read rule {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A rule does not compile, or is not a function.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Compile {
        /// The file, e.g. `idp/rules/10-add-roles.js`.
        file: String,
        /// 1-based line, when the engine names one.
        line: Option<u32>,
        /// The engine's message, e.g. `SyntaxError: unexpected token in expression: '}'`.
        message: String,
    },
}

/// Claims that rules and Actions add to the tokens. Built only here, by dropping
/// [`PROTECTED_CLAIMS`], so a value of this type can never carry one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomClaims {
    id_token: Map<String, Value>,
    access_token: Map<String, Value>,
}

impl CustomClaims {
    /// Claims kept with an authorization code and read back at its exchange. The
    /// protected claims are dropped again, so stored data cannot smuggle one in.
    pub(crate) fn restore(
        id_token: &Map<String, Value>,
        access_token: &Map<String, Value>,
    ) -> Self {
        let mut claims = Self::default();
        merge_claims(&mut claims.id_token, id_token, "id_token");
        merge_claims(&mut claims.access_token, access_token, "access_token");
        claims
    }

    /// Added to the ID token.
    pub fn id_token(&self) -> &Map<String, Value> {
        &self.id_token
    }

    /// Added to the access token.
    pub fn access_token(&self) -> &Map<String, Value> {
        &self.access_token
    }
}

/// How the rules ended a login.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every rule passed: mint the tokens with these extra claims.
    Continue(CustomClaims),
    /// A rule refused the login (`UnauthorizedError`, `api.access.deny`): the app
    /// gets `error=unauthorized` with this description.
    Deny(String),
    /// A rule failed (exception, timeout, memory cap): the app gets `server_error`.
    Failed {
        /// The file that failed.
        rule: String,
        /// What happened, for the log.
        reason: String,
    },
}

/// What rules know about one login: built from the request, user and session.
#[derive(Debug, Clone)]
pub struct LoginInput {
    /// The Auth0 `user` object.
    pub user: Value,
    /// `clientID`.
    pub client_id: String,
    /// `clientName`.
    pub client_name: String,
    /// The client's IP address.
    pub ip: String,
    /// The browser's `User-Agent`.
    pub user_agent: String,
    /// The host name of the provider.
    pub hostname: String,
    /// The `/authorize` query parameters.
    pub query: Map<String, Value>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// The login session's id (`sid`).
    pub session_id: String,
    /// Successful logins of this user so far.
    pub logins_count: u64,
    /// `context.protocol` / `event.transaction.protocol`: [`IMPLICIT_PROTOCOL`],
    /// [`CODE_PROTOCOL`] or [`REFRESH_PROTOCOL`].
    pub protocol: &'static str,
    /// The DPoP key thumbprint the tokens will be bound to, as far as it is known when
    /// rules run (`context.dpop.jkt`, `event.transaction.dpop.jkt`): a code request's
    /// `dpop_jkt`, a refresh's proof key. Read-only: the binding is the provider's.
    pub dpop_jkt: Option<String>,
}

/// The grant a login or refresh is about.
struct About<'a> {
    client_id: &'a str,
    scopes: &'a [String],
    sid: &'a str,
    protocol: &'static str,
}

/// Who sent the authorization request (for `context.request`).
#[derive(Debug, Clone, Default)]
pub struct Requester {
    /// Client IP address.
    pub ip: String,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl LoginInput {
    /// Gathers what rules see about a login. `user` should be read after the login
    /// was counted, so `logins_count` includes this one; `hostname` is the issuer's.
    pub(crate) fn new(
        config: &Config,
        hostname: &str,
        req: &AuthRequest,
        user: &UserRecord,
        session: &SessionRecord,
        from: &Requester,
    ) -> Self {
        let mut query = Map::new();
        for (k, v) in &req.query {
            query.entry(k.clone()).or_insert_with(|| json!(v));
        }
        let protocol = if req.code {
            CODE_PROTOCOL
        } else {
            IMPLICIT_PROTOCOL
        };
        let about = About {
            client_id: &req.client_id,
            scopes: &req.scopes,
            sid: &session.sid,
            protocol,
        };
        let mut input = Self::build(config, hostname, &about, query, user, from);
        input.dpop_jkt = req.dpop_jkt.clone();
        input
    }

    /// What rules see about a refresh-token exchange: the family's client, scopes and
    /// session, no `/authorize` query, `protocol` [`REFRESH_PROTOCOL`], and the key of
    /// the refresh's DPoP proof, if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn refresh(
        config: &Config,
        hostname: &str,
        client_id: &str,
        scopes: &[String],
        sid: &str,
        user: &UserRecord,
        from: &Requester,
        dpop_jkt: Option<&str>,
    ) -> Self {
        let about = About {
            client_id,
            scopes,
            sid,
            protocol: REFRESH_PROTOCOL,
        };
        let mut input = Self::build(config, hostname, &about, Map::new(), user, from);
        input.dpop_jkt = dpop_jkt.map(str::to_owned);
        input
    }

    fn build(
        config: &Config,
        hostname: &str,
        about: &About<'_>,
        query: Map<String, Value>,
        user: &UserRecord,
        from: &Requester,
    ) -> Self {
        let logins_count = user.logins_count;
        let p = &user.profile;
        let (_, bare_id) = user.user_id.split_once('|').unwrap_or(("", &user.user_id));
        let user_json = json!({
            "user_id": user.user_id,
            "username": user.username,
            "email": p.email,
            "email_verified": p.email_verified,
            "name": p.name,
            "nickname": p.nickname,
            "picture": p.picture,
            "app_metadata": p.app_metadata,
            "user_metadata": p.user_metadata,
            "logins_count": logins_count,
            "identities": [{
                "provider": "auth0",
                "user_id": bare_id,
                "connection": CONNECTION,
                "isSocial": false,
            }],
        });
        Self {
            user: user_json,
            client_id: about.client_id.to_owned(),
            client_name: config
                .client(about.client_id)
                .map_or_else(|| about.client_id.to_owned(), |c| c.name.clone()),
            ip: from.ip.clone(),
            user_agent: from.user_agent.clone(),
            hostname: hostname.to_owned(),
            query,
            scopes: about.scopes.to_vec(),
            session_id: about.sid.to_owned(),
            logins_count,
            protocol: about.protocol,
            dpop_jkt: None,
        }
    }

    fn roles(user: &Value) -> Value {
        match user.pointer("/app_metadata/roles") {
            Some(Value::Array(a)) => {
                Value::Array(a.iter().filter(|r| r.is_string()).cloned().collect())
            }
            _ => json!([]),
        }
    }

    /// `{ "jkt": … }` when the tokens will be DPoP-bound, else `null`.
    fn dpop(&self) -> Value {
        self.dpop_jkt
            .as_ref()
            .map_or(Value::Null, |jkt| json!({ "jkt": jkt }))
    }

    /// The Auth0 rule `context` object.
    fn context(&self) -> Value {
        json!({
            "tenant": "hashgate",
            "clientID": self.client_id,
            "clientName": self.client_name,
            "clientMetadata": {},
            "connection": CONNECTION,
            "connectionStrategy": "auth0",
            "protocol": self.protocol,
            "request": {
                "query": self.query,
                "ip": self.ip,
                "userAgent": self.user_agent,
                "hostname": self.hostname,
                "geoip": {},
            },
            "idToken": {},
            "accessToken": {},
            "stats": { "loginsCount": self.logins_count },
            "sessionID": self.session_id,
            "authorization": { "roles": Self::roles(&self.user) },
            "dpop": self.dpop(),
        })
    }

    /// The Auth0 Action `event` object, with the user as the rules left it.
    fn event(&self, user: &Value, secrets: &Value) -> Value {
        json!({
            "user": user,
            "client": { "client_id": self.client_id, "name": self.client_name, "metadata": {} },
            "connection": { "name": CONNECTION, "strategy": "auth0" },
            "transaction": {
                "protocol": self.protocol,
                "requested_scopes": self.scopes,
                "dpop": self.dpop(),
            },
            "request": {
                "ip": self.ip,
                "user_agent": self.user_agent,
                "hostname": self.hostname,
                "query": self.query,
                "geoip": {},
            },
            "stats": { "logins_count": self.logins_count },
            "session": { "id": self.session_id },
            "authorization": { "roles": Self::roles(user) },
            "secrets": secrets,
        })
    }
}

/// The loaded rules; cheap to clone. Empty when no `rules_dir` is configured.
#[derive(Debug, Clone)]
pub struct Rules {
    scripts: Arc<Vec<Script>>,
    limits: Limits,
    configuration: Arc<Value>,
}

impl Default for Rules {
    fn default() -> Self {
        Self::empty(&RulesConfig::default())
    }
}

fn js_files(dir: &Path) -> Result<Vec<PathBuf>, RuleError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RuleError::ReadDir {
        path: dir.to_owned(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| RuleError::ReadDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "js") && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

fn sanitize_message(message: &str) -> String {
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_DENY_MESSAGE)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "access denied by a rule".into()
    } else {
        clean.to_owned()
    }
}

/// Keeps the non-protected claims of `from` in `into`, warning about the others.
fn merge_claims(into: &mut Map<String, Value>, from: &Map<String, Value>, token: &str) {
    for (k, v) in from {
        if PROTECTED_CLAIMS.contains(&k.as_str()) {
            tracing::warn!(claim = %k, token, "a rule tried to set a protocol claim; ignored");
        } else {
            into.insert(k.clone(), v.clone());
        }
    }
}

fn object_at<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

impl Rules {
    /// No rules.
    pub fn empty(config: &RulesConfig) -> Self {
        Self {
            scripts: Arc::new(Vec::new()),
            limits: Limits {
                timeout: Duration::from_millis(config.timeout_ms),
                memory_bytes: usize::try_from(config.memory_limit_bytes).unwrap_or(usize::MAX),
            },
            configuration: Arc::new(json!(config.configuration)),
        }
    }

    /// Reads and compiles every `*.js` in `rules_dir` (then in `config.actions_dir`),
    /// in file-name order. Blocking.
    pub fn load(rules_dir: Option<&Path>, config: &RulesConfig) -> Result<Self, RuleError> {
        let mut rules = Self::empty(config);
        let mut scripts = Vec::new();
        let dirs = [(rules_dir, false), (config.actions_dir.as_deref(), true)];
        for (dir, actions_only) in dirs {
            let Some(dir) = dir else { continue };
            for path in js_files(dir)? {
                let source = std::fs::read_to_string(&path).map_err(|source| RuleError::Read {
                    path: path.clone(),
                    source,
                })?;
                let kind = if actions_only || source.contains("exports.onExecutePostLogin") {
                    Kind::Action
                } else {
                    Kind::Rule
                };
                let script = Script {
                    name: path.display().to_string(),
                    source,
                    kind,
                };
                engine::check(&script, &rules.limits).map_err(|e| RuleError::Compile {
                    file: script.name.clone(),
                    line: e.line,
                    message: e.message,
                })?;
                scripts.push(script);
            }
        }
        rules.scripts = Arc::new(scripts);
        Ok(rules)
    }

    /// Whether there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// The loaded files, in run order.
    pub fn names(&self) -> Vec<String> {
        self.scripts.iter().map(|s| s.name.clone()).collect()
    }

    /// Runs every rule on a blocking thread. A rule that outlives its time limit
    /// ends the login; the server's other requests never wait for it.
    pub async fn run(&self, input: LoginInput) -> Outcome {
        if self.is_empty() {
            return Outcome::Continue(CustomClaims::default());
        }
        let rules = self.clone();
        let count = u32::try_from(self.scripts.len()).unwrap_or(u32::MAX);
        // The engine interrupts a rule at its deadline; this outer limit only guards
        // against a rule stuck where the interrupt cannot reach.
        let budget = self
            .limits
            .timeout
            .saturating_mul(count)
            .saturating_add(Duration::from_secs(2));
        let task = tokio::task::spawn_blocking(move || rules.run_blocking(&input));
        match tokio::time::timeout(budget, task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => Self::failed("(rules)", format!("rule task failed: {e}")),
            Err(_) => Self::failed("(rules)", "the rules did not finish in time".into()),
        }
    }

    fn failed(rule: &str, reason: String) -> Outcome {
        tracing::error!(rule = %rule, reason = %reason, "rule failed; the login ends with server_error");
        Outcome::Failed {
            rule: rule.to_owned(),
            reason,
        }
    }

    /// Runs every rule on this thread (see [`Rules::run`]).
    pub fn run_blocking(&self, input: &LoginInput) -> Outcome {
        let configuration = self.configuration.to_string();
        let mut user = input.user.clone();
        let mut context = input.context();
        let (mut action_id_token, mut action_access_token) = (Map::new(), Map::new());
        for script in self.scripts.iter() {
            let step = match script.kind {
                Kind::Rule => engine::run(
                    script,
                    &self.limits,
                    &configuration,
                    Input::Rule {
                        user: &user.to_string(),
                        context: &context.to_string(),
                    },
                ),
                Kind::Action => engine::run(
                    script,
                    &self.limits,
                    &configuration,
                    Input::Action {
                        event: &input.event(&user, &self.configuration).to_string(),
                    },
                ),
            };
            match step {
                Step::Rule {
                    user: u,
                    context: c,
                } => {
                    if !u.is_object() || !c.is_object() {
                        return Self::failed(
                            &script.name,
                            "callback was given a user or context that is not an object".into(),
                        );
                    }
                    user = u;
                    context = c;
                }
                Step::Action {
                    id_token,
                    access_token,
                } => {
                    action_id_token.extend(id_token);
                    action_access_token.extend(access_token);
                }
                Step::Deny(message) => {
                    let message = sanitize_message(&message);
                    tracing::info!(rule = %script.name, reason = %message, "a rule denied the login");
                    return Outcome::Deny(message);
                }
                Step::Failed(reason) => return Self::failed(&script.name, reason),
            }
        }
        let mut claims = CustomClaims::default();
        let empty = Map::new();
        merge_claims(
            &mut claims.id_token,
            object_at(&context, "idToken").unwrap_or(&empty),
            "id_token",
        );
        merge_claims(&mut claims.id_token, &action_id_token, "id_token");
        merge_claims(
            &mut claims.access_token,
            object_at(&context, "accessToken").unwrap_or(&empty),
            "access_token",
        );
        merge_claims(
            &mut claims.access_token,
            &action_access_token,
            "access_token",
        );
        Outcome::Continue(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_claims_are_dropped_when_merging() {
        // idp/README.md "Rules and Actions": claims the provider computes cannot be set.
        let mut into = Map::new();
        let from = json!({
            "sub": "evil", "nonce": "x", "permissions": ["all"], "scp": ["all"],
            "client_id": "other", "https://x/y": 1
        });
        merge_claims(&mut into, from.as_object().unwrap(), "id_token");
        assert_eq!(Value::Object(into), json!({"https://x/y": 1}));
    }

    #[test]
    fn a_deny_message_is_cleaned_and_bounded() {
        assert_eq!(sanitize_message("no\r\nway"), "no  way");
        assert_eq!(sanitize_message("  "), "access denied by a rule");
        assert_eq!(sanitize_message(&"x".repeat(2000)).len(), MAX_DENY_MESSAGE);
    }
}
