//! The relations an access may rest on, indexed by integer code (periods by pair, cases and
//! pseudonyms by client, role periods and pseudonyms by user), and each event's facts read from
//! them by array reads and judged (`RuleTable`) in one pass over the events, on every core.
//!
//! Reading the facts by code (instead of joining the events with their matching rows and
//! folding them back) keeps a part's memory to the events themselves; the reference model in
//! `tests/common/world.rs` computes the same verdicts with plain loops, and
//! `tests/engine_reference.rs` checks the two agree.

use polars::prelude::*;

use crate::engine::offsets::Offsets;
use crate::engine::rules::{EventMarks, Facts, Judgement, RuleTable};
use crate::engine::vocab::Reason;
use crate::error::Result;
use crate::policy::rule::Role;

/// A day that no event reaches: a missing start (the period never began) or a missing retention
/// day (kept without end).
const NEVER: i64 = i64::MAX;

/// The roles the per-event facts name (`role_<name>`).
pub(crate) fn role_names() -> Vec<&'static str> {
    Role::ALL
        .map(Role::name)
        .into_iter()
        .chain(["veilig_thuis", "complaints_handler"])
        .collect()
}

/// An assignment (kind 0) or a complaint handled (kind 1): its first day, and its last day plus
/// the kind's grace. One struct per row, so that an event's rows are one read from memory.
#[derive(Clone, Copy)]
struct Period {
    kind: i32,
    from: i64,
    to: i64,
}

/// A case: its team, its open days and whether domestic violence is flagged.
#[derive(Clone, Copy)]
struct Case {
    team: Option<u32>,
    from: i64,
    to: i64,
    dv: bool,
}

/// A role period of a user: team, role code, days, BIG registration, and whether the team is of
/// a kind whose members may replace in any team.
#[derive(Clone, Copy)]
struct RolePeriod {
    team: Option<u32>,
    role: Option<u32>,
    from: i64,
    to: i64,
    big: bool,
    any_team: bool,
}

impl RolePeriod {
    fn holds(&self, d: i64) -> bool {
        self.from <= d && d <= self.to
    }
}

/// The reference relations of an engine, indexed by code.
pub(crate) struct Relations {
    /// Assignments (kind 0) and complaints handled (kind 1) per pair: the first day, and the
    /// last day plus the kind's grace.
    periods: Offsets,
    period_rows: Vec<Period>,
    /// Cases per client: team, open days, domestic violence, and the last day each retention
    /// column allows (`keep[0]` by default, then one per section with a period of its own).
    cases: Offsets,
    case_rows: Vec<Case>,
    /// `keep[k]` of case row r is `case_keep[r * keep_columns + k]`.
    case_keep: Vec<i64>,
    keep_columns: usize,
    coach_grace: i64,
    /// The sections with a retention period of their own, keep columns 1 on.
    keep_sections: Vec<String>,
    /// Role periods per user.
    staff: Offsets,
    staff_rows: Vec<RolePeriod>,
    /// The role names by code (sorted), the coach's code, and each code's bit in `Facts::roles`.
    role_labels: Vec<String>,
    coach_role: Option<u32>,
    role_bits: Vec<u32>,
    /// The users' own pseudonyms, coded, by user code.
    people: Vec<[Option<u32>; 3]>,
    /// The clients' coded surname and address and whether they are restricted, by client code.
    clients: Vec<ClientMarks>,
}

/// A client's coded surname and address, and whether the client is restricted (for the
/// signals).
#[derive(Debug, Clone, Copy, Default)]
struct ClientMarks {
    surname: Option<u32>,
    address: Option<u32>,
    restricted: bool,
}

/// The events to judge, one entry per event in every vector: the codes of the user, the client
/// and the (user, client) pair, the local day, which retention column applies to the section
/// (0 the default, k for `keep_sections[k - 1]`), and what the rules read of the event itself.
pub(crate) struct EventKeys {
    pub u: Vec<Option<u32>>,
    pub c: Vec<Option<u32>>,
    pub pair: Vec<Option<u32>>,
    pub d: Vec<i64>,
    pub keep: Vec<usize>,
    pub marks: Vec<EventMarks>,
}

