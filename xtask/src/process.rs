//! Servers the tasks start and must never leave behind, and the local ports they listen on.

use std::{
    fs,
    net::{SocketAddr, TcpListener, TcpStream},
    os::unix::process::CommandExt as _,
    path::PathBuf,
    process::{Child, ChildStdout, Command, ExitStatus},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{killpg, Signal},
    unistd::Pid,
};

use crate::{cmd, Error, Result};

/// How often [`Server::wait_for`] looks again.
const POLL: Duration = Duration::from_millis(50);

/// A spawned server, killed when dropped so that no run leaves one behind.
#[derive(Debug)]
pub struct Server {
    name: String,
    child: Child,
    /// Spawned as a process-group leader: dropping it ends the whole group.
    group: bool,
}

impl Server {
    /// Echoes and spawns `command`; `name` names it in errors.
    pub fn spawn(name: &str, command: &mut Command) -> Result<Server> {
        Self::start(name, command, false)
    }

    /// Like [`Server::spawn`], as the leader of a new process group, so that dropping it also
    /// ends what it started (Chromium under chromedriver, cargo and wasm-bindgen under trunk).
    pub fn spawn_group(name: &str, command: &mut Command) -> Result<Server> {
        Self::start(name, command.process_group(0), true)
    }

    fn start(name: &str, command: &mut Command, group: bool) -> Result<Server> {
        let line = cmd::describe(command);
        println!("$ {line} &");
        let child = command.spawn().map_err(|source| Error::Spawn {
            command: line,
            source,
        })?;
        Ok(Server {
            name: name.to_owned(),
            child,
            group,
        })
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's standard output, if it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// How it ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Its peak resident memory so far, in KiB (`VmHWM` of `/proc/<pid>/status`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Polls `ready` until it holds, for at most `timeout`; fails at once if the server exits.
    /// `what` completes the sentence of the error: "… did not `what`".
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if ready() {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                return Err(Error::Missing(format!(
                    "{} exited ({status}) before it could {what}",
                    self.name
                )));
            }
            std::thread::sleep(POLL);
        }
        Err(Error::Missing(format!(
            "{} did not {what} within {} s",
            self.name,
            timeout.as_secs()
        )))
    }

    /// Waits up to 20 s for the server to accept connections on 127.0.0.1:`port`.
    pub fn wait_for_port(&mut self, port: u16) -> Result<()> {
        self.wait_for(
            &format!("listen on 127.0.0.1:{port}"),
            Duration::from_secs(20),
            || port_open(port),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.group {
            if let Ok(pid) = i32::try_from(self.child.id()) {
                // ESRCH (the group is already gone) is the outcome we want anyway.
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> Result<u16> {
    let io = |source| Error::Io {
        path: PathBuf::from("127.0.0.1:0"),
        source,
    };
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    listener.local_addr().map(|addr| addr.port()).map_err(io)
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A single-threaded tokio runtime for the HTTP clients the tasks drive (the dev server's
/// CSP check, the bench's flood).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            path: "tokio runtime".into(),
            source,
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    // No run leaves a server behind: dropping one kills it, and a server that exits is
    // reported at once instead of being waited for.
    #[test]
    fn a_dropped_server_is_killed_and_an_exited_one_is_not_waited_for() {
        let mut sleeper = Server::spawn("sleep", Command::new("sleep").arg("30")).unwrap();
        let pid = sleeper.child.id();
        assert!(sleeper.exited().is_none());
        drop(sleeper);
        // Killed and reaped: the process is gone.
        assert!(!PathBuf::from(format!("/proc/{pid}")).exists());

        let mut quitter = Server::spawn("true", &mut Command::new("true")).unwrap();
        let started = Instant::now();
        let error = quitter
            .wait_for("answer", Duration::from_secs(20), || false)
            .unwrap_err();
        assert!(error.to_string().contains("true exited"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_free_port_is_not_open_until_something_listens_on_it() {
        let port = free_port().unwrap();
        assert!(!port_open(port));
        let _listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert!(port_open(port));
    }
}
