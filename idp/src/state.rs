//! What the server needs at run time: settings, the database, keys, throttling and
//! values derived from the issuer URL. Built once by [`AppState::new`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::Config;
use crate::dpop::{Nonces, Replay};
use crate::error::{IdpError, Result};
use crate::keys::{self, KeyRing};
use crate::rules::Rules;
use crate::store::{Profile, Store};
use crate::throttle::Throttle;
use crate::util;

/// How many DPoP `jti`s are remembered at most (about 100 bytes each). Only proofs
/// that came with a valid code or refresh token are remembered, so this bounds
/// successful token requests per proof window, not what a stranger can send.
const DPOP_REPLAY_CAPACITY: usize = 65_536;

/// Everything needed to start the identity provider.
#[derive(Clone)]
pub struct Settings {
    /// Issuer URL, e.g. `http://localhost:3000/` (a missing trailing `/` is added).
    pub issuer: String,
    /// Directory for the SQLite database.
    pub data_dir: PathBuf,
    /// Clients, APIs, users and server settings.
    pub config: Config,
    /// PKCS#8 PEM used as the first signing key when the database has none; `None`
    /// generates one. Lets tests skip RSA key generation per server.
    pub signing_key_pem: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("issuer", &self.issuer)
            .field("data_dir", &self.data_dir)
            .field("config", &self.config)
            .field(
                "signing_key_pem",
                &self.signing_key_pem.as_ref().map(|_| util::REDACTED),
            )
            .finish()
    }
}

impl Settings {
    /// Settings with a generated signing key.
    pub fn new(issuer: impl Into<String>, data_dir: impl Into<PathBuf>, config: Config) -> Self {
        Self {
            issuer: issuer.into(),
            data_dir: data_dir.into(),
            config,
            signing_key_pem: None,
        }
    }

    /// Uses `pem` as the first signing key (see [`crate::keys::generate_signing_key_pem`]).
    pub fn with_signing_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.signing_key_pem = Some(pem.into());
        self
    }
}

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

/// The contents of [`AppState`]; its fields are internal.
pub struct Inner {
    pub(crate) issuer: String,
    pub(crate) issuer_url: Url,
    pub(crate) issuer_origin: String,
    pub(crate) secure_cookies: bool,
    pub(crate) session_cookie: String,
    pub(crate) csrf_cookie: String,
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) keys: KeyRing,
    pub(crate) throttle: Throttle,
    pub(crate) rules: Rules,
    /// DPoP server nonces, when `[dpop] require_nonce` is on.
    pub(crate) dpop_nonces: Option<Nonces>,
    /// `jti`s of DPoP proofs already used.
    pub(crate) dpop_replay: Replay,
    /// One argon2 check holds about 19 MiB; a burst of logins waits here instead of
    /// holding that many times over.
    password_slots: Semaphore,
    password_checks: AtomicU64,
    /// Seconds added to the system clock; only tests move it (see
    /// [`AppState::advance_clock`]).
    clock_offset: AtomicI64,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Normalises and checks an issuer URL: absolute http(s), no query or fragment,
/// ending with `/`.
pub fn normalize_issuer(issuer: &str) -> Result<Url> {
    let bad = |reason: &str| IdpError::Issuer {
        issuer: issuer.to_owned(),
        reason: reason.to_owned(),
    };
    let mut text = issuer.trim().to_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    let url = Url::parse(&text).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad("must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("must not have a query, fragment or user info"));
    }
    Ok(url)
}

impl AppState {
    /// Opens the database, creates a signing key on first start and seeds the
    /// configured users. Blocking (argon2, maybe RSA key generation): call it from
    /// `spawn_blocking` inside a runtime.
    pub fn new(settings: Settings) -> Result<Self> {
        let issuer_url = normalize_issuer(&settings.issuer)?;
        let config = settings.config;
        config.validate()?;
        // Before anything touches the database: a broken rule must stop start-up.
        let rules = Rules::load(config.rules_dir.as_deref(), &config.rules)?;
        if !rules.is_empty() {
            tracing::info!(rules = ?rules.names(), "rules loaded");
        }
        let store = Store::open(&settings.data_dir)?;
        let now = util::now();
        if store.keys()?.is_empty() {
            let kid = keys::add_signing_key(
                &store,
                settings.signing_key_pem,
                now,
                config.keys.grace_period_secs,
            )?;
            tracing::info!(kid = %kid, "created signing key");
        }
        let issuer = issuer_url.as_str().to_owned();
        seed_users(&store, &config, &issuer, now)?;
        // Cookies ignore ports, so two providers on one host (tests start many)
        // would overwrite each other's cookies without a per-issuer name.
        let suffix: String = util::sha256_b64(&issuer)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect();
        let secure_cookies = issuer_url.scheme() == "https";
        // RFC 6265bis §4.1.3.2: a `__Host-` cookie is only accepted Secure, with Path=/
        // and no Domain, so no sibling host or plain-http page can plant or replace it.
        let prefix = if secure_cookies { "__Host-" } else { "" };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let inner = Inner {
            issuer_origin: issuer_url.origin().ascii_serialization(),
            secure_cookies,
            session_cookie: format!("{prefix}hashgate_session_{suffix}"),
            csrf_cookie: format!("{prefix}hashgate_csrf_{suffix}"),
            issuer,
            issuer_url,
            keys: KeyRing::new(config.keys.grace_period_secs),
            throttle: Throttle::new(
                config.throttle.max_failures,
                Duration::from_secs(config.throttle.window_secs),
            ),
            dpop_nonces: config
                .dpop
                .require_nonce
                .then(|| Nonces::new(config.dpop.nonce_lifetime_secs, now)),
            // A proof is accepted for `iat` within the window either way, so its jti is
            // remembered for both halves.
            dpop_replay: Replay::new(
                config.dpop.proof_window_secs.saturating_mul(2),
                DPOP_REPLAY_CAPACITY,
            ),
            config,
            store,
            rules,
            password_slots: Semaphore::new(cores),
            password_checks: AtomicU64::new(0),
            clock_offset: AtomicI64::new(0),
        };
        Ok(Self(Arc::new(inner)))
    }

