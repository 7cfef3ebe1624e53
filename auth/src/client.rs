//! Calling an API with the signed-in user's access token: the one place where a token is
//! attached to a request (`Authorization: Bearer`, RFC 6750 §2.1, or `Authorization: DPoP`
//! with its proof, RFC 9449 §7.1). An app's own API client
//! builds on [`AuthContext::call_api`] and reads the answers as it likes.

use crate::browser::{self, HttpRequest, HttpResponse};
use crate::context::AuthContext;
use crate::dpop;

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
    /// The DPoP proof for the request could not be made (the browser's key is unusable), so
    /// the token was not sent.
    #[error("this browser could not sign the request with its DPoP key; please log in again")]
    Dpop,
}

impl AuthContext {
    /// Sends `request`, with the access token when `with_token` says so (renewed first if it is
    /// about to expire). An answer of 401 (RFC 6750 §3.1 `invalid_token`: revoked, or the API's
    /// clock disagrees) gets one renewal and one retry; the second answer is returned as it is.
    ///
    /// With `useDpop` the token goes as `Authorization: DPoP` with a proof bound to it (`ath`,
    /// RFC 9449 §7.1), a new proof for every attempt; a 401 `use_dpop_nonce` with a
    /// `DPoP-Nonce` is retried once with the nonce (§9) before any renewal.
    pub async fn call_api(&self, request: ApiRequest<'_>) -> Result<ApiAnswer, CallError> {
        let dpop = request.with_token && self.config().is_some_and(|c| c.use_dpop);
        let (mut renewed, mut nonce_sent) = (false, false);
        loop {
            let token = match request.with_token {
                true => Some(
                    self.access_token()
                        .await
                        .map_err(|_| CallError::LoginRequired)?,
                ),
                false => None,
            };
            let proof = match (&token, dpop) {
                (Some(token), true) => Some(api_proof(&request, token.secret()).await?),
                _ => None,
            };
            let scheme = if dpop { "DPoP" } else { "Bearer" };
            let http = HttpRequest {
                method: request.method,
                access_token: token.as_ref().map(|t| (scheme, t.secret())),
                dpop: proof.as_deref(),
                body: request.json.map(|body| ("application/json", body)),
                ..HttpRequest::get(request.url)
            };
            let response = browser::fetch(&http, "API")
                .await
                .map_err(|_| CallError::Network)?;
            if let (true, Some(nonce)) = (dpop, &response.dpop_nonce) {
                dpop::remember_nonce(request.url, nonce);
                if response.status == 401 && asks_for_nonce(&response) && !nonce_sent {
                    nonce_sent = true;
                    continue;
                }
            }
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

/// A DPoP proof for `request` carrying `access_token`'s hash. A key or proof that cannot be
/// made means no request: the token is never sent without its proof.
async fn api_proof(request: &ApiRequest<'_>, access_token: &str) -> Result<String, CallError> {
    let key = dpop::key().await.map_err(|_| CallError::Dpop)?;
    dpop::proof(&key, request.method, request.url, Some(access_token))
        .await
        .map_err(|_| CallError::Dpop)
}

/// RFC 9449 §9: `WWW-Authenticate: DPoP error="use_dpop_nonce"`.
fn asks_for_nonce(response: &HttpResponse) -> bool {
    response
        .www_authenticate
        .as_deref()
        .is_some_and(|challenge| challenge.contains("use_dpop_nonce"))
}
