//! Simulated dossier use: a working-hours rhythm of justified accesses, plus injected, labelled misuse.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::org::{in_period, Assignment, Case, Client, Org};

/// One access, before event ids are given out.
#[derive(Debug, Clone)]
pub struct Access {
    pub time: NaiveDateTime,
    pub user: usize,
    pub client: usize,
    pub action: &'static str,
    pub section: &'static str,
    pub emergency: bool,
    pub reason: Option<String>,
    pub outcome: u8,
    pub label: Option<Label>,
}

/// What an injected access is, and what a correct audit should say of it.
#[derive(Debug, Clone)]
pub struct Label {
    pub kind: &'static str,
    pub verdict: &'static str,
    pub reason: &'static str,
    pub signals: &'static str,
}

impl Label {
    fn new(
        kind: &'static str,
        verdict: &'static str,
        reason: &'static str,
        signals: &'static str,
    ) -> Label {
        Label {
            kind,
            verdict,
            reason,
            signals,
        }
    }
}

fn at(d: NaiveDate, rng: &mut ChaCha8Rng, from_h: u32, to_h: u32) -> NaiveDateTime {
    let secs = rng.random_range(from_h * 3600..to_h * 3600);
    d.and_time(NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or_default())
}

fn workdays(org: &Org) -> Vec<NaiveDate> {
    let mut v = Vec::new();
    let mut d = org.start;
    while d <= org.end {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            v.push(d);
        }
        d += Duration::days(1);
    }
    v
}

fn section(rng: &mut ChaCha8Rng, big: bool) -> &'static str {
    let x = rng.random_range(0..100);
    match x {
        0..35 => "plan",
        35..70 => "contact",
        70..88 => "identity",
        88..96 => "finance",
        _ if big => "medical",
        _ => "contact",
    }
}

fn action(rng: &mut ChaCha8Rng) -> &'static str {
    match rng.random_range(0..100) {
        0..80 => "R",
        80..95 => "U",
        _ => "C",
    }
}

fn outcome(rng: &mut ChaCha8Rng) -> u8 {
    if rng.random_bool(0.003) {
        *[4u8, 8, 12].choose(rng).unwrap_or(&4)
    } else {
        0
    }
}

fn open_on(case: &Case, d: NaiveDate) -> bool {
    in_period(d, case.opened, case.closed)
}