    /// The issuer URL, ending with `/`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The loaded rules and Actions.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// How many passwords this server has checked with argon2 (wrong, right or for an
    /// unknown user), for tests and monitoring: each check costs tens of milliseconds
    /// and about 19 MiB.
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::Relaxed)
    }

    /// Whether `password` matches `hash` (`None`: an unknown user, checked against a
    /// hash nobody knows, so that it takes as long as a wrong password). Runs on a
    /// blocking thread, at most one check per core at a time; the others wait.
    pub(crate) async fn check_password(&self, hash: Option<String>, password: String) -> bool {
        let Ok(_slot) = self.password_slots.acquire().await else {
            return false;
        };
        self.password_checks.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || verify_password(hash, &password))
            .await
            .unwrap_or(false)
    }

    /// The time that authorization codes, refresh tokens and the tokens of the token
    /// endpoint are issued and checked by, unix seconds: the system clock, plus
    /// whatever [`AppState::advance_clock`] added.
    pub fn now(&self) -> i64 {
        util::now().saturating_add(self.clock_offset.load(Ordering::Relaxed))
    }

    /// Moves [`AppState::now`] forward, for tests of code and refresh-token lifetimes
    /// (a 60 s code or a 15-day idle limit is tested without waiting for it).
    /// Sessions, pending logins and keys keep the system clock.
    pub fn advance_clock(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.clock_offset.fetch_add(secs, Ordering::Relaxed);
    }

    /// An endpoint URL under the issuer, e.g. `endpoint("userinfo")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Path part of an endpoint, for links inside our own pages.
    pub(crate) fn path(&self, path: &str) -> String {
        format!("{}{path}", self.issuer_url.path())
    }

    /// Runs `work` on a blocking thread: storage (SQLite behind one lock), password
    /// hashing and signing never hold up the async workers that serve everyone else.
    pub(crate) async fn blocking<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&AppState) -> Result<T> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || work(&state))
            .await
            .map_err(|e| IdpError::Task(e.to_string()))?
    }
}

fn seed_users(store: &Store, config: &Config, issuer: &str, now: i64) -> Result<()> {
    for u in &config.users {
        let hash = match (&u.password_hash, &u.password) {
            (Some(h), _) => h.clone(),
            (None, Some(p)) => hash_password(p)?,
            (None, None) => return Err(IdpError::Password("user without password".into())),
        };
        let nickname = u.nickname.clone().unwrap_or_else(|| u.username.clone());
        let picture = u.picture.clone().or_else(|| {
            let mut url = Url::parse(issuer).ok()?.join("avatar").ok()?;
            url.query_pairs_mut().append_pair("name", &u.name);
            Some(url.to_string())
        });
        let profile = Profile {
            name: u.name.clone(),
            nickname,
            email: u.email.clone(),
            email_verified: u.email_verified,
            picture,
            app_metadata: u.app_metadata.clone(),
            user_metadata: u.user_metadata.clone(),
            permissions: u.permissions.clone(),
        };
        store.upsert_user(&u.effective_user_id(), &u.username, &hash, &profile, now)?;
    }
    Ok(())
}

/// A password hash nobody knows, verified for unknown usernames.
static DUMMY_HASH: OnceLock<Option<String>> = OnceLock::new();

fn verify_password(hash: Option<String>, password: &str) -> bool {
    let dummy = DUMMY_HASH.get_or_init(|| hash_password(&util::random_token()).ok());
    let (hash, known) = match hash {
        Some(h) => (h, true),
        None => (dummy.clone().unwrap_or_default(), false),
    };
    let ok = PasswordHash::new(&hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    ok && known
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdpError::Password(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_print_no_signing_key() {
        let settings = Settings::new("http://x/", "/d", Config::default())
            .with_signing_key_pem("-----BEGIN PRIVATE KEY-----secret-value");
        let printed = format!("{settings:?}");
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }
}
