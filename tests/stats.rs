//! Management statistics under attack: stores with a team of three, one employee making 90% of
//! a team's unjustified reads, and one thin month in a row; an attacker that recomputes every
//! suppressed cell from all published numbers; a scan of every output for identities; the
//! page in a real browser.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::tiny_org::{Team, TinyOrg};
use common::*;
use wmo_audit::stats::disclosure::{recoverable, CellKey, Line};

const PERIOD: &str = "2026-Q1";

fn policy(name: &str) -> PathBuf {
    root().join("tests/fixtures/stats").join(name)
}

/// A: 6 workers; S: 3; C: 6, of whom only 2 work in February; D: 12, of whom 10 read one
/// client of B without reason in January and one reads 100; B: 6.
fn org() -> TinyOrg {
    let team = |id: &str, workers| Team {
        id: id.into(),
        workers,
    };
    let mut snoops: Vec<(String, usize, String, usize, u32)> = (1..=10)
        .map(|w| ("D".to_string(), w, "B".to_string(), 1, 1))
        .collect();
    snoops.push(("D".into(), 0, "B".into(), 100, 1));
    TinyOrg {
        teams: vec![
            team("A", 6),
            team("S", 3),
            team("C", 6),
            team("D", 12),
            team("B", 6),
        ],
        months: vec![1, 2, 3],
        clients_per_worker: 4,
        inactive: (2..6).map(|w| ("C".to_string(), w, 2)).collect(),
        snoops,
    }
}

/// The tiny organisation's store (made once).
fn store() -> &'static Path {
    static S: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (reference, log) = org().write(dir.path());
        let key = keygen(dir.path());
        let store = dir.path().join("store");
        ok(&ingest(&store, &key, &[&reference, &log], &[]));
        (dir, store)
    });
    p
}

fn stats(store: &Path, policy: &Path, out: &Path) {
    let o = bin()
        .args(["stats", "--store"])
        .arg(store)
        .arg("--policy")
        .arg(policy)
        .args(["--period", PERIOD, "--out"])
        .arg(out)
        .output()
        .unwrap();
    ok(&o);
}

type Table = Vec<BTreeMap<String, String>>;

fn table(path: &Path) -> Table {
    let mut r = common::csv_reader(path);
    let h = r.headers().unwrap().clone();
    r.records()
        .map(|x| {
            let x = x.unwrap();
            h.iter()
                .zip(x.iter())
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        })
        .collect()
}

fn log(out: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("disclosure_log.json")).unwrap())
            .unwrap();
    v["suppressions"].as_array().unwrap().clone()
}

fn logged(out: &Path, group: &str, column: &str, layer: &str) -> Option<String> {
    log(out)
        .into_iter()
        .find(|e| {
            e["table"] == "teams"
                && e["group"] == group
                && e["column"] == column
                && e["layer"] == layer
        })
        .map(|e| e["rule"].as_str().unwrap().to_string())
}

/// True counts per (team, month) and per role from the audit's verdicts of the same store.
fn truth(store: &Path) -> BTreeMap<(String, String), (u64, u64, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit");
    let o = bin()
        .args(["audit", "--store"])
        .arg(store)
        .arg("--policy")
        .arg(policy("policy.toml"))
        .args(["--period", PERIOD, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0) | Some(4)),
        "{}",
        stderr(&o)
    );
    let v = read_parquet(&out.join("verdicts.parquet"));
    let team = str_col(&v, "user_team");
    let role = str_col(&v, "user_role");
    let verdict = str_col(&v, "verdict");
    let date = v
        .column("local_date")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    let date: Vec<String> = date
        .str()
        .unwrap()
        .iter()
        .map(|d| d.unwrap()[..7].to_string())
        .collect();
    let mut t: BTreeMap<(String, String), (u64, u64, u64)> = BTreeMap::new();
    for i in 0..v.height() {
        let g = team[i].clone().unwrap_or("ZONDER-ROL".into());
        let r = role[i].clone().unwrap_or("ZONDER-ROL".into());
        let (u, e) = (
            u64::from(verdict[i].as_deref() == Some("unjustified")),
            u64::from(verdict[i].as_deref() == Some("emergency")),
        );
        for key in [
            (g.clone(), date[i].clone()),
            (g.clone(), "PERIODE".into()),
            ("ORGANISATIE".into(), date[i].clone()),
            ("ORGANISATIE".into(), "PERIODE".into()),
            (format!("role:{r}"), "PERIODE".into()),
        ] {
            let c = t.entry(key).or_default();
            c.0 += 1;
            c.1 += u;
            c.2 += e;
        }
    }
    t
}