/// The everyday, justified use of dossiers, handed to `emit` one working day at a time.
pub fn routine(
    org: &Org,
    rng: &mut ChaCha8Rng,
    mut emit: impl FnMut(NaiveDate, Vec<Access>) -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    let days = workdays(org);
    // Indices (each keeps the order of the table it points into, so the output does not
    // depend on them): roles and assignments per user, cases per team, domestic-violence cases.
    let mut roles_of = vec![Vec::new(); org.people.len()];
    for r in &org.roles {
        roles_of[r.user].push(r);
    }
    let mut assigned = vec![Vec::new(); org.people.len()];
    for a in &org.assignments {
        assigned[a.user].push(a);
    }
    let mut cases_of_team = vec![Vec::new(); org.teams.len()];
    for c in &org.cases {
        cases_of_team[c.team].push(c);
    }
    let dv_cases: Vec<&Case> = org.cases.iter().filter(|c| c.dv).collect();
    for &d in &days {
        let mut out = Vec::new();
        for user in 0..org.people.len() {
            let roles: Vec<_> = roles_of[user]
                .iter()
                .filter(|r| in_period(d, r.from, r.to))
                .map(|r| (*r).clone())
                .collect();
            for r in roles {
                let push = |out: &mut Vec<Access>,
                            rng: &mut ChaCha8Rng,
                            client: usize,
                            section: &'static str| {
                    out.push(Access {
                        time: at(d, rng, 8, 18),
                        user,
                        client,
                        action: action(rng),
                        section,
                        emergency: false,
                        reason: None,
                        outcome: outcome(rng),
                        label: None,
                    });
                };
                match r.role {
                    "worker" | "backoffice" => {
                        let mine: Vec<&Assignment> = assigned[user]
                            .iter()
                            .filter(|a| in_period(d, a.from, a.to))
                            .copied()
                            .collect();
                        if mine.is_empty() {
                            continue;
                        }
                        let n = if r.role == "worker" {
                            rng.random_range(8..17)
                        } else {
                            rng.random_range(2..6)
                        };
                        for _ in 0..n {
                            let Some(a) = mine.choose(rng) else { break };
                            let s = section(rng, r.big);
                            push(&mut out, rng, org.cases[a.case].client, s);
                        }
                    }
                    "coach" => {
                        let open: Vec<&Case> = cases_of_team[r.team]
                            .iter()
                            .filter(|c| open_on(c, d))
                            .copied()
                            .collect();
                        for _ in 0..rng.random_range(2..6) {
                            let Some(c) = open.choose(rng) else { break };
                            let s = *["plan", "contact", "identity"]
                                .choose(rng)
                                .unwrap_or(&"plan");
                            push(&mut out, rng, c.client, s);
                        }
                    }
                    "complaints_handler" => {
                        for k in org
                            .complaints
                            .iter()
                            .filter(|k| k.handler == user && in_period(d, k.opened, k.closed))
                        {
                            for _ in 0..rng.random_range(0..3) {
                                let s = *["complaint", "complaint", "plan", "contact"]
                                    .choose(rng)
                                    .unwrap_or(&"complaint");
                                push(&mut out, rng, k.client, s);
                            }
                        }
                    }
                    "veilig_thuis" => {
                        let dv: Vec<&Case> =
                            dv_cases.iter().filter(|c| open_on(c, d)).copied().collect();
                        for _ in 0..rng.random_range(0..3) {
                            let Some(c) = dv.choose(rng) else { break };
                            let s = *["plan", "contact"].choose(rng).unwrap_or(&"plan");
                            push(&mut out, rng, c.client, s);
                        }
                    }
                    _ => {
                        // Staff roles look at a dossier now and then for their task.
                        if rng.random_bool(0.25) {
                            let open: Vec<&Case> =
                                org.cases.iter().filter(|c| open_on(c, d)).collect();
                            if let Some(c) = open.choose(rng) {
                                let mut a = Access {
                                    time: at(d, rng, 9, 17),
                                    user,
                                    client: c.client,
                                    action: "R",
                                    section: ["plan", "finance", "identity"]
                                        .choose(rng)
                                        .unwrap_or(&"plan"),
                                    emergency: false,
                                    reason: None,
                                    outcome: 0,
                                    label: None,
                                };
                                a.label = Some(Label::new(
                                    "role_read",
                                    "justified_if_role_listed",
                                    "",
                                    "",
                                ));
                                out.push(a);
                            }
                        }
                    }
                }
            }
        }
        emit(d, out)?;
    }
    Ok(())
}

/// Workers of area teams on a day, with their team.
fn area_workers(org: &Org, d: NaiveDate) -> Vec<(usize, usize)> {
    org.team_of_kind("area")
        .into_iter()
        .flat_map(|t| org.members(t, "worker", d).into_iter().map(move |u| (u, t)))
        .collect()
}

/// Clients the user never had any relation with, all of whose cases sit in other teams.
fn strangers(org: &Org, user: usize, team: usize, filter: impl Fn(&Client) -> bool) -> Vec<usize> {
    let mut cases_of = vec![Vec::new(); org.clients.len()];
    for (k, case) in org.cases.iter().enumerate() {
        cases_of[case.client].push(k);
    }
    let mine: std::collections::HashSet<usize> = org
        .assignments
        .iter()
        .filter(|a| a.user == user)
        .map(|a| a.case)
        .collect();
    let complained: std::collections::HashSet<usize> =
        org.complaints.iter().map(|k| k.client).collect();
    (0..org.clients.len())
        .filter(|&c| filter(&org.clients[c]))
        .filter(|&c| {
            let cases = &cases_of[c];
            !cases.is_empty()
                && cases
                    .iter()
                    .all(|&k| org.cases[k].team != team && org.cases[k].opened.year() > 2010)
                && !cases.iter().any(|k| mine.contains(k))
                && !complained.contains(&c)
        })
        .collect()
}

