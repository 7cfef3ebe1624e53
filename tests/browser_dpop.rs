//! End to end, in headless Chromium: `"useDpop": true` (RFC 9449) with `hashgate-idp` and
//! `hashgate-api`, the client requiring DPoP and the API refusing bearer tokens. The app binds
//! its tokens to a non-extractable key kept in IndexedDB: the login names the key
//! (`dpop_jkt`, §10), every token request and API call carries a proof by it, renewal, reload,
//! a second tab and logout keep to the rules, and server nonces (§8, §9) are answered once.
//!
//! Run with `cargo xtask test`, or after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_dpop -- --test-threads=2`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use support::pages::{
    follow_nav, rotations, run_js, session_fact, wait_for_heading, ExternalApi, ALICE,
};
use support::stack::{ProviderRequest, Stack, StackOptions};
use support::{App, Browser};

/// Short enough that the session is refreshed within the test, long enough for a login.
const LIFETIME_SECS: u64 = 20;

/// The claims and JWK thumbprint (RFC 7638) of a proof the provider received.
fn proof_of(request: &ProviderRequest) -> (Value, String) {
    let proof = request
        .dpop
        .as_deref()
        .unwrap_or_else(|| panic!("no DPoP proof on {} {}", request.method, request.path));
    let segment = |i: usize| -> Value {
        let text = proof.split('.').nth(i).unwrap_or_default();
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .unwrap_or_else(|e| panic!("proof segment {i} is not base64url: {e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("proof segment {i}: {e}"))
    };
    let (header, claims) = (segment(0), segment(1));
    assert_eq!(header["typ"], "dpop+jwt", "{header}");
    assert_eq!(header["alg"], "ES256", "{header}");
    let jwk = &header["jwk"];
    assert!(jwk.get("d").is_none(), "a proof's jwk holds a private key");
    let input = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap_or_default(),
        jwk["y"].as_str().unwrap_or_default()
    );
    (claims, URL_SAFE_NO_PAD.encode(Sha256::digest(input)))
}

/// The token endpoint requests so far (not their CORS preflights).
fn token_posts(stack: &Stack) -> Vec<ProviderRequest> {
    stack
        .provider_requests_to("/oauth/token")
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

/// The thumbprint the token inspector shows the session bound to (empty for bearer tokens).
async fn bound_jkt(browser: &Browser) -> String {
    session_fact(browser, "data-dpop-jkt").await
}

/// The RFC 7638 thumbprint of the DPoP key pair IndexedDB holds, if it holds one.
async fn stored_key_thumbprint(browser: &Browser) -> Option<String> {
    let point = with_stored_key_pair(
        browser,
        r#"if (!pair) return done(null);
           const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
           done({ x: jwk.x, y: jwk.y });"#,
    )
    .await;
    let (x, y) = (point["x"].as_str()?, point["y"].as_str()?);
    let input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(input)))
}

/// Runs `then` in the page, as script on it could: the body of an async function given `pair`
/// (the key pair IndexedDB holds for the app, or `null`) and `done` (returns its argument).
async fn with_stored_key_pair(browser: &Browser, then: &str) -> Value {
    let script = format!(
        r#"
        const done = arguments[0];
        const open = indexedDB.open("hashgate-auth", 1);
        open.onerror = () => done(null);
        open.onupgradeneeded = () => open.result.createObjectStore("keys");
        open.onsuccess = () => {{
            const get = open.result.transaction("keys").objectStore("keys").get("dpop");
            get.onerror = () => done(null);
            get.onsuccess = async () => {{
                open.result.close();
                const pair = get.result ?? null;
                {then}
            }};
        }};
    "#
    );
    match browser.client().execute_async(&script, Vec::new()).await {
        Ok(value) => value,
        Err(error) => panic!("reading IndexedDB failed: {error}"),
    }
}

/// Calls `/api/private` from the External API page and returns the status shown.
async fn call_private(browser: &Browser) -> u16 {
    follow_nav(browser, "External API").await;
    let page = ExternalApi::wait(browser).await;
    page.call("Call private", "/api/private").await.status
}

