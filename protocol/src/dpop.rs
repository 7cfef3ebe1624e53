//! The pure checks of a DPoP proof (RFC 9449 §4.2, §4.3) that need no crypto and no clock.
//!
//! A DPoP proof is a compact JWS whose header carries the client's public key (`jwk`); that
//! key verifies the proof and nothing else (RFC 9449 §4.2), so the header rules differ from an
//! access token's ([`crate::check_header`], which refuses every key-carrying header). Here:
//! the header ([`check_proof_header`]), the key's RFC 7638 thumbprint input
//! ([`ec_thumbprint_input`], the caller hashes it with SHA-256), the `htu` without query and
//! fragment ([`htu_without_query_and_fragment`]) and the `iat` window ([`iat_within`]). The
//! signature, the hashes, the clock and the replay store are the caller's.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use crate::base64url;

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";

/// The proof algorithms this product accepts: ES256 only (asymmetric, RFC 9449 §4.2; no
/// `none`, no MAC). Also the `algs` of the `DPoP` challenge (RFC 9449 §7.1).
pub const PROOF_ALGS: &[&str] = &["ES256"];

/// Length in bytes of a P-256 coordinate (`x`, `y`).
const P256_COORDINATE_LEN: usize = 32;

/// The JOSE header of a DPoP proof, as read from JSON. Nothing in it is trusted until
/// [`check_proof_header`] passed and the signature verified with [`ProofHeader::jwk`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProofHeader {
    /// Must be [`PROOF_TYP`].
    #[serde(default)]
    pub typ: Option<String>,
    /// Must be one of [`PROOF_ALGS`].
    #[serde(default)]
    pub alg: Option<String>,
    /// The client's public key; it verifies this proof only.
    #[serde(default)]
    pub jwk: Option<ProofJwk>,
    /// A URL to fetch keys from: never trusted, refused.
    #[serde(default, deserialize_with = "presence")]
    pub jku: Option<IgnoredAny>,
    /// A URL to fetch a certificate from: never trusted, refused.
    #[serde(default, deserialize_with = "presence")]
    pub x5u: Option<IgnoredAny>,
    /// An embedded certificate chain: not the key of a DPoP proof, refused.
    #[serde(default, deserialize_with = "presence")]
    pub x5c: Option<IgnoredAny>,
    /// Critical extensions this product does not implement (RFC 7515 §4.1.11): refused.
    #[serde(default, deserialize_with = "presence")]
    pub crit: Option<IgnoredAny>,
}

/// The `jwk` of a proof header: an EC public key, read member by member. The private members
/// are recorded only as present: a header that carries them is refused.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProofJwk {
    /// Key type; `EC` for ES256.
    #[serde(default)]
    pub kty: Option<String>,
    /// Curve; `P-256` for ES256.
    #[serde(default)]
    pub crv: Option<String>,
    /// The x coordinate, base64url.
    #[serde(default)]
    pub x: Option<String>,
    /// The y coordinate, base64url.
    #[serde(default)]
    pub y: Option<String>,
    /// The EC (and RSA) private exponent: must be absent (RFC 9449 §4.2).
    #[serde(default, deserialize_with = "presence")]
    pub d: Option<IgnoredAny>,
    /// An RSA private member or a symmetric key: must be absent.
    #[serde(default, deserialize_with = "presence")]
    pub p: Option<IgnoredAny>,
    /// An RSA private member: must be absent.
    #[serde(default, deserialize_with = "presence")]
    pub q: Option<IgnoredAny>,
    /// A symmetric key (`oct`): must be absent.
    #[serde(default, deserialize_with = "presence")]
    pub k: Option<IgnoredAny>,
}

/// `Some` whenever the member exists, even as `null`: presence alone is refused.
fn presence<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IgnoredAny>, D::Error> {
    IgnoredAny::deserialize(d).map(Some)
}

/// Why a proof header is refused. Each message is a fixed sentence, safe to show and log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofHeaderError {
    /// `typ` is not `dpop+jwt`.
    #[error("the dpop proof must have typ dpop+jwt")]
    Typ,
    /// `alg` is missing, `none`, a MAC or anything else off [`PROOF_ALGS`].
    #[error("the dpop proof must be signed with es256")]
    Alg,
    /// No `jwk`, or one that is not a P-256 public key with 32-byte coordinates.
    #[error("the dpop proof must carry its p-256 public key in jwk")]
    Jwk,
    /// The `jwk` carries private key material.
    #[error("the dpop proof's jwk must not contain a private key")]
    PrivateKey,
    /// `jku`, `x5u` or `x5c`: keys come only from the proof's own `jwk`.
    #[error("the dpop proof must not point at other keys")]
    KeyReference,
    /// `crit`: an extension this product does not understand.
    #[error("the dpop proof has critical extensions this api does not understand")]
    Crit,
}

