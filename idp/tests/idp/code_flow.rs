//! The authorization code grant with PKCE (`idp/README.md`, "Authorization code flow"):
//! `/authorize?response_type=code` and its exchange at `/oauth/token` over a real
//! socket, checked against RFC 6749 §4.1, RFC 7636, RFC 9207 and OIDC Core §3.1.

use crate::common::*;
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn the_full_code_and_pkce_exchange_returns_tokens_that_verify() {
    // RFC 6749 §4.1.2 / RFC 9207 §2: code, state and iss in the redirect's query;
    // RFC 7636 §4.6: the Appendix B verifier redeems the Appendix B challenge;
    // RFC 6749 §5.1: a JSON answer that is not cached.
    let idp = Idp::new();
    let http = idp.http().await;
    let mut b = idp.browser();
    let res = b.log_in(&code_params(&[]), "alice", "alice-password").await;
    assert!(
        res.location()
            .starts_with("http://localhost:8080/callback?"),
        "{}",
        res.location()
    );
    let q = res.query();
    assert_eq!(q["state"], "af0ifjsldkj");
    assert_eq!(q["iss"], ISSUER);
    assert_eq!(q["code"].len(), 43);
    assert!(!q.contains_key("access_token") && !q.contains_key("id_token"));

    let t = token_json(&http.exchange(&q["code"]).await);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 7200);
    assert_eq!(
        t["scope"],
        "openid profile email offline_access read:messages write:messages"
    );
    assert_eq!(t["refresh_token"].as_str().unwrap().len(), 43);

    let access = verify(&idp, t["access_token"].as_str().unwrap(), API).await;
    assert_eq!(access["sub"], "auth0|alice");
    assert_eq!(access["azp"], CLIENT);
    // offline_access is a scope, never an API permission.
    assert_eq!(
        access["permissions"],
        serde_json::json!(["read:messages", "write:messages"])
    );
    let id = verify(&idp, t["id_token"].as_str().unwrap(), CLIENT).await;
    assert_eq!(id["sub"], "auth0|alice");
    // OIDC Core §3.1.3.7: the nonce of the authorization request.
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    // OIDC Core §3.1.3.6: at_hash, optional in the code flow, is present and right.
    let digest = Sha256::digest(t["access_token"].as_str().unwrap().as_bytes());
    assert_eq!(id["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    assert_eq!(id["email"], "alice@example.com");
    assert!(id["sid"].is_string() && id["auth_time"].is_i64());
}

#[tokio::test]
async fn a_code_request_without_openid_gets_an_access_token_only() {
    // OIDC Core §3.1.2.1: without openid it is a plain OAuth code request.
    let idp = Idp::with_config(|c| c.clients[0].skip_consent = true);
    let http = idp.http().await;
    let code = idp
        .browser()
        .code(
            &code_params(&[("scope", "read:messages"), ("nonce", "")]),
            ("bob", "bob-password"),
        )
        .await;
    let t = token_json(&http.exchange(&code).await);
    assert!(t.get("id_token").is_none() && t.get("refresh_token").is_none());
    assert_eq!(t["scope"], "read:messages");
    let access = verify(&idp, t["access_token"].as_str().unwrap(), API).await;
    assert_eq!(access["aud"], API);
}

#[tokio::test]
async fn code_requests_without_s256_pkce_get_invalid_request_in_the_query() {
    // RFC 7636 §4.4.1 and RFC 9700 §2.1.1: PKCE is required, and plain is refused;
    // RFC 6749 §4.1.2.1: the error goes to the redirect URI's query with state and iss.
    let idp = Idp::new();
    for (k, v) in [
        ("code_challenge", ""),
        ("code_challenge_method", ""),
        ("code_challenge_method", "plain"),
        ("code_challenge_method", "s256"),
        ("code_challenge", "short"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        ),
    ] {
        let res = idp.get(&authorize_uri(&code_params(&[(k, v)]))).await;
        assert_eq!(res.status, StatusCode::FOUND, "{k}={v}");
        assert!(res
            .location()
            .starts_with("http://localhost:8080/callback?"));
        let q = res.query();
        assert_eq!(q["error"], "invalid_request", "{k}={v}");
        assert_eq!(q["state"], "af0ifjsldkj");
        assert_eq!(q["iss"], ISSUER);
        assert!(!q.contains_key("code"));
    }
}

#[tokio::test]
async fn code_errors_follow_the_requested_response_mode_and_carry_iss() {
    // OAuth 2.0 Multiple Response Type Encoding Practices §2.1: query is the code's
    // default; fragment and web_message are honoured; RFC 9207 §2: iss in every one.
    let idp = Idp::new();
    let res = idp
        .get(&authorize_uri(&code_params(&[(
            "scope",
            "openid admin:all",
        )])))
        .await;
    let q = res.query();
    assert_eq!(q["error"], "invalid_scope");
    assert_eq!(q["iss"], ISSUER);

    let res = idp
        .get(&authorize_uri(&code_params(&[
            ("scope", "openid admin:all"),
            ("response_mode", "fragment"),
        ])))
        .await;
    let f = res.fragment();
    assert_eq!(f["error"], "invalid_scope");
    assert_eq!(f["iss"], ISSUER);
    assert_eq!(f["state"], "af0ifjsldkj");

    let res = idp
        .get(&authorize_uri(&code_params(&[
            ("prompt", "none"),
            ("response_mode", "web_message"),
        ])))
        .await;
    let m = res.web_message();
    assert_eq!(m["message"]["response"]["error"], "login_required");
    assert_eq!(m["message"]["response"]["iss"], ISSUER);

    // An unusable response_mode is itself reported through the code's default.
    let q = idp
        .get(&authorize_uri(&code_params(&[(
            "response_mode",
            "form_post",
        )])))
        .await
        .query();
    assert_eq!(q["error"], "invalid_request");
}

#[tokio::test]
async fn the_implicit_grant_never_answers_in_the_query_and_carries_iss() {
    // Multiple Response Type Encoding Practices §2.1: tokens never go in a query.
    // RFC 9207 §2: discovery advertises iss, so implicit answers carry it too.
    let idp = Idp::new();
    let f = idp
        .get(&authorize_uri(&spa_params(&[("response_mode", "query")])))
        .await
        .fragment();
    assert_eq!(f["error"], "invalid_request");
    assert_eq!(f["iss"], ISSUER);
    // offline_access belongs to code requests only.
    let f = idp
        .get(&authorize_uri(&spa_params(&[(
            "scope",
            "openid offline_access",
        )])))
        .await
        .fragment();
    assert_eq!(f["error"], "invalid_scope");
}

#[tokio::test]
async fn a_client_without_the_code_grant_gets_unauthorized_client_in_the_query() {
    // RFC 6749 §4.1.2.1: unauthorized_client.
    let idp = Idp::with_config(|c| {
        c.clients[0].grant_types = vec!["implicit".into()];
        c.clients[0].refresh_token_rotation = false;
    });
    let q = idp.get(&authorize_uri(&code_params(&[]))).await.query();
    assert_eq!(q["error"], "unauthorized_client");
    assert_eq!(q["state"], "af0ifjsldkj");
}

#[tokio::test]
async fn silent_renewal_posts_a_code_in_a_web_message_and_the_code_redeems() {
    // Auth0 checkSession with the code flow: prompt=none, response_mode=web_message,
    // {type: "authorization_response", response: {code, state, iss}}.
    let idp = Idp::new();
    let http = idp.http().await;
    let mut b = idp.browser();
    b.log_in(&code_params(&[]), "alice", "alice-password").await;
    let res = b
        .get(&authorize_uri(&code_params(&[
            ("prompt", "none"),
            ("response_mode", "web_message"),
            ("redirect_uri", "http://localhost:8080/silent-callback.html"),
            ("state", "silent-1"),
        ])))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let m = res.web_message();
    assert_eq!(m["targetOrigin"], "http://localhost:8080");
    assert_eq!(m["message"]["type"], "authorization_response");
    let r = &m["message"]["response"];
    assert_eq!(r["state"], "silent-1");
    assert_eq!(r["iss"], ISSUER);
    assert!(r.get("access_token").is_none());
    let code = r["code"].as_str().unwrap();
    let t = token_json(
        &http
            .token(&[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT),
                ("code", code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", "http://localhost:8080/silent-callback.html"),
            ])
            .await,
    );
    verify(&idp, t["id_token"].as_str().unwrap(), CLIENT).await;
}

#[tokio::test]
async fn a_code_may_be_delivered_in_the_fragment() {
    let idp = Idp::new();
    let http = idp.http().await;
    let mut b = idp.browser();
    let res = b
        .log_in(
            &code_params(&[("response_mode", "fragment")]),
            "alice",
            "alice-password",
        )
        .await;
    let f = res.fragment();
    assert_eq!(f["iss"], ISSUER);
    token_json(&http.exchange(&f["code"]).await);
}

#[tokio::test]
async fn consent_lists_offline_access_and_a_denial_reaches_the_query() {
    // RFC 6749 §4.1.2.1: access_denied, with state and iss, in the query.
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&code_params(&[])).await;
    let res = b.submit_login(&page, "alice", "alice-password").await;
    let consent = b.get(&res.location()).await;
    assert!(
        consent.body.contains("offline_access"),
        "the consent page names offline access"
    );
    let res = b.consent(&res, "deny").await;
    let q = res.query();
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["iss"], ISSUER);
    assert_eq!(q["state"], "af0ifjsldkj");
}

