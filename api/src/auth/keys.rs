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
//! Keys that cannot verify RS256 are skipped: not `kty: RSA`, `use` other than `sig`,
//! `alg` other than `RS256`, `key_ops` without `verify`, bad `n`/`e`, or a modulus under
//! 2048 bits.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::DecodingKey;
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, RsaPublicKey};
use serde_json::Value;

use crate::error::AppError;

/// Largest discovery document or JWKS we read.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// Smallest RSA modulus we accept.
const MIN_RSA_BITS: usize = 2048;
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
    /// Discovery names another issuer than the configured one.
    #[error("discovery names issuer {found:?}, but the api is configured for {expected:?}")]
    IssuerMismatch {
        /// Our configured issuer.
        expected: String,
        /// What the document says.
        found: String,
    },
    /// The JWKS held no key usable for RS256.
    #[error("the jwks at {0} has no usable rs256 signing key")]
    NoUsableKey(String),
}

/// One usable verification key.
#[derive(Clone)]
struct KnownKey {
    kid: Option<String>,
    key: Arc<DecodingKey>,
}

#[derive(Default)]
struct Cache {
    keys: Vec<KnownKey>,
    /// Whether a JWKS was ever loaded.
    loaded: bool,
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
    /// Bumped after every refresh attempt, so waiters know one happened while they waited.
    generation: u64,
}

impl Cache {
    fn find(&self, kid: Option<&str>) -> Option<Arc<DecodingKey>> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .map(|k| Arc::clone(&k.key)),
            // Without a kid the choice is only unambiguous when the issuer has one key.
            None => match self.keys.as_slice() {
                [only] => Some(Arc::clone(&only.key)),
                _ => None,
            },
        }
    }

    fn miss(&self, kid: Option<&str>) -> AppError {
        if !self.loaded {
            AppError::KeysUnavailable
        } else if kid.is_none() {
            AppError::invalid_token("the token header has no kid")
        } else {
            AppError::invalid_token("the token was signed with a key the issuer does not publish")
        }
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
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        Self {
            inner: Arc::new(Inner {
                issuer: issuer.to_owned(),
                discovery_url,
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
            if let Some(key) = cache.find(kid) {
                return Ok(key);
            }
            cache.generation
        };

        let _flight = self.inner.refresh.lock().await;
        {
            let cache = self.read();
            if cache.generation != seen {
                // Someone refreshed while we waited: use their result, do not fetch again.
                return cache.find(kid).ok_or_else(|| cache.miss(kid));
            }
            let wait = if cache.loaded {
                self.inner.min_refresh_interval
            } else {
                self.inner.min_refresh_interval.min(COLD_RETRY)
            };
            if cache.last_attempt.is_some_and(|at| at.elapsed() < wait) {
                return Err(cache.miss(kid));
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
                tracing::info!(keys = keys.len(), %jwks_uri, "loaded the issuer's signing keys");
                cache.keys = keys;
                cache.loaded = true;
                cache.jwks_uri = Some(jwks_uri);
            }
            Err(error) => {
                tracing::warn!(%error, cached = cache.keys.len(), "could not refresh the issuer's signing keys");
                // Rediscover next time, in case jwks_uri moved.
                cache.jwks_uri = None;
            }
        }
        cache.find(kid).ok_or_else(|| cache.miss(kid))
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

    async fn fetch(&self, jwks_uri: Option<String>) -> Result<(String, Vec<KnownKey>), FetchError> {
        let jwks_uri = match jwks_uri {
            Some(uri) => uri,
            None => self.discover().await?,
        };
        let jwks = self.get_json(&jwks_uri).await?;
        let keys = parse_jwks(&jwks).ok_or_else(|| FetchError::Invalid {
            url: jwks_uri.clone(),
            reason: "no keys array",
        })?;
        if keys.is_empty() {
            return Err(FetchError::NoUsableKey(jwks_uri));
        }
        Ok((jwks_uri, keys))
    }

    async fn discover(&self) -> Result<String, FetchError> {
        let url = &self.inner.discovery_url;
        let document = self.get_json(url).await?;
        let invalid = |reason| FetchError::Invalid {
            url: url.clone(),
            reason,
        };
        let issuer = document
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("no issuer"))?;
        if issuer != self.inner.issuer {
            return Err(FetchError::IssuerMismatch {
                expected: self.inner.issuer.clone(),
                found: issuer.to_owned(),
            });
        }
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("no jwks_uri"))?;
        let parsed = url::Url::parse(jwks_uri).map_err(|_| invalid("jwks_uri is not a url"))?;
        // An https issuer must not hand us keys over plain http.
        let scheme_ok = match parsed.scheme() {
            "https" => true,
            "http" => self.inner.issuer.starts_with("http://"),
            _ => false,
        };
        if !scheme_ok {
            return Err(invalid("jwks_uri is not https"));
        }
        Ok(jwks_uri.to_owned())
    }

    async fn get_json(&self, url: &str) -> Result<Value, FetchError> {
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
        serde_json::from_slice(&body).map_err(|_| FetchError::Invalid {
            url: url.to_owned(),
            reason: "not json",
        })
    }
}