// RFC 9449 §§4–7, 10: the whole demo on DPoP. The login names the key's thumbprint, the code
// and every refresh are redeemed with proofs by that key and come back `token_type: DPoP` with
// `cnf.jkt`; the API (which refuses bearer tokens) answers the calls; a reload and a second tab
// sign with the same key from IndexedDB; logout deletes it and the next login binds a new one.
#[tokio::test(flavor = "multi_thread")]
async fn with_use_dpop_login_api_calls_refresh_reload_tabs_and_logout_run_on_bound_tokens() {
    let stack = Stack::start(
        StackOptions::short_lived_tokens(LIFETIME_SECS)
            .cache_location("local")
            .dpop(false),
    )
    .await;
    let mut browser = Browser::launch().await;
    browser.set_timeout(Duration::from_secs(45));
    let app = App::open(&browser, &stack.spa, "/").await;
    app.log_in().await;
    stack.login_as(&browser, &ALICE).await;
    follow_nav(&browser, "Profile").await;
    wait_for_heading(&browser, "Profile").await;

    let jkt = bound_jkt(&browser).await;
    assert_eq!(
        jkt.len(),
        43,
        "the inspector shows no key thumbprint: {jkt:?}"
    );
    assert_eq!(
        session_fact(&browser, "data-dpop-jkt").await,
        browser
            .wait_for_css("[data-cnf-jkt]")
            .await
            .attr("data-cnf-jkt")
            .await
            .ok()
            .flatten()
            .unwrap_or_default(),
        "the access token's cnf.jkt is not the browser's key"
    );
    run_js(
        &browser,
        "document.querySelector('.session-facts').scrollIntoView(); return true;",
    )
    .await;
    browser.screenshot("dpop-profile").await;
    let authorize = stack.provider_requests_to("/authorize");
    assert!(
        authorize.iter().all(|r| r.param("dpop_jkt") == Some(&jkt)),
        "every authorization request must name the key: {authorize:?}"
    );
    let tokens = token_posts(&stack);
    assert!(!tokens.is_empty());
    for request in &tokens {
        let (claims, thumbprint) = proof_of(request);
        assert_eq!(thumbprint, jkt, "a token request was signed by another key");
        assert_eq!(claims["htm"], "POST");
        assert_eq!(
            claims["htu"].as_str(),
            Some(&*format!("{}oauth/token", stack.issuer()))
        );
        assert!(
            claims.get("ath").is_none(),
            "no access token goes to the token endpoint"
        );
        assert_eq!(
            request.issued_token_type.as_deref(),
            Some("DPoP"),
            "{request:?}"
        );
    }

    assert_eq!(
        call_private(&browser).await,
        200,
        "the API refused the DPoP call"
    );

    // The refresh (after about half the lifetime) is signed by the same key.
    follow_nav(&browser, "Profile").await;
    browser
        .wait_until("the session is refreshed", || async {
            rotations(&browser).await.is_some_and(|n| n >= 1)
        })
        .await;
    let refreshes: Vec<_> = token_posts(&stack)
        .into_iter()
        .filter(|r| r.param("grant_type") == Some("refresh_token"))
        .collect();
    assert!(!refreshes.is_empty());
    for request in &refreshes {
        assert_eq!(
            proof_of(request).1,
            jkt,
            "a refresh was signed by another key"
        );
        assert_eq!(request.status, 200, "{request:?}");
    }
    assert_eq!(call_private(&browser).await, 200, "after the refresh");

    // A reload signs in from storage with the key from IndexedDB.
    browser.goto(&stack.spa.url("/profile")).await;
    browser.wait_for_auth_state("authenticated").await;
    assert_eq!(bound_jkt(&browser).await, jkt, "the reload lost the key");
    assert_eq!(call_private(&browser).await, 200, "after the reload");

    // A second tab shares the session and the key.
    let (first, second) = browser.open_tab().await;
    browser.goto(&stack.spa.url("/profile")).await;
    browser.wait_for_auth_state("authenticated").await;
    assert_eq!(
        bound_jkt(&browser).await,
        jkt,
        "the second tab signs with another key"
    );
    assert_eq!(call_private(&browser).await, 200, "from the second tab");
    // On a public page, so that the logout does not make it start a new login at once.
    follow_nav(&browser, "Home").await;
    browser.switch_to(&first).await;

    // Logout deletes the key; the next login binds a new one. (The signed-out page may make the
    // new key at once, for its silent sign-in attempt: what matters is that the old one is gone.)
    assert_eq!(
        stored_key_thumbprint(&browser).await.as_deref(),
        Some(&*jkt)
    );
    let before_logout = stack.provider_request_count();
    app.log_out().await;
    stack
        .wait_for_provider_logout(&browser, before_logout)
        .await;
    browser.wait_for_auth_state("anonymous").await;
    assert_ne!(
        stored_key_thumbprint(&browser).await.as_deref(),
        Some(&*jkt),
        "the key outlived the logout"
    );
    browser.switch_to(&second).await;
    browser.wait_for_auth_state("anonymous").await;
    browser.switch_to(&first).await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;
    let new_jkt = bound_jkt(&browser).await;
    assert_eq!(new_jkt.len(), 43);
    assert_ne!(new_jkt, jkt, "the login after a logout reused the old key");
    assert_eq!(call_private(&browser).await, 200, "with the new key");
    browser.close().await;
}

