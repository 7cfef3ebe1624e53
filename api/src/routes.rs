//! The demo endpoints (`docs/contract.md` §4) and the layers around every route.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde_json::{json, Map, Value};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::auth::scopes::{ReadMessages, WriteMessages};
use crate::auth::{
    refuse_token_in_form_body, scheme_of, Claims, RequireScope, TokenVerifier, DPOP,
};
use crate::error::{set_challenges, AppError, Challenge, Result, Scheme, DPOP_NONCE};
use crate::messages::{validate_text, Message};
use crate::state::AppState;

/// Largest request body any route reads.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

/// How long browsers may cache a CORS preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The API with its demo routes: see [`app_with`].
pub fn app(state: AppState) -> Router {
    app_with(state, Router::new())
}

/// The API with the demo routes plus `extra` routes of your own. All of them get the
/// state (so [`Claims`] and [`RequireScope`] work), the 4 KiB body limit, CORS for the
/// configured origins, the refusal of tokens in form bodies, and request tracing.
pub fn app_with(state: AppState, extra: Router<AppState>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(state.allowed_origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, DPOP])
        // The browser app reads the missing scope from the RFC 6750 challenge of a 403, and
        // the server nonce from `DPoP-Nonce` (RFC 9449 §9).
        .expose_headers([header::WWW_AUTHENTICATE, DPOP_NONCE])
        .max_age(PREFLIGHT_MAX_AGE);
    // Only method and path: the query may hold a (refused) token, and headers hold real ones.
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &axum::extract::Request| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    Router::new()
        .route("/api/public", get(public))
        .route("/api/private", get(private))
        .route("/api/private-scoped", get(private_scoped))
        .route("/api/messages", get(list_messages).post(post_message))
        .merge(extra)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(refuse_token_in_form_body))
        // The verifier, not the whole state: it is cloned for every request, and is one pointer.
        .layer(middleware::from_fn_with_state(
            state.verifier.clone(),
            address_challenges,
        ))
        .layer(cors)
        .layer(trace)
        .with_state(state)
}

/// Middleware: puts an error's `WWW-Authenticate` parameters on the challenge of the scheme
/// the request used (RFC 9449 §7.1), drops the `Bearer` challenge when bearer tokens are
/// refused, and hands DPoP clients the current server nonce (RFC 9449 §9) on every answer.
async fn address_challenges(
    State(verifier): State<TokenVerifier>,
    request: Request,
    next: Next,
) -> Response {
    let scheme = scheme_of(request.headers());
    let mut response = next.run(request).await;
    let dpop = verifier.dpop();
    let require_dpop = dpop.policy().require;
    if scheme == Scheme::Dpop || require_dpop {
        if let Some(challenge) = response.extensions().get::<Challenge>() {
            let challenges = challenge.render(scheme, require_dpop);
            set_challenges(response.headers_mut(), &challenges);
        }
    }
    if scheme == Scheme::Dpop && !response.headers().contains_key(DPOP_NONCE) {
        if let Some(nonce) = dpop.current_nonce() {
            if let Ok(value) = HeaderValue::from_str(&nonce) {
                response.headers_mut().insert(DPOP_NONCE, value);
            }
        }
    }
    response
}

/// `GET /api/public`: no token needed.
async fn public() -> Response {
    Json(Greeting {
        message: "Hello from a public endpoint! You don't need to be authenticated to see this.",
        sub: None,
    })
    .into_response()
}

/// `GET /api/private`: any valid access token.
async fn private(claims: Claims) -> Response {
    Json(Greeting {
        message: "Hello from a private endpoint! You need to be authenticated to see this.",
        sub: Some(&claims.sub),
    })
    .into_response()
}

/// The body of the greeting endpoints, serialized straight from borrowed text (no JSON tree
/// of owned strings to build and drop on every request).
#[derive(serde::Serialize)]
struct Greeting<'a> {
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
}

/// `GET /api/private-scoped`: a token with `read:messages`.
async fn private_scoped(_claims: RequireScope<ReadMessages>) -> Json<Value> {
    Json(json!({
        "message": "Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this."
    }))
}

/// `GET /api/messages`: the caller's own messages, oldest first.
async fn list_messages(
    State(state): State<AppState>,
    claims: RequireScope<ReadMessages>,
) -> Result<Json<Value>> {
    let messages = state.messages.list(&claims.sub).await?;
    Ok(Json(json!({ "messages": messages })))
}

/// `axum::Json`, answering its rejections as [`AppError`] JSON.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(AppError))]
struct AppJson<T>(T);

/// `POST /api/messages` with `{"text": "..."}`: stores a message for the caller; 201 once
/// it is durable.
async fn post_message(
    State(state): State<AppState>,
    claims: RequireScope<WriteMessages>,
    AppJson(body): AppJson<Map<String, Value>>,
) -> Result<impl IntoResponse> {
    // Read as a map, not a derived struct: serde would also accept `["text"]` as a struct.
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .ok_or(AppError::InvalidBody)?;
    let text = validate_text(text)?;
    let message: Message = state.messages.add(&claims.sub, &text).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(message),
    ))
}

async fn not_found() -> AppError {
    AppError::NotFound
}
