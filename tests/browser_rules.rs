//! End to end, in headless Chromium: the provider's Auth0-style rules reach the app.
//!
//! idp/README.md (rules): the shipped rules in `idp/rules/` add a namespaced roles claim (shown on the
//! profile page) and deny a blocked email domain (shown to the user as an error).
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate --test browser_rules`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use support::stack::{wait_for_heading, Stack, StackOptions, ALICE};
use support::Browser;

// idp/README.md (rules): a rule's custom claim is on the profile page, and the demo uses roles
// somewhere visible.
#[tokio::test(flavor = "multi_thread")]
async fn the_roles_a_rule_adds_are_shown_on_the_profile_page() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;

    let roles = browser.text_of("dd.roles").await;
    assert!(roles.contains("admin"), "roles shown: {roles:?}");
    let custom = browser.text_of("table.claims").await;
    assert!(
        custom.contains("https://hashgate.dev/roles"),
        "the namespaced claim is listed: {custom:?}"
    );
    browser.screenshot("rules-profile-roles").await;
    browser.close().await;
}

// idp/README.md (rules): `callback(new UnauthorizedError("…"))` ends the login with error=unauthorized and
// that description, which the app shows as text; nobody is signed in.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_denied_by_a_rule_shows_the_rules_message() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/")).await;
    browser.wait_for_auth_state("anonymous").await;
    browser.click_button("Log in").await;
    stack
        .submit_login(&browser, "mallory", "mallory-password")
        .await;
    stack.answer_consent(&browser, "Allow").await;

    browser.wait_for_auth_state("error").await;
    let alert = browser.alert_text().await;
    assert!(
        alert.contains("may not sign in to this app"),
        "the rule's message reaches the user: {alert:?}"
    );
    assert!(browser.current_url().await.starts_with(stack.spa.origin()));
    browser.screenshot("rules-denied").await;
    browser.close().await;
}
