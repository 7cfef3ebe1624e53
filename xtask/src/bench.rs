//! `cargo xtask bench`: Hashgate side by side with its JavaScript peers, measured in one
//! run on this machine, on loopback only, bounded in time (about a minute with the default
//! 10 s per wrk run, plus builds). Not part of `cargo xtask test`.
//!
//! ```text
//! cargo xtask bench                    # build, measure, write bench/results/, print the table
//! cargo xtask bench --no-build         # reuse dist/ and target/release/hashgate-api
//! cargo xtask bench --duration 5       # seconds per wrk run (default 10)
//! cargo xtask bench --login-runs 30     # login round trips per app (default 20; 0 skips)
//! ```
//!
//! 1. Transfer size: `dist/` (html + js + wasm + css; raw, gzip -9, brotli -11, via
//!    [`crate::size`]) against `bench/peer-react-auth0js/` (React + react-router + auth0-js,
//!    the same routes), installed with `npm ci` and bundled by esbuild at bench time; beside
//!    it a second peer on oidc-client (`bench/peer-react-oidc-client/`), the opt-in smallest
//!    build ([`crate::smallest`], when a nightly toolchain is there) and the floor: the same
//!    Leptos shell without any auth (`bench/shell/`).
//! 2. API throughput: `wrk -t2 -c50 --latency` against `hashgate-api` (release)
//!    `/api/public` and `/api/private`, and against Express + `express-oauth2-jwt-bearer`
//!    (`bench/peer-express/`) `/api/private`, all with one RS256 token from a fake issuer
//!    (`bench/peer-express/issuer.mjs`: discovery + JWKS). Peak RSS is `VmHWM`.
//! 3. Login round trip in headless Chromium (`bench/login/login.mjs` over chromedriver):
//!    with a `hashgate-idp` (release) session present, from opening `/profile` signed out
//!    to `data-auth-state="authenticated"`, for Hashgate and for the React peer, each
//!    served by `bench/login/serve.mjs` on the same origin against the same provider.
//!
//! Results: `bench/results/latest.md` (tables, goals, machine) and `latest.svg` (bars).

use std::{
    fmt::Write as _,
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{killpg, Signal},
    unistd::Pid,
};

use crate::{
    cmd,
    size::{self, human, Sizes},
    smallest, test,
    tools::{self, Needs},
    Error, Result,
};

/// The apt line that installs wrk.
pub const WRK_APT: &str = "apt-get update && apt-get install -y wrk";

/// The audience both APIs require; the fake issuer mints the token for it.
const AUDIENCE: &str = "https://api.hashgate.local";

/// Goal (README.md, Benchmarks): Hashgate's brotli total at most this share of the peer's.
pub const SIZE_GOAL: f64 = 0.8;
/// Goal (README.md, Benchmarks): `/api/private` throughput at least this share of `/api/public`.
pub const VALIDATION_GOAL: f64 = 0.7;
/// Goal (README.md, Benchmarks): hashgate-api at least this many times Express's throughput.
pub const EXPRESS_GOAL: f64 = 5.0;

/// What `cargo xtask bench` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Build `dist/` and `hashgate-api` first (false with `--no-build`).
    pub build: bool,
    /// Seconds per wrk run.
    pub duration_secs: u64,
    /// Login round trips per app; 0 skips the browser part.
    pub login_runs: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            build: true,
            duration_secs: 10,
            login_runs: 20,
        }
    }
}

impl Options {
    /// Parses the arguments after `bench`.
    pub fn parse(args: &[&str]) -> Result<Options> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--no-build" => options.build = false,
                "--duration" => {
                    options.duration_secs = args
                        .next()
                        .and_then(|value| value.parse().ok())
                        .filter(|secs| (1..=120).contains(secs))
                        .ok_or_else(|| {
                            Error::Usage("--duration takes seconds, 1 to 120".to_owned())
                        })?;
                }
                "--login-runs" => {
                    options.login_runs = args
                        .next()
                        .and_then(|value| value.parse().ok())
                        .filter(|runs| *runs <= 200)
                        .ok_or_else(|| {
                            Error::Usage("--login-runs takes a count, 0 to 200".to_owned())
                        })?;
                }
                other => return Err(Error::Usage(format!("unknown bench argument: {other}"))),
            }
        }
        Ok(options)
    }
}

/// One wrk run, as wrk printed it.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkResult {
    /// `Requests/sec:`.
    pub requests_per_sec: f64,
    /// The 50 % latency, in milliseconds.
    pub p50_ms: f64,
    /// The 99 % latency, in milliseconds.
    pub p99_ms: f64,
    /// Total requests completed.
    pub requests: u64,
    /// Non-2xx/3xx responses plus socket errors (connect, read, write, timeout).
    pub errors: u64,
}

/// Parses wrk's `--latency` output; `None` if a required line is missing.
pub fn parse_wrk(output: &str) -> Option<WrkResult> {
    let mut requests_per_sec = None;
    let mut p50_ms = None;
    let mut p99_ms = None;
    let mut requests = None;
    let mut errors = 0;
    for line in output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            requests_per_sec = rest.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("50%") {
            p50_ms = parse_latency_ms(rest.trim());
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99_ms = parse_latency_ms(rest.trim());
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += rest.trim().parse::<u64>().ok()?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // `connect 0, read 0, write 0, timeout 0`
            for part in rest.split(',') {
                errors += part.split_whitespace().nth(1)?.parse::<u64>().ok()?;
            }
        } else if line.contains(" requests in ") {
            requests = line.split_whitespace().next()?.parse().ok();
        }
    }
    Some(WrkResult {
        requests_per_sec: requests_per_sec?,
        p50_ms: p50_ms?,
        p99_ms: p99_ms?,
        requests: requests?,
        errors,
    })
}

