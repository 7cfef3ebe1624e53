//! End to end, in headless Chromium: logging in and out of the release build against a
//! real `hashgate-idp` (README, "What the app checks"), with the implicit grant (the default)
//! and with the authorization code flow with PKCE (`"responseType": "code"`). Each test is a
//! journey a user makes.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_login -- --test-threads=2`.
//! Screenshots land in `target/screenshots/`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use std::time::Duration;

use serde_json::Value;

use support::pages::{
    assert_stays, header_user, run_js, s256_challenge, session_fact, storage_entries,
    wait_for_header_user, wait_for_heading, ALICE, CLIENT_ID,
};
use support::stack::{Stack, StackOptions};
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
    log_in_and_allow_the_first_consent(&stack, &browser, "login-idp-consent").await;

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
    deny_consent_from_a_protected_page(&stack, &browser, "login-consent-denied").await;

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

// OIDC Core §3.1.3 and RFC 7636 §4: with `"responseType": "code"` a signed-out deep link
// goes through the provider's login and consent pages with an S256 challenge; the code is
// redeemed once, with the verifier whose SHA-256 is that challenge, and the app lands on the
// deep link (docs/contract.md §2). docs/contract.md §3: the code and the tokens are left
// neither in the address bar nor in history, and with `cacheLocation: memory` nothing of the
// session (tokens, refresh token, verifier) is in Web Storage. The token inspector says the
// code flow signed the user in and that a refresh token is held, never showing it.
#[tokio::test(flavor = "multi_thread")]
async fn a_code_flow_login_from_a_deep_link_uses_pkce_and_leaves_no_code_or_token_behind() {
    let stack = Stack::start(StackOptions::default().refresh_tokens()).await;
    let browser = Browser::launch().await;
    browser
        .goto(&stack.spa.url("/profile?from=deep-link"))
        .await;
    stack.wait_for_login_form(&browser).await;
    browser.screenshot("login-code-idp-form").await;

    // RFC 7636 §4.3: the interactive request asks for a code with an S256 challenge, and
    // (useRefreshTokens) for offline_access.
    let login = stack
        .provider_requests_to("/authorize")
        .into_iter()
        .find(|request| request.param("prompt") != Some("none"))
        .unwrap_or_else(|| panic!("no interactive /authorize request was made"));
    assert_eq!(login.param("response_type"), Some("code"), "{login:?}");
    assert_eq!(login.param("code_challenge_method"), Some("S256"));
    let challenge = login.param("code_challenge").unwrap_or_default().to_owned();
    assert_eq!(challenge.len(), 43, "an S256 challenge is 43 characters");
    let scope = login.param("scope").unwrap_or_default();
    assert!(
        scope.split(' ').any(|s| s == "offline_access"),
        "useRefreshTokens must ask for offline_access: scope {scope:?}"
    );
    assert_eq!(
        login.param("response_mode"),
        None,
        "the code comes in the query"
    );

    log_in_and_allow_the_first_consent(&stack, &browser, "login-code-idp-consent").await;

    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;
    wait_for_heading(&browser, "Profile").await;
    assert_eq!(
        stack.app_path(&browser).await.as_deref(),
        Some("/profile?from=deep-link")
    );

    // RFC 7636 §4.5 and §4.6: one redemption, carrying the verifier of that challenge.
    let redemptions: Vec<_> = stack
        .provider_requests_to("/oauth/token")
        .into_iter()
        .filter(|request| request.param("grant_type") == Some("authorization_code"))
        .collect();
    assert_eq!(redemptions.len(), 1, "{redemptions:?}");
    let redemption = &redemptions[0];
    assert_eq!(redemption.method, "POST");
    assert_eq!(redemption.status, 200, "{redemption:?}");
    assert_eq!(redemption.param("client_id"), Some(CLIENT_ID));
    assert_eq!(
        redemption.origin.as_deref(),
        Some(stack.spa.origin()),
        "the code must be redeemed by the app in the browser"
    );
    assert_eq!(
        redemption.param("redirect_uri"),
        Some(stack.spa.url("/callback").as_str())
    );
    let verifier = redemption.param("code_verifier").unwrap_or_default();
    // RFC 7636 §4.1: 43 to 128 unreserved characters.
    assert!(
        (43..=128).contains(&verifier.len())
            && verifier
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)),
        "the code verifier is not 43-128 unreserved characters (length {})",
        verifier.len()
    );
    assert_eq!(
        s256_challenge(verifier),
        challenge,
        "the verifier is not the one the challenge was made from"
    );
    let code = redemption.param("code").unwrap_or_default().to_owned();
    assert!(!code.is_empty(), "the redemption carried no code");
    // The verifier goes to the token endpoint only.
    let elsewhere: Vec<_> = stack
        .provider_requests()
        .into_iter()
        .filter(|request| request.path != "/oauth/token" && request.mentions(verifier))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "the verifier was sent to {elsewhere:?}"
    );

    assert_eq!(session_fact(&browser, "data-flow").await, "code");
    // Read now, checked last: the rest of the journey does not depend on it.
    let refresh_fact = session_fact(&browser, "data-refresh-token").await;
    assert_eq!(session_fact(&browser, "data-rotations").await, "0");
    browser.screenshot("login-code-profile").await;

    let refresh_tokens = stack.issued_refresh_tokens();
    assert_eq!(refresh_tokens.len(), 1, "one login, one refresh token");
    let page = browser
        .client()
        .source()
        .await
        .unwrap_or_else(|error| panic!("cannot read the page source: {error}"));
    assert!(
        !page.contains(&refresh_tokens[0]),
        "the refresh token is on the page"
    );
    let stored = storage_entries(&browser).await.join("\n");
    for (what, secret) in [
        ("a token", "eyJ"),
        ("the refresh token", refresh_tokens[0].as_str()),
        ("the code verifier", verifier),
        ("the code", code.as_str()),
    ] {
        assert!(
            !stored.contains(secret),
            "Web Storage holds {what} with cacheLocation memory"
        );
    }

    assert_no_code_in_address(&browser, &stack, &code).await;
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
        let place = format!("history entry -{step}");
        assert_token_free(&url, &place);
        assert!(
            !url.contains(&code),
            "{place} holds the code (URL withheld)"
        );
        if url.starts_with(stack.spa.origin()) {
            assert_code_response_free(&url, &place);
        }
    }

    // docs/contract.md §3 (what tests can see): the inspector says a refresh token is held.
    assert_eq!(
        refresh_fact, "true",
        "the token inspector's `dd[data-refresh-token]` does not say a refresh token is held"
    );
    browser.close().await;
}

