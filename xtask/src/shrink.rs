//! The release build's last squeeze, in Trunk's post_build hook: the wasm-bindgen glue minified
//! and the wasm without custom sections, then the page's integrity hashes renewed.
//!
//! - Trunk's `minify` leaves the glue as it is: its minifier (minify-js) cannot parse the
//!   `export { initSync, __wbg_init as default }` that wasm-bindgen writes, warns, and copies
//!   the file unchanged. The same minifier reads the glue once that export is written as two
//!   statements, so the hook does it.
//! - wasm-bindgen writes custom sections into the module it emits (`name` for its import shims,
//!   `producers`, `target_features`, …). Browsers ignore them; every visitor would download them.
//!
//! Both files keep their names; `index.html` gets their new Subresource Integrity hashes (and
//! the CSP hash of the inline loader is computed afterwards, as for every build).

use std::fs;
use std::path::Path;

use crate::{smallest, Error, Result};

/// The export minify-js 0.5 cannot parse, and the same export in two statements.
const EXPORT: &str = "export { initSync, __wbg_init as default };";
const EXPORT_SPLIT: &str = "export { initSync }; export default __wbg_init;";

/// Shrinks the glue and the wasm of the build in `staging` and renews their integrity in its
/// `index.html`. `Ok(false)` when the page has no Trunk wasm loader.
pub fn run(staging: &Path) -> Result<bool> {
    let index_path = staging.join("index.html");
    let index = read_text(&index_path)?;
    let Some(stem) = smallest::loader_stem(&index) else {
        return Ok(false);
    };
    let js_path = staging.join(format!("{stem}.js"));
    let wasm_path = staging.join(format!("{stem}_bg.wasm"));
    let glue = read_text(&js_path)?;
    // A glue the minifier cannot read is shipped as it is: smaller is not worth a broken page.
    let js = minify_glue(&glue).unwrap_or_else(|| glue.into_bytes());
    let wasm = fs::read(&wasm_path).map_err(|source| Error::Io {
        path: wasm_path.clone(),
        source,
    })?;
    let wasm = without_custom_sections(&wasm)
        .ok_or_else(|| Error::Missing(format!("{}: not a wasm module", wasm_path.display())))?;
    let html = smallest::rewrite_index(&index, &stem, &stem, &js, &wasm).ok_or_else(|| {
        Error::Missing(format!(
            "{}: the loader, its preload links or the CSP are not where Trunk puts them",
            index_path.display()
        ))
    })?;
    write(&js_path, &js)?;
    write(&wasm_path, &wasm)?;
    write(&index_path, html.as_bytes())?;
    Ok(true)
}

/// The glue minified; `None` when it lacks wasm-bindgen's export or does not parse.
pub fn minify_glue(glue: &str) -> Option<Vec<u8>> {
    if !glue.contains(EXPORT) {
        return None;
    }
    let source = glue.replacen(EXPORT, EXPORT_SPLIT, 1);
    let session = minify_js::Session::new();
    let mut out = Vec::new();
    minify_js::minify(
        &session,
        minify_js::TopLevelMode::Module,
        source.as_bytes(),
        &mut out,
    )
    .ok()?;
    Some(out)
}

/// `wasm` without its custom sections (id 0: names, producers, target features, …), every
/// other section byte for byte. `None` when it is not a well-formed wasm module.
pub fn without_custom_sections(wasm: &[u8]) -> Option<Vec<u8>> {
    /// An unsigned LEB128 at `at`, which moves past it.
    fn leb(bytes: &[u8], at: &mut usize) -> Option<usize> {
        let (mut value, mut shift) = (0usize, 0u32);
        loop {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= usize::from(byte & 0x7f).checked_shl(shift)?;
            if byte < 0x80 {
                return Some(value);
            }
            shift += 7;
        }
    }
    if wasm.get(..4)? != b"\0asm" {
        return None;
    }
    let mut out = wasm.get(..8)?.to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        at += 1;
        let size = leb(wasm, &mut at)?;
        let end = at.checked_add(size)?;
        let section = wasm.get(start..end)?;
        if id != 0 {
            out.extend_from_slice(section);
        }
        at = end;
    }
    Some(out)
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    // What the page imports from the glue (`init` as default, `initSync`) must survive
    // minification, and the glue must get smaller.
    #[test]
    fn the_glue_is_minified_and_keeps_both_exports() {
        let glue = format!(
            "function initSync(module) {{ const longName = module; return longName; }}\n\
             async function __wbg_init(module_or_path) {{ const another = module_or_path; return another; }}\n\
             {EXPORT}\n"
        );
        let out = String::from_utf8(minify_glue(&glue).unwrap()).unwrap();
        assert!(out.len() < glue.len(), "{out}");
        assert!(out.contains("export default"), "{out}");
        assert!(out.contains("initSync"), "{out}");
        assert!(!out.contains("longName"), "{out}");
    }

    // Anything that is not wasm-bindgen's glue, or does not parse, is left to ship unchanged.
    #[test]
    fn other_javascript_is_left_alone() {
        assert_eq!(minify_glue("export const x = 1;"), None);
        assert_eq!(
            minify_glue(&format!("{EXPORT} this is ( not javascript")),
            None
        );
    }

    // WebAssembly Core §5.5.3: custom sections carry nothing the engine runs; every other
    // section ships byte for byte.
    #[test]
    fn custom_sections_are_removed_and_the_rest_is_kept_byte_for_byte() {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type section
        wasm.extend_from_slice(&[0, 5, 4, b'n', b'a', b'm', b'e']); // custom "name"
        wasm.extend_from_slice(&[3, 2, 1, 0]); // function section
        let out = without_custom_sections(&wasm).unwrap();
        assert_eq!(out, [&wasm[..14], &[3, 2, 1, 0]].concat());
    }

    // A file that is not a whole wasm module is refused, never half copied.
    #[test]
    fn a_truncated_or_foreign_file_is_refused() {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        assert_eq!(without_custom_sections(b"not wasm at all"), None);
        assert_eq!(without_custom_sections(&wasm[..12]), None);
        // A section size in a LEB128 that never ends.
        assert_eq!(
            without_custom_sections(&[&wasm[..8], &[0, 0xff, 0xff]].concat()),
            None
        );
    }
}
