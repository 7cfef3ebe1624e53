//! Auth0-style Rules and Actions (`idp/README.md`, "Rules and Actions"): what rules
//! see, how their claims reach the tokens, how they end a login (deny, failure,
//! timeout, memory cap), the sandbox, and start-up checks. Tokens are verified against the JWKS with
//! jsonwebtoken.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::*;
use axum::http::StatusCode;
use hashgate_idp::{AppState, Settings};

/// A provider whose rules directory holds exactly `files` (name, source).
fn with_rules(files: &[(&str, &str)]) -> (Idp, tempfile::TempDir) {
    with_rules_and(files, |_| {})
}

fn with_rules_and(
    files: &[(&str, &str)],
    edit: impl FnOnce(&mut hashgate_idp::Config),
) -> (Idp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (name, source) in files {
        std::fs::write(dir.path().join(name), source).unwrap();
    }
    let path = dir.path().to_owned();
    let idp = Idp::with_config(|c| {
        c.rules_dir = Some(path);
        c.rules.timeout_ms = 400;
        edit(c);
    });
    (idp, dir)
}

async fn alice(idp: &Idp) -> HashMap<String, String> {
    idp.browser()
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment()
}

async fn id_claims(idp: &Idp, f: &HashMap<String, String>) -> serde_json::Value {
    let token = f
        .get("id_token")
        .unwrap_or_else(|| panic!("no id_token in {f:?}"));
    verify(idp, token, CLIENT).await
}

async fn access_claims(idp: &Idp, f: &HashMap<String, String>) -> serde_json::Value {
    let token = f
        .get("access_token")
        .unwrap_or_else(|| panic!("no access_token in {f:?}"));
    verify(idp, token, API).await
}

fn assert_server_error(f: &HashMap<String, String>) {
    assert_eq!(
        f.get("error").map(String::as_str),
        Some("server_error"),
        "{f:?}"
    );
    // The reason stays in the server log; the app gets a generic sentence.
    assert_eq!(f["error_description"], "a rule failed");
    assert_eq!(f["state"], "af0ifjsldkj");
    assert!(!f.contains_key("access_token") && !f.contains_key("id_token"));
}

const ADD_CLAIM: &str = "function (user, context, callback) {
  context.idToken['https://t.example/ok'] = true;
  callback(null, user, context);
}";

#[tokio::test]
async fn the_shipped_rules_add_roles_and_the_implicit_grant_claim() {
    // idp/README.md (Rules): namespaced roles from app_metadata, and logic only for
    // context.protocol === 'oidc-implicit-profile'.
    let idp = Idp::new();
    assert_eq!(idp.state.rules().names().len(), 3);
    let f = alice(&idp).await;
    let id = id_claims(&idp, &f).await;
    assert_eq!(
        id["https://hashgate.dev/roles"],
        serde_json::json!(["admin"])
    );
    assert_eq!(id["https://hashgate.dev/grant"], "implicit");
    let at = access_claims(&idp, &f).await;
    assert_eq!(
        at["https://hashgate.dev/roles"],
        serde_json::json!(["admin"])
    );
    assert!(at.get("https://hashgate.dev/grant").is_none());
}

#[tokio::test]
async fn the_shipped_rule_denies_mallory_with_unauthorized_and_the_message() {
    // idp/README.md (Rules): callback(new UnauthorizedError(...)) reaches the app as
    // error=unauthorized with that description (RFC 6749 4.2.2.1: state echoed).
    let idp = Idp::new();
    let f = idp
        .browser()
        .log_in(&spa_params(&[]), "mallory", "mallory-password")
        .await
        .fragment();
    assert_eq!(f["error"], "unauthorized");
    assert_eq!(
        f["error_description"],
        "Accounts from blocked.example may not sign in to this app."
    );
    assert_eq!(f["state"], "af0ifjsldkj");
    assert!(!f.contains_key("id_token"));
}