/// An event's judgement with its user's team and role on the day, as codes (32 bytes; a part
/// holds millions), `NONE` for a missing one.
#[derive(Clone, Copy)]
struct Judged {
    verdict: u32,
    rule: u32,
    reason: u32,
    signals: u32,
    explained: u32,
    dossier_team: u32,
    user_team: u32,
    user_role: u32,
}

/// A missing code in `Judged` (codes count rows of small tables, so never reach it).
const NONE: u32 = u32::MAX;

impl Judged {
    const EMPTY: Judged = Judged {
        verdict: NONE,
        rule: NONE,
        reason: NONE,
        signals: NONE,
        explained: NONE,
        dossier_team: NONE,
        user_team: NONE,
        user_role: NONE,
    };

    /// The judgement `j` of an event with facts `f`, as codes.
    fn new(j: &Judgement, f: &Facts) -> Judged {
        let code = |c: Option<u32>| c.unwrap_or(NONE);
        Judged {
            verdict: j.verdict.code(),
            rule: code(j.rule),
            reason: code(j.reason.map(Reason::code)),
            signals: j.signals,
            explained: code(j.explained),
            dossier_team: code(j.dossier_team),
            user_team: code(f.user_team),
            user_role: code(f.user_role),
        }
    }
}

fn u32s(df: &DataFrame, name: &str) -> Result<Vec<Option<u32>>> {
    Ok(df
        .column(name)?
        .cast(&DataType::UInt32)?
        .u32()?
        .iter()
        .collect())
}

/// Days as i64, a missing one as `missing`.
fn days(df: &DataFrame, name: &str, missing: i64) -> Result<Vec<i64>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .map(|d| d.map_or(missing, i64::from))
        .collect())
}

fn bools(df: &DataFrame, name: &str) -> Result<Vec<bool>> {
    Ok(df
        .column(name)?
        .bool()?
        .iter()
        .map(|b| b.unwrap_or(false))
        .collect())
}

/// The coded reference rows the relations are indexed from (`Engine::new` makes them):
/// - `periods`: `pair`, `kind`, `p_from`, `p_to`, `grace` (pairs below `n_pairs`);
/// - `cases`: `c`, `t`, `c_from`, `c_to`, `domestic_violence`, `keep_default` and
///   `keep_<section>` for each of `keep_sections` (clients below `n_clients`);
/// - `staff`: `u`, `t`, `role`, `s_from`, `s_to`, `big_registered`, `any_team_kind`
///   (users below `n_users`);
/// - `people`: `u`, `u_person`, `u_surname`, `u_address`, one row per user;
/// - `clients`: `c`, `c_surname`, `c_address`, `restricted`, one row per client.
pub(crate) struct CodedReference {
    pub periods: DataFrame,
    pub n_pairs: usize,
    pub cases: DataFrame,
    pub n_clients: usize,
    pub keep_sections: Vec<String>,
    /// The grace of `team_coach`: a case's coach may open it this many days after it closed.
    pub coach_grace: i32,
    pub staff: DataFrame,
    pub people: DataFrame,
    pub n_users: usize,
    pub clients: DataFrame,
}

