//! Pending logins: what the SPA remembers (in sessionStorage, because the redirect reloads
//! the page) between sending the browser to `/authorize` and handling the response.
//!
//! Each transaction is single-use: taking it removes it, so a replayed response finds
//! nothing. Stale ones expire, and at most [`TransactionStore::MAX_ENTRIES`] are kept.

use crate::error::TransactionError;
use crate::json;
use crate::json_object;
use crate::secret::{ct_eq, CodeVerifier, Nonce, State};

json_object! {
    /// One login attempt in flight.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Transaction: FromJson + ToJson {
        /// The `state` sent to the provider.
        pub state: State = "state",
        /// The `nonce` sent to the provider.
        pub nonce: Nonce = "nonce",
        /// Where to go after login (already sanitized).
        pub return_to: String = "return_to",
        /// When the attempt started, unix seconds.
        pub created_at: i64 = "created_at",
        /// The PKCE verifier of a code-flow login (RFC 7636 §4.1); `None` for the implicit flow.
        pub code_verifier: Option<CodeVerifier> = "code_verifier",
    }
}

json_object! {
    /// The pending transactions; written whole into sessionStorage.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct TransactionStore: FromJson + ToJson {
        /// Pending transactions, oldest first (none when the member is absent).
        #[serde(default, deserialize_with = "hashgate_protocol::json::null_as_default")]
        pub entries: Vec<Transaction> = "entries" with json::or_default,
    }
}

impl TransactionStore {
    /// Most transactions kept; more means abandoned attempts, and the oldest go first.
    pub const MAX_ENTRIES: usize = 10;
    /// The `max_age` the SPA gives [`Self::take`] and [`Self::prune`]: ten minutes to log in.
    pub const MAX_AGE_SECS: i64 = 600;

    /// Adds a transaction, dropping the oldest beyond [`Self::MAX_ENTRIES`].
    pub fn insert(&mut self, tx: Transaction) {
        self.entries.push(tx);
        while self.entries.len() > Self::MAX_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, t)| t.created_at)
                .map(|(i, _)| i);
            match oldest {
                Some(i) => {
                    self.entries.remove(i);
                }
                None => break,
            }
        }
    }

    /// Removes and returns the transaction whose state equals `state` (constant-time
    /// comparison). Unknown state → [`TransactionError::UnknownState`]; older than
    /// `max_age` seconds → [`TransactionError::Expired`], and it is removed all the same.
    pub fn take(
        &mut self,
        state: &str,
        now: i64,
        max_age: i64,
    ) -> Result<Transaction, TransactionError> {
        if state.is_empty() {
            return Err(TransactionError::UnknownState);
        }
        let position = self
            .entries
            .iter()
            .position(|t| ct_eq(t.state.secret().as_bytes(), state.as_bytes()))
            .ok_or(TransactionError::UnknownState)?;
        let tx = self.entries.remove(position);
        if is_expired(&tx, now, max_age) {
            return Err(TransactionError::Expired);
        }
        Ok(tx)
    }

    /// Drops every transaction older than `max_age` seconds.
    pub fn prune(&mut self, now: i64, max_age: i64) {
        self.entries.retain(|t| !is_expired(t, now, max_age));
    }
}