#[tokio::test]
async fn rules_see_the_auth0_user_and_context_objects() {
    // idp/README.md (Rules): the fields of `user` and `context`, with protocol
    // oidc-implicit-profile on implicit requests.
    let rule = "function (user, context, callback) {
  context.idToken['https://t.example/seen'] = {
    user_id: user.user_id, email: user.email, email_verified: user.email_verified,
    name: user.name, nickname: user.nickname, picture: typeof user.picture,
    app_metadata: user.app_metadata, user_metadata: user.user_metadata,
    clientID: context.clientID, clientName: context.clientName,
    connection: context.connection, protocol: context.protocol,
    query_state: context.request.query.state, ip: context.request.ip,
    userAgent: context.request.userAgent, hostname: context.request.hostname,
    idToken: typeof context.idToken, accessToken: typeof context.accessToken,
    loginsCount: context.stats.loginsCount, sessionID: context.sessionID,
    roles: context.authorization.roles, configured: configuration.GREETING
  };
  callback(null, user, context);
}";
    let (idp, _dir) = with_rules_and(&[("10-seen.js", rule)], |c| {
        c.rules
            .configuration
            .insert("GREETING".into(), "hello".into());
    });
    let f = alice(&idp).await;
    let id = id_claims(&idp, &f).await;
    let seen = &id["https://t.example/seen"];
    assert_eq!(seen["user_id"], "auth0|alice");
    assert_eq!(seen["email"], "alice@example.com");
    assert_eq!(seen["email_verified"], true);
    assert_eq!(seen["name"], "Alice Example");
    assert_eq!(seen["nickname"], "alice");
    assert_eq!(seen["picture"], "string");
    assert_eq!(seen["app_metadata"]["roles"], serde_json::json!(["admin"]));
    assert_eq!(seen["user_metadata"], serde_json::json!({}));
    assert_eq!(seen["clientID"], CLIENT);
    assert_eq!(seen["clientName"], "Hashgate Demo");
    assert_eq!(seen["connection"], "Username-Password-Authentication");
    assert_eq!(seen["protocol"], "oidc-implicit-profile");
    assert_eq!(seen["query_state"], "af0ifjsldkj");
    assert_eq!(seen["ip"], "unknown"); // oneshot requests carry no peer address
    assert_eq!(seen["hostname"], "localhost");
    assert_eq!(seen["idToken"], "object");
    assert_eq!(seen["accessToken"], "object");
    assert_eq!(seen["loginsCount"], 1);
    assert_eq!(seen["sessionID"], id["sid"]);
    assert_eq!(seen["roles"], serde_json::json!(["admin"]));
    assert_eq!(seen["configured"], "hello");
}

#[tokio::test]
async fn rules_also_run_for_prompt_none_and_web_message() {
    // idp/README.md (Rules): rules run on every successful authorization, silent ones included.
    let (idp, _dir) = with_rules(&[("10-ok.js", ADD_CLAIM)]);
    let mut b = idp.alice_signed_in().await;
    let res = b
        .get(&authorize_uri(&spa_params(&[
            ("prompt", "none"),
            ("response_mode", "web_message"),
        ])))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let r = &res.web_message()["message"]["response"];
    let id = verify(&idp, r["id_token"].as_str().unwrap(), CLIENT).await;
    assert_eq!(id["https://t.example/ok"], true);
}

#[tokio::test]
async fn a_denial_reaches_a_web_message_app_as_unauthorized() {
    let deny = "function (user, context, callback) {
  if (context.request.query.prompt === 'none') return callback(new UnauthorizedError('no silent login'));
  callback(null, user, context);
}";
    let (idp, _dir) = with_rules(&[("10-deny.js", deny)]);
    let mut b = idp.alice_signed_in().await;
    let res = b
        .get(&authorize_uri(&spa_params(&[
            ("prompt", "none"),
            ("response_mode", "web_message"),
        ])))
        .await;
    let r = &res.web_message()["message"]["response"];
    assert_eq!(r["error"], "unauthorized");
    assert_eq!(r["error_description"], "no silent login");
    assert_eq!(r["state"], "af0ifjsldkj");
}

