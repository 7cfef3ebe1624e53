//! Splitting a compact JWS (RFC 7515 7.1) and checking its JOSE header.
//!
//! This crate has no JSON parser and no RSA: [`split`] returns the decoded header and
//! payload JSON bytes plus the exact signing input and signature bytes; the SPA parses the
//! JSON (into [`JwtHeader`] and [`crate::IdTokenClaims`]) and verifies the signature with
//! WebCrypto. Nothing returned by `split` is trusted until [`check_header`], the signature
//! and [`crate::IdTokenVerifier`] have all passed.
//!
//! Base64url is strict: no padding (`=`), no standard-alphabet `+`/`/`, no whitespace, no
//! non-canonical trailing bits. RFC 7515 2 defines the encoding without padding, and
//! accepting variants would give one signature several spellings.

use crate::base64url;
use crate::error::{truncate, JwtError, ValidationError};
use crate::json::{Fields, JsonError};
use crate::json_object;
use crate::secret::Redacted;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// Largest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The decoded parts of a compact JWS. Nothing in it is verified. Together they are the token,
/// so `Debug` prints every part as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtParts {
    /// The JOSE header's JSON; parse it into [`JwtHeader`].
    pub header_json: Vec<u8>,
    /// The claims' JSON; parse it into [`crate::IdTokenClaims`] only after the signature
    /// verifies.
    pub payload_json: Vec<u8>,
    /// `base64url(header) "." base64url(payload)`, exactly as in the token: the bytes the
    /// signature covers.
    pub signing_input: String,
    /// The raw signature bytes (for RS256, as long as the key's modulus).
    pub signature: Vec<u8>,
}

impl fmt::Debug for JwtParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtParts")
            .field("header_json", &Redacted)
            .field("payload_json", &Redacted)
            .field("signing_input", &Redacted)
            .field("signature", &Redacted)
            .finish()
    }
}

/// Splits a compact JWS into its decoded parts: exactly three non-empty, strict base64url
/// segments, at most [`MAX_TOKEN_LEN`] bytes in total.
pub fn split(token: &str) -> Result<JwtParts, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLarge);
    }
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(JwtError::WrongSegmentCount);
    };
    Ok(JwtParts {
        header_json: decode(header, "header")?,
        payload_json: decode(payload, "payload")?,
        signing_input: format!("{header}.{payload}"),
        signature: decode(signature, "signature")?,
    })
}

fn decode(segment: &str, which: &'static str) -> Result<Vec<u8>, JwtError> {
    if segment.is_empty() {
        return Err(JwtError::EmptySegment { segment: which });
    }
    base64url::decode(segment).ok_or(JwtError::InvalidBase64 { segment: which })
}

json_object! {
    /// The JOSE header fields this app looks at. The key-carrying parameters are recorded only
    /// as present or absent: their values are never used.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct JwtHeader: FromJson {
        /// The signature algorithm (`RS256`, …).
        pub alg: String = "alg",
        /// Which key of the provider's JWKS signed the token.
        pub kid: Option<String> = "kid",
        /// The media type (`JWT`), informational.
        pub typ: Option<String> = "typ",
        /// A URL to fetch keys from: never trusted.
        #[serde(default, deserialize_with = "presence")]
        pub jku: Option<IgnoredAny> = "jku" with present,
        /// A URL to fetch a certificate from: never trusted.
        #[serde(default, deserialize_with = "presence")]
        pub x5u: Option<IgnoredAny> = "x5u" with present,
        /// An embedded key: never trusted.
        #[serde(default, deserialize_with = "presence")]
        pub jwk: Option<IgnoredAny> = "jwk" with present,
        /// An embedded certificate chain: never trusted.
        #[serde(default, deserialize_with = "presence")]
        pub x5c: Option<IgnoredAny> = "x5c" with present,
        /// Critical extensions this app does not implement.
        #[serde(default, deserialize_with = "presence")]
        pub crit: Option<IgnoredAny> = "crit" with present,
    }
}

/// `Some` whenever the member exists, even as `null`: presence alone is refused.
fn presence<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IgnoredAny>, D::Error> {
    IgnoredAny::deserialize(d).map(Some)
}

