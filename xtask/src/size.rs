//! The size report of a release build: html, js, wasm and css of `dist/`, each raw,
//! gzip (level 9) and brotli (quality 11), and their total. [`measure`] is the
//! computation, so a test can hold the build to a budget.

use std::{
    fmt, fs,
    io::Write,
    path::{Path, PathBuf},
};

use flate2::{write::GzEncoder, Compression};

use crate::{Error, Result};

/// The kinds of file the report counts, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.html` files.
    Html,
    /// `.js` files.
    Js,
    /// `.wasm` files.
    Wasm,
    /// `.css` files.
    Css,
}

impl Kind {
    /// All kinds, in report order.
    pub const ALL: [Kind; 4] = [Kind::Html, Kind::Js, Kind::Wasm, Kind::Css];

    /// The kind of a file, by extension; `None` for files the report does not count.
    pub fn of(path: &Path) -> Option<Kind> {
        match path.extension()?.to_str()? {
            "html" => Some(Kind::Html),
            "js" => Some(Kind::Js),
            "wasm" => Some(Kind::Wasm),
            "css" => Some(Kind::Css),
            _ => None,
        }
    }

    /// The row label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Html => "html",
            Kind::Js => "js",
            Kind::Wasm => "wasm",
            Kind::Css => "css",
        }
    }
}

/// Byte counts of some files: as stored, and compressed file by file as a server would.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Bytes on disk.
    pub raw: u64,
    /// Bytes after gzip at level 9.
    pub gzip: u64,
    /// Bytes after brotli at quality 11.
    pub brotli: u64,
}

impl std::ops::AddAssign for Sizes {
    fn add_assign(&mut self, other: Sizes) {
        self.raw += other.raw;
        self.gzip += other.gzip;
        self.brotli += other.brotli;
    }
}

/// The sizes of one build directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeReport {
    /// The directory measured.
    pub dist: PathBuf,
    /// One entry per [`Kind`], in [`Kind::ALL`] order, with how many files it had.
    pub kinds: Vec<(Kind, usize, Sizes)>,
    /// Files in `dist` that are none of the counted kinds (images, json, ...).
    pub other_files: usize,
}

impl SizeReport {
    /// The sizes of one kind.
    pub fn of(&self, kind: Kind) -> Sizes {
        self.kinds
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map(|(_, _, sizes)| *sizes)
            .unwrap_or_default()
    }

    /// The sum over html, js, wasm and css.
    pub fn total(&self) -> Sizes {
        let mut total = Sizes::default();
        for (_, _, sizes) in &self.kinds {
            total += *sizes;
        }
        total
    }
}

/// Measures every html, js, wasm and css file under `dist` (recursively).
pub fn measure(dist: &Path) -> Result<SizeReport> {
    let mut files = Vec::new();
    collect_files(dist, &mut files)?;
    let mut kinds: Vec<(Kind, usize, Sizes)> = Kind::ALL
        .iter()
        .map(|kind| (*kind, 0, Sizes::default()))
        .collect();
    let mut other_files = 0;
    for file in files {
        let Some(kind) = Kind::of(&file) else {
            other_files += 1;
            continue;
        };
        let bytes = fs::read(&file).map_err(|source| Error::Io {
            path: file.clone(),
            source,
        })?;
        let sizes = compress(&bytes).map_err(|source| Error::Io { path: file, source })?;
        if let Some(entry) = kinds.iter_mut().find(|(k, _, _)| *k == kind) {
            entry.1 += 1;
            entry.2 += sizes;
        }
    }
    Ok(SizeReport {
        dist: dist.to_path_buf(),
        kinds,
        other_files,
    })
}

