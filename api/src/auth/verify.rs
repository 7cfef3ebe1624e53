//! Access-token validation: explicit, named checks, in this order.
//!
//! 1. Shape: three strict base64url parts ([`jwt::split`]); the header is a JSON object.
//! 2. Algorithm: `alg` must be exactly `RS256`, checked before any key is chosen, so
//!    `none`, `HS256` keyed with our public key, and every other algorithm are refused.
//! 3. Key source: a header naming its own key (`jku`, `x5u`, `jwk`, `x5c`) is refused;
//!    keys come only from the configured issuer's JWKS. `crit` is refused (we understand
//!    no extension).
//!
//!    Steps 1–3 are `hashgate-protocol`'s [`check_header`] (RFC 8725 §3.1, §3.10), the
//!    same rule the SPA applies to ID tokens; this module only words the refusal for an API.
//! 4. Signature with the issuer's key for `kid` (see [`super::keys`]).
//! 5. Claims: `iss` equals the issuer exactly; `aud` contains the API identifier (so ID
//!    tokens, whose `aud` is the client id, are refused); `exp` and `nbf` with leeway;
//!    `sub` present.
//!
//! 6. Binding (RFC 9449 §7): with `Authorization: DPoP`, the token must carry `cnf.jkt` and
//!    the request a proof ([`super::dpop`]) signed by that key; with `Authorization: Bearer`,
//!    a token bound to a key is refused (§7.2), and so is every token under
//!    [`DpopPolicy::require`].
//!
//! A token that passed every check is remembered (by its SHA-256, never the token itself)
//! with the key that verified it, so a client calling again does not pay for another RSA
//! verification. A remembered token is honoured only while it has not expired and the
//! current keys (refetched first when past their max age, see [`super::keys`]) still choose
//! that same key for it: a key the issuer stops publishing takes every token it validated
//! with it, as without the memory.
//!
//! The remembered path is the hot one (a client calls with the same token until it expires), so
//! it is kept lean: one shared allocation behind the verifier (one reference count touched per
//! clone, and axum clones the state for every request), the memory keyed by the digest itself
//! (no second hash), a remembered token shared rather than copied, and the key check made
//! under the key cache's read lock without taking a reference to the key.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hashgate_protocol::{check_header, jwt, JwtError, JwtHeader, ValidationError};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use axum::http::request::Parts;

use super::bearer::{access_token, dpop_proof, BearerToken};
use super::claims::Claims;
use super::dpop::{request_htu, DpopChecker, DpopPolicy};
use super::keys::{JwksPolicy, KeyStore};
use crate::error::{AppError, Scheme};

/// At most this many validated tokens are remembered; past it, expired ones are dropped, and
/// if that is not enough the memory is cleared (bounded memory under a flood of tokens).
const MAX_REMEMBERED: usize = 10_000;

/// A validated token: its claims, and the key that verified it (`kid` as the token named it,
/// and the serial of the key the issuer's keys chose for it at that time).
struct Remembered {
    claims: Arc<Claims>,
    kid: Option<String>,
    key_serial: u64,
}

/// Hashes a token's SHA-256 digest by its first eight bytes. They are already uniformly
/// spread, and whoever chooses a token cannot choose its digest, so the flooding protection of
/// the default hasher (SipHash) would buy nothing here and cost a second hash per request.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(first) = bytes.first_chunk::<8>() {
            self.0 = u64::from_ne_bytes(*first);
        }
    }

    // The length prefix of `[u8; 32]` is the same for every key: nothing to mix in.
    fn write_usize(&mut self, _: usize) {}
}

/// Validated tokens by the SHA-256 of the token.
type Memory = HashMap<[u8; 32], Arc<Remembered>, BuildHasherDefault<DigestHasher>>;

/// The only signature algorithm this API verifies.
const ALLOWED_ALGS: &[&str] = &["RS256"];

