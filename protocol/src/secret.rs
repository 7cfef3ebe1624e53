//! Newtypes for protocol values that must never leak into logs: tokens, `state`, `nonce`.
//!
//! `Debug` prints `[redacted]`, there is no `Display`, the value is read through
//! `.secret()`, and equality is constant-time. Serde sees the plain string
//! (`#[serde(transparent)]`) and so do the members of [`json_object!`](crate::json_object)
//! types, so the types can be stored and restored.

use crate::base64url;
use crate::json::{Fields, Json, JsonError, ReadMember, WriteMember};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Compares two byte strings in time that depends only on their lengths, not on where
/// they differ, so an attacker cannot guess a secret byte by byte from timings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

/// What a hand-written `Debug` prints in place of a secret (`[redacted]`), as the secret
/// newtypes do.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Test support: `printed` (a `Debug` output) shows none of `secrets`, and says `[redacted]`.
#[cfg(test)]
pub(crate) fn assert_redacted(printed: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!printed.contains(secret), "{secret:?} leaks in {printed}");
    }
    assert!(printed.contains("[redacted]"), "{printed}");
}

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: String) -> Self {
                Self(value)
            }

            /// The value itself. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// Unwraps the value. Never log it.
            pub fn into_secret(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                ct_eq(self.0.as_bytes(), other.0.as_bytes())
            }
        }

        impl Eq for $name {}

        // Read and written as members through `String`'s own readers and writers, not as
        // `FromJson`/`ToJson` types of their own: one copy of that code in the download serves
        // every secret.
        impl ReadMember for $name {
            fn read_member(fields: &Fields<'_>, name: &str) -> Result<Self, JsonError> {
                String::read_member(fields, name).map(Self)
            }
        }

        impl ReadMember for Option<$name> {
            fn read_member(fields: &Fields<'_>, name: &str) -> Result<Self, JsonError> {
                Option::<String>::read_member(fields, name).map(|v| v.map($name))
            }
        }

        impl WriteMember for $name {
            fn write_member(&self, name: &str, members: &mut Vec<(String, Json)>) {
                self.0.write_member(name, members);
            }
        }

        impl WriteMember for Option<$name> {
            fn write_member(&self, name: &str, members: &mut Vec<(String, Json)>) {
                if let Some(value) = self {
                    value.write_member(name, members);
                }
            }

            fn is_absent(&self) -> bool {
                self.is_none()
            }
        }
    };
}

secret_string!(
    /// An OAuth 2.0 access token: opaque to the SPA, sent only as `Authorization: Bearer`.
    AccessToken
);
secret_string!(
    /// An OpenID Connect ID token (a compact JWS), trusted only after full validation.
    IdToken
);
secret_string!(
    /// The OAuth 2.0 `state` parameter, binding a response to the login this browser started.
    State
);
secret_string!(
    /// The OpenID Connect `nonce`, binding an ID token to the login this browser started.
    Nonce
);

secret_string!(
    /// An OAuth 2.0 refresh token (RFC 6749 §1.5): sent only to the token and revocation
    /// endpoints, and only with `useRefreshTokens`.
    RefreshToken
);
secret_string!(
    /// An OAuth 2.0 authorization code (RFC 6749 §4.1.2): single-use, redeemed once at the
    /// token endpoint together with its PKCE verifier.
    AuthorizationCode
);
secret_string!(
    /// A PKCE `code_verifier` (RFC 7636 §4.1): kept with the transaction in this tab and sent
    /// nowhere but the token endpoint.
    CodeVerifier
);

impl CodeVerifier {
    /// A fresh verifier from 32 random bytes supplied by the caller's CSPRNG: 43 characters
    /// of base64url (RFC 7636 §4.1 recommends exactly this; 43–128 characters are allowed).
    pub fn from_random(bytes: &[u8; 32]) -> Self {
        Self(base64url::encode(bytes))
    }

    /// The `code_challenge` for `code_challenge_method=S256` (RFC 7636 §4.2), given the
    /// SHA-256 digest of [`Self::secret`] (the caller hashes it with WebCrypto).
    pub fn s256_challenge(verifier_sha256: &[u8]) -> String {
        base64url::encode(verifier_sha256)
    }
}

