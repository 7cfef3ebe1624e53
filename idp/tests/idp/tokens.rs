//! Issued tokens verified by an independent JWT library against the JWKS, plus
//! `/userinfo`, CORS and key rotation.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

async fn tokens(
    idp: &Idp,
    params: &[(&str, &str)],
    user: (&str, &str),
) -> std::collections::HashMap<String, String> {
    let mut b = idp.browser();
    b.log_in(params, user.0, user.1).await.fragment()
}

#[tokio::test]
async fn the_access_token_verifies_against_the_jwks_with_the_expected_claims() {
    let idp = Idp::new();
    let f = tokens(&idp, &spa_params(&[]), ("alice", "alice-password")).await;
    // RFC 9207 §2: the fragment names the issuer beside the tokens.
    assert_eq!(f["iss"], ISSUER);
    let header = jsonwebtoken::decode_header(&f["access_token"]).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert!(header.jku.is_none() && header.jwk.is_none() && header.x5u.is_none());
    let c = verify(&idp, &f["access_token"], API).await;
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], "auth0|alice");
    // With openid, the audience also names the userinfo endpoint (like Auth0).
    assert_eq!(
        c["aud"],
        serde_json::json!([API, "http://localhost:3000/userinfo"])
    );
    assert_eq!(c["azp"], CLIENT);
    assert_eq!(
        c["scope"],
        "openid profile email read:messages write:messages"
    );
    assert_eq!(
        c["permissions"],
        serde_json::json!(["read:messages", "write:messages"])
    );
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        7200
    );
}

#[tokio::test]
async fn the_id_token_verifies_and_carries_nonce_at_hash_and_profile_claims() {
    let idp = Idp::new();
    let f = tokens(&idp, &spa_params(&[]), ("alice", "alice-password")).await;
    let c = verify(&idp, &f["id_token"], CLIENT).await;
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], "auth0|alice");
    assert_eq!(c["aud"], CLIENT);
    // OIDC Core 3.2.2.11: nonce must equal the one we sent.
    assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
    // OIDC Core 3.2.2.9: at_hash = base64url(left half of SHA-256(access_token)).
    let digest = Sha256::digest(f["access_token"].as_bytes());
    assert_eq!(c["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    assert!(c["auth_time"].as_i64().unwrap() <= c["iat"].as_i64().unwrap());
    assert_eq!(c["name"], "Alice Example");
    assert_eq!(c["nickname"], "alice");
    assert_eq!(c["email"], "alice@example.com");
    assert_eq!(c["email_verified"], true);
    assert!(c["picture"]
        .as_str()
        .unwrap()
        .starts_with("http://localhost:3000/avatar?name="));
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        36000
    );
}

#[tokio::test]
async fn claims_follow_the_requested_scopes() {
    let idp = Idp::with_config(|c| c.clients[0].skip_consent = true);
    let f = tokens(
        &idp,
        &spa_params(&[("scope", "openid")]),
        ("alice", "alice-password"),
    )
    .await;
    let c = verify(&idp, &f["id_token"], CLIENT).await;
    assert!(c.get("email").is_none() && c.get("name").is_none());
    let a = verify(&idp, &f["access_token"], API).await;
    assert_eq!(a["permissions"], serde_json::json!([]));
}

#[tokio::test]
async fn an_id_token_only_request_returns_no_access_token_and_no_at_hash() {
    let idp = Idp::new();
    let f = tokens(
        &idp,
        &spa_params(&[
            ("response_type", "id_token"),
            ("scope", "openid profile"),
            ("audience", ""),
        ]),
        ("alice", "alice-password"),
    )
    .await;
    assert!(!f.contains_key("access_token") && !f.contains_key("token_type"));
    let c = verify(&idp, &f["id_token"], CLIENT).await;
    assert!(c.get("at_hash").is_none());
    assert_eq!(f["state"], "af0ifjsldkj");
}

#[tokio::test]
async fn a_token_only_request_returns_an_api_token_without_an_id_token() {
    let idp = Idp::new();
    let f = tokens(
        &idp,
        &spa_params(&[
            ("response_type", "token"),
            ("scope", "read:messages"),
            ("nonce", ""),
        ]),
        ("alice", "alice-password"),
    )
    .await;
    assert!(!f.contains_key("id_token"));
    let c = verify(&idp, &f["access_token"], API).await;
    assert_eq!(c["aud"], API, "no openid: the audience is the API alone");
    assert_eq!(c["scope"], "read:messages");
}

#[tokio::test]
async fn an_api_token_lifetime_set_in_code_is_used() {
    let idp = Idp::with_config(|c| c.apis[0].token_lifetime_secs = 5);
    let f = tokens(&idp, &spa_params(&[]), ("alice", "alice-password")).await;
    assert_eq!(f["expires_in"], "5");
    let c = verify(&idp, &f["access_token"], API).await;
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 5);
}

