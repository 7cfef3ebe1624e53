//! Interoperability, end to end (docs/providers.md): the unchanged release build against
//! `oidc-provider` (panva/node-oidc-provider, OpenID Certified, pinned in
//! `tests/interop/package-lock.json`), through that provider's own login, consent and logout
//! pages, in headless Chromium. `hashgate-api` validates the provider's JWT access tokens
//! with only its issuer and audience changed.
//!
//! The provider: `tests/interop/provider.mjs` (implicit flow, `id_token token` and
//! `id_token`; the authorization code flow with PKCE S256, the RFC 9207 `iss` parameter,
//! rotating refresh tokens and RFC 7009 revocation; resource indicators for the API, with
//! Hashgate's `audience` parameter mapped to the resource indicator). It has no
//! `web_message` response mode, so silent renewal goes through `/silent-callback.html`. It
//! reports each protocol exchange on stdout ([`OidcProvider::events`]), which is how these
//! journeys see a `prompt=none` request, a rotation or a revocation without intercepting
//! the browser.
//!
//! Needs Node.js and `npm ci` in `tests/interop` (`cargo xtask test` does it) and Chromium;
//! missing ones are failures, never skips. By hand, after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_interop -- --test-threads=2`.
//!
//! The code-flow journeys take an `auth_config.json` with `"responseType": "code"` (and
//! `"useRefreshTokens": true` where a journey renews with refresh tokens) and nothing else
//! changed.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use std::{net::SocketAddr, time::Duration};

use fantoccini::Locator;
use serde_json::{json, Value};
use support::interop::{
    confirm_logout, consent, loaded_path, sign_in, OidcProvider, ProviderOptions, INTEROP_AUDIENCE,
};
use support::nginx::free_port;
use support::pages::{
    assert_stays, follow_nav, header_user, run_js, storage_entries, wait_for_header_user,
    wait_for_heading, ExternalApi, ALICE, CLIENT_ID, SCOPE,
};
use support::{App, Browser, SpaServer};
use tempfile::TempDir;
use tokio::{net::TcpListener, task::JoinHandle};

/// The SPA, `oidc-provider` and (for `id_token token`) `hashgate-api`, wired together.
struct Interop {
    spa: SpaServer,
    provider: OidcProvider,
    api: Option<JoinHandle<()>>,
    _data: TempDir,
}

impl Drop for Interop {
    fn drop(&mut self) {
        if let Some(api) = &self.api {
            api.abort();
        }
    }
}

/// How the app and the provider are set up for one journey.
#[derive(Debug, Clone, Copy)]
struct Setup {
    /// The app's `responseType`.
    response_type: &'static str,
    /// The app's `useRefreshTokens` (only written to the file when true).
    use_refresh_tokens: bool,
    /// The app's `cacheLocation`, when not the default (`memory`).
    cache_location: Option<&'static str>,
    /// The provider's access token lifetime.
    access_token_ttl_secs: u64,
    /// DPoP (RFC 9449): `off`, `on` (the app's `useDpop`, required by the provider and the
    /// API) or `nonce` (also server nonces at both).
    dpop: &'static str,
}

impl Setup {
    /// The implicit flow with `response_type`, defaults otherwise.
    fn implicit(response_type: &'static str) -> Setup {
        Setup {
            response_type,
            use_refresh_tokens: false,
            cache_location: None,
            access_token_ttl_secs: ProviderOptions::default().access_token_ttl_secs,
            dpop: "off",
        }
    }

    /// The authorization code flow with PKCE, defaults otherwise.
    fn code() -> Setup {
        Setup::implicit("code")
    }
}

/// Starts everything for `response_type`; `id_token token` also asks for the API's audience
/// and starts the API, configured with nothing but this provider's issuer and the audience.
async fn start(response_type: &'static str) -> Interop {
    start_with(Setup::implicit(response_type)).await
}

