//! Makes sure the toolchain is present, installing what is missing: the wasm32 target,
//! rustfmt and clippy, trunk 0.21.x, wasm-bindgen-cli at exactly the `Cargo.lock`
//! version (so `trunk build --offline` never downloads), and for the browser tests
//! Chromium with chromedriver, Debian's nginx (the shipped config is tested) and the
//! interop provider's npm packages (`npm ci` in `tests/interop`).

use std::{fs, path::Path};

use serde::Deserialize;

use crate::{cmd, Error, Result};

/// The trunk release line Hashgate is built with.
pub const TRUNK_SERIES: &str = "0.21";
/// The first release of [`TRUNK_SERIES`] with what `Trunk.toml` uses: `[build] create_nonce` and
/// `[serve] disable_csp` (the dev server's nonce for its live-reload script).
pub const TRUNK_MIN_PATCH: u32 = 7;
/// The Rust target of the SPA.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The Debian packages that provide Chromium and chromedriver.
pub const CHROMIUM_APT: &str = "apt-get update && apt-get install -y chromium chromium-driver";
/// Where Debian's `nginx` package puts the binary the nginx tests run.
pub const NGINX_BIN: &str = "/usr/sbin/nginx";
/// The Debian package that provides nginx.
pub const NGINX_APT: &str = "apt-get update && apt-get install -y nginx";
/// The npm project of the interop tests (oidc-provider, pinned by its package-lock.json).
pub const INTEROP_DIR: &str = "tests/interop";

/// What to make sure of, beyond the build tools.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// rustfmt and clippy (for the checks in `cargo xtask test`).
    pub lint: bool,
    /// Chromium and chromedriver, nginx, and the interop npm packages (for the browser tests).
    pub browser: bool,
}

/// Ensures every tool in `needs` is installed, installing missing ones.
pub fn ensure(needs: Needs) -> Result<()> {
    ensure_wasm_target()?;
    if needs.lint {
        ensure_components(&["rustfmt", "clippy"])?;
    }
    ensure_trunk()?;
    ensure_wasm_bindgen()?;
    if needs.browser {
        ensure_chromium()?;
        ensure_nginx()?;
        ensure_interop_packages()?;
    }
    Ok(())
}

fn ensure_wasm_target() -> Result<()> {
    let Some(installed) =
        cmd::capture(cmd::command("rustup").args(["target", "list", "--installed"]))
    else {
        // Without rustup we cannot add targets; the wasm build will say what is missing.
        println!("rustup not found: assuming the {WASM_TARGET} target is installed");
        return Ok(());
    };
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        println!("✓ target {WASM_TARGET}");
        return Ok(());
    }
    cmd::run(cmd::command("rustup").args(["target", "add", WASM_TARGET]))
}

fn ensure_components(components: &[&str]) -> Result<()> {
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|component| {
            let subcommand = match *component {
                "rustfmt" => "fmt",
                other => other,
            };
            cmd::capture(cmd::cargo().args([subcommand, "--version"])).is_none()
        })
        .collect();
    if missing.is_empty() {
        println!("✓ {}", components.join(", "));
        return Ok(());
    }
    cmd::run(
        cmd::command("rustup")
            .args(["component", "add"])
            .args(&missing),
    )
}

fn ensure_trunk() -> Result<()> {
    let version = cmd::capture(cmd::command("trunk").arg("--version"));
    if let Some(version) = &version {
        if trunk_version_ok(version) {
            println!("✓ {version}");
            return Ok(());
        }
        println!("found {version}, need trunk {TRUNK_SERIES}.{TRUNK_MIN_PATCH} or a later {TRUNK_SERIES}.x");
    }
    let wanted = format!("~{TRUNK_SERIES}.{TRUNK_MIN_PATCH}");
    cmd::run(cmd::cargo().args(["install", "trunk", "--version", &wanted, "--locked"]))
}

/// Whether `trunk --version` output names a release of [`TRUNK_SERIES`], at least
/// [`TRUNK_MIN_PATCH`].
pub fn trunk_version_ok(output: &str) -> bool {
    output
        .split_whitespace()
        .nth(1)
        .and_then(|version| version.strip_prefix(&format!("{TRUNK_SERIES}.")))
        .and_then(|patch| {
            let digits: String = patch.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        })
        .is_some_and(|patch| patch >= TRUNK_MIN_PATCH)
}

