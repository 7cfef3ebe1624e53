//! DPoP (RFC 9449) in the browser, with `"useDpop": true`: the key the tokens are bound to, the
//! proof that goes with every request to the token endpoint and the API, and the servers'
//! nonces.
//!
//! - **The key**: one ECDSA P-256 pair made by WebCrypto with `extractable: false`, kept in
//!   IndexedDB for the app's origin (`browser::key_store`), so every tab, every reload and
//!   every refresh sign with the same key; the page can use it, never export it. A logout
//!   deletes it and the next login makes a new one. Where IndexedDB is not available (some
//!   private modes) the key lives in memory for the page's life: a reload then needs a new
//!   login, because the refresh token is bound to the key that is gone.
//! - **Proofs** are built by `hashgate_protocol::dpop_client` (header, claims, `htu`) and
//!   signed here: a fresh `jti` each, `ath` when an access token goes with the request.
//! - **Nonces** (§8, §9): the latest `DPoP-Nonce` of each server (by origin) goes into the
//!   next proof for it.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::{FutureExt as _, LocalBoxFuture, Shared};
use hashgate_protocol::base64url;
use hashgate_protocol::dpop_client::{
    jti_from_random, parse_dpop_nonce, thumbprint, P256PublicKey, Proof,
};
use hashgate_protocol::{origin_of, AuthConfig};
use js_sys::{Object, Reflect};
use wasm_bindgen::JsCast;

use crate::browser::{self, crypto, key_store};
use crate::error::AuthError;

/// The key that signs this browser's proofs.
pub struct DpopKey {
    private: web_sys::CryptoKey,
    public: P256PublicKey,
    /// Its RFC 7638 thumbprint: `dpop_jkt` of a login, `cnf.jkt` of the tokens bound to it.
    pub thumbprint: String,
}

type Loading = Shared<LocalBoxFuture<'static, Result<Rc<DpopKey>, AuthError>>>;

thread_local! {
    /// The key, loaded (or made) once per page; concurrent first uses share one load.
    static KEY: RefCell<Option<Loading>> = const { RefCell::new(None) };
    /// The latest nonce of each server, by origin.
    static NONCES: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// The browser's DPoP key: the stored one, or a new one stored for every tab. Boxed: its
/// state machine is compiled once, not into each of its callers (measured: 2 KB of brotli).
pub fn key() -> LocalBoxFuture<'static, Result<Rc<DpopKey>, AuthError>> {
    load_key().boxed_local()
}

async fn load_key() -> Result<Rc<DpopKey>, AuthError> {
    let loading = KEY.with(|key| {
        key.borrow_mut()
            .get_or_insert_with(|| load_or_make().boxed_local().shared())
            .clone()
    });
    let key = loading.await;
    if key.is_err() {
        // Tried again on the next request rather than failing for the page's life.
        KEY.with(|k| k.borrow_mut().take());
    }
    key
}

/// The key this browser already has (loaded here, or stored by any tab), never a new one: a
/// revocation signs with it, and after a logout elsewhere (which deleted it) there is none.
pub async fn existing_key() -> Option<Rc<DpopKey>> {
    let loaded = KEY.with(|key| key.borrow().clone());
    match loaded {
        Some(loading) => loading.await.ok(),
        None => match key_store::load().await {
            Ok(Some(pair)) => key_from_pair(&pair).await.ok().map(Rc::new),
            _ => None,
        },
    }
}

/// Forgets the key in this page (another tab logged out and deleted it).
pub fn forget_loaded_key() {
    KEY.with(|k| k.borrow_mut().take());
    NONCES.with(|n| n.borrow_mut().clear());
}

/// Deletes the key, here and in IndexedDB: after a logout, the next login binds a new key.
pub async fn delete_key() {
    forget_loaded_key();
    let _ = key_store::delete().await;
}

async fn load_or_make() -> Result<Rc<DpopKey>, AuthError> {
    let pair = match stored_pair().await {
        Ok(pair) => pair,
        // No IndexedDB: a key for this page's life (module docs).
        Err(_) => crypto::new_ec_key_pair().await?,
    };
    Ok(Rc::new(key_from_pair(&pair).await?))
}

