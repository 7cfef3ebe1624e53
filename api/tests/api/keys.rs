//! Discovery and JWKS behaviour: lazy start, rotation, rate limit, single-flight, provider down.
//! Run with `cargo test -p hashgate-api --test api keys`.

use std::time::Duration;

use crate::support::*;
use axum::http::StatusCode;
use hashgate_api::{app, AppState, Settings};

#[tokio::test]
async fn the_api_starts_while_the_provider_is_unreachable_and_answers_503_until_keys_arrive() {
    // Nothing is fetched at start-up; with no keys ever obtained, requests get 503 + Retry-After.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_issuer = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let dir = TempDir::new();
    let state = AppState::new(settings(&closed_issuer, dir.path())).unwrap();
    let router = app(state);
    let token = KEY_A.mint(&access_claims(&closed_issuer, "alice", ""));
    let answer = send(
        &router,
        get_with("/api/private", &format!("Bearer {token}")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("5"));
    assert_eq!(answer.body["error"], "temporarily_unavailable");
    answer.assert_no_echo(&token);
    // The public endpoint does not depend on the provider.
    let public = send(&router, get_with("/api/public", "")).await;
    assert_eq!(public.status, StatusCode::OK);
}

#[tokio::test]
async fn keys_are_fetched_on_first_use_once_the_provider_comes_up() {
    // api/README.md, keys: nothing fetched at start-up; 503 until keys arrive; then cached.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    provider.set_down(true);
    let api = TestApi::with_provider(provider, |_| {}).await;
    assert_eq!(
        api.provider.jwks_hits() + api.provider.discovery_hits(),
        0,
        "lazy"
    );
    let token = api.token("alice", "");
    assert_eq!(
        api.get("/api/private", &token).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    api.provider.set_down(false);
    assert_eq!(api.get("/api/private", &token).await.status, StatusCode::OK);
    // Cached: more requests fetch nothing.
    for _ in 0..5 {
        assert_eq!(api.get("/api/private", &token).await.status, StatusCode::OK);
    }
    assert_eq!(api.provider.jwks_hits(), 1);
    assert_eq!(api.provider.discovery_hits(), 2);
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_not_trusted() {
    // OIDC Discovery §4.3: the document's issuer must equal the configured one.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    *provider.state.claimed_issuer.lock().unwrap() = Some("https://evil.example/".into());
    let api = TestApi::with_provider(provider, |_| {}).await;
    let answer = api.get("/api/private", &api.token("alice", "")).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.provider.jwks_hits(), 0);
}

#[tokio::test]
async fn a_discovery_document_sending_keys_over_plain_http_to_another_host_is_not_trusted() {
    // OIDC Discovery 7.1 and 4.3 (hashgate-protocol's ProviderMetadata::check): keys only over
    // https, or http on loopback where nobody can swap them on the way.
    let (logs, _capturing) = Logs::capture();
    let provider = FakeProvider::start(&[&KEY_A]).await;
    *provider.state.claimed_jwks_uri.lock().unwrap() =
        Some("http://keys.example/.well-known/jwks.json".into());
    let api = TestApi::with_provider(provider, |_| {}).await;
    let token = api.token("alice", "");
    let answer = api.get("/api/private", &token).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    answer.assert_no_echo(&token);
    assert_eq!(api.provider.discovery_hits(), 1);
    assert_eq!(api.provider.jwks_hits(), 0);
    // Refused for what the document says, before any request to that host.
    assert_eq!(logs.count("jwks_uri is not a usable https URL"), 1);
}

#[tokio::test]
async fn only_rsa_signing_keys_for_rs256_in_the_jwks_ever_verify_a_token() {
    // RFC 7517 4.1-4.3 and RFC 7518 3.3, applied by hashgate-protocol's usable_rsa_keys: an
    // entry the API cannot use is skipped, not fatal, and never verifies anything.
    let provider = FakeProvider::start(&[]).await;
    let mut encryption = KEY_B.jwk();
    encryption["use"] = "enc".into();
    let mut other_alg = KEY_EVIL.jwk();
    other_alg["alg"] = "PS256".into();
    provider.publish_entries(vec![
        "not a key".into(),
        serde_json::json!({ "kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA" }),
        serde_json::json!({ "kty": "oct", "kid": "oct", "k": "c2VjcmV0" }),
        encryption,
        other_alg,
        KEY_A.jwk(),
    ]);
    let api = TestApi::with_provider(provider, |_| {}).await;
    assert_eq!(
        api.get("/api/private", &api.token("alice", ""))
            .await
            .status,
        StatusCode::OK
    );
    for key in [&*KEY_B, &*KEY_EVIL] {
        let token = api.provider.token(key, "mallory", "");
        let answer = api.get("/api/private", &token).await;
        assert_invalid_token(&answer, &token);
        assert_eq!(
            answer.body["error_description"],
            "the token was signed with a key the issuer does not publish",
            "{}",
            key.kid
        );
    }
}

#[tokio::test]
async fn a_kid_the_jwks_lists_for_two_keys_validates_no_token() {
    // RFC 7517 4.5: a kid names one key. hashgate-protocol's select_key refuses to choose when
    // the set lists it twice (AmbiguousKey), so neither key's tokens pass, whichever comes first.
    let provider = FakeProvider::start(&[]).await;
    let mut impostor = KEY_B.jwk();
    impostor["kid"] = KEY_A.kid.into();
    provider.publish_entries(vec![KEY_A.jwk(), impostor]);
    let api = TestApi::with_provider(provider, |_| {}).await;
    let claims = access_claims(&api.provider.issuer, "alice", "");
    for signer in [&*KEY_A, &*KEY_B] {
        let token = signer.sign(
            &serde_json::json!({ "alg": "RS256", "kid": KEY_A.kid }),
            &claims,
        );
        let answer = api.get("/api/private", &token).await;
        assert_invalid_token(&answer, &token);
        assert_eq!(
            answer.body["error_description"],
            "the issuer publishes several keys under the token's kid, so none is trusted"
        );
    }
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_refetching_on_its_unknown_kid() {
    // RFC 7517 4.5 / OIDC Core 10.1.1: a new kid means rotation; refetch the JWKS for it.
    let api = TestApi::start().await;
    assert_eq!(
        api.get("/api/private", &api.token("alice", ""))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(api.provider.jwks_hits(), 1);

    api.provider.publish(&[&KEY_A, &KEY_B]);
    let new_token = api.provider.token(&KEY_B, "alice", "");
    assert_eq!(
        api.get("/api/private", &new_token).await.status,
        StatusCode::OK
    );
    assert_eq!(api.provider.jwks_hits(), 2);
    // Discovery is not repeated while jwks_uri works.
    assert_eq!(api.provider.discovery_hits(), 1);

    // A key the issuer stopped publishing stops validating after the next refetch.
    api.provider.publish(&[&KEY_B]);
    let stranger = api.provider.token(&KEY_EVIL, "alice", "");
    assert_invalid_token(&api.get("/api/private", &stranger).await, &stranger);
    let old_token = api.token("alice", "");
    assert_invalid_token(&api.get("/api/private", &old_token).await, &old_token);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    // api/README.md, keys: made-up kids cannot turn the API into a request cannon.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    let api = TestApi::with_provider(provider, |s| {
        s.jwks_min_refresh_interval = Duration::from_secs(30);
    })
    .await;
    assert_eq!(
        api.get("/api/private", &api.token("alice", ""))
            .await
            .status,
        StatusCode::OK
    );
    // Someone floods us with made-up kids: the provider is not hammered.
    for i in 0..10 {
        let claims = access_claims(&api.provider.issuer, "mallory", "");
        let token = KEY_EVIL.sign(
            &serde_json::json!({ "alg": "RS256", "kid": format!("made-up-{i}") }),
            &claims,
        );
        assert_invalid_token(&api.get("/api/private", &token).await, &token);
    }
    assert_eq!(api.provider.jwks_hits(), 1);
    // The cached key still works meanwhile.
    assert_eq!(
        api.get("/api/private", &api.token("alice", ""))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_provider_is_down_and_unknown_kids_get_401() {
    // api/README.md, keys: an outage within the max age changes nothing for known keys.
    let api = TestApi::start().await;
    let token = api.token("alice", "read:messages");
    assert_eq!(
        api.get("/api/private-scoped", &token).await.status,
        StatusCode::OK
    );

    api.provider.set_down(true);
    assert_eq!(
        api.get("/api/private-scoped", &token).await.status,
        StatusCode::OK
    );
    let rotated = api.provider.token(&KEY_B, "alice", "read:messages");
    let answer = api.get("/api/private-scoped", &rotated).await;
    assert_invalid_token(&answer, &rotated);
    assert!(api.provider.jwks_hits() >= 2, "a refetch was attempted");
    // The failed refetch did not drop the cached key.
    assert_eq!(
        api.get("/api/private-scoped", &token).await.status,
        StatusCode::OK
    );

    api.provider.set_down(false);
    api.provider.publish(&[&KEY_A, &KEY_B]);
    assert_eq!(
        api.get("/api/private-scoped", &rotated).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn concurrent_requests_with_an_unknown_kid_share_one_jwks_fetch() {
    // Single-flight: with no rate limit at all, N waiters still cause one refetch.
    let api = TestApi::start().await;
    assert_eq!(
        api.get("/api/private", &api.token("alice", ""))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(api.provider.jwks_hits(), 1);

    api.provider.publish(&[&KEY_A, &KEY_B]);
    api.provider.set_jwks_delay(Duration::from_millis(300));
    let token = api.provider.token(&KEY_B, "alice", "");
    for status in api.get_private_concurrently(vec![token; 25]).await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(api.provider.jwks_hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_share_one_discovery_and_one_jwks_fetch() {
    // api/README.md, keys: single-flight from the very first request.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    provider.set_jwks_delay(Duration::from_millis(200));
    let api = TestApi::with_provider(provider, |_| {}).await;
    let token = api.token("alice", "");
    for status in api.get_private_concurrently(vec![token; 25]).await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(api.provider.discovery_hits(), 1);
    assert_eq!(api.provider.jwks_hits(), 1);
}

#[tokio::test]
async fn the_api_served_over_tcp_answers_and_survives_an_oversized_header() {
    // The in-process entry point other crates' end-to-end tests use.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    let dir = TempDir::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let settings: Settings = settings(&provider.issuer, dir.path());
    let server = tokio::spawn(hashgate_api::serve(listener, settings));

    let client = reqwest::Client::new();
    let public = client
        .get(format!("{base}/api/public"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    let token = provider.token(&KEY_A, "alice", "");
    let private = client
        .get(format!("{base}/api/private"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), 200);
    let body: serde_json::Value = private.json().await.unwrap();
    assert_eq!(body["sub"], "alice");

    let huge = client
        .get(format!("{base}/api/private"))
        .header(
            "authorization",
            format!("Bearer {}", "A".repeat(1024 * 1024)),
        )
        .send()
        .await;
    if let Ok(response) = huge {
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    // Still serving afterwards.
    let again = client
        .get(format!("{base}/api/public"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert!(!server.is_finished());
    server.abort();
}
