//! End to end, in headless Chromium: silent authentication against a real `hashgate-idp`
//! (README, "Staying signed in"): a reload keeps the session, short-lived access tokens are renewed with no
//! user action, a session ended at the provider signs the app out, and a logout in one
//! tab signs the others out. The same with the authorization code flow: the iframe carries a
//! code, or (`useRefreshTokens`) rotating refresh tokens renew with no iframe at all.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_silent -- --test-threads=2`.
//! Screenshots land in `target/screenshots/`.
#![cfg(not(target_arch = "wasm32"))]
// A failed WebDriver window command leaves the journey nothing to do but stop.
#![allow(clippy::expect_used)]

use hashgate_e2e as support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::Locator;
use serde_json::Value;
use support::pages::{
    assert_stays, fill, follow_nav, header_user, rotations, run_js, session_fact, storage_entries,
    wait_for_header_user, wait_for_heading, ExternalApi, ALICE,
};
use support::stack::{ProviderRequest, Stack, StackOptions};
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

    reload_and_wait_until_signed_in_again(&browser, &stack).await;
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
    browser.switch_to(&other.handle).await;
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
    browser.switch_to(&app_window).await;

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

    stays_anonymous_on_the_app(&browser, &stack, "the app stays anonymous on its own page").await;

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

    let (first_tab, _second) = browser.open_tab().await;
    // The second tab signs in silently from the provider session.
    let second_app = App::open(&browser, &stack.spa, "/").await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;

    second_app.log_out().await;
    browser.wait_for_auth_state("anonymous").await;

    browser.switch_to(&first_tab).await;
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

// docs/contract.md §2: a session that ends while a protected page is open (here a logout in
// another tab) hides that page at once and offers `Log in`; the tab does not leave for the
// provider's login page by itself. The guard sends only visitors who *arrive* signed out.
#[tokio::test(flavor = "multi_thread")]
async fn a_logout_in_another_tab_hides_a_protected_page_without_sending_it_to_the_provider() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack.login_as(&browser, &ALICE).await;
    follow_nav(&browser, "Profile").await;
    wait_for_heading(&browser, "Profile").await;
    run_js(
        &browser,
        "window.journeyMarker = 'profile tab'; return null;",
    )
    .await;

    let (profile_tab, _second) = browser.open_tab().await;
    let second_app = App::open(&browser, &stack.spa, "/").await;
    browser.wait_for_auth_state("authenticated").await;
    second_app.log_out().await;
    browser.wait_for_auth_state("anonymous").await;

    browser.switch_to(&profile_tab).await;
    browser.wait_for_auth_state("anonymous").await;
    wait_for_heading(&browser, "Sign-in needed").await;
    app.log_in_button().await;
    stays_anonymous_on_the_app(
        &browser,
        &stack,
        "the profile tab stays on the app, signed out",
    )
    .await;
    assert_eq!(browser.current_url().await, stack.spa.url("/profile"));
    assert_eq!(
        run_js(&browser, "return window.journeyMarker || null;").await,
        Value::String("profile tab".into()),
        "the profile tab was reloaded or left"
    );
    let text = browser.text_of("body").await;
    assert!(
        !text.contains(ALICE.name) && !text.contains("Token inspector"),
        "the signed-out tab still shows the profile: {text}"
    );
    browser.screenshot("silent-protected-tab-logged-out").await;
    browser.close().await;
}

