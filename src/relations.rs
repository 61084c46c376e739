//! The relations an access may rest on, indexed by integer code (periods by pair, cases by
//! client, role periods by user), and the per-event facts the rules read from them, computed
//! in one pass over the events by array reads.
//!
//! This replaces, per part, three joins that multiplied the events by their matching rows and
//! three group-bys that folded them back (see `engine.rs`); the facts are the same: the
//! reference model in `tests/engine_reference.rs` checks them.

use polars::prelude::*;

use crate::by_code::Offsets;
use crate::error::{Error, Result};
use crate::policy::ROLE_RULES;

/// A day that no event reaches: a missing start (the period never began) or a missing retention
/// day (kept without end).
const NEVER: i64 = i64::MAX;

/// The roles the per-event facts name (`role_<name>`).
fn role_names() -> Vec<&'static str> {
    ROLE_RULES
        .iter()
        .copied()
        .chain(["veilig_thuis", "complaints_handler"])
        .collect()
}

/// The facts of one event, before they become columns.
#[derive(Default, Clone)]
struct Facts {
    direct: bool,
    assigned_before: bool,
    complaint_open: bool,
    complaint_before: bool,
    has_open_case: bool,
    coach: bool,
    own_team_open: bool,
    team_case: bool,
    dv_open: bool,
    closed_before: bool,
    all_past_retention: bool,
    open_team: Option<u32>,
    any_team: Option<u32>,
    any_role: bool,
    big: bool,
    user_team: Option<u32>,
    /// The least role code (roles are coded in sorted order, so this is the least role name).
    user_role: Option<u32>,
    /// Bit i for `role_names()[i]`.
    roles: u32,
    any_team_member: bool,
    u_person: Option<u32>,
    u_surname: Option<u32>,
    u_address: Option<u32>,
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

impl Relations {
    /// Indexes the coded reference rows:
    /// - `periods`: `pair`, `kind`, `p_from`, `p_to`, `grace` (pairs below `n_pairs`);
    /// - `cases`: `c`, `t`, `c_from`, `c_to`, `domestic_violence`, `keep_default` and
    ///   `keep_<section>` for each of `keep_sections` (clients below `n_clients`);
    /// - `staff`: `u`, `t`, `role`, `s_from`, `s_to`, `big_registered`, `any_team_kind`
    ///   (users below `n_users`);
    /// - `people`: `u`, `u_person`, `u_surname`, `u_address`, one row per user.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        periods: &DataFrame,
        n_pairs: usize,
        cases: &DataFrame,
        n_clients: usize,
        keep_sections: Vec<String>,
        coach_grace: i32,
        staff: &DataFrame,
        people: &DataFrame,
        n_users: usize,
    ) -> Result<Relations> {
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
        })
    }

    /// The role names by code.
    pub(crate) fn role_labels(&self) -> &[String] {
        &self.role_labels
    }

    /// Reads the first period and case row of each event (into the cache).
    fn touch(&self, rows: &[EventRows], keep: &[usize]) {
        let mut sum = 0i64;
        for (r, k) in rows.iter().zip(keep) {
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

    /// The facts of one event: user `u`, where its periods and its client's cases are (`rows`),
    /// day `d`, and which retention column applies to its section (`keep`).
    fn facts(&self, u: Option<u32>, rows: &EventRows, d: i64, keep: usize) -> Facts {
        let mut f = Facts::default();
        // (A, D) assignments and complaints handled by this user for this client.
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
        // (B) the client's cases, with the user's role periods in each case's team.
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
        // (C) the user's own role periods on the day.
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
        // (E) the user's own pseudonyms.
        if let Some(p) = u.and_then(|u| self.people.get(u as usize)) {
            [f.u_person, f.u_surname, f.u_address] = *p;
        }
        f
    }

    /// The per-event facts of `keys` (`u`, `c`, `pair`, `d`, `section`), one row per key row in
    /// its order: the flags (`direct`, `assigned_before`, `complaint_open`, `complaint_before`,
    /// `has_open_case`, `coach`, `own_team_open`, `team_case`, `dv_open`, `closed_before`,
    /// `all_past_retention`, `any_role`, `big`, `role_<name>`, `any_team_member`), the team codes
    /// `open_team`, `any_team` and `user_team`, `user_role`, and the user's coded pseudonyms
    /// `u_person`, `u_surname` and `u_address`. Computed on every core, in chunks.
    pub(crate) fn event_facts(&self, keys: &DataFrame) -> Result<DataFrame> {
        let u = u32s(keys, "u")?;
        let c = u32s(keys, "c")?;
        let pair = u32s(keys, "pair")?;
        let d = days(keys, "d", NEVER)?;
        let section = keys.column("section")?.cast(&DataType::String)?;
        let keep: Vec<usize> = section
            .str()?
            .iter()
            .map(|s| {
                s.and_then(|s| self.keep_sections.iter().position(|k| k == s))
                    .map_or(0, |i| i + 1)
            })
            .collect();
        let n = keys.height();
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let chunk = n.div_ceil(threads.max(1)).max(1);
        let parts: Vec<Result<DataFrame>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|from| {
                    let to = (from + chunk).min(n);
                    let (u, c, pair, d, keep) = (&u, &c, &pair, &d, &keep);
                    s.spawn(move || {
                        // In blocks that stay in the cache, then column by column.
                        let mut columns = FactColumns::with_capacity(to - from);
                        let mut block = Vec::with_capacity(BLOCK);
                        let mut rows = Vec::with_capacity(BLOCK);
                        for start in (from..to).step_by(BLOCK) {
                            let events = start..(start + BLOCK).min(to);
                            // Where each event's rows are, then a first touch of them: loads
                            // that do not wait on each other, so the memory serves many at once.
                            rows.clear();
                            rows.extend(events.clone().map(|i| EventRows {
                                periods: self.periods.rows(pair[i]),
                                cases: self.cases.rows(c[i]),
                            }));
                            self.touch(&rows, &keep[events.clone()]);
                            block.clear();
                            block.extend(
                                events
                                    .zip(&rows)
                                    .map(|(i, r)| self.facts(u[i], r, d[i], keep[i])),
                            );
                            columns.extend(&block);
                        }
                        columns.into_frame(&self.role_labels)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Invalid(
                            "internal: a thread computing the events' facts failed".into(),
                        ))
                    })
                })
                .collect()
        });
        let mut out: Option<DataFrame> = None;
        for part in parts {
            let part = part?;
            match &mut out {
                Some(all) => {
                    all.vstack_mut(&part)?;
                }
                None => out = Some(part),
            }
        }
        match out {
            Some(df) => Ok(df),
            None => FactColumns::with_capacity(0).into_frame(&self.role_labels),
        }
    }
}

