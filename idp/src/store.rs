//! SQLite storage under the data directory (`idp.sqlite3`): users, login sessions,
//! consents, signing keys, pending authorization requests, authorization codes and
//! refresh tokens. Every call is a short statement (or one transaction) behind one
//! mutex. Session cookies, codes and refresh tokens are stored only as their SHA-256.

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
    site       TEXT NOT NULL DEFAULT '',
    alloc      TEXT NOT NULL DEFAULT '',
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_codes (
    code_hash  TEXT PRIMARY KEY,
    sid        TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    family     TEXT
);
CREATE TABLE IF NOT EXISTS refresh_families (
    family     TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    sid        TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family     TEXT NOT NULL REFERENCES refresh_families (family) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER
);
";

/// Indexes, created after [`SCHEMA`] and the column a database made by an older version
/// lacks: expired rows are found, and live ones counted, without a full scan.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS transactions_by_expiry ON transactions (expires_at);
CREATE INDEX IF NOT EXISTS transactions_by_ip ON transactions (ip, expires_at);
CREATE INDEX IF NOT EXISTS transactions_by_site ON transactions (site, expires_at);
CREATE INDEX IF NOT EXISTS transactions_by_alloc ON transactions (alloc, expires_at);
CREATE INDEX IF NOT EXISTS auth_codes_by_expiry ON auth_codes (expires_at);
CREATE INDEX IF NOT EXISTS auth_codes_by_sid ON auth_codes (sid, created_at);
CREATE INDEX IF NOT EXISTS refresh_families_by_expiry ON refresh_families (expires_at);
CREATE INDEX IF NOT EXISTS refresh_families_by_sid ON refresh_families (sid);
CREATE INDEX IF NOT EXISTS refresh_families_by_owner ON refresh_families (user_id, client_id, created_at);
CREATE INDEX IF NOT EXISTS refresh_tokens_by_family ON refresh_tokens (family);
";

/// Codes kept per login session: storing one more drops the oldest, so a logged-in
/// script looping on `/authorize` cannot fill the database.
pub const MAX_CODES_PER_SESSION: u32 = 100;

/// Live refresh-token families per user and client, as Auth0 limits them: storing one
/// more revokes the oldest.
pub const MAX_FAMILIES_PER_USER_AND_CLIENT: u32 = 200;

/// How long a redeemed code is remembered after it expired, so that a replay is still
/// recognised (and revokes what the code issued) instead of being just unknown.
pub const CODE_REPLAY_MEMORY_SECS: i64 = 3600;

/// A stored authorization code (its value is known only by its hash).
#[derive(Debug, Clone)]
pub struct CodeRecord {
    /// What the code is bound to, as JSON written by the caller.
    pub data: String,
    /// When it stops being redeemable, unix seconds.
    pub expires_at: i64,
    /// When it was redeemed, if it was.
    pub used_at: Option<i64>,
}

/// What redeeming a code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeemed {
    /// The code was live and unused; it is now used (and the family, if any, stored).
    Fresh,
    /// The code is unknown, expired or was already used: nothing was stored.
    Refused,
}

/// A refresh token to store.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// SHA-256 of the token (base64url).
    pub token_hash: String,
    /// When it was issued, unix seconds.
    pub issued_at: i64,
    /// When it expires unused (its inactivity limit, within the family's), unix seconds.
    pub expires_at: i64,
}

/// A refresh-token family to store: every token rotated from one code exchange.
#[derive(Debug, Clone)]
pub struct NewFamily {
    /// Random family id (not a secret: it names the family in logs).
    pub family: String,
    /// The client the tokens belong to.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The login session (`sid`) the family started from; logout revokes it.
    pub sid: String,
    /// The grant (scopes, audience, ...), as JSON written by the caller.
    pub data: String,
    /// When the family was created, unix seconds.
    pub created_at: i64,
    /// The family's absolute end, unix seconds.
    pub expires_at: i64,
    /// Its first token.
    pub first: NewRefreshToken,
}

