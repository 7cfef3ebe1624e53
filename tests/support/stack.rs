//! The whole Hashgate stack in one test process, for journeys: `hashgate-idp` with the demo
//! users and this SPA registered for its origin, `hashgate-api` accepting the provider's
//! tokens for `https://api.hashgate.local` with CORS for the SPA, and the SPA's release
//! build pointed at both. Each server listens on its own `127.0.0.1` port; nothing is mocked.
//!
//! Also page objects for the provider's login and consent pages and the External API page,
//! and a record of every request the provider answered ([`Stack::provider_requests`]), so a
//! journey can check what the browser asked the provider (PKCE, `prompt=none`, refresh,
//! revocation) without trusting the page.
//!
//! ```ignore
//! let stack = Stack::start(StackOptions::default()).await;
//! let browser = Browser::launch().await;
//! let app = App::open(&browser, &stack.spa, "/").await;
//! app.log_in().await;
//! stack.login_as(&browser, &ALICE).await;
//! ```

use std::{
    fmt,
    net::{SocketAddr, TcpStream},
    path::Path,
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::Duration,
};

use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use fantoccini::{elements::Element, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use super::pages::{field_xpath, fill, wait_for_header_user, DemoUser, AUDIENCE, CLIENT_ID, SCOPE};
use super::{Browser, SpaServer};

/// How to start a [`Stack`]; `StackOptions::default()` is the shipped setup.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Lifetime of access tokens for the API in seconds (default: the provider's 7200).
    pub access_token_lifetime_secs: Option<u64>,
    /// `cacheLocation` of `auth_config.json`: `memory` (default), `session` or `local`.
    pub cache_location: &'static str,
    /// The API's clock-skew leeway (default: its own, 60 s). Zero makes the API refuse a
    /// token the moment it expires, so a test can tell a renewed token from a stale one.
    pub api_leeway: Option<Duration>,
    /// `responseType` of `auth_config.json`: `id_token token` (default, the implicit grant)
    /// or `code` (the authorization code flow with PKCE).
    pub response_type: &'static str,
    /// `useRefreshTokens` of `auth_config.json` (default `false`: the key is left out, as
    /// in the shipped file). Only meaningful with `response_type: "code"`.
    pub use_refresh_tokens: bool,
    /// Rules added to the shipped ones in `idp/rules/`, as `(file name, source)`; they run
    /// after the shipped rules when their names sort after them (`90-….js`).
    pub extra_rules: Vec<(&'static str, &'static str)>,
    /// `useDpop` of `auth_config.json` (default `false`, left out).
    pub use_dpop: bool,
    /// The provider's client requires DPoP (`dpop_bound_access_tokens`) and the API refuses
    /// bearer tokens (`--require-dpop`); otherwise both take DPoP as shipped: when offered.
    pub dpop_required: bool,
    /// Server nonces (RFC 9449 §8, §9) at the provider (`[dpop] require_nonce`) and the API
    /// (`--dpop-nonce`).
    pub dpop_nonces: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            access_token_lifetime_secs: None,
            cache_location: "memory",
            api_leeway: None,
            response_type: "id_token token",
            use_refresh_tokens: false,
            extra_rules: Vec::new(),
            use_dpop: false,
            dpop_required: false,
            dpop_nonces: false,
        }
    }
}

impl StackOptions {
    /// Access tokens that live `secs` seconds, and an API without leeway, so an expired
    /// token fails at once.
    pub fn short_lived_tokens(secs: u64) -> Self {
        StackOptions {
            access_token_lifetime_secs: Some(secs),
            api_leeway: Some(Duration::ZERO),
            ..StackOptions::default()
        }
    }

    /// The same options with `cacheLocation` set to `location`.
    pub fn cache_location(mut self, location: &'static str) -> Self {
        self.cache_location = location;
        self
    }

