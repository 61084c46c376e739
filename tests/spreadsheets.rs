//! Every CSV and Excel file a person opens, opened as a Dutch user's spreadsheet opens it:
//! LibreOffice (headless, Dutch settings) converts each to an OpenDocument sheet, and the cells
//! are read back: as many columns as the header says, numbers as numbers, dates as dates.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// LibreOffice's `soffice`, or `None` where the spreadsheet checks are skipped: where it is not
/// installed and WMO_AUDIT_REQUIRE_LIBREOFFICE (which CI sets) is not. A skip is said on the
/// terminal, past the test harness's capture.
fn soffice() -> Option<&'static str> {
    use std::io::Write;
    if Path::new("/usr/bin/soffice").exists() {
        return Some("/usr/bin/soffice");
    }
    if std::env::var_os("WMO_AUDIT_REQUIRE_LIBREOFFICE").is_some() {
        panic!("soffice not found, and WMO_AUDIT_REQUIRE_LIBREOFFICE is set: apt-get install libreoffice-calc-nogui");
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "spreadsheet check skipped: soffice not found (apt-get install libreoffice-calc-nogui, or run .ci/run)"
    );
    None
}

/// One cell as LibreOffice read it: its value type (`float`, `date`, `string`, ..., or `None`
/// for an empty cell) and its text.
#[derive(Debug, Clone, PartialEq)]
struct Cell {
    kind: Option<String>,
    /// A number's value (`office:value`).
    value: Option<String>,
    text: String,
}

/// The rows of the first sheet of an OpenDocument spreadsheet, repeated cells spelled out.
fn sheet_rows(ods: &Path) -> Vec<Vec<Cell>> {
    let file = std::fs::File::open(ods).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("content.xml").unwrap(), &mut xml).unwrap();
    let sheet = xml
        .split("</table:table>")
        .next()
        .expect("a spreadsheet has a sheet");
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[at..at + tag[at..].find('"')?].to_string())
    };
    let mut rows = Vec::new();
    for row in sheet.split("<table:table-row").skip(1) {
        let row = &row[..row.find("</table:table-row>").unwrap_or(row.len())];
        let mut cells = Vec::new();
        for part in row.split("<table:table-cell").skip(1) {
            let tag_end = part.find('>').expect("a cell's tag ends");
            let tag = &part[..tag_end];
            let body = if tag.ends_with('/') {
                ""
            } else {
                &part[tag_end + 1..part.find("</table:table-cell>").unwrap_or(part.len())]
            };
            let mut text = String::new();
            let mut inside = false;
            for c in body.chars() {
                match c {
                    '<' => inside = true,
                    '>' => inside = false,
                    c if !inside => text.push(c),
                    _ => {}
                }
            }
            let repeat: usize =
                attr(tag, "table:number-columns-repeated").map_or(1, |n| n.parse().unwrap());
            let cell = Cell {
                kind: attr(tag, "office:value-type"),
                value: attr(tag, "office:value"),
                text: text.replace("&amp;", "&").replace("&quot;", "\""),
            };
            // A row's trailing empty cells run to the sheet's last column: not part of the file.
            if cell.kind.is_none() && repeat > 1000 {
                break;
            }
            cells.extend(std::iter::repeat_n(cell, repeat));
        }
        while cells.last().is_some_and(|c| c.kind.is_none()) {
            cells.pop();
        }
        if !cells.is_empty() {
            rows.push(cells);
        }
    }
    rows
}

/// Converts `files` to OpenDocument sheets in `out` as LibreOffice with Dutch settings opens a
/// CSV file (`;` between fields, UTF-8, numbers and dates recognised in Dutch notation).
fn convert(soffice: &str, files: &[PathBuf], out: &Path) {
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(soffice)
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.path().display()
        ))
        .args(["--headless", "--convert-to", "ods"])
        .arg("--infilter=CSV:59,34,76,1,,1043,false,true")
        .arg("--outdir")
        .arg(out)
        .args(files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A value's kind as the file writes it: a number in Dutch notation, a date (and time), a
/// time of day, or text.
fn written_kind(v: &str) -> &'static str {
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let unsigned = v.strip_prefix('-').unwrap_or(v).as_bytes();
    let number = match unsigned.iter().position(|&c| c == b',') {
        Some(at) => digits(&unsigned[..at]) && digits(&unsigned[at + 1..]),
        None => digits(unsigned),
    };
    let b = v.as_bytes();
    let date = (b.len() == 10 || (b.len() == 19 && b[10] == b' '))
        && digits(&b[..4])
        && b[4] == b'-'
        && digits(&b[5..7])
        && b[7] == b'-'
        && digits(&b[8..10]);
    let time = b.len() == 5 && digits(&b[..2]) && b[2] == b':' && digits(&b[3..]);
    if number {
        "float"
    } else if date {
        "date"
    } else if time {
        "time"
    } else {
        "string"
    }
}

