//! The audit command end to end on the committed sample: every injected misuse is found, no
//! labelled-clean access is called unjustified, each shipped policy gives the verdicts its
//! articles imply, outputs are deterministic, and the report renders in a real browser.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;

const PERIOD: &str = "2025-10-01..2026-09-30";

fn store() -> &'static Path {
    sample_store()
}

fn audit(policy: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut c = bin();
    c.args(["audit", "--store"])
        .arg(store())
        .arg("--policy")
        .arg(policy)
        .args(["--period", PERIOD, "--out"])
        .arg(out)
        .args(extra);
    c.output().unwrap()
}

fn sample_policy() -> PathBuf {
    root().join("samples/voorbeeldstad/policy.toml")
}

struct Label {
    kind: String,
    expected_verdict: String,
    expected_reason: String,
    expected_signals: Vec<String>,
}

fn labels() -> BTreeMap<String, Label> {
    let mut r = csv::Reader::from_path(root().join("samples/voorbeeldstad/labels.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[0].to_string(),
                Label {
                    kind: rec[1].to_string(),
                    expected_verdict: rec[3].to_string(),
                    expected_reason: rec[4].to_string(),
                    expected_signals: rec[5]
                        .split(';')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                },
            )
        })
        .collect()
}

/// event id → (verdict, reason, rule, signals) from a verdicts.parquet.
fn verdicts(out: &Path) -> BTreeMap<String, (String, String, String, Vec<String>)> {
    let df = read_parquet(&out.join("verdicts.parquet"));
    let get = |c: &str| str_col(&df, c);
    let (id, v, reason, rule, sig) = (
        get("event_id"),
        get("verdict"),
        get("reason"),
        get("rule"),
        get("signals"),
    );
    (0..df.height())
        .map(|i| {
            (
                id[i].clone().unwrap(),
                (
                    v[i].clone().unwrap(),
                    reason[i].clone().unwrap_or_default(),
                    rule[i].clone().unwrap_or_default(),
                    sig[i]
                        .clone()
                        .unwrap_or_default()
                        .split(';')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                ),
            )
        })
        .collect()
}

#[test]
fn every_injected_misuse_is_found_and_no_clean_access_is_called_unjustified() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    let o = audit(&sample_policy(), &out, &[]);
    assert_eq!(o.status.code(), Some(4), "findings exist: {}", stderr(&o));
    let v = verdicts(&out);
    assert_eq!(v.len(), 71_258, "every event of the period has a verdict");
    let labels = labels();

    // Per kind: how many labelled events got the expected verdict, reason and signals.
    let mut per_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (id, l) in &labels {
        let (verdict, reason, _, signals) = &v[id];
        let want = match l.expected_verdict.as_str() {
            "justified_if_role_listed" => "justified",
            other => other,
        };
        let hit = verdict == want
            && (l.expected_reason.is_empty() || &l.expected_reason == reason)
            && l.expected_signals.iter().all(|s| signals.contains(s));
        let e = per_kind.entry(l.kind.as_str()).or_default();
        e.0 += 1;
        e.1 += usize::from(hit);
        assert!(hit, "{id} ({}): got {verdict} {reason} {signals:?}", l.kind);
    }
    // Precision of "unjustified" and "emergency": nothing unlabelled is flagged.
    let flagged: BTreeSet<&String> = v
        .iter()
        .filter(|(_, x)| x.0 != "justified")
        .map(|(id, _)| id)
        .collect();
    let misuse: BTreeSet<&String> = labels
        .iter()
        .filter(|(_, l)| l.expected_verdict == "unjustified" || l.expected_verdict == "emergency")
        .map(|(id, _)| id)
        .collect();
    let true_pos = flagged.intersection(&misuse).count();
    let precision = true_pos as f64 / flagged.len() as f64;
    let recall = true_pos as f64 / misuse.len() as f64;
    println!("kind                              labelled  as expected");
    for (k, (n, hit)) in &per_kind {
        println!("{k:<34}{n:>8}  {hit:>11}");
    }
    println!(
        "flagged {} / misuse {}: precision {precision:.3}, recall {recall:.3}",
        flagged.len(),
        misuse.len()
    );
    assert_eq!(recall, 1.0);
    assert_eq!(precision, 1.0);
}

