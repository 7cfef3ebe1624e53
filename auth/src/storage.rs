//! Where pending logins and (opt-in) tokens are kept between page loads.
//!
//! Pending transactions (state, nonce, return-to) live in `sessionStorage`: the redirect to the
//! provider unloads the page, and they must survive it, in this tab only. Tokens live in memory unless
//! `cacheLocation` is `session` or `local` (see the README for the XSS trade-off).

use hashgate_protocol::{CacheLocation, Transaction, TransactionStore};

use crate::browser::{self, Area};
use crate::error::AuthError;
use crate::json;
use crate::session::StoredTokens;

const TRANSACTIONS_KEY: &str = "hashgate.auth.transactions";
const TOKENS_KEY: &str = "hashgate.auth.tokens";

fn load_transactions() -> TransactionStore {
    browser::storage_get(Area::Session, TRANSACTIONS_KEY)
        .and_then(|text| json::read(&text).ok())
        .unwrap_or_default()
}

fn save_transactions(store: &TransactionStore) -> Result<(), AuthError> {
    browser::storage_set(Area::Session, TRANSACTIONS_KEY, &json::to_text(store))
}

/// Remembers a new pending login.
pub fn begin_transaction(tx: Transaction, now: i64) -> Result<(), AuthError> {
    let mut store = load_transactions();
    store.prune(now, TransactionStore::MAX_AGE_SECS);
    store.insert(tx);
    save_transactions(&store)
}

/// Takes (and deletes) the pending login for `state`: each state is usable once.
pub fn take_transaction(state: &str, now: i64) -> Result<Transaction, AuthError> {
    let mut store = load_transactions();
    let taken = store.take(state, now, TransactionStore::MAX_AGE_SECS);
    // Saved whether or not it matched: `take` also drops expired entries.
    save_transactions(&store)?;
    Ok(taken?)
}

fn token_area(location: CacheLocation) -> Option<Area> {
    match location {
        CacheLocation::Memory => None,
        CacheLocation::Session => Some(Area::Session),
        CacheLocation::Local => Some(Area::Local),
    }
}

/// Persists tokens when `cacheLocation` asks for it; with `memory` nothing is written.
pub fn save_tokens(location: CacheLocation, tokens: &StoredTokens) {
    if let Some(area) = token_area(location) {
        // A full or disabled storage only costs the user a login on the next load.
        let _ = browser::storage_set(area, TOKENS_KEY, &json::to_text(tokens));
    }
}

/// Reads persisted tokens, if `cacheLocation` persists them and some are there.
pub fn load_tokens(location: CacheLocation) -> Option<StoredTokens> {
    let area = token_area(location)?;
    let text = browser::storage_get(area, TOKENS_KEY)?;
    match json::read(&text) {
        Ok(tokens) => Some(tokens),
        Err(_) => {
            browser::storage_remove(area, TOKENS_KEY);
            None
        }
    }
}

/// Forgets persisted tokens everywhere (logout, or a stored session that no longer validates).
pub fn clear_tokens() {
    browser::storage_remove(Area::Session, TOKENS_KEY);
    browser::storage_remove(Area::Local, TOKENS_KEY);
}
