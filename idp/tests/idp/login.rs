//! Login and consent pages: the form contract, sessions, CSRF, throttling, consent
//! memory, and the `prompt` / `max_age` / `login_hint` branches.

use crate::common::*;
use axum::http::StatusCode;

#[tokio::test]
async fn the_login_page_has_labelled_fields_a_button_and_the_client_name() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    assert!(page.body.contains("<h1>Log in</h1>"));
    assert!(page.body.contains("Hashgate Demo"));
    assert!(
        page.body.contains("<label for=\"username\">")
            && page.body.contains("id=\"username\" name=\"username\"")
    );
    assert!(
        page.body.contains("<label for=\"password\">")
            && page.body.contains("id=\"password\" name=\"password\"")
    );
    assert!(page.body.contains(">Log in</button>"));
    assert!(page.body.contains("href=\"/assets/idp.css\""));
}

#[tokio::test]
async fn the_login_page_is_not_frameable_and_allows_no_inline_code() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"));
    assert!(csp.contains("style-src 'self'"));
    assert!(csp.contains("frame-ancestors 'none'"));
    // Chrome applies form-action to the redirect that follows the post.
    assert!(csp.contains("form-action 'self' http://localhost:8080"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    // `no-referrer` would make browsers send `Origin: null` with the form, which the
    // same-origin check refuses: real logins would fail.
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("same-origin")
    );
    assert!(!page.body.contains("content=\"no-referrer\""));
    assert!(!page.body.contains("style=\"") && !page.body.contains("<script"));
    let css = idp.get("/assets/idp.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[tokio::test]
async fn logging_in_and_allowing_returns_tokens_and_state_to_the_callback() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    let res = b.submit_login(&page, "alice", "alice-password").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        res.location().starts_with("/consent?tx="),
        "first authorization asks for consent"
    );
    let consent = b.get(&res.location()).await;
    assert!(consent.body.contains("Read your messages") && consent.body.contains("Post messages"));
    assert!(consent.body.contains(">Allow</button>") && consent.body.contains(">Deny</button>"));
    assert!(consent.body.contains("Hashgate Demo"));
    assert!(consent
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let (tx, csrf) = (consent.hidden("tx"), consent.hidden("csrf"));
    let done = b
        .post(
            "/consent",
            &[("tx", &tx), ("csrf", &csrf), ("decision", "allow")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(done
        .location()
        .starts_with("http://localhost:8080/callback#"));
    let f = done.fragment();
    assert_eq!(f["state"], "af0ifjsldkj");
    assert_eq!(f["token_type"], "Bearer");
    assert_eq!(f["expires_in"], "7200");
    assert!(f.contains_key("access_token") && f.contains_key("id_token"));
    assert_eq!(
        f["scope"],
        "openid profile email read:messages write:messages"
    );
}

#[tokio::test]
async fn the_session_cookie_is_httponly_lax_and_not_secure_on_http() {
    let idp = Idp::new();
    let b = idp.alice_signed_in().await;
    let cookie = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("hashgate_session_"))
        .unwrap();
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/"));
    assert!(!cookie.contains("Secure"));
}

#[tokio::test]
async fn cookies_are_secure_when_the_issuer_is_https() {
    let dir = tempfile::tempdir().unwrap();
    let state = hashgate_idp::AppState::new(
        hashgate_idp::Settings::new("https://idp.example/", dir.path(), demo_config())
            .with_signing_key_pem(key_pem()),
    )
    .unwrap();
    let app = hashgate_idp::app(state);
    let res = crate::common::send(
        &app,
        axum::http::Request::get(authorize_uri(&spa_params(&[])))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert!(res.header("set-cookie").unwrap().contains("; Secure"));
}

#[tokio::test]
async fn under_https_the_cookies_are_host_prefixed_secure_and_host_only() {
    // RFC 6265bis §4.1.3.2: a `__Host-` cookie must be Secure, Path=/ and have no Domain;
    // browsers then refuse any other way of setting it (a sibling host, plain http).
    let idp = Idp::at("https://idp.example/", |_| {});
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    let (tx, csrf) = (page.hidden("tx"), page.hidden("csrf"));
    let form = [
        ("tx", tx.as_str()),
        ("csrf", csrf.as_str()),
        ("username", "alice"),
        ("password", "alice-password"),
    ];
    let same_origin = [
        ("origin", "https://idp.example"),
        ("sec-fetch-site", "same-origin"),
    ];
    let res = b.post_with("/login", &form, &same_origin).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    for name in ["hashgate_session_", "hashgate_csrf_"] {
        let cookie = b
            .set_cookies
            .iter()
            .find(|c| c.contains(name))
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", b.set_cookies));
        assert!(cookie.starts_with(&format!("__Host-{name}")), "{cookie}");
        assert!(
            cookie.contains("; Secure") && cookie.contains("; Path=/"),
            "{cookie}"
        );
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
    // The prefixed session is the one the provider reads back.
    let consent = b.get(&res.location()).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let (tx, csrf) = (consent.hidden("tx"), consent.hidden("csrf"));
    let form = [("tx", tx.as_str()), ("csrf", &csrf), ("decision", "allow")];
    let done = b.post_with("/consent", &form, &same_origin).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let f = b
        .get(&authorize_uri(&spa_params(&[("prompt", "none")])))
        .await
        .fragment();
    assert!(f.contains_key("access_token"), "{f:?}");
}

#[tokio::test]
async fn over_http_the_cookies_keep_their_plain_names() {
    // idp/README.md: local development over http cannot use Secure cookies, so the names
    // stay unprefixed there.
    let idp = Idp::new();
    let b = idp.alice_signed_in().await;
    assert!(b
        .set_cookies
        .iter()
        .any(|c| c.starts_with("hashgate_session_")));
    assert!(b
        .set_cookies
        .iter()
        .any(|c| c.starts_with("hashgate_csrf_")));
    assert!(b
        .set_cookies
        .iter()
        .all(|c| !c.starts_with("__Host-") && !c.contains("Secure")));
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_message() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    let wrong = b.submit_login(&page, "alice", "nope").await;
    let unknown = b.submit_login(&page, "mallory", "alice-password").await;
    for res in [&wrong, &unknown] {
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res
            .body
            .contains("role=\"alert\">Wrong username or password.</p>"));
    }
    assert!(!b.jar.keys().any(|k| k.starts_with("hashgate_session_")));
    // The username is kept, the password is not echoed back.
    assert!(wrong.body.contains("value=\"alice\""));
    assert!(!wrong.body.contains("nope"));
}

#[tokio::test]
async fn five_failures_lock_the_username_even_for_the_right_password() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    for _ in 0..5 {
        let res = b.submit_login(&page, "alice", "wrong").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = b.submit_login(&page, "alice", "alice-password").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.body.contains("Too many failed login attempts"));
    assert!(!b.jar.keys().any(|k| k.starts_with("hashgate_session_")));
}

#[tokio::test]
async fn five_failures_from_one_ip_lock_every_username_from_it() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    for i in 0..5 {
        b.submit_login(&page, &format!("nobody{i}"), "wrong").await;
    }
    let res = b.submit_login(&page, "bob", "bob-password").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_cross_site_post_without_the_csrf_cookie_is_refused() {
    let idp = Idp::new();
    let mut victim = idp.browser();
    let page = victim.login_page(&spa_params(&[])).await;
    let (tx, csrf) = (page.hidden("tx"), page.hidden("csrf"));
    let form = [
        ("tx", tx.as_str()),
        ("csrf", csrf.as_str()),
        ("username", "alice"),
        ("password", "alice-password"),
    ];

    // An attacker's page posting the form: SameSite=Lax keeps the cookie home.
    let mut attacker = idp.browser();
    let res = attacker
        .post_with(
            "/login",
            &form,
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Even with the cookie, a foreign Origin or Sec-Fetch-Site is refused.
    let res = victim
        .post_with("/login", &form, &[("origin", "https://evil.example")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = victim
        .post_with("/login", &form, &[("sec-fetch-site", "same-site")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Without the hidden token, or with another one, the post fails too.
    let res = victim
        .post(
            "/login",
            &[
                ("tx", &tx),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = victim
        .post(
            "/login",
            &[
                ("tx", &tx),
                ("csrf", &"A".repeat(43)),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(!victim
        .jar
        .keys()
        .any(|k| k.starts_with("hashgate_session_")));
    // The real form still works.
    let res = victim.submit_login(&page, "alice", "alice-password").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_cross_site_consent_post_is_refused() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    let res = b.submit_login(&page, "alice", "alice-password").await;
    let consent = b.get(&res.location()).await;
    let (tx, csrf) = (consent.hidden("tx"), consent.hidden("csrf"));
    let form = [
        ("tx", tx.as_str()),
        ("csrf", csrf.as_str()),
        ("decision", "allow"),
    ];
    let res = b
        .post_with("/consent", &form, &[("origin", "https://evil.example")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let mut other = idp.browser();
    let res = other.post("/consent", &form).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_forged_or_used_transaction_id_shows_an_expired_page() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let res = b.get("/login?tx=forged").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("expired"));
    let page = b.login_page(&spa_params(&[])).await;
    let tx = page.hidden("tx");
    b.log_in(&spa_params(&[]), "alice", "alice-password").await;
    // Completing a login consumes its own transaction; reuse another finished one.
    let res = b.submit_login(&page, "alice", "alice-password").await;
    assert_eq!(
        res.status,
        StatusCode::SEE_OTHER,
        "the first page's transaction is still pending"
    );
    let again = b.submit_login(&page, "alice", "alice-password").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{tx} used twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_form_posted_twice_at_once_issues_tokens_once() {
    // idp/README.md (Flood caps): a pending login is finished once, even when two posts of
    // its form race each other past the password check.
    let idp = Idp::new();
    // Consent remembered, so the login post itself issues the tokens.
    idp.alice_signed_in().await;
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    let (first, second) = (
        b.login_request(&page, "alice", "alice-password"),
        b.login_request(&page, "alice", "alice-password"),
    );
    let (app1, app2) = (idp.app.clone(), idp.app.clone());
    let (r1, r2) = tokio::join!(
        tokio::spawn(async move { send(&app1, first).await }),
        tokio::spawn(async move { send(&app2, second).await }),
    );
    let mut statuses = [r1.unwrap(), r2.unwrap()].map(|r| {
        if r.status == StatusCode::SEE_OTHER {
            assert!(
                r.fragment().contains_key("access_token"),
                "{:?}",
                r.location()
            );
        } else {
            assert!(r.body.contains("This login has expired"), "{}", r.body);
        }
        r.status
    });
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::BAD_REQUEST]);
}

#[tokio::test]
async fn consent_is_remembered_so_the_next_authorization_is_immediate() {
    let idp = Idp::new();
    let mut b = idp.alice_signed_in().await;
    let res = b
        .get(&authorize_uri(&spa_params(&[("state", "second")])))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    let f = res.fragment();
    assert_eq!(f["state"], "second");
    assert!(f.contains_key("access_token"));
}

#[tokio::test]
async fn consent_for_fewer_scopes_covers_a_later_subset_but_not_a_superset() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let read_only = spa_params(&[("scope", "openid profile read:messages")]);
    b.log_in(&read_only, "alice", "alice-password").await;
    let res = b
        .get(&authorize_uri(&spa_params(&[(
            "scope",
            "openid read:messages",
        )])))
        .await;
    assert!(res.fragment().contains_key("access_token"));
    let res = b.get(&authorize_uri(&spa_params(&[]))).await;
    assert!(
        res.location().starts_with("/consent?tx="),
        "new scopes need new consent"
    );
}

#[tokio::test]
async fn deny_returns_access_denied_with_state_and_is_not_remembered() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    let res = b.submit_login(&page, "alice", "alice-password").await;
    let denied = b.consent(&res, "deny").await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER);
    let f = denied.fragment();
    assert_eq!(f["error"], "access_denied");
    assert_eq!(f["state"], "af0ifjsldkj");
    assert!(!f.contains_key("access_token"));
    let res = b.get(&authorize_uri(&spa_params(&[]))).await;
    assert!(res.location().starts_with("/consent?tx="));
}

#[tokio::test]
async fn prompt_consent_asks_again_even_after_consent() {
    let idp = Idp::new();
    let mut b = idp.alice_signed_in().await;
    let res = b
        .get(&authorize_uri(&spa_params(&[("prompt", "consent")])))
        .await;
    assert!(res.location().starts_with("/consent?tx="));
}

#[tokio::test]
async fn prompt_login_shows_the_login_page_despite_a_session() {
    let idp = Idp::new();
    let mut b = idp.alice_signed_in().await;
    let res = b
        .get(&authorize_uri(&spa_params(&[("prompt", "login")])))
        .await;
    assert!(res.location().starts_with("/login?tx="));
}

#[tokio::test]
async fn prompt_none_with_a_session_and_consent_returns_tokens() {
    let idp = Idp::new();
    let mut b = idp.alice_signed_in().await;
    let res = b
        .get(&authorize_uri(&spa_params(&[
            ("prompt", "none"),
            ("state", "silent"),
        ])))
        .await;
    let f = res.fragment();
    assert_eq!(f["state"], "silent");
    assert!(f.contains_key("access_token") && f.contains_key("id_token"));
}

#[tokio::test]
async fn prompt_none_without_consent_is_consent_required() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    b.submit_login(&page, "alice", "alice-password").await; // logged in, consent pending
    let f = b
        .get(&authorize_uri(&spa_params(&[("prompt", "none")])))
        .await
        .fragment();
    assert_eq!(f["error"], "consent_required");
    assert_eq!(f["state"], "af0ifjsldkj");
}

#[tokio::test]
async fn prompt_none_with_max_age_exceeded_is_login_required() {
    // OIDC Core 3.1.2.1: max_age older than the authentication forces a login.
    let idp = Idp::new();
    let mut b = idp.alice_signed_in().await;
    let f = b
        .get(&authorize_uri(&spa_params(&[
            ("prompt", "none"),
            ("max_age", "0"),
        ])))
        .await
        .fragment();
    assert_eq!(f["error"], "login_required");
    let res = b
        .get(&authorize_uri(&spa_params(&[("max_age", "0")])))
        .await;
    assert!(res.location().starts_with("/login?tx="));
    let f = b
        .get(&authorize_uri(&spa_params(&[
            ("prompt", "none"),
            ("max_age", "3600"),
        ])))
        .await
        .fragment();
    assert!(f.contains_key("access_token"));
}

#[tokio::test]
async fn prompt_none_for_another_user_hint_is_interaction_required() {
    let idp = Idp::new();
    let mut b = idp.alice_signed_in().await;
    let f = b
        .get(&authorize_uri(&spa_params(&[
            ("prompt", "none"),
            ("login_hint", "bob"),
        ])))
        .await
        .fragment();
    assert_eq!(f["error"], "interaction_required");
    let f = b
        .get(&authorize_uri(&spa_params(&[
            ("prompt", "none"),
            ("login_hint", "alice@example.com"),
        ])))
        .await
        .fragment();
    assert!(f.contains_key("access_token"));
}

#[tokio::test]
async fn login_hint_prefills_the_username_escaped() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let page = b
        .login_page(&spa_params(&[("login_hint", "\"><script>x</script>")]))
        .await;
    assert!(page
        .body
        .contains("value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
    assert!(!page.body.contains("<script>x"));
}

#[tokio::test]
async fn a_skip_consent_client_goes_straight_back_after_login() {
    let idp = Idp::with_config(|c| c.clients[0].skip_consent = true);
    let mut b = idp.browser();
    let page = b.login_page(&spa_params(&[])).await;
    let res = b.submit_login(&page, "alice", "alice-password").await;
    assert!(res
        .location()
        .starts_with("http://localhost:8080/callback#"));
}

#[tokio::test]
async fn bob_gets_only_the_permissions_he_holds() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let res = b.log_in(&spa_params(&[]), "bob", "bob-password").await;
    let f = res.fragment();
    assert_eq!(f["scope"], "openid profile email read:messages");
    let claims = verify(&idp, &f["access_token"], API).await;
    assert_eq!(claims["permissions"], serde_json::json!(["read:messages"]));
    assert_eq!(claims["scope"], "openid profile email read:messages");
}

#[tokio::test]
async fn a_second_login_replaces_the_session() {
    let idp = Idp::new();
    let mut b = idp.alice_signed_in().await;
    let first = b
        .jar
        .iter()
        .find(|(k, _)| k.starts_with("hashgate_session_"))
        .unwrap()
        .1
        .clone();
    let page = b.login_page(&spa_params(&[("prompt", "login")])).await;
    b.submit_login(&page, "bob", "bob-password").await;
    let second = b
        .jar
        .iter()
        .find(|(k, _)| k.starts_with("hashgate_session_"))
        .unwrap()
        .1
        .clone();
    assert_ne!(first, second, "a new session id on every login");
    let mut stale = idp.browser();
    stale.jar = b.jar.clone();
    stale.jar.insert(
        b.jar
            .keys()
            .find(|k| k.starts_with("hashgate_session_"))
            .unwrap()
            .clone(),
        first,
    );
    let f = stale
        .get(&authorize_uri(&spa_params(&[("prompt", "none")])))
        .await
        .fragment();
    assert_eq!(f["error"], "login_required", "the old session ended");
}

#[tokio::test]
async fn a_restart_keeps_users_sessions_consents_and_keys() {
    let idp = Idp::new();
    let mut b = idp.browser();
    let first = b
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment();
    let kid = jsonwebtoken::decode_header(&first["access_token"])
        .unwrap()
        .kid;
    let idp = idp.restart();
    b.app = idp.app.clone();
    let f = b
        .get(&authorize_uri(&spa_params(&[("prompt", "none")])))
        .await
        .fragment();
    assert!(f.contains_key("access_token"), "{f:?}");
    assert_eq!(
        jsonwebtoken::decode_header(&f["access_token"]).unwrap().kid,
        kid
    );
}

#[tokio::test]
async fn logins_are_counted_in_the_database() {
    let idp = Idp::new();
    for _ in 0..2 {
        let mut b = idp.browser();
        let page = b.login_page(&spa_params(&[])).await;
        b.submit_login(&page, "alice", "alice-password").await;
    }
    let store = hashgate_idp::store::Store::open(idp.dir.path()).unwrap();
    assert_eq!(
        store
            .user_by_username("alice")
            .unwrap()
            .unwrap()
            .logins_count,
        2
    );
}
