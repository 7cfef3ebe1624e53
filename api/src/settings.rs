//! How the API is configured: [`Settings`] and the defaults of the command line.

use std::path::PathBuf;
use std::time::Duration;

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
/// Default longest age of the issuer's cached keys, in seconds (`--jwks-max-age`).
pub const DEFAULT_JWKS_MAX_AGE_SECS: u64 = 600;

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
    /// Longest time the issuer's keys (JWKS) are used before the next request fetches them
    /// again; a shorter `Cache-Control: max-age` on the JWKS lowers it. If that fetch fails,
    /// the keys are kept for one more max age, then refused. Default 600 s
    /// (`--jwks-max-age`).
    pub jwks_max_age: Duration,
    /// Least max age a `Cache-Control: max-age` on the JWKS can impose (never more than
    /// [`Settings::jwks_max_age`]). Default 30 s.
    pub jwks_max_age_floor: Duration,
    /// Least time between two JWKS fetches caused by unknown `kid`s, and between retries
    /// after a failed fetch. Default 30 s.
    pub jwks_min_refresh_interval: Duration,
    /// Clock-skew leeway for `exp` and `nbf`. Default 60 s.
    pub leeway: Duration,
    /// Timeout of each discovery/JWKS request. Default 10 s.
    pub http_timeout: Duration,
    /// Refuse plain bearer tokens: only DPoP-bound tokens with a proof pass (RFC 9449,
    /// `--require-dpop`). Default: off.
    pub require_dpop: bool,
    /// Require a server nonce in DPoP proofs (RFC 9449 §9, `--dpop-nonce`). Default: off.
    pub dpop_nonce: bool,
    /// The URL clients reach the API at, when a reverse proxy is in front
    /// (`https://api.example.com`, optionally with a path prefix; `--public-url`): DPoP proofs
    /// must name it (`htu`). Default: none, the request's own scheme and `Host` are used.
    pub public_url: Option<String>,
    /// How far a DPoP proof's `iat` may be from now, either way. Default 60 s.
    pub dpop_proof_window: Duration,
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
            jwks_max_age: Duration::from_secs(DEFAULT_JWKS_MAX_AGE_SECS),
            jwks_max_age_floor: Duration::from_secs(30),
            jwks_min_refresh_interval: Duration::from_secs(30),
            leeway: Duration::from_secs(60),
            http_timeout: Duration::from_secs(10),
            require_dpop: false,
            dpop_nonce: false,
            public_url: None,
            dpop_proof_window: crate::auth::DEFAULT_PROOF_WINDOW,
        }
    }
}

impl Default for Settings {
    /// The defaults of the command line: local `hashgate-idp`, dev origins, `.hashgate/api`.
    fn default() -> Self {
        Self::new(DEFAULT_ISSUER, DEFAULT_AUDIENCE, DEFAULT_DATA_DIR)
    }
}