/// A stored refresh token with its family.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    /// The family id.
    pub family: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The login session the family started from.
    pub sid: String,
    /// The family's grant, as JSON.
    pub data: String,
    /// The family's absolute end, unix seconds.
    pub family_expires_at: i64,
    /// This token's inactivity end, unix seconds.
    pub expires_at: i64,
    /// When it was exchanged, if it was.
    pub spent_at: Option<i64>,
}

/// What rotating a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is spent and the new one stored.
    Rotated,
    /// The old token had already been spent, outside the leeway: its family is revoked.
    Reused,
    /// The token or its family no longer exists (revoked meanwhile).
    Gone,
}

/// Caps on pending authorization requests (`[transactions]` in the config), one per
/// level of [`PendingNetworks`] and one in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCaps {
    /// Live pending requests one address block (IPv4 address, IPv6 /64) may hold.
    pub per_ip: u32,
    /// Live pending requests one site (IPv6 /48, IPv4 /24) may hold.
    pub per_site: u32,
    /// Live pending requests one allocation (IPv6 /32, IPv4 /24) may hold.
    pub per_allocation: u32,
    /// Live pending requests in all.
    pub total: u32,
}

/// The nested networks a pending request is counted under, finest first (the caller
/// derives them from the client address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingNetworks<'a> {
    /// The address block (IPv4 address, IPv6 /64).
    pub block: &'a str,
    /// The site (IPv6 /48, IPv4 /24).
    pub site: &'a str,
    /// The allocation (IPv6 /32, IPv4 /24).
    pub allocation: &'a str,
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

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("pkcs8_pem", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
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
        for column in ["ip", "site", "alloc"] {
            let present: i64 = conn.query_row(
                "SELECT COUNT(*) FROM pragma_table_info('transactions') WHERE name = ?1",
                [column],
                |r| r.get(0),
            )?;
            if present == 0 {
                // Pending logins of an older version stay valid; they count for no
                // network (the empty one).
                conn.execute_batch(&format!(
                    "ALTER TABLE transactions ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"
                ))?;
            }
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

    /// Stores a new pending authorization request, never refusing it: when one of
    /// the networks it comes from already holds its cap, that network's oldest live
    /// requests make room; when the store holds `caps.total`, the oldest of the
    /// allocation holding the most go. A flood thus only ever pushes out the flooding
    /// network's own pending logins, and a newcomer from elsewhere always gets in.
    /// Counting and choosing run through the indexes. Returns how many live requests
    /// were pushed out.
    pub fn insert_transaction(
        &self,
        id: &str,
        data: &str,
        from: PendingNetworks<'_>,
        expires_at: i64,
        now: i64,
        caps: PendingCaps,
    ) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut evicted = 0;
        for (column, key, cap) in [
            ("alloc", from.allocation, caps.per_allocation),
            ("site", from.site, caps.per_site),
            ("ip", from.block, caps.per_ip),
        ] {
            evicted += make_room(&tx, column, key, cap.min(caps.total), now)?;
        }
        let all: i64 = tx.query_row(
            "SELECT COUNT(*) FROM (SELECT 1 FROM transactions WHERE expires_at > ?1 LIMIT ?2)",
            params![now, caps.total],
            |r| r.get(0),
        )?;
        if all >= i64::from(caps.total) {
            let heaviest: Option<String> = tx
                .query_row(
                    "SELECT alloc FROM transactions WHERE expires_at > ?1
                     GROUP BY alloc ORDER BY COUNT(*) DESC LIMIT 1",
                    [now],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(heaviest) = heaviest {
                let over = all - i64::from(caps.total) + 1;
                evicted += evict_oldest(&tx, "alloc", &heaviest, over, now)?;
            }
        }
        tx.execute(
            "INSERT INTO transactions (id, data, ip, site, alloc, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, data, from.block, from.site, from.allocation, expires_at],
        )?;
        tx.commit()?;
        Ok(evicted)
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

    /// Deletes expired sessions, pending requests, codes (kept
    /// [`CODE_REPLAY_MEMORY_SECS`] past their expiry) and refresh-token families (past
    /// their absolute end, or whose every token is spent or idle), through indexes;
    /// returns how many rows went.
    pub fn prune_expired(&self, now: i64) -> Result<usize> {
        let conn = self.conn();
        let sessions = conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        let pending = conn.execute("DELETE FROM transactions WHERE expires_at <= ?1", [now])?;
        let codes = conn.execute(
            "DELETE FROM auth_codes WHERE expires_at <= ?1",
            [now.saturating_sub(CODE_REPLAY_MEMORY_SECS)],
        )?;
        let families = conn.execute(
            "DELETE FROM refresh_families WHERE expires_at <= ?1 OR NOT EXISTS (
                SELECT 1 FROM refresh_tokens t
                WHERE t.family = refresh_families.family AND t.spent_at IS NULL AND t.expires_at > ?1)",
            [now],
        )?;
        Ok(sessions + pending + codes + families)
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

    /// Removes a pending authorization request (each is used once); `true` when this
    /// call removed it, so of two concurrent posts of one login form exactly one
    /// finishes it.
    pub fn delete_transaction(&self, id: &str) -> Result<bool> {
        let removed = self
            .conn()
            .execute("DELETE FROM transactions WHERE id = ?1", [id])?;
        Ok(removed == 1)
    }

    /// The live session with this public id (`sid`).
    pub fn session_by_sid(&self, sid: &str, now: i64) -> Result<Option<SessionRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT sid, user_id, auth_time, expires_at FROM sessions WHERE sid = ?1 AND expires_at > ?2",
                params![sid, now],
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

    /// Replaces the session with cookie hash `old` (if any) by `new`, in one
    /// transaction. Codes and refresh-token families of the old session move to the
    /// new one: they came from the same browser, so its logout must revoke them too.
    pub fn replace_session(
        &self,
        old: Option<&str>,
        token_hash: &str,
        new: &SessionRecord,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(old) = old {
            let old_sid: Option<String> = tx
                .query_row(
                    "SELECT sid FROM sessions WHERE token_hash = ?1",
                    [old],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [old])?;
            if let Some(old_sid) = old_sid {
                tx.execute(
                    "UPDATE refresh_families SET sid = ?2 WHERE sid = ?1",
                    params![old_sid, new.sid],
                )?;
                tx.execute(
                    "UPDATE auth_codes SET sid = ?2 WHERE sid = ?1",
                    params![old_sid, new.sid],
                )?;
            }
        }
        tx.execute(
            "INSERT INTO sessions (token_hash, sid, user_id, auth_time, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, new.sid, new.user_id, new.auth_time, new.expires_at],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Stores an authorization code for session `sid`; beyond
    /// [`MAX_CODES_PER_SESSION`] codes of that session the oldest are dropped.
    pub fn insert_code(
        &self,
        code_hash: &str,
        sid: &str,
        data: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO auth_codes (code_hash, sid, data, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![code_hash, sid, data, now, expires_at],
        )?;
        tx.execute(
            "DELETE FROM auth_codes WHERE sid = ?1 AND code_hash NOT IN (
                SELECT code_hash FROM auth_codes WHERE sid = ?1
                ORDER BY created_at DESC, rowid DESC LIMIT ?2)",
            params![sid, MAX_CODES_PER_SESSION],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The stored code with this hash, used or not, expired or not.
    pub fn code(&self, code_hash: &str) -> Result<Option<CodeRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT data, expires_at, used_at FROM auth_codes WHERE code_hash = ?1",
                [code_hash],
                |r| {
                    Ok(CodeRecord {
                        data: r.get(0)?,
                        expires_at: r.get(1)?,
                        used_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Marks a live, unused code used and stores the refresh-token family its
    /// exchange starts, in one transaction: of two concurrent redemptions exactly one
    /// is [`Redeemed::Fresh`], and a replay always finds the family to revoke.
    pub fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        family: Option<&NewFamily>,
    ) -> Result<Redeemed> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let marked = tx.execute(
            "UPDATE auth_codes SET used_at = ?2, family = ?3
             WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![code_hash, now, family.map(|f| f.family.as_str())],
        )?;
        if marked != 1 {
            return Ok(Redeemed::Refused);
        }
        if let Some(f) = family {
            insert_family(&tx, f)?;
        }
        tx.commit()?;
        Ok(Redeemed::Fresh)
    }

    /// Revokes what the exchange of a used code issued (its refresh-token family, if
    /// any) and forgets the code's link to it; returns the family id revoked.
    pub fn revoke_code_grants(&self, code_hash: &str) -> Result<Option<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let family: Option<String> = tx
            .query_row(
                "SELECT family FROM auth_codes WHERE code_hash = ?1",
                [code_hash],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if let Some(f) = &family {
            tx.execute("DELETE FROM refresh_families WHERE family = ?1", [f])?;
            tx.execute(
                "UPDATE auth_codes SET family = NULL WHERE code_hash = ?1",
                [code_hash],
            )?;
        }
        tx.commit()?;
        Ok(family)
    }

    /// The refresh token with this hash and its family (spent or not; `None` once the
    /// family is revoked or pruned).
    pub fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT f.family, f.client_id, f.user_id, f.sid, f.data, f.expires_at, t.expires_at, t.spent_at
                 FROM refresh_tokens t JOIN refresh_families f ON f.family = t.family
                 WHERE t.token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(RefreshRecord {
                        family: r.get(0)?,
                        client_id: r.get(1)?,
                        user_id: r.get(2)?,
                        sid: r.get(3)?,
                        data: r.get(4)?,
                        family_expires_at: r.get(5)?,
                        expires_at: r.get(6)?,
                        spent_at: r.get(7)?,
                    })
                },
            )
            .optional()?)
    }

    /// Spends refresh token `old` and stores `new` in its family, in one transaction.
    /// A token already spent more than `leeway` seconds ago is a replay: its family is
    /// revoked instead (RFC 9700 §4.14.2).
    pub fn rotate_refresh_token(
        &self,
        old: &str,
        new: &NewRefreshToken,
        leeway: i64,
    ) -> Result<Rotation> {
        let now = new.issued_at;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let row: Option<(String, Option<i64>)> = tx
            .query_row(
                "SELECT family, spent_at FROM refresh_tokens WHERE token_hash = ?1",
                [old],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((family, spent_at)) = row else {
            return Ok(Rotation::Gone);
        };
        if spent_at.is_some_and(|at| now.saturating_sub(at) >= leeway) {
            tx.execute("DELETE FROM refresh_families WHERE family = ?1", [&family])?;
            tx.commit()?;
            return Ok(Rotation::Reused);
        }
        tx.execute(
            "UPDATE refresh_tokens SET spent_at = ?2 WHERE token_hash = ?1 AND spent_at IS NULL",
            params![old, now],
        )?;
        tx.execute(
            "INSERT INTO refresh_tokens (token_hash, family, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![new.token_hash, family, new.issued_at, new.expires_at],
        )?;
        tx.commit()?;
        Ok(Rotation::Rotated)
    }

    /// Revokes a refresh-token family (every token in it); whether it existed.
    pub fn revoke_family(&self, family: &str) -> Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM refresh_families WHERE family = ?1", [family])?
            > 0)
    }

    /// Revokes the refresh-token families and unredeemed codes of login session
    /// `sid` (logout); returns how many families went.
    pub fn revoke_session_grants(&self, sid: &str) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let families = tx.execute("DELETE FROM refresh_families WHERE sid = ?1", [sid])?;
        tx.execute(
            "DELETE FROM auth_codes WHERE sid = ?1 AND used_at IS NULL",
            [sid],
        )?;
        tx.commit()?;
        Ok(families)
    }

    /// How many refresh tokens are stored (spent ones included), for tests.
    pub fn refresh_token_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM refresh_tokens", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Stores a family and its first token; beyond [`MAX_FAMILIES_PER_USER_AND_CLIENT`]
/// families of that user and client, the oldest are revoked.
/// Deletes the oldest live pending requests of network `key` (in `column`) until it
/// holds fewer than `cap`, making room for one more.
fn make_room(
    tx: &rusqlite::Transaction<'_>,
    column: &str,
    key: &str,
    cap: u32,
    now: i64,
) -> Result<usize> {
    let held: i64 = tx.query_row(
        &format!("SELECT COUNT(*) FROM transactions WHERE {column} = ?1 AND expires_at > ?2"),
        params![key, now],
        |r| r.get(0),
    )?;
    let over = held - i64::from(cap) + 1;
    if over <= 0 {
        return Ok(0);
    }
    evict_oldest(tx, column, key, over, now)
}

/// Deletes the `n` oldest live pending requests of network `key` (in `column`).
/// Every request lives equally long, so the earliest expiry is the oldest.
fn evict_oldest(
    tx: &rusqlite::Transaction<'_>,
    column: &str,
    key: &str,
    n: i64,
    now: i64,
) -> Result<usize> {
    Ok(tx.execute(
        &format!(
            "DELETE FROM transactions WHERE rowid IN (
                SELECT rowid FROM transactions WHERE {column} = ?1 AND expires_at > ?2
                ORDER BY expires_at, rowid LIMIT ?3)"
        ),
        params![key, now, n],
    )?)
}

