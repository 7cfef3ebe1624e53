//! The whole Hashgate stack in one test process, for journeys: `hashgate-idp` with the demo
//! users and this SPA registered for its origin, `hashgate-api` accepting the provider's
//! tokens for `https://api.hashgate.local` with CORS for the SPA, and the SPA's release
//! build pointed at both. Each server listens on its own `127.0.0.1` port; nothing is mocked.
//!
//! Also page objects for the provider's login and consent pages and the External API page.
//!
//! ```ignore
//! let stack = Stack::start(StackOptions::default()).await;
//! let browser = Browser::launch().await;
//! let app = App::open(&browser, &stack.spa, "/").await;
//! app.log_in().await;
//! stack.login_as(&browser, &ALICE).await;
//! ```

use std::{
    net::{SocketAddr, TcpStream},
    sync::OnceLock,
    time::{Duration, Instant},
};

use fantoccini::{elements::Element, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use super::{xpath_literal, Browser, SpaServer};

/// The SPA's client id at the provider.
pub const CLIENT_ID: &str = "hashgate-spa";
/// The demo API's identifier: the `audience` the SPA asks for and the API checks.
pub const AUDIENCE: &str = "https://api.hashgate.local";
/// What the SPA asks for: the user's profile and both message permissions.
pub const SCOPE: &str = "openid profile email read:messages write:messages";

/// A demo user of `idp/hashgate-idp.toml`.
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    /// Login name.
    pub username: &'static str,
    /// Password (a demo secret, never printed by the helpers).
    pub password: &'static str,
    /// The `name` claim, shown in the header.
    pub name: &'static str,
    /// The `email` claim.
    pub email: &'static str,
}

impl DemoUser {
    /// The user's `sub`, as the provider issues it.
    pub fn sub(&self) -> String {
        format!("auth0|{}", self.username)
    }
}

/// Has `read:messages` and `write:messages`.
pub const ALICE: DemoUser = DemoUser {
    username: "alice",
    password: "alice-password",
    name: "Alice Example",
    email: "alice@example.com",
};

/// Has `read:messages` only: the 403 path.
pub const BOB: DemoUser = DemoUser {
    username: "bob",
    password: "bob-password",
    name: "Bob Example",
    email: "bob@example.com",
};

/// How to start a [`Stack`]; `StackOptions::default()` is the shipped setup.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Lifetime of access tokens for the API in seconds (default: the provider's 7200).
    pub access_token_lifetime_secs: Option<u64>,
    /// `cacheLocation` of `auth_config.json`: `memory` (default), `session` or `local`.
    pub cache_location: &'static str,
    /// The API's clock-skew leeway (default: its own, 60 s). Zero makes the API refuse a
    /// token the moment it expires, so a test can tell a renewed token from a stale one.
    pub api_leeway: Option<Duration>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            access_token_lifetime_secs: None,
            cache_location: "memory",
            api_leeway: None,
        }
    }
}

impl StackOptions {
    /// Access tokens that live `secs` seconds, and an API without leeway, so an expired
    /// token fails at once.
    pub fn short_lived_tokens(secs: u64) -> Self {
        StackOptions {
            access_token_lifetime_secs: Some(secs),
            api_leeway: Some(Duration::ZERO),
            ..StackOptions::default()
        }
    }

    /// The same options with `cacheLocation` set to `location`.
    pub fn cache_location(mut self, location: &'static str) -> Self {
        self.cache_location = location;
        self
    }
}

/// The running provider, API and SPA. Dropping it stops all three.
pub struct Stack {
    /// The SPA's release build with an `auth_config.json` pointing at the provider and API.
    pub spa: SpaServer,
    issuer: String,
    api_origin: String,
    api_addr: SocketAddr,
    api_settings: hashgate_api::Settings,
    api: Option<ApiServer>,
    idp: JoinHandle<()>,
    // Keeps the provider's and the API's databases until the stack is gone.
    _data: TempDir,
}