/// The usable keys of a JWKS document, or `None` if it has no `keys` array.
fn parse_jwks(jwks: &Value) -> Option<Vec<KnownKey>> {
    let mut keys: Vec<KnownKey> = Vec::new();
    for jwk in jwks.get("keys")?.as_array()? {
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
        match usable_rsa_key(jwk) {
            Ok(_) if keys.iter().any(|k| k.kid.is_some() && k.kid == kid) => {
                tracing::warn!(?kid, "skipped a jwk: duplicate kid");
            }
            Ok(key) => keys.push(KnownKey {
                kid,
                key: Arc::new(key),
            }),
            Err(reason) => tracing::info!(?kid, reason, "skipped a jwk"),
        }
    }
    Some(keys)
}

fn usable_rsa_key(jwk: &Value) -> Result<DecodingKey, &'static str> {
    let field = |name| jwk.get(name).and_then(Value::as_str);
    if field("kty") != Some("RSA") {
        return Err("not an rsa key");
    }
    if jwk.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return Err("not a signing key");
    }
    if jwk.get("alg").is_some_and(|a| a.as_str() != Some("RS256")) {
        return Err("not an rs256 key");
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return Err("key_ops does not allow verify");
        }
    }
    let decode = |name| {
        field(name)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .filter(|bytes| !bytes.is_empty())
    };
    let (n, e) = decode("n").zip(decode("e")).ok_or("bad n or e")?;
    let public = RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
        .map_err(|_| "bad n or e")?;
    if public.n().bits() < MIN_RSA_BITS {
        return Err("modulus shorter than 2048 bits");
    }
    Ok(DecodingKey::from_rsa_raw_components(&n, &e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n_2048() -> String {
        // Any odd 2048-bit number passes RsaPublicKey::new; a real key is not needed here.
        let mut n = vec![0xC5u8; 256];
        n[255] |= 1;
        URL_SAFE_NO_PAD.encode(n)
    }

    #[test]
    fn unusable_keys_are_skipped_and_usable_ones_kept() {
        let n = n_2048();
        let jwks = json!({ "keys": [
            { "kty": "RSA", "kid": "good", "use": "sig", "alg": "RS256", "n": n, "e": "AQAB" },
            { "kty": "RSA", "kid": "good-bare", "n": n, "e": "AQAB" },
            { "kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA" },
            { "kty": "oct", "kid": "oct", "k": "c2VjcmV0" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": n, "e": "AQAB" },
            { "kty": "RSA", "kid": "ps", "alg": "PS256", "n": n, "e": "AQAB" },
            { "kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": n, "e": "AQAB" },
            { "kty": "RSA", "kid": "bad-n", "n": "!!!", "e": "AQAB" },
            { "kty": "RSA", "kid": "no-e", "n": n },
            { "kty": "RSA", "kid": "short", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 64]), "e": "AQAB" },
            { "kty": "RSA", "kid": "good", "n": n, "e": "AQAB" },
            "not an object",
        ]});
        let kids: Vec<_> = parse_jwks(&jwks)
            .unwrap()
            .into_iter()
            .map(|k| k.kid.unwrap())
            .collect();
        assert_eq!(kids, ["good", "good-bare"]);
    }

    #[test]
    fn a_document_without_keys_is_invalid() {
        assert!(parse_jwks(&json!({ "nope": [] })).is_none());
    }

    #[test]
    fn a_token_without_kid_uses_the_only_key_but_not_one_of_several() {
        let key = || KnownKey {
            kid: Some("a".into()),
            key: Arc::new(DecodingKey::from_rsa_raw_components(&[1], &[1])),
        };
        let mut cache = Cache {
            keys: vec![key()],
            loaded: true,
            ..Cache::default()
        };
        assert!(cache.find(None).is_some());
        cache.keys.push(key());
        assert!(cache.find(None).is_none());
    }
}
