//! hashgate-idp: a local, Auth0-compatible OpenID Connect provider for the implicit
//! grant and the authorization code grant with PKCE and rotating refresh tokens, for
//! developing and testing Hashgate without an Auth0 account.
//!
//! Endpoints, all under the issuer URL (which ends with `/`):
//! `.well-known/openid-configuration`, `.well-known/jwks.json`, `authorize`
//! (tokens in the fragment, codes in the query, either in the fragment or a
//! `web_message`; login and consent pages, `prompt=none`), `oauth/token` (code and
//! refresh-token grants, DPoP-bound when a proof comes with them, RFC 9449), `oauth/revoke`, `userinfo`, `v2/logout` (Auth0) and
//! `oidc/logout` (end_session_endpoint).
//!
//! Start it in-process (as the end-to-end tests do):
//!
//! ```no_run
//! # async fn run() -> Result<(), hashgate_idp::IdpError> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let issuer = format!("http://{}/", listener.local_addr()?);
//! let mut config = hashgate_idp::Config::demo();
//! config.clients.push(hashgate_idp::ClientConfig::spa("e2e", "E2E", "http://127.0.0.1:9999").unwrap());
//! tokio::spawn(hashgate_idp::serve(listener, issuer, config, "/tmp/idp-data".into()));
//! # Ok(()) }
//! ```
//!
//! Or from the command line: `cargo run -p hashgate-idp` (see the README).
//!
//! # Independent of `hashgate-protocol`, on purpose
//!
//! This crate shares no code with `hashgate-protocol`, the client-side checks of the
//! app (token parsing, claim checks, `at_hash`, URL building). It is the reference those
//! checks are tested against: were both built on the same code, a bug in it would make
//! the provider issue exactly what the client wrongly accepts, and every test would
//! pass. Here tokens are signed with `jsonwebtoken`, `at_hash` is computed from OIDC Core
//! §3.2.2.9 directly, PKCE from RFC 7636 §4.6, and requests are parsed by hand from
//! RFC 6749 §4.1.1, §4.1.3, §4.2.1 and §6.
//!
//! # Modules
//!
//! Imports run one way, from the leaves up: `util`, `config`, `store`, `throttle`,
//! `pages` and `rules::engine` import no other module; `dpop` (RFC 9449 proofs) uses
//! `util` only; `request` reads `config` and `dpop`;
//! `rules` reads `config`, `request` and `store`; `error` wraps the errors of those;
//! `keys` uses `error` and `store`; `state` holds all of them; `tokens` and `web` work on
//! `state`; `grants` (codes and refresh-token families) uses `tokens`; the handlers
//! (`flow`, `oauth`, `logout`, `userinfo`) sit on top, and this file routes to them.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod dpop;
pub mod error;
mod flow;
mod grants;
pub mod keys;
mod logout;
mod oauth;
mod pages;
mod request;
pub mod rules;
pub mod state;
pub mod store;
mod throttle;
mod tokens;
mod userinfo;
mod util;
mod web;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use config::{
    ApiConfig, ClientConfig, Config, ConfigError, DpopConfig, RulesConfig, ScopeConfig, UserConfig,
};
pub use error::{IdpError, Result};
pub use keys::generate_signing_key_pem;
pub use rules::{RuleError, Rules};
pub use state::{AppState, Settings};

/// The router with every endpoint, mounted under the issuer's path.
pub fn app(state: AppState) -> Router {
    let public_cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET]);
    let web_origins: HashSet<HeaderValue> = state
        .config
        .clients
        .iter()
        .flat_map(|c| c.web_origins.iter())
        .filter_map(|o| HeaderValue::from_str(&o.origin().ascii_serialization()).ok())
        .collect();
    let web_origins = std::sync::Arc::new(web_origins);
    let allowed = web_origins.clone();
    let userinfo_cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            allowed.contains(origin)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION])
        .max_age(Duration::from_secs(600));
    // The token and revocation endpoints answer the clients' web origins (each
    // request is then checked against its own client's), on errors too, so a browser
    // app can read an RFC 6749 §5.2 error body. No cookies are involved.
    let token_cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            web_origins.contains(origin)
        }))
        .allow_methods([Method::POST])
        // RFC 9449 §4.1: the proof travels in a `DPoP` header, and §8: a browser app
        // must read the `DPoP-Nonce` it is told to retry with.
        .allow_headers([header::CONTENT_TYPE, HeaderName::from_static("dpop")])
        .expose_headers([HeaderName::from_static("dpop-nonce")])
        .max_age(Duration::from_secs(600));

    let routes = Router::new()
        .route("/", get(index))
        .route(
            "/.well-known/openid-configuration",
            get(discovery).layer(public_cors.clone()),
        )
        .route("/.well-known/jwks.json", get(jwks).layer(public_cors))
        .route("/authorize", get(flow::authorize))
        .route("/login", get(flow::login_page).post(flow::login_submit))
        .route(
            "/consent",
            get(flow::consent_page).post(flow::consent_submit),
        )
        .route(
            "/userinfo",
            get(userinfo::userinfo)
                .post(userinfo::userinfo)
                .layer(userinfo_cors),
        )
        .route(
            "/oauth/token",
            post(oauth::token)
                .fallback(oauth::method_not_allowed)
                .layer(token_cors.clone()),
        )
        .route(
            "/oauth/revoke",
            post(oauth::revoke)
                .fallback(oauth::method_not_allowed)
                .layer(token_cors),
        )
        .route("/v2/logout", get(logout::v2_logout))
        .route("/oidc/logout", get(logout::oidc_logout))
        .route("/assets/idp.css", get(css))
        .route("/assets/web_message.js", get(web_message_js))
        .route("/avatar", get(avatar))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(middleware::map_response_with_state(
            state.clone(),
            web::render_error_pages,
        ))
        .with_state(state.clone());

    let base = state.issuer_url.path().trim_end_matches('/').to_owned();
    let routes = if base.is_empty() {
        routes
    } else {
        Router::new().nest(&base, routes)
    };
    routes
        // Paths only: query strings can carry id_token_hint and other secrets.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Not `no-referrer`: with it, browsers send `Origin: null` on form posts and
        // the login form's same-origin check could not tell our pages apart.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

