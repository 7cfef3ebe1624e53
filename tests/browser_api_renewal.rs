//! End to end, in headless Chromium: what the API client does with a 401.
//!
//! RFC 6750 §3.1 `invalid_token`: a 401 gets one renewal attempt, then a login prompt. The hostile provider doubles as
//! the API here, so a test can make it refuse tokens (`set_api_rejections`) and count what
//! the browser sent. With the implicit grant the renewal is a silent `prompt=none` request;
//! with the code flow and `useRefreshTokens` it redeems the refresh token (RFC 6749 §6).
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_api_renewal`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use fantoccini::Locator;
use serde_json::json;
use support::hostile::{HostileProvider, Silent, Tamper};
use support::journey::{hostile_code, Hostile};
use support::{App, AuthConfigFile, Browser, SpaServer};

/// The app signed in through a silent (prompt=none) answer, on the External API page.
async fn signed_in_on_the_api_page() -> (SpaServer, HostileProvider, Browser) {
    let spa = SpaServer::start(json!({})).await;
    let idp = HostileProvider::start(spa.origin()).await;
    // Every prompt=none attempt gets valid tokens: start-up signs in, renewals succeed.
    idp.set_silent(Silent::Answer(Tamper::Valid));
    spa.set_auth_config(AuthConfigFile::Json(idp.auth_config()));
    let browser = Browser::launch().await;
    browser.goto(&spa.url("/external-api")).await;
    browser.wait_for_auth_state("authenticated").await;
    browser
        .wait_for_css("article[data-endpoint='/api/private'] button")
        .await;
    (spa, idp, browser)
}

/// The `Authorization` headers the API received on `/api/private`, in order.
fn private_calls(idp: &HostileProvider) -> Vec<String> {
    idp.requests_to("/api/private")
        .iter()
        .filter(|r| r.method == "GET")
        .filter_map(|r| r.authorization().map(str::to_owned))
        .collect()
}

async fn click_call_private(browser: &Browser) {
    browser
        .client()
        .find(Locator::Css("article[data-endpoint='/api/private'] button"))
        .await
        .unwrap_or_else(|e| panic!("no Call private button: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click Call private: {e}"));
}

// RFC 6750 §3.1: a 401 (a revoked token) makes the client renew silently once and retry with the
// new token; the user just sees the answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_is_answered_by_one_silent_renewal_and_a_retry_with_the_new_token() {
    let (_spa, idp, browser) = signed_in_on_the_api_page().await;
    let renewals_before = idp.issued().len();
    idp.set_api_rejections(1);
    click_call_private(&browser).await;

    browser
        .wait_for_css("article[data-endpoint='/api/private'] p.status[data-status='200']")
        .await;
    let calls = private_calls(&idp);
    assert_eq!(calls.len(), 2, "one refused call, one retry: {calls:?}");
    assert_ne!(calls[0], calls[1], "the retry must carry the renewed token");
    assert!(
        idp.issued().len() > renewals_before,
        "the retry's token came from a silent renewal"
    );
    assert_eq!(browser.auth_state().await, "authenticated");
    browser.close().await;
}

// RFC 6750 §3.1: when the renewed token is refused too, the user is asked to log in again — once,
// with no retry loop.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_after_the_renewal_asks_the_user_to_log_in_again_without_a_loop() {
    let (_spa, idp, browser) = signed_in_on_the_api_page().await;
    idp.set_api_rejections(1000);
    click_call_private(&browser).await;

    let alert = browser
        .wait_for_css("article[data-endpoint='/api/private'] [role='alert']")
        .await;
    let text = alert.text().await.unwrap_or_default();
    assert!(text.contains("log in again"), "alert: {text:?}");
    // Let any (wrong) retry loop show itself before counting.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let calls = private_calls(&idp);
    assert_eq!(
        calls.len(),
        2,
        "exactly one retry after the renewal: {calls:?}"
    );
    browser.close().await;
}

/// Signed in through the code flow with refresh tokens (kept in memory), on the External API
/// page. The provider answers `prompt=none` with `login_required`, so a renewal that used the
/// iframe instead of the refresh token would sign the app out.
async fn signed_in_with_the_code_flow() -> Hostile {
    let h = hostile_code(Tamper::Valid, Silent::LoginRequired, true, "memory").await;
    h.log_in().await;
    assert_eq!(
        h.browser.auth_state().await,
        "authenticated",
        "{}",
        h.browser.describe("the code flow login failed").await
    );
    App::attach(&h.browser, &h.spa)
        .follow_nav("External API")
        .await;
    h.browser
        .wait_for_css("article[data-endpoint='/api/private'] button")
        .await;
    h
}

/// How many times the token endpoint was asked to redeem a refresh token.
fn refreshes(h: &Hostile) -> usize {
    h.idp
        .token_grants()
        .iter()
        .filter(|grant| *grant == "refresh_token")
        .count()
}

/// The silent (`prompt=none`) authorization requests the provider got.
fn silent_requests(h: &Hostile) -> usize {
    h.idp
        .requests_to("/authorize")
        .iter()
        .filter(|request| request.uri.contains("prompt=none"))
        .count()
}

// RFC 6750 §3.1 and RFC 6749 §6: in the code flow with refresh tokens, a 401 makes the client
// redeem its refresh token once (no iframe) and retry with the new access token; the user just
// sees the answer.
#[tokio::test(flavor = "multi_thread")]
async fn with_refresh_tokens_a_401_is_answered_by_one_refresh_and_a_retry_with_the_new_token() {
    let h = signed_in_with_the_code_flow().await;
    let silent_before = silent_requests(&h);
    assert_eq!(refreshes(&h), 0, "no renewal before the 401");
    h.idp.set_api_rejections(1);
    click_call_private(&h.browser).await;

    h.browser
        .wait_for_css("article[data-endpoint='/api/private'] p.status[data-status='200']")
        .await;
    let calls = private_calls(&h.idp);
    assert_eq!(calls.len(), 2, "one refused call, one retry: {calls:?}");
    assert_eq!(refreshes(&h), 1, "{:?}", h.idp.token_grants());
    assert_eq!(
        silent_requests(&h),
        silent_before,
        "the renewal used the iframe instead of the refresh token"
    );
    let renewed = h
        .idp
        .issued()
        .iter()
        .rev()
        .find_map(|issued| issued.access_token.clone())
        .unwrap_or_else(|| panic!("the refresh issued no access token"));
    assert_eq!(
        calls[1],
        format!("Bearer {renewed}"),
        "the retry must carry the access token of the refresh"
    );
    assert_ne!(calls[0], calls[1]);
    assert_eq!(h.browser.auth_state().await, "authenticated");
    h.browser.close().await;
}

// RFC 6750 §3.1: in the code flow too, when the refreshed token is refused as well the user is
// asked to log in again, once, with no retry loop and no second refresh.
#[tokio::test(flavor = "multi_thread")]
async fn with_refresh_tokens_a_401_after_the_refresh_asks_the_user_to_log_in_again_without_a_loop()
{
    let h = signed_in_with_the_code_flow().await;
    h.idp.set_api_rejections(1000);
    click_call_private(&h.browser).await;

    let alert = h
        .browser
        .wait_for_css("article[data-endpoint='/api/private'] [role='alert']")
        .await;
    let text = alert.text().await.unwrap_or_default();
    assert!(text.contains("log in again"), "alert: {text:?}");
    // Let any (wrong) retry loop show itself before counting.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let calls = private_calls(&h.idp);
    assert_eq!(
        calls.len(),
        2,
        "exactly one retry after the refresh: {calls:?}"
    );
    assert_eq!(refreshes(&h), 1, "{:?}", h.idp.token_grants());
    h.browser.close().await;
}