/// The attacker: from every published number of teams.csv and roles.csv and the additivity of
/// rows and columns, recompute suppressed cells, by solving lines with one unknown until
/// nothing changes, and by the rank test of the whole linear system. Returns what it recovered.
fn attack(out: &Path, measure: &str) -> BTreeSet<CellKey> {
    let teams = table(&out.join("teams.csv"));
    let roles = table(&out.join("roles.csv"));
    let mut known: BTreeMap<CellKey, u64> = BTreeMap::new();
    let mut unknown: BTreeSet<CellKey> = BTreeSet::new();
    let mut cell = |grid: &str, r: &BTreeMap<String, String>| {
        let key = if r["group"] == "ORGANISATIE" && r["month"] == "PERIODE" {
            CellKey::new("teams", "ORGANISATIE", "PERIODE")
        } else {
            CellKey::new(grid, &r["group"], &r["month"])
        };
        match r[measure].parse::<u64>() {
            Ok(v) => {
                known.insert(key, v);
            }
            Err(_) => {
                unknown.insert(key);
            }
        }
    };
    for r in &teams {
        cell("teams", r);
    }
    for r in &roles {
        cell("roles", r);
    }
    let groups: BTreeSet<String> = teams
        .iter()
        .map(|r| r["group"].clone())
        .filter(|g| g != "ORGANISATIE")
        .collect();
    let months: BTreeSet<String> = teams
        .iter()
        .map(|r| r["month"].clone())
        .filter(|m| m != "PERIODE")
        .collect();
    let mut lines = Vec::new();
    for g in groups.iter().chain(["ORGANISATIE".to_string()].iter()) {
        lines.push(Line {
            cells: months.iter().map(|m| CellKey::new("teams", g, m)).collect(),
            total: CellKey::new("teams", g, "PERIODE"),
        });
    }
    for m in months.iter().chain(["PERIODE".to_string()].iter()) {
        lines.push(Line {
            cells: groups.iter().map(|g| CellKey::new("teams", g, m)).collect(),
            total: CellKey::new("teams", "ORGANISATIE", m),
        });
    }
    lines.push(Line {
        cells: roles
            .iter()
            .filter(|r| r["group"] != "ORGANISATIE")
            .map(|r| CellKey::new("roles", &r["group"], "PERIODE"))
            .collect(),
        total: CellKey::new("teams", "ORGANISATIE", "PERIODE"),
    });
    // Propagation.
    let mut recovered = BTreeSet::new();
    let mut values = known.clone();
    loop {
        let mut progress = false;
        for l in &lines {
            let all: Vec<&CellKey> = l.cells.iter().chain([&l.total]).collect();
            let missing: Vec<&&CellKey> =
                all.iter().filter(|c| !values.contains_key(**c)).collect();
            if missing.len() == 1 {
                let m = (**missing[0]).clone();
                let sum: i64 = l
                    .cells
                    .iter()
                    .filter(|c| **c != m)
                    .map(|c| values[c] as i64)
                    .sum();
                let v = if m == l.total {
                    sum
                } else {
                    values[&l.total] as i64 - sum
                };
                values.insert(m.clone(), v.max(0) as u64);
                recovered.insert(m);
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    recovered.extend(recoverable(&unknown, &lines, &known));
    recovered
}

#[test]
fn a_team_of_three_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    stats(store(), &policy("policy.toml"), &out);
    for r in table(&out.join("teams.csv"))
        .iter()
        .filter(|r| r["group"] == "S")
    {
        assert_eq!(r["activity_mark"], "x", "{r:?}");
        assert!(r["accesses"].is_empty() && r["employees"].is_empty());
    }
    for m in ["2026-01", "2026-02", "2026-03"] {
        assert_eq!(
            logged(&out, "S", m, "activity").as_deref(),
            Some("k_employees")
        );
    }
    // Merged by policy (teams under 7: S, A, B and C), the team goes into OVERIG, which is
    // shown, and counts are rounded to 5.
    let merged = dir.path().join("m");
    stats(store(), &policy("policy-merged.toml"), &merged);
    let t = table(&merged.join("teams.csv"));
    assert!(t.iter().all(|r| r["group"] != "S"));
    assert!(t
        .iter()
        .any(|r| r["group"] == "OVERIG" && !r["accesses"].is_empty()));
    for r in &t {
        if let Ok(n) = r["accesses"].parse::<u64>() {
            assert_eq!(n % 5, 0, "rounded: {r:?}");
        }
    }
}

#[test]
fn one_employee_with_most_findings_is_not_exposed_by_dominance() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    stats(store(), &policy("policy.toml"), &out);
    // 11 employees of D made unjustified reads in January (enough for k = 10), but one made
    // 100 of the 110: dominance.
    assert_eq!(
        logged(&out, "D", "2026-01", "findings").as_deref(),
        Some("dominance")
    );
    let d = table(&out.join("teams.csv"));
    let jan = d
        .iter()
        .find(|r| r["group"] == "D" && r["month"] == "2026-01")
        .unwrap();
    assert_eq!(jan["findings_mark"], "x");
    assert!(jan["unjustified"].is_empty() && jan["coverage_pct"].is_empty());
    // Its activity (12 employees, many clients, nobody dominant) is shown.
    assert_eq!(jan["activity_mark"], "");
    // The distribution of employees by unjustified reads never shows a group below k.
    for r in table(&out.join("concentration.csv")) {
        if let Ok(n) = r["employees"].parse::<usize>() {
            assert!(n == 0 || n >= 10, "{r:?}");
        }
    }
}

#[test]
fn a_single_small_cell_in_a_row_gets_secondary_suppression() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c");
    stats(store(), &policy("policy.toml"), &out);
    assert_eq!(
        logged(&out, "C", "2026-02", "activity").as_deref(),
        Some("k_employees")
    );
    let entries = log(&out);
    let secondary = |f: &dyn Fn(&serde_json::Value) -> bool| {
        entries
            .iter()
            .any(|e| e["layer"] == "activity" && e["rule"] == "secondary" && f(e))
    };
    assert!(secondary(&|e| e["group"] == "C"), "another cell of row C");
    assert!(
        secondary(&|e| e["column"] == "2026-02"),
        "another cell of column 2026-02"
    );
}

