//! End to end, in headless Chromium: silent authentication against a real `hashgate-idp`
//! (README, "Staying signed in"): a reload keeps the session, short-lived access tokens are renewed with no
//! user action, a session ended at the provider signs the app out, and a logout in one
//! tab signs the others out.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate --test browser_silent -- --test-threads=2`.
//! Screenshots land in `target/screenshots/`.
#![cfg(not(target_arch = "wasm32"))]
// A failed WebDriver window command leaves the journey nothing to do but stop.
#![allow(clippy::expect_used)]

use hashgate_e2e as support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::Locator;
use serde_json::Value;
use support::stack::{
    assert_stays, fill, follow_nav, header_user, run_js, wait_for_header_user, wait_for_heading,
    ExternalApi, Stack, StackOptions, ALICE,
};
use support::{inspector_json, App, Browser};

/// Access-token lifetime for the renewal journeys: renewal is due half-way, after ~3 s.
const SHORT_LIFETIME_SECS: u64 = 6;
/// How long "nothing else happens" is watched for (a redirect loop shows within this).
const SETTLE: Duration = Duration::from_secs(3);

// OIDC Core §3.1.2.1 `prompt=none`: after a login, a reload keeps the user signed in (one silent
// prompt=none request) without showing the provider's login page.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_keeps_the_user_signed_in_without_the_login_form() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;

    if let Err(error) = browser.client().refresh().await {
        panic!("reloading failed: {error}");
    }
    let app_origin = stack.spa.origin().to_owned();
    browser
        .wait_until("the reloaded page is signed in again", || {
            let app_origin = app_origin.clone();
            let browser = &browser;
            async move {
                let url = browser.current_url().await;
                assert!(
                    url.starts_with(&app_origin),
                    "the reload left the app for {} instead of signing in silently",
                    url.split(['?', '#']).next().unwrap_or_default()
                );
                browser
                    .client()
                    .find(Locator::Css("[data-auth-state=authenticated]"))
                    .await
                    .is_ok()
            }
        })
        .await;
    wait_for_header_user(&browser, ALICE.name).await;
    wait_for_heading(&browser, "Profile").await;
    assert_eq!(stack.app_path(&browser).await.as_deref(), Some("/profile"));
    assert_eq!(
        browser
            .find_all_css("iframe[title='silent sign-in']")
            .await
            .len(),
        0,
        "the silent sign-in iframe was left in the page"
    );

    browser.close().await;
}

// README (silent authentication): a short-lived access token is renewed before it expires with no user action, and
// the API (which here allows no clock leeway) keeps answering 200 long after the first
// token's lifetime.
#[tokio::test(flavor = "multi_thread")]
async fn a_short_lived_token_is_renewed_silently_and_api_calls_keep_working() {
    let stack = Stack::start(StackOptions::short_lived_tokens(SHORT_LIFETIME_SECS)).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;

    let first = access_token_claims(&browser)
        .await
        .unwrap_or_else(|| panic!("the token inspector shows no access token claims"));
    let first_exp = claim_i64(&first, "exp");
    let first_iat = claim_i64(&first, "iat");
    assert_eq!(
        first_exp - first_iat,
        SHORT_LIFETIME_SECS as i64,
        "the provider did not issue a {SHORT_LIFETIME_SECS} s token"
    );

    // The inspector shows the current session, so a new `exp` means a renewal happened.
    browser
        .wait_until("the token inspector shows a renewed access token", || {
            let browser = &browser;
            async move {
                access_token_claims(browser)
                    .await
                    .is_some_and(|claims| claim_i64(&claims, "exp") > first_exp)
            }
        })
        .await;
    assert_eq!(browser.auth_state().await, "authenticated");
    assert!(
        browser.current_url().await.starts_with(stack.spa.origin()),
        "renewal must not leave the page"
    );

    follow_nav(&browser, "External API").await;
    let page = ExternalApi::wait(&browser).await;
    sleep_until_unix(first_exp + 1).await;
    let private = page.call("Call private", "/api/private").await;
    assert_eq!(
        private.status, 200,
        "after the first token expired: {private:?}"
    );

    // Wait past a whole lifetime on the External API page.
    tokio::time::sleep(Duration::from_secs(SHORT_LIFETIME_SECS + 1)).await;
    let later = page.call("Call private", "/api/private").await;
    assert_eq!(later.status, 200, "a lifetime later: {later:?}");
    assert!(later.body.contains(&ALICE.sub()), "{later:?}");
    let scoped = page
        .call("Call private-scoped", "/api/private-scoped")
        .await;
    assert_eq!(scoped.status, 200, "a lifetime later: {scoped:?}");
    assert_eq!(browser.auth_state().await, "authenticated");
    browser.screenshot("silent-renewed-api").await;

    browser.close().await;
}

