//! End to end, in headless Chromium: the SPA against a hostile identity provider of our own
//! ([`support::hostile`]). Each test makes the provider tamper with one thing in the
//! authorization response and proves that the app refuses it, says so in a `role="alert"`,
//! clears the fragment from the address bar, stays signed out, and never sends the rejected
//! token anywhere (the provider doubles as the API and records every request it gets).
//! The valid control tests prove the fixture itself is right.
//!
//! OIDC Core §3.2.2 (every check of the implicit flow), RFC 9700 §4 (attacks on it), and the
//! silent-authentication rules of the README (forged postMessage, a provider that never
//! answers `prompt=none`).
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_hostile -- --test-threads=2`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::hostile::{Silent, Tamper, HTML_DESCRIPTION, OTHER_USER_NAME};
use support::journey::{assert_login_rejected, assert_login_succeeds, hostile, Hostile};
use support::{App, AuthConfigFile};

// Control: a correct provider signs in and the API gets the token, so the fixture, the
// recorder and the negative assertions below are all meaningful.
#[tokio::test(flavor = "multi_thread")]
async fn a_valid_response_signs_in_and_the_api_receives_its_token() {
    assert_login_succeeds(Tamper::Valid).await;
}

// RFC 6749 §4.2.2 and RFC 9700 §4.3.2: a provider misconfigured with response_mode=query puts
// the tokens in the query string, which goes to servers and logs. The app removes them from
// the address bar, never uses them, and says why.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_in_the_query_string_are_refused_removed_and_never_used() {
    let h = assert_login_rejected(Tamper::ResponseInQuery, "query string").await;
    let url = h.browser.current_url().await;
    assert!(
        !url.contains('?'),
        "the response parameters stayed in the address bar: {url}"
    );
    h.browser.close().await;
}

// RFC 9700 §4.3.2: a crafted link can put tokens in the query of any route. They leave the
// address bar and history at once (the app's own parameters stay), are never used, and the
// page says they were refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_crafted_link_with_tokens_in_the_query_of_any_route_is_refused() {
    let h = hostile(Tamper::Valid, Silent::Answer(Tamper::Valid)).await;
    let forged = h.idp.valid_fragment("crafted-state", "crafted-nonce");
    let issued = h.idp.issued();
    App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("authenticated").await;

    let link = h.spa.url(&format!("/profile?tab=2&{forged}"));
    h.browser.goto(&link).await;
    h.browser.wait_for_auth_state("error").await;
    let alert = h.browser.alert_text().await;
    assert!(
        alert.contains("query string"),
        "the alert does not say the tokens came in the query string: {alert:?}"
    );
    let expected = h.spa.url("/profile?tab=2");
    assert_eq!(h.browser.current_url().await, expected);
    // History holds the cleaned address too: Back, then Forward, lands on it again.
    h.browser.client().back().await.expect("going back");
    h.browser.client().forward().await.expect("going forward");
    h.browser
        .wait_for_url(&expected, "the cleaned address")
        .await;
    h.browser.screenshot("hostile-tokens-in-query").await;
    let problems = h.leaks(&issued[issued.len() - 1..]).await;
    assert!(problems.is_empty(), "{problems:?}");
    h.browser.close().await;
}

// OIDC Core §2 (`sub` names the user): a renewal that comes back for someone else (the
// provider's session changed hands in another tab or on a shared computer) must not swap users
// under the page. The app signs out here and in its other tabs and says why; the other user's
// name never shows and their access token is never sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_renewal_for_another_user_signs_out_every_tab_with_a_sentence() {
    let h = hostile(Tamper::Valid, Silent::Answer(Tamper::Valid)).await;
    let app = App::open(&h.browser, &h.spa, "/external-api").await;
    h.browser.wait_for_auth_state("authenticated").await;
    let (first_tab, second) = h.browser.open_tab().await;
    App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("authenticated").await;
    h.browser.switch_to(&first_tab).await;

    // The provider's session is now Bob's; the API refuses the current token once, so the
    // next call renews.
    h.idp.set_silent(Silent::Answer(Tamper::OtherUser));
    h.idp.set_api_rejections(1);
    let before = h.idp.issued().len();
    h.browser
        .wait_for_css("article[data-endpoint='/api/private'] button")
        .await
        .click()
        .await
        .expect("clicking Call private");
    h.browser.wait_for_auth_state("error").await;
    let alert = h.browser.alert_text().await;
    assert!(
        alert.contains("different user"),
        "the alert does not say another user is signed in at the provider: {alert:?}"
    );
    app.log_in_button().await;
    h.browser.screenshot("hostile-user-changed").await;
    let page = h.browser.client().source().await.expect("the page source");
    assert!(!page.contains(OTHER_USER_NAME), "Bob's name is on the page");
    let bobs = h.idp.issued()[before..].to_vec();
    assert!(!bobs.is_empty(), "the provider never answered the renewal");
    let problems = h.token_sightings(&bobs).await;
    assert!(problems.is_empty(), "{problems:?}");

    // The other tab is signed out too, with the same sentence.
    h.browser.switch_to(&second).await;
    h.browser.wait_for_auth_state("error").await;
    let alert = h.browser.alert_text().await;
    assert!(alert.contains("different user"), "second tab: {alert:?}");
    let page = h.browser.client().source().await.expect("the page source");
    assert!(
        !page.contains(OTHER_USER_NAME),
        "Bob's name is on the second tab"
    );
    h.browser.close().await;
}

// OIDC RP-Initiated Logout 1.0 §2: client_id and post_logout_redirect_uri are enough. The ID
// token (the user's name and email) stays out of the logout URL, which browsers keep in history.
#[tokio::test(flavor = "multi_thread")]
async fn logout_sends_no_id_token_to_the_provider_by_default() {
    let h = hostile(Tamper::Valid, Silent::LoginRequired).await;
    let app = h.log_in().await;
    h.browser.wait_for_auth_state("authenticated").await;
    let id_token = h.idp.logins()[0].id_token.clone().expect("an ID token");
    app.log_out().await;
    h.browser
        .wait_for_url(&h.spa.url("/"), "the provider sends the browser home")
        .await;
    h.browser.wait_for_auth_state("anonymous").await;
    let logouts = h.idp.requests_to("/logout");
    assert_eq!(logouts.len(), 1, "one logout request");
    let uri = &logouts[0].uri;
    assert!(uri.contains("client_id=hashgate-spa"), "{uri}");
    assert!(uri.contains("post_logout_redirect_uri="), "{uri}");
    assert!(!uri.contains("id_token_hint"), "{uri}");
    assert!(
        !logouts[0].mentions(&id_token),
        "the ID token went to logout"
    );
    h.browser.close().await;
}

// docs/contract.md §1 `logoutIdTokenHint: true` (Keycloak without a confirmation page needs it):
// then, and only then, the ID token goes along as id_token_hint.
#[tokio::test(flavor = "multi_thread")]
async fn logout_sends_id_token_hint_when_the_config_asks_for_it() {
    let h = hostile(Tamper::Valid, Silent::LoginRequired).await;
    let mut config = h.idp.auth_config();
    config["logoutIdTokenHint"] = json!(true);
    h.spa.set_auth_config(AuthConfigFile::Json(config));
    let app = h.log_in().await;
    h.browser.wait_for_auth_state("authenticated").await;
    let id_token = h.idp.logins()[0].id_token.clone().expect("an ID token");
    app.log_out().await;
    h.browser
        .wait_for_url(&h.spa.url("/"), "the provider sends the browser home")
        .await;
    let logouts = h.idp.requests_to("/logout");
    assert_eq!(logouts.len(), 1, "one logout request");
    assert!(
        logouts[0]
            .uri
            .contains(&format!("id_token_hint={id_token}")),
        "{}",
        logouts[0].uri
    );
    h.browser.close().await;
}

// RFC 7517 §5: unusable keys in the JWKS are skipped, not fatal.
#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_with_a_garbage_key_next_to_the_good_one_still_signs_in() {
    assert_login_succeeds(Tamper::GarbageKeyInJwks).await;
}

// OIDC Core 3.1.3.7 step 6: the signature must verify with the provider's key.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_with_one_flipped_signature_byte_is_rejected() {
    assert_login_rejected(Tamper::BadSignature, "signature")
        .await
        .browser
        .close()
        .await;
}

// Security rules: never `alg: none`.
#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_alg_none_id_token_is_rejected() {
    assert_login_rejected(Tamper::AlgNone, "ID token")
        .await
        .browser
        .close()
        .await;
}

// Security rules: never HS* keyed with the provider's public key (key confusion).
#[tokio::test(flavor = "multi_thread")]
async fn an_hs256_id_token_keyed_with_the_rsa_public_key_is_rejected() {
    assert_login_rejected(Tamper::Hs256WithPublicKey, "algorithm")
        .await
        .browser
        .close()
        .await;
}

// Security rules: never a key named by a `jku` header. The attacker's JWKS is never fetched.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_whose_jku_header_points_at_an_attacker_key_is_rejected() {
    assert_login_rejected(Tamper::JkuAttackerKey, "jku")
        .await
        .browser
        .close()
        .await;
}

// Security rules: never a key embedded in a `jwk` header.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_carrying_the_attacker_key_in_a_jwk_header_is_rejected() {
    assert_login_rejected(Tamper::JwkAttackerKey, "jwk")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core §10.1.1: a `kid` that is not in the JWKS (even after a refetch) is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_signed_under_an_unknown_kid_is_rejected() {
    assert_login_rejected(Tamper::UnknownKid, "key")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.1.3.7 step 2: `iss` must equal the configured issuer exactly.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_from_another_issuer_is_rejected() {
    assert_login_rejected(Tamper::WrongIssuer, "issuer")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.1.3.7 step 3: `aud` must contain the client id.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_for_another_client_is_rejected() {
    assert_login_rejected(Tamper::WrongAudience, "audience")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.1.3.7 step 3: `aud` must not contain untrusted audiences.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_with_an_extra_untrusted_audience_is_rejected() {
    assert_login_rejected(Tamper::ExtraUntrustedAudience, "audience")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.1.3.7 step 9: an expired ID token is refused (60 s leeway).
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_id_token_is_rejected() {
    assert_login_rejected(Tamper::Expired, "expired")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.1.3.7 step 10: `iat` in the future is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_issued_an_hour_in_the_future_is_rejected() {
    assert_login_rejected(Tamper::IatInFuture, "future")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.1.3.7 step 10: `iat` older than 600 s (plus leeway) is a replay.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_issued_an_hour_ago_is_rejected() {
    assert_login_rejected(Tamper::IatTooOld, "too old")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 2: `sub` is required.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_without_sub_is_rejected() {
    assert_login_rejected(Tamper::MissingSub, "sub")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.2.2.11: the nonce must equal the one we sent.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_with_another_nonce_is_rejected() {
    assert_login_rejected(Tamper::WrongNonce, "nonce")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.2.2.11: the nonce is required in the implicit flow.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_without_nonce_is_rejected() {
    assert_login_rejected(Tamper::MissingNonce, "nonce")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.2.2.9: at_hash binds the access token to the ID token.
#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_that_does_not_match_at_hash_is_rejected() {
    assert_login_rejected(Tamper::WrongAtHash, "at_hash")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.2.2.10: at_hash is required when an access token is returned.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_without_at_hash_next_to_an_access_token_is_rejected() {
    assert_login_rejected(Tamper::MissingAtHash, "at_hash")
        .await
        .browser
        .close()
        .await;
}

// RFC 6749 7.1 / OIDC Core 3.2.2.5: only Bearer tokens are used.
#[tokio::test(flavor = "multi_thread")]
async fn a_response_whose_token_type_is_not_bearer_is_rejected() {
    assert_login_rejected(Tamper::TokenTypeNotBearer, "bearer")
        .await
        .browser
        .close()
        .await;
}

// OIDC Core 3.2.2.5: `id_token token` must return both tokens.
#[tokio::test(flavor = "multi_thread")]
async fn a_response_without_the_access_token_is_rejected() {
    assert_login_rejected(Tamper::MissingAccessToken, "access token")
        .await
        .browser
        .close()
        .await;
}

// RFC 6749 10.12: `state` must match a login started here.
#[tokio::test(flavor = "multi_thread")]
async fn a_response_with_another_state_is_rejected() {
    assert_login_rejected(Tamper::StateMismatch, "state")
        .await
        .browser
        .close()
        .await;
}

// RFC 6749 3.1: a repeated parameter is an error, never a guess.
#[tokio::test(flavor = "multi_thread")]
async fn a_response_repeating_the_state_parameter_is_rejected() {
    assert_login_rejected(Tamper::DuplicateState, "state")
        .await
        .browser
        .close()
        .await;
}

// docs/contract.md §3: the provider's error is shown as escaped text; markup never becomes elements.
#[tokio::test(flavor = "multi_thread")]
async fn html_in_error_description_is_shown_as_text() {
    // The alert check of assert_login_rejected also looks for elements inside the alert.
    assert_login_rejected(Tamper::HtmlErrorDescription, HTML_DESCRIPTION)
        .await
        .browser
        .close()
        .await;
}

// OIDC Discovery 4.3: a discovery document naming another issuer is refused, and the app
// never sends the user to that provider's authorization endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn a_discovery_document_for_another_issuer_stops_login_before_the_redirect() {
    let h = hostile(Tamper::DiscoveryIssuerMismatch, Silent::LoginRequired).await;
    let app = App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("error").await;
    let alert = h.browser.alert_text().await;
    assert!(
        alert.to_lowercase().contains("issuer"),
        "the alert does not say the issuer is wrong: {alert:?}"
    );

    let discoveries = h.idp.requests_to("/.well-known/openid-configuration").len();
    app.log_in().await;
    // The click loads discovery again; once that has been answered, the app has either
    // redirected or refused. Watch a short window to see which.
    let idp = &h.idp;
    h.browser
        .wait_until("Log in fetched the discovery document again", || async move {
            idp.requests_to("/.well-known/openid-configuration").len() > discoveries
        })
        .await;
    let window = Instant::now();
    while window.elapsed() < Duration::from_millis(1500) {
        assert!(
            h.idp.requests_to("/authorize").is_empty(),
            "the app went to /authorize of a provider whose discovery names another issuer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        h.browser.current_url().await.starts_with(h.spa.origin()),
        "the app left for the provider"
    );
    assert_eq!(h.browser.auth_state().await, "error");
    assert!(
        h.browser.try_alert_text().await.is_some(),
        "no alert after Log in"
    );
    h.browser.close().await;
}

// RFC 6749 §10.12: the transaction is single-use, so the same response visited again is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_callback_url_is_rejected() {
    let h = hostile(Tamper::Valid, Silent::LoginRequired).await;
    let app = h.log_in().await;
    assert_eq!(
        h.browser.auth_state().await,
        "authenticated",
        "the first, genuine use must succeed; {}",
        h.browser.describe("").await
    );
    let logins = h.idp.logins();
    let saved = logins[0]
        .callback_url
        .clone()
        .unwrap_or_else(|| panic!("the login was a redirect"));

    // A full page load of the saved URL, as an attacker replaying it in this tab would.
    h.browser.goto("about:blank").await;
    h.browser.goto(&saved).await;
    h.browser.wait_for_auth_state("error").await;
    let url = h.browser.current_url().await;
    assert!(
        !url.contains('#'),
        "the fragment stayed in the address bar: {url}"
    );
    let alert = h.browser.alert_text().await;
    assert!(
        alert.contains("already used") || alert.contains("state"),
        "the alert does not say the response was already used: {alert:?}"
    );
    h.try_calling_the_private_api(&app).await;
    assert_ne!(h.browser.auth_state().await, "authenticated");
    // The genuine login never called the API, so no request may carry its token.
    let leaks = h.leaks(&logins).await;
    assert!(leaks.is_empty(), "replayed tokens leaked: {leaks:?}");
    h.browser.close().await;
}

// RFC 6749 10.12: a response for a login nobody started (login CSRF) is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_unsolicited_response_is_rejected() {
    let h = hostile(Tamper::Valid, Silent::LoginRequired).await;
    let fragment = h
        .idp
        .valid_fragment("never-sent-state-0123456789abcdef", "never-sent-nonce");
    let app = App::open(&h.browser, &h.spa, &format!("/callback#{fragment}")).await;
    h.browser.wait_for_auth_state("error").await;
    let url = h.browser.current_url().await;
    assert!(
        !url.contains('#'),
        "the fragment stayed in the address bar: {url}"
    );
    let alert = h.browser.alert_text().await;
    assert!(
        alert.contains("state"),
        "the alert does not say the response was not started here: {alert:?}"
    );
    h.try_calling_the_private_api(&app).await;
    assert_ne!(h.browser.auth_state().await, "authenticated");
    let leaks = h.leaks(&h.idp.issued()).await;
    assert!(leaks.is_empty(), "unsolicited tokens leaked: {leaks:?}");
    h.browser.close().await;
}

// RFC 9700 §4.3.2: the fragment leaves the address bar before anything else, i.e. while the
// signature is still being checked (the JWKS answer is held back).
#[tokio::test(flavor = "multi_thread")]
async fn the_fragment_is_gone_from_the_address_bar_before_validation_finishes() {
    let h = hostile(Tamper::BadSignature, Silent::LoginRequired).await;
    let app = App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("anonymous").await;
    h.idp.set_jwks_delay(Duration::from_secs(3));
    // The first page fetched the keys already (as soon as discovery arrived); what counts is
    // the callback page's request.
    let before = h.idp.requests_to("/.well-known/jwks.json").len();
    app.log_in().await;
    let idp = &h.idp;
    h.browser
        .wait_until("the app asked for the JWKS", || async move {
            idp.requests_to("/.well-known/jwks.json").len() > before
        })
        .await;
    let url = h.browser.current_url().await;
    let state = h.current_state().await;
    assert_eq!(
        state.as_deref(),
        Some("loading"),
        "validation should still be waiting for the JWKS"
    );
    assert!(
        url.starts_with(&h.spa.url("/callback")) && !url.contains('#'),
        "while the callback is validated the address bar must be /callback without the \
         fragment, not {url}"
    );
    h.browser.wait_for_auth_state("error").await;
    h.browser.close().await;
}

// OIDC Core §10.1.1: the keys come from the discovery document's jwks_uri; they are fetched as
// soon as discovery is loaded, while the start-up sign-in is under way, not only once a token
// has to be checked. Here no token ever arrives (the provider answers login_required), and
// the JWKS is still requested, from the jwks_uri of the discovery document, exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn the_keys_are_fetched_as_soon_as_discovery_is_loaded_before_any_token_arrives() {
    let h = hostile(Tamper::Valid, Silent::LoginRequired).await;
    App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_auth_state("anonymous").await;
    let idp = &h.idp;
    h.browser
        .wait_until("the app asked for the JWKS", || async move {
            !idp.requests_to("/.well-known/jwks.json").is_empty()
        })
        .await;
    assert_eq!(h.idp.requests_to("/.well-known/jwks.json").len(), 1);
    assert!(
        h.idp.requests_to("/attacker/jwks.json").is_empty(),
        "keys only from the discovery document's jwks_uri"
    );
    assert_eq!(h.browser.auth_state().await, "anonymous");
    h.browser.close().await;
}

/// Opens `/` with the provider answering silent attempts as `silent` and waits until the
/// start-up attempt has ended; returns how long that took after the app became visible.
async fn start_up_with(silent: Silent) -> (Hostile, Duration) {
    start_up_with_transport(silent, true).await
}

/// [`start_up_with`], choosing whether discovery advertises `web_message` (otherwise the
/// fragment goes to `/silent-callback.html`).
async fn start_up_with_transport(silent: Silent, web_message: bool) -> (Hostile, Duration) {
    let mut h = hostile(Tamper::Valid, silent).await;
    h.idp.set_web_message(web_message);
    h.browser.set_timeout(Duration::from_secs(25));
    let _app = App::open(&h.browser, &h.spa, "/").await;
    let started = Instant::now();
    h.browser
        .wait_until("the start-up silent attempt ended", || {
            let h = &h;
            async move {
                matches!(
                    h.current_state().await.as_deref(),
                    Some("anonymous" | "authenticated" | "error")
                )
            }
        })
        .await;
    let elapsed = started.elapsed();
    drop(_app);
    (h, elapsed)
}

// Control for the silent tests: a genuine web_message answer from this fixture restores the
// session without a click, so "stays signed out" below means "refused", not "never understood".
#[tokio::test(flavor = "multi_thread")]
async fn a_valid_silent_answer_signs_in_without_a_click() {
    let (h, _) = start_up_with(Silent::Answer(Tamper::Valid)).await;
    assert_eq!(
        h.browser.auth_state().await,
        "authenticated",
        "the fixture's genuine web_message answer was not accepted; {}",
        h.browser.describe("").await
    );
    assert!(
        h.browser.find_all_css("iframe").await.is_empty(),
        "the iframe was left behind"
    );
    h.browser.close().await;
}

// README (silent authentication): without web_message the fragment goes to /silent-callback.html, which relays it
// (this fails when the build lacks silent-callback.js: the attempt then times out).
#[tokio::test(flavor = "multi_thread")]
async fn a_valid_silent_answer_through_silent_callback_html_signs_in() {
    let (h, elapsed) = start_up_with_transport(Silent::Answer(Tamper::Valid), false).await;
    assert_eq!(
        h.browser.auth_state().await,
        "authenticated",
        "the silent-callback.html relay did not deliver a genuine answer ({elapsed:?}); {}",
        h.browser.describe("").await
    );
    let silent = h.idp.requests_to("/authorize");
    assert!(
        silent.iter().all(|r| !r.uri.contains("response_mode")),
        "web_message was used although discovery does not advertise it"
    );
    assert!(
        h.browser.find_all_css("iframe").await.is_empty(),
        "the iframe was left behind"
    );
    h.browser.close().await;
}

// OIDC Core §3.2.2.11: a tampered answer relayed by /silent-callback.html is refused like any other.
#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_silent_answer_through_silent_callback_html_is_refused() {
    assert_silent_answer_rejected(Tamper::BadSignature, false).await;
}

/// A silent answer made as `tamper` (right state, right origin) must leave the app signed
/// out, without using its tokens.
async fn assert_silent_answer_rejected(tamper: Tamper, web_message: bool) {
    let (h, _) = start_up_with_transport(Silent::Answer(tamper), web_message).await;
    let state = h.browser.auth_state().await;
    assert_ne!(
        state,
        "authenticated",
        "silent answer {tamper:?} was accepted; {}",
        h.browser.describe("").await
    );
    let issued = h.idp.issued();
    assert_eq!(
        issued.len(),
        1,
        "the provider answered the silent attempt once"
    );
    let leaks = h.leaks(&issued).await;
    assert!(
        leaks.is_empty(),
        "silent answer {tamper:?} leaked: {leaks:?}"
    );
    assert!(
        h.browser.find_all_css("iframe").await.is_empty(),
        "the iframe was left behind"
    );
    h.browser.close().await;
}

// OIDC Core §3.2.2.11: the silent result goes through exactly the same validation as /callback.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_answer_with_a_bad_signature_leaves_the_app_signed_out() {
    assert_silent_answer_rejected(Tamper::BadSignature, true).await;
}

// OIDC Core §3.2.2.11: each silent attempt has its own nonce, checked like a login's.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_answer_with_another_nonce_leaves_the_app_signed_out() {
    assert_silent_answer_rejected(Tamper::WrongNonce, true).await;
}

// RFC 6749 §10.12: a message with another state, even from the provider's origin and with valid
// tokens, is ignored; the genuine answer that follows is used.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_answer_with_another_state_is_ignored() {
    let (h, elapsed) = start_up_with(Silent::ForgedStateFirst).await;
    assert_eq!(
        h.browser.auth_state().await,
        "anonymous",
        "the forged web_message was accepted; {}",
        h.browser.describe("").await
    );
    assert!(
        elapsed < Duration::from_secs(8),
        "the genuine login_required after the forged message was not used ({elapsed:?}): \
         the app timed out instead"
    );
    let forged = h.idp.issued();
    assert_eq!(forged.len(), 1, "the provider posted one forged response");
    let leaks = h.leaks(&forged).await;
    assert!(leaks.is_empty(), "forged tokens leaked: {leaks:?}");
    assert!(
        h.browser.find_all_css("iframe").await.is_empty(),
        "the iframe was left behind"
    );
    h.browser.close().await;
}

// HTML postMessage security: a message from another origin, even with the right state and valid tokens, is
// ignored.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_answer_from_another_origin_is_ignored() {
    let (h, elapsed) = start_up_with(Silent::ForgedOriginFirst).await;
    assert_eq!(
        h.browser.auth_state().await,
        "anonymous",
        "the web_message from another origin was accepted; {}",
        h.browser.describe("").await
    );
    assert!(
        !h.idp.requests_to("/silent/login-required").is_empty(),
        "the forged page on the other origin never ran (it leads to the genuine answer)"
    );
    let forged_from = h
        .idp
        .requests_to("/silent/forged-origin")
        .first()
        .and_then(|r| r.header("host").map(str::to_owned));
    assert!(
        forged_from
            .as_deref()
            .is_some_and(|host| host.starts_with("localhost:")),
        "the forged page was not served from the other origin: {forged_from:?}"
    );
    assert!(
        elapsed < Duration::from_secs(8),
        "the genuine login_required was not used ({elapsed:?}): the app timed out instead"
    );
    let leaks = h.leaks(&h.idp.issued()).await;
    assert!(leaks.is_empty(), "forged tokens leaked: {leaks:?}");
    assert!(
        h.browser.find_all_css("iframe").await.is_empty(),
        "the iframe was left behind"
    );
    h.browser.close().await;
}

// README (silent authentication): a provider that never answers `prompt=none` hits the 10 s timeout; the app ends
// signed out (with `Log in`) and the iframe is removed.
#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_never_answers_prompt_none_times_out_signed_out() {
    let mut h = hostile(Tamper::Valid, Silent::Never).await;
    h.browser.set_timeout(Duration::from_secs(25));
    let _app = App::open(&h.browser, &h.spa, "/").await;
    h.browser.wait_for_css("iframe").await;
    let framed = Instant::now();
    assert_eq!(h.current_state().await.as_deref(), Some("loading"));
    let silent = h.idp.requests_to("/authorize");
    assert!(
        silent
            .iter()
            .any(|r| r.uri.contains("prompt=none") && r.uri.contains("response_mode=web_message")),
        "the iframe did not load a prompt=none web_message request"
    );

    h.browser.wait_for_auth_state("anonymous").await;
    let waited = framed.elapsed();
    assert!(
        waited >= Duration::from_secs(8),
        "signed out after {waited:?}, too soon for the 10 s silent timeout"
    );
    assert!(
        h.browser.find_all_css("iframe").await.is_empty(),
        "the silent iframe is still in the DOM after the timeout"
    );
    h.browser.button("Log in").await;
    h.browser.close().await;
}