fn ensure_wasm_bindgen() -> Result<()> {
    let lockfile = cmd::root().join("Cargo.lock");
    let wanted = locked_version(&lockfile, "wasm-bindgen")?;
    let found = cmd::capture(cmd::command("wasm-bindgen").arg("--version"));
    let found_version = found
        .as_deref()
        .and_then(|line| line.split_whitespace().nth(1));
    if found_version == Some(wanted.as_str()) {
        println!("✓ wasm-bindgen {wanted} (matches Cargo.lock)");
        return Ok(());
    }
    if let Some(found) = found_version {
        println!("found wasm-bindgen {found}, Cargo.lock has {wanted}");
    }
    // No --locked: wasm-bindgen-cli's own lock file has pinned yanked crates before.
    let exact = format!("={wanted}");
    cmd::run(cmd::cargo().args(["install", "wasm-bindgen-cli", "--version", &exact]))
}

/// The version of `package` pinned in the lock file at `lockfile`.
pub fn locked_version(lockfile: &Path, package: &str) -> Result<String> {
    let text = fs::read_to_string(lockfile).map_err(|source| Error::Io {
        path: lockfile.to_path_buf(),
        source,
    })?;
    parse_locked_version(&text, package)
        .map_err(|source| Error::Toml {
            path: lockfile.to_path_buf(),
            source,
        })?
        .ok_or_else(|| Error::NotLocked {
            package: package.to_owned(),
            lockfile: lockfile.to_path_buf(),
        })
}

/// The parts of a `Cargo.lock` the task runner reads: its `[[package]]` tables.
#[derive(Debug, Deserialize)]
struct Lockfile {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

/// One `[[package]]` of a `Cargo.lock`.
#[derive(Debug, Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
}

/// The version of the first `[[package]]` named `package` in the text of a `Cargo.lock`;
/// `Ok(None)` when no package has that name.
pub fn parse_locked_version(
    lock: &str,
    package: &str,
) -> std::result::Result<Option<String>, toml::de::Error> {
    let lockfile: Lockfile = toml::from_str(lock)?;
    Ok(lockfile
        .package
        .into_iter()
        .find(|locked| locked.name == package)
        .map(|locked| locked.version))
}

