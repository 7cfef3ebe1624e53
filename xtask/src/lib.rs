//! Hashgate's task runner as a library, so its parts (the size report above all) can be
//! tested and budgeted from tests. The `xtask` binary is the command line:
//!
//! ```text
//! cargo xtask test             # every check and test, then the size report and a summary
//! cargo xtask dev              # identity provider + API + `trunk serve`, stopped by Ctrl-C
//! cargo xtask size [--no-build]  # html/js/wasm/css of dist/: raw, gzip, brotli; the budget
//! cargo xtask size --record    # also writes the brotli parts into size-budget.toml
//! cargo xtask bench            # runs the `hashgate-bench` crate (bench/): Hashgate vs
//!                              # JavaScript peers
//! ```
//!
//! It links no server: the identity provider and the API are started as programs (`cargo
//! run`), and the bench, which drives them as libraries, is a crate of its own.

#![warn(missing_docs)]

pub mod browser;
pub mod budget;
pub mod cli;
pub mod cmd;
pub mod csp;
pub mod dev;
pub mod devserver;
pub mod error;
pub mod files;
pub mod own_provider;
pub mod process;
pub mod shrink;
pub mod size;
pub mod smallest;
pub mod test;
pub mod tools;

pub use error::{Error, Result};