#[test]
fn each_shipped_policy_judges_the_sample_by_its_own_articles() {
    let labels = labels();
    let dir = tempfile::tempdir().unwrap();
    for (id, roles) in [
        ("leiden", vec![]),
        ("steenbergen", vec!["coordinator", "controller"]),
        ("westerveld", vec!["controller"]),
        ("aalsmeer", vec![]),
        (
            "inzet-zoetermeer",
            vec!["policy_adviser", "supervisor", "auditor", "administrator"],
        ),
    ] {
        let out = dir.path().join(id);
        let o = audit(
            &root().join(format!("schemas/policies/{id}.toml")),
            &out,
            &[],
        );
        assert_eq!(o.status.code(), Some(4), "{id}: {}", stderr(&o));
        let v = verdicts(&out);
        for (eid, l) in &labels {
            let verdict = &v[eid].0;
            match l.kind.as_str() {
                "snooping_other_team"
                | "self_lookup"
                | "family_lookup"
                | "restricted_browsing"
                | "terminated_account"
                | "past_retention"
                | "read_after_close" => {
                    assert_eq!(verdict, "unjustified", "{id} {eid} {}", l.kind)
                }
                "emergency_with_reason_assigned" | "emergency_without_reason" => {
                    assert_eq!(verdict, "emergency", "{id} {eid}")
                }
                "medical_without_big" => {
                    let big = id == "aalsmeer";
                    assert_eq!(verdict == "unjustified", big, "{id} {eid}");
                }
                _ => {}
            }
        }
        // Role reads: justified by the role exactly where the policy lists it.
        let df = read_parquet(&out.join("verdicts.parquet"));
        let ids = str_col(&df, "event_id");
        let users = str_col(&df, "user_id");
        let roles_now = str_col(&df, "user_role");
        let rules = str_col(&df, "rule");
        for i in 0..df.height() {
            let eid = ids[i].as_ref().unwrap();
            if labels.get(eid).is_some_and(|l| l.kind == "role_read") {
                let role = roles_now[i].clone().unwrap();
                let listed = roles.contains(&role.as_str());
                assert_eq!(
                    rules[i].as_deref() == Some(role.as_str()),
                    listed,
                    "{id}: {eid} by {} ({role})",
                    users[i].as_ref().unwrap()
                );
            }
        }
    }
}

#[test]
fn outputs_are_deterministic_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    audit(&sample_policy(), &a, &[]);
    audit(&sample_policy(), &b, &[]);
    let names: Vec<String> = files_under(&a)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "cases.csv",
            "emergency_logins.csv",
            "findings.csv",
            "manifest.json",
            "outliers.csv",
            "report.html",
            "verdicts.parquet"
        ]
    );
    for n in &names {
        assert!(
            std::fs::read(a.join(n)).unwrap() == std::fs::read(b.join(n)).unwrap(),
            "{n} differs between two runs"
        );
    }
    // The emergency-login list has every emergency login of the sample, with what followed.
    let mut r = common::csv_reader(&a.join("emergency_logins.csv"));
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 4);
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let given: Vec<&str> = rows.iter().map(|x| &x[col("reason_given")]).collect();
    assert_eq!(given.iter().filter(|g| **g == "false").count(), 2);
    assert!(rows
        .iter()
        .any(|x| &x[col("assignment_followed")] == "true"));
    // The review cases rank serial behaviour first.
    let mut r = common::csv_reader(&a.join("cases.csv"));
    let first = r.records().next().unwrap().unwrap();
    assert!(
        first[8].parse::<usize>().unwrap() >= 3,
        "most unjustified days first: {first:?}"
    );
}

#[test]
fn the_report_is_dutch_by_default_english_on_request_and_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let (nl, en) = (dir.path().join("nl"), dir.path().join("en"));
    audit(&sample_policy(), &nl, &[]);
    audit(&sample_policy(), &en, &["--lang", "en"]);
    let nl = std::fs::read_to_string(nl.join("report.html")).unwrap();
    let en = std::fs::read_to_string(en.join("report.html")).unwrap();
    assert!(nl.contains("<html lang=\"nl\">") && nl.contains("Onverklaarde toegang naar reden"));
    assert!(en.contains("<html lang=\"en\">") && en.contains("Unjustified accesses by reason"));
    for html in [&nl, &en] {
        assert_eq!(html.matches("<svg").count(), 4, "four charts");
        for forbidden in ["<script", "http://", "https://", "<link", "src="] {
            let n = html.matches(forbidden).count();
            // SVG namespaces are the only addresses allowed.
            let allowed = if forbidden == "http://" {
                html.matches("http://www.w3.org/").count()
            } else {
                0
            };
            assert_eq!(n, allowed, "report contains {forbidden}");
        }
        assert!(html.contains("Leiden art. 11 lid 1"), "articles are cited");
    }
}

