//! Integration tests of `ingest` on tiny fixtures: bad rows, idempotence, crash safety, DST,
//! FHIR, whole-file errors and keys. Each runs the real binary.

mod common;

use common::*;
use polars::prelude::*;

fn reference() -> Vec<std::path::PathBuf> {
    [
        "teams",
        "staff",
        "clients",
        "cases",
        "assignments",
        "complaints",
        "access_log",
    ]
    .iter()
    .map(|t| fixture(&format!("ref/{t}.csv")))
    .collect()
}

fn refs(paths: &[std::path::PathBuf]) -> Vec<&std::path::Path> {
    paths.iter().map(|p| p.as_path()).collect()
}

/// A store snapshot's Parquet files (its data, without the manifest).
fn data_files(snapshot: &std::collections::BTreeMap<String, Vec<u8>>) -> Vec<(&String, &Vec<u8>)> {
    snapshot
        .iter()
        .filter(|(k, _)| k.ends_with(".parquet"))
        .collect()
}

/// The quarantine table's line numbers, in its row order.
fn line_numbers(quarantine: &DataFrame) -> Vec<u64> {
    quarantine
        .column("line")
        .unwrap()
        .u64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

#[test]
fn every_bad_row_kind_is_quarantined_with_its_reason_and_counts_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    ok(&ingest(&store, &key, &refs(&reference()), &[]));
    let bad = [
        fixture("bad/staff.csv"),
        fixture("bad/assignments.csv"),
        fixture("bad/access_log.csv"),
    ];
    let o = ingest(&store, &key, &refs(&bad), &[]);
    let out = ok(&o);
    let err = stderr(&o);

    // The quarantine table holds every bad row with file, line and reason.
    let m = manifest(&store);
    let qfile = m["tables"]["quarantine"]["files"][0]
        .as_str()
        .unwrap()
        .to_string();
    let q = read_parquet(&store.join(qfile));
    let files = str_col(&q, "file");
    let reasons = str_col(&q, "reason");
    let lines = line_numbers(&q);
    let found = |file: &str, line: u64| -> String {
        let i = (0..q.height())
            .find(|&i| files[i].as_deref() == Some(file) && lines[i] == line)
            .unwrap_or_else(|| panic!("no quarantine row for {file}:{line}; have {reasons:?}"));
        reasons[i].clone().unwrap()
    };
    let expect = [
        ("staff.csv", 2, "team_id 'WT-NERGENS' is not in teams"),
        ("staff.csv", 3, "unknown role 'wizard'"),
        (
            "staff.csv",
            4,
            "person_id (value withheld) is not a BSN: it fails the 11-check",
        ),
        (
            "assignments.csv",
            2,
            "valid_to '2026-03-01' is before valid_from '2026-03-10'",
        ),
        ("assignments.csv", 3, "case_id 'Z9' is not in cases"),
        ("access_log.csv", 2, "timestamp 'gisteren' is not ISO 8601"),
        ("access_log.csv", 3, "unknown action 'Q'"),
        ("access_log.csv", 4, "required field 'user_id' is empty"),
        (
            "access_log.csv",
            5,
            "client_id (value withheld) is not a BSN: it fails the 11-check",
        ),
        ("access_log.csv", 6, "unknown section 'kitchen'"),
        (
            "access_log.csv",
            7,
            "emergency 'misschien' is not true or false",
        ),
        ("access_log.csv", 8, "outcome '3' is not one of 0, 4, 8, 12"),
        (
            "access_log.csv",
            9,
            "row has 7 fields where the header has 11",
        ),
        (
            "access_log.csv",
            10,
            "event 'E1' from source 'sys' is already stored with different content",
        ),
    ];
    for (file, line, reason) in expect {
        let got = found(file, line);
        assert!(
            got.contains(reason),
            "{file}:{line}: expected '{reason}', got '{got}'"
        );
        // The terminal shows the same, as file:line: reason.
        assert!(
            err.contains(&format!("{file}:{line}: ")),
            "stderr lacks {file}:{line}:\n{err}"
        );
    }
    assert_eq!(
        q.height(),
        expect.len(),
        "no other row quarantined: {reasons:?}"
    );
    // The raw text is kept, with identifiers redacted.
    let raws = str_col(&q, "raw");
    assert!(raws
        .iter()
        .flatten()
        .all(|r| !r.contains("111222334") && !r.contains("111222333")));
    assert!(raws.iter().flatten().any(|r| r.contains("gisteren")));

    // Counts reconcile per file and overall; duplicates are counted, not stored again.
    let run = m["runs"].as_array().unwrap().last().unwrap();
    for f in run["files"].as_array().unwrap() {
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(
            n("rows_read"),
            n("rows_stored") + n("rows_quarantined") + n("rows_duplicate"),
            "{f}"
        );
    }
    let log = run["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "access_log.csv")
        .unwrap();
    assert_eq!(
        (
            log["rows_read"].as_u64(),
            log["rows_stored"].as_u64(),
            log["rows_duplicate"].as_u64()
        ),
        (Some(11), Some(1), Some(1))
    );
    assert!(
        out.contains("rows read 17 = stored 1 + quarantined 14 + duplicates 2"),
        "{out}"
    );

    // The one good new event was stored, its free text redacted.
    let ev = events(&store);
    assert_eq!(ev.height(), 4);
    let reasons = str_col(&ev, "emergency_reason");
    assert!(
        reasons.contains(&Some("Spoed voor [bsn]".into())),
        "{reasons:?}"
    );
}

#[test]
fn timings_go_to_stderr_table_by_table_and_change_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let files = reference();
    let plain = ingest(&a, &key, &refs(&files), &[]);
    let timed = ingest(&b, &key, &refs(&files), &["--timings"]);
    ok(&plain);
    ok(&timed);
    let err = stderr(&timed);
    assert!(!stderr(&plain).contains("timings"));
    let names: Vec<&str> = err
        .lines()
        .skip_while(|l| *l != "timings (wall clock):")
        .skip(1)
        .map(|l| l.trim_start().split_once(" s  ").expect(l).1)
        .collect();
    assert_eq!(
        names,
        [
            "hashing the reference files",
            "table teams",
            "table staff",
            "table clients",
            "table cases",
            "table assignments",
            "table complaints",
            "waiting for the event files' hashes",
            "table access_log",
            "waiting for the reference tables' files",
            "quarantine and manifest",
            "in all",
        ],
        "{err}"
    );
    // The stores differ only in the manifest, which records the time of the run.
    let (sa, sb) = (snapshot(&a), snapshot(&b));
    assert_eq!(sa.keys().collect::<Vec<_>>(), sb.keys().collect::<Vec<_>>());
    for (name, bytes) in &sa {
        if !name.ends_with("manifest.json") {
            assert!(bytes == &sb[name], "{name} differs with --timings");
        }
    }
}

