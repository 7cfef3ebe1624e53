//! Interoperability, end to end (docs/providers.md): the unchanged release build against
//! `oidc-provider` (panva/node-oidc-provider, OpenID Certified, pinned in
//! `tests/interop/package-lock.json`), through that provider's own login, consent and logout
//! pages, in headless Chromium. `hashgate-api` validates the provider's JWT access tokens
//! with only its issuer and audience changed.
//!
//! The provider: `tests/interop/provider.mjs` (implicit flow, `id_token token` and
//! `id_token`, resource indicators for the API; Hashgate's `audience` parameter is mapped
//! to the resource indicator). It has no `web_message` response mode, so silent renewal
//! goes through `/silent-callback.html`.
//!
//! Needs Node.js and `npm ci` in `tests/interop` (`cargo xtask test` does it) and Chromium;
//! missing ones are failures, never skips. By hand, after `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate --test browser_interop -- --test-threads=2`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use std::{net::SocketAddr, time::Duration};

use serde_json::json;
use support::interop::{
    confirm_logout, consent, loaded_path, sign_in, OidcProvider, ProviderOptions, INTEROP_AUDIENCE,
};
use support::nginx::free_port;
use support::stack::{
    assert_stays, follow_nav, header_user, wait_for_header_user, wait_for_heading, ExternalApi,
    ALICE, CLIENT_ID, SCOPE,
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

/// Starts everything for `response_type`; `id_token token` also asks for the API's audience
/// and starts the API, configured with nothing but this provider's issuer and the audience.
async fn start(response_type: &str) -> Interop {
    let data = tempfile::Builder::new()
        .prefix("hashgate-interop-")
        .tempdir()
        .unwrap_or_else(|error| panic!("cannot create a data directory: {error}"));
    let port = free_port();
    let issuer = OidcProvider::issuer_for(port);
    let with_api = response_type.split(' ').any(|part| part == "token");

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
        "responseType": response_type,
        "apiOrigin": api_origin,
    });
    if with_api {
        config["audience"] = json!(INTEROP_AUDIENCE);
        config["scope"] = json!(SCOPE);
    }
    let spa = SpaServer::start(config).await;
    let provider = OidcProvider::start_on(port, spa.origin(), ProviderOptions::default());

    let api = with_api.then(|| {
        // Only --issuer and --audience differ from the hashgate-idp setup.
        let mut settings =
            hashgate_api::Settings::new(issuer.clone(), INTEROP_AUDIENCE, data.path().join("api"));
        settings.allowed_origins = vec![spa.origin().to_owned()];
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

    follow_nav(&browser, "External API").await;
    let page = ExternalApi::wait(&browser).await;
    let private = page.call("Call private", "/api/private").await;
    assert_eq!(
        private.status, 200,
        "hashgate-api refused oidc-provider's access token: {}",
        private.body
    );
    let scoped = page
        .call("Call private-scoped", "/api/private-scoped")
        .await;
    assert_eq!(
        scoped.status, 200,
        "hashgate-api did not read read:messages from oidc-provider's `scope` claim: {}",
        scoped.body
    );

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

    follow_nav(&browser, "External API").await;
    let page = ExternalApi::wait(&browser).await;
    let private = page.call("Call private", "/api/private").await;
    assert_eq!(
        private.status, 200,
        "the silently renewed access token was refused: {}",
        private.body
    );

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
