//! The demo endpoints: messages (input rules, isolation, durability under concurrency), CORS,
//! and the JSON answers to bad bodies. Run with `cargo test -p hashgate-api --test api endpoints`.

use std::collections::BTreeSet;

use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use hashgate_api::{app, AppState};
use serde_json::{json, Value};

const RW: &str = "openid read:messages write:messages";

fn texts(answer: &Answer) -> Vec<String> {
    answer.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_posted_message_is_returned_with_id_and_time_and_listed_for_its_author_only() {
    // docs/contract.md §4 and api/README.md: messages are the caller's own, by `sub`.
    let api = TestApi::start().await;
    let alice = api.token("alice", RW);
    let bob = api.token("bob", RW);

    let created = api
        .post_message(&alice, &json!({ "text": "  hello\nworld  " }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["text"], "hello\nworld");
    assert!(created.body["id"].is_i64());
    let created_at = created.body["created_at"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.contains('T'),
        "{created_at}"
    );

    let mine = api.get("/api/messages", &alice).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["messages"], json!([created.body]));
    let theirs = api.get("/api/messages", &bob).await;
    assert_eq!(theirs.body, json!({ "messages": [] }));
}

#[tokio::test]
async fn message_text_rules_give_422_with_a_clear_reason() {
    // api/README.md, message rules: 1-500 characters, no control characters but newline.
    let api = TestApi::start().await;
    let token = api.token("alice", RW);
    for (text, reason) in [
        (json!(""), "empty"),
        (json!("   \n "), "empty"),
        (json!("x".repeat(501)), "500"),
        (json!("tab\there"), "control"),
        (json!("bell\u{7}"), "control"),
    ] {
        let answer = api.post_message(&token, &json!({ "text": text })).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        assert_eq!(answer.body["error"], "invalid_message");
        assert!(answer.body["error_description"]
            .as_str()
            .unwrap()
            .contains(reason));
    }
    let longest = api
        .post_message(&token, &json!({ "text": "ü".repeat(500) }))
        .await;
    assert_eq!(longest.status, StatusCode::CREATED);
    assert_eq!(texts(&api.get("/api/messages", &token).await).len(), 1);
}

#[tokio::test]
async fn bad_bodies_get_json_errors_with_the_right_status() {
    // api/README.md, message rules: 415, 400, 422 and 413, each with a JSON error body.
    let api = TestApi::start().await;
    let token = api.token("alice", RW);
    let post = |content_type: Option<&str>, body: Vec<u8>| {
        let mut request =
            Request::post("/api/messages").header("authorization", format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.body(Body::from(body)).unwrap()
    };
    let cases = [
        (
            post(None, br#"{"text":"hi"}"#.to_vec()),
            415,
            "unsupported_media_type",
        ),
        (
            post(Some("text/plain"), br#"{"text":"hi"}"#.to_vec()),
            415,
            "unsupported_media_type",
        ),
        (
            post(Some("application/json"), b"{\"text\": ".to_vec()),
            400,
            "invalid_json",
        ),
        (
            post(Some("application/json"), b"\xff\xfe".to_vec()),
            400,
            "invalid_json",
        ),
        (
            post(Some("application/json"), br#"{"txt":"hi"}"#.to_vec()),
            422,
            "invalid_body",
        ),
        (
            post(Some("application/json"), br#"{"text":42}"#.to_vec()),
            422,
            "invalid_body",
        ),
        (
            post(Some("application/json"), br#"["hi"]"#.to_vec()),
            422,
            "invalid_body",
        ),
        (
            post(
                Some("application/json"),
                serde_json::to_vec(&json!({ "text": "a".repeat(5000) })).unwrap(),
            ),
            413,
            "payload_too_large",
        ),
    ];
    for (request, status, error) in cases {
        let answer = api.send(request).await;
        assert_eq!(answer.status.as_u16(), status, "{error}: {answer:?}");
        assert_eq!(answer.body["error"], error);
        assert!(answer.body["error_description"].is_string());
    }
    assert!(texts(&api.get("/api/messages", &token).await).is_empty());
}

#[tokio::test]
async fn authentication_is_checked_before_the_body_is_read() {
    // RFC 6750 §3: an unauthenticated request gets the bare challenge, whatever its body.
    let api = TestApi::start().await;
    let request = Request::post("/api/messages")
        .header("content-type", "application/json")
        .body(Body::from("not json"))
        .unwrap();
    let answer = api.send(request).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge(), "Bearer realm=\"hashgate-api\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_posts_are_all_stored_and_survive_a_restart() {
    // api/README.md, Endpoints: the 201 comes after the SQLite commit, so a restart loses no
    // acknowledged message.
    let provider = FakeProvider::start(&[&KEY_A]).await;
    let dir = TempDir::new();
    let router = app(AppState::new(settings(&provider.issuer, dir.path())).unwrap());
    let token = provider.token(&KEY_A, "alice", RW);
    let posts: Vec<_> = (0..50)
        .map(|i| {
            let router = router.clone();
            let token = token.clone();
            tokio::spawn(async move {
                send(
                    &router,
                    post_json(&token, &json!({ "text": format!("message {i}") })),
                )
                .await
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for post in posts {
        let answer = post.await.unwrap();
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        ids.insert(answer.body["id"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 50, "ids are distinct");
    drop(router);

    // A new process would open the same directory: so does a new state.
    let reopened = app(AppState::new(settings(&provider.issuer, dir.path())).unwrap());
    let answer = send(
        &reopened,
        get_with("/api/messages", &format!("Bearer {token}")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let stored: BTreeSet<String> = texts(&answer).into_iter().collect();
    let expected: BTreeSet<String> = (0..50).map(|i| format!("message {i}")).collect();
    assert_eq!(stored, expected);
    let listed_ids: Vec<i64> = answer.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(listed_ids.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert!(dir.path().join(hashgate_api::messages::DB_FILE).exists());
}

fn with_origin(method: &str, path: &str, origin: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header("origin", origin)
}

#[tokio::test]
async fn a_listed_origin_may_call_the_api_with_authorization_and_json() {
    // Fetch standard (CORS): the SPA's origin may send Authorization and JSON, and read errors.
    let api = TestApi::start().await;
    let preflight = api
        .send(
            with_origin("OPTIONS", "/api/messages", ALLOWED_ORIGIN)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type,dpop",
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(preflight.status.is_success(), "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    let allowed_headers = preflight
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"));
    // RFC 9449 §4.1: a DPoP client sends its proof in the `DPoP` header.
    assert!(allowed_headers.split(',').any(|h| h.trim() == "dpop"));
    let methods = preflight.header("access-control-allow-methods").unwrap();
    assert!(methods.contains("GET") && methods.contains("POST") && !methods.contains("DELETE"));
    assert!(preflight
        .header("access-control-allow-credentials")
        .is_none());

    let token = api.token("alice", RW);
    let actual = api
        .send(
            with_origin("GET", "/api/private", ALLOWED_ORIGIN)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(actual.status, StatusCode::OK);
    assert_eq!(
        actual.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    // The page reads the missing scope of a 403 from the RFC 6750 challenge, and the server
    // nonce from `DPoP-Nonce` (RFC 9449 §9).
    let exposed = actual.header("access-control-expose-headers").unwrap();
    let exposed: Vec<_> = exposed.split(',').map(str::trim).collect();
    assert!(
        exposed.contains(&"www-authenticate") && exposed.contains(&"dpop-nonce"),
        "{exposed:?}"
    );

    // Errors are readable by the page too, so it can show the 401/403.
    let refused = api
        .send(
            with_origin("GET", "/api/private", ALLOWED_ORIGIN)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_access_control_allow_origin() {
    // Fetch standard (CORS): any other origin, look-alikes included, gets no access.
    let api = TestApi::start().await;
    for origin in [
        "http://evil.example",
        "http://localhost:8081",
        "null",
        "http://localhost:8080.evil.example",
    ] {
        let preflight = api
            .send(
                with_origin("OPTIONS", "/api/messages", origin)
                    .header("access-control-request-method", "POST")
                    .header("access-control-request-headers", "authorization")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert!(
            preflight.header("access-control-allow-origin").is_none(),
            "{origin}"
        );
        let simple = api
            .send(
                with_origin("GET", "/api/public", origin)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert!(
            simple.header("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_refused() {
    // docs/contract.md §4: only the listed endpoints and methods exist.
    let api = TestApi::start().await;
    let missing = api
        .send(Request::get("/api/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"], "not_found");
    let token = api.token("alice", RW);
    let delete = api
        .send(
            Request::delete("/api/messages")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(delete.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_scoped_endpoint_answers_its_message_to_a_reader() {
    // docs/contract.md §4: `GET /api/private-scoped` with `read:messages`.
    let api = TestApi::start().await;
    let answer = api
        .get("/api/private-scoped", &api.token("alice", "read:messages"))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let message: &Value = &answer.body["message"];
    assert!(message.as_str().unwrap().contains("read:messages"));
}
