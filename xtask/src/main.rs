//! Hashgate's task runner. Run it through the cargo alias:
//!
//! ```text
//! cargo xtask test               # tools, fmt, clippy, release build, all tests, size, summary
//! cargo xtask dev                # run the demo: idp :3000, api :3001, trunk serve :8080
//! cargo xtask size [--no-build]  # size report of dist/ (builds it first unless --no-build)
//! cargo xtask size --smallest     # opt-in nightly build into dist-smallest/, and its report
//! cargo xtask bench [--no-build] [--duration S] [--login-runs N]  # vs JS peers; bench/results/
//! ```

use std::process::ExitCode;

use xtask::{bench, cmd, csp, dev, size, smallest, test, tools, Error, Result};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test               install missing tools, check formatting and lints, build the release,
                     run every test (browser tests in headless Chromium), report sizes
  dev                start the identity provider, the API and `trunk serve`; Ctrl-C stops all
  size [--no-build]  build the release (unless --no-build) and report its size
  size --smallest    also build the opt-in smallest release (nightly toolchain with rust-src)
                     into dist-smallest/ and report both
  bench [--no-build] [--duration S] [--login-runs N]
                     transfer size, API throughput and login round trip against the
                     JavaScript peers (React + auth0-js, Express); writes bench/results/";

fn main() -> ExitCode {
    cmd::put_cargo_bin_on_path();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match dispatch(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(Error::Usage(message)) => {
            eprintln!("{message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[&str]) -> Result<bool> {
    match args {
        ["test"] => test::run(),
        ["dev"] => dev::run().map(|()| true),
        // Trunk's post_build hook (see Trunk.toml); not meant to be typed by hand.
        ["csp"] => csp::run(None),
        ["csp", dir] => csp::run(Some(std::path::Path::new(dir))),
        ["size"] => report_size(true),
        ["size", "--no-build"] => report_size(false),
        ["size", "--smallest"] => report_smallest(),
        ["bench", rest @ ..] => bench::run(&bench::Options::parse(rest)?),
        [] | ["help"] | ["--help"] | ["-h"] => {
            println!("{USAGE}");
            Ok(true)
        }
        other => Err(Error::Usage(format!(
            "unknown arguments: {}",
            other.join(" ")
        ))),
    }
}

fn report_size(build: bool) -> Result<bool> {
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
    println!("{}", size::measure(&dist)?);
    Ok(true)
}

fn report_smallest() -> Result<bool> {
    if let Some(why) = smallest::unavailable() {
        return Err(Error::Missing(why));
    }
    report_size(true)?;
    let dist = smallest::build(&test::dist_dir())?;
    println!("{}", size::measure(&dist)?);
    Ok(true)
}
