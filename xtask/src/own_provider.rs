//! The path of a fork that signs in with its own provider (README.md, "Use your own provider"):
//! delete `idp/` and every line that ends with the marker comment [`MARKER`] (`# local-idp-only`
//! in manifests, `// local-idp-only` in Rust), and the app, `hashgate-api` and the browser suites
//! that need no local provider still build and pass.
//!
//! `cargo xtask test` walks that path for real in [`check`]: it copies the tracked tree (`git
//! ls-files`) without `idp/` to a scratch directory, deletes the marked lines exactly as the
//! README's command does, checks the whole workspace there, and runs the hostile browser suite
//! there against the release build already made. The copy shares the main target directory, so
//! only the workspace's own crates (and any dependency whose features change without the
//! provider) are compiled again.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::{cmd, files, Error, Result};

/// The comment that ends every line existing only for the local identity provider.
pub const MARKER: &str = "local-idp-only";

/// The directory of the local identity provider, deleted whole.
pub const IDP_DIR: &str = "idp";

/// Whether `line` ends with the marker comment, as `# local-idp-only` (TOML) or
/// `// local-idp-only` (Rust): the same rule as the README's
/// `sed -E '/(#|\/\/) local-idp-only$/d'`.
pub fn is_marked(line: &str) -> bool {
    let line = line.strip_suffix('\r').unwrap_or(line);
    line.strip_suffix(MARKER)
        .is_some_and(|rest| rest.ends_with("# ") || rest.ends_with("// "))
}

/// `text` without its marked lines, or `None` when it has none.
pub fn strip_marked_lines(text: &str) -> Option<String> {
    if !text.split('\n').any(is_marked) {
        return None;
    }
    let kept: Vec<&str> = text.split('\n').filter(|line| !is_marked(line)).collect();
    Some(kept.join("\n"))
}

/// Whether `path` (relative to the root, `/`-separated as git lists it) lies in `idp/`.
fn in_idp(path: &str) -> bool {
    path.strip_prefix(IDP_DIR)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Copies the tracked files of the workspace at `root` into `to`, without `idp/` and with the
/// marked lines deleted; returns the files whose lines were deleted.
pub fn copy_without_local_provider(root: &Path, to: &Path) -> Result<Vec<String>> {
    let listed = cmd::capture(
        cmd::command("git")
            .args(["ls-files", "-z", "--cached"])
            .current_dir(root),
    )
    .ok_or_else(|| {
        Error::Missing(format!(
            "`git ls-files` failed in {}: the check needs a git checkout",
            root.display()
        ))
    })?;
    let mut stripped = Vec::new();
    for path in listed.split('\0').filter(|path| !path.is_empty()) {
        let from = root.join(path);
        // A tracked file deleted in the working tree is not part of what would be built.
        if in_idp(path) || !from.is_file() {
            continue;
        }
        let target = to.join(path);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let bytes = files::read_bytes(&from)?;
        match std::str::from_utf8(&bytes)
            .ok()
            .and_then(strip_marked_lines)
        {
            Some(text) => {
                files::write(&target, text.as_bytes())?;
                stripped.push(path.to_owned());
            }
            None => files::write(&target, &bytes)?,
        }
    }
    Ok(stripped)
}

/// The target directory the main build uses: `$CARGO_TARGET_DIR`, else `target/` in the root.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| cmd::root().join("target"), PathBuf::from)
}

