//! WebCrypto and the CSPRNG: random values, SHA-256, RS256 signature checks and the ECDSA
//! P-256 key pair that signs DPoP proofs (RFC 9449).

use hashgate_protocol::{CodeVerifier, RsaPublicJwk};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::page::window;
use crate::error::AuthError;

/// 32 bytes from the browser's CSPRNG (`crypto.getRandomValues`).
pub fn random_32() -> Result<[u8; 32], AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| AuthError::Browser("no secure random number generator"))?;
    Ok(bytes)
}

/// Verifies an RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature with WebCrypto.
pub async fn verify_rs256(
    key: &RsaPublicJwk,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<bool, AuthError> {
    let subtle = subtle()?;
    let jwk = Object::new();
    set(&jwk, "kty", "RSA")?;
    set(&jwk, "n", &key.n)?;
    set(&jwk, "e", &key.e)?;
    set(&jwk, "alg", "RS256")?;
    set(&jwk, "ext", true)?;
    let algorithm = Object::new();
    set(&algorithm, "name", "RSASSA-PKCS1-v1_5")?;
    let hash = Object::new();
    set(&hash, "name", "SHA-256")?;
    Reflect::set(&algorithm, &"hash".into(), &hash).map_err(|_| AuthError::Browser("webcrypto"))?;
    let usages = js_sys::Array::of1(&"verify".into());
    let promise = subtle
        .import_key_with_object("jwk", &jwk, &algorithm, false, &usages)
        .map_err(|_| AuthError::UnusableKey)?;
    let crypto_key: web_sys::CryptoKey = JsFuture::from(promise)
        .await
        .map_err(|_| AuthError::UnusableKey)?
        .dyn_into()
        .map_err(|_| AuthError::UnusableKey)?;
    let promise = subtle
        .verify_with_str_and_u8_array_and_u8_array(
            "RSASSA-PKCS1-v1_5",
            &crypto_key,
            signature,
            signing_input,
        )
        .map_err(|_| AuthError::Browser("webcrypto verify"))?;
    let verdict = JsFuture::from(promise)
        .await
        .map_err(|_| AuthError::Browser("webcrypto verify"))?;
    Ok(verdict.as_bool() == Some(true))
}

/// A new ECDSA P-256 key pair (`{publicKey, privateKey}`) whose private key WebCrypto will
/// never export (`extractable: false`): script on the page can sign with it, not copy it.
pub async fn new_ec_key_pair() -> Result<Object, AuthError> {
    let algorithm = Object::new();
    set(&algorithm, "name", "ECDSA")?;
    set(&algorithm, "namedCurve", "P-256")?;
    let usages = js_sys::Array::of1(&"sign".into());
    let promise = subtle()?
        .generate_key_with_object(&algorithm, false, &usages)
        .map_err(|_| AuthError::Browser(NO_ECDSA))?;
    JsFuture::from(promise)
        .await
        .map_err(|_| AuthError::Browser(NO_ECDSA))?
        .dyn_into()
        .map_err(|_| AuthError::Browser(NO_ECDSA))
}

/// The uncompressed point (`0x04 || x || y`) of a public key, WebCrypto's `raw` export (a
/// public key is always exportable).
pub async fn export_raw_public_key(key: &web_sys::CryptoKey) -> Result<Vec<u8>, AuthError> {
    let promise = subtle()?
        .export_key("raw", key)
        .map_err(|_| AuthError::Browser(NO_ECDSA))?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|_| AuthError::Browser(NO_ECDSA))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Signs `data` with ECDSA P-256 / SHA-256: WebCrypto's signature is `r || s`, already the
/// JWS form of RFC 7518 §3.4.
pub async fn sign_es256(key: &web_sys::CryptoKey, data: &[u8]) -> Result<Vec<u8>, AuthError> {
    let algorithm = Object::new();
    set(&algorithm, "name", "ECDSA")?;
    set(&algorithm, "hash", "SHA-256")?;
    let promise = subtle()?
        .sign_with_object_and_u8_array(&algorithm, key, data)
        .map_err(|_| AuthError::Browser(NO_ECDSA))?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|_| AuthError::Browser(NO_ECDSA))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

const NO_ECDSA: &str = "WebCrypto could not make or use the DPoP key (ECDSA P-256)";

/// SHA-256 of `data` with WebCrypto.
pub async fn sha256(data: &[u8]) -> Result<Vec<u8>, AuthError> {
    let promise = subtle()?
        .digest_with_str_and_u8_array("SHA-256", data)
        .map_err(|_| AuthError::Browser("webcrypto digest"))?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|_| AuthError::Browser("webcrypto digest"))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

fn subtle() -> Result<web_sys::SubtleCrypto, AuthError> {
    Ok(window()?
        .crypto()
        .map_err(|_| {
            AuthError::Browser("no WebCrypto (the app must be served over https or from localhost)")
        })?
        .subtle())
}

fn set(target: &Object, key: &str, value: impl Into<JsValue>) -> Result<(), AuthError> {
    Reflect::set(target, &key.into(), &value.into())
        .map(|_| ())
        .map_err(|_| AuthError::Browser("webcrypto"))
}

/// A fresh PKCE verifier and its S256 challenge (RFC 7636 §4.1–4.2), for a code-flow request;
/// `None` for an implicit one.
pub async fn new_pkce(code_flow: bool) -> Result<Option<(CodeVerifier, String)>, AuthError> {
    if !code_flow {
        return Ok(None);
    }
    let verifier = CodeVerifier::from_random(&random_32()?);
    let challenge = CodeVerifier::s256_challenge(&sha256(verifier.secret().as_bytes()).await?);
    Ok(Some((verifier, challenge)))
}
