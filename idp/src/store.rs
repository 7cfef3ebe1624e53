//! SQLite storage under the data directory (`idp.sqlite3`): users, login sessions,
//! consents, signing keys and pending authorization requests. Every call is a short
//! statement behind one mutex.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored data could not be encoded or decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// Result of a storage call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "idp.sqlite3";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    profile       TEXT NOT NULL,
    logins_count  INTEGER NOT NULL DEFAULT 0,
    last_login    INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    sid        TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    audience   TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id, audience)
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid        TEXT PRIMARY KEY,
    pkcs8_pem  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);
CREATE TABLE IF NOT EXISTS transactions (
    id         TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    ip         TEXT NOT NULL DEFAULT '',
    expires_at INTEGER NOT NULL
);
";

/// Indexes, created after [`SCHEMA`] and the column a database made by an older version
/// lacks: expired rows are found, and live ones counted, without a full scan.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS transactions_by_expiry ON transactions (expires_at);
CREATE INDEX IF NOT EXISTS transactions_by_ip ON transactions (ip, expires_at);
";

/// Caps on pending authorization requests (`[transactions]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCaps {
    /// Live pending requests one client IP may hold.
    pub per_ip: u32,
    /// Live pending requests in all.
    pub total: u32,
}

/// Whether a pending authorization request was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Stored.
    Stored,
    /// Refused: this client IP holds its cap.
    IpFull,
    /// Refused: the store holds the total cap.
    Full,
}

/// Profile data of a user, stored as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    /// Full name.
    pub name: String,
    /// Nickname.
    pub nickname: String,
    /// Email address.
    pub email: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Picture URL, if configured.
    pub picture: Option<String>,
    /// Auth0 `app_metadata`.
    pub app_metadata: serde_json::Value,
    /// Auth0 `user_metadata`.
    pub user_metadata: serde_json::Value,
    /// API identifier -> granted scopes.
    pub permissions: std::collections::BTreeMap<String, Vec<String>>,
}

