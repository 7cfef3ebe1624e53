//! `response_mode=web_message` (Auth0's postMessage page for silent auth) and the
//! two logout endpoints.

use crate::common::*;
use axum::http::StatusCode;

fn silent<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("response_mode", "web_message"),
        ("prompt", "none"),
        ("state", "silent-1"),
    ];
    p.extend_from_slice(extra);
    spa_params(&p)
}

#[tokio::test]
async fn web_message_posts_tokens_to_the_exact_registered_origin() {
    let idp = Idp::new();
    let mut b = idp.alice_signed_in().await;
    let res = b.get(&authorize_uri(&silent(&[]))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.header("location").is_none());
    let m = res.web_message();
    assert_eq!(m["targetOrigin"], "http://localhost:8080");
    assert_eq!(m["message"]["type"], "authorization_response");
    let r = &m["message"]["response"];
    assert_eq!(r["state"], "silent-1");
    assert_eq!(r["token_type"], "Bearer");
    assert_eq!(r["expires_in"], 7200);
    assert_eq!(
        r["scope"],
        "openid profile email read:messages write:messages"
    );
    let claims = verify(&idp, r["id_token"].as_str().unwrap(), CLIENT).await;
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    verify(&idp, r["access_token"].as_str().unwrap(), API).await;
}

#[tokio::test]
async fn the_web_message_page_is_frameable_only_by_that_origin_and_runs_no_inline_script() {
    let idp = Idp::new();
    let mut b = idp.alice_signed_in().await;
    let res = b
        .get(&authorize_uri(&silent(&[(
            "redirect_uri",
            "http://127.0.0.1:8080/silent-callback.html",
        )])))
        .await;
    let csp = res.header("content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors http://127.0.0.1:8080;"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert!(res.header("x-frame-options").is_none());
    assert_eq!(res.web_message()["targetOrigin"], "http://127.0.0.1:8080");
    assert!(res
        .body
        .contains("<script src=\"/assets/web_message.js\"></script>"));
    assert!(res.body.contains("<script type=\"application/json\""));
    let js = idp.get("/assets/web_message.js").await;
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js
        .body
        .contains("postMessage(data.message, data.targetOrigin)"));
}

#[tokio::test]
async fn web_message_errors_carry_state_and_reach_only_the_registered_origin() {
    let idp = Idp::new();
    let res = idp.get(&authorize_uri(&silent(&[]))).await;
    assert_eq!(res.status, StatusCode::OK);
    let m = res.web_message();
    assert_eq!(m["targetOrigin"], "http://localhost:8080");
    assert_eq!(m["message"]["response"]["error"], "login_required");
    assert_eq!(m["message"]["response"]["state"], "silent-1");
    assert!(m["message"]["response"].get("access_token").is_none());
}

#[tokio::test]
async fn web_message_to_an_origin_that_is_not_a_web_origin_gets_an_error_page() {
    // The callback is registered, but its origin is not an allowed web origin.
    let idp = Idp::with_config(|c| {
        c.clients[0]
            .callbacks
            .push(url::Url::parse("http://localhost:9999/callback").unwrap());
    });
    let res = idp
        .get(&authorize_uri(&silent(&[(
            "redirect_uri",
            "http://localhost:9999/callback",
        )])))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(!res.body.contains("authorization-response"));
    // Hostile redirect URIs never reach the postMessage page either.
    for hostile in [
        "https://evil.example",
        "http://localhost:8080.evil.example/callback",
    ] {
        let res = idp
            .get(&authorize_uri(&silent(&[("redirect_uri", hostile)])))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert!(!res.body.contains("postMessage") && !res.body.contains("authorization-response"));
    }
}

#[tokio::test]
async fn a_state_with_markup_cannot_break_out_of_the_web_message_page() {
    let idp = Idp::new();
    let hostile = "</script><script>alert(1)</script><!--";
    let res = idp
        .get(&authorize_uri(&spa_params(&[
            ("response_mode", "web_message"),
            ("prompt", "none"),
            ("state", hostile),
        ])))
        .await;
    assert_eq!(res.body.matches("<script").count(), 2);
    assert_eq!(res.web_message()["message"]["response"]["state"], hostile);
}

#[tokio::test]
async fn interactive_web_message_logins_answer_with_the_page_after_the_form() {
    let idp = Idp::with_config(|c| c.clients[0].skip_consent = true);
    let mut b = idp.browser();
    let page = b
        .login_page(&spa_params(&[("response_mode", "web_message")]))
        .await;
    let res = b.submit_login(&page, "alice", "alice-password").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.web_message()["message"]["response"]["access_token"].is_string());
}

