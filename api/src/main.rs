//! `hashgate-api`: the demo resource server, on 127.0.0.1.
//!
//! ```text
//! cargo run -p hashgate-api                      # trusts the local hashgate-idp on :3000
//! cargo run -p hashgate-api -- --issuer https://TENANT.auth0.com/ --audience https://my-api
//! ```
//!
//! Every flag has an environment fallback (`API_ISSUER`, `API_AUDIENCE`,
//! `API_ALLOWED_ORIGINS`, `API_PORT`, `API_DATA_DIR`, `API_JWKS_MAX_AGE`, ...). Logs go to stderr; set
//! `RUST_LOG` to change their level (default `info`).

#![warn(missing_docs)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hashgate_api::{
    Settings, DEFAULT_AUDIENCE, DEFAULT_DATA_DIR, DEFAULT_ISSUER, DEFAULT_JWKS_MAX_AGE_SECS,
    DEFAULT_PORT,
};
use tracing_subscriber::EnvFilter;

/// A demo API that validates OAuth 2.0 access tokens (RS256 JWTs) from any OpenID Connect provider.
#[derive(Debug, Parser)]
#[command(name = "hashgate-api", version, about)]
struct Cli {
    /// Issuer URL, exactly as in the provider's discovery document (and the tokens' `iss`).
    #[arg(long, env = "API_ISSUER", default_value = DEFAULT_ISSUER)]
    issuer: String,
    /// API identifier that access tokens must carry in `aud`.
    #[arg(long, env = "API_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    audience: String,
    /// Browser origins allowed by CORS, comma separated.
    #[arg(
        long,
        env = "API_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = "http://localhost:8080,http://127.0.0.1:8080"
    )]
    allowed_origins: Vec<String>,
    /// Port to listen on.
    #[arg(long, env = "API_PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Directory for the message database; created if missing.
    #[arg(long, env = "API_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Address to listen on; keep the loopback default unless a proxy in front needs another.
    #[arg(long, env = "API_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Least seconds between two JWKS refetches caused by unknown key ids, and between retries
    /// while the provider cannot be reached.
    #[arg(long, env = "API_JWKS_MIN_REFRESH_SECS", default_value_t = 30)]
    jwks_min_refresh_secs: u64,
    /// Longest seconds the issuer's keys (JWKS) are used before they are fetched again, so a
    /// key the provider removes stops validating tokens. A shorter `Cache-Control: max-age`
    /// on the JWKS lowers it, to no less than 30 (or this value, if smaller). If the refetch
    /// fails, the cached keys are kept for one more max age, then requests get 503.
    #[arg(
        long,
        env = "API_JWKS_MAX_AGE",
        value_name = "SECONDS",
        default_value_t = DEFAULT_JWKS_MAX_AGE_SECS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    jwks_max_age: u64,
    /// Refuse plain bearer tokens: only DPoP-bound access tokens with a DPoP proof pass.
    #[arg(long, env = "API_REQUIRE_DPOP")]
    require_dpop: bool,
    /// Require a server nonce (`DPoP-Nonce`) in every DPoP proof.
    #[arg(long, env = "API_DPOP_NONCE")]
    dpop_nonce: bool,
    /// The URL clients reach the API at, behind a reverse proxy (https://api.example.com):
    /// DPoP proofs must name it. Default: the request's own scheme and Host.
    #[arg(long, env = "API_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();

    let mut settings = Settings::new(cli.issuer, cli.audience, cli.data_dir);
    settings.allowed_origins = cli.allowed_origins;
    settings.jwks_min_refresh_interval = Duration::from_secs(cli.jwks_min_refresh_secs);
    settings.jwks_max_age = Duration::from_secs(cli.jwks_max_age);
    settings.require_dpop = cli.require_dpop;
    settings.dpop_nonce = cli.dpop_nonce;
    settings.public_url = cli.public_url;

    let address = SocketAddr::new(cli.host, cli.port);
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("hashgate-api: cannot listen on {address}: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        url = %format!("http://{address}"),
        issuer = %settings.issuer,
        audience = %settings.audience,
        origins = ?settings.allowed_origins,
        data_dir = %settings.data_dir.display(),
        jwks_max_age_secs = cli.jwks_max_age,
        require_dpop = settings.require_dpop,
        dpop_nonce = settings.dpop_nonce,
        public_url = ?settings.public_url,
        "hashgate-api listening"
    );
    match hashgate_api::serve_with_shutdown(listener, settings, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hashgate-api: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C or SIGTERM, so in-flight requests (and their commits) finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