#[test]
fn exit_status_tells_findings_from_none_and_from_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A period without events: no findings.
    let mut c = bin();
    c.args(["audit", "--store"])
        .arg(store())
        .arg("--policy")
        .arg(sample_policy())
        .args(["--period", "2024-Q1", "--out"])
        .arg(dir.path().join("empty"));
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("0 accesses"));
    // A broken policy: an error, naming file, line and fix.
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(sample_policy())
        .unwrap()
        .replace("id = \"auditor\"", "id = \"buddy\"");
    std::fs::write(&bad, text).unwrap();
    let o = audit(&bad, &dir.path().join("x"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("bad.toml:") && err.contains("unknown rule 'buddy'"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    // A bad period.
    let mut c = bin();
    c.args(["audit", "--store"])
        .arg(store())
        .arg("--policy")
        .arg(sample_policy())
        .args(["--period", "2026-Q5"]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("'2026-Q5'"));
}

/// Opens the report in Debian's chromium, headless, as a person would see it: the rendered DOM
/// has the sections and charts, and the screenshot is a real page.
#[test]
fn the_report_renders_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    audit(&sample_policy(), &out, &[]);
    let shot = root().join("reports/audit-report-screenshot.png");
    let Some(dom) = browser(&out.join("report.html"), &shot, 5200) else {
        return;
    };
    // A blank page compresses to a few KB; the report with tables and charts does not.
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.len() > 100_000,
        "screenshot is only {} bytes",
        png.len()
    );
    for id in [
        "summary",
        "coverage",
        "reasons",
        "cases",
        "emergency",
        "signals",
        "charts",
        "policy",
        "method",
    ] {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "section {id} rendered"
        );
    }
    assert_eq!(dom.matches("<svg").count(), 4);
    assert!(dom.contains("Rosa Yilmaz"), "the top review case is shown");
}

/// Partition pruning: an audit of one month opens only that month's event files. Proved by
/// deleting every other month from a copy of the store: the March audit still runs, lists only
/// March partitions in its evidence, and gives exactly the March verdicts of the year's audit
/// (first accesses included, thanks to the store's `first_access` table).
#[test]
fn an_audit_of_one_month_reads_only_that_months_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("store");
    for f in files_under(store()) {
        let rel = f.strip_prefix(store()).unwrap();
        let to = copy.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let keep = !rel.starts_with("events") || rel.starts_with("events/month=2026-03");
        if keep && rel.to_string_lossy() != ".lock" {
            std::fs::copy(&f, &to).unwrap();
        }
    }
    let month = dir.path().join("march");
    let o = bin()
        .args(["audit", "--store"])
        .arg(&copy)
        .arg("--policy")
        .arg(sample_policy())
        .args(["--period", "2026-03", "--out"])
        .arg(&month)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(month.join("manifest.json")).unwrap())
            .unwrap();
    let events: Vec<String> = manifest["store_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().to_string())
        .filter(|f| f.starts_with("events/"))
        .collect();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|f| f.starts_with("events/month=2026-03/")),
        "{events:?}"
    );

    let year = dir.path().join("year");
    audit(&sample_policy(), &year, &[]);
    let all = read_parquet(&year.join("verdicts.parquet"));
    let march = read_parquet(&month.join("verdicts.parquet"));
    let dates = all
        .column("local_date")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    let mask: polars::prelude::BooleanChunked = dates
        .str()
        .unwrap()
        .iter()
        .map(|d| d.is_some_and(|d| d.starts_with("2026-03")))
        .collect();
    let expected = all.filter(&mask).unwrap();
    assert!(expected.height() > 5000);
    assert!(
        expected.equals_missing(&march),
        "March verdicts differ from the year's"
    );
}