/// One run of the API server, stoppable gracefully.
struct ApiServer {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Stack {
    /// Starts the provider, the API and the SPA server, wired together.
    pub async fn start(options: StackOptions) -> Stack {
        let data = tempfile::Builder::new()
            .prefix("hashgate-stack-")
            .tempdir()
            .unwrap_or_else(|error| panic!("cannot create the stack's data directory: {error}"));
        // Bound first: the issuer URL and the API's origin name their ports.
        let idp_listener = bind().await;
        let api_listener = bind().await;
        let issuer = format!("http://{}/", local_addr(&idp_listener));
        let api_addr = local_addr(&api_listener);
        let api_origin = format!("http://{api_addr}");

        let spa = SpaServer::start(json!({
            "issuer": issuer,
            "clientId": CLIENT_ID,
            "audience": AUDIENCE,
            "scope": SCOPE,
            "responseType": "id_token token",
            "apiOrigin": api_origin,
            "cacheLocation": options.cache_location,
        }))
        .await;

        let idp = start_idp(idp_listener, &issuer, &data, spa.origin(), &options).await;

        let mut api_settings =
            hashgate_api::Settings::new(issuer.clone(), AUDIENCE, data.path().join("api"));
        api_settings.allowed_origins = vec![spa.origin().to_owned()];
        if let Some(leeway) = options.api_leeway {
            api_settings.leeway = leeway;
        }
        let api = start_api(api_listener, api_settings.clone());

        Stack {
            spa,
            issuer,
            api_origin,
            api_addr,
            api_settings,
            api: Some(api),
            idp,
            _data: data,
        }
    }

    /// The provider's issuer URL, `http://127.0.0.1:PORT/`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The API's origin, `http://127.0.0.1:PORT`.
    pub fn api_origin(&self) -> &str {
        &self.api_origin
    }

    /// Rotates the provider's signing key (as `hashgate-idp rotate-keys` does): new tokens are
    /// signed with a new `kid`, the old key stays in the JWKS for an hour. Returns the new kid.
    pub fn rotate_idp_keys(&self) -> String {
        hashgate_idp::rotate_keys(&self._data.path().join("idp"), 3600)
            .unwrap_or_else(|error| panic!("cannot rotate the provider's keys: {error}"))
    }

    /// The provider's Auth0-style logout URL with no return address: visiting it ends the
    /// provider's session and shows its "You are logged out" page.
    pub fn provider_logout_url(&self) -> String {
        format!("{}v2/logout?client_id={CLIENT_ID}", self.issuer)
    }

    /// Stops the API (in-flight requests finish, its port closes), then starts a new one on
    /// the same port and data directory, as an operator restarting it would.
    pub async fn restart_api(&mut self) {
        if let Some(api) = self.api.take() {
            let _ = api.shutdown.send(());
            match tokio::time::timeout(Duration::from_secs(10), api.task).await {
                Ok(_) => {}
                Err(_) => panic!("the API did not stop within 10 s of its shutdown signal"),
            }
        }
        assert!(
            TcpStream::connect_timeout(&self.api_addr, Duration::from_millis(500)).is_err(),
            "the stopped API still accepts connections on {}",
            self.api_addr
        );
        let listener = TcpListener::bind(self.api_addr)
            .await
            .unwrap_or_else(|error| {
                panic!("cannot bind the API again on {}: {error}", self.api_addr)
            });
        self.api = Some(start_api(listener, self.api_settings.clone()));
    }

    /// The path (and query) the browser shows if it is on the app, else `None`.
    pub async fn app_path(&self, browser: &Browser) -> Option<String> {
        let url = browser.current_url().await;
        url.strip_prefix(self.spa.origin()).map(str::to_owned)
    }

    /// Waits for the provider's login form (after a `Log in` click or a protected deep link).
    pub async fn wait_for_login_form(&self, browser: &Browser) {
        let issuer = self.issuer.clone();
        browser
            .wait_until("the provider's login form is shown", || {
                let issuer = issuer.clone();
                async move {
                    browser.current_url().await.starts_with(&issuer)
                        && try_field(browser, "Username").await.is_some()
                }
            })
            .await;
    }

    /// Fills the provider's login form with `username` and `password` and submits it.
    pub async fn submit_login(&self, browser: &Browser, username: &str, password: &str) {
        self.wait_for_login_form(browser).await;
        fill(browser, "Username", username).await;
        fill(browser, "Password", password).await;
        browser.click_button("Log in").await;
    }

