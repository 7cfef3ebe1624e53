//! End to end, in headless Chromium: the app follows the provider's key rotation.
//!
//! OIDC Core §10.1.1: the JWKS is cached, and a token whose `kid` is unknown makes the app refetch it
//! once (at most every 10 s), so a rotation does not sign anybody out, whether the renewal is a
//! silent implicit request or a refresh-token exchange in the code flow.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_rotation`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use support::pages::{rotations, session_fact, wait_for_heading, ALICE};
use support::stack::{Stack, StackOptions};
use support::{inspector_json, Browser};

/// Long enough that the renewal (half-way) comes after the JWKS refetch interval (10 s).
const LIFETIME_SECS: u64 = 26;

// OIDC Core §10.1.1: the JWKS comes from jwks_uri, is cached, and is refetched once
// (rate-limited) when a token's kid is unknown, so key rotation works.
#[tokio::test(flavor = "multi_thread")]
async fn after_the_provider_rotates_its_key_the_renewed_tokens_are_accepted() {
    let stack = Stack::start(StackOptions::short_lived_tokens(LIFETIME_SECS)).await;
    let mut browser = Browser::launch().await;
    browser.set_timeout(std::time::Duration::from_secs(40));
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;
    let first_kid = id_token_kid(&browser)
        .await
        .unwrap_or_else(|| panic!("the token inspector shows no ID token header"));

    let new_kid = stack.rotate_idp_keys();
    assert_ne!(first_kid, new_kid, "the rotation must produce a new key id");

    // The scheduled renewal gets an ID token signed with a key the app has not seen: it must
    // refetch the JWKS and accept it, staying signed in on the same page.
    wait_until_renewed_with_key(&browser, &new_kid).await;
    browser.screenshot("rotation-renewed").await;
    browser.close().await;
}

// OIDC Core §10.1.1 and §12.2: in the code flow with refresh tokens, the ID token a refresh
// returns after the provider rotated its key is signed under the new `kid`; the app refetches
// the JWKS, accepts it, and stays signed in with the rotated refresh token (no iframe).
#[tokio::test(flavor = "multi_thread")]
async fn after_the_provider_rotates_its_key_a_refresh_in_the_code_flow_is_accepted() {
    let stack =
        Stack::start(StackOptions::short_lived_tokens(LIFETIME_SECS).refresh_tokens()).await;
    let mut browser = Browser::launch().await;
    browser.set_timeout(std::time::Duration::from_secs(40));
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;
    assert_eq!(session_fact(&browser, "data-flow").await, "code");
    let first_kid = id_token_kid(&browser)
        .await
        .unwrap_or_else(|| panic!("the token inspector shows no ID token header"));
    let silent_before = stack.silent_authorize_requests().len();

    let new_kid = stack.rotate_idp_keys();
    assert_ne!(first_kid, new_kid, "the rotation must produce a new key id");

    wait_until_renewed_with_key(&browser, &new_kid).await;
    assert!(
        rotations(&browser).await.is_some_and(|count| count >= 1),
        "the new ID token must come from a refresh"
    );
    assert_eq!(
        stack.silent_authorize_requests().len(),
        silent_before,
        "the renewal used the iframe instead of the refresh token"
    );
    browser.screenshot("rotation-code-refreshed").await;
    browser.close().await;
}

/// Waits until the token inspector shows an ID token signed with `kid`, then checks the app
/// is still signed in and shows no error.
async fn wait_until_renewed_with_key(browser: &Browser, kid: &str) {
    browser
        .wait_until(
            "the session is renewed with an ID token signed by the new key",
            || async move { id_token_kid(browser).await.as_deref() == Some(kid) },
        )
        .await;
    assert_eq!(browser.auth_state().await, "authenticated");
    assert!(
        browser.try_alert_text().await.is_none(),
        "no error may be shown after a rotation"
    );
}

/// The `kid` of the ID token shown in the token inspector.
async fn id_token_kid(browser: &Browser) -> Option<String> {
    let header = inspector_json(browser, "ID token", 0).await?;
    header["kid"].as_str().map(str::to_owned)
}
