//! Rotating refresh tokens as Auth0 issues them (`idp/README.md`, "Refresh tokens"):
//! rotation, reuse detection, lifetimes, storage across restarts, revocation (RFC
//! 7009), logout, and the rules that run on every refresh. Over a real socket.

use std::time::Duration;

use crate::common::*;
use axum::http::StatusCode;

const DAY: u64 = 24 * 3600;

/// A provider without consent prompts, edited by `edit`.
fn provider(edit: impl FnOnce(&mut hashgate_idp::Config)) -> Idp {
    Idp::with_config(|c| {
        c.clients[0].skip_consent = true;
        edit(c);
    })
}

/// Alice's tokens from a fresh code exchange with `params`.
async fn tokens(idp: &Idp, http: &Http, params: &[(&str, &str)]) -> serde_json::Value {
    let code = idp
        .browser()
        .code(params, ("alice", "alice-password"))
        .await;
    token_json(&http.exchange(&code).await)
}

fn rt(t: &serde_json::Value) -> String {
    t["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {t}"))
        .to_owned()
}

#[tokio::test]
async fn every_refresh_returns_new_tokens_and_spends_the_old_refresh_token() {
    // RFC 9700 §4.14.2 (rotation) and RFC 6749 §6: new access, ID and refresh tokens.
    let idp = provider(|_| {});
    let http = idp.http().await;
    let first = tokens(&idp, &http, &code_params(&[])).await;
    let mut seen = vec![rt(&first)];
    for _ in 0..3 {
        let t = token_json(&http.refresh(seen.last().unwrap()).await);
        assert_eq!(t["token_type"], "Bearer");
        assert_eq!(t["expires_in"], 7200);
        let next = rt(&t);
        assert!(
            !seen.contains(&next),
            "a refresh token is never handed out twice"
        );
        seen.push(next);
        let access = verify(&idp, t["access_token"].as_str().unwrap(), API).await;
        assert_eq!(access["sub"], "auth0|alice");
        assert_eq!(
            access["permissions"],
            serde_json::json!(["read:messages", "write:messages"])
        );
    }
    // The newest works once more; a spent one is refused.
    let res = http.refresh(&seen[1]).await;
    assert_oauth_error(&res, 400, "invalid_grant");
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family_but_no_other() {
    // Auth0 reuse detection (RFC 9700 §4.14.2): a spent token presented again revokes
    // every token descended from that login, the newest included.
    let idp = provider(|_| {});
    let http = idp.http().await;
    let t1 = rt(&tokens(&idp, &http, &code_params(&[])).await);
    let other_login = rt(&tokens(&idp, &http, &code_params(&[])).await);
    let t2 = rt(&token_json(&http.refresh(&t1).await));
    let t3 = rt(&token_json(&http.refresh(&t2).await));
    assert_oauth_error(&http.refresh(&t1).await, 400, "invalid_grant");
    assert_oauth_error(&http.refresh(&t3).await, 400, "invalid_grant");
    assert_oauth_error(&http.refresh(&t2).await, 400, "invalid_grant");
    // Another login's family is untouched.
    token_json(&http.refresh(&other_login).await);
}

#[tokio::test]
async fn within_the_leeway_a_spent_token_still_refreshes_and_after_it_revokes() {
    // Auth0 "Reuse Interval": tabs refreshing at once are not taken for a replay.
    let idp = provider(|c| c.clients[0].refresh_token_leeway_secs = 30);
    let http = idp.http().await;
    let t1 = rt(&tokens(&idp, &http, &code_params(&[])).await);
    let t2 = rt(&token_json(&http.refresh(&t1).await));
    let t3 = rt(&token_json(&http.refresh(&t1).await));
    assert_ne!(t2, t3);
    idp.state.advance_clock(Duration::from_secs(31));
    assert_oauth_error(&http.refresh(&t1).await, 400, "invalid_grant");
    assert_oauth_error(&http.refresh(&t3).await, 400, "invalid_grant");
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    // RFC 6749 §6: no scope beyond the original grant (invalid_scope); a narrower one
    // is served, and without openid no ID token comes back.
    let idp = provider(|_| {});
    let http = idp.http().await;
    let first = tokens(
        &idp,
        &http,
        &code_params(&[("scope", "openid offline_access read:messages")]),
    )
    .await;
    let token = rt(&first);
    let res = http
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("refresh_token", &token),
            ("scope", "openid read:messages write:messages"),
        ])
        .await;
    assert_oauth_error(&res, 400, "invalid_scope");
    // The refusal spent nothing.
    let t = token_json(
        &http
            .token(&[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT),
                ("refresh_token", &token),
                ("scope", "read:messages"),
            ])
            .await,
    );
    assert_eq!(t["scope"], "read:messages");
    assert!(t.get("id_token").is_none());
    let access = verify(&idp, t["access_token"].as_str().unwrap(), API).await;
    assert_eq!(access["aud"], API);
    // The family keeps its original grant: the next refresh may ask for openid again.
    let t = token_json(&http.refresh(&rt(&t)).await);
    assert_eq!(t["scope"], "openid offline_access read:messages");
}