impl Relations {
    /// Indexes the coded reference rows (see `CodedReference`).
    pub(crate) fn new(rows: CodedReference) -> Result<Relations> {
        let CodedReference {
            periods,
            n_pairs,
            cases,
            n_clients,
            keep_sections,
            coach_grace,
            staff,
            people,
            n_users,
            clients,
        } = rows;
        let (periods, cases, staff, people, clients) =
            (&periods, &cases, &staff, &people, &clients);
        let (p_index, order) = Offsets::new(&u32s(periods, "pair")?, n_pairs, "pair")?;
        let grace = days(periods, "grace", 0)?;
        let p_to: Vec<i64> = days(periods, "p_to", NEVER)?
            .iter()
            .zip(&grace)
            .map(|(t, g)| t.saturating_add(*g))
            .collect();
        let p_kind: Vec<i32> = days(periods, "kind", -1)?
            .iter()
            .map(|k| *k as i32)
            .collect();

        let p_from = days(periods, "p_from", NEVER)?;
        let period_rows = order
            .iter()
            .map(|&r| Period {
                kind: p_kind[r],
                from: p_from[r],
                to: p_to[r],
            })
            .collect();

        let (c_index, c_order) = Offsets::new(&u32s(cases, "c")?, n_clients, "client")?;
        let (team, from, to, dv) = (
            u32s(cases, "t")?,
            days(cases, "c_from", NEVER)?,
            days(cases, "c_to", NEVER)?,
            bools(cases, "domestic_violence")?,
        );
        let case_rows = c_order
            .iter()
            .map(|&r| Case {
                team: team[r],
                from: from[r],
                to: to[r],
                dv: dv[r],
            })
            .collect();
        let mut keep = vec![days(cases, "keep_default", NEVER)?];
        for s in &keep_sections {
            keep.push(days(cases, &format!("keep_{s}"), NEVER)?);
        }
        let case_keep = c_order
            .iter()
            .flat_map(|&r| keep.iter().map(move |k| k[r]))
            .collect();

        let roles = staff.column("role")?.cast(&DataType::String)?;
        let roles = roles.str()?;
        let mut role_labels: Vec<String> = roles.iter().flatten().map(String::from).collect();
        role_labels.sort();
        role_labels.dedup();
        let code_of = |r: &str| role_labels.binary_search_by(|l| l.as_str().cmp(r)).ok();
        let s_role: Vec<Option<u32>> = roles
            .iter()
            .map(|r| r.and_then(code_of).map(|c| c as u32))
            .collect();
        let names = role_names();
        let role_bits: Vec<u32> = role_labels
            .iter()
            .map(|l| names.iter().position(|n| n == l).map_or(0, |i| 1u32 << i))
            .collect();
        let coach_role = code_of("coach").map(|c| c as u32);
        let (s_index, s_order) = Offsets::new(&u32s(staff, "u")?, n_users, "user")?;
        let (team, from, to, big, any_team) = (
            u32s(staff, "t")?,
            days(staff, "s_from", NEVER)?,
            days(staff, "s_to", NEVER)?,
            bools(staff, "big_registered")?,
            bools(staff, "any_team_kind")?,
        );
        let staff_rows = s_order
            .iter()
            .map(|&r| RolePeriod {
                team: team[r],
                role: s_role[r],
                from: from[r],
                to: to[r],
                big: big[r],
                any_team: any_team[r],
            })
            .collect();

        let mut people_by_user = vec![[None; 3]; n_users];
        let (pu, pp, ps, pa) = (
            u32s(people, "u")?,
            u32s(people, "u_person")?,
            u32s(people, "u_surname")?,
            u32s(people, "u_address")?,
        );
        for i in 0..pu.len() {
            if let Some(u) = pu[i].filter(|u| (*u as usize) < n_users) {
                people_by_user[u as usize] = [pp[i], ps[i], pa[i]];
            }
        }

        let mut client_marks = vec![ClientMarks::default(); n_clients];
        let (cc, cs, ca) = (
            u32s(clients, "c")?,
            u32s(clients, "c_surname")?,
            u32s(clients, "c_address")?,
        );
        let restricted = bools(clients, "restricted")?;
        for i in 0..cc.len() {
            if let Some(c) = cc[i].filter(|c| (*c as usize) < n_clients) {
                client_marks[c as usize] = ClientMarks {
                    surname: cs[i],
                    address: ca[i],
                    restricted: restricted[i],
                };
            }
        }

        Ok(Relations {
            period_rows,
            periods: p_index,
            case_rows,
            case_keep,
            keep_columns: keep.len(),
            cases: c_index,
            coach_grace: i64::from(coach_grace),
            keep_sections,
            staff: s_index,
            staff_rows,
            role_labels,
            coach_role,
            role_bits,
            people: people_by_user,
            clients: client_marks,
        })
    }