/// Where an event's periods and cases are among the rows.
struct EventRows {
    periods: std::ops::Range<usize>,
    cases: std::ops::Range<usize>,
}

/// Events per block of facts (a block's facts stay in the cache while they become columns).
const BLOCK: usize = 4096;

/// A column of `Facts`: its name and how to read it.
type Named<T> = (&'static str, fn(&Facts) -> T);

/// The flags of `Facts`, by column name, in the columns' order.
const FLAGS: [Named<bool>; 14] = [
    ("direct", |f| f.direct),
    ("assigned_before", |f| f.assigned_before),
    ("complaint_open", |f| f.complaint_open),
    ("complaint_before", |f| f.complaint_before),
    ("has_open_case", |f| f.has_open_case),
    ("coach", |f| f.coach),
    ("own_team_open", |f| f.own_team_open),
    ("team_case", |f| f.team_case),
    ("dv_open", |f| f.dv_open),
    ("closed_before", |f| f.closed_before),
    ("all_past_retention", |f| f.all_past_retention),
    ("any_role", |f| f.any_role),
    ("big", |f| f.big),
    ("any_team_member", |f| f.any_team_member),
];

/// The codes of `Facts`, by column name.
const CODES: [Named<Option<u32>>; 7] = [
    ("open_team", |f| f.open_team),
    ("any_team", |f| f.any_team),
    ("user_team", |f| f.user_team),
    ("user_role", |f| f.user_role),
    ("u_person", |f| f.u_person),
    ("u_surname", |f| f.u_surname),
    ("u_address", |f| f.u_address),
];

/// Facts gathered column by column.
struct FactColumns {
    flags: Vec<Vec<bool>>,
    roles: Vec<Vec<bool>>,
    codes: Vec<Vec<Option<u32>>>,
}

impl FactColumns {
    fn with_capacity(n: usize) -> FactColumns {
        FactColumns {
            flags: (0..FLAGS.len()).map(|_| Vec::with_capacity(n)).collect(),
            roles: role_names().iter().map(|_| Vec::with_capacity(n)).collect(),
            codes: (0..CODES.len()).map(|_| Vec::with_capacity(n)).collect(),
        }
    }

    fn extend(&mut self, facts: &[Facts]) {
        for (column, (_, get)) in self.flags.iter_mut().zip(FLAGS.iter()) {
            column.extend(facts.iter().map(get));
        }
        for (i, column) in self.roles.iter_mut().enumerate() {
            column.extend(facts.iter().map(|f| f.roles & (1 << i) != 0));
        }
        for (column, (_, get)) in self.codes.iter_mut().zip(CODES.iter()) {
            column.extend(facts.iter().map(get));
        }
    }

    /// The columns as a frame; `user_role` as its role name.
    fn into_frame(self, role_labels: &[String]) -> Result<DataFrame> {
        let n = self.flags[0].len();
        let mut columns: Vec<Column> = Vec::new();
        for ((name, _), values) in FLAGS.iter().zip(self.flags) {
            columns.push(Column::new((*name).into(), values));
        }
        for (role, values) in role_names().iter().zip(self.roles) {
            columns.push(Column::new(format!("role_{role}").into(), values));
        }
        for ((name, _), values) in CODES.iter().zip(self.codes) {
            let column = if *name == "user_role" {
                columns.push(Column::new("user_role_code".into(), values.clone()));
                Column::new(
                    (*name).into(),
                    values
                        .iter()
                        .map(|r| r.map(|r| role_labels[r as usize].as_str()))
                        .collect::<Vec<Option<&str>>>(),
                )
            } else {
                Column::new((*name).into(), values)
            };
            columns.push(column);
        }
        Ok(DataFrame::new(n, columns)?)
    }
}

/// The lesser of two optional codes, a missing one counting as none (as polars' `min`).
fn min(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
