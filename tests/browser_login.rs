//! End to end, in headless Chromium: logging in and out of the release build against a
//! real `hashgate-idp` (README, "What the app checks"). Each test is a journey a user makes.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate --test browser_login -- --test-threads=2`.
//! Screenshots land in `target/screenshots/`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use std::time::Duration;

use serde_json::Value;

use support::stack::{
    assert_stays, header_user, run_js, storage_entries, wait_for_header_user, wait_for_heading,
    Stack, StackOptions, ALICE,
};
use support::{App, Browser};

/// How long "nothing else happens" is watched for (a redirect loop shows within this).
const SETTLE: Duration = Duration::from_secs(3);

// OIDC Core 3.2: the full implicit login through the provider's login and consent
// pages ends signed in, with the user's name in the header. docs/contract.md §3: the tokens are
// never left in the URL after the callback, nor in the history Back walks through.
#[tokio::test(flavor = "multi_thread")]
async fn logging_in_through_login_and_consent_signs_in_and_leaves_no_token_in_url_or_history() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &stack.spa, "/").await;
    browser.wait_for_auth_state("anonymous").await;

    app.log_in().await;
    stack.wait_for_login_form(&browser).await;
    browser.screenshot("login-idp-form").await;
    stack
        .submit_login(&browser, ALICE.username, ALICE.password)
        .await;
    assert!(
        stack.wait_for_consent_or_app(&browser).await,
        "a first login must ask for consent; the browser is at {}",
        browser.current_url().await
    );
    let consent = browser.text_of("main").await;
    for permission in ["Read your messages", "Post messages"] {
        assert!(
            consent.contains(permission),
            "the consent page does not list `{permission}`: {consent}"
        );
    }
    browser.screenshot("login-idp-consent").await;
    browser.click_button("Allow").await;

    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;
    browser.button("Log out").await;
    app.wait_for_heading("Hashgate").await;
    browser.screenshot("login-signed-in-home").await;

    assert_no_token_in_address(&browser, &stack).await;

    // Walk back through every entry the login left in this tab's history.
    let entries = run_js(&browser, "return window.history.length;")
        .await
        .as_u64()
        .unwrap_or(0);
    assert!(entries >= 2, "history.length is {entries} after a login");
    for step in 1..entries.min(6) {
        if browser.client().back().await.is_err() {
            break;
        }
        let url = browser.current_url().await;
        assert_token_free(&url, &format!("history entry -{step}"));
        if url.starts_with(stack.spa.origin()) {
            let hash = run_js(&browser, "return window.location.hash;").await;
            assert_eq!(
                hash.as_str().unwrap_or_default(),
                "",
                "history entry -{step} ({url}) has a fragment"
            );
        }
    }

    browser.close().await;
}

// docs/contract.md §2: a signed-out visit to a protected route starts a login and lands back on
// that route (path and query), which then shows the user's profile and the token inspector.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_out_deep_link_to_profile_logs_in_and_lands_back_on_profile() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;

    // With a query, which is part of where the user was going.
    browser
        .goto(&stack.spa.url("/profile?from=deep-link"))
        .await;
    stack.login_as(&browser, &ALICE).await;

    wait_for_heading(&browser, "Profile").await;
    assert_eq!(
        stack.app_path(&browser).await.as_deref(),
        Some("/profile?from=deep-link")
    );
    let profile = browser.text_of("main").await;
    for expected in [ALICE.name, ALICE.email, "Token inspector", "ID token"] {
        assert!(
            profile.contains(expected),
            "the profile page does not show `{expected}`:\n{profile}"
        );
    }
    assert!(
        profile.contains(&ALICE.sub()),
        "the profile page does not show the user id {}",
        ALICE.sub()
    );
    let countdown = browser.text_of(".inspector .countdown").await;
    assert!(
        countdown.starts_with("expires in"),
        "the token inspector's countdown reads `{countdown}`"
    );
    assert_no_token_in_address(&browser, &stack).await;
    browser.screenshot("login-profile").await;

    browser.close().await;
}

// RFC 6749 §4.2.2.1 access_denied: refusing consent brings the user back to the app with an
// alert saying access was denied; the app does not start another login by itself.
#[tokio::test(flavor = "multi_thread")]
async fn denying_consent_shows_that_access_was_denied_and_does_not_loop() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;

    // From a protected page: the route guard is where a loop would come from.
    browser.goto(&stack.spa.url("/profile")).await;
    stack
        .submit_login(&browser, ALICE.username, ALICE.password)
        .await;
    assert!(
        stack.answer_consent(&browser, "Deny").await,
        "a first login must ask for consent"
    );

    browser.wait_for_auth_state("error").await;
    let alert = browser.alert_text().await;
    let lower = alert.to_lowercase();
    assert!(
        lower.contains("denied") || lower.contains("refused"),
        "the alert does not say access was denied: {alert}"
    );
    assert!(
        !lower.contains("access_denied"),
        "the alert shows the raw error code instead of a sentence: {alert}"
    );
    browser.screenshot("login-consent-denied").await;

    let app_origin = stack.spa.origin().to_owned();
    assert_stays(
        &browser,
        SETTLE,
        "the app stays put in the error state",
        || {
            let app_origin = app_origin.clone();
            let browser = &browser;
            async move {
                browser.current_url().await.starts_with(&app_origin)
                    && browser.auth_state().await == "error"
            }
        },
    )
    .await;
    browser.button("Log in").await;
    assert_eq!(header_user(&browser).await, None, "nobody may be signed in");

    browser.close().await;
}

