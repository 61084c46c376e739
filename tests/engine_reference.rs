//! Property test: on random small organisations the rule engine (one lazy polars plan) gives,
//! for every event and under every shipped policy, exactly the verdict, explanation, reason,
//! alternative explanations and signals of the slow reference model in `common/world.rs`.

mod common;

use common::root;
use common::world::*;
use proptest::prelude::*;
use wmo_audit::audit_tables::DayRange;
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

const USERS: [&str; 4] = ["u1", "u2", "u3", "u4"];
const CLIENTS: [&str; 3] = ["c1", "c2", "c3"];
const TEAMS: [(&str, &str); 3] = [("T1", "area"), ("T2", "area"), ("T3", "access")];
const ROLES: [&str; 8] = [
    "worker",
    "coach",
    "complaints_handler",
    "veilig_thuis",
    "coordinator",
    "auditor",
    "policy_adviser",
    "backoffice",
];
const SECTIONS: [&str; 7] = [
    "identity",
    "plan",
    "contact",
    "medical",
    "finance",
    "complaint",
    "incident",
];
const CLOSURES: [Option<&str>; 4] = [None, Some("completed"), Some("no_support"), Some("aborted")];

/// A period: start day and an optional length (in days, from 2020-01-01).
fn period() -> impl Strategy<Value = (i64, Option<i64>)> {
    (0i64..1400, proptest::option::of(0i64..500))
}

fn pick<T: Clone + std::fmt::Debug>(v: &'static [T]) -> impl Strategy<Value = T> {
    (0..v.len()).prop_map(move |i| v[i].clone())
}

fn small_pid() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(pick(&["c1", "c2", "p9"]).prop_map(String::from))
}

fn world() -> impl Strategy<Value = World> {
    let staff = proptest::collection::vec(
        (
            pick(&USERS),
            pick(&ROLES),
            pick(&TEAMS),
            period(),
            any::<bool>(),
            small_pid(),
            proptest::option::of(pick(&["s1", "s2"])),
            proptest::option::of(pick(&["a1", "a2"])),
        ),
        0..7,
    );
    let clients = proptest::collection::vec(
        (
            proptest::option::of(pick(&["s1", "s2"])),
            proptest::option::of(pick(&["a1", "a2"])),
            proptest::bool::weighted(0.3),
        ),
        3,
    );
    let cases = proptest::collection::vec(
        (
            pick(&CLIENTS),
            pick(&TEAMS),
            period(),
            pick(&CLOSURES),
            any::<bool>(),
        ),
        0..5,
    );
    let assignments = proptest::collection::vec((0usize..5, pick(&USERS), period()), 0..6);
    let complaints = proptest::collection::vec((pick(&CLIENTS), pick(&USERS), period()), 0..3);
    let events = proptest::collection::vec(
        (
            pick(&USERS),
            pick(&CLIENTS),
            0i64..1600,
            0u32..24,
            0u32..60,
            pick(&SECTIONS),
            proptest::bool::weighted(0.15),
            proptest::option::of(pick(&["spoed", " ", ""])),
            pick(&[0, 0, 0, 4, 8]),
        ),
        1..14,
    );
    (staff, clients, cases, assignments, complaints, events).prop_map(
        |(staff, clients, cases, assignments, complaints, events)| {
            let span = |(from, len): (i64, Option<i64>)| (day(from), len.map(|l| day(from + l)));
            let mut w = World {
                teams: TEAMS.iter().map(|t| (t.0.into(), t.1.into())).collect(),
                ..World::default()
            };
            for (user, role, team, p, big, person, surname, address) in staff {
                let (from, to) = span(p);
                w.staff.push(Staff {
                    user: user.into(),
                    role: role.into(),
                    team: team.0.into(),
                    from,
                    to,
                    big,
                    person,
                    surname: surname.map(String::from),
                    address: address.map(String::from),
                });
            }
            for (i, (surname, address, restricted)) in clients.into_iter().enumerate() {
                w.clients.push(Client {
                    pid: CLIENTS[i].into(),
                    surname: surname.map(String::from),
                    address: address.map(String::from),
                    restricted,
                });
            }
            for (i, (client, team, p, closure, dv)) in cases.into_iter().enumerate() {
                let (opened, closed) = span(p);
                w.cases.push(Case {
                    id: format!("K{i}"),
                    client: client.into(),
                    team: team.0.into(),
                    opened,
                    closed,
                    closure: closure.map(String::from),
                    dv,
                });
            }
            let n_cases = w.cases.len();
            for (case, user, p) in assignments {
                if n_cases == 0 {
                    break;
                }
                let (from, to) = span(p);
                w.assignments.push(Assignment {
                    case: format!("K{}", case % n_cases),
                    user: user.into(),
                    from,
                    to,
                });
            }
            for (i, (client, handler, p)) in complaints.into_iter().enumerate() {
                let (opened, closed) = span(p);
                w.complaints.push(Complaint {
                    id: format!("Q{i}"),
                    client: client.into(),
                    handler: handler.into(),
                    opened,
                    closed,
                });
            }
            for (i, (user, client, d, h, m, section, emergency, reason, outcome)) in
                events.into_iter().enumerate()
            {
                w.events.push(Event {
                    id: format!("E{i:03}"),
                    time: ams(day(d), h, m),
                    user: user.into(),
                    client: client.into(),
                    section: section.into(),
                    emergency,
                    reason: reason.map(String::from),
                    outcome,
                });
            }
            w
        },
    )
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
        wmo_audit::engine::REASONS
            .iter()
            .map(|r| format!("reason:{r}")),
    );
    want.extend(
        wmo_audit::engine::SIGNALS
            .iter()
            .map(|r| format!("signal:{r}")),
    );
    want.extend(
        wmo_audit::policy::STRUCTURAL_RULES
            .iter()
            .chain(["coordinator", "auditor", "policy_adviser"].iter())
            .map(|r| format!("rule:{r}")),
    );
    let missing: Vec<_> = want.iter().filter(|w| !seen.contains(*w)).collect();
    assert!(missing.is_empty(), "never produced: {missing:?}");
}
