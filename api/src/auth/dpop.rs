//! DPoP proofs (RFC 9449): what an `Authorization: DPoP` request must also send.
//!
//! [`DpopChecker::check`] runs the checks of RFC 9449 §4.3 on the `DPoP` header, in order:
//! 1. one compact JWS of at most [`MAX_PROOF_LEN`] bytes, strict base64url;
//! 2. the header ([`check_proof_header`] of `hashgate-protocol`): `typ` `dpop+jwt`, `alg`
//!    exactly `ES256` (never `none`, never a MAC: the allow-list is ours, not the proof's), a
//!    P-256 `jwk` without private members, no `jku`/`x5u`/`x5c`/`crit`;
//! 3. the ES256 signature by that `jwk` (the key verifies this proof only: it never verifies an
//!    access token, whose keys come from the issuer's JWKS alone);
//! 4. the claims: `htm` equal to the request method, `htu` equal to the URL the client used
//!    (see [`request_htu`]; both without query and fragment, after RFC 3986 §6.2.2–6.2.3
//!    normalization), `iat` within the proof window either side of now, `ath` equal to the
//!    base64url SHA-256 of the access token, and the server nonce when nonces are on (§9);
//! 5. `jti` not seen within the window ([`ReplayStore`]), recorded last, so a refused proof does
//!    not use up its `jti`.
//!
//! It answers the key's RFC 7638 thumbprint, which the caller compares with the token's
//! `cnf.jkt` (§6.1).
//!
//! # Why not a crate
//! `dpop-verifier` (4.4) does most of this, but compares `htm` ignoring case and normalizes
//! `htu` beyond RFC 3986 (it merges empty path segments, so `/a//b` passes for `/a/b`), does
//! not refuse `crit`, and takes its replay store as `&mut` across the whole verification. The
//! `huskarl` resource server brings its own token validation and crypto stack in place of
//! this crate's. What is left is small: jsonwebtoken (already here) verifies ES256 from the
//! key's coordinates, and the header rules are `hashgate-protocol`'s, so this module is
//! claim checks, a bounded replay store and a nonce.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::header::HOST;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hashgate_protocol::dpop::{
    check_proof_header, ec_thumbprint_input, htu_without_query_and_fragment, iat_within,
    ProofHeader,
};
use hashgate_protocol::jwt;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use url::{Position, Url};

use crate::error::AppError;

/// Longest `DPoP` header read; a longer one is refused before any parsing.
pub const MAX_PROOF_LEN: usize = 8 * 1024;

/// Default proof window: a proof's `iat` may be this far in the past or the future.
pub const DEFAULT_PROOF_WINDOW: Duration = Duration::from_secs(60);

/// Longest `jti` accepted (it is remembered, by hash, for the window).
const MAX_JTI_LEN: usize = 256;

/// At most this many `jti`s are remembered. Past it, expired ones are dropped; if that is not
/// enough, new proofs are refused (503) rather than forgetting one that could be replayed.
const MAX_REMEMBERED_PROOFS: usize = 200_000;

/// How long one server nonce is handed out; the previous one stays accepted as long again,
/// so a client that just fetched a nonce never sees it refused at once.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// How the API treats DPoP; part of [`crate::Settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpopPolicy {
    /// Refuse plain bearer tokens: only DPoP-bound tokens with a proof pass
    /// (`--require-dpop`). Default: off, unbound bearer tokens keep working.
    pub require: bool,
    /// Require a server nonce in every proof (RFC 9449 §9, `--dpop-nonce`). Default: off.
    pub nonce: bool,
    /// The public URL clients call, when a reverse proxy sits in front (`--public-url`):
    /// `htu` is compared with it plus the request path. Default: the request's own scheme
    /// and `Host`.
    pub public_url: Option<Url>,
    /// How far a proof's `iat` may be from now, either way; `jti`s are remembered as long.
    pub proof_window: Duration,
}

impl Default for DpopPolicy {
    fn default() -> Self {
        Self {
            require: false,
            nonce: false,
            public_url: None,
            proof_window: DEFAULT_PROOF_WINDOW,
        }
    }
}

/// Checks DPoP proofs for one API; shared by all requests.
#[derive(Debug)]
pub struct DpopChecker {
    policy: DpopPolicy,
    replay: ReplayStore,
    nonces: Option<Nonces>,
}