#[test]
fn no_suppressed_cell_can_be_recomputed_and_published_cells_are_true() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a");
    stats(store(), &policy("policy.toml"), &out);
    for measure in ["accesses", "unjustified", "emergency_logins"] {
        let got = attack(&out, measure);
        assert!(got.is_empty(), "{measure}: recovered {got:?}");
    }
    // What is published is right.
    let truth = truth(store());
    let mut checked = 0;
    for r in table(&out.join("teams.csv")) {
        let t = truth
            .get(&(r["group"].clone(), r["month"].clone()))
            .copied()
            .unwrap_or_default();
        if let Ok(a) = r["accesses"].parse::<u64>() {
            assert_eq!(a, t.0, "{r:?}");
            checked += 1;
        }
        if let Ok(u) = r["unjustified"].parse::<u64>() {
            assert_eq!(u, t.1, "{r:?}");
        }
    }
    assert!(checked > 10);
    // The sample, whose suppressions come from real small teams and months, holds too.
    let sample = dir.path().join("sample");
    stats(
        sample_store(),
        &root().join("samples/voorbeeldstad/policy.toml"),
        &sample,
    );
    for measure in ["accesses", "unjustified", "emergency_logins"] {
        let got = attack(&sample, measure);
        assert!(got.is_empty(), "sample {measure}: recovered {got:?}");
    }
}

