//! `cargo xtask test`: every check and test Hashgate has, in order, each under a header
//! (among them [`devserver::check`]: the dev server's page has no CSP error in Chromium's
//! console and reloads itself after a change; and [`own_provider::check`]: the workspace
//! without `idp/` builds and its hostile suite passes), then the size report and a summary. The last line is `N passed, N failed` (the
//! totals of cargo test's `test result:` lines), which CI reads.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    budget, cmd, devserver, own_provider, size,
    tools::{self, Needs},
    Error, Result,
};

/// How a step ended.
#[derive(Debug)]
pub enum Outcome {
    /// It succeeded.
    Passed,
    /// It failed, with the reason.
    Failed(String),
    /// It did not run, with the reason.
    Skipped(String),
}

/// One step of the run, for the summary.
#[derive(Debug)]
pub struct Step {
    /// What the step does.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took.
    pub elapsed: Duration,
}

/// Totals of cargo test's `test result:` lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
}

impl Totals {
    /// Adds the counts of a libtest `test result:` line; other lines are ignored.
    pub fn add_line(&mut self, line: &str) {
        if let Some((passed, failed)) = parse_test_result(line) {
            self.passed += passed;
            self.failed += failed;
        }
    }
}

/// `(passed, failed)` from `test result: ok. 3 passed; 0 failed; 0 ignored; ...`.
pub fn parse_test_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result:")?;
    let count = |label: &str| {
        rest.split(';').find_map(|part| {
            let mut words = part.split_whitespace().rev();
            // The count is the word before the label; the first part also holds "ok."
            (words.next() == Some(label))
                .then(|| words.next()?.parse::<u64>().ok())
                .flatten()
        })
    };
    Some((count("passed")?, count("failed")?))
}

#[derive(Default)]
struct Runner {
    steps: Vec<Step>,
}

impl Runner {
    /// Runs `work` under a header and records how it went; returns whether it passed.
    fn step(&mut self, name: &str, work: impl FnOnce() -> Result<()>) -> bool {
        println!("\n==> [{}] {name}", self.steps.len() + 1);
        let started = Instant::now();
        let outcome = match work() {
            Ok(()) => Outcome::Passed,
            Err(error) => {
                eprintln!("✗ {name}: {error}");
                Outcome::Failed(error.to_string())
            }
        };
        let passed = matches!(outcome, Outcome::Passed);
        self.steps.push(Step {
            name: name.to_owned(),
            outcome,
            elapsed: started.elapsed(),
        });
        passed
    }

    fn skip(&mut self, name: &str, why: &str) {
        println!("\n==> [{}] {name}: skipped, {why}", self.steps.len() + 1);
        self.steps.push(Step {
            name: name.to_owned(),
            outcome: Outcome::Skipped(why.to_owned()),
            elapsed: Duration::ZERO,
        });
    }

    fn all_passed(&self) -> bool {
        self.steps
            .iter()
            .all(|step| matches!(step.outcome, Outcome::Passed))
    }
}

