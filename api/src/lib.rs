//! hashgate-api: a demo resource server that decides from the access token alone.
//!
//! It validates `Authorization: Bearer` JWTs issued by any OpenID Connect provider
//! (found by discovery, keys from its JWKS), and DPoP-bound ones sent as `Authorization: DPoP`
//! with their proof (RFC 9449), answers as RFC 6750 and RFC 9449 §7 say, and keeps each
//! caller's messages in SQLite. Run it with `cargo run -p hashgate-api -- --help`.
//!
//! Library first, so tests and other crates start it in-process:
//!
//! ```no_run
//! # async fn start() -> Result<(), hashgate_api::StartError> {
//! let settings = hashgate_api::Settings::new(
//!     "http://127.0.0.1:3000/",      // issuer, exactly as in its discovery document
//!     "https://api.hashgate.local",  // audience (API identifier)
//!     ".hashgate/api",               // data directory
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}", listener.local_addr()?);
//! tokio::spawn(hashgate_api::serve(listener, settings));
//! # let _ = url; Ok(()) }
//! ```
//!
//! Nothing is fetched from the provider at start-up: see [`auth`] for when keys are
//! fetched and what requests get while the provider is down.
//!
//! Modules import one way, each only from those listed before it: `messages`, `error`,
//! `settings`, `auth` (inside: `bearer`, `claims`, `dpop`, `keys`, then `verify`, then
//! `extract`),
//! `state`, `routes`; this root only re-exports them and serves.

#![warn(missing_docs)]

pub mod auth;
pub mod error;
pub mod messages;
mod routes;
mod settings;
mod state;

use std::future::Future;

use tokio::net::TcpListener;

pub use auth::scopes::{ReadMessages, WriteMessages};
pub use auth::{Claims, JwksPolicy, RequireScope, Scope, TokenVerifier};
pub use error::{AppError, StartError};
pub use messages::{Message, MessageStore};
pub use routes::{app, app_with, MAX_BODY_BYTES};
pub use settings::{
    Settings, DEFAULT_ALLOWED_ORIGINS, DEFAULT_AUDIENCE, DEFAULT_DATA_DIR, DEFAULT_ISSUER,
    DEFAULT_JWKS_MAX_AGE_SECS, DEFAULT_PORT,
};
pub use state::AppState;

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
