//! HTTP plumbing shared by the handlers: cookies, the current session, the client
//! IP, cross-site checks, error pages and delivering authorization responses.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::pages::{self, Page};
use crate::request::{Rejection, Reply, ResponseMode};
use crate::state::AppState;
use crate::store::{SessionRecord, UserRecord};
use crate::util;

/// The client's IP address, or `unknown` when the server was not started with
/// connection info (e.g. in `oneshot` tests).
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}

/// The value of cookie `name`, if the browser sent it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure on https.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.secure_cookies {
        c.push_str("; Secure");
    }
    c
}

/// Appends a `Set-Cookie` header to a response.
pub fn add_cookie(res: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The logged-in session: the cookie hash, the session and its user.
pub struct Current {
    /// SHA-256 of the cookie value (the database key).
    pub token_hash: String,
    /// The session.
    pub session: SessionRecord,
    /// Its user.
    pub user: UserRecord,
}

/// The live session the browser's cookie points at, if any.
pub fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Current>, crate::IdpError> {
    let Some(value) = cookie(headers, &state.session_cookie).filter(|v| util::is_token_shaped(v))
    else {
        return Ok(None);
    };
    let token_hash = util::sha256_b64(&value);
    let Some(session) = state.store.session(&token_hash, util::now())? else {
        return Ok(None);
    };
    let Some(user) = state.store.user_by_id(&session.user_id)? else {
        return Ok(None);
    };
    Ok(Some(Current {
        token_hash,
        session,
        user,
    }))
}

/// Whether a form POST came from one of our own pages: browsers send
/// `Sec-Fetch-Site` and `Origin` on POSTs, and a cross-site form carries the
/// attacker's. The CSRF token is checked separately.
pub fn same_origin_post(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        if origin.as_bytes() != state.issuer_origin.as_bytes() {
            return false;
        }
    }
    true
}

/// An error page.
pub fn error_page(state: &AppState, status: StatusCode, heading: &str, message: &str) -> Response {
    Page::new(
        status,
        pages::message(&state.path("assets/idp.css"), heading, message, true),
        &[],
    )
    .into_response()
}

/// A 500 page; the cause is logged, never shown.
pub fn internal_error(state: &AppState, err: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %err, "internal error");
    error_page(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The identity provider hit an internal error. Try again in a moment.",
    )
}

/// Turns a [`Rejection`] into a response.
pub fn reject(state: &AppState, rejection: Rejection, post: bool) -> Response {
    match rejection {
        Rejection::Page {
            status,
            heading,
            message,
        } => error_page(
            state,
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            heading,
            &message,
        ),
        Rejection::Reply {
            reply,
            error,
            description,
        } => deliver_error(state, &reply, error, &description, post),
    }
}

/// Sends an RFC 6749 §4.2.2.1 error to the app.
pub fn deliver_error(
    state: &AppState,
    reply: &Reply,
    error: &str,
    description: &str,
    post: bool,
) -> Response {
    tracing::info!(error, "authorization error returned to client");
    let mut m = Map::new();
    m.insert("error".into(), json!(error));
    m.insert("error_description".into(), json!(description));
    deliver(state, reply, m, post)
}

/// Sends response parameters to the app: a redirect with them in the fragment, or
/// the web_message page. `state` is added here, so no answer can forget it.
pub fn deliver(
    state: &AppState,
    reply: &Reply,
    mut params: Map<String, Value>,
    post: bool,
) -> Response {
    if let Some(s) = &reply.state {
        params.insert("state".into(), json!(s));
    }
    match (reply.mode, &reply.web_origin) {
        (ResponseMode::WebMessage, Some(origin)) => {
            let body = json!({
                "targetOrigin": origin,
                "message": { "type": "authorization_response", "response": params },
            });
            let html = pages::web_message(
                &state.path("assets/idp.css"),
                &state.path("assets/web_message.js"),
                &body.to_string(),
            );
            Page::web_message(html, origin).into_response()
        }
        _ => {
            let pairs: Vec<(String, String)> = params
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect();
            let fragment = util::encode_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let location = format!("{}#{fragment}", reply.redirect_uri);
            redirect(&location, post)
        }
    }
}

/// A redirect: 303 after a POST so the browser switches to GET, 302 otherwise.
pub fn redirect(location: &str, post: bool) -> Response {
    let status = if post {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    match HeaderValue::from_str(location) {
        Ok(v) => (status, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}