// RFC 6749 §4.1.2.1 access_denied, in the code flow: the error comes back in the query of
// /callback; it is taken out of the address bar, shown as a sentence, no code is redeemed,
// and the app does not start another login by itself.
#[tokio::test(flavor = "multi_thread")]
async fn denying_consent_in_the_code_flow_shows_that_access_was_denied_and_does_not_loop() {
    let stack = Stack::start(StackOptions::default().refresh_tokens()).await;
    let browser = Browser::launch().await;
    deny_consent_from_a_protected_page(&stack, &browser, "login-code-consent-denied").await;

    let app_origin = stack.spa.origin().to_owned();
    assert_stays(
        &browser,
        SETTLE,
        "the app stays put in the error state with the response out of the address bar",
        || {
            let app_origin = app_origin.clone();
            let browser = &browser;
            async move {
                let url = browser.current_url().await;
                url.starts_with(&app_origin)
                    && !url.contains("error=")
                    && !url.contains("state=")
                    && browser.auth_state().await == "error"
            }
        },
    )
    .await;
    assert_eq!(
        stack.token_grants(),
        Vec::<String>::new(),
        "nothing to redeem"
    );
    browser.button("Log in").await;
    assert_eq!(header_user(&browser).await, None, "nobody may be signed in");

    browser.close().await;
}

// RFC 7009 §2.1: `Log out` revokes the refresh token at the provider's revocation endpoint,
// then ends the provider's session (OIDC RP-Initiated Logout 1.0) and comes back signed out.
// Proven at the provider: it was asked to revoke exactly the token it last issued, before the
// logout, and afterwards refuses that token (RFC 6749 §5.2 invalid_grant); a protected page
// asks for the password again.
#[tokio::test(flavor = "multi_thread")]
async fn logging_out_of_a_code_flow_session_revokes_its_refresh_token_at_the_provider() {
    let stack = Stack::start(StackOptions::default().refresh_tokens()).await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack.login_as(&browser, &ALICE).await;
    let refresh_token = stack
        .issued_refresh_tokens()
        .pop()
        .unwrap_or_else(|| panic!("the code flow login got no refresh token"));

    let before_logout = stack.provider_request_count();
    app.log_out().await;
    stack
        .wait_for_provider_logout(&browser, before_logout)
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
    browser.screenshot("login-code-logged-out").await;

    let requests = stack.provider_requests();
    let revoked = requests
        .iter()
        .position(|r| r.path == "/oauth/revoke")
        .unwrap_or_else(|| panic!("no revocation request reached the provider: {requests:?}"));
    // The provider's end_session_endpoint, or Auth0's /v2/logout.
    let ended = requests
        .iter()
        .position(|r| r.path == "/oidc/logout" || r.path == "/v2/logout")
        .unwrap_or_else(|| panic!("the provider's session was not ended: {requests:?}"));
    let revocation = &requests[revoked];
    assert_eq!(revocation.method, "POST", "{revocation:?}");
    assert_eq!(revocation.status, 200, "{revocation:?}");
    assert!(
        revocation.param("token") == Some(refresh_token.as_str()),
        "the revocation did not carry the refresh token the provider last issued: {revocation:?}"
    );
    assert_eq!(revocation.param("client_id"), Some(CLIENT_ID));
    assert!(
        revoked < ended,
        "revocation must come before the provider logout: {requests:?}"
    );

    let (status, answer) = redeem_refresh_token(&stack, &refresh_token).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant")),
        "the provider still honours the refresh token after logout: {answer}"
    );

    browser.goto(&stack.spa.url("/profile")).await;
    stack.wait_for_login_form(&browser).await;

    browser.close().await;
}

