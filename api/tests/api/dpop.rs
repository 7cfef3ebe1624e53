//! DPoP (RFC 9449): bound tokens with their proofs, and every hostile variation of a proof.
//! Run with `cargo test -p hashgate-api --test api dpop`.

use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

const PRIVATE: &str = "/api/private";

/// Every `WWW-Authenticate` value, in order.
fn challenges(answer: &Answer) -> Vec<String> {
    answer
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Asserts a 401 `invalid_dpop_proof` on the `DPoP` challenge, the token not echoed.
fn assert_invalid_proof(answer: &Answer, token: &str, why: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{why}: {answer:?}");
    assert_eq!(
        answer.body["error"], "invalid_dpop_proof",
        "{why}: {answer:?}"
    );
    let first = &challenges(answer)[0];
    assert!(
        first.starts_with(
            "DPoP realm=\"hashgate-api\", algs=\"ES256\", error=\"invalid_dpop_proof\""
        ),
        "{why}: {first}"
    );
    answer.assert_no_echo(token);
}

/// Asserts a 401 `invalid_token`, the token not echoed.
fn assert_refused_token(answer: &Answer, token: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.body["error"], "invalid_token", "{answer:?}");
    answer.assert_no_echo(token);
}

#[tokio::test]
async fn a_dpop_bound_token_with_a_proof_by_its_key_opens_the_private_endpoint() {
    // RFC 9449 §7.1: `Authorization: DPoP` with a proof signed by the key in `cnf.jkt`.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.bound_token("auth0|alice", "openid", &key);
    let answer = api
        .get_dpop(PRIVATE, &token, &key.proof("GET", &htu(PRIVATE), &token))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["sub"], "auth0|alice");
    // A fresh proof each time; the validated-token memory does not skip the proof.
    let again = api
        .get_dpop(PRIVATE, &token, &key.proof("GET", &htu(PRIVATE), &token))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    // htu is compared without query and fragment (RFC 9449 §4.3 step 9).
    let with_query = format!("{}?page=2#top", htu(PRIVATE));
    let answer = api
        .send(dpop_request(
            "GET",
            "/api/private?page=2",
            &token,
            &[&key.proof("GET", &with_query, &token)],
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

#[tokio::test]
async fn over_real_http_the_proof_must_name_the_host_the_request_was_sent_to() {
    // RFC 9449 §4.3 step 9: htu is the URL the client used: scheme, Host and path.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    let dir = TempDir::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(hashgate_api::serve(
        listener,
        settings(&provider.issuer, dir.path()),
    ));
    let key = DpopKey::generate();
    let token = provider.bound_token(&KEY_A, "alice", "openid", &key.thumbprint());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let call = |htu: String| {
        let request = client
            .get(format!("http://{address}{PRIVATE}"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", key.proof("GET", &htu, &token));
        async move { request.send().await.unwrap() }
    };
    let ok = call(format!("http://{address}{PRIVATE}")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    for other in [
        format!("http://localhost:{}{PRIVATE}", address.port()),
        format!("https://{address}{PRIVATE}"),
        format!("http://{address}/api/private-scoped"),
    ] {
        let refused = call(other.clone()).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{other}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof", "{other}");
    }
}

#[tokio::test]
async fn a_dpop_bound_token_presented_as_bearer_is_an_invalid_token() {
    // RFC 9449 §7.2: a bound token without its proof must not pass as a bearer token.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid", &key);
    let answer = api.get(PRIVATE, &token).await;
    assert_refused_token(&answer, &token);
    let all = challenges(&answer);
    assert!(
        all[0].starts_with("Bearer realm=\"hashgate-api\", error=\"invalid_token\""),
        "{all:?}"
    );
    assert!(
        all.contains(&"DPoP realm=\"hashgate-api\", algs=\"ES256\"".to_owned()),
        "{all:?}"
    );
}

#[tokio::test]
async fn a_proof_signed_by_another_key_than_the_token_is_bound_to_is_refused() {
    // RFC 9449 §7.1: the proof's key must be the one in cnf.jkt.
    let api = TestApi::start().await;
    let (owner, thief) = (DpopKey::generate(), DpopKey::generate());
    let token = api.bound_token("alice", "openid", &owner);
    let answer = api
        .get_dpop(PRIVATE, &token, &thief.proof("GET", &htu(PRIVATE), &token))
        .await;
    assert_refused_token(&answer, &token);
    assert!(challenges(&answer)[0].starts_with("DPoP "), "{answer:?}");
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    // RFC 9449 §11.1: a proof (its jti) is accepted once.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid", &key);
    let proof = key.proof("GET", &htu(PRIVATE), &token);
    assert_eq!(
        api.get_dpop(PRIVATE, &token, &proof).await.status,
        StatusCode::OK
    );
    let replay = api.get_dpop(PRIVATE, &token, &proof).await;
    assert_invalid_proof(&replay, &token, "replay");
    // The same jti in a newly signed proof is a replay too.
    let mut claims = DpopKey::claims("GET", &htu(PRIVATE), &token);
    let first: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(proof.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    claims["jti"] = first["jti"].clone();
    let resigned = key.sign(&key.header(), &claims);
    assert_invalid_proof(
        &api.get_dpop(PRIVATE, &token, &resigned).await,
        &token,
        "same jti",
    );
}

#[tokio::test]
async fn a_proof_for_another_url_or_method_is_refused() {
    // RFC 9449 §4.3 steps 8 and 9: htm and htu name this very request.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid read:messages", &key);
    for (method, url) in [
        ("POST", htu(PRIVATE)),
        ("get", htu(PRIVATE)),
        ("GET", htu("/api/private-scoped")),
        ("GET", htu("/api//private")),
        ("GET", format!("https://{API_HOST}{PRIVATE}")),
        ("GET", format!("http://api.example{PRIVATE}")),
        ("GET", PRIVATE.to_owned()),
    ] {
        let answer = api
            .get_dpop(PRIVATE, &token, &key.proof(method, &url, &token))
            .await;
        assert_invalid_proof(&answer, &token, &format!("{method} {url}"));
    }
}

#[tokio::test]
async fn a_proof_with_a_wrong_or_missing_ath_is_refused() {
    // RFC 9449 §4.3 step 10 (§7.1): ath is the hash of the very token presented.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid", &key);
    let other = api.bound_token("alice", "openid read:messages", &key);
    let mut wrong = DpopKey::claims("GET", &htu(PRIVATE), &token);
    wrong["ath"] = json!(ath(&other));
    let mut missing = DpopKey::claims("GET", &htu(PRIVATE), &token);
    missing.as_object_mut().unwrap().remove("ath");
    for (why, claims) in [("wrong ath", wrong), ("no ath", missing)] {
        let answer = api
            .get_dpop(PRIVATE, &token, &key.sign(&key.header(), &claims))
            .await;
        assert_invalid_proof(&answer, &token, why);
    }
}

#[tokio::test]
async fn a_proof_issued_ten_minutes_off_is_refused() {
    // RFC 9449 §4.3 step 11: iat within a short window of now, either way.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid", &key);
    for offset in [-600, 600] {
        let mut claims = DpopKey::claims("GET", &htu(PRIVATE), &token);
        claims["iat"] = json!(now() + offset);
        let answer = api
            .get_dpop(PRIVATE, &token, &key.sign(&key.header(), &claims))
            .await;
        assert_invalid_proof(&answer, &token, &format!("iat {offset}"));
    }
    let mut no_iat = DpopKey::claims("GET", &htu(PRIVATE), &token);
    no_iat["iat"] = json!("now");
    let answer = api
        .get_dpop(PRIVATE, &token, &key.sign(&key.header(), &no_iat))
        .await;
    assert_invalid_proof(&answer, &token, "iat not a number");
}

#[tokio::test]
async fn proofs_unsigned_mac_signed_or_typed_as_plain_jwt_are_refused() {
    // RFC 9449 §4.3 steps 4–6: typ dpop+jwt, an asymmetric alg off our list, its signature.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid", &key);
    let claims = DpopKey::claims("GET", &htu(PRIVATE), &token);

    let mut none = key.header();
    none["alg"] = json!("none");
    let unsigned = format!("{}.{}.", b64_json(&none), b64_json(&claims));
    assert_invalid_proof(
        &api.get_dpop(PRIVATE, &token, &unsigned).await,
        &token,
        "alg none",
    );
    let none_signed = key.sign(&none, &DpopKey::claims("GET", &htu(PRIVATE), &token));
    assert_invalid_proof(
        &api.get_dpop(PRIVATE, &token, &none_signed).await,
        &token,
        "alg none with a signature",
    );

    // HS256 keyed with the public key's own text, the classic confusion.
    let mut hs = key.header();
    hs["alg"] = json!("HS256");
    let secret = serde_json::to_vec(&key.jwk()).unwrap();
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.typ = Some("dpop+jwt".into());
    let hs_proof = jsonwebtoken::encode(
        &hs_header,
        &DpopKey::claims("GET", &htu(PRIVATE), &token),
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap();
    assert_invalid_proof(
        &api.get_dpop(PRIVATE, &token, &hs_proof).await,
        &token,
        "hs256",
    );
    let hs_with_jwk = {
        let input = format!(
            "{}.{}",
            b64_json(&hs),
            b64_json(&DpopKey::claims("GET", &htu(PRIVATE), &token))
        );
        let signature = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(&secret),
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap();
        format!("{input}.{signature}")
    };
    assert_invalid_proof(
        &api.get_dpop(PRIVATE, &token, &hs_with_jwk).await,
        &token,
        "hs256 with jwk",
    );

    let mut jwt = key.header();
    jwt["typ"] = json!("JWT");
    let typed_jwt = key.sign(&jwt, &DpopKey::claims("GET", &htu(PRIVATE), &token));
    assert_invalid_proof(
        &api.get_dpop(PRIVATE, &token, &typed_jwt).await,
        &token,
        "typ JWT",
    );

    // A good header with a signature by another key.
    let forged = DpopKey::generate().sign(
        &key.header(),
        &DpopKey::claims("GET", &htu(PRIVATE), &token),
    );
    assert_invalid_proof(
        &api.get_dpop(PRIVATE, &token, &forged).await,
        &token,
        "forged",
    );
}

#[tokio::test]
async fn a_proof_whose_jwk_holds_the_private_key_is_refused() {
    // RFC 9449 §4.3 step 7: the jwk is a public key; a leaked private key is no proof.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid", &key);
    let mut header = key.header();
    header["jwk"] = key.private_jwk();
    let proof = key.sign(&header, &DpopKey::claims("GET", &htu(PRIVATE), &token));
    let answer = api.get_dpop(PRIVATE, &token, &proof).await;
    assert_invalid_proof(&answer, &token, "private jwk");
    assert!(answer.body["error_description"]
        .as_str()
        .unwrap()
        .contains("private key"));
}

#[tokio::test]
async fn a_dpop_token_without_exactly_one_proof_is_refused() {
    // RFC 9449 §4.3 step 1: one DPoP header, no more, no less.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid", &key);
    let (a, b) = (
        key.proof("GET", &htu(PRIVATE), &token),
        key.proof("GET", &htu(PRIVATE), &token),
    );
    for proofs in [vec![], vec![a.as_str(), b.as_str()]] {
        let answer = api
            .send(dpop_request("GET", PRIVATE, &token, &proofs))
            .await;
        assert_invalid_proof(&answer, &token, &format!("{} proofs", proofs.len()));
    }
    let garbage = api.get_dpop(PRIVATE, &token, "not.a.proof").await;
    assert_invalid_proof(&garbage, &token, "garbage");
}

#[tokio::test]
async fn an_unbound_token_with_the_dpop_scheme_is_an_invalid_token() {
    // RFC 9449 §7.1: the DPoP scheme is for tokens bound to the proof's key.
    let api = TestApi::start().await;
    let key = DpopKey::generate();
    let token = api.token("alice", "openid");
    let answer = api
        .get_dpop(PRIVATE, &token, &key.proof("GET", &htu(PRIVATE), &token))
        .await;
    assert_refused_token(&answer, &token);
}

#[tokio::test]
async fn every_challenge_offers_dpop_beside_bearer() {
    // RFC 9449 §7.1 and §7.2: a server accepting both schemes challenges with both.
    let api = TestApi::start().await;
    let answer = api
        .send(Request::get(PRIVATE).body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        challenges(&answer),
        [
            "Bearer realm=\"hashgate-api\"",
            "DPoP realm=\"hashgate-api\", algs=\"ES256\""
        ]
    );
    // A DPoP client lacking a scope reads it on the DPoP challenge.
    let key = DpopKey::generate();
    let token = api.bound_token("bob", "openid", &key);
    let path = "/api/private-scoped";
    let answer = api
        .get_dpop(path, &token, &key.proof("GET", &htu(path), &token))
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{answer:?}");
    assert_eq!(
        challenges(&answer),
        [
            "DPoP realm=\"hashgate-api\", algs=\"ES256\", error=\"insufficient_scope\", scope=\"read:messages\"",
            "Bearer realm=\"hashgate-api\""
        ]
    );
}

#[tokio::test]
async fn with_server_nonces_a_proof_without_the_nonce_is_answered_with_one_and_passes_with_it() {
    // RFC 9449 §9: use_dpop_nonce with a DPoP-Nonce header, then the proof carries it.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    let api = TestApi::with_provider(provider, |s| s.dpop_nonce = true).await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid", &key);
    let first = api
        .get_dpop(PRIVATE, &token, &key.proof("GET", &htu(PRIVATE), &token))
        .await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED, "{first:?}");
    assert_eq!(first.body["error"], "use_dpop_nonce");
    assert!(challenges(&first)[0]
        .starts_with("DPoP realm=\"hashgate-api\", algs=\"ES256\", error=\"use_dpop_nonce\""));
    let nonce = first.header("dpop-nonce").unwrap().to_owned();
    assert!(nonce.len() >= 16);

    let mut claims = DpopKey::claims("GET", &htu(PRIVATE), &token);
    claims["nonce"] = json!(nonce);
    let second = api
        .get_dpop(PRIVATE, &token, &key.sign(&key.header(), &claims))
        .await;
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
    // Every answer to a DPoP request hands out the nonce to use next.
    assert_eq!(second.header("dpop-nonce"), Some(nonce.as_str()));

    let mut made_up = DpopKey::claims("GET", &htu(PRIVATE), &token);
    made_up["nonce"] = json!("made-up-nonce-made-up-nonce");
    let third = api
        .get_dpop(PRIVATE, &token, &key.sign(&key.header(), &made_up))
        .await;
    assert_eq!(third.body["error"], "use_dpop_nonce", "{third:?}");
}

#[tokio::test]
async fn with_require_dpop_plain_bearer_tokens_are_refused_and_dpop_ones_pass() {
    // RFC 9449 §7.2: a resource may accept DPoP-bound tokens only.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    let api = TestApi::with_provider(provider, |s| s.require_dpop = true).await;
    let plain = api.token("alice", "openid");
    let refused = api.get(PRIVATE, &plain).await;
    assert_refused_token(&refused, &plain);
    let none = api
        .send(Request::get(PRIVATE).body(Body::empty()).unwrap())
        .await;
    // Without credentials the only scheme offered is DPoP.
    assert_eq!(
        challenges(&none),
        ["DPoP realm=\"hashgate-api\", algs=\"ES256\""]
    );
    let key = DpopKey::generate();
    let bound = api.bound_token("alice", "openid", &key);
    let ok = api
        .get_dpop(PRIVATE, &bound, &key.proof("GET", &htu(PRIVATE), &bound))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
}

#[tokio::test]
async fn behind_a_proxy_the_proof_must_name_the_configured_public_url() {
    // RFC 9449 §4.3 step 9: the URL the client used is the proxy's, not the internal one.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    let api = TestApi::with_provider(provider, |s| {
        s.public_url = Some("https://api.example.com/backend/".into())
    })
    .await;
    let key = DpopKey::generate();
    let token = api.bound_token("alice", "openid", &key);
    let public = format!("https://api.example.com/backend{PRIVATE}");
    let ok = api
        .get_dpop(PRIVATE, &token, &key.proof("GET", &public, &token))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    let internal = api
        .get_dpop(PRIVATE, &token, &key.proof("GET", &htu(PRIVATE), &token))
        .await;
    assert_invalid_proof(&internal, &token, "internal url");
}

#[tokio::test]
async fn a_public_url_that_is_not_an_absolute_http_url_does_not_start() {
    // Bad configuration is refused at start with a named error.
    let dir = TempDir::new();
    for bad in [
        "api.example.com",
        "ftp://api.example.com",
        "https://a.example/?x=1",
    ] {
        let mut settings = settings("http://127.0.0.1:9/", dir.path());
        settings.public_url = Some(bad.into());
        assert!(
            matches!(
                hashgate_api::AppState::new(settings),
                Err(hashgate_api::StartError::PublicUrl(_))
            ),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_handler_with_two_extractors_checks_the_proof_once() {
    // RFC 9449 §11.1: the proof is single-use, and one request uses it once, however many
    // extractors (Claims, RequireScope) read the claims.
    use axum::routing::get;
    use hashgate_api::{Claims, ReadMessages, RequireScope};
    async fn both(claims: Claims, scoped: RequireScope<ReadMessages>) -> String {
        format!("{} {}", claims.sub, scoped.sub)
    }
    let provider = FakeProvider::start(&[&KEY_A]).await;
    let dir = TempDir::new();
    let state = hashgate_api::AppState::new(settings(&provider.issuer, dir.path())).unwrap();
    let router = hashgate_api::app_with(state, axum::Router::new().route("/api/both", get(both)));
    let key = DpopKey::generate();
    let token = provider.bound_token(&KEY_A, "alice", "read:messages", &key.thumbprint());
    let proof = key.proof("GET", &htu("/api/both"), &token);
    let answer = send(&router, dpop_request("GET", "/api/both", &token, &[&proof])).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.raw, "alice alice");
}
