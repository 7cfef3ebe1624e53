//! The size budget of the release build, in one place: `budget-kib` in [`FILE`] at the
//! workspace root. The brotli -11 total of the html, js, wasm and css in `dist/` must stay at or
//! under it; `cargo xtask test` fails otherwise (`xtask/tests/size_budget.rs`) and says what grew
//! against the parts of the last recorded build (the `[recorded]` table of the same file, which
//! `cargo xtask size --record` rewrites) and which line to raise.

use std::{fmt::Write as _, path::PathBuf};

use serde::Deserialize;

use crate::{
    cmd, files,
    size::{human, Kind, SizeReport},
    Error, Result,
};

/// The file that holds the budget, at the workspace root.
pub const FILE: &str = "size-budget.toml";

/// The key of the one number.
const KEY: &str = "budget-kib";

/// The header of the recorded parts; everything from it to the end of the file is rewritten by
/// [`record`].
const RECORDED: &str = "[recorded]";

/// Brotli bytes of each part of a build, as [`FILE`] records them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parts {
    /// `.html` files.
    pub html: u64,
    /// `.js` files.
    pub js: u64,
    /// `.wasm` files.
    pub wasm: u64,
    /// `.css` files.
    pub css: u64,
}

impl Parts {
    /// The brotli bytes of each kind in `report`.
    pub fn of(report: &SizeReport) -> Parts {
        let brotli = |kind| report.of(kind).brotli;
        Parts {
            html: brotli(Kind::Html),
            js: brotli(Kind::Js),
            wasm: brotli(Kind::Wasm),
            css: brotli(Kind::Css),
        }
    }

    fn get(self, kind: Kind) -> u64 {
        match kind {
            Kind::Html => self.html,
            Kind::Js => self.js,
            Kind::Wasm => self.wasm,
            Kind::Css => self.css,
        }
    }

    fn total(self) -> u64 {
        self.html + self.js + self.wasm + self.css
    }
}

/// What [`FILE`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// The budget in KiB (1024 bytes) of brotli output.
    pub kib: u64,
    /// The 1-based line of [`FILE`] that holds it, for the failure message.
    pub line: usize,
    /// The parts of the last recorded build, if the file has them.
    pub recorded: Option<Parts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    #[serde(rename = "budget-kib")]
    kib: u64,
    recorded: Option<Parts>,
}

impl Budget {
    /// The budget in bytes.
    pub fn bytes(&self) -> u64 {
        self.kib * 1024
    }

    /// Reads the text of [`FILE`].
    pub fn parse(text: &str) -> std::result::Result<Budget, toml::de::Error> {
        let file: BudgetFile = toml::from_str(text)?;
        let line = text
            .lines()
            .position(|line| line.trim_start().starts_with(KEY))
            .map_or(1, |index| index + 1);
        Ok(Budget {
            kib: file.kib,
            line,
            recorded: file.recorded,
        })
    }

    /// `Ok` with a one-line verdict when `report` is within the budget; `Err` with what grew
    /// and the line to raise when it is over.
    pub fn check(&self, report: &SizeReport) -> std::result::Result<String, String> {
        let total = report.total().brotli;
        if total <= self.bytes() {
            return Ok(format!(
                "brotli total {} ({total} B) of the {} KiB budget ({FILE}): {} to spare",
                human(total),
                self.kib,
                human(self.bytes() - total)
            ));
        }
        let mut message = format!(
            "the release build is {} brotli ({total} B), over the budget of {} KiB ({} B) by \
             {} B.\n",
            human(total),
            self.kib,
            self.bytes(),
            total - self.bytes()
        );
        let now = Parts::of(report);
        match self.recorded {
            Some(recorded) => {
                let _ = writeln!(
                    message,
                    "What grew since the last recorded build ({FILE}, {RECORDED}), brotli bytes:"
                );
                for kind in Kind::ALL {
                    let _ = writeln!(
                        message,
                        "{}",
                        part_line(kind.label(), recorded.get(kind), now.get(kind))
                    );
                }
                let _ = writeln!(
                    message,
                    "{}",
                    part_line("total", recorded.total(), now.total())
                );
            }
            None => {
                let _ = writeln!(
                    message,
                    "No recorded build to compare with ({FILE} has no {RECORDED}); brotli bytes now:"
                );
                for kind in Kind::ALL {
                    let _ = writeln!(message, "  {:<5} {:>9}", kind.label(), now.get(kind));
                }
            }
        }
        let _ = write!(
            message,
            "If the growth is wanted, raise `{KEY} = {}` on line {} of {FILE} to {} (or more), \
             with the reason in the commit, and run `cargo xtask size --record`; otherwise \
             shrink what grew.",
            self.kib,
            self.line,
            total.div_ceil(1024)
        );
        Err(message)
    }
}

/// `  wasm     170000 ->   171000  (+1000)`.
fn part_line(label: &str, then: u64, now: u64) -> String {
    let change = i128::from(now) - i128::from(then);
    format!("  {label:<5} {then:>9} -> {now:>9}  ({change:+})")
}

/// The path of [`FILE`] in this workspace.
pub fn path() -> PathBuf {
    cmd::root().join(FILE)
}

/// Reads [`FILE`] of this workspace.
pub fn read() -> Result<Budget> {
    let path = path();
    let text = files::read_text(&path)?;
    Budget::parse(&text).map_err(|source| Error::Toml { path, source })
}

