//! Minting the access token and ID token (RS256 JWTs with `kid`), for the implicit
//! grant at `/authorize` and for the token endpoint alike.
//!
//! Claims are built as JSON maps: custom claims from rules go in first, protocol
//! claims are written last, so nothing a rule sets can overwrite them (the rules
//! module also drops them, with a warning).

use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Map, Value};

use crate::config::{OFFLINE_ACCESS, OIDC_SCOPES};
use crate::error::Result;
use crate::request::AuthRequest;
use crate::rules::CustomClaims;
use crate::state::AppState;
use crate::store::{SessionRecord, UserRecord};
use crate::util;

/// Access token lifetime when no API is requested (a token for `/userinfo` only).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: u64 = 7200;

/// What a grant hands back.
pub struct Issued {
    /// The access token, if requested.
    pub access_token: Option<String>,
    /// The ID token, if requested.
    pub id_token: Option<String>,
    /// Seconds until the access token (or, alone, the ID token) expires.
    pub expires_in: u64,
    /// Granted scopes, space separated.
    pub scope: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |t: &Option<String>| t.as_ref().map(|_| util::REDACTED);
        f.debug_struct("Issued")
            .field("access_token", &redact(&self.access_token))
            .field("id_token", &redact(&self.id_token))
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Scopes granted for this request: the OpenID Connect scopes asked for, plus the
/// API scopes asked for that the user holds (RBAC), plus `offline_access` when the
/// request gets a refresh token. API scopes only matter when an access token is issued.
pub fn granted_scopes(req: &AuthRequest, user: &UserRecord) -> Vec<String> {
    grant_scopes(
        &req.scopes,
        req.audience.as_deref(),
        user,
        req.token,
        req.offline,
    )
}

/// The scopes of `asked` that are granted: OpenID Connect scopes, `offline_access` if
/// `offline`, and (with an access token) the API scopes the user holds now.
pub fn grant_scopes(
    asked: &[String],
    audience: Option<&str>,
    user: &UserRecord,
    access_token: bool,
    offline: bool,
) -> Vec<String> {
    let held = audience.and_then(|a| user.profile.permissions.get(a));
    asked
        .iter()
        .filter(|s| {
            OIDC_SCOPES.contains(&s.as_str())
                || (offline && s.as_str() == OFFLINE_ACCESS)
                || (access_token && held.is_some_and(|h| h.contains(s)))
        })
        .cloned()
        .collect()
}

/// Whether `scope` is an API permission (not an OpenID Connect scope nor
/// `offline_access`).
fn is_api_scope(scope: &str) -> bool {
    !OIDC_SCOPES.contains(&scope) && scope != OFFLINE_ACCESS
}

/// What to sign: a grant, independent of how it was requested.
pub struct Grant<'a> {
    /// The client (the ID token's `aud`, the access token's `azp`).
    pub client_id: &'a str,
    /// The API identifier, if one was requested.
    pub audience: Option<&'a str>,
    /// The granted scopes (see [`grant_scopes`]).
    pub scopes: &'a [String],
    /// Issue an access token.
    pub access_token: bool,
    /// Issue an ID token.
    pub id_token: bool,
    /// The ID token's `nonce`, if any.
    pub nonce: Option<&'a str>,
    /// The login session (`sid`).
    pub sid: &'a str,
    /// When the user logged in (`auth_time`), unix seconds.
    pub auth_time: i64,
    /// The DPoP key the access token is bound to (`cnf.jkt`, RFC 9449 §6.1).
    pub jkt: Option<&'a str>,
}

/// Profile and email claims of `user` for the scopes in `scopes`.
pub fn profile_claims(user: &UserRecord, scopes: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    let p = &user.profile;
    if scopes.iter().any(|s| s == "profile") {
        claims.insert("name".into(), json!(p.name));
        claims.insert("nickname".into(), json!(p.nickname));
        claims.insert("preferred_username".into(), json!(user.username));
        if let Some(pic) = &p.picture {
            claims.insert("picture".into(), json!(pic));
        }
        claims.insert("updated_at".into(), json!(user.updated_at));
    }
    if scopes.iter().any(|s| s == "email") {
        claims.insert("email".into(), json!(p.email));
        claims.insert("email_verified".into(), json!(p.email_verified));
    }
    claims
}