// README (silent authentication): renewal happens with no user action, so the user must not notice it either:
// what the page shows (an API answer, a half-typed message) stays through a renewal.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_renewal_leaves_the_page_the_user_is_on_untouched() {
    let stack = Stack::start(StackOptions::short_lived_tokens(SHORT_LIFETIME_SECS)).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/external-api")).await;
    stack.login_as(&browser, &ALICE).await;
    let page = ExternalApi::wait(&browser).await;

    let private = page.call("Call private", "/api/private").await;
    assert_eq!(private.status, 200, "{private:?}");
    let draft = "half-typed, not posted";
    fill(&browser, "New message", draft).await;

    // Renewal is due every ~3 s; after a whole lifetime at least one has happened.
    tokio::time::sleep(Duration::from_secs(SHORT_LIFETIME_SECS + 1)).await;
    assert_eq!(browser.auth_state().await, "authenticated");
    let status = browser
        .try_text_of("article[data-endpoint=\"/api/private\"] .result p.status")
        .await;
    let typed = run_js(
        &browser,
        "return document.getElementById('message-text').value;",
    )
    .await;
    assert!(
        status.as_deref() == Some("HTTP 200") && typed == Value::String(draft.into()),
        "{}",
        browser
            .describe(&format!(
                "a silent renewal reset the page: the private answer is now {status:?}, \
                 the draft {typed}"
            ))
            .await
    );

    browser.close().await;
}

// OIDC Core §3.1.2.6 `login_required`: after the session is ended at the provider (here from another window), the next
// silent renewal finds no session: the app becomes anonymous with `Log in`, shows no error,
// and does not start a login by itself; a reload stays anonymous too.
#[tokio::test(flavor = "multi_thread")]
async fn after_logging_out_at_the_provider_renewal_signs_the_app_out_without_a_loop() {
    let stack = Stack::start(StackOptions::short_lived_tokens(SHORT_LIFETIME_SECS)).await;
    let mut browser = Browser::launch().await;
    // Renewal is due ~3 s after login, but a tab that was hidden when it fell due looks
    // again 30 s later (the logout below happens in another window).
    browser.set_timeout(Duration::from_secs(45));
    let browser = browser;
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack.login_as(&browser, &ALICE).await;

    let client = browser.client().clone();
    let app_window = client.window().await.expect("the app's window handle");
    let other = client
        .new_window(false)
        .await
        .expect("opening a second window");
    client
        .switch_to_window(other.handle)
        .await
        .expect("switching to the second window");
    browser.goto(&stack.provider_logout_url()).await;
    let text = browser.text_of("body").await;
    assert!(
        text.contains("You are logged out"),
        "the provider's logout page says: {text}"
    );
    client
        .close_window()
        .await
        .expect("closing the second window");
    client
        .switch_to_window(app_window)
        .await
        .expect("switching back to the app");

    let started = std::time::Instant::now();
    browser.wait_for_auth_state("anonymous").await;
    eprintln!(
        "signed out {:?} after the provider logout",
        started.elapsed()
    );
    app.log_in_button().await;
    assert_eq!(header_user(&browser).await, None);
    assert_eq!(
        browser.try_alert_text().await,
        None,
        "an ended provider session is a normal sign-out, not an error"
    );
    browser.screenshot("silent-provider-logout").await;

    let app_origin = stack.spa.origin().to_owned();
    let stays_anonymous = || {
        let app_origin = app_origin.clone();
        let browser = &browser;
        async move {
            browser.current_url().await.starts_with(&app_origin)
                && browser.auth_state().await == "anonymous"
        }
    };
    assert_stays(
        &browser,
        SETTLE,
        "the app stays anonymous on its own page",
        stays_anonymous,
    )
    .await;

    app.visit("/").await;
    browser.wait_for_auth_state("anonymous").await;
    app.log_in_button().await;

    browser.close().await;
}

// README (silent authentication): two tabs of the app share the provider session; `Log out` in one signs the
// other out at once (BroadcastChannel), without sending it to the provider.
#[tokio::test(flavor = "multi_thread")]
async fn logging_out_in_one_tab_signs_the_other_tab_out() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack.login_as(&browser, &ALICE).await;

    // Survives only as long as this page is not reloaded or navigated away.
    run_js(&browser, "window.journeyMarker = 'first tab'; return null;").await;

    let client = browser.client().clone();
    let first_tab = client.window().await.expect("the first tab's handle");
    let second = client.new_window(true).await.expect("opening a second tab");
    client
        .switch_to_window(second.handle.clone())
        .await
        .expect("switching to the second tab");
    // The second tab signs in silently from the provider session.
    let second_app = App::open(&browser, &stack.spa, "/").await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;

    second_app.log_out().await;
    browser.wait_for_auth_state("anonymous").await;

    client
        .switch_to_window(first_tab)
        .await
        .expect("switching back to the first tab");
    browser.wait_for_auth_state("anonymous").await;
    app.log_in_button().await;
    assert_eq!(header_user(&browser).await, None);
    assert_eq!(
        run_js(&browser, "return window.journeyMarker || null;").await,
        Value::String("first tab".into()),
        "the first tab must be signed out in place, not reloaded or sent to the provider"
    );
    assert_eq!(browser.current_url().await, stack.spa.url("/"));
    browser.screenshot("silent-other-tab-logged-out").await;

    browser.close().await;
}

/// The access token's claims as the profile page's token inspector shows them right now.
async fn access_token_claims(browser: &Browser) -> Option<Value> {
    inspector_json(browser, "Access token", 1).await
}

fn claim_i64(claims: &Value, name: &str) -> i64 {
    claims[name]
        .as_i64()
        .unwrap_or_else(|| panic!("the access token has no numeric `{name}` claim"))
}

/// Sleeps until the wall clock reaches `unix_secs` (a token's lifetime must really pass).
async fn sleep_until_unix(unix_secs: i64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let wait = unix_secs as f64 - now;
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}