// docs/contract.md §3 and OIDC RP-Initiated Logout 1.0: `Log out` signs out here and at the provider: the app is
// anonymous with `Log in` back, and a protected page asks for the password again.
#[tokio::test(flavor = "multi_thread")]
async fn logging_out_signs_out_here_and_at_the_provider() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack.login_as(&browser, &ALICE).await;

    app.log_out().await;
    let home = stack.spa.url("/");
    browser
        .wait_for_url(
            &home,
            "the provider sends the browser back to the app's home",
        )
        .await;
    app.wait_for_shell().await;
    browser.wait_for_auth_state("anonymous").await;
    app.log_in_button().await;
    assert_eq!(header_user(&browser).await, None);
    assert_eq!(
        browser.try_alert_text().await,
        None,
        "a normal logout shows no error"
    );
    browser.screenshot("login-logged-out").await;

    // The provider's session is gone too: no silent single sign-on back into the profile.
    browser.goto(&stack.spa.url("/profile")).await;
    stack.wait_for_login_form(&browser).await;

    browser.close().await;
}

// docs/contract.md §3: with `cacheLocation: memory` no token is ever written to Web Storage.
#[tokio::test(flavor = "multi_thread")]
async fn with_cache_location_memory_no_token_reaches_web_storage() {
    let stack = Stack::start(StackOptions::default().cache_location("memory")).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;

    // Every JWT starts with `eyJ` (base64 of `{"`).
    let entries = storage_entries(&browser).await;
    let leaked: Vec<&String> = entries
        .iter()
        .filter(|entry| entry.contains("eyJ"))
        .collect();
    assert!(
        leaked.is_empty(),
        "Web Storage holds {} token-like value(s) with cacheLocation memory (keys: {:?})",
        leaked.len(),
        leaked
            .iter()
            .map(|entry| entry.split('=').next().unwrap_or_default())
            .collect::<Vec<_>>()
    );

    browser.close().await;
}

// docs/contract.md §1 `cacheLocation: session`: the opposite case, which also proves the storage
// scan above can see a token: the tokens are in sessionStorage and nowhere else.
#[tokio::test(flavor = "multi_thread")]
async fn with_cache_location_session_the_tokens_are_kept_in_session_storage() {
    let stack = Stack::start(StackOptions::default().cache_location("session")).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;

    let in_session = run_js(
        &browser,
        "return Object.keys(sessionStorage).some(k => (sessionStorage.getItem(k) || '').includes('eyJ'));",
    )
    .await;
    let in_local = run_js(
        &browser,
        "return Object.keys(localStorage).some(k => (localStorage.getItem(k) || '').includes('eyJ'));",
    )
    .await;
    assert_eq!(in_session, Value::Bool(true), "no token in sessionStorage");
    assert_eq!(in_local, Value::Bool(false), "a token in localStorage");

    browser.close().await;
}

// docs/contract.md §1 `cacheLocation: local`: tokens persisted in localStorage are removed by
// `Log out`, so the next person at this browser finds none.
#[tokio::test(flavor = "multi_thread")]
async fn with_cache_location_local_logging_out_removes_the_stored_tokens() {
    let stack = Stack::start(StackOptions::default().cache_location("local")).await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack.login_as(&browser, &ALICE).await;
    let stored = run_js(
        &browser,
        "return Object.keys(localStorage).some(k => (localStorage.getItem(k) || '').includes('eyJ'));",
    )
    .await;
    assert_eq!(stored, Value::Bool(true), "no token in localStorage");

    app.log_out().await;
    let home = stack.spa.url("/");
    browser
        .wait_for_url(
            &home,
            "the provider sends the browser back to the app's home",
        )
        .await;
    app.wait_for_shell().await;
    browser.wait_for_auth_state("anonymous").await;
    let leaked: Vec<String> = storage_entries(&browser)
        .await
        .into_iter()
        .filter(|entry| entry.contains("eyJ"))
        .map(|entry| entry.split('=').next().unwrap_or_default().to_owned())
        .collect();
    assert!(
        leaked.is_empty(),
        "tokens are still stored after logging out, under {leaked:?}"
    );

    browser.close().await;
}

// Error paths (docs/contract.md §4): a wrong password is answered by the provider's own error on its
// login page; nothing is signed in, at the provider or in the app.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_shows_the_providers_error_and_signs_nobody_in() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack
        .submit_login(&browser, ALICE.username, "not-alices-password")
        .await;

    let alert = browser.alert_text().await;
    assert!(
        alert.contains("Wrong username or password"),
        "the provider's login page says `{alert}`"
    );
    assert!(
        browser.current_url().await.starts_with(stack.issuer()),
        "a wrong password must keep the user on the provider's login page"
    );
    stack.wait_for_login_form(&browser).await;
    browser.screenshot("login-wrong-password").await;

    app.visit("/").await;
    browser.wait_for_auth_state("anonymous").await;
    app.log_in_button().await;
    assert_eq!(header_user(&browser).await, None);

    browser.close().await;
}

/// Fails if the address bar holds a fragment or a token.
async fn assert_no_token_in_address(browser: &Browser, stack: &Stack) {
    let url = browser.current_url().await;
    assert!(
        url.starts_with(stack.spa.origin()),
        "expected to be on the app, at {url}"
    );
    assert_token_free(&url, "the address bar");
    assert!(!url.contains('#'), "the address bar still has a fragment");
    let hash = run_js(browser, "return window.location.hash;").await;
    assert_eq!(
        hash.as_str().unwrap_or_default(),
        "",
        "location.hash is set"
    );
}

fn assert_token_free(url: &str, place: &str) {
    for secret in ["access_token", "id_token", "eyJ"] {
        assert!(
            !url.contains(secret),
            "{place} contains `{secret}` (URL withheld)"
        );
    }
}
