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
    load::{self, DpopKey, LoadResult},
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

/// DPoP requests per run of the load generator: each carries its own proof, and the API
/// remembers every `jti` for its proof window in a store of at most 200 000 (past it, 503), so
/// the DPoP row, its check request and the Bearer row's none stay far below that bound.
pub const DPOP_REQUESTS: usize = 60_000;

/// One row of the load generator's table (`/api/private`, Bearer beside DPoP).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadRow {
    /// `Bearer` or `DPoP + proof`.
    pub scheme: String,
    /// What the load generator measured.
    pub result: LoadResult,
}

/// Measures `hashgate-api`'s `/api/public` and `/api/private`, then Express's `/api/private`,
/// `secs` seconds each with wrk; then `/api/private` with the bench's own load generator,
/// `Bearer` beside `DPoP` with a fresh proof per request ([`load`]).
pub fn measure(express_dir: &Path, secs: u64) -> Result<(Vec<ApiRow>, Vec<LoadRow>)> {
    let issuer_port = free_port()?;
    let issuer_url = format!("http://127.0.0.1:{issuer_port}/");
    let dpop_key = DpopKey::generate()?;
    let mut issuer = Server::spawn(
        "fake issuer",
        Command::new("node")
            .args([
                "issuer.mjs",
                &issuer_port.to_string(),
                AUDIENCE,
                &dpop_key.jkt(),
            ])
            .current_dir(express_dir)
            .stdout(Stdio::piped()),
    )?;
    let (token, dpop_token) = read_tokens(&mut issuer)?;
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
    let load = load_rows(api_port, &token, &dpop_token, &dpop_key, secs)?;
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
    Ok((rows, load))
}

/// `/api/private` with the load generator: `Bearer` (one request repeated) for `secs`
/// seconds, then `DPoP` with [`DPOP_REQUESTS`] distinct proofs signed beforehand, each row
/// with 50 connections. One DPoP request is checked first: 200 with the proof, 401 without.
fn load_rows(
    port: u16,
    token: &str,
    dpop_token: &str,
    key: &DpopKey,
    secs: u64,
) -> Result<Vec<LoadRow>> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let path = "/api/private";
    // RFC 9449 §4.3: htu is the request's URL without query and fragment, as the API sees it
    // (its Host header: the address the generator writes).
    let url = format!("http://{addr}{path}");
    let limit = Duration::from_secs(secs);
    let now = || {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
        .unwrap_or(0)
    };
    let check = |proof: Option<&str>, want: u64| -> Result<()> {
        let request = load::request(addr, path, "DPoP", dpop_token, proof);
        let result = load::run(addr, vec![request], false, 1, Duration::from_secs(5))?;
        let ok = if want == 200 {
            result.requests == 1 && result.non_2xx == 0
        } else {
            result.requests == 1 && result.non_2xx == 1
        };
        if ok {
            Ok(())
        } else {
            Err(TaskError::Missing(format!(
                "hashgate-api: a DPoP request {} its proof was not answered {want} ({result:?})",
                if proof.is_some() { "with" } else { "without" }
            ))
            .into())
        }
    };
    check(Some(&key.proof(&url, dpop_token, now())?), 200)?;
    check(None, 401)?;

    let bearer = load::run(
        addr,
        vec![load::request(addr, path, "Bearer", token, None)],
        true,
        50,
        limit,
    )?;
    println!(
        "  {path} (load generator, Bearer): {:.0} req/s, p99 {:.2} ms",
        bearer.requests_per_sec, bearer.p99_ms
    );

    // RFC 9449 §11.1: the API takes a proof only within its window around `iat` (60 s by
    // default), so the proofs are signed right before the DPoP row, on two threads.
    let signing = std::time::Instant::now();
    let dpop_requests = std::thread::scope(|scope| {
        let halves: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    (0..DPOP_REQUESTS / 2)
                        .map(|_| {
                            let proof = key.proof(&url, dpop_token, now())?;
                            Ok(load::request(addr, path, "DPoP", dpop_token, Some(&proof)))
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        halves
            .into_iter()
            .map(|half| {
                half.join().unwrap_or_else(|_| {
                    Err(TaskError::Missing("a proof-signing thread panicked".to_owned()).into())
                })
            })
            .collect::<Result<Vec<_>>>()
    })?
    .concat();
    println!(
        "  signed {} DPoP proofs in {:.1} s",
        dpop_requests.len(),
        signing.elapsed().as_secs_f64()
    );
    let dpop = load::run(addr, dpop_requests, false, 50, limit)?;
    println!(
        "  {path} (load generator, DPoP): {:.0} req/s, p99 {:.2} ms, {} requests",
        dpop.requests_per_sec, dpop.p99_ms, dpop.requests
    );
    Ok(vec![
        LoadRow {
            scheme: "Bearer".to_owned(),
            result: bearer,
        },
        LoadRow {
            scheme: "DPoP + proof".to_owned(),
            result: dpop,
        },
    ])
}

/// The tokens the fake issuer prints (`token <jwt>` and `dpop-token <jwt>` before `ready`).
fn read_tokens(issuer: &mut Server) -> Result<(String, String)> {
    let stdout = issuer
        .take_stdout()
        .ok_or_else(|| TaskError::Missing("the fake issuer has no stdout".to_owned()))?;
    let (mut token, mut dpop) = (None, None);
    for line in BufReader::new(stdout)
        .lines()
        .map_while(std::result::Result::ok)
    {
        if let Some(jwt) = line.strip_prefix("token ") {
            token = Some(jwt.to_owned());
        } else if let Some(jwt) = line.strip_prefix("dpop-token ") {
            dpop = Some(jwt.to_owned());
        } else if line == "ready" {
            break;
        }
    }
    token.zip(dpop).ok_or_else(|| {
        TaskError::Missing("the fake issuer printed no token (or no DPoP token)".to_owned()).into()
    })
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
