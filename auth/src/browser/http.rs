//! HTTP: the one `fetch()` of the login (documents, the provider's endpoints, API calls).

use hashgate_protocol::{FromJson, Json};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::AuthError;
use crate::json::parse_value;

/// GETs `url` and parses its JSON body; `what` names the document in error messages. With
/// `revalidate` the browser's HTTP cache must check with the server first (a JWKS refetched
/// for an unknown `kid` must not come back stale from the cache). Not generic: read the
/// result with [`read_document`], so this state machine is compiled once.
pub async fn fetch_document(
    url: &str,
    what: &'static str,
    revalidate: bool,
) -> Result<Json, AuthError> {
    let request = HttpRequest {
        cache: revalidate.then_some(web_sys::RequestCache::NoCache),
        ..HttpRequest::get(url)
    };
    let response = fetch(&request, what).await?;
    if !(200..300).contains(&response.status) {
        return Err(AuthError::BadDocument {
            what,
            reason: format!("the server answered HTTP {}", response.status),
        });
    }
    parse_value(&response.text).map_err(|e| AuthError::BadDocument {
        what,
        reason: e.to_string(),
    })
}

/// Reads a fetched document as `T`; the error names the document and the member at fault.
pub fn read_document<T: FromJson>(document: &Json, what: &'static str) -> Result<T, AuthError> {
    T::from_json(document).map_err(|e| AuthError::BadDocument {
        what,
        reason: e.to_string(),
    })
}

/// POSTs a form (`application/x-www-form-urlencoded`) to `url`, with a DPoP proof when there
/// is one, and returns the answer. For the token and revocation endpoints: no cookies, no HTTP cache, and a
/// redirect is an error (an endpoint that redirects is not answering). An answer that has not
/// come within `timeout_ms` is [`AuthError::Unreachable`], like one that never could.
pub async fn post_form(
    url: &str,
    body: &str,
    dpop: Option<&str>,
    what: &'static str,
    timeout_ms: u32,
) -> Result<HttpResponse, AuthError> {
    use futures::future::{select, Either, FutureExt as _};
    let request = HttpRequest {
        method: "POST",
        body: Some(("application/x-www-form-urlencoded", body)),
        dpop,
        cache: Some(web_sys::RequestCache::NoStore),
        endpoint: true,
        ..HttpRequest::get(url)
    };
    let sent = fetch(&request, what).boxed_local();
    let timer = super::page::sleep_ms(timeout_ms).boxed_local();
    let response = match select(sent, timer).await {
        Either::Left((response, _)) => response?,
        Either::Right(_) => {
            return Err(AuthError::Unreachable {
                what,
                url: url.to_string(),
            })
        }
    };
    Ok(response)
}

/// One HTTP request for [`fetch`]. No `Debug`: it may carry a bearer token.
#[derive(Clone, Copy)]
pub struct HttpRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The absolute URL.
    pub url: &'a str,
    /// The access token and its scheme: `Authorization: Bearer …` (RFC 6750 §2.1), or
    /// `Authorization: DPoP …` with a proof (RFC 9449 §7.1).
    pub access_token: Option<(&'a str, &'a str)>,
    /// A DPoP proof, sent as the `DPoP` header (RFC 9449 §4.1).
    pub dpop: Option<&'a str>,
    /// A body and its `Content-Type`.
    pub body: Option<(&'a str, &'a str)>,
    /// How the browser's HTTP cache may answer (`None`: as it likes).
    pub cache: Option<web_sys::RequestCache>,
    /// An OAuth endpoint of the provider: no cookies, JSON accepted, and a redirect is an
    /// error rather than followed.
    pub endpoint: bool,
}

impl<'a> HttpRequest<'a> {
    /// A plain `GET` of `url`.
    pub fn get(url: &'a str) -> Self {
        HttpRequest {
            method: "GET",
            url,
            access_token: None,
            dpop: None,
            body: None,
            cache: None,
            endpoint: false,
        }
    }
}

/// What [`fetch`] read of an answer. No `Debug`: a token endpoint's answer carries tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `WWW-Authenticate` header, when the server exposes it (RFC 6750 §3).
    pub www_authenticate: Option<String>,
    /// The `DPoP-Nonce` header, when the server sent (and exposed) one (RFC 9449 §8, §9).
    pub dpop_nonce: Option<String>,
    /// The body as text.
    pub text: String,
}

/// The one `fetch()` of the app: every document, endpoint and API call goes through it, so its
/// code is compiled once. A request that could not be sent, or whose answer could not be read,
/// is [`AuthError::Unreachable`] naming `what`.
pub async fn fetch(
    request: &HttpRequest<'_>,
    what: &'static str,
) -> Result<HttpResponse, AuthError> {
    send(request).await.ok_or_else(|| AuthError::Unreachable {
        what,
        url: request.url.to_string(),
    })
}

async fn send(request: &HttpRequest<'_>) -> Option<HttpResponse> {
    let init = web_sys::RequestInit::new();
    init.set_method(request.method);
    if let Some(cache) = request.cache {
        init.set_cache(cache);
    }
    let headers = web_sys::Headers::new().ok()?;
    if let Some((scheme, token)) = request.access_token {
        headers
            .set("Authorization", &format!("{scheme} {token}"))
            .ok()?;
    }
    if let Some(proof) = request.dpop {
        headers.set("DPoP", proof).ok()?;
    }
    if let Some((content_type, body)) = request.body {
        headers.set("Content-Type", content_type).ok()?;
        init.set_body(&JsValue::from_str(body));
    }
    if request.endpoint {
        headers.set("Accept", "application/json").ok()?;
        init.set_credentials(web_sys::RequestCredentials::Omit);
        init.set_redirect(web_sys::RequestRedirect::Error);
    }
    init.set_headers(&headers);
    let promise = web_sys::window()?.fetch_with_str_and_init(request.url, &init);
    let response: web_sys::Response = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let www_authenticate = header("www-authenticate");
    let dpop_nonce = header("dpop-nonce");
    let text = JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()?;
    Some(HttpResponse {
        status: response.status(),
        www_authenticate,
        dpop_nonce,
        text,
    })
}