    /// The role names by code.
    pub(crate) fn role_labels(&self) -> &[String] {
        &self.role_labels
    }

    /// The sections with a retention period of their own (`EventKeys::keep`).
    pub(crate) fn keep_sections(&self) -> &[String] {
        &self.keep_sections
    }

    /// Reads the first period and case row and the client's marks of each event (into the
    /// cache).
    fn touch(&self, rows: &[EventRows], keep: &[usize], clients: &[Option<u32>]) {
        let mut sum = 0i64;
        for ((r, k), c) in rows.iter().zip(keep).zip(clients) {
            if let Some(m) = c.and_then(|c| self.clients.get(c as usize)) {
                sum = sum.wrapping_add(i64::from(m.restricted));
            }
            if let Some(p) = self.period_rows.get(r.periods.start) {
                sum = sum.wrapping_add(p.from);
            }
            if let Some(c) = self.case_rows.get(r.cases.start) {
                sum = sum.wrapping_add(c.from);
            }
            if let Some(k) = self.case_keep.get(r.cases.start * self.keep_columns + k) {
                sum = sum.wrapping_add(*k);
            }
        }
        std::hint::black_box(sum);
    }

    /// The facts of one event: user `u`, client `c`, where its periods and its client's cases
    /// are (`rows`), day `d`, and which retention column applies to its section (`keep`).
    fn facts(
        &self,
        u: Option<u32>,
        c: Option<u32>,
        rows: &EventRows,
        d: i64,
        keep: usize,
    ) -> Facts {
        let mut f = Facts::default();
        // The assignments (`direct_worker`) and complaints handled (`complaints_handler`) of
        // this user for this client.
        for p in &self.period_rows[rows.periods.clone()] {
            let begun = p.from <= d;
            let holds = begun && d <= p.to;
            match p.kind {
                0 => {
                    f.direct |= holds;
                    f.assigned_before |= begun;
                }
                1 => {
                    f.complaint_open |= holds;
                    f.complaint_before |= begun;
                }
                _ => {}
            }
        }
        // The client's cases, with the user's role periods in each case's team (`team_coach`,
        // `replacement`, `veilig_thuis`, and the reasons).
        let staff = &self.staff_rows[self.staff.rows(u)];
        let cases = rows.cases.clone();
        f.all_past_retention = !cases.is_empty();
        for r in cases {
            let case = &self.case_rows[r];
            let t = case.team;
            let begun = case.from <= d;
            let open = begun && d <= case.to;
            let coach_window = begun && d <= case.to.saturating_add(self.coach_grace);
            let (mut role_now, mut coach_now) = (false, false);
            if t.is_some() {
                for s in staff.iter().filter(|s| s.team == t && s.holds(d)) {
                    role_now = true;
                    coach_now |= self.coach_role.is_some() && s.role == self.coach_role;
                }
            }
            f.has_open_case |= open;
            f.coach |= coach_window && coach_now;
            f.own_team_open |= open && role_now;
            f.team_case |= role_now;
            f.dv_open |= open && case.dv;
            f.closed_before |= case.to < d;
            f.all_past_retention &= self.case_keep[r * self.keep_columns + keep] < d;
            if open {
                f.open_team = min(f.open_team, t);
            }
            f.any_team = f.any_team.max(t);
        }
        // The user's own role periods on the day (role rules, BIG, `replacement`'s team kinds).
        for s in staff.iter().filter(|s| s.holds(d)) {
            f.any_role = true;
            f.big |= s.big;
            f.user_team = min(f.user_team, s.team);
            f.user_role = min(f.user_role, s.role);
            if let Some(role) = s.role {
                f.roles |= self.role_bits[role as usize];
            }
            f.any_team_member |= s.any_team;
        }
        // The user's own pseudonyms, for the signals.
        if let Some(p) = u.and_then(|u| self.people.get(u as usize)) {
            [f.u_person, f.u_surname, f.u_address] = *p;
        }
        // The client's own pseudonyms and restriction.
        f.c = c;
        if let Some(m) = c.and_then(|c| self.clients.get(c as usize)) {
            (f.c_surname, f.c_address, f.restricted) = (m.surname, m.address, m.restricted);
        }
        f
    }

