//! The one validation path for tokens, whether they come from `/callback`, a silent renewal or
//! storage: OpenID Connect Core §3.2.2.9–3.2.2.11, in that order, each check in [`hashgate_protocol`].

use hashgate_protocol::{
    check_at_hash, check_at_hash_if_present, check_header, jwt, select_key, IdTokenClaims,
    IdTokenVerifier, JwkSet, JwtHeader, KeySelectError, Nonce, RsaPublicJwk, TokenResponse,
};

use leptos::prelude::{StoredValue, UpdateValue, WithValue};

use crate::browser;
use crate::error::AuthError;
use crate::session::Session;
use crate::setup::Setup;

/// The signature algorithms this app can verify (WebCrypto RSASSA-PKCS1-v1_5). Of these, only
/// the ones the provider advertises are accepted (OIDC Discovery §3).
const IMPLEMENTED_ALGS: &[&str] = &["RS256"];
/// An unknown `kid` refetches the JWKS at most this often, so a stream of forged tokens cannot
/// turn the app into a request cannon against the provider.
const JWKS_REFETCH_INTERVAL_MS: f64 = 10_000.0;

/// The provider's signing keys, fetched lazily and refetched once when a token names an unknown
/// key. A `Copy` handle: every validation (login, silent renewal, refresh, a stored session)
/// shares the one cache, so a key rotation learnt by one is known to all.
#[derive(Clone, Copy)]
pub struct KeyCache(StoredValue<Keys>);

#[derive(Default)]
struct Keys {
    keys: Vec<RsaPublicJwk>,
    fetched_at_ms: Option<f64>,
}

impl KeyCache {
    /// An empty cache, owned by the current reactive owner (the `<AuthProvider>`).
    pub fn new() -> Self {
        KeyCache(StoredValue::new(Keys::default()))
    }

    fn fetched_at_ms(self) -> Option<f64> {
        self.0.with_value(|k| k.fetched_at_ms)
    }

    /// Starts fetching the keys in the background unless they are loaded. A failure is not
    /// reported here: the validation then fetches again and reports its own. A validation that
    /// starts before this fetch has answered fetches too (the browser's HTTP cache lock makes
    /// that wait for the first answer when the provider lets the JWKS be cached); waiting in
    /// the app instead would cost more module than it saves time.
    pub fn prefetch(self, jwks_uri: String) {
        if self.fetched_at_ms().is_none() {
            leptos::task::spawn_local(async move {
                let _ = self.fetch(&jwks_uri).await;
            });
        }
    }

    async fn fetch(self, jwks_uri: &str) -> Result<(), AuthError> {
        // A refetch (unknown kid) must reach the provider: providers serve the JWKS with
        // cache headers, and a rotated key is exactly what a cached copy lacks.
        let revalidate = self.fetched_at_ms().is_some();
        const WHAT: &str = "identity provider's key set (JWKS)";
        let document = browser::fetch_document(jwks_uri, WHAT, revalidate).await?;
        let set: JwkSet = browser::read_document(&document, WHAT)?;
        let keys = set.usable_rsa_keys();
        self.0.update_value(|k| {
            k.keys = keys;
            k.fetched_at_ms = Some(js_sys::Date::now());
        });
        browser::mark(browser::JWKS_MARK);
        Ok(())
    }

    fn select(self, kid: Option<&str>) -> Result<RsaPublicJwk, KeySelectError> {
        self.0.with_value(|k| select_key(&k.keys, kid).cloned())
    }

    /// The key for `kid`: from the cache, or after one (rate-limited) refetch for key rotation.
    pub async fn key_for(
        self,
        jwks_uri: &str,
        kid: Option<&str>,
    ) -> Result<RsaPublicJwk, AuthError> {
        let fresh = match self.fetched_at_ms() {
            None => {
                self.fetch(jwks_uri).await?;
                true
            }
            Some(_) => false,
        };
        match self.select(kid) {
            Err(KeySelectError::UnknownKid { .. }) if !fresh && self.may_refetch() => {
                self.fetch(jwks_uri).await?;
                Ok(self.select(kid)?)
            }
            selected => Ok(selected?),
        }
    }

    fn may_refetch(self) -> bool {
        self.fetched_at_ms()
            .is_none_or(|at| js_sys::Date::now() - at >= JWKS_REFETCH_INTERVAL_MS)
    }
}

/// Tokens to check, and what they must match.
pub struct TokenInput {
    /// The tokens as the provider (or storage) gave them; nothing in it is trusted yet.
    pub response: TokenResponse,
    /// The nonce this login sent.
    pub nonce: Nonce,
    /// Absolute expiry of the access token, for a stored session (overrides `expires_in`).
    pub expires_at: Option<i64>,
    /// How old `iat` may be; `None` keeps the verifier's default (a fresh login).
    pub max_iat_age_secs: Option<i64>,
    /// Whether the ID token must carry the nonce: yes for a login's tokens, no after a refresh
    /// (OIDC Core §12.2; when present it must still match).
    pub nonce_required: bool,
    /// Accept an expired ID token: only for a stored session that is renewed with its refresh
    /// token at once (the renewed tokens are checked in full).
    pub allow_expired_id_token: bool,
}