    /// After the login form: waits for the consent page or the way back to the app; on the
    /// consent page clicks `decision` (`Allow` or `Deny`). Returns whether consent was asked.
    pub async fn answer_consent(&self, browser: &Browser, decision: &str) -> bool {
        let on_consent = self.wait_for_consent_or_app(browser).await;
        if on_consent {
            browser.click_button(decision).await;
        }
        on_consent
    }

    /// Waits until the browser shows the consent page (`true`) or is back on the app (`false`).
    pub async fn wait_for_consent_or_app(&self, browser: &Browser) -> bool {
        let app_origin = self.spa.origin().to_owned();
        let issuer = self.issuer.clone();
        browser
            .wait_until("the consent page is shown or the app is back", || {
                let (app_origin, issuer) = (app_origin.clone(), issuer.clone());
                async move {
                    let url = browser.current_url().await;
                    url.starts_with(&app_origin)
                        || (url.starts_with(&issuer) && consent_buttons(browser).await)
                }
            })
            .await;
        let url = browser.current_url().await;
        url.starts_with(&self.issuer)
    }

    /// The whole interactive login from the provider's login form on: credentials, `Allow`
    /// if consent is asked, and back on the app signed in as `user`.
    pub async fn login_as(&self, browser: &Browser, user: &DemoUser) {
        self.submit_login(browser, user.username, user.password)
            .await;
        self.answer_consent(browser, "Allow").await;
        browser.wait_for_auth_state("authenticated").await;
        wait_for_header_user(browser, user.name).await;
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.idp.abort();
        if let Some(api) = self.api.take() {
            let _ = api.shutdown.send(());
            api.task.abort();
        }
    }
}

/// One signing key for every provider of this test binary: RSA key generation is slow.
fn signing_key_pem() -> String {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        hashgate_idp::generate_signing_key_pem()
            .unwrap_or_else(|error| panic!("cannot generate a signing key: {error}"))
    })
    .clone()
}

async fn bind() -> TcpListener {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap_or_else(|error| panic!("cannot bind on 127.0.0.1: {error}"))
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|error| panic!("listener has no local address: {error}"))
}

async fn start_idp(
    listener: TcpListener,
    issuer: &str,
    data: &TempDir,
    spa_origin: &str,
    options: &StackOptions,
) -> JoinHandle<()> {
    let mut config = hashgate_idp::Config::demo();
    let client = hashgate_idp::ClientConfig::spa(CLIENT_ID, "Hashgate Demo", spa_origin)
        .unwrap_or_else(|error| panic!("bad SPA origin {spa_origin}: {error}"));
    config.clients = vec![client];
    if let Some(secs) = options.access_token_lifetime_secs {
        for api in config
            .apis
            .iter_mut()
            .filter(|api| api.identifier == AUDIENCE)
        {
            api.token_lifetime_secs = secs;
        }
    }
    assert!(
        config.api(AUDIENCE).is_some() && config.users.len() >= 2,
        "the provider's demo config lost its API or users"
    );
    if let Err(error) = config.validate() {
        panic!("the test provider's config is invalid: {error}");
    }
    let settings = hashgate_idp::Settings::new(issuer, data.path().join("idp"), config)
        .with_signing_key_pem(signing_key_pem());
    // Built before serving (argon2 hashing of the demo users), so start-up errors fail here.
    let state = tokio::task::spawn_blocking(move || hashgate_idp::AppState::new(settings))
        .await
        .unwrap_or_else(|error| panic!("building the provider's state panicked: {error}"))
        .unwrap_or_else(|error| panic!("the provider cannot start: {error}"));
    tokio::spawn(async move {
        if let Err(error) = hashgate_idp::serve_state(listener, state).await {
            eprintln!("hashgate-idp stopped: {error}");
        }
    })
}

fn start_api(listener: TcpListener, settings: hashgate_api::Settings) -> ApiServer {
    let state = hashgate_api::AppState::new(settings)
        .unwrap_or_else(|error| panic!("the API cannot start: {error}"));
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, hashgate_api::app(state))
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .await;
        if let Err(error) = served {
            eprintln!("hashgate-api stopped: {error}");
        }
    });
    ApiServer { shutdown, task }
}

/// The `input` labelled `label` right now, if there is one.
async fn try_field(browser: &Browser, label: &str) -> Option<Element> {
    let xpath = field_xpath(label);
    browser.client().find(Locator::XPath(&xpath)).await.ok()
}

