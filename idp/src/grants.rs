//! Authorization codes and refresh-token families: what each is bound to, and how it
//! is kept (by its SHA-256 only, with the binding as JSON, through the store).
//!
//! A code (RFC 6749 §4.1.2) lives [`CODE_LIFETIME_SECS`], is redeemed once, and binds
//! the client, redirect URI, PKCE challenge, nonce, scopes, audience, login session
//! and the claims the rules added at login. A code exchange asking for
//! `offline_access` starts a refresh-token family: every token rotated from it shares
//! the family's grant, its absolute end and its login session.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::ClientConfig;
use crate::error::{IdpError, Result};
use crate::request::AuthRequest;
use crate::rules::CustomClaims;
use crate::state::AppState;
use crate::store::{NewFamily, NewRefreshToken, SessionRecord, UserRecord};
use crate::tokens;
use crate::util;

/// How long an authorization code may be redeemed, in seconds (Auth0's 60 s; RFC 6749
/// §4.1.2 recommends at most 10 minutes).
pub const CODE_LIFETIME_SECS: i64 = 60;

/// What a code is bound to; checked at its exchange (RFC 6749 §4.1.3, RFC 7636 §4.6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client the code was issued to.
    pub client_id: String,
    /// The `redirect_uri` of the authorization request, exactly as sent.
    pub redirect_uri: String,
    /// The S256 PKCE challenge.
    pub code_challenge: String,
    /// The authorization request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// The granted scopes (OpenID Connect, `offline_access`, API permissions held).
    pub scopes: Vec<String>,
    /// The API identifier, if one was requested.
    pub audience: Option<String>,
    /// Whether the exchange returns an ID token (`openid` was requested).
    pub id_token: bool,
    /// Whether the exchange starts a refresh-token family.
    pub offline: bool,
    /// The user.
    pub user_id: String,
    /// The login session.
    pub sid: String,
    /// When the user logged in, unix seconds.
    pub auth_time: i64,
    /// Custom ID token claims the rules set at login.
    pub id_token_claims: Map<String, Value>,
    /// Custom access token claims the rules set at login.
    pub access_token_claims: Map<String, Value>,
    /// The `dpop_jkt` of the authorization request: the code is redeemed only with a
    /// DPoP proof by that key (RFC 9449 §10).
    #[serde(default)]
    pub dpop_jkt: Option<String>,
}

impl CodeGrant {
    /// The rules' claims, with protocol claims dropped again.
    pub fn custom_claims(&self) -> CustomClaims {
        CustomClaims::restore(&self.id_token_claims, &self.access_token_claims)
    }
}

/// What a refresh-token family grants: the ceiling of every refresh (RFC 6749 §6: a
/// refresh may ask for less, never more).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FamilyGrant {
    /// The scopes granted at the code exchange.
    pub scopes: Vec<String>,
    /// The API identifier, if one was requested.
    pub audience: Option<String>,
    /// When the user logged in, unix seconds (`auth_time` of refreshed ID tokens, OIDC
    /// Core §12.2).
    pub auth_time: i64,
    /// The DPoP key the family is bound to (RFC 9449 §5: refresh tokens of public
    /// clients): every refresh needs a proof by it.
    #[serde(default)]
    pub jkt: Option<String>,
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| IdpError::Corrupt(e.to_string()))
}

/// Reads back JSON this module stored.
pub fn from_json<T: for<'de> Deserialize<'de>>(data: &str) -> Result<T> {
    serde_json::from_str(data).map_err(|e| IdpError::Corrupt(e.to_string()))
}

/// Stores a new code for a successful code request and returns it. Blocking-safe:
/// the storage call runs on a blocking thread.
pub async fn issue_code(
    state: &AppState,
    req: &AuthRequest,
    user: &UserRecord,
    session: &SessionRecord,
    custom: &CustomClaims,
) -> Result<String> {
    let grant = CodeGrant {
        client_id: req.client_id.clone(),
        redirect_uri: req.reply.redirect_uri.clone(),
        code_challenge: req.code_challenge.clone().unwrap_or_default(),
        nonce: req.nonce.clone(),
        scopes: tokens::granted_scopes(req, user),
        audience: req.audience.clone(),
        id_token: req.id_token,
        offline: req.offline,
        user_id: user.user_id.clone(),
        sid: session.sid.clone(),
        auth_time: session.auth_time,
        id_token_claims: custom.id_token().clone(),
        access_token_claims: custom.access_token().clone(),
        dpop_jkt: req.dpop_jkt.clone(),
    };
    if grant.code_challenge.is_empty() {
        // request::parse refuses a code request without one; never store a code
        // that PKCE would not protect.
        return Err(IdpError::Corrupt("code request without a challenge".into()));
    }
    let data = to_json(&grant)?;
    let code = util::random_token();
    let code_hash = util::sha256_b64(&code);
    let sid = grant.sid;
    state
        .blocking(move |state| {
            let now = state.now();
            Ok(state.store.insert_code(
                &code_hash,
                &sid,
                &data,
                now,
                now.saturating_add(CODE_LIFETIME_SECS),
            )?)
        })
        .await?;
    Ok(code)
}

/// A new refresh token of `client`: its value (handed out once) and its row.
pub fn new_refresh_token(
    client: &ClientConfig,
    now: i64,
    family_expires_at: i64,
) -> (String, NewRefreshToken) {
    let value = util::random_token();
    let idle = secs(client.refresh_token_idle_lifetime_secs);
    let row = NewRefreshToken {
        token_hash: util::sha256_b64(&value),
        issued_at: now,
        expires_at: now.saturating_add(idle).min(family_expires_at),
    };
    (value, row)
}

/// A new family for the exchange of `code`, with its first token's value.
/// A new refresh-token family for a code exchange, bound to `jkt` when the exchange
/// came with a DPoP proof (every client here is public, RFC 9449 §5).
pub fn new_family(
    client: &ClientConfig,
    code: &CodeGrant,
    jkt: Option<&str>,
    now: i64,
) -> Result<(String, NewFamily)> {
    let expires_at = now.saturating_add(secs(client.refresh_token_lifetime_secs));
    let (value, first) = new_refresh_token(client, now, expires_at);
    let grant = FamilyGrant {
        scopes: code.scopes.clone(),
        audience: code.audience.clone(),
        auth_time: code.auth_time,
        jkt: jkt.map(str::to_owned),
    };
    let family = NewFamily {
        family: util::random_token(),
        client_id: client.client_id.clone(),
        user_id: code.user_id.clone(),
        sid: code.sid.clone(),
        data: to_json(&grant)?,
        created_at: now,
        expires_at,
        first,
    };
    Ok((value, family))
}

/// Revokes the refresh-token families and unredeemed codes of login session `sid`
/// (logout). Failures are logged: the browser is logged out either way.
pub async fn revoke_session(state: &AppState, sid: &str) {
    let sid = sid.to_owned();
    match state
        .blocking(move |state| Ok(state.store.revoke_session_grants(&sid)?))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(families = n, "refresh tokens of the session revoked"),
        Err(e) => tracing::error!(error = %e, "revoking the session's refresh tokens failed"),
    }
}

fn secs(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