/// `812.00us`, `3.21ms`, `1.02s` as milliseconds.
fn parse_latency_ms(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|n| n * factor)
}

/// One row of the throughput table.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRow {
    /// `hashgate-api` or `express`.
    pub server: String,
    /// The route measured.
    pub route: String,
    /// wrk's numbers.
    pub wrk: WrkResult,
    /// The server's peak resident memory in KiB after its runs (`VmHWM`).
    pub peak_rss_kib: Option<u64>,
}

/// Login round trips of one app, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginRow {
    /// The app measured.
    pub app: String,
    /// Median.
    pub median_ms: f64,
    /// Fastest run.
    pub min_ms: f64,
    /// Slowest run.
    pub max_ms: f64,
    /// 10th percentile.
    pub p10_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// Runs measured.
    pub runs: u32,
    /// The app's own "fragment captured → validated session" measure (User Timing
    /// `hashgate:callback`): median, p10, p90 in ms; `None` for apps that set no such mark.
    pub callback_ms: Option<(f64, f64, f64)>,
}

/// Parses login.mjs's `result <median> <min> <max> <p10> <p90> <n>` line.
pub fn parse_login_result(app: &str, output: &str) -> Option<LoginRow> {
    let line = output
        .lines()
        .find_map(|line| line.strip_prefix("result "))?;
    let numbers: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let [median_ms, min_ms, max_ms, p10_ms, p90_ms, runs] = numbers[..] else {
        return None;
    };
    Some(LoginRow {
        app: app.to_owned(),
        median_ms,
        min_ms,
        max_ms,
        p10_ms,
        p90_ms,
        runs: runs as u32,
        callback_ms: parse_callback_line(output),
    })
}

/// Parses login.mjs's optional `callback <median> <p10> <p90> <n>` line.
fn parse_callback_line(output: &str) -> Option<(f64, f64, f64)> {
    let line = output
        .lines()
        .find_map(|line| line.strip_prefix("callback "))?;
    let numbers: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let [median, p10, p90, _runs] = numbers[..] else {
        return None;
    };
    Some((median, p10, p90))
}

/// Everything one bench run measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Hashgate's release build.
    pub hashgate_size: Sizes,
    /// The wasm file alone, brotli.
    pub hashgate_wasm_brotli: u64,
    /// The React + auth0-js peer's bundle: the peer of the goal.
    pub peer_size: Sizes,
    /// The second peer's bundle (React + oidc-client).
    pub oidc_peer_size: Sizes,
    /// The opt-in smallest build (`cargo xtask size --smallest`), or why it was not built.
    pub smallest_size: std::result::Result<Sizes, String>,
    /// The Leptos shell with no auth (`bench/shell`): the floor under any Leptos app.
    pub shell_size: Sizes,
    /// wrk rows, hashgate public, hashgate private, express private.
    pub api: Vec<ApiRow>,
    /// Seconds per wrk run.
    pub duration_secs: u64,
    /// Login round trips, Hashgate (and its smallest build) then the peer; empty when skipped.
    pub login: Vec<LoginRow>,
    /// Why the login part has no rows, when it has none.
    pub login_note: Option<String>,
    /// Lines describing the machine and the tool versions.
    pub machine: Vec<String>,
}

impl BenchReport {
    fn rps(&self, server: &str, route: &str) -> Option<f64> {
        self.api
            .iter()
            .find(|row| row.server == server && row.route == route)
            .map(|row| row.wrk.requests_per_sec)
    }

    /// Hashgate's brotli total over the peer's.
    pub fn size_ratio(&self) -> f64 {
        self.ratio(self.hashgate_size)
    }

    /// A build's brotli total over the peer's.
    fn ratio(&self, sizes: Sizes) -> f64 {
        sizes.brotli as f64 / self.peer_size.brotli.max(1) as f64
    }

    /// `/api/private` over `/api/public` throughput of hashgate-api.
    pub fn validation_ratio(&self) -> Option<f64> {
        Some(self.rps("hashgate-api", "/api/private")? / self.rps("hashgate-api", "/api/public")?)
    }

    /// hashgate-api `/api/private` over Express `/api/private`.
    pub fn express_ratio(&self) -> Option<f64> {
        Some(self.rps("hashgate-api", "/api/private")? / self.rps("express", "/api/private")?)
    }