fn field_xpath(label: &str) -> String {
    format!(
        "//input[@id=//label[normalize-space(.)={}]/@for]",
        xpath_literal(label)
    )
}

/// Replaces the value of the input labelled `label` with `value`.
pub async fn fill(browser: &Browser, label: &str, value: &str) {
    let xpath = field_xpath(label);
    let input = browser
        .wait_for(
            Locator::XPath(&xpath),
            &format!("a field labelled `{label}` is shown"),
        )
        .await;
    let filled = match input.clear().await {
        Ok(()) => input.send_keys(value).await,
        Err(error) => Err(error),
    };
    if let Err(error) = filled {
        panic!(
            "{}",
            browser
                .describe(&format!("typing into the `{label}` field failed: {error}"))
                .await
        );
    }
}

async fn consent_buttons(browser: &Browser) -> bool {
    let xpath = "//button[normalize-space(.)='Allow'] | //button[normalize-space(.)='Deny']";
    browser
        .client()
        .find_all(Locator::XPath(xpath))
        .await
        .is_ok_and(|buttons| buttons.len() == 2)
}

/// Waits until the page's main heading reads `text` (like [`App::wait_for_heading`], for
/// pages reached without [`App::open`]).
pub async fn wait_for_heading(browser: &Browser, text: &str) {
    browser
        .wait_until(&format!("the main heading is `{text}`"), || async move {
            browser
                .try_text_of("main h1")
                .await
                .is_some_and(|heading| heading.trim() == text)
        })
        .await;
}

/// Clicks the header navigation link named `name` (a client-side navigation: the page is
/// not reloaded, so the in-memory session stays), like [`App::follow_nav`].
pub async fn follow_nav(browser: &Browser, name: &str) {
    let xpath = format!(
        "//header//nav//a[normalize-space(.)={}]",
        xpath_literal(name)
    );
    let link = browser
        .wait_for(
            Locator::XPath(&xpath),
            &format!("a `{name}` link is in the header nav"),
        )
        .await;
    if let Err(error) = link.click().await {
        panic!(
            "{}",
            browser
                .describe(&format!("clicking the `{name}` nav link failed: {error}"))
                .await
        );
    }
}

/// The signed-in user's name in the header, if one is shown right now.
pub async fn header_user(browser: &Browser) -> Option<String> {
    browser
        .try_text_of("header .user-name")
        .await
        .map(|name| name.trim().to_owned())
}

/// Waits until the header greets `name`.
pub async fn wait_for_header_user(browser: &Browser, name: &str) {
    browser
        .wait_until(&format!("the header shows `{name}`"), || async move {
            header_user(browser).await.as_deref() == Some(name)
        })
        .await;
}

/// Every `key=value` of the page's `sessionStorage` and `localStorage`.
pub async fn storage_entries(browser: &Browser) -> Vec<String> {
    let script = "const out = [];\
        for (const area of [window.sessionStorage, window.localStorage]) {\
          for (let i = 0; i < area.length; i++) {\
            const key = area.key(i);\
            out.push(key + '=' + area.getItem(key));\
          }\
        }\
        return out;";
    let value = match browser.client().execute(script, Vec::new()).await {
        Ok(value) => value,
        Err(error) => panic!("reading the page's storage failed: {error}"),
    };
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| item.as_str().unwrap_or_default().to_owned())
            .collect(),
        other => panic!("the storage script returned {other}"),
    }
}

/// Runs `script` (which `return`s a value) in the page.
pub async fn run_js(browser: &Browser, script: &str) -> Value {
    match browser.client().execute(script, Vec::new()).await {
        Ok(value) => value,
        Err(error) => panic!("running `{script}` failed: {error}"),
    }
}

