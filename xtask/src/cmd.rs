//! Running programs: the workspace root, command echoing, and status checks.

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{Error, Result};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// `dir/bin` of the Cargo home, where `cargo install` puts binaries.
pub fn cargo_bin_dir() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin"))
}

/// Puts the Cargo bin directory first on `PATH` for this process and every child, so a
/// tool `cargo install`ed a moment ago is the one found.
pub fn put_cargo_bin_on_path() {
    let Some(bin) = cargo_bin_dir() else { return };
    let current = env::var_os("PATH").unwrap_or_default();
    if env::split_paths(&current).next().as_deref() == Some(bin.as_path()) {
        return;
    }
    let mut paths = vec![bin];
    paths.extend(env::split_paths(&current));
    if let Ok(joined) = env::join_paths(paths) {
        // Single-threaded at this point: called first thing in `main`.
        env::set_var("PATH", joined);
    }
}

/// The first `name` on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A command for `program`, run in the workspace root.
pub fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(root());
    cmd
}

/// `cargo` (the rustup proxy on `PATH`, which honours `rust-toolchain.toml`), in the root.
pub fn cargo() -> Command {
    command("cargo")
}

/// The command line, for echoing and error messages.
pub fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Echoes and runs `cmd` with inherited stdio; fails unless it exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = describe(cmd);
    println!("$ {line}");
    let status = cmd.status().map_err(|source| Error::Spawn {
        command: line.clone(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            command: line,
            status,
        })
    }
}

/// Runs `cmd` quietly and returns its trimmed stdout, or `None` if it cannot start or fails.
pub fn capture(cmd: &mut Command) -> Option<String> {
    let output = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
