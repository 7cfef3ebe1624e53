//! hashgate-api: a demo resource server that decides from the access token alone.
//!
//! It validates `Authorization: Bearer` JWTs issued by any OpenID Connect provider
//! (found by discovery, keys from its JWKS), answers as RFC 6750 says, and keeps each
//! caller's messages in SQLite. Run it with `cargo run -p hashgate-api -- --help`.
//!
//! Library first, so tests and other crates start it in-process:
//!
//! ```no_run
//! # async fn start() -> Result<(), hashgate_api::StartError> {
//! let settings = hashgate_api::Settings::new(
//!     "http://127.0.0.1:3000/",      // issuer, exactly as in its discovery document
//!     "https://api.hashgate.local",  // audience (API identifier)
//!     "/tmp/hashgate-api-data",      // data directory
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}", listener.local_addr()?);
//! tokio::spawn(hashgate_api::serve(listener, settings));
//! # let _ = url; Ok(()) }
//! ```
//!
//! Nothing is fetched from the provider at start-up: see [`auth`] for when keys are
//! fetched and what requests get while the provider is down.

pub mod auth;
pub mod error;
pub mod messages;
mod routes;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::http::HeaderValue;
use tokio::net::TcpListener;

pub use auth::scopes::{ReadMessages, WriteMessages};
pub use auth::{Claims, RequireScope, Scope, TokenVerifier};
pub use error::{AppError, StartError};
pub use messages::{Message, MessageStore};
pub use routes::{app, app_with, MAX_BODY_BYTES};

/// Default issuer: the local `hashgate-idp`.
pub const DEFAULT_ISSUER: &str = "http://localhost:3000/";
/// Default audience (API identifier).
pub const DEFAULT_AUDIENCE: &str = "https://api.hashgate.local";
/// Default CORS origins: the SPA's dev server.
pub const DEFAULT_ALLOWED_ORIGINS: [&str; 2] = ["http://localhost:8080", "http://127.0.0.1:8080"];
/// Default port.
pub const DEFAULT_PORT: u16 = 3001;
/// Default data directory (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = ".hashgate/api";

/// How the API is configured. Build with [`Settings::new`], then adjust the public fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// The trusted issuer, exactly as the `iss` claim and the discovery document state it
    /// (Auth0: `https://TENANT.auth0.com/`, with the trailing slash).
    pub issuer: String,
    /// The API identifier that access tokens must have in `aud`.
    pub audience: String,
    /// Browser origins allowed by CORS, e.g. `http://localhost:8080`. Default: the two
    /// dev origins in [`DEFAULT_ALLOWED_ORIGINS`].
    pub allowed_origins: Vec<String>,
    /// Directory of `messages.sqlite3`; created if missing.
    pub data_dir: PathBuf,
    /// Least time between two JWKS fetches caused by unknown `kid`s. Default 30 s.
    pub jwks_min_refresh_interval: Duration,
    /// Clock-skew leeway for `exp` and `nbf`. Default 60 s.
    pub leeway: Duration,
    /// Timeout of each discovery/JWKS request. Default 10 s.
    pub http_timeout: Duration,
}

impl Settings {
    /// Settings with the given issuer, audience and data directory, and defaults elsewhere.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            allowed_origins: DEFAULT_ALLOWED_ORIGINS.map(String::from).to_vec(),
            data_dir: data_dir.into(),
            jwks_min_refresh_interval: Duration::from_secs(30),
            leeway: Duration::from_secs(60),
            http_timeout: Duration::from_secs(10),
        }
    }
}

impl Default for Settings {
    /// The defaults of the command line: local `hashgate-idp`, dev origins, `.hashgate/api`.
    fn default() -> Self {
        Self::new(DEFAULT_ISSUER, DEFAULT_AUDIENCE, DEFAULT_DATA_DIR)
    }
}

/// Shared state of all routes; cheap to clone.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    /// Validates access tokens (what [`Claims`] uses).
    pub verifier: TokenVerifier,
    /// The message store.
    pub messages: MessageStore,
    /// CORS origins, parsed.
    pub allowed_origins: Arc<[HeaderValue]>,
    /// The settings it was built from.
    pub settings: Arc<Settings>,
}

