//! The issuer's signing keys: OIDC discovery, then the JWKS, cached for at most a max age.
//!
//! Nothing is fetched at start-up, so the API starts even when the provider is down.
//! The first request that needs a key runs discovery (`{issuer}/.well-known/openid-configuration`,
//! whose `issuer` must equal ours) and fetches `jwks_uri`. After that:
//! - while the JWKS is younger than its max age, a known `kid` is answered from the cache,
//!   with no network;
//! - the max age is [`JwksPolicy::max_age`], lowered to the JWKS response's
//!   `Cache-Control: max-age` when that is smaller (RFC 9111 §5.2.2.1), but never below
//!   [`JwksPolicy::max_age_floor`] (unless the max age itself is lower);
//! - the first request after the max age refetches the JWKS, single-flight: concurrent
//!   requests wait for the one fetch in progress and use its result. A key missing from the
//!   new JWKS stops validating at once;
//! - an unknown `kid` also triggers a refetch (key rotation, OIDC Core §10.1.1), at most once
//!   per `min_refresh_interval`;
//! - a failed refetch keeps the cached keys for at most one more max age (so a provider
//!   outage does not take the API down), logged once; after that the keys are dropped and
//!   requests get 503 (`KeysUnavailable`) until the provider answers again. An unknown `kid`
//!   meanwhile is an `invalid_token` (401), not a server error;
//! - until keys have been obtained, requests get 503, and a failed fetch is retried at most
//!   every `min(min_refresh_interval, 5 s)`; while stale keys are kept, at most every
//!   `min_refresh_interval`.
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
use reqwest::header::{HeaderMap, CACHE_CONTROL};
use rsa::{BigUint, RsaPublicKey};

use crate::error::AppError;

/// Largest discovery document or JWKS we read.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// Retry bound while no usable key is held.
const COLD_RETRY: Duration = Duration::from_secs(5);

/// When the issuer's JWKS is fetched again; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksPolicy {
    /// Longest time a fetched JWKS is used before the next request refetches it. Default 600 s.
    pub max_age: Duration,
    /// Least max age a `Cache-Control: max-age` on the JWKS can impose; a smaller one is
    /// raised to it (never above [`JwksPolicy::max_age`]). Default 30 s.
    pub max_age_floor: Duration,
    /// Least time between two refetches caused by unknown `kid`s, and between retries after
    /// a failed refetch. Default 30 s.
    pub min_refresh_interval: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(600),
            max_age_floor: Duration::from_secs(30),
            min_refresh_interval: Duration::from_secs(30),
        }
    }
}

impl JwksPolicy {
    /// The max age of a JWKS fetched with `cache_control_max_age` in its response.
    fn max_age_for(&self, cache_control_max_age: Option<Duration>) -> Duration {
        let floor = self.max_age_floor.min(self.max_age);
        match cache_control_max_age {
            Some(declared) if declared < self.max_age => declared.max(floor),
            _ => self.max_age,
        }
    }
}

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

/// A key to verify one token with, and the name the validated-token memory files it under.
#[derive(Clone)]
pub struct SelectedKey {
    /// What jsonwebtoken verifies the signature with.
    pub key: Arc<DecodingKey>,
    /// Names this exact key (`kid`, `n`, `e`) for as long as the issuer keeps publishing it,
    /// across refetches; never given to another key.
    pub serial: u64,
}

/// A JWKS as fetched: its usable keys ready for jsonwebtoken, and its declared max age.
struct Fetched {
    jwks_uri: String,
    keys: Vec<(RsaPublicJwk, Arc<DecodingKey>)>,
    cache_control_max_age: Option<Duration>,
}

/// The usable keys of one JWKS: the protocol's view (`jwks`, for [`select_key`]) and, at the
/// same index, the key jsonwebtoken verifies with.
struct KeySet {
    jwks: Vec<RsaPublicJwk>,
    prepared: Vec<SelectedKey>,
    fetched_at: Instant,
    max_age: Duration,
}

