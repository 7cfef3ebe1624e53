//! The login round trip in headless Chromium (`bench/login/login.mjs` over chromedriver):
//! with a `hashgate-idp` (release) session present, from opening `/profile` signed out to
//! `data-auth-state="authenticated"`, for Hashgate and for the React peers, each served by
//! `bench/login/serve.mjs` on the same origin against the same provider.
//!
//! Hashgate's release build is measured with both of its flows: the same files served twice,
//! with two `auth_config.json` files ([`Flow`]). Each file is the app's own
//! [`RawAuthConfig`], checked by the app's own validation before it is served.

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
};

use hashgate_protocol::{CacheLocation, RawAuthConfig, ResponseType};

use xtask::{
    cmd,
    process::{free_port, Server},
    tools,
};

use crate::{Error, Result, TaskError};

use super::{
    idp::{self, CLIENT_ID},
    servers::{copy_dir, scratch_dir, write},
    AUDIENCE,
};

/// The name of Hashgate's release build in the report.
pub const HASHGATE: &str = "Hashgate";

/// The scopes every app asks for: sign-in, the profile, and the API's read permission.
const SCOPE: &str = "openid profile email read:messages";

/// The API origin in every `auth_config.json`; the login round trip calls no API.
const API_ORIGIN: &str = "http://localhost:1";

/// Which grant an app's `auth_config.json` asks for (README.md, Configure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The implicit grant, `"responseType": "id_token token"`: the app's default, and the
    /// only flow the peers are built for.
    Implicit,
    /// The authorization code flow with PKCE and rotating refresh tokens,
    /// `"responseType": "code", "useRefreshTokens": true` (README.md, The authorization code
    /// flow with PKCE).
    Code,
    /// The code flow with sender-constrained tokens: [`Flow::Code`] plus `"useDpop": true`
    /// (RFC 9449). A build that does not read `useDpop` is not measured on it (see
    /// [`reads_dpop`]).
    CodeDpop,
}

/// What a timed run does (README.md, Benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Signed out in the app, signed in at the provider: open `/profile`.
    Login,
    /// Signed in: reload the page.
    Reload,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Reload => "reload",
        }
    }
}

impl Flow {
    /// Its name in the report's tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Implicit => "implicit (`id_token token`)",
            Self::Code => "code + PKCE, refresh tokens",
            Self::CodeDpop => "code + PKCE + DPoP, refresh tokens",
        }
    }

    /// Its name where space is short (the chart, the console).
    pub fn short(self) -> &'static str {
        match self {
            Self::Implicit => "implicit",
            Self::Code => "code + PKCE",
            Self::CodeDpop => "code + PKCE + DPoP",
        }
    }

    /// The `auth_config.json` fields that select it, as the report quotes them.
    pub fn setting(self) -> &'static str {
        match self {
            Self::Implicit => r#""responseType": "id_token token""#,
            Self::Code => r#""responseType": "code", "useRefreshTokens": true"#,
            Self::CodeDpop => {
                r#""responseType": "code", "useRefreshTokens": true, "useDpop": true"#
            }
        }
    }

    fn response_type(self) -> ResponseType {
        match self {
            Self::Implicit => ResponseType::IdTokenToken,
            Self::Code | Self::CodeDpop => ResponseType::Code,
        }
    }

    fn use_refresh_tokens(self) -> bool {
        self != Self::Implicit
    }
}

/// Whether the build in `dist` reads `useDpop` from `auth_config.json`: its module holds the
/// member's name, as every member the app reads. The app ignores members it does not know
/// (docs/contract.md §1), so without this check a DPoP row would silently measure the plain
/// code flow.
pub fn reads_dpop(dist: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dist) else {
        return false;
    };
    entries.flatten().any(|entry| {
        entry.path().extension().is_some_and(|e| e == "wasm")
            && fs::read(entry.path()).is_ok_and(|bytes| bytes.windows(7).any(|w| w == b"useDpop"))
    })
}

