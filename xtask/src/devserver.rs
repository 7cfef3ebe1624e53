//! The dev server's page runs under the strict CSP with a clean console, and reloads itself
//! when a source file changes. `trunk serve`, started exactly as `cargo xtask dev` starts it,
//! appends its live-reload script inline; that script and the loader carry a nonce Trunk makes
//! fresh for every response, which the hook (`cargo xtask csp`, see `Trunk.toml`) put into the
//! page's `script-src`. This check fails when live reload is off, when the nonce is missing,
//! fixed or left as a placeholder, when Chromium's console shows a CSP violation, or when a
//! change to a source file does not reload the open page.
//!
//! It serves the release build (`--release`, into a scratch `--dist`): in `cargo xtask test` it
//! runs right after `trunk build --release`, so cargo has nothing to compile, and what Trunk
//! adds for `serve` does not depend on the profile. Looks at the served page:
//! 1. its HTML: Trunk's reload script is there, every inline script is allowed by its hash or by
//!    the response's nonce, and two responses carry two different nonces;
//! 2. in headless Chromium the app starts (`data-auth-state` appears, docs/contract.md §3) and
//!    the console has no CSP violation. A control then injects an inline script, which must be
//!    refused *and* reported in the console: otherwise the check could not see a violation;
//! 3. a comment appended to `style/main.css` (the original bytes are put back afterwards, also
//!    when the check fails) makes Trunk rebuild, and the open page reloads by itself within
//!    [`RELOAD`]: a marker set on `window` is gone and the app has started again, still without
//!    a CSP violation.

use std::{
    fs::{self, File},
    future::Future,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use fantoccini::Locator;

use crate::{
    browser::Browser,
    csp, dev, files,
    process::{free_port, Server},
    Error, Result,
};

/// How long the first build may take: cold, a release wasm build takes minutes on two cores.
const FIRST_BUILD: Duration = Duration::from_secs(20 * 60);
/// How long the app may take to start in the browser.
const APP_START: Duration = Duration::from_secs(30);
/// How long a rebuild after a source change may take until the open page has reloaded.
const RELOAD: Duration = Duration::from_secs(180);
/// The source file the reload check changes (a comment appended, then the original put back).
pub const TOUCHED_SOURCE: &str = "style/main.css";

/// Serves the app with `trunk serve`; fails if its page shows a CSP error in Chromium or does
/// not reload itself after a source change.
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
    let again = runtime
        .block_on(fetch(&url))
        .ok_or_else(|| with_log(Error::Missing(format!("{url} stopped answering"))))?;
    check_served_html(&html, &again, &url)?;
    runtime.block_on(console_check(scratch, &url))
}