impl KeySet {
    fn select(&self, kid: Option<&str>) -> Result<SelectedKey, KeySelectError> {
        let chosen = select_key(&self.jwks, kid)?;
        // `select_key` answers with an element of `jwks`; its position names the prepared key.
        self.jwks
            .iter()
            .position(|jwk| std::ptr::eq(jwk, chosen))
            .and_then(|index| self.prepared.get(index))
            .cloned()
            .ok_or(KeySelectError::NoKeys)
    }

    /// The serial of the key `kid` chooses, if it chooses one.
    fn chosen_serial(&self, kid: Option<&str>) -> Option<u64> {
        let chosen = select_key(&self.jwks, kid).ok()?;
        self.jwks
            .iter()
            .position(|jwk| std::ptr::eq(jwk, chosen))
            .and_then(|index| self.prepared.get(index))
            .map(|key| key.serial)
    }

    /// Past the max age: the next request refetches.
    fn is_stale(&self, now: Instant) -> bool {
        reached(now, self.fetched_at, self.max_age)
    }

    /// Past one more max age: the keys are no longer used, refetch or not.
    fn is_expired(&self, now: Instant) -> bool {
        reached(now, self.fetched_at, self.max_age.saturating_mul(2))
    }
}

/// Whether `after` has passed since `since` (no overflow, whatever the durations).
fn reached(now: Instant, since: Instant, after: Duration) -> bool {
    now.checked_duration_since(since)
        .is_some_and(|elapsed| elapsed >= after)
}

#[derive(Default)]
struct Cache {
    keys: Option<Arc<KeySet>>,
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
    /// Bumped after every refresh attempt, so waiters know one happened while they waited.
    generation: u64,
    /// The serial the next new key gets.
    next_serial: u64,
    /// A failed refresh was logged and none succeeded since: further failures are quiet.
    failing: bool,
}

impl Cache {
    /// The keys, unless none were obtained or they expired.
    fn usable(&self, now: Instant) -> Option<Arc<KeySet>> {
        self.keys
            .as_ref()
            .filter(|set| !set.is_expired(now))
            .cloned()
    }

    /// How long to wait after a failed attempt before the next one.
    fn retry_wait(&self, now: Instant, policy: &JwksPolicy) -> Duration {
        if self.usable(now).is_some() {
            policy.min_refresh_interval
        } else {
            policy.min_refresh_interval.min(COLD_RETRY)
        }
    }

    /// Whether the next request must refetch: no keys or stale keys, and no attempt that
    /// failed too recently since they went stale.
    fn is_due(&self, now: Instant, policy: &JwksPolicy) -> bool {
        let retry_allowed = self
            .last_attempt
            .is_none_or(|at| reached(now, at, self.retry_wait(now, policy)));
        match &self.keys {
            None => retry_allowed,
            Some(set) => {
                let tried_since_stale = self.last_attempt.is_some_and(|at| set.is_stale(at));
                set.is_stale(now) && (retry_allowed || !tried_since_stale)
            }
        }
    }

    /// Whether an unknown `kid` may refetch now.
    fn may_refetch_for_unknown_kid(&self, now: Instant, policy: &JwksPolicy) -> bool {
        self.last_attempt
            .is_none_or(|at| reached(now, at, self.retry_wait(now, policy)))
    }

