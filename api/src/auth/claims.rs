//! The validated claims of an access token, and the scope types of the extractors that hand
//! them to handlers (the extraction itself is in `extract`, above the verifier).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::AppError;

/// The claims of a validated access token. Cheap to clone: the scope set and the payload
/// are shared.
///
/// As an extractor it answers 401/400 (RFC 6750) unless the request carries a valid token.
/// The state must provide a [`super::TokenVerifier`] (`FromRef`), as [`crate::AppState`] does.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Claims {
    /// Who the token is about (`sub`), never empty.
    pub sub: String,
    /// Granted scopes: the union of the space-separated `scope` claim and the
    /// `permissions` array (Auth0 RBAC).
    pub scopes: Arc<BTreeSet<String>>,
    /// The client the token was issued to (`azp`, else `client_id`), if stated.
    pub client_id: Option<String>,
    /// Expiry (`exp`), seconds since the Unix epoch.
    pub expires_at: u64,
    /// The thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449 §6.1), if it is
    /// DPoP-bound: then it was presented with a proof signed by that key.
    pub jkt: Option<String>,
    /// Every claim of the payload, for anything the fields above do not cover.
    pub all: Arc<Map<String, Value>>,
}

impl Claims {
    /// Builds the claims from a payload whose signature and registered claims were checked.
    pub(crate) fn from_payload(all: Map<String, Value>, issuer: &str) -> Result<Self, AppError> {
        // jsonwebtoken also accepts an array `iss`; RFC 7519 says one string, so be exact.
        if all.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(AppError::invalid_token(
                "the token was issued by another issuer",
            ));
        }
        let sub = match all.get("sub").and_then(Value::as_str) {
            Some(sub) if !sub.is_empty() => sub.to_owned(),
            _ => return Err(AppError::invalid_token("the token has no sub claim")),
        };
        let expires_at = all
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or_else(|| AppError::invalid_token("a token claim has the wrong type"))?;
        let mut scopes: BTreeSet<String> = all
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| s.split_ascii_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        // Auth0 RBAC puts granted scopes in `permissions`; Okta puts them in `scp`, as an array.
        for name in ["permissions", "scp"] {
            if let Some(list) = all.get(name).and_then(Value::as_array) {
                scopes.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
        // RFC 7800 §3.1: `cnf` is an object. A token bound in a way this API cannot check
        // (mTLS `x5t#S256`, RFC 8705) is refused rather than accepted as a plain bearer token.
        let jkt = match all.get("cnf") {
            None => None,
            Some(cnf) => match cnf.get("jkt").and_then(Value::as_str) {
                Some(jkt) if !jkt.is_empty() => Some(jkt.to_owned()),
                _ => {
                    return Err(AppError::invalid_token(
                        "the token is bound to a key in a way this api cannot check (cnf)",
                    ))
                }
            },
        };
        let client_id = ["azp", "client_id"]
            .iter()
            .find_map(|name| all.get(*name).and_then(Value::as_str))
            .map(str::to_owned);
        Ok(Self {
            sub,
            scopes: Arc::new(scopes),
            client_id,
            expires_at,
            jkt,
            all: Arc::new(all),
        })
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// `Ok` if the token grants `scope`, else the 403 `insufficient_scope` answer naming it.
    ///
    /// ```
    /// # use hashgate_api::{AppError, Claims};
    /// async fn delete_everything(claims: Claims) -> Result<&'static str, AppError> {
    ///     claims.require("delete:everything")?;
    ///     Ok("done")
    /// }
    /// ```
    pub fn require(&self, scope: impl Into<Cow<'static, str>>) -> Result<(), AppError> {
        let scope = scope.into();
        if self.has_scope(&scope) {
            Ok(())
        } else {
            Err(AppError::InsufficientScope(scope))
        }
    }
}

/// A scope name known at compile time, for [`RequireScope`]. Declare one with [`crate::scope!`].
pub trait Scope: Send + Sync + 'static {
    /// The scope string, e.g. `read:messages`.
    const NAME: &'static str;
}

/// Declares a [`Scope`] type: `hashgate_api::scope!(pub ReadReports = "read:reports");`.
#[macro_export]
macro_rules! scope {
    ($(#[$meta:meta])* $vis:vis $name:ident = $value:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;
        impl $crate::auth::Scope for $name {
            const NAME: &'static str = $value;
        }
    };
}

/// Extractor: the [`Claims`] of a valid token that grants scope `S`; otherwise the
/// 401/400 of [`Claims`], or 403 `insufficient_scope` naming `S::NAME`.
/// Derefs to [`Claims`].
pub struct RequireScope<S: Scope> {
    claims: Claims,
    scope: PhantomData<S>,
}

impl<S: Scope> RequireScope<S> {
    /// `claims`, if they grant `S`; otherwise the 403 naming it.
    pub(crate) fn new(claims: Claims) -> Result<Self, AppError> {
        claims.require(S::NAME)?;
        Ok(Self {
            claims,
            scope: PhantomData,
        })
    }

    /// The claims, by value.
    pub fn into_claims(self) -> Claims {
        self.claims
    }
}

impl<S: Scope> std::ops::Deref for RequireScope<S> {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.claims
    }
}

impl<S: Scope> std::fmt::Debug for RequireScope<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireScope")
            .field("scope", &S::NAME)
            .field("claims", &self.claims)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(payload: Value) -> Result<Claims, AppError> {
        let Value::Object(map) = payload else {
            panic!("payload must be an object")
        };
        Claims::from_payload(map, "https://issuer.example/")
    }

