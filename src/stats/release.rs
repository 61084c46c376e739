//! The management release: counts per team, role and month under disclosure control (primary
//! and secondary suppression, rounding), with the trend against the previous period.

use crate::csv_output::CsvRow;
use crate::engine::vocab::Verdict;
use crate::error::Result;
use crate::period::DayRange;
use crate::period::Period;
use crate::policy::{Policy, Thresholds};
use crate::stats::disclosure::{primary, secondary, CellKey, Contributors, Line, Rule};
use polars::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Row name of the organisation as a whole, and column name of the whole period.
pub const ORG: &str = "ORGANISATIE";

pub const ALL: &str = "PERIODE";

/// Accounts without a role at the time, and merged small teams.
pub const NO_ROLE: &str = "ZONDER-ROL";

pub const MERGED: &str = "OVERIG";

/// Everything counted for one cell, before disclosure control.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellCounts {
    pub accesses: u64,
    pub justified: u64,
    pub unjustified: u64,
    pub emergency: u64,
    pub after_hours: u64,
    pub first_events: u64,
    pub first_justified: u64,
    pub activity: Contributors,
    pub findings: Contributors,
    pub after: Contributors,
}

/// One published row of a team or role table. Suppressed cells are empty and marked `x`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StatRow {
    pub group: String,
    pub month: String,
    pub accesses: Option<u64>,
    pub employees: Option<u64>,
    pub clients: Option<u64>,
    pub activity_mark: String,
    pub after_hours_pct: Option<f64>,
    pub after_hours_mark: String,
    pub coverage_pct: Option<f64>,
    pub first_access_coverage_pct: Option<f64>,
    pub unjustified: Option<u64>,
    pub unjustified_per_1000: Option<f64>,
    pub emergency_logins: Option<u64>,
    pub findings_mark: String,
    /// The organisation's figures of the same month, for comparison.
    pub org_coverage_pct: Option<f64>,
    pub org_unjustified_per_1000: Option<f64>,
}

impl CsvRow for StatRow {
    const COLUMNS: &'static [&'static str] = &[
        "group",
        "month",
        "accesses",
        "employees",
        "clients",
        "activity_mark",
        "after_hours_pct",
        "after_hours_mark",
        "coverage_pct",
        "first_access_coverage_pct",
        "unjustified",
        "unjustified_per_1000",
        "emergency_logins",
        "findings_mark",
        "org_coverage_pct",
        "org_unjustified_per_1000",
    ];
}

/// A team's rates now and in the previous period of the same length.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TrendRow {
    pub group: String,
    pub coverage_pct: Option<f64>,
    pub coverage_pct_before: Option<f64>,
    pub unjustified_per_1000: Option<f64>,
    pub unjustified_per_1000_before: Option<f64>,
    pub mark: String,
}

impl CsvRow for TrendRow {
    const COLUMNS: &'static [&'static str] = &[
        "group",
        "coverage_pct",
        "coverage_pct_before",
        "unjustified_per_1000",
        "unjustified_per_1000_before",
        "mark",
    ];
}

/// How many employees made how many unjustified accesses (a distribution, never a person).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ConcentrationRow {
    pub bucket: String,
    pub employees: Option<u64>,
    pub mark: String,
}

impl CsvRow for ConcentrationRow {
    const COLUMNS: &'static [&'static str] = &["bucket", "employees", "mark"];
}

/// One suppression, with the rule that made it. Holds no counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Suppression {
    pub table: String,
    pub group: String,
    pub column: String,
    pub layer: String,
    pub rule: Rule,
}

/// The release: every table as published, and the log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Release {
    pub teams: Vec<StatRow>,
    pub roles: Vec<StatRow>,
    pub trend: Vec<TrendRow>,
    pub concentration: Vec<ConcentrationRow>,
    /// Share (%) of unjustified accesses made by the 10% of employees who made most, when
    /// enough employees contribute.
    pub top_decile_share_pct: Option<f64>,
    pub log: Vec<Suppression>,
    pub rounded_to: u64,
    pub months: Vec<String>,
}