impl State {
    /// A fresh state from 32 random bytes supplied by the caller's CSPRNG
    /// (256 bits, base64url without padding: 43 URL-safe characters).
    pub fn from_random(bytes: &[u8; 32]) -> Self {
        Self(base64url::encode(bytes))
    }
}

impl Nonce {
    /// A fresh nonce from 32 random bytes supplied by the caller's CSPRNG
    /// (256 bits, base64url without padding: 43 URL-safe characters).
    pub fn from_random(bytes: &[u8; 32]) -> Self {
        Self(base64url::encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_matches_rfc_7636_appendix_b() {
        // RFC 7636 Appendix B: the example verifier and its S256 challenge.
        use sha2::{Digest as _, Sha256};
        let bytes: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = CodeVerifier::from_random(&bytes);
        assert_eq!(
            verifier.secret(),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        let digest = Sha256::digest(verifier.secret().as_bytes());
        assert_eq!(
            CodeVerifier::s256_challenge(&digest),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_verifier_is_43_unreserved_characters() {
        // RFC 7636 §4.1: 43–128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
        let verifier = CodeVerifier::from_random(&[0xfb; 32]);
        assert_eq!(verifier.secret().len(), 43);
        assert!(verifier
            .secret()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')));
        assert_eq!(format!("{verifier:?}"), "[redacted]");
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        // Rule: tokens are never logged.
        let token = AccessToken::new("s3cr3t-token".to_owned());
        let printed = format!("{token:?} {:?}", Some(IdToken::new("eyJabc".to_owned())));
        assert!(!printed.contains("s3cr3t"));
        assert!(!printed.contains("eyJ"));
        assert_eq!(format!("{token:?}"), "[redacted]");
    }

    // Rule: tokens, codes and verifiers are never logged; one test per secret type.
    const SECRET: &str = "s3cr3t-value";

    #[test]
    fn an_access_token_prints_redacted() {
        assert_redacted(&format!("{:?}", AccessToken::new(SECRET.into())), &[SECRET]);
    }

    #[test]
    fn an_id_token_prints_redacted() {
        assert_redacted(&format!("{:?}", IdToken::new(SECRET.into())), &[SECRET]);
    }

    #[test]
    fn a_state_prints_redacted() {
        assert_redacted(&format!("{:?}", State::new(SECRET.into())), &[SECRET]);
    }

    #[test]
    fn a_nonce_prints_redacted() {
        assert_redacted(&format!("{:?}", Nonce::new(SECRET.into())), &[SECRET]);
    }

    #[test]
    fn a_refresh_token_prints_redacted() {
        assert_redacted(
            &format!("{:?}", RefreshToken::new(SECRET.into())),
            &[SECRET],
        );
    }

    #[test]
    fn an_authorization_code_prints_redacted() {
        assert_redacted(
            &format!("{:?}", AuthorizationCode::new(SECRET.into())),
            &[SECRET],
        );
    }

    #[test]
    fn a_code_verifier_prints_redacted() {
        assert_redacted(
            &format!("{:?}", CodeVerifier::new(SECRET.into())),
            &[SECRET],
        );
    }

    #[test]
    fn secrets_serialize_as_plain_strings() {
        // State and nonce survive a round trip through sessionStorage.
        let state = State::new("abc".to_owned());
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, "\"abc\"");
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn state_and_nonce_from_random_are_url_safe_and_carry_256_bits() {
        // RFC 6749 10.10: state and nonce each ≥ 128 bits from the CSPRNG, URL-safe.
        let state = State::from_random(&[0xff; 32]);
        let nonce = Nonce::from_random(&[0xfb; 32]);
        for value in [state.secret(), nonce.secret()] {
            assert_eq!(value.len(), 43);
            assert!(value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        assert_ne!(
            State::from_random(&[1; 32]).secret(),
            State::from_random(&[2; 32]).secret()
        );
    }

    #[test]
    fn ct_eq_matches_only_identical_bytes() {
        // OIDC Core 3.2.2.11: nonce compared in constant time, and correctly.
        assert!(ct_eq(b"abc", b"abc"));
        assert!(ct_eq(b"", b""));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(!ct_eq(b"abc", b""));
        assert_ne!(Nonce::new("a".into()), Nonce::new("b".into()));
    }
}
