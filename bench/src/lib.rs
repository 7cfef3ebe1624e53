//! `hashgate-bench` (run as `cargo xtask bench`, which starts this crate's binary):
//! Hashgate side by side with its JavaScript peers, measured in one run on this machine, on
//! loopback only, bounded in time (a few minutes with the default 10 s per wrk run, plus
//! builds). Not part of `cargo xtask test`.
//!
//! ```text
//! cargo xtask bench                    # build, measure, write bench/results/, print the table
//! cargo xtask bench --no-build         # reuse dist/ and target/release/
//! cargo xtask bench --duration 5       # seconds per wrk run and flood phase (default 10)
//! cargo xtask bench --login-runs 30    # login round trips per app (default 20; 0 skips)
//! cargo xtask bench --no-build --only login,reload   # some parts, tables printed only
//! ```
//!
//! A crate of its own, so the task runner (`xtask/`) links no server: the bench starts
//! `hashgate-idp` and reads its typed configuration, and builds the app's `auth_config.json`
//! with `hashgate-protocol`. It reuses the task runner's library for everything else (the size
//! report, the release build, tools, servers and the headless browser).
//!
//! 1. Transfer size: `dist/` (one bundle with both flows compiled in; html + js + wasm +
//!    css; raw, gzip -9, brotli -11, via [`xtask::size`]) against
//!    `bench/peer-react-auth0js/` (React + react-router + auth0-js, the same routes),
//!    installed with `npm ci` and bundled by esbuild at bench time; beside
//!    it a second peer on oidc-client (`bench/peer-react-oidc-client/`), the opt-in smallest
//!    build ([`xtask::smallest`], when a nightly toolchain is there) and the floor: the same
//!    Leptos shell without any auth (`bench/shell/`). See [`peers`].
//! 2. API throughput ([`api`]): `wrk -t2 -c50 --latency` against `hashgate-api` (release)
//!    `/api/public` and `/api/private`, and against Express + `express-oauth2-jwt-bearer`
//!    (`bench/peer-express/`) `/api/private`, all with one RS256 token from a fake issuer.
//!    Peak RSS is `VmHWM`.
//! 3. `GET /authorize` under a flood from one client ([`flood`]): wrk's throughput and what
//!    the provider answered by status, and a normal password login from another client timed
//!    before, during and after.
//! 4. Login round trip in headless Chromium ([`login`]): with a `hashgate-idp` (release)
//!    session present, from opening `/profile` signed out to
//!    `data-auth-state="authenticated"`, for Hashgate on both flows (the same release build
//!    served with two `auth_config.json`: implicit `id_token token`, and code + PKCE with
//!    refresh tokens) and for the React peers (implicit), with Hashgate's own callback
//!    processing time (User Timing `hashgate:callback`) for each flow, and a step table per
//!    app and flow (Navigation, Resource and User Timing); then reload to signed-in, with
//!    Hashgate's tokens in memory and in localStorage. A DPoP row (`"useDpop": true`) is
//!    measured only on a build that reads that setting ([`login::reads_dpop`]).
//!
//! `/api/private` is also sent by the bench's own load generator ([`load`]), `Bearer` beside
//! `DPoP` with a fresh proof per request. `--only PART,…` runs some parts and writes nothing.
//!
//! Results ([`report`]): `bench/results/latest.md` (tables, goals, machine) and `latest.svg`
//! (bars).

#![warn(missing_docs)]

pub mod api;
pub mod error;
pub mod flood;
pub mod form_login;
pub mod idp;
pub mod load;
pub mod login;
pub mod machine;
pub mod options;
pub mod peers;
pub mod report;
pub mod servers;
pub mod wrk;

use std::time::Instant;

use xtask::{
    cmd, size, smallest, test,
    tools::{self, Needs},
};

pub use error::{Error, Result, TaskError};
pub use options::Options;
pub use report::BenchReport;

/// The audience both APIs require; the fake issuer mints the token for it, and the app asks
/// the identity provider for it.
pub const AUDIENCE: &str = "https://api.hashgate.local";

