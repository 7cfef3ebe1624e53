//! The dev server's page loads with a clean console. `trunk serve`, started exactly as
//! `cargo xtask dev` starts it, must serve a page that runs under the strict CSP of
//! `index.html` without a single CSP error. Trunk's live-reload script is inline and that CSP
//! refuses it (its text is completed per request, so no hash written at build time can allow
//! it), so `Trunk.toml` turns live reload off (`[serve] no_autoreload = true`); this check
//! fails when it comes back, or when anything else inline creeps into the served page.
//!
//! It serves the release build (`--release`, into a scratch `--dist`): in `cargo xtask test` it
//! runs right after `trunk build --release`, so cargo has nothing to compile, and what Trunk
//! adds for `serve` does not depend on the profile. Two looks at the served page:
//! 1. every inline script of its HTML has its hash in the CSP's `script-src` (names the culprit);
//! 2. in headless Chromium the app starts (`data-auth-state` appears, docs/contract.md §3) and
//!    the console has no CSP violation. A control then injects an inline script, which must be
//!    refused *and* reported in the console: otherwise the check could not see a violation.

use std::{
    fs::{self, File},
    future::Future,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use fantoccini::Locator;

use crate::{
    browser::Browser,
    csp, dev,
    process::{free_port, Server},
    Error, Result,
};

/// How long the first build may take: cold, a release wasm build takes minutes on two cores.
const FIRST_BUILD: Duration = Duration::from_secs(20 * 60);
/// How long the app may take to start in the browser.
const APP_START: Duration = Duration::from_secs(30);

/// Serves the app with `trunk serve` and fails if its page shows a CSP error in Chromium.
pub fn check() -> Result<()> {
    let scratch = std::env::temp_dir().join(format!("hashgate-devserver-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch).map_err(|source| Error::Io {
        path: scratch.clone(),
        source,
    })?;
    let result = check_in(&scratch);
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn check_in(scratch: &Path) -> Result<()> {
    let port = free_port()?;
    let log_path = scratch.join("trunk.log");
    let io = |source| Error::Io {
        path: log_path.clone(),
        source,
    };
    let log = File::create(&log_path).map_err(io)?;
    let mut trunk = Server::spawn_group(
        "trunk serve",
        dev::trunk_serve(port)
            .arg("--release")
            .arg("--dist")
            .arg(scratch.join("dist"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log),
    )?;
    let runtime = crate::process::runtime()?;
    let url = format!("http://127.0.0.1:{port}/");
    let with_log = |error: Error| {
        Error::Missing(format!(
            "{error}; the end of trunk's output:\n{}",
            tail(&log_path, 30)
        ))
    };
    trunk
        .wait_for("serve the built page", FIRST_BUILD, || {
            runtime
                .block_on(fetch(&url))
                .is_some_and(|html| html.contains("<script"))
        })
        .map_err(with_log)?;

    let html = runtime
        .block_on(fetch(&url))
        .ok_or_else(|| with_log(Error::Missing(format!("{url} stopped answering"))))?;
    let refused = csp::refused_inline_scripts(&html).ok_or_else(|| {
        Error::Missing(format!(
            "the page trunk serves at {url} lost the strict script-src of index.html"
        ))
    })?;
    if !refused.is_empty() {
        return Err(Error::Missing(format!(
            "the page trunk serves has {} inline script(s) its CSP refuses, so the browser \
             console shows a CSP error on every page (`trunk serve` adds its live-reload script \
             inline unless Trunk.toml says `[serve] no_autoreload = true`): {}",
            refused.len(),
            refused.join(" | ")
        )));
    }
    runtime.block_on(console_check(scratch, &url))
}

/// The body of `GET url` when it answers 200.
async fn fetch(url: &str) -> Option<String> {
    let response = reqwest::get(url).await.ok()?;
    if response.status() != reqwest::StatusCode::OK {
        return None;
    }
    response.text().await.ok()
}

async fn console_check(scratch: &Path, url: &str) -> Result<()> {
    let browser = Browser::launch(scratch).await?;
    let result = console_check_in(&browser, url).await;
    browser.close().await;
    result
}

async fn console_check_in(browser: &Browser, url: &str) -> Result<()> {
    let client = browser.client();
    let fail = |what: String| {
        Error::Browser(format!(
            "{what}\nconsole:\n{}",
            browser.console().join("\n")
        ))
    };
    client
        .goto(url)
        .await
        .map_err(|error| fail(format!("opening {url} failed: {error}")))?;
    let started = poll(APP_START, || async {
        client.find(Locator::Css("[data-auth-state]")).await.is_ok()
    })
    .await;
    if !started {
        return Err(fail(format!(
            "the app at {url} did not start within {} s (no data-auth-state)",
            APP_START.as_secs()
        )));
    }
    // Late messages (the discovery fetch failing, as no provider runs) have time to arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let violations: Vec<String> = browser
        .console()
        .into_iter()
        .filter(|line| is_csp_violation(line))
        .collect();
    if !violations.is_empty() {
        return Err(Error::Browser(format!(
            "the dev server's page shows CSP errors in the console:\n{}",
            violations.join("\n")
        )));
    }

    // The control: an inline script added now must be refused, and the refusal reported.
    let ran = client
        .execute(
            "const probe = document.createElement('script');\
             probe.textContent = 'window.hashgateProbe = true;';\
             document.body.appendChild(probe);\
             return window.hashgateProbe === true;",
            Vec::new(),
        )
        .await
        .map_err(|error| fail(format!("the control script failed: {error}")))?;
    if ran == serde_json::Value::Bool(true) {
        return Err(fail(
            "the page ran an injected inline script: its CSP is not enforced".to_owned(),
        ));
    }
    let reported = poll(Duration::from_secs(5), || async {
        browser.console().iter().any(|line| is_csp_violation(line))
    })
    .await;
    if !reported {
        return Err(fail(
            "Chromium refused an injected inline script but its log shows no CSP violation, so \
             this check cannot see one (chromedriver's --enable-chrome-logs and Chromium's \
             --enable-logging=stderr carry console messages)"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Whether a console line is a Content-Security-Policy violation report.
pub fn is_csp_violation(line: &str) -> bool {
    line.contains("Content Security Policy") || line.contains("Content-Security-Policy")
}

/// Checks `ready` every 100 ms for up to `timeout`; whether it became true.
async fn poll<F, Fut>(timeout: Duration, mut ready: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if ready().await {
            return true;
        }
        if started.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    // README.md, Content-Security-Policy: the dev server's console must show no CSP error;
    // Chromium reports a refused inline script with this wording.
    #[test]
    fn csp_violations_are_told_apart_from_other_console_messages() {
        // The first line as Chromium 14x writes it for trunk serve's reload script.
        let log = "[4164:4164:1130/054310.136127:INFO:CONSOLE:33] \"Executing inline script violates the following Content Security Policy directive 'script-src 'self' 'wasm-unsafe-eval''. Either the 'unsafe-inline' keyword, a hash ('sha256-fIDg8g2EP5N8cXTd8tLCHjZJg90L7q+NY2+Fa91hoOM='), or a nonce ('nonce-...') is required to enable inline execution. The action has been blocked.\", source: http://127.0.0.1:34663/ (33)\n\
                   [1:1:0101/000000.2:INFO:CONSOLE(0)] \"Failed to load resource: net::ERR_CONNECTION_REFUSED\", source: http://localhost:3000/.well-known/openid-configuration (0)\n\
                   [1:1:0101/000000.3:INFO:chromedriver] not a console line";
        let console = crate::browser::console_lines(log);
        assert_eq!(console.len(), 2);
        let violations: Vec<&String> = console.iter().filter(|l| is_csp_violation(l)).collect();
        assert_eq!(violations.len(), 1);
        assert!(violations[0].contains("Executing inline script violates"));
    }

    // Trunk.toml: live reload stays off, or `trunk serve` injects an inline script the strict
    // CSP refuses (the full check above runs in `cargo xtask test`; this one fails in seconds).
    #[test]
    fn trunk_toml_turns_the_inline_live_reload_script_off() {
        let text = fs::read_to_string(crate::cmd::root().join("Trunk.toml")).unwrap_or_default();
        let config: toml::Table = toml::from_str(&text).unwrap_or_default();
        let no_autoreload = config
            .get("serve")
            .and_then(|serve| serve.get("no_autoreload"))
            .and_then(toml::Value::as_bool);
        assert_eq!(no_autoreload, Some(true), "Trunk.toml:\n{text}");
    }
}
