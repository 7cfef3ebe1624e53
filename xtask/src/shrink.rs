//! The release build's last squeeze, in Trunk's post_build hook: the wasm-bindgen glue minified,
//! the wasm without custom sections, short import and export names in both, then the page's
//! integrity hashes renewed.
//!
//! - Trunk's `minify` leaves the glue as it is: its minifier (minify-js) cannot parse the
//!   `export { initSync, __wbg_init as default }` that wasm-bindgen writes, warns, and copies
//!   the file unchanged. The same minifier reads the glue once that export is written as two
//!   statements, so the hook does it.
//! - wasm-bindgen writes custom sections into the module it emits (`name` for its import shims,
//!   `producers`, `target_features`, …). Browsers ignore them; every visitor would download them.
//! - wasm-bindgen names every import from its glue `__wbg_<function>_<16 hex digits>`: about two
//!   hundred random hashes, written once in the wasm and once in the glue, that no compressor can
//!   shrink. Each becomes a short name in both files (`a`, `b`, … `Z`, `aa`, …), checked to be the
//!   glue's own key for it. The module's exports (`__wbindgen_export4`,
//!   `__wasm_bindgen_func_elem_357`, …) get short names too, where the glue only ever reads them
//!   as properties of the module's exports.
//!
//! Both files keep their names; `index.html` gets their new Subresource Integrity hashes (and
//! the CSP hash of the inline loader is computed afterwards, as for every build).

use std::path::Path;

use crate::{
    files::{read_bytes, read_text, write},
    smallest, Error, Result,
};

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
    let wasm = read_bytes(&wasm_path)?;
    let wasm = without_custom_sections(&wasm)
        .ok_or_else(|| Error::Missing(format!("{}: not a wasm module", wasm_path.display())))?;
    // Glue and module keep their long import names where the renaming cannot be proven sound.
    let (wasm, js) = match std::str::from_utf8(&js)
        .ok()
        .and_then(|glue| short_import_names(&wasm, glue))
    {
        Some((wasm, glue)) => (wasm, glue.into_bytes()),
        None => (wasm, js),
    };
    let (wasm, js) = match std::str::from_utf8(&js)
        .ok()
        .and_then(|glue| short_export_names(&wasm, glue))
    {
        Some((wasm, glue)) => (wasm, glue.into_bytes()),
        None => (wasm, js),
    };
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
    map_sections(wasm, |id, _| {
        Some(if id == 0 {
            Section::Drop
        } else {
            Section::Keep
        })
    })
}

/// What becomes of one section when [`map_sections`] rebuilds a module.
enum Section {
    /// Copied byte for byte.
    Keep,
    /// Left out.
    Drop,
    /// The same id with these contents.
    Replace(Vec<u8>),
}

/// `wasm` rebuilt section by section, in order (WebAssembly Core §5.5.2): `each(id, contents)`
/// says what becomes of every section. `None` when `wasm` is not a well-formed module or when
/// `each` answers `None` for a section it cannot rewrite.
fn map_sections(
    wasm: &[u8],
    mut each: impl FnMut(u8, &[u8]) -> Option<Section>,
) -> Option<Vec<u8>> {
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
        match each(id, wasm.get(at..end)?)? {
            Section::Keep => out.extend_from_slice(wasm.get(start..end)?),
            Section::Drop => {}
            Section::Replace(contents) => {
                out.push(id);
                push_leb(&mut out, contents.len());
                out.extend_from_slice(&contents);
            }
        }
        at = end;
    }
    Some(out)
}

/// A name at `at` (WebAssembly Core §5.2.4: its byte length as an unsigned LEB128, then the
/// bytes), which moves past it.
fn read_name<'a>(bytes: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = leb(bytes, at)?;
    let name = bytes.get(*at..at.checked_add(len)?)?;
    *at += len;
    Some(name)
}

/// Appends `name` as [`read_name`] reads it.
fn push_name(out: &mut Vec<u8>, name: &[u8]) {
    push_leb(out, name.len());
    out.extend_from_slice(name);
}

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