fn session_cookie(b: &Browser) -> Option<String> {
    b.jar
        .iter()
        .find(|(k, _)| k.starts_with("hashgate_session_"))
        .map(|(_, v)| v.clone())
}

async fn logged_in(idp: &Idp) -> (Browser, std::collections::HashMap<String, String>) {
    let mut b = idp.browser();
    let f = b
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment();
    assert!(session_cookie(&b).is_some());
    (b, f)
}

async fn assert_logged_out(b: &mut Browser) {
    assert!(session_cookie(b).is_none(), "the cookie is cleared");
    let f = b
        .get(&authorize_uri(&spa_params(&[("prompt", "none")])))
        .await
        .fragment();
    assert_eq!(f["error"], "login_required");
}

#[tokio::test]
async fn v2_logout_ends_the_session_and_returns_to_a_registered_url() {
    let idp = Idp::new();
    let (mut b, _) = logged_in(&idp).await;
    let stolen = b.jar.clone();
    let res = b
        .get("/v2/logout?client_id=hashgate-spa&returnTo=http%3A%2F%2F127.0.0.1%3A8080%2F")
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), "http://127.0.0.1:8080/");
    assert_logged_out(&mut b).await;
    // The session is gone server-side, not only the cookie.
    let mut replay = idp.browser();
    replay.jar = stolen;
    let f = replay
        .get(&authorize_uri(&spa_params(&[("prompt", "none")])))
        .await
        .fragment();
    assert_eq!(f["error"], "login_required");
}

#[tokio::test]
async fn v2_logout_never_redirects_to_an_unregistered_url() {
    let idp = Idp::new();
    for to in [
        "https://evil.example/",
        "//evil.example",
        "http://localhost:8080/evil",
        "http://localhost:8080/?next=evil",
        "http://localhost:8080.evil.example/",
        "http://user@localhost:8080/",
    ] {
        let (mut b, _) = logged_in(&idp).await;
        let uri = format!(
            "/v2/logout?client_id=hashgate-spa&returnTo={}",
            url::form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>()
        );
        let res = b.get(&uri).await;
        assert_eq!(res.status, StatusCode::OK, "{to}");
        assert!(res.header("location").is_none(), "{to}");
        assert!(res.body.contains("You are logged out"));
        assert_logged_out(&mut b).await;
    }
    // A registered URL of the app, but an unknown client id: no redirect.
    let (mut b, _) = logged_in(&idp).await;
    let res = b
        .get("/v2/logout?client_id=nope&returnTo=http%3A%2F%2Flocalhost%3A8080%2F")
        .await;
    assert!(res.header("location").is_none());
}

#[tokio::test]
async fn v2_logout_without_return_to_shows_the_logged_out_page() {
    let idp = Idp::new();
    let (mut b, _) = logged_in(&idp).await;
    let res = b.get("/v2/logout").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("<h1>You are logged out</h1>"));
    assert_logged_out(&mut b).await;
}

#[tokio::test]
async fn oidc_logout_redirects_with_state_to_a_registered_url() {
    // OIDC RP-Initiated Logout 1.0 §3: state is passed back as a query parameter.
    let idp = Idp::new();
    let (mut b, f) = logged_in(&idp).await;
    let uri = format!(
        "/oidc/logout?id_token_hint={}&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080%2F&state=s%26x",
        f["id_token"]
    );
    let res = b.get(&uri).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), "http://localhost:8080/?state=s%26x");
    assert_logged_out(&mut b).await;

    let (mut b, _) = logged_in(&idp).await;
    let res = b
        .get("/oidc/logout?client_id=hashgate-spa&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080%2F")
        .await;
    assert_eq!(res.location(), "http://localhost:8080/");
}

#[tokio::test]
async fn oidc_logout_refuses_unregistered_urls_and_forged_hints() {
    let idp = Idp::new();
    let (mut b, f) = logged_in(&idp).await;
    let res = b
        .get("/oidc/logout?client_id=hashgate-spa&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F")
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.header("location").is_none());
    assert_logged_out(&mut b).await;

    let (mut b, _) = logged_in(&idp).await;
    let mut parts: Vec<String> = f["id_token"].split('.').map(str::to_owned).collect();
    parts[2] = "AAAA".into();
    let uri = format!(
        "/oidc/logout?id_token_hint={}&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080%2F",
        parts.join(".")
    );
    let res = b.get(&uri).await;
    assert!(
        res.header("location").is_none(),
        "a forged hint names no client"
    );
    assert_logged_out(&mut b).await;
}

#[tokio::test]
async fn the_avatar_escapes_its_text() {
    let idp = Idp::new();
    let res = idp.get("/avatar?name=%3Cscript%3E").await;
    assert_eq!(res.header("content-type").as_deref(), Some("image/svg+xml"));
    assert!(!res.body.contains("<script"));
}