/// Flags added to the verdicts before counting.
fn prepared(verdicts: &DataFrame, merge: &BTreeMap<String, String>) -> Result<LazyFrame> {
    let mut team = col("user_team").fill_null(lit(NO_ROLE));
    for (from, to) in merge.iter().rev() {
        team = when(col("user_team").eq(lit(from.as_str())))
            .then(lit(to.as_str()))
            .otherwise(team);
    }
    Ok(verdicts.clone().lazy().with_columns([
        team.alias("team"),
        col("user_role").fill_null(lit(NO_ROLE)).alias("role"),
        col("local_date").dt().to_string("%Y-%m").alias("month"),
        col("signals")
            .str()
            .contains_literal(lit("after_hours"))
            .alias("after"),
        col("signals")
            .str()
            .contains_literal(lit("first_access"))
            .and(col("verdict").neq(lit(Verdict::Emergency.name())))
            .alias("first"),
        col("verdict")
            .neq(lit(Verdict::Justified.name()))
            .alias("finding"),
    ]))
}

fn count(name: &str, e: Expr) -> Expr {
    e.cast(DataType::UInt64).sum().alias(name)
}

fn u64s(df: &DataFrame, name: &str) -> Result<Vec<u64>> {
    let c = df.column(name)?.cast(&DataType::UInt64)?;
    Ok(c.u64()?.iter().map(|v| v.unwrap_or(0)).collect())
}

fn strs(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

/// Counts per cell for rows `row` and columns `col` (expressions on the prepared frame).
fn cells(
    v: &LazyFrame,
    grid: &str,
    row: Expr,
    column: Expr,
) -> Result<BTreeMap<CellKey, CellCounts>> {
    let keyed = v.clone().with_columns([row.alias("r"), column.alias("c")]);
    let agg = keyed
        .clone()
        .group_by([col("r"), col("c")])
        .agg([
            len().alias("accesses"),
            count(
                "justified",
                col("verdict").eq(lit(Verdict::Justified.name())),
            ),
            count(
                "unjustified",
                col("verdict").eq(lit(Verdict::Unjustified.name())),
            ),
            count(
                "emergency",
                col("verdict").eq(lit(Verdict::Emergency.name())),
            ),
            count("after_hours", col("after")),
            count("first_events", col("first")),
            count(
                "first_justified",
                col("first").and(col("verdict").eq(lit(Verdict::Justified.name()))),
            ),
            col("user_id").n_unique().alias("employees"),
            col("client_pid").n_unique().alias("clients"),
            col("user_id")
                .filter(col("finding"))
                .n_unique()
                .alias("finding_employees"),
            col("client_pid")
                .filter(col("finding"))
                .n_unique()
                .alias("finding_clients"),
            col("user_id")
                .filter(col("after"))
                .n_unique()
                .alias("after_employees"),
            col("client_pid")
                .filter(col("after"))
                .n_unique()
                .alias("after_clients"),
        ])
        .collect()?;
    let per_user = keyed
        .group_by([col("r"), col("c"), col("user_id")])
        .agg([
            len().alias("n"),
            count("f", col("finding")),
            count("h", col("after")),
        ])
        .collect()?;
    let mut out: BTreeMap<CellKey, CellCounts> = BTreeMap::new();
    let (r, c) = (strs(&agg, "r")?, strs(&agg, "c")?);
    let get = |n: &str| u64s(&agg, n);
    let (aemp, acli) = (get("after_employees")?, get("after_clients")?);
    let (a, j, u, e, ah, fe, fj, emp, cli, femp, fcli) = (
        get("accesses")?,
        get("justified")?,
        get("unjustified")?,
        get("emergency")?,
        get("after_hours")?,
        get("first_events")?,
        get("first_justified")?,
        get("employees")?,
        get("clients")?,
        get("finding_employees")?,
        get("finding_clients")?,
    );
    for i in 0..agg.height() {
        out.insert(
            CellKey::new(grid, &r[i], &c[i]),
            CellCounts {
                accesses: a[i],
                justified: j[i],
                unjustified: u[i],
                emergency: e[i],
                after_hours: ah[i],
                first_events: fe[i],
                first_justified: fj[i],
                activity: Contributors {
                    total: a[i],
                    employees: emp[i] as usize,
                    clients: cli[i] as usize,
                    top: Vec::new(),
                },
                findings: Contributors {
                    total: u[i] + e[i],
                    employees: femp[i] as usize,
                    clients: fcli[i] as usize,
                    top: Vec::new(),
                },
                after: Contributors {
                    total: ah[i],
                    employees: aemp[i] as usize,
                    clients: acli[i] as usize,
                    top: Vec::new(),
                },
            },
        );
    }
    let (pr, pc, pn, pf, ph) = (
        strs(&per_user, "r")?,
        strs(&per_user, "c")?,
        u64s(&per_user, "n")?,
        u64s(&per_user, "f")?,
        u64s(&per_user, "h")?,
    );
    for i in 0..per_user.height() {
        if let Some(cell) = out.get_mut(&CellKey::new(grid, &pr[i], &pc[i])) {
            cell.activity.top.push(pn[i]);
            cell.findings.top.push(pf[i]);
            cell.after.top.push(ph[i]);
        }
    }
    for cell in out.values_mut() {
        for c in [&mut cell.activity, &mut cell.findings, &mut cell.after] {
            c.top.sort_unstable_by(|a, b| b.cmp(a));
        }
    }
    Ok(out)
}

/// Teams with fewer than `below` distinct employees in the period → merged group.
fn merge_map(verdicts: &DataFrame, below: usize) -> Result<BTreeMap<String, String>> {
    if below == 0 {
        return Ok(BTreeMap::new());
    }
    let df = verdicts
        .clone()
        .lazy()
        .filter(col("user_team").is_not_null())
        .group_by([col("user_team")])
        .agg([col("user_id").n_unique().alias("n")])
        .collect()?;
    let (t, n) = (strs(&df, "user_team")?, u64s(&df, "n")?);
    Ok(t.into_iter()
        .zip(n)
        .filter(|(_, n)| (*n as usize) < below)
        .map(|(t, _)| (t, MERGED.to_string()))
        .collect())
}

fn pct(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| ((part as f64 / whole as f64) * 1000.0).floor() / 10.0)
}

