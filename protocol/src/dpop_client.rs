//! DPoP proofs as the browser client builds them (RFC 9449): the JSON it signs, the key's
//! thumbprint input, the `htu` it names and the `DPoP-Nonce` it echoes. No I/O, no crypto.
//!
//! The SPA keeps a non-extractable P-256 key pair in WebCrypto and exports the public point
//! ([`P256PublicKey::from_uncompressed_point`]). For each request it fills a [`Proof`], signs
//! [`Proof::signing_input`] with ECDSA P-256 / SHA-256 (WebCrypto's signature is already the
//! JWS form `r || s`, RFC 7518 §3.4) and appends `.` and the signature in base64url. Hashing is
//! the caller's too, as everywhere in this crate: the SHA-256 of
//! [`P256PublicKey::thumbprint_input`] gives the key's thumbprint ([`thumbprint`], RFC 7638),
//! and the SHA-256 of the access token gives `ath` ([`Proof::access_token_sha256`]).
//!
//! The JSON is written by [`Json::to_text`]: members in the order given, strings escaped as
//! RFC 8259 §7 requires, no whitespace. That is RFC 7638 §3.3's canonical form when the members
//! are in lexicographic order, as [`P256PublicKey::thumbprint_input`] writes them.
//!
//! The proof carries the public key only (`crv`, `kty`, `x`, `y`): it has no field for a
//! private one.

use crate::base64url;
use crate::json::Json;
use crate::url::parse_http_url;
use thiserror::Error;

/// Longest `DPoP-Nonce` accepted, in bytes. Nonces are opaque server values of a few dozen
/// characters; one far longer is refused rather than echoed into every proof.
pub const MAX_NONCE_LEN: usize = 512;

/// Why a DPoP proof cannot be built from what was given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DpopClientError {
    /// A public key coordinate is not unpadded base64url of exactly 32 bytes
    /// (RFC 7518 §6.2.1.2: the full length, leading zeros kept).
    #[error("the DPoP key's \"{coordinate}\" is not a P-256 coordinate")]
    InvalidCoordinate {
        /// `x` or `y`.
        coordinate: &'static str,
    },
    /// The exported key is not an uncompressed P-256 point (`0x04 || x || y`, SEC 1 §2.3.3).
    #[error("the DPoP key is not an uncompressed P-256 point")]
    InvalidPoint,
    /// The request URL is not an absolute `http(s)` URL without user info.
    #[error("the request URL cannot be named in a DPoP proof")]
    InvalidUrl,
    /// The request URL is plain `http` to another machine: a proof, like the token it goes
    /// with, travels only over `https` (or to this machine).
    #[error("the request URL is not https")]
    InsecureUrl,
    /// The HTTP method is not an RFC 9110 §9.1 method name (a token).
    #[error("the HTTP method is not a valid method name")]
    InvalidMethod,
    /// The proof has no `jti` (RFC 9449 §4.2 requires a unique one).
    #[error("the DPoP proof has no jti")]
    EmptyJti,
    /// The nonce is not 1 to [`MAX_NONCE_LEN`] NQCHARs (RFC 9449 §8.1).
    #[error("the server's DPoP nonce is not a valid nonce")]
    InvalidNonce,
}

/// A P-256 public key as the coordinates of its JWK (RFC 7518 §6.2.1): `x` and `y`, each the
/// unpadded base64url of 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct P256PublicKey {
    x: String,
    y: String,
}

impl P256PublicKey {
    /// The key with these JWK coordinates, if each is unpadded base64url of exactly 32 bytes.
    pub fn new(x: &str, y: &str) -> Result<Self, DpopClientError> {
        let check = |value: &str, coordinate| match base64url::decode(value) {
            Some(bytes) if bytes.len() == 32 => Ok(value.to_owned()),
            _ => Err(DpopClientError::InvalidCoordinate { coordinate }),
        };
        Ok(Self {
            x: check(x, "x")?,
            y: check(y, "y")?,
        })
    }

    /// The key from its uncompressed point, as WebCrypto exports it in the `raw` format:
    /// `0x04`, then 32 bytes of `x` and 32 of `y` (SEC 1 §2.3.3).
    pub fn from_uncompressed_point(point: &[u8]) -> Result<Self, DpopClientError> {
        match point {
            [0x04, coordinates @ ..] if coordinates.len() == 64 => Ok(Self {
                x: base64url::encode(&coordinates[..32]),
                y: base64url::encode(&coordinates[32..]),
            }),
            _ => Err(DpopClientError::InvalidPoint),
        }
    }

