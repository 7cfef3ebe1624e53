//! `GET /authorize` under a flood from one client: every request without a session starts a
//! login, which the provider keeps as a pending transaction, so a flood fills its store. wrk
//! floods from 127.0.0.1 and counts what the provider answers by status (a redirect to the
//! login page, 429 once it caps pending logins, anything else apart), while a normal password
//! login from another client (127.0.0.2) is timed before, during and after the flood.

use std::{
    io::Read as _,
    net::IpAddr,
    process::Stdio,
    time::{Duration, Instant},
};

use url::Url;

use xtask::process::Server;

use crate::{Result, TaskError};

use super::{
    form_login::{self, Login, LoginEnd},
    idp::{self, CLIENT_ID},
    servers::{bench_dir, scratch_dir},
    wrk::{self, StatusCounts, WrkResult},
    AUDIENCE,
};

/// Where the normal logins come from: another loopback address than wrk's 127.0.0.1, so that a
/// per-IP cap on the flood does not count them.
pub const NORMAL_CLIENT: [u8; 4] = [127, 0, 0, 2];
/// Most logins timed in one phase.
const MAX_LOGINS: usize = 500;
/// Logins timed after the flood: does a normal login still complete?
const LOGINS_AFTER: usize = 5;

/// Normal logins of one phase.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoginStats {
    /// Round trips of the logins that ended with tokens, in milliseconds, in order.
    pub completed_ms: Vec<f64>,
    /// The other endings, as `(what, how many)`, e.g. `("429 at /authorize", 3)`.
    pub refused: Vec<(String, u32)>,
}

impl LoginStats {
    /// Counts one login.
    pub fn record(&mut self, end: &LoginEnd, elapsed: Duration) {
        let what = match end {
            LoginEnd::Tokens => {
                self.completed_ms.push(elapsed.as_secs_f64() * 1000.0);
                return;
            }
            LoginEnd::Refused { step, status } => format!("{status} at {step}"),
            LoginEnd::OauthError(error) => format!("error={error}"),
            LoginEnd::Broken(why) => why.clone(),
        };
        match self.refused.iter_mut().find(|(seen, _)| *seen == what) {
            Some((_, count)) => *count += 1,
            None => self.refused.push((what, 1)),
        }
    }

    /// Logins attempted.
    pub fn attempts(&self) -> usize {
        self.completed_ms.len() + self.refused.iter().map(|(_, n)| *n as usize).sum::<usize>()
    }

    /// The `p`-th percentile (nearest rank) of the completed logins, in milliseconds.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let mut sorted = self.completed_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
    }
}

/// What the flood measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodReport {
    /// Seconds the flood lasted.
    pub duration_secs: u64,
    /// wrk's numbers for `GET /authorize`.
    pub wrk: WrkResult,
    /// What the provider answered, by status.
    pub statuses: StatusCounts,
    /// Normal logins before the flood, for comparison.
    pub before: LoginStats,
    /// Normal logins while the flood ran.
    pub during: LoginStats,
    /// Normal logins right after it.
    pub after: LoginStats,
}

/// Floods a fresh release `hashgate-idp` for `secs` seconds and times normal logins around it.
pub fn measure(secs: u64) -> Result<FloodReport> {
    let scratch = scratch_dir("flood")?;
    let result = measure_in(&scratch, secs);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn measure_in(scratch: &std::path::Path, secs: u64) -> Result<FloodReport> {
    // Nothing listens there: a login ends at the redirect to the app's callback.
    let app_port = xtask::process::free_port()?;
    let idp = idp::start(scratch, app_port, "127.0.0.1")?;
    let issuer = Url::parse(&idp.issuer)
        .map_err(|error| TaskError::Missing(format!("bad issuer {}: {error}", idp.issuer)))?;
    let redirect_uri = format!("http://127.0.0.1:{app_port}/callback");
    let runtime = xtask::process::runtime()?;

    let phase = Duration::from_secs(secs);
    let started = Instant::now();
    let before = runtime.block_on(logins(&issuer, &redirect_uri, MAX_LOGINS, || {
        started.elapsed() < phase
    }));
    println!("  before the flood: {}", summary(&before));

    let flood_url = format!(
        "{}authorize?{}",
        idp.issuer,
        authorize_query(&redirect_uri, "flood")
    );
    let script = bench_dir().join("wrk/statuses.lua");
    let mut flood = Server::spawn(
        "wrk",
        wrk::command(&flood_url, None, Some(&script), secs).stdout(Stdio::piped()),
    )?;
    let during = runtime.block_on(logins(&issuer, &redirect_uri, MAX_LOGINS, || {
        flood.exited().is_none()
    }));
    println!("  during the flood: {}", summary(&during));
    let (wrk, statuses) = finish(&mut flood, secs)?;
    println!(
        "  flood: {:.0} req/s; {} answered 2xx/3xx, {} answered 429",
        wrk.requests_per_sec,
        statuses.success(),
        statuses.too_many_requests()
    );

    let after = runtime.block_on(logins(&issuer, &redirect_uri, LOGINS_AFTER, || true));
    println!("  after the flood: {}", summary(&after));
    drop(idp);
    Ok(FloodReport {
        duration_secs: secs,
        wrk,
        statuses,
        before,
        during,
        after,
    })
}

/// The authorization request of the demo app (RFC 6749 §4.2.1, OIDC Core §3.2.2.1).
fn authorize_query(redirect_uri: &str, nonce: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "id_token token")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid profile email read:messages")
        .append_pair("audience", AUDIENCE)
        .append_pair("state", nonce)
        .append_pair("nonce", nonce)
        .finish()
}

