//! `hashgate-idp`: the local Auth0-compatible identity provider.
//!
//! Run it with the demo configuration:
//!
//! ```sh
//! cargo run -p hashgate-idp
//! # then log in as alice / alice-password or bob / bob-password
//! ```
//!
//! Flags (each with an environment fallback): `--issuer` (`IDP_ISSUER`, default
//! `http://localhost:3000/`), `--port` (`IDP_PORT`, 3000), `--config` (`IDP_CONFIG`,
//! `idp/hashgate-idp.toml`), `--data-dir` (`IDP_DATA_DIR`, `.hashgate/idp`).
//! `hashgate-idp rotate-keys` adds a new signing key. Logs follow `RUST_LOG`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hashgate_idp::{AppState, Config, Settings};

/// A local, Auth0-compatible OpenID Connect provider for single-page apps (implicit
/// grant, authorization code with PKCE, rotating refresh tokens).
#[derive(Debug, Parser)]
#[command(name = "hashgate-idp", version, about)]
struct Cli {
    /// Issuer URL as apps see it (always ends with '/').
    #[arg(
        long,
        env = "IDP_ISSUER",
        default_value = "http://localhost:3000/",
        global = true
    )]
    issuer: String,
    /// Port to listen on (127.0.0.1 only).
    #[arg(long, env = "IDP_PORT", default_value_t = 3000)]
    port: u16,
    /// Configuration file (clients, APIs, users).
    #[arg(
        long,
        env = "IDP_CONFIG",
        default_value = "idp/hashgate-idp.toml",
        global = true
    )]
    config: PathBuf,
    /// Directory for the SQLite database (users, sessions, consents, keys).
    #[arg(
        long,
        env = "IDP_DATA_DIR",
        default_value = ".hashgate/idp",
        global = true
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add a new signing key; the previous one stays in the JWKS for the
    /// configured grace period.
    RotateKeys,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "hashgate_idp=info,tower_http=info".into()),
        )
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hashgate-idp: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> hashgate_idp::Result<()> {
    let config = Config::load(&cli.config)?;
    if let Some(Command::RotateKeys) = cli.command {
        let kid = hashgate_idp::rotate_keys(&cli.data_dir, config.keys.grace_period_secs)?;
        println!(
            "new signing key {kid}; the previous key stays published for {} s",
            config.keys.grace_period_secs
        );
        return Ok(());
    }
    let settings = Settings::new(cli.issuer, cli.data_dir.clone(), config);
    let state = tokio::task::spawn_blocking(move || AppState::new(settings))
        .await
        .map_err(|e| hashgate_idp::IdpError::Task(e.to_string()))??;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, cli.port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(
        issuer = %state.issuer(),
        address = %addr,
        data_dir = %cli.data_dir.display(),
        "hashgate-idp listening"
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    hashgate_idp::serve_state_until(listener, state, shutdown).await
}
