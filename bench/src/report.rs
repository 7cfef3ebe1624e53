//! The bench's results: `bench/results/latest.md` (tables, goals, machine) and `latest.svg`
//! (bars), rendered from one [`BenchReport`].

use std::fmt::Write as _;

use hashgate_protocol::CacheLocation;
use xtask::size::{human, Sizes};

use super::{
    api::{ApiRow, LoadRow, DPOP_REQUESTS},
    flood::FloodReport,
    login::{Flow, LoginRow, Mode, HASHGATE},
    wrk,
};

/// Goal (README.md, Benchmarks): Hashgate's brotli total at most this share of the peer's.
pub const SIZE_GOAL: f64 = 0.8;
/// Goal (README.md, Benchmarks): `/api/private` throughput at least this share of `/api/public`.
pub const VALIDATION_GOAL: f64 = 0.95;
/// Goal (README.md, Benchmarks): hashgate-api at least this many times Express's throughput.
pub const EXPRESS_GOAL: f64 = 5.0;

/// Everything one bench run measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Hashgate's release build: one bundle with both flows compiled in.
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
    /// The load generator's rows: hashgate-api `/api/private`, Bearer beside DPoP.
    pub api_load: Vec<LoadRow>,
    /// Seconds per wrk run.
    pub duration_secs: u64,
    /// Login round trips: Hashgate on each flow (and its smallest build), then the peers;
    /// empty when skipped.
    pub login: Vec<LoginRow>,
    /// Login rows not measured, each with why (e.g. a build that does not read `useDpop`).
    pub login_skipped: Vec<String>,
    /// Why the login part has no rows, when it has none.
    pub login_note: Option<String>,
    /// `GET /authorize` under a flood, with normal logins timed around it.
    pub flood: FloodReport,
    /// Lines describing the machine and the tool versions.
    pub machine: Vec<String>,
}

