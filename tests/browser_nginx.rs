//! End to end through the shipped nginx config (docs/deploy.md): Debian's nginx serves a copy of
//! the release build with `deploy/nginx/hashgate.conf` (only its `listen` and `root` lines
//! rewritten), and headless Chromium logs in through it against an in-process
//! `hashgate-idp`, calls `hashgate-api`, reloads a deep link and logs out (with the implicit
//! grant, and with the authorization code flow and refresh tokens); against
//! `oidc-provider` (no web_message) a reload is renewed through the framed
//! `/silent-callback.html`. The HTTP tests check what the config promises: SPA fallback,
//! caching, content types, security headers.
//!
//! Needs nginx (`apt-get install nginx`; `cargo xtask test` installs it as root), Node.js
//! with `npm ci` in `tests/interop`, and Chromium; missing ones are failures, never skips. By hand, after
//! `trunk build --release --offline`:
//! `HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_nginx -- --test-threads=2`.
#![cfg(not(target_arch = "wasm32"))]

use hashgate_e2e as support;

use std::{fs, net::SocketAddr};

use fantoccini::Locator;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use support::interop::{consent, loaded_path, sign_in, OidcProvider, ProviderOptions};
use support::nginx::{free_port, Nginx};
use support::pages::{
    fill, follow_nav, header_user, session_fact, wait_for_header_user, wait_for_heading,
    ExternalApi, ALICE, AUDIENCE, CLIENT_ID, SCOPE,
};
use support::Browser;
use tempfile::TempDir;
use tokio::{net::TcpListener, task::JoinHandle};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// nginx serving the app, with `hashgate-idp` and `hashgate-api` behind it.
struct Site {
    nginx: Nginx,
    issuer: String,
    servers: Vec<JoinHandle<()>>,
    _data: TempDir,
}

impl Drop for Site {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
}

/// Starts the provider and the API on loopback ports, then nginx on a port reserved first
/// (the provider registers the app's origin, which names nginx's port). `flow` adds its fields
/// to the served `auth_config.json` (e.g. `responseType`).
async fn start_site(flow: Value) -> Site {
    let data = tempfile::Builder::new()
        .prefix("hashgate-nginx-stack-")
        .tempdir()
        .unwrap_or_else(|error| panic!("cannot create a data directory: {error}"));
    let idp_listener = bind().await;
    let api_listener = bind().await;
    let issuer = format!("http://{}/", local_addr(&idp_listener));
    let api_origin = format!("http://{}", local_addr(&api_listener));
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");

    let mut config = hashgate_idp::Config::demo();
    config.clients = vec![
        hashgate_idp::ClientConfig::spa(CLIENT_ID, "Hashgate", &origin)
            .unwrap_or_else(|error| panic!("bad origin {origin}: {error}")),
    ];
    let settings = hashgate_idp::Settings::new(issuer.clone(), data.path().join("idp"), config);
    let idp = tokio::spawn(async move {
        if let Err(error) = hashgate_idp::serve_settings(idp_listener, settings).await {
            eprintln!("hashgate-idp stopped: {error}");
        }
    });

    let mut api_settings =
        hashgate_api::Settings::new(issuer.clone(), AUDIENCE, data.path().join("api"));
    api_settings.allowed_origins = vec![origin.clone()];
    let api = tokio::spawn(async move {
        if let Err(error) = hashgate_api::serve(api_listener, api_settings).await {
            eprintln!("hashgate-api stopped: {error}");
        }
    });

    let mut auth_config = json!({
        "issuer": issuer,
        "clientId": CLIENT_ID,
        "audience": AUDIENCE,
        "scope": SCOPE,
        "apiOrigin": api_origin,
    });
    if let (Value::Object(config), Value::Object(flow)) = (&mut auth_config, flow) {
        config.extend(flow);
    }
    let nginx = Nginx::start_on(port, &auth_config);
    assert_eq!(nginx.origin(), origin);
    Site {
        nginx,
        issuer,
        servers: vec![idp, api],
        _data: data,
    }
}

async fn bind() -> TcpListener {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap_or_else(|error| panic!("cannot bind on 127.0.0.1: {error}"))
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|error| panic!("listener has no local address: {error}"))
}