/// Runs the benchmark; returns whether every measurement was taken (goals may still be
/// missed: they are reported, not failed). With `--only`, runs those parts, prints their tables
/// and writes nothing.
pub fn run(options: &Options) -> Result<bool> {
    let started = Instant::now();
    if !options.only.is_empty() {
        return run_parts(options);
    }
    peers::ensure_node()?;
    wrk::ensure_wrk()?;
    if options.build {
        build_all()?;
    }

    println!("\n==> transfer size");
    let dist = release_dist()?;
    let hashgate = size::measure(&dist)?;
    println!("{hashgate}");
    let (peer_dir, peer) = peers::build_peer("peer-react-auth0js")?;
    let (oidc_peer_dir, oidc_peer) = peers::build_peer("peer-react-oidc-client")?;
    let shell_dir = servers::bench_dir().join("shell");
    if options.build {
        // The floor is the shell at its smallest: `--cfg erase_components` (which
        // `.cargo/config.toml` gives every wasm build, and which makes the app 1.9 KB smaller)
        // makes a shell this small 7 KiB larger. An empty RUSTFLAGS replaces that setting.
        cmd::run(
            cmd::command("trunk")
                .args(["build", "--release", "--offline"])
                .env("RUSTFLAGS", "")
                .current_dir(&shell_dir),
        )?;
    }
    let shell = size::measure(&shell_dir.join("dist"))?;
    println!("{shell}");
    let smallest = match smallest::unavailable() {
        Some(why) => Err(why),
        None if options.build => Ok(smallest::build(&dist)?),
        None if smallest::dist_dir().join("index.html").is_file() => Ok(smallest::dist_dir()),
        None => Err("no dist-smallest/ (run without --no-build)".to_owned()),
    };
    let smallest_size = match &smallest {
        Ok(dir) => {
            let report = size::measure(dir)?;
            println!("{report}");
            Ok(report.total())
        }
        Err(why) => {
            println!("smallest build skipped: {why}");
            Err(why.clone())
        }
    };

    println!("\n==> API throughput");
    let express_dir = servers::bench_dir().join("peer-express");
    peers::npm_ci(&express_dir)?;
    let (api, api_load) = api::measure(&express_dir, options.duration_secs)?;

    println!("\n==> GET /authorize under a flood");
    let flood = flood::measure(options.duration_secs)?;

    println!("\n==> login round trip and reload");
    let (login, login_skipped, login_note) = if options.login_runs == 0 {
        (
            Vec::new(),
            Vec::new(),
            Some("skipped with --login-runs 0".to_owned()),
        )
    } else {
        let (peer_dist, oidc_peer_dist) = (peer_dir.join("dist"), oidc_peer_dir.join("dist"));
        let (rows, skipped) = measure_logins(
            &dist,
            smallest.as_deref().ok(),
            &peer_dist,
            &oidc_peer_dist,
            options.login_runs,
            &[login::Mode::Login, login::Mode::Reload],
        )?;
        (rows, skipped, None)
    };

    let report = BenchReport {
        hashgate_size: hashgate.total(),
        hashgate_wasm_brotli: hashgate.of(size::Kind::Wasm).brotli,
        peer_size: peer.total(),
        oidc_peer_size: oidc_peer.total(),
        smallest_size,
        shell_size: shell.total(),
        api,
        api_load,
        duration_secs: options.duration_secs,
        login,
        login_skipped,
        login_note,
        flood,
        machine: machine::machine(),
    };
    let results = servers::bench_dir().join("results");
    servers::write(&results.join("latest.md"), &report.markdown())?;
    servers::write(&results.join("latest.svg"), &report.svg())?;
    println!("\n{}", report.markdown());
    println!(
        "written: {} and latest.svg, in {}",
        results.join("latest.md").display(),
        test::format_duration(started.elapsed())
    );
    Ok(true)
}

fn build_all() -> Result<()> {
    tools::ensure(Needs {
        lint: false,
        browser: false,
    })?;
    test::build_release()?;
    cmd::run(cmd::cargo().args([
        "build",
        "--release",
        "-p",
        "hashgate-api",
        "-p",
        "hashgate-idp",
    ]))?;
    Ok(())
}

fn release_dist() -> Result<std::path::PathBuf> {
    let dist = test::dist_dir();
    if !dist.join("index.html").is_file() {
        return Err(TaskError::Missing(format!(
            "no release build in {}; run `cargo xtask bench` without --no-build",
            dist.display()
        ))
        .into());
    }
    Ok(dist)
}

fn measure_logins(
    dist: &std::path::Path,
    smallest: Option<&std::path::Path>,
    peer_dist: &std::path::Path,
    oidc_peer_dist: &std::path::Path,
    runs: u32,
    modes: &[login::Mode],
) -> Result<(Vec<login::LoginRow>, Vec<String>)> {
    tools::ensure(Needs {
        lint: false,
        browser: true,
    })?;
    let apps = login::apps(
        dist,
        smallest,
        &[
            ("React + auth0-js", peer_dist),
            ("React + oidc-client", oidc_peer_dist),
        ],
    );
    login::measure(&apps, runs, modes)
}

/// `--only`: the parts asked for, their tables printed, no results written (a partial run
/// would leave `latest.md` with numbers from two runs side by side).
fn run_parts(options: &Options) -> Result<bool> {
    use options::Part;
    peers::ensure_node()?;
    if options.build {
        build_all()?;
    }
    let dist = release_dist()?;
    if options.wants(Part::Size) {
        println!("\n==> transfer size\n{}", size::measure(&dist)?);
    }
    if options.wants(Part::Api) {
        wrk::ensure_wrk()?;
        println!("\n==> API throughput");
        let express_dir = servers::bench_dir().join("peer-express");
        peers::npm_ci(&express_dir)?;
        let (rows, load) = api::measure(&express_dir, options.duration_secs)?;
        println!(
            "{}",
            report::api_markdown(&rows, &load, options.duration_secs)
        );
    }
    if options.wants(Part::Flood) {
        wrk::ensure_wrk()?;
        println!("\n==> GET /authorize under a flood");
        println!("{:?}", flood::measure(options.duration_secs)?);
    }
    let modes: Vec<login::Mode> = [
        (Part::Login, login::Mode::Login),
        (Part::Reload, login::Mode::Reload),
    ]
    .into_iter()
    .filter(|(part, _)| options.only.contains(part))
    .map(|(_, mode)| mode)
    .collect();
    if !modes.is_empty() {
        println!("\n==> login round trip and reload");
        let (peer_dir, _) = peers::build_peer("peer-react-auth0js")?;
        let (oidc_peer_dir, _) = peers::build_peer("peer-react-oidc-client")?;
        let (rows, skipped) = measure_logins(
            &dist,
            None,
            &peer_dir.join("dist"),
            &oidc_peer_dir.join("dist"),
            options.login_runs.max(1),
            &modes,
        )?;
        println!("{}", report::login_section(&rows, &skipped, None));
    }
    Ok(true)
}