/// Starts everything for `setup`. Every response type but `id_token` brings an access
/// token: those ask for the API's audience and start the API, configured with nothing but
/// this provider's issuer and the audience.
async fn start_with(setup: Setup) -> Interop {
    let data = tempfile::Builder::new()
        .prefix("hashgate-interop-")
        .tempdir()
        .unwrap_or_else(|error| panic!("cannot create a data directory: {error}"));
    let port = free_port();
    let issuer = OidcProvider::issuer_for(port);
    let with_api = setup.response_type != "id_token";

    let api_listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap_or_else(|error| panic!("cannot bind the API: {error}"));
    let api_origin = format!(
        "http://{}",
        api_listener
            .local_addr()
            .unwrap_or_else(|error| panic!("the API has no address: {error}"))
    );
    let mut config = json!({
        "issuer": issuer,
        "clientId": CLIENT_ID,
        "responseType": setup.response_type,
        "apiOrigin": api_origin,
    });
    if with_api {
        config["audience"] = json!(INTEROP_AUDIENCE);
        config["scope"] = json!(SCOPE);
    }
    if setup.use_refresh_tokens {
        config["useRefreshTokens"] = json!(true);
    }
    if setup.dpop != "off" {
        config["useDpop"] = json!(true);
    }
    if let Some(location) = setup.cache_location {
        config["cacheLocation"] = json!(location);
    }
    let spa = SpaServer::start(config).await;
    let provider = OidcProvider::start_on(
        port,
        spa.origin(),
        ProviderOptions {
            access_token_ttl_secs: setup.access_token_ttl_secs,
            dpop: setup.dpop,
        },
    );

    let api = with_api.then(|| {
        // Only --issuer and --audience differ from the hashgate-idp setup.
        let mut settings =
            hashgate_api::Settings::new(issuer.clone(), INTEROP_AUDIENCE, data.path().join("api"));
        settings.allowed_origins = vec![spa.origin().to_owned()];
        settings.require_dpop = setup.dpop != "off";
        settings.dpop_nonce = setup.dpop == "nonce";
        tokio::spawn(async move {
            if let Err(error) = hashgate_api::serve(api_listener, settings).await {
                eprintln!("hashgate-api stopped: {error}");
            }
        })
    });
    Interop {
        spa,
        provider,
        api,
        _data: data,
    }
}

impl Interop {
    /// From the app's `Log in` to signed in as Alice: the provider's login page, its consent
    /// page, back on the app.
    async fn log_in(&self, browser: &Browser, app: &App<'_>) {
        app.log_in().await;
        sign_in(browser, &self.provider, ALICE.username, "any-password").await;
        consent(browser).await;
        browser.wait_for_auth_state("authenticated").await;
        wait_for_header_user(browser, ALICE.name).await;
        assert!(
            app.current_path().await.is_some(),
            "signed in, but the browser is not on the app"
        );
    }

    /// `Log out`, the provider's confirmation page, back on the app's home signed out.
    async fn log_out(&self, browser: &Browser, app: &App<'_>) {
        app.log_out().await;
        confirm_logout(browser).await;
        let home = self.spa.url("/");
        browser
            .wait_for_url(
                &home,
                "the provider sends the browser back to the app's home",
            )
            .await;
        app.wait_for_shell().await;
        browser.wait_for_auth_state("anonymous").await;
        assert_eq!(header_user(browser).await, None);
    }

    /// Asserts the provider saw exactly `count` authorization requests, each of them the
    /// authorization code flow with an S256 PKCE challenge, answered with `code`, `state`
    /// and `iss`; returns them. `prompt=none` marks the silent ones.
    fn code_authorizations(&self, count: usize) -> Vec<Value> {
        let requests = self.provider.events_named("authorization");
        assert_eq!(
            requests.len(),
            count,
            "expected {count} authorization request(s); the provider reported:\n{}",
            self.provider.describe_events()
        );
        for request in &requests {
            assert_eq!(request["response_type"], "code", "{request}");
            // RFC 7636 §4.3: the challenge is sent, S256 (the provider accepts nothing else).
            assert_eq!(request["code_challenge_method"], "S256", "{request}");
            // RFC 9207 §2: the response names its issuer; the app, told so by discovery,
            // requires it and compares it (it signed in, so it found it equal).
            assert_eq!(
                request["response"],
                json!(["code", "iss", "state"]),
                "{request}"
            );
        }
        requests
    }

