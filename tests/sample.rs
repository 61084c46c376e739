//! Integration tests on the committed sample municipality: it is what the generator makes,
//! the Dutch export and the canonical CSV give the same store, no identifier reaches the
//! store, and the stored schemas are the contract's.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;
use polars::prelude::*;

fn sample() -> PathBuf {
    root().join("samples/voorbeeldstad")
}

fn demo_key() -> PathBuf {
    root().join("samples/demo-key.json")
}

fn ingest_dutch(store: &Path) -> String {
    let profile = root().join("schemas/profiles/zaaksysteem-nl.toml");
    ok(&ingest(
        store,
        &demo_key(),
        &[&sample().join("reference"), &sample().join("export-nl")],
        &["--profile", profile.to_str().unwrap()],
    ))
}

#[test]
fn the_committed_sample_is_exactly_what_the_generator_makes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    ok(&run(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "7513",
        "--size",
        "small",
    ]));
    // Everything but the hand-written policy comes from the generator.
    let committed: Vec<PathBuf> = files_under(&sample())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "policy.toml"))
        .collect();
    let made = files_under(&out);
    let rel = |base: &Path, v: &[PathBuf]| {
        v.iter()
            .map(|p| p.strip_prefix(base).unwrap().to_path_buf())
            .collect::<Vec<_>>()
    };
    assert_eq!(rel(&sample(), &committed), rel(&out, &made));
    for (a, b) in committed.iter().zip(&made) {
        assert!(
            std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
            "{} differs from a fresh generate",
            a.display()
        );
    }
}

#[test]
fn the_dutch_export_and_the_canonical_csv_give_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let dutch = dir.path().join("dutch");
    let canonical = dir.path().join("canonical");
    let out = ingest_dutch(&dutch);
    assert!(out.contains("quarantined 0 + duplicates 0"), "{out}");
    ok(&ingest(
        &canonical,
        &demo_key(),
        &[&sample().join("reference"), &sample().join("canonical")],
        &[],
    ));
    let parquet = |s: &Path| {
        snapshot(s)
            .into_iter()
            .filter(|(k, _)| k.ends_with(".parquet"))
            .collect::<Vec<_>>()
    };
    let (a, b) = (parquet(&dutch), parquet(&canonical));
    assert_eq!(
        a.len(),
        6 + 1 + 12,
        "six reference tables, first_access and twelve months"
    );
    assert!(a == b, "the stores differ");

    // Every labelled event is in the store, and the counts add up to the file's rows.
    let ev = events(&dutch);
    let ids: BTreeSet<String> = str_col(&ev, "event_id").into_iter().flatten().collect();
    let labels = std::fs::read_to_string(sample().join("labels.csv")).unwrap();
    for line in labels.lines().skip(1) {
        let id = line.split(',').next().unwrap();
        assert!(ids.contains(id), "labelled event {id} missing");
    }
    let rows = std::fs::read_to_string(sample().join("canonical/access_log.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(ev.height(), rows);
}

/// Every identifier of the sample's reference data, as written in the input files.
fn identifiers() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut read = |file: &str, cols: &[&str]| {
        let mut r = csv::Reader::from_path(sample().join("reference").join(file)).unwrap();
        let header = r.headers().unwrap().clone();
        for rec in r.records() {
            let rec = rec.unwrap();
            for c in cols {
                let i = header.iter().position(|h| h == *c).unwrap();
                if !rec[i].is_empty() {
                    out.insert(rec[i].to_string());
                }
            }
        }
    };
    read("clients.csv", &["client_id", "surname", "address_key"]);
    read("staff.csv", &["person_id", "address_key"]);
    read("cases.csv", &["client_id"]);
    out
}

#[test]
fn no_identifier_reaches_any_file_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ingest_dutch(&store);
    let ids = identifiers();
    assert!(ids.len() > 1000, "the scan must have something to look for");
    let bsns: Vec<&String> = ids
        .iter()
        .filter(|s| s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    let others: Vec<&String> = ids.iter().filter(|s| !bsns.contains(s)).collect();

    // 1. The raw bytes of every file (Parquet, manifest) hold no BSN and no address key
    //    (surnames are checked decoded below: employees' display names may contain them).
    for (name, bytes) in snapshot(&store) {
        let text = String::from_utf8_lossy(&bytes);
        for id in bsns.iter().chain(
            others
                .iter()
                .filter(|s| s.bytes().any(|b| b.is_ascii_digit())),
        ) {
            assert!(!text.contains(id.as_str()), "{name} holds '{id}'");
        }
    }
    // 2. Decoded: no string cell of any table equals or contains an identifier. Staff display
    //    names are employees' names for the FG and may share a surname with a client, so
    //    surnames are checked everywhere but there.
    for file in files_under(&store)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
    {
        let df = read_parquet(&file);
        for col in df.columns() {
            let Ok(s) = col.str() else { continue };
            for v in s.iter().flatten() {
                for id in &bsns {
                    assert!(
                        !v.contains(id.as_str()),
                        "{}: column {} holds a BSN",
                        file.display(),
                        col.name()
                    );
                }
                if col.name().as_str() != "display_name" {
                    for id in &others {
                        assert!(
                            v != id.as_str(),
                            "{}: column {} holds '{}'",
                            file.display(),
                            col.name(),
                            id
                        );
                    }
                }
            }
        }
    }
}

