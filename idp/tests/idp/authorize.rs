//! `/authorize` request validation: error pages before the redirect URI is known to
//! be registered, RFC 6749 §4.2.2.1 errors in the fragment after.

use crate::common::*;
use axum::http::StatusCode;

fn assert_error_page(res: &Resp) {
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(
        res.header("location").is_none(),
        "an error page never redirects"
    );
    assert!(res.body.contains("role=\"alert\""));
    assert_eq!(res.header("x-frame-options").as_deref(), Some("DENY"));
}

#[tokio::test]
async fn hostile_redirect_uris_get_an_error_page_not_a_redirect() {
    // RFC 6749 §4.1.2.1 / §10.15: never redirect to an unverified URI (open redirector).
    let idp = Idp::new();
    for hostile in [
        "https://evil.example",
        "//evil.example",
        "http://localhost:8080.evil.example/callback",
        "http://localhost:8080.evil.example",
        "http://user@localhost:8080/callback",
        "http://localhost:8080/callback/extra",
        "http://localhost:8080/callback?next=https://evil.example",
        "http://localhost:8080/callback#frag",
        "http://LOCALHOST:8080/callback",
        "javascript:alert(1)//localhost:8080/callback",
    ] {
        let res = idp
            .get(&authorize_uri(&spa_params(&[("redirect_uri", hostile)])))
            .await;
        assert_error_page(&res);
        assert!(res.body.contains("Callback URL mismatch"), "{hostile}");
    }
}

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_with_its_id_escaped() {
    let idp = Idp::new();
    let res = idp
        .get(&authorize_uri(&spa_params(&[(
            "client_id",
            "<script>alert(1)</script>",
        )])))
        .await;
    assert_error_page(&res);
    assert!(!res.body.contains("<script>alert(1)"));
    assert!(res.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn a_reflected_redirect_uri_is_escaped_on_the_error_page() {
    let idp = Idp::new();
    let res = idp
        .get(&authorize_uri(&spa_params(&[(
            "redirect_uri",
            "https://evil.example/\"><img src=x>",
        )])))
        .await;
    assert_error_page(&res);
    assert!(!res.body.contains("<img src=x>"));
    assert!(res.body.contains("&lt;img src=x&gt;"));
}

#[tokio::test]
async fn missing_client_id_or_redirect_uri_gets_an_error_page() {
    let idp = Idp::new();
    assert_error_page(
        &idp.get(&authorize_uri(&spa_params(&[("client_id", "")])))
            .await,
    );
    assert_error_page(
        &idp.get(&authorize_uri(&spa_params(&[("redirect_uri", "")])))
            .await,
    );
    assert_error_page(&idp.get("/authorize").await);
}

#[tokio::test]
async fn a_duplicated_client_id_or_redirect_uri_gets_an_error_page() {
    let idp = Idp::new();
    let mut p = spa_params(&[]);
    p.push(("client_id", "other"));
    assert_error_page(&idp.get(&authorize_uri(&p)).await);
    let mut p = spa_params(&[]);
    p.push(("redirect_uri", "https://evil.example"));
    assert_error_page(&idp.get(&authorize_uri(&p)).await);
    // Even a repeated identical value is ambiguous and refused.
    let mut p = spa_params(&[]);
    p.push(("redirect_uri", CALLBACK));
    assert_error_page(&idp.get(&authorize_uri(&p)).await);
}

#[tokio::test]
async fn other_duplicated_parameters_are_invalid_request_with_state() {
    // RFC 6749 §3.1: request parameters must not be included more than once.
    let idp = Idp::new();
    for dup in ["scope", "nonce", "response_type", "audience"] {
        let mut p = spa_params(&[]);
        p.push((dup, "openid"));
        let res = idp.get(&authorize_uri(&p)).await;
        assert_eq!(res.status, StatusCode::FOUND);
        let f = res.fragment();
        assert_eq!(f["error"], "invalid_request", "{dup}");
        assert_eq!(f["state"], "af0ifjsldkj");
        assert!(res
            .location()
            .starts_with("http://localhost:8080/callback#"));
    }
}

#[tokio::test]
async fn a_duplicated_state_is_invalid_request_without_echoing_either_value() {
    let idp = Idp::new();
    let mut p = spa_params(&[]);
    p.push(("state", "second"));
    let f = idp.get(&authorize_uri(&p)).await.fragment();
    assert_eq!(f["error"], "invalid_request");
    assert!(!f.contains_key("state"));
}

#[tokio::test]
async fn oversized_parameters_and_queries_are_refused_cleanly() {
    let idp = Idp::new();
    let big = "a".repeat(2049);
    let res = idp
        .get(&authorize_uri(&spa_params(&[("state", &big)])))
        .await;
    assert_error_page(&res);
    assert!(res.body.contains("too long"));

    let chunk = "b".repeat(1500);
    let mut p = spa_params(&[]);
    let names: Vec<String> = (0..6).map(|i| format!("x{i}")).collect();
    for n in &names {
        p.push((n, &chunk));
    }
    let res = idp.get(&authorize_uri(&p)).await;
    assert_eq!(res.status, StatusCode::URI_TOO_LONG);
    assert!(res.header("location").is_none());
}

#[tokio::test]
async fn hybrid_and_unknown_response_types_are_unsupported_response_type() {
    // RFC 6749 §4.2.2.1: only code (see code_flow) and the implicit types are served.
    let idp = Idp::new();
    for rt in [
        "code id_token",
        "code token",
        "id_token code token",
        "none",
        "token token2",
    ] {
        let f = idp
            .get(&authorize_uri(&spa_params(&[("response_type", rt)])))
            .await
            .fragment();
        assert_eq!(f["error"], "unsupported_response_type", "{rt}");
        assert_eq!(f["state"], "af0ifjsldkj");
    }
    let f = idp
        .get(&authorize_uri(&spa_params(&[("response_type", "")])))
        .await
        .fragment();
    assert_eq!(f["error"], "invalid_request");
}

#[tokio::test]
async fn a_missing_nonce_is_refused_whenever_an_id_token_is_requested() {
    // OIDC Core 3.2.2.1: nonce is REQUIRED in the implicit flow.
    let idp = Idp::new();
    for rt in ["id_token", "id_token token", "token id_token"] {
        let f = idp
            .get(&authorize_uri(&spa_params(&[
                ("response_type", rt),
                ("nonce", ""),
            ])))
            .await
            .fragment();
        assert_eq!(f["error"], "invalid_request", "{rt}");
        assert!(f["error_description"].contains("nonce"));
        assert_eq!(f["state"], "af0ifjsldkj");
    }
    // A pure OAuth token request needs no nonce: it proceeds to the login page.
    let res = idp
        .get(&authorize_uri(&spa_params(&[
            ("response_type", "token"),
            ("nonce", ""),
        ])))
        .await;
    assert!(res.location().starts_with("/login?tx="));
}

#[tokio::test]
async fn unknown_scopes_and_id_tokens_without_openid_are_invalid_scope() {
    let idp = Idp::new();
    let f = idp
        .get(&authorize_uri(&spa_params(&[(
            "scope",
            "openid delete:everything",
        )])))
        .await
        .fragment();
    assert_eq!(f["error"], "invalid_scope");
    let f = idp
        .get(&authorize_uri(&spa_params(&[("scope", "profile email")])))
        .await
        .fragment();
    assert_eq!(f["error"], "invalid_scope");
    // API scopes only exist together with their audience.
    let f = idp
        .get(&authorize_uri(&spa_params(&[("audience", "")])))
        .await
        .fragment();
    assert_eq!(f["error"], "invalid_scope");
}

#[tokio::test]
async fn an_unknown_audience_is_invalid_request() {
    let idp = Idp::new();
    let f = idp
        .get(&authorize_uri(&spa_params(&[(
            "audience",
            "https://evil.example",
        )])))
        .await
        .fragment();
    assert_eq!(f["error"], "invalid_request");
    assert_eq!(f["error_description"], "unknown audience");
}

#[tokio::test]
async fn reflected_state_with_html_is_percent_encoded_and_round_trips() {
    // RFC 6749 §4.2.2: state is echoed exactly; encoding keeps it inert in the URL.
    let idp = Idp::new();
    let hostile = "<script>alert('x')</script>&error=forged#frag%20 +";
    let res = idp
        .get(&authorize_uri(&spa_params(&[
            ("state", hostile),
            ("response_type", "code id_token"),
        ])))
        .await;
    let loc = res.location();
    let frag = loc.split_once('#').unwrap().1;
    assert!(
        !frag.contains('<') && !frag.contains('>') && !frag.contains(' ') && !frag.contains('#')
    );
    assert_eq!(
        frag.matches("error=").count(),
        1,
        "a forged parameter must not appear: {frag}"
    );
    let f = res.fragment();
    assert_eq!(f["state"], hostile);
    assert_eq!(f["error"], "unsupported_response_type");
}

#[tokio::test]
async fn error_descriptions_are_encoded_in_the_fragment() {
    let idp = Idp::new();
    let res = idp
        .get(&authorize_uri(&spa_params(&[("scope", "openid <b>x</b>")])))
        .await;
    let loc = res.location();
    assert!(!loc.contains('<'));
    assert_eq!(
        res.fragment()["error_description"],
        "unknown scope <b>x</b>"
    );
}

#[tokio::test]
async fn unsupported_response_mode_and_prompt_values_are_invalid_request() {
    let idp = Idp::new();
    for (k, v) in [
        ("response_mode", "query"),
        ("response_mode", "form_post"),
        ("prompt", "select_account"),
        ("prompt", "none login"),
        ("prompt", "none consent"),
        ("max_age", "-1"),
        ("max_age", "soon"),
    ] {
        let f = idp
            .get(&authorize_uri(&spa_params(&[(k, v)])))
            .await
            .fragment();
        assert_eq!(f["error"], "invalid_request", "{k}={v}");
        assert_eq!(f["state"], "af0ifjsldkj");
    }
}

#[tokio::test]
async fn request_objects_are_not_supported() {
    // OIDC Core 6: an OP that does not support request objects says so.
    let idp = Idp::new();
    let f = idp
        .get(&authorize_uri(&spa_params(&[("request", "eyJ.x.y")])))
        .await
        .fragment();
    assert_eq!(f["error"], "request_not_supported");
    let f = idp
        .get(&authorize_uri(&spa_params(&[(
            "request_uri",
            "https://evil.example/r",
        )])))
        .await
        .fragment();
    assert_eq!(f["error"], "request_uri_not_supported");
}

#[tokio::test]
async fn a_client_without_the_implicit_grant_is_unauthorized_client() {
    let idp = Idp::with_config(|c| {
        c.clients[0].grant_types = vec!["authorization_code".into()];
        c.clients[0].refresh_token_rotation = false;
    });
    let f = idp.get(&authorize_uri(&spa_params(&[]))).await.fragment();
    assert_eq!(f["error"], "unauthorized_client");
    assert_eq!(f["state"], "af0ifjsldkj");
}

#[tokio::test]
async fn an_access_token_needs_an_audience_or_openid() {
    let idp = Idp::new();
    let f = idp
        .get(&authorize_uri(&spa_params(&[
            ("response_type", "token"),
            ("scope", "profile"),
            ("audience", ""),
        ])))
        .await
        .fragment();
    assert_eq!(f["error"], "invalid_request");
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required_with_state() {
    // OIDC Core 3.1.2.6: prompt=none must not show UI.
    let idp = Idp::new();
    let res = idp
        .get(&authorize_uri(&spa_params(&[("prompt", "none")])))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    let f = res.fragment();
    assert_eq!(f["error"], "login_required");
    assert_eq!(f["state"], "af0ifjsldkj");
    assert!(!f.contains_key("access_token"));
}

#[tokio::test]
async fn a_valid_request_without_a_session_goes_to_the_login_page() {
    let idp = Idp::new();
    let res = idp.get(&authorize_uri(&spa_params(&[]))).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(res.location().starts_with("/login?tx="));
    // The pending request stays server-side: only an opaque id is in the URL.
    assert!(!res.location().contains("nonce") && !res.location().contains("af0ifjsldkj"));
    let csrf = res.header("set-cookie").unwrap();
    assert!(
        csrf.starts_with("hashgate_csrf_")
            && csrf.contains("HttpOnly")
            && csrf.contains("SameSite=Lax")
    );
}

#[tokio::test]
async fn discovery_advertises_only_what_is_implemented() {
    let idp = Idp::new();
    let res = idp.get("/.well-known/openid-configuration").await;
    assert_eq!(res.status, StatusCode::OK);
    let d = res.json();
    assert_eq!(d["issuer"], ISSUER);
    assert_eq!(
        d["authorization_endpoint"],
        "http://localhost:3000/authorize"
    );
    assert_eq!(d["jwks_uri"], "http://localhost:3000/.well-known/jwks.json");
    assert_eq!(d["userinfo_endpoint"], "http://localhost:3000/userinfo");
    assert_eq!(
        d["end_session_endpoint"],
        "http://localhost:3000/oidc/logout"
    );
    assert_eq!(
        d["response_modes_supported"],
        serde_json::json!(["query", "fragment", "web_message"])
    );
    assert_eq!(
        d["response_types_supported"],
        serde_json::json!(["code", "token", "id_token", "id_token token"])
    );
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    // The code grant's endpoints (idp/README.md "Endpoints"), RFC 8414 §2 names.
    assert_eq!(d["token_endpoint"], "http://localhost:3000/oauth/token");
    assert_eq!(
        d["revocation_endpoint"],
        "http://localhost:3000/oauth/revoke"
    );
    assert_eq!(
        d["grant_types_supported"],
        serde_json::json!(["implicit", "authorization_code", "refresh_token"])
    );
    // RFC 7636 §4.2: S256 only; public clients (no client authentication).
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        serde_json::json!(["none"])
    );
    // RFC 9207 §3: every authorization response carries iss.
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert!(d.get("introspection_endpoint").is_none());
    assert_eq!(d["request_uri_parameter_supported"], false);
    assert!(d["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&"read:messages".into()));
}

#[tokio::test]
async fn an_issuer_with_a_path_serves_endpoints_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = hashgate_idp::AppState::new(
        hashgate_idp::Settings::new("http://localhost:3000/tenant", dir.path(), demo_config())
            .with_signing_key_pem(key_pem()),
    )
    .unwrap();
    assert_eq!(state.issuer(), "http://localhost:3000/tenant/");
    let app = hashgate_idp::app(state);
    let get = |uri: &str| {
        crate::common::send(
            &app,
            axum::http::Request::get(uri)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
    };
    let d = get("/tenant/.well-known/openid-configuration").await.json();
    assert_eq!(
        d["authorization_endpoint"],
        "http://localhost:3000/tenant/authorize"
    );
    let res = get(&format!("/tenant{}", authorize_uri(&spa_params(&[])))).await;
    assert!(res.location().starts_with("/tenant/login?tx="));
    assert_eq!(
        get("/.well-known/openid-configuration").await.status,
        StatusCode::NOT_FOUND
    );
}
