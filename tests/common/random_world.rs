//! Random small organisations (proptest strategies) for the property tests that compare the
//! engine with the reference model and the coded counts with the text ones.

use proptest::prelude::*;

use super::world::*;

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

/// A random small organisation: a few users, clients and teams, with periods, cases and
/// events that reach every verdict, reason and signal.
pub fn world() -> impl Strategy<Value = World> {
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