    /// The provider's discovery document, as the app fetches it.
    async fn discovery(&self) -> Value {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.provider.issuer()
        );
        let response = reqwest::get(&url)
            .await
            .unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
        response
            .json()
            .await
            .unwrap_or_else(|error| panic!("{url} is not JSON: {error}"))
    }

    /// Presents `refresh_token` at the provider's token endpoint (RFC 6749 §6) as the app
    /// would; returns the HTTP status and the JSON answer.
    async fn redeem_refresh_token(&self, refresh_token: &str) -> (u16, Value) {
        let endpoint = self.discovery().await["token_endpoint"]
            .as_str()
            .unwrap_or_else(|| panic!("the discovery document has no token_endpoint"))
            .to_owned();
        let response = reqwest::Client::new()
            .post(&endpoint)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", CLIENT_ID),
            ])
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {endpoint} failed: {error}"));
        let status = response.status().as_u16();
        let body = response
            .json()
            .await
            .unwrap_or_else(|error| panic!("{endpoint} answered HTTP {status}, not JSON: {error}"));
        (status, body)
    }
}

/// Where `cacheLocation: local` keeps the session (`auth/src/storage.rs`): the journeys read
/// the refresh token there, to see it rotate and to present it after logout.
const TOKENS_KEY: &str = "hashgate.auth.tokens";

/// The refresh token the app keeps in `localStorage` right now, if any. Never printed.
async fn stored_refresh_token(browser: &Browser) -> Option<String> {
    let script = format!(
        "const stored = JSON.parse(localStorage.getItem('{TOKENS_KEY}') || 'null');\
         return stored && stored.refresh_token ? stored.refresh_token : null;"
    );
    run_js(browser, &script).await.as_str().map(str::to_owned)
}

/// A fact of the profile page's token inspector: the value of its `data-{name}` attribute
/// (`flow`, `rotations`), once the inspector shows it.
async fn session_fact(browser: &Browser, name: &str) -> String {
    let css = format!(".inspector [data-{name}]");
    let element = browser.wait_for_css(&css).await;
    match element.attr(&format!("data-{name}")).await {
        Ok(Some(value)) => value,
        Ok(None) => panic!("`{css}` lost its attribute while it was read"),
        Err(error) => panic!("reading `{css}` failed: {error}"),
    }
}

/// Whether the token inspector says a refresh token is held: its `Refresh token` row reads
/// `held (never shown)` or `none`, and its `data-refresh-token` attribute says `true` or
/// `false` (the two must agree).
async fn refresh_token_held(browser: &Browser) -> bool {
    let row = browser
        .wait_for(
            Locator::XPath(
                "//section[contains(@class,'inspector')]\
                 //dt[normalize-space(.)='Refresh token']/following-sibling::dd[1]",
            ),
            "the token inspector's `Refresh token` row is shown",
        )
        .await;
    let text = row.text().await.unwrap_or_default();
    let flagged = matches!(
        row.attr("data-refresh-token")
            .await
            .ok()
            .flatten()
            .as_deref(),
        Some("true")
    );
    match (text.trim(), flagged) {
        ("held (never shown)", true) => true,
        ("none", false) => false,
        (text, flagged) => panic!(
            "the inspector's refresh token row is inconsistent: {text:?}, \
             data-refresh-token=\"true\": {flagged}"
        ),
    }
}

/// How many refresh-token rotations the profile page shows right now.
async fn rotations(browser: &Browser) -> u32 {
    let text = session_fact(browser, "rotations").await;
    text.parse()
        .unwrap_or_else(|_| panic!("data-rotations is not a number: {text:?}"))
}