impl AppState {
    /// Checks the settings and opens the store. Contacts no provider: keys are fetched on
    /// first use, so this succeeds while the provider is down.
    pub fn new(settings: Settings) -> Result<Self, StartError> {
        // If feature unification ever enables a second jsonwebtoken backend, its automatic
        // choice would panic on first use; naming ours up front avoids that. An `Err` only
        // means a provider was already installed, which is fine.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let issuer = url::Url::parse(&settings.issuer)
            .map_err(|_| StartError::Issuer(settings.issuer.clone()))?;
        if !matches!(issuer.scheme(), "http" | "https")
            || !issuer.has_host()
            || issuer.query().is_some()
            || issuer.fragment().is_some()
        {
            return Err(StartError::Issuer(settings.issuer.clone()));
        }
        if settings.audience.trim().is_empty() {
            return Err(StartError::Audience);
        }
        let allowed_origins = settings
            .allowed_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .map(parse_origin)
            .collect::<Result<Arc<[_]>, _>>()?;

        let mut http = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .connect_timeout(settings.http_timeout)
            // The issuer check is on the discovery URL we chose; do not follow elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hashgate-api/", env!("CARGO_PKG_VERSION")));
        if issuer
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]")
        {
            // A loopback issuer must never be reached through a proxy from the environment.
            http = http.no_proxy();
        }
        let http = http.build().map_err(StartError::HttpClient)?;

        let verifier = TokenVerifier::new(
            &settings.issuer,
            &settings.audience,
            http,
            settings.jwks_min_refresh_interval,
            settings.leeway,
        );
        let messages = MessageStore::open(&settings.data_dir)?;
        Ok(Self {
            verifier,
            messages,
            allowed_origins,
            settings: Arc::new(settings),
        })
    }
}

/// An origin is `scheme://host[:port]`; a single trailing `/` is forgiven.
fn parse_origin(origin: &str) -> Result<HeaderValue, StartError> {
    let invalid = || StartError::Origin(origin.to_owned());
    let trimmed = origin.strip_suffix('/').unwrap_or(origin);
    let url = url::Url::parse(trimmed).map_err(|_| invalid())?;
    let serialized = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || serialized != trimmed.to_ascii_lowercase() {
        return Err(invalid());
    }
    HeaderValue::from_str(&serialized).map_err(|_| invalid())
}

/// Serves the API on `listener` until an I/O error. For tests:
/// `tokio::spawn(hashgate_api::serve(TcpListener::bind("127.0.0.1:0").await?, settings))`.
pub async fn serve(listener: TcpListener, settings: Settings) -> Result<(), StartError> {
    serve_with_shutdown(listener, settings, std::future::pending()).await
}

/// Serves the API on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let state = AppState::new(settings)?;
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_bare_scheme_host_port() {
        assert_eq!(
            parse_origin("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(
            parse_origin("https://app.example").unwrap(),
            "https://app.example"
        );
        for bad in [
            "*",
            "localhost:8080",
            "http://a/b",
            "ftp://a",
            "http://a:8080?x",
            "null",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_with_a_bad_issuer_or_origin_do_not_start() {
        let dir = std::env::temp_dir().join("hashgate-api-unit-bad-settings");
        let bad_issuer = Settings::new("not a url", DEFAULT_AUDIENCE, &dir);
        assert!(matches!(
            AppState::new(bad_issuer),
            Err(StartError::Issuer(_))
        ));
        let mut bad_origin = Settings::new(DEFAULT_ISSUER, DEFAULT_AUDIENCE, &dir);
        bad_origin.allowed_origins = vec!["*".into()];
        assert!(matches!(
            AppState::new(bad_origin),
            Err(StartError::Origin(_))
        ));
        let no_audience = Settings::new(DEFAULT_ISSUER, " ", &dir);
        assert!(matches!(
            AppState::new(no_audience),
            Err(StartError::Audience)
        ));
    }
}