/// Adds clients related to staff (for self and family look-ups) and the injected misuse.
pub fn inject(org: &mut Org, rng: &mut ChaCha8Rng) -> Vec<Access> {
    let days = workdays(org);
    let workers = area_workers(org, pick_day(&days, rng));
    let mut misuse = Misuse {
        rng,
        days: &days,
        workers: &workers,
        out: Vec::new(),
    };
    misuse.snooping_other_teams(org);
    misuse.self_and_family_lookups(org);
    misuse.restricted_clients(org);
    misuse.reads_after_close(org);
    misuse.past_retention(org);
    misuse.emergency_logins(org);
    misuse.complaints_without_complaint(org);
    misuse.medical_without_big(org);
    misuse.after_hours_burst(org);
    misuse.terminated_account(org);
    misuse.out
}

/// A working day away from the period's first and last four weeks.
fn pick_day(days: &[NaiveDate], rng: &mut ChaCha8Rng) -> NaiveDate {
    days[rng.random_range(20..days.len() - 20)]
}

/// Adds a labelled read of `client`'s dossier by `user`.
fn add(
    out: &mut Vec<Access>,
    time: NaiveDateTime,
    user: usize,
    client: usize,
    section: &'static str,
    label: Label,
) {
    out.push(Access {
        time,
        user,
        client,
        action: "R",
        section,
        emergency: false,
        reason: None,
        outcome: 0,
        label: Some(label),
    });
}

/// The injected misuse, scenario by scenario, in a fixed order (the generator is seeded).
struct Misuse<'a> {
    rng: &'a mut ChaCha8Rng,
    days: &'a [NaiveDate],
    /// Area workers (user, team) on a day early in the period.
    workers: &'a [(usize, usize)],
    out: Vec<Access>,
}