// OIDC Core §3.1.2.1 `prompt=none` in the code flow (without `useRefreshTokens`): with tokens
// in memory, a reload signs the user in again through the hidden iframe, which receives a code
// by `web_message` (with a fresh PKCE challenge) that is redeemed at the token endpoint; the
// login form is never shown.
#[tokio::test(flavor = "multi_thread")]
async fn with_the_code_flow_a_reload_signs_in_again_through_the_iframe_with_a_code() {
    let stack = Stack::start(StackOptions::default().code_flow()).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;
    let silent_before = stack.silent_authorize_requests().len();
    let redemptions_before = redemptions(&stack);

    reload_and_wait_until_signed_in_again(&browser, &stack).await;
    wait_for_header_user(&browser, ALICE.name).await;
    wait_for_heading(&browser, "Profile").await;
    assert_eq!(stack.app_path(&browser).await.as_deref(), Some("/profile"));

    let silent = stack.silent_authorize_requests();
    assert_eq!(
        silent.len(),
        silent_before + 1,
        "one silent request restores the session: {silent:?}"
    );
    let reload = &silent[silent.len() - 1];
    assert_eq!(reload.param("response_type"), Some("code"), "{reload:?}");
    assert_eq!(reload.param("response_mode"), Some("web_message"));
    assert_eq!(reload.param("code_challenge_method"), Some("S256"));
    assert!(
        !reload
            .param("scope")
            .unwrap_or_default()
            .contains("offline_access"),
        "without useRefreshTokens no refresh token is asked for: {reload:?}"
    );
    assert_eq!(
        redemptions(&stack),
        redemptions_before + 1,
        "the iframe's code must be redeemed once: {:?}",
        stack.provider_requests_to("/oauth/token")
    );
    assert_eq!(session_fact(&browser, "data-flow").await, "code");
    assert_eq!(
        browser
            .find_all_css("iframe[title='silent sign-in']")
            .await
            .len(),
        0,
        "the silent sign-in iframe was left in the page"
    );
    browser.screenshot("silent-code-reloaded").await;

    browser.close().await;
}

// README (Where tokens live) with `cacheLocation: local` and `useRefreshTokens`: a reload, and
// a second tab, restore the session from the stored tokens with no `prompt=none` request, the
// setup that keeps working when third-party cookies are blocked. `Log out` in one tab signs
// the other out in place (BroadcastChannel), revokes the refresh token (RFC 7009) and leaves
// no token or refresh token in storage.
#[tokio::test(flavor = "multi_thread")]
async fn with_stored_refresh_tokens_reloads_and_new_tabs_need_no_iframe_and_logout_clears_every_tab(
) {
    let stack = Stack::start(
        StackOptions::default()
            .refresh_tokens()
            .cache_location("local"),
    )
    .await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack.login_as(&browser, &ALICE).await;
    let refresh_token = stack
        .issued_refresh_tokens()
        .pop()
        .unwrap_or_else(|| panic!("the code flow login got no refresh token"));
    assert!(
        storage_entries(&browser)
            .await
            .iter()
            .any(|entry| entry.contains(&refresh_token)),
        "cacheLocation local keeps the refresh token with the other tokens"
    );
    let silent_before = stack.silent_authorize_requests().len();

    // A full page load of a deep link.
    browser.goto(&stack.spa.url("/profile")).await;
    wait_for_heading(&browser, "Profile").await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;
    // Read now, checked last: the rest of the journey does not depend on it.
    let refresh_fact = session_fact(&browser, "data-refresh-token").await;
    follow_nav(&browser, "Home").await;
    wait_for_heading(&browser, "Hashgate").await;
    // Survives only as long as this page is not reloaded or navigated away.
    run_js(&browser, "window.journeyMarker = 'first tab'; return null;").await;

    let (first_tab, _second) = browser.open_tab().await;
    let second_app = App::open(&browser, &stack.spa, "/").await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;
    let silent = stack.silent_authorize_requests();
    assert_eq!(
        silent.len(),
        silent_before,
        "a reload or a new tab used the iframe although a refresh token is stored: {silent:?}"
    );

    let before_logout = stack.provider_request_count();
    second_app.log_out().await;
    stack
        .wait_for_provider_logout(&browser, before_logout)
        .await;
    second_app.wait_for_shell().await;
    browser.wait_for_auth_state("anonymous").await;
    let revoked: Vec<_> = stack.provider_requests_to("/oauth/revoke");
    assert!(
        revoked
            .iter()
            .any(|r| r.param("token") == Some(refresh_token.as_str()) && r.status == 200),
        "the stored refresh token was not revoked; the provider saw {:?}",
        stack.provider_requests()
    );

    browser.switch_to(&first_tab).await;
    browser.wait_for_auth_state("anonymous").await;
    app.log_in_button().await;
    assert_eq!(header_user(&browser).await, None);
    assert_eq!(
        run_js(&browser, "return window.journeyMarker || null;").await,
        Value::String("first tab".into()),
        "the first tab must be signed out in place, not reloaded or sent to the provider"
    );
    let left: Vec<String> = storage_entries(&browser)
        .await
        .into_iter()
        .filter(|entry| entry.contains("eyJ") || entry.contains(&refresh_token))
        .map(|entry| entry.split('=').next().unwrap_or_default().to_owned())
        .collect();
    assert!(
        left.is_empty(),
        "tokens are still stored after logging out, under {left:?}"
    );
    browser.screenshot("silent-code-other-tab-logged-out").await;

    // docs/contract.md §3 (what tests can see): the inspector says a refresh token is held.
    assert_eq!(
        refresh_fact, "true",
        "the token inspector's `dd[data-refresh-token]` does not say a refresh token is held"
    );
    browser.close().await;
}

