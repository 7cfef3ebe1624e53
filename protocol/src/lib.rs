//! `hashgate-protocol`: the pure OAuth 2.0 implicit-grant / OpenID Connect client logic of
//! the Hashgate SPA.
//!
//! No I/O, no browser, no network, no clock, no randomness: the SPA passes in the time
//! (`now`, unix seconds), random bytes, parsed JSON (as [`Json`], read with [`FromJson`]) and
//! SHA-256 digests / signature verdicts from WebCrypto, and gets back decisions. Everything
//! here is tested natively and compiles for `wasm32-unknown-unknown` without a JSON, URL,
//! regex or crypto crate.
//!
//! # What it guarantees
//! - Secrets ([`AccessToken`], [`IdToken`], [`RefreshToken`], [`AuthorizationCode`],
//!   [`CodeVerifier`], [`State`], [`Nonce`]) print as `[redacted]` and compare in constant
//!   time; every type that holds one prints it redacted too (the responses, [`Transaction`],
//!   [`TokenEndpointResponse`], [`JwtParts`], [`SplitQuery`]).
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

// `json_object!` names serde by this crate's name in its `#[serde(...)]` strings, where
// `$crate` cannot go; this makes that name work inside the crate too.
extern crate self as hashgate_protocol;

pub mod authorize;
pub mod base64url;
pub mod claims;
pub mod config;
pub mod discovery;
pub mod dpop;
pub mod dpop_client;
pub mod error;
pub mod fragment;
pub mod json;
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
pub use json::{FromJson, Json, JsonError, ToJson};
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

    /// Reads `text` both ways: the crate's own reader and the serde derive (what the servers
    /// use); both must accept the same documents and read them the same.
    fn read_both<T>(text: &str) -> Option<T>
    where
        T: FromJson + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let ours = T::from_json(&json::parse(text)).ok();
        let serde = serde_json::from_str::<T>(text).ok();
        assert_eq!(ours, serde, "{text}");
        ours
    }

    #[test]
    fn the_json_readers_agree_with_the_serde_derives_on_good_and_hostile_documents() {
        // docs/contract.md §1 and OIDC Discovery §3, RFC 7517 §5, RFC 7515 §4, OIDC Core §2,
        // RFC 6749 §5.1–5.2: the SPA's readers accept exactly what the servers' serde reading
        // accepts. (One known difference is left out: `2.0` is an integer to a browser, which
        // cannot tell it from `2`, and to the readers; serde_json refuses it for an integer.)
        let discovery = r#"{"issuer":"https://id.example/","authorization_endpoint":"https://id.example/authorize","jwks_uri":"https://id.example/jwks","userinfo_endpoint":null,"response_modes_supported":["fragment","web_message"],"token_endpoint":"https://id.example/token","revocation_endpoint":"https://id.example/revoke","code_challenge_methods_supported":["S256"],"authorization_response_iss_parameter_supported":true,"extra":{"a":[1,2.5]}}"#;
        assert!(read_both::<ProviderMetadata>(discovery).is_some());
        for bad in [
            r#"{"issuer":"https://id.example/","authorization_endpoint":"https://id.example/authorize"}"#,
            r#"{"issuer":5,"authorization_endpoint":"a","jwks_uri":"j"}"#,
            r#"{"issuer":"i","authorization_endpoint":"a","jwks_uri":"j","response_modes_supported":"fragment"}"#,
            r#"{"issuer":"i","authorization_endpoint":"a","jwks_uri":"j","response_modes_supported":[1]}"#,
            r#"{"issuer":"i","authorization_endpoint":"a","jwks_uri":"j","token_endpoint":7}"#,
            r#"{"issuer":"i","authorization_endpoint":"a","jwks_uri":"j","code_challenge_methods_supported":"S256"}"#,
            r#"{"issuer":"i","authorization_endpoint":"a","jwks_uri":"j","authorization_response_iss_parameter_supported":"true"}"#,
            r#"["issuer"]"#,
            "null",
        ] {
            assert_eq!(read_both::<ProviderMetadata>(bad), None, "{bad}");
        }

        let jwks = r#"{"keys":[{"kty":"RSA","kid":"a","use":"sig","alg":"RS256","n":"AQAB","e":"AQAB","key_ops":["verify"],"x5c":["MII"]},"not a key",{"kty":7},{"n":"x"},null,[],{"kty":"EC","crv":"P-256"}]}"#;
        let set = read_both::<JwkSet>(jwks).unwrap();
        assert_eq!(set.keys.len(), 2, "{set:?}");
        for bad in [r#"{"keys":"x"}"#, "{}", r#"{"keys":null}"#, "[]"] {
            assert_eq!(read_both::<JwkSet>(bad), None, "{bad}");
        }

        for text in [
            r#"{"alg":"RS256","kid":"k","typ":"JWT","extra":1}"#,
            r#"{"alg":"RS256","jku":null}"#,
            r#"{"alg":"RS256","crit":["b64"],"x5c":[],"jwk":{},"x5u":""}"#,
            r#"{"alg":"RS256","kid":null}"#,
            r#"{"kid":"k"}"#,
            r#"{"alg":null}"#,
            r#"{"alg":256}"#,
            r#"{"alg":"RS256","kid":5}"#,
        ] {
            let ours = JwtHeader::from_json(&json::parse(text)).ok();
            let serde = serde_json::from_str::<JwtHeader>(text).ok();
            // `IgnoredAny` has no equality: compare what the checks read.
            let seen = |h: &Option<JwtHeader>| {
                h.as_ref().map(|h| {
                    let present = [&h.jku, &h.x5u, &h.jwk, &h.x5c, &h.crit].map(|p| p.is_some());
                    (h.alg.clone(), h.kid.clone(), h.typ.clone(), present)
                })
            };
            assert_eq!(seen(&ours), seen(&serde), "{text}");
        }

        let claims = r#"{"iss":"https://id.example/","sub":"u1","aud":["spa","api"],"exp":1700000600,"iat":1700000000,"nonce":"n","at_hash":"h","azp":"spa","auth_time":1700000000,"name":"N","nickname":null,"email":"e@x","picture":"p","https://ns/roles":["admin"]}"#;
        assert!(read_both::<IdTokenClaims>(claims).is_some());
        for text in [
            r#"{"iss":"i","aud":"spa","exp":2,"iat":1}"#,
            r#"{"iss":"i","aud":"spa","exp":2.5,"iat":1}"#,
            r#"{"iss":"i","aud":"spa","exp":"2","iat":1}"#,
            r#"{"iss":"i","aud":5,"exp":2,"iat":1}"#,
            r#"{"iss":"i","aud":["spa",5],"exp":2,"iat":1}"#,
            r#"{"iss":"i","aud":[],"exp":2,"iat":1}"#,
            r#"{"iss":"i","exp":2,"iat":1}"#,
            r#"{"iss":"i","aud":"spa","iat":1}"#,
            r#"{"iss":"i","aud":"spa","exp":2,"iat":1,"sub":5}"#,
            r#"{"iss":"i","aud":"spa","exp":2,"iat":1,"auth_time":"x"}"#,
            r#"{"iss":null,"aud":"spa","exp":2,"iat":1}"#,
        ] {
            read_both::<IdTokenClaims>(text);
        }

        for text in [
            r#"{"issuer":"https://id.example/","clientId":"spa","logoutIdTokenHint":true,"unknown":1}"#,
            r#"{"domain":"t.example","clientId":null,"scope":"openid"}"#,
            r#"{"responseType":"code","useRefreshTokens":true}"#,
            r#"{"useRefreshTokens":"yes"}"#,
            r#"{"clientId":5}"#,
            r#"{"logoutIdTokenHint":"yes"}"#,
            "{}",
            "[]",
            r#""text""#,
        ] {
            read_both::<RawAuthConfig>(text);
        }

        let store = r#"{"entries":[{"state":"s","nonce":"n","return_to":"/p","created_at":100},{"state":"t","nonce":"m","return_to":"/","created_at":101,"code_verifier":"v"}]}"#;
        let read = read_both::<TransactionStore>(store).unwrap();
        assert_eq!(read.entries.len(), 2);
        assert!(read.entries[1].code_verifier.is_some());
        assert_eq!(
            read_both::<TransactionStore>(&read.to_json().to_text()),
            Some(read.clone())
        );
        // What the readers write is what serde writes, member for member.
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&read.to_json().to_text()).unwrap(),
            serde_json::to_value(&read).unwrap()
        );
        for text in [
            "{}",
            r#"{"entries":[{"state":"s","nonce":"n","return_to":"/p"}]}"#,
            r#"{"entries":[{"state":"s","nonce":"n","return_to":"/p","created_at":"1"}]}"#,
            r#"{"entries":[{"state":"s","nonce":"n","return_to":"/p","created_at":1,"code_verifier":5}]}"#,
            r#"{"entries":{}}"#,
            r#"{"entries":null}"#,
            r#"{"entries":[null]}"#,
        ] {
            read_both::<TransactionStore>(text);
        }

        let tokens = r#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"id_token":"a.b.c","scope":"openid offline_access","refresh_token":"rt","unknown":[1]}"#;
        assert!(read_both::<TokenEndpointResponse>(tokens).is_some());
        for text in [
            "{}",
            r#"{"access_token":null,"expires_in":null}"#,
            r#"{"expires_in":-1}"#,
            r#"{"expires_in":"3600"}"#,
            r#"{"expires_in":3600.5}"#,
            r#"{"access_token":5}"#,
            r#"{"refresh_token":["rt"]}"#,
            "null",
        ] {
            read_both::<TokenEndpointResponse>(text);
        }
        // Stricter than serde's derive, which reads an array as the fields in order (so `[]`
        // as an answer without tokens): an answer must be a JSON object (RFC 6749 §5.1).
        assert!(TokenEndpointResponse::from_json(&json::parse("[]")).is_err());
        for text in [
            r#"{"error":"invalid_grant","error_description":"spent"}"#,
            r#"{"error":"invalid_grant","error_description":null}"#,
            r#"{"error_description":"no code"}"#,
            r#"{"error":400}"#,
            r#"{"error":"x","error_description":{}}"#,
        ] {
            read_both::<TokenErrorResponse>(text);
        }
    }

    /// Writes `value` both ways, [`ToJson`] (the SPA's storage) and the serde derive; both must
    /// write the same members, and the crate's reader must read the result back unchanged.
    fn write_both<T>(value: &T)
    where
        T: ToJson + FromJson + serde::Serialize + PartialEq + std::fmt::Debug,
    {
        let text = value.to_json().to_text();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            serde_json::to_value(value).unwrap(),
            "{text}"
        );
        assert_eq!(
            T::from_json(&json::parse(&text)).as_ref(),
            Ok(value),
            "{text}"
        );
    }

    #[test]
    fn the_json_writers_agree_with_the_serde_derives() {
        // What the SPA writes (session storage) is what the servers' serde writes, member for
        // member, with absent optional members left out, for every type declared with
        // `json_object!` that has both writers.
        fn read<T: FromJson>(text: &str) -> T {
            T::from_json(&json::parse(text)).unwrap()
        }
        write_both(&read::<ProviderMetadata>(
            r#"{"issuer":"i","authorization_endpoint":"a","jwks_uri":"j","response_modes_supported":["fragment"],"authorization_response_iss_parameter_supported":false}"#,
        ));
        write_both(&read::<JwkSet>(
            r#"{"keys":[{"kty":"RSA","kid":"a","use":"sig","alg":"RS256","n":"AQAB","e":"AQAB","key_ops":["verify"]},{"kty":"EC"}]}"#,
        ));
        write_both(&JwkSet::default());
        for aud in [r#""spa""#, r#"["spa","api"]"#] {
            write_both(&read::<IdTokenClaims>(&format!(
                r#"{{"iss":"i","sub":"u","aud":{aud},"exp":2,"iat":1,"nonce":"n","auth_time":1,"email":"e"}}"#
            )));
        }
        write_both(&read::<RawAuthConfig>(
            r#"{"issuer":"i","clientId":"spa","responseType":"code","useRefreshTokens":true}"#,
        ));
        write_both(&RawAuthConfig::default());
        write_both(&read::<TransactionStore>(
            r#"{"entries":[{"state":"s","nonce":"n","return_to":"/","created_at":1,"code_verifier":"v"},{"state":"t","nonce":"m","return_to":"/p","created_at":2}]}"#,
        ));
        write_both(&read::<TokenEndpointResponse>(
            r#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"id_token":"a.b.c","refresh_token":"rt"}"#,
        ));
        write_both(&TokenEndpointResponse::default());
        write_both(&read::<TokenErrorResponse>(r#"{"error":"invalid_grant"}"#));
        write_both(&read::<TokenErrorResponse>(
            r#"{"error":"invalid_grant","error_description":"spent"}"#,
        ));
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