impl DpopChecker {
    /// A checker for `policy`.
    pub fn new(policy: DpopPolicy) -> Self {
        let nonces = policy.nonce.then(Nonces::new);
        Self {
            policy,
            replay: ReplayStore::default(),
            nonces,
        }
    }

    /// The policy it checks by.
    pub fn policy(&self) -> &DpopPolicy {
        &self.policy
    }

    /// The nonce to hand out now (`DPoP-Nonce`), when nonces are on.
    pub fn current_nonce(&self) -> Option<String> {
        self.nonces.as_ref().map(Nonces::current)
    }

    /// Checks `proof` for a request with `method` to `htu` (from [`request_htu`]) carrying
    /// `access_token`; answers the proof key's thumbprint (`jkt`).
    pub fn check(
        &self,
        proof: &str,
        method: &str,
        htu: &str,
        access_token: &str,
    ) -> Result<String, AppError> {
        let malformed = || AppError::invalid_dpop_proof("the dpop proof is not a well-formed jwt");
        if proof.len() > MAX_PROOF_LEN {
            return Err(AppError::invalid_dpop_proof("the dpop proof is too large"));
        }
        let parts = jwt::split(proof).map_err(|_| malformed())?;
        let header: ProofHeader =
            serde_json::from_slice(&parts.header_json).map_err(|_| malformed())?;
        let jwk = check_proof_header(&header)
            .map_err(|error| AppError::invalid_dpop_proof(error.to_string()))?;
        let (Some(x), Some(y), Some(thumbprint_input)) =
            (jwk.x.as_deref(), jwk.y.as_deref(), ec_thumbprint_input(jwk))
        else {
            return Err(AppError::invalid_dpop_proof(
                "the dpop proof must carry its p-256 public key in jwk",
            ));
        };
        let invalid_key =
            || AppError::invalid_dpop_proof("the dpop proof's jwk is not a p-256 key");
        let key = DecodingKey::from_ec_components(x, y).map_err(|_| invalid_key())?;
        // The signature segment is the text after the last dot; `split` checked its base64url.
        let signature = proof.rsplit('.').next().unwrap_or_default();
        let verified = jsonwebtoken::crypto::verify(
            signature,
            parts.signing_input.as_bytes(),
            &key,
            Algorithm::ES256,
        )
        .map_err(|_| invalid_key())?;
        if !verified {
            return Err(AppError::invalid_dpop_proof(
                "the dpop proof signature is invalid",
            ));
        }

        let claims: Map<String, Value> =
            serde_json::from_slice(&parts.payload_json).map_err(|_| malformed())?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("htm") != Some(method) {
            return Err(AppError::invalid_dpop_proof(
                "the dpop proof is for another http method",
            ));
        }
        if text("htu").and_then(normalized_htu).as_deref() != Some(htu) {
            return Err(AppError::invalid_dpop_proof(
                "the dpop proof is for another url",
            ));
        }
        let now = unix_now();
        let window = self.policy.proof_window.as_secs();
        let iat = claims.get("iat").and_then(Value::as_i64).ok_or_else(|| {
            AppError::invalid_dpop_proof("the dpop proof has no numeric iat claim")
        })?;
        if !iat_within(iat, now, window) {
            return Err(AppError::invalid_dpop_proof(
                "the dpop proof is too old or from the future (iat)",
            ));
        }
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()));
        match text("ath") {
            Some(claimed) if claimed == ath => {}
            Some(_) => {
                return Err(AppError::invalid_dpop_proof(
                    "the dpop proof is for another access token (ath)",
                ))
            }
            None => {
                return Err(AppError::invalid_dpop_proof(
                    "the dpop proof has no ath claim",
                ))
            }
        }
        if let Some(nonces) = &self.nonces {
            // RFC 9449 §9: a missing or unknown nonce is answered with a fresh one to retry with.
            if !text("nonce").is_some_and(|nonce| nonces.accepts(nonce)) {
                return Err(AppError::UseDpopNonce(nonces.current()));
            }
        }
        let jti = match text("jti") {
            Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti,
            _ => {
                return Err(AppError::invalid_dpop_proof(
                    "the dpop proof needs a jti of 1 to 256 characters",
                ))
            }
        };
        // Remembered until the proof could no longer pass the iat check.
        let expires = iat.saturating_add(i64::try_from(window).unwrap_or(i64::MAX));
        self.replay.first_use(jti, expires, now)?;
        Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes())))
    }
}

