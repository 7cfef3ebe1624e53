//! A headless Chromium driven over WebDriver: chromedriver on a free local port, a fresh
//! profile per browser, and helpers that wait and fail with a description of the page.

use std::{
    fs,
    future::Future,
    net::{SocketAddr, TcpListener, TcpStream},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{elements::Element, wd::WindowHandle, Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::{
    sys::signal::{killpg, Signal},
    unistd::Pid,
};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::spa::screenshot_dir;

/// How long helpers wait for the page before failing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// How often helpers look again.
const POLL: Duration = Duration::from_millis(100);
/// What every Chromium is started with: headless, no sandbox (containers, root), and no
/// background traffic to Google (tests may not reach the network).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// One headless Chromium with its own chromedriver and profile. Dropping it kills both;
/// [`Browser::close`] ends the session politely first.
pub struct Browser {
    client: Client,
    driver: Child,
    // Keeps the profile and chromedriver's log until the browser is gone.
    scratch: TempDir,
    timeout: Duration,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium. Panics with what to install
    /// if either is missing.
    pub async fn launch() -> Browser {
        let chromium = program("HASHGATE_CHROMIUM", "chromium");
        let chromedriver = program("HASHGATE_CHROMEDRIVER", "chromedriver");
        let scratch = tempfile::Builder::new()
            .prefix("hashgate-browser-")
            .tempdir()
            .unwrap_or_else(|error| panic!("cannot create a temporary browser profile: {error}"));
        let log = scratch.path().join("chromedriver.log");
        let port = free_port();
        let mut driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            // Chromium's own stderr (console messages included) goes to that log too.
            .arg("--enable-chrome-logs")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so Drop can kill chromedriver and every Chromium process.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromedriver.display()));
        wait_for_port(&mut driver, port, &log);

        let mut user_data_dir = String::from("--user-data-dir=");
        user_data_dir.push_str(&scratch.path().join("profile").to_string_lossy());
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(user_data_dir);
        args.push("--enable-logging=stderr".to_owned());
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("json! of an object literal is an object")
        };
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        let client = match connected {
            Ok(client) => client,
            Err(error) => {
                let log_tail = tail(&log, 30);
                panic!(
                    "chromedriver could not start Chromium ({}): {error}\n\
                     chromedriver and chromium must be the same major version \
                     (Debian: apt-get install -y chromium chromium-driver)\n\
                     last lines of {}:\n{log_tail}",
                    chromium.display(),
                    log.display()
                )
            }
        };
        Browser {
            client,
            driver,
            scratch,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Ends the WebDriver session (Chromium exits cleanly), then stops chromedriver.
    pub async fn close(self) {
        if let Err(error) = self.client.clone().close().await {
            eprintln!("closing the browser session failed: {error}");
        }
    }

    /// The fantoccini client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// How long the helpers wait (default [`DEFAULT_TIMEOUT`]).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Opens a new tab of this browser and switches to it. Returns the tab that was current
    /// and the new one, for [`Browser::switch_to`].
    pub async fn open_tab(&self) -> (WindowHandle, WindowHandle) {
        let current = self
            .client
            .window()
            .await
            .unwrap_or_else(|e| panic!("no current tab: {e}"));
        let new = self
            .client
            .new_window(true)
            .await
            .unwrap_or_else(|e| panic!("opening a tab failed: {e}"))
            .handle;
        self.switch_to(&new).await;
        (current, new)
    }

    /// Makes `tab` the one the helpers act on.
    pub async fn switch_to(&self, tab: &WindowHandle) {
        self.client
            .switch_to_window(tab.clone())
            .await
            .unwrap_or_else(|e| panic!("switching tabs failed: {e}"));
    }

    /// Takes the Web Locks API (`navigator.locks`) away from every document the current tab
    /// loads from now on, as in a browser without it, through the DevTools protocol (a script
    /// that runs before the page's own; the page's CSP does not apply to it). Per tab: call it
    /// again after switching to a new one.
    pub async fn hide_web_locks(&self) {
        let source = "Object.defineProperty(Navigator.prototype, 'locks', \
                      { get: () => undefined, configurable: true });";
        self.client
            .issue_cmd(DevToolsCommand {
                method: "Page.addScriptToEvaluateOnNewDocument",
                params: json!({ "source": source }),
            })
            .await
            .unwrap_or_else(|e| panic!("chromedriver refused a DevTools command: {e}"));
    }

    /// Navigates to `url` and waits for the load to finish.
    pub async fn goto(&self, url: &str) {
        if let Err(error) = self.client.goto(url).await {
            return self
                .fail(&format!("navigating to {url} failed: {error}"))
                .await;
        }
    }

    /// The address in the location bar.
    pub async fn current_url(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(error) => panic!("cannot read the current URL: {error}"),
        }
    }

    /// Waits until `check` returns true; fails with `what`, the URL and the page's text.
    ///
    /// `check` is called every 100 ms: `browser.wait_until("...", || async move { ... })`.
    pub async fn wait_until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            if check().await {
                return;
            }
            if started.elapsed() > self.timeout {
                return self
                    .fail(&format!(
                        "timed out after {:?} waiting until {what}",
                        self.timeout
                    ))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the location bar shows exactly `url`; fails with `what`.
    pub async fn wait_for_url(&self, url: &str, what: &str) {
        self.wait_until(what, || async move { self.current_url().await == url })
            .await;
    }

    /// Waits for an element matching the CSS selector `css`.
    pub async fn wait_for_css(&self, css: &str) -> Element {
        self.wait_for(Locator::Css(css), &format!("an element matches `{css}`"))
            .await
    }

    /// Waits for an element matching `locator`; `what` names it in the failure.
    pub async fn wait_for(&self, locator: Locator<'_>, what: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(locator).await {
                return element;
            }
            if started.elapsed() > self.timeout {
                return self
                    .fail(&format!(
                        "timed out after {:?} waiting until {what}",
                        self.timeout
                    ))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// All elements matching `css` right now (no waiting).
    pub async fn find_all_css(&self, css: &str) -> Vec<Element> {
        match self.client.find_all(Locator::Css(css)).await {
            Ok(elements) => elements,
            Err(error) => {
                self.fail(&format!("looking for `{css}` failed: {error}"))
                    .await
            }
        }
    }

    /// The visible text of the first element matching `css` right now, if there is one.
    pub async fn try_text_of(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// The visible text of the first element matching `css`, once there is one.
    pub async fn text_of(&self, css: &str) -> String {
        let element = self.wait_for_css(css).await;
        match element.text().await {
            Ok(text) => text,
            Err(error) => {
                self.fail(&format!("reading the text of `{css}` failed: {error}"))
                    .await
            }
        }
    }

    /// The button whose accessible name (its text, or `aria-label`) is `name`, once present.
    pub async fn button(&self, name: &str) -> Element {
        let literal = xpath_literal(name);
        let xpath = format!(
            "//button[normalize-space(.)={literal} or @aria-label={literal}] \
             | //input[(@type='submit' or @type='button') and @value={literal}]"
        );
        self.wait_for(
            Locator::XPath(&xpath),
            &format!("a `{name}` button is shown"),
        )
        .await
    }

    /// Clicks the button named `name` (see [`Browser::button`]).
    pub async fn click_button(&self, name: &str) {
        let button = self.button(name).await;
        if let Err(error) = button.click().await {
            return self
                .fail(&format!("clicking the `{name}` button failed: {error}"))
                .await;
        }
    }

    /// The value of the one `data-auth-state` attribute (`loading`, `anonymous`,
    /// `authenticated` or `error`). Fails unless exactly one element carries it.
    pub async fn auth_state(&self) -> String {
        self.wait_for_css("[data-auth-state]").await;
        match self.try_auth_state().await {
            Ok(state) => state,
            Err(problem) => self.fail(&problem).await,
        }
    }

    /// Waits until the auth state is `expected`.
    pub async fn wait_for_auth_state(&self, expected: &str) {
        self.wait_until(&format!("data-auth-state is `{expected}`"), || async move {
            self.try_auth_state()
                .await
                .is_ok_and(|state| state == expected)
        })
        .await;
    }

    /// The text of the first `role="alert"` element, once there is one.
    pub async fn alert_text(&self) -> String {
        self.text_of("[role=alert]").await
    }

    /// The text of the first `role="alert"` element, if there is one right now.
    pub async fn try_alert_text(&self) -> Option<String> {
        let alert = self.client.find(Locator::Css("[role=alert]")).await.ok()?;
        alert.text().await.ok()
    }

    /// Saves a PNG of the viewport as `target/screenshots/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(error) => panic!("taking screenshot `{name}` failed: {error}"),
        };
        let dir = screenshot_dir();
        let path = dir.join(format!("{name}.png"));
        if let Err(error) = fs::create_dir_all(&dir).and_then(|()| fs::write(&path, png)) {
            panic!("cannot write {}: {error}", path.display());
        }
        path
    }

    async fn try_auth_state(&self) -> Result<String, String> {
        let elements = self
            .client
            .find_all(Locator::Css("[data-auth-state]"))
            .await
            .map_err(|error| format!("looking for [data-auth-state] failed: {error}"))?;
        let [element] = elements.as_slice() else {
            return Err(format!(
                "page contract: exactly one element has data-auth-state, found {}",
                elements.len()
            ));
        };
        element
            .attr("data-auth-state")
            .await
            .map_err(|error| format!("reading data-auth-state failed: {error}"))?
            .ok_or_else(|| "data-auth-state disappeared while reading it".to_owned())
    }

    /// Panics with `problem` and what the page looked like (see [`Browser::describe`]).
    async fn fail<T>(&self, problem: &str) -> T {
        panic!("{}", self.describe(problem).await)
    }

    /// `problem` followed by what the page looks like: URL, auth state, alert, text,
    /// a screenshot, and Chromium's last console lines.
    pub async fn describe(&self, problem: &str) -> String {
        let url = self
            .client
            .current_url()
            .await
            .map_or_else(|error| format!("(unknown: {error})"), |url| url.to_string());
        let state = self
            .try_auth_state()
            .await
            .unwrap_or_else(|problem| format!("({problem})"));
        let alert = self
            .try_alert_text()
            .await
            .unwrap_or_else(|| "(none)".to_owned());
        let text = match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let text: String = text.chars().take(800).collect();
        let shot = match self.client.screenshot().await {
            Ok(png) => {
                let dir = screenshot_dir();
                // libtest names each test's thread after the test.
                let test = std::thread::current()
                    .name()
                    .unwrap_or("unnamed")
                    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "-");
                let path = dir.join(format!("FAILED-{test}.png"));
                match fs::create_dir_all(&dir).and_then(|()| fs::write(&path, png)) {
                    Ok(()) => path.display().to_string(),
                    Err(error) => format!("(not saved: {error})"),
                }
            }
            Err(error) => format!("(not taken: {error})"),
        };
        let console = console_lines(&self.scratch.path().join("chromedriver.log"), 15);
        let report = format!(
            "{problem}\n  url: {url}\n  data-auth-state: {state}\n  alert: {alert}\n  \
             screenshot: {shot}\n  page text:\n{}\n  browser console (last lines):\n{}",
            indent(&text),
            indent(&console)
        );
        // Failure output is a log too: tokens never appear in it (console lines carry the
        // callback URL with its fragment).
        redact_secrets(&report)
    }
}

