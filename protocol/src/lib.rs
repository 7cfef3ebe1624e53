//! `hashgate-protocol`: the pure OAuth 2.0 implicit-grant / OpenID Connect client logic of
//! the Hashgate SPA.
//!
//! No I/O, no browser, no network, no clock, no randomness: the SPA passes in the time
//! (`now`, unix seconds), random bytes, parsed JSON (as typed structs) and SHA-256 digests
//! / signature verdicts from WebCrypto, and gets back decisions. Everything here is tested
//! natively and compiles for `wasm32-unknown-unknown` without a JSON, URL, regex or crypto
//! crate.
//!
//! # What it guarantees
//! - Secrets ([`AccessToken`], [`IdToken`], [`State`], [`Nonce`]) print as `[redacted]`
//!   and compare in constant time.
//! - Untrusted input (fragment, tokens, JWKS, discovery, config, return-to) is bounded in
//!   size and never makes it panic; every failure is a typed error with a sentence a user
//!   can read.
//! - An ID token passes only if the SPA runs, in order: [`parse_fragment`],
//!   [`TransactionStore::take`] (single-use `state`), [`TokenResponse::check_token_type`] and
//!   [`TokenResponse::check_response_type`], [`jwt::split`], [`check_header`] (never `none`,
//!   never `HS*`, never `jku`/`x5u`/`jwk`/`x5c`/`crit`), [`select_key`] + the WebCrypto
//!   signature check over [`JwtParts::signing_input`], [`IdTokenVerifier::verify`]
//!   (iss, aud, azp, exp, iat, sub, nonce) and [`check_at_hash`].
//! - Redirect targets are same-origin paths only ([`sanitize_return_to`]).
//!
//! # Sketch of the callback
//! ```
//! use hashgate_protocol::*;
//! let response = parse_fragment("#error=login_required&state=abc").unwrap();
//! if let AuthorizationResponse::Error(e) = response {
//!     assert_eq!(describe_oauth_error(&e.error), "You need to sign in again.");
//! }
//! ```

#![warn(missing_docs)]
// Tests may unwrap: a panic there is a failing test, which is the point.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod authorize;
pub mod base64url;
pub mod claims;
pub mod config;
pub mod discovery;
pub mod error;
pub mod fragment;
pub mod jwks;
pub mod jwt;
pub mod lease;
pub mod return_to;
pub mod scope;
pub mod secret;
pub mod token;
pub mod transaction;
pub mod url;

pub use authorize::{logout_url, AuthorizeRequest};
pub use claims::{
    at_hash_from_sha256, check_at_hash, check_at_hash_if_present, Audience, IdTokenClaims,
    IdTokenVerifier,
};
pub use config::{AuthConfig, CacheLocation, RawAuthConfig, ResponseType};
pub use discovery::ProviderMetadata;
pub use error::{
    describe_oauth_error, ConfigError, DiscoveryError, FragmentError, JwtError, KeySelectError,
    TransactionError, ValidationError,
};
pub use fragment::{
    looks_like_authorization_response, parse_fragment, split_query, AuthorizationResponse,
    CodeResponse, ErrorResponse, SplitQuery, TokenResponse,
};
pub use jwks::{select_key, Jwk, JwkSet, RsaPublicJwk};
pub use jwt::{check_header, JwtHeader, JwtParts};
pub use return_to::sanitize_return_to;
pub use secret::{
    ct_eq, AccessToken, AuthorizationCode, CodeVerifier, IdToken, Nonce, RefreshToken, State,
};
pub use token::{TokenEndpointResponse, TokenErrorResponse};
pub use transaction::{Transaction, TransactionStore};
pub use url::{append_query, encode_component, origin_of};

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random strings built from the characters parsers trip on.
    fn hostile_strings(count: usize) -> Vec<String> {
        const PIECES: &[&str] = &[
            "%",
            "%2",
            "%zz",
            "%C3",
            "%A9",
            "%FF",
            "+",
            "&",
            "=",
            "#",
            "?",
            "/",
            "\\",
            "//",
            ".",
            "..",
            ":",
            "@",
            "[",
            "]",
            "[::1]",
            ":443",
            ":0",
            ":99999",
            "http://",
            "https://",
            "state",
            "id_token",
            "access_token",
            "error",
            "expires_in",
            "é",
            "\u{0}",
            "\n",
            " ",
            "a",
            "A",
            "-",
            "_",
            "=",
            "eyJ",
            "\u{2028}",
            "localhost",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..count)
            .map(|_| {
                let len = (next() % 12) as usize;
                (0..len)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn hostile_inputs_never_panic_and_unsafe_ones_are_refused() {
        // Rule: no panics on any input; no open redirects.
        let (mut origins, mut paths) = (0, 0);
        for s in hostile_strings(20_000) {
            let _ = parse_fragment(&s);
            let _ = looks_like_authorization_response(&s);
            if let Some(split) = split_query(&s) {
                // Nothing is lost or invented: every pair lands on exactly one side.
                let before = s
                    .trim_start_matches('?')
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .count();
                let count = |q: &str| q.split('&').filter(|p| !p.is_empty()).count();
                assert_eq!(count(&split.response) + count(&split.rest), before, "{s:?}");
            }
            let _ = jwt::split(&s);
            let _ = jwt::dangerous::decode_segment_unverified(&s);
            let _ = scope::with_openid(&s);
            let raw = RawAuthConfig {
                issuer: Some(s.clone()),
                client_id: Some(s.clone()),
                api_origin: Some(s.clone()),
                redirect_path: Some(s.clone()),
                ..RawAuthConfig::default()
            };
            let _ = raw.validate();
            if let Some(origin) = origin_of(&s) {
                origins += 1;
                let (scheme, authority) = origin.split_once("://").unwrap();
                assert!(scheme == "http" || scheme == "https", "{s:?}");
                assert!(!authority.is_empty(), "{s:?}");
                assert!(
                    !authority.contains(['@', '\\', '/', '?', '#', ' ']),
                    "{s:?} -> {origin}"
                );
            }
            if let Some(path) = sanitize_return_to(&s) {
                paths += 1;
                assert!(path.starts_with('/') && !path.starts_with("//"), "{s:?}");
                assert!(!path.contains(['\\', '#', ' ', '\n']), "{s:?}");
            }
        }
        // The generator must reach the accepting paths, or the asserts above prove nothing.
        assert!(
            origins > 10 && paths > 10,
            "origins {origins}, paths {paths}"
        );
    }
}
