//! `cargo xtask csp`: Trunk's post-build hook that lets a strict Content-Security-Policy run the app.
//!
//! Trunk writes its wasm loader as an inline `<script type="module">`. `index.html` allows no inline
//! script (`script-src 'self' 'wasm-unsafe-eval'`), so after each build this adds the SHA-256 of
//! every inline script in the staged `index.html` to `script-src`, and nothing else.
//!
//! `Trunk.toml` sets `[build] create_nonce`: Trunk marks every script and link it writes with
//! `nonce="{{__TRUNK NONCE__}}"`, and `trunk serve` replaces that placeholder with a fresh random
//! nonce in each response (16 bytes from the OS, Trunk 0.21 `serve/mod.rs`). The hook tells the two
//! builds apart by Trunk's live-reload script, which only `trunk serve` appends:
//! - **served** (the dev server, live reload on): it adds `'nonce-{{__TRUNK NONCE__}}'` to
//!   `script-src`, so the served page allows exactly the scripts that carry this response's
//!   nonce — the loader and the reload script, whose text is completed per request and so
//!   cannot be hashed (CSP Level 3 §8.2: a nonce must be unguessable and fresh per response);
//! - **built** (`trunk build`): it deletes the placeholder attributes, since a fixed nonce in a
//!   static file would be known to everyone, and allows the loader by its hash, as before.

use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::{files, Error, Result};

/// The directive the hashes are appended to; `index.html` must contain it exactly once.
const SCRIPT_SRC: &str = "script-src 'self' 'wasm-unsafe-eval'";

/// Rewrites `$TRUNK_STAGING_DIR/index.html` (or `dir/index.html`) in place.
pub fn run(dir: Option<&Path>) -> Result<bool> {
    let dir: PathBuf = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::var_os("TRUNK_STAGING_DIR")
            .map(PathBuf::from)
            .ok_or_else(|| Error::Missing("TRUNK_STAGING_DIR is not set: `cargo xtask csp` runs as Trunk's post_build hook (or pass a directory)".into()))?,
    };
    let path = dir.join("index.html");
    let html = files::read_text(&path)?;
    let updated = finish_page(&html).ok_or_else(|| {
        Error::Missing(format!(
            "{}: no `{SCRIPT_SRC}` in its Content-Security-Policy",
            path.display()
        ))
    })?;
    files::write(&path, updated.as_bytes())?;
    Ok(true)
}

/// The nonce attribute Trunk writes with `[build] create_nonce` (its default placeholder).
pub const NONCE_PLACEHOLDER_ATTR: &str = " nonce=\"{{__TRUNK NONCE__}}\"";
/// The CSP source `trunk serve` completes with each response's nonce.
pub const NONCE_PLACEHOLDER_SOURCE: &str = "'nonce-{{__TRUNK NONCE__}}'";
/// The path of Trunk 0.21's live-reload WebSocket, named in the reload script `trunk serve`
/// appends to the page (and in nothing `trunk build` writes).
pub const RELOAD_SCRIPT_MARK: &str = ".well-known/trunk/ws";

/// Whether a staged page is being served by `trunk serve` with live reload.
pub fn is_served_with_live_reload(html: &str) -> bool {
    inline_scripts(html)
        .iter()
        .any(|script| script.body.contains(RELOAD_SCRIPT_MARK))
}

/// The hook's rewrite of a staged `index.html` (see the module docs): served with live reload,
/// the nonce placeholder joins `script-src`; built, the placeholder attributes go. Then the
/// inline scripts without a nonce are hashed into `script-src`. `None` when the page has no
/// strict `script-src`.
pub fn finish_page(html: &str) -> Option<String> {
    html.find(SCRIPT_SRC)?;
    if html.contains(NONCE_PLACEHOLDER_ATTR) && is_served_with_live_reload(html) {
        let page = add_inline_script_hashes(html)?;
        if page.contains(NONCE_PLACEHOLDER_SOURCE) {
            return Some(page);
        }
        let at = page.find(SCRIPT_SRC)? + SCRIPT_SRC.len();
        return Some(format!(
            "{} {NONCE_PLACEHOLDER_SOURCE}{}",
            &page[..at],
            &page[at..]
        ));
    }
    add_inline_script_hashes(&html.replace(NONCE_PLACEHOLDER_ATTR, ""))
}

