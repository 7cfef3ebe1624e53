//! Hashgate's task runner as a library, so its parts (the size report above all) can be
//! tested and budgeted from tests. The `xtask` binary is the command line:
//!
//! ```text
//! cargo xtask test             # every check and test, then the size report and a summary
//! cargo xtask dev              # identity provider + API + `trunk serve`, stopped by Ctrl-C
//! cargo xtask size [--no-build]  # html/js/wasm/css of dist/: raw, gzip, brotli
//! cargo xtask bench            # Hashgate vs JavaScript peers: size, API throughput, the
//!                              # /authorize flood, login round trip
//! ```

#![warn(missing_docs)]

pub mod bench;
pub mod browser;
pub mod cli;
pub mod cmd;
pub mod csp;
pub mod dev;
pub mod devserver;
pub mod error;
pub mod files;
pub mod process;
pub mod shrink;
pub mod size;
pub mod smallest;
pub mod test;
pub mod tools;

pub use error::{Error, Result};
