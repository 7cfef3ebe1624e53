//! The hostile provider's authorization code flow: `/authorize` with `response_type=code`
//! (PKCE required), the token endpoint (code redemption and refresh-token rotation with reuse
//! detection) and the revocation endpoint. The answers are tampered as the test chose
//! ([`Tamper`] for logins, [`Refresh`] for refreshes); everything else is what a correct
//! provider sends.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::{
    extract::State,
    http::{header, Method, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    Json,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

use super::{
    form_encode, issuer, lock, message, post_page, random_hex, respond_with, Issued, Refresh,
    Shared, Silent, Tamper,
};

/// What an authorization request bound its code to.
#[derive(Clone, Debug)]
pub(super) struct Request {
    /// The exact `redirect_uri` of the request.
    pub redirect_uri: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE challenge (S256).
    pub challenge: String,
    /// The requested scopes.
    pub scope: String,
}

struct Grant {
    request: Request,
    used: bool,
    tamper: Tamper,
    /// An interactive login's code (its tokens are recorded with the login).
    interactive: bool,
}

struct RefreshState {
    family: u64,
    spent: bool,
}

/// Codes, refresh tokens and what the token endpoint was asked.
#[derive(Default)]
pub(super) struct CodeFlow {
    codes: HashMap<String, Grant>,
    refresh_tokens: HashMap<String, RefreshState>,
    revoked_families: HashSet<u64>,
    next_family: u64,
    /// The `grant_type` of every token endpoint request, in order.
    pub grants: Vec<String>,
    /// Every token presented at `/oauth/revoke`, in order.
    pub revoked: Vec<String>,
}

/// Answers a code-flow authorization request: a code (tampered as the test chose) to the
/// redirect URI in the query, or for `prompt=none` by `web_message` or in the fragment.
pub(super) fn authorize(
    shared: &Shared,
    request: Request,
    state: &str,
    silent: bool,
    response_mode: Option<&str>,
) -> Response {
    let redirect_uri = request.redirect_uri.clone();
    let web_message = response_mode == Some("web_message");
    let tamper = if silent {
        match *lock(&shared.silent) {
            Silent::Answer(tamper) => tamper,
            Silent::Never => {
                return Html("<!doctype html><title>thinking</title><p>…</p>").into_response()
            }
            _ => {
                let error = vec![
                    ("error".to_owned(), "login_required".to_owned()),
                    ("state".to_owned(), state.to_owned()),
                    ("iss".to_owned(), issuer(shared)),
                ];
                return deliver(shared, &redirect_uri, &error, web_message, '#', 1);
            }
        }
    } else {
        *lock(&shared.tamper)
    };
    let code = random_hex(16);
    lock(&shared.code_flow).codes.insert(
        code.clone(),
        Grant {
            request,
            used: false,
            tamper,
            interactive: !silent,
        },
    );
    let mut params = vec![
        ("code".to_owned(), code.clone()),
        ("state".to_owned(), state.to_owned()),
        ("iss".to_owned(), issuer(shared)),
    ];
    match tamper {
        Tamper::IssParameterMissing => params.retain(|(name, _)| name != "iss"),
        Tamper::IssParameterWrong => params[2].1 = "http://evil.example/".into(),
        Tamper::StateMismatch => params[1].1 = format!("forged-{}", random_hex(16)),
        Tamper::DuplicateCode => params.push(("code".into(), random_hex(16))),
        _ => {}
    }
    // RFC 6749 §4.1.2: the code goes in the query, unless the request asked otherwise.
    let separator = match (silent, tamper, response_mode) {
        (false, Tamper::CodeInFragment, _) | (_, _, Some("fragment")) => '#',
        _ => '?',
    };
    let copies = if tamper == Tamper::PostedTwice { 2 } else { 1 };
    let response = deliver(
        shared,
        &redirect_uri,
        &params,
        web_message,
        separator,
        copies,
    );
    let callback_url =
        (!web_message).then(|| format!("{redirect_uri}{separator}{}", form_encode(&params)));
    lock(&shared.issued).push(Issued {
        tamper: (!silent).then_some(tamper),
        code: Some(code),
        callback_url,
        ..Issued::default()
    });
    response
}

/// A `web_message` page posting `params` (`copies` times), or a redirect with them after
/// `separator`.
fn deliver(
    shared: &Shared,
    redirect_uri: &str,
    params: &[(String, String)],
    web_message: bool,
    separator: char,
    copies: usize,
) -> Response {
    if web_message {
        return post_page(&shared.spa_origin, &vec![message(params); copies], None);
    }
    Redirect::to(&format!("{redirect_uri}{separator}{}", form_encode(params))).into_response()
}

/// `POST /oauth/token` (form-encoded): redeems a code (checking PKCE and the redirect URI) or
/// a refresh token (rotating it; a spent one ends its family).
pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    method: Method,
    body: String,
) -> Response {
    if method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    if method != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let delay = *lock(&shared.token_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let grant_type = field("grant_type").to_owned();
    lock(&shared.code_flow).grants.push(grant_type.clone());
    match *lock(&shared.tamper) {
        Tamper::TokenEndpointHtml => {
            return Html("<!doctype html><title>Welcome</title><p>Sign in to continue</p>")
                .into_response()
        }
        Tamper::TokenEndpoint500 => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Internal error</h1>"),
            )
                .into_response()
        }
        Tamper::TokenEndpointRedirect => {
            return Redirect::to(&format!("{}/login", shared.origin)).into_response()
        }
        _ => {}
    }
    match grant_type.as_str() {
        "authorization_code" => redeem(
            &shared,
            field("code"),
            field("code_verifier"),
            field("redirect_uri"),
        ),
        "refresh_token" => refresh(&shared, field("refresh_token")),
        _ => error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

fn redeem(shared: &Shared, code: &str, verifier: &str, redirect_uri: &str) -> Response {
    let grant = {
        let mut flow = lock(&shared.code_flow);
        let Some(grant) = flow.codes.get_mut(code) else {
            return error(StatusCode::BAD_REQUEST, "invalid_grant");
        };
        // RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) must equal the challenge.
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if grant.used
            || challenge != grant.request.challenge
            || redirect_uri != grant.request.redirect_uri
        {
            return error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        grant.used = true;
        (grant.request.clone(), grant.tamper, grant.interactive)
    };
    let (request, tamper, interactive) = grant;
    let refresh = request.scope.split(' ').any(|s| s == "offline_access");
    let (body, issued) = answer(shared, tamper, Some(&request.nonce), refresh, None);
    let mut all = lock(&shared.issued);
    // The login's record (made at /authorize) gets its tokens, so a test sees one per login.
    match all
        .iter_mut()
        .find(|i| i.code.as_deref() == Some(code))
        .filter(|_| interactive)
    {
        Some(login) => {
            login.access_token = issued.access_token;
            login.id_token = issued.id_token;
            login.refresh_token = issued.refresh_token;
        }
        None => all.push(issued),
    }
    body
}

fn refresh(shared: &Shared, token: &str) -> Response {
    let mode = *lock(&shared.refresh);
    if mode == Refresh::ServiceUnavailableOnce {
        *lock(&shared.refresh) = Refresh::Rotate;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html("<h1>503 Service Temporarily Unavailable</h1>"),
        )
            .into_response();
    }
    let family = {
        let mut flow = lock(&shared.code_flow);
        let Some((family, spent)) = flow.refresh_tokens.get(token).map(|s| (s.family, s.spent))
        else {
            return error(StatusCode::BAD_REQUEST, "invalid_grant");
        };
        if spent {
            // Reuse detection: a spent token ends its whole family.
            flow.revoked_families.insert(family);
            return error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        if flow.revoked_families.contains(&family) || mode == Refresh::InvalidGrant {
            return error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        if let Some(state) = flow.refresh_tokens.get_mut(token) {
            state.spent = true;
        }
        family
    };
    let tamper = match mode {
        Refresh::OtherUser => Tamper::OtherUser,
        Refresh::NoIdToken => Tamper::MissingIdToken,
        _ => Tamper::Valid,
    };
    let rotate = mode != Refresh::NoNewRefreshToken;
    let (body, issued) = answer(shared, tamper, None, rotate, Some(family));
    lock(&shared.issued).push(issued);
    body
}

/// The token endpoint's JSON for tokens made as `tamper`, with a refresh token (of `family`,
/// or a new family) if `with_refresh`.
fn answer(
    shared: &Shared,
    tamper: Tamper,
    nonce: Option<&str>,
    with_refresh: bool,
    family: Option<u64>,
) -> (Response, Issued) {
    let (params, mut issued) = respond_with(shared, tamper, "", nonce);
    issued.tamper = None;
    let mut body = Map::new();
    for (name, value) in params {
        match name.as_str() {
            "state" => {}
            "expires_in" => {
                body.insert(name, json!(value.parse::<u64>().unwrap_or(3600)));
            }
            _ => {
                body.insert(name, Value::String(value));
            }
        }
    }
    if tamper == Tamper::MissingIdToken {
        body.remove("id_token");
        issued.id_token = None;
    }
    if with_refresh {
        let token = format!("hostile-rt-{}", random_hex(24));
        let mut flow = lock(&shared.code_flow);
        let family = family.unwrap_or_else(|| {
            flow.next_family += 1;
            flow.next_family
        });
        flow.refresh_tokens.insert(
            token.clone(),
            RefreshState {
                family,
                spent: false,
            },
        );
        body.insert("refresh_token".into(), Value::String(token.clone()));
        issued.refresh_token = Some(token);
    }
    let response = (
        [(header::CACHE_CONTROL, "no-store")],
        Json(Value::Object(body)),
    )
        .into_response();
    (response, issued)
}

/// `POST /oauth/revoke` (RFC 7009): records the token and ends its family; 200 either way.
pub(super) async fn revoke(
    State(shared): State<Arc<Shared>>,
    method: Method,
    body: String,
) -> Response {
    if method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let mut flow = lock(&shared.code_flow);
    if let Some(family) = flow.refresh_tokens.get(&token).map(|s| s.family) {
        flow.revoked_families.insert(family);
    }
    flow.revoked.push(token);
    StatusCode::OK.into_response()
}

/// An RFC 6749 §5.2 error.
fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": code, "error_description": format!("hostile provider: {code}") })),
    )
        .into_response()
}