    #[test]
    fn scopes_are_the_union_of_scope_and_permissions() {
        // RFC 8693 §4.2 `scope` plus Auth0 RBAC `permissions`.
        let c = claims(json!({
            "iss": "https://issuer.example/", "sub": "u1", "exp": 1,
            "scope": "openid  read:messages\twrite:x",
            "permissions": ["write:messages", "read:messages", 7],
        }))
        .unwrap();
        let scopes: Vec<_> = c.scopes.iter().map(String::as_str).collect();
        assert_eq!(
            scopes,
            ["openid", "read:messages", "write:messages", "write:x"]
        );
        assert!(c.require("write:messages").is_ok());
        assert!(matches!(c.require("admin"), Err(AppError::InsufficientScope(s)) if s == "admin"));
    }

    #[test]
    fn okta_scp_array_counts_as_granted_scopes() {
        // Okta access tokens list scopes in `scp` (an array), not `scope`.
        let c = claims(json!({
            "iss": "https://issuer.example/", "sub": "u1", "exp": 1,
            "scp": ["read:messages", "openid"]
        }))
        .unwrap();
        assert!(c.scopes.contains("read:messages"));
        assert!(!c.scopes.contains("write:messages"));
    }

    #[test]
    fn iss_must_be_exactly_the_issuer_string() {
        // RFC 7519 §4.1.1 and OIDC: iss is one string compared exactly.
        for iss in [
            json!(["https://issuer.example/"]),
            json!("https://issuer.example"),
        ] {
            let result = claims(json!({ "iss": iss, "sub": "u1", "exp": 1 }));
            assert!(matches!(result, Err(AppError::InvalidToken(_))), "{iss}");
        }
    }

    #[test]
    fn an_empty_or_non_string_sub_is_refused() {
        // RFC 7519 §4.1.2: sub is a non-empty string.
        for sub in [json!(""), json!(42), Value::Null] {
            let result = claims(json!({ "iss": "https://issuer.example/", "sub": sub, "exp": 1 }));
            assert!(matches!(result, Err(AppError::InvalidToken(_))), "{sub}");
        }
    }

    #[test]
    fn a_token_bound_in_a_way_this_api_cannot_check_is_refused() {
        // RFC 7800 §3.1 / RFC 9449 §6.1: cnf.jkt binds to a DPoP key; any other binding (or a
        // malformed one) cannot be honoured, so the token is not taken as a bearer token.
        let bound = claims(json!({
            "iss": "https://issuer.example/", "sub": "u", "exp": 1, "cnf": { "jkt": "abc" }
        }))
        .unwrap();
        assert_eq!(bound.jkt.as_deref(), Some("abc"));
        for cnf in [
            json!({ "x5t#S256": "abc" }),
            json!({ "jkt": 7 }),
            json!({ "jkt": "" }),
            json!("abc"),
            Value::Null,
        ] {
            let result = claims(
                json!({ "iss": "https://issuer.example/", "sub": "u", "exp": 1, "cnf": cnf }),
            );
            assert!(matches!(result, Err(AppError::InvalidToken(_))), "{cnf}");
        }
    }

    #[test]
    fn the_client_is_azp_or_client_id() {
        // OIDC Core §2 `azp`, RFC 9068 §2.2 `client_id`.
        let c = claims(
            json!({ "iss": "https://issuer.example/", "sub": "u", "exp": 1, "client_id": "spa" }),
        )
        .unwrap();
        assert_eq!(c.client_id.as_deref(), Some("spa"));
    }
}
