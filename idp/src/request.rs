//! Parsing and validating `/authorize` requests: the implicit grant (RFC 6749 §4.2.1,
//! OIDC Core 3.2.2.1) and the authorization code grant with PKCE (RFC 6749 §4.1.1,
//! RFC 7636 §4.3, OIDC Core 3.1.2.1).
//!
//! Order matters: until `client_id` and `redirect_uri` are known good, every problem
//! is an error *page* (never a redirect, or the provider would be an open
//! redirector). After that, errors go back to the app as RFC 6749 §4.2.2.1 (implicit)
//! or §4.1.2.1 (code) errors with `state` and `iss` (RFC 9207).

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{ClientConfig, Config, OFFLINE_ACCESS, OIDC_SCOPES};

/// Longest accepted query string.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Longest accepted parameter name or value.
pub const MAX_PARAM_BYTES: usize = 2 * 1024;

/// How the response reaches the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    /// In the redirect URI's fragment (the implicit grant's default).
    Fragment,
    /// Posted to the parent or opener window from an HTML page (Auth0).
    WebMessage,
    /// In the redirect URI's query (the code grant's default; never for tokens,
    /// OAuth 2.0 Multiple Response Type Encoding Practices §2.1).
    Query,
}

/// Where answers to a request go; known valid once built.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    /// The registered redirect URI, exactly as sent.
    pub redirect_uri: String,
    /// Fragment or web_message.
    pub mode: ResponseMode,
    /// For web_message: the exact registered web origin to post to.
    pub web_origin: Option<String>,
    /// The app's `state`, echoed in every answer.
    pub state: Option<String>,
}

/// A validated authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client.
    pub client_id: String,
    /// Where the answer goes.
    pub reply: Reply,
    /// An ID token was requested.
    pub id_token: bool,
    /// An access token was requested.
    pub token: bool,
    /// Requested scopes, in order, without duplicates.
    pub scopes: Vec<String>,
    /// Requested API identifier.
    pub audience: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// `prompt=none`.
    pub prompt_none: bool,
    /// `prompt=login`.
    pub prompt_login: bool,
    /// `prompt=consent`.
    pub prompt_consent: bool,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// Username to prefill.
    pub login_hint: Option<String>,
    /// The raw parameters (for rules' `context.request.query`).
    pub query: Vec<(String, String)>,
    /// `response_type=code`: the answer is an authorization code, redeemed at the
    /// token endpoint for the tokens `token` and `id_token` say.
    #[serde(default)]
    pub code: bool,
    /// The PKCE `code_challenge` (S256) of a code request.
    #[serde(default)]
    pub code_challenge: Option<String>,
    /// A code request that asked for `offline_access` from a client that gets
    /// refresh tokens: its code exchange issues one.
    #[serde(default)]
    pub offline: bool,
    /// `dpop_jkt` of a code request: the code may be redeemed only with a DPoP proof
    /// by the key of this thumbprint (RFC 9449 §10).
    #[serde(default)]
    pub dpop_jkt: Option<String>,
}

/// Why a request was refused.
#[derive(Debug)]
pub enum Rejection {
    /// Shown to the user as an error page; the app is not told.
    Page {
        /// HTTP status.
        status: StatusCode,
        /// Page heading.
        heading: &'static str,
        /// Explanation (escaped when rendered).
        message: String,
    },
    /// Sent back to the app (fragment or web_message).
    Reply {
        /// Where to.
        reply: Reply,
        /// RFC 6749 error code.
        error: &'static str,
        /// Human description.
        description: String,
    },
}

fn page(status: StatusCode, heading: &'static str, message: impl Into<String>) -> Rejection {
    Rejection::Page {
        status,
        heading,
        message: message.into(),
    }
}

/// Whether `raw` is exactly the registered URL (a bare origin may omit its `/`).
pub fn url_matches(registered: &Url, raw: &str) -> bool {
    let exact = registered.as_str();
    raw == exact
        || (registered.path() == "/"
            && registered.query().is_none()
            && raw == exact.trim_end_matches('/'))
}

struct Params(Vec<(String, String)>);

impl Params {
    /// The single value of `name`; `Err` when it appears more than once.
    fn one(&self, name: &str) -> Result<Option<&str>, ()> {
        let mut it = self.0.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(());
        }
        Ok(first.filter(|v| !v.is_empty()))
    }
}