#[test]
fn a_log_hashed_while_it_is_read_records_its_own_hash_and_is_known_again() {
    // Into a new store an event CSV is hashed as it is read (one pass over a large file):
    // its quarantine rows, written before the hash is known, and its manifest record must still
    // carry the file's SHA-256, and a second run must know the file.
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let mut files = reference();
    files.retain(|f| !f.ends_with("access_log.csv"));
    files.push(fixture("bad/access_log.csv"));
    let first = ok(&ingest(&store, &key, &refs(&files), &[]));
    let bytes = std::fs::read(fixture("bad/access_log.csv")).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let m = manifest(&store);
    let record = m["runs"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "access_log.csv")
        .unwrap()
        .clone();
    assert_eq!(record["sha256"], sha.as_str(), "{first}");
    let q = read_parquet(&store.join(m["tables"]["quarantine"]["files"][0].as_str().unwrap()));
    let logged: Vec<Option<String>> = (0..q.height())
        .filter(|&i| str_col(&q, "file")[i].as_deref() == Some("access_log.csv"))
        .map(|i| str_col(&q, "file_sha256")[i].clone())
        .collect();
    assert!(logged.len() >= 5, "{logged:?}");
    assert!(
        logged.iter().all(|h| h.as_deref() == Some(sha.as_str())),
        "{logged:?}"
    );

    let before = snapshot(&store);
    let again = ok(&ingest(
        &store,
        &key,
        &[&fixture("bad/access_log.csv")],
        &[],
    ));
    assert!(again.contains("already-ingested (run 1)"), "{again}");
    let after = snapshot(&store);
    assert_eq!(
        data_files(&before),
        data_files(&after),
        "no data file changed"
    );
}