/// One step of the page's timeline (login.mjs's `step` lines): medians over the runs, in
/// milliseconds since the navigation started.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTiming {
    /// What happens in the step (e.g. `discovery`, `token endpoint`).
    pub name: String,
    /// Median start.
    pub start_ms: f64,
    /// Median end.
    pub end_ms: f64,
    /// Median duration.
    pub duration_ms: f64,
    /// Runs in which the step was seen.
    pub runs: u32,
}

/// The app's User Timing measure `hashgate:callback` over the runs: authorization response
/// taken → validated session, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallbackTiming {
    /// Median.
    pub median_ms: f64,
    /// 10th percentile.
    pub p10_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// Runs in which the app recorded the measure.
    pub runs: u32,
}

/// Login round trips of one app, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginRow {
    /// The app measured.
    pub app: String,
    /// The flow its `auth_config.json` asked for.
    pub flow: Flow,
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
    /// The app's own callback processing time (User Timing `hashgate:callback`); `None` for
    /// apps that set no such mark.
    pub callback_ms: Option<CallbackTiming>,
    /// The same without the token endpoint's request (Resource Timing), for the code flow.
    pub callback_rest_ms: Option<CallbackTiming>,
    /// Navigation start → signed-in page by the page's own clock (no WebDriver in it).
    pub page_ms: Option<CallbackTiming>,
    /// The page's timeline, step by step.
    pub steps: Vec<StepTiming>,
    /// How often one run fetched `auth_config.json`, discovery and the JWKS (most in a run).
    pub fetched: Vec<(String, u32)>,
    /// Login round trip or reload.
    pub mode: Mode,
    /// Where Hashgate keeps its tokens (`cacheLocation`); `None` for a peer (its own default).
    pub store: Option<CacheLocation>,
}

/// Parses login.mjs's `result <median> <min> <max> <p10> <p90> <n>` line (and its optional
/// `callback` line) for `app` on `flow`.
pub fn parse_login_result(app: &str, flow: Flow, output: &str) -> Option<LoginRow> {
    let [median_ms, min_ms, max_ms, p10_ms, p90_ms, runs] = numbers(output, "result ")?;
    Some(LoginRow {
        app: app.to_owned(),
        flow,
        median_ms,
        min_ms,
        max_ms,
        p10_ms,
        p90_ms,
        runs: count(runs)?,
        callback_ms: parse_callback_line(output, "callback "),
        callback_rest_ms: parse_callback_line(output, "callback-rest "),
        page_ms: parse_callback_line(output, "page "),
        steps: parse_steps(output),
        fetched: output
            .lines()
            .filter_map(|line| {
                let (path, n) = line.strip_prefix("fetched ")?.split_once(' ')?;
                Some((path.to_owned(), n.trim().parse().ok()?))
            })
            .collect(),
        mode: Mode::Login,
        store: None,
    })
}

/// Parses login.mjs's `step\t<name>\t<start> <end> <duration> <n>` lines; a malformed line is
/// left out.
fn parse_steps(output: &str) -> Vec<StepTiming> {
    output
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("step\t")?.split_once('\t')?;
            let [start_ms, end_ms, duration_ms, runs] = numbers::<4>(&format!("x {rest}"), "x ")?;
            Some(StepTiming {
                name: name.to_owned(),
                start_ms,
                end_ms,
                duration_ms,
                runs: count(runs)?,
            })
        })
        .collect()
}

/// Parses login.mjs's optional `<prefix><median> <p10> <p90> <n>` lines (`callback`,
/// `callback-rest`, `page`).
fn parse_callback_line(output: &str, prefix: &str) -> Option<CallbackTiming> {
    let [median_ms, p10_ms, p90_ms, runs] = numbers(output, prefix)?;
    Some(CallbackTiming {
        median_ms,
        p10_ms,
        p90_ms,
        runs: count(runs)?,
    })
}