/// `text` (of [`FILE`]) with its `[recorded]` table replaced by the parts of `report`, dated
/// `date`; the budget and every comment above the table are kept.
pub fn record(text: &str, report: &SizeReport, date: &str) -> String {
    let head = text
        .find(&format!("\n{RECORDED}"))
        .map_or(text.trim_end(), |at| &text[..at]);
    let parts = Parts::of(report);
    format!(
        "{head}\n{RECORDED}\n# {date}: {} brotli in total.\nhtml = {}\njs = {}\nwasm = {}\ncss = {}\n",
        human(parts.total()),
        parts.html,
        parts.js,
        parts.wasm,
        parts.css
    )
}

/// The size report's closing line: where the build stands against the budget. A build over it
/// is an error with the whole explanation.
pub fn verdict(report: &SizeReport) -> Result<String> {
    read()?.check(report).map_err(Error::Missing)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::size::Sizes;

    fn report(html: u64, js: u64, wasm: u64, css: u64) -> SizeReport {
        let sizes = |brotli| Sizes {
            raw: brotli * 3,
            gzip: brotli * 2,
            brotli,
        };
        SizeReport {
            dist: PathBuf::from("dist"),
            kinds: vec![
                (Kind::Html, 1, sizes(html)),
                (Kind::Js, 1, sizes(js)),
                (Kind::Wasm, 1, sizes(wasm)),
                (Kind::Css, 1, sizes(css)),
            ],
            other_files: 0,
        }
    }

    const FILE_TEXT: &str = "# The budget.\n\nbudget-kib = 100\n\n[recorded]\n# 2026-12-07.\nhtml = 900\njs = 3000\nwasm = 96000\ncss = 1500\n";

    // size-budget.toml: one number, and the recorded parts beside it.
    #[test]
    fn the_budget_file_gives_the_number_its_line_and_the_recorded_parts() {
        let budget = Budget::parse(FILE_TEXT).unwrap();
        assert_eq!(budget.kib, 100);
        assert_eq!(budget.bytes(), 102_400);
        assert_eq!(budget.line, 3);
        assert_eq!(
            budget.recorded,
            Some(Parts {
                html: 900,
                js: 3000,
                wasm: 96_000,
                css: 1500
            })
        );
        assert!(Budget::parse("budget-kib = \"lots\"\n").is_err());
        assert!(Budget::parse("budget_kib = 170\n").is_err());
        assert!(Budget::parse("budget-kib = 170\n[recorded]\nhtml = 1\n").is_err());
    }

    // README.md, The size budget: a build over it fails with what grew (each part, bytes, against
    // the recorded build) and the line to raise; one at or under it passes.
    #[test]
    fn a_build_over_the_budget_names_what_grew_and_the_line_to_raise() {
        let budget = Budget::parse(FILE_TEXT).unwrap();
        assert!(budget.check(&report(900, 3000, 98_500, 0)).is_ok());
        let why = budget.check(&report(900, 2990, 98_000, 1500)).unwrap_err();
        assert!(
            why.contains("over the budget of 100 KiB (102400 B) by 990 B"),
            "{why}"
        );
        assert!(
            why.contains("  wasm      96000 ->     98000  (+2000)"),
            "{why}"
        );
        assert!(
            why.contains("  js         3000 ->      2990  (-10)"),
            "{why}"
        );
        assert!(
            why.contains("  html        900 ->       900  (+0)"),
            "{why}"
        );
        assert!(
            why.contains("  total    101400 ->    103390  (+1990)"),
            "{why}"
        );
        assert!(
            why.contains("raise `budget-kib = 100` on line 3 of size-budget.toml to 101"),
            "{why}"
        );
        let unrecorded = Budget::parse("budget-kib = 1\n").unwrap();
        let why = unrecorded.check(&report(0, 0, 2000, 0)).unwrap_err();
        assert!(why.contains("no [recorded]"), "{why}");
        assert!(why.contains("  wasm       2000"), "{why}");
        assert!(why.contains("on line 1 of size-budget.toml to 2"), "{why}");
    }

    // `cargo xtask size --record`: the recorded parts are rewritten, the budget and comments kept.
    #[test]
    fn recording_rewrites_only_the_recorded_parts() {
        let written = record(FILE_TEXT, &report(1, 2, 3, 4), "2026-12-08");
        assert!(
            written.starts_with("# The budget.\n\nbudget-kib = 100\n\n[recorded]\n# 2026-12-08"),
            "{written}"
        );
        let budget = Budget::parse(&written).unwrap();
        assert_eq!(budget.kib, 100);
        assert_eq!(
            budget.recorded,
            Some(Parts {
                html: 1,
                js: 2,
                wasm: 3,
                css: 4
            })
        );
        let first = record("budget-kib = 7\n", &report(1, 2, 3, 4), "2026-12-08");
        assert_eq!(Budget::parse(&first).unwrap().recorded.unwrap().css, 4);
    }

    // The repository's own budget: 189 KiB (README.md, The size budget), and a recorded build.
    #[test]
    fn this_repository_keeps_189_kib() {
        let budget = read().unwrap();
        assert_eq!(budget.kib, 189);
        assert!(budget.recorded.is_some());
    }
}
