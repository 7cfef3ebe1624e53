//! Debian's nginx serving a copy of the release build with the shipped
//! `deploy/nginx/hashgate.conf`, on a loopback port, for as long as the test holds it.
//!
//! Only the shipped file's `listen` and `root` lines are rewritten (to `127.0.0.1:PORT`
//! and a temporary copy of `$HASHGATE_DIST` with the test's `auth_config.json`); every other
//! line is what ships. nginx runs in the foreground (`daemon off;`) in its own process
//! group, which dropping [`Nginx`] kills.
//!
//! ```ignore
//! let nginx = Nginx::start(&json!({ "issuer": issuer, "clientId": "hashgate-spa" }));
//! browser.goto(&nginx.url("/")).await;
//! ```

use std::{
    fs,
    net::{SocketAddr, TcpListener, TcpStream},
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{killpg, Signal},
    unistd::Pid,
};
use serde_json::Value;
use tempfile::TempDir;

use super::{dist_dir, spa::workspace_root};

/// Where Debian installs nginx (`apt-get install nginx`).
const DEBIAN_NGINX: &str = "/usr/sbin/nginx";
/// The shipped site configuration, relative to the workspace root.
pub const SHIPPED_CONF: &str = "deploy/nginx/hashgate.conf";
/// The lines of the shipped file that a test rewrites; each must appear exactly once.
const SHIPPED_LISTEN: &str = "    listen 80;";
const SHIPPED_LISTEN_V6: &str = "    listen [::]:80;";
const SHIPPED_ROOT: &str = "    root /var/www/hashgate;";

/// A running nginx serving the app on `http://127.0.0.1:PORT`; stops when dropped.
pub struct Nginx {
    origin: String,
    site: PathBuf,
    master: Child,
    // Holds the site copy, the generated config, logs and nginx's temp paths.
    scratch: TempDir,
}

impl Nginx {
    /// Copies `$HASHGATE_DIST` with `auth_config` as its `auth_config.json` and serves it
    /// with the shipped config. Panics (with the apt line) when nginx is not installed.
    pub fn start(auth_config: &Value) -> Nginx {
        Nginx::start_on(free_port(), auth_config)
    }

