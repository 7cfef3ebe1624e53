//! Journeys against the hostile provider: the app, the provider (also the API) and a browser
//! wired together, and the checks every rejected (or accepted) login must pass.

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::hostile::{HostileProvider, Issued, Silent, Tamper};
use crate::{App, AuthConfigFile, Browser, SpaServer};

/// The app, the hostile provider (also the API) and a browser, wired together.
pub struct Hostile {
    /// The app.
    pub spa: SpaServer,
    /// The hostile provider, also the API.
    pub idp: HostileProvider,
    /// The browser.
    pub browser: Browser,
}

/// The app configured for the implicit flow at a provider tampering as `tamper` (logins) and
/// `silent` (prompt=none).
pub async fn hostile(tamper: Tamper, silent: Silent) -> Hostile {
    // The provider must know the SPA's origin (CORS, redirect URIs) and the SPA's config must
    // name the provider, so the config is filled in once both listen.
    let spa = SpaServer::start(json!({})).await;
    let idp = HostileProvider::start(spa.origin()).await;
    idp.set_tamper(tamper);
    idp.set_silent(silent);
    spa.set_auth_config(AuthConfigFile::Json(idp.auth_config()));
    let browser = Browser::launch().await;
    Hostile { spa, idp, browser }
}

impl Hostile {
    /// Opens `/`, waits for the start-up silent attempt to end signed out, clicks `Log in`,
    /// and waits until the app has decided about the response (error or authenticated).
    pub async fn log_in(&self) -> App<'_> {
        let app = App::open(&self.browser, &self.spa, "/").await;
        self.browser.wait_for_auth_state("anonymous").await;
        app.log_in().await;
        self.browser
            .wait_until(
                "the provider answered the login and the app decided",
                || async move {
                    if self.idp.logins().is_empty() {
                        return false;
                    }
                    let url = self.browser.current_url().await;
                    if !url.starts_with(self.spa.origin()) {
                        return false;
                    }
                    matches!(
                        self.current_state().await.as_deref(),
                        Some("error" | "authenticated")
                    )
                },
            )
            .await;
        app
    }

    /// The auth state right now, if the page has one.
    pub async fn current_state(&self) -> Option<String> {
        let element = self
            .browser
            .client()
            .find(Locator::Css("[data-auth-state]"))
            .await
            .ok()?;
        element.attr("data-auth-state").await.ok().flatten()
    }

    /// Goes to the External API page inside the app and, if `Call private` is offered, clicks
    /// it and waits for its answer: the way a rejected token would leak to the API.
    pub async fn try_calling_the_private_api(&self, app: &App<'_>) {
        app.follow_nav("External API").await;
        let call_private = "//button[normalize-space(.)='Call private']";
        self.browser
            .wait_until(
                "the External API page or the sign-in-needed card is shown",
                || async move {
                    let heading = self.browser.try_text_of("main h1").await;
                    let heading = heading.as_deref().map(str::trim);
                    matches!(heading, Some("External API" | "Sign-in needed"))
                        || self
                            .browser
                            .client()
                            .find(Locator::XPath(call_private))
                            .await
                            .is_ok()
                },
            )
            .await;
        let Ok(button) = self
            .browser
            .client()
            .find(Locator::XPath(call_private))
            .await
        else {
            return;
        };
        if button.click().await.is_err() {
            return;
        }
        let answered = "[data-endpoint='/api/private'] .result";
        self.browser
            .wait_until("the private call has an answer", || async move {
                self.browser.try_text_of(answered).await.is_some()
            })
            .await;
    }

    /// Problems if any recorded request, resource URL or storage entry carries a token of
    /// `issued`, or if any request to the provider/API carried an `Authorization` header.
    pub async fn leaks(&self, issued: &[Issued]) -> Vec<String> {
        let mut problems: Vec<String> = self
            .idp
            .requests()
            .iter()
            .filter(|request| request.authorization().is_some())
            .map(|request| {
                format!(
                    "{} {} carried an Authorization header",
                    request.method,
                    request.path()
                )
            })
            .collect();
        problems.extend(self.token_sightings(issued).await);
        problems
    }

    /// Problems if any recorded request, resource URL or storage entry carries a token of
    /// `issued`.
    pub async fn token_sightings(&self, issued: &[Issued]) -> Vec<String> {
        let mut problems = Vec::new();
        let tokens: Vec<&str> = issued.iter().flat_map(Issued::tokens).collect();
        for request in self.idp.requests() {
            if tokens.iter().any(|token| request.mentions(token)) {
                problems.push(format!(
                    "{} {} carried a rejected token in its URL or headers",
                    request.method,
                    request.path()
                ));
            }
        }
        let seen = self.page_urls_and_storage().await;
        if tokens.iter().any(|token| seen.contains(token)) {
            problems.push(
                "a rejected token is in a resource URL the page loaded or in web storage".into(),
            );
        }
        problems
    }

    /// Every resource URL the current page loaded, plus session and local storage, as text.
    pub async fn page_urls_and_storage(&self) -> String {
        let script = "return JSON.stringify({ \
            resources: performance.getEntriesByType('resource').map(function (e) { return e.name; }), \
            session: Object.entries(sessionStorage), local: Object.entries(localStorage) });";
        match self.browser.client().execute(script, vec![]).await {
            Ok(Value::String(text)) => text,
            Ok(other) => other.to_string(),
            Err(error) => panic!("cannot read the page's resources and storage: {error}"),
        }
    }
}