#[tokio::test]
async fn protocol_claims_cannot_be_overwritten_by_rules() {
    // idp/README.md (Rules): iss, sub, aud, exp, iat, nonce, at_hash, azp, auth_time,
    // scope (and permissions) stay the provider's; other claims set alongside still arrive.
    let rule = "function (user, context, callback) {
  for (const k of ['iss','sub','aud','exp','iat','nonce','at_hash','azp','auth_time','scope','sid','jti','permissions']) {
    context.idToken[k] = 'evil';
    context.accessToken[k] = 'evil';
  }
  context.idToken['https://t.example/kept'] = 1;
  context.accessToken['https://t.example/kept'] = 2;
  callback(null, user, context);
}";
    let (idp, _dir) = with_rules(&[("10-evil.js", rule)]);
    let f = alice(&idp).await;
    let id = id_claims(&idp, &f).await;
    let at = access_claims(&idp, &f).await;
    for c in [&id, &at] {
        for (k, v) in c.as_object().unwrap() {
            assert_ne!(v, "evil", "{k} was overwritten");
        }
    }
    assert_eq!(id["sub"], "auth0|alice");
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["aud"], CLIENT);
    assert_eq!(
        at["scope"],
        "openid profile email read:messages write:messages"
    );
    assert_eq!(
        at["permissions"],
        serde_json::json!(["read:messages", "write:messages"])
    );
    assert_eq!(id["https://t.example/kept"], 1);
    assert_eq!(at["https://t.example/kept"], 2);
}

#[tokio::test]
async fn a_rule_that_throws_ends_the_login_with_server_error() {
    // idp/README.md (Rules): any other error or exception is an error delivered to the app.
    let rule = "function (user, context, callback) { null.boom; }";
    let (idp, _dir) = with_rules(&[("10-ok.js", ADD_CLAIM), ("20-throws.js", rule)]);
    assert_server_error(&alice(&idp).await);
}

#[tokio::test]
async fn a_rule_passing_an_ordinary_error_ends_the_login_with_server_error() {
    let rule = "function (user, context, callback) { callback(new Error('db down')); }";
    let (idp, _dir) = with_rules(&[("10-err.js", rule)]);
    assert_server_error(&alice(&idp).await);
}

#[tokio::test]
async fn a_rule_that_never_calls_back_ends_the_login_with_server_error() {
    let rule = "function (user, context, callback) { }";
    let (idp, _dir) = with_rules(&[("10-silent.js", rule)]);
    assert_server_error(&alice(&idp).await);
}

#[tokio::test]
async fn an_async_rule_may_call_back_from_a_promise() {
    let rule = "function (user, context, callback) {
  Promise.resolve(['a', 'b']).then((list) => {
    context.accessToken['https://t.example/list'] = list;
    callback(null, user, context);
  });
}";
    let (idp, _dir) = with_rules(&[("10-async.js", rule)]);
    let f = alice(&idp).await;
    let at = access_claims(&idp, &f).await;
    assert_eq!(at["https://t.example/list"], serde_json::json!(["a", "b"]));
}

#[tokio::test]
async fn rules_run_in_file_name_order_and_pass_user_and_context_on() {
    let first = "function (user, context, callback) {
  user.app_metadata.step = 'first';
  context.idToken['https://t.example/order'] = ['10'];
  callback(null, user, context);
}";
    let second = "function second(user, context, callback) {
  context.idToken['https://t.example/order'].push('20:' + user.app_metadata.step);
  callback(null, user, context);
}";
    let (idp, _dir) = with_rules(&[("20-second.js", second), ("10-first.js", first)]);
    let id = id_claims(&idp, &alice(&idp).await).await;
    assert_eq!(
        id["https://t.example/order"],
        serde_json::json!(["10", "20:first"])
    );
}