fn ensure_chromium() -> Result<()> {
    if let (Some(chromium), Some(driver)) = (
        cmd::find_in_path("chromium"),
        cmd::find_in_path("chromedriver"),
    ) {
        let chromium_version = cmd::capture(cmd::command("chromium").arg("--version"));
        let driver_version = cmd::capture(cmd::command("chromedriver").arg("--version"));
        println!(
            "✓ {} ({})",
            chromium_version.as_deref().unwrap_or("chromium"),
            chromium.display()
        );
        println!(
            "✓ {} ({})",
            driver_version.as_deref().unwrap_or("chromedriver"),
            driver.display()
        );
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::Missing(format!(
            "chromium and chromedriver are needed for the browser tests; install them with:\n\n    \
             sudo sh -c '{CHROMIUM_APT}'\n\nthen run `cargo xtask test` again"
        )));
    }
    println!("chromium/chromedriver missing: installing them with apt-get");
    cmd::run(
        cmd::command("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    cmd::run(
        cmd::command("apt-get")
            .args(["install", "-y", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if cmd::find_in_path("chromium").is_none() || cmd::find_in_path("chromedriver").is_none() {
        return Err(Error::Missing(
            "apt-get finished but chromium or chromedriver is still not on PATH".to_owned(),
        ));
    }
    Ok(())
}

fn ensure_nginx() -> Result<()> {
    if Path::new(NGINX_BIN).is_file() {
        // `nginx -v` writes its version to stderr.
        let version = cmd::command(NGINX_BIN)
            .arg("-v")
            .output()
            .ok()
            .map(|output| String::from_utf8_lossy(&output.stderr).trim().to_owned())
            .filter(|version| !version.is_empty());
        println!("✓ {} ({NGINX_BIN})", version.as_deref().unwrap_or("nginx"));
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::Missing(format!(
            "nginx is needed for the nginx tests (they serve the build with \
             deploy/nginx/hashgate.conf); install it with:\n\n    sudo sh -c '{NGINX_APT}'\n\n\
             then run `cargo xtask test` again"
        )));
    }
    println!("nginx missing: installing it with apt-get");
    cmd::run(
        cmd::command("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    cmd::run(
        cmd::command("apt-get")
            .args(["install", "-y", "nginx"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if !Path::new(NGINX_BIN).is_file() {
        return Err(Error::Missing(format!(
            "apt-get finished but {NGINX_BIN} is still missing"
        )));
    }
    Ok(())
}

/// `npm ci` in [`INTEROP_DIR`]: exactly the versions of its package-lock.json.
fn ensure_interop_packages() -> Result<()> {
    let (Some(node), Some(_npm)) = (
        cmd::capture(cmd::command("node").arg("--version")),
        cmd::capture(cmd::command("npm").arg("--version")),
    ) else {
        return Err(Error::Missing(
            "Node.js and npm are needed for the interop tests (oidc-provider); install them \
             (Debian: sudo apt-get install -y nodejs npm) and run `cargo xtask test` again"
                .to_owned(),
        ));
    };
    println!("✓ node {node}");
    let dir = cmd::root().join(INTEROP_DIR);
    if installed_matches_lock(&dir) {
        println!("✓ {INTEROP_DIR}/node_modules (as in package-lock.json)");
        return Ok(());
    }
    let mut npm = cmd::command("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
        .current_dir(&dir);
    cmd::run(&mut npm)
}

/// Whether npm's record of what it installed (`node_modules/.package-lock.json`, rewritten
/// by every install) is newer than `package.json` and `package-lock.json`: then `npm ci`
/// would install the same thing again.
fn installed_matches_lock(dir: &Path) -> bool {
    let modified = |path: &Path| fs::metadata(path).and_then(|meta| meta.modified()).ok();
    let Some(installed) = modified(&dir.join("node_modules/.package-lock.json")) else {
        return false;
    };
    ["package.json", "package-lock.json"]
        .iter()
        .all(|file| modified(&dir.join(file)).is_some_and(|changed| changed <= installed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    const LOCK: &str = r#"
[[package]]
name = "wasm-bindgen-backend"
version = "0.2.99"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

    // README.md, Prerequisites: Trunk downloads nothing, so wasm-bindgen-cli must be exactly the
    // Cargo.lock version of wasm-bindgen (the name matched whole, not as a prefix).
    #[test]
    fn the_lock_file_version_of_exactly_the_named_package_is_found() {
        assert_eq!(
            parse_locked_version(LOCK, "wasm-bindgen")
                .unwrap()
                .as_deref(),
            Some("0.2.130")
        );
        assert_eq!(
            parse_locked_version(LOCK, "wasm-bindgen-backend")
                .unwrap()
                .as_deref(),
            Some("0.2.99")
        );
        assert_eq!(parse_locked_version(LOCK, "wasm").unwrap(), None);
    }

    // README.md, Test: the interop provider is pinned by its package-lock.json, so `npm ci` is
    // skipped only while npm's install record is newer than both package files.
    #[test]
    fn interop_packages_are_reinstalled_when_the_lock_file_changes() {
        use std::time::{Duration, SystemTime};
        let dir = tempfile::tempdir().unwrap();
        let touch = |name: &str, at: SystemTime| {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "{}").unwrap();
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(at)
                .unwrap();
        };
        let then = SystemTime::now() - Duration::from_secs(100);
        touch("package.json", then);
        touch("package-lock.json", then);
        assert!(!installed_matches_lock(dir.path()), "nothing installed yet");
        touch(
            "node_modules/.package-lock.json",
            then + Duration::from_secs(10),
        );
        assert!(installed_matches_lock(dir.path()));
        touch("package-lock.json", then + Duration::from_secs(20));
        assert!(!installed_matches_lock(dir.path()));
    }

    // A lock file that is not TOML is an error naming the problem, never "not locked".
    #[test]
    fn a_lock_file_that_is_not_toml_is_an_error() {
        let error = parse_locked_version("[[package]\nname = ", "wasm-bindgen").unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    // Trunk.toml: its `[tools] wasm_bindgen` must equal the wasm-bindgen in Cargo.lock, or
    // `trunk build --offline` looks for a wasm-bindgen-cli that xtask never installed.
    #[test]
    fn trunk_toml_names_the_wasm_bindgen_version_of_cargo_lock() {
        let locked = locked_version(&cmd::root().join("Cargo.lock"), "wasm-bindgen").unwrap();
        for trunk_toml in ["Trunk.toml", "bench/shell/Trunk.toml"] {
            let text = fs::read_to_string(cmd::root().join(trunk_toml)).unwrap();
            let config: toml::Table = toml::from_str(&text).unwrap();
            let pinned = config["tools"]["wasm_bindgen"].as_str();
            assert_eq!(pinned, Some(locked.as_str()), "{trunk_toml}");
        }
    }

    // README.md: Hashgate is built with Trunk 0.21 (0.21.7 or later, for the dev server's
    // nonce); other releases are reinstalled.
    #[test]
    fn only_trunk_0_21_releases_from_0_21_7_are_accepted() {
        assert!(trunk_version_ok("trunk 0.21.14"));
        assert!(trunk_version_ok("trunk 0.21.7"));
        assert!(!trunk_version_ok("trunk 0.21.5"));
        assert!(!trunk_version_ok("trunk 0.21"));
        assert!(!trunk_version_ok("trunk 0.20.3"));
        assert!(!trunk_version_ok("trunk 0.210.0"));
        assert!(!trunk_version_ok("trunk"));
    }
}