    /// The results as Markdown: tables, goals, machine.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Hashgate benchmark: latest run\n");
        let _ = writeln!(
            md,
            "Written by `cargo xtask bench`; chart: [latest.svg](latest.svg).\n"
        );
        let _ = writeln!(md, "## Transfer size (html + js + wasm + css)\n");
        let _ = writeln!(
            md,
            "| app | raw | gzip -9 | brotli -11 | brotli vs peer |\n|---|---:|---:|---:|---:|"
        );
        let size_row = |md: &mut String, name: &str, sizes: Sizes, ratio: f64| {
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} | {ratio:.2}× |",
                human(sizes.raw),
                human(sizes.gzip),
                human(sizes.brotli)
            );
        };
        size_row(
            &mut md,
            "Hashgate (Leptos, wasm)",
            self.hashgate_size,
            self.size_ratio(),
        );
        if let Ok(smallest) = self.smallest_size {
            size_row(
                &mut md,
                "Hashgate, opt-in smallest build (nightly `build-std`, immediate abort)",
                smallest,
                self.ratio(smallest),
            );
        }
        size_row(
            &mut md,
            "peer: React + react-router + auth0-js (esbuild)",
            self.peer_size,
            1.0,
        );
        size_row(
            &mut md,
            "second peer: React + react-router + oidc-client (esbuild)",
            self.oidc_peer_size,
            self.ratio(self.oidc_peer_size),
        );
        size_row(
            &mut md,
            "floor: the Leptos shell alone, no auth (`bench/shell`)",
            self.shell_size,
            self.ratio(self.shell_size),
        );
        if let Err(why) = &self.smallest_size {
            let _ = writeln!(md, "\nSmallest build not measured: {why}.");
        }
        let _ = writeln!(
            md,
            "\nAgainst the second peer, Hashgate is {:.2}×{}.",
            self.hashgate_size.brotli as f64 / self.oidc_peer_size.brotli.max(1) as f64,
            self.smallest_size
                .as_ref()
                .map_or(String::new(), |s| format!(
                    " (smallest build {:.2}×)",
                    s.brotli as f64 / self.oidc_peer_size.brotli.max(1) as f64
                ))
        );
        let goal = (self.peer_size.brotli as f64 * SIZE_GOAL) as u64;
        let _ = writeln!(
            md,
            "\nHashgate's wasm alone: {} brotli. The goal ({SIZE_GOAL}× the peer) is {} brotli; \
             the Leptos shell with no auth at all already takes {} of it, which leaves {} for \
             sign-in, validation, silent renewal, the API client, the pages and the CSS.\n",
            human(self.hashgate_wasm_brotli),
            human(goal),
            human(self.shell_size.brotli),
            human(goal.saturating_sub(self.shell_size.brotli)),
        );
        let _ = writeln!(
            md,
            "## API throughput (wrk -t2 -c50 -d{}s --latency, loopback, one RS256 token)\n",
            self.duration_secs
        );
        let _ = writeln!(
            md,
            "| server | route | req/s | p50 | p99 | requests | errors | peak RSS |\n|---|---|---:|---:|---:|---:|---:|---:|"
        );
        for row in &self.api {
            let _ = writeln!(
                md,
                "| {} | `{}` | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {} |",
                row.server,
                row.route,
                row.wrk.requests_per_sec,
                row.wrk.p50_ms,
                row.wrk.p99_ms,
                row.wrk.requests,
                row.wrk.errors,
                row.peak_rss_kib
                    .map_or_else(|| "?".to_owned(), |kib| human(kib * 1024)),
            );
        }
        let _ = writeln!(
            md,
            "\n## Login round trip (headless Chromium, provider session present)\n"
        );
        let _ = writeln!(
            md,
            "From opening `/profile` signed out in the app to `data-auth-state=\"authenticated\"`; \
             every app served from the same origin against the same `hashgate-idp` (release).\n"
        );
        if let Some(note) = &self.login_note {
            let _ = writeln!(md, "Not measured: {note}\n");
        }
        if !self.login.is_empty() {
            let _ = writeln!(
                md,
                "| app | median | p10 | p90 | min | max | runs |\n|---|---:|---:|---:|---:|---:|---:|"
            );
            for row in &self.login {
                let _ = writeln!(
                    md,
                    "| {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {} |",
                    row.app,
                    row.median_ms,
                    row.p10_ms,
                    row.p90_ms,
                    row.min_ms,
                    row.max_ms,
                    row.runs
                );
            }
            for row in &self.login {
                if let Some((median, p10, p90)) = row.callback_ms {
                    let _ = writeln!(
                        md,
                        "\n{}'s callback processing (User Timing `hashgate:callback`: \
                         authorization response received → tokens validated, WebCrypto \
                         signature and at_hash included; here the silent sign-in's response): \
                         median {median:.1} ms (p10 {p10:.1}, p90 {p90:.1}).",
                        row.app
                    );
                }
            }
        }
        let _ = writeln!(md, "\n## Goals\n");
        let _ = writeln!(md, "| goal | measured | met |\n|---|---:|:---:|");
        let mark = |met: bool| if met { "yes" } else { "**no**" };
        let ratio = self.size_ratio();
        let _ = writeln!(
            md,
            "| Hashgate brotli ≤ {SIZE_GOAL}× peer | {ratio:.2}× | {} |",
            mark(ratio <= SIZE_GOAL)
        );
        if let Ok(smallest) = self.smallest_size {
            let ratio = self.ratio(smallest);
            let _ = writeln!(
                md,
                "| (opt-in smallest build ≤ {SIZE_GOAL}× peer) | {ratio:.2}× | {} |",
                mark(ratio <= SIZE_GOAL)
            );
        }
        let optional = |md: &mut String, goal: String, value: Option<f64>, met: fn(f64) -> bool| {
            let _ = match value {
                Some(value) => writeln!(md, "| {goal} | {value:.2}× | {} |", mark(met(value))),
                None => writeln!(md, "| {goal} | not measured | **no** |"),
            };
        };
        optional(
            &mut md,
            format!("hashgate-api private ≥ {VALIDATION_GOAL}× public"),
            self.validation_ratio(),
            |v| v >= VALIDATION_GOAL,
        );
        optional(
            &mut md,
            format!("hashgate-api private ≥ {EXPRESS_GOAL}× Express private"),
            self.express_ratio(),
            |v| v >= EXPRESS_GOAL,
        );
        let errors: u64 = self.api.iter().map(|row| row.wrk.errors).sum();
        let _ = writeln!(
            md,
            "| zero errors (non-2xx and socket) | {errors} | {} |",
            mark(errors == 0 && !self.api.is_empty())
        );
        let _ = writeln!(md, "\n## Machine\n");
        for line in &self.machine {
            let _ = writeln!(md, "- {line}");
        }
        md
    }

    /// A bar chart of brotli sizes and req/s, as a standalone SVG.
    pub fn svg(&self) -> String {
        let mut bars: Vec<(String, f64, String, &str)> = Vec::new();
        let mut sizes = vec![("Hashgate", self.hashgate_size.brotli, "#b7410e")];
        if let Ok(smallest) = self.smallest_size {
            sizes.push(("Hashgate (smallest)", smallest.brotli, "#d9835a"));
        }
        sizes.push(("React + auth0-js", self.peer_size.brotli, "#61dafb"));
        sizes.push(("React + oidc-client", self.oidc_peer_size.brotli, "#8fd8ea"));
        sizes.push(("Leptos shell, no auth", self.shell_size.brotli, "#999999"));
        let mut rps = Vec::new();
        for row in &self.api {
            let colour = if row.server == "express" {
                "#68a063"
            } else {
                "#b7410e"
            };
            rps.push((
                format!("{} {}", row.server, row.route),
                row.wrk.requests_per_sec,
                colour,
            ));
        }
        let max_size = sizes.iter().map(|s| s.1).max().unwrap_or(1).max(1) as f64;
        for (name, bytes, colour) in sizes {
            bars.push((
                name.to_owned(),
                bytes as f64 / max_size,
                human(bytes),
                colour,
            ));
        }
        let max_rps = rps.iter().map(|r| r.1).fold(1.0, f64::max);
        let rps_bars: Vec<_> = rps
            .into_iter()
            .map(|(name, value, colour)| {
                (name, value / max_rps, format!("{value:.0} req/s"), colour)
            })
            .collect();

        let max_login = self.login.iter().map(|r| r.median_ms).fold(1.0, f64::max);
        let login_bars: Vec<_> = self
            .login
            .iter()
            .map(|row| {
                let colour = if row.app.starts_with("Hashgate") {
                    "#b7410e"
                } else {
                    "#61dafb"
                };
                (
                    row.app.clone(),
                    row.median_ms / max_login,
                    format!("{:.0} ms median", row.median_ms),
                    colour,
                )
            })
            .collect();

        let (label_w, bar_w, row_h) = (230.0, 420.0, 28.0);
        let width = label_w + bar_w + 130.0;
        let height =
            30.0 + (bars.len() + rps_bars.len() + login_bars.len()) as f64 * row_h + 3.0 * 42.0;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">"#
        );
        let _ = writeln!(
            svg,
            r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
        );
        let mut y = 24.0;
        for (title, rows) in [
            ("Transfer size, brotli -11 (smaller is better)", &bars),
            ("API throughput, wrk req/s (larger is better)", &rps_bars),
            (
                "Login round trip, headless Chromium (smaller is better)",
                &login_bars,
            ),
        ] {
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(
                svg,
                r#"<text x="10" y="{y}" font-weight="bold">{}</text>"#,
                escape(title)
            );
            y += 12.0;
            for (name, share, value, colour) in rows.iter() {
                let w = (share * bar_w).max(1.0);
                let _ = writeln!(
                    svg,
                    r#"<text x="10" y="{:.0}">{}</text><rect x="{label_w}" y="{y:.0}" width="{w:.1}" height="{:.0}" fill="{colour}"/><text x="{:.1}" y="{:.0}">{}</text>"#,
                    y + 17.0,
                    escape(name),
                    row_h - 8.0,
                    label_w + w + 6.0,
                    y + 17.0,
                    escape(value)
                );
                y += row_h;
            }
            y += 30.0;
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Runs the benchmark; returns whether every measurement was taken (goals may still be
/// missed: they are reported, not failed).
pub fn run(options: &Options) -> Result<bool> {
    let started = Instant::now();
    ensure_node()?;
    ensure_wrk()?;
    if options.build {
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
    }

    println!("\n==> transfer size");
    let dist = test::dist_dir();
    if !dist.join("index.html").is_file() {
        return Err(Error::Missing(format!(
            "no release build in {}; run `cargo xtask bench` without --no-build",
            dist.display()
        )));
    }
    let hashgate = size::measure(&dist)?;
    println!("{hashgate}");
    let (peer_dir, peer) = build_peer("peer-react-auth0js")?;
    let (oidc_peer_dir, oidc_peer) = build_peer("peer-react-oidc-client")?;
    let shell_dir = bench_dir().join("shell");
    if options.build {
        cmd::run(
            cmd::command("trunk")
                .args(["build", "--release", "--offline"])
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
    let express_dir = bench_dir().join("peer-express");
    npm_ci(&express_dir)?;
    let api = measure_apis(&express_dir, options.duration_secs)?;

    println!("\n==> login round trip");
    let (login, login_note) = if options.login_runs == 0 {
        (Vec::new(), Some("skipped with --login-runs 0".to_owned()))
    } else {
        tools::ensure(Needs {
            lint: false,
            browser: true,
        })?;
        (
            measure_login(
                &dist,
                smallest.as_deref().ok(),
                &[
                    ("React + auth0-js", &peer_dir.join("dist")),
                    ("React + oidc-client", &oidc_peer_dir.join("dist")),
                ],
                options.login_runs,
            )?,
            None,
        )
    };

    let report = BenchReport {
        hashgate_size: hashgate.total(),
        hashgate_wasm_brotli: hashgate.of(size::Kind::Wasm).brotli,
        peer_size: peer.total(),
        oidc_peer_size: oidc_peer.total(),
        smallest_size,
        shell_size: shell.total(),
        api,
        duration_secs: options.duration_secs,
        login,
        login_note,
        machine: machine(),
    };
    let results = bench_dir().join("results");
    write(&results.join("latest.md"), &report.markdown())?;
    write(&results.join("latest.svg"), &report.svg())?;
    println!("\n{}", report.markdown());
    println!(
        "written: {} and latest.svg, in {}",
        results.join("latest.md").display(),
        test::format_duration(started.elapsed())
    );
    Ok(true)
}

/// Installs and bundles the React peer in `bench/<name>/`; returns its directory and sizes.
fn build_peer(name: &str) -> Result<(PathBuf, size::SizeReport)> {
    let dir = bench_dir().join(name);
    npm_ci(&dir)?;
    cmd::run(Command::new("npm").args(["run", "build"]).current_dir(&dir))?;
    let report = size::measure(&dir.join("dist"))?;
    println!("{report}");
    Ok((dir, report))
}

/// `bench/` in the workspace root.
pub fn bench_dir() -> PathBuf {
    cmd::root().join("bench")
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn ensure_node() -> Result<()> {
    if cmd::find_in_path("node").is_some() && cmd::find_in_path("npm").is_some() {
        return Ok(());
    }
    Err(Error::Missing(
        "node and npm are needed for the JavaScript peers (Debian: sudo apt-get install -y nodejs npm)"
            .to_owned(),
    ))
}

fn ensure_wrk() -> Result<()> {
    if cmd::find_in_path("wrk").is_some() {
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::Missing(format!(
            "wrk is missing; install it with: sudo sh -c '{WRK_APT}'"
        )));
    }
    println!("wrk missing: installing it with apt-get");
    cmd::run(cmd::command("apt-get").arg("update"))?;
    cmd::run(cmd::command("apt-get").args(["install", "-y", "wrk"]))?;
    if cmd::find_in_path("wrk").is_none() {
        return Err(Error::Missing(
            "apt-get finished but wrk is still not on PATH".to_owned(),
        ));
    }
    Ok(())
}

/// `npm ci`: exactly the versions in `package-lock.json`, without install scripts.
fn npm_ci(dir: &Path) -> Result<()> {
    cmd::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(dir),
    )
}

/// A spawned server, killed when dropped so no run leaves one behind.
struct Server {
    name: &'static str,
    child: Child,
    /// Spawned as a process group leader: drop ends the whole group.
    group: bool,
}

impl Server {
    fn spawn(name: &'static str, command: &mut Command) -> Result<Server> {
        let line = cmd::describe(command);
        println!("$ {line} &");
        let child = command.spawn().map_err(|source| Error::Spawn {
            command: line,
            source,
        })?;
        Ok(Server {
            name,
            child,
            group: false,
        })
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.group {
            if let Ok(pid) = i32::try_from(self.child.id()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| Error::Io {
        path: PathBuf::from("127.0.0.1:0"),
        source,
    })?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|source| Error::Io {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })
}

/// The status code of `GET path` on 127.0.0.1:`port`, `None` if nothing answers.
fn http_status(port: u16, path: &str, token: Option<&str>) -> Option<u16> {
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

fn wait_until_up(server: &mut Server, port: u16) -> Result<()> {
    wait_for(server, port, "answer", || {
        http_status(port, "/api/public", None).is_some()
    })
}

/// The token must open `/api/private` and its absence must not, or wrk would time the
/// error path.
fn check_token(name: &str, port: u16, token: &str) -> Result<()> {
    let with = http_status(port, "/api/private", Some(token));
    let without = http_status(port, "/api/private", None);
    if with == Some(200) && without == Some(401) {
        Ok(())
    } else {
        Err(Error::Missing(format!(
            "{name}: /api/private answered {with:?} with the token and {without:?} without; expected 200 and 401"
        )))
    }
}

fn wrk(port: u16, path: &str, token: Option<&str>, secs: u64) -> Result<WrkResult> {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c50", "--latency", "--timeout", "5s"]);
    command.arg(format!("-d{secs}s"));
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    command.arg(format!("http://127.0.0.1:{port}{path}"));
    // Not echoed with cmd::run: the line holds the token.
    println!("$ wrk -t2 -c50 -d{secs}s --latency http://127.0.0.1:{port}{path}");
    let output = command.output().map_err(|source| Error::Spawn {
        command: "wrk".to_owned(),
        source,
    })?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(Error::Failed {
            command: "wrk".to_owned(),
            status: output.status,
        });
    }
    parse_wrk(&text).ok_or_else(|| Error::Missing(format!("could not read wrk's output:\n{text}")))
}

fn measure_apis(express_dir: &Path, secs: u64) -> Result<Vec<ApiRow>> {
    let issuer_port = free_port()?;
    let issuer_url = format!("http://127.0.0.1:{issuer_port}/");
    let mut issuer = Server::spawn(
        "fake issuer",
        Command::new("node")
            .args(["issuer.mjs", &issuer_port.to_string(), AUDIENCE])
            .current_dir(express_dir)
            .stdout(Stdio::piped()),
    )?;
    let token = read_token(&mut issuer)?;
    let mut rows = Vec::new();

    let api_port = free_port()?;
    let data_dir = std::env::temp_dir().join(format!("hashgate-bench-{}", std::process::id()));
    let mut api = Server::spawn(
        "hashgate-api",
        Command::new(release_bin("hashgate-api"))
            .args(["--issuer", &issuer_url, "--audience", AUDIENCE])
            .args(["--port", &api_port.to_string()])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?;
    wait_until_up(&mut api, api_port)?;
    check_token("hashgate-api", api_port, &token)?;
    for (path, token) in [
        ("/api/public", None),
        ("/api/private", Some(token.as_str())),
    ] {
        let wrk = wrk(api_port, path, token, secs)?;
        println!(
            "  {path}: {:.0} req/s, {} errors",
            wrk.requests_per_sec, wrk.errors
        );
        rows.push(ApiRow {
            server: "hashgate-api".to_owned(),
            route: path.to_owned(),
            wrk,
            peak_rss_kib: None,
        });
    }
    let rss = api.peak_rss_kib();
    rows.iter_mut().for_each(|row| row.peak_rss_kib = rss);
    drop(api);
    let _ = fs::remove_dir_all(&data_dir);

    let express_port = free_port()?;
    let mut express = Server::spawn(
        "express",
        Command::new("node")
            .args([
                "server.mjs",
                &express_port.to_string(),
                &issuer_url,
                AUDIENCE,
            ])
            .current_dir(express_dir)
            .env("NODE_ENV", "production")
            .stdout(Stdio::null())
            // The middleware prints every refused request, including the probe without a token.
            .stderr(Stdio::null()),
    )?;
    wait_until_up(&mut express, express_port)?;
    check_token("express", express_port, &token)?;
    let wrk = wrk(express_port, "/api/private", Some(&token), secs)?;
    println!(
        "  express /api/private: {:.0} req/s, {} errors",
        wrk.requests_per_sec, wrk.errors
    );
    rows.push(ApiRow {
        server: "express".to_owned(),
        route: "/api/private".to_owned(),
        wrk,
        peak_rss_kib: express.peak_rss_kib(),
    });
    Ok(rows)
}

/// The idp's shipped config, with the app on `app_port`, consent skipped (a first-party
/// app) and the rules directory made absolute, so it can live in a scratch directory.
pub fn idp_config_for(shipped: &str, app_port: u16, rules_dir: &Path) -> Option<String> {
    let config = shipped
        .replace("localhost:8080", &format!("localhost:{app_port}"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{app_port}"))
        .replace("skip_consent = false", "skip_consent = true")
        .replace(
            "rules_dir = \"rules\"",
            &format!("rules_dir = \"{}\"", rules_dir.display()),
        );
    // If the shipped file changed shape, a silent mismatch would measure a failing login.
    (config.contains(&format!("\"http://localhost:{app_port}/callback\""))
        && config.contains("skip_consent = true"))
    .then_some(config)
}

fn auth_config(idp_port: u16) -> String {
    format!(
        r#"{{"issuer":"http://localhost:{idp_port}/","clientId":"hashgate-spa","audience":"{AUDIENCE}","scope":"openid profile email read:messages","apiOrigin":"http://localhost:1"}}"#
    )
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
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

fn wait_for_port(server: &mut Server, port: u16) -> Result<()> {
    wait_for(server, port, "listen", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}

/// Polls `ready` for up to 20 s; fails early if `server` exits. `what` is the verb the
/// error uses ("answer", "listen").
fn wait_for(server: &mut Server, port: u16, what: &str, ready: impl Fn() -> bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(Error::Missing(format!(
                "{} exited before it could {what} ({status})",
                server.name
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(Error::Missing(format!(
        "{} did not {what} on 127.0.0.1:{port} within 20 s",
        server.name
    )))
}

fn measure_login(
    hashgate_dist: &Path,
    smallest_dist: Option<&Path>,
    peers: &[(&str, &Path)],
    runs: u32,
) -> Result<Vec<LoginRow>> {
    let scratch = std::env::temp_dir().join(format!("hashgate-bench-login-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    let mut apps = vec![("Hashgate", hashgate_dist)];
    if let Some(dist) = smallest_dist {
        apps.push(("Hashgate (smallest build)", dist));
    }
    apps.extend_from_slice(peers);
    let result = measure_login_in(&scratch, &apps, runs);
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn measure_login_in(scratch: &Path, apps: &[(&str, &Path)], runs: u32) -> Result<Vec<LoginRow>> {
    let (idp_port, app_port, driver_port) = (free_port()?, free_port()?, free_port()?);
    let root = cmd::root();
    let shipped_path = root.join("idp/hashgate-idp.toml");
    let shipped = fs::read_to_string(&shipped_path).map_err(|source| Error::Io {
        path: shipped_path.clone(),
        source,
    })?;
    let config = idp_config_for(&shipped, app_port, &root.join("idp/rules")).ok_or_else(|| {
        Error::Missing(format!(
            "{} no longer has the 8080 callbacks and skip_consent line the bench rewrites",
            shipped_path.display()
        ))
    })?;
    write(&scratch.join("idp.toml"), &config)?;
    let mut idp = Server::spawn(
        "hashgate-idp",
        Command::new(release_bin("hashgate-idp"))
            .args(["--issuer", &format!("http://localhost:{idp_port}/")])
            .args(["--port", &idp_port.to_string()])
            .arg("--config")
            .arg(scratch.join("idp.toml"))
            .arg("--data-dir")
            .arg(scratch.join("idp-data"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?;
    wait_for_port(&mut idp, idp_port)?;
    let mut driver = Server::spawn(
        "chromedriver",
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so dropping it also ends every Chromium process.
            .process_group(0),
    )?;
    driver.group = true;
    wait_for_port(&mut driver, driver_port)?;
    let chromium = cmd::find_in_path("chromium")
        .ok_or_else(|| Error::Missing(format!("chromium is missing: {}", tools::CHROMIUM_APT)))?;

    let mut rows = Vec::new();
    for &(name, dist) in apps {
        let site = scratch.join(format!("site-{}", rows.len()));
        copy_dir(dist, &site)?;
        write(&site.join("auth_config.json"), &auth_config(idp_port))?;
        let mut host = Server::spawn(
            "static host",
            Command::new("node")
                .arg(root.join("bench/login/serve.mjs"))
                .arg(&site)
                .arg(app_port.to_string())
                .stdout(Stdio::null()),
        )?;
        wait_for_port(&mut host, app_port)?;
        let mut login = Command::new("node");
        login
            .arg(root.join("bench/login/login.mjs"))
            .arg(driver_port.to_string())
            .arg(format!("http://localhost:{app_port}"))
            .arg(runs.to_string())
            .arg(&chromium)
            .arg(scratch.join(format!("profile-{}", rows.len())));
        println!("$ node bench/login/login.mjs ({name}, {runs} runs)");
        let output = login.output().map_err(|source| Error::Spawn {
            command: "node bench/login/login.mjs".to_owned(),
            source,
        })?;
        let text = String::from_utf8_lossy(&output.stdout);
        let row = parse_login_result(name, &text).ok_or_else(|| {
            Error::Missing(format!(
                "{name}: the login round trip failed:\n{text}{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        })?;
        println!(
            "  {name}: median {:.0} ms ({:.0}-{:.0})",
            row.median_ms, row.min_ms, row.max_ms
        );
        if let Some((median, _, _)) = row.callback_ms {
            println!("  {name}: callback processing median {median:.1} ms");
        }
        rows.push(row);
        drop(host);
    }
    Ok(rows)
}

fn read_token(issuer: &mut Server) -> Result<String> {
    let stdout = issuer
        .child
        .stdout
        .take()
        .ok_or_else(|| Error::Missing("the fake issuer has no stdout".to_owned()))?;
    let mut token = None;
    for line in BufReader::new(stdout)
        .lines()
        .map_while(std::result::Result::ok)
    {
        if let Some(jwt) = line.strip_prefix("token ") {
            token = Some(jwt.to_owned());
        } else if line == "ready" {
            break;
        }
    }
    token.ok_or_else(|| Error::Missing("the fake issuer printed no token".to_owned()))
}

fn release_bin(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| cmd::root().join("target"), PathBuf::from)
        .join("release")
        .join(name)
}

fn machine() -> Vec<String> {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let kib: u64 = info
                .lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
        })
        .unwrap_or_else(|| "?".to_owned());
    let version = |program: &str, arg: &str| {
        cmd::capture(Command::new(program).arg(arg))
            .and_then(|out| out.lines().next().map(str::to_owned))
            .unwrap_or_else(|| format!("{program}: unknown"))
    };
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let date =
        cmd::capture(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
    vec![
        format!("date: {date}"),
        format!("CPU: {cpu}, {cores} cores available to this run; memory {memory}"),
        format!(
            "Linux {kernel}; {}; node {}",
            version("rustc", "--version"),
            version("node", "--version")
        ),
        "load: shared machine, other jobs may run; numbers are for comparison within one run"
            .to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK_OUTPUT: &str = "Running 10s test @ http://127.0.0.1:4101/api/private
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    39.16ms   66.56ms 644.30ms   94.64%
    Req/Sec     0.98k   371.29     1.60k    63.79%
  Latency Distribution
     50%  812.00us
     75%   33.49ms
     90%   45.19ms
     99%    1.02s
  5671 requests in 3.01s, 1.73MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   1884.89
Transfer/sec:    587.19KB
";

    // README.md, Benchmarks ("zero errors in every wrk run"): non-2xx answers and socket
    // errors both count.
    #[test]
    fn wrk_output_gives_rate_latencies_and_every_error() {
        let result = parse_wrk(WRK_OUTPUT).unwrap();
        assert!((result.requests_per_sec - 1884.89).abs() < 1e-9);
        assert!((result.p50_ms - 0.812).abs() < 1e-9);
        assert!((result.p99_ms - 1020.0).abs() < 1e-9);
        assert_eq!(result.requests, 5671);
        assert_eq!(result.errors, 10);
    }

    #[test]
    fn wrk_output_without_a_rate_is_not_a_result() {
        assert_eq!(parse_wrk("  2 threads and 50 connections\n"), None);
    }

    fn report(hashgate_brotli: u64, public: f64, private: f64, express: f64) -> BenchReport {
        let row = |server: &str, route: &str, rps: f64| ApiRow {
            server: server.to_owned(),
            route: route.to_owned(),
            wrk: WrkResult {
                requests_per_sec: rps,
                p50_ms: 1.0,
                p99_ms: 2.0,
                requests: 100,
                errors: 0,
            },
            peak_rss_kib: Some(10_000),
        };
        BenchReport {
            hashgate_size: Sizes {
                raw: 3 * hashgate_brotli,
                gzip: 2 * hashgate_brotli,
                brotli: hashgate_brotli,
            },
            hashgate_wasm_brotli: hashgate_brotli / 2,
            peer_size: Sizes {
                raw: 300_000,
                gzip: 120_000,
                brotli: 100_000,
            },
            oidc_peer_size: Sizes {
                raw: 400_000,
                gzip: 150_000,
                brotli: 125_000,
            },
            smallest_size: Err("no nightly toolchain".to_owned()),
            shell_size: Sizes {
                raw: 200_000,
                gzip: 90_000,
                brotli: 70_000,
            },
            api: vec![
                row("hashgate-api", "/api/public", public),
                row("hashgate-api", "/api/private", private),
                row("express", "/api/private", express),
            ],
            duration_secs: 10,
            login: vec![parse_login_result(
                "Hashgate",
                "run 1\nresult 490.6 410 712 420 600 20\ncallback 12.5 10.0 20.0 20\n",
            )
            .unwrap()],
            login_note: None,
            machine: vec!["test machine".to_owned()],
        }
    }

    // The size table puts the floor (Leptos without auth) and the smallest build beside the
    // peer, and says how much of the goal the floor leaves.
    #[test]
    fn the_size_table_shows_the_floor_and_the_smallest_build_when_there_is_one() {
        let mut report = report(190_000, 1000.0, 900.0, 100.0);
        let md = report.markdown();
        assert!(md.contains("| floor: the Leptos shell alone, no auth (`bench/shell`) | 195.3 KiB | 87.9 KiB | 68.4 KiB | 0.70× |"), "{md}");
        assert!(
            md.contains("Smallest build not measured: no nightly toolchain."),
            "{md}"
        );
        assert!(!md.contains("opt-in smallest build ≤"), "{md}");
        assert!(md.contains("| second peer: React + react-router + oidc-client (esbuild) | 390.6 KiB | 146.5 KiB | 122.1 KiB | 1.25× |"), "{md}");
        assert!(
            md.contains("Against the second peer, Hashgate is 1.52×."),
            "{md}"
        );
        // 0.8 × 100 000 = 80 000 bytes; the floor takes 70 000 of them.
        assert!(md.contains("is 78.1 KiB brotli; the Leptos shell with no auth at all already takes 68.4 KiB of it, which leaves 9.8 KiB"), "{md}");
        report.smallest_size = Ok(Sizes {
            raw: 400_000,
            gzip: 150_000,
            brotli: 150_000,
        });
        let md = report.markdown();
        assert!(md.contains("| 146.5 KiB | 1.50× |"), "{md}");
        assert!(
            md.contains("| (opt-in smallest build ≤ 0.8× peer) | 1.50× | **no** |"),
            "{md}"
        );
        assert!(
            md.contains("Hashgate is 1.52× (smallest build 1.20×)."),
            "{md}"
        );
        assert!(report.svg().contains("Hashgate (smallest)"));
    }

    // README.md, Benchmarks: a missed goal is said plainly, a met one too.
    #[test]
    fn the_goals_table_marks_missed_and_met_goals() {
        let md = report(190_000, 1000.0, 900.0, 100.0).markdown();
        assert!(
            md.contains("| Hashgate brotli ≤ 0.8× peer | 1.90× | **no** |"),
            "{md}"
        );
        assert!(
            md.contains("| hashgate-api private ≥ 0.7× public | 0.90× | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| hashgate-api private ≥ 5× Express private | 9.00× | yes |"),
            "{md}"
        );

        let md = report(70_000, 1000.0, 500.0, 200.0).markdown();
        assert!(md.contains("| 0.70× | yes |"), "{md}");
        assert!(
            md.contains("| hashgate-api private ≥ 0.7× public | 0.50× | **no** |"),
            "{md}"
        );
        assert!(
            md.contains("| hashgate-api private ≥ 5× Express private | 2.50× | **no** |"),
            "{md}"
        );
    }

    // README.md, Benchmarks: the login round trip is reported as median and spread (p10–p90).
    #[test]
    fn login_results_are_read_and_tabled_with_their_spread() {
        let row =
            parse_login_result("peer", "run 500.0\nresult 507.5 493.5 712.1 494 700 20").unwrap();
        assert_eq!(row.runs, 20);
        assert!((row.median_ms - 507.5).abs() < 1e-9 && (row.max_ms - 712.1).abs() < 1e-9);
        assert_eq!(parse_login_result("peer", "result 1 2 3"), None);
        assert_eq!(parse_login_result("peer", "run 3\n"), None);

        assert_eq!(row.callback_ms, None, "the peer sets no performance marks");

        let md = report(190_000, 1000.0, 900.0, 100.0).markdown();
        assert!(
            md.contains("| Hashgate | 491 ms | 420 ms | 600 ms | 410 ms | 712 ms | 20 |"),
            "{md}"
        );
        // The callback processing time from the app's User Timing measure `hashgate:callback`.
        assert!(
            md.contains("Hashgate's callback processing") && md.contains("median 12.5 ms"),
            "{md}"
        );
    }

    // README.md, Benchmarks: every app logs in against the same `hashgate-idp`, with its shipped
    // config moved to the bench's ports.
    #[test]
    fn the_shipped_idp_config_is_moved_to_the_bench_port_without_consent() {
        let shipped = fs::read_to_string(cmd::root().join("idp/hashgate-idp.toml")).unwrap();
        let config = idp_config_for(&shipped, 18_123, Path::new("/abs/rules")).unwrap();
        assert!(config.contains("\"http://localhost:18123/callback\""));
        assert!(config.contains("\"http://localhost:18123\""));
        assert!(!config.contains("localhost:8080"));
        assert!(config.contains("rules_dir = \"/abs/rules\""));
        assert_eq!(
            idp_config_for("skip_consent = true", 18_123, Path::new("/r")),
            None
        );
    }

    #[test]
    fn the_chart_is_one_svg_with_a_bar_per_measurement() {
        let svg = report(190_000, 1000.0, 900.0, 100.0).svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        // Background plus 4 size bars (Hashgate, 2 peers, floor), 3 throughput bars, 1 login bar.
        assert_eq!(svg.matches("<rect").count(), 9, "{svg}");
        assert!(svg.contains("Leptos shell, no auth"), "{svg}");
        assert!(svg.contains("491 ms median"), "{svg}");
        assert!(svg.contains("express /api/private"));
    }

    #[test]
    fn bench_options_default_to_ten_seconds_and_refuse_nonsense() {
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        let options = Options::parse(&["--no-build", "--duration", "3"]).unwrap();
        assert_eq!(
            options,
            Options {
                build: false,
                duration_secs: 3,
                login_runs: 20
            }
        );
        assert_eq!(
            Options::parse(&["--login-runs", "0"]).unwrap().login_runs,
            0
        );
        assert!(Options::parse(&["--duration", "0"]).is_err());
        assert!(Options::parse(&["--login-runs", "many"]).is_err());
        assert!(Options::parse(&["--fast"]).is_err());
    }
}