/// Waits (on the profile page) until the app has renewed with its refresh token once more
/// than `seen` times; returns the new count. Right after a renewal is the quiet moment of a
/// short-lived session: the next one is a whole half-lifetime away.
async fn wait_for_rotation(browser: &Browser, seen: u32) -> u32 {
    browser
        .wait_until(
            &format!("the profile shows more than {seen} refresh-token rotation(s)"),
            || async move {
                browser
                    .try_text_of(".inspector [data-rotations]")
                    .await
                    .and_then(|text| text.trim().parse::<u32>().ok())
                    .is_some_and(|count| count > seen)
            },
        )
        .await;
    rotations(browser).await
}

// OIDC Core §3.2: with `id_token token` the unchanged SPA logs in through oidc-provider's own pages,
// shows the profile, and hashgate-api accepts the provider's JWT access token (RS256,
// aud = the API identifier) on /api/private and, by its `scope`, /api/private-scoped.
#[tokio::test(flavor = "multi_thread")]
async fn id_token_token_logs_in_through_oidc_provider_and_the_api_accepts_its_jwt() {
    let interop = start("id_token token").await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &interop.spa, "/").await;
    interop.log_in(&browser, &app).await;

    follow_nav(&browser, "Profile").await;
    wait_for_heading(&browser, "Profile").await;
    let profile = browser.text_of("main").await;
    for expected in [ALICE.name, ALICE.email, "read:messages", "write:messages"] {
        assert!(
            profile.contains(expected),
            "the profile does not show {expected:?}:\n{profile}"
        );
    }
    browser.screenshot("interop-profile").await;

    hashgate_api_accepts(&browser, "oidc-provider's access token", Scoped::Checked).await;

    interop.log_out(&browser, &app).await;
    browser.close().await;
}

// OIDC Core §3.2: `id_token` (sign-in only) logs in and out through oidc-provider too; the ID token
// carries the profile and no access token is held.
#[tokio::test(flavor = "multi_thread")]
async fn id_token_only_logs_in_and_out_through_oidc_provider() {
    let interop = start("id_token").await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &interop.spa, "/").await;
    interop.log_in(&browser, &app).await;

    follow_nav(&browser, "Profile").await;
    wait_for_heading(&browser, "Profile").await;
    let profile = browser.text_of("main").await;
    assert!(
        profile.contains(ALICE.email),
        "the profile does not show the ID token's email:\n{profile}"
    );

    interop.log_out(&browser, &app).await;
    browser.close().await;
}

// OIDC Core §3.1.2.1 `prompt=none`: silent renewal works against oidc-provider: a reload (tokens only in
// memory) signs the user in again with a prompt=none iframe answered through
// /silent-callback.html, without showing the login page; after logout, the provider answers
// login_required and the app stays signed out, with no loop.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_keeps_the_session_through_silent_callback_html_and_logout_ends_it() {
    let interop = start("id_token token").await;
    let browser = Browser::launch().await;
    let app = App::open(&browser, &interop.spa, "/").await;
    interop.log_in(&browser, &app).await;

    // Home is not protected: without a silent renewal it would simply stay signed out.
    for path in ["/", "/profile"] {
        app.visit(path).await;
        browser.wait_for_auth_state("authenticated").await;
        wait_for_header_user(&browser, ALICE.name).await;
        assert_eq!(
            loaded_path(&browser).await,
            path,
            "the reload of {path} left the page (a login round trip), so the session was not \
             renewed silently"
        );
    }
    wait_for_heading(&browser, "Profile").await;

    hashgate_api_accepts(
        &browser,
        "the silently renewed access token",
        Scoped::NotChecked,
    )
    .await;

    interop.log_out(&browser, &app).await;
    app.visit("/").await;
    let spa_origin = interop.spa.origin().to_owned();
    assert_stays(
        &browser,
        Duration::from_secs(3),
        "the app stays on its home, signed out, after the provider says login_required",
        || {
            let spa_origin = spa_origin.clone();
            let browser = &browser;
            async move {
                browser.current_url().await.starts_with(&spa_origin)
                    && header_user(browser).await.is_none()
            }
        },
    )
    .await;
    browser.wait_for_auth_state("anonymous").await;
    browser.close().await;
}