async fn key_from_pair(pair: &Object) -> Result<DpopKey, AuthError> {
    let member = |name: &str| {
        Reflect::get(pair, &name.into())
            .ok()
            .and_then(|key| key.dyn_into::<web_sys::CryptoKey>().ok())
            .ok_or(AuthError::Browser("the stored DPoP key is not a key pair"))
    };
    let private = member("privateKey")?;
    let point = crypto::export_raw_public_key(&member("publicKey")?).await?;
    let public = P256PublicKey::from_uncompressed_point(&point)?;
    let thumbprint = thumbprint(&sha256_32(&public.thumbprint_input()).await?);
    Ok(DpopKey {
        private,
        public,
        thumbprint,
    })
}

async fn stored_pair() -> Result<Object, AuthError> {
    if let Some(pair) = key_store::load().await? {
        return Ok(pair);
    }
    let pair = crypto::new_ec_key_pair().await?;
    if key_store::add(&pair).await? {
        return Ok(pair);
    }
    // Another tab stored its key first: every tab signs with that one.
    key_store::load()
        .await?
        .ok_or(AuthError::Browser("IndexedDB is not available"))
}

/// The browser's key when the app binds its tokens (`useDpop`), else `None`.
pub async fn key_if_used(config: &AuthConfig) -> Result<Option<Rc<DpopKey>>, AuthError> {
    match config.use_dpop {
        true => Ok(Some(key().await?)),
        false => Ok(None),
    }
}

/// The thumbprint an authorization request names as `dpop_jkt` (RFC 9449 §10), with `useDpop`:
/// the code it brings is redeemed only with a proof by this key.
pub async fn login_jkt(config: &AuthConfig) -> Result<Option<String>, AuthError> {
    Ok(key_if_used(config).await?.map(|key| key.thumbprint.clone()))
}

/// A proof for `method url` (RFC 9449 §4.2), signed by the browser's key, with the server's
/// latest nonce and, when `access_token` goes with the request, its hash as `ath`.
///
/// Boxed, like [`key`]: its state machine is compiled once, not into each of its callers.
pub fn proof<'a>(
    key: &'a DpopKey,
    method: &'a str,
    url: &'a str,
    access_token: Option<&'a str>,
) -> LocalBoxFuture<'a, Result<String, AuthError>> {
    make_proof(key, method, url, access_token).boxed_local()
}

async fn make_proof(
    key: &DpopKey,
    method: &str,
    url: &str,
    access_token: Option<&str>,
) -> Result<String, AuthError> {
    let ath = match access_token {
        Some(token) => Some(sha256_32(token).await?),
        None => None,
    };
    let random = browser::random_32()?;
    let mut jti_bytes = [0u8; 16];
    jti_bytes.copy_from_slice(&random[..16]);
    let jti = jti_from_random(&jti_bytes);
    let nonce = nonce_for(url);
    let signing_input = Proof {
        key: &key.public,
        htm: method,
        htu: url,
        iat: browser::now_secs(),
        jti: &jti,
        nonce: nonce.as_deref(),
        access_token_sha256: ath.as_ref(),
    }
    .signing_input()?;
    let signature = crypto::sign_es256(&key.private, signing_input.as_bytes()).await?;
    Ok(format!("{signing_input}.{}", base64url::encode(&signature)))
}

/// Keeps the `DPoP-Nonce` a server at `url` sent, for its next proof; an invalid one is
/// ignored (the next proof goes without, and the server asks again).
pub fn remember_nonce(url: &str, header: &str) {
    let (Some(origin), Ok(nonce)) = (origin_of(url), parse_dpop_nonce(header)) else {
        return;
    };
    NONCES.with(|nonces| {
        let mut nonces = nonces.borrow_mut();
        nonces.retain(|(o, _)| *o != origin);
        nonces.push((origin, nonce.to_owned()));
    });
}

fn nonce_for(url: &str) -> Option<String> {
    let origin = origin_of(url)?;
    NONCES.with(|nonces| {
        nonces
            .borrow()
            .iter()
            .find(|(o, _)| *o == origin)
            .map(|(_, nonce)| nonce.clone())
    })
}

async fn sha256_32(text: &str) -> Result<[u8; 32], AuthError> {
    browser::sha256(text.as_bytes())
        .await?
        .try_into()
        .map_err(|_| AuthError::Browser("webcrypto digest"))
}