    /// The same options with the authorization code flow with PKCE (`"responseType": "code"`),
    /// renewing in the hidden iframe.
    pub fn code_flow(mut self) -> Self {
        self.response_type = "code";
        self
    }

    /// The same options with the code flow and `"useRefreshTokens": true`: renewals redeem
    /// rotating refresh tokens instead of using the iframe.
    pub fn refresh_tokens(mut self) -> Self {
        self.response_type = "code";
        self.use_refresh_tokens = true;
        self
    }

    /// The same options with the code flow, refresh tokens and `"useDpop": true`, against a
    /// client that must use DPoP and an API that refuses bearer tokens; with `nonces`, the
    /// provider and the API ask for server nonces.
    pub fn dpop(mut self, nonces: bool) -> Self {
        self = self.refresh_tokens();
        self.use_dpop = true;
        self.dpop_required = true;
        self.dpop_nonces = nonces;
        self
    }

    /// The same options with the code flow, refresh tokens and `"useDpop": true` against the
    /// provider and API as shipped (the demo client may use DPoP, the API accepts both schemes):
    /// what `"useDpop": true` in `public/auth_config.json` gives with `cargo xtask dev`.
    pub fn dpop_as_shipped(mut self) -> Self {
        self = self.refresh_tokens();
        self.use_dpop = true;
        self
    }

    /// The same options with one more rule, `file_name` (e.g. `90-protocol.js`) holding
    /// `source`, next to the shipped rules.
    pub fn with_rule(mut self, file_name: &'static str, source: &'static str) -> Self {
        self.extra_rules.push((file_name, source));
        self
    }

    /// The `auth_config.json` these options give the SPA for `issuer` and `api_origin`.
    pub fn auth_config(&self, issuer: &str, api_origin: &str) -> Value {
        let mut config = json!({
            "issuer": issuer,
            "clientId": CLIENT_ID,
            "audience": AUDIENCE,
            "scope": SCOPE,
            "responseType": self.response_type,
            "apiOrigin": api_origin,
            "cacheLocation": self.cache_location,
        });
        if self.use_refresh_tokens {
            config["useRefreshTokens"] = Value::Bool(true);
        }
        if self.use_dpop {
            config["useDpop"] = Value::Bool(true);
        }
        config
    }
}

/// The running provider, API and SPA. Dropping it stops all three.
pub struct Stack {
    /// The SPA's release build with an `auth_config.json` pointing at the provider and API.
    pub spa: SpaServer,
    issuer: String,
    api_origin: String,
    api_addr: SocketAddr,
    api_settings: hashgate_api::Settings,
    api: Option<ApiServer>,
    idp: JoinHandle<()>,
    provider_log: ProviderLog,
    // Keeps the provider's and the API's databases until the stack is gone.
    _data: TempDir,
}

/// One run of the API server, stoppable gracefully.
struct ApiServer {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Stack {
    /// Starts the provider, the API and the SPA server, wired together.
    pub async fn start(options: StackOptions) -> Stack {
        let data = tempfile::Builder::new()
            .prefix("hashgate-stack-")
            .tempdir()
            .unwrap_or_else(|error| panic!("cannot create the stack's data directory: {error}"));
        // Bound first: the issuer URL and the API's origin name their ports.
        let idp_listener = bind().await;
        let api_listener = bind().await;
        let issuer = format!("http://{}/", local_addr(&idp_listener));
        let api_addr = local_addr(&api_listener);
        let api_origin = format!("http://{api_addr}");

        let spa = SpaServer::start(options.auth_config(&issuer, &api_origin)).await;

        let provider_log = ProviderLog::default();
        let idp = start_idp(
            idp_listener,
            &issuer,
            &data,
            spa.origin(),
            &options,
            provider_log.clone(),
        )
        .await;

        let mut api_settings =
            hashgate_api::Settings::new(issuer.clone(), AUDIENCE, data.path().join("api"));
        api_settings.allowed_origins = vec![spa.origin().to_owned()];
        if let Some(leeway) = options.api_leeway {
            api_settings.leeway = leeway;
        }
        api_settings.require_dpop = options.dpop_required;
        api_settings.dpop_nonce = options.dpop_nonces;
        let api = start_api(api_listener, api_settings.clone());

        Stack {
            spa,
            issuer,
            api_origin,
            api_addr,
            api_settings,
            api: Some(api),
            idp,
            provider_log,
            _data: data,
        }
    }

