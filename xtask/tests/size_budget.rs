//! The bundle-size budget (README.md, The size budget): the brotli total of the release build
//! (html + js + wasm + css of `dist/`) must stay at or under `budget-kib` in `size-budget.toml`,
//! so a size regression fails `cargo xtask test`, which builds `dist/` and sets `HASHGATE_DIST`.
//! The failure lists each part's bytes against the last recorded build and the line to raise.
//! By hand:
//!
//! ```text
//! trunk build --release --offline
//! HASHGATE_DIST=$PWD/dist cargo test -p xtask --test size_budget
//! ```

#![allow(clippy::unwrap_used)] // a test file: a failed write is a failed test

use std::path::{Path, PathBuf};

use xtask::{
    budget::{self, Budget},
    size::{self, human},
};

fn dist() -> PathBuf {
    let Some(dist) = std::env::var_os("HASHGATE_DIST").filter(|dist| !dist.is_empty()) else {
        panic!(
            "HASHGATE_DIST is not set: build the release (`trunk build --release --offline`) and \
             run with HASHGATE_DIST=$PWD/dist, or run `cargo xtask test`, which does both"
        );
    };
    PathBuf::from(dist)
}

// README.md, The size budget: the brotli total of the release build stays under the budget of
// size-budget.toml.
#[test]
fn the_release_build_stays_under_the_brotli_budget() {
    let dist = dist();
    assert!(
        dist.join("index.html").is_file(),
        "{} holds no release build (no index.html)",
        dist.display()
    );
    let report = size::measure(&dist).unwrap();
    // A build without its wasm would pass any budget; that is a broken build, not a small one.
    assert!(
        report.of(size::Kind::Wasm).raw > 0,
        "no .wasm in {}",
        dist.display()
    );
    let budget = budget::read().unwrap();
    match budget.check(&report) {
        Ok(verdict) => println!("{verdict}"),
        Err(why) => panic!("{why}\n{report}"),
    }
}

// README.md, The size budget: the check really rejects a build over the budget (incompressible
// bytes cannot hide under brotli), and names the wasm as what grew.
#[test]
fn a_build_over_the_budget_is_rejected_and_one_under_it_accepted() {
    let dir = tempfile::tempdir().unwrap();
    write_noise(dir.path(), 64 * 1024);
    let report = size::measure(dir.path()).unwrap();
    let brotli = report.total().brotli;
    assert!(brotli > 60 * 1024, "noise compressed to {}", human(brotli));

    let kib = brotli / 1024;
    let text =
        format!("budget-kib = {kib}\n\n[recorded]\nhtml = 0\njs = 0\nwasm = 1000\ncss = 0\n");
    let over = Budget::parse(&text).unwrap().check(&report).unwrap_err();
    assert!(over.contains("over the budget"), "{over}");
    assert!(
        over.contains(&format!("  wasm       1000 -> {brotli:>9}")),
        "{over}"
    );
    assert!(over.contains(&format!("to {}", kib + 1)), "{over}");
    let roomy = Budget::parse(&format!("budget-kib = {}\n", kib + 1)).unwrap();
    assert!(roomy.check(&report).is_ok());
}

/// `len` bytes of xorshift noise as `app_bg.wasm` in `dir`.
fn write_noise(dir: &Path, len: usize) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    std::fs::write(dir.join("app_bg.wasm"), bytes).unwrap();
}