#[test]
fn strict_mode_signals_quarantined_rows_in_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let o = ingest(
        &store,
        &key,
        &[&fixture("ref/teams.csv"), &fixture("bad/staff.csv")],
        &["--strict"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[test]
fn ingesting_the_same_files_again_adds_nothing_and_an_overlapping_export_adds_only_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let files = reference();
    ok(&ingest(&store, &key, &refs(&files), &[]));
    let before = snapshot(&store);
    let pairs_before = read_parquet(&store.join("first_access.parquet"));
    let out = ok(&ingest(&store, &key, &refs(&files), &[]));
    assert!(out.contains("already-ingested (run 1)"), "{out}");
    let after = snapshot(&store);
    assert_eq!(
        data_files(&before),
        data_files(&after),
        "no data file changed"
    );

    // A second export overlapping the first: E2 and E3 again (byte-identical rows), E4 new (and
    // of a new pair).
    let overlap = dir.path().join("access_log_2.csv");
    let text = std::fs::read_to_string(fixture("ref/access_log.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(1);
    let extra = "E4,2026-04-02T11:00:00+02:00,mw2,R,111222333,contact,false,,0,sys,WS-1";
    std::fs::write(&overlap, format!("{}\n{extra}\n", lines.join("\n"))).unwrap();
    let out = ok(&ingest(&store, &key, &[&overlap], &[]));
    assert!(
        out.contains("rows read 3 = stored 1 + quarantined 0 + duplicates 2"),
        "{out}"
    );
    let ev = events(&store);
    assert_eq!(str_col(&ev, "event_id"), strings(&["E1", "E2", "E3", "E4"]));
    // Pair codes are append-only: the first run's pairs keep their codes (stored events carry
    // them), and a new pair gets the next one.
    let pairs_after = read_parquet(&store.join("first_access.parquet"));
    assert_eq!(pairs_after.height(), pairs_before.height() + 1);
    assert!(pairs_after
        .head(Some(pairs_before.height()))
        .select(["pair", "user_id", "client_pid"])
        .unwrap()
        .equals(
            &pairs_before
                .select(["pair", "user_id", "client_pid"])
                .unwrap()
        ));
    assert_codes_count_up(&pairs_after);
    // The new event went into a new part of its month; the old part is untouched.
    assert_eq!(
        before.get("events/month=2026-04/part-r000001-0000.parquet"),
        snapshot(&store).get("events/month=2026-04/part-r000001-0000.parquet")
    );
    assert!(store
        .join("events/month=2026-04/part-r000003-0000.parquet")
        .exists());
}

#[test]
fn a_reference_row_with_a_known_key_is_replaced_not_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    ok(&ingest(&store, &key, &refs(&reference()), &[]));
    let cases = dir.path().join("cases_update.csv");
    std::fs::write(&cases, "case_id,client_id,team_id,opened,closed,closure,domestic_violence\nZ1,111222333,WT-NOORD,2025-01-01,2026-05-31,completed,false\n").unwrap();
    let out = ok(&ingest(&store, &key, &[&cases], &[]));
    assert!(out.contains("1 replaced an earlier version"), "{out}");
    let df = read_parquet(&store.join("cases.parquet"));
    assert_eq!(df.height(), 2);
    assert_eq!(
        str_col(&df, "closure"),
        [Some("completed".to_string()), Some("completed".to_string())]
    );
}

#[test]
fn a_run_killed_before_its_commit_point_leaves_the_store_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let files = reference();
    ok(&ingest(&store, &key, &refs(&files[..6]), &[]));
    let before = snapshot(&store);
    let o = ingest(&store, &key, &[&files[6]], &[]).status.code();
    assert_eq!(o, Some(0));
    // Same again on a fresh copy, but stopped dead after staging.
    let store2 = dir.path().join("store2");
    ok(&ingest(&store2, &key, &refs(&files[..6]), &[]));
    let mut c = bin();
    c.env("WMO_AUDIT_FAILPOINT", "staged")
        .args(["ingest", "-q", "--store"])
        .arg(&store2)
        .arg("--key")
        .arg(&key)
        .arg(&files[6]);
    let killed = c.output().unwrap();
    assert_eq!(killed.status.code(), Some(86), "{}", stderr(&killed));
    // Readers see the old store (the staging area is hidden and ignored).
    let visible: Vec<_> = snapshot(&store2)
        .into_keys()
        .filter(|k| !k.starts_with(".staging"))
        .collect();
    assert_eq!(visible, before.keys().cloned().collect::<Vec<_>>());
    // The next run discards the uncommitted work and ends as a clean run would.
    ok(&ingest(&store2, &key, &[&files[6]], &[]));
    assert!(!store2.join(".staging").exists());
    assert_eq!(events(&store2).height(), 3);
    let parquet = |s: std::collections::BTreeMap<String, Vec<u8>>| {
        s.into_iter()
            .filter(|(k, _)| k.ends_with(".parquet"))
            .collect::<Vec<_>>()
    };
    assert_eq!(parquet(snapshot(&store)), parquet(snapshot(&store2)));
}

#[test]
fn a_run_killed_after_its_commit_point_is_completed_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let files = reference();
    let mut c = bin();
    c.env("WMO_AUDIT_FAILPOINT", "committed")
        .args(["ingest", "-q", "--store"])
        .arg(&store)
        .arg("--key")
        .arg(&key)
        .args(&files);
    assert_eq!(c.output().unwrap().status.code(), Some(86));
    assert!(
        !store.join("manifest.json").exists(),
        "nothing moved into place yet"
    );
    // Any later run finishes the committed one first; the files are then already ingested.
    let out = ok(&ingest(&store, &key, &refs(&files), &[]));
    assert!(out.contains("already-ingested (run 1)"), "{out}");
    assert_eq!(events(&store).height(), 3);
    assert_eq!(read_parquet(&store.join("staff.parquet")).height(), 3);
}