// RFC 9449 §8 and §9: with server nonces at the provider and the API, the first proof of each
// is answered `use_dpop_nonce` with a `DPoP-Nonce`; the app retries once with the nonce, and
// keeps it for its next proofs.
#[tokio::test(flavor = "multi_thread")]
async fn with_server_nonces_the_app_retries_once_with_the_nonce_at_the_provider_and_the_api() {
    let stack = Stack::start(StackOptions::default().dpop(true)).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    let tokens = token_posts(&stack);
    let statuses: Vec<u16> = tokens.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 200], "one use_dpop_nonce, then the tokens");
    let (first, _) = proof_of(&tokens[0]);
    let (second, _) = proof_of(&tokens[1]);
    assert!(first.get("nonce").is_none(), "{first}");
    assert!(
        second["nonce"].as_str().is_some_and(|n| !n.is_empty()),
        "{second}"
    );
    assert_ne!(first["jti"], second["jti"], "the retry reused the proof");
    // The API asks for its own nonce; the app answers it once and the call succeeds.
    assert_eq!(call_private(&browser).await, 200);
    assert_eq!(
        call_private(&browser).await,
        200,
        "the kept nonce serves the next call"
    );
    browser.close().await;
}

// RFC 9449 §2 and the browser-based apps BCP: the private key is a non-extractable WebCrypto
// key; script on the page (an XSS included) can neither export it nor read it from IndexedDB.
#[tokio::test(flavor = "multi_thread")]
async fn script_on_the_page_cannot_export_the_dpop_private_key() {
    let stack = Stack::start(StackOptions::default().dpop(false)).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    let result = with_stored_key_pair(
        &browser,
        r#"if (!pair) return done({ error: "no key" });
           const attempt = async (format) => {
               try { await crypto.subtle.exportKey(format, pair.privateKey); return "exported"; }
               catch (e) { return e.name; }
           };
           done({
               extractable: pair.privateKey.extractable,
               type: pair.privateKey.type,
               jwk: await attempt("jwk"),
               pkcs8: await attempt("pkcs8"),
           });"#,
    )
    .await;
    assert_eq!(result["type"], "private", "{result}");
    assert_eq!(result["extractable"], false, "{result}");
    assert_eq!(result["jwk"], "InvalidAccessError", "{result}");
    assert_eq!(result["pkcs8"], "InvalidAccessError", "{result}");
    browser.close().await;
}

// The shipped setup: `"useDpop": true` in `public/auth_config.json` with `cargo xtask dev`
// (the demo client may use DPoP, the API takes both schemes). The app still binds its tokens:
// the provider answers `token_type: DPoP` to its proofs, and the API call goes as DPoP.
#[tokio::test(flavor = "multi_thread")]
async fn use_dpop_against_the_shipped_provider_and_api_binds_the_tokens() {
    let stack = Stack::start(StackOptions::default().dpop_as_shipped()).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    wait_for_heading(&browser, "Profile").await;
    let jkt = bound_jkt(&browser).await;
    assert_eq!(jkt.len(), 43, "not bound: {jkt:?}");
    let tokens = token_posts(&stack);
    assert!(!tokens.is_empty());
    for request in &tokens {
        assert_eq!(proof_of(request).1, jkt);
        assert_eq!(
            request.issued_token_type.as_deref(),
            Some("DPoP"),
            "{request:?}"
        );
    }
    assert_eq!(call_private(&browser).await, 200);
    browser.close().await;
}

// RFC 9449 §5: a stored session is bound to the key it was issued for. One that names another
// key (a key lost, a copied storage entry, a tampered one) is never used: the app drops it and
// signs in again through the provider, with its own key.
#[tokio::test(flavor = "multi_thread")]
async fn a_stored_session_bound_to_another_key_is_not_used() {
    const TOKENS_KEY: &str = "hashgate.auth.tokens";
    let stack = Stack::start(StackOptions::default().cache_location("local").dpop(false)).await;
    let browser = Browser::launch().await;
    browser.goto(&stack.spa.url("/profile")).await;
    stack.login_as(&browser, &ALICE).await;
    let jkt = bound_jkt(&browser).await;
    let read_stored = format!("return JSON.parse(localStorage.getItem('{TOKENS_KEY}'));");
    let before = run_js(&browser, &read_stored).await;
    assert_eq!(before["dpop_jkt"], jkt.as_str(), "{before}");
    let other = "A".repeat(43);
    run_js(
        &browser,
        &format!(
            "const t = JSON.parse(localStorage.getItem('{TOKENS_KEY}')); \
             t.dpop_jkt = '{other}'; localStorage.setItem('{TOKENS_KEY}', JSON.stringify(t)); \
             return true;"
        ),
    )
    .await;
    let silent_before = stack.silent_authorize_requests().len();

    browser.goto(&stack.spa.url("/profile")).await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_heading(&browser, "Profile").await;
    assert_eq!(
        stack.silent_authorize_requests().len(),
        silent_before + 1,
        "the session naming another key was used instead of a new sign-in"
    );
    let after = run_js(&browser, &read_stored).await;
    assert_eq!(after["dpop_jkt"], jkt.as_str(), "{after}");
    assert_ne!(
        after["access_token"], before["access_token"],
        "the stored tokens were kept"
    );
    assert_eq!(bound_jkt(&browser).await, jkt);
    assert_eq!(call_private(&browser).await, 200);
    browser.close().await;
}