/// Hashgate's login medians on both flows, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowCost {
    /// Login round trip, implicit grant.
    pub implicit_ms: f64,
    /// Login round trip, code flow with PKCE.
    pub code_ms: f64,
    /// Callback processing `(implicit, code)`, when both runs recorded it.
    pub callback_ms: Option<(f64, f64)>,
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
            "Hashgate (Leptos, wasm; one bundle, both flows)",
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
        let _ = writeln!(
            md,
            "\nHashgate's row is its one release build, with both flows compiled in: the implicit \
             grant and the authorization code flow with PKCE and refresh tokens. \
             `auth_config.json` picks one at start-up, so the code flow has no build, and no \
             size, of its own."
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
             sign-in on both flows, validation, renewal, the API client, the pages and the \
             CSS.\n",
            human(self.hashgate_wasm_brotli),
            human(goal),
            human(self.shell_size.brotli),
            human(goal.saturating_sub(self.shell_size.brotli)),
        );
        md.push_str(&api_markdown(&self.api, &self.api_load, self.duration_secs));
        md.push_str(&login_section(
            &self.login,
            &self.login_skipped,
            self.login_note.as_deref(),
        ));
        self.flood_markdown(&mut md);
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
        login_goals(&mut md, &self.login);
        let _ = writeln!(md, "\n## Machine\n");
        for line in &self.machine {
            let _ = writeln!(md, "- {line}");
        }
        md
    }

    /// Hashgate's medians on the code flow and on the implicit grant, when both were measured.
    pub fn code_flow_cost(&self) -> Option<FlowCost> {
        let hashgate = |flow: Flow| {
            self.login
                .iter()
                .find(|row| row.app == HASHGATE && row.flow == flow && row.mode == Mode::Login)
        };
        let (implicit, code) = (hashgate(Flow::Implicit)?, hashgate(Flow::Code)?);
        Some(FlowCost {
            implicit_ms: implicit.median_ms,
            code_ms: code.median_ms,
            callback_ms: implicit
                .callback_ms
                .zip(code.callback_ms)
                .map(|(i, c)| (i.median_ms, c.median_ms)),
        })
    }

    /// The `/authorize` flood section: what the provider answered, and normal logins
    /// before, during and after.
    fn flood_markdown(&self, md: &mut String) {
        let flood = &self.flood;
        let _ = writeln!(
            md,
            "\n## `GET /authorize` under a flood (wrk {} -d{}s from 127.0.0.1, no cookies)\n",
            wrk::LOAD,
            flood.duration_secs
        );
        let _ = writeln!(
            md,
            "Every request starts a login that the provider keeps pending until it expires. \
             What it answered, counted by status (`bench/wrk/statuses.lua`):\n"
        );
        let _ = writeln!(
            md,
            "| flood | req/s | p50 | p99 | requests | 2xx/3xx | 429 | other statuses | socket errors |\n\
             |---|---:|---:|---:|---:|---:|---:|---|---:|"
        );
        let others: Vec<String> = flood
            .statuses
            .others()
            .iter()
            .map(|(status, count)| format!("{status} ×{count}"))
            .collect();
        let _ = writeln!(
            md,
            "| `GET /authorize` | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {} | {} | {} |",
            flood.wrk.requests_per_sec,
            flood.wrk.p50_ms,
            flood.wrk.p99_ms,
            flood.wrk.requests,
            flood.statuses.success(),
            flood.statuses.too_many_requests(),
            none_or(others.join(", ")),
            flood.wrk.socket_errors,
        );
        let _ = writeln!(
            md,
            "\nA normal password login (alice, fresh cookies, from another client, 127.0.0.2: \
             `GET /authorize`, the login page, the form posted, the redirect back with the \
             tokens), timed before, during and right after the flood:\n"
        );
        let _ = writeln!(
            md,
            "| normal login | completed | median | p90 | p99 | not completed |\n\
             |---|---:|---:|---:|---:|---|"
        );
        for (phase, stats) in [
            ("before the flood", &flood.before),
            ("during the flood", &flood.during),
            ("after the flood", &flood.after),
        ] {
            let ms = |p: f64| {
                stats
                    .percentile(p)
                    .map_or_else(|| "–".to_owned(), |ms| format!("{ms:.0} ms"))
            };
            let refused: Vec<String> = stats
                .refused
                .iter()
                .map(|(what, count)| format!("{} ×{count}", escape_cell(what)))
                .collect();
            let _ = writeln!(
                md,
                "| {phase} | {} of {} | {} | {} | {} | {} |",
                stats.completed_ms.len(),
                stats.attempts(),
                ms(50.0),
                ms(90.0),
                ms(99.0),
                none_or(refused.join(", ")),
            );
        }
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

        // The chart shows the login round trips; the reloads are in the tables.
        let logins = self.login.iter().filter(|row| row.mode == Mode::Login);
        let max_login = logins.clone().map(|r| r.median_ms).fold(1.0, f64::max);
        let login_bars: Vec<_> = logins
            .map(|row| {
                let colour = match (row.app.starts_with(HASHGATE), row.flow) {
                    (true, Flow::Implicit) => "#b7410e",
                    (true, _) => "#7a2b09",
                    (false, _) => "#61dafb",
                };
                // The peers do the implicit grant only; Hashgate's rows say which flow.
                let name = match row.flow {
                    Flow::Implicit => row.app.clone(),
                    flow => format!("{}, {}", row.app, flow.short()),
                };
                (
                    name,
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
                "Login round trip, headless Chromium, median (smaller is better)",
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

/// Goal (README.md, Benchmarks): Hashgate's login round trip and reload-to-signed-in at most
/// this share of the fastest peer's median in the same run, on every flow.
pub const LOGIN_GOAL: f64 = 0.9;
/// Goal (README.md, Benchmarks): callback processing of the implicit grant, median, in ms.
pub const CALLBACK_GOAL_IMPLICIT_MS: f64 = 5.0;
/// Goal (README.md, Benchmarks): callback processing of the code flow without the token
/// endpoint's own request, median, in ms.
pub const CALLBACK_GOAL_CODE_MS: f64 = 10.0;

/// The API throughput section: wrk's table, then the load generator's Bearer and DPoP rows.
pub fn api_markdown(rows: &[ApiRow], load: &[LoadRow], duration_secs: u64) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## API throughput (wrk -t2 -c50 -d{duration_secs}s --latency, loopback, one RS256 token)\n",
    );
    let _ = writeln!(
        md,
        "| server | route | req/s | p50 | p99 | requests | errors | peak RSS |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for row in rows {
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
    if !load.is_empty() {
        let _ = writeln!(
            md,
            "\nhashgate-api `/api/private`, Bearer beside DPoP, both sent by the bench's own load \
             generator (`bench/src/load.rs`; 50 keep-alive connections, 2 threads, up to \
             {duration_secs} s): a DPoP proof is single-use, so each DPoP request carries its own \
             (ES256, `htu` the exact URL, fresh `jti`, `ath`), {DPOP_REQUESTS} of them signed \
             before the clock starts. The API remembers every `jti` for its proof window in a \
             store of at most 200 000; this run stays below it.\n"
        );
        let _ = writeln!(
            md,
            "| scheme | req/s | p50 | p99 | requests | non-2xx | socket errors |\n\
             |---|---:|---:|---:|---:|---:|---:|"
        );
        for row in load {
            let r = &row.result;
            let _ = writeln!(
                md,
                "| {} | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {} |",
                row.scheme,
                r.requests_per_sec,
                r.p50_ms,
                r.p99_ms,
                r.requests,
                r.non_2xx,
                r.socket_errors
            );
        }
    }
    md
}

fn store_label(row: &LoginRow) -> &'static str {
    match row.store {
        Some(store) => store.as_str(),
        None => "its own default",
    }
}

/// The login round trip and reload sections: every app's times, the step tables, Hashgate's
/// callback processing, and what the code flow costs beside the implicit grant.
pub fn login_section(rows: &[LoginRow], skipped: &[String], note: Option<&str>) -> String {
    let mut md = String::new();
    let md = &mut md;
    let _ = writeln!(
        md,
        "\n## Login round trip (headless Chromium, provider session present)\n"
    );
    let _ = writeln!(
        md,
        "From opening `/profile` signed out in the app to `data-auth-state=\"authenticated\"`; \
         every app served from the same origin against the same `hashgate-idp` (release). \
         Hashgate's release build is measured on every flow, the same files served with \
         `auth_config.json` saying `{}`, `{}` or `{}`, all with `\"cacheLocation\": \"memory\"`, \
         so every run signs in through the hidden iframe (`prompt=none`) and the code flow then \
         redeems its code at the token endpoint. The peers do the implicit grant only; a user \
         session a peer keeps in sessionStorage by itself (oidc-client's `oidc.user:*`) is \
         removed before each run, so it signs in through its iframe too. `page` is the page's \
         own clock (navigation start → the signed-in page, no WebDriver in it).\n",
        Flow::Implicit.setting(),
        Flow::Code.setting(),
        Flow::CodeDpop.setting(),
    );
    if let Some(note) = note {
        let _ = writeln!(md, "Not measured: {note}\n");
    }
    for why in skipped {
        let _ = writeln!(md, "- {}", escape_cell(why));
    }
    if !skipped.is_empty() {
        let _ = writeln!(md);
    }
    let logins: Vec<&LoginRow> = rows.iter().filter(|r| r.mode == Mode::Login).collect();
    let reloads: Vec<&LoginRow> = rows.iter().filter(|r| r.mode == Mode::Reload).collect();
    if !logins.is_empty() {
        times_table(md, &logins, false);
        steps_table(md, &logins);
        let timed: Vec<_> = logins
            .iter()
            .filter_map(|row| Some((row, row.callback_ms?)))
            .collect();
        if !timed.is_empty() {
            let _ = writeln!(
                md,
                "\nCallback processing, the app's own User Timing measure `hashgate:callback`: \
                 authorization response taken → session validated (WebCrypto signature and \
                 at_hash included; for the code flow, the token endpoint round trip too, and \
                 beside it the same without the token endpoint's request, by Resource \
                 Timing); here the silent sign-in's response.\n"
            );
            let _ = writeln!(
                md,
                "| app | flow | median | p10 | p90 | without the token endpoint (median) | runs |\n\
                 |---|---|---:|---:|---:|---:|---:|"
            );
            for (row, callback) in timed {
                let rest = row
                    .callback_rest_ms
                    .filter(|_| row.flow != Flow::Implicit)
                    .map_or_else(|| "—".to_owned(), |r| format!("{:.1} ms", r.median_ms));
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {rest} | {} |",
                    row.app,
                    row.flow.label(),
                    callback.median_ms,
                    callback.p10_ms,
                    callback.p90_ms,
                    callback.runs
                );
            }
        }
        if let Some((implicit, code)) = hashgate_pair(rows) {
            let callback =
                implicit
                    .callback_ms
                    .zip(code.callback_ms)
                    .map_or_else(String::new, |(i, c)| {
                        format!(
                            ", callback processing {:+.1} ms ({:.1} against {:.1})",
                            c.median_ms - i.median_ms,
                            c.median_ms,
                            i.median_ms
                        )
                    });
            let _ = writeln!(
                md,
                "\nThe code flow beside the implicit grant, same build, medians: login round trip \
                 {:+.0} ms ({:.0} against {:.0} ms){callback}.",
                code.median_ms - implicit.median_ms,
                code.median_ms,
                implicit.median_ms,
            );
        }
    }
    if !reloads.is_empty() {
        let _ = writeln!(
            md,
            "\n## Reload to signed-in (headless Chromium)\n\n\
             Signed in, the page is reloaded (WebDriver `refresh`) until \
             `data-auth-state=\"authenticated\"`. Hashgate with `cacheLocation` `memory` signs \
             in again through the hidden iframe; with `local` it restores the stored session \
             (validated again; the code flow renews with its refresh token only when the \
             access token has expired). The peers do what they do by default: auth0-js \
             `checkSession` (the iframe), oidc-client its user from sessionStorage.\n"
        );
        times_table(md, &reloads, true);
        steps_table(md, &reloads);
    }
    std::mem::take(md)
}

/// Hashgate's implicit and code login round trips, when both were measured.
fn hashgate_pair(rows: &[LoginRow]) -> Option<(&LoginRow, &LoginRow)> {
    let find = |flow| {
        rows.iter()
            .find(|r| r.app == HASHGATE && r.flow == flow && r.mode == Mode::Login)
    };
    Some((find(Flow::Implicit)?, find(Flow::Code)?))
}

fn times_table(md: &mut String, rows: &[&LoginRow], with_store: bool) {
    let _ = writeln!(
        md,
        "| app | flow |{} median | p10 | p90 | min | max | page (median) | runs |\n\
         |---|---|{}---:|---:|---:|---:|---:|---:|---:|",
        if with_store { " tokens |" } else { "" },
        if with_store { "---|" } else { "" },
    );
    for row in rows {
        let store = if with_store {
            format!(" {} |", store_label(row))
        } else {
            String::new()
        };
        let page = row
            .page_ms
            .map_or_else(|| "—".to_owned(), |p| format!("{:.0} ms", p.median_ms));
        let _ = writeln!(
            md,
            "| {} | {} |{store} {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {page} | {} |",
            row.app,
            row.flow.label(),
            row.median_ms,
            row.p10_ms,
            row.p90_ms,
            row.min_ms,
            row.max_ms,
            row.runs
        );
    }
}

/// One column per app and flow, one row per step: median end (ms since navigation start) and,
/// in brackets, the step's median duration.
fn steps_table(md: &mut String, rows: &[&LoginRow]) {
    let mut names: Vec<&str> = Vec::new();
    for row in rows {
        for step in &row.steps {
            if !names.contains(&step.name.as_str()) {
                names.push(&step.name);
            }
        }
    }
    if names.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\nWhere the time goes: each step's median end, in ms since the navigation started, and \
         (in brackets) its median duration; from Navigation and Resource Timing, Hashgate's \
         User Timing marks (`hashgate_auth::timing`) and the page's own `bench:authenticated` \
         mark. A blank cell: the app does not take that step (or the browser does not report \
         it).\n"
    );
    let _ = write!(md, "| step |");
    for row in rows {
        let store = row
            .store
            .filter(|_| row.mode == Mode::Reload)
            .map_or(String::new(), |s| format!(", {}", s.as_str()));
        let _ = write!(md, " {} ({}{store}) |", row.app, row.flow.short());
    }
    let _ = writeln!(md, "\n|---|{}", "---:|".repeat(rows.len()));
    for name in names {
        let _ = write!(md, "| {name} |");
        for row in rows {
            match row.steps.iter().find(|s| s.name == name) {
                Some(s) => {
                    let _ = write!(md, " {:.1} ({:.1}) |", s.end_ms, s.duration_ms);
                }
                None => {
                    let _ = write!(md, " |");
                }
            }
        }
        let _ = writeln!(md);
    }
    let fetched: Vec<String> = rows
        .iter()
        .filter(|r| r.app == HASHGATE)
        .flat_map(|r| r.fetched.iter().map(move |f| (r, f)))
        .filter(|(_, (_, n))| *n > 1)
        .map(|(r, (path, n))| {
            let store = r.store.map_or("", CacheLocation::as_str);
            format!("`{path}` {n}× ({}, {store})", r.flow.short())
        })
        .collect();
    let _ = writeln!(
        md,
        "\nRequests per run: {}.",
        if fetched.is_empty() {
            "Hashgate fetched `auth_config.json`, discovery and the JWKS at most once each"
                .to_owned()
        } else {
            format!("Hashgate fetched more than once: {}", fetched.join(", "))
        }
    );
}

