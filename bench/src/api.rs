//! API throughput: `hashgate-api` (release) against Express + `express-oauth2-jwt-bearer`
//! (`bench/peer-express/`), both validating one RS256 token from a fake issuer
//! (`bench/peer-express/issuer.mjs`: discovery + JWKS).

use std::{
    fs,
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use xtask::process::{free_port, Server};

use crate::{Result, TaskError};

use super::{
    servers::{http_status, release_bin, scratch_dir},
    wrk::{self, WrkResult},
    AUDIENCE,
};

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

/// Measures `hashgate-api`'s `/api/public` and `/api/private`, then Express's `/api/private`,
/// `secs` seconds each.
pub fn measure(express_dir: &Path, secs: u64) -> Result<Vec<ApiRow>> {
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
    let data_dir = scratch_dir("api")?;
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
        let wrk = wrk::run(&format!("http://127.0.0.1:{api_port}{path}"), token, secs)?;
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
    let url = format!("http://127.0.0.1:{express_port}/api/private");
    let wrk = wrk::run(&url, Some(&token), secs)?;
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

/// The token the fake issuer prints (`token <jwt>` before `ready`).
fn read_token(issuer: &mut Server) -> Result<String> {
    let stdout = issuer
        .take_stdout()
        .ok_or_else(|| TaskError::Missing("the fake issuer has no stdout".to_owned()))?;
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
    token.ok_or_else(|| TaskError::Missing("the fake issuer printed no token".to_owned()).into())
}

fn wait_until_up(server: &mut Server, port: u16) -> Result<()> {
    Ok(server.wait_for(
        &format!("answer on 127.0.0.1:{port}"),
        Duration::from_secs(20),
        || http_status(port, "/api/public", None).is_some(),
    )?)
}

/// The token must open `/api/private` and its absence must not, or wrk would time the
/// error path.
fn check_token(name: &str, port: u16, token: &str) -> Result<()> {
    let with = http_status(port, "/api/private", Some(token));
    let without = http_status(port, "/api/private", None);
    if with == Some(200) && without == Some(401) {
        Ok(())
    } else {
        Err(TaskError::Missing(format!(
            "{name}: /api/private answered {with:?} with the token and {without:?} without; expected 200 and 401"
        )).into())
    }
}