// RFC 6749 §4.1 with RFC 7636 (PKCE S256) and RFC 9207, OIDC Core §3.1: with
// `"responseType": "code", "useRefreshTokens": true, "cacheLocation": "local"` the unchanged
// SPA signs in through oidc-provider's own pages, redeeming the code with its verifier from
// the app's origin (CORS) and checking the `iss` the discovery document advertises. With a
// 6-second access token it renews with refresh tokens that oidc-provider rotates (RFC 6749
// §10.4, RFC 9700 §4.14.2): each renewal spends the token and uses the new one, and
// hashgate-api accepts the renewed access tokens. A reload restores the session from storage
// with no iframe (no `prompt=none` request at all: the README's setup for browsers that block
// third-party cookies). Logout revokes the refresh token (RFC 7009 §2.1) before it ends the
// provider session, and afterwards that token no longer works (this provider keeps refresh
// tokens past the end of the session, so only the revocation can have ended it).
#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_with_refresh_tokens_rotates_them_reloads_without_an_iframe_and_revokes_at_logout(
) {
    let interop = start_with(Setup {
        use_refresh_tokens: true,
        cache_location: Some("local"),
        access_token_ttl_secs: 6,
        ..Setup::code()
    })
    .await;
    let discovery = interop.discovery().await;
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"], true,
        "the pinned oidc-provider no longer advertises RFC 9207, so the app would not require `iss`"
    );
    let spa_origin = interop.spa.origin().to_owned();
    let provider = &interop.provider;

    let browser = Browser::launch().await;
    let app = App::open(&browser, &interop.spa, "/").await;
    interop.log_in(&browser, &app).await;
    let login = &interop.code_authorizations(1)[0];
    assert_eq!(login["prompt"], Value::Null, "{login}");
    assert_eq!(
        login["redirect_uri"],
        format!("{spa_origin}/callback"),
        "{login}"
    );
    assert_eq!(login["response_mode"], "query", "RFC 6749 §4.1.2: {login}");
    let redeemed = provider
        .wait_for_event(0, "the code redeemed", |e| {
            e["event"] == "token" && e["grant_type"] == "authorization_code"
        })
        .await;
    assert_eq!(redeemed["origin"], spa_origin.as_str(), "{redeemed}");
    assert_eq!(redeemed["refresh_token_issued"], true, "{redeemed}");

    follow_nav(&browser, "Profile").await;
    wait_for_heading(&browser, "Profile").await;
    assert_eq!(session_fact(&browser, "flow").await, "code");
    assert!(
        refresh_token_held(&browser).await,
        "useRefreshTokens is on, but the app holds no refresh token"
    );
    let first_token = stored_refresh_token(&browser)
        .await
        .unwrap_or_else(|| panic!("cacheLocation local, but no refresh token in localStorage"));

    // Two renewals: the second can only succeed with the token the first one returned,
    // because presenting a spent one makes oidc-provider revoke the whole grant.
    let seen = wait_for_rotation(&browser, 1).await;
    let refreshes = provider.events_named("token");
    let refreshes: Vec<&Value> = refreshes
        .iter()
        .filter(|e| e["grant_type"] == "refresh_token")
        .collect();
    assert!(
        refreshes.len() >= 2 && refreshes.iter().all(|e| e["rotated"] == true),
        "two renewals should each have spent a refresh token for a new one:\n{}",
        provider.describe_events()
    );
    assert!(
        provider.events_named("token_error").is_empty(),
        "the provider refused a renewal:\n{}",
        provider.describe_events()
    );
    let current_token = stored_refresh_token(&browser).await;
    assert!(
        current_token.is_some() && current_token.as_ref() != Some(&first_token),
        "after {seen} rotations the stored refresh token should be a new one"
    );
    assert!(refresh_token_held(&browser).await);

    hashgate_api_accepts(&browser, "the access token of a refresh", Scoped::Checked).await;

    // A reload right after a renewal (one in flight when the page unloads would leave the
    // stored token spent): the session comes back from storage, with no trip to the provider's
    // authorization endpoint, in the page or in an iframe.
    follow_nav(&browser, "Profile").await;
    let seen = wait_for_rotation(&browser, rotations(&browser).await).await;
    let before_reload = provider.events().len();
    app.visit("/profile").await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;
    assert_eq!(
        loaded_path(&browser).await,
        "/profile",
        "the reload left the page, so the session was not restored from storage"
    );
    // Renewals go on with the restored refresh token, and nothing asked the authorization
    // endpoint (a `prompt=none` attempt would show as an authorization or its error).
    wait_for_rotation(&browser, seen).await;
    let since_reload = &provider.events()[before_reload..];
    assert!(
        !since_reload.iter().any(|e| e["event"]
            .as_str()
            .is_some_and(|name| name.starts_with("authorization"))),
        "the reload went to the authorization endpoint:\n{}",
        provider.describe_events()
    );
    assert!(
        since_reload
            .iter()
            .any(|e| e["event"] == "token" && e["grant_type"] == "refresh_token"),
        "no renewal after the reload:\n{}",
        provider.describe_events()
    );
    interop.code_authorizations(1);
    assert!(
        provider.events_named("token_error").is_empty(),
        "the provider refused a renewal after the reload:\n{}",
        provider.describe_events()
    );

    // Logout, right after that renewal; the token is read and `Log out` clicked in one
    // script, so no renewal can slip in between and the test holds exactly the token the app
    // revokes.
    let script = format!(
        "const stored = JSON.parse(localStorage.getItem('{TOKENS_KEY}') || 'null');\
         const button = [...document.querySelectorAll('button')]\
           .find((b) => b.textContent.trim() === 'Log out');\
         if (!stored || !stored.refresh_token || !button) return null;\
         button.click();\
         return stored.refresh_token;"
    );
    let revoked_token = run_js(&browser, &script)
        .await
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no stored refresh token or no `Log out` button"));
    confirm_logout(&browser).await;
    browser
        .wait_for_url(
            &interop.spa.url("/"),
            "the provider sends the browser back to the app's home",
        )
        .await;
    app.wait_for_shell().await;
    browser.wait_for_auth_state("anonymous").await;

    let revocation = provider
        .wait_for_event(0, "a revocation", |e| e["event"] == "revocation")
        .await;
    assert_eq!(
        revocation,
        json!({
            "event": "revocation",
            "origin": spa_origin,
            "token_type_hint": "refresh_token",
            "revoked": "RefreshToken",
            "consumed": false,
        }),
        "the app should revoke its current refresh token from its own origin"
    );
    let events = provider.events();
    let position = |name: &str| events.iter().position(|e| e["event"] == name);
    assert!(
        matches!((position("revocation"), position("end_session")), (Some(r), Some(e)) if r < e),
        "the refresh token should be revoked before the provider session ends:\n{}",
        provider.describe_events()
    );
    assert!(
        !storage_entries(&browser)
            .await
            .iter()
            .any(|entry| entry.starts_with(TOKENS_KEY)),
        "tokens are still stored after logout"
    );
    let (status, answer) = interop.redeem_refresh_token(&revoked_token).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant")),
        "RFC 7009 §2.1: the revoked refresh token still works at the token endpoint: {}",
        answer["error_description"]
    );
    browser.close().await;
}

