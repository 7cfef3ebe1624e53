//! The login round trip in headless Chromium (`bench/login/login.mjs` over chromedriver):
//! with a `hashgate-idp` (release) session present, from opening `/profile` signed out to
//! `data-auth-state="authenticated"`, for Hashgate and for the React peers, each served by
//! `bench/login/serve.mjs` on the same origin against the same provider.

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
};

use crate::{
    cmd,
    process::{free_port, Server},
    tools, Error, Result,
};

use super::{
    idp::{self, CLIENT_ID},
    servers::{copy_dir, scratch_dir, write},
    AUDIENCE,
};

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

/// Measures `runs` login round trips of Hashgate (and its smallest build, when there is
/// one) and of each peer `(name, dist)`.
pub fn measure(
    hashgate_dist: &Path,
    smallest_dist: Option<&Path>,
    peers: &[(&str, &Path)],
    runs: u32,
) -> Result<Vec<LoginRow>> {
    let scratch = scratch_dir("login")?;
    let mut apps = vec![("Hashgate", hashgate_dist)];
    if let Some(dist) = smallest_dist {
        apps.push(("Hashgate (smallest build)", dist));
    }
    apps.extend_from_slice(peers);
    let result = measure_in(&scratch, &apps, runs);
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn measure_in(scratch: &Path, apps: &[(&str, &Path)], runs: u32) -> Result<Vec<LoginRow>> {
    let (app_port, driver_port) = (free_port()?, free_port()?);
    let root = cmd::root();
    let idp = idp::start(scratch, app_port, "localhost")?;
    let mut driver = Server::spawn_group(
        "chromedriver",
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    driver.wait_for_port(driver_port)?;
    let chromium = cmd::find_in_path("chromium")
        .ok_or_else(|| Error::Missing(format!("chromium is missing: {}", tools::CHROMIUM_APT)))?;

    let mut rows = Vec::new();
    for &(name, dist) in apps {
        let site = scratch.join(format!("site-{}", rows.len()));
        copy_dir(dist, &site)?;
        write(&site.join("auth_config.json"), &auth_config(&idp.issuer))?;
        let mut host = Server::spawn(
            "static host",
            Command::new("node")
                .arg(root.join("bench/login/serve.mjs"))
                .arg(&site)
                .arg(app_port.to_string())
                .stdout(Stdio::null()),
        )?;
        host.wait_for_port(app_port)?;
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

/// The `auth_config.json` every app is served with: the same provider, client and API.
fn auth_config(issuer: &str) -> String {
    serde_json::json!({
        "issuer": issuer,
        "clientId": CLIENT_ID,
        "audience": AUDIENCE,
        "scope": "openid profile email read:messages",
        "apiOrigin": "http://localhost:1",
    })
    .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    // docs/contract.md §1: every app gets the same provider, client and API in its
    // auth_config.json.
    #[test]
    fn every_app_is_configured_for_the_same_provider_and_api() {
        let config: serde_json::Value =
            serde_json::from_str(&auth_config("http://localhost:4000/")).unwrap();
        assert_eq!(config["issuer"], "http://localhost:4000/");
        assert_eq!(config["clientId"], "hashgate-spa");
        assert_eq!(config["audience"], AUDIENCE);
    }
}