/// One GET through nginx: status, headers, body.
async fn get(nginx: &Nginx, path: &str) -> (StatusCode, header::HeaderMap, String) {
    let response = reqwest::get(nginx.url(path))
        .await
        .unwrap_or_else(|error| panic!("GET {path} through nginx failed: {error}"));
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    (status, headers, body)
}

fn header_of<'a>(headers: &'a header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// The file names in the served copy of dist/ that end with `suffix`.
fn built_files(nginx: &Nginx, suffix: &str) -> Vec<String> {
    let entries = fs::read_dir(nginx.site())
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", nginx.site().display()));
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(suffix))
        .collect()
}

// docs/deploy.md: the end-to-end suite serves dist/ through Debian's nginx with the shipped config
// and runs the login journey through it: log in (password, consent), call the API, reload a
// deep link (SPA fallback + silent authentication), log out.
#[tokio::test(flavor = "multi_thread")]
async fn the_login_journey_works_through_the_shipped_nginx_config() {
    let site = start_site(json!({})).await;
    let browser = Browser::launch().await;
    login_journey(&site, &browser).await;
    browser.close().await;
}

// docs/deploy.md with the code flow (`"responseType": "code", "useRefreshTokens": true`): behind the
// shipped config the app logs in with PKCE, redeems the code at the provider's token endpoint
// (cross-origin from the nginx-served page), calls the API, reloads a deep link (a code through
// the iframe) and logs out; afterwards a protected page asks for the password again.
#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_journey_works_through_the_shipped_nginx_config() {
    let site = start_site(json!({ "responseType": "code", "useRefreshTokens": true })).await;
    let browser = Browser::launch().await;
    login_journey(&site, &browser).await;

    browser.goto(&site.nginx.url("/profile")).await;
    let issuer = site.issuer.clone();
    browser
        .wait_until(
            "the provider's login form is shown again after the logout",
            || {
                let issuer = issuer.clone();
                let browser = &browser;
                async move {
                    browser.current_url().await.starts_with(&issuer)
                        && browser
                            .client()
                            .find(Locator::Css("input[name=username]"))
                            .await
                            .is_ok()
                }
            },
        )
        .await;
    browser.close().await;
}

/// Log in (password, consent), call the API, reload a deep link, check the inspector names the
/// configured flow, log out: the journey both flows make through nginx.
async fn login_journey(site: &Site, browser: &Browser) {
    let served: Value = {
        let (_, _, body) = get(&site.nginx, "/auth_config.json").await;
        serde_json::from_str(&body)
            .unwrap_or_else(|error| panic!("auth_config.json is not JSON ({error}): {body}"))
    };
    let flow = served["responseType"]
        .as_str()
        .unwrap_or("id_token token")
        .to_owned();

    browser.goto(&site.nginx.url("/")).await;
    wait_for_heading(browser, "Hashgate").await;
    browser.wait_for_auth_state("anonymous").await;
    browser.click_button("Log in").await;

    let issuer = site.issuer.clone();
    browser
        .wait_until("the provider's login form is shown", || {
            let issuer = issuer.clone();
            async move { browser.current_url().await.starts_with(&issuer) }
        })
        .await;
    fill(browser, "Username", ALICE.username).await;
    fill(browser, "Password", ALICE.password).await;
    browser.click_button("Log in").await;
    browser.click_button("Allow").await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(browser, ALICE.name).await;
    assert!(
        browser.current_url().await.starts_with(site.nginx.origin()),
        "after the login the browser is not back on the nginx-served app"
    );

    follow_nav(browser, "External API").await;
    let page = ExternalApi::wait(browser).await;
    let private = page.call("Call private", "/api/private").await;
    assert_eq!(
        private.status, 200,
        "the API refused the access token obtained through the nginx-served app: {}",
        private.body
    );

    // A full page load of a deep link: nginx answers index.html, and silent authentication
    // (the provider's cookie) signs the user in again with tokens held only in memory.
    browser.goto(&site.nginx.url("/profile")).await;
    wait_for_heading(browser, "Profile").await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(browser, ALICE.name).await;
    assert_eq!(
        loaded_path(browser).await,
        "/profile",
        "the deep link was not renewed silently (the page went to the provider and back)"
    );
    assert_eq!(
        session_fact(browser, "data-flow").await,
        flow,
        "the profile's token inspector names another flow than auth_config.json"
    );
    let shot = match flow.as_str() {
        "code" => "nginx-profile-code",
        _ => "nginx-profile",
    };
    browser.screenshot(shot).await;

    browser.click_button("Log out").await;
    let home = site.nginx.url("/");
    browser
        .wait_for_url(
            &home,
            "the provider sends the browser back to the app's home",
        )
        .await;
    browser.wait_for_auth_state("anonymous").await;
    assert_eq!(header_user(browser).await, None);
}