    /// Every request the provider has answered so far, in order.
    pub fn provider_requests(&self) -> Vec<ProviderRequest> {
        self.provider_log.all()
    }

    /// The requests to the provider's `path` (e.g. `/authorize`, `/oauth/token`) so far.
    pub fn provider_requests_to(&self, path: &str) -> Vec<ProviderRequest> {
        self.provider_log
            .all()
            .into_iter()
            .filter(|request| request.path == path)
            .collect()
    }

    /// The silent (`prompt=none`) authorization requests so far: the hidden iframe's.
    pub fn silent_authorize_requests(&self) -> Vec<ProviderRequest> {
        self.provider_requests_to("/authorize")
            .into_iter()
            .filter(|request| request.param("prompt") == Some("none"))
            .collect()
    }

    /// The `grant_type` of every token endpoint request so far, in order.
    pub fn token_grants(&self) -> Vec<String> {
        self.provider_requests_to("/oauth/token")
            .iter()
            .map(|request| request.param("grant_type").unwrap_or_default().to_owned())
            .collect()
    }

    /// Every refresh token the token endpoint has issued so far, oldest first.
    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.provider_requests_to("/oauth/token")
            .into_iter()
            .filter_map(|request| request.issued_refresh_token)
            .collect()
    }

    /// The provider's issuer URL, `http://127.0.0.1:PORT/`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The API's origin, `http://127.0.0.1:PORT`.
    pub fn api_origin(&self) -> &str {
        &self.api_origin
    }

    /// Rotates the provider's signing key (as `hashgate-idp rotate-keys` does): new tokens are
    /// signed with a new `kid`, the old key stays in the JWKS for an hour. Returns the new kid.
    pub fn rotate_idp_keys(&self) -> String {
        hashgate_idp::rotate_keys(&self._data.path().join("idp"), 3600)
            .unwrap_or_else(|error| panic!("cannot rotate the provider's keys: {error}"))
    }

    /// The provider's Auth0-style logout URL with no return address: visiting it ends the
    /// provider's session and shows its "You are logged out" page.
    pub fn provider_logout_url(&self) -> String {
        format!("{}v2/logout?client_id={CLIENT_ID}", self.issuer)
    }

    /// Stops the API (in-flight requests finish, its port closes), then starts a new one on
    /// the same port and data directory, as an operator restarting it would.
    pub async fn restart_api(&mut self) {
        if let Some(api) = self.api.take() {
            let _ = api.shutdown.send(());
            match tokio::time::timeout(Duration::from_secs(10), api.task).await {
                Ok(_) => {}
                Err(_) => panic!("the API did not stop within 10 s of its shutdown signal"),
            }
        }
        assert!(
            TcpStream::connect_timeout(&self.api_addr, Duration::from_millis(500)).is_err(),
            "the stopped API still accepts connections on {}",
            self.api_addr
        );
        let listener = TcpListener::bind(self.api_addr)
            .await
            .unwrap_or_else(|error| {
                panic!("cannot bind the API again on {}: {error}", self.api_addr)
            });
        self.api = Some(start_api(listener, self.api_settings.clone()));
    }

    /// How many requests the provider has answered so far: a mark for
    /// [`Stack::wait_for_provider_logout`].
    pub fn provider_request_count(&self) -> usize {
        self.provider_log.all().len()
    }