/// Checks one converted CSV against the file as written: the same rows and columns, and every
/// number column read as numbers, every date column as dates, nothing else as either.
fn check_csv(csv: &Path, ods: &Path) -> (usize, usize) {
    let bytes = std::fs::read(csv).unwrap();
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "{}: no byte-order mark",
        csv.display()
    );
    let mut reader = csv_reader(csv);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let rows = sheet_rows(ods);
    let name = csv.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(rows.len(), records.len() + 1, "{name}: rows");
    let texts: Vec<&str> = rows[0].iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, header, "{name}: header");
    assert!(
        rows.iter().all(|r| r.len() <= header.len()),
        "{name}: a row has more cells than the header"
    );
    let (mut numbers, mut dates) = (0, 0);
    for (r, record) in records.iter().enumerate() {
        for (col, value) in record.iter().enumerate() {
            let got = rows[r + 1].get(col).and_then(|c| c.kind.as_deref());
            let want = (!value.is_empty()).then(|| written_kind(value));
            assert_eq!(
                got,
                want,
                "{name} row {} {}: '{value}' read as {got:?}",
                r + 2,
                header[col]
            );
            numbers += usize::from(want == Some("float"));
            dates += usize::from(want == Some("date"));
        }
    }
    (numbers, dates)
}

#[test]
fn every_csv_and_sheet_opens_in_a_dutch_spreadsheet_with_its_numbers_and_dates() {
    let Some(soffice) = soffice() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store();
    let policy = root().join("samples/voorbeeldstad/policy.toml");
    let policy = policy.to_str().unwrap();
    let store_arg = store.to_str().unwrap();
    let out = |name: &str| dir.path().join(name);
    let audit = bin()
        .args(["audit", "--store", store_arg, "--policy", policy])
        .args(["--period", "2026-Q1", "--out"])
        .arg(out("audit"))
        .output()
        .unwrap();
    assert_eq!(audit.status.code(), Some(4), "{}", stderr(&audit));
    ok(&bin()
        .args(["stats", "--store", store_arg, "--policy", policy])
        .args(["--period", "2026", "--out"])
        .arg(out("stats"))
        .output()
        .unwrap());
    let findings: Vec<csv::StringRecord> = csv_reader(&out("audit").join("findings.csv"))
        .records()
        .map(|r| r.unwrap())
        .collect();
    let (user, client) = (&findings[0][4], &findings[0][8]);
    ok(&bin()
        .args([
            "investigate",
            "user",
            user,
            "--store",
            store_arg,
            "--policy",
            policy,
        ])
        .arg("--out")
        .arg(out("user"))
        .output()
        .unwrap());
    ok(&bin()
        .args([
            "subject-access",
            "--client-id",
            client,
            "--store",
            store_arg,
        ])
        .args(["--policy", policy, "--out"])
        .arg(out("resident"))
        .output()
        .unwrap());

    let csvs: Vec<PathBuf> = ["audit", "stats", "user", "resident"]
        .iter()
        .flat_map(|d| files_under(&out(d)))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    assert!(csvs.len() >= 10, "{csvs:?}");
    let converted = out("converted");
    std::fs::create_dir_all(&converted).unwrap();
    // Files of the same name in different folders are converted one folder at a time.
    for folder in ["audit", "stats", "user", "resident"] {
        let files: Vec<PathBuf> = csvs
            .iter()
            .filter(|p| p.starts_with(out(folder)))
            .cloned()
            .collect();
        let to = converted.join(folder);
        std::fs::create_dir_all(&to).unwrap();
        convert(soffice, &files, &to);
    }
    let (mut numbers, mut dates) = (0, 0);
    for csv in &csvs {
        let folder = csv.parent().unwrap().file_name().unwrap();
        let ods = converted
            .join(folder)
            .join(csv.with_extension("ods").file_name().unwrap());
        let (n, d) = check_csv(csv, &ods);
        numbers += n;
        dates += d;
    }
    // The sample's statistics have fractions (decimal commas) and its lists have days.
    assert!(
        numbers > 100 && dates > 10,
        "{numbers} numbers, {dates} dates"
    );
    let teams = sheet_rows(&converted.join("stats/teams.ods"));
    assert!(
        teams
            .iter()
            .flatten()
            .any(|c| c.kind.as_deref() == Some("float")
                && c.value.as_deref().is_some_and(|v| v.contains('.'))),
        "no fraction in teams.csv was read as a number"
    );

    // The Excel workbook: its count and share columns are numbers.
    let xlsx = out("stats").join("stats.xlsx");
    let to = converted.join("xlsx");
    std::fs::create_dir_all(&to).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(soffice)
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.path().display()
        ))
        .args(["--headless", "--convert-to", "ods", "--outdir"])
        .arg(&to)
        .arg(&xlsx)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = sheet_rows(&to.join("stats.ods"));
    let header: Vec<&str> = rows[0].iter().map(|c| c.text.as_str()).collect();
    let accesses = header
        .iter()
        .position(|h| h.contains("accesses") || h.contains("toegang"))
        .unwrap_or_else(|| panic!("stats.xlsx header: {header:?}"));
    let read: Vec<Option<&str>> = rows[1..]
        .iter()
        .filter_map(|r| r.get(accesses))
        .map(|c| c.kind.as_deref())
        .collect();
    assert!(
        read.contains(&Some("float")) && !read.contains(&Some("string")),
        "stats.xlsx accesses: {read:?}"
    );
}
