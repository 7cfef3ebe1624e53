//! The one error type of the bench: the task runner's errors (builds, tools, servers), and
//! what only the bench can meet (the identity provider's and the app's configuration).

use std::{io, path::PathBuf, process::ExitStatus};

/// `Result` with the bench's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while benchmarking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A step shared with the task runner failed (a build, a tool, a server, the browser).
    #[error(transparent)]
    Task(#[from] xtask::Error),
    /// A program could not be started, usually because it is not installed.
    #[error("could not start `{command}`: {source}")]
    Spawn {
        /// The command line that was attempted.
        command: String,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
    /// A program ran and reported failure.
    #[error("`{command}` failed ({status})")]
    Failed {
        /// The command line that failed.
        command: String,
        /// Its exit status.
        status: ExitStatus,
    },
    /// A required tool or file is missing, or a measurement could not be taken.
    #[error("{0}")]
    Missing(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The identity provider's shipped config could not be read as TOML.
    #[error("{}: {source}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// What the TOML parser says, with the line.
        #[source]
        source: toml::de::Error,
    },
    /// The identity provider refused a configuration the bench wrote or read.
    #[error(transparent)]
    IdpConfig(#[from] hashgate_idp::ConfigError),
    /// The app would refuse an `auth_config.json` the bench wrote for it.
    #[error(transparent)]
    AppConfig(#[from] hashgate_protocol::ConfigError),
}