    /// After `Log out`: waits until the provider has answered a logout request (its
    /// `end_session_endpoint` or Auth0's `/v2/logout`) made after request number `since`, and
    /// the browser is back on the app's home. The app shows "signed out" before it leaves for
    /// the provider, so neither the URL nor the auth state alone says the round trip is over.
    pub async fn wait_for_provider_logout(&self, browser: &Browser, since: usize) {
        browser
            .wait_until("the provider answered the logout", || async move {
                self.provider_log.all().iter().skip(since).any(|request| {
                    matches!(request.path.as_str(), "/oidc/logout" | "/v2/logout")
                        && request.status < 400
                })
            })
            .await;
        browser
            .wait_for_url(
                &self.spa.url("/"),
                "the provider sends the browser back to the app's home",
            )
            .await;
    }

    /// The path (and query) the browser shows if it is on the app, else `None`.
    pub async fn app_path(&self, browser: &Browser) -> Option<String> {
        let url = browser.current_url().await;
        url.strip_prefix(self.spa.origin()).map(str::to_owned)
    }

    /// Waits for the provider's login form (after a `Log in` click or a protected deep link).
    pub async fn wait_for_login_form(&self, browser: &Browser) {
        let issuer = self.issuer.clone();
        browser
            .wait_until("the provider's login form is shown", || {
                let issuer = issuer.clone();
                async move {
                    browser.current_url().await.starts_with(&issuer)
                        && try_field(browser, "Username").await.is_some()
                }
            })
            .await;
    }

    /// Fills the provider's login form with `username` and `password` and submits it.
    pub async fn submit_login(&self, browser: &Browser, username: &str, password: &str) {
        self.wait_for_login_form(browser).await;
        fill(browser, "Username", username).await;
        fill(browser, "Password", password).await;
        browser.click_button("Log in").await;
    }

    /// After the login form: waits for the consent page or the way back to the app; on the
    /// consent page clicks `decision` (`Allow` or `Deny`). Returns whether consent was asked.
    pub async fn answer_consent(&self, browser: &Browser, decision: &str) -> bool {
        let on_consent = self.wait_for_consent_or_app(browser).await;
        if on_consent {
            browser.click_button(decision).await;
        }
        on_consent
    }

    /// Waits until the browser shows the consent page (`true`) or is back on the app (`false`).
    pub async fn wait_for_consent_or_app(&self, browser: &Browser) -> bool {
        let app_origin = self.spa.origin().to_owned();
        let issuer = self.issuer.clone();
        browser
            .wait_until("the consent page is shown or the app is back", || {
                let (app_origin, issuer) = (app_origin.clone(), issuer.clone());
                async move {
                    let url = browser.current_url().await;
                    url.starts_with(&app_origin)
                        || (url.starts_with(&issuer) && consent_buttons(browser).await)
                }
            })
            .await;
        let url = browser.current_url().await;
        url.starts_with(&self.issuer)
    }

    /// The whole interactive login from the provider's login form on: credentials, `Allow`
    /// if consent is asked, and back on the app signed in as `user`.
    pub async fn login_as(&self, browser: &Browser, user: &DemoUser) {
        self.submit_login(browser, user.username, user.password)
            .await;
        self.answer_consent(browser, "Allow").await;
        browser.wait_for_auth_state("authenticated").await;
        wait_for_header_user(browser, user.name).await;
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.idp.abort();
        if let Some(api) = self.api.take() {
            let _ = api.shutdown.send(());
            api.task.abort();
        }
    }
}

/// One signing key for every provider of this test binary: RSA key generation is slow.
fn signing_key_pem() -> String {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        hashgate_idp::generate_signing_key_pem()
            .unwrap_or_else(|error| panic!("cannot generate a signing key: {error}"))
    })
    .clone()
}

async fn bind() -> TcpListener {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap_or_else(|error| panic!("cannot bind on 127.0.0.1: {error}"))
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|error| panic!("listener has no local address: {error}"))
}