/// Signs the tokens an implicit request `req` asks for, with the rules' custom claims.
pub fn mint(
    state: &AppState,
    req: &AuthRequest,
    user: &UserRecord,
    session: &SessionRecord,
    custom: &CustomClaims,
    now: i64,
) -> Result<Issued> {
    let scopes = granted_scopes(req, user);
    let grant = Grant {
        client_id: &req.client_id,
        audience: req.audience.as_deref(),
        scopes: &scopes,
        access_token: req.token,
        id_token: req.id_token,
        nonce: req.nonce.as_deref(),
        sid: &session.sid,
        auth_time: session.auth_time,
        jkt: None,
    };
    mint_grant(state, &grant, user, custom, now)
}

/// Signs the tokens of `grant`, with the rules' custom claims. The ID token carries
/// `at_hash` whenever an access token comes with it (OIDC Core §3.1.3.6 and §3.2.2.10).
pub fn mint_grant(
    state: &AppState,
    grant: &Grant<'_>,
    user: &UserRecord,
    custom: &CustomClaims,
    now: i64,
) -> Result<Issued> {
    let key = state.keys.active(&state.store)?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    header.typ = Some("JWT".into());
    let scopes = grant.scopes;
    let openid = scopes.iter().any(|s| s == "openid");
    let client = state.config.client(grant.client_id);
    let id_lifetime = client.map_or(36000, |c| c.id_token_lifetime_secs);
    let api = grant.audience.and_then(|a| state.config.api(a));
    let at_lifetime = api.map_or(DEFAULT_ACCESS_TOKEN_LIFETIME, |a| a.token_lifetime_secs);
    let secs = |n: u64| now.saturating_add(i64::try_from(n).unwrap_or(i64::MAX));

    let access_token = if grant.access_token {
        let mut aud: Vec<String> = api.map(|a| a.identifier.clone()).into_iter().collect();
        if openid {
            aud.push(state.endpoint("userinfo"));
        }
        let permissions: Vec<&String> = scopes.iter().filter(|s| is_api_scope(s)).collect();
        let mut c = custom.access_token().clone();
        c.insert("iss".into(), json!(state.issuer));
        c.insert("sub".into(), json!(user.user_id));
        c.insert(
            "aud".into(),
            if aud.len() == 1 {
                json!(aud[0])
            } else {
                json!(aud)
            },
        );
        c.insert("iat".into(), json!(now));
        c.insert("exp".into(), json!(secs(at_lifetime)));
        c.insert("azp".into(), json!(grant.client_id));
        c.insert("scope".into(), json!(scopes.join(" ")));
        if api.is_some() {
            c.insert("permissions".into(), json!(permissions));
        }
        c.insert("jti".into(), json!(util::random_token()));
        // Set after the rules' claims, and `cnf` is protected from them anyway: only
        // the proof decides the binding.
        if let Some(jkt) = grant.jkt {
            c.insert("cnf".into(), json!({ "jkt": jkt }));
        }
        Some(jsonwebtoken::encode(
            &header,
            &Value::Object(c),
            &key.encoding,
        )?)
    } else {
        None
    };

    let id_token = if grant.id_token {
        let mut c = profile_claims(user, scopes);
        c.extend(custom.id_token().clone());
        c.insert("iss".into(), json!(state.issuer));
        c.insert("sub".into(), json!(user.user_id));
        c.insert("aud".into(), json!(grant.client_id));
        c.insert("iat".into(), json!(now));
        c.insert("exp".into(), json!(secs(id_lifetime)));
        c.insert("auth_time".into(), json!(grant.auth_time));
        c.insert("sid".into(), json!(grant.sid));
        if let Some(n) = grant.nonce {
            c.insert("nonce".into(), json!(n));
        }
        if let Some(at) = &access_token {
            c.insert("at_hash".into(), json!(util::at_hash(at)));
        }
        Some(jsonwebtoken::encode(
            &header,
            &Value::Object(c),
            &key.encoding,
        )?)
    } else {
        None
    };

    Ok(Issued {
        expires_in: if access_token.is_some() {
            at_lifetime
        } else {
            id_lifetime
        },
        access_token,
        id_token,
        scope: scopes.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_print_redacted() {
        // Tokens are never logged (idp/README.md): Debug redacts them.
        let issued = Issued {
            access_token: Some("access-secret-value".into()),
            id_token: Some("id-secret-value".into()),
            expires_in: 60,
            scope: "openid".into(),
        };
        let printed = format!("{issued:?}");
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }
}