#[test]
fn local_times_around_both_dst_changes_are_resolved_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let profile = root().join("schemas/profiles/zaaksysteem-nl.toml");
    let out = ok(&ingest(
        &store,
        &key,
        &[&fixture("dst/Logboek_dst.csv")],
        &["--profile", profile.to_str().unwrap()],
    ));
    assert!(
        out.contains("local times: 1 in the repeated October hour"),
        "{out}"
    );
    assert!(out.contains("1 in the skipped March hour"), "{out}");
    let ev = events(&store);
    let times: Vec<i64> = ev
        .column("event_time")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .into_no_null_iter()
        .collect();
    let utc = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_micros()
    };
    assert_eq!(
        times,
        vec![
            utc("2025-10-25T23:30:00Z"), // 01:30 CEST
            utc("2025-10-26T00:30:00Z"), // 02:30, first occurrence (CEST)
            utc("2025-10-26T02:30:00Z"), // 03:30 CET
            utc("2026-03-29T01:30:00Z"), // 02:30 does not exist: read as 03:30 CEST
            utc("2026-03-29T01:30:00Z"), // 03:30 CEST, written without seconds
        ]
    );
    // Dutch values were mapped, Windows-1252 text decoded.
    assert_eq!(str_col(&ev, "action"), strings(&["R", "R", "R", "U", "R"]));
    assert_eq!(str_col(&ev, "section")[3].as_deref(), Some("finance"));
    assert_eq!(
        str_col(&ev, "emergency_reason")[3].as_deref(),
        Some("Cliënt in nood, coördinator onbereikbaar")
    );
    let outcome: Vec<i32> = ev
        .column("outcome")
        .unwrap()
        .i32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(outcome, vec![0, 0, 0, 0, 4]);
    // The events land in the month of their local date.
    let months = str_col(&ev, "month");
    assert_eq!(months[0].as_deref(), Some("2025-10"));
}

#[test]
fn a_profile_that_rejects_ambiguous_times_quarantines_them() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let text =
        std::fs::read_to_string(root().join("schemas/profiles/zaaksysteem-nl.toml")).unwrap();
    let strict = dir.path().join("strict.toml");
    std::fs::write(
        &strict,
        text.replace(
            "ambiguous_time = \"earliest\"",
            "ambiguous_time = \"reject\"",
        )
        .replace(
            "nonexistent_time = \"shift_forward\"",
            "nonexistent_time = \"reject\"",
        ),
    )
    .unwrap();
    let o = ingest(
        &store,
        &key,
        &[&fixture("dst/Logboek_dst.csv")],
        &["--profile", strict.to_str().unwrap()],
    );
    let out = ok(&o);
    assert!(out.contains("stored 3 + quarantined 2"), "{out}");
    assert!(stderr(&o).contains("Logboek_dst.csv:3: event_time: local time '26-10-2025 02:30:00' in Europe/Amsterdam: occurs twice"), "{}", stderr(&o));
}