/// Checks for `duration` that `check` keeps holding; fails with `what` the moment it does
/// not. For "nothing happens" claims, such as no redirect loop.
pub async fn assert_stays<F, Fut>(browser: &Browser, duration: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < duration {
        if !check().await {
            panic!(
                "{}",
                browser
                    .describe(&format!(
                        "after {:?}, it no longer holds that {what}",
                        started.elapsed()
                    ))
                    .await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The External API page's buttons, results and message board.
pub struct ExternalApi<'a> {
    browser: &'a Browser,
}

/// What one call shows: the HTTP status and the body text.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// The `data-status` of the result.
    pub status: u16,
    /// The body as shown in the result's `<pre>`.
    pub body: String,
    /// The alert shown with it, if any.
    pub alert: Option<String>,
}

impl<'a> ExternalApi<'a> {
    /// The External API page, once its heading is shown.
    pub async fn wait(browser: &'a Browser) -> ExternalApi<'a> {
        wait_for_heading(browser, "External API").await;
        ExternalApi { browser }
    }

    /// Clicks `button` in the panel of `path` (e.g. `Call private`, `/api/private`) and
    /// returns the new result.
    pub async fn call(&self, button: &str, path: &str) -> CallResult {
        let panel = format!("article[data-endpoint={}]", css_string(path));
        let xpath = format!(
            "//article[@data-endpoint={}]//button[normalize-space(.)={}]",
            xpath_literal(path),
            xpath_literal(button)
        );
        self.click_and_read(&panel, &xpath, button).await
    }

    /// Types `text` into `New message` and clicks `Post message`; returns the first result
    /// shown: the post's (201 or a refusal) or, once the page reloads the list, the list's 200.
    pub async fn post_message(&self, text: &str) -> CallResult {
        fill(self.browser, "New message", text).await;
        self.click_and_read(
            "section.messages",
            "//section[contains(@class,'messages')]//button[normalize-space(.)='Post message']",
            "Post message",
        )
        .await
    }

    /// Clicks `Load messages` and waits for a result with HTTP `status`. Loading shows no
    /// progress state, so the previous result cannot be told apart by anything else.
    pub async fn load_messages(&self, status: u16) -> CallResult {
        self.browser.click_button("Load messages").await;
        self.browser
            .wait_for_css(&format!(
                "section.messages .result p.status[data-status=\"{status}\"]"
            ))
            .await;
        self.wait_for_result("section.messages", "Load messages")
            .await
    }

    /// The texts of the listed messages right now.
    pub async fn message_texts(&self) -> Vec<String> {
        let mut texts = Vec::new();
        for item in self
            .browser
            .find_all_css("ul.message-list li .message-text")
            .await
        {
            texts.push(item.text().await.unwrap_or_default());
        }
        texts
    }

    /// Waits until the list shows a message reading `text`.
    pub async fn wait_for_message(&self, text: &str) {
        self.browser
            .wait_until(&format!("the message list shows `{text}`"), || async move {
                self.message_texts().await.iter().any(|t| t == text)
            })
            .await;
    }

    async fn click_and_read(&self, panel: &str, button_xpath: &str, what: &str) -> CallResult {
        let old = self
            .browser
            .client()
            .find(Locator::Css(&format!("{panel} .result")))
            .await
            .ok();
        let button = self
            .browser
            .wait_for(
                Locator::XPath(button_xpath),
                &format!("a `{what}` button is shown"),
            )
            .await;
        if let Err(error) = button.click().await {
            panic!(
                "{}",
                self.browser
                    .describe(&format!("clicking `{what}` failed: {error}"))
                    .await
            );
        }
        if let Some(old) = old {
            // The click shows "Calling…" in place of the previous result; wait until that is
            // gone so it is not read again.
            self.browser
                .wait_until(&format!("the previous `{what}` result is replaced"), || {
                    let old = old.clone();
                    async move { old.text().await.is_err() }
                })
                .await;
        }
        self.wait_for_result(panel, what).await
    }

    async fn wait_for_result(&self, panel: &str, what: &str) -> CallResult {
        let status_css = format!("{panel} .result p.status");
        let status = self
            .browser
            .wait_for(
                Locator::Css(&status_css),
                &format!("the `{what}` result shows an HTTP status"),
            )
            .await;
        let status = status
            .attr("data-status")
            .await
            .ok()
            .flatten()
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("`{status_css}` has no numeric data-status"));
        let body = self
            .browser
            .try_text_of(&format!("{panel} .result pre"))
            .await
            .unwrap_or_default();
        let alert = self
            .browser
            .try_text_of(&format!("{panel} .result [role=alert]"))
            .await;
        CallResult {
            status,
            body,
            alert,
        }
    }
}

/// `value` as a quoted CSS string.
fn css_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}
