//! `cargo xtask size --smallest`: an opt-in, smallest release build on a nightly toolchain.
//!
//! The app itself stays on stable. This build recompiles the standard library with the app
//! (`-Zbuild-std`), aborts on panic without formatting anything (`panic = immediate-abort`),
//! and drops panic locations and `Debug` bodies (`-Zlocation-detail=none -Zfmt-debug=none`).
//! Behaviour is the same except that a panic prints nothing and `{:?}` prints nothing (the app
//! shows no `Debug` output).
//!
//! Trunk cannot drive it (its post-build hook would be built with the same nightly flags), so
//! the wasm is built here, bound with `wasm-bindgen` like Trunk does, and put into a copy of the
//! stable release `dist/` as `dist-smallest/`: new file names (so caches never mix the two),
//! new Subresource Integrity hashes, and the loader's CSP hash renewed. Deploy it like `dist/`.

use std::{
    fs,
    path::{Path, PathBuf},
};

use base64::Engine;
use sha2::{Digest, Sha256, Sha384};

use crate::{
    cmd, csp,
    files::{read_bytes, read_text, write},
    Error, Result,
};

/// The toolchain the smallest build uses.
pub const TOOLCHAIN: &str = "nightly";
/// Where the smallest build is written, next to `dist/`.
pub const DIST: &str = "dist-smallest";
/// Code generation flags for the wasm only (`--target` keeps them off build scripts). They
/// replace the `rustflags` of `.cargo/config.toml`, so its `--cfg erase_components` is repeated.
pub const RUSTFLAGS: &str = "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none \
     -Zfmt-debug=none --cfg erase_components";

/// Why the smallest build cannot run here, if it cannot: a nightly toolchain with `rust-src`.
pub fn unavailable() -> Option<String> {
    let sysroot = cmd::capture(
        cmd::command("rustc")
            .env("RUSTUP_TOOLCHAIN", TOOLCHAIN)
            .args(["--print", "sysroot"]),
    );
    let Some(sysroot) = sysroot else {
        return Some(format!(
            "no {TOOLCHAIN} toolchain (rustup toolchain install {TOOLCHAIN} --component rust-src)"
        ));
    };
    let library = Path::new(&sysroot).join("lib/rustlib/src/rust/library");
    (!library.is_dir()).then(|| {
        format!("the {TOOLCHAIN} toolchain has no rust-src (rustup component add rust-src --toolchain {TOOLCHAIN})")
    })
}

/// The directory [`build`] writes.
pub fn dist_dir() -> PathBuf {
    cmd::root().join(DIST)
}

/// Builds `dist-smallest/` from the stable release in `stable_dist` (which must exist).
pub fn build(stable_dist: &Path) -> Result<PathBuf> {
    if let Some(why) = unavailable() {
        return Err(Error::Missing(why));
    }
    let index_path = stable_dist.join("index.html");
    let index = read_text(&index_path)?;
    let old_stem = loader_stem(&index).ok_or_else(|| {
        Error::Missing(format!(
            "{}: no Trunk wasm loader; build the release first",
            index_path.display()
        ))
    })?;

    let target_dir = cmd::root().join("target").join("smallest");
    cmd::run(
        cmd::cargo()
            .env("RUSTUP_TOOLCHAIN", TOOLCHAIN)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CARGO_PROFILE_WASM_RELEASE_PANIC", "immediate-abort")
            .env("RUSTFLAGS", RUSTFLAGS)
            .args([
                "build",
                "--profile",
                "wasm-release",
                "--package",
                "hashgate",
                "--bin",
                "hashgate",
                "--target",
                crate::tools::WASM_TARGET,
                "-Zbuild-std=std,panic_abort",
                "-Zpanic-immediate-abort",
            ]),
    )?;
    let wasm_in = target_dir
        .join(crate::tools::WASM_TARGET)
        .join("wasm-release/hashgate.wasm");
    let new_stem = format!("hashgate-small-{}", short_hash(&read_bytes(&wasm_in)?));

    let bindgen_dir = target_dir.join("bindgen");
    let _ = fs::remove_dir_all(&bindgen_dir);
    cmd::run(
        cmd::command("wasm-bindgen")
            .arg(&wasm_in)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                &new_stem,
            ])
            .arg("--out-dir")
            .arg(&bindgen_dir),
    )?;
    let js = read_bytes(&bindgen_dir.join(format!("{new_stem}.js")))?;
    let wasm = read_bytes(&bindgen_dir.join(format!("{new_stem}_bg.wasm")))?;

    let out = dist_dir();
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).map_err(|source| Error::Io {
        path: out.clone(),
        source,
    })?;
    for entry in fs::read_dir(stable_dist).map_err(|source| Error::Io {
        path: stable_dist.to_path_buf(),
        source,
    })? {
        let entry = entry.map_err(|source| Error::Io {
            path: stable_dist.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let from = entry.path();
        if name.starts_with(&old_stem) || name == "index.html" || !from.is_file() {
            continue;
        }
        fs::copy(&from, out.join(&name)).map_err(|source| Error::Io { path: from, source })?;
    }
    write(&out.join(format!("{new_stem}.js")), &js)?;
    write(&out.join(format!("{new_stem}_bg.wasm")), &wasm)?;
    let html = rewrite_index(&index, &old_stem, &new_stem, &js, &wasm).ok_or_else(|| {
        Error::Missing(format!(
            "{}: the loader, its preload links or the CSP are not where Trunk puts them",
            index_path.display()
        ))
    })?;
    write(&out.join("index.html"), html.as_bytes())?;
    Ok(out)
}

/// The file stem of Trunk's wasm-bindgen output (`hashgate-<hash>`) from its loader.
pub fn loader_stem(index: &str) -> Option<String> {
    let marker = "import init, * as bindings from '/";
    let start = index.find(marker)? + marker.len();
    let end = start + index[start..].find(".js'")?;
    let stem = &index[start..end];
    (!stem.is_empty() && !stem.contains(['/', '\'', '"'])).then(|| stem.to_owned())
}

/// `index` with the loader and preload links pointing at `new_stem`, their Subresource
/// Integrity hashes those of `js` and `wasm`, and the CSP's script hashes renewed.
/// `None` if any of them is missing.
pub fn rewrite_index(
    index: &str,
    old_stem: &str,
    new_stem: &str,
    js: &[u8],
    wasm: &[u8],
) -> Option<String> {
    if !index.contains(old_stem) {
        return None;
    }
    let html = index.replace(old_stem, new_stem);
    let html = set_integrity(&html, &format!("{new_stem}.js"), js)?;
    let html = set_integrity(&html, &format!("{new_stem}_bg.wasm"), wasm)?;
    csp::add_inline_script_hashes(&csp::remove_script_hashes(&html)?)
}

/// Replaces the `integrity="sha384-…"` of the tag with `href="/<file>"`.
fn set_integrity(html: &str, file: &str, content: &[u8]) -> Option<String> {
    let href_at = html.find(&format!("href=\"/{file}\""))?;
    let tag_end = href_at + html[href_at..].find('>')?;
    let attr = "integrity=\"";
    let value_start = href_at + html[href_at..tag_end].find(attr)? + attr.len();
    let value_end = value_start + html[value_start..tag_end].find('"')?;
    let sri = format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(content))
    );
    Some(format!(
        "{}{sri}{}",
        &html[..value_start],
        &html[value_end..]
    ))
}

fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = concat!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; ",
        "script-src 'self' 'wasm-unsafe-eval' 'sha256-OLD='; style-src 'self'\" />",
        "<link rel=\"stylesheet\" href=\"/main-1.css\" integrity=\"sha384-css\"/>",
        "<script type=\"module\">\nimport init, * as bindings from '/hashgate-abc.js';\n",
        "const wasm = await init({ module_or_path: '/hashgate-abc_bg.wasm' });\n</script>",
        "<link rel=\"modulepreload\" href=\"/hashgate-abc.js\" crossorigin=\"anonymous\" integrity=\"sha384-JS\">",
        "<link rel=\"preload\" href=\"/hashgate-abc_bg.wasm\" crossorigin=\"anonymous\" integrity=\"sha384-WASM\" as=\"fetch\" type=\"application/wasm\">",
    );

    fn sri(bytes: &[u8]) -> String {
        format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
        )
    }

    #[test]
    fn the_loader_stem_is_read_from_trunks_loader() {
        assert_eq!(loader_stem(INDEX).as_deref(), Some("hashgate-abc"));
        assert_eq!(loader_stem("<script>import x from '/a.js'</script>"), None);
        assert_eq!(
            loader_stem("import init, * as bindings from '/../x/y.js'"),
            None
        );
    }

    #[test]
    fn the_page_points_at_the_new_files_with_their_integrity_and_a_fresh_csp_hash() {
        let out = rewrite_index(
            INDEX,
            "hashgate-abc",
            "hashgate-small-0123",
            b"js!",
            b"wasm!",
        )
        .unwrap();
        assert!(!out.contains("hashgate-abc"), "{out}");
        assert!(out.contains("from '/hashgate-small-0123.js'"), "{out}");
        assert!(out.contains(&format!(
            "href=\"/hashgate-small-0123.js\" crossorigin=\"anonymous\" integrity=\"{}\"",
            sri(b"js!")
        )));
        assert!(out.contains(&format!(
            "href=\"/hashgate-small-0123_bg.wasm\" crossorigin=\"anonymous\" integrity=\"{}\"",
            sri(b"wasm!")
        )));
        // The stylesheet keeps its own hash; the loader's CSP hash is the new loader's.
        assert!(out.contains("integrity=\"sha384-css\""));
        assert!(!out.contains("sha256-OLD="), "{out}");
        let loader_start = out.find("<script type=\"module\">").unwrap() + 22;
        let loader_end = out.find("</script>").unwrap();
        let digest = Sha256::digest(&out.as_bytes()[loader_start..loader_end]);
        let expected = format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert!(out.contains(&expected), "{out}");
    }

    #[test]
    fn a_page_trunk_did_not_write_is_refused() {
        assert!(rewrite_index(INDEX, "hashgate-zzz", "n", b"", b"").is_none());
        let no_preload = INDEX
            .replace("modulepreload", "x")
            .replace("href=\"/hashgate-abc.js\"", "");
        assert!(rewrite_index(&no_preload, "hashgate-abc", "n", b"", b"").is_none());
        let no_csp = INDEX.replace("'wasm-unsafe-eval'", "");
        assert!(rewrite_index(&no_csp, "hashgate-abc", "n", b"", b"").is_none());
    }
}
