//! Hostile and broken requests to `/oauth/token` over a real socket: each gets its
//! RFC 6749 §5.2 error and status, never a token, never a 500; and the endpoint's CORS
//! (`idp/README.md`, "Token endpoint").

use std::time::Duration;

use crate::common::*;
use axum::http::StatusCode;

/// A provider with a second client on the same origin, and a logged-in browser's code.
async fn provider_and_code() -> (Idp, Http, String) {
    let idp = Idp::with_config(|c| {
        c.clients[0].skip_consent = true;
        let mut other =
            hashgate_idp::ClientConfig::spa("other-app", "Other", "http://localhost:8080").unwrap();
        other.skip_consent = true;
        c.clients.push(other);
    });
    let http = idp.http().await;
    let code = idp
        .browser()
        .code(&code_params(&[]), ("alice", "alice-password"))
        .await;
    (idp, http, code)
}

fn exchange_form<'a>(code: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CALLBACK),
    ];
    for (k, v) in extra {
        form.retain(|(fk, _)| fk != k);
        if !v.is_empty() {
            form.push((k, v));
        }
    }
    form
}

#[tokio::test]
async fn a_wrong_or_missing_verifier_is_refused_and_leaves_the_code_to_its_client() {
    // RFC 7636 §4.6: a verifier that does not hash to the challenge is invalid_grant;
    // RFC 6749 §5.2: a missing or malformed one is invalid_request.
    let (_idp, http, code) = provider_and_code().await;
    let wrong = "x".repeat(43);
    let res = http
        .token(&exchange_form(&code, &[("code_verifier", &wrong)]))
        .await;
    assert_oauth_error(&res, 400, "invalid_grant");
    let res = http
        .token(&exchange_form(&code, &[("code_verifier", "")]))
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
    for malformed in ["short", &format!("{}!", "a".repeat(43)), &"a".repeat(129)] {
        let res = http
            .token(&exchange_form(&code, &[("code_verifier", malformed)]))
            .await;
        assert_oauth_error(&res, 400, "invalid_request");
    }
    // The challenge itself is not the verifier.
    let res = http
        .token(&exchange_form(&code, &[("code_verifier", CHALLENGE)]))
        .await;
    assert_oauth_error(&res, 400, "invalid_grant");
    // None of that used the code up.
    token_json(&http.exchange(&code).await);
}

#[tokio::test]
async fn a_verifier_redeems_only_the_code_of_its_own_challenge() {
    // RFC 7636 §1: the verifier binds the code to the client instance that asked.
    let idp = Idp::with_config(|c| c.clients[0].skip_consent = true);
    let http = idp.http().await;
    let other_verifier = "other-verifier-0123456789-0123456789-0123456789";
    let other_challenge = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(other_verifier.as_bytes()))
    };
    let first = idp
        .browser()
        .code(&code_params(&[]), ("alice", "alice-password"))
        .await;
    let second = idp
        .browser()
        .code(
            &code_params(&[("code_challenge", &other_challenge)]),
            ("alice", "alice-password"),
        )
        .await;
    let res = http
        .token(&exchange_form(&first, &[("code_verifier", other_verifier)]))
        .await;
    assert_oauth_error(&res, 400, "invalid_grant");
    let res = http.exchange(&second).await;
    assert_oauth_error(&res, 400, "invalid_grant");
    token_json(&http.exchange(&first).await);
    token_json(
        &http
            .token(&exchange_form(
                &second,
                &[("code_verifier", other_verifier)],
            ))
            .await,
    );
}

#[tokio::test]
async fn a_code_is_refused_to_another_client_and_another_redirect_uri() {
    // RFC 6749 §4.1.3: the code was issued to this client, for this redirect_uri.
    let (_idp, http, code) = provider_and_code().await;
    let res = http
        .token(&exchange_form(&code, &[("client_id", "other-app")]))
        .await;
    assert_oauth_error(&res, 400, "invalid_grant");
    let res = http
        .token(&exchange_form(
            &code,
            &[("redirect_uri", "http://localhost:8080/silent-callback.html")],
        ))
        .await;
    assert_oauth_error(&res, 400, "invalid_grant");
    let res = http
        .token(&exchange_form(&code, &[("redirect_uri", "")]))
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
    let res = http.token(&exchange_form("made-up-code", &[])).await;
    assert_oauth_error(&res, 400, "invalid_grant");
    let res = http.token(&exchange_form("", &[])).await;
    assert_oauth_error(&res, 400, "invalid_request");
    token_json(&http.exchange(&code).await);
}