/// Validates a raw `/authorize` query string.
pub fn parse(config: &Config, raw: Option<&str>) -> Result<AuthRequest, Rejection> {
    let raw = raw.unwrap_or("");
    if raw.len() > MAX_QUERY_BYTES {
        return Err(page(
            StatusCode::URI_TOO_LONG,
            "Request too large",
            "The authorization request is too long.",
        ));
    }
    let params = Params(
        url::form_urlencoded::parse(raw.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    );
    if params
        .0
        .iter()
        .any(|(k, v)| k.len() > MAX_PARAM_BYTES || v.len() > MAX_PARAM_BYTES)
    {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "Request too large",
            "A parameter of the authorization request is too long.",
        ));
    }

    let client_id = params
        .one("client_id")
        .map_err(|()| {
            page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "The client_id parameter appears more than once.",
            )
        })?
        .ok_or_else(|| {
            page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "The request has no client_id.",
            )
        })?;
    let client = config.client(client_id).ok_or_else(|| {
        page(
            StatusCode::BAD_REQUEST,
            "Unknown application",
            format!("No application with client_id \u{201c}{client_id}\u{201d} is registered with this provider."),
        )
    })?;
    let redirect_raw = params
        .one("redirect_uri")
        .map_err(|()| {
            page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "The redirect_uri parameter appears more than once.",
            )
        })?
        .ok_or_else(|| {
            page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "The request has no redirect_uri.",
            )
        })?;
    let registered = client
        .callbacks
        .iter()
        .find(|u| url_matches(u, redirect_raw))
        .ok_or_else(|| {
            page(
                StatusCode::BAD_REQUEST,
                "Callback URL mismatch",
                format!(
                    "The redirect_uri \u{201c}{redirect_raw}\u{201d} is not in the list of allowed callback URLs of {}.",
                    client.name
                ),
            )
        })?;

    // response_mode decides how even errors are delivered, so it is read first; an
    // unusable value is reported through the default mode, which depends on the
    // response type (RFC 6749 §4.1.2: query for a code; §4.2.2: fragment for tokens).
    let code = params.one("response_type") == Ok(Some("code"));
    let default_mode = if code {
        ResponseMode::Query
    } else {
        ResponseMode::Fragment
    };
    let (mode, mode_error) = match params.one("response_mode") {
        Ok(None) => (default_mode, None),
        Ok(Some("fragment")) => (ResponseMode::Fragment, None),
        Ok(Some("web_message")) => (ResponseMode::WebMessage, None),
        Ok(Some("query")) if code => (ResponseMode::Query, None),
        Ok(Some(_)) => (default_mode, Some("unsupported response_mode")),
        Err(()) => (default_mode, Some("response_mode appears more than once")),
    };
    let web_origin = match mode {
        ResponseMode::Fragment | ResponseMode::Query => None,
        ResponseMode::WebMessage => Some(web_origin_for(client, registered).ok_or_else(|| {
            page(
                StatusCode::BAD_REQUEST,
                "Web origin not allowed",
                format!(
                    "response_mode=web_message needs the origin of the redirect_uri to be an allowed web origin of {}.",
                    client.name
                ),
            )
        })?),
    };
    let (state_value, state_error) = match params.one("state") {
        Ok(s) => (s.map(str::to_owned), None),
        Err(()) => (None, Some("state appears more than once")),
    };
    let reply = Reply {
        redirect_uri: redirect_raw.to_owned(),
        mode,
        web_origin,
        state: state_value,
    };
    let fail = |error: &'static str, description: String| Rejection::Reply {
        reply: reply.clone(),
        error,
        description,
    };

    if let Some(e) = mode_error.or(state_error) {
        return Err(fail("invalid_request", e.to_owned()));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((k, _)) = params.0.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(fail(
            "invalid_request",
            format!("parameter {k} appears more than once"),
        ));
    }
    if code && !client.allows("authorization_code") {
        return Err(fail(
            "unauthorized_client",
            "the authorization code grant is not enabled for this client".into(),
        ));
    }
    if !code && !client.allows("implicit") {
        return Err(fail(
            "unauthorized_client",
            "the implicit grant is not enabled for this client".into(),
        ));
    }
    if params.one("request").ok().flatten().is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported".into(),
        ));
    }
    if params.one("request_uri").ok().flatten().is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported".into(),
        ));
    }

    let response_type = params
        .one("response_type")
        .ok()
        .flatten()
        .ok_or_else(|| fail("invalid_request", "response_type is required".into()))?;
    let mut types: Vec<&str> = response_type.split(' ').filter(|s| !s.is_empty()).collect();
    types.sort_unstable();
    types.dedup();
    let (id_token, token) = match types.as_slice() {
        ["token"] => (false, true),
        ["id_token"] => (true, false),
        ["id_token", "token"] => (true, true),
        // The code's tokens: an access token always, an ID token with `openid` (below).
        ["code"] if code => (false, true),
        _ => {
            return Err(fail(
                "unsupported_response_type",
                "supported response types are code, token, id_token and id_token token".into(),
            ))
        }
    };

    let mut scopes: Vec<String> = Vec::new();
    for s in params.one("scope").ok().flatten().unwrap_or("").split(' ') {
        if !s.is_empty() && !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    let audience = params.one("audience").ok().flatten();
    let api = match audience {
        Some(a) => Some(
            config
                .api(a)
                .ok_or_else(|| fail("invalid_request", "unknown audience".into()))?,
        ),
        None => None,
    };
    for s in &scopes {
        let known = OIDC_SCOPES.contains(&s.as_str())
            || (code && s == OFFLINE_ACCESS)
            || api.is_some_and(|a| a.scopes.iter().any(|d| &d.value == s));
        if !known {
            return Err(fail("invalid_scope", format!("unknown scope {s}")));
        }
    }
    let openid = scopes.iter().any(|s| s == "openid");
    // OIDC Core 3.1.2.1: a code request with `openid` is an authentication request,
    // and its exchange returns an ID token.
    let id_token = id_token || (code && openid);
    if id_token && !openid {
        return Err(fail(
            "invalid_scope",
            "an id_token needs the openid scope".into(),
        ));
    }
    if token && api.is_none() && !openid {
        return Err(fail(
            "invalid_request",
            "an access token needs an audience or the openid scope".into(),
        ));
    }
    let nonce = params.one("nonce").ok().flatten().map(str::to_owned);
    // OIDC Core 3.1.2.1: nonce is optional in the code flow (PKCE binds the code).
    if id_token && !code && nonce.is_none() {
        return Err(fail(
            "invalid_request",
            "nonce is required when an id_token is requested".into(),
        ));
    }

    let mut prompt = (false, false, false);
    for p in params
        .one("prompt")
        .ok()
        .flatten()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        match p {
            "none" => prompt.0 = true,
            "login" => prompt.1 = true,
            "consent" => prompt.2 = true,
            _ => return Err(fail("invalid_request", "unsupported prompt value".into())),
        }
    }
    if prompt.0 && (prompt.1 || prompt.2) {
        return Err(fail(
            "invalid_request",
            "prompt=none cannot be combined with other values".into(),
        ));
    }
    let max_age = match params.one("max_age").ok().flatten() {
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            fail(
                "invalid_request",
                "max_age must be a number of seconds".into(),
            )
        })?),
        None => None,
    };
    let login_hint = params.one("login_hint").ok().flatten().map(str::to_owned);
    let code_challenge = if code {
        Some(pkce_challenge(&params).map_err(|e| fail("invalid_request", e.into()))?)
    } else {
        None
    };
    let offline =
        code && client.issues_refresh_tokens() && scopes.iter().any(|s| s == OFFLINE_ACCESS);
    let dpop_jkt = params.one("dpop_jkt").ok().flatten().map(str::to_owned);
    if let Some(jkt) = dpop_jkt.as_deref() {
        if !code {
            return Err(fail(
                "invalid_request",
                "dpop_jkt needs response_type=code".into(),
            ));
        }
        if !crate::dpop::is_thumbprint_shaped(jkt) {
            return Err(fail(
                "invalid_dpop_proof",
                "dpop_jkt is not a base64url SHA-256 JWK thumbprint".into(),
            ));
        }
    }

    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        reply,
        id_token,
        token,
        scopes,
        audience: api.map(|a| a.identifier.clone()),
        nonce,
        prompt_none: prompt.0,
        prompt_login: prompt.1,
        prompt_consent: prompt.2,
        max_age,
        login_hint,
        query: params.0,
        code,
        code_challenge,
        offline,
        dpop_jkt,
    })
}