/// Raw, gzip -9 and brotli -q 11 sizes of `bytes`.
pub fn compress(bytes: &[u8]) -> std::io::Result<Sizes> {
    let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
    gzip.write_all(bytes)?;
    let gzip = gzip.finish()?;

    let mut brotli = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut brotli, &params)?;

    Ok(Sizes {
        raw: bytes.len() as u64,
        gzip: gzip.len() as u64,
        brotli: brotli.len() as u64,
    })
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let io_error = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io_error)? {
        let path = entry.map_err(io_error)?.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    files.sort();
    Ok(())
}

/// Bytes as a short human number (`812 B`, `37.4 KiB`, `1.21 MiB`).
pub fn human(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let value = bytes as f64;
    if value < KIB {
        format!("{bytes} B")
    } else if value < KIB * KIB {
        format!("{:.1} KiB", value / KIB)
    } else {
        format!("{:.2} MiB", value / (KIB * KIB))
    }
}

impl fmt::Display for SizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "release build size ({})", self.dist.display())?;
        writeln!(
            f,
            "{:<6} {:>5} {:>12} {:>12} {:>12}",
            "kind", "files", "raw", "gzip -9", "brotli -11"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, label: &str, files: usize, sizes: Sizes| {
            writeln!(
                f,
                "{:<6} {:>5} {:>12} {:>12} {:>12}",
                label,
                files,
                human(sizes.raw),
                human(sizes.gzip),
                human(sizes.brotli)
            )
        };
        for (kind, files, sizes) in &self.kinds {
            row(f, kind.label(), *files, *sizes)?;
        }
        writeln!(f, "{}", "-".repeat(6 + 1 + 5 + 3 * 13))?;
        let files = self.kinds.iter().map(|(_, files, _)| files).sum();
        row(f, "total", files, self.total())?;
        write!(
            f,
            "({} other file(s) in dist not counted)",
            self.other_files
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    // README.md, Test: `cargo xtask size` counts html, js, wasm and css separately and totals them.
    #[test]
    fn each_kind_is_measured_and_the_total_is_their_sum() {
        let dir = tempfile::tempdir().unwrap();
        let html = "<html><body>hello hello hello hello</body></html>".repeat(50);
        fs::write(dir.path().join("index.html"), &html).unwrap();
        fs::write(dir.path().join("app.js"), "console.log(1);").unwrap();
        fs::create_dir(dir.path().join("assets")).unwrap();
        fs::write(dir.path().join("assets/app_bg.wasm"), [0u8; 4000]).unwrap();
        fs::write(dir.path().join("favicon.png"), [1u8; 10]).unwrap();

        let report = measure(dir.path()).unwrap();

        assert_eq!(report.of(Kind::Html).raw, html.len() as u64);
        assert_eq!(report.of(Kind::Js).raw, 15);
        assert_eq!(report.of(Kind::Wasm).raw, 4000);
        assert_eq!(report.of(Kind::Css), Sizes::default());
        assert_eq!(report.other_files, 1);
        assert_eq!(report.total().raw, html.len() as u64 + 15 + 4000);
        // Repetitive input must shrink under both compressors.
        assert!(report.of(Kind::Html).gzip < report.of(Kind::Html).raw / 4);
        assert!(report.of(Kind::Html).brotli < report.of(Kind::Html).raw / 4);
        assert!(report.of(Kind::Wasm).brotli < 100);
    }

    // README.md, Test: the report is a table a human reads: one row per kind and a total row.
    #[test]
    fn the_table_has_a_row_per_kind_and_a_total() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("index.html"), "<html></html>").unwrap();
        let table = measure(dir.path()).unwrap().to_string();
        for label in ["html", "js", "wasm", "css", "total"] {
            assert!(
                table.lines().any(|line| line.starts_with(label)),
                "no {label} row in:\n{table}"
            );
        }
    }

    #[test]
    fn human_sizes_pick_a_readable_unit() {
        assert_eq!(human(812), "812 B");
        assert_eq!(human(38_298), "37.4 KiB");
        assert_eq!(human(1_268_776), "1.21 MiB");
    }

    #[test]
    fn a_missing_dist_directory_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(measure(&dir.path().join("nope")).is_err());
    }
}
