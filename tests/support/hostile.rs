//! A hostile identity provider for browser tests: discovery, a JWKS with a real RSA key, and an
//! `/authorize` that reads the SPA's real request (client id, redirect URI, state, nonce) and
//! answers with an authorization response tampered as the test chose ([`Tamper`]). Silent
//! `prompt=none` requests get a `web_message` page whose behaviour is chosen too ([`Silent`]).
//!
//! It is also the SPA's `apiOrigin`: every request it receives (API calls included) is
//! recorded with its URL and headers, so a test can prove that a rejected token was never sent.
//!
//! ```ignore
//! let spa = SpaServer::start(serde_json::json!({})).await;
//! let idp = HostileProvider::start(spa.origin()).await;
//! idp.set_tamper(Tamper::BadSignature);
//! spa.set_auth_config(AuthConfigFile::Json(idp.auth_config()));
//! ```

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Query, Request, State},
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{any, get},
    Json, Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rsa::{
    pkcs1v15::SigningKey,
    pkcs8::{EncodePublicKey as _, LineEnding},
    signature::{SignatureEncoding as _, Signer as _},
    traits::PublicKeyParts as _,
    RsaPrivateKey,
};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tokio::task::JoinHandle;
use tower_http::cors::{AllowOrigin, CorsLayer};

mod code;

/// The SPA's client id at this provider.
pub const CLIENT_ID: &str = "hashgate-spa";
/// The API audience the SPA asks for.
pub const AUDIENCE: &str = "https://api.hostile.test";
/// The `kid` of the provider's published signing key.
pub const GOOD_KID: &str = "hostile-good";
/// The `kid` of the attacker's key (never published in the provider's JWKS).
pub const ATTACKER_KID: &str = "attacker";
/// The name in the ID tokens of [`Tamper::OtherUser`].
pub const OTHER_USER_NAME: &str = "Bob Hostile";
/// The `error_description` of [`Tamper::HtmlErrorDescription`]: markup that must show as text.
pub const HTML_DESCRIPTION: &str = "<img src=x onerror=alert(1)>";

/// How `/authorize` tampers with an interactive login's response. Each variant names the one
/// thing that is wrong; everything else is exactly what a correct provider sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tamper {
    /// Nothing: a correct response (the control).
    #[default]
    Valid,
    /// The ID token's signature has one byte flipped.
    BadSignature,
    /// A valid response, but sent in the query string (`redirect_uri?access_token=…`), as a
    /// provider misconfigured with `response_mode=query` would.
    ResponseInQuery,
    /// A valid response for another user (`sub` hostile|bob, "Bob Hostile"): what a provider
    /// whose session changed hands would send.
    OtherUser,
    /// `alg: none` and an empty signature.
    AlgNone,
    /// HS256, with the provider's RSA public key (SPKI PEM) as the HMAC secret.
    Hs256WithPublicKey,
    /// Signed by the attacker's key, with a `jku` header pointing at the attacker's JWKS.
    JkuAttackerKey,
    /// Signed by the attacker's key, with that key embedded as a `jwk` header.
    JwkAttackerKey,
    /// Signed by the attacker's key under a `kid` the provider's JWKS does not have.
    UnknownKid,
    /// `iss` is another issuer.
    WrongIssuer,
    /// `aud` is another client.
    WrongAudience,
    /// `aud` holds this client and an untrusted one (with `azp` set to this client).
    ExtraUntrustedAudience,
    /// `exp` two minutes ago (beyond the 60 s leeway).
    Expired,
    /// `iat` an hour in the future.
    IatInFuture,
    /// `iat` an hour ago (older than 600 s plus leeway), `exp` still in the future.
    IatTooOld,
    /// No `sub`.
    MissingSub,
    /// `nonce` is not the one the SPA sent.
    WrongNonce,
    /// No `nonce`.
    MissingNonce,
    /// `at_hash` of another access token.
    WrongAtHash,
    /// No `at_hash`.
    MissingAtHash,
    /// `token_type=mac`.
    TokenTypeNotBearer,
    /// No `access_token` (for `response_type=id_token token`).
    MissingAccessToken,
    /// `state` is not the one the SPA sent.
    StateMismatch,
    /// `state` appears twice.
    DuplicateState,
    /// An `access_denied` error whose `error_description` is [`HTML_DESCRIPTION`].
    HtmlErrorDescription,
    /// The discovery document names another issuer.
    DiscoveryIssuerMismatch,
    /// The JWKS starts with an unusable key (and junk); the response itself is valid.
    GarbageKeyInJwks,
    /// Code flow: the token endpoint's answer has no `id_token`.
    MissingIdToken,
    /// Code flow: the authorization response lacks `iss`, which discovery advertises.
    IssParameterMissing,
    /// Code flow: the authorization response's `iss` names another issuer.
    IssParameterWrong,
    /// Code flow: the code comes in the fragment, not the query.
    CodeInFragment,
    /// Code flow: `code` appears twice.
    DuplicateCode,
    /// Code flow: the token endpoint answers 200 with an HTML page.
    TokenEndpointHtml,
    /// Code flow: the token endpoint answers 500.
    TokenEndpoint500,
    /// Code flow: the token endpoint answers with a redirect.
    TokenEndpointRedirect,
    /// Implicit flow: the answer is a code instead of tokens.
    CodeToImplicit,
    /// Code flow by `web_message`: the (valid) response is posted twice.
    PostedTwice,
}

