//! `cargo xtask dev`: builds and starts everything the demo needs — the identity provider
//! (`hashgate-idp`, port 3000), the demo API (`hashgate-api`, port 3001) and
//! `trunk serve` (http://localhost:8080, with live reload) — and stops all of it on Ctrl-C or
//! as soon as one of them exits.
//!
//! Without `idp/` (a fork on its own provider, README.md "Use your own provider") it serves the
//! app and the API only: the app signs in with the provider `public/auth_config.json` names,
//! and the API checks that provider's tokens (its issuer and audience, unless `API_ISSUER` and
//! `API_AUDIENCE` say otherwise).

use std::{
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{killpg, Signal},
    unistd::Pid,
};
use std::os::unix::process::CommandExt;

use crate::{
    cmd, files,
    process::port_open,
    tools::{self, Needs},
    Error, Result,
};

/// Where `trunk serve` listens.
pub const SPA_PORT: u16 = 8080;
/// How long a child gets to exit after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// Runs the demo until Ctrl-C; fails if a part of it stops on its own.
pub fn run() -> Result<()> {
    tools::ensure(Needs {
        lint: false,
        browser: false,
    })?;
    let local_idp = cmd::root().join("idp/Cargo.toml").is_file();
    // The servers read their ports from these variables too (see their --help).
    let mut ports = vec![
        ("hashgate-api", env_port("API_PORT", 3001)),
        ("trunk serve", SPA_PORT),
    ];
    if local_idp {
        ports.insert(0, ("hashgate-idp", env_port("IDP_PORT", 3000)));
    }
    for &(name, port) in &ports {
        if port_open(port) {
            return Err(Error::Missing(format!(
                "port {port} ({name}) is already in use (another `cargo xtask dev`?); \
                 stop whatever listens there and retry"
            )));
        }
    }

    let mut api = cmd::cargo();
    api.args(["run", "-p", "hashgate-api", "--"]);
    if local_idp {
        // Build first so a compile error stops here, not half-way through start-up.
        cmd::run(cmd::cargo().args(["build", "-p", "hashgate-idp", "-p", "hashgate-api"]))?;
    } else {
        let config_path = cmd::root().join("public/auth_config.json");
        let provider = ExternalProvider::read(&files::read_text(&config_path)?)
            .map_err(|why| Error::Missing(format!("{}: {why}", config_path.display())))?;
        println!(
            "no idp/: the app signs in with {} (public/auth_config.json); hashgate-api checks \
             its tokens",
            provider.issuer
        );
        if std::env::var_os("API_ISSUER").is_none() {
            api.env("API_ISSUER", &provider.issuer);
        }
        if let (None, Some(audience)) = (std::env::var_os("API_AUDIENCE"), &provider.audience) {
            api.env("API_AUDIENCE", audience);
        }
        cmd::run(cmd::cargo().args(["build", "-p", "hashgate-api"]))?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst))?;

    let mut children = Children::default();
    if local_idp {
        children.spawn(
            "hashgate-idp",
            cmd::cargo().args(["run", "-p", "hashgate-idp", "--"]),
        )?;
    }
    children.spawn("hashgate-api", &mut api)?;
    children.spawn("trunk serve", &mut trunk_serve(SPA_PORT))?;

    let mut announced = false;
    let outcome = loop {
        if stop.load(Ordering::SeqCst) {
            println!("\nstopping...");
            break Ok(());
        }
        if let Some((name, status)) = children.exited() {
            eprintln!("\n{name} exited ({status}); stopping the others");
            break Err(Error::Missing(format!("{name} stopped ({status})")));
        }
        if !announced && ports.iter().all(|(_, port)| port_open(*port)) {
            println!("\n    Open http://localhost:{SPA_PORT}\n    (Ctrl-C stops everything)\n");
            announced = true;
        }
        thread::sleep(Duration::from_millis(250));
    };
    children.stop_all();
    outcome
}