async fn start_idp(
    listener: TcpListener,
    issuer: &str,
    data: &TempDir,
    spa_origin: &str,
    options: &StackOptions,
    log: ProviderLog,
) -> JoinHandle<()> {
    let mut config = hashgate_idp::Config::demo();
    let mut client = hashgate_idp::ClientConfig::spa(CLIENT_ID, "Hashgate Demo", spa_origin)
        .unwrap_or_else(|error| panic!("bad SPA origin {spa_origin}: {error}"));
    client.dpop_bound_access_tokens = options.dpop_required;
    config.clients = vec![client];
    config.dpop.require_nonce = options.dpop_nonces;
    if let Some(secs) = options.access_token_lifetime_secs {
        for api in config
            .apis
            .iter_mut()
            .filter(|api| api.identifier == AUDIENCE)
        {
            api.token_lifetime_secs = secs;
        }
    }
    assert!(
        config.api(AUDIENCE).is_some() && config.users.len() >= 2,
        "the provider's demo config lost its API or users"
    );
    if !options.extra_rules.is_empty() {
        config.rules_dir = Some(rules_with(
            config.rules_dir.as_deref(),
            &options.extra_rules,
            &data.path().join("rules"),
        ));
    }
    if let Err(error) = config.validate() {
        panic!("the test provider's config is invalid: {error}");
    }
    let settings = hashgate_idp::Settings::new(issuer, data.path().join("idp"), config)
        .with_signing_key_pem(signing_key_pem());
    // Built before serving (argon2 hashing of the demo users), so start-up errors fail here.
    let state = tokio::task::spawn_blocking(move || hashgate_idp::AppState::new(settings))
        .await
        .unwrap_or_else(|error| panic!("building the provider's state panicked: {error}"))
        .unwrap_or_else(|error| panic!("the provider cannot start: {error}"));
    // The provider's own router with a recorder in front; served with the peer's address,
    // as `hashgate_idp::serve_state` does (the login throttle and rules read it).
    let app = hashgate_idp::app(state).layer(middleware::from_fn_with_state(log, record));
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
        if let Err(error) = served {
            eprintln!("hashgate-idp stopped: {error}");
        }
    })
}

/// A rules directory at `dir` holding the shipped rules of `shipped` and `extra`.
fn rules_with(
    shipped: Option<&Path>,
    extra: &[(&'static str, &'static str)],
    dir: &Path,
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
    if let Some(shipped) = shipped {
        let entries = std::fs::read_dir(shipped)
            .unwrap_or_else(|error| panic!("cannot list {}: {error}", shipped.display()));
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "js") {
                std::fs::copy(&path, dir.join(entry.file_name()))
                    .unwrap_or_else(|error| panic!("cannot copy {}: {error}", path.display()));
            }
        }
    }
    for (name, source) in extra {
        std::fs::write(dir.join(name), source)
            .unwrap_or_else(|error| panic!("cannot write the rule {name}: {error}"));
    }
    dir.to_owned()
}

/// One request the provider answered, as the stack's recorder saw it. Holds secrets (codes,
/// verifiers, refresh tokens) for the test to compare; its `Debug` shows none of them.
#[derive(Clone)]
pub struct ProviderRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query (the issuer has no path, so `/authorize`, `/oauth/token`).
    pub path: String,
    /// The query's parameters, in order.
    pub query: Vec<(String, String)>,
    /// The parameters of a form-encoded body, in order.
    pub form: Vec<(String, String)>,
    /// The `Origin` header, if the browser sent one.
    pub origin: Option<String>,
    /// The status the provider answered.
    pub status: u16,
    /// The `refresh_token` of a successful token endpoint answer.
    pub issued_refresh_token: Option<String>,
    /// The `DPoP` header (a proof, RFC 9449 §4.1), if the browser sent one.
    pub dpop: Option<String>,
    /// The `token_type` of a successful token endpoint answer.
    pub issued_token_type: Option<String>,
}