#[tokio::test]
async fn a_refreshed_id_token_keeps_the_login_and_drops_the_nonce() {
    // OIDC Core §12.2: same iss, sub, aud and auth_time; a new iat; no nonce.
    let idp = provider(|_| {});
    let http = idp.http().await;
    let first = tokens(&idp, &http, &code_params(&[])).await;
    let original = verify(&idp, first["id_token"].as_str().unwrap(), CLIENT).await;
    idp.state.advance_clock(Duration::from_secs(100));
    let t = token_json(&http.refresh(&rt(&first)).await);
    let id = verify(&idp, t["id_token"].as_str().unwrap(), CLIENT).await;
    assert_eq!(id["sub"], original["sub"]);
    assert_eq!(id["auth_time"], original["auth_time"]);
    assert_eq!(id["sid"], original["sid"]);
    assert!(id["iat"].as_i64().unwrap() >= original["iat"].as_i64().unwrap() + 100);
    assert!(id.get("nonce").is_none());
    assert_eq!(id["email"], "alice@example.com");
}

#[tokio::test]
async fn a_refresh_token_unused_for_its_idle_lifetime_expires() {
    // Auth0 inactivity lifetime (default 15 days): each refresh starts it again.
    let idp = provider(|_| {});
    let http = idp.http().await;
    let t1 = rt(&tokens(&idp, &http, &code_params(&[])).await);
    idp.state.advance_clock(Duration::from_secs(14 * DAY));
    let t2 = rt(&token_json(&http.refresh(&t1).await));
    idp.state.advance_clock(Duration::from_secs(15 * DAY));
    assert_oauth_error(&http.refresh(&t2).await, 400, "invalid_grant");
}

#[tokio::test]
async fn a_refresh_token_family_ends_at_its_absolute_lifetime() {
    // Auth0 absolute lifetime (default 30 days from the login), however active.
    let idp = provider(|_| {});
    let http = idp.http().await;
    let mut token = rt(&tokens(&idp, &http, &code_params(&[])).await);
    for _ in 0..2 {
        idp.state.advance_clock(Duration::from_secs(10 * DAY));
        token = rt(&token_json(&http.refresh(&token).await));
    }
    idp.state.advance_clock(Duration::from_secs(10 * DAY));
    assert_oauth_error(&http.refresh(&token).await, 400, "invalid_grant");
}