#[tokio::test]
async fn a_rule_that_loops_forever_fails_in_time_and_the_server_keeps_serving() {
    // idp/README.md (Rules): a runaway rule ends that login with an error and the server keeps
    // serving everyone else, at the same time.
    let rule = "function (user, context, callback) {
  if (user.email === 'bob@example.com') { while (true) {} }
  callback(null, user, context);
}";
    let (idp, _dir) = with_rules_and(&[("10-loop.js", rule)], |c| c.rules.timeout_ms = 1500);
    let started = Instant::now();
    let mut bob_browser = idp.browser();
    let bob_login = async {
        let f = bob_browser
            .log_in(&spa_params(&[]), "bob", "bob-password")
            .await
            .fragment();
        (f, started.elapsed())
    };
    // Give bob's login time to reach the loop, then log alice in meanwhile.
    let alice_login = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let f = alice(&idp).await;
        (f, started.elapsed())
    };
    let ((bob, bob_done), (f, alice_done)) = tokio::join!(bob_login, alice_login);
    assert!(f.contains_key("id_token"), "{f:?}");
    assert_server_error(&bob);
    assert!(
        alice_done < bob_done,
        "alice ({alice_done:?}) waited for the loop ({bob_done:?})"
    );
    assert!(bob_done >= Duration::from_millis(1500), "{bob_done:?}");
    assert!(bob_done < Duration::from_secs(6), "{bob_done:?}");
}

#[tokio::test]
async fn a_rule_that_allocates_without_bound_hits_the_memory_cap() {
    // idp/README.md (Rules): a memory cap per rule; the next login still works.
    let rule = "function (user, context, callback) {
  if (user.email === 'bob@example.com') {
    const hoard = [];
    while (true) hoard.push(new Array(100000).fill(user.email));
  }
  callback(null, user, context);
}";
    let (idp, _dir) = with_rules_and(&[("10-hog.js", rule)], |c| {
        c.rules.timeout_ms = 10_000;
        c.rules.memory_limit_bytes = 8 * 1024 * 1024;
    });
    let started = Instant::now();
    let bob = idp
        .browser()
        .log_in(&spa_params(&[]), "bob", "bob-password")
        .await
        .fragment();
    assert_server_error(&bob);
    // Ended by the cap, not by the (long) time limit.
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(alice(&idp).await.contains_key("id_token"));
}

#[tokio::test]
async fn rules_cannot_reach_files_modules_network_or_processes() {
    // idp/README.md (Rules): sandboxed, no file system, network or process access.
    let probe = "function (user, context, callback) {
  context.idToken['https://t.example/globals'] = [typeof std, typeof os, typeof process,
    typeof fetch, typeof XMLHttpRequest, typeof setTimeout, typeof module, typeof Deno];
  callback(null, user, context);
}";
    let (idp, _dir) = with_rules(&[("10-probe.js", probe)]);
    let id = id_claims(&idp, &alice(&idp).await).await;
    assert_eq!(
        id["https://t.example/globals"],
        serde_json::json!(vec!["undefined"; 8])
    );

    for attempt in [
        "function (user, context, callback) { const fs = require('fs'); fs.readFileSync('/etc/passwd'); callback(null, user, context); }",
        "function (user, context, callback) { import('fs').then(() => callback(null, user, context), callback); }",
        "function (user, context, callback) { import('std').then((std) => { std.loadFile('/etc/passwd'); callback(null, user, context); }, callback); }",
        "function (user, context, callback) { import('os').then(() => callback(null, user, context), callback); }",
    ] {
        let (idp, _dir) = with_rules(&[("10-attempt.js", attempt)]);
        assert_server_error(&alice(&idp).await);
    }
}

#[test]
fn a_static_import_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("10-import.js"),
        "import fs from 'fs';\nfunction (user, context, callback) { callback(null, user, context); }\n",
    )
    .unwrap();
    let err = start(dir.path()).unwrap_err();
    assert!(err.contains("10-import.js:1: SyntaxError"), "{err}");
}

fn start(rules: &std::path::Path) -> Result<(), String> {
    let data = tempfile::tempdir().unwrap();
    let mut config = demo_config();
    config.rules_dir = Some(rules.to_owned());
    AppState::new(Settings::new(ISSUER, data.path(), config).with_signing_key_pem(key_pem()))
        .map(|_: AppState| ())
        .map_err(|e| e.to_string())
}

