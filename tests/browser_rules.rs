//! End to end, in headless Chromium: the provider's Auth0-style rules reach the app.
//!
//! idp/README.md (rules): the shipped rules in `idp/rules/` add a namespaced roles claim (shown on the
//! profile page) and deny a blocked email domain (shown to the user as an error). In the code
//! flow the rules see `context.protocol` as `oidc-basic-profile` at login and
//! `oauth2-refresh-token` on a refresh, and a denial reaches the app in the callback's query.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_rules`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use support::pages::{rotations, session_fact, wait_for_heading, ALICE};
use support::stack::{Stack, StackOptions};
use support::{inspector_json, Browser};

/// A rule that shows which protocol the provider ran it for, as an ID token claim.
const PROTOCOL_RULE: &str = "function (user, context, callback) {\n\
  context.idToken['https://hashgate.dev/protocol'] = context.protocol;\n\
  callback(null, user, context);\n\
}\n";
/// The claim [`PROTOCOL_RULE`] adds.
const PROTOCOL_CLAIM: &str = "https://hashgate.dev/protocol";
/// The claim the shipped `30-implicit-only.js` adds to implicit logins only.
const IMPLICIT_CLAIM: &str = "https://hashgate.dev/grant";

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
    mallory_is_refused_by_the_rule(&stack, &browser).await;
    assert!(browser.current_url().await.starts_with(stack.spa.origin()));
    browser.screenshot("rules-denied").await;
    browser.close().await;
}

// idp/README.md (rules, "protocol"): a code-flow login runs the rules with
// `context.protocol === 'oidc-basic-profile'` and a refresh runs them again with
// `'oauth2-refresh-token'`; what they add reaches the ID token the app shows. The shipped
// `30-implicit-only.js` marks implicit logins only, so the code flow's tokens carry no grant
// claim, while the roles rule still applies.
#[tokio::test(flavor = "multi_thread")]
async fn code_flow_rules_see_the_basic_profile_protocol_at_login_and_refresh_at_renewal() {
    let stack = Stack::start(
        StackOptions::short_lived_tokens(6)
            .refresh_tokens()
            .with_rule("90-protocol.js", PROTOCOL_RULE),
    )
    .await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;
    assert_eq!(session_fact(&browser, "data-flow").await, "code");

    let claims = browser.text_of("table.claims").await;
    assert!(
        claims.contains(PROTOCOL_CLAIM) && claims.contains("oidc-basic-profile"),
        "the profile's custom claims do not show the login's protocol: {claims:?}"
    );
    assert!(
        !claims.contains(IMPLICIT_CLAIM),
        "30-implicit-only.js marked a code-flow login: {claims:?}"
    );
    let roles = browser.text_of("dd.roles").await;
    assert!(roles.contains("admin"), "roles shown: {roles:?}");
    browser.screenshot("rules-code-profile").await;

    // A refresh (due half-way, after ~3 s) runs the rules again under its own protocol.
    browser
        .wait_until("the ID token of a refresh is shown", || {
            let browser = &browser;
            async move { rotations(browser).await.is_some_and(|count| count >= 1) }
        })
        .await;
    let refreshed = inspector_json(&browser, "ID token", 1)
        .await
        .unwrap_or_else(|| panic!("the token inspector shows no ID token claims"));
    assert_eq!(
        refreshed[PROTOCOL_CLAIM], "oauth2-refresh-token",
        "the refreshed ID token's claims: {refreshed}"
    );
    assert!(refreshed.get(IMPLICIT_CLAIM).is_none(), "{refreshed}");
    browser.close().await;
}

// idp/README.md (rules): in the code flow a rule's `UnauthorizedError` ends the login with
// error=unauthorized in the callback's query (RFC 6749 §4.1.2.1); the app shows the rule's
// message as text, redeems nothing, and nobody is signed in.
#[tokio::test(flavor = "multi_thread")]
async fn a_code_flow_login_denied_by_a_rule_shows_the_rules_message() {
    let stack = Stack::start(StackOptions::default().refresh_tokens()).await;
    let browser = Browser::launch().await;
    mallory_is_refused_by_the_rule(&stack, &browser).await;
    let url = browser.current_url().await;
    assert!(
        url.starts_with(stack.spa.origin()),
        "left the app for {url}"
    );
    assert!(
        !url.contains("error="),
        "the error stayed in the address bar: {url}"
    );
    assert_eq!(
        stack.token_grants(),
        Vec::<String>::new(),
        "nothing to redeem"
    );
    browser.screenshot("rules-code-denied").await;
    browser.close().await;
}

/// Logs in from the home page as mallory, whom a rule refuses: the login ends in the error
/// state with the rule's message shown as text.
async fn mallory_is_refused_by_the_rule(stack: &Stack, browser: &Browser) {
    browser.goto(&stack.spa.url("/")).await;
    browser.wait_for_auth_state("anonymous").await;
    browser.click_button("Log in").await;
    stack
        .submit_login(browser, "mallory", "mallory-password")
        .await;
    stack.answer_consent(browser, "Allow").await;

    browser.wait_for_auth_state("error").await;
    let alert = browser.alert_text().await;
    assert!(
        alert.contains("may not sign in to this app"),
        "the rule's message reaches the user: {alert:?}"
    );
}