/// What the HTML of two responses of the dev server must show: live reload on, every inline
/// script allowed by hash or by this response's nonce, and a nonce that is fresh per response
/// (CSP Level 3 §8.2: a nonce must not be guessable, so never the same twice).
pub fn check_served_html(html: &str, again: &str, url: &str) -> Result<()> {
    let missing = |what: String| Error::Missing(format!("the page trunk serves at {url} {what}"));
    if !csp::is_served_with_live_reload(html) {
        return Err(missing(format!(
            "has no live-reload script (`{}`): Trunk.toml must not say `[serve] no_autoreload`",
            csp::RELOAD_SCRIPT_MARK
        )));
    }
    if html.contains("{{__TRUNK NONCE__}}") {
        return Err(missing(
            "still holds Trunk's nonce placeholder: `[build] create_nonce` must be on in \
             Trunk.toml for `trunk serve` to complete it"
                .to_owned(),
        ));
    }
    let refused = csp::refused_inline_scripts(html)
        .ok_or_else(|| missing("lost the strict script-src of index.html".to_owned()))?;
    if !refused.is_empty() {
        return Err(missing(format!(
            "has {} inline script(s) its CSP refuses, so the browser console shows a CSP error \
             on every page (the hook adds the response's nonce to script-src when Trunk.toml \
             says `[build] create_nonce = true`): {}",
            refused.len(),
            refused.join(" | ")
        )));
    }
    let nonces = |page| {
        csp::script_src_sources(page)
            .unwrap_or_default()
            .into_iter()
            .filter(|source| source.starts_with("'nonce-"))
            .map(str::to_owned)
            .collect::<Vec<String>>()
    };
    let (first, second) = (nonces(html), nonces(again));
    if first.len() != 1 || second.len() != 1 || first == second {
        return Err(missing(format!(
            "must allow exactly one nonce, fresh for each response; two responses allowed {} \
             and {}",
            first.join(" "),
            second.join(" ")
        )));
    }
    Ok(())
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
    let violations = csp_violations(browser);
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

    // Live reload: the page reloads by itself after a source change, and the new page (with
    // the next response's nonce) again runs with no CSP violation.
    let violations_before = csp_violations(browser).len();
    client
        .execute(
            "window.hashgateReloadMarker = true; return true;",
            Vec::new(),
        )
        .await
        .map_err(|error| fail(format!("setting the reload marker failed: {error}")))?;
    let touched = Touched::append(
        &crate::cmd::root().join(TOUCHED_SOURCE),
        b"\n/* cargo xtask test: live-reload probe, removed when the check ends */\n",
    )?;
    let reloaded = poll(RELOAD, || async {
        client
            .execute(
                "return window.hashgateReloadMarker === undefined \
                 && document.querySelector('[data-auth-state]') !== null;",
                Vec::new(),
            )
            .await
            .is_ok_and(|answer| answer == serde_json::Value::Bool(true))
    })
    .await;
    touched.restore()?;
    if !reloaded {
        return Err(fail(format!(
            "the open page did not reload within {} s of a change to {TOUCHED_SOURCE} (Trunk's \
             live reload)",
            RELOAD.as_secs()
        )));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = csp_violations(browser);
    if after.len() > violations_before {
        return Err(Error::Browser(format!(
            "the dev server's page shows CSP errors in the console after live reload:\n{}",
            after[violations_before..].join("\n")
        )));
    }
    Ok(())
}

/// The CSP violation reports in the browser's console so far.
fn csp_violations(browser: &Browser) -> Vec<String> {
    browser
        .console()
        .into_iter()
        .filter(|line| is_csp_violation(line))
        .collect()
}

/// A source file with bytes appended; the original bytes are written back by [`Touched::restore`]
/// or, if the check fails before, when it is dropped, so no run leaves the tree modified.
struct Touched {
    path: PathBuf,
    original: Option<Vec<u8>>,
}

impl Touched {
    fn append(path: &Path, extra: &[u8]) -> Result<Touched> {
        let original = files::read_bytes(path)?;
        let mut changed = original.clone();
        changed.extend_from_slice(extra);
        let touched = Touched {
            path: path.to_path_buf(),
            original: Some(original),
        };
        files::write(path, &changed)?;
        Ok(touched)
    }

    fn restore(mut self) -> Result<()> {
        match self.original.take() {
            Some(original) => files::write(&self.path, &original),
            None => Ok(()),
        }
    }
}

impl Drop for Touched {
    fn drop(&mut self) {
        if let Some(original) = self.original.take() {
            if let Err(error) = files::write(&self.path, &original) {
                eprintln!("could not restore {}: {error}", self.path.display());
            }
        }
    }
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

    // Trunk.toml: live reload on, Trunk's nonce on (the hook puts it into the served page's CSP),
    // and no second policy in a header (the full check above runs in `cargo xtask test`; this one
    // fails in seconds).
    #[test]
    fn trunk_toml_serves_live_reload_under_a_nonce() {
        let text = fs::read_to_string(crate::cmd::root().join("Trunk.toml")).unwrap_or_default();
        let config: toml::Table = toml::from_str(&text).unwrap_or_default();
        let flag = |table: &str, key: &str| {
            config
                .get(table)
                .and_then(|table| table.get(key))
                .and_then(toml::Value::as_bool)
        };
        assert_eq!(
            flag("build", "create_nonce"),
            Some(true),
            "Trunk.toml:\n{text}"
        );
        assert_ne!(
            flag("serve", "no_autoreload"),
            Some(true),
            "Trunk.toml:\n{text}"
        );
        assert_eq!(
            flag("serve", "disable_csp"),
            Some(true),
            "Trunk.toml:\n{text}"
        );
    }

    const SERVED: &str =
        "<meta content=\"script-src 'self' 'wasm-unsafe-eval' 'nonce-AAAA'; style-src 'self'\">\
                          <script type=\"module\" nonce=\"AAAA\">loader()</script>\
                          <script nonce=\"AAAA\">const url = '.well-known/trunk/ws';</script>";

    // README.md, Content-Security-Policy: the dev server's nonce is fresh for each response and
    // allows the loader and the reload script; a page without live reload, with a fixed nonce
    // or with the placeholder left is refused.
    #[test]
    fn the_served_page_needs_live_reload_and_a_fresh_nonce() {
        let again = SERVED.replace("AAAA", "BBBB");
        check_served_html(SERVED, &again, "u").unwrap();
        let same = check_served_html(SERVED, SERVED, "u")
            .unwrap_err()
            .to_string();
        assert!(same.contains("fresh for each response"), "{same}");
        let no_reload = SERVED.replace(".well-known/trunk/ws", "");
        let error = check_served_html(&no_reload, &again, "u")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no live-reload script"), "{error}");
        let placeholder = SERVED.replace("AAAA", "{{__TRUNK NONCE__}}");
        let error = check_served_html(&placeholder, &again, "u")
            .unwrap_err()
            .to_string();
        assert!(error.contains("placeholder"), "{error}");
        let unallowed = SERVED.replace(" 'nonce-AAAA'", "");
        let error = check_served_html(&unallowed, &again, "u")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("inline script(s) its CSP refuses"),
            "{error}"
        );
    }

    // The reload check never leaves the tree modified: the original bytes come back whether the
    // check restores them or fails first.
    #[test]
    fn a_touched_source_gets_its_original_bytes_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = dir.path().join("main.css");
        fs::write(&path, "body {}\n").unwrap_or_else(|error| panic!("{error}"));
        let touched =
            Touched::append(&path, b"/* probe */").unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            fs::read_to_string(&path).ok().as_deref(),
            Some("body {}\n/* probe */")
        );
        touched.restore().unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(fs::read_to_string(&path).ok().as_deref(), Some("body {}\n"));
        let dropped =
            Touched::append(&path, b"/* probe */").unwrap_or_else(|error| panic!("{error}"));
        drop(dropped);
        assert_eq!(fs::read_to_string(&path).ok().as_deref(), Some("body {}\n"));
    }
}