/// How the token endpoint answers `grant_type=refresh_token`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Refresh {
    /// New tokens and a new refresh token; the old one is spent (rotation, with reuse
    /// detection: a spent token is `invalid_grant` and ends its family).
    #[default]
    Rotate,
    /// New tokens but no new refresh token (the old one is spent all the same).
    NoNewRefreshToken,
    /// New tokens for another user (`sub` hostile|bob).
    OtherUser,
    /// `invalid_grant`, as for a revoked token.
    InvalidGrant,
    /// Once HTTP 503 with an HTML page (a provider behind a load balancer that hiccups; the
    /// token is not spent), then [`Refresh::Rotate`].
    ServiceUnavailableOnce,
    /// New tokens and a new refresh token, but no ID token (OIDC Core §12.2 allows it).
    NoIdToken,
}

/// How `/authorize` answers a silent `prompt=none` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Silent {
    /// `login_required`, as a provider without a session does.
    #[default]
    LoginRequired,
    /// A page that never posts anything.
    Never,
    /// From the provider's origin, first a message with valid tokens (right nonce) but another
    /// `state`, then the genuine `login_required`.
    ForgedStateFirst,
    /// The frame first navigates to another origin (`localhost` instead of `127.0.0.1`), which
    /// posts valid tokens with the right `state` and nonce, then comes back to the provider's
    /// origin for the genuine `login_required`.
    ForgedOriginFirst,
    /// One response with the right `state`, made as this mode makes interactive ones
    /// (`Answer(Tamper::Valid)` restores a session): a `web_message` page from the provider's
    /// origin, or without `web_message` a redirect to the SPA's `silent-callback.html`.
    Answer(Tamper),
}

/// One request the provider received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Every header, lowercase names.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }

    /// The `Authorization` header, if any.
    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    /// The value of header `name` (lowercase), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `needle` appears in the URL or in any header value.
    pub fn mentions(&self, needle: &str) -> bool {
        self.uri.contains(needle) || self.headers.iter().any(|(_, v)| v.contains(needle))
    }
}

/// Tokens the provider handed out.
#[derive(Clone, Debug, Default)]
pub struct Issued {
    /// The mode the response was made with (`None` for silent answers and refreshes).
    pub tamper: Option<Tamper>,
    /// The access token, if the response had one.
    pub access_token: Option<String>,
    /// The ID token, if the response had one.
    pub id_token: Option<String>,
    /// The refresh token, if the token endpoint issued one.
    pub refresh_token: Option<String>,
    /// The authorization code, for a code-flow answer of `/authorize`.
    pub code: Option<String>,
    /// The full `redirect_uri#…` the browser was sent to, for redirects.
    pub callback_url: Option<String>,
}

