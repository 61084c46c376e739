//! Helpers shared by the integration tests: run the real binary, read what it wrote.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;

/// A CSV file's reader: an output file for people (UTF-8 with a byte-order mark, `;` between
/// fields) or, without the mark, an input or a tool's file with `,`.
pub fn csv_reader(path: &Path) -> csv::Reader<std::io::Cursor<Vec<u8>>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (bytes, delimiter) = match bytes.strip_prefix("\u{feff}".as_bytes()) {
        Some(rest) => (rest.to_vec(), b';'),
        None => (bytes, b','),
    };
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(std::io::Cursor::new(bytes))
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wmo-audit"))
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A fresh key in `dir`.
pub fn keygen(dir: &Path) -> PathBuf {
    let key = dir.join("key.json");
    let o = run(&["keygen", "--out", key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    key
}

/// `ingest --store S --key K [extra...] inputs...`
pub fn ingest(store: &Path, key: &Path, rest: &[&Path], extra: &[&str]) -> Output {
    let mut c = bin();
    c.args(["ingest", "-q", "--store"])
        .arg(store)
        .arg("--key")
        .arg(key)
        .args(extra);
    for p in rest {
        c.arg(p);
    }
    c.output().expect("the binary runs")
}

pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Every file below `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every file of the store (but the lock) with its bytes.
pub fn snapshot(store: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(store)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != ".lock"))
        .map(|p| {
            let rel = p.strip_prefix(store).unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(&p).unwrap();
            (rel, bytes)
        })
        .collect()
}

/// A Parquet file, its Enum columns (`verdicts.parquet` writes its few-valued text as Enums) as
/// text.
pub fn read_parquet(path: &Path) -> DataFrame {
    let df = ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap();
    as_text(&df)
}

/// `df` with its Enum columns cast to text.
pub fn as_text(df: &DataFrame) -> DataFrame {
    let mut out = df.clone();
    for c in df.columns() {
        if matches!(c.dtype(), DataType::Enum(..)) {
            out.replace(c.name(), c.cast(&DataType::String).unwrap())
                .unwrap();
        }
    }
    out
}

/// All events of the store, through a hive-partitioned scan as another engine would do it.
/// Asserts that a `first_access` table's pair codes count up from 0 in row order.
pub fn assert_codes_count_up(first_access: &DataFrame) {
    let codes: Vec<u32> = first_access
        .column("pair")
        .unwrap()
        .u32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(codes, (0..first_access.height() as u32).collect::<Vec<_>>());
}

pub fn events(store: &Path) -> DataFrame {
    let pattern = format!("{}/events/**/*.parquet", store.display());
    let args = ScanArgsParquet {
        hive_options: HiveOptions::new_enabled(),
        ..ScanArgsParquet::default()
    };
    LazyFrame::scan_parquet(PlRefPath::new(pattern.as_str()), args)
        .unwrap()
        .sort(["event_id"], SortMultipleOptions::default())
        .collect()
        .unwrap()
}

/// The expected form of a string column with no nulls.
pub fn strings(v: &[&str]) -> Vec<Option<String>> {
    v.iter().map(|s| Some(s.to_string())).collect()
}

pub fn str_col(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

pub fn manifest(store: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(store.join("manifest.json")).unwrap()).unwrap()
}
pub mod random_world;
pub mod world;

/// One store of the committed sample (canonical log and reference data), made once per test
/// binary and shared by its tests (audits only read it).
pub fn sample_store() -> &'static Path {
    static STORE: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, p) = STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let sample = root().join("samples/voorbeeldstad");
        ok(&ingest(
            &store,
            &root().join("samples/demo-key.json"),
            &[&sample.join("reference"), &sample.join("canonical")],
            &[],
        ));
        (dir, store)
    });
    p
}

/// Every file under `dir` with its bytes, by relative path.
pub fn folder_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
            (rel, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// The chromium to run the browser checks with, or `None` where they are skipped: where
/// WMO_AUDIT_NO_BROWSER is set, or where no chromium is installed and WMO_AUDIT_REQUIRE_BROWSER
/// (which CI sets) is not. A skip is said on the terminal, past the test harness's capture.
pub fn chromium(test: &str) -> Option<&'static str> {
    use std::io::Write;
    let skip = |why: &str| {
        let _ = writeln!(
            std::io::stderr().lock(),
            "{test}: browser check skipped: {why}"
        );
        None
    };
    if std::env::var_os("WMO_AUDIT_NO_BROWSER").is_some() {
        return skip("WMO_AUDIT_NO_BROWSER is set");
    }
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    match found {
        Some(path) => Some(path),
        None if std::env::var_os("WMO_AUDIT_REQUIRE_BROWSER").is_some() => {
            panic!("chromium not found, and WMO_AUDIT_REQUIRE_BROWSER is set: apt-get install chromium")
        }
        None => {
            skip("chromium not found (install it with apt-get install chromium, or run .ci/run)")
        }
    }
}

/// Runs headless chromium on a local HTML file: a screenshot to `png` and the rendered DOM;
/// `None` where the browser checks are skipped (`chromium`).
pub fn browser(html: &Path, png: &Path, height: u32) -> Option<String> {
    let chromium = chromium(&html.display().to_string())?;
    let profile = tempfile::tempdir().unwrap();
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ];
    let url = format!("file://{}", html.display());
    let user_dir = format!("--user-data-dir={}", profile.path().display());
    let o = Command::new(chromium)
        .args(flags)
        .arg(&user_dir)
        .arg(format!("--window-size=1200,{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let o = Command::new(chromium)
        .args(flags)
        .arg(&user_dir)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    Some(String::from_utf8_lossy(&o.stdout).to_string())
}
pub mod tiny_org;

/// Prints a local HTML file to PDF with headless chromium (None where browsers are skipped).
pub fn print_pdf(html: &Path, pdf: &Path) -> Option<Vec<u8>> {
    let chromium = chromium(&html.display().to_string())?;
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    Some(std::fs::read(pdf).unwrap())
}