fn per_1000(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| ((part as f64 * 1000.0 / whole as f64) * 10.0).round() / 10.0)
}

fn round_to(x: u64, base: u64) -> u64 {
    if base <= 1 {
        x
    } else {
        ((x + base / 2) / base) * base
    }
}

/// The release of a period (`verdicts` of the period, `before` of the previous one).
pub fn release(verdicts: &DataFrame, before: &DataFrame, policy: &Policy) -> Result<Release> {
    let t = policy.disclosure.thresholds;
    let base = policy.disclosure.round_base;
    let merge = merge_map(verdicts, policy.disclosure.merge_teams_below)?;
    let v = prepared(verdicts, &merge)?;
    let counts = counted(&v)?;
    let axes = Axes::of(&counts);
    let lines = axes.lines();
    let layers = Layers::suppressed(&counts, &lines, &t);
    let (teams, roles) = stat_rows(&counts, &axes, &layers, base);
    let trend = trend(before, &merge, &counts, &axes, &layers, &t)?;
    let per_employee = unjustified_per_employee(&v)?;
    let (concentration, conc_supp) = concentration(&per_employee, &layers, &t, base);
    let top_decile_share_pct = top_decile_share(&per_employee, &t);
    Ok(Release {
        teams,
        roles,
        trend,
        concentration,
        top_decile_share_pct,
        log: suppression_log(&layers, &conc_supp),
        rounded_to: base,
        months: axes.months.into_iter().collect(),
    })
}

/// The grid of team cells.
const TEAM_GRID: &str = "teams";
/// The grid of role cells.
const ROLE_GRID: &str = "roles";

/// The organisation's total for the period: shared by the team grid and the role table.
fn total_key() -> CellKey {
    CellKey::new(TEAM_GRID, ORG, ALL)
}

/// The counts of every cell: team by month, team and organisation totals, and roles over the
/// period (whose total is the organisation's period total: one shared cell).
fn counted(v: &LazyFrame) -> Result<BTreeMap<CellKey, CellCounts>> {
    let mut counts = BTreeMap::new();
    for (row, column) in [
        (col("team"), col("month")),
        (col("team"), lit(ALL)),
        (lit(ORG), col("month")),
        (lit(ORG), lit(ALL)),
    ] {
        counts.extend(cells(v, TEAM_GRID, row, column)?);
    }
    let mut role_counts = cells(v, ROLE_GRID, col("role"), lit(ALL))?;
    role_counts.retain(|k, _| k.row != ORG);
    counts.extend(role_counts);
    Ok(counts)
}