impl Issued {
    /// The tokens (and code), to search requests and storage for.
    pub fn tokens(&self) -> Vec<&str> {
        [
            self.access_token.as_deref(),
            self.id_token.as_deref(),
            self.refresh_token.as_deref(),
            self.code.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

struct Shared {
    origin: String,
    other_origin: String,
    spa_origin: String,
    tamper: Mutex<Tamper>,
    silent: Mutex<Silent>,
    web_message: Mutex<bool>,
    jwks_delay: Mutex<Duration>,
    requests: Mutex<Vec<Recorded>>,
    issued: Mutex<Vec<Issued>>,
    /// How many more bearer requests the API answers with 401 `invalid_token`.
    api_rejections: Mutex<usize>,
    /// The access tokens' lifetime in seconds.
    expires_in: Mutex<u64>,
    /// Access tokens the API refuses (401) whenever they come.
    rejected_tokens: Mutex<Vec<String>>,
    /// How long the token endpoint holds every answer back.
    token_delay: Mutex<Duration>,
    /// How refreshes are answered.
    refresh: Mutex<Refresh>,
    /// Codes, refresh tokens and what the token endpoint was asked.
    code_flow: Mutex<code::CodeFlow>,
}

/// The hostile provider and API recorder on `http://127.0.0.1:<free port>`; stops when dropped.
pub struct HostileProvider {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl HostileProvider {
    /// Starts the provider for an SPA served at `spa_origin` (the only CORS origin and the
    /// only origin its redirect URIs may have).
    pub async fn start(spa_origin: &str) -> HostileProvider {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap_or_else(|error| panic!("cannot bind the hostile provider: {error}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("hostile provider has no local address: {error}"))
            .port();
        let shared = Arc::new(Shared {
            origin: format!("http://127.0.0.1:{port}"),
            other_origin: format!("http://localhost:{port}"),
            spa_origin: spa_origin.to_owned(),
            tamper: Mutex::new(Tamper::Valid),
            silent: Mutex::new(Silent::LoginRequired),
            web_message: Mutex::new(true),
            jwks_delay: Mutex::new(Duration::ZERO),
            requests: Mutex::new(Vec::new()),
            issued: Mutex::new(Vec::new()),
            api_rejections: Mutex::new(0),
            expires_in: Mutex::new(3600),
            rejected_tokens: Mutex::new(Vec::new()),
            token_delay: Mutex::new(Duration::ZERO),
            refresh: Mutex::new(Refresh::Rotate),
            code_flow: Mutex::new(code::CodeFlow::default()),
        });
        let spa_origin = HeaderValue::from_str(spa_origin)
            .unwrap_or_else(|error| panic!("bad SPA origin {spa_origin}: {error}"));
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::exact(spa_origin))
            .allow_methods([Method::GET, Method::POST])
            // A DPoP client's proofs are allowed in, so that what the provider answers them
            // (a `Bearer` token, RFC 9449 §5) is what the app must judge.
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("dpop"),
            ])
            .expose_headers([header::WWW_AUTHENTICATE]);
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            .route("/attacker/jwks.json", get(attacker_jwks))
            .route("/authorize", get(authorize))
            .route("/logout", get(logout))
            .route("/oauth/token", any(code::token))
            .route("/oauth/revoke", any(code::revoke))
            .route("/silent/forged-origin", get(forged_origin_page))
            .route("/silent/login-required", get(login_required_page))
            .route("/api/{*rest}", any(api))
            .layer(cors)
            // Outermost, so preflights and refused requests are recorded too.
            .layer(middleware::from_fn_with_state(Arc::clone(&shared), record))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("hostile provider stopped: {error}");
            }
        });
        HostileProvider { shared, task }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// The issuer, `http://127.0.0.1:PORT/`.
    pub fn issuer(&self) -> String {
        issuer(&self.shared)
    }

    /// An `auth_config.json` for this provider, with itself as `apiOrigin`.
    pub fn auth_config(&self) -> Value {
        json!({
            "issuer": self.issuer(),
            "clientId": CLIENT_ID,
            "audience": AUDIENCE,
            "apiOrigin": self.origin(),
        })
    }

    /// An `auth_config.json` for the authorization code flow at this provider, renewing with
    /// refresh tokens if `refresh_tokens`, keeping tokens as `cache_location` says.
    pub fn code_auth_config(&self, refresh_tokens: bool, cache_location: &str) -> Value {
        let mut config = self.auth_config();
        config["responseType"] = json!("code");
        config["useRefreshTokens"] = json!(refresh_tokens);
        config["cacheLocation"] = json!(cache_location);
        config
    }

    /// The lifetime (`expires_in`) of access tokens issued from now on (default 3600 s).
    pub fn set_expires_in(&self, secs: u64) {
        *lock(&self.shared.expires_in) = secs;
    }

    /// The API answers every request bearing `access_token` with 401 `invalid_token` (a token
    /// revoked at the provider).
    pub fn reject_access_token(&self, access_token: &str) {
        lock(&self.shared.rejected_tokens).push(access_token.to_owned());
    }

    /// Holds every token endpoint answer back this long (default none), so that a test can act
    /// while a redemption or refresh is in flight.
    pub fn set_token_delay(&self, delay: Duration) {
        *lock(&self.shared.token_delay) = delay;
    }

    /// How `grant_type=refresh_token` is answered from now on.
    pub fn set_refresh(&self, refresh: Refresh) {
        *lock(&self.shared.refresh) = refresh;
    }

    /// The `grant_type` of every token endpoint request so far, in order.
    pub fn token_grants(&self) -> Vec<String> {
        lock(&self.shared.code_flow).grants.clone()
    }

    /// Every refresh token revoked at `/oauth/revoke` so far.
    pub fn revoked(&self) -> Vec<String> {
        lock(&self.shared.code_flow).revoked.clone()
    }

    /// How interactive logins are answered from now on.
    pub fn set_tamper(&self, tamper: Tamper) {
        *lock(&self.shared.tamper) = tamper;
    }

    /// How silent `prompt=none` requests are answered from now on.
    pub fn set_silent(&self, silent: Silent) {
        *lock(&self.shared.silent) = silent;
    }

    /// Whether discovery advertises `response_mode=web_message` (default true).
    pub fn set_web_message(&self, enabled: bool) {
        *lock(&self.shared.web_message) = enabled;
    }

    /// The next `count` API requests carrying a bearer token get 401 `invalid_token` (a
    /// revoked token, or an API whose clock disagrees), then the API answers 200 again.
    pub fn set_api_rejections(&self, count: usize) {
        *lock(&self.shared.api_rejections) = count;
    }

    /// Holds every JWKS answer back this long (default none), so a test can look at the page
    /// while a callback is still being validated.
    pub fn set_jwks_delay(&self, delay: Duration) {
        *lock(&self.shared.jwks_delay) = delay;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Requests to `path` (without query) so far.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }

    /// Every set of tokens handed out so far, in order.
    pub fn issued(&self) -> Vec<Issued> {
        lock(&self.shared.issued).clone()
    }

    /// The responses of interactive logins (not silent answers) so far.
    pub fn logins(&self) -> Vec<Issued> {
        self.issued()
            .into_iter()
            .filter(|i| i.tamper.is_some())
            .collect()
    }

    /// A valid authorization response fragment (without `#`) for `state` and `nonce`, as if
    /// this provider had issued it; recorded in [`HostileProvider::issued`].
    pub fn valid_fragment(&self, state: &str, nonce: &str) -> String {
        let (params, issued) = respond(&self.shared, Tamper::Valid, state, nonce);
        lock(&self.shared.issued).push(issued);
        form_encode(&params)
    }
}

impl Drop for HostileProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn issuer(shared: &Shared) -> String {
    format!("{}/", shared.origin)
}

async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    lock(&shared.requests).push(Recorded {
        method: request.method().to_string(),
        uri: request.uri().to_string(),
        headers,
    });
    next.run(request).await
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let tamper = *lock(&shared.tamper);
    let issuer = if tamper == Tamper::DiscoveryIssuerMismatch {
        format!("{}/someone-else/", shared.origin)
    } else {
        issuer(&shared)
    };
    let mut modes = vec!["fragment"];
    if *lock(&shared.web_message) {
        modes.push("web_message");
    }
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{}/authorize", shared.origin),
        "jwks_uri": format!("{}/.well-known/jwks.json", shared.origin),
        "end_session_endpoint": format!("{}/logout", shared.origin),
        "token_endpoint": format!("{}/oauth/token", shared.origin),
        "revocation_endpoint": format!("{}/oauth/revoke", shared.origin),
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "response_types_supported": ["id_token token", "id_token", "code"],
        "response_modes_supported": modes,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let delay = *lock(&shared.jwks_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let good = public_jwk(provider_key(), GOOD_KID);
    let keys = if *lock(&shared.tamper) == Tamper::GarbageKeyInJwks {
        json!([
            {"kty": "RSA", "kid": "hostile-garbage", "use": "sig", "alg": "RS256",
             "n": "@@ not base64url @@", "e": "AQAB"},
            "not a key at all",
            good,
        ])
    } else {
        json!([good])
    };
    Json(json!({ "keys": keys }))
}

async fn attacker_jwks() -> Json<Value> {
    Json(json!({ "keys": [public_jwk(attacker_key(), ATTACKER_KID)] }))
}

/// The demo API's endpoints, answering 200 (only what the browser sends matters here), or 401
/// while [`HostileProvider::set_api_rejections`] says so.
async fn api(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let bearer = request.headers().contains_key(header::AUTHORIZATION);
    let rejected_token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| lock(&shared.rejected_tokens).iter().any(|t| t == token));
    let mut rejections = lock(&shared.api_rejections);
    if rejected_token || (bearer && request.method() != Method::OPTIONS && *rejections > 0) {
        if !rejected_token {
            *rejections -= 1;
        }
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"hostile\", error=\"invalid_token\"",
            )],
            Json(json!({ "error": "invalid_token" })),
        )
            .into_response();
    }
    Json(json!({ "message": "hostile recorder", "messages": [] })).into_response()
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let callback = format!("{}/callback", shared.spa_origin);
    let silent_callback = format!("{}/silent-callback.html", shared.spa_origin);
    let code_flow = param("response_type") == Some("code");
    let problem = if param("client_id") != Some(CLIENT_ID) {
        Some("unknown client_id")
    } else if param("response_type") != Some("id_token token") && !code_flow {
        Some("response_type must be `id_token token` or `code`")
    } else if code_flow
        && (param("code_challenge").is_none_or(str::is_empty)
            || param("code_challenge_method") != Some("S256"))
    {
        Some("the code flow needs a code_challenge with code_challenge_method=S256")
    } else if !matches!(param("redirect_uri"), Some(uri) if uri == callback || uri == silent_callback)
    {
        Some("redirect_uri is not registered")
    } else if param("state").is_none_or(str::is_empty) || param("nonce").is_none_or(str::is_empty) {
        Some("state and nonce are required")
    } else {
        None
    };
    if let Some(problem) = problem {
        return (
            StatusCode::BAD_REQUEST,
            format!("hostile provider: {problem}"),
        )
            .into_response();
    }
    let (redirect_uri, state, nonce) = (
        param("redirect_uri").unwrap_or_default(),
        param("state").unwrap_or_default(),
        param("nonce").unwrap_or_default(),
    );

    if code_flow {
        let request = code::Request {
            redirect_uri: redirect_uri.to_owned(),
            nonce: nonce.to_owned(),
            challenge: param("code_challenge").unwrap_or_default().to_owned(),
            scope: param("scope").unwrap_or_default().to_owned(),
        };
        return code::authorize(
            &shared,
            request,
            state,
            param("prompt") == Some("none"),
            param("response_mode"),
        );
    }

    if param("prompt") == Some("none") {
        let web_message = param("response_mode") == Some("web_message");
        return silent_answer(&shared, redirect_uri, state, nonce, web_message);
    }

    let tamper = *lock(&shared.tamper);
    if tamper == Tamper::CodeToImplicit {
        let location = format!(
            "{redirect_uri}#{}",
            form_encode(&[
                ("code".into(), random_hex(16)),
                ("state".into(), state.into())
            ])
        );
        lock(&shared.issued).push(Issued {
            tamper: Some(tamper),
            callback_url: Some(location.clone()),
            ..Issued::default()
        });
        return Redirect::to(&location).into_response();
    }
    let (params, mut issued) = respond(&shared, tamper, state, nonce);
    let separator = if tamper == Tamper::ResponseInQuery {
        '?'
    } else {
        '#'
    };
    let location = format!("{redirect_uri}{separator}{}", form_encode(&params));
    issued.callback_url = Some(location.clone());
    lock(&shared.issued).push(issued);
    Redirect::to(&location).into_response()
}

