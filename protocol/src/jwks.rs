//! The provider's JSON Web Key Set (RFC 7517) and choosing the key that verifies a token.
//!
//! Lenient about the set, strict about keys: an entry this app cannot read is skipped, not
//! fatal (providers publish encryption keys, EC keys, future key types), but a key is used
//! only if it is an RSA signing key for RS256 with a modulus of at least 2048 bits.

use crate::base64url;
use crate::error::{truncate, KeySelectError};
use crate::json::{Fields, FromJson, Json, JsonError};
use crate::json_object;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};

/// Smallest RSA modulus accepted, in bits (RFC 7518 3.3).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits; WebCrypto implementations stop here.
pub const MAX_RSA_BITS: usize = 16384;

json_object! {
    /// One key of a JWKS, as published. Fields this app does not use (`x5c`, `x5t`, EC
    /// coordinates, …) are ignored.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct Jwk: FromJson + ToJson {
        /// Key type: `RSA`, `EC`, `oct`, …
        pub kty: String = "kty",
        /// Key id, matched against the token header's `kid`.
        pub kid: Option<String> = "kid",
        /// Intended use: `sig` or `enc`.
        pub use_: Option<String> = "use",
        /// The algorithm the key is meant for.
        pub alg: Option<String> = "alg",
        /// RSA modulus, base64url.
        pub n: Option<String> = "n",
        /// RSA public exponent, base64url.
        pub e: Option<String> = "e",
        /// Permitted operations (`verify`, …).
        pub key_ops: Option<Vec<String>> = "key_ops",
    }
}

json_object! {
    /// A JWKS. Entries that are not well-formed JWK objects are dropped while reading, so one
    /// malformed entry never makes the whole set unusable; `keys` itself must be an array.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct JwkSet: FromJson + ToJson {
        /// The readable keys, in published order.
        #[serde(deserialize_with = "lenient_keys")]
        pub keys: Vec<Jwk> = "keys" with read_lenient_keys,
    }
}

/// The serde reading of [`JwkSet::keys`].
fn lenient_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Jwk>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Key(Jwk),
        Other(IgnoredAny),
    }
    let entries = Vec::<Entry>::deserialize(d)?;
    Ok(entries
        .into_iter()
        .filter_map(|e| match e {
            Entry::Key(k) => Some(k),
            Entry::Other(_) => None,
        })
        .collect())
}

/// The [`FromJson`] reading of [`JwkSet::keys`], the same rule as [`lenient_keys`].
fn read_lenient_keys(fields: &Fields<'_>, name: &str) -> Result<Vec<Jwk>, JsonError> {
    fields.req(name, |keys| match keys {
        Json::Array(entries) => Ok(entries
            .iter()
            .filter_map(|e| Jwk::from_json(e).ok())
            .collect()),
        _ => Err(JsonError::expected("an array")),
    })
}

/// An RSA public key fit for verifying RS256 signatures, ready for WebCrypto's JWK import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsaPublicJwk {
    /// Key id, if published.
    pub kid: Option<String>,
    /// Modulus: canonical base64url without padding or leading zero bytes, ≥ 2048 bits.
    pub n: String,
    /// Public exponent: canonical base64url, non-zero.
    pub e: String,
}

impl RsaPublicJwk {
    /// Checks an RSA JWK's `n` and `e`; `None` if unusable.
    fn from_jwk(key: &Jwk) -> Option<Self> {
        let n = decode_unsigned(key.n.as_deref()?)?;
        let e = decode_unsigned(key.e.as_deref()?)?;
        let n_bits = n.len() * 8 - n.first()?.leading_zeros() as usize;
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&n_bits) {
            return None;
        }
        // Real exponents are small (65537); huge ones are a sign of a broken or hostile key.
        if e.is_empty() || e.len() > 8 {
            return None;
        }
        Some(Self {
            kid: key.kid.clone(),
            n: base64url::encode(&n),
            e: base64url::encode(&e),
        })
    }
}

/// Decodes a base64url big-endian unsigned integer and strips leading zero bytes.
/// Trailing `=` is tolerated: it is a common publishing mistake and carries no meaning.
fn decode_unsigned(value: &str) -> Option<Vec<u8>> {
    let bytes = base64url::decode(value.trim_end_matches('='))?;
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Some(bytes[first..].to_vec())
}