#[test]
fn fhir_r4_bundle_and_r5_ndjson_map_onto_the_contract_including_break_the_glass() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    ok(&ingest(&store, &key, &refs(&reference()[..6]), &[]));
    let o = ingest(
        &store,
        &key,
        &[
            &fixture("fhir/r4-bundle.json"),
            &fixture("fhir/r5-export.ndjson"),
        ],
        &[],
    );
    let out = ok(&o);
    assert!(
        out.contains("rows read 6 = stored 4 + quarantined 2 + duplicates 0"),
        "{out}"
    );
    let err = stderr(&o);
    assert!(
        err.contains("r5-export.ndjson:3: resource type 'Patient' is not an AuditEvent"),
        "{err}"
    );
    assert!(
        err.contains("r5-export.ndjson:4: line is not JSON"),
        "{err}"
    );

    let ev = events(&store);
    let col = |n: &str| str_col(&ev, n);
    assert_eq!(
        col("event_id"),
        strings(&["r4-btg-1", "r4-read-1", "r5-btg-1", "r5-read-1"])
    );
    assert_eq!(col("user_id"), strings(&["mw2", "mw1", "mw1", "mw3"]));
    assert_eq!(col("action"), strings(&["E", "R", "R", "R"]));
    assert_eq!(
        col("section"),
        strings(&["medical", "plan", "medical", "contact"])
    );
    assert_eq!(col("source"), strings(&["sys", "sys", "sys", "sys"]));
    assert_eq!(
        col("workstation"),
        [
            None,
            Some("WS-1".to_string()),
            None,
            Some("WS-3".to_string())
        ]
    );
    let emergency: Vec<bool> = ev
        .column("emergency")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(emergency, vec![true, false, true, false]);
    assert_eq!(
        col("emergency_reason"),
        [
            Some("Crisis: cliënt [bsn] niet aanspreekbaar".to_string()),
            None,
            None,
            None
        ]
    );
    let outcome: Vec<i32> = ev
        .column("outcome")
        .unwrap()
        .i32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(outcome, vec![0, 0, 0, 4]);
    // The client is the same pseudonym as from the canonical CSV; R5 takes occurredDateTime.
    let canonical = dir.path().join("canonical");
    ok(&ingest(&canonical, &key, &refs(&reference()), &[]));
    let cev = events(&canonical);
    let pid_of = |df: &DataFrame, id: &str| {
        let ids = str_col(df, "event_id");
        let i = ids.iter().position(|x| x.as_deref() == Some(id)).unwrap();
        str_col(df, "client_pid")[i].clone()
    };
    assert_eq!(pid_of(&ev, "r4-read-1"), pid_of(&cev, "E1"));
    assert_eq!(pid_of(&ev, "r5-read-1"), pid_of(&cev, "E3"));
    let t: Vec<i64> = ev
        .column("event_time")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .into_no_null_iter()
        .collect();
    assert_eq!(
        t[3],
        chrono::DateTime::parse_from_rfc3339("2026-04-01T08:00:00Z")
            .unwrap()
            .timestamp_micros()
    );
}

#[test]
fn an_unreadable_file_is_an_error_naming_it_and_the_store_stays_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    ok(&ingest(&store, &key, &refs(&reference()[..6]), &[]));
    let before = snapshot(&store);

    let binary = dir.path().join("access_log_bin.csv");
    std::fs::write(&binary, [0x50u8, 0x4b, 3, 4, 0, 0, 0, 0]).unwrap();
    let latin = dir.path().join("access_log_latin.csv");
    let text = std::fs::read_to_string(fixture("ref/access_log.csv"))
        .unwrap()
        .replace("E2,", "Ë2,");
    std::fs::write(&latin, encoding_rs::WINDOWS_1252.encode(&text).0).unwrap();
    let semicolons = dir.path().join("access_log_semi.csv");
    std::fs::write(&semicolons, "event_id;event_time;user_id\nE1;x;y\n").unwrap();

    let cases = [
        (
            &binary,
            "access_log_bin.csv: holds NUL bytes: this is a binary file, not CSV text",
        ),
        (&latin, "access_log_latin.csv: line 3 is not valid UTF-8"),
        (&semicolons, "the delimiter is probably not ','"),
    ];
    for (file, message) in cases {
        // A good file beside the bad one is not ingested either: all or nothing.
        let o = ingest(&store, &key, &[&fixture("ref/access_log.csv"), file], &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(message), "expected '{message}' in:\n{err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
        assert_eq!(snapshot(&store), before);
    }
}

#[test]
fn the_store_refuses_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    ok(&ingest(&store, &key, &[&fixture("ref/teams.csv")], &[]));
    let other_dir = dir.path().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let other = keygen(&other_dir);
    let o = ingest(&store, &other, &[&fixture("ref/staff.csv")], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("pseudonyms would not match"),
        "{}",
        stderr(&o)
    );
    // The key itself is never printed or stored.
    let secret: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    let secret = secret["secret"].as_str().unwrap();
    assert!(!stderr(&o).contains(secret));
    for bytes in snapshot(&store).values() {
        assert!(!String::from_utf8_lossy(bytes).contains(secret));
    }
}