// RFC 6749 §6 with rotation (RFC 9700 §4.14.2): with `useRefreshTokens`, short-lived access
// tokens are renewed before they expire by redeeming the refresh token, with no iframe; each
// refresh presents the token the previous answer issued, the inspector's rotation count rises,
// and the API (which here allows no clock leeway) keeps answering 200 after the first token's
// lifetime.
#[tokio::test(flavor = "multi_thread")]
async fn with_refresh_tokens_short_lived_tokens_are_renewed_without_the_iframe_and_rotate() {
    let stack =
        Stack::start(StackOptions::short_lived_tokens(SHORT_LIFETIME_SECS).refresh_tokens()).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;
    let silent_before = stack.silent_authorize_requests().len();
    let first = access_token_claims(&browser)
        .await
        .unwrap_or_else(|| panic!("the token inspector shows no access token claims"));
    let first_exp = claim_i64(&first, "exp");
    assert_eq!(rotations(&browser).await, Some(0));

    // Renewal is due half-way, every ~3 s: two rotations within a few seconds.
    browser
        .wait_until("the token inspector counts two rotations", || {
            let browser = &browser;
            async move { rotations(browser).await.is_some_and(|count| count >= 2) }
        })
        .await;
    let renewed = access_token_claims(&browser)
        .await
        .unwrap_or_else(|| panic!("the token inspector shows no access token claims"));
    assert!(
        claim_i64(&renewed, "exp") > first_exp,
        "the inspector counts rotations but shows the first access token"
    );
    // Read now, checked last: the rest of the journey does not depend on it.
    let refresh_fact = session_fact(&browser, "data-refresh-token").await;
    browser.screenshot("silent-code-rotated").await;

    let token_requests = stack.provider_requests_to("/oauth/token");
    assert_rotation_chain(&token_requests);
    assert!(
        token_requests
            .iter()
            .filter(|r| r.param("grant_type") == Some("refresh_token"))
            .count()
            >= 2,
        "{token_requests:?}"
    );

    follow_nav(&browser, "External API").await;
    let page = ExternalApi::wait(&browser).await;
    sleep_until_unix(first_exp + 1).await;
    let private = page.call("Call private", "/api/private").await;
    assert_eq!(
        private.status, 200,
        "after the first token expired: {private:?}"
    );
    assert!(private.body.contains(&ALICE.sub()), "{private:?}");
    assert_eq!(browser.auth_state().await, "authenticated");
    assert_eq!(
        stack.silent_authorize_requests().len(),
        silent_before,
        "a renewal used the iframe although a refresh token is held"
    );
    assert_rotation_chain(&stack.provider_requests_to("/oauth/token"));

    // docs/contract.md §3 (what tests can see): the inspector says a refresh token is held.
    assert_eq!(
        refresh_fact, "true",
        "the token inspector's `dd[data-refresh-token]` does not say a refresh token is held"
    );
    browser.close().await;
}