impl Misuse<'_> {
    /// Snooping on clients of other teams.
    fn snooping_other_teams(&mut self, org: &mut Org) {
        for &(u, t) in self.workers.iter().take(3) {
            let pool = strangers(org, u, t, |c| !c.restricted);
            for _ in 0..self.rng.random_range(4..7) {
                let d = pick_day(self.days, self.rng);
                if org.roles_on(u, d).next().is_none() {
                    continue;
                }
                if let Some(&c) = pool.choose(self.rng) {
                    add(
                        &mut self.out,
                        at(d, self.rng, 9, 17),
                        u,
                        c,
                        "plan",
                        Label::new("snooping_other_team", "unjustified", "other_team", ""),
                    );
                }
            }
        }
    }
    /// Self and family look-ups: a client who is an employee, and one who lives with one.
    fn self_and_family_lookups(&mut self, org: &mut Org) {
        let (self_user, self_team) = self.workers[self.workers.len() / 2];
        let (fam_user, fam_team) = self.workers[self.workers.len() - 1];
        let areas = org.team_of_kind("area");
        let other_area = |team: usize| areas.iter().copied().find(|&t| t != team).unwrap_or(0);
        for (user, team, is_self) in [(self_user, self_team, true), (fam_user, fam_team, false)] {
            let p = org.people[user].clone();
            let mut used: std::collections::HashSet<String> =
                org.clients.iter().map(|c| c.bsn.clone()).collect();
            used.extend(org.people.iter().map(|p| p.bsn.clone()));
            let client = org.clients.len();
            org.clients.push(Client {
                bsn: if is_self {
                    p.bsn.clone()
                } else {
                    super::org::random_bsn(self.rng, &mut used)
                },
                surname: p.surname.clone(),
                address: p.address.clone(),
                restricted: false,
            });
            org.cases.push(Case {
                id: format!("Z{:06}", 100_001 + org.cases.len()),
                client,
                team: other_area(team),
                opened: org.start - Duration::days(90),
                closed: None,
                closure: None,
                dv: false,
            });
            let case = org.cases.len() - 1;
            let holder = org.cases[case].team;
            if let Some(&w) = org.members(holder, "worker", org.start).first() {
                org.assignments.push(Assignment {
                    case,
                    user: w,
                    relation: "primary",
                    from: org.start - Duration::days(90),
                    to: None,
                });
            }
            let (kind, signals) = if is_self {
                ("self_lookup", "self_access;same_surname;same_address")
            } else {
                ("family_lookup", "same_surname;same_address")
            };
            for _ in 0..2 {
                let d = pick_day(self.days, self.rng);
                if org.roles_on(user, d).next().is_some() {
                    add(
                        &mut self.out,
                        at(d, self.rng, 9, 17),
                        user,
                        client,
                        "identity",
                        Label::new(kind, "unjustified", "other_team", signals),
                    );
                }
            }
        }
    }
    /// Browsing restricted (VIP) clients of other teams.
    fn restricted_clients(&mut self, org: &mut Org) {
        let (u, t) = self.workers[1 % self.workers.len()];
        let vips = strangers(org, u, t, |c| c.restricted);
        for &c in vips.iter().take(3) {
            let d = pick_day(self.days, self.rng);
            if org.roles_on(u, d).next().is_some() {
                add(
                    &mut self.out,
                    at(d, self.rng, 9, 17),
                    u,
                    c,
                    "plan",
                    Label::new(
                        "restricted_browsing",
                        "unjustified",
                        "other_team",
                        "restricted_client",
                    ),
                );
            }
        }
    }
    /// Reads long after the reader's assignment ended with the case's closing.
    fn reads_after_close(&mut self, org: &mut Org) {
        let mut done = 0;
        for a in org.assignments.clone() {
            let case = &org.cases[a.case];
            let (Some(closed), Some(to)) = (case.closed, a.to) else {
                continue;
            };
            let d = closed + Duration::days(120);
            if a.relation != "primary" || to != closed || d > org.end || d < org.start {
                continue;
            }
            let still_related = org.assignments.iter().any(|b| {
                b.user == a.user
                    && org.cases[b.case].client == case.client
                    && b.to.is_none_or(|t| t > closed)
            });
            let reopened = org
                .cases
                .iter()
                .any(|c| c.client == case.client && c.opened > case.opened);
            if still_related || reopened {
                continue;
            }
            let d = self.days.iter().copied().find(|&x| x >= d).unwrap_or(d);
            if org.roles_on(a.user, d).all(|r| r.role != "worker")
                || org.complaints.iter().any(|k| k.client == case.client)
            {
                continue;
            }
            add(
                &mut self.out,
                at(d, self.rng, 9, 17),
                a.user,
                case.client,
                "plan",
                Label::new("read_after_close", "unjustified", "case_closed", ""),
            );
            done += 1;
            if done == 3 {
                break;
            }
        }
    }
    /// Reads of dossiers that should have been destroyed.
    fn past_retention(&mut self, org: &mut Org) {
        let old: Vec<usize> = org
            .cases
            .iter()
            .filter(|c| c.opened.year() < 2010)
            .map(|c| c.client)
            .collect();
        let (u, _) = self.workers[2 % self.workers.len()];
        for &c in old.iter().take(2) {
            let d = pick_day(self.days, self.rng);
            if org.roles_on(u, d).next().is_some() {
                add(
                    &mut self.out,
                    at(d, self.rng, 9, 17),
                    u,
                    c,
                    "identity",
                    Label::new(
                        "past_retention",
                        "unjustified",
                        "case_closed",
                        "past_retention",
                    ),
                );
            }
        }
    }
    /// Emergency logins: with a reason and a later assignment, and without either.
    fn emergency_logins(&mut self, org: &mut Org) {
        for (i, with_reason) in [(3usize, true), (4, true), (5, false), (6, false)] {
            let (u, t) = self.workers[i % self.workers.len()];
            let pool = strangers(org, u, t, |c| !c.restricted);
            let Some(&c) = pool.choose(self.rng) else {
                continue;
            };
            let d = pick_day(self.days, self.rng);
            if org.roles_on(u, d).next().is_none() {
                continue;
            }
            self.out.push(Access {
                time: at(d, self.rng, 9, 17),
                user: u,
                client: c,
                action: "R",
                section: "plan",
                emergency: true,
                reason: with_reason
                    .then(|| "Spoed: cliënt in crisis, eigen consulent afwezig".to_string()),
                outcome: 0,
                label: Some(if with_reason {
                    Label::new("emergency_with_reason_assigned", "emergency", "", "")
                } else {
                    Label::new(
                        "emergency_without_reason",
                        "emergency",
                        "",
                        "no_emergency_reason",
                    )
                }),
            });
            if with_reason {
                if let Some(case) = org
                    .cases
                    .iter()
                    .position(|k| k.client == c && open_on(k, d))
                {
                    org.assignments.push(Assignment {
                        case,
                        user: u,
                        relation: "co_worker",
                        from: d + Duration::days(1),
                        to: Some(d + Duration::days(30)),
                    });
                }
            }
        }
    }
    /// A complaints handler reading dossiers without a complaint.
    fn complaints_without_complaint(&mut self, org: &mut Org) {
        if let Some(&kt) = org.team_of_kind("complaints").first() {
            if let Some(&h) = org.members(kt, "complaints_handler", org.start).first() {
                let pool = strangers(org, h, kt, |c| !c.restricted);
                for _ in 0..3 {
                    let d = pick_day(self.days, self.rng);
                    if let Some(&c) = pool.choose(self.rng) {
                        add(
                            &mut self.out,
                            at(d, self.rng, 9, 17),
                            h,
                            c,
                            "plan",
                            Label::new(
                                "complaints_no_complaint",
                                "unjustified",
                                "no_open_complaint",
                                "",
                            ),
                        );
                    }
                }
            }
        }
    }
    /// Medical sections read by a worker without BIG registration (on their own case).
    fn medical_without_big(&mut self, org: &mut Org) {
        if let Some(a) = org.assignments.iter().find(|a| {
            a.relation == "primary"
                && a.to.is_none()
                && org
                    .roles
                    .iter()
                    .any(|r| r.user == a.user && r.role == "worker" && !r.big && r.to.is_none())
        }) {
            let (u, client) = (a.user, org.cases[a.case].client);
            let from = a.from.max(org.start);
            for _ in 0..3 {
                let d = self.days[self.rng.random_range(0..self.days.len())];
                if d >= from && open_on(&org.cases[a.case], d) {
                    add(
                        &mut self.out,
                        at(d, self.rng, 9, 17),
                        u,
                        client,
                        "medical",
                        Label::new(
                            "medical_without_big",
                            "unjustified",
                            "section_not_allowed",
                            "",
                        ),
                    );
                }
            }
        }
    }
    /// An after-hours burst through the worker's own caseload.
    fn after_hours_burst(&mut self, org: &mut Org) {
        let (u, _) = self.workers[0];
        let d = pick_day(self.days, self.rng);
        let mine: Vec<usize> = org
            .assignments
            .iter()
            .filter(|a| a.user == u && in_period(d, a.from, a.to) && open_on(&org.cases[a.case], d))
            .map(|a| org.cases[a.case].client)
            .collect();
        for _ in 0..10 {
            if let Some(&c) = mine.choose(self.rng) {
                add(
                    &mut self.out,
                    at(d, self.rng, 21, 23),
                    u,
                    c,
                    "plan",
                    Label::new("after_hours_burst", "justified", "", "after_hours"),
                );
            }
        }
    }
    /// An account used after its owner left: reads of former clients.
    fn terminated_account(&mut self, org: &mut Org) {
        let leaver = org.roles.iter().find(|r| {
            r.role == "worker"
                && r.to.is_some_and(|t| t < org.end - Duration::days(30))
                && !org
                    .roles
                    .iter()
                    .any(|x| x.user == r.user && x.to.is_none_or(|t| t > r.to.unwrap_or(t)))
        });
        if let Some(r) = leaver {
            let (u, left) = (r.user, r.to.unwrap_or(org.end));
            {
                let former: Vec<usize> = org
                    .assignments
                    .iter()
                    .filter(|a| a.user == u)
                    .map(|a| org.cases[a.case].client)
                    .collect();
                let d = self
                    .days
                    .iter()
                    .copied()
                    .find(|&x| x >= left + Duration::days(14))
                    .unwrap_or(left);
                for &c in former.iter().take(2) {
                    add(
                        &mut self.out,
                        at(d, self.rng, 9, 17),
                        u,
                        c,
                        "plan",
                        Label::new("terminated_account", "unjustified", "relation_ended", ""),
                    );
                }
            }
        }
    }
}