/// The `N` numbers of the first line of `output` that starts with `prefix`; `None` unless
/// there are exactly `N`, all finite.
fn numbers<const N: usize>(output: &str, prefix: &str) -> Option<[f64; N]> {
    let line = output.lines().find_map(|line| line.strip_prefix(prefix))?;
    let numbers: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    if numbers.iter().any(|n| !n.is_finite()) {
        return None;
    }
    numbers.try_into().ok()
}

/// A run count: a whole, non-negative number.
fn count(value: f64) -> Option<u32> {
    (value >= 0.0 && value.fract() == 0.0 && value <= f64::from(u32::MAX)).then_some(value as u32)
}

/// One app whose login round trip is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    /// Its name in the report.
    pub name: &'a str,
    /// The built files served.
    pub dist: &'a Path,
    /// The flow its `auth_config.json` asks for.
    pub flow: Flow,
    /// Login round trip or reload.
    pub mode: Mode,
    /// Hashgate's `cacheLocation`; `None` for a peer, which keeps its own default.
    pub store: Option<CacheLocation>,
}

/// The apps measured, in the report's order. Login round trips: Hashgate's release build on
/// each flow (the same files, three `auth_config.json`), its smallest build when there is one,
/// then each peer `(name, dist)` on the implicit grant, the only flow they are built for; all
/// with tokens in memory. Reloads: Hashgate on both flows with `cacheLocation` `memory` (the
/// iframe again) and `local` (the stored session), then each peer with its own default.
pub fn apps<'a>(
    hashgate_dist: &'a Path,
    smallest_dist: Option<&'a Path>,
    peers: &[(&'a str, &'a Path)],
) -> Vec<App<'a>> {
    let hashgate = |flow, mode, store| App {
        name: HASHGATE,
        dist: hashgate_dist,
        flow,
        mode,
        store: Some(store),
    };
    let mut apps = vec![
        hashgate(Flow::Implicit, Mode::Login, CacheLocation::Memory),
        hashgate(Flow::Code, Mode::Login, CacheLocation::Memory),
        hashgate(Flow::CodeDpop, Mode::Login, CacheLocation::Memory),
    ];
    // The smallest build differs in size, not in behaviour: one flow is enough.
    apps.extend(smallest_dist.map(|dist| App {
        name: "Hashgate (smallest build)",
        dist,
        flow: Flow::Implicit,
        mode: Mode::Login,
        store: Some(CacheLocation::Memory),
    }));
    let peer = |mode| {
        peers.iter().map(move |&(name, dist)| App {
            name,
            dist,
            flow: Flow::Implicit,
            mode,
            store: None,
        })
    };
    apps.extend(peer(Mode::Login));
    for store in [CacheLocation::Memory, CacheLocation::Local] {
        for flow in [Flow::Implicit, Flow::Code] {
            apps.push(hashgate(flow, Mode::Reload, store));
        }
    }
    apps.extend(peer(Mode::Reload));
    apps
}

