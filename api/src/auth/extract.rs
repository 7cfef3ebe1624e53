//! The extractors: how [`Claims`] and [`RequireScope`] get from a request to a handler.
//!
//! Above both the claims and the verifier, so neither has to know the other's caller.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use super::claims::{Claims, RequireScope, Scope};
use super::verify::TokenVerifier;
use crate::error::AppError;

/// The claims of the request's token once authenticated, shared with the validated-token
/// memory rather than copied.
#[derive(Clone)]
struct Authenticated(Arc<Claims>);

impl<S> FromRequestParts<S> for Claims
where
    TokenVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Several extractors in one handler validate the token (and use its DPoP proof) once.
        if let Some(Authenticated(claims)) = parts.extensions.get::<Authenticated>() {
            return Ok(Claims::clone(claims));
        }
        let claims = TokenVerifier::from_ref(state)
            .authenticate_shared(parts)
            .await?;
        let owned = Claims::clone(&claims);
        parts.extensions.insert(Authenticated(claims));
        Ok(owned)
    }
}

impl<St, S> FromRequestParts<St> for RequireScope<S>
where
    TokenVerifier: FromRef<St>,
    St: Send + Sync,
    S: Scope,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        RequireScope::new(Claims::from_request_parts(parts, state).await?)
    }
}
