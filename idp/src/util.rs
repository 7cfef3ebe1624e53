//! Small helpers shared by the handlers: time, randomness, hashing and URL
//! encoding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

/// What `Debug` prints in place of a secret (tokens, codes, verifiers, passwords, keys):
/// logs and panic messages never carry one.
pub const REDACTED: &str = "[redacted]";

/// Current unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// 32 random bytes from the OS, base64url encoded (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `s` looks like a value made by [`random_token`].
pub fn is_token_shaped(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Base64url SHA-256, used to store session cookies hashed.
pub fn sha256_b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(s.as_bytes()))
}

/// OIDC Core 3.2.2.9 `at_hash`: base64url of the left half of SHA-256 of the ASCII
/// access token.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// RFC 7636 §4.2 S256: `BASE64URL(SHA256(ASCII(code_verifier)))`, the
/// `code_challenge` a verifier answers.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Compares secrets without an early exit, so timing does not reveal a prefix.
pub fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Encodes pairs as `application/x-www-form-urlencoded`, with spaces as `%20` so
/// that both URLSearchParams-style and strict percent-decoders read them alike.
pub fn encode_params<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    // A literal '+' is already encoded as %2B, so every remaining '+' is a space.
    ser.finish().replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_core_example() {
        // OIDC Core A.3: access token and at_hash of the example id_token.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn s256_matches_the_rfc_7636_appendix_b_example() {
        // RFC 7636 Appendix B: the verifier and the challenge derived from it.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn params_encode_spaces_plus_and_markup() {
        assert_eq!(
            encode_params([("scope", "a b+c"), ("s", "<x>&#")]),
            "scope=a%20b%2Bc&s=%3Cx%3E%26%23"
        );
    }

    #[test]
    fn constant_time_compare_matches_equality() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "ab"));
    }

    #[test]
    fn random_tokens_are_unique_and_token_shaped() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert!(is_token_shaped(&a));
        assert!(!is_token_shaped("short"));
    }
}
