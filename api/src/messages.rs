//! The message store: each caller's messages, in SQLite, keyed by the token's `sub`.
//!
//! Durability: the database runs in WAL mode with `synchronous=FULL`, so a commit is on
//! disk (the WAL is fsynced) before [`MessageStore::add`] returns, and the handler answers
//! `201` only after that. A crash or restart therefore loses no acknowledged message.
//! SQLite is blocking, so every call runs on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection};
use serde::Serialize;

/// Longest message, in characters, after trimming.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// How many of a caller's newest messages `GET /api/messages` returns.
pub const LIST_LIMIT: usize = 200;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "messages.sqlite3";

/// One stored message, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Row id, increasing in posting order.
    pub id: i64,
    /// The text, trimmed.
    pub text: String,
    /// When it was stored, UTC, RFC 3339 (`2025-01-31T12:00:00.000Z`).
    pub created_at: String,
}

/// Why a message text is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMessage {
    /// Nothing left after trimming.
    #[error("the message is empty")]
    Empty,
    /// More than [`MAX_MESSAGE_CHARS`] characters after trimming.
    #[error("the message is longer than 500 characters")]
    TooLong,
    /// A control character other than a newline.
    #[error("the message contains control characters; only newlines are allowed")]
    ControlCharacter,
}

/// Checks and normalises a message text: trimmed, 1..=500 characters, no control
/// characters except `\n`.
pub fn validate_text(raw: &str) -> Result<String, InvalidMessage> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(InvalidMessage::Empty);
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(InvalidMessage::TooLong);
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(InvalidMessage::ControlCharacter);
    }
    Ok(text.to_owned())
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running the query was lost.
    #[error("the storage task failed")]
    Task,
}

/// A handle to the message database; cheap to clone.
#[derive(Clone)]
pub struct MessageStore {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for MessageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStore").finish_non_exhaustive()
    }
}

impl MessageStore {
    /// Opens (creating if needed) `messages.sqlite3` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // journal_mode answers with a row, so it is read rather than executed.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        // FULL: the WAL is fsynced at every commit, which is what "acknowledged means durable" needs.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 sub TEXT NOT NULL,
                 text TEXT NOT NULL,
                 created_at TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS messages_by_sub ON messages (sub, id);",
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Stores a message for `sub` and returns it once the commit is durable.
    pub async fn add(&self, sub: &str, text: &str) -> Result<Message, StoreError> {
        let (sub, text) = (sub.to_owned(), text.to_owned());
        self.with_conn(move |conn| {
            let (id, created_at) = conn.query_row(
                "INSERT INTO messages (sub, text, created_at)
                 VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                 RETURNING id, created_at",
                params![sub, text],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            Ok(Message {
                id,
                text,
                created_at,
            })
        })
        .await
    }

    /// The newest [`LIST_LIMIT`] messages of `sub`, oldest first.
    pub async fn list(&self, sub: &str) -> Result<Vec<Message>, StoreError> {
        let sub = sub.to_owned();
        self.with_conn(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, text, created_at FROM (
                     SELECT id, text, created_at FROM messages
                     WHERE sub = ?1 ORDER BY id DESC LIMIT ?2
                 ) ORDER BY id ASC",
            )?;
            let rows = statement.query_map(params![sub, LIST_LIMIT as i64], |row| {
                Ok(Message {
                    id: row.get(0)?,
                    text: row.get(1)?,
                    created_at: row.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite inconsistent (transactions
            // roll back), so a poisoned lock is still safe to use.
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::Task)?
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_trimmed_and_keeps_inner_newlines() {
        // api/README.md, message rules: text is trimmed; newlines are kept.
        assert_eq!(
            validate_text("  hello\nworld \n").as_deref(),
            Ok("hello\nworld")
        );
    }

    #[test]
    fn an_empty_or_blank_message_is_refused() {
        // api/README.md, message rules: at least one character after trimming.
        assert_eq!(validate_text(""), Err(InvalidMessage::Empty));
        assert_eq!(validate_text(" \n\t "), Err(InvalidMessage::Empty));
    }

    #[test]
    fn a_message_may_have_500_characters_but_not_501() {
        // Characters, not bytes: "é" is two bytes.
        assert!(validate_text(&"é".repeat(500)).is_ok());
        assert_eq!(
            validate_text(&"é".repeat(501)),
            Err(InvalidMessage::TooLong)
        );
    }

    #[test]
    fn control_characters_other_than_newline_are_refused() {
        // api/README.md, message rules: no control characters but newline.
        for bad in [
            "a\tb",
            "a\rb",
            "a\u{0}b",
            "a\u{1b}[31mb",
            "a\u{7f}b",
            "a\u{85}b",
        ] {
            assert_eq!(
                validate_text(bad),
                Err(InvalidMessage::ControlCharacter),
                "{bad:?}"
            );
        }
    }
}
