//! Every RFC 6750 answer of the API to good, missing, malformed and hostile tokens.
//! Run with `cargo test -p hashgate-api --test api tokens`.

use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};

#[tokio::test]
async fn the_public_endpoint_needs_no_token() {
    // docs/contract.md §4: `GET /api/public` needs nothing.
    let api = TestApi::start().await;
    let answer = api
        .send(Request::get("/api/public").body(Body::empty()).unwrap())
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body["message"].as_str().unwrap().contains("public"));
}

#[tokio::test]
async fn a_valid_access_token_opens_the_private_endpoint_and_names_the_subject() {
    // RFC 6750 §2.1 and RFC 9068 §4: a valid bearer JWT is accepted.
    let api = TestApi::start().await;
    let answer = api
        .get("/api/private", &api.token("auth0|alice", "openid"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["sub"], "auth0|alice");
    assert!(answer.body["message"].as_str().unwrap().contains("private"));
}

#[tokio::test]
async fn no_credentials_get_a_bare_challenge_without_error_code() {
    // RFC 6750 §3.1: a request without authentication gets no error code.
    let api = TestApi::start().await;
    for path in ["/api/private", "/api/private-scoped", "/api/messages"] {
        let answer = api
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(answer.challenge(), "Bearer realm=\"hashgate-api\"");
        assert_eq!(answer.body["error"], "unauthorized");
        assert!(answer.body["error_description"].is_string());
    }
    // No keys were needed to say so.
    assert_eq!(api.provider.jwks_hits(), 0);
}

#[tokio::test]
async fn credentials_of_another_scheme_count_as_no_bearer_credentials() {
    // RFC 6750 §3.1: an unsupported authentication method gets no error code.
    let api = TestApi::start().await;
    let answer = api
        .send(get_with("/api/private", "Basic YWxpY2U6c2VjcmV0"))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge(), "Bearer realm=\"hashgate-api\"");
}

#[tokio::test]
async fn a_malformed_header_or_an_empty_token_is_an_invalid_request() {
    // RFC 6750 §3.1 invalid_request: the request is malformed.
    let api = TestApi::start().await;
    for header in [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Bearer a b",
        "Bearer a,b",
        "Bearer \"abc\"",
    ] {
        let answer = api.send(get_with("/api/private", header)).await;
        assert_invalid_request(&answer);
    }
}

