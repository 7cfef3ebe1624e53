//! End to end, in headless Chromium: refresh tokens (`"responseType": "code",
//! "useRefreshTokens": true`) as a user browses, against the hostile provider of
//! [`support::hostile`], which rotates refresh tokens with reuse detection (a spent token ends
//! its whole family) and whose logout, like Auth0's and Okta's, leaves refresh tokens alive.
//!
//! A duplicated tab, a provider that answers 503 once or stalls, `expires_in: 0`, a refresh
//! answer without an ID token or for another user, a logout with three tabs each holding its own
//! family, a page reloaded with tokens in memory. RFC 6749 §6, RFC 9700 §4.14.2, RFC 7009,
//! OIDC Core §12.2.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_refresh -- --test-threads=2`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use support::hostile::{Refresh, Silent, Tamper};
use support::journey::refresh::{
    assert_one_refresh_and_both_tabs_signed_in, call_private_after_revocation, refreshes,
    signed_in_with_refresh_tokens, wait_for_private_status,
};
use support::journey::{hostile_code, Hostile};
use support::{App, Browser};

/// Runs `script` in the current tab and returns its value.
async fn js(browser: &Browser, script: &str, args: Vec<Value>) -> Value {
    browser
        .client()
        .execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("running `{script}` failed: {e}"))
}

/// Every refresh token the provider has issued so far.
fn issued_refresh_tokens(h: &Hostile) -> BTreeSet<String> {
    h.idp
        .issued()
        .into_iter()
        .filter_map(|i| i.refresh_token)
        .collect()
}

/// Waits until the provider has received `n` refresh requests.
async fn wait_for_refreshes(h: &Hostile, n: usize) {
    h.browser
        .wait_until(&format!("{n} refresh requests"), || async move {
            refreshes(h) >= n
        })
        .await;
}

/// The POSTs the token endpoint has received, answered or not.
fn token_requests(h: &Hostile) -> usize {
    h.idp
        .requests_to("/oauth/token")
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

/// Clicks `Call private` on the External API page.
async fn click_call_private(browser: &Browser) {
    browser
        .wait_for_css("article[data-endpoint='/api/private'] button")
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click Call private: {e}"));
}

// RFC 9700 §4.14.2: "Duplicate tab" copies sessionStorage, refresh token included. Once the
// first tab has redeemed it, the copy must never be presented: the provider's reuse detection
// would end the family and sign out every tab. The duplicate renews through the provider's
// session (the iframe) instead, and both tabs stay signed in.
#[tokio::test(flavor = "multi_thread")]
async fn a_duplicated_tab_never_presents_the_refresh_token_the_first_tab_spent() {
    let h = signed_in_with_refresh_tokens("session").await;
    let copied = js(
        &h.browser,
        "return JSON.stringify(Object.entries(sessionStorage));",
        vec![],
    )
    .await;
    let (first, second) = h.browser.open_tab().await;
    // The duplicate: the same origin, its sessionStorage copied before the app starts.
    h.browser.goto(&h.spa.url("/auth_config.json")).await;
    js(
        &h.browser,
        "for (const [k, v] of JSON.parse(arguments[0])) sessionStorage.setItem(k, v); return null;",
        vec![copied],
    )
    .await;
    App::open(&h.browser, &h.spa, "/external-api").await;
    h.browser.wait_for_auth_state("authenticated").await;

    // The first tab renews: the shared token is spent.
    h.browser.switch_to(&first).await;
    call_private_after_revocation(&h).await;
    wait_for_private_status(&h.browser, "200").await;
    assert_eq!(refreshes(&h), 1, "{:?}", h.idp.token_grants());

    // The duplicate renews too: through the iframe, never with the spent copy.
    h.idp.set_silent(Silent::Answer(Tamper::Valid));
    h.browser.switch_to(&second).await;
    call_private_after_revocation(&h).await;
    click_call_private(&h.browser).await;
    wait_for_private_status(&h.browser, "200").await;
    // One refresh (the first tab's): the duplicate never presented the spent copy.
    assert_one_refresh_and_both_tabs_signed_in(&h, &second, &first).await;
    h.browser.close().await;
}

// A provider hiccup (HTTP 503) is not the end of a session whose access token is still valid:
// the app keeps it, retries with back-off, and the retry renews it.
#[tokio::test(flavor = "multi_thread")]
async fn a_503_from_the_token_endpoint_keeps_the_session_and_a_retry_renews_it() {
    let h = signed_in_with_refresh_tokens("memory").await;
    h.idp.set_refresh(Refresh::ServiceUnavailableOnce);
    call_private_after_revocation(&h).await;
    // The retry after back-off (one to two seconds) succeeds.
    wait_for_refreshes(&h, 2).await;
    h.browser
        .wait_until("the renewed session is in place", || async {
            h.browser.auth_state().await == "authenticated" && h.idp.issued().len() >= 2
        })
        .await;
    assert_eq!(h.browser.auth_state().await, "authenticated");
    click_call_private(&h.browser).await;
    wait_for_private_status(&h.browser, "200").await;
    h.browser.screenshot("refresh-after-503").await;
    h.browser.close().await;
}

// Every token-endpoint request has a timeout: a stalled endpoint neither ends the session nor
// holds the renewal lock for ever; once the provider answers again the session renews.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_token_endpoint_times_out_and_the_session_survives() {
    let mut h = signed_in_with_refresh_tokens("memory").await;
    h.browser.set_timeout(Duration::from_secs(40));
    let before = token_requests(&h);
    h.idp.set_token_delay(Duration::from_secs(60));
    call_private_after_revocation(&h).await;
    h.browser
        .wait_until(
            "the refresh request reached the stalled endpoint",
            || async { token_requests(&h) > before },
        )
        .await;
    h.idp.set_token_delay(Duration::ZERO);
    // The stalled request is still unanswered; after the ten-second timeout the retry goes
    // out and is answered at once.
    wait_for_refreshes(&h, 1).await;
    assert_eq!(
        token_requests(&h),
        before + 2,
        "one stalled request and one retry"
    );
    h.browser
        .wait_until("the renewed session is in place", || async {
            h.idp.issued().len() >= 2
        })
        .await;
    assert_eq!(h.browser.auth_state().await, "authenticated");
    click_call_private(&h.browser).await;
    wait_for_private_status(&h.browser, "200").await;
    h.browser.close().await;
}