// RFC 6749 §5.2 invalid_grant: once the session is ended at the provider (here from another
// window), which revokes its refresh tokens, the next refresh is refused, and every tab of the
// app signs out with a sentence saying the session has ended; nothing starts a login by
// itself.
#[tokio::test(flavor = "multi_thread")]
async fn with_refresh_tokens_a_session_ended_at_the_provider_signs_every_tab_out_with_a_sentence() {
    let stack =
        Stack::start(StackOptions::short_lived_tokens(SHORT_LIFETIME_SECS).refresh_tokens()).await;
    let mut browser = Browser::launch().await;
    // A tab that was hidden when its renewal fell due looks again 30 s later.
    browser.set_timeout(Duration::from_secs(45));
    let browser = browser;
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack.login_as(&browser, &ALICE).await;

    let client = browser.client().clone();
    let (first_tab, second) = browser.open_tab().await;
    // The second tab signs in silently (a code through the iframe) from the provider session.
    App::open(&browser, &stack.spa, "/").await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;

    let other = client
        .new_window(false)
        .await
        .expect("opening another window");
    browser.switch_to(&other.handle).await;
    browser.goto(&stack.provider_logout_url()).await;
    let text = browser.text_of("body").await;
    assert!(
        text.contains("You are logged out"),
        "the provider's logout page says: {text}"
    );
    let logged_out_at = stack.provider_requests().len();
    client
        .close_window()
        .await
        .expect("closing the other window");

    for (tab, handle) in [("first", first_tab), ("second", second)] {
        browser.switch_to(&handle).await;
        browser.wait_for_auth_state("error").await;
        let alert = browser.alert_text().await;
        assert!(
            alert.contains("session has ended"),
            "the {tab} tab's alert does not say the session has ended: {alert:?}"
        );
        app.log_in_button().await;
        assert_eq!(header_user(&browser).await, None, "the {tab} tab");
        browser
            .screenshot(&format!("silent-code-session-ended-{tab}-tab"))
            .await;
    }
    let refused: Vec<ProviderRequest> = stack.provider_requests()[logged_out_at..]
        .iter()
        .filter(|r| r.path == "/oauth/token")
        .cloned()
        .collect();
    assert!(
        refused
            .iter()
            .any(|r| r.param("grant_type") == Some("refresh_token") && r.status == 400),
        "no refresh was refused after the provider logout: {refused:?}"
    );

    let app_origin = stack.spa.origin().to_owned();
    assert_stays(
        &browser,
        SETTLE,
        "the tab stays on the app, signed out with its sentence",
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

    browser.close().await;
}

/// How many codes the token endpoint has redeemed.
fn redemptions(stack: &Stack) -> usize {
    stack
        .token_grants()
        .iter()
        .filter(|grant| *grant == "authorization_code")
        .count()
}

/// Fails unless every refresh in `token_requests` succeeded and presented the refresh token the
/// answer before it issued (RFC 9700 §4.14.2: a rotated token is used once, then replaced).
fn assert_rotation_chain(token_requests: &[ProviderRequest]) {
    for (at, request) in token_requests.iter().enumerate() {
        if request.param("grant_type") != Some("refresh_token") {
            continue;
        }
        assert_eq!(
            request.status, 200,
            "refresh #{at} was refused: {request:?}"
        );
        let previous = token_requests[..at]
            .iter()
            .rev()
            .find_map(|earlier| earlier.issued_refresh_token.as_deref());
        assert!(
            previous.is_some() && request.param("refresh_token") == previous,
            "refresh #{at} did not present the newest refresh token: {token_requests:?}"
        );
    }
}

/// Reloads the page and waits until it is signed in again, failing at once if the reload left
/// the app (for the provider's login page) instead of signing in silently.
async fn reload_and_wait_until_signed_in_again(browser: &Browser, stack: &Stack) {
    if let Err(error) = browser.client().refresh().await {
        panic!("reloading failed: {error}");
    }
    let app_origin = stack.spa.origin().to_owned();
    browser
        .wait_until("the reloaded page is signed in again", || {
            let app_origin = app_origin.clone();
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
}

/// Checks for [`SETTLE`] that the page stays on the app's origin, signed out: no login is
/// started by itself.
async fn stays_anonymous_on_the_app(browser: &Browser, stack: &Stack, what: &str) {
    let app_origin = stack.spa.origin().to_owned();
    let stays = || {
        let app_origin = app_origin.clone();
        async move {
            browser.current_url().await.starts_with(&app_origin)
                && browser.auth_state().await == "anonymous"
        }
    };
    assert_stays(browser, SETTLE, what, stays).await;
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
