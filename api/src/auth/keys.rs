//! The issuer's signing keys: OIDC discovery, then the JWKS, cached.
//!
//! Nothing is fetched at start-up, so the API starts even when the provider is down.
//! The first request that needs a key runs discovery (`{issuer}/.well-known/openid-configuration`,
//! whose `issuer` must equal ours) and fetches `jwks_uri`. After that:
//! - a known `kid` is answered from the cache, with no network;
//! - an unknown `kid` triggers a refetch, at most once per `min_refresh_interval`, and
//!   single-flight: concurrent requests wait for the one refetch in progress and then use
//!   its result instead of fetching again;
//! - a failed refetch keeps the cached keys, so tokens keep validating while the provider
//!   is down; an unknown `kid` then is an `invalid_token` (401), not a server error;
//! - until keys have been obtained once, requests get 503 (`KeysUnavailable`), and a
//!   failed first fetch is retried at most every `min(min_refresh_interval, 5 s)`.
//!
//! The protocol rules are `hashgate-protocol`'s, the same the SPA applies to ID tokens: the
//! discovery URL ([`discovery_url`]), the document's issuer and endpoints
//! ([`ProviderMetadata::check`]), which keys are usable ([`JwkSet::usable_rsa_keys`]: RSA,
//! for signatures, RS256, at least 2048 bits) and which one a token's `kid` chooses
//! ([`select_key`]: a `kid` the set lists twice chooses none). What stays here is the crypto
//! the protocol crate does not have: turning a key into a jsonwebtoken [`DecodingKey`].

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hashgate_protocol::discovery::discovery_url;
use hashgate_protocol::{
    select_key, DiscoveryError, JwkSet, KeySelectError, ProviderMetadata, RsaPublicJwk,
};
use jsonwebtoken::DecodingKey;
use rsa::{BigUint, RsaPublicKey};

use crate::error::AppError;

/// Largest discovery document or JWKS we read.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// Retry bound while no key was ever obtained.
const COLD_RETRY: Duration = Duration::from_secs(5);

/// Why a refresh of the keys failed; logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The HTTP request failed (connection, timeout, status).
    #[error("request to {url} failed: {source}")]
    Http {
        /// What was fetched.
        url: String,
        /// What reqwest said.
        source: reqwest::Error,
    },
    /// The answer was larger than we read.
    #[error("{0} answered a document larger than 512 KiB")]
    TooLarge(String),
    /// The answer was not the JSON we need.
    #[error("{url} answered an invalid document: {reason}")]
    Invalid {
        /// What was fetched.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The discovery document is not one we may trust: another issuer (OIDC Discovery 4.3)
    /// or an endpoint that is not https.
    #[error("the discovery document is not trusted: {0}")]
    Discovery(#[from] DiscoveryError),
    /// The JWKS held no key usable for RS256.
    #[error("the jwks at {0} has no usable rs256 signing key")]
    NoUsableKey(String),
}

/// The usable keys of one JWKS: the protocol's view (`jwks`, for [`select_key`]) and, at the
/// same index, the key jsonwebtoken verifies with.
#[derive(Default)]
struct KeySet {
    jwks: Vec<RsaPublicJwk>,
    decoding: Vec<Arc<DecodingKey>>,
}

impl KeySet {
    /// Keeps the keys of `usable` that the RSA backend can verify with.
    fn prepare(usable: Vec<RsaPublicJwk>) -> Self {
        let mut set = Self::default();
        for jwk in usable {
            match decoding_key(&jwk) {
                Ok(key) => {
                    set.jwks.push(jwk);
                    set.decoding.push(Arc::new(key));
                }
                Err(reason) => tracing::info!(kid = ?jwk.kid, reason, "skipped a jwk"),
            }
        }
        set
    }

    fn select(&self, kid: Option<&str>) -> Result<Arc<DecodingKey>, KeySelectError> {
        let chosen = select_key(&self.jwks, kid)?;
        // `select_key` answers with an element of `jwks`; its position names the prepared key.
        self.jwks
            .iter()
            .position(|jwk| std::ptr::eq(jwk, chosen))
            .and_then(|index| self.decoding.get(index))
            .map(Arc::clone)
            .ok_or(KeySelectError::NoKeys)
    }
}

#[derive(Default)]
struct Cache {
    keys: KeySet,
    /// Whether a JWKS was ever loaded.
    loaded: bool,
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
    /// Bumped after every refresh attempt, so waiters know one happened while they waited.
    generation: u64,
}

impl Cache {
    fn answer(&self, kid: Option<&str>) -> Result<Arc<DecodingKey>, AppError> {
        if !self.loaded {
            return Err(AppError::KeysUnavailable);
        }
        self.keys.select(kid).map_err(|error| refusal(&error, kid))
    }
}

/// The 401 (or 503) for a key that cannot be chosen.
fn refusal(error: &KeySelectError, kid: Option<&str>) -> AppError {
    match error {
        KeySelectError::UnknownKid { .. } => {
            AppError::invalid_token("the token was signed with a key the issuer does not publish")
        }
        // Without a kid the choice is only unambiguous when the issuer has one key.
        KeySelectError::AmbiguousKey if kid.is_none() => {
            AppError::invalid_token("the token header has no kid")
        }
        // RFC 7517 4.5: a kid names one key; a set naming two with it is not trusted for it.
        KeySelectError::AmbiguousKey => AppError::invalid_token(
            "the issuer publishes several keys under the token's kid, so none is trusted",
        ),
        _ => AppError::KeysUnavailable,
    }
}

/// The cached signing keys of one issuer; cheap to clone, shared by all requests.
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    discovery_url: String,
    http: reqwest::Client,
    min_refresh_interval: Duration,
    cache: RwLock<Cache>,
    refresh: tokio::sync::Mutex<()>,
}