/// The [`FromJson`] reading of [`presence`]: the member is there, whatever its value.
fn present(fields: &Fields<'_>, name: &str) -> Result<Option<IgnoredAny>, JsonError> {
    Ok(fields.has(name).then_some(IgnoredAny))
}

/// Checks the JOSE header against the rules of this product: `alg` must not be `none` (any
/// letter case) nor an HMAC `HS*` algorithm, must be in `allowed` (exact match), and none of
/// `jku`, `x5u`, `jwk`, `x5c`, `crit` may be present (RFC 8725 3.1, 3.10).
pub fn check_header(h: &JwtHeader, allowed: &[&str]) -> Result<(), ValidationError> {
    if h.alg.eq_ignore_ascii_case("none") {
        return Err(ValidationError::AlgNone);
    }
    if h.alg.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("hs")) {
        return Err(ValidationError::SymmetricAlgorithm {
            alg: truncate(&h.alg, 16),
        });
    }
    if !allowed.contains(&h.alg.as_str()) {
        return Err(ValidationError::DisallowedAlgorithm {
            alg: truncate(&h.alg, 16),
        });
    }
    let forbidden = [
        ("jku", h.jku.is_some()),
        ("x5u", h.x5u.is_some()),
        ("jwk", h.jwk.is_some()),
        ("x5c", h.x5c.is_some()),
        ("crit", h.crit.is_some()),
    ];
    match forbidden.iter().find(|(_, present)| *present) {
        Some((name, _)) => Err(ValidationError::ForbiddenHeader { name }),
        None => Ok(()),
    }
}

/// Decoding without verification, for display only.
pub mod dangerous {
    use crate::error::JwtError;