// docs/deploy.md: silent renewal through `/silent-callback.html` (providers without web_message:
// Keycloak, Okta, oidc-provider) works behind the shipped headers: the app frames that page
// from its own origin (frame-ancestors 'self', X-Frame-Options SAMEORIGIN), so a reload of a
// deep link signs the user in again without the login page.
#[tokio::test(flavor = "multi_thread")]
async fn silent_renewal_through_silent_callback_html_works_behind_the_shipped_config() {
    let port = free_port();
    let provider_port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let provider = OidcProvider::start_on(provider_port, &origin, ProviderOptions::default());
    let nginx = Nginx::start_on(
        port,
        &json!({
            "issuer": provider.issuer(),
            "clientId": CLIENT_ID,
            "responseType": "id_token",
        }),
    );
    let browser = Browser::launch().await;

    browser.goto(&nginx.url("/")).await;
    browser.wait_for_auth_state("anonymous").await;
    browser.click_button("Log in").await;
    sign_in(&browser, &provider, ALICE.username, "any-password").await;
    consent(&browser).await;
    browser.wait_for_auth_state("authenticated").await;
    wait_for_header_user(&browser, ALICE.name).await;

    for path in ["/", "/profile"] {
        browser.goto(&nginx.url(path)).await;
        browser.wait_for_auth_state("authenticated").await;
        wait_for_header_user(&browser, ALICE.name).await;
        assert_eq!(
            loaded_path(&browser).await,
            path,
            "the reload of {path} left the page: silent renewal through \
             silent-callback.html failed behind nginx"
        );
    }
    browser.close().await;
}

