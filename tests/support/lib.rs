//! The browser end-to-end test harness: a real headless Chromium driven over WebDriver
//! (chromedriver + fantoccini), the release build of the SPA served from `$HASHGATE_DIST`,
//! and page objects for the steps journeys repeat. No mocks: a test passes only in a real
//! browser against the real build.
//!
//! Run through `cargo xtask test`, which installs Chromium and chromedriver if needed,
//! builds `dist/` and sets `HASHGATE_DIST`. By hand:
//!
//! ```text
//! trunk build --release --offline
//! HASHGATE_DIST=$PWD/dist cargo test -p hashgate-e2e --test browser_shell
//! ```
//!
//! Tests run on a multi-threaded tokio runtime:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread")]
//! async fn the_home_page_renders() {
//!     let spa = SpaServer::start(auth_config("http://127.0.0.1:9/")).await;
//!     let browser = Browser::launch().await;
//!     let app = App::open(&browser, &spa, "/").await;
//!     assert_eq!(app.heading().await, "Hashgate");
//!     browser.close().await;
//! }
//! ```

#![warn(missing_docs)]
// A test harness: a panic is a failing test, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod browser;
pub mod hostile;
pub mod interop;
pub mod journey;
pub mod nginx;
pub mod pages;
mod spa;
// The local identity provider in-process, with the `local-idp` feature. // local-idp-only
#[cfg(feature = "local-idp")] // local-idp-only
pub mod stack; // local-idp-only

pub use app::{inspector_json, App};
pub use browser::{redact_jwts, redact_secrets, xpath_literal, Browser, DEFAULT_TIMEOUT};
pub use spa::{auth_config, dist_dir, screenshot_dir, AuthConfigFile, SpaServer};

/// The repository's root directory (this crate lives in `tests/`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