/// OIDC RP-Initiated Logout: back to `post_logout_redirect_uri` when it is the app's home (the
/// request, with whatever it carried, is recorded).
async fn logout(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let home = format!("{}/", shared.spa_origin);
    let back = params
        .iter()
        .any(|(name, value)| name == "post_logout_redirect_uri" && *value == home);
    if back {
        Redirect::to(&home).into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            "hostile provider: post_logout_redirect_uri is not registered",
        )
            .into_response()
    }
}

fn silent_answer(
    shared: &Shared,
    redirect_uri: &str,
    state: &str,
    nonce: &str,
    web_message: bool,
) -> Response {
    let mode = *lock(&shared.silent);
    if mode == Silent::Never {
        return Html("<!doctype html><title>thinking</title><p>…</p>").into_response();
    }
    if !web_message {
        // The fragment goes to the SPA's silent-callback.html, which relays it to the app.
        let params = match mode {
            Silent::Answer(tamper) => {
                let (params, mut issued) = respond(shared, tamper, state, nonce);
                issued.tamper = None;
                lock(&shared.issued).push(issued);
                params
            }
            _ => login_required(state),
        };
        let fragment = form_encode(&params);
        return Redirect::to(&format!("{redirect_uri}#{fragment}")).into_response();
    }
    match mode {
        Silent::ForgedStateFirst => {
            let other_state = format!("forged-{}", random_hex(16));
            let (forged, mut issued) = respond(shared, Tamper::Valid, &other_state, nonce);
            issued.tamper = None;
            lock(&shared.issued).push(issued);
            post_page(
                &shared.spa_origin,
                &[message(&forged), message(&login_required(state))],
                None,
            )
        }
        Silent::ForgedOriginFirst => Redirect::to(&format!(
            "{}/silent/forged-origin?state={}&nonce={}",
            shared.other_origin,
            encode_component(state),
            encode_component(nonce)
        ))
        .into_response(),
        Silent::Answer(tamper) => {
            let (params, mut issued) = respond(shared, tamper, state, nonce);
            issued.tamper = None;
            lock(&shared.issued).push(issued);
            post_page(&shared.spa_origin, &[message(&params)], None)
        }
        Silent::LoginRequired | Silent::Never => {
            post_page(&shared.spa_origin, &[message(&login_required(state))], None)
        }
    }
}

