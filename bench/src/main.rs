//! `hashgate-bench`: Hashgate against its JavaScript peers; writes `bench/results/`. Run it as
//!
//! ```text
//! cargo xtask bench [--no-build] [--duration S] [--login-runs N] [--only PART,…]
//! ```
//!
//! (the task runner starts `cargo run -p hashgate-bench -- …`), never inside `cargo xtask test`.

use std::process::ExitCode;

use clap::Parser;
use hashgate_bench::Options;

/// `cargo xtask bench`'s command line.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask bench",
    bin_name = "cargo xtask bench",
    about = "Transfer size, API throughput, login round trip and the /authorize flood against the \
             JavaScript peers (React + auth0-js, Express); writes bench/results/",
    disable_version_flag = true
)]
struct Cli {
    #[command(flatten)]
    options: Options,
}

fn main() -> ExitCode {
    xtask::cmd::put_cargo_bin_on_path();
    // Usage errors exit with 2 and `--help` with 0, as clap decides.
    let cli = Cli::parse();
    match hashgate_bench::run(&cli.options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask bench").chain(args.iter().copied()))
            .map(|cli| cli.options)
    }

    // README.md, Benchmarks: `--no-build`, `--duration S` and `--login-runs N`, with 10 s and
    // 20 runs by default; nonsense values are refused.
    #[test]
    fn bench_options_default_to_ten_seconds_and_refuse_nonsense() {
        assert_eq!(parse(&[]).unwrap(), Options::default());
        assert_eq!(
            parse(&["--no-build", "--duration", "3"]).unwrap(),
            Options {
                build: false,
                duration_secs: 3,
                login_runs: 20,
                only: Vec::new(),
            }
        );
        assert_eq!(parse(&["--login-runs", "0"]).unwrap().login_runs, 0);
        assert_eq!(
            parse(&["--only", "login,reload"]).unwrap().only,
            [
                hashgate_bench::options::Part::Login,
                hashgate_bench::options::Part::Reload
            ]
        );
        for nonsense in [
            &["--duration", "0"][..],
            &["--duration", "121"],
            &["--login-runs", "many"],
            &["--login-runs", "201"],
            &["--fast"],
            &["--only", "everything"],
        ] {
            let error = parse(nonsense).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{nonsense:?}: {error}");
        }
    }
}
