//! Calling an API with the signed-in user's access token: the one place where a token is
//! attached to a request (`Authorization: Bearer`, RFC 6750 §2.1). An app's own API client
//! builds on [`AuthContext::call_api`] and reads the answers as it likes.

use crate::browser::{self, HttpRequest};
use crate::context::AuthContext;

/// One API request. No `Debug` needed: it holds no token (the token is added when it is sent).
#[derive(Clone, Copy)]
pub struct ApiRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The absolute URL.
    pub url: &'a str,
    /// A JSON body, sent as `application/json`.
    pub json: Option<&'a str>,
    /// Whether to send the access token (`false` for public endpoints).
    pub with_token: bool,
}

impl<'a> ApiRequest<'a> {
    /// `GET url` with the access token.
    pub fn get(url: &'a str) -> Self {
        ApiRequest {
            method: "GET",
            url,
            json: None,
            with_token: true,
        }
    }
}

/// An API's answer. No `Debug`: an API may echo what it was sent.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiAnswer {
    /// The HTTP status code.
    pub status: u16,
    /// The `WWW-Authenticate` header, when the server exposes it to CORS (RFC 6750 §3).
    pub www_authenticate: Option<String>,
    /// The body as text.
    pub text: String,
}

/// Why an API request could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// Nobody is signed in, or the session could not be renewed: the user must log in.
    #[error("your session has expired or you are not signed in; please log in again")]
    LoginRequired,
    /// The request could not be sent, or its answer could not be read.
    #[error("the API could not be reached")]
    Network,
}

impl AuthContext {
    /// Sends `request`, with the access token when `with_token` says so (renewed first if it is
    /// about to expire). An answer of 401 (RFC 6750 §3.1 `invalid_token`: revoked, or the API's
    /// clock disagrees) gets one renewal and one retry; the second answer is returned as it is.
    pub async fn call_api(&self, request: ApiRequest<'_>) -> Result<ApiAnswer, CallError> {
        let mut renewed = false;
        loop {
            let token = match request.with_token {
                true => Some(
                    self.access_token()
                        .await
                        .map_err(|_| CallError::LoginRequired)?,
                ),
                false => None,
            };
            let http = HttpRequest {
                method: request.method,
                bearer: token.as_ref().map(|t| t.secret()),
                body: request.json.map(|body| ("application/json", body)),
                ..HttpRequest::get(request.url)
            };
            let response = browser::fetch(&http, "API")
                .await
                .map_err(|_| CallError::Network)?;
            if response.status == 401 && request.with_token && !renewed {
                renewed = true;
                if self.renew().await.is_ok() {
                    continue;
                }
            }
            return Ok(ApiAnswer {
                status: response.status,
                www_authenticate: response.www_authenticate,
                text: response.text,
            });
        }
    }
}