/// Checks a proof header (RFC 9449 §4.3 steps 4–7): `typ` is `dpop+jwt` (a media type,
/// compared ignoring ASCII case, RFC 7515 §4.1.9), `alg` is exactly one of [`PROOF_ALGS`], the
/// `jwk` is a P-256 public key (`kty` `EC`, `crv` `P-256`, `x` and `y` strict base64url of 32
/// bytes) without private members, and no `jku`/`x5u`/`x5c`/`crit`. Answers the checked key.
pub fn check_proof_header(header: &ProofHeader) -> Result<&ProofJwk, ProofHeaderError> {
    if !header
        .typ
        .as_deref()
        .is_some_and(|typ| typ.eq_ignore_ascii_case(PROOF_TYP))
    {
        return Err(ProofHeaderError::Typ);
    }
    if !header
        .alg
        .as_deref()
        .is_some_and(|alg| PROOF_ALGS.contains(&alg))
    {
        return Err(ProofHeaderError::Alg);
    }
    if header.jku.is_some() || header.x5u.is_some() || header.x5c.is_some() {
        return Err(ProofHeaderError::KeyReference);
    }
    if header.crit.is_some() {
        return Err(ProofHeaderError::Crit);
    }
    let jwk = header.jwk.as_ref().ok_or(ProofHeaderError::Jwk)?;
    if jwk.d.is_some() || jwk.p.is_some() || jwk.q.is_some() || jwk.k.is_some() {
        return Err(ProofHeaderError::PrivateKey);
    }
    let coordinate = |c: &Option<String>| {
        c.as_deref()
            .and_then(base64url::decode)
            .is_some_and(|bytes| bytes.len() == P256_COORDINATE_LEN)
    };
    if jwk.kty.as_deref() != Some("EC")
        || jwk.crv.as_deref() != Some("P-256")
        || !coordinate(&jwk.x)
        || !coordinate(&jwk.y)
    {
        return Err(ProofHeaderError::Jwk);
    }
    Ok(jwk)
}