/// `value` as an unsigned LEB128, appended to `out`.
fn push_leb(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The `n`th short name: `a`…`z`, `A`…`Z`, then `aa`, `ab`, …
fn short_name(mut n: usize) -> String {
    const LETTERS: &[u8; 52] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut name = Vec::new();
    loop {
        name.push(LETTERS[n % 52]);
        n /= 52;
        if n == 0 {
            break;
        }
        n -= 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// The byte offsets where `name` occurs in `text` as a whole JavaScript identifier.
fn identifier_at(text: &str, name: &str) -> Vec<usize> {
    let part_of_identifier = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    text.match_indices(name)
        .map(|(at, _)| at)
        .filter(|&at| {
            !text[..at]
                .chars()
                .next_back()
                .is_some_and(part_of_identifier)
                && !text[at + name.len()..]
                    .chars()
                    .next()
                    .is_some_and(part_of_identifier)
        })
        .collect()
}

/// `wasm` and `glue` with every import of the module renamed to a short name, or `None` when
/// the renaming cannot be proven sound: the imports come from more than one module, an import
/// is not a function, or a name is not written exactly once in the glue (as its key in the
/// imports object, the only place wasm-bindgen's `--target web` glue writes it).
pub fn short_import_names(wasm: &[u8], glue: &str) -> Option<(Vec<u8>, String)> {
    let mut renames: Vec<(String, String)> = Vec::new();
    let out = map_sections(wasm, |id, section| {
        if id != 2 {
            return Some(Section::Keep);
        }
        let mut read = 0;
        let count = leb(section, &mut read)?;
        let mut body = Vec::with_capacity(section.len());
        push_leb(&mut body, count);
        let mut module: Option<&[u8]> = None;
        for _ in 0..count {
            let this_module = read_name(section, &mut read)?;
            if *module.get_or_insert(this_module) != this_module {
                return None;
            }
            let name = std::str::from_utf8(read_name(section, &mut read)?).ok()?;
            // Only functions (kind 0, then a type index) are renamed.
            if *section.get(read)? != 0 {
                return None;
            }
            let desc_start = read;
            read += 1;
            leb(section, &mut read)?;
            let short = short_name(renames.len());
            push_name(&mut body, this_module);
            push_name(&mut body, short.as_bytes());
            body.extend_from_slice(section.get(desc_start..read)?);
            renames.push((name.to_owned(), short));
        }
        (read == section.len()).then_some(Section::Replace(body))
    })?;
    let mut glue = glue.to_owned();
    for (name, short) in &renames {
        // The key of the imports object; the short names are distinct, so the keys stay so.
        let [at] = identifier_at(&glue, name)[..] else {
            return None;
        };
        glue.replace_range(at..at + name.len(), short);
    }
    Some((out, glue))
}

/// `wasm` and `glue` with the module's exports renamed to short names, or `None` when the glue
/// uses an export's name in any other way than reading it as a property of one and the same
/// variable (`wasm.name`, the module's exports): a string, a destructuring, a key or another
/// object's property would keep the old name and break the page.
pub fn short_export_names(wasm: &[u8], glue: &str) -> Option<(Vec<u8>, String)> {
    let mut renames: Vec<(String, String)> = Vec::new();
    let out = map_sections(wasm, |id, section| {
        if id != 7 {
            return Some(Section::Keep);
        }
        let mut read = 0;
        let count = leb(section, &mut read)?;
        let mut body = Vec::with_capacity(section.len());
        push_leb(&mut body, count);
        for _ in 0..count {
            let name = std::str::from_utf8(read_name(section, &mut read)?).ok()?;
            let desc_start = read;
            read += 1;
            leb(section, &mut read)?;
            let short = short_name(renames.len());
            push_name(&mut body, short.as_bytes());
            body.extend_from_slice(section.get(desc_start..read)?);
            renames.push((name.to_owned(), short));
        }
        (read == section.len()).then_some(Section::Replace(body))
    })?;
    let part_of_identifier = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let mut exports_variable: Option<String> = None;
    let mut glue = glue.to_owned();
    for (name, short) in &renames {
        let uses = identifier_at(&glue, name);
        for &at in &uses {
            let before = glue[..at].strip_suffix('.')?;
            let variable = &before[before
                .rfind(|c: char| !part_of_identifier(c))
                .map_or(0, |i| i + 1)..];
            if variable.is_empty()
                || *exports_variable.get_or_insert_with(|| variable.to_owned()) != variable
            {
                return None;
            }
        }
        // From the last use back, so the earlier offsets stay where they were.
        for &at in uses.iter().rev() {
            glue.replace_range(at..at + name.len(), short);
        }
    }
    Some((out, glue))
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

    /// A module importing functions of type 0 (`(module, name)`), then a function section.
    fn module_importing(imports: &[(&str, &str)]) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type section: () -> ()
        let mut body = Vec::new();
        push_leb(&mut body, imports.len());
        for (module, name) in imports {
            push_leb(&mut body, module.len());
            body.extend_from_slice(module.as_bytes());
            push_leb(&mut body, name.len());
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(&[0, 0]); // a function of type 0
        }
        wasm.push(2);
        push_leb(&mut wasm, body.len());
        wasm.extend_from_slice(&body);
        wasm.extend_from_slice(&[3, 2, 1, 0]); // function section
        wasm
    }

    const APP: &str = "./app_bg.js";
    const LOG: &str = "__wbg_log_0123456789abcdef";
    const THROW: &str = "__wbg___wbindgen_throw_fedcba9876543210";

    // The module and its glue agree on every import name before and after: the module imports
    // exactly the keys the glue's imports object has, and nothing else changes.
    #[test]
    fn import_names_become_short_in_the_module_and_the_glue_alike() {
        let wasm = module_importing(&[(APP, LOG), (APP, THROW)]);
        let glue = format!(
            "const i={{__proto__:null,{LOG}:(a=>console.log(a)),{THROW}:((a,b)=>{{throw a}})}};\
             const w=x.{LOG}_free;"
        );
        let (short_wasm, short_glue) = short_import_names(&wasm, &glue).unwrap();
        assert_eq!(
            short_wasm,
            module_importing(&[(APP, "a"), (APP, "b")]),
            "{short_wasm:?}"
        );
        assert_eq!(
            short_glue,
            format!(
                "const i={{__proto__:null,a:(a=>console.log(a)),b:((a,b)=>{{throw a}})}};\
                 const w=x.{LOG}_free;"
            )
        );
        assert!(short_wasm.len() < wasm.len() && short_glue.len() < glue.len());
    }

    // Where the glue does not name an import exactly once, or the imports come from more than
    // one module, nothing is renamed: a wrong guess would break the page.
    #[test]
    fn an_import_the_glue_does_not_name_exactly_once_is_never_renamed() {
        let wasm = module_importing(&[(APP, LOG), (APP, THROW)]);
        let missing = format!("const i={{{LOG}:f}};");
        assert_eq!(short_import_names(&wasm, &missing), None);
        let twice = format!("const i={{{LOG}:f,{THROW}:g}};i.{THROW}();");
        assert_eq!(short_import_names(&wasm, &twice), None);
        let glue = format!("const i={{{LOG}:f,{THROW}:g}};");
        let two_modules = module_importing(&[(APP, LOG), ("./other.js", THROW)]);
        assert_eq!(short_import_names(&two_modules, &glue), None);
        assert!(short_import_names(&wasm, &glue).is_some());
    }

    /// A module exporting `names` (functions 0, 1, …) after one function of type 0.
    fn module_exporting(names: &[&str]) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type section: () -> ()
        wasm.extend_from_slice(&[3, 2, 1, 0]); // function section
        let mut body = Vec::new();
        push_leb(&mut body, names.len());
        for name in names {
            push_leb(&mut body, name.len());
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(&[0, 0]); // function 0
        }
        wasm.push(7);
        push_leb(&mut wasm, body.len());
        wasm.extend_from_slice(&body);
        wasm
    }

    // Every read of an export in the glue follows it to its short name.
    #[test]
    fn export_names_become_short_where_the_glue_only_reads_them_as_properties() {
        let wasm = module_exporting(&["memory", "__wbindgen_start", "__wbindgen_export4", "main"]);
        let glue = "w.__wbindgen_export4(1);w.__wbindgen_start();new DataView(w.memory.buffer)";
        let (short_wasm, short_glue) = short_export_names(&wasm, glue).unwrap();
        assert_eq!(short_wasm, module_exporting(&["a", "b", "c", "d"]));
        assert_eq!(short_glue, "w.c(1);w.b();new DataView(w.a.buffer)");
    }

    // A name the glue writes any other way (here a string key) is not provably only an export
    // read: nothing is renamed.
    #[test]
    fn an_export_the_glue_names_otherwise_is_never_renamed() {
        let wasm = module_exporting(&["__wbindgen_start"]);
        assert_eq!(
            short_export_names(&wasm, "w.__wbindgen_start();w[__wbindgen_start]"),
            None
        );
        assert_eq!(
            short_export_names(&wasm, "const {__wbindgen_start} = w;"),
            None
        );
        let two = module_exporting(&["__wbindgen_start", "__wbindgen_export4"]);
        assert_eq!(
            short_export_names(&two, "w.__wbindgen_start();x.__wbindgen_export4()"),
            None
        );
        assert!(short_export_names(&two, "w.__wbindgen_start();w.__wbindgen_export4()").is_some());
    }

    #[test]
    fn short_names_count_through_one_and_two_letters() {
        let names: Vec<String> = [0, 25, 26, 51, 52, 53, 52 + 52 * 52 - 1, 52 + 52 * 52]
            .into_iter()
            .map(short_name)
            .collect();
        assert_eq!(names, ["a", "z", "A", "Z", "aa", "ab", "ZZ", "aaa"]);
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