/// The teams, months and roles the counts have cells for.
struct Axes {
    teams: BTreeSet<String>,
    months: BTreeSet<String>,
    roles: BTreeSet<String>,
}

impl Axes {
    fn of(counts: &BTreeMap<CellKey, CellCounts>) -> Axes {
        let pick = |keep: &dyn Fn(&CellKey) -> bool, part: fn(&CellKey) -> &String| {
            counts
                .keys()
                .filter(|k| keep(k))
                .map(|k| part(k).clone())
                .collect()
        };
        Axes {
            teams: pick(&|k| k.grid == TEAM_GRID && k.row != ORG, |k| &k.row),
            months: pick(&|k| k.col != ALL, |k| &k.col),
            roles: pick(&|k| k.grid == ROLE_GRID, |k| &k.row),
        }
    }

    /// The teams, then the organisation.
    fn groups(&self) -> impl Iterator<Item = &str> {
        self.teams.iter().map(String::as_str).chain([ORG])
    }

    /// The months, then the period.
    fn columns(&self) -> impl Iterator<Item = &str> {
        self.months.iter().map(String::as_str).chain([ALL])
    }

    /// Every published sum: each team's row of months, each month's column of teams, and the
    /// roles adding up to the organisation's total. Empty cells (no access at all) are
    /// published zeros and part of the lines.
    fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        for team in self.groups() {
            lines.push(Line {
                cells: self
                    .months
                    .iter()
                    .map(|m| CellKey::new(TEAM_GRID, team, m))
                    .collect(),
                total: CellKey::new(TEAM_GRID, team, ALL),
            });
        }
        for m in self.columns() {
            lines.push(Line {
                cells: self
                    .teams
                    .iter()
                    .map(|t| CellKey::new(TEAM_GRID, t, m))
                    .collect(),
                total: CellKey::new(TEAM_GRID, ORG, m),
            });
        }
        lines.push(Line {
            cells: self
                .roles
                .iter()
                .map(|r| CellKey::new(ROLE_GRID, r, ALL))
                .collect(),
            total: total_key(),
        });
        lines
    }
}

/// The suppressed cells of each layer of figures, with the rule that suppressed each.
struct Layers {
    activity: BTreeMap<CellKey, Rule>,
    findings: BTreeMap<CellKey, Rule>,
    after: BTreeMap<CellKey, Rule>,
}

impl Layers {
    /// The activity's primary and secondary suppressions; then each other layer inherits them
    /// (a rate would reveal the count), adds its own primary ones, then its own secondary ones
    /// on its own counts.
    fn suppressed(
        counts: &BTreeMap<CellKey, CellCounts>,
        lines: &[Line],
        t: &Thresholds,
    ) -> Layers {
        let value = |of: fn(&CellCounts) -> u64| -> BTreeMap<CellKey, u64> {
            counts.iter().map(|(k, c)| (k.clone(), of(c))).collect()
        };
        let mut activity: BTreeMap<CellKey, Rule> = BTreeMap::new();
        for (k, c) in counts {
            if let Some(r) = primary(&c.activity, t.k, t) {
                activity.insert(k.clone(), r);
            }
        }
        secondary(&mut activity, lines, &value(|c| c.accesses));
        let layer =
            |pick: fn(&CellCounts) -> &Contributors, k: usize, of: fn(&CellCounts) -> u64| {
                let mut map: BTreeMap<CellKey, Rule> = activity
                    .keys()
                    .map(|key| (key.clone(), Rule::Linked))
                    .collect();
                for (key, c) in counts {
                    if !map.contains_key(key) {
                        if let Some(r) = primary(pick(c), k, t) {
                            map.insert(key.clone(), r);
                        }
                    }
                }
                secondary(&mut map, lines, &value(of));
                map
            };
        let findings = layer(
            |c| &c.findings,
            t.k_findings,
            |c| c.unjustified + c.emergency,
        );
        let after = layer(|c| &c.after, t.k, |c| c.after_hours);
        Layers {
            activity,
            findings,
            after,
        }
    }
}