/// The goals on the login round trip, the reload and the callback processing; a missed one
/// names the step that holds it (Hashgate's longest step against the fastest peer's).
fn login_goals(md: &mut String, rows: &[LoginRow]) {
    let mark = |met: bool| if met { "yes" } else { "**no**" };
    for mode in [Mode::Login, Mode::Reload] {
        let what = match mode {
            Mode::Login => "login round trip",
            Mode::Reload => "reload to signed-in",
        };
        let peer = rows
            .iter()
            .filter(|r| r.mode == mode && !r.app.starts_with(HASHGATE))
            .min_by(|a, b| a.median_ms.total_cmp(&b.median_ms));
        let Some(peer) = peer else {
            continue;
        };
        for row in rows
            .iter()
            .filter(|r| r.mode == mode && r.app == HASHGATE && r.flow != Flow::CodeDpop)
        {
            let ratio = row.median_ms / peer.median_ms.max(f64::MIN_POSITIVE);
            let store = if mode == Mode::Reload {
                format!(", {}", store_label(row))
            } else {
                String::new()
            };
            let held = if ratio <= LOGIN_GOAL {
                String::new()
            } else {
                row.steps
                    .iter()
                    .filter(|s| !s.name.starts_with("navigation"))
                    .max_by(|a, b| a.duration_ms.total_cmp(&b.duration_ms))
                    .map_or_else(String::new, |s| {
                        format!(" (longest step: {} {:.1} ms)", s.name, s.duration_ms)
                    })
            };
            let _ = writeln!(
                md,
                "| {what}, {}{store} ≤ {LOGIN_GOAL}× fastest peer ({}, {:.0} ms) | {ratio:.2}× ({:.0} ms){held} | {} |",
                row.flow.short(),
                peer.app,
                peer.median_ms,
                row.median_ms,
                mark(ratio <= LOGIN_GOAL)
            );
        }
    }
    for row in rows
        .iter()
        .filter(|r| r.mode == Mode::Login && r.app == HASHGATE && r.flow != Flow::CodeDpop)
    {
        let (goal, value, what) = match row.flow {
            Flow::Implicit => (
                CALLBACK_GOAL_IMPLICIT_MS,
                row.callback_ms.map(|c| c.median_ms),
                "callback processing, implicit",
            ),
            _ => (
                CALLBACK_GOAL_CODE_MS,
                row.callback_rest_ms.map(|c| c.median_ms),
                "callback processing, code, without the token endpoint",
            ),
        };
        let _ = match value {
            Some(v) => writeln!(
                md,
                "| {what} ≤ {goal} ms | {v:.1} ms | {} |",
                mark(v <= goal)
            ),
            None => writeln!(md, "| {what} ≤ {goal} ms | not measured | **no** |"),
        };
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn none_or(text: String) -> String {
    if text.is_empty() {
        "none".to_owned()
    } else {
        text
    }
}

/// `text` safe inside a Markdown table cell.
fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        flood::LoginStats,
        form_login::{LoginEnd, Step},
        login::{parse_login_result, Flow, Mode},
        wrk::{StatusCounts, WrkResult},
    };

    fn flood() -> FloodReport {
        let mut before = LoginStats::default();
        let mut during = LoginStats::default();
        for ms in [60, 62, 64, 80] {
            before.record(&LoginEnd::Tokens, Duration::from_millis(ms));
            during.record(&LoginEnd::Tokens, Duration::from_millis(ms * 2));
        }
        during.record(
            &LoginEnd::Refused {
                step: Step::Authorize,
                status: 429,
            },
            Duration::from_millis(3),
        );
        during.record(&LoginEnd::Broken("a | b".to_owned()), Duration::ZERO);
        FloodReport {
            duration_secs: 10,
            wrk: WrkResult {
                requests_per_sec: 5123.4,
                p50_ms: 1.2,
                p99_ms: 9.0,
                requests: 51_234,
                errors: 50_237,
                socket_errors: 3,
            },
            statuses: StatusCounts([(302, 1000), (429, 50_231), (500, 3)].into_iter().collect()),
            before,
            during,
            after: LoginStats::default(),
        }
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
                socket_errors: 0,
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
            api_load: Vec::new(),
            duration_secs: 10,
            login: vec![parse_login_result(
                "Hashgate",
                Flow::Implicit,
                "run 1\nresult 490.6 410 712 420 600 20\ncallback 12.5 10.0 20.0 20\n",
            )
            .unwrap()],
            login_skipped: Vec::new(),
            login_note: None,
            flood: flood(),
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
            md.contains("| hashgate-api private ≥ 0.95× public | 0.90× | **no** |"),
            "{md}"
        );
        assert!(
            md.contains("| hashgate-api private ≥ 5× Express private | 9.00× | yes |"),
            "{md}"
        );

        let md = report(70_000, 1000.0, 500.0, 200.0).markdown();
        assert!(md.contains("| 0.70× | yes |"), "{md}");
        assert!(
            md.contains("| hashgate-api private ≥ 0.95× public | 0.50× | **no** |"),
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
        let row = parse_login_result(
            "peer",
            Flow::Implicit,
            "run 500.0\nresult 507.5 493.5 712.1 494 700 20",
        )
        .unwrap();
        assert_eq!(row.runs, 20);
        assert!((row.median_ms - 507.5).abs() < 1e-9 && (row.max_ms - 712.1).abs() < 1e-9);
        assert_eq!(
            parse_login_result("peer", Flow::Implicit, "result 1 2 3"),
            None
        );
        assert_eq!(parse_login_result("peer", Flow::Implicit, "run 3\n"), None);

        assert_eq!(row.callback_ms, None, "the peer sets no performance marks");

        let md = report(190_000, 1000.0, 900.0, 100.0).markdown();
        assert!(
            md.contains("| Hashgate | implicit (`id_token token`) | 491 ms | 420 ms | 600 ms | 410 ms | 712 ms | — | 20 |"),
            "{md}"
        );
        // The callback processing time from the app's User Timing measure `hashgate:callback`.
        assert!(
            md.contains("`hashgate:callback`")
                && md.contains(
                    "| Hashgate | implicit (`id_token token`) | 12.5 ms | 10.0 ms | 20.0 ms | — | 20 |"
                ),
            "{md}"
        );
    }

    // The /authorize flood figures: throughput, what the provider answered (2xx/3xx, 429 and
    // anything else apart), and the normal login's median/p90/p99 with its count, per phase.
    #[test]
    fn the_flood_section_shows_every_answer_and_the_normal_logins_around_it() {
        let md = report(190_000, 1000.0, 900.0, 100.0).markdown();
        assert!(
            md.contains("| `GET /authorize` | 5123 | 1.20 ms | 9.00 ms | 51234 | 1000 | 50231 | 500 ×3 | 3 |"),
            "{md}"
        );
        assert!(
            md.contains("| before the flood | 4 of 4 | 62 ms | 80 ms | 80 ms | none |"),
            "{md}"
        );
        assert!(
            md.contains("| during the flood | 4 of 6 | 124 ms | 160 ms | 160 ms | 429 at /authorize ×1, a \\| b ×1 |"),
            "{md}"
        );
        assert!(
            md.contains("| after the flood | 0 of 0 | – | – | – | none |"),
            "{md}"
        );
        // The flood's refusals are the provider's answer, not errors of the API runs.
        assert!(
            md.contains("| zero errors (non-2xx and socket) | 0 | yes |"),
            "{md}"
        );
        // Before the goals, after the login round trip.
        let flood_at = md.find("## `GET /authorize` under a flood").unwrap();
        assert!(md.find("## Login round trip").unwrap() < flood_at);
        assert!(flood_at < md.find("## Goals").unwrap());
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

    // README.md, Benchmarks: where the time goes, step by step per app, the reload beside the
    // login round trip, and the goals against the fastest peer, a missed one naming the step
    // that holds it; the code flow's callback goal is read without the token endpoint.
    #[test]
    fn steps_reloads_and_login_goals_are_tabled_with_the_step_that_holds_a_missed_goal() {
        let mut report = report(190_000, 1000.0, 950.0, 100.0);
        let row = |app: &str, flow, mode, text: &str| {
            let mut row = parse_login_result(app, flow, text).unwrap();
            row.mode = mode;
            row.store = app
                .starts_with("Hashgate")
                .then_some(hashgate_protocol::CacheLocation::Memory);
            row
        };
        report.login = vec![
            row(
                "Hashgate",
                Flow::Implicit,
                Mode::Login,
                "step\thtml\t0 9 9 20\nstep\tauthorize (iframe sent → answer)\t130 190 60 20\n\
                 callback 4.5 3 6 20\nresult 170 150 200 160 190 20\n",
            ),
            row(
                "Hashgate",
                Flow::Code,
                Mode::Login,
                "step\ttoken endpoint\t180 195 15 20\ncallback 25 20 30 20\n\
                 callback-rest 11 9 13 20\nresult 200 150 220 160 210 20\n",
            ),
            row(
                "React + auth0-js",
                Flow::Implicit,
                Mode::Login,
                "step\thtml\t0 11 11 20\nresult 200 180 230 190 220 20\n",
            ),
            row(
                "Hashgate",
                Flow::Implicit,
                Mode::Reload,
                "result 90 80 100 85 95 20\n",
            ),
            row(
                "React + auth0-js",
                Flow::Implicit,
                Mode::Reload,
                "result 100 90 110 95 105 20\n",
            ),
        ];
        let md = report.markdown();
        // One column per app and flow; a step an app does not take is blank.
        assert!(
            md.contains("| step | Hashgate (implicit) | Hashgate (code + PKCE) | React + auth0-js (implicit) |"),
            "{md}"
        );
        assert!(md.contains("| html | 9.0 (9.0) | | 11.0 (11.0) |"), "{md}");
        assert!(md.contains("| token endpoint | | 195.0 (15.0) | |"), "{md}");
        assert!(md.contains("## Reload to signed-in"), "{md}");
        assert!(
            md.contains("| Hashgate | implicit (`id_token token`) | memory | 90 ms |"),
            "{md}"
        );
        // 170 / 200 = 0.85: met; 200 / 200 = 1.00: missed, held by its longest step.
        assert!(
            md.contains("| login round trip, implicit ≤ 0.9× fastest peer (React + auth0-js, 200 ms) | 0.85× (170 ms) | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| login round trip, code + PKCE ≤ 0.9× fastest peer (React + auth0-js, 200 ms) | 1.00× (200 ms) (longest step: token endpoint 15.0 ms) | **no** |"),
            "{md}"
        );
        assert!(
            md.contains("| reload to signed-in, implicit, memory ≤ 0.9× fastest peer (React + auth0-js, 100 ms) | 0.90× (90 ms) | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| callback processing, implicit ≤ 5 ms | 4.5 ms | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| callback processing, code, without the token endpoint ≤ 10 ms | 11.0 ms | **no** |"),
            "{md}"
        );
        assert!(
            md.contains("| hashgate-api private ≥ 0.95× public | 0.95× | yes |"),
            "{md}"
        );
    }

    fn with_code_flow(mut report: BenchReport) -> BenchReport {
        report.login.insert(
            1,
            parse_login_result(
                "Hashgate",
                Flow::Code,
                "run 1\nresult 530.4 450 790 460 640 20\ncallback 31.25 26.0 44.0 20\n",
            )
            .unwrap(),
        );
        report.login.push(
            parse_login_result(
                "React + auth0-js",
                Flow::Implicit,
                "result 600 500 700 520 680 20",
            )
            .unwrap(),
        );
        report
    }

    // README.md, Benchmarks: the login round trip and the callback processing of both flows,
    // side by side, and what the code flow costs at the median.
    #[test]
    fn both_flows_are_tabled_side_by_side_with_the_code_flow_cost() {
        let report = with_code_flow(report(190_000, 1000.0, 900.0, 100.0));
        let md = report.markdown();
        let implicit_row =
            "| Hashgate | implicit (`id_token token`) | 491 ms | 420 ms | 600 ms | 410 ms | 712 ms | — | 20 |";
        let code_row =
            "| Hashgate | code + PKCE, refresh tokens | 530 ms | 460 ms | 640 ms | 450 ms | 790 ms | — | 20 |";
        assert!(md.contains(implicit_row) && md.contains(code_row), "{md}");
        assert!(
            md.find(implicit_row) < md.find(code_row),
            "side by side, implicit first"
        );
        assert!(
            md.contains("| React + auth0-js | implicit (`id_token token`) | 600 ms |"),
            "{md}"
        );
        // Only the apps that set the measure get a callback row.
        assert!(
            md.contains(
                "| Hashgate | code + PKCE, refresh tokens | 31.2 ms | 26.0 ms | 44.0 ms | — | 20 |"
            ),
            "{md}"
        );
        assert_eq!(md.matches("| React + auth0-js |").count(), 1, "{md}");
        // The files' settings are quoted as the app reads them.
        assert!(
            md.contains(r#"`"responseType": "code", "useRefreshTokens": true`"#),
            "{md}"
        );
        // 530.4 − 490.6 = +39.8 ms; 31.25 − 12.5 = +18.75 ms.
        assert_eq!(
            report.code_flow_cost(),
            Some(FlowCost {
                implicit_ms: 490.6,
                code_ms: 530.4,
                callback_ms: Some((12.5, 31.25)),
            })
        );
        assert!(
            md.contains(
                "login round trip +40 ms (530 against 491 ms), callback processing +18.8 ms \
                 (31.2 against 12.5)."
            ),
            "{md}"
        );
    }

    // README.md, Benchmarks: without both of Hashgate's flows there is no cost to state, and a
    // skipped login part says why instead of showing empty tables.
    #[test]
    fn the_code_flow_cost_needs_both_flows_and_a_skipped_login_part_says_why() {
        let mut report = report(190_000, 1000.0, 900.0, 100.0);
        assert_eq!(report.code_flow_cost(), None, "implicit only");
        assert!(!report.markdown().contains("The code flow beside"));

        report.login.clear();
        report.login_note = Some("skipped with --login-runs 0".to_owned());
        let md = report.markdown();
        assert!(
            md.contains("Not measured: skipped with --login-runs 0"),
            "{md}"
        );
        assert!(!md.contains("| app | flow |"), "{md}");
        assert_eq!(report.code_flow_cost(), None);
    }

    // README.md, Benchmarks: the size is one bundle with both flows compiled in, and the report
    // says so.
    #[test]
    fn the_size_row_is_the_one_bundle_with_both_flows() {
        let md = report(190_000, 1000.0, 900.0, 100.0).markdown();
        assert!(
            md.contains("| Hashgate (Leptos, wasm; one bundle, both flows) | 556.6 KiB | 371.1 KiB | 185.5 KiB | 1.90× |"),
            "{md}"
        );
        assert!(
            md.contains("so the code flow has no build, and no size, of its own"),
            "{md}"
        );
    }

    // The chart gives the code flow its own bar, named, beside the implicit one.
    #[test]
    fn the_chart_names_the_code_flow_bar() {
        let svg = with_code_flow(report(190_000, 1000.0, 900.0, 100.0)).svg();
        // Background, 4 size bars, 3 throughput bars, 3 login bars.
        assert_eq!(svg.matches("<rect").count(), 11, "{svg}");
        assert!(svg.contains(">Hashgate, code + PKCE<"), "{svg}");
        assert!(svg.contains(">Hashgate<"), "{svg}");
        assert!(svg.contains("530 ms median"), "{svg}");
    }
}
