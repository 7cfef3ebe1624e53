//! A headless Chromium for the checks that need a real browser, started the way the browser
//! tests start theirs (`tests/support/browser.rs`): chromedriver on a free local port, a fresh
//! profile, no background traffic, and the page's console read from Chromium's own log.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::{
    cmd,
    process::{free_port, Server},
    tools, Error, Result,
};

/// What Chromium is started with: headless, no sandbox (containers, root), no background
/// traffic to Google, and its log (console messages included) on stderr.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    "--enable-logging=stderr",
];

/// One headless Chromium with its chromedriver; dropping it ends both.
pub struct Browser {
    client: Client,
    // Killed on drop, with every Chromium process it started (its process group).
    _driver: Server,
    log: PathBuf,
}

impl Browser {
    /// Starts chromedriver and Chromium with a fresh profile under `scratch`, which also
    /// receives chromedriver's log. Fails with the apt line when either is missing.
    pub async fn launch(scratch: &Path) -> Result<Browser> {
        let missing = || {
            Error::Missing(format!(
                "chromium and chromedriver are needed: {}",
                tools::CHROMIUM_APT
            ))
        };
        let chromium = cmd::find_in_path("chromium").ok_or_else(missing)?;
        let chromedriver = cmd::find_in_path("chromedriver").ok_or_else(missing)?;
        let log = scratch.join("chromedriver.log");
        let port = free_port()?;
        let mut driver = Server::spawn_group(
            "chromedriver",
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                // Chromium's stderr, console messages included, goes to that log too.
                .arg("--enable-chrome-logs")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?;
        driver.wait_for_port(port)?;

        let mut args: Vec<String> = CHROMIUM_FLAGS
            .iter()
            .map(|flag| (*flag).to_owned())
            .collect();
        args.push(format!(
            "--user-data-dir={}",
            scratch.join("profile").display()
        ));
        let serde_json::Value::Object(capabilities) = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        }) else {
            return Err(Error::Browser(
                "capabilities are not a JSON object".to_owned(),
            ));
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|error| {
                Error::Browser(format!(
                    "chromedriver could not start Chromium ({error}); chromedriver and chromium \
                     must be the same major version. Last lines of {}:\n{}",
                    log.display(),
                    tail(&log, 20)
                ))
            })?;
        Ok(Browser {
            client,
            _driver: driver,
            log,
        })
    }

    /// The WebDriver client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The page's console messages so far, as Chromium logs them (`CONSOLE` lines).
    pub fn console(&self) -> Vec<String> {
        console_lines(&fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// Ends the WebDriver session politely (Chromium exits), then chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// The console lines of a chromedriver log.
pub fn console_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains("CONSOLE"))
        .map(str::to_owned)
        .collect()
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
