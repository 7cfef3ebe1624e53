//! `/userinfo` (OIDC Core 5.3): the user's claims for a bearer access token whose
//! audience includes this endpoint.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::error::Result;
use crate::state::AppState;
use crate::tokens::profile_claims;
use crate::util;

#[derive(Deserialize)]
struct AccessClaims {
    sub: String,
    #[serde(default)]
    scope: String,
}

fn unauthorized(error: Option<&str>) -> Response {
    let challenge = match error {
        Some(e) => format!("Bearer error=\"{e}\""),
        None => "Bearer".to_owned(),
    };
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, challenge)],
    )
        .into_response()
}

/// Verifies one of our access tokens for `/userinfo`: RS256 only, a published
/// `kid`, our issuer, an audience including the userinfo URL, not expired.
/// Blocking: reads the keys from the store.
fn verify(state: &AppState, token: &str) -> Option<AccessClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::RS256 {
        return None;
    }
    let key = state
        .keys
        .find(&state.store, header.kid.as_deref()?, util::now())
        .ok()??;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&state.issuer]);
    v.set_audience(&[state.endpoint("userinfo")]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 0;
    jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &v)
        .ok()
        .map(|d| d.claims)
}

/// `GET` / `POST /userinfo`.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(unauthorized(None));
    };
    let token = match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim().to_owned(),
        _ => return Ok(unauthorized(Some("invalid_request"))),
    };
    let found = state
        .blocking(move |state| {
            let Some(claims) = verify(state, &token) else {
                return Ok(None);
            };
            let user = state.store.user_by_id(&claims.sub)?;
            Ok(user.map(|u| (claims, u)))
        })
        .await?;
    let Some((claims, user)) = found else {
        return Ok(unauthorized(Some("invalid_token")));
    };
    let scopes: Vec<String> = claims.scope.split(' ').map(str::to_owned).collect();
    let mut body = profile_claims(&user, &scopes);
    body.insert("sub".into(), serde_json::Value::String(user.user_id));
    Ok(Json(serde_json::Value::Object(body)).into_response())
}