// docs/deploy.md: SPA fallback to index.html for the app's routes, but never for a missing asset
// (index.html served as script, then cached, would break the app for a year).
#[tokio::test(flavor = "multi_thread")]
async fn deep_links_get_index_html_and_missing_assets_get_404() {
    let nginx = Nginx::start(&json!({ "issuer": "http://127.0.0.1:9/", "clientId": CLIENT_ID }));
    let index = fs::read_to_string(nginx.site().join("index.html"))
        .unwrap_or_else(|error| panic!("cannot read the served index.html: {error}"));

    for path in [
        "/",
        "/profile",
        "/external-api",
        "/callback",
        "/no/such/route",
    ] {
        let (status, headers, body) = get(&nginx, path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}");
        assert!(
            header_of(&headers, "content-type").starts_with("text/html"),
            "GET {path}: content-type {:?}",
            header_of(&headers, "content-type")
        );
        assert_eq!(body, index, "GET {path} did not answer dist/index.html");
    }
    for path in [
        "/hashgate-0000000000000000.js",
        "/hashgate-0000000000000000_bg.wasm",
        "/main-0000000000000000.css",
    ] {
        let (status, headers, body) = get(&nginx, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
        assert_ne!(body, index, "GET {path} answered index.html");
        assert!(
            !header_of(&headers, "cache-control").contains("immutable"),
            "a 404 must not be cached for a year: GET {path}"
        );
    }
    let (status, _, body) = get(&nginx, "/auth_config.json").await;
    assert_eq!(status, StatusCode::OK);
    let served: Value = serde_json::from_str(&body)
        .unwrap_or_else(|error| panic!("auth_config.json is not JSON ({error}): {body}"));
    assert_eq!(
        served["clientId"], CLIENT_ID,
        "nginx served another auth_config.json"
    );
}

// docs/deploy.md: hashed assets are cached for a year (immutable); index.html, auth_config.json and
// the silent-callback page are revalidated on every load; wasm has its MIME type (needed for
// streaming compilation).
#[tokio::test(flavor = "multi_thread")]
async fn hashed_assets_are_cached_for_good_and_entry_points_are_never_cached() {
    let nginx = Nginx::start(&json!({ "issuer": "http://127.0.0.1:9/", "clientId": CLIENT_ID }));
    let mut hashed = Vec::new();
    for suffix in ["_bg.wasm", ".js", ".css"] {
        let names: Vec<String> = built_files(&nginx, suffix)
            .into_iter()
            .filter(|name| !name.starts_with("silent-callback"))
            .collect();
        assert!(!names.is_empty(), "the build has no hashed {suffix} file");
        hashed.extend(names);
    }
    for name in &hashed {
        let (status, headers, _) = get(&nginx, &format!("/{name}")).await;
        assert_eq!(status, StatusCode::OK, "GET /{name}");
        assert_eq!(
            header_of(&headers, "cache-control"),
            IMMUTABLE,
            "GET /{name}"
        );
        if name.ends_with(".wasm") {
            assert_eq!(header_of(&headers, "content-type"), "application/wasm");
        }
    }
    // Trunk writes the hash without leading zeros: one asset in sixteen has 15 digits (a build
    // once did, and went uncached). A short `-cafe` suffix is no hash and is revalidated.
    for (name, expected) in [
        ("hashgate-249932749cf9f9a_bg.wasm", IMMUTABLE),
        ("logo-cafe.svg", "no-cache"),
    ] {
        fs::write(nginx.site().join(name), b"\0asm")
            .unwrap_or_else(|error| panic!("cannot write {name} into the site: {error}"));
        let (status, headers, _) = get(&nginx, &format!("/{name}")).await;
        assert_eq!(status, StatusCode::OK, "GET /{name}");
        assert_eq!(
            header_of(&headers, "cache-control"),
            expected,
            "GET /{name}"
        );
    }
    for path in [
        "/",
        "/index.html",
        "/profile",
        "/auth_config.json",
        "/silent-callback.html",
        "/silent-callback.js",
    ] {
        let (status, headers, _) = get(&nginx, path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}");
        assert_eq!(
            header_of(&headers, "cache-control"),
            "no-cache",
            "GET {path}"
        );
    }
}

// docs/deploy.md: security headers on every answer: the app may not be framed (frame-ancestors, which
// a <meta> CSP cannot say), except the silent-callback page by the app itself; no referrer;
// no MIME sniffing. The <meta> CSP with the build's script hash stays in index.html.
#[tokio::test(flavor = "multi_thread")]
async fn security_headers_forbid_framing_except_the_silent_callback_by_the_app() {
    let nginx = Nginx::start(&json!({ "issuer": "http://127.0.0.1:9/", "clientId": CLIENT_ID }));
    for (path, ancestors, x_frame) in [
        ("/", "frame-ancestors 'none'", "DENY"),
        ("/profile", "frame-ancestors 'none'", "DENY"),
        ("/auth_config.json", "frame-ancestors 'none'", "DENY"),
        (
            "/missing-0000000000000000.js",
            "frame-ancestors 'none'",
            "DENY",
        ),
        (
            "/silent-callback.html",
            "frame-ancestors 'self'",
            "SAMEORIGIN",
        ),
    ] {
        let (_, headers, _) = get(&nginx, path).await;
        let csp = header_of(&headers, "content-security-policy");
        assert!(
            csp.split(';')
                .any(|directive| directive.trim() == ancestors),
            "GET {path}: Content-Security-Policy {csp:?} lacks {ancestors}"
        );
        assert_eq!(
            header_of(&headers, "x-frame-options"),
            x_frame,
            "GET {path}"
        );
        assert_eq!(
            header_of(&headers, "referrer-policy"),
            "no-referrer",
            "GET {path}"
        );
        assert_eq!(
            header_of(&headers, "x-content-type-options"),
            "nosniff",
            "GET {path}"
        );
    }
    let (_, _, index) = get(&nginx, "/").await;
    assert!(
        index.contains("http-equiv=\"Content-Security-Policy\"") && index.contains("'sha256-"),
        "index.html lost its <meta> CSP with the loader's hash; the header alone does not \
         restrict scripts"
    );
}