/// The rows of the team table (each group by month, then the period) and of the role table
/// (each role over the period, then the organisation).
fn stat_rows(
    counts: &BTreeMap<CellKey, CellCounts>,
    axes: &Axes,
    layers: &Layers,
    base: u64,
) -> (Vec<StatRow>, Vec<StatRow>) {
    let org_month = |m: &str| counts.get(&CellKey::new(TEAM_GRID, ORG, m));
    let row_of = |k: &CellKey, group: &str, month: &str| -> StatRow {
        let c = counts.get(k).cloned().unwrap_or_default();
        let a_ok = !layers.activity.contains_key(k);
        let f_ok = !layers.findings.contains_key(k);
        let h_ok = !layers.after.contains_key(k);
        let org_key = CellKey::new(TEAM_GRID, ORG, &k.col);
        let org_f = org_month(&k.col).filter(|_| !layers.findings.contains_key(&org_key));
        StatRow {
            group: group.to_string(),
            month: month.to_string(),
            accesses: a_ok.then(|| round_to(c.accesses, base)),
            employees: a_ok.then(|| round_to(c.activity.employees as u64, base)),
            clients: a_ok.then(|| round_to(c.activity.clients as u64, base)),
            activity_mark: mark(a_ok),
            after_hours_pct: h_ok.then(|| pct(c.after_hours, c.accesses)).flatten(),
            after_hours_mark: mark(h_ok),
            coverage_pct: f_ok
                .then(|| pct(c.justified, c.accesses - c.emergency))
                .flatten(),
            first_access_coverage_pct: f_ok
                .then(|| pct(c.first_justified, c.first_events))
                .flatten(),
            unjustified: f_ok.then(|| round_to(c.unjustified, base)),
            unjustified_per_1000: f_ok.then(|| per_1000(c.unjustified, c.accesses)).flatten(),
            emergency_logins: f_ok.then(|| round_to(c.emergency, base)),
            findings_mark: mark(f_ok),
            org_coverage_pct: org_f.and_then(|o| pct(o.justified, o.accesses - o.emergency)),
            org_unjustified_per_1000: org_f.and_then(|o| per_1000(o.unjustified, o.accesses)),
        }
    };
    let mut team_rows = Vec::new();
    for team in axes.groups() {
        for m in axes.columns() {
            team_rows.push(row_of(&CellKey::new(TEAM_GRID, team, m), team, m));
        }
    }
    let mut role_rows: Vec<StatRow> = axes
        .roles
        .iter()
        .map(|r| row_of(&CellKey::new(ROLE_GRID, r, ALL), r, ALL))
        .collect();
    role_rows.push(row_of(&total_key(), ORG, ALL));
    (team_rows, role_rows)
}

/// A suppressed cell's mark.
fn mark(published: bool) -> String {
    if published {
        String::new()
    } else {
        "x".to_string()
    }
}

/// The trend: rates of each group's period total now, and in the previous period (`before`;
/// primary rules only there: nothing of the previous period but these rates is published).
fn trend(
    before: &DataFrame,
    merge: &BTreeMap<String, String>,
    counts: &BTreeMap<CellKey, CellCounts>,
    axes: &Axes,
    layers: &Layers,
    t: &Thresholds,
) -> Result<Vec<TrendRow>> {
    let before_counts = if before.height() > 0 {
        let vb = prepared(before, merge)?;
        let mut m = cells(&vb, TEAM_GRID, col("team"), lit(ALL))?;
        m.extend(cells(&vb, TEAM_GRID, lit(ORG), lit(ALL))?);
        m
    } else {
        BTreeMap::new()
    };
    Ok(axes
        .groups()
        .map(|team| {
            let k = CellKey::new(TEAM_GRID, team, ALL);
            let now = counts.get(&k).cloned().unwrap_or_default();
            let prev = before_counts.get(&k);
            let prev_f = prev.filter(|p| {
                primary(&p.activity, t.k, t).is_none()
                    && primary(&p.findings, t.k_findings, t).is_none()
            });
            let f_ok = !layers.findings.contains_key(&k);
            TrendRow {
                group: team.to_string(),
                coverage_pct: f_ok
                    .then(|| pct(now.justified, now.accesses - now.emergency))
                    .flatten(),
                coverage_pct_before: prev_f
                    .and_then(|p| pct(p.justified, p.accesses - p.emergency)),
                unjustified_per_1000: f_ok
                    .then(|| per_1000(now.unjustified, now.accesses))
                    .flatten(),
                unjustified_per_1000_before: prev_f
                    .and_then(|p| per_1000(p.unjustified, p.accesses)),
                mark: mark(f_ok),
            }
        })
        .collect())
}