/// Returns `html` with the hash of each inline `<script>` that has no nonce added to the CSP's
/// `script-src`; `None` when the page has no such directive.
pub fn add_inline_script_hashes(html: &str) -> Option<String> {
    let hashes: Vec<String> = inline_scripts(html)
        .into_iter()
        .filter(|script| script.nonce.is_none())
        .map(|script| script_hash(script.body))
        .collect();
    let at = html.find(SCRIPT_SRC)? + SCRIPT_SRC.len();
    let mut out = String::with_capacity(html.len() + hashes.len() * 56);
    out.push_str(&html[..at]);
    for h in hashes {
        if !html[at..].starts_with(&format!(" {h}")) {
            out.push(' ');
            out.push_str(&h);
        }
    }
    out.push_str(&html[at..]);
    Some(out)
}

/// Returns `html` with the `'sha256-…'` sources that follow the strict `script-src` removed,
/// so a page whose inline scripts changed can be hashed again; `None` without the directive.
pub fn remove_script_hashes(html: &str) -> Option<String> {
    let at = html.find(SCRIPT_SRC)? + SCRIPT_SRC.len();
    let mut rest = &html[at..];
    while let Some(after) = rest.strip_prefix(" 'sha256-") {
        let end = after.find('\'')?;
        rest = &after[end + 1..];
    }
    Some(format!("{}{rest}", &html[..at]))
}

/// The sources the strict `script-src` of `html` lists after `'self' 'wasm-unsafe-eval'`
/// (hashes and nonces); `None` when the page has no such directive.
pub fn script_src_sources(html: &str) -> Option<Vec<&str>> {
    let at = html.find(SCRIPT_SRC)? + SCRIPT_SRC.len();
    let directive = &html[at..];
    let directive = &directive[..directive.find([';', '"']).unwrap_or(directive.len())];
    Some(directive.split_whitespace().collect())
}

/// The inline `<script>`s of `html` that its CSP refuses: those whose SHA-256 is not among
/// the `'sha256-…'` sources of the strict `script-src` and whose `nonce` attribute is not among
/// its `'nonce-…'` sources (CSP Level 3 §6.7.3.3), each as its first 80 characters. `None` when
/// the page has no such directive.
pub fn refused_inline_scripts(html: &str) -> Option<Vec<String>> {
    let allowed = script_src_sources(html)?;
    Some(
        inline_scripts(html)
            .into_iter()
            .filter(|script| {
                let by_nonce = script
                    .nonce
                    .is_some_and(|nonce| allowed.contains(&format!("'nonce-{nonce}'").as_str()));
                !by_nonce && !allowed.contains(&script_hash(script.body).as_str())
            })
            .map(|script| script.body.trim().chars().take(80).collect())
            .collect(),
    )
}

/// `'sha256-<base64>'`, the CSP source that allows an inline script with this exact text.
fn script_hash(body: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()))
    )
}

/// An inline `<script>` of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineScript<'a> {
    /// The value of its `nonce` attribute, if it has one.
    pub nonce: Option<&'a str>,
    /// Its text.
    pub body: &'a str,
}