#[test]
fn an_unknown_input_file_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let odd = dir.path().join("export.csv");
    std::fs::write(&odd, "a,b\n1,2\n").unwrap();
    let o = ingest(&store, &key, &[&odd], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot tell which table 'export.csv' holds"),
        "{}",
        stderr(&o)
    );
    assert!(!store.join("manifest.json").exists());
}

#[test]
fn a_log_read_by_several_threads_keeps_the_file_order_in_quarantine_and_pair_codes() {
    // Many batches (the readers hand on 1,024 rows at a time), bad rows spread over them, and
    // (user, client) pairs first seen all through the file: pair codes count in file order.
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    ok(&ingest(&store, &key, &refs(&reference()), &[]));
    let clients = ["111222333", "012345672"];
    let mut csv = String::from(
        "event_id,event_time,user_id,action,client_id,section,emergency,emergency_reason,\
         outcome,source,workstation\n",
    );
    let (mut bad_lines, mut first_pairs) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    for i in 0..6000u32 {
        let line = u64::from(i) + 2;
        let (user, client) = (
            format!("u{}", (i * 7) % 2003),
            clients[(i % 5 % 2) as usize],
        );
        let action = if i % 397 == 13 { "Q" } else { "R" };
        if action == "Q" {
            bad_lines.push(line);
        } else if seen.insert((user.clone(), client)) {
            first_pairs.push((user.clone(), client));
        }
        let (m, s) = (i / 60, i % 60);
        csv.push_str(&format!(
            "X{i},2026-03-0{}T{:02}:{:02}:{s:02}+01:00,{user},{action},{client},plan,false,,0,sys,\n",
            2 + m / 1200,
            8 + m % 1200 / 60,
            m % 60
        ));
    }
    let log = dir.path().join("access_log.csv");
    std::fs::write(&log, csv).unwrap();
    let out = ok(&ingest(&store, &key, &[log.as_path()], &[]));
    assert!(
        out.contains(&format!(
            "stored {} + quarantined {}",
            6000 - bad_lines.len(),
            bad_lines.len()
        )),
        "{out}"
    );

    let m = manifest(&store);
    let q = read_parquet(&store.join(m["tables"]["quarantine"]["files"][0].as_str().unwrap()));
    let lines = line_numbers(&q);
    assert_eq!(lines, bad_lines, "quarantined rows in the file's order");

    let firsts = read_parquet(&store.join("first_access.parquet"));
    assert_codes_count_up(&firsts);
    let users = str_col(&firsts, "user_id");
    let pids = str_col(&firsts, "client_pid");
    // The reference ingest's own pairs come first; this file's follow in order of first access.
    let new = users.len() - first_pairs.len();
    let got: Vec<&str> = users[new..].iter().map(|u| u.as_deref().unwrap()).collect();
    let want: Vec<&str> = first_pairs.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(
        got, want,
        "pair codes in the order the file first names each pair"
    );
    // And each pair's client is the one the file named: one pseudonym per BSN.
    let mut pid_of = std::collections::HashMap::new();
    for ((_, bsn), pid) in first_pairs.iter().zip(&pids[new..]) {
        assert_eq!(pid_of.entry(*bsn).or_insert(pid.clone()), pid);
    }
    assert_eq!(pid_of.len(), 2);
}

#[test]
fn events_by_accounts_and_about_clients_outside_the_reference_data_are_counted_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    ok(&ingest(&store, &key, &refs(&reference()), &[]));
    let header = "event_id,event_time,user_id,action,client_id,section,emergency,\
                  emergency_reason,outcome,source,workstation\n";
    // mw9 is in no staff table; 123456782 passes the 11-check but is in no clients table. The
    // pair (mw1, 111222333) is already stored; (mw9, 111222333) is new and seen twice.
    let log = dir.path().join("access_log_2.csv");
    std::fs::write(
        &log,
        format!(
            "{header}\
             E10,2026-03-03T09:00:00+01:00,mw9,R,111222333,plan,false,,0,sys,\n\
             E11,2026-03-03T09:01:00+01:00,mw9,R,111222333,plan,false,,0,sys,\n\
             E12,2026-03-03T09:02:00+01:00,mw1,R,123456782,plan,false,,0,sys,\n\
             E13,2026-03-03T09:03:00+01:00,mw1,R,111222333,plan,false,,0,sys,\n"
        ),
    )
    .unwrap();
    let out = ok(&ingest(&store, &key, &[&log], &[]));
    assert!(
        out.contains("warning: 2 stored events are by accounts not in the staff table"),
        "{out}"
    );
    assert!(
        out.contains("warning: 1 stored events are about clients not in the clients table"),
        "{out}"
    );

    // Once mw9 is in the staff table, a stored pair of theirs counts as known.
    let staff = dir.path().join("staff_2.csv");
    std::fs::write(
        &staff,
        "user_id,display_name,role,team_id,valid_from,valid_to,big_registered,person_id,surname,address_key\n\
         mw9,Dirk Jansen,worker,WT-NOORD,2024-01-01,,false,,,\n",
    )
    .unwrap();
    let log = dir.path().join("access_log_3.csv");
    std::fs::write(
        &log,
        format!("{header}E14,2026-03-04T09:00:00+01:00,mw9,R,111222333,plan,false,,0,sys,\n"),
    )
    .unwrap();
    let out = ok(&ingest(&store, &key, &[&staff, &log], &[]));
    assert!(out.contains("access_log_3.csv"), "{out}");
    assert!(!out.contains("warning:"), "{out}");
}