fn bearer(uri: &str, token: &str) -> Request<Body> {
    Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn userinfo_returns_claims_for_a_valid_access_token() {
    let idp = Idp::new();
    let f = tokens(&idp, &spa_params(&[]), ("alice", "alice-password")).await;
    let res = idp.send(bearer("/userinfo", &f["access_token"])).await;
    assert_eq!(res.status, StatusCode::OK);
    let u = res.json();
    assert_eq!(u["sub"], "auth0|alice");
    assert_eq!(u["email"], "alice@example.com");
    assert_eq!(u["name"], "Alice Example");
}

#[tokio::test]
async fn userinfo_refuses_missing_foreign_and_forged_tokens() {
    let idp = Idp::new();
    let f = tokens(&idp, &spa_params(&[]), ("alice", "alice-password")).await;
    let res = idp.get("/userinfo").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.header("www-authenticate").as_deref(), Some("Bearer"));
    // The ID token's audience is the client, not the userinfo endpoint.
    let res = idp.send(bearer("/userinfo", &f["id_token"])).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.header("www-authenticate").as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
    // An API-only token (no openid) has no userinfo audience.
    let api_only = tokens(
        &idp,
        &spa_params(&[
            ("response_type", "token"),
            ("scope", "read:messages"),
            ("nonce", ""),
        ]),
        ("alice", "alice-password"),
    )
    .await;
    assert_eq!(
        idp.send(bearer("/userinfo", &api_only["access_token"]))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // alg:none with the same claims.
    let parts: Vec<&str> = f["access_token"].split('.').collect();
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let forged = format!("{none_header}.{}.", parts[1]);
    assert_eq!(
        idp.send(bearer("/userinfo", &forged)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A changed payload breaks the signature.
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = "auth0|bob".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_eq!(
        idp.send(bearer("/userinfo", &tampered)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        idp.send(bearer("/userinfo", "garbage")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refused_by_userinfo() {
    let idp = Idp::with_config(|c| c.apis[0].token_lifetime_secs = 1);
    let f = tokens(&idp, &spa_params(&[]), ("alice", "alice-password")).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        idp.send(bearer("/userinfo", &f["access_token"]))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

fn preflight(origin: &str) -> Request<Body> {
    Request::options("/userinfo")
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn userinfo_cors_allows_registered_web_origins_only() {
    let idp = Idp::new();
    let ok = idp.send(preflight("http://127.0.0.1:8080")).await;
    assert_eq!(
        ok.header("access-control-allow-origin").as_deref(),
        Some("http://127.0.0.1:8080")
    );
    assert!(ok
        .header("access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
    for evil in [
        "https://evil.example",
        "http://localhost:8080.evil.example",
        "null",
    ] {
        let res = idp.send(preflight(evil)).await;
        assert!(
            res.header("access-control-allow-origin").is_none(),
            "{evil}"
        );
    }
}

#[tokio::test]
async fn discovery_and_jwks_are_readable_from_any_origin() {
    let idp = Idp::new();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ] {
        let res = idp
            .send(
                Request::get(path)
                    .header("origin", "http://127.0.0.1:4567")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(
            res.header("access-control-allow-origin").as_deref(),
            Some("*"),
            "{path}"
        );
    }
    let jwks = idp.get("/.well-known/jwks.json").await.json();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert!(key.get("d").is_none(), "never publish the private exponent");
}

#[tokio::test]
async fn rotating_keys_signs_with_the_new_key_and_keeps_the_old_one_published() {
    let idp = Idp::new();
    let before = tokens(&idp, &spa_params(&[]), ("alice", "alice-password")).await;
    let old_kid = jsonwebtoken::decode_header(&before["access_token"])
        .unwrap()
        .kid
        .unwrap();
    let new_kid = hashgate_idp::rotate_keys(idp.dir.path(), 3600).unwrap();
    assert_ne!(old_kid, new_kid);
    let after = tokens(
        &idp,
        &spa_params(&[("state", "x")]),
        ("alice", "alice-password"),
    )
    .await;
    assert_eq!(
        jsonwebtoken::decode_header(&after["access_token"])
            .unwrap()
            .kid
            .unwrap(),
        new_kid
    );
    let jwks = idp.get("/.well-known/jwks.json").await.json();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![new_kid.as_str(), old_kid.as_str()]);
    verify(&idp, &before["access_token"], API).await;
    assert_eq!(
        idp.send(bearer("/userinfo", &before["access_token"]))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_key_past_its_grace_period_leaves_the_jwks() {
    let idp = Idp::with_config(|c| c.keys.grace_period_secs = 0);
    let before = tokens(&idp, &spa_params(&[]), ("alice", "alice-password")).await;
    hashgate_idp::rotate_keys(idp.dir.path(), 0).unwrap();
    let jwks = idp.get("/.well-known/jwks.json").await.json();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(
        idp.send(bearer("/userinfo", &before["access_token"]))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}
