//! The one error type of the bench: the task runner's errors (builds, tools, servers, files,
//! programs, anything missing), and what only the bench can meet (the identity provider's and
//! the app's configuration).

pub use xtask::Error as TaskError;

/// `Result` with the bench's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while benchmarking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A step shared with the task runner failed (a build, a tool, a server, the browser, a
    /// program, a file), or something the bench needs is missing.
    #[error(transparent)]
    Task(#[from] xtask::Error),
    /// The identity provider refused a configuration the bench wrote or read.
    #[error(transparent)]
    IdpConfig(#[from] hashgate_idp::ConfigError),
    /// The app would refuse an `auth_config.json` the bench wrote for it.
    #[error(transparent)]
    AppConfig(#[from] hashgate_protocol::ConfigError),
}