/// The Polars type a contract type must be stored as; written here from the contract's
/// documentation, independently of the code.
fn expected_dtype(ty: &str) -> DataType {
    match ty {
        "string" | "text" | "enum" | "identifier" => DataType::String,
        "bool" => DataType::Boolean,
        "int" => DataType::Int32,
        "date" => DataType::Date,
        "timestamp" => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        "u32" => DataType::UInt32,
        "u64" => DataType::UInt64,
        other => panic!("contract type '{other}' unknown to this test"),
    }
}

/// (stored name, type) of a contract file's list of columns.
fn declared(columns: &toml::Value) -> Vec<(String, DataType)> {
    columns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c.get("stored_as").or_else(|| c.get("name")).unwrap();
            (
                name.as_str().unwrap().to_string(),
                expected_dtype(c["type"].as_str().unwrap()),
            )
        })
        .collect()
}

/// (name, type) of a stored frame's columns.
fn stored_schema(df: &DataFrame) -> Vec<(String, DataType)> {
    df.schema()
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect()
}

#[test]
fn every_stored_table_has_the_schema_the_contract_files_describe() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ingest_dutch(&store);
    let contract_dir = root().join("schemas/contract");
    let store_file: toml::Value =
        toml::from_str(&std::fs::read_to_string(contract_dir.join("store.toml")).unwrap()).unwrap();
    let added = declared(&store_file["added"]);
    let mut checked = 0;
    for file in std::fs::read_dir(&contract_dir).unwrap() {
        let path = file.unwrap().path();
        if path.file_name().unwrap() == "store.toml" {
            continue;
        }
        let spec: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut expected = declared(&spec["columns"]);
        expected.extend(added.clone());
        let target = spec["store"].as_str().unwrap();
        if target == "events" {
            expected.extend(declared(&store_file["events_added"]));
        }
        let stored = if target == "events" {
            let part = files_under(&store.join("events"))
                .into_iter()
                .next()
                .unwrap();
            read_parquet(&part)
        } else {
            read_parquet(&store.join(format!("{target}.parquet")))
        };
        let got = stored_schema(&stored);
        assert_eq!(
            got,
            expected,
            "{} disagrees with the stored {target}",
            path.display()
        );
        checked += 1;
    }
    assert_eq!(checked, 7);
    // The derived first_access table.
    let derived = declared(&store_file["first_access"]["columns"]);
    let stored = read_parquet(&store.join("first_access.parquet"));
    let got = stored_schema(&stored);
    assert_eq!(got, derived);
    // One row per (user, client) pair that has events.
    let ev = events(&store);
    let pairs = ev
        .clone()
        .lazy()
        .select([col("user_id"), col("client_pid")])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()
        .unwrap();
    assert_eq!(stored.height(), pairs.height());
    // Codes count up from 0 in row order, and every event's pair code names its own pair.
    assert_codes_count_up(&stored);
    let named = ev
        .lazy()
        .join(
            stored.lazy().select([
                col("pair"),
                col("user_id").alias("pair_user"),
                col("client_pid").alias("pair_client"),
            ]),
            [col("pair")],
            [col("pair")],
            JoinArgs::new(JoinType::Left),
        )
        .filter(
            col("pair_user")
                .eq(col("user_id"))
                .and(col("pair_client").eq(col("client_pid")))
                .not()
                .or(col("pair_user").is_null()),
        )
        .collect()
        .unwrap();
    assert_eq!(
        named.height(),
        0,
        "events whose pair code names another pair: {named}"
    );
}

#[test]
fn the_manifest_records_every_file_and_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ingest_dutch(&store);
    let m = manifest(&store);
    assert_eq!(m["key_id"], "k1-d468d6a5983bc352");
    assert_eq!(m["time_zone"], "Europe/Amsterdam");
    let run = &m["runs"][0];
    assert_eq!(run["profile"]["name"], "zaaksysteem-nl");
    let files = run["files"].as_array().unwrap();
    assert_eq!(files.len(), 7);
    for f in files {
        assert_eq!(f["sha256"].as_str().unwrap().len(), 64);
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(
            n("rows_read"),
            n("rows_stored") + n("rows_quarantined") + n("rows_duplicate")
        );
    }
    let events_rows: u64 = m["tables"]["events"]["rows"].as_u64().unwrap();
    assert_eq!(events_rows as usize, events(&store).height());
}
