//! End to end, in headless Chromium: the External API page calling a real `hashgate-api`
//! with tokens from a real `hashgate-idp` (docs/contract.md §2 and §4), obtained with the
//! implicit grant or with the authorization code flow with PKCE. Each test is a journey a user
//! makes.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_api -- --test-threads=2`.
//! Screenshots land in `target/screenshots/`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use support::pages::{
    follow_nav, session_fact, wait_for_heading, CallResult, DemoUser, ExternalApi, ALICE, BOB,
};
use support::stack::{Stack, StackOptions};
use support::Browser;

/// Signs `user` in through a deep link to `/external-api` and returns the page.
async fn sign_in_on_external_api<'a>(
    stack: &Stack,
    browser: &'a Browser,
    user: &DemoUser,
) -> ExternalApi<'a> {
    browser.goto(&stack.spa.url("/external-api")).await;
    stack.login_as(browser, user).await;
    assert_eq!(
        stack.app_path(browser).await.as_deref(),
        Some("/external-api")
    );
    ExternalApi::wait(browser).await
}

// docs/contract.md §2 and §4: a signed-in demo user calls each endpoint from the page: public,
// private (which answers with her `sub`) and private-scoped all say 200.
#[tokio::test(flavor = "multi_thread")]
async fn alice_calls_each_endpoint_and_gets_200_with_her_sub_from_private() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    let page = sign_in_on_external_api(&stack, &browser, &ALICE).await;

    let public = page.call("Call public", "/api/public").await;
    assert_eq!(public.status, 200, "public: {public:?}");
    assert!(public.body.contains("public endpoint"), "{public:?}");

    let (private, scoped) = alice_calls_the_private_endpoints(&page).await;

    for result in [&public, &private, &scoped] {
        assert_eq!(result.alert, None, "a 200 shows no alert: {result:?}");
    }
    browser.screenshot("api-alice-endpoints").await;

    // Calling again shows a fresh answer (the helper waits for the old one to go).
    let again = page.call("Call private", "/api/private").await;
    assert_eq!(again.status, 200, "second private call: {again:?}");

    browser.close().await;
}

// docs/contract.md §4: `POST /api/messages` with `write:messages` stores the message, and the list the
// page loads afterwards shows it.
#[tokio::test(flavor = "multi_thread")]
async fn alice_posts_a_message_and_sees_it_in_her_list() {
    let stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    let page = sign_in_on_external_api(&stack, &browser, &ALICE).await;

    let text = "Hello from the journey test <b>not bold</b>";
    let posted = page.post_message(text).await;
    assert!(
        matches!(posted.status, 200 | 201),
        "posting as Alice: {posted:?}"
    );
    assert_eq!(posted.alert, None, "posting as Alice: {posted:?}");
    page.wait_for_message(text).await;
    // Escaped text, never HTML (security rule: errors and data shown as text).
    assert!(
        browser.find_all_css("ul.message-list b").await.is_empty(),
        "a message's markup was rendered as HTML"
    );
    assert_eq!(page.message_texts().await, vec![text.to_owned()]);
    browser.screenshot("api-alice-message").await;

    browser.close().await;
}

// RFC 6750 §3.1 insufficient_scope: Bob lacks `write:messages`; posting shows the
// 403 as a sentence naming the missing permission, and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn bob_posting_a_message_is_told_it_needs_write_messages() {
    bob_posts_a_message_and_is_refused(StackOptions::default(), "api-bob-403").await;
}

// api/README.md: messages survive an API restart (SQLite in the data directory).
#[tokio::test(flavor = "multi_thread")]
async fn messages_survive_an_api_restart() {
    let mut stack = Stack::start(StackOptions::default()).await;
    let browser = Browser::launch().await;
    let page = sign_in_on_external_api(&stack, &browser, &ALICE).await;
    let text = "Written before the restart";
    page.post_message(text).await;
    page.wait_for_message(text).await;

    stack.restart_api().await;

    // Leave and come back inside the app (no reload), so the list starts empty and must be
    // fetched again from the new server.
    follow_nav(&browser, "Home").await;
    wait_for_heading(&browser, "Hashgate").await;
    follow_nav(&browser, "External API").await;
    let page = ExternalApi::wait(&browser).await;
    assert!(
        page.message_texts().await.is_empty(),
        "the list should start empty"
    );
    let listed = page.load_messages(200).await;
    assert_eq!(listed.status, 200, "listing after the restart: {listed:?}");
    page.wait_for_message(text).await;

    browser.close().await;
}

