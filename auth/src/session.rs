//! A validated session: the tokens and what the app may show about them.

use hashgate_protocol::json::{self, Fields};
use hashgate_protocol::{
    AccessToken, FromJson, IdToken, IdTokenClaims, Json, JsonError, Nonce, RefreshToken,
    ResponseType, ToJson,
};

/// Tokens that passed every check, with what the UI needs. Its `Debug` never shows a token.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The access token for the API (absent with `responseType: "id_token"`).
    pub access_token: Option<AccessToken>,
    /// The ID token, kept for `id_token_hint` at logout and for the inspector.
    pub id_token: IdToken,
    /// The nonce the ID token was issued for (lets a stored session be re-validated on load).
    pub nonce: Nonce,
    /// The ID token's verified claims.
    pub claims: IdTokenClaims,
    /// The ID token's verified payload as JSON text (for custom claims and the inspector).
    pub id_token_payload: String,
    /// When the access token expires (Unix seconds), from `expires_in`.
    pub expires_at: Option<i64>,
    /// The scopes granted, from the response's `scope` (or the requested ones).
    pub scope: String,
    /// When the app accepted these tokens (Unix seconds).
    pub received_at: i64,
    /// The refresh token, with `useRefreshTokens` and a provider that issued one. Never shown.
    pub refresh_token: Option<RefreshToken>,
    /// The flow that signed the user in (`id_token token`, `id_token` or `code`).
    pub flow: ResponseType,
    /// How many times the refresh token has been rotated since the login.
    pub rotations: u32,
    /// The RFC 7638 thumbprint of the browser's DPoP key the tokens are bound to (RFC 9449),
    /// with `useDpop`; `None` for bearer tokens.
    pub dpop_jkt: Option<String>,
}

impl Session {
    /// The signed-in user as the UI shows them.
    pub fn user(&self) -> User {
        User {
            sub: self.claims.sub.clone().unwrap_or_default(),
            name: self.claims.name.clone(),
            nickname: self.claims.nickname.clone(),
            email: self.claims.email.clone(),
            picture: self.claims.picture.clone(),
            claims_json: self.id_token_payload.clone(),
        }
    }

    /// When the access token (or, without one, the ID token) expires.
    pub fn expires_at(&self) -> i64 {
        self.expires_at.unwrap_or(self.claims.exp)
    }

    /// When to renew ([`crate::decide::renew_at`]): a minute before expiry, half-way for
    /// shorter lifetimes, and never sooner than five seconds after the tokens arrived.
    pub fn renew_at(&self) -> i64 {
        crate::decide::renew_at(self.received_at, self.expires_at())
    }

    /// True when a stored session can be used as it is: not due for renewal, and neither its
    /// access token nor its ID token has expired (the renewal floor never keeps an expired
    /// token in use after a reload).
    pub fn usable_as_stored(&self, now: i64) -> bool {
        !self.needs_renewal(now) && self.claims.exp > now && self.expires_at() > now
    }

    /// True once the token should no longer be used without renewing it.
    pub fn needs_renewal(&self, now: i64) -> bool {
        self.access_token.is_some() && now >= self.renew_at()
    }
}

/// The user's profile claims, from the verified ID token.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// The stable user id (`sub`).
    pub sub: String,
    /// Full name (`name`).
    pub name: Option<String>,
    /// Short name (`nickname`).
    pub nickname: Option<String>,
    /// Email address (`email`).
    pub email: Option<String>,
    /// Avatar URL (`picture`).
    pub picture: Option<String>,
    /// Every claim of the ID token as JSON text, custom (namespaced) ones included.
    pub claims_json: String,
}

impl User {
    /// The best name to greet the user with.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.nickname.clone())
            .or_else(|| self.email.clone())
            .unwrap_or_else(|| self.sub.clone())
    }
}

/// What `cacheLocation: session | local` persists: the raw tokens, re-validated when read back.
#[derive(Clone)]
pub struct StoredTokens {
    /// The access token, if any.
    pub access_token: Option<String>,
    /// The ID token.
    pub id_token: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// Access token expiry (Unix seconds).
    pub expires_at: Option<i64>,
    /// Granted scopes.
    pub scope: String,
    /// The refresh token, if the session holds one (stored only where the other tokens are).
    pub refresh_token: Option<String>,
    /// Rotations of the refresh token so far; after one, the ID token may lack the nonce.
    pub rotations: u32,
    /// When the tokens were received (Unix seconds), so that a reload keeps the renewal floor.
    pub received_at: Option<i64>,
    /// The thumbprint of the DPoP key the tokens are bound to, if they are.
    pub dpop_jkt: Option<String>,
}