/// Served on the other origin: posts valid tokens with the right state, then goes back to the
/// provider's origin for the genuine answer.
async fn forged_origin_page(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (state, nonce) = (param("state"), param("nonce"));
    let (forged, mut issued) = respond(&shared, Tamper::Valid, &state, &nonce);
    issued.tamper = None;
    lock(&shared.issued).push(issued);
    let back = format!(
        "{}/silent/login-required?state={}",
        shared.origin,
        encode_component(&state)
    );
    post_page(&shared.spa_origin, &[message(&forged)], Some(&back))
}

async fn login_required_page(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let state = params
        .iter()
        .find(|(n, _)| n == "state")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    post_page(&shared.spa_origin, &[message(&login_required(state))], None)
}

fn login_required(state: &str) -> Vec<(String, String)> {
    vec![
        ("error".into(), "login_required".into()),
        (
            "error_description".into(),
            "the hostile provider has no session".into(),
        ),
        ("state".into(), state.into()),
    ]
}

/// Auth0's `web_message` shape: `{type: "authorization_response", response: {…}}`.
fn message(params: &[(String, String)]) -> Value {
    let response: serde_json::Map<String, Value> = params
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    json!({ "type": "authorization_response", "response": response })
}

/// A page that posts `messages` to its parent (targeting `target_origin`), then optionally
/// navigates to `then`.
fn post_page(target_origin: &str, messages: &[Value], then: Option<&str>) -> Response {
    // `<` escaped so no value can close the script element.
    let script_json = |value: &Value| value.to_string().replace('<', "\\u003c");
    let then = then.map(|url| format!("window.location.replace({});", script_json(&json!(url))));
    Html(format!(
        "<!doctype html><meta charset=\"utf-8\"><title>web_message</title><script>\
         (function () {{ var messages = {}; var target = window.parent; \
         for (var i = 0; i < messages.length; i++) {{ target.postMessage(messages[i], {}); }} {} }})();\
         </script>",
        script_json(&Value::Array(messages.to_vec())),
        script_json(&json!(target_origin)),
        then.unwrap_or_default(),
    ))
    .into_response()
}