#[test]
fn a_syntax_error_stops_start_up_with_the_file_and_line() {
    // idp/README.md (Rules): a rule with a syntax error stops start-up with its file name and line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("10-ok.js"), ADD_CLAIM).unwrap();
    std::fs::write(
        dir.path().join("20-broken.js"),
        "function (user, context, callback) {\n  const roles = [;\n  callback(null, user, context);\n}\n",
    )
    .unwrap();
    let err = start(dir.path()).unwrap_err();
    let file = dir.path().join("20-broken.js");
    let expected = format!("{}:2: SyntaxError: ", file.display());
    assert!(err.starts_with(&expected), "{err}");
}

#[test]
fn a_file_that_is_not_a_function_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("10-value.js"), "42").unwrap();
    let err = start(dir.path()).unwrap_err();
    assert!(
        err.contains("10-value.js: a rule must be one function"),
        "{err}"
    );
}

#[test]
fn a_missing_rules_directory_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let err = start(&dir.path().join("nope")).unwrap_err();
    assert!(err.starts_with("cannot read rules directory"), "{err}");
}

const ACTION: &str = "/** An Auth0 post-login Action. */
exports.onExecutePostLogin = async (event, api) => {
  if (event.user.email.endsWith('@example.com') && event.user.nickname === 'bob') {
    api.access.deny('bob may not use ' + event.client.name);
    return;
  }
  await Promise.resolve();
  api.idToken.setCustomClaim('https://t.example/action', {
    protocol: event.transaction.protocol,
    client_id: event.client.client_id,
    ip: event.request.ip,
    hostname: event.request.hostname,
    state: event.request.query.state,
    roles: event.user.app_metadata.roles,
  });
  api.accessToken.setCustomClaim('https://t.example/tier', 'gold');
  api.accessToken.setCustomClaim('sub', 'evil');
};
";

#[tokio::test]
async fn an_action_sets_custom_claims_on_both_tokens() {
    // idp/README.md (Rules): Actions with event.user/client/transaction/request and
    // api.idToken / api.accessToken.setCustomClaim.
    let (idp, _dir) = with_rules(&[("50-action.js", ACTION)]);
    let f = alice(&idp).await;
    let id = id_claims(&idp, &f).await;
    assert_eq!(
        id["https://t.example/action"],
        serde_json::json!({
            "protocol": "oidc-implicit-profile",
            "client_id": CLIENT,
            "ip": "unknown",
            "hostname": "localhost",
            "state": "af0ifjsldkj",
            "roles": ["admin"],
        })
    );
    let at = access_claims(&idp, &f).await;
    assert_eq!(at["https://t.example/tier"], "gold");
    assert_eq!(at["sub"], "auth0|alice");
}

#[tokio::test]
async fn an_action_can_deny_access() {
    // idp/README.md (Rules): api.access.deny(reason) ends the login with that reason.
    let (idp, _dir) = with_rules(&[("50-action.js", ACTION)]);
    let f = idp
        .browser()
        .log_in(&spa_params(&[]), "bob", "bob-password")
        .await
        .fragment();
    assert_eq!(f["error"], "unauthorized");
    assert_eq!(f["error_description"], "bob may not use Hashgate Demo");
}

#[tokio::test]
async fn actions_in_a_separate_directory_run_after_the_rules() {
    let actions = tempfile::tempdir().unwrap();
    std::fs::write(
        actions.path().join("claim.js"),
        "exports.onExecutePostLogin = (event, api) => { api.idToken.setCustomClaim('https://t.example/ok', 'action'); };",
    )
    .unwrap();
    let path = actions.path().to_owned();
    let (idp, _dir) = with_rules_and(&[("10-ok.js", ADD_CLAIM)], |c| {
        c.rules.actions_dir = Some(path);
    });
    let id = id_claims(&idp, &alice(&idp).await).await;
    assert_eq!(id["https://t.example/ok"], "action");
}