#[test]
fn a_month_that_comes_back_after_its_keys_were_let_go_is_still_de_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let row = |id: &str, day: &str, ws: &str| {
        format!("{id},2026-{day}T09:00:00+01:00,mw1,R,111222333,plan,false,,0,sys,{ws}\n")
    };
    // January, then more February events than --part-rows 2 holds, then January again: a
    // copy (a duplicate), a changed copy (quarantined) and a new event.
    let mut log = String::from(
        "event_id,event_time,user_id,action,client_id,section,emergency,\
         emergency_reason,outcome,source,workstation\n",
    );
    for (id, day, ws) in [
        ("J1", "01-05", "WS-1"),
        ("J2", "01-06", "WS-1"),
        ("F1", "02-02", "WS-1"),
        ("F2", "02-03", "WS-1"),
        ("F3", "02-04", "WS-1"),
        ("F4", "02-05", "WS-1"),
        ("F5", "02-06", "WS-1"),
        ("J1", "01-05", "WS-1"),
        ("J2", "01-06", "WS-2"),
        ("J3", "01-07", "WS-1"),
    ] {
        log.push_str(&row(id, day, ws));
    }
    let file = dir.path().join("access_log.csv");
    std::fs::write(&file, log).unwrap();
    let mut stores = Vec::new();
    for part_rows in ["2", "2000000"] {
        let store = dir.path().join(format!("store-{part_rows}"));
        ok(&ingest(&store, &key, &refs(&reference()), &[]));
        let o = ingest(&store, &key, &[&file], &["--part-rows", part_rows]);
        let out = ok(&o);
        assert!(
            out.contains("rows read 10 = stored 8 + quarantined 1 + duplicates 1"),
            "--part-rows {part_rows}: {out}"
        );
        assert!(
            stderr(&o).contains("access_log.csv:10: event 'J2' from source 'sys' is already stored with different content"),
            "{}",
            stderr(&o)
        );
        stores.push(store);
    }
    // Small parts, January's in more than one; the same events either way.
    let january = |store: &std::path::Path| files_under(&store.join("events/month=2026-01")).len();
    assert!(
        january(&stores[0]) > january(&stores[1]),
        "{:?}",
        files_under(&stores[0])
    );
    assert!(events(&stores[0]).equals_missing(&events(&stores[1])));
    assert_eq!(events(&stores[0]).height(), 11);
}

#[test]
fn fhir_files_with_a_byte_order_mark_read_as_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let with_mark = dir.path().join("with-mark");
    std::fs::create_dir_all(&with_mark).unwrap();
    for name in ["r4-bundle.json", "r5-export.ndjson"] {
        let bytes = std::fs::read(fixture(&format!("fhir/{name}"))).unwrap();
        std::fs::write(
            with_mark.join(name),
            [b"\xef\xbb\xbf".as_slice(), &bytes].concat(),
        )
        .unwrap();
    }
    let stores = [("plain", fixture("fhir")), ("marked", with_mark)].map(|(name, fhir)| {
        let store = dir.path().join(name);
        ok(&ingest(&store, &key, &refs(&reference()[..6]), &[]));
        let out = ok(&ingest(&store, &key, &[&fhir], &[]));
        assert!(
            out.contains("rows read 6 = stored 4 + quarantined 2 + duplicates 0"),
            "{name}: {out}"
        );
        events(&store)
    });
    assert!(stores[0].equals_missing(&stores[1]));
}

