//! Page objects for Hashgate's shell: open a page, read its heading, use the header's
//! navigation and login button. Locators are accessible ones (roles, names, text).

use fantoccini::{elements::Element, Locator};

use super::{browser::xpath_literal, Browser, SpaServer};

/// The Hashgate SPA open in a [`Browser`], served by a [`SpaServer`].
pub struct App<'a> {
    /// The browser showing the app.
    pub browser: &'a Browser,
    origin: String,
}

impl<'a> App<'a> {
    /// Opens `path` of the app and waits until the shell (header and auth state) is shown.
    pub async fn open(browser: &'a Browser, spa: &SpaServer, path: &str) -> App<'a> {
        let app = App {
            browser,
            origin: spa.origin().to_owned(),
        };
        app.visit(path).await;
        app
    }

    /// The app already open in `browser` (no navigation).
    pub fn attach(browser: &'a Browser, spa: &SpaServer) -> App<'a> {
        App {
            browser,
            origin: spa.origin().to_owned(),
        }
    }

    /// Navigates to `path` of the app (a full page load) and waits for the shell.
    pub async fn visit(&self, path: &str) {
        self.browser.goto(&self.url(path)).await;
        self.wait_for_shell().await;
    }

    /// Waits until the app has rendered its shell: a `header` and the auth state.
    pub async fn wait_for_shell(&self) {
        self.browser.wait_for_css("header").await;
        self.browser.auth_state().await;
    }

    /// The absolute URL of `path` in the app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The app's origin, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The current path (and query) if the browser is still on the app, else `None`.
    pub async fn current_path(&self) -> Option<String> {
        let url = self.browser.current_url().await;
        url.strip_prefix(&self.origin).map(str::to_owned)
    }

    /// The text of the page's main heading (`main h1`), once there is one.
    pub async fn heading(&self) -> String {
        self.browser.text_of("main h1").await
    }

    /// Waits until the main heading reads `text`.
    pub async fn wait_for_heading(&self, text: &str) {
        self.browser
            .wait_until(&format!("the main heading is `{text}`"), || async move {
                match self.browser.client().find(Locator::Css("main h1")).await {
                    Ok(h1) => h1.text().await.is_ok_and(|heading| heading.trim() == text),
                    Err(_) => false,
                }
            })
            .await;
    }

    /// The header navigation link named `name` (e.g. `Home`, `Profile`, `External API`).
    pub async fn nav_link(&self, name: &str) -> Element {
        let xpath = format!(
            "//header//nav//a[normalize-space(.)={}]",
            xpath_literal(name)
        );
        self.browser
            .wait_for(
                Locator::XPath(&xpath),
                &format!("a `{name}` link is in the header nav"),
            )
            .await
    }

    /// Clicks the header navigation link named `name`.
    pub async fn follow_nav(&self, name: &str) {
        let link = self.nav_link(name).await;
        if let Err(error) = link.click().await {
            panic!(
                "{}",
                self.browser
                    .describe(&format!("clicking the `{name}` nav link failed: {error}"))
                    .await
            );
        }
    }

    /// The header's `Log in` button.
    pub async fn log_in_button(&self) -> Element {
        self.browser.button("Log in").await
    }

    /// Clicks `Log in`.
    pub async fn log_in(&self) {
        self.browser.click_button("Log in").await;
    }

    /// Clicks `Log out`.
    pub async fn log_out(&self) {
        self.browser.click_button("Log out").await;
    }
}

/// One decoded JSON block of the profile page's token inspector as shown right now:
/// `token` is the card's heading (`ID token`, `Access token`), `index` 0 the JOSE header,
/// 1 the claims. `None` while the inspector or the block is not there.
pub async fn inspector_json(
    browser: &Browser,
    token: &str,
    index: usize,
) -> Option<serde_json::Value> {
    let xpath = format!(
        "//section[contains(@class,'inspector')]//article[h3[normalize-space(.)={}]]//pre",
        xpath_literal(token)
    );
    let blocks = browser
        .client()
        .find_all(Locator::XPath(&xpath))
        .await
        .ok()?;
    serde_json::from_str(&blocks.get(index)?.text().await.ok()?).ok()
}
