//! The release page keeps a hash-only CSP (README.md, Content-Security-Policy): `Trunk.toml`
//! turns Trunk's nonce on for the dev server's live reload, and the post-build hook must delete
//! its placeholders from a `trunk build`, since a fixed nonce in a static file is no secret.
//! `cargo xtask test` builds `dist/` and sets `HASHGATE_DIST`. By hand:
//!
//! ```text
//! trunk build --release --offline
//! HASHGATE_DIST=$PWD/dist cargo test -p xtask --test release_page
//! ```

use std::path::PathBuf;

use xtask::csp;

fn release_page() -> String {
    let Some(dist) = std::env::var_os("HASHGATE_DIST").filter(|dist| !dist.is_empty()) else {
        panic!(
            "HASHGATE_DIST is not set: build the release (`trunk build --release --offline`) and \
             run with HASHGATE_DIST=$PWD/dist, or run `cargo xtask test`, which does both"
        );
    };
    let path = PathBuf::from(dist).join("index.html");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{} is not readable: {error}", path.display()))
}

// CSP Level 3 §8.2: a nonce is only worth something when it is fresh for each response; the
// static release page has none, and allows its one inline script (the loader) by hash.
#[test]
fn the_release_page_allows_its_loader_by_hash_and_has_no_nonce() {
    let page = release_page();
    assert!(
        !page.contains("nonce"),
        "a nonce in the release page:\n{page}"
    );
    let scripts = csp::inline_scripts(&page);
    assert_eq!(
        scripts.len(),
        1,
        "inline scripts of the release page:\n{page}"
    );
    assert_eq!(
        csp::refused_inline_scripts(&page),
        Some(Vec::new()),
        "the release page's CSP refuses its loader:\n{page}"
    );
    let sources = csp::script_src_sources(&page).unwrap_or_default();
    assert!(
        sources.iter().all(|source| source.starts_with("'sha256-")),
        "script-src allows more than hashes: {sources:?}"
    );
}