    /// Like [`Nginx::start`] on a given port (for providers that must know the app's
    /// origin before it is served: reserve one with [`free_port`]).
    pub fn start_on(port: u16, auth_config: &Value) -> Nginx {
        let nginx = nginx_binary();
        let scratch = tempfile::Builder::new()
            .prefix("hashgate-nginx-")
            .tempdir()
            .unwrap_or_else(|error| panic!("cannot create nginx's directory: {error}"));
        // Workers run as www-data when nginx starts as root: they must reach the files.
        set_mode(scratch.path(), 0o755);
        let site = scratch.path().join("site");
        copy_dir(&dist_dir(), &site);
        let config_path = site.join("auth_config.json");
        write(&config_path, &auth_config.to_string());

        let site_conf = scratch.path().join("hashgate.conf");
        write(&site_conf, &rendered_site_conf(port, &site));
        let main_conf = scratch.path().join("nginx.conf");
        write(&main_conf, &main_conf_text(scratch.path(), &site_conf));
        for dir in ["logs", "tmp"] {
            fs::create_dir_all(scratch.path().join(dir))
                .unwrap_or_else(|error| panic!("cannot create nginx's {dir}: {error}"));
        }
        let error_log = scratch.path().join("logs/error.log");

        let mut master = Command::new(&nginx)
            .arg("-p")
            .arg(scratch.path())
            .arg("-e")
            .arg(&error_log)
            .arg("-c")
            .arg(&main_conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so Drop can kill the master and its workers together.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", nginx.display()));
        wait_for_port(&mut master, port, &error_log);
        Nginx {
            origin: format!("http://127.0.0.1:{port}"),
            site,
            master,
            scratch,
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The directory nginx serves (the copy of `$HASHGATE_DIST`).
    pub fn site(&self) -> &Path {
        &self.site
    }

    /// nginx's error log so far, for failure messages.
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.scratch.path().join("logs/error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.master.id()) {
            // The master and its workers; ESRCH (already gone) is fine.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.master.wait();
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|error| panic!("cannot find a free local port: {error}"))
}

/// The shipped file with its `listen` and `root` lines pointed at the test's port and site.
pub fn rendered_site_conf(port: u16, site: &Path) -> String {
    let path = workspace_root().join(SHIPPED_CONF);
    let shipped = fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let mut out = String::with_capacity(shipped.len());
    let mut seen = [0; 3];
    for line in shipped.lines() {
        match line {
            SHIPPED_LISTEN => {
                seen[0] += 1;
                out.push_str(&format!("    listen 127.0.0.1:{port};\n"));
            }
            // Loopback only in tests.
            SHIPPED_LISTEN_V6 => seen[1] += 1,
            SHIPPED_ROOT => {
                seen[2] += 1;
                out.push_str(&format!("    root {};\n", site.display()));
            }
            other => {
                out.push_str(other);
                out.push('\n');
            }
        }
    }
    assert_eq!(
        seen,
        [1, 1, 1],
        "{SHIPPED_CONF} must contain each of `{SHIPPED_LISTEN}`, `{SHIPPED_LISTEN_V6}` and \
         `{SHIPPED_ROOT}` exactly once (the test rewrites those lines)"
    );
    out
}

/// The top-level config: everything under `prefix`, Debian's mime types (as Debian's own
/// nginx.conf has them), and the site file included in `http`, as in `conf.d/`.
fn main_conf_text(prefix: &Path, site_conf: &Path) -> String {
    let prefix = prefix.display();
    let user = if nix::unistd::geteuid().is_root() {
        "user www-data;\n"
    } else {
        ""
    };
    format!(
        "{user}worker_processes 1;\n\
         pid {prefix}/nginx.pid;\n\
         error_log {prefix}/logs/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
         \x20   include /etc/nginx/mime.types;\n\
         \x20   default_type application/octet-stream;\n\
         \x20   access_log {prefix}/logs/access.log;\n\
         \x20   client_body_temp_path {prefix}/tmp/body;\n\
         \x20   proxy_temp_path {prefix}/tmp/proxy;\n\
         \x20   fastcgi_temp_path {prefix}/tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {prefix}/tmp/uwsgi;\n\
         \x20   scgi_temp_path {prefix}/tmp/scgi;\n\
         \x20   include {};\n\
         }}\n",
        site_conf.display()
    )
}

/// `$HASHGATE_NGINX`, else Debian's `/usr/sbin/nginx`, else `nginx` on `PATH`; panics with
/// the install command when there is none (never a skip).
fn nginx_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HASHGATE_NGINX") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::iter::once(PathBuf::from(DEBIAN_NGINX))
        .chain(std::env::split_paths(&path).map(|dir| dir.join("nginx")))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nginx not found (the nginx tests serve the build through the shipped config; \
                 they are never skipped). Install it with `sudo apt-get install -y nginx` or run \
                 `cargo xtask test`, or set HASHGATE_NGINX"
            )
        })
}

fn wait_for_port(master: &mut Child, port: u16, error_log: &Path) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = master.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = master.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            panic!(
                "nginx exited ({status}) before listening on {port}:\n{stderr}\n{}",
                fs::read_to_string(error_log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "nginx did not listen on {port} within 15 s; its error log:\n{}",
        fs::read_to_string(error_log).unwrap_or_default()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", to.display()));
    set_mode(to, 0o755);
    let entries = fs::read_dir(from)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|error| panic!("cannot list {}: {error}", from.display()));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target)
                .unwrap_or_else(|error| panic!("cannot copy {}: {error}", entry.path().display()));
            set_mode(&target, 0o644);
        }
    }
}

fn write(path: &Path, text: &str) {
    fs::write(path, text)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    set_mode(path, 0o644);
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("cannot chmod {}: {error}", path.display()));
}
