//! The JavaScript peers: node and npm, and the React bundles built at bench time.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use xtask::{cmd, size};

use crate::{Result, TaskError};

use super::servers::bench_dir;

/// Fails unless node and npm are on `PATH`.
pub fn ensure_node() -> Result<()> {
    if cmd::find_in_path("node").is_some() && cmd::find_in_path("npm").is_some() {
        return Ok(());
    }
    Err(TaskError::Missing(
        "node and npm are needed for the JavaScript peers (Debian: sudo apt-get install -y nodejs npm)"
            .to_owned(),
    ).into())
}

/// Installs and bundles the React peer in `bench/<name>/`; returns its directory and sizes.
pub fn build_peer(name: &str) -> Result<(PathBuf, size::SizeReport)> {
    let dir = bench_dir().join(name);
    npm_ci(&dir)?;
    cmd::run(Command::new("npm").args(["run", "build"]).current_dir(&dir))?;
    let report = size::measure(&dir.join("dist"))?;
    println!("{report}");
    Ok((dir, report))
}

/// `npm ci`: exactly the versions in `package-lock.json`, without install scripts.
pub fn npm_ci(dir: &Path) -> Result<()> {
    Ok(cmd::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(dir),
    )?)
}
