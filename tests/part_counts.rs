//! The counts an audit keeps of each part, grouped on integer codes (`PartCounts`), equal those
//! grouped on the verdicts' text (`Tally::of`, `outliers::roles`, `daily_from_verdicts`,
//! `needs_review`), and the verdict file's Enum columns made from the codes (`VerdictFile`) hold
//! the verdicts' text: on the sample store (events coded by the store's pair codes) under every
//! shipped policy and on random small organisations (events coded by lookup).

mod common;

use common::random_world::world;
use common::world::day;
use common::{as_text, root, sample_store};
use polars::prelude::*;
use proptest::prelude::*;
use wmo_audit::audit::load::{load_tables, History};
use wmo_audit::audit::outliers;
use wmo_audit::audit::part_counts::PartCounts;
use wmo_audit::audit::summary::Tally;
use wmo_audit::audit::verdict_file::VerdictFile;
use wmo_audit::engine::input::AuditTables;
use wmo_audit::engine::{Engine, VERDICT_COLUMNS};
use wmo_audit::period::DayRange;
use wmo_audit::policy::Policy;
use wmo_audit::store::Store;

/// `df` with its rows sorted by every column (the counts' row order is not part of them).
fn sorted(df: &DataFrame) -> DataFrame {
    let names: Vec<PlSmallStr> = df.get_column_names_owned();
    df.sort(names, SortMultipleOptions::default()).unwrap()
}

fn assert_same(what: &str, fast: &DataFrame, slow: &DataFrame) {
    assert_eq!(fast.schema(), slow.schema(), "{what}: columns");
    assert!(
        sorted(fast).equals_missing(&sorted(slow)),
        "{what} differ:\n{fast}\n{slow}"
    );
}

/// Compares the coded counts of the tables' verdicts over `range` with the text ones; returns
/// how many verdict rows there were.
fn check(tables: &AuditTables, policy: &Policy, range: DayRange) -> usize {
    let engine = Engine::new(tables, policy).unwrap();
    let coded = engine
        .coded_verdicts(tables.events.clone(), range)
        .unwrap()
        .collect()
        .unwrap();
    let text = coded
        .select(VERDICT_COLUMNS.iter().map(|c| PlSmallStr::from(*c)))
        .unwrap();
    let written = VerdictFile::new(&engine.labels()).frame(&coded).unwrap();
    let written = written
        .select(VERDICT_COLUMNS.iter().map(|c| PlSmallStr::from(*c)))
        .unwrap();
    assert!(
        as_text(&written).equals_missing(&text),
        "the verdict file's columns differ from the verdicts"
    );
    let fast = PartCounts::of(&coded, &engine.labels()).unwrap();
    let slow = Tally::of(&text).unwrap();
    assert_same("verdict counts", &fast.tally.verdicts, &slow.verdicts);
    assert_same("signal counts", &fast.tally.signals, &slow.signals);
    assert_same("read counts", &fast.tally.reads, &slow.reads);
    assert_same(
        "unjustified rows",
        &fast.tally.unjustified,
        &slow.unjustified,
    );
    assert_same("roles", &fast.roles, &outliers::roles(&text).unwrap());
    assert_same(
        "daily activity",
        &fast.daily,
        &outliers::daily_from_verdicts(&text).unwrap(),
    );
    // The review rows, in the verdicts' order.
    let review = text
        .clone()
        .lazy()
        .filter(wmo_audit::engine::vocab::needs_review())
        .collect()
        .unwrap();
    assert!(fast.review.equals_missing(&review), "review rows differ");
    text.height()
}

#[test]
fn coded_counts_equal_text_counts_on_the_sample_store() {
    let store = Store::open_read(sample_store()).unwrap();
    let range = DayRange {
        first: "2025-10-01".parse().unwrap(),
        last: "2026-09-30".parse().unwrap(),
    };
    let mut policies = vec![root().join("samples/voorbeeldstad/policy.toml")];
    for id in [
        "leiden",
        "steenbergen",
        "westerveld",
        "aalsmeer",
        "inzet-zoetermeer",
    ] {
        policies.push(root().join(format!("schemas/policies/{id}.toml")));
    }
    for path in policies {
        let policy = Policy::load(&path).unwrap();
        let tables = load_tables(&store, range, policy.time_zone, History::Period).unwrap();
        let rows = check(&tables, &policy, range);
        assert!(rows > 1000, "the sample's year has {rows} verdicts");
    }
}

/// The verdict file writes the text of its coded columns as Enums (what makes writing cheap), and
/// these read back as the same text.
#[test]
fn the_verdict_file_writes_coded_text_as_enums() {
    let store = Store::open_read(sample_store()).unwrap();
    // Steenbergen's rules share one article: its Enum has fewer labels than there are rules.
    let policy = Policy::load(&root().join("schemas/policies/steenbergen.toml")).unwrap();
    let range = DayRange {
        first: "2026-03-01".parse().unwrap(),
        last: "2026-03-31".parse().unwrap(),
    };
    let tables = load_tables(&store, range, policy.time_zone, History::Period).unwrap();
    let engine = Engine::new(&tables, &policy).unwrap();
    let coded = engine
        .coded_verdicts(tables.events.clone(), range)
        .unwrap()
        .collect()
        .unwrap();
    let verdict_file = VerdictFile::new(&engine.labels());
    let written = verdict_file.frame(&coded).unwrap();
    // Exactly the columns the engine decodes from codes.
    let enums: Vec<&str> = written
        .columns()
        .iter()
        .filter(|c| matches!(c.dtype(), DataType::Enum(..)))
        .map(|c| c.name().as_str())
        .collect();
    let want =
        "user_id user_team user_role dossier_team verdict rule article reason also_explained_by signals";
    assert_eq!(enums, want.split(' ').collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("verdicts.parquet");
    let file = std::fs::File::create(&path).unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel(2);
    tx.send(written.clone()).unwrap();
    tx.send(written.clone()).unwrap();
    drop(tx);
    // The client pseudonyms are written from the client codes (`c`).
    verdict_file.write(&file, rx).unwrap();
    let back = common::read_parquet(&path);
    let text = coded
        .select(VERDICT_COLUMNS.iter().map(|c| PlSmallStr::from(*c)))
        .unwrap();
    let mut twice = text.clone();
    twice.vstack_mut(&text).unwrap();
    assert!(back.equals_missing(&twice), "{back}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn coded_counts_equal_text_counts_on_random_organisations(w in world(), first in 0i64..800, len in 0i64..800) {
        let policy = Policy::load(&root().join("samples/voorbeeldstad/policy.toml")).unwrap();
        let range = DayRange { first: day(first), last: day(first + len) };
        check(&w.tables(), &policy, range);
    }
}