fn is_expired(tx: &Transaction, now: i64, max_age: i64) -> bool {
    now.saturating_sub(tx.created_at) > max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(state: &str, created_at: i64) -> Transaction {
        Transaction {
            state: State::new(state.into()),
            nonce: Nonce::new(format!("nonce-{state}")),
            return_to: "/profile".into(),
            created_at,
            code_verifier: None,
        }
    }

    #[test]
    fn a_transaction_can_be_taken_exactly_once() {
        // RFC 6749 10.12: the transaction is single-use (replayed responses are refused).
        let mut store = TransactionStore::default();
        store.insert(tx("s1", 100));
        store.insert(tx("s2", 100));
        let taken = store.take("s1", 110, 600).unwrap();
        assert_eq!(taken.nonce.secret(), "nonce-s1");
        assert_eq!(taken.return_to, "/profile");
        assert_eq!(
            store.take("s1", 110, 600),
            Err(TransactionError::UnknownState)
        );
        assert_eq!(store.entries.len(), 1);
    }

    #[test]
    fn an_unknown_or_empty_state_is_refused() {
        // OIDC Core 3.2.2.5 / RFC 6749 10.12: state must match a request we made.
        let mut store = TransactionStore::default();
        store.insert(tx("s1", 100));
        assert_eq!(
            store.take("s2", 100, 600),
            Err(TransactionError::UnknownState)
        );
        assert_eq!(
            store.take("S1", 100, 600),
            Err(TransactionError::UnknownState)
        );
        assert_eq!(
            store.take("", 100, 600),
            Err(TransactionError::UnknownState)
        );
        assert_eq!(store.entries.len(), 1);
    }

    #[test]
    fn an_expired_transaction_is_refused_and_removed() {
        // Stale transactions expire (README: ten minutes to log in).
        let mut store = TransactionStore::default();
        store.insert(tx("s1", 100));
        assert_eq!(store.take("s1", 701, 600), Err(TransactionError::Expired));
        assert!(store.entries.is_empty());
        store.insert(tx("s2", 100));
        assert!(store.take("s2", 700, 600).is_ok());
    }

    #[test]
    fn prune_drops_only_stale_transactions() {
        // Stale transactions expire (README: ten minutes to log in).
        let mut store = TransactionStore::default();
        store.insert(tx("old", 0));
        store.insert(tx("new", 500));
        store.prune(700, 600);
        assert_eq!(store.entries.len(), 1);
        assert_eq!(store.entries[0].state.secret(), "new");
    }

    #[test]
    fn at_most_ten_transactions_are_kept_dropping_the_oldest() {
        // Abandoned attempts must not pile up in sessionStorage.
        let mut store = TransactionStore::default();
        for i in 0..12 {
            store.insert(tx(&format!("s{i}"), 1000 + i));
        }
        assert_eq!(store.entries.len(), TransactionStore::MAX_ENTRIES);
        assert_eq!(
            store.take("s0", 1012, 600),
            Err(TransactionError::UnknownState)
        );
        assert_eq!(
            store.take("s1", 1012, 600),
            Err(TransactionError::UnknownState)
        );
        assert!(store.take("s2", 1012, 600).is_ok());
        assert!(store.take("s11", 1012, 600).is_ok());
    }

    #[test]
    fn the_store_round_trips_through_json() {
        // The store lives in sessionStorage across the redirect.
        let mut store = TransactionStore::default();
        store.insert(tx("s1", 1));
        let mut code = tx("s2", 2);
        code.code_verifier = Some(CodeVerifier::new("verifier-of-s2".into()));
        store.insert(code);
        let json = serde_json::to_string(&store).unwrap();
        let back: TransactionStore = serde_json::from_str(&json).unwrap();
        assert_eq!(back, store);
        assert_eq!(back.entries[0].return_to, "/profile");
        assert_eq!(back.entries[0].code_verifier, None);
        assert_eq!(
            back.entries[1]
                .code_verifier
                .as_ref()
                .map(CodeVerifier::secret),
            Some("verifier-of-s2")
        );
        let empty: TransactionStore = serde_json::from_str("{}").unwrap();
        assert!(empty.entries.is_empty());
    }

    #[test]
    fn a_transaction_and_the_store_print_state_nonce_and_verifier_redacted() {
        // Rule: the values that bind a response to this browser are never logged.
        let mut store = TransactionStore::default();
        store.insert(Transaction {
            state: State::new("ST-s3cr3t".into()),
            nonce: Nonce::new("NONCE-s3cr3t".into()),
            return_to: "/profile".into(),
            created_at: 1,
            code_verifier: Some(CodeVerifier::new("CV-s3cr3t".into())),
        });
        let secrets = ["ST-s3cr3t", "NONCE-s3cr3t", "CV-s3cr3t"];
        crate::secret::assert_redacted(&format!("{:?}", store.entries[0]), &secrets);
        crate::secret::assert_redacted(&format!("{store:?}"), &secrets);
    }
}
