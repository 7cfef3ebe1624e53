//! Key freshness: the issuer's keys are used for at most their max age, so a key the provider
//! removes stops validating, and an outage is bridged for one more max age only.
//! Run with `cargo test -p hashgate-api --test api freshness`.
//!
//! The max ages here are a second or two and the waits are real sleeps of that length: they
//! make the keys old; nothing here measures how fast anything is.

use std::time::Duration;

use axum::http::StatusCode;

use crate::support::*;

/// The max age of the tests that only need the keys to get old.
const MAX_AGE: Duration = Duration::from_secs(1);

async fn api_with_max_age(provider: FakeProvider, max_age: Duration) -> TestApi {
    TestApi::with_provider(provider, |settings| settings.jwks_max_age = max_age).await
}

#[tokio::test]
async fn a_key_the_provider_removes_stops_validating_within_the_max_age() {
    // api/README.md, key freshness (--jwks-max-age): once the cached JWKS is older than its max
    // age the next request refetches it; a key gone from it stops validating, and so does every
    // token the validated-token memory holds for it.
    let provider = FakeProvider::start(&[&KEY_A, &KEY_B]).await;
    let api = api_with_max_age(provider, MAX_AGE).await;
    let signed_by_a = api.token("alice", "");
    let signed_by_b = api.provider.token(&KEY_B, "bob", "");
    for _ in 0..3 {
        assert_eq!(
            api.get("/api/private", &signed_by_a).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        api.get("/api/private", &signed_by_b).await.status,
        StatusCode::OK
    );

    api.provider.publish(&[&KEY_B]);
    tokio::time::sleep(MAX_AGE).await;
    let answer = api.get("/api/private", &signed_by_a).await;
    assert_invalid_token(&answer, &signed_by_a);
    assert_eq!(
        answer.body["error_description"],
        "the token was signed with a key the issuer does not publish"
    );
    let new_token_by_a = KEY_A.mint(&access_claims(&api.provider.issuer, "carol", ""));
    assert_invalid_token(
        &api.get("/api/private", &new_token_by_a).await,
        &new_token_by_a,
    );
    // The key still published keeps working, its remembered token included.
    assert_eq!(
        api.get("/api/private", &signed_by_b).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn while_the_keys_are_younger_than_their_max_age_no_request_fetches_the_jwks() {
    // api/README.md, key freshness: within the max age (default 600 s) every request is
    // answered from the cached keys, whatever the token, remembered, new or refused.
    let api = TestApi::start().await;
    let tokens: Vec<String> = (0..5)
        .map(|i| api.token(&format!("user-{i}"), "read:messages"))
        .collect();
    for _ in 0..4 {
        for token in &tokens {
            assert_eq!(api.get("/api/private", token).await.status, StatusCode::OK);
            let scoped = api.get("/api/private-scoped", token).await;
            assert_eq!(scoped.status, StatusCode::OK);
        }
    }
    let mut expired = access_claims(&api.provider.issuer, "alice", "");
    expired["exp"] = serde_json::json!(now() - 3600);
    let expired = KEY_A.mint(&expired);
    assert_invalid_token(&api.get("/api/private", &expired).await, &expired);
    let forged = KEY_EVIL.sign(
        &serde_json::json!({ "alg": "RS256", "kid": KEY_A.kid }),
        &access_claims(&api.provider.issuer, "mallory", ""),
    );
    assert_invalid_token(&api.get("/api/private", &forged).await, &forged);
    assert_eq!(api.provider.discovery_hits(), 1);
    assert_eq!(api.provider.jwks_hits(), 1);
}

#[tokio::test]
async fn after_the_max_age_concurrent_requests_share_one_refetch() {
    // api/README.md, key freshness: the refetch after the max age is single-flight. Two
    // seconds, so the fetched keys cannot go stale again while the 25 requests finish.
    const MAX_AGE: Duration = Duration::from_secs(2);
    let api = api_with_max_age(FakeProvider::start(&[&KEY_A]).await, MAX_AGE).await;
    let remembered = api.token("alice", "");
    assert_eq!(
        api.get("/api/private", &remembered).await.status,
        StatusCode::OK
    );
    assert_eq!(api.provider.jwks_hits(), 1);

    api.provider.set_jwks_delay(Duration::from_millis(300));
    tokio::time::sleep(MAX_AGE).await;
    // Half remembered, half never seen: both paths wait for the same refetch.
    let tokens = (0..25)
        .map(|i| {
            if i % 2 == 0 {
                remembered.clone()
            } else {
                api.token(&format!("user-{i}"), "")
            }
        })
        .collect();
    for status in api.get_private_concurrently(tokens).await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(api.provider.jwks_hits(), 2);
    assert_eq!(api.provider.discovery_hits(), 1);
}

#[tokio::test]
async fn a_failed_refetch_keeps_the_keys_for_one_more_max_age_then_refuses() {
    // api/README.md, key freshness: an outage is bridged for one more max age and logged once
    // (not once per request); then 503, since renewing the token would not help; and the API
    // recovers as soon as the provider answers.
    const MAX_AGE: Duration = Duration::from_secs(2);
    let (logs, _capturing) = Logs::capture();
    let api = api_with_max_age(FakeProvider::start(&[&KEY_A]).await, MAX_AGE).await;
    let token = api.token("alice", "");
    assert_eq!(api.get("/api/private", &token).await.status, StatusCode::OK);

    api.provider.set_down(true);
    tokio::time::sleep(MAX_AGE).await;
    for _ in 0..5 {
        let answer = api.get("/api/private", &token).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    let attempts = api.provider.jwks_hits() + api.provider.discovery_hits() - 2;
    assert!(
        attempts >= 5,
        "each request past the max age retried: {attempts}"
    );
    assert_eq!(logs.count("could not refresh the issuer's signing keys"), 1);

    tokio::time::sleep(MAX_AGE).await;
    for _ in 0..3 {
        let answer = api.get("/api/private", &token).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
        assert_eq!(answer.body["error"], "temporarily_unavailable");
        assert_eq!(answer.header("retry-after"), Some("5"));
        answer.assert_no_echo(&token);
    }
    assert_eq!(logs.count("keys expired and cannot be fetched again"), 1);
    assert_eq!(logs.count("could not refresh the issuer's signing keys"), 1);

    api.provider.set_down(false);
    assert_eq!(api.get("/api/private", &token).await.status, StatusCode::OK);
    assert_eq!(logs.count("the issuer's signing keys are fetched again"), 1);
}

#[tokio::test]
async fn a_shorter_cache_control_max_age_on_the_jwks_lowers_the_max_age() {
    // RFC 9111 §5.2.2.1 and api/README.md, key freshness: the JWKS response's max-age wins
    // when it is shorter than --jwks-max-age (down to the floor, lowered here to make it quick).
    let provider = FakeProvider::start(&[&KEY_A, &KEY_B]).await;
    provider.set_cache_control("public, max-age=1");
    let api = TestApi::with_provider(provider, |settings| {
        settings.jwks_max_age_floor = Duration::ZERO;
    })
    .await;
    let signed_by_a = api.token("alice", "");
    assert_eq!(
        api.get("/api/private", &signed_by_a).await.status,
        StatusCode::OK
    );

    api.provider.publish(&[&KEY_B]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_invalid_token(&api.get("/api/private", &signed_by_a).await, &signed_by_a);
    assert!(api.provider.jwks_hits() >= 2);
}