#[tokio::test]
async fn a_token_in_the_query_is_refused_alone_and_alongside_the_header() {
    // RFC 6750 §2.3 is not supported; §3.1: more than one method is invalid_request.
    let api = TestApi::start().await;
    let token = api.token("alice", "read:messages");
    let alone = api
        .send(
            Request::get(format!("/api/private?access_token={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_invalid_request(&alone);
    alone.assert_no_echo(&token);
    let twice = api
        .get(&format!("/api/private?access_token={token}"), &token)
        .await;
    assert_invalid_request(&twice);
    twice.assert_no_echo(&token);
}

#[tokio::test]
async fn a_token_in_a_form_body_is_refused_even_with_the_header() {
    // RFC 6750 §2.2 is not supported; §3.1: more than one method is invalid_request.
    let api = TestApi::start().await;
    let token = api.token("alice", "write:messages");
    for with_header in [false, true] {
        let mut request = Request::post("/api/messages")
            .header("content-type", "application/x-www-form-urlencoded");
        if with_header {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let answer = api
            .send(
                request
                    .body(Body::from(format!("access_token={token}&text=hi")))
                    .unwrap(),
            )
            .await;
        assert_invalid_request(&answer);
        answer.assert_no_echo(&token);
    }
}

#[tokio::test]
async fn two_authorization_headers_are_an_invalid_request() {
    // RFC 6750 §3.1: more than one method (or header) is invalid_request.
    let api = TestApi::start().await;
    let token = api.token("alice", "");
    let request = Request::get("/api/private")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_invalid_request(&api.send(request).await);
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    // RFC 8725 §2.1: never accept "none".
    let api = TestApi::start().await;
    let claims = access_claims(&api.provider.issuer, "alice", "read:messages");
    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": KEY_A.kid });
        for signature in ["", "c2ln"] {
            let token = format!("{}.{}.{signature}", b64_json(&header), b64_json(&claims));
            let answer = api.get("/api/private-scoped", &token).await;
            assert_invalid_token(&answer, &token);
            assert!(answer.body["error_description"]
                .as_str()
                .unwrap()
                .contains("rs256"));
        }
    }
}

#[tokio::test]
async fn hs256_keyed_with_the_public_key_is_refused() {
    // RFC 8725 §2.1 key confusion: an HMAC keyed with the published RSA key.
    let api = TestApi::start().await;
    let claims = access_claims(&api.provider.issuer, "alice", "read:messages");
    let public = KEY_A.private.to_public_key();
    let secrets: Vec<Vec<u8>> = vec![
        KEY_A.public_pem().into_bytes(),
        public.n().to_bytes_be(),
        serde_json::to_vec(&KEY_A.jwk()).unwrap(),
        KEY_A.jwk()["n"].as_str().unwrap().as_bytes().to_vec(),
    ];
    for secret in secrets {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some(KEY_A.kid.into());
            let token = encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
            let answer = api.get("/api/private", &token).await;
            assert_invalid_token(&answer, &token);
            assert!(answer.body["error_description"]
                .as_str()
                .unwrap()
                .contains("rs256"));
        }
    }
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    // RFC 9068 §4: iss must exactly match the trusted issuer.
    let api = TestApi::start().await;
    let issuer = api.provider.issuer.clone();
    for iss in [
        Value::from("https://evil.example/"),
        Value::from(issuer.trim_end_matches('/')),
        json!([issuer]),
    ] {
        let mut claims = access_claims(&issuer, "alice", "");
        claims["iss"] = iss.clone();
        let token = KEY_A.mint(&claims);
        let answer = api.get("/api/private", &token).await;
        assert_invalid_token(&answer, &token);
        assert!(
            answer.body["error_description"]
                .as_str()
                .unwrap()
                .contains("issuer"),
            "{iss}"
        );
    }
}

#[tokio::test]
async fn a_token_for_another_api_is_refused() {
    // RFC 9068 §4: aud must contain this API's identifier.
    let api = TestApi::start().await;
    for aud in [
        json!("https://other-api.example"),
        json!(["https://other-api.example"]),
        json!([]),
    ] {
        let mut claims = access_claims(&api.provider.issuer, "alice", "");
        claims["aud"] = aud.clone();
        let token = KEY_A.mint(&claims);
        let answer = api.get("/api/private", &token).await;
        assert_invalid_token(&answer, &token);
    }
    let mut claims = access_claims(&api.provider.issuer, "alice", "");
    claims.as_object_mut().unwrap().remove("aud");
    let token = KEY_A.mint(&claims);
    assert_invalid_token(&api.get("/api/private", &token).await, &token);
}

#[tokio::test]
async fn an_id_token_used_as_an_access_token_is_refused() {
    // OIDC: an ID token's aud is the client id, never the API.
    let api = TestApi::start().await;
    let issuer = &api.provider.issuer;
    let id_token = KEY_A.mint(&json!({
        "iss": issuer, "sub": "alice", "aud": CLIENT_ID, "azp": CLIENT_ID,
        "iat": now(), "exp": now() + 600, "nonce": "n-0S6_WzA2Mj",
        "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "name": "Alice",
    }));
    let answer = api.get("/api/private", &id_token).await;
    assert_invalid_token(&answer, &id_token);
    assert!(answer.body["error_description"]
        .as_str()
        .unwrap()
        .contains("audience"));
}

#[tokio::test]
async fn an_expired_token_is_refused_beyond_the_leeway_and_accepted_within_it() {
    // RFC 7519 §4.1.4 with 60 s of clock-skew leeway.
    let api = TestApi::start().await;
    let mut claims = access_claims(&api.provider.issuer, "alice", "");
    claims["exp"] = json!(now() - 120);
    let expired = KEY_A.mint(&claims);
    let answer = api.get("/api/private", &expired).await;
    assert_invalid_token(&answer, &expired);
    assert_eq!(answer.body["error_description"], "the token has expired");

    claims["exp"] = json!(now() - 20);
    let within_leeway = KEY_A.mint(&claims);
    assert_eq!(
        api.get("/api/private", &within_leeway).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused_beyond_the_leeway() {
    // RFC 7519 §4.1.5 with 60 s of clock-skew leeway.
    let api = TestApi::start().await;
    let mut claims = access_claims(&api.provider.issuer, "alice", "");
    claims["nbf"] = json!(now() + 300);
    let early = KEY_A.mint(&claims);
    let answer = api.get("/api/private", &early).await;
    assert_invalid_token(&answer, &early);
    assert_eq!(
        answer.body["error_description"],
        "the token is not valid yet"
    );

    claims["nbf"] = json!(now() + 20);
    assert_eq!(
        api.get("/api/private", &KEY_A.mint(&claims)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_without_sub_or_exp_is_refused() {
    // RFC 9068 §2.2: sub and exp are required in a JWT access token.
    let api = TestApi::start().await;
    for missing in ["sub", "exp"] {
        let mut claims = access_claims(&api.provider.issuer, "alice", "");
        claims.as_object_mut().unwrap().remove(missing);
        let token = KEY_A.mint(&claims);
        let answer = api.get("/api/private", &token).await;
        assert_invalid_token(&answer, &token);
        assert!(answer.body["error_description"]
            .as_str()
            .unwrap()
            .contains(missing));
    }
}

#[tokio::test]
async fn a_tampered_or_foreign_signature_is_refused() {
    // RFC 7515 §5.2: a signature that does not verify with the issuer's key is refused.
    let api = TestApi::start().await;
    let token = api.token("alice", "");
    // Same header and signature, payload changed to another subject.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = b64_json(&access_claims(&api.provider.issuer, "mallory", ""));
    let tampered = parts.join(".");
    assert_invalid_token(&api.get("/api/private", &tampered).await, &tampered);
    // Signed by a key the issuer does not publish, under the issuer's kid.
    let claims = access_claims(&api.provider.issuer, "mallory", "");
    let foreign = KEY_EVIL.sign(&json!({ "alg": "RS256", "kid": KEY_A.kid }), &claims);
    let answer = api.get("/api/private", &foreign).await;
    assert_invalid_token(&answer, &foreign);
    assert_eq!(
        answer.body["error_description"],
        "the token signature is invalid"
    );
}

#[tokio::test]
async fn garbage_tokens_are_refused_without_a_server_error() {
    // RFC 6750 §3.1: a malformed token is a 400/401 with a challenge, never a 500.
    let api = TestApi::start().await;
    for garbage in [
        "abc",
        "a.b.c",
        "a.b.c.d",
        "eyJhbGciOiJSUzI1NiJ9",
        "eyJhbGciOiJSUzI1NiJ9..",
        "e30.e30.e30",
        "bnVsbA.bnVsbA.bnVsbA",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImtleS1hIn0.bm90IGpzb24.c2ln",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImtleS1hIn0.W10.c2ln",
        "===",
    ] {
        let answer = api
            .send(get_with("/api/private", &format!("Bearer {garbage}")))
            .await;
        assert!(
            matches!(answer.status.as_u16(), 400 | 401),
            "{garbage}: {answer:?}"
        );
        assert!(answer
            .challenge()
            .starts_with("Bearer realm=\"hashgate-api\", error="));
    }
}

#[tokio::test]
async fn non_ascii_and_oversized_authorization_headers_are_invalid_requests() {
    // RFC 6750 §2.1 (b64token) and bounded work on hostile input.
    let api = TestApi::start().await;
    let non_ascii = Request::get("/api/private")
        .header("authorization", &b"Bearer \xff\xfe"[..])
        .body(Body::empty())
        .unwrap();
    assert_invalid_request(&api.send(non_ascii).await);
    let huge = format!("Bearer {}", "A".repeat(64 * 1024));
    assert_invalid_request(&api.send(get_with("/api/private", &huge)).await);
    assert_eq!(
        api.provider.jwks_hits(),
        0,
        "no key fetch for a refused header"
    );
}

#[tokio::test]
async fn key_material_or_key_urls_in_the_token_header_are_refused_and_never_fetched() {
    // RFC 8725 §3.10 / our rule: keys only from the issuer's JWKS.
    let api = TestApi::start().await;
    let claims = access_claims(&api.provider.issuer, "mallory", "read:messages");
    let elsewhere = format!("{}elsewhere/jwks.json", api.provider.issuer);
    let evil_jwk = KEY_EVIL.jwk();
    let headers = [
        json!({ "alg": "RS256", "kid": KEY_EVIL.kid, "jku": elsewhere }),
        json!({ "alg": "RS256", "kid": KEY_EVIL.kid, "x5u": elsewhere }),
        json!({ "alg": "RS256", "kid": KEY_EVIL.kid, "jwk": evil_jwk }),
        json!({ "alg": "RS256", "kid": KEY_EVIL.kid, "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"] }),
        // Even with the issuer's real kid, the header must not carry key references.
        json!({ "alg": "RS256", "kid": KEY_A.kid, "jku": elsewhere }),
    ];
    for header in headers {
        let token = KEY_EVIL.sign(&header, &claims);
        let answer = api.get("/api/private-scoped", &token).await;
        assert_invalid_token(&answer, &token);
    }
    assert_eq!(api.provider.elsewhere_hits(), 0);
    assert_eq!(api.provider.jwks_hits(), 0, "refused before choosing a key");
}

#[tokio::test]
async fn a_missing_scope_is_a_403_naming_the_scope() {
    // RFC 6750 §3.1 insufficient_scope, with the scope attribute.
    let api = TestApi::start().await;
    let token = api.token("alice", "openid profile");
    let read = api.get("/api/private-scoped", &token).await;
    assert_eq!(read.status, StatusCode::FORBIDDEN);
    assert_eq!(
        read.challenge(),
        "Bearer realm=\"hashgate-api\", error=\"insufficient_scope\", scope=\"read:messages\""
    );
    assert_eq!(read.body["error"], "insufficient_scope");
    assert!(read.body["error_description"]
        .as_str()
        .unwrap()
        .contains("read:messages"));
    read.assert_no_echo(&token);

    let write = api.post_message(&token, &json!({ "text": "hi" })).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(
        write.challenge(),
        "Bearer realm=\"hashgate-api\", error=\"insufficient_scope\", scope=\"write:messages\""
    );
}

#[tokio::test]
async fn scopes_come_from_scope_and_from_the_permissions_array() {
    // Auth0 RBAC puts API permissions in `permissions`.
    let api = TestApi::start().await;
    let from_scope = api.token("alice", "openid read:messages");
    assert_eq!(
        api.get("/api/private-scoped", &from_scope).await.status,
        StatusCode::OK
    );

    let mut claims = access_claims(&api.provider.issuer, "alice", "openid");
    claims["permissions"] = json!(["read:messages"]);
    let from_permissions = KEY_A.mint(&claims);
    let answer = api.get("/api/private-scoped", &from_permissions).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body["message"]
        .as_str()
        .unwrap()
        .contains("read:messages"));
}

#[tokio::test]
async fn a_token_without_kid_is_accepted_only_when_the_issuer_has_one_key() {
    // RFC 7515 §4.1.4: without a kid the key is only unambiguous when there is one.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    let api = TestApi::with_provider(provider, |_| {}).await;
    let claims = access_claims(&api.provider.issuer, "alice", "");
    let no_kid = KEY_A.sign(&json!({ "alg": "RS256" }), &claims);
    assert_eq!(
        api.get("/api/private", &no_kid).await.status,
        StatusCode::OK
    );

    api.provider.publish(&[&KEY_A, &KEY_B]);
    let two_keys = TestApi::with_provider(api.provider.clone(), |_| {}).await;
    assert_invalid_token(&two_keys.get("/api/private", &no_kid).await, &no_kid);
}

#[test]
fn the_jwk_of_a_test_key_round_trips_its_modulus() {
    // Guards the helpers the other tests rely on.
    let n = URL_SAFE_NO_PAD
        .decode(KEY_A.jwk()["n"].as_str().unwrap())
        .unwrap();
    assert_eq!(n, KEY_A.private.to_public_key().n().to_bytes_be());
    assert_eq!(n.len(), 256);
}

#[tokio::test]
async fn a_remembered_token_is_still_refused_once_it_expires() {
    // Validated tokens are remembered to skip repeated RSA checks; expiry must still apply
    // (RFC 7519 §4.1.4), here with no leeway.
    let api = TestApi::with_provider(FakeProvider::start(&[&KEY_A]).await, |s| {
        s.leeway = std::time::Duration::ZERO;
    })
    .await;
    let mut claims = access_claims(&api.provider.issuer, "alice", "");
    claims["exp"] = json!(now() + 2);
    let token = KEY_A.mint(&claims);
    for _ in 0..3 {
        assert_eq!(api.get("/api/private", &token).await.status, StatusCode::OK);
    }
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let answer = api.get("/api/private", &token).await;
    assert_invalid_token(&answer, &token);
    assert_eq!(answer.body["error_description"], "the token has expired");
}

#[tokio::test]
async fn remembering_a_valid_token_does_not_make_a_tampered_copy_valid() {
    // The memory is keyed by the whole token: changing any byte means a full check again.
    let api = TestApi::start().await;
    let token = api.token("alice", "");
    assert_eq!(api.get("/api/private", &token).await.status, StatusCode::OK);
    // A character well inside the signature (the last one only carries padding bits).
    let at = token.len() - 10;
    let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
    let answer = api.get("/api/private", &tampered).await;
    assert_invalid_token(&answer, &tampered);
}
