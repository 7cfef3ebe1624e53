//! The crate's error type: everything that can stop the server from starting or a
//! command from finishing. Request-level failures are turned into pages or protocol
//! errors by the handlers and never surface here.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::rules::RuleError;

/// Result alias for this crate.
pub type Result<T, E = IdpError> = std::result::Result<T, E>;

/// Why the identity provider could not start or finish a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdpError {
    /// The configuration file is missing, unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A rule could not be read or does not compile.
    #[error(transparent)]
    Rules(#[from] RuleError),
    /// The issuer URL is not an absolute http(s) URL.
    #[error("invalid issuer url {issuer:?}: {reason}")]
    Issuer {
        /// The issuer as given.
        issuer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The SQLite database failed.
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A signing key could not be generated, parsed or used.
    #[error("signing key error: {0}")]
    Key(String),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Password(String),
    /// A token could not be signed.
    #[error("token signing failed: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
    /// The listener or server failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}
