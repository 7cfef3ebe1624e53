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

// Tests may unwrap: a panic there is a failing test, which is the point.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod claims;
pub mod config;
pub mod discovery;
pub mod error;
pub mod fragment;
pub mod jwks;
pub mod jwt;
pub mod return_to;
pub mod scope;
pub mod secret;
pub mod transaction;
pub mod urls;

pub use claims::{at_hash_from_sha256, check_at_hash, Audience, IdTokenClaims, IdTokenVerifier};
pub use config::{AuthConfig, CacheLocation, RawAuthConfig, ResponseType};
pub use discovery::ProviderMetadata;
pub use error::{
    describe_oauth_error, ConfigError, DiscoveryError, FragmentError, JwtError, KeySelectError,
    TransactionError, ValidationError,
};
pub use fragment::{
    looks_like_authorization_response, parse_fragment, AuthorizationResponse, ErrorResponse,
    TokenResponse,
};
pub use jwks::{select_key, Jwk, JwkSet, RsaPublicJwk};
pub use jwt::{check_header, JwtHeader, JwtParts};
pub use return_to::{default_return_to, sanitize_return_to};
pub use secret::{ct_eq, AccessToken, IdToken, Nonce, State};
pub use transaction::{Transaction, TransactionStore};
pub use urls::{append_query, encode_component, logout_url, origin_of, AuthorizeRequest};