#[tokio::test]
async fn an_action_that_rejects_ends_the_login_with_server_error() {
    let action = "exports.onExecutePostLogin = async (event, api) => { throw new Error('nope'); };";
    let (idp, _dir) = with_rules(&[("50-action.js", action)]);
    assert_server_error(&alice(&idp).await);
}

/// Bob holds `read:messages` only; these are the claims a resource server (hashgate-api
/// among them) reads as granted scopes or as the client, and others it trusts.
const AUTHORITY_CLAIMS: [&str; 12] = [
    "scp",
    "scope",
    "permissions",
    "client_id",
    "azp",
    "gty",
    "aud",
    "iss",
    "sub",
    "exp",
    "acr",
    "cnf",
];

fn assert_bob_keeps_read_only(at: &serde_json::Value, id: &serde_json::Value) {
    assert_eq!(at["sub"], "auth0|bob");
    assert_eq!(at["scope"], "openid profile email read:messages");
    assert_eq!(at["permissions"], serde_json::json!(["read:messages"]));
    assert_eq!(at["azp"], CLIENT);
    assert_eq!(at["iss"], ISSUER);
    for claim in ["scp", "client_id", "gty", "acr", "cnf"] {
        assert!(at.get(claim).is_none(), "{claim} reached the access token");
        assert!(id.get(claim).is_none(), "{claim} reached the id token");
    }
    assert!(!at.to_string().contains("write:messages"), "{at}");
    assert_eq!(at["https://t.example/kept"], "yes");
}

#[tokio::test]
async fn a_rule_cannot_grant_api_access_through_scp_scope_or_client_id() {
    // idp/README.md (Rules): API access comes only from the configured grants; hashgate-api
    // reads `scp` (Okta), `scope` and `permissions` as granted scopes and `client_id` as
    // the client (RFC 9068 §2.2), so a rule setting them must change nothing.
    let claims = AUTHORITY_CLAIMS.map(|c| format!("'{c}'")).join(",");
    let rule = format!(
        "function (user, context, callback) {{
  for (const k of [{claims}]) {{
    const v = k === 'scp' || k === 'permissions' ? ['read:messages', 'write:messages']
      : k === 'scope' ? 'read:messages write:messages' : 'evil';
    context.accessToken[k] = v;
    context.idToken[k] = v;
  }}
  context.accessToken['https://t.example/kept'] = 'yes';
  callback(null, user, context);
}}"
    );
    let (idp, _dir) = with_rules(&[("10-grant.js", &rule)]);
    let f = idp
        .browser()
        .log_in(&spa_params(&[]), "bob", "bob-password")
        .await
        .fragment();
    assert_eq!(f["scope"], "openid profile email read:messages");
    let (at, id) = (access_claims(&idp, &f).await, id_claims(&idp, &f).await);
    assert_bob_keeps_read_only(&at, &id);
}

#[tokio::test]
async fn an_action_cannot_grant_api_access_through_scp_scope_or_client_id() {
    // idp/README.md (Rules): the same protection holds for api.accessToken.setCustomClaim
    // and api.idToken.setCustomClaim in Actions.
    let claims = AUTHORITY_CLAIMS.map(|c| format!("'{c}'")).join(",");
    let action = format!(
        "exports.onExecutePostLogin = async (event, api) => {{
  for (const k of [{claims}]) {{
    const v = k === 'scp' || k === 'permissions' ? ['read:messages', 'write:messages']
      : k === 'scope' ? 'read:messages write:messages' : 'evil';
    api.accessToken.setCustomClaim(k, v);
    api.idToken.setCustomClaim(k, v);
  }}
  api.accessToken.setCustomClaim('https://t.example/kept', 'yes');
}};"
    );
    let (idp, _dir) = with_rules(&[("50-grant.js", &action)]);
    let f = idp
        .browser()
        .log_in(&spa_params(&[]), "bob", "bob-password")
        .await
        .fragment();
    let (at, id) = (access_claims(&idp, &f).await, id_claims(&idp, &f).await);
    assert_bob_keeps_read_only(&at, &id);
}