    /// The `x` coordinate, base64url.
    pub fn x(&self) -> &str {
        &self.x
    }

    /// The `y` coordinate, base64url.
    pub fn y(&self) -> &str {
        &self.y
    }

    /// The public JWK: exactly `crv`, `kty`, `x` and `y` (RFC 9449 §4.2: the proof's `jwk`
    /// "MUST NOT contain a private key"), in the lexicographic order of RFC 7638 §3.3.
    pub fn to_jwk(&self) -> Json {
        Json::Object(vec![
            ("crv".into(), "P-256".into()),
            ("kty".into(), "EC".into()),
            ("x".into(), self.x.as_str().into()),
            ("y".into(), self.y.as_str().into()),
        ])
    }

    /// What the JWK thumbprint hashes (RFC 7638 §3.2, members of an EC key per §3.2 and
    /// RFC 7518 §6.2.1): `{"crv":"P-256","kty":"EC","x":"…","y":"…"}`. The caller takes its
    /// SHA-256 and passes the digest to [`thumbprint`].
    pub fn thumbprint_input(&self) -> String {
        self.to_jwk().to_text()
    }
}

/// The JWK SHA-256 thumbprint (RFC 7638 §3.1) from the SHA-256 digest of
/// [`P256PublicKey::thumbprint_input`]: base64url, the value of `dpop_jkt` (RFC 9449 §10) and
/// of a bound token's `cnf.jkt` (RFC 9449 §6.1).
pub fn thumbprint(thumbprint_input_sha256: &[u8; 32]) -> String {
    base64url::encode(thumbprint_input_sha256)
}

/// A fresh `jti` from 16 random bytes supplied by the caller's CSPRNG (128 bits: RFC 9449
/// §11.1 asks for enough randomness that a value is never reused).
pub fn jti_from_random(bytes: &[u8; 16]) -> String {
    base64url::encode(bytes)
}

/// The `htu` of a request to `url` (RFC 9449 §4.2, §4.3): the target URI without query and
/// fragment, scheme and host in lowercase, the default port dropped and an empty path
/// written `/` (the syntax- and scheme-based normalisation of RFC 3986 §6.2.2–6.2.3 that the
/// server applies when it compares). The path is kept as written.
///
/// Only `https` URLs, or `http` to this machine, are accepted: the proof goes with a token.
pub fn normalize_htu(url: &str) -> Result<String, DpopClientError> {
    let parsed = parse_http_url(url).ok_or(DpopClientError::InvalidUrl)?;
    if !parsed.is_secure() {
        return Err(DpopClientError::InsecureUrl);
    }
    let path = parsed.rest.split(['?', '#']).next().unwrap_or_default();
    let path = if path.is_empty() { "/" } else { path };
    Ok(parsed.origin() + path)
}

/// The nonce in a `DPoP-Nonce` response header (RFC 9449 §8.1, §9): `1*NQCHAR`
/// (RFC 6749 Appendix A: visible ASCII except `"` and `\`), at most [`MAX_NONCE_LEN`] bytes.
/// Surrounding spaces and tabs are not part of a field value (RFC 9110 §5.5) and are
/// trimmed; anything else, two values joined by a comma and a space included, is refused.
pub fn parse_dpop_nonce(header_value: &str) -> Result<&str, DpopClientError> {
    let nonce = header_value.trim_matches([' ', '\t']);
    check_nonce(nonce)?;
    Ok(nonce)
}

fn check_nonce(nonce: &str) -> Result<(), DpopClientError> {
    let nqchar = |b: u8| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e);
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || !nonce.bytes().all(nqchar) {
        return Err(DpopClientError::InvalidNonce);
    }
    Ok(())
}