/// Each employee's number of unjustified accesses, largest first (employees with none too).
fn unjustified_per_employee(v: &LazyFrame) -> Result<Vec<u64>> {
    let per_user = v
        .clone()
        .group_by([col("user_id")])
        .agg([count(
            "u",
            col("verdict").eq(lit(Verdict::Unjustified.name())),
        )])
        .collect()?;
    let mut per: Vec<u64> = u64s(&per_user, "u")?;
    per.sort_unstable_by(|a, b| b.cmp(a));
    Ok(per)
}

/// The concentration table: employees by number of unjustified accesses. The buckets add up
/// to the organisation's published number of employees, so they get secondary suppression
/// too; returns the rows and the suppressed cells.
fn concentration(
    per: &[u64],
    layers: &Layers,
    t: &Thresholds,
    base: u64,
) -> (Vec<ConcentrationRow>, BTreeMap<CellKey, Rule>) {
    // "2–4" with an en dash and "≥5": a spreadsheet reads "2-4" as a date (2 April) and "5+" as
    // the number 5.
    let buckets: [(&str, u64, u64); 4] =
        [("0", 0, 0), ("1", 1, 1), ("2–4", 2, 4), ("≥5", 5, u64::MAX)];
    let mut conc_value = BTreeMap::new();
    let mut conc_supp = BTreeMap::new();
    let conc_key = |b: &str| CellKey::new("concentration", b, ALL);
    for (name, lo, hi) in buckets {
        let n = per.iter().filter(|x| **x >= lo && **x <= hi).count() as u64;
        conc_value.insert(conc_key(name), n);
        if n > 0 && (n as usize) < t.k_findings {
            conc_supp.insert(conc_key(name), Rule::KEmployees);
        }
    }
    let employees_total = CellKey::new("concentration", ORG, ALL);
    conc_value.insert(employees_total.clone(), per.len() as u64);
    if layers.activity.contains_key(&total_key()) {
        conc_supp.insert(employees_total.clone(), Rule::Linked);
    }
    secondary(
        &mut conc_supp,
        &[Line {
            cells: buckets.iter().map(|b| conc_key(b.0)).collect(),
            total: employees_total,
        }],
        &conc_value,
    );
    let rows = buckets
        .iter()
        .map(|(name, _, _)| {
            let k = conc_key(name);
            let ok = !conc_supp.contains_key(&k);
            ConcentrationRow {
                bucket: name.to_string(),
                employees: ok.then(|| round_to(conc_value[&k], base)),
                mark: mark(ok),
            }
        })
        .collect();
    (rows, conc_supp)
}

/// The share of all unjustified accesses that the top tenth of employees made, published only
/// when at least `k_findings` employees have any.
fn top_decile_share(per: &[u64], t: &Thresholds) -> Option<f64> {
    let with_findings = per.iter().filter(|x| **x > 0).count();
    (with_findings >= t.k_findings).then(|| {
        let n = per.len().div_ceil(10).max(1);
        let top: u64 = per.iter().take(n).sum();
        let all: u64 = per.iter().sum();
        pct(top, all).unwrap_or(0.0)
    })
}

/// Every suppressed cell with its table, layer and rule, sorted.
fn suppression_log(layers: &Layers, conc_supp: &BTreeMap<CellKey, Rule>) -> Vec<Suppression> {
    let mut log = Vec::new();
    for (layer, map) in [
        ("activity", &layers.activity),
        ("after_hours", &layers.after),
        ("findings", &layers.findings),
    ] {
        for (k, r) in map {
            log.push(Suppression {
                table: if k.grid == ROLE_GRID {
                    "roles"
                } else {
                    "teams"
                }
                .into(),
                group: k.row.clone(),
                column: k.col.clone(),
                layer: layer.into(),
                rule: *r,
            });
        }
    }
    for (k, r) in conc_supp {
        log.push(Suppression {
            table: "concentration".into(),
            group: k.row.clone(),
            column: k.col.clone(),
            layer: "employees".into(),
            rule: *r,
        });
    }
    log.sort();
    log
}

/// The period of the same length just before `p`.
pub fn previous(p: &Period) -> DayRange {
    let days = (p.range.last - p.range.first).num_days() + 1;
    let last = p.range.first.pred_opt().unwrap_or(p.range.first);
    DayRange {
        first: last - chrono::Duration::days(days - 1),
        last,
    }
}