    /// The judgement of every event of `keys` by `rules`, in its order, as the columns
    /// `verdict_code`, `rule_code`, `reason_code`, `signal_mask`, `signal_count`,
    /// `explained_mask`, `dossier_team_code`, `user_team_code` and `user_role_code` (see
    /// `engine::CODE_COLUMNS`). Computed on every core, in chunks.
    pub(crate) fn judge(&self, keys: &EventKeys, rules: &RuleTable) -> Result<DataFrame> {
        let n = keys.d.len();
        let mut out: Vec<Judged> = vec![Judged::EMPTY; n];
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let chunk = n.div_ceil(threads.max(1)).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = out
                .chunks_mut(chunk)
                .enumerate()
                .map(|(k, out)| {
                    let from = k * chunk;
                    s.spawn(move || {
                        // In blocks: where each event's rows are, then a first touch of them
                        // (loads that do not wait on each other, so the memory serves many at
                        // once), then the facts and the judgement.
                        let mut rows = Vec::with_capacity(BLOCK);
                        for (b, out) in out.chunks_mut(BLOCK).enumerate() {
                            let start = from + b * BLOCK;
                            let events = start..start + out.len();
                            rows.clear();
                            rows.extend(events.clone().map(|i| EventRows {
                                periods: self.periods.rows(keys.pair[i]),
                                cases: self.cases.rows(keys.c[i]),
                            }));
                            self.touch(&rows, &keys.keep[events.clone()], &keys.c[events.clone()]);
                            for ((i, r), o) in events.zip(&rows).zip(out.iter_mut()) {
                                let f =
                                    self.facts(keys.u[i], keys.c[i], r, keys.d[i], keys.keep[i]);
                                *o = Judged::new(&rules.judge(&f, &keys.marks[i]), &f);
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            }
        });
        let values = |name: &str, field: fn(&Judged) -> u32| {
            UInt32Chunked::from_vec(name.into(), out.iter().map(field).collect()).into_column()
        };
        let codes = |name: &str, field: fn(&Judged) -> u32| {
            UInt32Chunked::from_iter_options(
                name.into(),
                out.iter().map(|j| Some(field(j)).filter(|c| *c != NONE)),
            )
            .into_column()
        };
        let count: Vec<i32> = out.iter().map(|j| j.signals.count_ones() as i32).collect();
        Ok(DataFrame::new(
            n,
            vec![
                values("verdict_code", |j| j.verdict),
                codes("rule_code", |j| j.rule),
                codes("reason_code", |j| j.reason),
                values("signal_mask", |j| j.signals),
                Column::new("signal_count".into(), count),
                codes("explained_mask", |j| j.explained),
                codes("dossier_team_code", |j| j.dossier_team),
                codes("user_team_code", |j| j.user_team),
                codes("user_role_code", |j| j.user_role),
            ],
        )?)
    }
}

/// Where an event's periods and cases are among the rows.
struct EventRows {
    periods: std::ops::Range<usize>,
    cases: std::ops::Range<usize>,
}

/// Events per block of facts: the rows a block touches stay in the cache until its facts read
/// them; a larger block lets the first rows leave the cache before they are read.
const BLOCK: usize = 1024;

/// The lesser of two optional codes, a missing one counting as none (as polars' `min`).
fn min(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