/// The `<script>` elements of `html` without a `src` attribute.
pub fn inline_scripts(html: &str) -> Vec<InlineScript<'_>> {
    let mut bodies = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let tag = &after[..tag_end];
        let body_and_rest = &after[tag_end + 1..];
        let Some(close) = body_and_rest.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            let nonce = tag
                .split_once(" nonce=\"")
                .and_then(|(_, value)| value.split_once('"').map(|(nonce, _)| nonce));
            bodies.push(InlineScript {
                nonce,
                body: &body_and_rest[..close],
            });
        }
        rest = &body_and_rest[close + "</script>".len()..];
    }
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_inline_script_hash_is_added_to_script_src_and_external_scripts_are_not() {
        let html = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'\">\
                    <script type=\"module\">alert(1)</script><script src=\"/x.js\"></script>";
        let out = add_inline_script_hashes(html).unwrap();
        // echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert!(out.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='; style-src"), "{out}");
        assert_eq!(out.matches("sha256-").count(), 1);
    }

    #[test]
    fn old_script_hashes_are_removed_and_new_ones_added() {
        let html = "<meta content=\"script-src 'self' 'wasm-unsafe-eval' 'sha256-old1=' 'sha256-old2='; style-src 'self'\"><script>alert(1)</script>";
        let stripped = remove_script_hashes(html).unwrap();
        assert!(
            stripped.contains("'wasm-unsafe-eval'; style-src"),
            "{stripped}"
        );
        let out = add_inline_script_hashes(&stripped).unwrap();
        assert!(!out.contains("old"), "{out}");
        assert_eq!(out.matches("sha256-").count(), 1, "{out}");
        assert!(remove_script_hashes("<meta content=\"script-src *\">").is_none());
    }

    // CSP Level 3 §6.7.3.3: an inline script runs only if its hash is in script-src; a page
    // whose loader was hashed but which gained another inline script (trunk serve's reload
    // script) has exactly that one refused.
    #[test]
    fn inline_scripts_without_their_hash_in_script_src_are_the_refused_ones() {
        let page = "<meta content=\"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'\">\
                    <script type=\"module\">loader()</script><script src=\"/x.js\"></script>";
        let built = add_inline_script_hashes(page).unwrap();
        assert_eq!(
            refused_inline_scripts(&built).unwrap(),
            Vec::<String>::new()
        );
        let served = built.replace("</body>", "") + "<script>\"use strict\"; reload()</script>";
        assert_eq!(
            refused_inline_scripts(&served).unwrap(),
            vec!["\"use strict\"; reload()".to_owned()]
        );
        // Without the hashes, the loader itself is refused.
        assert_eq!(
            refused_inline_scripts(page).unwrap(),
            vec!["loader()".to_owned()]
        );
        assert!(refused_inline_scripts("<meta content=\"script-src *\">").is_none());
    }

    const STAGED: &str = "<meta content=\"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'\">\
                          <link rel=\"modulepreload\" nonce=\"{{__TRUNK NONCE__}}\" href=\"/app.js\">\
                          <script type=\"module\" nonce=\"{{__TRUNK NONCE__}}\">loader()</script>";
    const RELOAD: &str = "<script nonce=\"{{__TRUNK NONCE__}}\">\"use strict\"; const url = '.well-known/trunk/ws';</script>";

    // Trunk.toml (create_nonce): a `trunk build` page keeps no nonce at all — a fixed nonce in
    // a static file would be known to every attacker — and allows its loader by hash, exactly
    // as a build without create_nonce.
    #[test]
    fn a_built_page_loses_the_nonce_placeholders_and_hashes_its_loader() {
        let built = finish_page(STAGED).unwrap();
        assert!(!built.contains("nonce"), "{built}");
        let plain = STAGED.replace(NONCE_PLACEHOLDER_ATTR, "");
        assert_eq!(built, add_inline_script_hashes(&plain).unwrap());
        assert_eq!(script_src_sources(&built).unwrap().len(), 1, "{built}");
        assert_eq!(
            refused_inline_scripts(&built).unwrap(),
            Vec::<String>::new()
        );
    }

    // README.md, Content-Security-Policy: served with live reload, the page allows the scripts
    // that carry the response's nonce (`trunk serve` completes the placeholder per response) and
    // nothing inline without it.
    #[test]
    fn a_served_page_allows_its_nonce_and_refuses_scripts_without_it() {
        let staged = format!("{STAGED}{RELOAD}");
        assert!(is_served_with_live_reload(&staged));
        assert!(!is_served_with_live_reload(STAGED));
        let page = finish_page(&staged).unwrap();
        assert!(
            page.contains(
                "script-src 'self' 'wasm-unsafe-eval' 'nonce-{{__TRUNK NONCE__}}'; style-src"
            ),
            "{page}"
        );
        // The hook runs once per build, but running it twice must not add the source twice.
        assert_eq!(finish_page(&page).unwrap(), page);
        // What the browser gets: the placeholder replaced with this response's nonce.
        let served = page.replace("{{__TRUNK NONCE__}}", "bm9uY2Utb2YtdGhpcy1yZXNwb25zZQ==");
        assert_eq!(
            refused_inline_scripts(&served).unwrap(),
            Vec::<String>::new()
        );
        let injected =
            format!("{served}<script>alert(1)</script><script nonce=\"guessed\">alert(2)</script>");
        assert_eq!(
            refused_inline_scripts(&injected).unwrap(),
            vec!["alert(1)".to_owned(), "alert(2)".to_owned()]
        );
    }

    #[test]
    fn a_page_without_the_strict_directive_is_refused() {
        assert!(finish_page("<meta content=\"script-src *\"><script>x</script>").is_none());
        assert!(
            add_inline_script_hashes("<meta content=\"script-src *\"><script>x</script>").is_none()
        );
    }
}