// OIDC Core §3.1 and §3.1.2.1 `prompt=none`: with `"responseType": "code"` alone (tokens in
// memory, no refresh tokens) a reload restores the session through the hidden iframe with a
// code: oidc-provider has no `web_message`, so the silent request asks for
// `response_mode=fragment` to /silent-callback.html, with its own PKCE challenge, and the
// answer carries `iss` (RFC 9207). hashgate-api accepts the access token that code brought.
// The app keeps no refresh token it was not configured to use, so logout revokes nothing;
// afterwards the silent request gets login_required and the app stays signed out.
#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_without_refresh_tokens_reloads_through_the_iframe_with_a_code() {
    let interop = start_with(Setup::code()).await;
    let spa_origin = interop.spa.origin().to_owned();
    let provider = &interop.provider;

    let browser = Browser::launch().await;
    let app = App::open(&browser, &interop.spa, "/").await;
    interop.log_in(&browser, &app).await;
    follow_nav(&browser, "Profile").await;
    wait_for_heading(&browser, "Profile").await;
    assert_eq!(session_fact(&browser, "flow").await, "code");
    assert!(
        !refresh_token_held(&browser).await,
        "useRefreshTokens is off, so the provider's refresh token must not be kept"
    );

    app.visit("/profile").await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;
    wait_for_heading(&browser, "Profile").await;
    assert_eq!(
        loaded_path(&browser).await,
        "/profile",
        "the reload left the page (a login round trip), so the session was not renewed silently"
    );
    let requests = interop.code_authorizations(2);
    assert_eq!(requests[0]["prompt"], Value::Null, "{}", requests[0]);
    let silent = &requests[1];
    assert_eq!(silent["prompt"], "none", "{silent}");
    assert_eq!(silent["response_mode"], "fragment", "{silent}");
    assert_eq!(
        silent["redirect_uri"],
        format!("{spa_origin}/silent-callback.html"),
        "{silent}"
    );
    let redeemed: Vec<Value> = provider
        .events_named("token")
        .into_iter()
        .filter(|e| e["grant_type"] == "authorization_code" && e["origin"] == spa_origin.as_str())
        .collect();
    assert_eq!(
        redeemed.len(),
        2,
        "the login's code and the silent one should both be redeemed from the app:\n{}",
        provider.describe_events()
    );

    hashgate_api_accepts(
        &browser,
        "the access token of the silent code exchange",
        Scoped::NotChecked,
    )
    .await;

    let before_logout = provider.events().len();
    interop.log_out(&browser, &app).await;
    app.visit("/").await;
    provider
        .wait_for_event(
            before_logout,
            "the silent request after logout refused",
            |e| {
                e["event"] == "authorization_error"
                    && e["prompt"] == "none"
                    && e["error"] == "login_required"
            },
        )
        .await;
    browser.wait_for_auth_state("anonymous").await;
    assert_eq!(header_user(&browser).await, None);
    assert!(
        provider.events_named("revocation").is_empty(),
        "the app revoked a token it should not have held:\n{}",
        provider.describe_events()
    );
    browser.close().await;
}

