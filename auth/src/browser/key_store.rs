//! The DPoP key pair in IndexedDB, one record for the app's origin: every tab and every reload
//! signs with the same key, and the key outlives a reload as the refresh token bound to it
//! does. IndexedDB keeps the `CryptoKey` objects themselves (a structured clone), so a
//! non-extractable private key stays non-extractable: script can sign with it, never read it
//! (the OAuth 2.0 for Browser-Based Applications BCP, on DPoP: "a non-extractable
//! CryptoKeyPair is stored using IndexedDB").

use futures::future::{FutureExt as _, LocalBoxFuture};
use js_sys::{Object, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction, IdbTransactionMode};

use super::page::window;
use crate::error::AuthError;

const DATABASE: &str = "hashgate-auth";
const STORE: &str = "keys";
/// The record's key in [`STORE`]; its value is WebCrypto's `{publicKey, privateKey}`.
pub const RECORD: &str = "dpop";

const NO_INDEXED_DB: &str = "IndexedDB is not available";

/// The stored key pair, if there is one.
pub async fn load() -> Result<Option<Object>, AuthError> {
    let (_, store) = open_store(IdbTransactionMode::Readonly).await?;
    let request = store
        .get(&JsValue::from_str(RECORD))
        .map_err(|_| AuthError::Browser(NO_INDEXED_DB))?;
    Ok(done(&request).await?.dyn_into().ok())
}

/// Stores `pair` unless a pair is stored already (another tab was first): `false` then, and
/// the caller reads the one that is there.
pub async fn add(pair: &Object) -> Result<bool, AuthError> {
    let (transaction, store) = open_store(IdbTransactionMode::Readwrite).await?;
    let request = store
        .add_with_key(pair, &JsValue::from_str(RECORD))
        .map_err(|_| AuthError::Browser(NO_INDEXED_DB))?;
    Ok(done(&request).await.is_ok() && committed(&transaction).await)
}

/// Deletes the stored pair (after a logout the next login gets a new key).
pub async fn delete() -> Result<(), AuthError> {
    let (transaction, store) = open_store(IdbTransactionMode::Readwrite).await?;
    let request = store
        .delete(&JsValue::from_str(RECORD))
        .map_err(|_| AuthError::Browser(NO_INDEXED_DB))?;
    done(&request).await?;
    // A logout navigates away next, which would abort a transaction not yet committed.
    match committed(&transaction).await {
        true => Ok(()),
        false => Err(AuthError::Browser(NO_INDEXED_DB)),
    }
}

/// The object store in a new transaction; the database is created on first use. Boxed: one
/// state machine for its three callers.
fn open_store(
    mode: IdbTransactionMode,
) -> LocalBoxFuture<'static, Result<(IdbTransaction, IdbObjectStore), AuthError>> {
    open_store_now(mode).boxed_local()
}

async fn open_store_now(
    mode: IdbTransactionMode,
) -> Result<(IdbTransaction, IdbObjectStore), AuthError> {
    let unavailable = |_| AuthError::Browser(NO_INDEXED_DB);
    let factory = window()?
        .indexed_db()
        .ok()
        .flatten()
        .ok_or(AuthError::Browser(NO_INDEXED_DB))?;
    let request = factory.open_with_u32(DATABASE, 1).map_err(unavailable)?;
    // Version 1 has one object store, created the first time the database is opened.
    let create_store = Closure::once(move |event: web_sys::Event| {
        let database = event
            .target()
            .and_then(|target| target.dyn_into::<IdbRequest>().ok())
            .and_then(|request| request.result().ok())
            .and_then(|result| result.dyn_into::<IdbDatabase>().ok());
        if let Some(database) = database {
            let _ = database.create_object_store(STORE);
        }
    });
    request.set_onupgradeneeded(Some(create_store.as_ref().unchecked_ref()));
    let opened = done(&request).await;
    request.set_onupgradeneeded(None);
    let database: IdbDatabase = opened?.dyn_into().map_err(unavailable)?;
    let store = database
        .transaction_with_str_and_mode(STORE, mode)
        .and_then(|transaction| Ok((transaction.object_store(STORE)?, transaction)))
        .map(|(store, transaction)| (transaction, store))
        .map_err(unavailable);
    // Closed once the transaction is done; the store stays usable until then.
    database.close();
    store
}

/// Waits until `transaction` is committed (`complete`); `false` if it failed or was aborted.
async fn committed(transaction: &IdbTransaction) -> bool {
    let settled = Promise::new(&mut |resolve, reject| {
        transaction.set_oncomplete(Some(&resolve));
        transaction.set_onerror(Some(&reject));
        transaction.set_onabort(Some(&reject));
    });
    JsFuture::from(settled).await.is_ok()
}

/// Waits for `request` and returns its result; its `error` event is an error.
async fn done(request: &IdbRequest) -> Result<JsValue, AuthError> {
    let settled = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(settled).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    outcome.map_err(|_| AuthError::Browser(NO_INDEXED_DB))?;
    request
        .result()
        .map_err(|_| AuthError::Browser(NO_INDEXED_DB))
}