// No refresh storm: with `expires_in: 0` the app renews at most every five seconds, not
// every second.
#[tokio::test(flavor = "multi_thread")]
async fn expires_in_zero_does_not_make_the_app_refresh_every_second() {
    let h = hostile_code(Tamper::Valid, Silent::LoginRequired, true, "memory").await;
    h.idp.set_expires_in(0);
    let app = h.log_in().await;
    assert_eq!(h.browser.auth_state().await, "authenticated");
    app.follow_nav("Profile").await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let count = refreshes(&h);
    assert!(
        (1..=3).contains(&count),
        "{count} refreshes in twelve seconds with expires_in 0"
    );
    assert_eq!(h.browser.auth_state().await, "authenticated");
    h.browser.close().await;
}

// OIDC Core §12.2: a refresh response "might not contain an id_token". The new access token is
// used and the signed-in user's claims stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_answer_without_an_id_token_keeps_the_session() {
    let h = signed_in_with_refresh_tokens("memory").await;
    h.idp.set_refresh(Refresh::NoIdToken);
    call_private_after_revocation(&h).await;
    wait_for_private_status(&h.browser, "200").await;
    assert_eq!(refreshes(&h), 1);
    assert_eq!(h.browser.auth_state().await, "authenticated");
    App::attach(&h.browser, &h.spa).follow_nav("Profile").await;
    h.browser
        .wait_for_css(".session-facts dd[data-rotations='1']")
        .await;
    h.browser.screenshot("refresh-without-id-token").await;
    h.browser.close().await;
}