fn insert_family(tx: &rusqlite::Transaction<'_>, f: &NewFamily) -> Result<()> {
    tx.execute(
        "INSERT INTO refresh_families (family, client_id, user_id, sid, data, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![f.family, f.client_id, f.user_id, f.sid, f.data, f.created_at, f.expires_at],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, family, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![f.first.token_hash, f.family, f.first.issued_at, f.first.expires_at],
    )?;
    tx.execute(
        "DELETE FROM refresh_families WHERE user_id = ?1 AND client_id = ?2 AND family NOT IN (
            SELECT family FROM refresh_families WHERE user_id = ?1 AND client_id = ?2
            ORDER BY created_at DESC, rowid DESC LIMIT ?3)",
        params![f.user_id, f.client_id, MAX_FAMILIES_PER_USER_AND_CLIENT],
    )?;
    Ok(())
}

/// Alice's record with `password_hash`, for the tests of the modules that hold one.
#[cfg(test)]
impl UserRecord {
    pub(crate) fn example(password_hash: &str) -> UserRecord {
        UserRecord {
            user_id: "auth0|alice".into(),
            username: "alice".into(),
            password_hash: password_hash.into(),
            profile: Profile {
                name: "Alice".into(),
                nickname: "alice".into(),
                email: "a@example.com".into(),
                email_verified: true,
                picture: None,
                app_metadata: serde_json::Value::Null,
                user_metadata: serde_json::Value::Null,
                permissions: Default::default(),
            },
            logins_count: 0,
            updated_at: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_record_prints_no_private_key() {
        let record = KeyRecord {
            kid: "kid".into(),
            pkcs8_pem: "-----BEGIN PRIVATE KEY-----secret-value".into(),
            created_at: 0,
            retired_at: None,
        };
        let printed = format!("{record:?}");
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    #[test]
    fn a_user_record_prints_no_password_hash() {
        let user = UserRecord::example("$argon2id$secret-value");
        let printed = format!("{user:?}");
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    const CAPS: PendingCaps = PendingCaps {
        per_ip: 2,
        per_site: 3,
        per_allocation: 4,
        total: 6,
    };

    fn from(
        block: &'static str,
        site: &'static str,
        allocation: &'static str,
    ) -> PendingNetworks<'static> {
        PendingNetworks {
            block,
            site,
            allocation,
        }
    }

    /// Stores pending request `id` from `net` (expiring at 100, at time 10, under [`CAPS`]);
    /// returns how many pending requests it pushed out.
    fn put_pending(store: &Store, id: &str, net: PendingNetworks<'_>) -> usize {
        store
            .insert_transaction(id, "{}", net, 100, 10, CAPS)
            .unwrap()
    }

    fn live(store: &Store, ids: &[&str]) -> Vec<String> {
        ids.iter()
            .filter(|id| store.transaction(id, 10).unwrap().is_some())
            .map(|id| (*id).to_owned())
            .collect()
    }

    #[test]
    fn a_network_over_its_cap_loses_its_own_oldest_pending_requests() {
        // idp/README.md (Flood caps): caps per nested network push out that network's
        // oldest, never refuse the newcomer.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let put = |id: &str, net| put_pending(&store, id, net);
        assert_eq!(put("a1", from("a", "s", "x")), 0);
        assert_eq!(put("a2", from("a", "s", "x")), 0);
        // The block holds 2: its oldest goes.
        assert_eq!(put("a3", from("a", "s", "x")), 1);
        assert_eq!(live(&store, &["a1", "a2", "a3"]), ["a2", "a3"]);
        // The site holds 3: the oldest of the site goes, whichever block it is in.
        assert_eq!(put("b1", from("b", "s", "x")), 0);
        assert_eq!(put("b2", from("b", "s", "x")), 1);
        assert_eq!(live(&store, &["a2", "a3", "b1", "b2"]), ["a3", "b1", "b2"]);
        // The allocation holds 4.
        assert_eq!(put("c1", from("c", "t", "x")), 0);
        assert_eq!(put("c2", from("c", "t", "x")), 1);
        assert_eq!(store.pending_transactions(10).unwrap(), 4);
        // Expired requests neither count nor stay.
        assert_eq!(store.prune_expired(100).unwrap(), 4);
    }

    #[test]
    fn a_full_store_pushes_out_the_heaviest_allocation_and_takes_the_newcomer() {
        // idp/README.md (Flood caps): the total holds, and the network holding the most
        // pays for it, not the unrelated newcomer.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let put = |id: &str, net| put_pending(&store, id, net);
        for (id, block, site) in [
            ("h1", "h1", "h"),
            ("h2", "h2", "h"),
            ("h3", "h3", "i"),
            ("h4", "h4", "i"),
        ] {
            assert_eq!(put(id, from(block, site, "heavy")), 0);
        }
        assert_eq!(put("l1", from("l1", "l", "light")), 0);
        assert_eq!(put("m1", from("m1", "m", "middle")), 0);
        assert_eq!(store.pending_transactions(10).unwrap(), 6);
        assert_eq!(put("n1", from("n1", "n", "new")), 1);
        assert_eq!(store.pending_transactions(10).unwrap(), 6);
        assert_eq!(
            live(&store, &["h1", "h2", "h3", "h4", "l1", "m1", "n1"]),
            ["h2", "h3", "h4", "l1", "m1", "n1"]
        );
    }

    #[test]
    fn a_pending_request_is_removed_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .insert_transaction("t", "{}", from("a", "s", "x"), 100, 10, CAPS)
            .unwrap();
        assert!(store.delete_transaction("t").unwrap());
        assert!(!store.delete_transaction("t").unwrap());
    }

    fn family(n: usize, user: &str, now: i64) -> NewFamily {
        NewFamily {
            family: format!("f{n}"),
            client_id: "c".into(),
            user_id: user.into(),
            sid: "s".into(),
            data: "{}".into(),
            created_at: now,
            expires_at: now + 1000,
            first: NewRefreshToken {
                token_hash: format!("t{n}"),
                issued_at: now,
                expires_at: now + 100,
            },
        }
    }

    #[test]
    fn a_code_redeems_once_even_when_two_exchanges_race() {
        // RFC 6749 §4.1.2: single use, decided inside one transaction.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.insert_code("h", "s", "{}", 10, 70).unwrap();
        assert_eq!(
            store
                .redeem_code("h", 11, Some(&family(1, "u", 11)))
                .unwrap(),
            Redeemed::Fresh
        );
        assert_eq!(
            store
                .redeem_code("h", 11, Some(&family(2, "u", 11)))
                .unwrap(),
            Redeemed::Refused
        );
        // The loser stored nothing; the replay revokes the winner's family.
        assert!(store.refresh_token("t2").unwrap().is_none());
        assert_eq!(
            store.revoke_code_grants("h").unwrap().as_deref(),
            Some("f1")
        );
        assert!(store.refresh_token("t1").unwrap().is_none());
        store.insert_code("late", "s", "{}", 10, 70).unwrap();
        assert_eq!(
            store.redeem_code("late", 70, None).unwrap(),
            Redeemed::Refused
        );
    }

    #[test]
    fn a_session_flooding_authorize_keeps_only_its_newest_codes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for n in 0..=MAX_CODES_PER_SESSION {
            store
                .insert_code(&format!("c{n}"), "s", "{}", i64::from(n), 1000)
                .unwrap();
        }
        assert!(store.code("c0").unwrap().is_none());
        assert!(store.code("c1").unwrap().is_some());
        assert!(store
            .code(&format!("c{MAX_CODES_PER_SESSION}"))
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_user_holds_at_most_two_hundred_families_per_client() {
        // Auth0's limit: the oldest refresh token of that user and application goes.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let max = usize::try_from(MAX_FAMILIES_PER_USER_AND_CLIENT).unwrap();
        for n in 0..=max {
            store
                .insert_code(&format!("c{n}"), "s", "{}", 10, 10_000)
                .unwrap();
            let now = 10 + i64::try_from(n).unwrap();
            assert_eq!(
                store
                    .redeem_code(&format!("c{n}"), now, Some(&family(n, "u", now)))
                    .unwrap(),
                Redeemed::Fresh
            );
        }
        store.insert_code("x", "s", "{}", 10, 10_000).unwrap();
        assert_eq!(
            store
                .redeem_code("x", 20, Some(&family(999, "someone-else", 20)))
                .unwrap(),
            Redeemed::Fresh
        );
        assert!(store.refresh_token("t0").unwrap().is_none());
        assert!(store.refresh_token("t1").unwrap().is_some());
        assert!(store.refresh_token(&format!("t{max}")).unwrap().is_some());
        assert!(store.refresh_token("t999").unwrap().is_some());
    }

    #[test]
    fn rotation_spends_once_and_a_late_replay_revokes_the_family() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.insert_code("c", "s", "{}", 10, 70).unwrap();
        store
            .redeem_code("c", 10, Some(&family(1, "u", 10)))
            .unwrap();
        let next = |hash: &str, at: i64| NewRefreshToken {
            token_hash: hash.into(),
            issued_at: at,
            expires_at: at + 100,
        };
        assert_eq!(
            store
                .rotate_refresh_token("t1", &next("t2", 20), 5)
                .unwrap(),
            Rotation::Rotated
        );
        // Within the leeway a second exchange of t1 branches the family...
        assert_eq!(
            store
                .rotate_refresh_token("t1", &next("t3", 24), 5)
                .unwrap(),
            Rotation::Rotated
        );
        // ...after it, the replay revokes every token.
        assert_eq!(
            store
                .rotate_refresh_token("t1", &next("t4", 25), 5)
                .unwrap(),
            Rotation::Reused
        );
        for t in ["t1", "t2", "t3", "t4"] {
            assert!(store.refresh_token(t).unwrap().is_none(), "{t}");
        }
        assert_eq!(
            store
                .rotate_refresh_token("t2", &next("t5", 26), 5)
                .unwrap(),
            Rotation::Gone
        );
        assert_eq!(store.refresh_token_count().unwrap(), 0);
    }

    #[test]
    fn pruning_drops_dead_families_and_old_codes_but_keeps_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.insert_code("c1", "s", "{}", 10, 70).unwrap();
        store
            .redeem_code("c1", 10, Some(&family(1, "u", 10)))
            .unwrap();
        store.insert_code("c2", "s", "{}", 10, 70).unwrap();
        store
            .redeem_code("c2", 10, Some(&family(2, "u", 10)))
            .unwrap();
        // Family 2's only token is idle past its end; family 1's is refreshed.
        store
            .rotate_refresh_token(
                "t1",
                &NewRefreshToken {
                    token_hash: "t1b".into(),
                    issued_at: 100,
                    expires_at: 300,
                },
                0,
            )
            .unwrap();
        store.prune_expired(200).unwrap();
        assert!(store.refresh_token("t1b").unwrap().is_some());
        assert!(store.refresh_token("t2").unwrap().is_none());
        // A redeemed code is remembered for replay detection, then forgotten.
        assert!(store.code("c1").unwrap().is_some());
        store.prune_expired(70 + CODE_REPLAY_MEMORY_SECS).unwrap();
        assert!(store.code("c1").unwrap().is_none());
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
            per_site: 1,
            per_allocation: 1,
            total: 5,
        };
        assert_eq!(
            store
                .insert_transaction(
                    "new",
                    "{}",
                    from("10.0.0.1", "10.0.0.0/24", "10.0.0.0/24"),
                    100,
                    10,
                    caps
                )
                .unwrap(),
            0
        );
        assert!(store.transaction("old", 10).unwrap().is_some());
    }
}
