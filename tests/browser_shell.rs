//! End to end, in headless Chromium: the release build's shell renders its pages.
//!
//! The SPA is pointed at an issuer nobody listens on (`http://127.0.0.1:9/`): the shell
//! must render without a reachable identity provider.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_shell`.
//! Screenshots land in `target/screenshots/`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use serde_json::json;
use support::{auth_config, App, AuthConfigFile, Browser, SpaServer};

const UNREACHABLE_ISSUER: &str = "http://127.0.0.1:9/";

async fn start() -> (SpaServer, Browser) {
    let spa = SpaServer::start(auth_config(UNREACHABLE_ISSUER)).await;
    let browser = Browser::launch().await;
    (spa, browser)
}

// docs/contract.md §2 and §3: `/` says what the app is and offers `Log in`; exactly one
// element carries data-auth-state.
#[tokio::test(flavor = "multi_thread")]
async fn the_home_page_renders_the_shell_with_a_log_in_button() {
    let (spa, browser) = start().await;
    let app = App::open(&browser, &spa, "/").await;

    app.wait_for_heading("Hashgate").await;
    let log_in = app.log_in_button().await;
    assert!(
        log_in.is_displayed().await.unwrap_or(false),
        "the Log in button exists but is not visible"
    );
    for name in ["Home", "Profile", "External API"] {
        app.nav_link(name).await;
    }
    let state = browser.auth_state().await;
    assert!(
        ["loading", "anonymous", "authenticated", "error"].contains(&state.as_str()),
        "data-auth-state has a value outside the contract: {state:?}"
    );
    assert_ne!(
        state, "authenticated",
        "a fresh browser cannot be signed in"
    );

    browser.screenshot("shell-home").await;
    browser.close().await;
}

// docs/contract.md §2: anything that is not a route shows a not-found page, inside the
// shell, and the header still leads home.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_path_shows_the_not_found_page_and_the_nav_leads_home() {
    let (spa, browser) = start().await;
    let app = App::open(&browser, &spa, "/no-such-page").await;

    app.wait_for_heading("Page not found").await;
    browser.auth_state().await;
    browser.screenshot("shell-not-found").await;

    app.follow_nav("Home").await;
    app.wait_for_heading("Hashgate").await;
    assert_eq!(app.current_path().await.as_deref(), Some("/"));

    browser.close().await;
}

// docs/contract.md §2: `/profile` is the profile page, or, for a signed-out visitor,
// the start of a login. With an unreachable issuer the login either leaves for it or
// cannot start and says so in an alert; it must never be the not-found page or blank.
#[tokio::test(flavor = "multi_thread")]
async fn profile_shows_the_profile_page_or_starts_a_login() {
    let (spa, browser) = start().await;
    browser.goto(&spa.url("/profile")).await;

    let app_origin = spa.origin().to_owned();
    browser
        .wait_until(
            "/profile shows the Profile heading, leaves for the issuer, or shows an error",
            || {
                let app_origin = app_origin.clone();
                let browser = &browser;
                async move {
                    let url = browser.current_url().await;
                    if !url.starts_with(&app_origin) {
                        return true;
                    }
                    let heading = browser.try_text_of("main h1").await;
                    heading.as_deref().map(str::trim) == Some("Profile")
                        || browser.try_alert_text().await.is_some()
                }
            },
        )
        .await;

    let url = browser.current_url().await;
    if url.starts_with(spa.origin()) {
        browser.screenshot("shell-profile").await;
        let heading = browser.try_text_of("main h1").await;
        if heading.as_deref().map(str::trim) != Some("Profile") {
            // docs/contract.md §3: an error is shown as text in role="alert", with the auth state.
            assert_eq!(browser.auth_state().await, "error");
            let alert = browser.alert_text().await;
            assert!(!alert.trim().is_empty(), "the alert is empty");
        }
    } else {
        assert!(
            url.starts_with(UNREACHABLE_ISSUER) || url.starts_with("chrome-error://"),
            "/profile left the app for {url}, not for the configured issuer {UNREACHABLE_ISSUER}"
        );
    }

    browser.close().await;
}

// docs/contract.md §1 `responseType` and `useRefreshTokens`: the home page says which sign-in
// method `auth_config.json` configures (`.configured-flow strong[data-flow]`) and how sessions
// are renewed, before anyone signs in and with no reachable provider. One line of the file
// switches it.
#[tokio::test(flavor = "multi_thread")]
async fn the_home_page_says_which_sign_in_flow_is_configured() {
    let (spa, browser) = start().await;
    let app = App::open(&browser, &spa, "/").await;
    assert_configured_flow(
        &browser,
        "id_token token",
        "implicit grant",
        "renewed in a hidden iframe",
    )
    .await;

    let mut code = auth_config(UNREACHABLE_ISSUER);
    code["responseType"] = json!("code");
    spa.set_auth_config(AuthConfigFile::Json(code.clone()));
    app.visit("/").await;
    assert_configured_flow(
        &browser,
        "code",
        "authorization code flow with PKCE",
        "renewed in a hidden iframe",
    )
    .await;

    code["useRefreshTokens"] = json!(true);
    spa.set_auth_config(AuthConfigFile::Json(code));
    app.visit("/").await;
    assert_configured_flow(
        &browser,
        "code",
        "authorization code flow with PKCE",
        "renewed with rotating refresh tokens",
    )
    .await;
    browser.screenshot("shell-home-code-flow").await;
    browser.close().await;
}

/// Waits until the home page names the configured flow `data_flow` with `label`, and says
/// sessions are `renewal`.
async fn assert_configured_flow(browser: &Browser, data_flow: &str, label: &str, renewal: &str) {
    let css = format!(".configured-flow strong[data-flow=\"{data_flow}\"]");
    let strong = browser.wait_for_css(&css).await;
    let text = strong.text().await.unwrap_or_default();
    assert!(
        text.contains(label),
        "the configured flow {data_flow:?} reads {text:?}, not {label:?}"
    );
    let sentence = browser.text_of(".configured-flow").await;
    assert!(
        sentence.contains(renewal),
        "the home page does not say sessions are {renewal:?}: {sentence:?}"
    );
}

// Standards: tokens are never logged — and a failing test's report is a log. The callback
// URL in Chromium's console carries the fragment, so reports pass through `redact_jwts`.
#[test]
fn failure_reports_redact_anything_shaped_like_a_jwt() {
    let line = "GET http://127.0.0.1:1/callback#access_token=eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln&id_token=eyJh.eyJi.sig ok eyJnotajwt";
    let redacted = support::redact_jwts(line);
    assert_eq!(
        redacted,
        "GET http://127.0.0.1:1/callback#access_token=[redacted]&id_token=[redacted] ok eyJnotajwt"
    );
}

// Standards: codes and refresh tokens are never logged either. The code flow's callback URL
// carries the code in the query; reports pass through `redact_secrets`.
#[test]
fn failure_reports_redact_codes_verifiers_and_refresh_tokens() {
    let line = "GET http://127.0.0.1:1/callback?code=SplxlOBe&state=s1&iss=x \
                body code_verifier=dBjft&refresh_token=rt-1 barcode=keep encode=keep";
    assert_eq!(
        support::redact_secrets(line),
        "GET http://127.0.0.1:1/callback?code=[redacted]&state=s1&iss=x \
         body code_verifier=[redacted]&refresh_token=[redacted] barcode=keep encode=keep"
    );
}