/// The RFC 7638 §3 thumbprint input of a key [`check_proof_header`] accepted: its required
/// members (`crv`, `kty`, `x`, `y` for EC, §3.2) in lexicographic order, no whitespace. The
/// thumbprint (`jkt`, RFC 9449 §6.1) is base64url(SHA-256(this)). `None` for any other key.
pub fn ec_thumbprint_input(jwk: &ProofJwk) -> Option<String> {
    let (Some("EC"), Some("P-256"), Some(x), Some(y)) = (
        jwk.kty.as_deref(),
        jwk.crv.as_deref(),
        jwk.x.as_deref(),
        jwk.y.as_deref(),
    ) else {
        return None;
    };
    // Only base64url characters reach the JSON text: nothing to escape, nothing to smuggle.
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (plain(x) && plain(y)).then(|| format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#))
}

/// An `htu` (or a request URL) without its query and fragment: RFC 9449 §4.3 step 9 compares
/// the rest.
pub fn htu_without_query_and_fragment(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// Whether a proof issued at `iat` is acceptable at `now` (both unix seconds): at most
/// `window` seconds old, and at most `window` seconds ahead for clock skew (RFC 9449 §4.3
/// step 11, §11.1).
pub fn iat_within(iat: i64, now: i64, window: u64) -> bool {
    let window = i64::try_from(window).unwrap_or(i64::MAX);
    iat.checked_sub(now)
        .is_some_and(|ahead| ahead <= window && ahead >= -window)
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn header(json: &str) -> ProofHeader {
        serde_json::from_str(json).unwrap()
    }

    fn good(extra: &str) -> String {
        format!(
            r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}"{extra}}}}}"#
        )
    }

    #[test]
    fn a_p256_proof_header_passes_and_names_its_key() {
        // RFC 9449 §4.2: typ dpop+jwt, an asymmetric alg, the public key in jwk.
        let h = header(&good(""));
        assert_eq!(check_proof_header(&h).unwrap().x.as_deref(), Some(X));
        let upper = header(&good("").replace("dpop+jwt", "DPoP+JWT"));
        assert!(check_proof_header(&upper).is_ok());
    }

    #[test]
    fn any_algorithm_but_es256_is_refused() {
        // RFC 9449 §4.3 step 5: never none, never a MAC, only the allow-list.
        for alg in ["none", "HS256", "RS256", "ES384", "es256", "ES256 "] {
            let h = header(&good("").replace("\"ES256\"", &format!("\"{alg}\"")));
            assert_eq!(check_proof_header(&h), Err(ProofHeaderError::Alg), "{alg}");
        }
        let no_alg = header(&good("").replace(r#""alg":"ES256","#, ""));
        assert_eq!(check_proof_header(&no_alg), Err(ProofHeaderError::Alg));
    }

    #[test]
    fn a_typ_other_than_dpop_jwt_is_refused() {
        // RFC 9449 §4.3 step 4: explicit typing keeps other JWTs from passing as proofs.
        for typ in [r#""typ":"JWT","#, r#""typ":"at+jwt","#, ""] {
            let h = header(&good("").replace(r#""typ":"dpop+jwt","#, typ));
            assert_eq!(check_proof_header(&h), Err(ProofHeaderError::Typ), "{typ}");
        }
    }

    #[test]
    fn a_jwk_with_a_private_key_or_of_another_kind_is_refused() {
        // RFC 9449 §4.3 step 7: the jwk holds no private key; ES256 needs a P-256 key.
        for extra in [r#","d":"AAAA""#, r#","d":null"#, r#","k":"AAAA""#] {
            let h = header(&good(extra));
            assert_eq!(
                check_proof_header(&h),
                Err(ProofHeaderError::PrivateKey),
                "{extra}"
            );
        }
        for swap in [
            ("\"EC\"", "\"RSA\""),
            ("P-256", "P-384"),
            (X, "AAAA"),
            (Y, "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0="),
        ] {
            let h = header(&good("").replace(swap.0, swap.1));
            assert_eq!(
                check_proof_header(&h),
                Err(ProofHeaderError::Jwk),
                "{swap:?}"
            );
        }
        let no_jwk = header(r#"{"typ":"dpop+jwt","alg":"ES256"}"#);
        assert_eq!(check_proof_header(&no_jwk), Err(ProofHeaderError::Jwk));
    }

    #[test]
    fn key_references_and_critical_extensions_are_refused() {
        // RFC 8725 §3.10 and RFC 7515 §4.1.11: no remote keys, no unknown critical extensions.
        for (member, error) in [
            (
                r#""jku":"http://127.0.0.1:9/""#,
                ProofHeaderError::KeyReference,
            ),
            (
                r#""x5u":"http://127.0.0.1:9/""#,
                ProofHeaderError::KeyReference,
            ),
            (r#""x5c":["MIIB"]"#, ProofHeaderError::KeyReference),
            (r#""crit":["exp"]"#, ProofHeaderError::Crit),
        ] {
            let h = header(&good("").replacen('{', &format!("{{{member},"), 1));
            assert_eq!(check_proof_header(&h), Err(error), "{member}");
        }
    }

    #[test]
    fn the_thumbprint_input_is_the_rfc_7638_canonical_json() {
        // RFC 7638 §3.2: crv, kty, x, y in lexicographic order, no whitespace.
        let h = header(&good(r#","use":"sig","kid":"k1""#));
        let jwk = check_proof_header(&h).unwrap();
        assert_eq!(
            ec_thumbprint_input(jwk).unwrap(),
            format!(r#"{{"crv":"P-256","kty":"EC","x":"{X}","y":"{Y}"}}"#)
        );
        let mut broken = jwk.clone();
        broken.x = Some("a\"b".into());
        assert_eq!(ec_thumbprint_input(&broken), None);
    }

    #[test]
    fn htu_is_compared_without_query_and_fragment() {
        // RFC 9449 §4.3 step 9: query and fragment are ignored.
        for (url, base) in [
            ("https://a.example/p?x=1#f", "https://a.example/p"),
            ("https://a.example/p#f?x", "https://a.example/p"),
            ("https://a.example/p", "https://a.example/p"),
            ("", ""),
        ] {
            assert_eq!(htu_without_query_and_fragment(url), base);
        }
    }

    #[test]
    fn iat_must_lie_within_the_window_either_side_of_now() {
        // RFC 9449 §4.3 step 11: a proof is fresh only briefly; a little skew is allowed.
        assert!(iat_within(1_000, 1_000, 60));
        assert!(iat_within(940, 1_000, 60));
        assert!(iat_within(1_060, 1_000, 60));
        assert!(!iat_within(939, 1_000, 60));
        assert!(!iat_within(1_061, 1_000, 60));
        assert!(!iat_within(1_000 - 600, 1_000, 60));
        assert!(!iat_within(i64::MIN, 1_000, 60));
        assert!(!iat_within(i64::MAX, -1, u64::MAX));
    }
}