    /// Decodes one base64url segment of a token WITHOUT verifying anything, for the token
    /// inspector on the profile page. Never base a decision on the result.
    pub fn decode_segment_unverified(seg: &str) -> Result<Vec<u8>, JwtError> {
        if seg.len() > super::MAX_TOKEN_LEN {
            return Err(JwtError::TooLarge);
        }
        super::decode(seg, "segment")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn b64(s: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn header(json: &str) -> JwtHeader {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_compact_jws_splits_into_decoded_parts() {
        // RFC 7515 7.1: BASE64URL(header) . BASE64URL(payload) . BASE64URL(signature)
        let (h, p) = (b64(br#"{"alg":"RS256"}"#), b64(br#"{"sub":"1"}"#));
        let token = format!("{h}.{p}.{}", b64(&[1, 2, 3]));
        let parts = split(&token).unwrap();
        assert_eq!(parts.header_json, br#"{"alg":"RS256"}"#);
        assert_eq!(parts.payload_json, br#"{"sub":"1"}"#);
        assert_eq!(parts.signing_input, format!("{h}.{p}"));
        assert_eq!(parts.signature, vec![1, 2, 3]);
    }

    #[test]
    fn a_token_without_exactly_three_segments_is_rejected() {
        // RFC 7515 7.1 compact serialization; JWE (five parts) is not accepted.
        for t in ["abc", "a.b", "a.b.c.d", "a.b.c.d.e"] {
            assert_eq!(split(t), Err(JwtError::WrongSegmentCount), "{t}");
        }
    }

    #[test]
    fn an_unsigned_token_with_an_empty_signature_is_rejected() {
        // Rule: never alg none; an empty signature is the alg-none shape.
        let t = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(b"{}"));
        assert_eq!(
            split(&t),
            Err(JwtError::EmptySegment {
                segment: "signature"
            })
        );
        assert_eq!(
            split("..AQID"),
            Err(JwtError::EmptySegment { segment: "header" })
        );
    }

    #[test]
    fn padding_standard_alphabet_and_whitespace_are_rejected() {
        // RFC 7515 2: base64url without padding; one spelling per signature.
        let (h, p) = (b64(br#"{"alg":"RS256"}"#), b64(b"{}"));
        for sig in ["AQI=", "ab+/", "AQ I", "AQ\n", "AR"] {
            let t = format!("{h}.{p}.{sig}");
            assert_eq!(
                split(&t),
                Err(JwtError::InvalidBase64 {
                    segment: "signature"
                }),
                "{sig:?}"
            );
        }
    }

    #[test]
    fn an_oversized_token_is_rejected() {
        // Bounded work on hostile input.
        let t = format!("a.{}.b", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(split(&t), Err(JwtError::TooLarge));
    }

    #[test]
    fn an_allowed_rs256_header_passes() {
        // RFC 8725 3.1: RS256 is on the allow-list.
        let h = header(r#"{"alg":"RS256","kid":"k1","typ":"JWT","extra":1}"#);
        assert_eq!(h.kid.as_deref(), Some("k1"));
        assert_eq!(check_header(&h, &["RS256"]), Ok(()));
    }

    #[test]
    fn alg_none_in_any_case_is_rejected_even_if_allowed() {
        // RFC 8725 3.1: never accept alg none.
        for alg in ["none", "NONE", "None", "nOnE"] {
            let h = header(&format!(r#"{{"alg":"{alg}"}}"#));
            assert_eq!(
                check_header(&h, &["RS256", alg]),
                Err(ValidationError::AlgNone)
            );
        }
    }

    #[test]
    fn hmac_algorithms_are_rejected_even_if_allowed() {
        // RFC 8725 3.1: never HS* with a public key (key confusion).
        for alg in ["HS256", "HS384", "HS512", "hs256"] {
            let h = header(&format!(r#"{{"alg":"{alg}"}}"#));
            assert!(
                matches!(
                    check_header(&h, &["RS256", alg]),
                    Err(ValidationError::SymmetricAlgorithm { .. })
                ),
                "{alg}"
            );
        }
    }

    #[test]
    fn an_algorithm_outside_the_allow_list_is_rejected() {
        // RFC 8725 3.1: algorithm allow-list, exact match.
        for alg in ["RS512", "ES256", "rs256", "PS256"] {
            let h = header(&format!(r#"{{"alg":"{alg}"}}"#));
            assert!(
                matches!(
                    check_header(&h, &["RS256"]),
                    Err(ValidationError::DisallowedAlgorithm { .. })
                ),
                "{alg}"
            );
        }
    }

    #[test]
    fn key_carrying_and_critical_headers_are_rejected() {
        // Rule: never keys from jku/x5u/jwk/x5c headers; RFC 7515 4.1.11 crit not understood.
        for (name, value) in [
            ("jku", r#""https://evil.example/jwks""#),
            ("x5u", r#""https://evil.example/cert""#),
            ("jwk", r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#),
            ("x5c", r#"["MIIB"]"#),
            ("crit", r#"["b64"]"#),
            ("jku", "null"),
        ] {
            let h = header(&format!(r#"{{"alg":"RS256","{name}":{value}}}"#));
            assert_eq!(
                check_header(&h, &["RS256"]),
                Err(ValidationError::ForbiddenHeader {
                    name: match name {
                        "jku" => "jku",
                        "x5u" => "x5u",
                        "jwk" => "jwk",
                        "x5c" => "x5c",
                        _ => "crit",
                    }
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn a_header_without_alg_fails_to_parse() {
        // A header without alg is malformed, never defaulted.
        assert!(serde_json::from_str::<JwtHeader>(r#"{"kid":"k"}"#).is_err());
    }

    #[test]
    fn the_unverified_decoder_decodes_one_segment_for_display() {
        // The token inspector shows decoded header and claims (docs/contract.md §2).
        let seg = b64(br#"{"sub":"u"}"#);
        assert_eq!(
            dangerous::decode_segment_unverified(&seg).unwrap(),
            br#"{"sub":"u"}"#
        );
        assert!(dangerous::decode_segment_unverified("a=").is_err());
        assert!(dangerous::decode_segment_unverified("").is_err());
    }

    #[test]
    fn jwt_parts_print_redacted() {
        // Rule: tokens are never logged; the parts of a token are the token.
        let token = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"RS256"}"#),
            b64(br#"{"nonce":"NONCE-s3cr3t"}"#),
            b64(b"SIG-s3cr3t")
        );
        let parts = split(&token).unwrap();
        let (signing_input, _) = token.rsplit_once('.').unwrap();
        let payload_bytes = format!("{:?}", parts.payload_json);
        let signature_bytes = format!("{:?}", parts.signature);
        crate::secret::assert_redacted(
            &format!("{parts:?}"),
            &[signing_input, &payload_bytes, &signature_bytes, "s3cr3t"],
        );
    }
}
