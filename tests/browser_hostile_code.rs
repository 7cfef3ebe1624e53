//! End to end, in headless Chromium: the SPA in the authorization code flow with PKCE
//! (`"responseType": "code"`) against the hostile provider of [`support::hostile`]. Each test
//! makes the provider (or its token endpoint) tamper with one thing and proves the app refuses
//! it with a sentence in a `role="alert"`, stays signed out, and never sends the tokens
//! anywhere; the renewal tests prove what refresh tokens may and may not do.
//!
//! OIDC Core §3.1.3 (the code flow's checks), RFC 7636 (PKCE), RFC 9207 (the `iss` response
//! parameter), RFC 6749 §6 and RFC 9700 §4.14 (refresh-token rotation), RFC 7009 (revocation).
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_hostile_code -- --test-threads=2`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use std::time::Duration;

use fantoccini::Locator;
use support::hostile::{Refresh, Silent, Tamper, OTHER_USER_NAME};
use support::journey::refresh::{
    assert_one_refresh_and_both_tabs_signed_in, call_private_after_revocation, refreshes,
    sign_in_with_refresh_tokens, signed_in_with_refresh_tokens, silent_requests,
    wait_for_private_status,
};
use support::journey::{assert_rejected, assert_succeeds, hostile, hostile_code, Hostile};
use support::pages::run_js;
use support::{inspector_json, App, AuthConfigFile, Browser};

/// A code-flow login against a provider tampering as `tamper`, checked like every rejection.
async fn assert_code_login_rejected(tamper: Tamper, reason: &str) {
    let h = hostile_code(tamper, Silent::LoginRequired, false, "memory").await;
    let h = assert_rejected(h, tamper, reason).await;
    h.browser.close().await;
}

// Control: a correct code flow signs in (PKCE checked by the provider) and the API gets the
// token, so the negative tests below mean "refused", not "never worked".
#[tokio::test(flavor = "multi_thread")]
async fn a_valid_code_flow_login_signs_in_and_the_api_receives_its_token() {
    let h = hostile_code(Tamper::Valid, Silent::LoginRequired, false, "memory").await;
    assert_succeeds(h, Tamper::Valid).await;
}

// OIDC Core §3.1.3.7 step 6: the token endpoint's ID token must be signed by the provider.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_id_token_with_a_bad_signature_is_rejected() {
    assert_code_login_rejected(Tamper::BadSignature, "signature").await;
}

// OIDC Core §3.1.3.7 step 2: `iss` must be the configured issuer.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_id_token_from_another_issuer_is_rejected() {
    assert_code_login_rejected(Tamper::WrongIssuer, "issuer").await;
}

// OIDC Core §3.1.3.7 step 3: `aud` must contain the client id.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_id_token_for_another_client_is_rejected() {
    assert_code_login_rejected(Tamper::WrongAudience, "audience").await;
}

// OIDC Core §3.1.3.7 step 11: the nonce of the authorization request, in the code flow too.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_id_token_with_another_nonce_is_rejected() {
    assert_code_login_rejected(Tamper::WrongNonce, "nonce").await;
}

// OIDC Core §3.1.3.7 step 9: an expired ID token is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_endpoint_id_token_is_rejected() {
    assert_code_login_rejected(Tamper::Expired, "expired").await;
}

// OIDC Core §3.1.3.3: the token response of an OpenID request carries an ID token.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_answer_without_an_id_token_is_rejected() {
    assert_code_login_rejected(Tamper::MissingIdToken, "ID token").await;
}

// RFC 6749 §7.1: only bearer tokens are used.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_answer_whose_token_type_is_not_bearer_is_rejected() {
    assert_code_login_rejected(Tamper::TokenTypeNotBearer, "bearer").await;
}

// RFC 9207 §2.4: the provider advertises the `iss` parameter, so its absence is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_code_response_without_iss_is_rejected_when_iss_is_advertised() {
    assert_code_login_rejected(Tamper::IssParameterMissing, "(iss)").await;
}

// RFC 9207 §2.4: an `iss` naming another provider is a mix-up; the code is never redeemed.
#[tokio::test(flavor = "multi_thread")]
async fn a_code_response_from_another_issuer_is_rejected_before_redemption() {
    let h = hostile_code(
        Tamper::IssParameterWrong,
        Silent::LoginRequired,
        false,
        "memory",
    )
    .await;
    let h = assert_rejected(h, Tamper::IssParameterWrong, "another identity provider").await;
    assert!(
        h.idp.token_grants().is_empty(),
        "the code was redeemed: {:?}",
        h.idp.token_grants()
    );
    h.browser.close().await;
}

// RFC 6749 §10.12: `state` must match a login started here; the code is never redeemed.
#[tokio::test(flavor = "multi_thread")]
async fn a_code_response_with_an_unknown_state_is_rejected() {
    let h = hostile_code(
        Tamper::StateMismatch,
        Silent::LoginRequired,
        false,
        "memory",
    )
    .await;
    let h = assert_rejected(h, Tamper::StateMismatch, "state").await;
    assert!(h.idp.token_grants().is_empty(), "the code was redeemed");
    h.browser.close().await;
}

// RFC 6749 §4.1.2: the code flow answers in the query. A code in the fragment was not asked
// for and is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_code_delivered_in_the_fragment_is_rejected() {
    assert_code_login_rejected(Tamper::CodeInFragment, "fragment").await;
}

// RFC 6749 §3.1: a repeated parameter is an error, never a guess.
#[tokio::test(flavor = "multi_thread")]
async fn a_code_response_repeating_the_code_is_rejected() {
    assert_code_login_rejected(Tamper::DuplicateCode, "repeats").await;
}

// RFC 6749 §5.1: the token endpoint answers JSON; an HTML page is refused with a sentence.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_answering_html_is_rejected() {
    assert_code_login_rejected(Tamper::TokenEndpointHtml, "token endpoint").await;
}

// RFC 6749 §5.2: a server error is an error, said as such.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_answering_500_is_rejected() {
    assert_code_login_rejected(Tamper::TokenEndpoint500, "HTTP 500").await;
}

// RFC 6749 §3.2: a token endpoint that redirects is not answering; the app does not follow.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_answering_with_a_redirect_is_rejected() {
    assert_code_login_rejected(Tamper::TokenEndpointRedirect, "token endpoint").await;
}

// RFC 6749 §4.2.2, the other way round: an implicit login answered with a code is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_implicit_login_answered_with_a_code_is_rejected() {
    let h = hostile(Tamper::CodeToImplicit, Silent::LoginRequired).await;
    let h = assert_rejected(h, Tamper::CodeToImplicit, "implicit flow").await;
    h.browser.close().await;
}

// RFC 6749 §4.1.2 and §10.5: a code is single-use, and so is its transaction: the saved
// callback URL visited again is refused without a second redemption.
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_code_callback_is_rejected() {
    let h = hostile_code(Tamper::Valid, Silent::LoginRequired, false, "memory").await;
    h.log_in().await;
    assert_eq!(h.browser.auth_state().await, "authenticated");
    let saved = h.idp.logins()[0]
        .callback_url
        .clone()
        .unwrap_or_else(|| panic!("the login was a redirect"));
    let grants = h.idp.token_grants().len();
    h.browser.goto("about:blank").await;
    h.browser.goto(&saved).await;
    h.browser.wait_for_auth_state("error").await;
    let url = h.browser.current_url().await;
    assert!(
        !url.contains("code="),
        "the code stayed in the address bar: {url}"
    );
    let alert = h.browser.alert_text().await;
    assert!(alert.contains("state"), "{alert:?}");
    assert_eq!(
        h.idp.token_grants().len(),
        grants,
        "the code was redeemed again"
    );
    h.browser.close().await;
}

// RFC 6749 §6 and RFC 9700 §4.14.2: a renewal redeems the refresh token and keeps the new one
// it gets back (rotation); the API gets the new access token; the inspector says a refresh
// token is held and counts the rotation, never showing its value.
#[tokio::test(flavor = "multi_thread")]
async fn a_renewal_rotates_the_refresh_token_without_an_iframe() {
    let h = signed_in_with_refresh_tokens("memory").await;
    let silent_before = silent_requests(&h);
    call_private_after_revocation(&h).await;
    wait_for_private_status(&h.browser, "200").await;
    assert_eq!(refreshes(&h), 1, "{:?}", h.idp.token_grants());
    assert_eq!(
        silent_requests(&h),
        silent_before,
        "the renewal used the iframe"
    );
    let issued = h.idp.issued();
    let (first, second) = (&issued[0], &issued[issued.len() - 1]);
    let expected = format!(
        "Bearer {}",
        second.access_token.as_deref().unwrap_or_default()
    );
    assert!(
        h.idp
            .requests_to("/api/private")
            .iter()
            .any(|r| r.authorization() == Some(expected.as_str())),
        "the retry did not carry the renewed access token"
    );

    // In place (a reload would start over): the token inspector of the renewed session.
    App::attach(&h.browser, &h.spa).follow_nav("Profile").await;
    assert_eq!(session_fact(&h.browser, "data-flow").await, "code");
    assert_eq!(session_fact(&h.browser, "data-refresh-token").await, "true");
    assert_eq!(session_fact(&h.browser, "data-rotations").await, "1");
    let page = h.browser.client().source().await.expect("the page source");
    for token in [&first.refresh_token, &second.refresh_token]
        .into_iter()
        .flatten()
    {
        assert!(
            !page.contains(token.as_str()),
            "a refresh token is on the page"
        );
    }
    h.browser.screenshot("hostile-code-rotated").await;
    h.browser.close().await;
}

/// The value of `attribute` on the token inspector's session facts.
async fn session_fact(browser: &Browser, attribute: &str) -> String {
    browser
        .wait_for_css(&format!(".session-facts dd[{attribute}]"))
        .await
        .attr(attribute)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

// Decision (README, "Refresh tokens"): a refresh answer without a new refresh token keeps its
// validated tokens but drops the old refresh token, which rotation has spent (presenting it
// again would trip reuse detection and end every session). The next renewal uses the iframe.
#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_without_a_new_refresh_token_drops_it_and_falls_back_to_the_iframe() {
    let h = signed_in_with_refresh_tokens("memory").await;
    h.idp.set_refresh(Refresh::NoNewRefreshToken);
    h.idp.set_silent(Silent::Answer(Tamper::Valid));
    call_private_after_revocation(&h).await;
    wait_for_private_status(&h.browser, "200").await;
    assert_eq!(refreshes(&h), 1);
    App::attach(&h.browser, &h.spa).follow_nav("Profile").await;
    assert_eq!(
        session_fact(&h.browser, "data-refresh-token").await,
        "false"
    );
    App::attach(&h.browser, &h.spa)
        .follow_nav("External API")
        .await;
    call_private_after_revocation(&h).await;
    wait_for_private_status(&h.browser, "200").await;
    assert_eq!(
        refreshes(&h),
        1,
        "the spent refresh token was presented again"
    );
    assert!(
        h.idp
            .requests_to("/authorize")
            .iter()
            .any(|r| r.uri.contains("prompt=none") && r.uri.contains("response_type=code")),
        "the second renewal did not use the iframe"
    );
    h.browser.close().await;
}

// OIDC Core §12.2: a refreshed ID token has the same `sub`. One for another user signs the app
// out (the same rule as for silent renewal), and that user's name never shows.
#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_for_another_user_signs_out() {
    let h = signed_in_with_refresh_tokens("memory").await;
    h.idp.set_refresh(Refresh::OtherUser);
    call_private_after_revocation(&h).await;
    h.browser.wait_for_auth_state("error").await;
    let alert = h.browser.alert_text().await;
    assert!(alert.contains("different user"), "{alert:?}");
    let page = h.browser.client().source().await.expect("the page source");
    assert!(!page.contains(OTHER_USER_NAME), "Bob's name is on the page");
    h.browser.close().await;
}

// RFC 6749 §5.2 invalid_grant (revoked, expired or reused refresh token): signed out in every
// tab, with a sentence.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_refresh_token_signs_out_every_tab_with_a_sentence() {
    let h = signed_in_with_refresh_tokens("memory").await;
    let (first, second) = h.browser.open_tab().await;
    // The second tab signs in on its own through the iframe (memory: nothing is shared).
    h.idp.set_silent(Silent::Answer(Tamper::Valid));
    App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("authenticated").await;
    h.browser.switch_to(&first).await;

    h.idp.set_refresh(Refresh::InvalidGrant);
    call_private_after_revocation(&h).await;
    h.browser.wait_for_auth_state("error").await;
    let alert = h.browser.alert_text().await;
    assert!(alert.contains("session has ended"), "{alert:?}");
    App::attach(&h.browser, &h.spa).log_in_button().await;
    h.browser.switch_to(&second).await;
    h.browser.wait_for_auth_state("error").await;
    let alert = h.browser.alert_text().await;
    assert!(alert.contains("session has ended"), "second tab: {alert:?}");
    h.browser.close().await;
}

// One renewal at a time across every tab (Web Locks): two tabs sharing a refresh token
// (`cacheLocation: local`) that need a new access token at the same moment send ONE refresh
// request; the second tab waits, then takes the tokens the first one stored. Without the lock
// the second request would present the spent token and the provider's reuse detection would
// end the session everywhere.
#[tokio::test(flavor = "multi_thread")]
async fn two_tabs_renewing_at_once_send_one_refresh_request() {
    let h = signed_in_with_refresh_tokens("local").await;
    assert_eq!(
        run_js(&h.browser, "return typeof navigator.locks;").await,
        "object",
        "this test is about browsers with Web Locks"
    );
    two_tabs_renew_at_once(h, Locks::WebLocks).await;
}

// The same race where the browser has no Web Locks API (older Safari, some embedded
// webviews): the lease in localStorage stands in for the lock, and still only one refresh
// request goes out. Each tab has `navigator.locks` hidden before the app loads.
#[tokio::test(flavor = "multi_thread")]
async fn without_web_locks_two_tabs_renewing_at_once_still_send_one_refresh_request() {
    let h = hostile_code(Tamper::Valid, Silent::LoginRequired, true, "local").await;
    h.browser.hide_web_locks().await;
    let h = sign_in_with_refresh_tokens(h).await;
    assert_eq!(
        run_js(&h.browser, "return typeof navigator.locks;").await,
        "undefined",
        "navigator.locks is still there"
    );
    two_tabs_renew_at_once(h, Locks::Hidden).await;
}

/// Whether the tabs of [`two_tabs_renew_at_once`] have the Web Locks API.
#[derive(PartialEq)]
enum Locks {
    WebLocks,
    Hidden,
}

/// Opens a second tab on the session `h` signed in to (`cacheLocation: local`), makes both
/// tabs renew at the same moment, and checks that one refresh request went out and both tabs
/// stay signed in.
async fn two_tabs_renew_at_once(h: Hostile, locks: Locks) {
    let (first, second) = h.browser.open_tab().await;
    if locks == Locks::Hidden {
        h.browser.hide_web_locks().await;
    }
    // The second tab restores the shared session from localStorage: no iframe, no request.
    App::open(&h.browser, &h.spa, "/external-api").await;
    h.browser.wait_for_auth_state("authenticated").await;
    assert_eq!(refreshes(&h), 0);

    // Both tabs hold the same access token; the API now refuses it, and the token endpoint
    // is slow, so the two renewals overlap.
    h.idp.set_token_delay(Duration::from_millis(1500));
    call_private_after_revocation(&h).await;
    h.browser.switch_to(&first).await;
    h.browser
        .wait_for_css("article[data-endpoint='/api/private'] button")
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking Call private in the first tab: {e}"));
    wait_for_private_status(&h.browser, "200").await;
    h.browser.switch_to(&second).await;
    wait_for_private_status(&h.browser, "200").await;
    assert_one_refresh_and_both_tabs_signed_in(&h, &second, &first).await;
    h.browser.close().await;
}

// RFC 7009: logout revokes the refresh token at the provider before ending its session.
#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_refresh_token() {
    let h = signed_in_with_refresh_tokens("memory").await;
    let refresh_token = h.idp.logins()[0]
        .refresh_token
        .clone()
        .unwrap_or_else(|| panic!("no refresh token was issued"));
    App::attach(&h.browser, &h.spa).log_out().await;
    h.browser
        .wait_for_url(&h.spa.url("/"), "the provider sends the browser home")
        .await;
    assert_eq!(h.idp.revoked(), vec![refresh_token]);
    // The revocation came before the provider's logout.
    let paths: Vec<String> = h
        .idp
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .filter(|p| p == "/oauth/revoke" || p == "/logout")
        .collect();
    assert_eq!(
        paths.first().map(String::as_str),
        Some("/oauth/revoke"),
        "{paths:?}"
    );
    h.browser.close().await;
}

// cacheLocation local + refresh tokens (README, "Where tokens live"): a reload restores the
// session from the stored refresh token without any iframe, the setup that keeps working when
// third-party cookies are blocked.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_with_a_stored_refresh_token_needs_no_iframe() {
    let h = signed_in_with_refresh_tokens("local").await;
    let stored = h
        .browser
        .client()
        .execute(
            "return localStorage.getItem('hashgate.auth.tokens');",
            vec![],
        )
        .await
        .expect("reading localStorage");
    let stored: serde_json::Value =
        serde_json::from_str(stored.as_str().unwrap_or("{}")).unwrap_or_default();
    assert!(
        stored["refresh_token"].is_string(),
        "no refresh token stored"
    );
    // The stored access token has expired, so the reload must renew it.
    let mut expired = stored.clone();
    expired["expires_at"] = serde_json::json!(0);
    h.browser
        .client()
        .execute(
            "localStorage.setItem('hashgate.auth.tokens', arguments[0]); return null;",
            vec![serde_json::Value::String(expired.to_string())],
        )
        .await
        .expect("writing localStorage");
    let silent_before = silent_requests(&h);
    App::open(&h.browser, &h.spa, "/profile").await;
    h.browser.wait_for_auth_state("authenticated").await;
    assert_eq!(refreshes(&h), 1, "{:?}", h.idp.token_grants());
    assert_eq!(
        silent_requests(&h),
        silent_before,
        "the reload used the iframe"
    );
    let claims = inspector_json(&h.browser, "ID token", 1).await;
    assert!(claims.is_some(), "the profile shows the renewed ID token");
    h.browser.close().await;
}

// RFC 6749 §4.1 with prompt=none: without refresh tokens the code flow renews in the hidden
// iframe, receiving a code (web_message) that is redeemed and validated like a login's.
#[tokio::test(flavor = "multi_thread")]
async fn without_refresh_tokens_a_reload_signs_in_through_the_iframe_with_a_code() {
    let h = hostile_code(
        Tamper::Valid,
        Silent::Answer(Tamper::Valid),
        false,
        "memory",
    )
    .await;
    App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("authenticated").await;
    let silent = h.idp.requests_to("/authorize");
    assert!(
        silent.iter().any(|r| r.uri.contains("prompt=none")
            && r.uri.contains("response_type=code")
            && r.uri.contains("code_challenge_method=S256")
            && r.uri.contains("response_mode=web_message")),
        "{:?}",
        silent.iter().map(|r| r.uri.clone()).collect::<Vec<_>>()
    );
    assert_eq!(h.idp.token_grants(), vec!["authorization_code".to_owned()]);
    // Locator is used to prove the iframe was removed afterwards.
    assert!(
        h.browser
            .client()
            .find(Locator::Css("iframe"))
            .await
            .is_err(),
        "the silent iframe stayed in the page"
    );
    h.browser.close().await;
}

// RFC 9449 §5: after a token request with a DPoP proof (`"useDpop": true`), an answer with
// `token_type: Bearer` is a token bound to nothing: the app refuses it with a sentence and never
// sends it (this provider ignores proofs and always answers `Bearer`).
#[tokio::test(flavor = "multi_thread")]
async fn a_bearer_answer_to_a_dpop_token_request_is_refused_and_never_sent() {
    let h = hostile(Tamper::Valid, Silent::LoginRequired).await;
    let mut config = h.idp.code_auth_config(true, "memory");
    config["useDpop"] = serde_json::json!(true);
    h.spa.set_auth_config(AuthConfigFile::Json(config));
    let h = assert_rejected(h, Tamper::Valid, "not bound to this browser's key").await;
    let token_requests: Vec<_> = h
        .idp
        .requests_to("/oauth/token")
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(
        !token_requests.is_empty()
            && token_requests
                .iter()
                .all(|r| r.headers.iter().any(|(name, _)| name == "dpop")),
        "every token request must carry a DPoP proof: {token_requests:?}"
    );
    h.browser.close().await;
}