impl ProviderRequest {
    /// The first value of `name` in the query or, failing that, the form body.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// True if `needle` appears in the query or the form body.
    pub fn mentions(&self, needle: &str) -> bool {
        self.query
            .iter()
            .chain(&self.form)
            .any(|(_, value)| value.contains(needle))
    }
}

impl fmt::Debug for ProviderRequest {
    /// `POST /oauth/token -> 200 (grant_type=refresh_token, client_id, refresh_token)`: the
    /// values of parameters that are never secret, only the names of the others.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: &[&str] = &[
            "grant_type",
            "prompt",
            "response_type",
            "response_mode",
            "code_challenge_method",
            "client_id",
            "error",
        ];
        let params: Vec<String> = self
            .query
            .iter()
            .chain(&self.form)
            .map(|(name, value)| match SHOWN.contains(&name.as_str()) {
                true => format!("{name}={value}"),
                false => name.clone(),
            })
            .collect();
        write!(
            f,
            "{} {} -> {} ({})",
            self.method,
            self.path,
            self.status,
            params.join(", ")
        )
    }
}

/// What the provider answered, shared between the recorder and the [`Stack`].
#[derive(Clone, Default)]
struct ProviderLog(Arc<Mutex<Vec<ProviderRequest>>>);

impl ProviderLog {
    fn all(&self) -> Vec<ProviderRequest> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, request: ProviderRequest) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
    }
}

/// Bodies the recorder reads whole; the provider itself refuses anything above 16 KiB.
const RECORDED_BODY_LIMIT: usize = 1024 * 1024;

/// Records each request and its answer, passing both through unchanged.
async fn record(State(log): State<ProviderLog>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(form_pairs).unwrap_or_default();
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let dpop = request
        .headers()
        .get("dpop")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, RECORDED_BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let form = match is_form {
        true => form_pairs(&String::from_utf8_lossy(&bytes)),
        false => Vec::new(),
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status().as_u16();
    let (response, (issued_refresh_token, issued_token_type)) =
        if path == "/oauth/token" && status == 200 {
            let (parts, body) = response.into_parts();
            let bytes = to_bytes(body, RECORDED_BODY_LIMIT)
                .await
                .unwrap_or_default();
            let answer = serde_json::from_slice::<Value>(&bytes).unwrap_or_default();
            let member = |name: &str| answer[name].as_str().map(str::to_owned);
            let issued = (member("refresh_token"), member("token_type"));
            (Response::from_parts(parts, Body::from(bytes)), issued)
        } else {
            (response, (None, None))
        };
    log.push(ProviderRequest {
        method,
        path,
        query,
        form,
        origin,
        status,
        issued_refresh_token,
        dpop,
        issued_token_type,
    });
    response
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

fn start_api(listener: TcpListener, settings: hashgate_api::Settings) -> ApiServer {
    let state = hashgate_api::AppState::new(settings)
        .unwrap_or_else(|error| panic!("the API cannot start: {error}"));
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, hashgate_api::app(state))
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .await;
        if let Err(error) = served {
            eprintln!("hashgate-api stopped: {error}");
        }
    });
    ApiServer { shutdown, task }
}

/// The `input` labelled `label` right now, if there is one.
async fn try_field(browser: &Browser, label: &str) -> Option<Element> {
    let xpath = field_xpath(label);
    browser.client().find(Locator::XPath(&xpath)).await.ok()
}

/// Whether the provider's consent page (its `Allow` and `Deny` buttons) is shown.
async fn consent_buttons(browser: &Browser) -> bool {
    let xpath = "//button[normalize-space(.)='Allow'] | //button[normalize-space(.)='Deny']";
    browser
        .client()
        .find_all(Locator::XPath(xpath))
        .await
        .is_ok_and(|buttons| buttons.len() == 2)
}
