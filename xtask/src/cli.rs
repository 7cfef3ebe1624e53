//! The command line of `cargo xtask`, parsed by clap. The binary dispatches on [`Command`];
//! tests parse command lines through [`Cli`] exactly as the binary does.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `cargo xtask <command>`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Hashgate's task runner",
    disable_version_flag = true
)]
pub struct Cli {
    /// What to do; without one, the help is printed.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The tasks.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Install missing tools, check formatting and lints, build the release, run every test
    /// (browser tests in headless Chromium), report sizes.
    Test,
    /// Start the identity provider, the API and `trunk serve`; Ctrl-C stops all.
    Dev,
    /// Build the release (unless --no-build) and report its size.
    Size(SizeOptions),
    /// Transfer size, API throughput, login round trip and the /authorize flood against the
    /// JavaScript peers (React + auth0-js, Express); writes bench/results/. Runs the
    /// `hashgate-bench` crate (`cargo xtask bench --help` lists its flags).
    #[command(disable_help_flag = true)]
    Bench {
        /// The bench's own flags (`--no-build`, `--duration S`, `--login-runs N`, `--help`),
        /// handed to it unchanged.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Trunk's post_build hook (see Trunk.toml): adds the inline scripts' hashes to the CSP of
    /// `$TRUNK_STAGING_DIR/index.html`, or of `DIR/index.html`. Not meant to be typed by hand.
    #[command(hide = true)]
    Csp {
        /// The directory holding the `index.html` to rewrite.
        dir: Option<PathBuf>,
    },
}

/// What `cargo xtask size` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct SizeOptions {
    /// Report the existing dist/ instead of building it first.
    #[arg(long)]
    pub no_build: bool,
    /// Also build the opt-in smallest release (nightly toolchain with rust-src) into
    /// dist-smallest/ and report both.
    #[arg(long, conflicts_with = "no_build")]
    pub smallest: bool,
    /// Write the build's brotli parts (html, js, wasm, css) into the `[recorded]` table of
    /// size-budget.toml, the build a failing budget check compares with.
    #[arg(long, conflicts_with = "smallest")]
    pub record: bool,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Command>, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    // README.md (Run the demo, Test, Benchmarks): the commands and flags it documents parse.
    #[test]
    fn every_documented_command_line_parses() {
        assert_eq!(parse(&["test"]).unwrap(), Some(Command::Test));
        assert_eq!(parse(&["dev"]).unwrap(), Some(Command::Dev));
        assert_eq!(parse(&[]).unwrap(), None);
        let size = |no_build, smallest, record| {
            Some(Command::Size(SizeOptions {
                no_build,
                smallest,
                record,
            }))
        };
        assert_eq!(parse(&["size"]).unwrap(), size(false, false, false));
        assert_eq!(
            parse(&["size", "--no-build"]).unwrap(),
            size(true, false, false)
        );
        assert_eq!(
            parse(&["size", "--smallest"]).unwrap(),
            size(false, true, false)
        );
        assert_eq!(
            parse(&["size", "--no-build", "--record"]).unwrap(),
            size(true, false, true)
        );
        assert_eq!(
            parse(&["csp", "dist"]).unwrap(),
            Some(Command::Csp {
                dir: Some(PathBuf::from("dist"))
            })
        );
        assert_eq!(parse(&["csp"]).unwrap(), Some(Command::Csp { dir: None }));
    }

    // A mistyped command line is refused with a usage error (exit code 2), never guessed at.
    #[test]
    fn unknown_or_contradictory_arguments_are_usage_errors() {
        for args in [
            &["frobnicate"][..],
            &["test", "--fast"],
            &["size", "--smallest", "--no-build"],
            &["size", "--smallest", "--record"],
            &["csp", "a", "b"],
        ] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}: {error}");
        }
    }

    // README.md, Benchmarks: `cargo xtask bench` hands every flag to the bench crate unchanged
    // (it parses and checks them itself, `--help` included).
    #[test]
    fn bench_flags_are_handed_on_unchanged() {
        let bench = |args: &[&str]| {
            let mut line = vec!["bench"];
            line.extend_from_slice(args);
            parse(&line).unwrap()
        };
        let args = |list: &[&str]| {
            Some(Command::Bench {
                args: list.iter().map(|arg| (*arg).to_owned()).collect(),
            })
        };
        assert_eq!(bench(&[]), args(&[]));
        assert_eq!(
            bench(&["--no-build", "--duration", "3", "--login-runs", "0"]),
            args(&["--no-build", "--duration", "3", "--login-runs", "0"])
        );
        assert_eq!(bench(&["--help"]), args(&["--help"]));
    }
}