/// Logs alice in, one login after the other, while `go_on()` holds, at most `max` times.
async fn logins(
    issuer: &Url,
    redirect_uri: &str,
    max: usize,
    mut go_on: impl FnMut() -> bool,
) -> LoginStats {
    let mut stats = LoginStats::default();
    while stats.attempts() < max && go_on() {
        let query = authorize_query(redirect_uri, &format!("n{}", stats.attempts()));
        let login = Login {
            issuer,
            query: &query,
            username: "alice",
            password: "alice-password",
            from: IpAddr::from(NORMAL_CLIENT),
        };
        let (end, elapsed) = form_login::login(&login).await;
        stats.record(&end, elapsed);
    }
    stats
}

/// Waits for wrk to end (it stops itself after `secs`) and reads its numbers.
fn finish(flood: &mut Server, secs: u64) -> Result<(WrkResult, StatusCounts)> {
    let deadline = Instant::now() + Duration::from_secs(secs + 30);
    let status = loop {
        if let Some(status) = flood.exited() {
            break status;
        }
        if Instant::now() > deadline {
            return Err(
                TaskError::Missing(format!("wrk did not finish within {} s", secs + 30)).into(),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !status.success() {
        return Err(TaskError::Failed {
            command: "wrk".to_owned(),
            status,
        }
        .into());
    }
    let mut text = String::new();
    if let Some(mut stdout) = flood.take_stdout() {
        stdout
            .read_to_string(&mut text)
            .map_err(|source| TaskError::Io {
                path: "wrk's output".into(),
                source,
            })?;
    }
    let wrk = wrk::parse_wrk(&text)
        .ok_or_else(|| TaskError::Missing(format!("could not read wrk's output:\n{text}")))?;
    let statuses = StatusCounts::parse(&text).ok_or_else(|| {
        TaskError::Missing(format!(
            "bench/wrk/statuses.lua printed no status counts:\n{text}"
        ))
    })?;
    Ok((wrk, statuses))
}

/// `12 of 12 completed, median 61 ms` for the console.
fn summary(stats: &LoginStats) -> String {
    format!(
        "{} of {} logins completed, median {}",
        stats.completed_ms.len(),
        stats.attempts(),
        stats
            .percentile(50.0)
            .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.0} ms"))
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use form_login::Step;

    // The flood's login figures: p50/p90/p99 by nearest rank over the completed logins, with
    // every other ending counted by what the provider answered.
    #[test]
    fn logins_are_counted_by_ending_and_percentiles_taken_over_completed_ones() {
        let mut stats = LoginStats::default();
        assert_eq!(stats.percentile(50.0), None);
        for ms in (1..=100).rev() {
            stats.record(&LoginEnd::Tokens, Duration::from_millis(ms));
        }
        let too_many = LoginEnd::Refused {
            step: Step::Authorize,
            status: 429,
        };
        stats.record(&too_many, Duration::from_millis(1));
        stats.record(&too_many, Duration::from_millis(1));
        stats.record(
            &LoginEnd::OauthError("server_error".to_owned()),
            Duration::ZERO,
        );
        assert_eq!(stats.attempts(), 103);
        assert_eq!(stats.percentile(50.0), Some(50.0));
        assert_eq!(stats.percentile(90.0), Some(90.0));
        assert_eq!(stats.percentile(99.0), Some(99.0));
        assert_eq!(stats.percentile(100.0), Some(100.0));
        assert_eq!(
            stats.refused,
            vec![
                ("429 at /authorize".to_owned(), 2),
                ("error=server_error".to_owned(), 1)
            ]
        );
        let mut one = LoginStats::default();
        one.record(&LoginEnd::Tokens, Duration::from_millis(7));
        assert_eq!(one.percentile(99.0), Some(7.0));
        assert_eq!(one.percentile(1.0), Some(7.0));
    }

    // RFC 6749 §4.2.1 / OIDC Core §3.2.2.1: the flood asks for what the app asks for.
    #[test]
    fn the_authorization_request_is_the_apps() {
        let query = authorize_query("http://127.0.0.1:9/callback", "n1");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(get("response_type"), Some("id_token token"));
        assert_eq!(get("client_id"), Some(CLIENT_ID));
        assert_eq!(get("redirect_uri"), Some("http://127.0.0.1:9/callback"));
        assert_eq!(get("nonce"), Some("n1"));
        assert_eq!(get("audience"), Some(AUDIENCE));
    }
}