/// Logs in against a provider tampering as `tamper` and checks everything a rejection must
/// do. `reason` is a word the alert must contain (case-insensitive), so the test knows the
/// response was refused for the right reason. Returns the setup for further checks.
pub async fn assert_login_rejected(tamper: Tamper, reason: &str) -> Hostile {
    let h = hostile(tamper, Silent::LoginRequired).await;
    assert_rejected(h, tamper, reason).await
}

/// Logs in through `h` (set up to tamper as `tamper`) and checks everything a rejection must
/// do; see [`assert_login_rejected`].
pub async fn assert_rejected(h: Hostile, tamper: Tamper, reason: &str) -> Hostile {
    let app = h.log_in().await;
    let mut problems = Vec::new();

    let state = h.browser.auth_state().await;
    if state != "error" {
        problems.push(format!(
            "data-auth-state is {state:?} after the login, not \"error\""
        ));
    }
    let url = h.browser.current_url().await;
    if url.contains('#') {
        problems.push(format!("the fragment is still in the address bar: {url}"));
    }
    let issued = h.idp.logins();
    if issued
        .iter()
        .flat_map(Issued::tokens)
        .any(|t| url.contains(t))
    {
        problems.push(format!("a token is still in the address bar: {url}"));
    }
    match h.browser.try_alert_text().await {
        None => problems.push("no role=alert is shown".into()),
        Some(alert) if !alert.to_lowercase().contains(&reason.to_lowercase()) => {
            problems.push(format!("the alert does not mention {reason:?}: {alert:?}"))
        }
        Some(_) => {}
    }
    // Errors are shown as escaped text: markup from the provider never becomes elements.
    let elements = h
        .browser
        .find_all_css("[role=alert] img, [role=alert] script")
        .await;
    if !elements.is_empty() {
        problems.push(format!(
            "the alert contains {} injected element(s)",
            elements.len()
        ));
    }
    // Security rules: never keys from a `jku` header, so the attacker's JWKS is never fetched.
    if !h.idp.requests_to("/attacker/jwks.json").is_empty() {
        problems.push("the app fetched the attacker's JWKS named by the token".into());
    }
    h.browser
        .screenshot(&format!("hostile-{tamper:?}").to_lowercase())
        .await;

    h.try_calling_the_private_api(&app).await;
    let state = h.browser.auth_state().await;
    if state == "authenticated" {
        problems.push("the app is signed in on the External API page".into());
    }
    problems.extend(h.leaks(&h.idp.logins()).await);

    if !problems.is_empty() {
        let description = h.browser.describe("").await;
        panic!(
            "tamper mode {tamper:?} was not rejected safely:\n  - {}\n{description}",
            problems.join("\n  - ")
        );
    }
    h
}

/// Logs in against a provider answering as `tamper` and expects success, then calls the
/// private API and expects the recorder to see exactly the issued access token.
pub async fn assert_login_succeeds(tamper: Tamper) {
    assert_succeeds(hostile(tamper, Silent::LoginRequired).await, tamper).await
}