// Compare first, store after: a refresh answer for another user is refused before anything of
// it reaches storage (a second tab sees every write to localStorage, and sees none of it), and
// its refresh token is revoked.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_refresh_answer_never_reaches_storage_and_its_token_is_revoked() {
    let h = signed_in_with_refresh_tokens("local").await;
    let (first, watcher) = h.browser.open_tab().await;
    h.browser.goto(&h.spa.url("/auth_config.json")).await;
    js(
        &h.browser,
        "window.seen = []; addEventListener('storage', e => window.seen.push(e.key + '=' + e.newValue)); return null;",
        vec![],
    )
    .await;
    h.browser.switch_to(&first).await;
    h.idp.set_refresh(Refresh::OtherUser);
    call_private_after_revocation(&h).await;
    h.browser.wait_for_auth_state("error").await;
    let answer = h.idp.issued().pop().unwrap_or_else(|| panic!("no answer"));
    let bob_refresh = answer.refresh_token.clone().unwrap_or_default();
    let bob_id = answer.id_token.clone().unwrap_or_default();
    assert!(!bob_refresh.is_empty() && !bob_id.is_empty());
    h.browser
        .wait_until("the refused answer's refresh token is revoked", || async {
            h.idp.revoked().contains(&bob_refresh)
        })
        .await;
    h.browser.switch_to(&watcher).await;
    let seen = js(&h.browser, "return JSON.stringify(window.seen);", vec![]).await;
    let seen = seen.as_str().unwrap_or_default().to_owned();
    assert!(
        seen.contains("hashgate.auth"),
        "the watcher saw no write: {seen}"
    );
    assert!(
        !seen.contains(&bob_refresh) && !seen.contains(&bob_id),
        "the refused answer was written to storage: {seen}"
    );
    h.browser.close().await;
}

// RFC 7009, and a provider whose logout leaves refresh tokens alive (as Auth0's and Okta's
// do): three tabs, each with its own family; one logout revokes all three, the other tabs
// revoking theirs when they hear of it.
#[tokio::test(flavor = "multi_thread")]
async fn a_logout_revokes_the_refresh_token_of_every_tab() {
    let h = signed_in_with_refresh_tokens("memory").await;
    h.idp.set_silent(Silent::Answer(Tamper::Valid));
    let (first, _) = h.browser.open_tab().await;
    App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("authenticated").await;
    h.browser.open_tab().await;
    App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("authenticated").await;
    let held = issued_refresh_tokens(&h);
    assert_eq!(held.len(), 3, "each tab holds its own family");

    h.browser.switch_to(&first).await;
    App::attach(&h.browser, &h.spa).log_out().await;
    h.browser
        .wait_until("every tab's refresh token is revoked", || async {
            let revoked: BTreeSet<String> = h.idp.revoked().into_iter().collect();
            held.is_subset(&revoked)
        })
        .await;
    h.browser.close().await;
}

// With `cacheLocation: memory` a reload forgets the refresh token: nothing can use it again,
// so the page revokes it on the way out (`pagehide` with `persisted` false,
// `navigator.sendBeacon`). A reload never keeps the page in the back-forward cache.
#[tokio::test(flavor = "multi_thread")]
async fn a_reloaded_page_with_tokens_in_memory_revokes_its_refresh_token() {
    let h = signed_in_with_refresh_tokens("memory").await;
    let held = issued_refresh_tokens(&h);
    assert_eq!(held.len(), 1);
    assert!(h.idp.revoked().is_empty());
    js(&h.browser, "location.reload(); return null;", vec![]).await;
    h.browser
        .wait_until("the discarded page's refresh token is revoked", || async {
            let revoked: BTreeSet<String> = h.idp.revoked().into_iter().collect();
            held.is_subset(&revoked)
        })
        .await;
    h.browser.close().await;
}

// RFC 6749 §4.1.2 (a code is single-use) and RFC 9700 §4.5: a `web_message` answer posted twice
// is redeemed once; the second copy is ignored, so the provider never sees the code again.
#[tokio::test(flavor = "multi_thread")]
async fn a_web_message_answer_posted_twice_is_redeemed_once() {
    let h = hostile_code(
        Tamper::Valid,
        Silent::Answer(Tamper::PostedTwice),
        false,
        "memory",
    )
    .await;
    App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("authenticated").await;
    // Time for a second redemption to go out, were there one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        h.idp.token_grants(),
        vec!["authorization_code".to_owned()],
        "the posted code was redeemed more than once"
    );
    assert_eq!(h.browser.auth_state().await, "authenticated");
    h.browser.close().await;
}