#[tokio::test]
async fn a_client_without_rotation_gets_no_refresh_token_and_no_offline_access() {
    // idp/README.md "Refresh tokens": issued only with rotation and offline_access.
    let idp = Idp::with_config(|c| {
        c.clients[0].grant_types = vec!["implicit".into(), "authorization_code".into()];
        c.clients[0].refresh_token_rotation = false;
    });
    let http = idp.http().await;
    let code = idp
        .browser()
        .code(&code_params(&[]), ("alice", "alice-password"))
        .await;
    let t = token_json(&http.exchange(&code).await);
    assert!(t.get("refresh_token").is_none());
    assert_eq!(
        t["scope"],
        "openid profile email read:messages write:messages"
    );
}

#[tokio::test]
async fn without_offline_access_no_refresh_token_is_issued() {
    let idp = Idp::new();
    let http = idp.http().await;
    let code = idp
        .browser()
        .code(
            &code_params(&[("scope", "openid read:messages")]),
            ("alice", "alice-password"),
        )
        .await;
    let t = token_json(&http.exchange(&code).await);
    assert!(t.get("refresh_token").is_none());
    assert_eq!(t["scope"], "openid read:messages");
}

#[tokio::test]
async fn discovery_lists_offline_access_among_the_scopes() {
    let idp = Idp::new();
    let d = idp.get("/.well-known/openid-configuration").await.json();
    assert!(d["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&"offline_access".into()));
}