/// Runs everything; returns whether all of it passed. Failures are printed as they happen.
pub fn run() -> Result<bool> {
    let started = Instant::now();
    let dist = dist_dir();
    let mut runner = Runner::default();
    let mut totals = Totals::default();

    let tools_ready = runner.step("tools", || {
        tools::ensure(Needs {
            lint: true,
            browser: true,
        })
    });
    let names = [
        "cargo fmt --check",
        "clippy (native)",
        "clippy (wasm32)",
        "cargo package (hashgate-protocol, hashgate-auth)",
        "trunk build --release",
        "dev server console (trunk serve, Chromium)",
        "cargo test",
        "without the local provider (idp/ and marked lines deleted)",
        "size report",
    ];
    if tools_ready {
        runner.step(names[0], || {
            cmd::run(cmd::cargo().args(["fmt", "--all", "--", "--check"]))
        });
        runner.step(names[1], || {
            cmd::run(cmd::cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        });
        runner.step(names[2], || {
            cmd::run(cmd::cargo().args([
                "clippy",
                "-p",
                "hashgate",
                "-p",
                "hashgate-auth",
                "-p",
                "hashgate-protocol",
                "--target",
                tools::WASM_TARGET,
                "--",
                "-D",
                "warnings",
            ]))
        });
        // The login and the protocol crate are publishable: packaged together, the login's path
        // dependency becomes a registry one. Their sources are built and tested by the other
        // steps, so the package is not built a second time here.
        runner.step(names[3], || {
            cmd::run(cmd::cargo().args([
                "package",
                "-p",
                "hashgate-protocol",
                "-p",
                "hashgate-auth",
                "--no-verify",
                "--allow-dirty",
            ]))
        });
        let built = runner.step(names[4], build_release);
        if built {
            // Reuses the release build just made: seconds, not a second wasm build.
            runner.step(names[5], devserver::check);
        } else {
            runner.skip(names[5], "there is no release build");
        }
        // A failed build leaves the previous dist/ behind; browser tests must not test it.
        let served = built.then_some(dist.as_path());
        runner.step(names[6], || cargo_test(served, &mut totals));
        if built {
            runner.step(names[7], || {
                own_provider::check(&dist, &mut |line| totals.add_line(line))
            });
            runner.step(names[8], || {
                let report = size::measure(&dist)?;
                println!("{report}");
                // Over the budget, the size_budget test has failed with this explanation.
                match budget::read()?.check(&report) {
                    Ok(verdict) | Err(verdict) => println!("{verdict}"),
                }
                Ok(())
            });
        } else {
            runner.skip(names[7], "there is no release build");
            runner.skip(names[8], "there is no release build");
        }
    } else {
        for name in names {
            runner.skip(name, "the tools are not ready");
        }
    }

    let passed = runner.all_passed();
    print_summary(&runner.steps, passed, started.elapsed());
    println!("{} passed, {} failed", totals.passed, totals.failed);
    Ok(passed)
}

/// `trunk build --release --offline` in the workspace root, into `dist/`.
pub fn build_release() -> Result<()> {
    cmd::run(cmd::command("trunk").args(["build", "--release", "--offline"]))
}

/// The directory `trunk build` writes to.
pub fn dist_dir() -> PathBuf {
    cmd::root().join("dist")
}

fn cargo_test(dist: Option<&Path>, totals: &mut Totals) -> Result<()> {
    let mut cargo = cmd::cargo();
    // --no-fail-fast: every test binary runs, so the totals and the failures are complete.
    // Two tests at a time: each browser test runs its own Chromium, and CI has two cores.
    cargo.args([
        "test",
        "--workspace",
        "--no-fail-fast",
        "--",
        "--test-threads=2",
    ]);
    match dist {
        Some(dist) => cargo.env("HASHGATE_DIST", dist),
        None => cargo.env_remove("HASHGATE_DIST"),
    };
    stream_cargo_test(&mut cargo, &mut |line| totals.add_line(line))
}

/// Runs a `cargo test` command, echoing its output and handing each line of its standard
/// output to `on_line` (for the [`Totals`]); fails unless it exits successfully.
pub fn stream_cargo_test(cargo: &mut Command, on_line: &mut dyn FnMut(&str)) -> Result<()> {
    let line = cmd::describe(cargo);
    println!("$ {line}");
    let mut child = cargo
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            command: line.clone(),
            source,
        })?;
    if let Some(stdout) = child.stdout.take() {
        for output in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{output}");
            on_line(&output);
        }
    }
    let status = child.wait().map_err(|source| Error::Spawn {
        command: line.clone(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            command: line,
            status,
        })
    }
}

/// `4.2s`, `3m 07s`.
pub fn format_duration(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    if seconds < 60 {
        format!("{:.1}s", elapsed.as_secs_f64())
    } else {
        format!("{}m {:02}s", seconds / 60, seconds % 60)
    }
}

fn print_summary(steps: &[Step], passed: bool, elapsed: Duration) {
    println!("\n==> summary");
    let width = steps.iter().map(|step| step.name.len()).max().unwrap_or(0);
    for step in steps {
        let (mark, note) = match &step.outcome {
            Outcome::Passed => ("✓", String::new()),
            Outcome::Failed(why) => ("✗", format!("  {}", first_line(why))),
            Outcome::Skipped(why) => ("-", format!("  skipped: {why}")),
        };
        println!(
            "  {mark} {:<width$}  {:>8}{note}",
            step.name,
            format_duration(step.elapsed)
        );
    }
    let verdict = if passed {
        "✓ all passed"
    } else {
        "✗ FAILED"
    };
    println!("  {verdict} in {}", format_duration(elapsed));
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    // This module's contract (see its doc): CI reads the closing `N passed, N failed` line,
    // summed over every test binary.
    #[test]
    fn test_result_lines_are_summed_and_other_lines_ignored() {
        let mut totals = Totals::default();
        for line in [
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "test result: FAILED. 10 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 9.87s",
            "test the_test_result_line ... ok",
            "running 3 tests",
        ] {
            totals.add_line(line);
        }
        assert_eq!(
            totals,
            Totals {
                passed: 13,
                failed: 2
            }
        );
    }

    #[test]
    fn durations_read_as_seconds_or_minutes() {
        assert_eq!(format_duration(Duration::from_millis(4200)), "4.2s");
        assert_eq!(format_duration(Duration::from_secs(187)), "3m 07s");
    }
}
