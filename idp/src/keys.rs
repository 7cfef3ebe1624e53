//! RS256 signing keys: generated on first start, kept in the database, published in
//! the JWKS. Rotation adds a key that signs from then on; older keys stay published
//! for a grace period so tokens they signed still verify.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{IdpError, Result};
use crate::store::Store;

/// Generates a new RSA 2048 private key as PKCS#8 PEM. Tests call it once per
/// process and hand the result to [`crate::Settings::signing_key_pem`].
pub fn generate_signing_key_pem() -> Result<String> {
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| IdpError::Key(e.to_string()))?;
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| IdpError::Key(e.to_string()))
}

/// A parsed key, ready to sign and verify.
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    /// For signing.
    pub encoding: EncodingKey,
    /// For verifying our own tokens (userinfo, id_token_hint).
    pub decoding: DecodingKey,
    /// Base64url modulus.
    pub n: String,
    /// Base64url exponent.
    pub e: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("encoding", &crate::util::REDACTED)
            .field("n", &self.n)
            .field("e", &self.e)
            .finish_non_exhaustive()
    }
}

/// One entry of the JWKS.
#[derive(Debug, Serialize)]
pub struct Jwk {
    kty: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
    alg: &'static str,
    kid: String,
    n: String,
    e: String,
}

/// Parses a PKCS#8 PEM private key.
pub fn parse_key(pem: &str) -> Result<SigningKey> {
    let key = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| IdpError::Key(e.to_string()))?;
    let der = key
        .to_pkcs1_der()
        .map_err(|e| IdpError::Key(e.to_string()))?;
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    let decoding = DecodingKey::from_rsa_components(&n, &e)?;
    Ok(SigningKey {
        kid: thumbprint(&n, &e),
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        decoding,
        n,
        e,
    })
}

/// RFC 7638 JWK thumbprint, used as the `kid`.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Adds `pem` (or a freshly generated key) as the new signing key and prunes keys
/// whose grace period is over. Returns the new key id.
pub fn add_signing_key(
    store: &Store,
    pem: Option<String>,
    now: i64,
    grace_secs: u64,
) -> Result<String> {
    let pem = match pem {
        Some(p) => p,
        None => generate_signing_key_pem()?,
    };
    let key = parse_key(&pem)?;
    store.add_key(&key.kid, &pem, now)?;
    store.prune_keys(now.saturating_sub(i64::try_from(grace_secs).unwrap_or(i64::MAX)))?;
    Ok(key.kid)
}

/// The keys of a running server. Reads the key list from the database on use so a
/// `rotate-keys` run by another process takes effect without a restart; parsed
/// keys are cached.
pub struct KeyRing {
    grace_secs: i64,
    cache: Mutex<HashMap<String, Arc<SigningKey>>>,
}

impl KeyRing {
    /// A key ring publishing retired keys for `grace_secs`.
    pub fn new(grace_secs: u64) -> Self {
        Self {
            grace_secs: i64::try_from(grace_secs).unwrap_or(i64::MAX),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn parsed(&self, kid: &str, pem: &str) -> Result<Arc<SigningKey>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = cache.get(kid) {
            return Ok(k.clone());
        }
        let key = Arc::new(parse_key(pem)?);
        cache.insert(kid.to_owned(), key.clone());
        Ok(key)
    }

    /// The key that signs new tokens.
    pub fn active(&self, store: &Store) -> Result<Arc<SigningKey>> {
        let keys = store.keys()?;
        let record = keys
            .iter()
            .find(|k| k.retired_at.is_none())
            .or_else(|| keys.first())
            .ok_or_else(|| IdpError::Key("no signing key".into()))?;
        self.parsed(&record.kid, &record.pkcs8_pem)
    }

    /// The keys currently published (active plus those within their grace period).
    pub fn published(&self, store: &Store, now: i64) -> Result<Vec<Arc<SigningKey>>> {
        store
            .keys()?
            .iter()
            .filter(|k| {
                k.retired_at
                    .is_none_or(|r| r.saturating_add(self.grace_secs) > now)
            })
            .map(|k| self.parsed(&k.kid, &k.pkcs8_pem))
            .collect()
    }

    /// The published key with this id.
    pub fn find(&self, store: &Store, kid: &str, now: i64) -> Result<Option<Arc<SigningKey>>> {
        Ok(self
            .published(store, now)?
            .into_iter()
            .find(|k| k.kid == kid))
    }

    /// The JWKS document body.
    pub fn jwks(&self, store: &Store, now: i64) -> Result<Vec<Jwk>> {
        Ok(self
            .published(store, now)?
            .iter()
            .map(|k| Jwk {
                kty: "RSA",
                use_: "sig",
                alg: "RS256",
                kid: k.kid.clone(),
                n: k.n.clone(),
                e: k.e.clone(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_key_prints_no_private_key() {
        let pem = generate_signing_key_pem().unwrap();
        let key = parse_key(&pem).unwrap();
        let printed = format!("{key:?}");
        assert!(printed.contains(&key.kid), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
        assert!(!printed.contains("PRIVATE KEY"), "{printed}");
    }
}
