//! Access-token authentication for axum: keep this module whole when you fork.
//!
//! What it guarantees: a handler that takes [`Claims`] (or [`RequireScope`]) runs only for a
//! request whose `Authorization: Bearer` (or `DPoP`, with its proof) token is an RS256 JWT signed by a key from the
//! configured issuer's JWKS, with `iss` equal to the issuer, `aud` containing the API
//! identifier, and `exp`/`nbf` within 60 s of leeway. That JWKS is at most its max age old
//! ([`JwksPolicy`]; twice that while the provider cannot be reached), so a key the issuer
//! removes stops validating within the max age, with every token it signed. A token bound to a
//! key (`cnf.jkt`) passes only as `Authorization: DPoP` with a proof signed by that key
//! (RFC 9449; see [`DpopPolicy`] for nonces, proxies and refusing plain bearer tokens). Every refusal
//! is an RFC 6750 answer (see [`crate::AppError`]); the token is never echoed or logged.
//!
//! # Protecting your own route in one line
//!
//! Add an extractor to the handler's arguments. Any valid token:
//!
//! ```
//! use hashgate_api::Claims;
//!
//! async fn whoami(claims: Claims) -> String {
//!     format!("you are {}", claims.sub)
//! }
//! ```
//!
//! A valid token that grants a scope (otherwise 403 `insufficient_scope`, naming it):
//!
//! ```
//! use axum::{routing::get, Router};
//! use hashgate_api::{scope, RequireScope};
//!
//! scope!(pub ReadReports = "read:reports");
//!
//! async fn reports(claims: RequireScope<ReadReports>) -> String {
//!     format!("reports of {}", claims.sub)
//! }
//!
//! // Routes given to `app_with` get the same state, CORS, limits and tracing as the demo routes.
//! # fn build(state: hashgate_api::AppState) -> Router {
//! hashgate_api::app_with(state, Router::new().route("/api/reports", get(reports)))
//! # }
//! ```
//!
//! Or check inside the handler, when the scope depends on the request:
//! `claims.require("write:reports")?;` (see [`Claims::require`]).

// Imports run one way: `bearer`, `claims`, `dpop` and `keys` need only `crate::error`;
// `verify` uses those four; `extract` (the axum extractors) uses `verify`; this module only re-exports
// and adds the form-body middleware.
mod bearer;
// `macro_use`: the `scopes` below name `scope!` directly, not through the crate root.
#[macro_use]
mod claims;
mod dpop;
mod extract;
mod keys;
mod verify;

pub use bearer::{access_token, bearer_token, scheme_of, BearerToken, DPOP, MAX_AUTHORIZATION_LEN};
pub use claims::{Claims, RequireScope, Scope};
pub use dpop::{
    normalized_htu, request_htu, DpopChecker, DpopPolicy, DEFAULT_PROOF_WINDOW, MAX_PROOF_LEN,
};
pub use keys::JwksPolicy;
pub use verify::TokenVerifier;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// The scopes of the demo endpoints.
pub mod scopes {
    scope!(
        /// `read:messages`: `GET /api/private-scoped` and `GET /api/messages`.
        pub ReadMessages = "read:messages"
    );
    scope!(
        /// `write:messages`: `POST /api/messages`.
        pub WriteMessages = "write:messages"
    );
}

/// Largest form body the middleware reads while looking for a token in it.
const MAX_FORM_BODY: usize = 4 * 1024;

/// Middleware: refuses a form-encoded body carrying `access_token` (RFC 6750 §2.2) with
/// 400 `invalid_request`; this API accepts the token only in the header.
pub async fn refuse_token_in_form_body(request: Request, next: Next) -> Response {
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BODY).await else {
        return AppError::PayloadTooLarge.into_response();
    };
    if bearer::names_access_token(&bytes) {
        return AppError::invalid_request(
            "access tokens are accepted only in the authorization header, not in the body",
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