#[tokio::test]
async fn lifetimes_are_client_settings() {
    let idp = provider(|c| {
        c.clients[0].refresh_token_lifetime_secs = 3600;
        c.clients[0].refresh_token_idle_lifetime_secs = 600;
    });
    let http = idp.http().await;
    let t1 = rt(&tokens(&idp, &http, &code_params(&[])).await);
    idp.state.advance_clock(Duration::from_secs(601));
    assert_oauth_error(&http.refresh(&t1).await, 400, "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_survive_a_restart_and_are_stored_only_hashed() {
    // idp/README.md "Storage": refresh tokens are kept as SHA-256 hashes in SQLite.
    let idp = provider(|_| {});
    let token = {
        let http = idp.http().await;
        rt(&tokens(&idp, &http, &code_params(&[])).await)
    };
    let idp = idp.restart();
    let http = idp.http().await;
    let t = token_json(&http.refresh(&token).await);
    verify(&idp, t["access_token"].as_str().unwrap(), API).await;
    let next = rt(&t);
    for entry in std::fs::read_dir(idp.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for secret in [&token, &next] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a refresh token is stored as is"
            );
        }
    }
}

#[tokio::test]
async fn a_refresh_token_of_another_client_is_refused_and_not_spent() {
    // RFC 6749 §6: the refresh token was issued to the client presenting it.
    let idp = provider(|c| {
        let mut other =
            hashgate_idp::ClientConfig::spa("other-app", "Other", "http://localhost:8080").unwrap();
        other.skip_consent = true;
        c.clients.push(other);
    });
    let http = idp.http().await;
    let token = rt(&tokens(&idp, &http, &code_params(&[])).await);
    let res = http
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "other-app"),
            ("refresh_token", &token),
        ])
        .await;
    assert_oauth_error(&res, 400, "invalid_grant");
    token_json(&http.refresh(&token).await);
}

#[tokio::test]
async fn unknown_or_missing_refresh_tokens_are_refused() {
    let idp = provider(|_| {});
    let http = idp.http().await;
    assert_oauth_error(&http.refresh("made-up").await, 400, "invalid_grant");
    let res = http
        .token(&[("grant_type", "refresh_token"), ("client_id", CLIENT)])
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
}

#[tokio::test]
async fn revocation_ends_the_family_and_unknown_tokens_answer_200() {
    // RFC 7009 §2.1 and §2.2.
    let idp = provider(|c| {
        let mut other =
            hashgate_idp::ClientConfig::spa("other-app", "Other", "http://localhost:8080").unwrap();
        other.skip_consent = true;
        c.clients.push(other);
    });
    let http = idp.http().await;
    let first = tokens(&idp, &http, &code_params(&[])).await;
    let t1 = rt(&first);
    let t2 = rt(&token_json(&http.refresh(&t1).await));
    let revoke = |token: String, client: &'static str| {
        let http = &http;
        async move {
            http.post_with(
                "/oauth/revoke",
                &[
                    ("client_id", client),
                    ("token", &token),
                    ("token_type_hint", "refresh_token"),
                ],
                &[("origin", "http://localhost:8080")],
            )
            .await
        }
    };
    // Another client may not revoke it: the token still refreshes.
    let res = revoke(t2.clone(), "other-app").await;
    assert_oauth_error(&res, 400, "invalid_grant");
    let t3 = rt(&token_json(&http.refresh(&t2).await));
    let res = revoke(t3.clone(), CLIENT).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.header("access-control-allow-origin").as_deref(),
        Some("http://localhost:8080")
    );
    assert_oauth_error(&http.refresh(&t3).await, 400, "invalid_grant");
    // Revoked, unknown and made-up tokens: 200, as if revoked.
    for token in [t3.clone(), "made-up".to_owned()] {
        assert_eq!(revoke(token, CLIENT).await.status, StatusCode::OK);
    }
    // An access token cannot be revoked: it is a JWT that expires.
    let res = revoke(first["access_token"].as_str().unwrap().to_owned(), CLIENT).await;
    assert_oauth_error(&res, 400, "unsupported_token_type");
    // A request without a token, without a client, or from a foreign origin.
    let res = http
        .post_with("/oauth/revoke", &[("client_id", CLIENT)], &[])
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
    let res = http
        .post_with("/oauth/revoke", &[("token", "x")], &[])
        .await;
    assert_oauth_error(&res, 400, "invalid_request");
    let res = http
        .post_with(
            "/oauth/revoke",
            &[("client_id", CLIENT), ("token", "x")],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_oauth_error(&res, 401, "invalid_client");
    let res = http
        .send(http.client.get(format!("{}/oauth/revoke", http.base)))
        .await;
    assert_oauth_error(&res, 405, "invalid_request");
}