/// The S256 `code_challenge` of a code request (RFC 7636 §4.3). This provider
/// requires PKCE for every code, and only S256: `plain` would hand the verifier to
/// whoever sees the authorization request (RFC 9700 §2.1.1).
fn pkce_challenge(params: &Params) -> Result<String, &'static str> {
    let challenge = params
        .one("code_challenge")
        .ok()
        .flatten()
        .ok_or("code_challenge is required (PKCE, S256)")?;
    match params.one("code_challenge_method").ok().flatten() {
        Some("S256") => {}
        Some(_) => return Err("code_challenge_method must be S256"),
        // RFC 7636 §4.3: a missing method means plain, which is refused.
        None => return Err("code_challenge_method=S256 is required"),
    }
    // RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters.
    let shaped = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !shaped {
        return Err("code_challenge is not a base64url SHA-256 value");
    }
    Ok(challenge.to_owned())
}

/// The registered web origin equal to the origin of `redirect_uri`, serialised
/// without a trailing `/` (the form `postMessage` and browsers use).
fn web_origin_for(client: &ClientConfig, redirect_uri: &Url) -> Option<String> {
    let origin = redirect_uri.origin();
    if !origin.is_tuple() {
        return None;
    }
    client
        .web_origins
        .iter()
        .find(|w| w.origin() == origin)
        .map(|w| w.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_registered_url_matches() {
        let cb = Url::parse("http://localhost:8080/callback").unwrap();
        assert!(url_matches(&cb, "http://localhost:8080/callback"));
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "http://localhost:8080.evil.example/callback",
            "http://user@localhost:8080/callback",
            "http://localhost:8080/callback/extra",
            "http://localhost:8080/callback?x=1",
            "http://localhost:8080/callback#x",
            "HTTP://localhost:8080/callback",
            "http://localhost:8080/callback/../callback",
        ] {
            assert!(!url_matches(&cb, hostile), "{hostile}");
        }
        let root = Url::parse("http://localhost:8080").unwrap();
        assert!(url_matches(&root, "http://localhost:8080"));
        assert!(url_matches(&root, "http://localhost:8080/"));
    }
}