#[test]
fn a_rerun_gives_the_same_release() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    stats(store(), &policy("policy.toml"), &a);
    stats(store(), &policy("policy.toml"), &b);
    assert_eq!(folder_bytes(&a), folder_bytes(&b));
}

/// Every text inside the output files, the Excel workbook unzipped.
fn texts(out: &Path) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for p in files_under(out) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".xlsx") {
            let mut z = zip::ZipArchive::new(std::fs::File::open(&p).unwrap()).unwrap();
            for i in 0..z.len() {
                let mut f = z.by_index(i).unwrap();
                let mut s = String::new();
                f.read_to_string(&mut s).unwrap();
                all.push((format!("{name}/{}", f.name().unwrap()), s));
            }
        } else {
            all.push((
                name,
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string(),
            ));
        }
    }
    all
}

#[test]
fn no_output_file_holds_an_identity() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample");
    let store = sample_store();
    let o = bin()
        .args(["stats", "--store"])
        .arg(store)
        .arg("--policy")
        .arg(root().join("samples/voorbeeldstad/policy.toml"))
        .args(["--period", "2025-10-01..2026-09-30", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    ok(&o);
    // Everything that identifies someone: user ids, names, BSNs, and every pseudonym in the store.
    let mut needles: BTreeSet<String> = BTreeSet::new();
    let sample = root().join("samples/voorbeeldstad/reference");
    for r in table(&sample.join("staff.csv")) {
        needles.insert(r["user_id"].clone());
        needles.insert(r["display_name"].clone());
        needles.insert(r["person_id"].clone());
    }
    for r in table(&sample.join("clients.csv")) {
        needles.insert(r["client_id"].clone());
    }
    for f in files_under(store) {
        if f.extension().is_some_and(|e| e == "parquet") {
            let df = read_parquet(&f);
            for c in df.columns() {
                if let Ok(s) = c.str() {
                    for v in s.iter().flatten() {
                        if ["bsn1_", "cln1_", "snm1_", "adr1_"]
                            .iter()
                            .any(|p| v.starts_with(p))
                        {
                            needles.insert(v.to_string());
                        }
                    }
                }
            }
        }
    }
    assert!(needles.len() > 1000, "{}", needles.len());
    let texts = texts(&out);
    assert!(texts
        .iter()
        .any(|(n, _)| n.contains("xl/worksheets/sheet1.xml")));
    for (name, text) in &texts {
        for n in &needles {
            assert!(!text.contains(n.as_str()), "{name} contains {n}");
        }
        // No exact timestamps either (the workbook's own creation date, the period's last day
        // at midnight, is the one time a file format demands).
        let time = !name.ends_with("docProps/core.xml")
            && text.as_bytes().windows(8).any(|w| {
                w[2] == b':'
                    && w[5] == b':'
                    && w.iter()
                        .enumerate()
                        .all(|(i, b)| i == 2 || i == 5 || b.is_ascii_digit())
            });
        assert!(!time, "{name} holds a time of day");
    }
    // The page renders in a real browser.
    if let Some(dom) = browser(
        &out.join("stats.html"),
        &root().join("reports/stats-screenshot.png"),
        3000,
    ) {
        for id in [
            "summary",
            "teams",
            "months",
            "roles",
            "trend",
            "concentration",
            "method",
        ] {
            assert!(
                dom.contains(&format!("<section id=\"{id}\">")),
                "section {id}"
            );
        }
    }
}
