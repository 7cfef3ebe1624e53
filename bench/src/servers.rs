//! What the bench's measurements share: the release binaries, scratch directories, files,
//! and a bare HTTP probe.

use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    time::Duration,
};

use xtask::cmd;

use crate::{Result, TaskError};

/// `bench/` in the workspace root.
pub fn bench_dir() -> PathBuf {
    cmd::root().join("bench")
}

/// `target/release/<name>` (or under `$CARGO_TARGET_DIR`).
pub fn release_bin(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| cmd::root().join("target"), PathBuf::from)
        .join("release")
        .join(name)
}

/// A fresh, empty scratch directory under the system's temporary directory, named after
/// `purpose` and this process.
pub fn scratch_dir(purpose: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hashgate-bench-{purpose}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|source| TaskError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// Writes `text` to `path`, creating its directory.
pub fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|source| TaskError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    fs::write(path, text).map_err(|source| {
        TaskError::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}

/// Copies the directory `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TaskError::Io { path, source }
    };
    fs::create_dir_all(to).map_err(io(to))?;
    for entry in fs::read_dir(from).map_err(io(from))? {
        let path = entry.map_err(io(from))?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            fs::copy(&path, &target).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// The status code of `GET path` on 127.0.0.1:`port`, `None` if nothing answers.
pub fn http_status(port: u16, path: &str, token: Option<&str>) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 64];
    let read = stream.read(&mut head).ok()?;
    let line = String::from_utf8_lossy(&head[..read]).into_owned();
    line.split_whitespace().nth(1)?.parse().ok()
}