#[test]
fn a_huge_field_is_quoted_by_its_start_and_a_non_existent_day_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let good = std::fs::read_to_string(fixture("ref/access_log.csv")).unwrap();
    let mut lines = good.lines();
    let header = lines.next().unwrap();
    let first = lines.next().unwrap();
    let fields: Vec<&str> = first.split(',').collect();
    let with = |at: usize, value: &str| {
        let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        f[at] = value.to_string();
        f.join(",")
    };
    let at = |name: &str| header.split(',').position(|h| h == name).unwrap();
    let log = dir.path().join("access_log.csv");
    let huge = "Q".repeat(10 * 1024 * 1024);
    std::fs::write(
        &log,
        format!(
            "{header}\n{}\n{}\n",
            with(at("action"), &huge),
            with(at("event_time"), "2025-02-29T10:00:00+01:00").replacen(fields[0], "x-feb", 1)
        ),
    )
    .unwrap();
    let reference = reference();
    let mut inputs = refs(&reference[..6]);
    inputs.push(&log);
    let o = ingest(&store, &key, &inputs, &[]);
    let err = stderr(&o);
    assert!(err.len() < 10_000, "stderr holds {} bytes", err.len());
    assert!(err.contains("(10485760 bytes)"), "{err}");
    assert!(
        err.contains(
            "timestamp '2025-02-29T10:00:00+01:00' names a day or time that does not exist"
        ),
        "{err}"
    );
}

#[test]
fn a_nul_character_in_a_fhir_value_is_quarantined_as_in_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    ok(&ingest(&store, &key, &refs(&reference()[..6]), &[]));
    let text = std::fs::read_to_string(fixture("fhir/r5-export.ndjson")).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.contains("\"r5-read-1\""));
    let log = dir.path().join("nul.ndjson");
    std::fs::write(&log, first.replace("\"r5-read-1\"", "\"r5-\\u0000read-1\"")).unwrap();
    let o = ingest(&store, &key, &[&log], &[]);
    let out = ok(&o);
    assert!(
        out.contains("rows read 1 = stored 0 + quarantined 1"),
        "{out}"
    );
    assert!(
        stderr(&o).contains("nul.ndjson:1: event_id holds a NUL character"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_empty_fhir_file_is_refused_as_an_empty_csv_file_is() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    for name in ["access_log.csv", "export.ndjson", "bundle.json"] {
        let file = dir.path().join(name);
        std::fs::write(&file, "").unwrap();
        let o = ingest(&store, &key, &[&file], &[]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert!(stderr(&o).contains("is empty"), "{name}: {}", stderr(&o));
    }
}

#[test]
fn a_folder_inside_an_input_folder_is_refused_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("2025")).unwrap();
    for f in reference() {
        std::fs::copy(&f, input.join(f.file_name().unwrap())).unwrap();
    }
    let o = ingest(&store, &key, &[&input], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("holds the folder '2025'"),
        "{}",
        stderr(&o)
    );
    assert!(!store.join("manifest.json").exists());
    // A folder named like a data file is a folder too.
    std::fs::remove_dir(input.join("2025")).unwrap();
    std::fs::create_dir(input.join("teams.csv.d")).unwrap();
    let o = ingest(&store, &key, &[&input], &[]);
    assert!(
        stderr(&o).contains("holds the folder 'teams.csv.d'"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir(input.join("teams.csv.d")).unwrap();
    std::fs::create_dir(input.join(".hidden")).unwrap();
    ok(&ingest(&store, &key, &[&input], &[]));
}

#[test]
fn a_first_ingest_killed_after_its_commit_point_is_completed_by_an_audit() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = (dir.path().join("store"), keygen(dir.path()));
    let mut c = bin();
    c.env("WMO_AUDIT_FAILPOINT", "committed")
        .args(["ingest", "-q", "--store"])
        .arg(&store)
        .arg("--key")
        .arg(&key)
        .args(reference());
    assert_eq!(c.output().unwrap().status.code(), Some(86));
    assert!(!store.join("manifest.json").exists());
    let policy = root().join("samples/voorbeeldstad/policy.toml");
    for (command, period) in [("audit", "2026"), ("stats", "2026")] {
        let o = bin()
            .args([command, "--store"])
            .arg(&store)
            .arg("--policy")
            .arg(&policy)
            .args(["--period", period, "--out"])
            .arg(dir.path().join(command))
            .output()
            .unwrap();
        assert!(
            matches!(o.status.code(), Some(0) | Some(4)),
            "{command}: {}",
            stderr(&o)
        );
    }
    assert!(store.join("manifest.json").exists());
    assert_eq!(events(&store).height(), 3);
}