/// Builds the authorization response for `tamper`: the parameters to send and what was issued.
fn respond(
    shared: &Shared,
    tamper: Tamper,
    state: &str,
    nonce: &str,
) -> (Vec<(String, String)>, Issued) {
    respond_with(shared, tamper, state, Some(nonce))
}

/// [`respond`], with an ID token that carries no `nonce` when `nonce` is `None` (a refresh,
/// OIDC Core §12.2).
fn respond_with(
    shared: &Shared,
    tamper: Tamper,
    state: &str,
    nonce: Option<&str>,
) -> (Vec<(String, String)>, Issued) {
    if tamper == Tamper::HtmlErrorDescription {
        let params = vec![
            ("error".into(), "access_denied".into()),
            ("error_description".into(), HTML_DESCRIPTION.into()),
            ("state".into(), state.into()),
        ];
        let issued = Issued {
            tamper: Some(tamper),
            ..Issued::default()
        };
        return (params, issued);
    }

    let now = unix_now();
    let access_token = format!("hostile-at-{}", random_hex(24));
    let mut header = json!({ "alg": "RS256", "typ": "JWT", "kid": GOOD_KID });
    let mut claims = json!({
        "iss": issuer(shared),
        "sub": "hostile|alice",
        "aud": CLIENT_ID,
        "exp": now + 3600,
        "iat": now,
        "nonce": nonce,
        "at_hash": at_hash(&access_token),
        "name": "Alice Hostile",
        "email": "alice@hostile.test",
    });
    let attacker_jwk = public_jwk(attacker_key(), ATTACKER_KID);
    let remove = |claims: &mut Value, name: &str| {
        if let Some(object) = claims.as_object_mut() {
            object.remove(name);
        }
    };
    match tamper {
        Tamper::JkuAttackerKey => {
            header["kid"] = json!(ATTACKER_KID);
            header["jku"] = json!(format!("{}/attacker/jwks.json", shared.origin));
        }
        Tamper::JwkAttackerKey => {
            header["kid"] = json!(ATTACKER_KID);
            header["jwk"] = attacker_jwk;
        }
        Tamper::UnknownKid => header["kid"] = json!("hostile-rotated-away"),
        Tamper::OtherUser => {
            claims["sub"] = json!("hostile|bob");
            claims["name"] = json!(OTHER_USER_NAME);
            claims["email"] = json!("bob@hostile.test");
        }
        Tamper::WrongIssuer => claims["iss"] = json!("http://evil.example/"),
        Tamper::WrongAudience => claims["aud"] = json!("another-client"),
        Tamper::ExtraUntrustedAudience => {
            claims["aud"] = json!([CLIENT_ID, "https://evil.example/api"]);
            claims["azp"] = json!(CLIENT_ID);
        }
        Tamper::Expired => {
            claims["iat"] = json!(now - 300);
            claims["exp"] = json!(now - 120);
        }
        Tamper::IatInFuture => {
            claims["iat"] = json!(now + 3600);
            claims["exp"] = json!(now + 7200);
        }
        Tamper::IatTooOld => claims["iat"] = json!(now - 3600),
        Tamper::MissingSub => remove(&mut claims, "sub"),
        Tamper::WrongNonce => claims["nonce"] = json!(format!("not-{}", random_hex(16))),
        Tamper::MissingNonce => remove(&mut claims, "nonce"),
        Tamper::WrongAtHash => claims["at_hash"] = json!(at_hash("some-other-access-token")),
        Tamper::MissingAtHash => remove(&mut claims, "at_hash"),
        _ => {}
    }
    if nonce.is_none() {
        remove(&mut claims, "nonce");
    }
    let id_token = match tamper {
        Tamper::BadSignature => flip_signature_byte(&sign_rs256(provider_key(), &header, &claims)),
        Tamper::AlgNone => {
            header["alg"] = json!("none");
            format!("{}.{}.", b64_json(&header), b64_json(&claims))
        }
        Tamper::Hs256WithPublicKey => hs256_with_public_key(&claims),
        Tamper::JkuAttackerKey | Tamper::JwkAttackerKey | Tamper::UnknownKid => {
            sign_rs256(attacker_key(), &header, &claims)
        }
        _ => sign_rs256(provider_key(), &header, &claims),
    };

    let mut params: Vec<(String, String)> = vec![
        ("access_token".into(), access_token.clone()),
        ("token_type".into(), "Bearer".into()),
        ("expires_in".into(), lock(&shared.expires_in).to_string()),
        ("id_token".into(), id_token.clone()),
        ("scope".into(), "openid profile email".into()),
        ("state".into(), state.into()),
    ];
    match tamper {
        Tamper::TokenTypeNotBearer => params[1].1 = "mac".into(),
        Tamper::MissingAccessToken => params.retain(|(name, _)| name != "access_token"),
        Tamper::MissingIdToken => params.retain(|(name, _)| name != "id_token"),
        Tamper::StateMismatch => params[5].1 = format!("forged-{}", random_hex(16)),
        Tamper::DuplicateState => params.push(("state".into(), state.into())),
        _ => {}
    }
    let issued = Issued {
        tamper: Some(tamper),
        access_token: Some(access_token),
        id_token: Some(id_token),
        ..Issued::default()
    };
    (params, issued)
}

