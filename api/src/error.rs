//! Errors of the API and how each one answers over HTTP.
//!
//! [`AppError`] is the one error every handler and extractor returns. Its [`IntoResponse`]
//! follows RFC 6750 §3 for everything about the bearer token:
//!
//! | case | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no token (or another scheme, §3.1) | 401 | `Bearer realm="hashgate-api"` |
//! | malformed request (§3.1 `invalid_request`) | 400 | `Bearer realm="hashgate-api", error="invalid_request", error_description="…"` |
//! | bad, expired, foreign token | 401 | `Bearer realm="hashgate-api", error="invalid_token", error_description="…"` |
//! | missing scope | 403 | `Bearer realm="hashgate-api", error="insufficient_scope", scope="…"` |
//!
//! DPoP (RFC 9449 §7.1) adds a `DPoP realm="hashgate-api", algs="ES256"` challenge beside the
//! `Bearer` one, and two errors of its own: `invalid_dpop_proof` (401) and `use_dpop_nonce`
//! (401 with a `DPoP-Nonce` header, §9). The error parameters go on the challenge of the
//! scheme the request used ([`Challenge::render`]).
//!
//! Every answer has a JSON body `{ "error": …, "error_description": … }`. Descriptions are
//! fixed sentences written here: a token, or anything read from one, never appears in them
//! and is never logged.

use std::borrow::Cow;

use axum::extract::rejection::JsonRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::messages::{InvalidMessage, StoreError};

/// The realm named in every `WWW-Authenticate` challenge.
pub const REALM: &str = "hashgate-api";