#[tokio::test]
async fn a_code_lives_sixty_seconds() {
    // idp/README.md (Auth0's 60 s; RFC 6749 §4.1.2: short-lived). The provider's clock
    // is moved, not waited for.
    let (idp, http, code) = provider_and_code().await;
    let fresh = idp
        .browser()
        .code(&code_params(&[]), ("alice", "alice-password"))
        .await;
    // 58 s on (real time may add a second), the code still redeems...
    idp.state.advance_clock(Duration::from_secs(58));
    token_json(&http.exchange(&fresh).await);
    // ...at 60 s it no longer does.
    idp.state.advance_clock(Duration::from_secs(2));
    let res = http.exchange(&code).await;
    assert_oauth_error(&res, 400, "invalid_grant");
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_the_refresh_tokens_it_issued() {
    // RFC 6749 §4.1.2: a code used twice is denied, and what it issued is revoked
    // (the refresh-token family; JWT access tokens cannot be recalled).
    let (_idp, http, code) = provider_and_code().await;
    let first = token_json(&http.exchange(&code).await);
    let res = http.exchange(&code).await;
    assert_oauth_error(&res, 400, "invalid_grant");
    let res = http.refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_oauth_error(&res, 400, "invalid_grant");
}

#[tokio::test]
async fn a_code_of_a_session_that_logged_out_is_refused() {
    // idp/README.md: a code is bound to its login session; logout ends it.
    let idp = Idp::with_config(|c| c.clients[0].skip_consent = true);
    let http = idp.http().await;
    let mut b = idp.browser();
    let code = b.code(&code_params(&[]), ("alice", "alice-password")).await;
    b.get("/v2/logout").await;
    let res = http.exchange(&code).await;
    assert_oauth_error(&res, 400, "invalid_grant");
}

#[tokio::test]
async fn broken_requests_get_invalid_request_and_never_a_500() {
    // RFC 6749 §3.2 (POST, form-encoded, parameters at most once) and §5.2.
    let (_idp, http, code) = provider_and_code().await;
    let url = format!("{}/oauth/token", http.base);
    let form = exchange_form(&code, &[]);

    // Duplicated parameters, known or not.
    let mut twice = form.clone();
    twice.push(("code", "another"));
    assert_oauth_error(&http.token(&twice).await, 400, "invalid_request");
    let mut twice = form.clone();
    twice.push(("grant_type", "authorization_code"));
    assert_oauth_error(&http.token(&twice).await, 400, "invalid_request");
    let mut twice = form.clone();
    twice.extend([("x", "1"), ("x", "2")]);
    let res = http.token(&twice).await;
    assert_oauth_error(&res, 400, "invalid_request");

    // An oversized field, and an oversized body.
    let long = "a".repeat(3000);
    let res = http
        .token(&exchange_form(&code, &[("code_verifier", &long)]))
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
    let huge = format!("padding={}", "a".repeat(20_000));
    let res = http
        .send(
            http.client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(huge),
        )
        .await;
    assert_oauth_error(&res, 413, "invalid_request");

    // Wrong or missing content type.
    let json = serde_json::json!({"grant_type": "authorization_code", "code": code});
    let res = http.send(http.client.post(&url).json(&json)).await;
    assert_oauth_error(&res, 400, "invalid_request");
    let res = http
        .send(http.client.post(&url).body("grant_type=authorization_code"))
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
    let res = http
        .send(
            http.client
                .post(&url)
                .header("content-type", "multipart/form-data; boundary=x")
                .body("--x--"),
        )
        .await;
    assert_oauth_error(&res, 400, "invalid_request");

    // GET (the code in the URL) and other methods.
    let res = http
        .send(
            http.client
                .get(format!("{url}?grant_type=authorization_code&code={code}")),
        )
        .await;
    assert_oauth_error(&res, 405, "invalid_request");
    assert_eq!(res.header("allow").as_deref(), Some("POST"));
    let res = http.send(http.client.put(&url)).await;
    assert_oauth_error(&res, 405, "invalid_request");

    // Body bytes that are not UTF-8 are still just an unusable form.
    let res = http
        .send(
            http.client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0xfe, b'=', 0x80]),
        )
        .await;
    assert_oauth_error(&res, 400, "invalid_request");

    // None of that used the code.
    token_json(&http.exchange(&code).await);
}

#[tokio::test]
async fn grant_types_and_clients_are_checked() {
    // RFC 6749 §5.2: unsupported_grant_type, invalid_client (401), unauthorized_client.
    let (_idp, http, code) = provider_and_code().await;
    for grant in ["password", "client_credentials", "implicit", "urn:x"] {
        let res = http
            .token(&exchange_form(&code, &[("grant_type", grant)]))
            .await;
        assert_oauth_error(&res, 400, "unsupported_grant_type");
    }
    let res = http
        .token(&exchange_form(&code, &[("grant_type", "")]))
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
    let res = http
        .token(&exchange_form(&code, &[("client_id", "nobody")]))
        .await;
    assert_oauth_error(&res, 401, "invalid_client");
    let res = http
        .token(&exchange_form(&code, &[("client_id", "")]))
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
    // Public clients only: a secret is refused, HTTP authentication gets a challenge.
    let res = http
        .token(&exchange_form(&code, &[("client_secret", "s3cret")]))
        .await;
    assert_oauth_error(&res, 401, "invalid_client");
    let res = http
        .post_with(
            "/oauth/token",
            &exchange_form(&code, &[]),
            &[("authorization", "Basic aGFzaGdhdGUtc3BhOng=")],
        )
        .await;
    assert_oauth_error(&res, 401, "invalid_client");
    assert!(res.header("www-authenticate").is_some());
    token_json(&http.exchange(&code).await);
}