/// Measures `runs` login round trips or reloads of each of `apps` whose [`Mode`] is in
/// `modes`; returns the rows and, for each app that was not measured, why.
pub fn measure(
    apps: &[App<'_>],
    runs: u32,
    modes: &[Mode],
) -> Result<(Vec<LoginRow>, Vec<String>)> {
    let scratch = scratch_dir("login")?;
    let result = measure_in(&scratch, apps, runs, modes);
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn measure_in(
    scratch: &Path,
    apps: &[App<'_>],
    runs: u32,
    modes: &[Mode],
) -> Result<(Vec<LoginRow>, Vec<String>)> {
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
    let chromium = cmd::find_in_path("chromium").ok_or_else(|| {
        TaskError::Missing(format!("chromium is missing: {}", tools::CHROMIUM_APT))
    })?;

    let (mut rows, mut skipped) = (Vec::new(), Vec::new());
    for (index, app) in apps.iter().enumerate() {
        if !modes.contains(&app.mode) {
            continue;
        }
        let store = app.store.map_or("own default", CacheLocation::as_str);
        let name = format!(
            "{} ({}, {}, {store})",
            app.name,
            app.flow.short(),
            app.mode.arg()
        );
        if app.flow == Flow::CodeDpop && !reads_dpop(app.dist) {
            let why = format!(
                "{name}: not measured, this build does not read `useDpop` (it would measure \
                 the plain code flow)"
            );
            println!("  {why}");
            skipped.push(why);
            continue;
        }
        let site = scratch.join(format!("site-{index}"));
        copy_dir(app.dist, &site)?;
        // Over the build's own file: the same provider, client and API for every app.
        write(
            &site.join("auth_config.json"),
            &auth_config(
                &idp.issuer,
                app.flow,
                app.store.unwrap_or(CacheLocation::Memory),
            )?,
        )?;
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
            .arg(scratch.join(format!("profile-{index}")))
            .arg(app.mode.arg());
        println!("$ node bench/login/login.mjs ({name}, {runs} runs)");
        let output = login.output().map_err(|source| TaskError::Spawn {
            command: "node bench/login/login.mjs".to_owned(),
            source,
        })?;
        let text = String::from_utf8_lossy(&output.stdout);
        if let Some(why) = text.lines().find_map(|l| l.strip_prefix("refused ")) {
            let why = format!("{name}: not measured, the app refused its configuration: {why}");
            println!("  {why}");
            skipped.push(why);
            drop(host);
            continue;
        }
        let mut row = parse_login_result(app.name, app.flow, &text).ok_or_else(|| {
            TaskError::Missing(format!(
                "{name}: the login round trip failed:\n{text}{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        })?;
        row.mode = app.mode;
        row.store = app.store;
        println!(
            "  {name}: median {:.0} ms ({:.0}-{:.0})",
            row.median_ms, row.min_ms, row.max_ms
        );
        for step in &row.steps {
            println!(
                "    {:<34} {:>7.1} → {:>7.1} ms ({:.1} ms)",
                step.name, step.start_ms, step.end_ms, step.duration_ms
            );
        }
        for (path, n) in &row.fetched {
            println!("    fetched {path}: {n}× at most in one run");
        }
        if let Some(callback) = row.callback_ms {
            println!(
                "  {name}: callback processing median {:.1} ms",
                callback.median_ms
            );
        }
        rows.push(row);
        drop(host);
    }
    Ok((rows, skipped))
}

/// The `auth_config.json` an app is served with on `flow`: the same provider, client, API and
/// scopes for every app, tokens kept where `store` says (`memory` for every login round trip,
/// so that every timed run signs in through the same silent `prompt=none` request and only the
/// flow differs).
///
/// The file is the app's own [`RawAuthConfig`], validated as the app validates it; what is
/// written is read back and must validate to the same configuration, with the flow asked for.
/// [`Flow::CodeDpop`] is the code flow's file with `"useDpop": true`.
pub fn auth_config(issuer: &str, flow: Flow, store: CacheLocation) -> Result<String> {
    let raw = RawAuthConfig {
        issuer: Some(issuer.to_owned()),
        client_id: Some(CLIENT_ID.to_owned()),
        audience: Some(AUDIENCE.to_owned()),
        scope: Some(SCOPE.to_owned()),
        response_type: Some(flow.response_type().as_str().to_owned()),
        api_origin: Some(API_ORIGIN.to_owned()),
        cache_location: Some(store.as_str().to_owned()),
        use_refresh_tokens: flow.use_refresh_tokens().then_some(true),
        use_dpop: (flow == Flow::CodeDpop).then_some(true),
        ..RawAuthConfig::default()
    };
    let meant = raw.clone().validate()?;
    if meant.response_type != flow.response_type()
        || meant.use_refresh_tokens != flow.use_refresh_tokens()
        || meant.use_dpop != (flow == Flow::CodeDpop)
        || meant.cache_location != store
    {
        return Err(unwritable(format!(
            "the app reads it as another flow than {}",
            flow.short()
        )));
    }
    let text = to_json(&raw)?;
    let read: RawAuthConfig =
        serde_json::from_str(&text).map_err(|error| unwritable(error.to_string()))?;
    if read.validate()? != meant {
        return Err(unwritable(
            "the app does not read it back as written".to_owned(),
        ));
    }
    Ok(text)
}

/// `raw` as JSON with the absent fields left out, as a hand-written file has them.
fn to_json(raw: &RawAuthConfig) -> Result<String> {
    let mut value = serde_json::to_value(raw).map_err(|error| unwritable(error.to_string()))?;
    if let serde_json::Value::Object(fields) = &mut value {
        fields.retain(|_, field| !field.is_null());
    }
    serde_json::to_string_pretty(&value).map_err(|error| unwritable(error.to_string()))
}

fn unwritable(why: String) -> Error {
    TaskError::Missing(format!(
        "the bench's auth_config.json cannot be written: {why}"
    ))
    .into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use hashgate_protocol::AuthConfig;

    use super::*;

    /// `auth_config.json` text as the app reads and validates it.
    fn read_back(text: &str) -> AuthConfig {
        serde_json::from_str::<RawAuthConfig>(text)
            .unwrap()
            .validate()
            .unwrap()
    }

    // docs/contract.md §1: every app gets the same provider, client and API in its
    // auth_config.json.
    #[test]
    fn every_app_is_configured_for_the_same_provider_and_api() {
        let config: serde_json::Value = serde_json::from_str(
            &auth_config(
                "http://localhost:4000/",
                Flow::Implicit,
                CacheLocation::Memory,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(config["issuer"], "http://localhost:4000/");
        assert_eq!(config["clientId"], "hashgate-spa");
        assert_eq!(config["audience"], AUDIENCE);
    }

    // README.md, The authorization code flow with PKCE: one line of auth_config.json switches
    // the same build between the flows; the two files the bench serves differ in that line
    // only, and the app reads each as the flow it is measured for.
    #[test]
    fn the_two_files_differ_only_in_the_flow_and_the_app_reads_each_as_meant() {
        let issuer = "http://localhost:4000/";
        let implicit_text = auth_config(issuer, Flow::Implicit, CacheLocation::Memory).unwrap();
        let code_text = auth_config(issuer, Flow::Code, CacheLocation::Memory).unwrap();

        let implicit = read_back(&implicit_text);
        assert_eq!(implicit.response_type, ResponseType::IdTokenToken);
        assert!(!implicit.use_refresh_tokens);
        let code = read_back(&code_text);
        assert_eq!(code.response_type, ResponseType::Code);
        assert!(code.use_refresh_tokens);
        // Both keep tokens in memory: every timed run signs in through the silent request.
        assert_eq!(implicit.cache_location, CacheLocation::Memory);
        assert_eq!(code.cache_location, CacheLocation::Memory);
        // OIDC Core §11: the code flow asks for a refresh token with offline_access.
        assert_eq!(implicit.scope, "openid profile email read:messages");
        assert_eq!(
            code.scope,
            "openid profile email read:messages offline_access"
        );
        let same = |c: &AuthConfig| {
            (
                c.issuer.clone(),
                c.client_id.clone(),
                c.audience.clone(),
                c.redirect_path.clone(),
                c.api_origin.clone(),
            )
        };
        assert_eq!(same(&implicit), same(&code));

        // The files name their flow with exactly the fields the report quotes.
        let implicit_json: serde_json::Value = serde_json::from_str(&implicit_text).unwrap();
        let code_json: serde_json::Value = serde_json::from_str(&code_text).unwrap();
        assert_eq!(implicit_json["responseType"], "id_token token");
        assert!(Flow::Implicit.setting().contains("\"id_token token\""));
        assert_eq!(code_json["responseType"], "code");
        assert_eq!(code_json["useRefreshTokens"], true);
        assert!(Flow::Code.setting().contains("\"useRefreshTokens\": true"));
        // Absent fields are left out, not written as null.
        assert!(
            implicit_json.get("useRefreshTokens").is_none(),
            "{implicit_text}"
        );
        assert!(!implicit_text.contains("null"), "{implicit_text}");
        assert!(!code_text.contains("null"), "{code_text}");
    }

    // docs/contract.md §1: a file the app would refuse is never served; the bench stops with
    // the app's own error, naming the field.
    #[test]
    fn an_issuer_the_app_would_refuse_stops_the_bench_with_the_field_named() {
        for flow in [Flow::Implicit, Flow::Code] {
            let error =
                auth_config("ftp://localhost:4000/", flow, CacheLocation::Memory).unwrap_err();
            assert!(
                matches!(error, Error::AppConfig(_)) && error.to_string().contains("\"issuer\""),
                "{error}"
            );
        }
    }

    // README.md, Benchmarks: the same release build is measured on every flow, beside its
    // smallest build and the peers, which do the implicit grant only; the login round trips
    // keep tokens in memory, the reloads compare memory with the stored session.
    #[test]
    fn hashgate_is_measured_on_every_flow_from_the_same_files_and_the_peers_on_implicit() {
        let (dist, smallest, peer) = (
            Path::new("/d/dist"),
            Path::new("/d/dist-smallest"),
            Path::new("/d/peer"),
        );
        let measured = apps(dist, Some(smallest), &[("React + auth0-js", peer)]);
        let seen: Vec<(&str, &Path, Flow, Mode, Option<CacheLocation>)> = measured
            .iter()
            .map(|a| (a.name, a.dist, a.flow, a.mode, a.store))
            .collect();
        let memory = Some(CacheLocation::Memory);
        let local = Some(CacheLocation::Local);
        assert_eq!(
            seen,
            [
                (HASHGATE, dist, Flow::Implicit, Mode::Login, memory),
                (HASHGATE, dist, Flow::Code, Mode::Login, memory),
                (HASHGATE, dist, Flow::CodeDpop, Mode::Login, memory),
                (
                    "Hashgate (smallest build)",
                    smallest,
                    Flow::Implicit,
                    Mode::Login,
                    memory
                ),
                ("React + auth0-js", peer, Flow::Implicit, Mode::Login, None),
                (HASHGATE, dist, Flow::Implicit, Mode::Reload, memory),
                (HASHGATE, dist, Flow::Code, Mode::Reload, memory),
                (HASHGATE, dist, Flow::Implicit, Mode::Reload, local),
                (HASHGATE, dist, Flow::Code, Mode::Reload, local),
                ("React + auth0-js", peer, Flow::Implicit, Mode::Reload, None),
            ]
        );
        assert_eq!(
            apps(dist, None, &[]).len(),
            7,
            "no smallest build, no peers"
        );
    }

    // RFC 9449: the DPoP row's file is the code flow's plus `"useDpop": true`, and a build
    // that does not read that member is not measured on it (it would measure the plain code
    // flow under the DPoP label).
    #[test]
    fn the_dpop_file_adds_use_dpop_and_only_a_build_that_reads_it_is_measured() {
        let issuer = "http://localhost:4000/";
        let dpop: serde_json::Value = serde_json::from_str(
            &auth_config(issuer, Flow::CodeDpop, CacheLocation::Memory).unwrap(),
        )
        .unwrap();
        let mut code: serde_json::Value =
            serde_json::from_str(&auth_config(issuer, Flow::Code, CacheLocation::Memory).unwrap())
                .unwrap();
        code["useDpop"] = serde_json::Value::Bool(true);
        assert_eq!(dpop, code);

        let dir = tempfile::tempdir().unwrap();
        assert!(!reads_dpop(dir.path()), "an empty directory");
        fs::write(dir.path().join("app_bg.wasm"), b"\0asm...responseType...").unwrap();
        assert!(!reads_dpop(dir.path()), "a module without the member");
        fs::write(dir.path().join("app.js"), b"useDpop").unwrap();
        assert!(
            !reads_dpop(dir.path()),
            "the member in another file than the module"
        );
        fs::write(dir.path().join("app_bg.wasm"), b"\0asm...useDpop...").unwrap();
        assert!(reads_dpop(dir.path()));
    }

    // README.md, Benchmarks: a reload is served with the stored session's cacheLocation.
    #[test]
    fn the_reload_with_a_stored_session_is_served_with_cache_location_local() {
        let text = auth_config("http://localhost:4000/", Flow::Code, CacheLocation::Local).unwrap();
        assert_eq!(read_back(&text).cache_location, CacheLocation::Local);
    }

    // README.md, Benchmarks: login.mjs's summary lines are read exactly; a line that is cut
    // short, has a word for a number or a fractional run count is no result.
    #[test]
    fn login_and_callback_lines_are_parsed_and_malformed_ones_refused() {
        let row = parse_login_result(
            HASHGATE,
            Flow::Code,
            "run 400.1\nresult 412.5 380 520.25 390 500 20\ncallback 30.5 25.0 41.5 19\n",
        )
        .unwrap();
        assert_eq!(row.flow, Flow::Code);
        assert_eq!(row.app, HASHGATE);
        assert_eq!(row.runs, 20);
        assert!((row.max_ms - 520.25).abs() < 1e-9);
        assert_eq!(
            row.callback_ms,
            Some(CallbackTiming {
                median_ms: 30.5,
                p10_ms: 25.0,
                p90_ms: 41.5,
                runs: 19,
            })
        );

        assert!(row.steps.is_empty() && row.page_ms.is_none());

        // The step table's lines (spaces in names written as `_`), the page's own clock, the
        // callback without the token endpoint, and the request counts; a malformed step line
        // is left out.
        let row = parse_login_result(
            HASHGATE,
            Flow::Code,
            "step\ttoken endpoint\t80.5 90.0 9.5 20\nstep\tJWKS\t40 x 2 20\n\
             step\twasm fetched\t10 30 20 19.5\nfetched /auth_config.json 1\n\
             callback 30.5 25.0 41.5 19\ncallback-rest 12.0 10.0 14.0 19\n\
             page 120.0 110.0 130.0 20\nresult 412.5 380 520.25 390 500 20\n",
        )
        .unwrap();
        assert_eq!(
            row.steps,
            [StepTiming {
                name: "token endpoint".to_owned(),
                start_ms: 80.5,
                end_ms: 90.0,
                duration_ms: 9.5,
                runs: 20,
            }]
        );
        assert_eq!(row.callback_rest_ms.unwrap().median_ms, 12.0);
        assert_eq!(row.callback_ms.unwrap().median_ms, 30.5);
        assert_eq!(row.page_ms.unwrap().median_ms, 120.0);
        assert_eq!(row.fetched, [("/auth_config.json".to_owned(), 1)]);

        let cut = "result 412.5 380 520 390 500 20\ncallback 30.5 25.0 41.5\n";
        assert_eq!(
            parse_login_result(HASHGATE, Flow::Code, cut)
                .unwrap()
                .callback_ms,
            None
        );
        for bad in [
            "result 412.5 380 520 390 500 20.5",
            "result 412.5 380 520 390 500 -1",
            "result 412.5 380 520 390 NaN 20",
            "result 412.5 380 520 390 500 twenty",
            "result 412.5 380 520 390 500 20 7",
        ] {
            assert_eq!(
                parse_login_result(HASHGATE, Flow::Implicit, bad),
                None,
                "{bad}"
            );
        }
    }
}