/// Seconds a client is told to wait (`Retry-After`) while the issuer's keys are unavailable.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Shorthand for results whose error is an [`AppError`].
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Everything a request can fail with; each variant knows its HTTP answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// No bearer credentials at all, or credentials of another scheme: 401 with a bare
    /// challenge and no error code (RFC 6750 §3.1).
    #[error("no access token")]
    MissingToken,
    /// The request carries the token in a way we refuse (malformed header, empty token,
    /// token in the query or form body, token twice): 400 `invalid_request`.
    #[error("invalid request: {0}")]
    InvalidRequest(Cow<'static, str>),
    /// The token is not acceptable (bad signature, wrong algorithm, expired, wrong
    /// issuer or audience, unknown key): 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(Cow<'static, str>),
    /// The token is valid but lacks the named scope: 403 `insufficient_scope`.
    #[error("insufficient scope: {0} is needed")]
    InsufficientScope(Cow<'static, str>),
    /// The DPoP proof is missing, malformed, replayed, for another request or token, or
    /// badly signed: 401 `invalid_dpop_proof` (RFC 9449 §7.1).
    #[error("invalid dpop proof: {0}")]
    InvalidDpopProof(Cow<'static, str>),
    /// The DPoP proof lacks the server nonce (or has an old one): 401 `use_dpop_nonce` with
    /// this nonce in `DPoP-Nonce` (RFC 9449 §9).
    #[error("the dpop proof needs the server nonce")]
    UseDpopNonce(String),
    /// The API remembers as many recent DPoP proofs as it can and cannot accept another
    /// without forgetting one that could then be replayed: 503 with `Retry-After`.
    #[error("too many recent dpop proofs")]
    ProofsUnavailable,
    /// The issuer's signing keys are not available: never obtained, or expired while the
    /// provider could not be reached (provider down or misconfigured): 503 with
    /// `Retry-After`, because renewing the token would not help.
    #[error("the issuer's signing keys are not available")]
    KeysUnavailable,
    /// The body is not declared as JSON: 415.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body is not valid JSON: 400.
    #[error("invalid json")]
    InvalidJson,
    /// The body is JSON of the wrong shape: 422.
    #[error("invalid body")]
    InvalidBody,
    /// The body is larger than the limit: 413.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body could not be read for another reason: 400.
    #[error("unreadable body")]
    UnreadableBody,
    /// The message text breaks a content rule: 422.
    #[error("invalid message: {0}")]
    InvalidMessage(#[from] InvalidMessage),
    /// No such route: 404.
    #[error("not found")]
    NotFound,
    /// The message store failed: 500, logged, never shown.
    #[error("storage failed")]
    Storage(#[from] StoreError),
}

impl AppError {
    /// A 400 `invalid_request` with a fixed description.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidRequest(description.into())
    }

    /// A 401 `invalid_token` with a fixed description.
    pub fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidToken(description.into())
    }

    /// A 401 `invalid_dpop_proof` with a fixed description.
    pub fn invalid_dpop_proof(description: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidDpopProof(description.into())
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::InvalidToken(_)
            | Self::InvalidDpopProof(_)
            | Self::UseDpopNonce(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) | Self::InvalidJson | Self::UnreadableBody => {
                StatusCode::BAD_REQUEST
            }
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::KeysUnavailable | Self::ProofsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidBody | Self::InvalidMessage(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error` code of the JSON body (and of the challenge, for token errors).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "unauthorized",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::UseDpopNonce(_) => "use_dpop_nonce",
            Self::KeysUnavailable | Self::ProofsUnavailable => "temporarily_unavailable",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidJson => "invalid_json",
            Self::InvalidBody => "invalid_body",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnreadableBody => "unreadable_body",
            Self::InvalidMessage(_) => "invalid_message",
            Self::NotFound => "not_found",
            Self::Storage(_) => "server_error",
        }
    }

    /// The human sentence of the JSON body.
    pub fn description(&self) -> Cow<'static, str> {
        match self {
            Self::MissingToken => {
                "this endpoint needs an access token in the authorization header (Bearer)".into()
            }
            Self::InvalidRequest(d) | Self::InvalidToken(d) | Self::InvalidDpopProof(d) => {
                d.clone()
            }
            Self::UseDpopNonce(_) => {
                "the dpop proof must carry the nonce of the dpop-nonce header".into()
            }
            Self::ProofsUnavailable => {
                "the api cannot check more dpop proofs right now; try again shortly".into()
            }
            Self::InsufficientScope(scope) => {
                format!("the access token lacks the scope {scope}").into()
            }
            Self::KeysUnavailable => {
                "the api cannot get the token issuer's signing keys yet; try again shortly".into()
            }
            Self::UnsupportedMediaType => {
                "send the body as json with content-type: application/json".into()
            }
            Self::InvalidJson => "the request body is not valid json".into(),
            Self::InvalidBody => {
                "the body must be a json object with a string field named text".into()
            }
            Self::PayloadTooLarge => "the request body is too large".into(),
            Self::UnreadableBody => "the request body could not be read".into(),
            Self::InvalidMessage(e) => e.to_string().into(),
            Self::NotFound => "no such endpoint".into(),
            Self::Storage(_) => "internal error".into(),
        }
    }

    /// The first `WWW-Authenticate` value for this error, if it is about the access token or
    /// its proof: the challenge that carries the error, as [`AppError::into_response`] sends it
    /// (for a request that used the `Bearer` scheme, or none).
    pub fn challenge(&self) -> Option<String> {
        let challenge = self.challenge_params()?;
        challenge.render(Scheme::Bearer, false).into_iter().next()
    }

    /// What the `WWW-Authenticate` challenges of this error say, if it is about the access
    /// token or its proof.
    pub fn challenge_params(&self) -> Option<Challenge> {
        let error = |description: &str| {
            format!(
                "error=\"{}\", error_description=\"{}\"",
                self.code(),
                quoted_safe(description)
            )
        };
        let (params, dpop_only) = match self {
            Self::MissingToken => (None, false),
            Self::InvalidRequest(d) | Self::InvalidToken(d) => (Some(error(d)), false),
            Self::InsufficientScope(scope) => (
                Some(format!(
                    "error=\"insufficient_scope\", scope=\"{}\"",
                    quoted_safe(scope)
                )),
                false,
            ),
            Self::InvalidDpopProof(d) => (Some(error(d)), true),
            Self::UseDpopNonce(_) => (Some(error(&self.description())), true),
            _ => return None,
        };
        Some(Challenge { params, dpop_only })
    }
}

/// The authentication scheme of a request's `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750), or no credentials at all.
    Bearer,
    /// `DPoP` (RFC 9449 §7.1).
    Dpop,
}

/// The parameters of an error's `WWW-Authenticate` challenges, kept on its response so the
/// router can address them to the scheme the request used ([`Challenge::render`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `error="…", error_description="…"` (or `scope="…"`), already safe to quote; `None` for
    /// a request without credentials (RFC 6750 §3.1).
    params: Option<String>,
    /// The error is about the DPoP proof, so it belongs on the `DPoP` challenge whatever the
    /// scheme.
    dpop_only: bool,
}

impl Challenge {
    /// The `WWW-Authenticate` values, the one carrying the error first: the error goes on the
    /// challenge of the scheme the request used (`used`); the other scheme is offered bare
    /// (RFC 9449 §7.1, §7.2), except `Bearer` when bearer tokens are refused (`require_dpop`):
    /// then it appears only to carry the error of a request that used it.
    pub fn render(&self, used: Scheme, require_dpop: bool) -> Vec<String> {
        let on = if self.dpop_only { Scheme::Dpop } else { used };
        let algs = hashgate_protocol::dpop::PROOF_ALGS.join(" ");
        let dpop = format!("DPoP realm=\"{REALM}\", algs=\"{algs}\"");
        let bearer = format!("Bearer realm=\"{REALM}\"");
        let with = |challenge: String| match &self.params {
            Some(params) => format!("{challenge}, {params}"),
            None => challenge,
        };
        match on {
            // Nothing to tell a bearer client but that bearer tokens are not accepted.
            Scheme::Bearer if require_dpop && self.params.is_none() => vec![dpop],
            Scheme::Bearer => vec![with(bearer), dpop],
            Scheme::Dpop if require_dpop => vec![with(dpop)],
            Scheme::Dpop => vec![with(dpop), bearer],
        }
    }
}

/// The `DPoP-Nonce` response header (RFC 9449 §8.1, §9).
pub const DPOP_NONCE: header::HeaderName = header::HeaderName::from_static("dpop-nonce");

/// Replaces the `WWW-Authenticate` values of `headers` with `challenges`.
pub fn set_challenges(headers: &mut axum::http::HeaderMap, challenges: &[String]) {
    headers.remove(header::WWW_AUTHENTICATE);
    for challenge in challenges {
        if let Ok(value) = HeaderValue::from_str(challenge) {
            headers.append(header::WWW_AUTHENTICATE, value);
        }
    }
}

/// Keeps only the characters RFC 6750 §3 allows inside `error_description` and `scope`
/// (printable ASCII except `"` and `\`), so a header can never be broken or smuggled.
fn quoted_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            Self::Storage(error) => tracing::error!(%error, "message store failed"),
            // The key store logs the cause once per outage; this is one request of many.
            Self::KeysUnavailable => tracing::debug!("refused a request: signing keys unavailable"),
            // Descriptions are fixed sentences (never token contents), so they are safe to log.
            other => {
                tracing::debug!(error = other.code(), description = %other.description(), "refused a request")
            }
        }
        let body = serde_json::json!({
            "error": self.code(),
            "error_description": self.description(),
        });
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(challenge) = self.challenge_params() {
            let used = if challenge.dpop_only {
                Scheme::Dpop
            } else {
                Scheme::Bearer
            };
            set_challenges(response.headers_mut(), &challenge.render(used, false));
            response.extensions_mut().insert(challenge);
        }
        let headers = response.headers_mut();
        if let Self::UseDpopNonce(nonce) = &self {
            if let Ok(value) = HeaderValue::from_str(nonce) {
                headers.insert(DPOP_NONCE, value);
            }
        }
        if matches!(self, Self::KeysUnavailable | Self::ProofsUnavailable) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            JsonRejection::JsonSyntaxError(_) => Self::InvalidJson,
            JsonRejection::JsonDataError(_) => Self::InvalidBody,
            JsonRejection::BytesRejection(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge
            }
            _ => Self::UnreadableBody,
        }
    }
}

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The issuer is not an absolute http(s) URL without query or fragment.
    #[error("invalid issuer url {0:?}: it must be an absolute http or https url")]
    Issuer(String),
    /// The audience is empty.
    #[error("the audience must not be empty")]
    Audience,
    /// The public URL is not an absolute http(s) URL without query or fragment.
    #[error("invalid public url {0:?}: use scheme://host[:port][/path]")]
    PublicUrl(String),
    /// An allowed origin is not of the form `scheme://host[:port]`.
    #[error("invalid allowed origin {0:?}: use scheme://host[:port]")]
    Origin(String),
    /// The message store could not be opened.
    #[error("cannot open the message store: {0}")]
    Store(#[from] StoreError),
    /// The HTTP client for discovery could not be built.
    #[error("cannot build the http client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// Listening or serving failed.
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}