    /// Records a successful fetch: the new keys replace the old ones whole, and a key the
    /// issuer still publishes unchanged keeps its serial.
    fn install(&mut self, fetched: Fetched, now: Instant, policy: &JwksPolicy) {
        let max_age = policy.max_age_for(fetched.cache_control_max_age);
        let previous = self.keys.take();
        let mut set = KeySet {
            jwks: Vec::with_capacity(fetched.keys.len()),
            prepared: Vec::with_capacity(fetched.keys.len()),
            fetched_at: now,
            max_age,
        };
        let mut added = 0;
        for (jwk, key) in fetched.keys {
            let kept = previous.as_ref().and_then(|old| {
                old.jwks
                    .iter()
                    .position(|known| *known == jwk)
                    .and_then(|index| old.prepared.get(index).cloned())
            });
            let prepared = kept.unwrap_or_else(|| {
                added += 1;
                self.next_serial += 1;
                SelectedKey {
                    key,
                    serial: self.next_serial,
                }
            });
            set.jwks.push(jwk);
            set.prepared.push(prepared);
        }
        let kept = set.prepared.len() - added;
        // Saturating: a JWKS may list one key several times, so `kept` can exceed the old count.
        let removed = previous
            .as_ref()
            .map_or(0, |old| old.prepared.len().saturating_sub(kept));
        let uri = &fetched.jwks_uri;
        let secs = max_age.as_secs();
        if self.failing {
            tracing::info!(keys = set.jwks.len(), added, removed, max_age_secs = secs, jwks_uri = %uri, "the issuer's signing keys are fetched again");
        } else if added > 0 || removed > 0 {
            tracing::info!(keys = set.jwks.len(), added, removed, max_age_secs = secs, jwks_uri = %uri, "loaded the issuer's signing keys");
        } else {
            tracing::debug!(
                keys = set.jwks.len(),
                max_age_secs = secs,
                "the issuer's signing keys are unchanged"
            );
        }
        self.keys = Some(Arc::new(set));
        self.jwks_uri = Some(fetched.jwks_uri);
        self.failing = false;
    }