#[tokio::test]
async fn logout_revokes_the_refresh_tokens_of_its_session() {
    // idp/README.md "Refresh tokens": /v2/logout and /oidc/logout revoke the families
    // started in that session (even one started before a re-login in the browser).
    for path in ["/v2/logout", "/oidc/logout"] {
        let idp = provider(|_| {});
        let http = idp.http().await;
        let mut b = idp.browser();
        let code = b.code(&code_params(&[]), ("alice", "alice-password")).await;
        let before_relogin = rt(&token_json(&http.exchange(&code).await));
        let code = b
            .code(
                &code_params(&[("prompt", "login")]),
                ("alice", "alice-password"),
            )
            .await;
        let current = rt(&token_json(&http.exchange(&code).await));
        // Another browser's session keeps its tokens.
        let elsewhere = rt(&tokens(&idp, &http, &code_params(&[])).await);
        b.get(path).await;
        assert_oauth_error(&http.refresh(&before_relogin).await, 400, "invalid_grant");
        assert_oauth_error(&http.refresh(&current).await, 400, "invalid_grant");
        token_json(&http.refresh(&elsewhere).await);
    }
}

const PROTOCOL_RULE: &str = "function (user, context, callback) {
  context.idToken['https://t.example/protocol'] = context.protocol;
  if (context.protocol === 'oauth2-refresh-token' && user.email === 'bob@example.com') {
    return callback(new UnauthorizedError('bob may not refresh'));
  }
  callback(null, user, context);
}";

const PROTOCOL_ACTION: &str = "exports.onExecutePostLogin = async (event, api) => {
  api.accessToken.setCustomClaim('https://t.example/protocol', event.transaction.protocol);
};";

#[tokio::test]
async fn rules_and_actions_see_the_three_protocol_names_and_may_deny_a_refresh() {
    // Auth0's context.protocol / event.transaction.protocol: oidc-implicit-profile,
    // oidc-basic-profile (code) and oauth2-refresh-token; a denial at refresh is
    // invalid_grant with the rule's message, and spends nothing.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("10-protocol.js"), PROTOCOL_RULE).unwrap();
    std::fs::write(dir.path().join("20-protocol-action.js"), PROTOCOL_ACTION).unwrap();
    let rules = dir.path().to_owned();
    let idp = provider(move |c| c.rules_dir = Some(rules));
    let http = idp.http().await;
    let claim = "https://t.example/protocol";

    let f = idp
        .browser()
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment();
    assert_eq!(
        verify(&idp, &f["id_token"], CLIENT).await[claim],
        "oidc-implicit-profile"
    );
    assert_eq!(
        verify(&idp, &f["access_token"], API).await[claim],
        "oidc-implicit-profile"
    );

    let t = tokens(&idp, &http, &code_params(&[])).await;
    assert_eq!(
        verify(&idp, t["id_token"].as_str().unwrap(), CLIENT).await[claim],
        "oidc-basic-profile"
    );
    assert_eq!(
        verify(&idp, t["access_token"].as_str().unwrap(), API).await[claim],
        "oidc-basic-profile"
    );

    let r = token_json(&http.refresh(&rt(&t)).await);
    assert_eq!(
        verify(&idp, r["id_token"].as_str().unwrap(), CLIENT).await[claim],
        "oauth2-refresh-token"
    );
    assert_eq!(
        verify(&idp, r["access_token"].as_str().unwrap(), API).await[claim],
        "oauth2-refresh-token"
    );

    let code = idp
        .browser()
        .code(&code_params(&[]), ("bob", "bob-password"))
        .await;
    let bob = rt(&token_json(&http.exchange(&code).await));
    for _ in 0..2 {
        let res = http.refresh(&bob).await;
        assert_oauth_error(&res, 400, "invalid_grant");
        assert_eq!(res.json()["error_description"], "bob may not refresh");
    }
}