/// Presents `refresh_token` at the provider's token endpoint as the app would (RFC 6749 §6)
/// and returns the status and the JSON answer.
async fn redeem_refresh_token(stack: &Stack, refresh_token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}oauth/token", stack.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST /oauth/token failed: {error}"));
    let status = response.status().as_u16();
    let answer = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, answer)
}

/// Fails if the address bar holds `code`, an authorization response or a token.
async fn assert_no_code_in_address(browser: &Browser, stack: &Stack, code: &str) {
    assert_no_token_in_address(browser, stack).await;
    let url = browser.current_url().await;
    assert!(!url.contains(code), "the address bar still holds the code");
    assert_code_response_free(&url, "the address bar");
}

/// Fails if `url` carries a code-flow authorization response in its query.
fn assert_code_response_free(url: &str, place: &str) {
    let query = url
        .split_once('?')
        .map(|(_, query)| query.split('#').next().unwrap_or_default())
        .unwrap_or_default();
    for name in query
        .split('&')
        .map(|pair| pair.split('=').next().unwrap_or_default())
    {
        assert!(
            !["code", "state", "iss", "error", "session_state"].contains(&name),
            "{place} still carries `{name}` in its query"
        );
    }
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

/// Opens `/profile` signed out (the route guard is where a redirect loop would come from),
/// logs in as Alice and denies the first consent; checks that the app ends in the error state
/// with a sentence, not the raw error code, and saves a screenshot as `screenshot`.
async fn deny_consent_from_a_protected_page(stack: &Stack, browser: &Browser, screenshot: &str) {
    browser.goto(&stack.spa.url("/profile")).await;
    stack
        .submit_login(browser, ALICE.username, ALICE.password)
        .await;
    assert!(
        stack.answer_consent(browser, "Deny").await,
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
    browser.screenshot(screenshot).await;
}

/// On the provider's login form: logs in as Alice, checks that the first consent lists the
/// API permissions, saves it as `screenshot`, and allows it.
async fn log_in_and_allow_the_first_consent(stack: &Stack, browser: &Browser, screenshot: &str) {
    stack
        .submit_login(browser, ALICE.username, ALICE.password)
        .await;
    assert!(
        stack.wait_for_consent_or_app(browser).await,
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
    browser.screenshot(screenshot).await;
    browser.click_button("Allow").await;
}

// RFC 9700 §4.14.2, against hashgate-idp's own reuse detection: "Duplicate tab" copies
// sessionStorage, refresh token included. The original and the copy are due for renewal at the
// same moment; one redeems the token, the other never presents the spent copy (it renews
// through the provider's session instead), so the provider never revokes the family and both
// stay signed in.
#[tokio::test(flavor = "multi_thread")]
async fn a_duplicated_tab_and_its_original_both_renew_without_tripping_reuse_detection() {
    let stack = Stack::start(
        StackOptions::short_lived_tokens(12)
            .refresh_tokens()
            .cache_location("session"),
    )
    .await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    browser.wait_for_auth_state("authenticated").await;
    let original = browser
        .client()
        .window()
        .await
        .unwrap_or_else(|e| panic!("no current window: {e}"));
    let copied = run_js(
        &browser,
        "return JSON.stringify(Object.entries(sessionStorage));",
    )
    .await;
    // A second window (not a background tab, so that both renew on time), its sessionStorage
    // copied before the app starts, as "Duplicate tab" does.
    let duplicate = browser
        .client()
        .new_window(false)
        .await
        .unwrap_or_else(|e| panic!("opening a window failed: {e}"))
        .handle;
    browser.switch_to(&duplicate).await;
    browser.goto(&stack.spa.url("/auth_config.json")).await;
    browser
        .client()
        .execute(
            "for (const [k, v] of JSON.parse(arguments[0])) sessionStorage.setItem(k, v); return null;",
            vec![copied],
        )
        .await
        .unwrap_or_else(|e| panic!("copying sessionStorage failed: {e}"));
    browser.goto(&stack.spa.url("/profile")).await;
    browser.wait_for_auth_state("authenticated").await;

    // Half-way through the twelve-second lifetime both windows renew.
    browser
        .wait_until("a refresh token was redeemed", || async {
            stack.token_grants().iter().any(|g| g == "refresh_token")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    for window in [&original, &duplicate] {
        browser.switch_to(window).await;
        assert_eq!(
            browser.auth_state().await,
            "authenticated",
            "grants: {:?}; {}",
            stack.token_grants(),
            browser.describe("").await
        );
    }
    browser.close().await;
}