    /// Records a failed fetch: stale keys are kept until they expire; logged once per outage.
    fn fail(&mut self, error: &FetchError, now: Instant) {
        // Rediscover next time, in case jwks_uri moved.
        self.jwks_uri = None;
        match &self.keys {
            Some(set) if set.is_expired(now) => {
                tracing::error!(%error, "the issuer's signing keys expired and cannot be fetched again; refusing tokens (503) until the issuer answers");
                self.keys = None;
            }
            Some(set) if !self.failing => {
                let keep_secs = set
                    .max_age
                    .saturating_mul(2)
                    .saturating_sub(now.saturating_duration_since(set.fetched_at))
                    .as_secs();
                tracing::warn!(%error, cached = set.jwks.len(), keep_secs, "could not refresh the issuer's signing keys; keeping the cached ones for at most one more max age");
            }
            None if !self.failing => {
                tracing::warn!(%error, "could not fetch the issuer's signing keys; refusing tokens (503) until it answers");
            }
            _ => tracing::debug!(%error, "still cannot fetch the issuer's signing keys"),
        }
        self.failing = true;
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

/// What made a request refetch.
#[derive(Clone, Copy)]
enum Trigger {
    /// No keys yet, or past their max age.
    Due,
    /// A token names a `kid` the keys lack.
    UnknownKid,
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
    policy: JwksPolicy,
    cache: RwLock<Cache>,
    refresh: tokio::sync::Mutex<()>,
}

impl KeyStore {
    /// A store for `issuer` (already validated as an http(s) URL); fetches nothing yet.
    pub fn new(issuer: &str, http: reqwest::Client, policy: JwksPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuer: issuer.to_owned(),
                discovery_url: discovery_url(issuer),
                http,
                policy,
                cache: RwLock::default(),
                refresh: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The key for `kid` together with its serial, from keys younger than their max age:
    /// refetched first when they are older, and once more when `kid` is unknown and the rate
    /// limit allows.
    pub async fn key(&self, kid: Option<&str>) -> Result<SelectedKey, AppError> {
        let (keys, seen, refetched) = self.fresh().await?;
        match keys.select(kid) {
            // The provider may have rotated its keys; unless this request just fetched them.
            Err(KeySelectError::UnknownKid { .. }) if !refetched => self
                .refresh(seen, Trigger::UnknownKid)
                .await?
                .select(kid)
                .map_err(|error| refusal(&error, kid)),
            chosen => chosen.map_err(|error| refusal(&error, kid)),
        }
    }

    /// Whether keys younger than their max age (refetched first if needed) still choose the
    /// key `serial` for `kid`: what a validated token needs to stay valid.
    pub async fn still_chooses(&self, kid: Option<&str>, serial: u64) -> Result<bool, AppError> {
        // Every request with a remembered token comes here: while the keys are fresh, answer
        // under the read lock, without taking a reference to the key set or the key.
        {
            let cache = self.read();
            let now = Instant::now();
            if !cache.is_due(now, &self.inner.policy) {
                let keys = cache
                    .keys
                    .as_deref()
                    .filter(|set| !set.is_expired(now))
                    .ok_or(AppError::KeysUnavailable)?;
                return Ok(keys.chosen_serial(kid) == Some(serial));
            }
        }
        let (keys, _, _) = self.fresh().await?;
        Ok(keys.chosen_serial(kid) == Some(serial))
    }

    /// Keys younger than their max age, the generation they were read at, and whether this
    /// call waited for a fetch.
    async fn fresh(&self) -> Result<(Arc<KeySet>, u64, bool), AppError> {
        let seen = {
            let cache = self.read();
            let now = Instant::now();
            if !cache.is_due(now, &self.inner.policy) {
                let keys = cache.usable(now).ok_or(AppError::KeysUnavailable)?;
                return Ok((keys, cache.generation, false));
            }
            cache.generation
        };
        let keys = self.refresh(seen, Trigger::Due).await?;
        Ok((keys, self.read().generation, true))
    }

    /// Refetches the JWKS unless another request did since generation `seen` or `trigger`
    /// does not allow it now; single-flight. Answers the keys held afterwards.
    async fn refresh(&self, seen: u64, trigger: Trigger) -> Result<Arc<KeySet>, AppError> {
        let _flight = self.inner.refresh.lock().await;
        let jwks_uri = {
            let cache = self.read();
            let now = Instant::now();
            let policy = &self.inner.policy;
            let allowed = cache.generation == seen
                && match trigger {
                    Trigger::Due => cache.is_due(now, policy),
                    Trigger::UnknownKid => cache.may_refetch_for_unknown_kid(now, policy),
                };
            if !allowed {
                // Someone refreshed while we waited, or it is too soon: use what is there.
                return cache.usable(now).ok_or(AppError::KeysUnavailable);
            }
            cache.jwks_uri.clone()
        };
        let fetched = self.fetch(jwks_uri).await;
        self.complete(fetched)
    }

    /// Records the outcome of a fetch; answers the keys held afterwards.
    fn complete(&self, fetched: Result<Fetched, FetchError>) -> Result<Arc<KeySet>, AppError> {
        let mut cache = self
            .inner
            .cache
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        cache.generation += 1;
        cache.last_attempt = Some(now);
        match fetched {
            Ok(fetched) => cache.install(fetched, now, &self.inner.policy),
            Err(error) => cache.fail(&error, now),
        }
        cache.usable(now).ok_or(AppError::KeysUnavailable)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        // The cache is updated under the lock without panicking code in between, so a poisoned
        // lock still holds a consistent cache.
        self.inner
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch(&self, jwks_uri: Option<String>) -> Result<Fetched, FetchError> {
        let jwks_uri = match jwks_uri {
            Some(uri) => uri,
            None => self.discover().await?,
        };
        let (headers, body) = self.get(&jwks_uri).await?;
        let jwks: JwkSet = serde_json::from_slice(&body).map_err(|_| FetchError::Invalid {
            url: jwks_uri.clone(),
            reason: "not a jwks (no keys array)",
        })?;
        let usable = jwks.usable_rsa_keys();
        let skipped = jwks.keys.len() - usable.len();
        if skipped > 0 {
            // RFC 7517 4.1-4.3, RFC 7518 3.3: not RSA, not for signatures, another alg, or short.
            tracing::debug!(skipped, %jwks_uri, "skipped jwks keys that cannot verify rs256");
        }
        let keys = prepare(usable);
        if keys.is_empty() {
            return Err(FetchError::NoUsableKey(jwks_uri));
        }
        Ok(Fetched {
            jwks_uri,
            keys,
            cache_control_max_age: cache_control_max_age(&headers),
        })
    }

    async fn discover(&self) -> Result<String, FetchError> {
        let url = &self.inner.discovery_url;
        let (_, body) = self.get(url).await?;
        let metadata: ProviderMetadata =
            serde_json::from_slice(&body).map_err(|_| FetchError::Invalid {
                url: url.clone(),
                reason: "not a discovery document (issuer, authorization_endpoint, jwks_uri)",
            })?;
        // OIDC Discovery 4.3: the issuer exactly ours; every endpoint https (http on loopback).
        metadata.check(&self.inner.issuer)?;
        Ok(metadata.jwks_uri)
    }

    async fn get(&self, url: &str) -> Result<(HeaderMap, Vec<u8>), FetchError> {
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
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge(url.to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((headers, body))
    }
}

/// The smallest `max-age` of the response's `Cache-Control` (RFC 9111 §5.2.2.1), if any.
fn cache_control_max_age(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|directive| {
            let (name, value) = directive.trim().split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("max-age") {
                return None;
            }
            // RFC 9111 §1.2.2: delta-seconds; the quoted form is tolerated.
            value.trim().trim_matches('"').parse::<u64>().ok()
        })
        .min()
        .map(Duration::from_secs)
}

/// The keys of `usable` that the RSA backend can verify with, each with its jsonwebtoken key.
fn prepare(usable: Vec<RsaPublicJwk>) -> Vec<(RsaPublicJwk, Arc<DecodingKey>)> {
    usable
        .into_iter()
        .filter_map(|jwk| match decoding_key(&jwk) {
            Ok(key) => Some((jwk, Arc::new(key))),
            Err(reason) => {
                tracing::info!(kid = ?jwk.kid, reason, "skipped a jwk");
                None
            }
        })
        .collect()
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
impl KeyStore {
    /// Installs `keys` exactly as a successful fetch of a JWKS publishing them would.
    pub(crate) fn install_for_test(&self, keys: Vec<RsaPublicJwk>) {
        let _ = self.complete(Ok(Fetched {
            jwks_uri: "https://issuer.test/jwks".into(),
            keys: prepare(keys),
            cache_control_max_age: None,
        }));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

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

    fn store() -> KeyStore {
        KeyStore::new(
            "https://issuer.test/",
            reqwest::Client::new(),
            JwksPolicy::default(),
        )
    }

    #[test]
    fn keys_the_rsa_backend_cannot_verify_with_are_skipped() {
        // The protocol allows moduli up to 16384 bits; jsonwebtoken's backend stops at 4096,
        // and refuses exponents below 2.
        let prepared = prepare(vec![
            jwk("2048", 256, &[1, 0, 1]),
            jwk("4096", 512, &[1, 0, 1]),
            jwk("8192", 1024, &[1, 0, 1]),
            jwk("e-one", 256, &[1]),
        ]);
        let kids: Vec<_> = prepared
            .iter()
            .filter_map(|(jwk, _)| jwk.kid.as_deref())
            .collect();
        assert_eq!(kids, ["2048", "4096"]);
    }

    #[test]
    fn the_chosen_key_is_the_one_prepared_for_that_jwk() {
        // select_key decides (hashgate-protocol); the decoding key must be the one at its index.
        let keys = store();
        keys.install_for_test(vec![jwk("a", 256, &[1, 0, 1]), jwk("b", 256, &[3])]);
        let set = keys.read().keys.clone().unwrap();
        let b = set.select(Some("b")).unwrap();
        assert!(Arc::ptr_eq(&b.key, &set.prepared[1].key));
        assert_ne!(b.serial, set.prepared[0].serial);
        assert!(matches!(
            set.select(None),
            Err(KeySelectError::AmbiguousKey)
        ));
    }

    #[test]
    fn a_key_keeps_its_serial_while_published_and_a_changed_key_gets_a_new_one() {
        // A validated token stays remembered across a refetch only while its key is unchanged.
        let keys = store();
        keys.install_for_test(vec![jwk("a", 256, &[1, 0, 1]), jwk("b", 256, &[1, 0, 1])]);
        let serial = |kid| {
            keys.read()
                .keys
                .as_ref()
                .unwrap()
                .select(Some(kid))
                .ok()
                .map(|k| k.serial)
        };
        let (a, b) = (serial("a").unwrap(), serial("b").unwrap());
        // Same kid, other modulus: another key, whatever its name.
        keys.install_for_test(vec![jwk("a", 256, &[1, 0, 1]), jwk("b", 257, &[1, 0, 1])]);
        assert_eq!(serial("a"), Some(a));
        let new_b = serial("b").unwrap();
        assert!(new_b != b && new_b != a);
        keys.install_for_test(vec![jwk("b", 257, &[1, 0, 1])]);
        assert_eq!(serial("a"), None);
        assert_eq!(serial("b"), Some(new_b));
        // A hostile or broken JWKS repeating one key: counted without overflow, and ambiguous.
        keys.install_for_test(vec![jwk("b", 257, &[1, 0, 1]); 3]);
        assert_eq!(serial("b"), None);
    }

    #[test]
    fn a_shorter_cache_control_max_age_lowers_the_age_but_not_below_the_floor() {
        // RFC 9111 §5.2.2.1 max-age, bounded: never above the flag, never below min(30 s, flag).
        let secs = Duration::from_secs;
        let policy = JwksPolicy::default();
        assert_eq!(policy.max_age_for(None), secs(600));
        assert_eq!(policy.max_age_for(Some(secs(120))), secs(120));
        assert_eq!(policy.max_age_for(Some(secs(5))), secs(30));
        assert_eq!(policy.max_age_for(Some(secs(0))), secs(30));
        assert_eq!(policy.max_age_for(Some(secs(86_400))), secs(600));
        let short = JwksPolicy {
            max_age: secs(10),
            ..policy
        };
        assert_eq!(short.max_age_for(Some(secs(5))), secs(10));
        assert_eq!(short.max_age_for(None), secs(10));
    }

    #[test]
    fn max_age_is_read_from_every_cache_control_value_and_the_smallest_wins() {
        // RFC 9111 §5.2: directives are comma separated, names case-insensitive.
        let headers = |values: &[&str]| {
            let mut map = HeaderMap::new();
            for value in values {
                map.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
            }
            map
        };
        let age = |values: &[&str]| cache_control_max_age(&headers(values)).map(|d| d.as_secs());
        assert_eq!(
            age(&["public, max-age=300, stale-if-error=86400"]),
            Some(300)
        );
        assert_eq!(age(&["Max-Age = \"60\""]), Some(60));
        assert_eq!(age(&["max-age=300", "no-transform, max-age=45"]), Some(45));
        assert_eq!(age(&["s-maxage=5, public"]), None);
        assert_eq!(age(&["max-age=soon", "max-age=-1"]), None);
        assert_eq!(age(&[]), None);
    }

    #[test]
    fn huge_max_ages_never_overflow_the_clock() {
        // Bad input (a flag or header of u64::MAX seconds) must not panic.
        let now = Instant::now();
        assert!(!reached(now, now, Duration::MAX));
        assert!(!reached(now, now, Duration::MAX.saturating_mul(2)));
        assert!(reached(now, now, Duration::ZERO));
    }
}