// OIDC Core §3.1.3.3 and RFC 6750 §2.1: the access token the code flow redeems at the token
// endpoint is one hashgate-api accepts (docs/contract.md §4): Alice's private and
// private-scoped calls say 200 with her `sub`, and the message she posts is stored and listed.
#[tokio::test(flavor = "multi_thread")]
async fn with_the_code_flow_alice_calls_the_private_endpoints_and_posts_a_message() {
    let stack = Stack::start(StackOptions::default().refresh_tokens()).await;
    let browser = Browser::launch().await;
    let page = sign_in_on_external_api(&stack, &browser, &ALICE).await;
    assert_eq!(
        stack.token_grants(),
        vec!["authorization_code".to_owned()],
        "the tokens must come from one code redemption"
    );

    alice_calls_the_private_endpoints(&page).await;

    let text = "Posted with a code-flow token";
    let posted = page.post_message(text).await;
    assert!(
        matches!(posted.status, 200 | 201),
        "posting as Alice: {posted:?}"
    );
    assert_eq!(posted.alert, None, "posting as Alice: {posted:?}");
    page.wait_for_message(text).await;
    browser.screenshot("api-code-alice").await;

    // The session the calls used is the code flow's.
    follow_nav(&browser, "Profile").await;
    assert_eq!(session_fact(&browser, "data-flow").await, "code");

    browser.close().await;
}

// RFC 6750 §3.1 insufficient_scope, in the code flow: Bob's token lacks `write:messages`, so
// posting shows the 403 as a sentence naming the missing permission and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn with_the_code_flow_bob_posting_a_message_is_told_it_needs_write_messages() {
    bob_posts_a_message_and_is_refused(
        StackOptions::default().refresh_tokens(),
        "api-code-bob-403",
    )
    .await;
}

/// Signs Bob in on the External API page of a stack started with `options` and posts a
/// message: the 403 is shown as a sentence naming the missing permission (saved as
/// `screenshot`), and Bob may still read (read:messages): his list is there and empty.
async fn bob_posts_a_message_and_is_refused(options: StackOptions, screenshot: &str) {
    let stack = Stack::start(options).await;
    let browser = Browser::launch().await;
    let page = sign_in_on_external_api(&stack, &browser, &BOB).await;

    let posted = page.post_message("Bob was here").await;
    assert_eq!(posted.status, 403, "posting as Bob: {posted:?}");
    let alert = posted
        .alert
        .clone()
        .unwrap_or_else(|| panic!("a 403 must show an alert: {posted:?}"));
    assert!(
        alert.contains(
            "You don't have permission for this (it needs the write:messages permission)"
        ),
        "the 403 alert says: {alert}"
    );
    browser.screenshot(screenshot).await;

    let listed = page.load_messages(200).await;
    assert_eq!(listed.status, 200, "listing as Bob: {listed:?}");
    assert_eq!(
        page.message_texts().await,
        Vec::<String>::new(),
        "Bob's refused message was stored"
    );

    browser.close().await;
}

/// Calls `/api/private` and `/api/private-scoped` signed in as Alice: both answer 200, the first
/// with her `sub`, the second naming `read:messages`.
async fn alice_calls_the_private_endpoints(page: &ExternalApi<'_>) -> (CallResult, CallResult) {
    let private = page.call("Call private", "/api/private").await;
    assert_eq!(private.status, 200, "private: {private:?}");
    assert!(
        private.body.contains(&ALICE.sub()),
        "/api/private does not answer with Alice's sub: {private:?}"
    );
    let scoped = page
        .call("Call private-scoped", "/api/private-scoped")
        .await;
    assert_eq!(scoped.status, 200, "private-scoped: {scoped:?}");
    assert!(scoped.body.contains("read:messages"), "{scoped:?}");
    (private, scoped)
}