/// The refusal of every algorithm but RS256, unsigned tokens included.
const RS256_ONLY: &str = "the token must be signed with rs256";

/// Runs between choosing a token's key and remembering the token, so a test can refetch the
/// keys exactly there.
#[cfg(test)]
type Interleave = Arc<dyn Fn(&KeyStore) + Send + Sync>;

/// Validates access tokens for one issuer and audience; cheap to clone (one shared pointer).
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<Shared>,
    #[cfg(test)]
    after_key_chosen: Option<Interleave>,
}

/// What every clone of a [`TokenVerifier`] shares.
struct Shared {
    keys: KeyStore,
    issuer: String,
    validation: Validation,
    /// Tokens that passed every check, by the token's SHA-256. Behind a read-write lock, so
    /// concurrent requests look up in parallel.
    verified: RwLock<Memory>,
    /// DPoP proofs: the policy, the replay store and the server nonce.
    dpop: DpopChecker,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier for tokens of `issuer` meant for `audience`; `jwks` says when the issuer's
    /// keys are fetched again, `leeway` applies to `exp` and `nbf`.
    pub fn new(
        issuer: &str,
        audience: &str,
        http: reqwest::Client,
        jwks: JwksPolicy,
        leeway: Duration,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.leeway = leeway.as_secs();
        Self {
            inner: Arc::new(Shared {
                keys: KeyStore::new(issuer, http, jwks),
                issuer: issuer.into(),
                validation,
                verified: RwLock::default(),
                dpop: DpopChecker::new(DpopPolicy::default()),
            }),
            #[cfg(test)]
            after_key_chosen: None,
        }
    }

    /// The same verifier with DPoP treated as `policy` says (default: [`DpopPolicy::default`]).
    pub fn with_dpop(mut self, policy: DpopPolicy) -> Self {
        let dpop = DpopChecker::new(policy);
        match Arc::get_mut(&mut self.inner) {
            Some(shared) => shared.dpop = dpop,
            // Already shared with a clone: this one gets its own state (and an empty memory).
            None => {
                self.inner = Arc::new(Shared {
                    keys: self.inner.keys.clone(),
                    issuer: self.inner.issuer.clone(),
                    validation: self.inner.validation.clone(),
                    verified: RwLock::default(),
                    dpop,
                })
            }
        }
        self
    }

    /// The DPoP policy and server nonce.
    pub fn dpop(&self) -> &DpopChecker {
        &self.inner.dpop
    }

