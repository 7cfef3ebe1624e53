//! Logout: Auth0's `/v2/logout?client_id=&returnTo=` and OIDC RP-initiated logout
//! (`/oidc/logout`, the discovery document's `end_session_endpoint`). Both end the
//! session, revoke the refresh tokens and unredeemed codes issued in it, and redirect
//! only to an exactly registered logout URL; otherwise they show a "logged out" page.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use jsonwebtoken::{Algorithm, Validation};
use url::Url;

use crate::grants;
use crate::pages::{self, Page};
use crate::request::url_matches;
use crate::state::AppState;
use crate::util;
use crate::web;

fn params(raw: Option<&str>) -> Vec<(String, String)> {
    let raw = raw.unwrap_or("");
    if raw.len() > crate::request::MAX_QUERY_BYTES {
        return Vec::new();
    }
    url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Ends the browser's session and revokes what was issued in it; returns the jar that
/// clears its cookie. A storage failure is logged: the browser is logged out either way.
async fn end_session(state: &AppState, jar: CookieJar) -> CookieJar {
    match web::current_session(state, &jar).await {
        Ok(Some(c)) => {
            let token_hash = c.token_hash;
            let deleted = state
                .blocking(move |state| Ok(state.store.delete_session(&token_hash)?))
                .await;
            if let Err(e) = deleted {
                tracing::error!(error = %e, "session delete failed");
            }
            grants::revoke_session(state, &c.session.sid).await;
            tracing::info!(sub = %c.user.user_id, "user logged out");
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "session lookup failed"),
    }
    jar.add(web::cookie(
        state,
        &state.session_cookie,
        String::new(),
        Some(0),
    ))
}

/// The registered logout URL equal to `raw`: the client's list, or every
/// client's when no client is named.
fn allowed_logout_url(state: &AppState, client_id: Option<&str>, raw: &str) -> Option<Url> {
    let clients: Vec<_> = match client_id {
        Some(id) => state.config.client(id).into_iter().collect(),
        None => state.config.clients.iter().collect(),
    };
    clients
        .iter()
        .flat_map(|c| c.allowed_logout_urls.iter())
        .find(|u| url_matches(u, raw))
        .cloned()
}

fn logged_out(state: &AppState, jar: CookieJar, unregistered: bool) -> Response {
    let text = if unregistered {
        "You are logged out. The return address is not registered for this application, so you were not sent back."
    } else {
        "You are logged out of the identity provider. You can close this window."
    };
    let page = Page::new(
        StatusCode::OK,
        pages::message(
            &state.path("assets/idp.css"),
            "You are logged out",
            text,
            false,
        ),
        &[],
    );
    (jar, page).into_response()
}

/// `GET /v2/logout`.
pub async fn v2_logout(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    jar: CookieJar,
) -> Response {
    let p = params(q.as_deref());
    let jar = end_session(&state, jar).await;
    match get(&p, "returnTo") {
        Some(to) => match allowed_logout_url(&state, get(&p, "client_id"), to) {
            Some(_) => (jar, web::redirect(to, false)).into_response(),
            None => logged_out(&state, jar, true),
        },
        None => logged_out(&state, jar, false),
    }
}

/// The `aud` of a signature-valid ID token of ours (expiry is not checked: a hint
/// may be old). Blocking: reads the keys from the store.
fn hint_client(state: &AppState, token: &str) -> Option<String> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let key = state
        .keys
        .find(&state.store, header.kid.as_deref()?, util::now())
        .ok()??;
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_issuer(&[&state.issuer]);
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &v).ok()?;
    match &data.claims["aud"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) if a.len() == 1 => a[0].as_str().map(str::to_owned),
        _ => None,
    }
}

/// `GET /oidc/logout`.
pub async fn oidc_logout(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    jar: CookieJar,
) -> Response {
    let p = params(q.as_deref());
    let jar = end_session(&state, jar).await;
    let Some(to) = get(&p, "post_logout_redirect_uri") else {
        return logged_out(&state, jar, false);
    };
    let from_param = get(&p, "client_id").map(str::to_owned);
    let hint = get(&p, "id_token_hint").map(str::to_owned);
    let from_hint = match hint.clone() {
        Some(token) => state
            .blocking(move |state| Ok(hint_client(state, &token)))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    if hint.is_some() && from_hint.is_none() {
        return logged_out(&state, jar, true);
    }
    let client_id = match (from_param, from_hint) {
        (Some(a), Some(b)) if a != b => return logged_out(&state, jar, true),
        (a, b) => a.or(b),
    };
    match allowed_logout_url(&state, client_id.as_deref(), to) {
        Some(mut url) => {
            if let Some(s) = get(&p, "state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            (jar, web::redirect(url.as_str(), false)).into_response()
        }
        None => logged_out(&state, jar, true),
    }
}