impl KeyStore {
    /// A store for `issuer` (already validated as an http(s) URL); fetches nothing yet.
    pub fn new(issuer: &str, http: reqwest::Client, min_refresh_interval: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuer: issuer.to_owned(),
                discovery_url: discovery_url(issuer),
                http,
                min_refresh_interval,
                cache: RwLock::default(),
                refresh: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The key for `kid`, refetching the JWKS if it is unknown and the rate limit allows.
    pub async fn key(&self, kid: Option<&str>) -> Result<Arc<DecodingKey>, AppError> {
        let seen = {
            let cache = self.read();
            match cache.keys.select(kid) {
                Ok(key) => return Ok(key),
                // The provider may have rotated its keys: refetch once (below).
                Err(KeySelectError::UnknownKid { .. }) => {}
                Err(_) if !cache.loaded => {}
                Err(error) => return Err(refusal(&error, kid)),
            }
            cache.generation
        };

        let _flight = self.inner.refresh.lock().await;
        {
            let cache = self.read();
            if cache.generation != seen {
                // Someone refreshed while we waited: use their result, do not fetch again.
                return cache.answer(kid);
            }
            let wait = if cache.loaded {
                self.inner.min_refresh_interval
            } else {
                self.inner.min_refresh_interval.min(COLD_RETRY)
            };
            if cache.last_attempt.is_some_and(|at| at.elapsed() < wait) {
                return cache.answer(kid);
            }
        }

        let jwks_uri = self.read().jwks_uri.clone();
        let fetched = self.fetch(jwks_uri).await;
        let mut cache = self
            .inner
            .cache
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        cache.generation += 1;
        cache.last_attempt = Some(Instant::now());
        match fetched {
            Ok((jwks_uri, keys)) => {
                tracing::info!(keys = keys.jwks.len(), %jwks_uri, "loaded the issuer's signing keys");
                cache.keys = keys;
                cache.loaded = true;
                cache.jwks_uri = Some(jwks_uri);
            }
            Err(error) => {
                tracing::warn!(%error, cached = cache.keys.jwks.len(), "could not refresh the issuer's signing keys");
                // Rediscover next time, in case jwks_uri moved.
                cache.jwks_uri = None;
            }
        }
        cache.answer(kid)
    }

    /// Changes whenever the JWKS is (re)fetched, so callers can tell a key set they have
    /// seen from a newer one.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        // The cache is replaced whole under the lock, so a poisoned lock still holds a valid cache.
        self.inner
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch(&self, jwks_uri: Option<String>) -> Result<(String, KeySet), FetchError> {
        let jwks_uri = match jwks_uri {
            Some(uri) => uri,
            None => self.discover().await?,
        };
        let body = self.get(&jwks_uri).await?;
        let jwks: JwkSet = serde_json::from_slice(&body).map_err(|_| FetchError::Invalid {
            url: jwks_uri.clone(),
            reason: "not a jwks (no keys array)",
        })?;
        let usable = jwks.usable_rsa_keys();
        let skipped = jwks.keys.len() - usable.len();
        if skipped > 0 {
            // RFC 7517 4.1-4.3, RFC 7518 3.3: not RSA, not for signatures, another alg, or short.
            tracing::info!(skipped, %jwks_uri, "skipped jwks keys that cannot verify rs256");
        }
        let keys = KeySet::prepare(usable);
        if keys.jwks.is_empty() {
            return Err(FetchError::NoUsableKey(jwks_uri));
        }
        Ok((jwks_uri, keys))
    }

    async fn discover(&self) -> Result<String, FetchError> {
        let url = &self.inner.discovery_url;
        let body = self.get(url).await?;
        let metadata: ProviderMetadata =
            serde_json::from_slice(&body).map_err(|_| FetchError::Invalid {
                url: url.clone(),
                reason: "not a discovery document (issuer, authorization_endpoint, jwks_uri)",
            })?;
        // OIDC Discovery 4.3: the issuer exactly ours; every endpoint https (http on loopback).
        metadata.check(&self.inner.issuer)?;
        Ok(metadata.jwks_uri)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let http_error = |source| FetchError::Http {
            url: url.to_owned(),
            source,
        };
        let mut response = self
            .inner
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(http_error)?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(FetchError::TooLarge(url.to_owned()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge(url.to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The jsonwebtoken key for a usable JWK, or why the RSA backend cannot verify with it.
fn decoding_key(jwk: &RsaPublicJwk) -> Result<DecodingKey, &'static str> {
    let decode = |value: &str| URL_SAFE_NO_PAD.decode(value).map_err(|_| "bad n or e");
    let (n, e) = (decode(&jwk.n)?, decode(&jwk.e)?);
    // jsonwebtoken's RustCrypto backend builds exactly this key at every verification, and it
    // takes moduli up to 4096 bits and exponents from 2 to 2^33 - 1: a key it would refuse each
    // time is skipped once, with its reason in the log.
    RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
        .map_err(|_| "the rsa backend cannot use this key (over 4096 bits, or an odd exponent)")?;
    Ok(DecodingKey::from_rsa_raw_components(&n, &e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn jwk(kid: &str, n_bytes: usize, e: &[u8]) -> RsaPublicJwk {
        // Any odd number of the right size passes the backend's checks; a real key is not needed.
        let mut n = vec![0xC5u8; n_bytes];
        n[n_bytes - 1] |= 1;
        RsaPublicJwk {
            kid: Some(kid.into()),
            n: URL_SAFE_NO_PAD.encode(n),
            e: URL_SAFE_NO_PAD.encode(e),
        }
    }

    #[test]
    fn keys_the_rsa_backend_cannot_verify_with_are_skipped() {
        // The protocol allows moduli up to 16384 bits; jsonwebtoken's backend stops at 4096,
        // and refuses exponents below 2.
        let set = KeySet::prepare(vec![
            jwk("2048", 256, &[1, 0, 1]),
            jwk("4096", 512, &[1, 0, 1]),
            jwk("8192", 1024, &[1, 0, 1]),
            jwk("e-one", 256, &[1]),
        ]);
        let kids: Vec<_> = set.jwks.iter().filter_map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, ["2048", "4096"]);
        assert_eq!(set.decoding.len(), 2);
    }

    #[test]
    fn the_chosen_key_is_the_one_prepared_for_that_jwk() {
        // select_key decides (hashgate-protocol); the decoding key must be the one at its index.
        let set = KeySet::prepare(vec![jwk("a", 256, &[1, 0, 1]), jwk("b", 256, &[3])]);
        let b = set.select(Some("b")).unwrap();
        assert!(Arc::ptr_eq(&b, &set.decoding[1]));
        assert!(matches!(
            set.select(None),
            Err(KeySelectError::AmbiguousKey)
        ));
    }
}