/// The URL a request was sent to, as `htu` must name it (RFC 9449 §4.3 step 9): the
/// configured public URL plus the path when a proxy is in front, else `http` (this server
/// speaks no TLS itself, whatever scheme a request line names), the request's `Host` and its
/// path. Normalized like
/// [`normalized_htu`]; a request without a usable `Host` has no URL to compare.
pub fn request_htu(parts: &Parts, public_url: Option<&Url>) -> Result<String, AppError> {
    let path = parts.uri.path();
    let url = match public_url {
        Some(base) => {
            let prefix = &base[..Position::AfterPath];
            format!("{}{path}", prefix.trim_end_matches('/'))
        }
        None => {
            let host = parts
                .headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                .filter(|host| is_host_and_port(host))
                .ok_or_else(|| {
                    AppError::invalid_dpop_proof("the request names no host to check htu against")
                })?;
            format!("http://{host}{path}")
        }
    };
    normalized_htu(&url)
        .ok_or_else(|| AppError::invalid_dpop_proof("the request url cannot be checked"))
}

/// `host[:port]` only: a `Host` with a path, query, user info or space could move the URL.
fn is_host_and_port(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// An http(s) URL without query and fragment, normalized as RFC 3986 §6.2.2–6.2.3 says
/// (scheme and host lower case, default port dropped, dot segments resolved, empty path `/`);
/// `None` for anything else.
pub fn normalized_htu(url: &str) -> Option<String> {
    let url = Url::parse(htu_without_query_and_fragment(url)).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return None;
    }
    Some(url[..Position::AfterPath].to_owned())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The `jti`s of accepted proofs (by SHA-256), each until its proof would be stale anyway.
#[derive(Debug, Default)]
struct ReplayStore {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Hash of the `jti` → unix second after which it may be forgotten.
    expires: HashMap<[u8; 32], i64>,
    /// When expired entries were last dropped.
    swept_at: i64,
}

impl ReplayStore {
    /// Records `jti`; refuses it if it was seen and has not expired (RFC 9449 §11.1).
    fn first_use(&self, jti: &str, expires: i64, now: i64) -> Result<(), AppError> {
        let digest: [u8; 32] = Sha256::digest(jti.as_bytes()).into();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        // Drop expired entries about once a window, and whenever the store is full.
        let sweep_due = now.saturating_sub(seen.swept_at) >= 60;
        if sweep_due || seen.expires.len() >= MAX_REMEMBERED_PROOFS {
            seen.expires.retain(|_, until| *until >= now);
            seen.swept_at = now;
        }
        if seen.expires.get(&digest).is_some_and(|until| *until >= now) {
            return Err(AppError::invalid_dpop_proof(
                "the dpop proof was already used (jti)",
            ));
        }
        if seen.expires.len() >= MAX_REMEMBERED_PROOFS {
            return Err(AppError::ProofsUnavailable);
        }
        seen.expires.insert(digest, expires);
        Ok(())
    }
}

/// Server nonces (RFC 9449 §9): a random value handed out for [`NONCE_LIFETIME`], then
/// replaced; the previous one stays accepted meanwhile.
#[derive(Debug)]
struct Nonces {
    state: RwLock<NonceState>,
}

#[derive(Debug)]
struct NonceState {
    current: Arc<str>,
    previous: Option<Arc<str>>,
    minted_at: Instant,
}

impl Nonces {
    fn new() -> Self {
        Self {
            state: RwLock::new(NonceState {
                current: random_nonce(),
                previous: None,
                minted_at: Instant::now(),
            }),
        }
    }

    /// The nonce to hand out, replacing it first when it has been handed out long enough.
    fn current(&self) -> String {
        {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            if state.minted_at.elapsed() < NONCE_LIFETIME {
                return state.current.to_string();
            }
        }
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.minted_at.elapsed() >= NONCE_LIFETIME {
            let fresh = random_nonce();
            state.previous = Some(std::mem::replace(&mut state.current, fresh));
            state.minted_at = Instant::now();
        }
        state.current.to_string()
    }

    /// Whether `nonce` is the current or the previous one, and the previous one is recent.
    fn accepts(&self, nonce: &str) -> bool {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let age = state.minted_at.elapsed();
        (*state.current == *nonce && age < NONCE_LIFETIME.saturating_mul(2))
            || (state.previous.as_deref() == Some(nonce) && age < NONCE_LIFETIME)
    }
}

/// 128 random bits, base64url: unguessable, so a proof made in advance cannot carry it.
fn random_nonce() -> Arc<str> {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()).into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[test]
    fn htu_is_normalized_as_rfc_3986_says_and_no_further() {
        // RFC 9449 §4.3 step 9 with RFC 3986 §6.2.2–6.2.3.
        assert_eq!(
            normalized_htu("HTTPS://API.Example:443/a/./b?x=1#f").as_deref(),
            Some("https://api.example/a/b")
        );
        assert_eq!(
            normalized_htu("http://127.0.0.1:3001").as_deref(),
            Some("http://127.0.0.1:3001/")
        );
        // Empty segments are part of the path: /a//b is not /a/b.
        assert_ne!(
            normalized_htu("https://a.example/a//b"),
            normalized_htu("https://a.example/a/b")
        );
        for bad in ["ftp://a.example/", "/api/private", "https://", "not a url"] {
            assert_eq!(normalized_htu(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_request_url_is_its_host_and_path_or_the_public_url() {
        // RFC 9449 §4.3 step 9: the URL the client used; behind a proxy, the public one.
        let parts = |host: &str| {
            Request::get("/api/private?x=1")
                .header(HOST, host)
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        assert_eq!(
            request_htu(&parts("127.0.0.1:3001"), None).unwrap(),
            "http://127.0.0.1:3001/api/private"
        );
        let public = Url::parse("https://api.example/base/").unwrap();
        assert_eq!(
            request_htu(&parts("127.0.0.1:3001"), Some(&public)).unwrap(),
            "https://api.example/base/api/private"
        );
        // A request line naming https does not make a plain-http connection https.
        let absolute = Request::get("https://127.0.0.1:3001/api/private")
            .header(HOST, "127.0.0.1:3001")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(
            request_htu(&absolute, None).unwrap(),
            "http://127.0.0.1:3001/api/private"
        );
        for hostile in ["evil.example/x?", "a b", "", "user@host"] {
            assert!(request_htu(&parts(hostile), None).is_err(), "{hostile}");
        }
    }

    #[test]
    fn a_jti_is_accepted_once_until_it_expires() {
        // RFC 9449 §11.1: a proof is single-use within its window.
        let store = ReplayStore::default();
        assert!(store.first_use("a", 1_060, 1_000).is_ok());
        assert!(store.first_use("a", 1_060, 1_030).is_err());
        assert!(store.first_use("b", 1_060, 1_030).is_ok());
        // Past its expiry the proof would be refused as stale, so the jti may go.
        assert!(store.first_use("a", 1_200, 1_100).is_ok());
    }

    #[test]
    fn a_full_replay_store_refuses_new_proofs_instead_of_forgetting_live_ones() {
        // Bounded memory, and never a replay window opened by eviction.
        let store = ReplayStore::default();
        {
            let mut seen = store.seen.lock().unwrap();
            seen.swept_at = 1_000;
            for i in 0..MAX_REMEMBERED_PROOFS as u64 {
                let digest: [u8; 32] = Sha256::digest(i.to_be_bytes()).into();
                seen.expires.insert(digest, 2_000);
            }
        }
        assert!(matches!(
            store.first_use("new", 2_000, 1_001),
            Err(AppError::ProofsUnavailable)
        ));
        // Once those expired, there is room again.
        assert!(store.first_use("new", 3_000, 2_001).is_ok());
    }

    #[test]
    fn the_previous_nonce_stays_accepted_and_others_are_not() {
        // RFC 9449 §9: the server decides which nonces are acceptable.
        let nonces = Nonces::new();
        let first = nonces.current();
        assert!(nonces.accepts(&first));
        assert!(!nonces.accepts("made-up"));
        nonces.state.write().unwrap().minted_at -= NONCE_LIFETIME;
        let second = nonces.current();
        assert_ne!(first, second);
        assert!(nonces.accepts(&first) && nonces.accepts(&second));
        nonces.state.write().unwrap().minted_at -= NONCE_LIFETIME;
        assert!(!nonces.accepts(&first));
    }
}