/// A DevTools protocol command sent through chromedriver (`POST
/// /session/{id}/goog/cdp/execute`), for what WebDriver itself cannot do.
#[derive(Debug)]
struct DevToolsCommand {
    method: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevToolsCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({ "cmd": self.method, "params": self.params });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// Replaces anything shaped like a JWT (`eyJ…` with two dots), and the value of every
/// `code=`, `code_verifier=` and `refresh_token=` parameter, with `[redacted]`: a failing
/// test's report is a log, and tokens and codes are never logged.
pub fn redact_secrets(text: &str) -> String {
    let text = redact_jwts(text);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let names = ["code=", "code_verifier=", "refresh_token="];
    loop {
        // The earliest parameter whose name starts a word (`?code=`, `&code=`, ` code=`).
        let next = names
            .iter()
            .filter_map(|name| {
                rest.match_indices(name)
                    .find(|(at, _)| {
                        *at == 0
                            || !rest[..*at]
                                .ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    })
                    .map(|(at, _)| (at, name.len()))
            })
            .min();
        let Some((at, len)) = next else { break };
        out.push_str(&rest[..at + len]);
        let value = &rest[at + len..];
        let end = value
            .find(['&', '#', '"', '\'', ' ', '\n'])
            .unwrap_or(value.len());
        if end > 0 {
            out.push_str("[redacted]");
        }
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// Replaces anything shaped like a JWT (`eyJ…` with two dots) with `[redacted]`.
pub fn redact_jwts(text: &str) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        out.push_str(&rest[..at]);
        let candidate = &rest[at..];
        let end = candidate
            .find(|c: char| !(is_b64(c) || c == '.'))
            .unwrap_or(candidate.len());
        if candidate[..end].matches('.').count() >= 2 {
            out.push_str("[redacted]");
        } else {
            out.push_str(&candidate[..end]);
        }
        rest = &candidate[end..];
    }
    out.push_str(rest);
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.driver.id()) {
            // The whole group: chromedriver and the Chromium processes it started. ESRCH
            // (already gone) is fine.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.driver.wait();
    }
}

