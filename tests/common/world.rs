//! A tiny organisation built by hand or at random, turned into the engine's tables, and the
//! slow, obviously-correct reference model of the verdict semantics (issue #3) that the real
//! engine is checked against. Loops over plain structs, nothing clever.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone as _, Timelike, Utc};
use polars::prelude::*;

use wmo_audit::engine::input::AuditTables;
use wmo_audit::period::DayRange;
use wmo_audit::policy::rule::RuleKind;
use wmo_audit::policy::Policy;

pub fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(n)
}

#[derive(Debug, Clone)]
pub struct Staff {
    pub user: String,
    pub role: String,
    pub team: String,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    pub big: bool,
    pub person: Option<String>,
    pub surname: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub pid: String,
    pub surname: Option<String>,
    pub address: Option<String>,
    pub restricted: bool,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub client: String,
    pub team: String,
    pub opened: NaiveDate,
    pub closed: Option<NaiveDate>,
    pub closure: Option<String>,
    pub dv: bool,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub case: String,
    pub user: String,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct Complaint {
    pub id: String,
    pub client: String,
    pub handler: String,
    pub opened: NaiveDate,
    pub closed: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub time: DateTime<Utc>,
    pub user: String,
    pub client: String,
    pub section: String,
    pub emergency: bool,
    pub reason: Option<String>,
    pub outcome: i32,
}

#[derive(Debug, Clone, Default)]
pub struct World {
    pub teams: Vec<(String, String)>,
    pub staff: Vec<Staff>,
    pub clients: Vec<Client>,
    pub cases: Vec<Case>,
    pub assignments: Vec<Assignment>,
    pub complaints: Vec<Complaint>,
    pub events: Vec<Event>,
}

/// What the reference model says about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub event_id: String,
    pub verdict: String,
    pub rule: Option<String>,
    pub reason: Option<String>,
    pub also: Option<String>,
    pub signals: Vec<String>,
}

fn dates(v: impl Iterator<Item = Option<NaiveDate>>, name: &str) -> Column {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let days: Vec<Option<i32>> = v
        .map(|d| d.map(|d| (d - epoch).num_days() as i32))
        .collect();
    Column::new(name.into(), days)
        .cast(&DataType::Date)
        .unwrap()
}

fn strs<'a>(v: impl Iterator<Item = Option<&'a str>>, name: &str) -> Column {
    let v: Vec<Option<&str>> = v.collect();
    Column::new(name.into(), v)
}

fn frame(cols: Vec<Column>) -> DataFrame {
    DataFrame::new_infer_height(cols).unwrap()
}

impl World {
    /// The tables in the store's column names and types.
    pub fn tables(&self) -> AuditTables {
        let s = &self.staff;
        let staff = frame(vec![
            strs(s.iter().map(|x| Some(x.user.as_str())), "user_id"),
            strs(s.iter().map(|x| Some(x.user.as_str())), "display_name"),
            strs(s.iter().map(|x| Some(x.role.as_str())), "role"),
            strs(s.iter().map(|x| Some(x.team.as_str())), "team_id"),
            dates(s.iter().map(|x| Some(x.from)), "valid_from"),
            dates(s.iter().map(|x| x.to), "valid_to"),
            Column::new(
                "big_registered".into(),
                s.iter().map(|x| x.big).collect::<Vec<_>>(),
            ),
            strs(s.iter().map(|x| x.person.as_deref()), "person_pid"),
            strs(s.iter().map(|x| x.surname.as_deref()), "surname_pid"),
            strs(s.iter().map(|x| x.address.as_deref()), "address_pid"),
        ]);
        let t = &self.teams;
        let teams = frame(vec![
            strs(t.iter().map(|x| Some(x.0.as_str())), "team_id"),
            strs(t.iter().map(|x| Some(x.0.as_str())), "name"),
            strs(t.iter().map(|x| Some(x.1.as_str())), "kind"),
            strs(t.iter().map(|_| Some("org")), "organisation"),
        ]);
        let c = &self.clients;
        let clients = frame(vec![
            strs(c.iter().map(|x| Some(x.pid.as_str())), "client_pid"),
            strs(c.iter().map(|x| x.surname.as_deref()), "surname_pid"),
            strs(c.iter().map(|x| x.address.as_deref()), "address_pid"),
            Column::new(
                "restricted".into(),
                c.iter().map(|x| x.restricted).collect::<Vec<_>>(),
            ),
        ]);
        let k = &self.cases;
        let cases = frame(vec![
            strs(k.iter().map(|x| Some(x.id.as_str())), "case_id"),
            strs(k.iter().map(|x| Some(x.client.as_str())), "client_pid"),
            strs(k.iter().map(|x| Some(x.team.as_str())), "team_id"),
            dates(k.iter().map(|x| Some(x.opened)), "opened"),
            dates(k.iter().map(|x| x.closed), "closed"),
            strs(k.iter().map(|x| x.closure.as_deref()), "closure"),
            Column::new(
                "domestic_violence".into(),
                k.iter().map(|x| x.dv).collect::<Vec<_>>(),
            ),
        ]);
        let a = &self.assignments;
        let assignments = frame(vec![
            strs(a.iter().map(|x| Some(x.case.as_str())), "case_id"),
            strs(a.iter().map(|x| Some(x.user.as_str())), "user_id"),
            strs(a.iter().map(|_| Some("primary")), "relation"),
            dates(a.iter().map(|x| Some(x.from)), "valid_from"),
            dates(a.iter().map(|x| x.to), "valid_to"),
        ]);
        let q = &self.complaints;
        let complaints = frame(vec![
            strs(q.iter().map(|x| Some(x.id.as_str())), "complaint_id"),
            strs(q.iter().map(|x| Some(x.client.as_str())), "client_pid"),
            strs(
                q.iter().map(|x| Some(x.handler.as_str())),
                "handler_user_id",
            ),
            dates(q.iter().map(|x| Some(x.opened)), "opened"),
            dates(q.iter().map(|x| x.closed), "closed"),
        ]);
        let e = &self.events;
        let micros: Vec<i64> = e.iter().map(|x| x.time.timestamp_micros()).collect();
        let events = frame(vec![
            strs(e.iter().map(|x| Some(x.id.as_str())), "event_id"),
            Column::new("event_time".into(), micros)
                .cast(&DataType::Datetime(
                    TimeUnit::Microseconds,
                    Some(polars::prelude::TimeZone::UTC),
                ))
                .unwrap(),
            strs(e.iter().map(|x| Some(x.user.as_str())), "user_id"),
            strs(e.iter().map(|_| Some("R")), "action"),
            strs(e.iter().map(|x| Some(x.client.as_str())), "client_pid"),
            strs(e.iter().map(|x| Some(x.section.as_str())), "section"),
            Column::new(
                "emergency".into(),
                e.iter().map(|x| x.emergency).collect::<Vec<_>>(),
            ),
            strs(e.iter().map(|x| x.reason.as_deref()), "emergency_reason"),
            Column::new(
                "outcome".into(),
                e.iter().map(|x| x.outcome).collect::<Vec<_>>(),
            ),
            strs(e.iter().map(|_| Some("src")), "source"),
            strs(e.iter().map(|_| Some("ws")), "workstation"),
        ]);
        AuditTables {
            events: events.lazy(),
            staff,
            teams,
            clients,
            cases,
            assignments,
            complaints,
            first_seen: None,
        }
    }

