//! `cargo xtask csp`: Trunk's post-build hook that lets a strict Content-Security-Policy run the app.
//!
//! Trunk writes its wasm loader as an inline `<script type="module">`. `index.html` allows no inline
//! script (`script-src 'self' 'wasm-unsafe-eval'`), so after each build this adds the SHA-256 of
//! every inline script in the staged `index.html` to `script-src`, and nothing else.

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
    let updated = add_inline_script_hashes(&html).ok_or_else(|| {
        Error::Missing(format!(
            "{}: no `{SCRIPT_SRC}` in its Content-Security-Policy",
            path.display()
        ))
    })?;
    files::write(&path, updated.as_bytes())?;
    Ok(true)
}

/// Returns `html` with the hash of each inline `<script>` added to the CSP's `script-src`;
/// `None` when the page has no such directive.
pub fn add_inline_script_hashes(html: &str) -> Option<String> {
    let hashes: Vec<String> = inline_scripts(html).into_iter().map(script_hash).collect();
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

/// The inline `<script>`s of `html` that its CSP refuses: those whose SHA-256 is not among
/// the `'sha256-…'` sources of the strict `script-src` (CSP Level 3 §6.7.3.3), each as its first
/// 80 characters. `None` when the page has no such directive.
pub fn refused_inline_scripts(html: &str) -> Option<Vec<String>> {
    let at = html.find(SCRIPT_SRC)? + SCRIPT_SRC.len();
    let directive = &html[at..];
    let directive = &directive[..directive.find([';', '"']).unwrap_or(directive.len())];
    let allowed: Vec<&str> = directive.split_whitespace().collect();
    Some(
        inline_scripts(html)
            .into_iter()
            .filter(|body| !allowed.contains(&script_hash(body).as_str()))
            .map(|body| body.trim().chars().take(80).collect())
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

/// Bodies of `<script>` elements without a `src` attribute.
fn inline_scripts(html: &str) -> Vec<&str> {
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
            bodies.push(&body_and_rest[..close]);
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

    #[test]
    fn a_page_without_the_strict_directive_is_refused() {
        assert!(
            add_inline_script_hashes("<meta content=\"script-src *\"><script>x</script>").is_none()
        );
    }
}