/// Whether [`hashgate_api_accepts`] also calls `/api/private-scoped`.
#[derive(PartialEq)]
enum Scoped {
    Checked,
    NotChecked,
}

/// Opens the External API page and calls `/api/private`: hashgate-api must accept `token` (the
/// token the app holds now, named for the failure message); with [`Scoped::Checked`], also
/// `/api/private-scoped`, which needs `read:messages` read from the token's `scope` claim.
async fn hashgate_api_accepts(browser: &Browser, token: &str, scoped: Scoped) {
    follow_nav(browser, "External API").await;
    let page = ExternalApi::wait(browser).await;
    let private = page.call("Call private", "/api/private").await;
    assert_eq!(
        private.status, 200,
        "hashgate-api refused {token}: {}",
        private.body
    );
    if scoped == Scoped::Checked {
        let answer = page
            .call("Call private-scoped", "/api/private-scoped")
            .await;
        assert_eq!(
            answer.status, 200,
            "hashgate-api did not find read:messages in the `scope` of {token}: {}",
            answer.body
        );
    }
}

// RFC 9449 against an independent, certified implementation: with `"useDpop": true` and
// oidc-provider requiring DPoP of the client, the unchanged release build names its key
// (`dpop_jkt`), gets access tokens bound to it (`cnf.jkt`), rotates refresh tokens bound to it,
// survives a reload, and hashgate-api (refusing bearer tokens) accepts oidc-provider's
// DPoP-bound tokens with the app's proofs. With `nonce`, both servers ask for nonces first.
#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_with_dpop_binds_every_token_to_the_browsers_key_at_oidc_provider() {
    for dpop in ["on", "nonce"] {
        let interop = start_with(Setup {
            use_refresh_tokens: true,
            cache_location: Some("local"),
            access_token_ttl_secs: 6,
            dpop,
            ..Setup::code()
        })
        .await;
        let discovery = interop.discovery().await;
        assert!(
            discovery["dpop_signing_alg_values_supported"]
                .as_array()
                .is_some_and(|algs| algs.contains(&json!("ES256"))),
            "oidc-provider does not advertise ES256 proofs: {discovery}"
        );
        let provider = &interop.provider;
        let browser = Browser::launch().await;
        let app = App::open(&browser, &interop.spa, "/").await;
        interop.log_in(&browser, &app).await;
        let login = &interop.code_authorizations(1)[0];
        let jkt = login["dpop_jkt"]
            .as_str()
            .unwrap_or_else(|| panic!("the login named no DPoP key ({dpop}): {login}"))
            .to_owned();
        let redeemed = provider
            .wait_for_event(0, "the code redeemed", |e| {
                e["event"] == "token" && e["grant_type"] == "authorization_code"
            })
            .await;
        assert_eq!(redeemed["dpop_jkt"], jkt.as_str(), "{redeemed}");
        let nonce_errors = provider
            .events_named("token_error")
            .into_iter()
            .filter(|e| e["error"] == "use_dpop_nonce")
            .count();
        assert_eq!(
            nonce_errors,
            usize::from(dpop == "nonce"),
            "the app answers a nonce request once, and only when asked:\n{}",
            provider.describe_events()
        );

        follow_nav(&browser, "Profile").await;
        wait_for_heading(&browser, "Profile").await;
        assert_eq!(session_fact(&browser, "dpop-jkt").await, jkt);
        hashgate_api_accepts(
            &browser,
            "oidc-provider's DPoP-bound token",
            Scoped::Checked,
        )
        .await;

        // A refresh with a proof by the same key; the API accepts the new token.
        follow_nav(&browser, "Profile").await;
        wait_for_rotation(&browser, 0).await;
        let refreshed: Vec<Value> = provider
            .events_named("token")
            .into_iter()
            .filter(|e| e["grant_type"] == "refresh_token")
            .collect();
        assert!(
            !refreshed.is_empty() && refreshed.iter().all(|e| e["dpop_jkt"] == jkt.as_str()),
            "every refresh must be bound to the same key:\n{}",
            provider.describe_events()
        );
        hashgate_api_accepts(
            &browser,
            "the refreshed DPoP-bound token",
            Scoped::NotChecked,
        )
        .await;

        // A reload keeps the session and the key (IndexedDB).
        browser.goto(&interop.spa.url("/profile")).await;
        browser.wait_for_auth_state("authenticated").await;
        assert_eq!(session_fact(&browser, "dpop-jkt").await, jkt);
        hashgate_api_accepts(&browser, "the token after a reload", Scoped::NotChecked).await;
        assert!(
            provider
                .events_named("token_error")
                .iter()
                .all(|e| e["error"] == "use_dpop_nonce"),
            "oidc-provider refused a request:\n{}",
            provider.describe_events()
        );
        browser.screenshot(&format!("interop-dpop-{dpop}")).await;
        interop.log_out(&browser, &app).await;
        browser.close().await;
    }
}
