//! DPoP (RFC 9449) at the token endpoint: the checks a proof must pass (§4.3), the JWK
//! thumbprint that names the key a token is bound to (RFC 7638), server nonces (§8) and
//! the memory of `jti`s already used (§11.1).
//!
//! The signature is verified by `jsonwebtoken` (its `rust_crypto` backend, `p256`), with
//! ES256 as the only algorithm allowed whatever the proof's header says; the header is
//! read here first, by hand, only to refuse what RFC 9449 §4.3 refuses before any
//! cryptography (a `typ` other than `dpop+jwt`, an algorithm off the list, a `jwk` that
//! is not a P-256 public key or that carries private members). The proof's own `jwk`
//! verifies that proof and nothing else.
//!
//! The nonce ring and the replay memory are written here because they are a few lines
//! over a `Mutex` and bounded by construction; no crate offers them for DPoP.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::util;

/// The proof algorithms accepted, as discovery's `dpop_signing_alg_values_supported`
/// names them. Asymmetric only (RFC 9449 §4.3 step 6): never `none`, never HS*.
pub const ALGORITHMS: &[&str] = &["ES256"];

/// A proof longer than this is refused unread.
const MAX_PROOF_BYTES: usize = 4096;

/// JWK members that belong to a private or symmetric key (RFC 7518 §6.2.2, §6.3.2,
/// §6.4.1): a proof's key must be public (RFC 9449 §4.3 step 7).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof breaks a rule of RFC 9449 §4.3: answered `invalid_dpop_proof`.
    #[error("{0}")]
    Invalid(&'static str),
    /// A nonce is required and the proof lacks the current one: answered
    /// `use_dpop_nonce` with a fresh `DPoP-Nonce` (RFC 9449 §8).
    #[error("a DPoP nonce from this server is required")]
    UseNonce,
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url: the `jkt` a
    /// binding names.
    pub jkt: String,
    /// The proof's `jti`, to remember once the proof is used.
    pub jti: String,
}

/// What the proof is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method (`htm`).
    pub method: &'a str,
    /// The request's URL without query and fragment (`htu`).
    pub url: &'a str,
    /// The provider's clock, unix seconds.
    pub now: i64,
    /// How far `iat` may be from `now`, either way, in seconds.
    pub window_secs: i64,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    nonce: Option<String>,
}

fn invalid(why: &'static str) -> ProofError {
    ProofError::Invalid(why)
}

/// Checks `proof` as RFC 9449 §4.3 says, against `expected` and, when nonces are
/// required, `nonces`. The `jti` is not looked up here: see [`Replay::claim`].
pub fn verify(
    proof: &str,
    expected: Expected<'_>,
    nonces: Option<&Nonces>,
) -> Result<Proof, ProofError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(invalid("the DPoP proof is too long"));
    }
    // §4.3 steps 2-3: one well-formed JWT.
    let mut parts = proof.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the DPoP proof is not a JWT"));
    };
    let header: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(head)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(invalid("the DPoP proof's header is not a JSON object"))?;
    // Step 5.
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    // Step 6: from the allow-list only.
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if !ALGORITHMS.contains(&alg) {
        return Err(invalid("the DPoP proof's alg is not supported (ES256)"));
    }
    // Step 7: a public key, and one this algorithm can use.
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        return Err(invalid("the DPoP proof has no jwk"));
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(invalid("the DPoP proof's jwk holds a private key"));
    }
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let (Some("EC"), Some("P-256"), Some(x), Some(y)) =
        (member("kty"), member("crv"), member("x"), member("y"))
    else {
        return Err(invalid("the DPoP proof's jwk is not a P-256 public key"));
    };
    let jkt = thumbprint(x, y);
    // Step 8: the signature, by that key, with ES256 whatever the header claims.
    let key = DecodingKey::from_ec_components(x, y)
        .map_err(|_| invalid("the DPoP proof's jwk is not a P-256 public key"))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(proof, &key, &validation)
        .map_err(|_| invalid("the DPoP proof's signature or claims are invalid"))?
        .claims;
    // Steps 9-10: this request.
    if claims.htm != expected.method {
        return Err(invalid("the DPoP proof is for another method"));
    }
    let htu = claims
        .htu
        .split(['?', '#'])
        .next()
        .unwrap_or(claims.htu.as_str());
    if htu != expected.url {
        return Err(invalid("the DPoP proof is for another URL"));
    }
    // Step 11 (with a nonce) or 12: recent.
    if expected.now.abs_diff(claims.iat) > expected.window_secs.unsigned_abs() {
        return Err(invalid(
            "the DPoP proof's iat is outside the accepted window",
        ));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(invalid("the DPoP proof's jti is missing or too long"));
    }
    if let Some(nonces) = nonces {
        let fresh = claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.accepts(n, expected.now));
        if !fresh {
            return Err(ProofError::UseNonce);
        }
    }
    Ok(Proof {
        jkt,
        jti: claims.jti,
    })
}