/// The provider's signing key, one per test process.
fn provider_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(generate_key)
}

/// The attacker's key, one per test process.
fn attacker_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(generate_key)
}

fn generate_key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
        .unwrap_or_else(|error| panic!("cannot generate an RSA key: {error}"))
}

fn public_jwk(key: &RsaPrivateKey, kid: &str) -> Value {
    let public = key.to_public_key();
    json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    })
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn sign_rs256(key: &RsaPrivateKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn flip_signature_byte(token: &str) -> String {
    let (input, signature) = token
        .rsplit_once('.')
        .unwrap_or_else(|| panic!("a signed token has a signature"));
    let mut bytes = URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap_or_else(|error| panic!("our own signature is base64url: {error}"));
    bytes[17] ^= 0x01;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The classic key-confusion forgery: HS256 keyed with the RSA public key's PEM text.
fn hs256_with_public_key(claims: &Value) -> String {
    let pem = provider_key()
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap_or_else(|error| panic!("cannot encode the public key: {error}"));
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(GOOD_KID.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(pem.as_bytes()),
    )
    .unwrap_or_else(|error| panic!("cannot sign HS256: {error}"))
}

/// OIDC Core 3.2.2.9: base64url of the left half of SHA-256 of the access token.
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// `application/x-www-form-urlencoded` for a fragment, every reserved byte percent-encoded.
pub fn form_encode(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(name, value)| format!("{}={}", encode_component(name), encode_component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode_component(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