#[test]
fn timings_go_to_stderr_phase_by_phase_and_change_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let plain = audit(&sample_policy(), &a, &[]);
    let timed = audit(&sample_policy(), &b, &["--timings"]);
    assert_eq!(plain.status.code(), timed.status.code());
    assert!(!stderr(&plain).contains("timings"), "{}", stderr(&plain));
    let err = stderr(&timed);
    let lines: Vec<(f64, &str)> = err
        .lines()
        .skip_while(|l| *l != "timings (wall clock):")
        .skip(1)
        .map(|l| {
            let (secs, name) = l.trim_start().split_once(" s  ").expect(l);
            (secs.parse().expect(l), name)
        })
        .collect();
    let names: Vec<&str> = lines.iter().map(|(_, n)| *n).collect();
    assert_eq!(
        names,
        [
            "reading the store",
            "coding the reference data",
            "parts: verdicts",
            "parts: verdict columns",
            "parts: waiting for the verdict writer",
            "parts: counts and review rows",
            "finishing the verdict file",
            "review lists, outliers and report",
            "evidence manifest",
            "in all",
        ],
        "{err}"
    );
    // The phases follow one another: their times add up to the run's (each rounded to 1 ms).
    let (phases, all) = lines.split_at(lines.len() - 1);
    let sum: f64 = phases.iter().map(|(s, _)| s).sum();
    assert!(
        phases.iter().all(|(s, _)| *s >= 0.0) && (sum - all[0].0).abs() < 0.006,
        "{err}"
    );
    // Only the manifest (which records the command line) differs.
    for p in files_under(&a) {
        let n = p.file_name().unwrap();
        if n != "manifest.json" {
            assert!(
                std::fs::read(&p).unwrap() == std::fs::read(b.join(n)).unwrap(),
                "{n:?} differs with --timings"
            );
        }
    }
}

#[test]
fn an_audit_that_fails_leaves_no_output_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let sample = root().join("samples/voorbeeldstad");
    ok(&ingest(
        &store,
        &root().join("samples/demo-key.json"),
        &[&sample.join("reference"), &sample.join("canonical")],
        &[],
    ));
    // A damaged part of the period's second month.
    let part = files_under(&store.join("events/month=2026-02"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let saved = dir.path().join("saved.parquet");
    std::fs::copy(&part, &saved).unwrap();
    std::fs::write(&part, b"PAR1 not a parquet file PAR1").unwrap();
    let march = files_under(&store.join("events/month=2026-03"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let out = dir.path().join("audit");
    let audit = || {
        bin()
            .args(["audit", "--store"])
            .arg(&store)
            .arg("--policy")
            .arg(sample.join("policy.toml"))
            .args(["--period", "2026-Q1", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let o = audit();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&part.display().to_string()) && err.contains("is damaged"),
        "{err}"
    );
    // The damage is found before the folder is made.
    assert!(!out.exists(), "{:?}", files_under(&out));

    // Damage that only a reader finds (a file that begins and ends well, with a broken footer)
    // stops the audit after its first part; what it wrote is removed.
    let mut bytes = std::fs::read(&march).unwrap();
    let end = bytes.len() - 8;
    bytes[end - 40..end].fill(0xff);
    std::fs::write(&march, &bytes).unwrap();
    std::fs::copy(&saved, &part).unwrap();
    let o = audit();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let left: Vec<String> = files_under(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, [".wmo-audit-unfinished"], "{left:?}");
    // verify refuses the folder: it holds no sealed run.
    let v = bin().arg("verify").arg(&out).output().unwrap();
    assert_ne!(v.status.code(), Some(0));
}

#[test]
fn an_output_folder_holding_a_link_is_refused_and_nothing_is_written_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit");
    std::fs::create_dir_all(&out).unwrap();
    let outside = dir.path().join("outside.html");
    std::os::unix::fs::symlink(&outside, out.join("report.html")).unwrap();
    let o = bin()
        .args(["audit", "--store"])
        .arg(sample_store())
        .arg("--policy")
        .arg(root().join("samples/voorbeeldstad/policy.toml"))
        .args(["--period", "2026-Q1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds the link 'report.html'"),
        "{}",
        stderr(&o)
    );
    assert!(!outside.exists(), "a file was written through the link");
}

#[test]
fn a_policy_id_with_path_parts_is_refused_before_any_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("samples/voorbeeldstad/policy.toml"))
        .unwrap()
        .replacen("id = \"voorbeeldstad\"", "id = \"../../x\"", 1);
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, text).unwrap();
    let o = bin()
        .current_dir(dir.path())
        .args(["audit", "--store"])
        .arg(sample_store())
        .arg("--policy")
        .arg(&policy)
        .args(["--period", "2026-Q1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not a plain name"), "{}", stderr(&o));
    let made: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(made.len(), 1, "only the policy file: {made:?}");
}
