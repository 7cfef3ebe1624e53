//! `oidc-provider` (npm, OpenID Certified) as an independent authorization server:
//! `node tests/interop/provider.mjs` on a loopback port, started per test and killed when
//! dropped, and page objects for its development login, consent and logout pages.
//!
//! The provider reports what the app asked of it, one JSON object per line on stdout
//! (`authorization`, `token`, `revocation`, `end_session`, their errors: names, modes and
//! outcomes, never a token): [`OidcProvider::events`] reads them, so a test can tell a silent
//! `prompt=none` request from a refresh-token grant without intercepting the browser.
//!
//! Needs Node.js and `npm ci` in `tests/interop` (`cargo xtask test` runs it). Missing
//! either is a failure, never a skip.
//!
//! ```ignore
//! let port = free_port();
//! let spa = SpaServer::start(json!({ "issuer": OidcProvider::issuer_for(port), ... })).await;
//! let provider = OidcProvider::start_on(port, spa.origin(), ProviderOptions::default());
//! ```

use std::{
    io::{BufRead, BufReader, Read},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, ChildStderr, Command, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

use fantoccini::Locator;
use nix::{
    sys::signal::{killpg, Signal},
    unistd::Pid,
};
use serde_json::Value;

use super::{Browser, DEFAULT_TIMEOUT};

/// The API identifier the provider issues JWT access tokens for.
pub const INTEROP_AUDIENCE: &str = "https://api.hashgate.local";

/// How the provider is started.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// Access token lifetime in seconds (default 3600).
    pub access_token_ttl_secs: u64,
    /// DPoP (RFC 9449): `off` (default), `on` (required of the client) or `nonce` (also
    /// server nonces).
    pub dpop: &'static str,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        ProviderOptions {
            access_token_ttl_secs: 3600,
            dpop: "off",
        }
    }
}

/// A running `oidc-provider`; dropping it kills the node process.
pub struct OidcProvider {
    issuer: String,
    child: Child,
    stderr: Option<ChildStderr>,
    events: Arc<Mutex<Vec<Value>>>,
}

impl OidcProvider {
    /// `http://127.0.0.1:PORT`: this provider writes its issuer without a trailing slash.
    pub fn issuer_for(port: u16) -> String {
        format!("http://127.0.0.1:{port}")
    }

