//! The one error type of the task runner.

use std::{io, path::PathBuf, process::ExitStatus};

/// `Result` with the task runner's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while running a task.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    /// A required tool is missing and this process cannot install it.
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
    /// A TOML file (`Cargo.lock`, `Trunk.toml`, `size-budget.toml`) could not be read
    /// as TOML of the expected shape.
    #[error("{}: {source}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// What the TOML parser says, with the line.
        #[source]
        source: toml::de::Error,
    },
    /// `Cargo.lock` does not pin the named package.
    #[error("{package} is not in {}", lockfile.display())]
    NotLocked {
        /// The package looked for.
        package: String,
        /// The lock file read.
        lockfile: PathBuf,
    },
    /// Driving the headless browser failed (WebDriver session, navigation, script).
    #[error("browser: {0}")]
    Browser(String),
    /// The Ctrl-C handler could not be installed.
    #[error("could not install the ctrl-c handler: {0}")]
    Signal(#[from] ctrlc::Error),
    /// One or more steps failed; the details were printed as they happened.
    #[error("{0}")]
    StepsFailed(String),
}