/// RFC 7638 §3: the SHA-256 thumbprint of a P-256 key, over its required members in
/// lexicographic order with no whitespace, base64url.
pub fn thumbprint(x: &str, y: &str) -> String {
    // Written in RFC 7638's lexicographic order, so the text is the same whether
    // serde_json sorts members or keeps them as given (`preserve_order`); no spaces.
    let canonical = serde_json::json!({ "crv": "P-256", "kty": "EC", "x": x, "y": y });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// Whether `value` is shaped like a SHA-256 thumbprint (43 base64url characters), as a
/// `dpop_jkt` parameter must be (RFC 9449 §10).
pub fn is_thumbprint_shaped(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Server-provided nonces (RFC 9449 §8): a random value offered for `lifetime`
/// seconds, then replaced; the previous value is still accepted for as long again, so
/// a client that just fetched one is not sent round twice.
pub struct Nonces {
    lifetime: i64,
    ring: Mutex<NonceRing>,
}

struct NonceRing {
    current: String,
    made_at: i64,
    previous: Option<String>,
}

impl Nonces {
    /// Nonces replaced every `lifetime_secs`.
    pub fn new(lifetime_secs: u64, now: i64) -> Self {
        Self {
            lifetime: i64::try_from(lifetime_secs).unwrap_or(i64::MAX).max(1),
            ring: Mutex::new(NonceRing {
                current: util::random_token(),
                made_at: now,
                previous: None,
            }),
        }
    }

    fn ring(&self, now: i64) -> std::sync::MutexGuard<'_, NonceRing> {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let age = now.saturating_sub(ring.made_at);
        if age >= self.lifetime {
            let old = std::mem::replace(&mut ring.current, util::random_token());
            // Two lifetimes without a request: the old one is stale too.
            ring.previous = (age < 2 * self.lifetime).then_some(old);
            ring.made_at = now;
        }
        ring
    }

    /// The nonce to hand out now (`DPoP-Nonce`).
    pub fn current(&self, now: i64) -> String {
        self.ring(now).current.clone()
    }

    /// Whether a proof's `nonce` is the current or the previous one.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let ring = self.ring(now);
        util::ct_eq(nonce, &ring.current)
            || ring
                .previous
                .as_deref()
                .is_some_and(|p| util::ct_eq(nonce, p))
    }
}

/// Whether a `jti` could be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First use within the window: remembered now.
    Fresh,
    /// Already used within the window: a replay (RFC 9449 §11.1).
    Replayed,
    /// The memory is full of live entries; refuse for now rather than forget one.
    Full,
}

/// The `jti`s of proofs used within the window (RFC 9449 §11.1), per key, in bounded
/// memory. Only proofs that came with a valid code or refresh token are remembered
/// (see `idp/README.md`, "DPoP"), so nobody without a grant can fill it; every entry
/// lives equally long, so the oldest is always at the front.
pub struct Replay {
    keep_secs: i64,
    capacity: usize,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    keys: HashSet<[u8; 32]>,
    order: VecDeque<([u8; 32], i64)>,
}

impl Replay {
    /// Remembers each `jti` for `keep_secs`, at most `capacity` at a time.
    pub fn new(keep_secs: u64, capacity: usize) -> Self {
        Self {
            keep_secs: i64::try_from(keep_secs).unwrap_or(i64::MAX),
            capacity,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Remembers `proof`'s `jti` (for its key) unless it was used already.
    pub fn claim(&self, proof: &Proof, now: i64) -> Claim {
        let key: [u8; 32] = Sha256::new()
            .chain_update(proof.jkt.as_bytes())
            .chain_update(b".")
            .chain_update(proof.jti.as_bytes())
            .finalize()
            .into();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((old, until)) = seen.order.front().copied() {
            if until > now {
                break;
            }
            seen.order.pop_front();
            seen.keys.remove(&old);
        }
        if seen.keys.contains(&key) {
            return Claim::Replayed;
        }
        if seen.keys.len() >= self.capacity {
            return Claim::Full;
        }
        seen.keys.insert(key);
        seen.order
            .push_back((key, now.saturating_add(self.keep_secs)));
        Claim::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_rfc_7638s_example_method() {
        // RFC 7638 §3.1 computes over {"crv","kty","x","y"} in that order, no spaces.
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        let text = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()));
        assert_eq!(thumbprint(x, y), expected);
        assert!(is_thumbprint_shaped(&expected));
        assert!(!is_thumbprint_shaped("short"));
    }

    #[test]
    fn a_jti_is_claimed_once_per_window_and_memory_stays_bounded() {
        let replay = Replay::new(10, 2);
        let proof = |jti: &str| Proof {
            jkt: "k".into(),
            jti: jti.into(),
        };
        assert_eq!(replay.claim(&proof("a"), 100), Claim::Fresh);
        assert_eq!(replay.claim(&proof("a"), 105), Claim::Replayed);
        assert_eq!(replay.claim(&proof("b"), 105), Claim::Fresh);
        assert_eq!(replay.claim(&proof("c"), 105), Claim::Full);
        // "a" leaves the window: room again, and "a" is new again.
        assert_eq!(replay.claim(&proof("c"), 110), Claim::Fresh);
        assert_eq!(replay.claim(&proof("a"), 115), Claim::Fresh);
    }

    #[test]
    fn a_nonce_is_accepted_for_two_lifetimes_then_refused() {
        let nonces = Nonces::new(10, 0);
        let first = nonces.current(0);
        assert!(nonces.accepts(&first, 5));
        let second = nonces.current(12);
        assert_ne!(first, second);
        assert!(nonces.accepts(&first, 12), "the previous one still counts");
        assert!(!nonces.accepts(&first, 25));
        assert!(!nonces.accepts("made-up", 25));
    }
}