/// Whether `method` is an RFC 9110 §9.1 method: a token (RFC 9110 §5.6.2). Methods are
/// case-sensitive, so `htm` is written exactly as the request sends it.
fn is_method(method: &str) -> bool {
    !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// One DPoP proof (RFC 9449 §4.2) for one request: what its header and claims say.
#[derive(Debug, Clone, Copy)]
pub struct Proof<'a> {
    /// The public half of the key that signs the proof.
    pub key: &'a P256PublicKey,
    /// The request's HTTP method (`GET`, `POST`, …), exactly as sent.
    pub htm: &'a str,
    /// The request's URL; the proof names it normalised by [`normalize_htu`].
    pub htu: &'a str,
    /// When the proof is made, unix seconds.
    pub iat: i64,
    /// A value never used before ([`jti_from_random`]).
    pub jti: &'a str,
    /// The server's latest `DPoP-Nonce` ([`parse_dpop_nonce`]), if it sent one.
    pub nonce: Option<&'a str>,
    /// The SHA-256 digest of the access token the request carries, which the proof binds as
    /// `ath` (RFC 9449 §4.2); `None` at the token endpoint, where there is no token yet. A
    /// digest, not the token: the token itself never goes into the proof.
    pub access_token_sha256: Option<&'a [u8; 32]>,
}