/// Walks the "Use your own provider" path in a scratch copy: the workspace builds (every
/// target) without `hashgate-idp` in its dependency tree, and the hostile browser suite passes
/// there against the release build in `dist`. Each line of cargo test's output is handed to
/// `on_line`. A checkout without `idp/` has nothing to check here.
pub fn check(dist: &Path, on_line: &mut dyn FnMut(&str)) -> Result<()> {
    if !cmd::root().join(IDP_DIR).join("Cargo.toml").is_file() {
        // A fork that took this path already: every step before ran without the provider.
        println!("this checkout has no {IDP_DIR}/: the steps above built and tested it without");
        return Ok(());
    }
    let scratch =
        std::env::temp_dir().join(format!("hashgate-own-provider-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    let result = check_in(&scratch, dist, on_line);
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn check_in(tree: &Path, dist: &Path, on_line: &mut dyn FnMut(&str)) -> Result<()> {
    let stripped = copy_without_local_provider(&cmd::root(), tree)?;
    println!(
        "copied the tracked tree without {IDP_DIR}/ to {}; marked lines deleted in: {}",
        tree.display(),
        stripped.join(", ")
    );
    if stripped.is_empty() {
        return Err(Error::Missing(format!(
            "no file has a line ending in `# {MARKER}`: the workspace cannot have dropped \
             hashgate-idp"
        )));
    }
    let cargo = || {
        let mut cargo = cmd::command("cargo");
        cargo
            .current_dir(tree)
            .env("CARGO_TARGET_DIR", target_dir());
        cargo
    };
    cmd::run(cargo().args(["check", "--workspace", "--all-targets"]))?;
    // The provider really is gone from what was built, not merely unused.
    let tree_text = cmd::capture(cargo().args(["tree", "--workspace", "--prefix", "none"]))
        .ok_or_else(|| Error::Missing("`cargo tree` failed in the copy".to_owned()))?;
    if let Some(line) = tree_text
        .lines()
        .find(|line| line.starts_with("hashgate-idp ") || line.starts_with("rquickjs "))
    {
        return Err(Error::Missing(format!(
            "without {IDP_DIR}/ the workspace still builds `{line}`"
        )));
    }
    crate::test::stream_cargo_test(
        cargo()
            .args([
                "test",
                "--package",
                "hashgate-e2e",
                "--test",
                "browser_hostile",
                "--",
                "--test-threads=2",
            ])
            .env("HASHGATE_DIST", dist),
        on_line,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    // README.md, "Use your own provider": exactly the lines that end in the marker comment go,
    // in TOML and in Rust, and a file without one is left alone.
    #[test]
    fn only_lines_ending_in_the_marker_comment_are_deleted() {
        let manifest = "[features]\ndefault = [\"local-idp\"] # local-idp-only\nother = []\n";
        assert_eq!(
            strip_marked_lines(manifest).unwrap(),
            "[features]\nother = []\n"
        );
        let rust = "mod pages;\n#[cfg(feature = \"local-idp\")] // local-idp-only\r\npub mod stack; // local-idp-only\nmod spa;";
        assert_eq!(strip_marked_lines(rust).unwrap(), "mod pages;\nmod spa;");
        for kept in [
            "says `# local-idp-only` in prose\n",
            "x = 1 # local-idp-only, not at the end\n",
            "x = 1 #local-idp-only\n",
            "x = 1 # not-local-idp-only\n",
            "x = 1 # local-idp-only \n",
        ] {
            assert_eq!(strip_marked_lines(kept), None, "{kept:?}");
        }
    }

    #[test]
    fn only_paths_inside_the_idp_directory_are_left_out() {
        assert!(in_idp("idp/Cargo.toml"));
        assert!(in_idp("idp/src/lib.rs"));
        assert!(!in_idp("idp-notes.md"));
        assert!(!in_idp("docs/idp/x.md"));
        assert!(!in_idp("idp"));
    }

    // The copy leaves out idp/ and untracked files, and deletes marked lines.
    #[test]
    fn the_copy_has_the_tracked_files_without_idp_and_without_marked_lines() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .args(args)
                .current_dir(root)
                .output()
                .unwrap();
            assert!(status.status.success(), "git {args:?}: {status:?}");
        };
        git(&["init", "-q"]);
        fs::create_dir_all(root.join("idp/src")).unwrap();
        fs::write(root.join("idp/src/lib.rs"), "pub fn idp() {}\n").unwrap();
        fs::write(
            root.join("Cargo.toml"),
            "members = [\n    \"api\",\n    \"idp\", # local-idp-only\n]\n",
        )
        .unwrap();
        fs::write(
            root.join("README.md"),
            "delete the `# local-idp-only` lines\n",
        )
        .unwrap();
        git(&["add", "."]);
        fs::write(root.join("untracked.txt"), "scratch\n").unwrap();

        let copy = tempfile::tempdir().unwrap();
        let stripped = copy_without_local_provider(root, copy.path()).unwrap();
        assert_eq!(stripped, vec!["Cargo.toml".to_owned()]);
        assert_eq!(
            fs::read_to_string(copy.path().join("Cargo.toml")).unwrap(),
            "members = [\n    \"api\",\n]\n"
        );
        assert_eq!(
            fs::read_to_string(copy.path().join("README.md")).unwrap(),
            "delete the `# local-idp-only` lines\n"
        );
        assert!(!copy.path().join("idp").exists());
        assert!(!copy.path().join("untracked.txt").exists());
    }
}
