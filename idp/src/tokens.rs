//! Minting the access token and ID token (RS256 JWTs with `kid`).
//!
//! Claims are built as JSON maps: custom claims from rules go in first, protocol
//! claims are written last, so nothing a rule sets can overwrite them (the rules
//! module also drops them, with a warning).

use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Map, Value};

use crate::error::Result;
use crate::request::AuthRequest;
use crate::rules::CustomClaims;
use crate::state::AppState;
use crate::store::{SessionRecord, UserRecord};
use crate::util;

/// Access token lifetime when no API is requested (a token for `/userinfo` only).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: u64 = 7200;

/// What `/authorize` hands back.
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

/// Scopes granted for this request: the OpenID Connect scopes asked for, plus the
/// API scopes asked for that the user holds (RBAC). API scopes only matter when
/// an access token is issued.
pub fn granted_scopes(req: &AuthRequest, user: &UserRecord) -> Vec<String> {
    let held = req
        .audience
        .as_ref()
        .and_then(|a| user.profile.permissions.get(a));
    req.scopes
        .iter()
        .filter(|s| {
            crate::config::OIDC_SCOPES.contains(&s.as_str())
                || (req.token && held.is_some_and(|h| h.contains(s)))
        })
        .cloned()
        .collect()
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

/// Signs the tokens `req` asks for, with the rules' custom claims.
pub fn mint(
    state: &AppState,
    req: &AuthRequest,
    user: &UserRecord,
    session: &SessionRecord,
    custom: &CustomClaims,
    now: i64,
) -> Result<Issued> {
    let key = state.keys.active(&state.store)?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    header.typ = Some("JWT".into());
    let scopes = granted_scopes(req, user);
    let openid = scopes.iter().any(|s| s == "openid");
    let client = state.config.client(&req.client_id);
    let id_lifetime = client.map_or(36000, |c| c.id_token_lifetime_secs);
    let api = req.audience.as_deref().and_then(|a| state.config.api(a));
    let at_lifetime = api.map_or(DEFAULT_ACCESS_TOKEN_LIFETIME, |a| a.token_lifetime_secs);
    let secs = |n: u64| now.saturating_add(i64::try_from(n).unwrap_or(i64::MAX));

    let access_token = if req.token {
        let mut aud: Vec<String> = api.map(|a| a.identifier.clone()).into_iter().collect();
        if openid {
            aud.push(state.endpoint("userinfo"));
        }
        let permissions: Vec<&String> = scopes
            .iter()
            .filter(|s| !crate::config::OIDC_SCOPES.contains(&s.as_str()))
            .collect();
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
        c.insert("azp".into(), json!(req.client_id));
        c.insert("scope".into(), json!(scopes.join(" ")));
        if api.is_some() {
            c.insert("permissions".into(), json!(permissions));
        }
        c.insert("jti".into(), json!(util::random_token()));
        Some(jsonwebtoken::encode(
            &header,
            &Value::Object(c),
            &key.encoding,
        )?)
    } else {
        None
    };

    let id_token = if req.id_token {
        let mut c = profile_claims(user, &scopes);
        c.extend(custom.id_token().clone());
        c.insert("iss".into(), json!(state.issuer));
        c.insert("sub".into(), json!(user.user_id));
        c.insert("aud".into(), json!(req.client_id));
        c.insert("iat".into(), json!(now));
        c.insert("exp".into(), json!(secs(id_lifetime)));
        c.insert("auth_time".into(), json!(session.auth_time));
        c.insert("sid".into(), json!(session.sid));
        if let Some(n) = &req.nonce {
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