/// A user as stored.
#[derive(Clone)]
pub struct UserRecord {
    /// The `sub`.
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// Argon2 PHC hash.
    pub password_hash: String,
    /// Profile claims and metadata.
    pub profile: Profile,
    /// Successful interactive logins so far (Auth0 `stats.loginsCount`).
    pub logins_count: u64,
    /// Last profile change, unix seconds (`updated_at` claim).
    pub updated_at: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("password_hash", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A login session as stored (the cookie value itself is only stored hashed).
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// Public session id (the `sid` claim).
    pub sid: String,
    /// Who is logged in.
    pub user_id: String,
    /// When they typed their password, unix seconds.
    pub auth_time: i64,
    /// When the session ends, unix seconds.
    pub expires_at: i64,
}

/// A stored signing key.
#[derive(Clone)]
pub struct KeyRecord {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// PKCS#8 PEM of the private key.
    pub pkcs8_pem: String,
    /// When it was added, unix seconds.
    pub created_at: i64,
    /// When a newer key replaced it, unix seconds.
    pub retired_at: Option<i64>,
}

/// The database.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")?;
        conn.execute_batch(SCHEMA)?;
        let has_ip: i64 = conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('transactions') WHERE name = 'ip'",
            [],
            |r| r.get(0),
        )?;
        if has_ip == 0 {
            // Pending logins of an older version stay valid; they count for no IP.
            conn.execute_batch("ALTER TABLE transactions ADD COLUMN ip TEXT NOT NULL DEFAULT ''")?;
        }
        conn.execute_batch(INDEXES)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (each
        // statement is atomic), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts or updates a user by username, keeping its id and login count.
    pub fn upsert_user(
        &self,
        user_id: &str,
        username: &str,
        password_hash: &str,
        profile: &Profile,
        now: i64,
    ) -> Result<()> {
        let profile =
            serde_json::to_string(profile).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let conn = self.conn();
        let existing: Option<String> = conn
            .query_row(
                "SELECT user_id FROM users WHERE username = ?1",
                [username],
                |r| r.get(0),
            )
            .optional()?;
        match existing {
            Some(_) => {
                conn.execute(
                    "UPDATE users SET password_hash = ?2, profile = ?3,
                        updated_at = CASE WHEN profile = ?3 THEN updated_at ELSE ?4 END
                     WHERE username = ?1",
                    params![username, password_hash, profile, now],
                )?;
            }
            None => {
                conn.execute(
                    "INSERT INTO users (user_id, username, password_hash, profile, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![user_id, username, password_hash, profile, now],
                )?;
            }
        }
        Ok(())
    }

    fn user_where(&self, clause: &str, value: &str) -> Result<Option<UserRecord>> {
        let sql = format!(
            "SELECT user_id, username, password_hash, profile, logins_count, updated_at FROM users WHERE {clause} = ?1"
        );
        let row = self
            .conn()
            .query_row(&sql, [value], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .optional()?;
        row.map(
            |(user_id, username, password_hash, profile, logins, updated_at)| {
                let profile = serde_json::from_str(&profile)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(UserRecord {
                    user_id,
                    username,
                    password_hash,
                    profile,
                    logins_count: u64::try_from(logins).unwrap_or(0),
                    updated_at,
                })
            },
        )
        .transpose()
    }

    /// Finds a user by login name (case-insensitive).
    pub fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        self.user_where("username", username)
    }

    /// Finds a user by id.
    pub fn user_by_id(&self, user_id: &str) -> Result<Option<UserRecord>> {
        self.user_where("user_id", user_id)
    }

    /// Counts a successful login.
    pub fn record_login(&self, user_id: &str, now: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE users SET logins_count = logins_count + 1, last_login = ?2 WHERE user_id = ?1",
            params![user_id, now],
        )?;
        Ok(())
    }

    /// Stores a new session under the hash of its cookie value.
    pub fn insert_session(&self, token_hash: &str, s: &SessionRecord) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sessions (token_hash, sid, user_id, auth_time, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, s.sid, s.user_id, s.auth_time, s.expires_at],
        )?;
        Ok(())
    }

    /// The live session with this cookie hash.
    pub fn session(&self, token_hash: &str, now: i64) -> Result<Option<SessionRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT sid, user_id, auth_time, expires_at FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
                params![token_hash, now],
                |r| {
                    Ok(SessionRecord {
                        sid: r.get(0)?,
                        user_id: r.get(1)?,
                        auth_time: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Ends the session with this cookie hash.
    pub fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
        Ok(())
    }

    /// Scopes this user has already allowed this client for this audience; `None`
    /// when they never answered the consent page.
    pub fn consent(
        &self,
        user_id: &str,
        client_id: &str,
        audience: &str,
    ) -> Result<Option<Vec<String>>> {
        let scopes: Option<String> = self
            .conn()
            .query_row(
                "SELECT scopes FROM consents WHERE user_id = ?1 AND client_id = ?2 AND audience = ?3",
                params![user_id, client_id, audience],
                |r| r.get(0),
            )
            .optional()?;
        Ok(scopes.map(|s| {
            s.split(' ')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        }))
    }

    /// Remembers that the user allowed these scopes (added to earlier ones).
    pub fn grant_consent(
        &self,
        user_id: &str,
        client_id: &str,
        audience: &str,
        scopes: &[String],
        now: i64,
    ) -> Result<()> {
        let mut all = self
            .consent(user_id, client_id, audience)?
            .unwrap_or_default();
        for s in scopes {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        all.sort();
        self.conn().execute(
            "INSERT INTO consents (user_id, client_id, audience, scopes, granted_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (user_id, client_id, audience) DO UPDATE SET scopes = ?4, granted_at = ?5",
            params![user_id, client_id, audience, all.join(" "), now],
        )?;
        Ok(())
    }

    /// All signing keys, newest first.
    pub fn keys(&self) -> Result<Vec<KeyRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT kid, pkcs8_pem, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, rowid DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(KeyRecord {
                kid: r.get(0)?,
                pkcs8_pem: r.get(1)?,
                created_at: r.get(2)?,
                retired_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Adds a signing key and retires all older ones at `now`.
    pub fn add_key(&self, kid: &str, pkcs8_pem: &str, now: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at IS NULL",
            [now],
        )?;
        tx.execute(
            "INSERT INTO signing_keys (kid, pkcs8_pem, created_at) VALUES (?1, ?2, ?3)",
            params![kid, pkcs8_pem, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes keys retired before `cutoff`.
    pub fn prune_keys(&self, cutoff: i64) -> Result<()> {
        self.conn().execute(
            "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?1",
            [cutoff],
        )?;
        Ok(())
    }

    /// Stores a new pending authorization request for client `ip`, unless that IP or
    /// everyone together already holds as many live ones as `caps` allow. Counting
    /// stops at the cap, through the indexes, so a full table costs no more to refuse.
    pub fn insert_transaction(
        &self,
        id: &str,
        data: &str,
        ip: &str,
        expires_at: i64,
        now: i64,
        caps: PendingCaps,
    ) -> Result<Pending> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let from_ip: i64 = tx.query_row(
            "SELECT COUNT(*) FROM (SELECT 1 FROM transactions WHERE ip = ?1 AND expires_at > ?2 LIMIT ?3)",
            params![ip, now, caps.per_ip],
            |r| r.get(0),
        )?;
        if from_ip >= i64::from(caps.per_ip) {
            return Ok(Pending::IpFull);
        }
        let all: i64 = tx.query_row(
            "SELECT COUNT(*) FROM (SELECT 1 FROM transactions WHERE expires_at > ?1 LIMIT ?2)",
            params![now, caps.total],
            |r| r.get(0),
        )?;
        if all >= i64::from(caps.total) {
            return Ok(Pending::Full);
        }
        tx.execute(
            "INSERT INTO transactions (id, data, ip, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, data, ip, expires_at],
        )?;
        tx.commit()?;
        Ok(Pending::Stored)
    }

    /// Replaces the data of a pending authorization request (its expiry stays).
    pub fn update_transaction(&self, id: &str, data: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE transactions SET data = ?2 WHERE id = ?1",
            params![id, data],
        )?;
        Ok(())
    }

    /// How many pending authorization requests are live.
    pub fn pending_transactions(&self, now: i64) -> Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM transactions WHERE expires_at > ?1",
            [now],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deletes expired sessions and pending requests (an index range, not a scan);
    /// returns how many rows went.
    pub fn prune_expired(&self, now: i64) -> Result<usize> {
        let conn = self.conn();
        let sessions = conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        let pending = conn.execute("DELETE FROM transactions WHERE expires_at <= ?1", [now])?;
        Ok(sessions + pending)
    }

    /// A pending authorization request that has not expired.
    pub fn transaction(&self, id: &str, now: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT data FROM transactions WHERE id = ?1 AND expires_at > ?2",
                params![id, now],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Removes a pending authorization request (each is used once).
    pub fn delete_transaction(&self, id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM transactions WHERE id = ?1", [id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: PendingCaps = PendingCaps {
        per_ip: 2,
        total: 3,
    };

    #[test]
    fn pending_requests_are_capped_per_ip_and_in_total() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let put = |id: &str, ip: &str| store.insert_transaction(id, "{}", ip, 100, 10, CAPS);
        assert_eq!(put("a", "10.0.0.1").unwrap(), Pending::Stored);
        assert_eq!(put("b", "10.0.0.1").unwrap(), Pending::Stored);
        assert_eq!(put("c", "10.0.0.1").unwrap(), Pending::IpFull);
        assert_eq!(put("d", "10.0.0.2").unwrap(), Pending::Stored);
        assert_eq!(put("e", "10.0.0.3").unwrap(), Pending::Full);
        assert_eq!(store.pending_transactions(10).unwrap(), 3);
        // Expired requests neither count nor stay.
        assert_eq!(store.prune_expired(100).unwrap(), 3);
        assert_eq!(put("f", "10.0.0.1").unwrap(), Pending::Stored);
    }

    #[test]
    fn a_database_from_before_the_ip_column_keeps_its_pending_logins() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "CREATE TABLE transactions (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at INTEGER NOT NULL);
             INSERT INTO transactions VALUES ('old', '{\"x\":1}', 100);",
        )
        .unwrap();
        drop(conn);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.transaction("old", 10).unwrap().as_deref(),
            Some("{\"x\":1}")
        );
        let caps = PendingCaps {
            per_ip: 1,
            total: 5,
        };
        assert_eq!(
            store
                .insert_transaction("new", "{}", "10.0.0.1", 100, 10, caps)
                .unwrap(),
            Pending::Stored
        );
    }
}