impl JwkSet {
    /// The keys that may verify an RS256 ID token: `kty` `RSA`, `use` `sig` or absent,
    /// `alg` `RS256` or absent, `key_ops` containing `verify` or absent, and a valid
    /// modulus (2048–16384 bits) and non-zero exponent.
    pub fn usable_rsa_keys(&self) -> Vec<RsaPublicJwk> {
        self.keys
            .iter()
            .filter(|k| k.kty == "RSA")
            .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
            .filter(|k| k.alg.as_deref().is_none_or(|a| a == "RS256"))
            .filter(|k| {
                k.key_ops
                    .as_ref()
                    .is_none_or(|ops| ops.iter().any(|o| o == "verify"))
            })
            .filter_map(RsaPublicJwk::from_jwk)
            .collect()
    }
}

/// Chooses the key for a token whose header names `kid`.
///
/// With a `kid`: the one key with exactly that id, or [`KeySelectError::UnknownKid`] (the
/// caller then refetches the JWKS once, since the provider may have rotated its keys).
/// Without: the only key if there is exactly one. Never a guess among several.
pub fn select_key<'a>(
    keys: &'a [RsaPublicJwk],
    kid: Option<&str>,
) -> Result<&'a RsaPublicJwk, KeySelectError> {
    match kid {
        Some(kid) => {
            let mut matching = keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
            match (matching.next(), matching.next()) {
                (Some(key), None) => Ok(key),
                (Some(_), Some(_)) => Err(KeySelectError::AmbiguousKey),
                (None, _) => Err(KeySelectError::UnknownKid {
                    kid: truncate(kid, 64),
                }),
            }
        }
        None => match keys {
            [] => Err(KeySelectError::NoKeys),
            [only] => Ok(only),
            _ => Err(KeySelectError::AmbiguousKey),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde_json::json;

    /// A 2048-bit modulus (top bit set) as base64url.
    fn n2048() -> String {
        let mut n = vec![0xc5u8; 256];
        n[255] = 0x01;
        URL_SAFE_NO_PAD.encode(n)
    }

    fn rsa(kid: &str) -> serde_json::Value {
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n2048(), "e": "AQAB"})
    }

    fn set(keys: serde_json::Value) -> JwkSet {
        serde_json::from_value(json!({ "keys": keys })).unwrap()
    }

    fn kids(keys: &[RsaPublicJwk]) -> Vec<&str> {
        keys.iter().filter_map(|k| k.kid.as_deref()).collect()
    }

    #[test]
    fn garbage_entries_are_skipped_and_good_keys_kept() {
        // RFC 7517 5: keys this app cannot use are skipped, not fatal.
        let s = set(json!([
            rsa("good1"),
            "not an object",
            42,
            null,
            {"kid": "no-kty"},
            {"kty": "RSA", "kid": "bad-n-type", "n": 12, "e": "AQAB"},
            {"kty": "RSA", "kid": "bad-ops", "key_ops": "verify", "n": n2048(), "e": "AQAB"},
            rsa("good2"),
        ]));
        assert_eq!(kids(&s.usable_rsa_keys()), vec!["good1", "good2"]);
    }

    #[test]
    fn a_set_without_a_keys_array_fails_to_parse() {
        // A document that is not a JWKS at all is an error, not an empty set.
        assert!(serde_json::from_value::<JwkSet>(json!({"keys": "x"})).is_err());
        assert!(serde_json::from_value::<JwkSet>(json!({})).is_err());
    }

    #[test]
    fn only_rsa_signing_keys_for_rs256_are_usable() {
        // RFC 7517 4.2/4.3/4.4: use, key_ops and alg restrict a key.
        let mut minimal = rsa("minimal");
        let obj = minimal.as_object_mut().unwrap();
        obj.remove("use");
        obj.remove("alg");
        let s = set(json!([
            minimal,
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": n2048(), "e": "AQAB"},
            {"kty": "RSA", "kid": "rs512", "alg": "RS512", "n": n2048(), "e": "AQAB"},
            {"kty": "RSA", "kid": "sign-only", "key_ops": ["sign"], "n": n2048(), "e": "AQAB"},
            {"kty": "RSA", "kid": "verify", "key_ops": ["verify"], "n": n2048(), "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        ]));
        assert_eq!(kids(&s.usable_rsa_keys()), vec!["minimal", "verify"]);
    }

    #[test]
    fn short_or_undecodable_moduli_and_zero_exponents_are_unusable() {
        // RFC 7518 3.3: RSA keys of at least 2048 bits; a zero exponent is no key.
        let short = URL_SAFE_NO_PAD.encode([0xffu8; 255]); // 2040 bits
        let padded_short = URL_SAFE_NO_PAD.encode([&[0u8, 0][..], &[0xff; 255]].concat());
        let s = set(json!([
            {"kty": "RSA", "kid": "short", "n": short, "e": "AQAB"},
            {"kty": "RSA", "kid": "zero-padded-short", "n": padded_short, "e": "AQAB"},
            {"kty": "RSA", "kid": "bad-b64", "n": "!!!", "e": "AQAB"},
            {"kty": "RSA", "kid": "no-e", "n": n2048()},
            {"kty": "RSA", "kid": "zero-e", "n": n2048(), "e": "AA"},
            {"kty": "RSA", "kid": "empty-e", "n": n2048(), "e": ""},
        ]));
        assert!(s.usable_rsa_keys().is_empty());
    }

    #[test]
    fn usable_keys_come_out_canonical() {
        // WebCrypto's JWK import wants unpadded base64url without leading zero octets.
        let n = URL_SAFE_NO_PAD.decode(n2048()).unwrap();
        let with_zero = format!("{}==", URL_SAFE_NO_PAD.encode([&[0u8][..], &n].concat()));
        let s = set(json!([{"kty": "RSA", "kid": "z", "n": with_zero, "e": "AAEAAQ"}]));
        let keys = s.usable_rsa_keys();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].n, n2048());
        assert_eq!(keys[0].e, "AQAB");
    }

    fn key(kid: Option<&str>) -> RsaPublicJwk {
        RsaPublicJwk {
            kid: kid.map(str::to_owned),
            n: n2048(),
            e: "AQAB".into(),
        }
    }

    #[test]
    fn a_kid_selects_the_key_with_exactly_that_id() {
        // RFC 7515 4.1.4: the key is chosen by kid.
        let keys = [key(Some("a")), key(Some("b"))];
        assert_eq!(
            select_key(&keys, Some("b")).unwrap().kid.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn an_unknown_kid_asks_for_a_refetch() {
        // OIDC Core 10.1.1: an unknown kid means rotation; the caller refetches once.
        let keys = [key(Some("a"))];
        assert_eq!(
            select_key(&keys, Some("B")),
            Err(KeySelectError::UnknownKid { kid: "B".into() })
        );
        assert!(matches!(
            select_key(&[], Some("a")),
            Err(KeySelectError::UnknownKid { .. })
        ));
    }

    #[test]
    fn without_a_kid_only_a_single_key_is_chosen() {
        // Never guess among several keys.
        assert!(select_key(&[key(None)], None).is_ok());
        assert_eq!(
            select_key(&[key(Some("a")), key(Some("b"))], None),
            Err(KeySelectError::AmbiguousKey)
        );
        assert_eq!(select_key(&[], None), Err(KeySelectError::NoKeys));
    }

    #[test]
    fn a_mixed_set_keeps_only_rs256_verification_keys_and_a_duplicated_kid_chooses_none() {
        // RFC 7517 4.1-4.4 and RFC 7518 3.3, as hashgate-api and the SPA both apply them: one
        // rule for every consumer. A kid published twice is ambiguous (RFC 7517 4.5), so no
        // key is chosen for it, whichever comes first.
        let short = URL_SAFE_NO_PAD.encode([0xc5u8; 64]);
        let s = set(json!([
            rsa("good"),
            {"kty": "RSA", "kid": "good-bare", "n": n2048(), "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "oct", "kid": "oct", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": n2048(), "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": n2048(), "e": "AQAB"},
            {"kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": n2048(), "e": "AQAB"},
            {"kty": "RSA", "kid": "bad-n", "n": "!!!", "e": "AQAB"},
            {"kty": "RSA", "kid": "no-e", "n": n2048()},
            {"kty": "RSA", "kid": "short", "n": short, "e": "AQAB"},
            {"kty": "RSA", "kid": "good", "n": n2048(), "e": "AQAB"},
            "not an object",
        ]));
        let keys = s.usable_rsa_keys();
        assert_eq!(kids(&keys), vec!["good", "good-bare", "good"]);
        assert_eq!(
            select_key(&keys, Some("good")),
            Err(KeySelectError::AmbiguousKey)
        );
        assert_eq!(
            select_key(&keys, Some("good-bare")).unwrap().kid.as_deref(),
            Some("good-bare")
        );
        for unusable in ["ec", "oct", "enc", "ps", "ops", "bad-n", "no-e", "short"] {
            assert!(
                matches!(
                    select_key(&keys, Some(unusable)),
                    Err(KeySelectError::UnknownKid { .. })
                ),
                "{unusable}"
            );
        }
    }

    #[test]
    fn a_kid_published_twice_is_ambiguous() {
        // Never guess among several keys.
        let keys = [key(Some("a")), key(Some("a"))];
        assert_eq!(
            select_key(&keys, Some("a")),
            Err(KeySelectError::AmbiguousKey)
        );
    }
}