#[tokio::test]
async fn a_client_without_a_grant_gets_unauthorized_client() {
    // RFC 6749 §5.2: unauthorized_client.
    let idp = Idp::with_config(|c| {
        c.clients[0].grant_types = vec!["implicit".into()];
        c.clients[0].refresh_token_rotation = false;
    });
    let http = idp.http().await;
    let res = http.token(&exchange_form("some-code", &[])).await;
    assert_oauth_error(&res, 400, "unauthorized_client");
    let res = http.refresh("some-token").await;
    assert_oauth_error(&res, 400, "unauthorized_client");
}

#[tokio::test]
async fn the_token_endpoint_answers_cors_for_registered_web_origins_only() {
    // idp/README.md "Token endpoint": CORS for the clients' web origins, on errors
    // too; a browser from any other origin is refused and cannot read the answer.
    let (_idp, http, code) = provider_and_code().await;
    let url = format!("{}/oauth/token", http.base);

    // Preflight from the app.
    let res = http
        .send(
            http.client
                .request(reqwest::Method::OPTIONS, &url)
                .header("origin", "http://localhost:8080")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("access-control-allow-origin").as_deref(),
        Some("http://localhost:8080")
    );
    assert!(res
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert!(res
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase()
        .contains("content-type"));
    assert!(res.header("access-control-allow-credentials").is_none());

    // Preflight from elsewhere: no grant.
    let res = http
        .send(
            http.client
                .request(reqwest::Method::OPTIONS, &url)
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert!(res.header("access-control-allow-origin").is_none());

    // An error the app can read.
    let res = http
        .token(&exchange_form(&code, &[("code_verifier", &"y".repeat(43))]))
        .await;
    assert_oauth_error(&res, 400, "invalid_grant");
    assert_eq!(
        res.header("access-control-allow-origin").as_deref(),
        Some("http://localhost:8080")
    );
    assert!(res
        .header("vary")
        .unwrap()
        .to_ascii_lowercase()
        .contains("origin"));

    // A post from an unknown origin is refused, unreadable, and spends nothing.
    let res = http
        .post_with(
            "/oauth/token",
            &exchange_form(&code, &[]),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_oauth_error(&res, 401, "invalid_client");
    assert!(res.header("access-control-allow-origin").is_none());
    // The origin must be the client's own, not just any client's.
    // (http://127.0.0.1:8080 is a web origin of the demo client, not of other-app.)
    let res = http
        .post_with(
            "/oauth/token",
            &exchange_form(&code, &[("client_id", "other-app")]),
            &[("origin", "http://127.0.0.1:8080")],
        )
        .await;
    assert_oauth_error(&res, 401, "invalid_client");

    // The success, readable by the app.
    let res = http.exchange(&code).await;
    token_json(&res);
    assert_eq!(
        res.header("access-control-allow-origin").as_deref(),
        Some("http://localhost:8080")
    );
}

/// Everything the provider logs from here on, at every level it has.
fn captured_log() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOG: std::sync::OnceLock<std::sync::Mutex<Vec<u8>>> = std::sync::OnceLock::new();
    static INSTALL: std::sync::Once = std::sync::Once::new();
    let log = LOG.get_or_init(|| std::sync::Mutex::new(Vec::new()));
    INSTALL.call_once(|| {
        struct Sink;
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                captured_log().lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "hashgate_idp=trace,tower_http=trace",
            ))
            .with_writer(|| Sink)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    log
}

#[tokio::test]
async fn codes_verifiers_and_tokens_never_reach_the_log() {
    // idp/README.md: tokens, codes and verifiers are never logged, whatever happens
    // to them (exchange, replay, refresh, reuse, revocation, a code in a GET query).
    let log = captured_log();
    let (_idp, http, code) = provider_and_code().await;
    let url = format!("{}/oauth/token", http.base);
    http.send(
        http.client
            .get(format!("{url}?code={code}&code_verifier={VERIFIER}")),
    )
    .await;
    http.token(&exchange_form(&code, &[("code_verifier", &"z".repeat(43))]))
        .await;
    let t = token_json(&http.exchange(&code).await);
    let t1 = t["refresh_token"].as_str().unwrap().to_owned();
    let r = token_json(&http.refresh(&t1).await);
    let t2 = r["refresh_token"].as_str().unwrap().to_owned();
    http.refresh(&t1).await;
    http.post_with(
        "/oauth/revoke",
        &[("client_id", CLIENT), ("token", &t2)],
        &[],
    )
    .await;
    http.exchange(&code).await;

    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(
        text.contains("authorization code exchanged")
            && text.contains("a spent refresh token was presented again")
            && text.contains("an authorization code was presented again"),
        "the log was not captured"
    );
    for secret in [
        code.as_str(),
        VERIFIER,
        &t1,
        &t2,
        t["access_token"].as_str().unwrap(),
        t["id_token"].as_str().unwrap(),
        r["access_token"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "a secret is in the log");
    }
}