impl FromJson for StoredTokens {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        let f = Fields::of(value)?;
        Ok(StoredTokens {
            access_token: f.opt_string("access_token")?,
            id_token: f.string("id_token")?,
            nonce: f.string("nonce")?,
            expires_at: f.opt_int("expires_at")?,
            scope: f.string("scope")?,
            refresh_token: f.opt_string("refresh_token")?,
            rotations: f
                .opt("rotations", |v| {
                    json::uint(v).and_then(|n| {
                        u32::try_from(n).map_err(|_| JsonError::expected("a smaller integer"))
                    })
                })?
                .unwrap_or(0),
            received_at: f.opt_int("received_at")?,
            dpop_jkt: f.opt_string("dpop_jkt")?,
        })
    }
}

impl ToJson for StoredTokens {
    fn to_json(&self) -> Json {
        let mut members = vec![
            ("access_token".into(), self.access_token.as_deref().into()),
            ("id_token".into(), self.id_token.as_str().into()),
            ("nonce".into(), self.nonce.as_str().into()),
            ("expires_at".into(), self.expires_at.into()),
            ("scope".into(), self.scope.as_str().into()),
        ];
        if let Some(refresh_token) = &self.refresh_token {
            members.push(("refresh_token".into(), refresh_token.as_str().into()));
        }
        members.push(("rotations".into(), i64::from(self.rotations).into()));
        members.push(("received_at".into(), self.received_at.into()));
        if let Some(jkt) = &self.dpop_jkt {
            members.push(("dpop_jkt".into(), jkt.as_str().into()));
        }
        Json::Object(members)
    }
}

impl From<&Session> for StoredTokens {
    fn from(s: &Session) -> Self {
        StoredTokens {
            access_token: s.access_token.as_ref().map(|t| t.secret().to_string()),
            id_token: s.id_token.secret().to_string(),
            nonce: s.nonce.secret().to_string(),
            expires_at: s.expires_at,
            scope: s.scope.clone(),
            refresh_token: s.refresh_token.as_ref().map(|t| t.secret().to_string()),
            rotations: s.rotations,
            received_at: Some(s.received_at),
            dpop_jkt: s.dpop_jkt.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashgate_protocol::Audience;

    fn session(received_at: i64, expires_at: i64, id_token_exp: i64) -> Session {
        Session {
            access_token: Some(AccessToken::new("at".into())),
            id_token: IdToken::new("id".into()),
            nonce: Nonce::new("n".into()),
            claims: IdTokenClaims {
                iss: "https://idp.example".into(),
                sub: Some("alice".into()),
                aud: Audience::new(vec!["client".into()]),
                exp: id_token_exp,
                iat: received_at,
                nonce: None,
                at_hash: None,
                azp: None,
                auth_time: None,
                name: None,
                nickname: None,
                email: None,
                picture: None,
            },
            id_token_payload: "{}".into(),
            expires_at: Some(expires_at),
            scope: "openid".into(),
            received_at,
            refresh_token: None,
            flow: ResponseType::Code,
            rotations: 0,
            dpop_jkt: None,
        }
    }

    // Tokens are never logged: a session's Debug names no token.
    #[test]
    fn a_sessions_debug_output_shows_no_token() {
        let mut s = session(1_000, 4_600, 4_600);
        s.access_token = Some(AccessToken::new("secret-access".into()));
        s.id_token = IdToken::new("secret-id".into());
        s.refresh_token = Some(RefreshToken::new("secret-refresh".into()));
        let printed = format!("{s:?}");
        assert!(!printed.contains("secret-"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    #[test]
    fn a_fresh_stored_session_is_used_as_it_is() {
        assert!(session(1_000, 4_600, 4_600).usable_as_stored(1_010));
    }

    // The 5 s renewal floor schedules timers; it never keeps an expired token in use after a
    // reload.
    #[test]
    fn a_stored_session_whose_access_or_id_token_expired_is_renewed_even_within_the_floor() {
        assert!(!session(1_000, 0, 4_600).usable_as_stored(1_002));
        assert!(!session(1_000, 1_000, 4_600).usable_as_stored(1_002));
        assert!(!session(1_000, 4_600, 1_001).usable_as_stored(1_002));
        assert!(!session(1_000, 4_600, 4_600).usable_as_stored(4_550));
    }
}
