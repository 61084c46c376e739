//! Property test: on random small organisations the rule engine (each event's facts judged by
//! the compiled policy in one pass) gives, for every event and under every shipped policy,
//! exactly the verdict, explanation, reason, alternative explanations and signals of the slow
//! reference model in `common/world.rs`.

mod common;

use common::random_world::world;
use common::root;
use common::world::*;
use proptest::prelude::*;
use wmo_audit::period::DayRange;
use wmo_audit::policy::Policy;

fn policies() -> Vec<Policy> {
    let mut paths: Vec<_> = std::fs::read_dir(root().join("schemas/policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.push(root().join("samples/voorbeeldstad/policy.toml"));
    paths.sort();
    paths.iter().map(|p| Policy::load(p).unwrap()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_the_reference_model(w in world(), first in 0i64..800, len in 0i64..800, which in 0usize..6) {
        let policies = policies();
        let p = &policies[which % policies.len()];
        let range = DayRange { first: day(first), last: day(first + len) };
        let fast = engine(&w, p, range);
        let slow = w.reference(p, range);
        prop_assert_eq!(fast, slow, "policy {}", p.id);
    }
}

/// The random worlds above exercise every verdict, explanation, reason and signal (otherwise
/// the agreement would prove little).
#[test]
fn random_worlds_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use std::collections::BTreeSet;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let policies = policies();
    let mut seen = BTreeSet::new();
    for i in 0..400 {
        let w = world().new_tree(&mut runner).unwrap().current();
        let p = &policies[i % policies.len()];
        let range = DayRange {
            first: day(0),
            last: day(1600),
        };
        for e in w.reference(p, range) {
            seen.insert(format!("verdict:{}", e.verdict));
            if let Some(r) = e.rule {
                seen.insert(format!("rule:{r}"));
            }
            if let Some(r) = e.reason {
                seen.insert(format!("reason:{r}"));
            }
            for s in e.signals {
                seen.insert(format!("signal:{s}"));
            }
        }
    }
    let mut want: Vec<String> = ["emergency", "justified", "unjustified"]
        .iter()
        .map(|v| format!("verdict:{v}"))
        .collect();
    want.extend(
        wmo_audit::engine::vocab::Reason::names()
            .iter()
            .map(|r| format!("reason:{r}")),
    );
    want.extend(
        wmo_audit::engine::vocab::Signal::names()
            .iter()
            .map(|r| format!("signal:{r}")),
    );
    want.extend(
        wmo_audit::policy::rule::RuleKind::STRUCTURAL
            .map(|k| k.name())
            .iter()
            .chain(["coordinator", "auditor", "policy_adviser"].iter())
            .map(|r| format!("rule:{r}")),
    );
    let missing: Vec<_> = want.iter().filter(|w| !seen.contains(*w)).collect();
    assert!(missing.is_empty(), "never produced: {missing:?}");
}

/// Events without the user, client, section or emergency flag the contract requires are
/// refused, with the column named, rather than judged without them.
#[test]
fn events_lacking_a_required_column_are_refused() {
    use polars::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]),
    );
    let range = DayRange {
        first: day(0),
        last: day(1600),
    };
    let p = &policies()[0];
    let w = (0..100)
        .map(|_| world().new_tree(&mut runner).unwrap().current())
        .find(|w| !w.reference(p, range).is_empty())
        .expect("a world with events in the range");
    for (column, dtype) in [
        ("user_id", DataType::String),
        ("client_pid", DataType::String),
        ("section", DataType::String),
        ("emergency", DataType::Boolean),
    ] {
        let mut tables = w.tables();
        tables.events = tables
            .events
            .with_column(lit(NULL).cast(dtype).alias(column));
        let err = wmo_audit::engine::verdicts(&tables, p, range)
            .and_then(|lf| Ok(lf.collect()?))
            .err()
            .unwrap_or_else(|| panic!("events without '{column}' were judged"));
        let m = err.to_string();
        assert!(m.contains(&format!("lack their '{column}'")), "{m}");
    }
}