    /// Starts the provider on `port` with the client `hashgate-spa` registered for
    /// `spa_origin`; returns once it prints `ready`.
    pub fn start_on(port: u16, spa_origin: &str, options: ProviderOptions) -> OidcProvider {
        let dir = interop_dir();
        assert!(
            dir.join("node_modules/oidc-provider/package.json")
                .is_file(),
            "{} has no node_modules/oidc-provider: run `npm ci` there (or `cargo xtask test`, \
             which does); the interop tests are never skipped",
            dir.display()
        );
        let node = std::env::var_os("HASHGATE_NODE").unwrap_or_else(|| "node".into());
        let mut child = Command::new(&node)
            .current_dir(&dir)
            .arg("provider.mjs")
            .args(["--port", &port.to_string()])
            .args(["--spa-origin", spa_origin])
            .args(["--audience", INTEROP_AUDIENCE])
            .args([
                "--access-token-ttl",
                &options.access_token_ttl_secs.to_string(),
            ])
            .args(["--dpop", options.dpop])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start `{} provider.mjs` ({error}): the interop tests need Node.js \
                     20 or later (Debian: apt-get install -y nodejs npm), never skipped",
                    node.to_string_lossy()
                )
            });
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("provider.mjs has no stdout pipe"));
        let events = Arc::new(Mutex::new(Vec::new()));
        let mut provider = OidcProvider {
            issuer: OidcProvider::issuer_for(port),
            stderr: child.stderr.take(),
            child,
            events: Arc::clone(&events),
        };
        // The ready line, read on a thread so a silent provider cannot hang the test; then
        // the events, read to the end so the provider never blocks on a full pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = tx.send(first);
            for line in lines.map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(event) if event.get("event").is_some() => {
                        if let Ok(mut events) = events.lock() {
                            events.push(event);
                        }
                    }
                    // oidc-provider's own start-up notices (development defaults in use).
                    _ if line.starts_with("oidc-provider ") => {}
                    _ => eprintln!("provider.mjs printed an unexpected line: {line}"),
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(line)) if line.starts_with("ready ") => {
                assert_eq!(line, format!("ready {}", provider.issuer));
            }
            Ok(other) => panic!(
                "provider.mjs did not start ({other:?}):\n{}",
                provider.stop_and_read_stderr()
            ),
            Err(_) => panic!(
                "provider.mjs was not ready within 30 s:\n{}",
                provider.stop_and_read_stderr()
            ),
        }
        // Its warnings (dev adapter, dev interactions) are expected; drain them in the
        // background for the same reason as stdout.
        if let Some(stderr) = provider.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.contains("server_error") {
                        eprintln!("{line}");
                    }
                }
            });
        }
        provider
    }

    /// The issuer, exactly as in the discovery document.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Every event the provider has reported so far, oldest first.
    pub fn events(&self) -> Vec<Value> {
        match self.events.lock() {
            Ok(events) => events.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The events named `name` (`authorization`, `token`, `revocation`, …) so far.
    pub fn events_named(&self, name: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|event| event["event"] == name)
            .collect()
    }

    /// Waits until the provider has reported, after its first `since` events, one for which
    /// `matches` holds, and returns it; fails with `what` and every event so far after
    /// [`DEFAULT_TIMEOUT`]. `since` is an earlier `events().len()`, so that an event from
    /// before the step under test cannot answer for it.
    pub async fn wait_for_event(
        &self,
        since: usize,
        what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let found = self.events().into_iter().skip(since).find(|e| matches(e));
            if let Some(event) = found {
                return event;
            }
            if started.elapsed() > DEFAULT_TIMEOUT {
                panic!(
                    "timed out after {DEFAULT_TIMEOUT:?} waiting until the provider reports \
                     {what}; it reported:\n{}",
                    self.describe_events()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The events so far, one per line, for failure messages (they never hold a token).
    pub fn describe_events(&self) -> String {
        self.events()
            .iter()
            .map(|event| format!("  {event}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn stop_and_read_stderr(&mut self) -> String {
        self.kill();
        let mut text = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }

    fn kill(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `tests/interop` in this checkout.
pub fn interop_dir() -> PathBuf {
    crate::repo_root().join("tests/interop")
}

/// Waits until the browser shows this provider's development login page.
pub async fn wait_for_login_page(browser: &Browser, provider: &OidcProvider) {
    let issuer = provider.issuer().to_owned();
    browser
        .wait_until("oidc-provider's login page is shown", || {
            let issuer = issuer.clone();
            async move {
                browser.current_url().await.starts_with(&issuer)
                    && browser
                        .client()
                        .find(Locator::Css("form input[name=login]"))
                        .await
                        .is_ok()
            }
        })
        .await;
}

/// Signs in on the development login page (it takes any login and password) and waits
/// for the next page.
pub async fn sign_in(browser: &Browser, provider: &OidcProvider, login: &str, password: &str) {
    wait_for_login_page(browser, provider).await;
    type_into(browser, "form input[name=login]", login).await;
    type_into(browser, "form input[name=password]", password).await;
    browser.click_button("Sign-in").await;
}

/// Confirms the development consent page (`Continue`).
pub async fn consent(browser: &Browser) {
    browser.click_button("Continue").await;
}

/// Confirms the provider's RP-initiated logout page (`Yes, sign me out`).
pub async fn confirm_logout(browser: &Browser) {
    browser.click_button("Yes, sign me out").await;
}

/// The path of the URL the current document was loaded from (not where `history` moved it
/// since). A silent renewal keeps the page it started on; a login that left for the provider
/// comes back as a new document loaded at `/callback`.
pub async fn loaded_path(browser: &Browser) -> String {
    let script = "const nav = performance.getEntriesByType('navigation');\
                  return nav.length === 1 ? new URL(nav[0].name).pathname : null;";
    match browser.client().execute(script, Vec::new()).await {
        Ok(serde_json::Value::String(path)) => path,
        Ok(other) => panic!("the page has no single navigation entry: {other}"),
        Err(error) => panic!("reading the page's navigation entry failed: {error}"),
    }
}

async fn type_into(browser: &Browser, css: &str, value: &str) {
    let input = browser.wait_for_css(css).await;
    let typed = match input.clear().await {
        Ok(()) => input.send_keys(value).await,
        Err(error) => Err(error),
    };
    if let Err(error) = typed {
        panic!(
            "{}",
            browser
                .describe(&format!("typing into `{css}` failed: {error}"))
                .await
        );
    }
}
