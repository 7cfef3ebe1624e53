//! Page objects and constants every journey shares, whichever provider it signs in with: the
//! demo users, the app's client id, audience and scope, reading and filling the page (headings,
//! the header's user, form fields, storage, the profile's session facts) and the External API
//! page. Nothing here starts a server, so the suites that never start the local identity
//! provider (`hostile`, `interop`) use these without compiling it.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::Value;

use super::{xpath_literal, Browser};

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

pub(crate) fn field_xpath(label: &str) -> String {
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

/// RFC 7636 §4.2 S256: `BASE64URL(SHA-256(verifier))`, the challenge a verifier belongs to.
pub fn s256_challenge(verifier: &str) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    use sha2::{Digest as _, Sha256};
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The value of `attribute` on the profile page's token facts (`.session-facts dd[data-flow]`,
/// `dd[data-refresh-token]`, `dd[data-rotations]`), once the inspector shows it.
pub async fn session_fact(browser: &Browser, attribute: &str) -> String {
    let css = format!(".session-facts dd[{attribute}]");
    let fact = browser.wait_for_css(&css).await;
    match fact.attr(attribute).await {
        Ok(Some(value)) => value,
        _ => panic!(
            "{}",
            browser
                .describe(&format!("`{css}` has no readable {attribute}"))
                .await
        ),
    }
}

/// The refresh-token rotations the token inspector counts right now, if it is shown.
pub async fn rotations(browser: &Browser) -> Option<u32> {
    let fact = browser
        .client()
        .find(Locator::Css(".session-facts dd[data-rotations]"))
        .await
        .ok()?;
    fact.attr("data-rotations").await.ok()??.parse().ok()
}