impl Proof<'_> {
    /// The JOSE header: `{"typ":"dpop+jwt","alg":"ES256","jwk":{…}}` (RFC 9449 §4.2).
    pub fn header(&self) -> Json {
        Json::Object(vec![
            ("typ".into(), "dpop+jwt".into()),
            ("alg".into(), "ES256".into()),
            ("jwk".into(), self.key.to_jwk()),
        ])
    }

    /// The claims: `jti`, `htm`, `htu`, `iat`, then `nonce` and `ath` when there are any
    /// (RFC 9449 §4.2). Refuses what a server could not accept: an empty `jti`, a method
    /// that is no method name, a URL that cannot be named, an invalid nonce.
    pub fn claims(&self) -> Result<Json, DpopClientError> {
        if self.jti.is_empty() {
            return Err(DpopClientError::EmptyJti);
        }
        if !is_method(self.htm) {
            return Err(DpopClientError::InvalidMethod);
        }
        let mut members = vec![
            ("jti".into(), self.jti.into()),
            ("htm".into(), self.htm.into()),
            ("htu".into(), normalize_htu(self.htu)?.into()),
            ("iat".into(), self.iat.into()),
        ];
        if let Some(nonce) = self.nonce {
            check_nonce(nonce)?;
            members.push(("nonce".into(), nonce.into()));
        }
        if let Some(digest) = self.access_token_sha256 {
            members.push(("ath".into(), base64url::encode(digest).into()));
        }
        Ok(Json::Object(members))
    }

    /// `base64url(header) "." base64url(claims)`: the bytes to sign with ES256 (RFC 7515 §5.1).
    pub fn signing_input(&self) -> Result<String, DpopClientError> {
        let claims = self.claims()?;
        Ok(format!(
            "{}.{}",
            base64url::encode(self.header().to_text().as_bytes()),
            base64url::encode(claims.to_text().as_bytes())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    /// The public key of the examples in RFC 9449 §4.1.
    fn rfc_key() -> P256PublicKey {
        P256PublicKey::new(
            "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        )
        .unwrap()
    }

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    fn proof<'a>(key: &'a P256PublicKey) -> Proof<'a> {
        Proof {
            key,
            htm: "POST",
            htu: "https://server.example.com/token",
            iat: 1_562_262_616,
            jti: "-BwC3ESc6acc2lTc",
            nonce: None,
            access_token_sha256: None,
        }
    }

    fn text(json: &Json) -> serde_json::Value {
        serde_json::from_str(&json.to_text()).unwrap()
    }

    #[test]
    fn the_thumbprint_of_the_rfc_9449_key_is_the_one_the_rfc_binds_tokens_to() {
        // RFC 7638 §3: SHA-256 over the canonical JSON of the required members; RFC 9449 §6.1
        // gives this key's thumbprint as the `cnf.jkt` of its example token.
        let key = rfc_key();
        assert_eq!(
            key.thumbprint_input(),
            r#"{"crv":"P-256","kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}"#
        );
        assert_eq!(
            thumbprint(&sha256(key.thumbprint_input().as_bytes())),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn a_key_is_built_only_from_32_byte_coordinates() {
        // RFC 7518 §6.2.1.2: each coordinate is the full 32 bytes, base64url without padding.
        let point: Vec<u8> = [0x04].into_iter().chain(0..64).collect();
        let key = P256PublicKey::from_uncompressed_point(&point).unwrap();
        assert_eq!(key.x(), base64url::encode(&(0..32).collect::<Vec<u8>>()));
        assert_eq!(key.y(), base64url::encode(&(32..64).collect::<Vec<u8>>()));
        assert_eq!(P256PublicKey::new(key.x(), key.y()), Ok(key.clone()));
        for bad in [
            &point[..64],
            &point[1..],
            &[0x02; 33][..],
            &[],
            &[0x04; 66][..],
        ] {
            assert_eq!(
                P256PublicKey::from_uncompressed_point(bad),
                Err(DpopClientError::InvalidPoint)
            );
        }
        let short = base64url::encode(&[7; 31]);
        let padded = format!("{}=", key.x());
        let standard_alphabet = format!("+{}", &key.x()[1..]);
        for x in [
            short.as_str(),
            &padded,
            &standard_alphabet,
            "",
            "not base64",
        ] {
            assert_eq!(
                P256PublicKey::new(x, key.y()),
                Err(DpopClientError::InvalidCoordinate { coordinate: "x" }),
                "{x}"
            );
        }
        assert_eq!(
            P256PublicKey::new(key.x(), &short),
            Err(DpopClientError::InvalidCoordinate { coordinate: "y" })
        );
    }

    #[test]
    fn the_header_names_the_type_the_algorithm_and_only_the_public_key() {
        // RFC 9449 §4.2: typ dpop+jwt, an asymmetric alg, and the public key without `d`.
        let key = rfc_key();
        let header = text(&proof(&key).header());
        assert_eq!(
            header,
            serde_json::json!({
                "typ": "dpop+jwt",
                "alg": "ES256",
                "jwk": {
                    "kty": "EC",
                    "crv": "P-256",
                    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
                    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
                }
            })
        );
    }

    #[test]
    fn the_claims_are_those_of_the_rfc_9449_token_request_example() {
        // RFC 9449 §4.1: the proof for `POST https://server.example.com/token`.
        let key = rfc_key();
        assert_eq!(
            text(&proof(&key).claims().unwrap()),
            serde_json::json!({
                "jti": "-BwC3ESc6acc2lTc",
                "htm": "POST",
                "htu": "https://server.example.com/token",
                "iat": 1_562_262_616
            })
        );
    }

    #[test]
    fn ath_and_nonce_are_added_when_given() {
        // RFC 9449 §7.1: a proof for a resource request carries `ath`, the base64url SHA-256
        // of the access token (this is the RFC's example token and hash); §8: and the
        // server's nonce.
        let key = rfc_key();
        let digest = sha256(b"Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU");
        let with = Proof {
            htm: "GET",
            htu: "https://resource.example.org/protectedresource",
            nonce: Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
            access_token_sha256: Some(&digest),
            ..proof(&key)
        };
        let claims = text(&with.claims().unwrap());
        assert_eq!(claims["ath"], "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
        assert_eq!(claims["nonce"], "eyJ7S_zG.eyJH0-Z.HX4w-7v");
        assert_eq!(claims["htm"], "GET");
        // Without them, the members are absent, not null.
        let without = text(&proof(&key).claims().unwrap());
        assert!(without.get("ath").is_none() && without.get("nonce").is_none());
        // The token itself is never in the proof, only its hash.
        assert!(!with.signing_input().unwrap().contains("Kz~8mXK1"));
    }

    #[test]
    fn the_signing_input_is_the_header_and_claims_in_base64url() {
        // RFC 7515 §5.1: ASCII(BASE64URL(header) || '.' || BASE64URL(payload)).
        let key = rfc_key();
        let p = proof(&key);
        let input = p.signing_input().unwrap();
        let (header, claims) = input.split_once('.').unwrap();
        let decode = |s: &str| String::from_utf8(base64url::decode(s).unwrap()).unwrap();
        assert_eq!(decode(header), p.header().to_text());
        assert_eq!(decode(claims), p.claims().unwrap().to_text());
    }

    #[test]
    fn htu_drops_query_and_fragment_and_lowercases_scheme_and_host() {
        // RFC 9449 §4.2–4.3 and RFC 3986 §6.2.2–6.2.3.
        for (url, htu) in [
            (
                "HTTPS://Server.Example.COM/Token?code=x&state=y#frag",
                "https://server.example.com/Token",
            ),
            ("https://api.example:443/a/b/", "https://api.example/a/b/"),
            ("https://api.example:8443", "https://api.example:8443/"),
            ("https://api.example#x", "https://api.example/"),
            ("https://api.example?x", "https://api.example/"),
            (
                "http://localhost:3001/api/messages?x=1",
                "http://localhost:3001/api/messages",
            ),
            ("http://127.0.0.1/", "http://127.0.0.1/"),
        ] {
            assert_eq!(normalize_htu(url).as_deref(), Ok(htu), "{url}");
        }
    }

    #[test]
    fn htu_refuses_urls_a_proof_must_not_name() {
        // Rule: a proof goes with a token, so only https (or this machine); and no URL that
        // two parsers could read as different hosts.
        assert_eq!(
            normalize_htu("http://api.example/x"),
            Err(DpopClientError::InsecureUrl)
        );
        for url in [
            "https://user:pass@api.example/",
            "https://api.example\\@evil.example/",
            "ftp://api.example/",
            "/relative/path",
            "https://",
            "https://api.example/a b",
            "https://api.example:0/",
            "",
        ] {
            assert_eq!(
                normalize_htu(url),
                Err(DpopClientError::InvalidUrl),
                "{url}"
            );
        }
        let key = rfc_key();
        let p = Proof {
            htu: "https://user:pass@api.example/",
            ..proof(&key)
        };
        assert_eq!(p.claims(), Err(DpopClientError::InvalidUrl));
        assert_eq!(p.signing_input(), Err(DpopClientError::InvalidUrl));
    }

    #[test]
    fn a_dpop_nonce_header_is_read_only_when_it_is_nqchars() {
        // RFC 9449 §8.1: nonce = 1*NQCHAR; surrounding whitespace is not part of the value.
        assert_eq!(
            parse_dpop_nonce("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
            Ok("eyJ7S_zG.eyJH0-Z.HX4w-7v")
        );
        assert_eq!(parse_dpop_nonce(" \tabc!#[]~ "), Ok("abc!#[]~"));
        assert_eq!(parse_dpop_nonce("a,b"), Ok("a,b"));
        let longest = "n".repeat(MAX_NONCE_LEN);
        assert_eq!(parse_dpop_nonce(&longest), Ok(longest.as_str()));
        for bad in [
            "",
            "  ",
            "a b",
            "abc, def",
            "a\"b",
            "a\\b",
            "a\nb",
            "a\u{0}b",
            "é",
            "a\u{7f}",
            &"n".repeat(MAX_NONCE_LEN + 1),
        ] {
            assert_eq!(
                parse_dpop_nonce(bad),
                Err(DpopClientError::InvalidNonce),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hostile_values_are_refused_or_stay_inside_their_json_string() {
        // Rule: bad input gets a clear error; nothing a caller passes can add a member.
        let key = rfc_key();
        for htm in ["", "GET POST", "GET\r\nX: y", "G\"ET", "GÉT"] {
            let p = Proof { htm, ..proof(&key) };
            assert_eq!(p.claims(), Err(DpopClientError::InvalidMethod), "{htm:?}");
        }
        let p = Proof {
            jti: "",
            ..proof(&key)
        };
        assert_eq!(p.claims(), Err(DpopClientError::EmptyJti));
        let p = Proof {
            nonce: Some("a\",\"htu\":\"https://evil.example/"),
            ..proof(&key)
        };
        assert_eq!(p.claims(), Err(DpopClientError::InvalidNonce));
        // The jti is the caller's random value; even a hostile one is one escaped string.
        let jti = "x\",\"htu\":\"https://evil.example/\\\u{1}";
        let claims = text(&Proof { jti, ..proof(&key) }.claims().unwrap());
        assert_eq!(claims["jti"], jti);
        assert_eq!(claims["htu"], "https://server.example.com/token");
        assert_eq!(claims.as_object().unwrap().len(), 4);
    }

    #[test]
    fn a_jti_from_random_carries_128_bits_url_safe() {
        // RFC 9449 §11.1: unique, unguessable identifiers.
        let jti = jti_from_random(&[0xfb; 16]);
        assert_eq!(jti.len(), 22);
        assert!(jti
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(jti_from_random(&[1; 16]), jti_from_random(&[2; 16]));
    }
}