    /// The reference verdicts for the events of `range`, sorted as the engine sorts them.
    pub fn reference(&self, p: &Policy, range: DayRange) -> Vec<Expected> {
        let tz = p.time_zone;
        let open_end = NaiveDate::MAX;
        let within = |d: NaiveDate, from: NaiveDate, to: Option<NaiveDate>, grace: i32| {
            let to = to.map(|t| t + chrono::Duration::days(grace.into()));
            from <= d && d <= to.unwrap_or(open_end)
        };
        let grace = |id: &str| p.grace(RuleKind::parse(id).unwrap());
        let kind = |team: &str| {
            self.teams
                .iter()
                .find(|t| t.0 == team)
                .map(|t| t.1.clone())
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        let mut events: Vec<&Event> = self.events.iter().collect();
        events.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
        for e in events {
            let local = e.time.with_timezone(&tz);
            let d = local.date_naive();
            if d < range.first || d > range.last {
                continue;
            }
            let cases: Vec<&Case> = self.cases.iter().filter(|c| c.client == e.client).collect();
            let roles: Vec<&Staff> = self
                .staff
                .iter()
                .filter(|s| s.user == e.user && within(d, s.from, s.to, 0))
                .collect();
            let has_role = |r: &str| roles.iter().any(|s| s.role == r);
            let open = |c: &Case| within(d, c.opened, c.closed, 0);
            let in_team = |team: &str| roles.iter().any(|s| s.team == team);
            let raw = |id: &str| -> bool {
                match id {
                    "direct_worker" => self.assignments.iter().any(|a| {
                        a.user == e.user
                            && cases.iter().any(|c| c.id == a.case)
                            && within(d, a.from, a.to, grace("direct_worker"))
                    }),
                    "team_coach" => cases.iter().any(|c| {
                        within(d, c.opened, c.closed, grace("team_coach"))
                            && roles.iter().any(|s| s.role == "coach" && s.team == c.team)
                    }),
                    "complaints_handler" => self.complaints.iter().any(|k| {
                        k.client == e.client
                            && k.handler == e.user
                            && within(d, k.opened, k.closed, grace("complaints_handler"))
                    }),
                    "replacement" => {
                        let kinds = &p.rule(RuleKind::Replacement).unwrap().any_team_kinds;
                        cases.iter().any(|c| {
                            open(c)
                                && (in_team(&c.team)
                                    || roles.iter().any(|s| kinds.contains(&kind(&s.team))))
                        })
                    }
                    "veilig_thuis" => {
                        has_role("veilig_thuis") && cases.iter().any(|c| open(c) && c.dv)
                    }
                    role => has_role(role),
                }
            };
            let big = roles.iter().any(|s| s.big);
            let section_ok = |id: &str| {
                (!p.requires_big(&e.section) || big)
                    && p.section_allows(&e.section, RuleKind::parse(id).unwrap())
            };
            let holding: Vec<&str> = p
                .rules
                .iter()
                .map(|r| r.kind.name())
                .filter(|id| raw(id) && section_ok(id))
                .collect();
            let verdict = if e.emergency {
                "emergency"
            } else if holding.is_empty() {
                "unjustified"
            } else {
                "justified"
            };
            let reason = (verdict == "unjustified").then(|| {
                let assigned_before = self.assignments.iter().any(|a| {
                    a.user == e.user && cases.iter().any(|c| c.id == a.case) && a.from <= d
                });
                let complaint_before = self
                    .complaints
                    .iter()
                    .any(|k| k.client == e.client && k.handler == e.user && k.opened <= d);
                let complaint_open = raw("complaints_handler");
                let has_open = cases.iter().any(|c| open(c));
                let own_team_open = cases.iter().any(|c| open(c) && in_team(&c.team));
                let team_case = cases.iter().any(|c| in_team(&c.team));
                let closed_before = cases.iter().any(|c| c.closed.is_some_and(|x| x < d));
                if p.rules.iter().any(|r| raw(r.kind.name())) {
                    "section_not_allowed"
                } else if p.rule(RuleKind::ComplaintsHandler).is_some()
                    && has_role("complaints_handler")
                    && !complaint_open
                {
                    "no_open_complaint"
                } else if (assigned_before || complaint_before) && (has_open || roles.is_empty()) {
                    "relation_ended"
                } else if !has_open && closed_before && (assigned_before || team_case) {
                    "case_closed"
                } else if !cases.is_empty()
                    && !roles.is_empty()
                    && !(if has_open { own_team_open } else { team_case })
                {
                    "other_team"
                } else {
                    "no_relation"
                }
                .to_string()
            });

            // Signals.
            let mine = |f: fn(&Staff) -> Option<&String>| {
                self.staff
                    .iter()
                    .filter(|s| s.user == e.user)
                    .filter_map(f)
                    .min()
                    .cloned()
            };
            let client = self.clients.iter().find(|c| c.pid == e.client);
            let person = mine(|s| s.person.as_ref());
            let surname = mine(|s| s.surname.as_ref());
            let address = mine(|s| s.address.as_ref());
            let o = &p.office_hours;
            let t = local.time();
            let t = NaiveTime::from_hms_opt(t.hour(), t.minute(), 0).unwrap();
            let office = o.days.contains(&local.weekday()) && t >= o.from && t < o.to;
            let past = !cases.is_empty()
                && cases.iter().all(|c| {
                    p.retention
                        .keep_until(c.opened, c.closed, c.closure.as_deref(), Some(&e.section))
                        .is_some_and(|k| k < d)
                })
                && !cases.iter().any(|c| open(c));
            let first = self
                .events
                .iter()
                .filter(|x| x.user == e.user && x.client == e.client)
                .map(|x| x.time)
                .min()
                == Some(e.time);
            let blank = e.reason.as_deref().is_none_or(|r| r.trim().is_empty());
            let flags = [
                ("self_access", person.as_deref() == Some(e.client.as_str())),
                (
                    "same_surname",
                    surname.is_some() && surname == client.and_then(|c| c.surname.clone()),
                ),
                (
                    "same_address",
                    address.is_some() && address == client.and_then(|c| c.address.clone()),
                ),
                ("restricted_client", client.is_some_and(|c| c.restricted)),
                ("after_hours", !office),
                ("past_retention", past),
                ("first_access", first),
                ("failed_outcome", e.outcome != 0),
                ("no_emergency_reason", e.emergency && blank),
            ];
            out.push(Expected {
                event_id: e.id.clone(),
                verdict: verdict.to_string(),
                rule: (verdict == "justified").then(|| holding[0].to_string()),
                reason,
                also: (e.emergency && !holding.is_empty()).then(|| holding.join(";")),
                signals: flags
                    .iter()
                    .filter(|f| f.1)
                    .map(|f| f.0.to_string())
                    .collect(),
            });
        }
        out
    }
}

/// The engine's verdicts in the same shape as the reference's.
pub fn engine(world: &World, p: &Policy, range: DayRange) -> Vec<Expected> {
    let df = wmo_audit::engine::verdicts(&world.tables(), p, range)
        .unwrap()
        .collect()
        .unwrap();
    wmo_audit::audit::verdict_row::VerdictRow::read_all(&df)
        .unwrap()
        .into_iter()
        .map(|r| Expected {
            event_id: r.event_id,
            verdict: r.verdict,
            rule: r.rule,
            reason: r.reason,
            also: r.also_explained_by,
            signals: r.signals,
        })
        .collect()
}

/// A UTC instant from a local wall-clock time in Amsterdam (for readable hand-made cases).
/// A time in the hour skipped in spring is moved an hour on.
pub fn ams(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    let local = date.and_hms_opt(h, m, 0).unwrap();
    let zone = chrono_tz::Europe::Amsterdam;
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .unwrap()
        .with_timezone(&Utc)
}
