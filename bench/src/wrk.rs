//! wrk, the HTTP load generator: installing it, running it, and reading what it prints.

use std::{collections::BTreeMap, path::Path, process::Command};

use xtask::cmd;

use crate::{Result, TaskError};

/// The apt line that installs wrk.
pub const WRK_APT: &str = "apt-get update && apt-get install -y wrk";

/// Threads and connections of every wrk run (`-t2 -c50`), as the report's headings say.
pub const LOAD: &str = "-t2 -c50";

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
    /// Socket errors alone (connect, read, write, timeout).
    pub socket_errors: u64,
}

/// Parses wrk's `--latency` output; `None` if a required line is missing.
pub fn parse_wrk(output: &str) -> Option<WrkResult> {
    let mut requests_per_sec = None;
    let mut p50_ms = None;
    let mut p99_ms = None;
    let mut requests = None;
    let mut non_success = 0;
    let mut socket_errors = 0;
    for line in output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            requests_per_sec = rest.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("50%") {
            p50_ms = parse_latency_ms(rest.trim());
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99_ms = parse_latency_ms(rest.trim());
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_success += rest.trim().parse::<u64>().ok()?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // `connect 0, read 0, write 0, timeout 0`
            for part in rest.split(',') {
                socket_errors += part.split_whitespace().nth(1)?.parse::<u64>().ok()?;
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
        errors: non_success + socket_errors,
        socket_errors,
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

/// Responses counted by HTTP status, as `bench/wrk/statuses.lua` prints them
/// (`status <code> <count>` lines after wrk's summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts(pub BTreeMap<u16, u64>);

impl StatusCounts {
    /// Reads the `status <code> <count>` lines of `output`; `None` without any, or with one
    /// that is not two numbers.
    pub fn parse(output: &str) -> Option<StatusCounts> {
        let mut counts = BTreeMap::new();
        for line in output.lines() {
            let Some(rest) = line.trim().strip_prefix("status ") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let code: u16 = words.next()?.parse().ok()?;
            let count: u64 = words.next()?.parse().ok()?;
            *counts.entry(code).or_insert(0) += count;
        }
        (!counts.is_empty()).then_some(StatusCounts(counts))
    }

    /// Responses with a 2xx or 3xx status (what wrk calls success).
    pub fn success(&self) -> u64 {
        self.sum(|code| (200..400).contains(&code))
    }

    /// `429 Too Many Requests` responses.
    pub fn too_many_requests(&self) -> u64 {
        self.sum(|code| code == 429)
    }

    /// Every other status with its count (4xx but 429, 5xx, 1xx).
    pub fn others(&self) -> Vec<(u16, u64)> {
        self.0
            .iter()
            .filter(|(code, _)| !(200..400).contains(*code) && **code != 429)
            .map(|(code, count)| (*code, *count))
            .collect()
    }

    fn sum(&self, wanted: impl Fn(u16) -> bool) -> u64 {
        self.0
            .iter()
            .filter(|(code, _)| wanted(**code))
            .map(|(_, count)| count)
            .sum()
    }
}

/// Fails unless wrk is on `PATH`; as root, installs it with apt-get first.
pub fn ensure_wrk() -> Result<()> {
    if cmd::find_in_path("wrk").is_some() {
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(TaskError::Missing(format!(
            "wrk is missing; install it with: sudo sh -c '{WRK_APT}'"
        ))
        .into());
    }
    println!("wrk missing: installing it with apt-get");
    cmd::run(cmd::command("apt-get").arg("update"))?;
    cmd::run(cmd::command("apt-get").args(["install", "-y", "wrk"]))?;
    if cmd::find_in_path("wrk").is_none() {
        return Err(
            TaskError::Missing("apt-get finished but wrk is still not on PATH".to_owned()).into(),
        );
    }
    Ok(())
}

/// The wrk command for `url`: [`LOAD`], `--latency`, 5 s timeout, `secs` seconds, an
/// optional bearer token and Lua script. Not echoed by [`cmd::run`]: the line may hold a token.
pub fn command(url: &str, token: Option<&str>, script: Option<&Path>, secs: u64) -> Command {
    let mut command = Command::new("wrk");
    command.args(LOAD.split_whitespace());
    command.args(["--latency", "--timeout", "5s"]);
    command.arg(format!("-d{secs}s"));
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url);
    command
}

/// Runs wrk against `url` for `secs` seconds and reads its numbers.
pub fn run(url: &str, token: Option<&str>, secs: u64) -> Result<WrkResult> {
    println!("$ wrk {LOAD} -d{secs}s --latency {url}");
    let output = command(url, token, None, secs)
        .output()
        .map_err(|source| TaskError::Spawn {
            command: "wrk".to_owned(),
            source,
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(TaskError::Failed {
            command: "wrk".to_owned(),
            status: output.status,
        }
        .into());
    }
    parse_wrk(&text)
        .ok_or_else(|| TaskError::Missing(format!("could not read wrk's output:\n{text}")).into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
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
        assert_eq!(result.socket_errors, 3);
    }

    #[test]
    fn wrk_output_without_a_rate_is_not_a_result() {
        assert_eq!(parse_wrk("  2 threads and 50 connections\n"), None);
    }

    // The /authorize flood reports what the provider answered, whatever it was: redirects to
    // the login page (3xx), 429 from a cap on pending logins, and anything else on its own.
    #[test]
    fn status_lines_are_summed_by_class_and_other_statuses_kept_apart() {
        let output = format!("{WRK_OUTPUT}status 302 1200\nstatus 429 4400\nstatus 500 3\nstatus 200 1\nstatus 400 2\n");
        let counts = StatusCounts::parse(&output).unwrap();
        assert_eq!(counts.success(), 1201);
        assert_eq!(counts.too_many_requests(), 4400);
        assert_eq!(counts.others(), vec![(400, 2), (500, 3)]);

        assert_eq!(StatusCounts::parse(WRK_OUTPUT), None, "no status lines");
        assert_eq!(StatusCounts::parse("status 302 many\n"), None);
        assert_eq!(StatusCounts::parse("status 99999 1\n"), None);
    }

    // The token travels in a header and never in the echoed line; the script comes with -s.
    #[test]
    fn the_wrk_command_carries_the_load_the_token_and_the_script() {
        let command = command(
            "http://127.0.0.1:1/authorize",
            Some("tok"),
            Some(Path::new("bench/wrk/statuses.lua")),
            3,
        );
        let args: Vec<String> = command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-t2",
                "-c50",
                "--latency",
                "--timeout",
                "5s",
                "-d3s",
                "-H",
                "Authorization: Bearer tok",
                "-s",
                "bench/wrk/statuses.lua",
                "http://127.0.0.1:1/authorize"
            ]
        );
    }
}