/// Logs in through `h` and expects success; see [`assert_login_succeeds`].
pub async fn assert_succeeds(h: Hostile, tamper: Tamper) {
    let app = h.log_in().await;
    assert_eq!(
        h.browser.auth_state().await,
        "authenticated",
        "tamper mode {tamper:?} should sign in; {}",
        h.browser.describe("").await
    );
    let url = h.browser.current_url().await;
    assert!(
        !url.contains('#'),
        "the fragment stayed in the address bar: {url}"
    );
    assert_eq!(app.current_path().await.as_deref(), Some("/"));

    let logins = h.idp.logins();
    let access_token = logins[0]
        .access_token
        .clone()
        .unwrap_or_else(|| panic!("{tamper:?} issues an access token"));
    // docs/contract.md §3: with cacheLocation memory, tokens are never in storage.
    assert!(
        !h.page_urls_and_storage().await.contains(&access_token),
        "the access token is in web storage or a resource URL"
    );

    h.try_calling_the_private_api(&app).await;
    let expected = format!("Bearer {access_token}");
    let calls = h.idp.requests_to("/api/private");
    assert!(
        calls
            .iter()
            .any(|call| call.authorization() == Some(expected.as_str())),
        "the recorder never saw `Authorization: Bearer <the issued token>` on /api/private \
         (requests: {:?}); {}",
        h.idp
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path()))
            .collect::<Vec<_>>(),
        h.browser.describe("").await
    );
    h.browser.close().await;
}

/// The app configured for the authorization code flow (refresh tokens if `refresh_tokens`,
/// tokens kept as `cache_location` says) at a provider tampering as `tamper` and `silent`.
pub async fn hostile_code(
    tamper: Tamper,
    silent: Silent,
    refresh_tokens: bool,
    cache_location: &str,
) -> Hostile {
    let h = hostile(tamper, silent).await;
    h.spa.set_auth_config(AuthConfigFile::Json(
        h.idp.code_auth_config(refresh_tokens, cache_location),
    ));
    h
}

/// Journeys with refresh tokens (code flow) against the hostile provider, shared by the suites
/// that renew.
pub mod refresh {
    use super::{hostile_code, Hostile};
    use crate::hostile::{Silent, Tamper};
    use crate::Browser;

    /// Signed in through the code flow with refresh tokens, on the External API page.
    pub async fn signed_in_with_refresh_tokens(cache_location: &str) -> Hostile {
        sign_in_with_refresh_tokens(
            hostile_code(Tamper::Valid, Silent::LoginRequired, true, cache_location).await,
        )
        .await
    }

    /// Logs in on `h` (set up with refresh tokens) and opens the External API page.
    pub async fn sign_in_with_refresh_tokens(h: Hostile) -> Hostile {
        let app = h.log_in().await;
        assert_eq!(
            h.browser.auth_state().await,
            "authenticated",
            "{}",
            h.browser.describe("").await
        );
        app.follow_nav("External API").await;
        h.browser
            .wait_for_css("article[data-endpoint='/api/private'] button")
            .await;
        h
    }

    /// Makes the API refuse every access token issued so far, clicks `Call private` and leaves the
    /// page to show an answer (the client renews once on a 401, then retries).
    pub async fn call_private_after_revocation(h: &Hostile) {
        for token in h.idp.issued().iter().filter_map(|i| i.access_token.clone()) {
            h.idp.reject_access_token(&token);
        }
        h.browser
            .wait_for_css("article[data-endpoint='/api/private'] button")
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click Call private: {e}"));
    }

    /// Waits until the External API page shows `/api/private`'s answer with `status`.
    pub async fn wait_for_private_status(browser: &Browser, status: &str) {
        let css = format!("article[data-endpoint='/api/private'] .status[data-status='{status}']");
        browser.wait_for_css(&css).await;
    }

    /// The silent (`prompt=none`) authorization requests so far.
    pub fn silent_requests(h: &Hostile) -> usize {
        h.idp
            .requests_to("/authorize")
            .iter()
            .filter(|r| r.uri.contains("prompt=none"))
            .count()
    }

    /// The `grant_type=refresh_token` requests the token endpoint got.
    pub fn refreshes(h: &Hostile) -> usize {
        h.idp
            .token_grants()
            .iter()
            .filter(|g| *g == "refresh_token")
            .count()
    }

    /// Checks that exactly one refresh request went out and that both tabs are signed in.
    pub async fn assert_one_refresh_and_both_tabs_signed_in(
        h: &Hostile,
        tab: &fantoccini::wd::WindowHandle,
        other: &fantoccini::wd::WindowHandle,
    ) {
        assert_eq!(
            refreshes(h),
            1,
            "refresh requests: {:?}",
            h.idp.token_grants()
        );
        for t in [tab, other] {
            h.browser.switch_to(t).await;
            assert_eq!(h.browser.auth_state().await, "authenticated");
        }
    }
}
