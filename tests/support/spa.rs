//! Serves the release build (`$HASHGATE_DIST`) like a static host with an SPA fallback,
//! with `/auth_config.json` replaced by what the test provides.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, RwLock},
};

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tower_http::services::{ServeDir, ServeFile};

/// The release build to serve: `$HASHGATE_DIST`, which must hold an `index.html`.
///
/// Panics with what to run when it is not set or not built.
pub fn dist_dir() -> PathBuf {
    let guidance = "run `cargo xtask test` (or `trunk build --release --offline` and set \
                    HASHGATE_DIST=$PWD/dist) first; if `cargo xtask test` ran, its release \
                    build step failed";
    let Some(dist) = std::env::var_os("HASHGATE_DIST").filter(|dist| !dist.is_empty()) else {
        panic!("HASHGATE_DIST is not set: {guidance}");
    };
    let dist = PathBuf::from(dist);
    assert!(
        dist.join("index.html").is_file(),
        "HASHGATE_DIST={} has no index.html: {guidance}",
        dist.display()
    );
    dist
}

/// Where tests write screenshots for humans: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("screenshots")
}

/// The workspace's root directory (this crate lives in `tests/support/`), where the shipped
/// files the tests read (`deploy/`, `tests/interop/`) are found.
pub(crate) fn workspace_root() -> PathBuf {
    let support = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    support
        .parent()
        .and_then(std::path::Path::parent)
        .map(std::path::Path::to_path_buf)
        .unwrap_or(support)
}

/// A minimal `auth_config.json` for `issuer` with the client id `hashgate-spa`.
pub fn auth_config(issuer: &str) -> Value {
    json!({ "issuer": issuer, "clientId": "hashgate-spa" })
}

/// What `/auth_config.json` answers.
#[derive(Debug, Clone)]
pub enum AuthConfigFile {
    /// This JSON value.
    Json(Value),
    /// These exact bytes as `application/json` (to test invalid files).
    Raw(String),
    /// 404, as if the deployment forgot the file.
    Missing,
}

/// The SPA's release build on `http://127.0.0.1:<free port>`; stops when dropped.
///
/// Needs a tokio runtime (`#[tokio::test(flavor = "multi_thread")]`).
pub struct SpaServer {
    origin: String,
    config: Arc<RwLock<AuthConfigFile>>,
    task: JoinHandle<()>,
}

impl SpaServer {
    /// Serves `$HASHGATE_DIST` with `auth_config` as `/auth_config.json`.
    pub async fn start(auth_config: Value) -> SpaServer {
        SpaServer::start_with(AuthConfigFile::Json(auth_config)).await
    }

    /// Serves `$HASHGATE_DIST` with `/auth_config.json` answering `config`.
    pub async fn start_with(config: AuthConfigFile) -> SpaServer {
        let dist = dist_dir();
        let config = Arc::new(RwLock::new(config));
        // Unknown paths get index.html with 200, as static hosts configured for SPAs do,
        // so deep links like /profile and /callback load the app.
        let files = ServeDir::new(&dist).fallback(ServeFile::new(dist.join("index.html")));
        let app = Router::new()
            .route("/auth_config.json", get(serve_config))
            .with_state(Arc::clone(&config))
            .fallback_service(files);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap_or_else(|error| panic!("cannot bind the SPA server on 127.0.0.1: {error}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("SPA server has no local address: {error}"))
            .port();
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("SPA server stopped: {error}");
            }
        });
        SpaServer {
            origin: format!("http://127.0.0.1:{port}"),
            config,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Replaces what `/auth_config.json` answers from now on; for servers that need the
    /// SPA's origin before the SPA can know their URL (an identity provider's redirect URIs).
    pub fn set_auth_config(&self, config: AuthConfigFile) {
        let mut current = self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = config;
    }
}

impl Drop for SpaServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_config(State(config): State<Arc<RwLock<AuthConfigFile>>>) -> Response {
    let config = config
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    // no-store: a test may change the file and reload the page.
    let json = [
        (header::CONTENT_TYPE, "application/json"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    match config {
        AuthConfigFile::Json(value) => (json, value.to_string()).into_response(),
        AuthConfigFile::Raw(body) => (json, body).into_response(),
        AuthConfigFile::Missing => StatusCode::NOT_FOUND.into_response(),
    }
}
