//! The command line of `cargo xtask`, parsed by clap. The binary dispatches on [`Command`];
//! tests parse command lines through [`Cli`] exactly as the binary does.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::bench;

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
    /// JavaScript peers (React + auth0-js, Express); writes bench/results/.
    Bench(bench::Options),
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
        let size = |no_build, smallest| Some(Command::Size(SizeOptions { no_build, smallest }));
        assert_eq!(parse(&["size"]).unwrap(), size(false, false));
        assert_eq!(parse(&["size", "--no-build"]).unwrap(), size(true, false));
        assert_eq!(parse(&["size", "--smallest"]).unwrap(), size(false, true));
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
            &["csp", "a", "b"],
        ] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}: {error}");
        }
    }

    // README.md, Benchmarks: `--no-build`, `--duration S` and `--login-runs N`, with 10 s and
    // 20 runs by default; nonsense values are refused.
    #[test]
    fn bench_options_default_to_ten_seconds_and_refuse_nonsense() {
        let bench = |args: &[&str]| {
            let mut line = vec!["bench"];
            line.extend_from_slice(args);
            match parse(&line)? {
                Some(Command::Bench(options)) => Ok::<_, clap::Error>(options),
                other => panic!("{args:?} parsed as {other:?}"),
            }
        };
        assert_eq!(bench(&[]).unwrap(), bench::Options::default());
        let options = bench(&["--no-build", "--duration", "3"]).unwrap();
        assert_eq!(
            options,
            bench::Options {
                build: false,
                duration_secs: 3,
                login_runs: 20
            }
        );
        assert_eq!(bench(&["--login-runs", "0"]).unwrap().login_runs, 0);
        assert!(bench(&["--duration", "0"]).is_err());
        assert!(bench(&["--duration", "121"]).is_err());
        assert!(bench(&["--login-runs", "many"]).is_err());
        assert!(bench(&["--login-runs", "201"]).is_err());
        assert!(bench(&["--fast"]).is_err());
    }
}