    /// Authenticates a request: its access token (`Bearer`, or `DPoP` with its proof), checked
    /// as this module says; returns the token's claims or the error that fits.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Claims, AppError> {
        self.authenticate_shared(parts)
            .await
            .map(Arc::unwrap_or_clone)
    }

    /// [`TokenVerifier::authenticate`], answering the claims as the memory shares them.
    pub(crate) async fn authenticate_shared(&self, parts: &Parts) -> Result<Arc<Claims>, AppError> {
        let (scheme, token) = access_token(parts)?;
        let dpop = &self.inner.dpop;
        let policy = dpop.policy();
        match scheme {
            Scheme::Bearer => {
                if policy.require {
                    return Err(AppError::invalid_token(
                        "this api accepts only dpop-bound access tokens, with a dpop proof",
                    ));
                }
                let claims = self.verify_shared(&token).await?;
                if claims.jkt.is_some() {
                    // RFC 9449 §7.2: a bound token without its proof is not a bearer token.
                    return Err(AppError::invalid_token(
                        "the token is bound to a dpop key; send it with the dpop scheme and a proof",
                    ));
                }
                Ok(claims)
            }
            Scheme::Dpop => {
                let proof = dpop_proof(parts)?;
                let claims = self.verify_shared(&token).await?;
                let Some(bound) = claims.jkt.as_deref() else {
                    return Err(AppError::invalid_token(
                        "the token is not bound to a dpop key; send it as a bearer token",
                    ));
                };
                let htu = request_htu(parts, policy.public_url.as_ref())?;
                let jkt = dpop.check(proof, parts.method.as_str(), &htu, token.secret())?;
                if jkt != bound {
                    // RFC 9449 §7.1: the proof's key must be the one the token is bound to.
                    return Err(AppError::invalid_token(
                        "the dpop proof is signed by another key than the token is bound to",
                    ));
                }
                Ok(claims)
            }
        }
    }

    /// Validates `token` and returns its claims, or the RFC 6750 error that fits. This is the
    /// token alone: its binding to a DPoP key is [`TokenVerifier::authenticate`]'s.
    pub async fn verify(&self, token: &BearerToken) -> Result<Claims, AppError> {
        self.verify_shared(token).await.map(Arc::unwrap_or_clone)
    }

    /// [`TokenVerifier::verify`], answering the claims as the memory shares them.
    async fn verify_shared(&self, token: &BearerToken) -> Result<Arc<Claims>, AppError> {
        let shared = &*self.inner;
        let digest: [u8; 32] = Sha256::digest(token.secret().as_bytes()).into();
        let now = unix_now();
        if let Some(known) = self.recall(&digest, now) {
            if shared
                .keys
                .still_chooses(known.kid.as_deref(), known.key_serial)
                .await?
            {
                return Ok(Arc::clone(&known.claims));
            }
            // Its key is gone or replaced: the full check decides again.
            self.forget(&digest);
        }
        let kid = acceptable_kid(token.secret())?;
        // The key and its serial come together, so the memory files the token under the key
        // that verified it even if the keys are refetched meanwhile.
        let key = shared.keys.key(kid.as_deref()).await?;
        #[cfg(test)]
        if let Some(interleave) = &self.after_key_chosen {
            interleave(&shared.keys);
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(
            token.secret(),
            &key.key,
            &shared.validation,
        )
        .map_err(|e| AppError::invalid_token(describe(e.kind())))?;
        let claims = Arc::new(Claims::from_payload(data.claims, &shared.issuer)?);
        self.remember(
            digest,
            Remembered {
                claims: Arc::clone(&claims),
                kid,
                key_serial: key.serial,
            },
            now,
        );
        Ok(claims)
    }

    /// An already validated token, while it has not expired (same leeway).
    fn recall(&self, digest: &[u8; 32], now: u64) -> Option<Arc<Remembered>> {
        let known = self
            .inner
            .verified
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
            .cloned()?;
        if known
            .claims
            .expires_at
            .saturating_add(self.inner.validation.leeway)
            >= now
        {
            return Some(known);
        }
        self.forget(digest);
        None
    }

    fn forget(&self, digest: &[u8; 32]) {
        self.inner
            .verified
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(digest);
    }

    fn remember(&self, digest: [u8; 32], token: Remembered, now: u64) {
        let leeway = self.inner.validation.leeway;
        let mut verified = self
            .inner
            .verified
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= MAX_REMEMBERED {
            verified.retain(|_, known| known.claims.expires_at.saturating_add(leeway) >= now);
            if verified.len() >= MAX_REMEMBERED {
                verified.clear();
            }
        }
        verified.insert(digest, Arc::new(token));
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Steps 1–3: returns the `kid` (if any) of an acceptable header.
fn acceptable_kid(token: &str) -> Result<Option<String>, AppError> {
    let malformed = || AppError::invalid_token("the token is not a well-formed jwt");
    let parts = jwt::split(token).map_err(|error| match error {
        // The shape of `alg: none`: nothing to verify, whatever the header claims.
        JwtError::EmptySegment {
            segment: "signature",
        } => AppError::invalid_token("the token is not signed; it must be signed with rs256"),
        _ => malformed(),
    })?;
    let header: Map<String, Value> =
        serde_json::from_slice(&parts.header_json).map_err(|_| malformed())?;
    // RFC 7515 §4.1.4: a kid is a string; anything else is a broken header, not "no kid".
    if header.get("kid").is_some_and(|kid| !kid.is_string()) {
        return Err(malformed());
    }
    // A header whose alg is missing or not a string names no algorithm we verify.
    let names_an_alg = header.get("alg").is_some_and(Value::is_string);
    let header: JwtHeader = serde_json::from_value(Value::Object(header)).map_err(|_| {
        if names_an_alg {
            malformed()
        } else {
            AppError::invalid_token(RS256_ONLY)
        }
    })?;
    check_header(&header, ALLOWED_ALGS).map_err(|error| match error {
        ValidationError::ForbiddenHeader { name: "crit" } => AppError::invalid_token(
            "the token header has critical extensions this api does not understand",
        ),
        ValidationError::ForbiddenHeader { .. } => AppError::invalid_token(
            "the token header names its own key; keys come only from the issuer",
        ),
        // `none`, `HS*`, and every other algorithm off the list.
        _ => AppError::invalid_token(RS256_ONLY),
    })?;
    Ok(header.kid)
}

fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet",
        ErrorKind::InvalidIssuer => "the token was issued by another issuer",
        ErrorKind::InvalidAudience => "the token is not meant for this api (audience)",
        ErrorKind::InvalidSignature => "the token signature is invalid",
        ErrorKind::InvalidAlgorithm => "the token must be signed with rs256",
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => "the token has no exp claim",
            "iss" => "the token has no iss claim",
            "aud" => "the token has no aud claim",
            "sub" => "the token has no sub claim",
            _ => "the token lacks a required claim",
        },
        ErrorKind::InvalidClaimFormat(_) => "a token claim has the wrong type",
        _ => "the token is not a well-formed jwt",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn token(header: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header))
    }

    fn refused(header: &str) -> String {
        match acceptable_kid(&token(header)) {
            Err(AppError::InvalidToken(d)) => d.into_owned(),
            other => panic!("{header} was not refused: {other:?}"),
        }
    }

    #[test]
    fn only_rs256_is_accepted_whatever_the_spelling_of_other_algorithms() {
        // RFC 8725 §3.1: the algorithm allow-list is checked before choosing a key.
        for alg in [
            "none", "None", "NONE", "HS256", "HS512", "RS512", "PS256", "ES256", "rs256", "RS256 ",
        ] {
            let header = format!(r#"{{"alg":"{alg}","kid":"k"}}"#);
            assert!(refused(&header).contains("rs256"), "{alg}");
        }
        assert!(refused(r#"{"kid":"k"}"#).contains("rs256"));
        assert!(refused(r#"{"alg":["RS256"]}"#).contains("rs256"));
        assert_eq!(
            acceptable_kid(&token(r#"{"alg":"RS256","kid":"k"}"#))
                .unwrap()
                .as_deref(),
            Some("k")
        );
    }

    #[test]
    fn headers_that_carry_or_point_at_keys_are_refused() {
        // Keys come only from the issuer's JWKS, never from the token itself.
        for extra in [
            r#""jku":"http://127.0.0.1:9/jwks""#,
            r#""x5u":"http://127.0.0.1:9/cert""#,
            r#""jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
            r#""x5c":["MIIB"]"#,
        ] {
            let header = format!(r#"{{"alg":"RS256","kid":"k",{extra}}}"#);
            assert!(refused(&header).contains("own key"), "{extra}");
        }
        assert!(refused(r#"{"alg":"RS256","crit":["exp"]}"#).contains("critical"));
    }

    #[test]
    fn garbage_is_a_malformed_token() {
        // RFC 7515 §7.1: three base64url parts with a JSON object header, else malformed.
        for garbage in [
            "abc",
            "a.b",
            "a.b.c.d",
            "!!!.e30.c2ln",
            "e30",
            "bnVsbA.e30.c2ln",
        ] {
            assert!(
                matches!(acceptable_kid(garbage), Err(AppError::InvalidToken(_))),
                "{garbage}"
            );
        }
        assert!(refused(r#"{"alg":"RS256","kid":7}"#).contains("well-formed"));
    }
}

/// The validated-token memory against a refetch racing a validation.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod race_tests {
    use super::*;
    use crate::auth::bearer::bearer_token;
    use axum::http::header::AUTHORIZATION;
    use axum::http::Request;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use hashgate_protocol::RsaPublicJwk;
    use jsonwebtoken::{EncodingKey, Header};
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    use rsa::RsaPrivateKey;

    const ISSUER: &str = "https://issuer.test/";
    const AUDIENCE: &str = "https://api.test";

    struct Signer {
        kid: &'static str,
        private: RsaPrivateKey,
    }

    impl Signer {
        fn new(kid: &'static str) -> Self {
            let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
            Self { kid, private }
        }

        fn jwk(&self) -> RsaPublicJwk {
            RsaPublicJwk {
                kid: Some(self.kid.into()),
                n: URL_SAFE_NO_PAD.encode(self.private.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(self.private.e().to_bytes_be()),
            }
        }

        fn bearer(&self, sub: &str) -> BearerToken {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some(self.kid.into());
            let claims = serde_json::json!({
                "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "exp": unix_now() + 600,
            });
            let der = self.private.to_pkcs1_der().unwrap();
            let key = EncodingKey::from_rsa_der(der.as_bytes());
            let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
            let request = Request::get("/")
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .body(())
                .unwrap();
            bearer_token(&request.into_parts().0).unwrap()
        }
    }

    fn verifier() -> TokenVerifier {
        // No provider at all: keys are installed by hand, and the default 30 s between
        // refetches keeps the store from trying one during the test.
        TokenVerifier::new(
            ISSUER,
            AUDIENCE,
            reqwest::Client::new(),
            JwksPolicy::default(),
            Duration::from_secs(60),
        )
    }

    #[tokio::test]
    async fn a_token_checked_while_the_keys_are_refetched_is_remembered_under_the_key_that_verified_it(
    ) {
        // A refetch between choosing a token's key and remembering the token must not file it
        // under the new keys: once the key that verified it is gone, the memory must not answer
        // for it (api/README.md, key freshness).
        let (a, b) = (Signer::new("a"), Signer::new("b"));
        let token = a.bearer("alice");
        let mut verifier = verifier();
        verifier.inner.keys.install_for_test(vec![a.jwk()]);
        let only_b = b.jwk();
        verifier.after_key_chosen = Some(Arc::new(move |keys: &KeyStore| {
            keys.install_for_test(vec![only_b.clone()]);
        }));

        // Key A was chosen before the refetch, and it verifies the token.
        assert_eq!(verifier.verify(&token).await.unwrap().sub, "alice");

        verifier.after_key_chosen = None;
        let again = verifier.verify(&token).await;
        assert!(
            matches!(&again, Err(AppError::InvalidToken(d)) if d.contains("does not publish")),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn a_remembered_token_survives_a_refetch_that_keeps_its_key() {
        // The memory is dropped for a token only when its key goes, not at every refetch: the
        // same key (kid, n, e) keeps its serial.
        let (a, b) = (Signer::new("a"), Signer::new("b"));
        let token = a.bearer("alice");
        let verifier = verifier();
        verifier.inner.keys.install_for_test(vec![a.jwk()]);
        assert!(verifier.verify(&token).await.is_ok());
        verifier.inner.keys.install_for_test(vec![b.jwk(), a.jwk()]);
        let digest: [u8; 32] = Sha256::digest(token.secret().as_bytes()).into();
        let known = verifier.recall(&digest, unix_now()).unwrap();
        assert!(verifier
            .inner
            .keys
            .still_chooses(known.kid.as_deref(), known.key_serial)
            .await
            .unwrap());
        assert!(verifier.verify(&token).await.is_ok());
    }
}