impl TokenInput {
    /// Fresh tokens of a login (from `/callback`, the token endpoint or a silent attempt)
    /// for the request that sent `nonce`.
    pub fn from_response(response: TokenResponse, nonce: Nonce) -> Self {
        TokenInput {
            response,
            nonce,
            expires_at: None,
            max_iat_age_secs: None,
            nonce_required: true,
            allow_expired_id_token: false,
        }
    }
}

/// Validates `input` completely; on success returns the session, on failure the first failed check.
/// Nothing is stored and no token leaves this function on failure.
pub async fn validate_tokens(
    setup: &Setup,
    input: TokenInput,
    now: i64,
) -> Result<Session, AuthError> {
    let Setup {
        config,
        metadata,
        keys,
    } = setup;
    let TokenInput {
        response,
        nonce,
        expires_at,
        max_iat_age_secs,
        nonce_required,
        allow_expired_id_token,
    } = input;
    // OIDC Core §3.2.2.5: every token the response type asked for, and (RFC 6749 §7.1) only
    // bearer tokens, which are all this app knows how to use.
    response
        .check_response_type(config.response_type)
        .map_err(AuthError::Response)?;
    let expires_at = expires_at.or_else(|| response.expires_at(now));
    let access_token = if config.response_type.includes_access_token() {
        response
            .check_token_type(config.use_dpop)
            .map_err(AuthError::Response)?;
        response.access_token
    } else {
        // Sign-in only: an access token we did not ask for is dropped unused.
        None
    };
    let id_token = response
        .id_token
        .ok_or(AuthError::Incomplete("it has no ID token"))?;
    // A refresh token is kept only when the app renews with it (and only ever comes from the
    // token endpoint: the fragment parser never reads one).
    let refresh_token = response.refresh_token.filter(|_| config.use_refresh_tokens);

    // OIDC Core §3.1.3.7 step 6–8: the signature first, with an algorithm we chose, by a key
    // from the provider's JWKS only.
    let parts = jwt::split(id_token.secret())?;
    let header: JwtHeader = parse_segment(&parts.header_json)?;
    check_header(&header, &metadata.allowed_algs(IMPLEMENTED_ALGS))?;
    let key = keys
        .key_for(&metadata.jwks_uri, header.kid.as_deref())
        .await?;
    if !browser::verify_rs256(&key, parts.signing_input.as_bytes(), &parts.signature).await? {
        return Err(AuthError::BadSignature);
    }

    let payload = std::str::from_utf8(&parts.payload_json)
        .map_err(|_| AuthError::TokenJson("the claims are not UTF-8".into()))?
        .to_string();
    let claims: IdTokenClaims = parse_segment(&parts.payload_json)?;
    let mut verifier = IdTokenVerifier::new(&config.issuer, &config.client_id, &nonce);
    if let Some(age) = max_iat_age_secs {
        verifier.max_age_secs = age;
    }
    verifier.nonce_required = nonce_required;
    if allow_expired_id_token {
        // `exp` may be past; `iat` still must not be in the future.
        verifier.verify(&claims, claims.exp.saturating_sub(1).min(now))?;
    } else {
        verifier.verify(&claims, now)?;
    }

    // OIDC Core §3.2.2.9: at_hash binds the access token to this ID token; in the code flow
    // (§3.1.3.8) it is optional, and checked when present.
    let digest = match &access_token {
        Some(token) => Some(browser::sha256(token.secret().as_bytes()).await?),
        None => None,
    };
    if config.response_type.is_code() {
        check_at_hash_if_present(claims.at_hash.as_deref(), digest.as_deref())?;
    } else {
        check_at_hash(claims.at_hash.as_deref(), digest.as_deref())?;
    }

    Ok(Session {
        access_token,
        id_token,
        nonce,
        claims,
        id_token_payload: payload,
        expires_at,
        scope: response.scope.unwrap_or_else(|| config.scope.clone()),
        received_at: now,
        refresh_token,
        flow: config.response_type,
        rotations: 0,
        dpop_jkt: None,
    })
}

fn parse_segment<T: hashgate_protocol::FromJson>(json: &[u8]) -> Result<T, AuthError> {
    let text = std::str::from_utf8(json)
        .map_err(|_| AuthError::TokenJson("a segment is not UTF-8".into()))?;
    crate::json::read(text).map_err(AuthError::TokenJson)
}
