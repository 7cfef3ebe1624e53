//! Hashgate's task runner. Run it through the cargo alias:
//!
//! ```text
//! cargo xtask test               # tools, fmt, clippy, release build, all tests, size, summary
//! cargo xtask dev                # run the demo: idp :3000, api :3001, trunk serve :8080
//! cargo xtask size [--no-build]  # size report of dist/ (builds it first unless --no-build)
//! cargo xtask size --record      # also records its parts in size-budget.toml
//! cargo xtask size --smallest    # opt-in nightly build into dist-smallest/, and its report
//! cargo xtask bench [--no-build] [--duration S] [--login-runs N]  # runs hashgate-bench (bench/)
//! ```
//!
//! `cargo xtask --help` (or `cargo xtask <command> --help`) says the same in more words.

#![warn(missing_docs)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use xtask::{
    budget,
    cli::{Cli, Command, SizeOptions},
    cmd, csp, dev, files, shrink, size, smallest, test, tools, Error, Result,
};

fn main() -> ExitCode {
    cmd::put_cargo_bin_on_path();
    // Usage errors exit with 2 and `--help` with 0, as clap decides.
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        // No command: the usage, as before clap (exit 0).
        let _ = Cli::command().print_help();
        return ExitCode::SUCCESS;
    };
    match dispatch(command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> Result<bool> {
    match command {
        Command::Test => test::run(),
        Command::Dev => dev::run().map(|()| true),
        Command::Csp { dir: None } => {
            // As Trunk's post_build hook: a release build is shrunk first, then its (unchanged)
            // loader hashed.
            if let Some(staging) = std::env::var_os("TRUNK_STAGING_DIR") {
                if std::env::var("TRUNK_PROFILE").as_deref() == Ok("release") {
                    shrink::run(std::path::Path::new(&staging))?;
                }
            }
            csp::run(None)
        }
        Command::Csp { dir } => csp::run(dir.as_deref()),
        Command::Size(SizeOptions { smallest: true, .. }) => report_smallest(),
        Command::Size(SizeOptions {
            no_build, record, ..
        }) => report_size(!no_build, record),
        Command::Bench { args } => run_bench(&args),
    }
}

fn report_size(build: bool, record: bool) -> Result<bool> {
    if build {
        tools::ensure(tools::Needs {
            lint: false,
            browser: false,
        })?;
        test::build_release()?;
    }
    let dist = test::dist_dir();
    if !dist.join("index.html").is_file() {
        return Err(Error::Missing(format!(
            "no release build in {}; run `cargo xtask size` without --no-build",
            dist.display()
        )));
    }
    let report = size::measure(&dist)?;
    println!("{report}");
    if record {
        let path = budget::path();
        let date = cmd::capture(cmd::command("date").args(["-u", "+%Y-%m-%d"]))
            .unwrap_or_else(|| "undated".to_owned());
        let text = files::read_text(&path)?;
        files::write(&path, budget::record(&text, &report, &date).as_bytes())?;
        println!("recorded in {}", path.display());
    }
    let budget = budget::read()?;
    Ok(match budget.check(&report) {
        Ok(verdict) => {
            println!("{verdict}");
            true
        }
        Err(why) => {
            eprintln!("{why}");
            false
        }
    })
}

fn report_smallest() -> Result<bool> {
    if let Some(why) = smallest::unavailable() {
        return Err(Error::Missing(why));
    }
    report_size(true, false)?;
    let dist = smallest::build(&test::dist_dir())?;
    shrink::run(&dist)?;
    println!("{}", size::measure(&dist)?);
    Ok(true)
}

/// `cargo xtask bench`: the bench is its own crate (`bench/`, `hashgate-bench`), so this task
/// runner links no server; it needs the local identity provider, which a fork on its own
/// provider has deleted (README.md, "Use your own provider").
fn run_bench(args: &[String]) -> Result<bool> {
    if !cmd::root().join("idp/Cargo.toml").is_file() {
        return Err(Error::Missing(
            "the bench signs in with the local identity provider (idp/), which this checkout \
             does not have"
                .to_owned(),
        ));
    }
    cmd::run(
        cmd::cargo()
            .args(["run", "--quiet", "--package", "hashgate-bench", "--"])
            .args(args),
    )?;
    Ok(true)
}