/// Builds the state (blocking work on a blocking thread) and serves until the
/// listener fails. Bind `listener` first so the issuer URL can name its port.
pub async fn serve(
    listener: tokio::net::TcpListener,
    issuer: String,
    config: Config,
    data_dir: PathBuf,
) -> Result<()> {
    serve_settings(listener, Settings::new(issuer, data_dir, config)).await
}

/// Like [`serve`], with full [`Settings`] (e.g. an injected signing key).
pub async fn serve_settings(listener: tokio::net::TcpListener, settings: Settings) -> Result<()> {
    let state = tokio::task::spawn_blocking(move || AppState::new(settings))
        .await
        .map_err(|e| IdpError::Task(e.to_string()))??;
    serve_state(listener, state).await
}

/// Serves an already built [`AppState`] until the listener fails.
pub async fn serve_state(listener: tokio::net::TcpListener, state: AppState) -> Result<()> {
    serve_state_until(listener, state, std::future::pending()).await
}

/// Serves an already built [`AppState`] until `shutdown` completes, then finishes the
/// requests in flight. Expired sessions, pending logins, codes and refresh tokens are
/// deleted every minute while it runs.
pub async fn serve_state_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let _pruning = AbortOnDrop(tokio::spawn(prune_every(state.clone(), PRUNE_INTERVAL)));
    let router = app(state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

/// How often expired rows are deleted. Expired rows are never read as live (every
/// query checks `expires_at`), so this only bounds the space they take.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Stops the pruning task with the server, however the server future ends (it may
/// be dropped, as tests do by aborting it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn prune_every(state: AppState, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        match state
            .blocking(|state| Ok(state.store.prune_expired(state.now())?))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(
                rows = n,
                "expired sessions, logins, codes and refresh tokens deleted"
            ),
            Err(e) => tracing::warn!(error = %e, "pruning expired rows failed"),
        }
    }
}

/// Adds a new signing key to the database in `data_dir`; the previous key stays in
/// the JWKS for the grace period. A running server picks the new key up at once.
/// Returns the new key id.
pub fn rotate_keys(data_dir: &Path, grace_period_secs: u64) -> Result<String> {
    let store = store::Store::open(data_dir)?;
    keys::add_signing_key(&store, None, util::now(), grace_period_secs)
}

async fn discovery(State(state): State<AppState>) -> Response {
    let mut scopes: Vec<String> = config::OIDC_SCOPES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    scopes.push(config::OFFLINE_ACCESS.to_owned());
    for api in &state.config.apis {
        for s in &api.scopes {
            if !scopes.contains(&s.value) {
                scopes.push(s.value.clone());
            }
        }
    }
    Json(json!({
        "issuer": state.issuer,
        "authorization_endpoint": state.endpoint("authorize"),
        "token_endpoint": state.endpoint("oauth/token"),
        "revocation_endpoint": state.endpoint("oauth/revoke"),
        "jwks_uri": state.endpoint(".well-known/jwks.json"),
        "userinfo_endpoint": state.endpoint("userinfo"),
        "end_session_endpoint": state.endpoint("oidc/logout"),
        "response_types_supported": ["code", "token", "id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "web_message"],
        "grant_types_supported": ["implicit", "authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "dpop_signing_alg_values_supported": dpop::ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid",
            "name", "nickname", "preferred_username", "picture", "updated_at", "email", "email_verified"
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
    .into_response()
}

async fn jwks(State(state): State<AppState>) -> Result<Response> {
    let keys = state
        .blocking(|state| state.keys.jwks(&state.store, util::now()))
        .await?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(json!({ "keys": keys })),
    )
        .into_response())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", pages::CSS)
}

async fn web_message_js() -> Response {
    asset("text/javascript; charset=utf-8", pages::WEB_MESSAGE_JS)
}

#[derive(Deserialize)]
struct AvatarQuery {
    #[serde(default)]
    name: String,
}

/// A round initials avatar, the default `picture` of configured users.
async fn avatar(Query(q): Query<AvatarQuery>) -> Response {
    let initial: String = q
        .name
        .chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".into());
    let hue = q
        .name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 360;
    let svg = pages::avatar(&initial, hue).into_string();
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        svg,
    )
        .into_response()
}

async fn index(State(state): State<AppState>) -> Response {
    let text = format!(
        "This is a local OpenID Connect provider for development. Discovery document: {}",
        state.endpoint(".well-known/openid-configuration")
    );
    pages::Page::new(
        StatusCode::OK,
        pages::message(
            &state.path("assets/idp.css"),
            "hashgate-idp is running",
            &text,
            false,
        ),
        &[],
    )
    .into_response()
}

async fn not_found() -> IdpError {
    IdpError::NotFound
}
