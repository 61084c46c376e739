//! Each explanation, reason and signal of the rule engine on a tiny hand-made organisation,
//! and each shipped policy on the cases that tell the policies apart.

mod common;

use common::root;
use common::world::*;
use wmo_audit::period::DayRange;
use wmo_audit::policy::Policy;

/// The sample's policy: every rule, BIG for medical, complaint sections restricted.
fn wide() -> Policy {
    Policy::load(&root().join("samples/voorbeeldstad/policy.toml")).unwrap()
}

fn shipped(id: &str) -> Policy {
    Policy::load(&root().join(format!("schemas/policies/{id}.toml"))).unwrap()
}

fn staff(user: &str, role: &str, team: &str, from: i64, to: Option<i64>) -> Staff {
    Staff {
        user: user.into(),
        role: role.into(),
        team: team.into(),
        from: day(from),
        to: to.map(day),
        big: false,
        person: None,
        surname: None,
        address: None,
    }
}

/// Teams T1, T2 (area), TA (access), KL (complaints), VT; client c1 with case K1 in T1
/// (days 100-300, closed `completed`); client c2 with an open case K2 in T2 from day 0.
fn base() -> World {
    World {
        teams: [
            ("T1", "area"),
            ("T2", "area"),
            ("TA", "access"),
            ("KL", "complaints"),
            ("VT", "veilig_thuis"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect(),
        staff: vec![
            staff("w1", "worker", "T1", 0, None),
            staff("w2", "worker", "T1", 0, None),
            staff("x1", "worker", "T2", 0, None),
            staff("co", "coach", "T1", 0, None),
            staff("kh", "complaints_handler", "KL", 0, None),
            staff("vt", "veilig_thuis", "VT", 0, None),
            staff("ta", "worker", "TA", 0, None),
            staff("au", "auditor", "T1", 0, Some(150)),
        ],
        clients: ["c1", "c2"]
            .iter()
            .map(|c| Client {
                pid: c.to_string(),
                surname: None,
                address: None,
                restricted: false,
            })
            .collect(),
        cases: vec![
            Case {
                id: "K1".into(),
                client: "c1".into(),
                team: "T1".into(),
                opened: day(100),
                closed: Some(day(300)),
                closure: Some("completed".into()),
                dv: false,
            },
            Case {
                id: "K2".into(),
                client: "c2".into(),
                team: "T2".into(),
                opened: day(0),
                closed: None,
                closure: None,
                dv: true,
            },
        ],
        assignments: vec![Assignment {
            case: "K1".into(),
            user: "w1".into(),
            from: day(100),
            to: Some(day(200)),
        }],
        complaints: vec![Complaint {
            id: "Q1".into(),
            client: "c1".into(),
            handler: "kh".into(),
            opened: day(120),
            closed: Some(day(130)),
        }],
        events: Vec::new(),
    }
}

/// One read by `user` of `client` on `d` at 10:00 in the given section.
fn read(mut w: World, user: &str, client: &str, d: i64, section: &str) -> World {
    w.events.push(Event {
        id: format!("E{}", w.events.len()),
        time: ams(day(d), 10, 0),
        user: user.into(),
        client: client.into(),
        section: section.into(),
        emergency: false,
        reason: None,
        outcome: 0,
    });
    w
}

fn all_days() -> DayRange {
    DayRange {
        first: day(0),
        last: day(20_000),
    }
}

/// (verdict, rule, reason) of the last event, checked against the reference model too.
fn judge(w: &World, p: &Policy) -> (String, Option<String>, Option<String>) {
    let got = engine(w, p, all_days());
    assert_eq!(
        got,
        w.reference(p, all_days()),
        "engine and reference disagree"
    );
    let e = got.last().expect("one verdict").clone();
    (e.verdict, e.rule, e.reason)
}

fn justified(rule: &str) -> (String, Option<String>, Option<String>) {
    ("justified".into(), Some(rule.into()), None)
}

fn unjustified(reason: &str) -> (String, Option<String>, Option<String>) {
    ("unjustified".into(), None, Some(reason.into()))
}

#[test]
fn direct_worker_holds_during_the_assignment_and_its_grace() {
    let p = wide(); // grace 7 days
    assert_eq!(
        judge(&read(base(), "w1", "c1", 100, "plan"), &p),
        justified("direct_worker")
    );
    assert_eq!(
        judge(&read(base(), "w1", "c1", 207, "plan"), &p),
        justified("direct_worker")
    );
    // Day 208: assignment over, case still open, w1 still in T1: the team may replace.
    assert_eq!(
        judge(&read(base(), "w1", "c1", 208, "plan"), &p),
        justified("replacement")
    );
    // Without a replacement rule the relation has ended.
    assert_eq!(
        judge(&read(base(), "w1", "c1", 208, "plan"), &shipped("leiden")),
        unjustified("relation_ended")
    );
}

#[test]
fn team_coach_holds_for_open_cases_of_the_team_and_the_grace_after_closing() {
    let p = shipped("leiden"); // coach grace 30
    assert_eq!(
        judge(&read(base(), "co", "c1", 150, "plan"), &p),
        justified("team_coach")
    );
    assert_eq!(
        judge(&read(base(), "co", "c1", 330, "plan"), &p),
        justified("team_coach")
    );
    assert_eq!(
        judge(&read(base(), "co", "c1", 331, "plan"), &p),
        unjustified("case_closed")
    );
    // Not the coach of T2's case.
    assert_eq!(
        judge(&read(base(), "co", "c2", 150, "plan"), &p),
        unjustified("other_team")
    );
}

#[test]
fn complaints_handler_holds_while_the_complaint_runs() {
    let p = shipped("leiden"); // complaint grace 30
    assert_eq!(
        judge(&read(base(), "kh", "c1", 125, "plan"), &p),
        justified("complaints_handler")
    );
    assert_eq!(
        judge(&read(base(), "kh", "c1", 160, "plan"), &p),
        justified("complaints_handler")
    );
    assert_eq!(
        judge(&read(base(), "kh", "c1", 161, "plan"), &p),
        unjustified("no_open_complaint")
    );
    assert_eq!(
        judge(&read(base(), "kh", "c2", 125, "plan"), &p),
        unjustified("no_open_complaint")
    );
}

#[test]
fn replacement_covers_the_same_team_and_the_listed_team_kinds_while_the_case_is_open() {
    let p = shipped("inzet-zoetermeer");
    assert_eq!(
        judge(&read(base(), "w2", "c1", 150, "plan"), &p),
        justified("replacement")
    );
    // An access-team member may stand in for any team (any_team_kinds = access, citywide).
    assert_eq!(
        judge(&read(base(), "ta", "c2", 150, "plan"), &p),
        justified("replacement")
    );
    // Another area team may not.
    assert_eq!(
        judge(&read(base(), "x1", "c1", 150, "plan"), &p),
        unjustified("other_team")
    );
    // Aalsmeer: same team only.
    assert_eq!(
        judge(&read(base(), "ta", "c2", 150, "plan"), &shipped("aalsmeer")),
        unjustified("other_team")
    );
    // Closed case: nobody replaces.
    assert_eq!(
        judge(&read(base(), "w2", "c1", 301, "plan"), &p),
        unjustified("case_closed")
    );
}

#[test]
fn veilig_thuis_needs_an_open_case_with_domestic_violence() {
    let p = shipped("leiden");
    assert_eq!(
        judge(&read(base(), "vt", "c2", 50, "plan"), &p),
        justified("veilig_thuis")
    );
    assert_eq!(
        judge(&read(base(), "vt", "c1", 150, "plan"), &p),
        unjustified("other_team")
    );
    // inZet has no Veilig Thuis rule.
    assert_eq!(
        judge(
            &read(base(), "vt", "c2", 50, "plan"),
            &shipped("inzet-zoetermeer")
        ),
        unjustified("other_team")
    );
}

#[test]
fn role_rules_hold_while_the_role_is_held() {
    let p = shipped("inzet-zoetermeer"); // lists auditor
    assert_eq!(
        judge(&read(base(), "au", "c2", 100, "plan"), &p),
        justified("auditor")
    );
    assert_eq!(
        judge(&read(base(), "au", "c2", 151, "plan"), &p),
        unjustified("no_relation")
    );
    // Leiden lists no auditor.
    assert_eq!(
        judge(&read(base(), "au", "c2", 100, "plan"), &shipped("leiden")),
        unjustified("other_team")
    );
}

#[test]
fn medical_section_needs_big_where_the_policy_says_so() {
    let w = read(base(), "w1", "c1", 150, "medical");
    assert_eq!(
        judge(&w, &shipped("aalsmeer")),
        unjustified("section_not_allowed")
    );
    assert_eq!(judge(&w, &shipped("leiden")), justified("direct_worker"));
    let mut big = w.clone();
    big.staff[0].big = true;
    assert_eq!(
        judge(&big, &shipped("aalsmeer")),
        justified("direct_worker")
    );
}

#[test]
fn complaint_sections_are_only_for_the_named_rules() {
    let p = shipped("inzet-zoetermeer");
    assert_eq!(
        judge(&read(base(), "w1", "c1", 150, "complaint"), &p),
        unjustified("section_not_allowed")
    );
    assert_eq!(
        judge(&read(base(), "kh", "c1", 125, "incident"), &p),
        justified("complaints_handler")
    );
    assert_eq!(
        judge(
            &read(base(), "w1", "c1", 150, "complaint"),
            &shipped("leiden")
        ),
        justified("direct_worker")
    );
}

#[test]
fn reasons_for_accounts_without_a_role_and_strangers() {
    let p = shipped("leiden");
    // A leaver (no role any more) reading a former client: relation ended.
    let mut w = read(base(), "w1", "c1", 250, "plan");
    w.staff[0].to = Some(day(210));
    assert_eq!(judge(&w, &p), unjustified("relation_ended"));
    // An account that never had a role or a relation.
    assert_eq!(
        judge(&read(base(), "ghost", "c1", 150, "plan"), &p),
        unjustified("no_relation")
    );
    // A client without any case.
    let mut w = read(base(), "w1", "c9", 150, "plan");
    w.clients.push(Client {
        pid: "c9".into(),
        surname: None,
        address: None,
        restricted: false,
    });
    assert_eq!(judge(&w, &p), unjustified("no_relation"));
}

#[test]
fn emergency_always_goes_to_review_and_records_what_else_held() {
    let p = wide();
    let mut w = read(base(), "w1", "c1", 150, "plan");
    w.events[0].emergency = true;
    let v = engine(&w, &p, all_days());
    assert_eq!(v[0].verdict, "emergency");
    assert_eq!(v[0].rule, None);
    assert_eq!(v[0].also.as_deref(), Some("direct_worker;replacement"));
    assert!(v[0].signals.contains(&"no_emergency_reason".to_string()));
    w.events[0].reason = Some("  cliënt in crisis ".into());
    let v = engine(&w, &p, all_days());
    assert!(!v[0].signals.contains(&"no_emergency_reason".to_string()));
}

#[test]
fn signals_are_independent_of_the_verdict() {
    let p = shipped("aalsmeer"); // retention: completed 20 years from closing
    let mut w = read(base(), "w1", "c1", 153, "plan"); // Tuesday 2020-06-02
    w.staff[0].person = Some("c1".into());
    w.staff[0].surname = Some("s".into());
    w.staff[0].address = Some("a".into());
    w.clients[0].surname = Some("s".into());
    w.clients[0].address = Some("a".into());
    w.clients[0].restricted = true;
    w.events[0].outcome = 4;
    w.events[0].time = ams(day(153), 21, 30);
    let v = engine(&w, &p, all_days());
    assert_eq!(v[0].verdict, "justified");
    assert_eq!(
        v[0].signals,
        [
            "self_access",
            "same_surname",
            "same_address",
            "restricted_client",
            "after_hours",
            "first_access",
            "failed_outcome"
        ]
    );
    // A second read is no longer the first; 07:00 on a weekday is inside office hours.
    let mut w = read(base(), "w1", "c1", 150, "plan");
    w = read(w, "w1", "c1", 154, "plan");
    w.events[1].time = ams(day(154), 7, 0);
    assert_eq!(w.events[1].time.format("%a").to_string(), "Wed");
    let v = engine(&w, &p, all_days());
    assert!(v[1].signals.is_empty(), "{:?}", v[1].signals);
}

#[test]
fn past_retention_follows_each_policy_s_periods() {
    // Case K1 closed 2020-10-27 (day 300), completed. A read 21 years later.
    let late = 300 + 21 * 366;
    let w = read(base(), "w2", "c1", late, "plan");
    let has = |p: &Policy| {
        engine(&w, p, all_days())[0]
            .signals
            .contains(&"past_retention".to_string())
    };
    assert!(has(&shipped("aalsmeer")), "20 years after closing");
    assert!(has(&shipped("leiden")), "15 years from the closing year");
    // Six weeks for an aborted case (Aalsmeer), but not yet after five weeks.
    let mut aborted = read(base(), "w2", "c1", 300 + 35, "plan");
    aborted.cases[0].closure = Some("aborted".into());
    assert!(!engine(&aborted, &shipped("aalsmeer"), all_days())[0]
        .signals
        .contains(&"past_retention".to_string()));
    let mut aborted = read(base(), "w2", "c1", 300 + 43, "plan");
    aborted.cases[0].closure = Some("aborted".into());
    assert!(engine(&aborted, &shipped("aalsmeer"), all_days())[0]
        .signals
        .contains(&"past_retention".to_string()));
}

#[test]
fn the_period_selects_by_local_calendar_day() {
    // 23:30 on day 150 in Amsterdam is still day 150 locally (21:30 or 22:30 UTC).
    let mut w = read(base(), "w1", "c1", 150, "plan");
    w.events[0].time = ams(day(150), 23, 30);
    let only = |d| DayRange {
        first: day(d),
        last: day(d),
    };
    assert_eq!(engine(&w, &wide(), only(150)).len(), 1);
    assert_eq!(engine(&w, &wide(), only(151)).len(), 0);
    // 00:30 local on day 151 is 22:30/23:30 UTC on day 150, but belongs to day 151.
    w.events[0].time = ams(day(151), 0, 30);
    assert_eq!(engine(&w, &wide(), only(151)).len(), 1);
}

#[test]
fn every_shipped_policy_loads_and_cites_an_article_for_every_rule() {
    let dir = root().join("schemas/policies");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            let p = Policy::load(&path).unwrap();
            assert!(p.rules.iter().all(|r| !r.article.trim().is_empty()));
            assert!(p.rules[0].kind.name() == "direct_worker", "{}", p.id);
            n += 1;
        }
    }
    assert_eq!(n, 5);
}