/// `trunk serve` of the app on 127.0.0.1:`port`, offline, with the rest of its settings from
/// `Trunk.toml` (live reload under a per-response nonce: see there, and [`crate::devserver`],
/// which checks it).
pub fn trunk_serve(port: u16) -> Command {
    let mut trunk = cmd::command("trunk");
    trunk.args(["serve", "--offline", "--address", "127.0.0.1", "--port"]);
    trunk.arg(port.to_string());
    trunk
}

/// The provider a fork without `idp/` signs in with, as `public/auth_config.json` names it.
#[derive(Debug, PartialEq, Eq)]
pub struct ExternalProvider {
    /// The issuer: `issuer`, or `https://<domain>/` for an Auth0-style `domain`.
    pub issuer: String,
    /// The API identifier the app asks for, if any.
    pub audience: Option<String>,
}

impl ExternalProvider {
    /// Reads the text of an `auth_config.json` (docs/contract.md: `issuer`, or Auth0's `domain`).
    pub fn read(text: &str) -> std::result::Result<ExternalProvider, String> {
        let config: serde_json::Value =
            serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
        let field = |name: &str| {
            config
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let issuer = match (field("issuer"), field("domain")) {
            (Some(issuer), _) => issuer,
            (None, Some(domain)) => format!("https://{domain}/"),
            (None, None) => return Err("names no `issuer` (nor `domain`)".to_owned()),
        };
        Ok(ExternalProvider {
            issuer,
            audience: field("audience"),
        })
    }
}

fn env_port(variable: &str, default: u16) -> u16 {
    std::env::var(variable)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Child processes, each the leader of its own process group so that stopping it also
/// stops what it started (cargo's compiler runs, trunk's builds). Dropping stops them all.
#[derive(Default)]
struct Children {
    running: Vec<(String, Child)>,
}

impl Children {
    fn spawn(&mut self, name: &str, command: &mut Command) -> Result<()> {
        let line = cmd::describe(command);
        println!("$ {line} &");
        let child = command
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                command: line,
                source,
            })?;
        self.running.push((name.to_owned(), child));
        Ok(())
    }

    /// The first child found to have exited, if any.
    fn exited(&mut self) -> Option<(String, ExitStatus)> {
        self.running.iter_mut().find_map(|(name, child)| {
            child
                .try_wait()
                .ok()
                .flatten()
                .map(|status| (name.clone(), status))
        })
    }

    fn stop_all(&mut self) {
        for (_, child) in &self.running {
            signal_group(child, Signal::SIGTERM);
        }
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline
            && self
                .running
                .iter_mut()
                .any(|(_, child)| matches!(child.try_wait(), Ok(None)))
        {
            thread::sleep(Duration::from_millis(100));
        }
        for (name, mut child) in self.running.drain(..) {
            // Also reaches grandchildren left behind by a leader that already exited.
            signal_group(&child, Signal::SIGKILL);
            let _ = child.wait();
            println!("stopped {name}");
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn signal_group(child: &Child, signal: Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // ESRCH (the group is already gone) is the outcome we want anyway.
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    // README.md, "Use your own provider": without idp/, `cargo xtask dev` points hashgate-api at
    // the provider of public/auth_config.json, written either way docs/contract.md allows.
    #[test]
    fn the_external_provider_is_read_from_the_app_config() {
        let keycloak = ExternalProvider::read(
            r#"{ "issuer": "https://sso.example.com/realms/app", "clientId": "spa",
                 "audience": "https://api.example.com" }"#,
        )
        .unwrap();
        assert_eq!(keycloak.issuer, "https://sso.example.com/realms/app");
        assert_eq!(
            keycloak.audience.as_deref(),
            Some("https://api.example.com")
        );
        let auth0 =
            ExternalProvider::read(r#"{ "domain": "tenant.eu.auth0.com", "clientId": "x" }"#)
                .unwrap();
        assert_eq!(auth0.issuer, "https://tenant.eu.auth0.com/");
        assert_eq!(auth0.audience, None);
        assert!(ExternalProvider::read(r#"{ "clientId": "x" }"#)
            .unwrap_err()
            .contains("no `issuer`"));
        assert!(ExternalProvider::read("{")
            .unwrap_err()
            .contains("not JSON"));
    }
}