/// `value` as an XPath 1.0 string literal (XPath has no escapes, hence `concat`).
pub fn xpath_literal(value: &str) -> String {
    if !value.contains('\'') {
        format!("'{value}'")
    } else if !value.contains('"') {
        format!("\"{value}\"")
    } else {
        let parts: Vec<String> = value.split('\'').map(|part| format!("'{part}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// `$override_var`, else `name` on `PATH`, else `/usr/bin/name`; panics with the apt
/// command when none exists.
fn program(override_var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(override_var) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .chain([Path::new("/usr/bin").join(name)])
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found (browser tests need Chromium and chromedriver; they are never \
                 skipped). Install them with `sudo apt-get install -y chromium chromium-driver` \
                 or run `cargo xtask test`, or set {override_var}"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|error| panic!("cannot find a free local port: {error}"))
}

fn wait_for_port(driver: &mut Child, port: u16, log: &Path) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = driver.try_wait() {
            panic!(
                "chromedriver exited ({status}) before listening on {port}; its log:\n{}",
                tail(log, 30)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "chromedriver did not listen on {port} within 20 s; its log:\n{}",
        tail(log, 30)
    );
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The page's console messages as Chromium logs them (`CONSOLE` lines on its stderr).
fn console_lines(log: &Path, lines: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let console: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("CONSOLE"))
        .collect();
    if console.is_empty() {
        return "(none)".to_owned();
    }
    console[console.len().saturating_sub(lines)..].join("\n")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
