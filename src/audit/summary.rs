//! The audit's figures: totals, explanation coverage per team (all and first accesses),
//! unjustified accesses by reason, explanations used, verdicts per month, reads by hour and
//! weekday, signals. Computed from the verdict table by polars aggregations.

use polars::prelude::*;
use serde::Serialize;

use crate::engine::vocab::{Signal, Verdict};
use crate::error::Result;
use crate::policy::Policy;

/// Counts for one group of events.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Coverage {
    pub group: String,
    pub events: usize,
    pub justified: usize,
    pub unjustified: usize,
    pub emergency: usize,
    /// Justified share of the events that are not emergency logins (those are reviewed anyway).
    pub coverage: f64,
    pub first_events: usize,
    pub first_justified: usize,
    pub first_coverage: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReasonCount {
    pub reason: String,
    pub events: usize,
    pub users: usize,
    pub clients: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleCount {
    pub rule: String,
    pub article: String,
    pub events: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthCount {
    pub month: String,
    pub justified: usize,
    pub unjustified: usize,
    pub emergency: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SignalCount {
    pub signal: String,
    pub events: usize,
    pub users: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditSummary {
    pub totals: Coverage,
    pub teams: Vec<Coverage>,
    pub reasons: Vec<ReasonCount>,
    pub rules: Vec<RuleCount>,
    pub months: Vec<MonthCount>,
    pub signals: Vec<SignalCount>,
    /// Reads (action R) per local hour 0..23.
    pub reads_by_hour: Vec<usize>,
    /// Reads per weekday, Monday first.
    pub reads_by_weekday: Vec<usize>,
}

/// The weight `n` of the rows where `cond` holds.
fn count_if(name: &str, cond: Expr) -> Expr {
    (cond.cast(DataType::UInt64) * col("n")).sum().alias(name)
}

fn usize_col(df: &DataFrame, name: &str) -> Result<Vec<usize>> {
    let c = df.column(name)?.cast(&DataType::UInt64)?;
    Ok(c.u64()?.iter().map(|v| v.unwrap_or(0) as usize).collect())
}

fn str_col(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

fn coverage_aggs() -> Vec<Expr> {
    let weighted = count_if;
    let first = col("first");
    vec![
        col("n").sum().alias("events"),
        weighted(
            "justified",
            col("verdict").eq(lit(Verdict::Justified.name())),
        ),
        weighted(
            "unjustified",
            col("verdict").eq(lit(Verdict::Unjustified.name())),
        ),
        weighted(
            "emergency",
            col("verdict").eq(lit(Verdict::Emergency.name())),
        ),
        weighted(
            "first_events",
            first
                .clone()
                .and(col("verdict").neq(lit(Verdict::Emergency.name()))),
        ),
        weighted(
            "first_justified",
            first.and(col("verdict").eq(lit(Verdict::Justified.name()))),
        ),
    ]
}

/// Counts of verdict rows, small enough to keep for a whole year and to add up across parts
/// of it (a month at a time): each frame has a count `n` per combination of its columns.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Per team, verdict, rule, local day and first access (`first`).
    pub verdicts: DataFrame,
    /// Per user and signal list.
    pub signals: DataFrame,
    /// Reads (action R) per local hour and weekday.
    pub reads: DataFrame,
    /// The unjustified rows' user, client and reason (for distinct counts).
    pub unjustified: DataFrame,
}

impl Tally {
    /// Counts the rows of a verdict frame.
    pub fn of(verdicts: &DataFrame) -> Result<Tally> {
        let v = verdicts.clone().lazy();
        let count = |lf: LazyFrame, by: Vec<Expr>| -> Result<DataFrame> {
            Ok(lf
                .group_by(by)
                .agg([len().cast(DataType::UInt64).alias("n")])
                .collect()?)
        };
        Ok(Tally {
            verdicts: count(
                v.clone(),
                vec![
                    col("user_team"),
                    col("verdict"),
                    col("rule"),
                    col("local_date"),
                    col("signals")
                        .str()
                        .contains_literal(lit("first_access"))
                        .alias("first"),
                ],
            )?,
            signals: count(v.clone(), vec![col("user_id"), col("signals")])?,
            reads: count(
                v.clone().filter(col("action").eq(lit("R"))),
                vec![col("local_hour"), col("weekday")],
            )?,
            unjustified: v
                .filter(col("verdict").eq(lit(Verdict::Unjustified.name())))
                .select([col("reason"), col("user_id"), col("client_pid")])
                .collect()?,
        })
    }

    /// Adds another part's counts.
    pub fn append(&mut self, other: &Tally) -> Result<()> {
        self.verdicts.vstack_mut(&other.verdicts)?;
        self.signals.vstack_mut(&other.signals)?;
        self.reads.vstack_mut(&other.reads)?;
        self.unjustified.vstack_mut(&other.unjustified)?;
        Ok(())
    }
}

fn coverage_rows(df: &DataFrame, group: &str) -> Result<Vec<Coverage>> {
    let groups = str_col(df, group)?;
    let (e, j, u, m, fe, fj) = (
        usize_col(df, "events")?,
        usize_col(df, "justified")?,
        usize_col(df, "unjustified")?,
        usize_col(df, "emergency")?,
        usize_col(df, "first_events")?,
        usize_col(df, "first_justified")?,
    );
    Ok((0..df.height())
        .map(|i| Coverage {
            group: groups[i].clone(),
            events: e[i],
            justified: j[i],
            unjustified: u[i],
            emergency: m[i],
            coverage: share(j[i], e[i] - m[i]),
            first_events: fe[i],
            first_justified: fj[i],
            first_coverage: share(fj[i], fe[i]),
        })
        .collect())
}

impl AuditSummary {
    /// The figures of a verdict frame.
    pub fn compute(verdicts: &DataFrame, policy: &Policy) -> Result<AuditSummary> {
        Self::from_tally(&Tally::of(verdicts)?, policy)
    }

    /// The figures from the counts of all parts of a run.
    pub fn from_tally(tally: &Tally, policy: &Policy) -> Result<AuditSummary> {
        let v = tally.verdicts.clone().lazy();
        let (totals, teams) = coverage(&v)?;
        let reads = tally.reads.clone().lazy();
        let reads_by_hour = reads_by(&reads, "local_hour", 24)?;
        let mut reads_by_weekday = reads_by(&reads, "weekday", 8)?;
        reads_by_weekday.remove(0); // weekdays are numbered 1 (Monday) to 7
        Ok(AuditSummary {
            totals,
            teams,
            reasons: reason_counts(&tally.unjustified)?,
            rules: rule_counts(&v, policy)?,
            months: month_counts(&v)?,
            signals: signal_counts(&tally.signals)?,
            reads_by_hour,
            reads_by_weekday,
        })
    }
}

/// The coverage of the whole period, and of each team (`-` for accesses by users without a
/// role).
fn coverage(v: &LazyFrame) -> Result<(Coverage, Vec<Coverage>)> {
    let totals_df = v
        .clone()
        .select(coverage_aggs())
        .with_column(lit("all").alias("group"))
        .collect()?;
    let totals = coverage_rows(&totals_df, "group")?
        .into_iter()
        .next()
        .expect("a select of aggregates has one row");

    let teams = v
        .clone()
        .with_column(col("user_team").fill_null(lit("-")).alias("group"))
        .group_by([col("group")])
        .agg(coverage_aggs())
        .sort(["group"], SortMultipleOptions::default())
        .collect()?;
    let teams = coverage_rows(&teams, "group")?;
    Ok((totals, teams))
}

/// The unjustified accesses per reason, with their distinct users and clients, most first.
fn reason_counts(unjustified: &DataFrame) -> Result<Vec<ReasonCount>> {
    let reasons = unjustified
        .clone()
        .lazy()
        .group_by([col("reason")])
        .agg([
            len().alias("events"),
            col("user_id").n_unique().alias("users"),
            col("client_pid").n_unique().alias("clients"),
        ])
        .sort(["reason"], SortMultipleOptions::default())
        .collect()?;
    let (rn, re, ru, rc) = (
        str_col(&reasons, "reason")?,
        usize_col(&reasons, "events")?,
        usize_col(&reasons, "users")?,
        usize_col(&reasons, "clients")?,
    );
    let mut reasons: Vec<ReasonCount> = (0..rn.len())
        .map(|i| ReasonCount {
            reason: rn[i].clone(),
            events: re[i],
            users: ru[i],
            clients: rc[i],
        })
        .collect();
    reasons.sort_by(|a, b| b.events.cmp(&a.events).then(a.reason.cmp(&b.reason)));
    Ok(reasons)
}

/// The justified accesses per rule, in the policy's order.
fn rule_counts(v: &LazyFrame, policy: &Policy) -> Result<Vec<RuleCount>> {
    let rules = v
        .clone()
        .filter(col("verdict").eq(lit(Verdict::Justified.name())))
        .group_by([col("rule")])
        .agg([col("n").sum().alias("events")])
        .collect()?;
    let (rr, rev) = (str_col(&rules, "rule")?, usize_col(&rules, "events")?);
    let rules = policy
        .rules
        .iter()
        .map(|r| RuleCount {
            rule: r.kind.name().to_string(),
            article: r.article.clone(),
            events: rr
                .iter()
                .position(|x| x == r.kind.name())
                .map(|i| rev[i])
                .unwrap_or(0),
        })
        .collect();
    Ok(rules)
}

/// The verdicts per month.
fn month_counts(v: &LazyFrame) -> Result<Vec<MonthCount>> {
    let months = v
        .clone()
        .with_column(col("local_date").dt().to_string("%Y-%m").alias("month"))
        .group_by([col("month")])
        .agg([
            count_if(
                "justified",
                col("verdict").eq(lit(Verdict::Justified.name())),
            ),
            count_if(
                "unjustified",
                col("verdict").eq(lit(Verdict::Unjustified.name())),
            ),
            count_if(
                "emergency",
                col("verdict").eq(lit(Verdict::Emergency.name())),
            ),
        ])
        .sort(["month"], SortMultipleOptions::default())
        .collect()?;
    let (mm, mj, mu, me) = (
        str_col(&months, "month")?,
        usize_col(&months, "justified")?,
        usize_col(&months, "unjustified")?,
        usize_col(&months, "emergency")?,
    );
    let months = (0..mm.len())
        .map(|i| MonthCount {
            month: mm[i].clone(),
            justified: mj[i],
            unjustified: mu[i],
            emergency: me[i],
        })
        .collect();
    Ok(months)
}

/// Each signal's accesses and distinct users.
fn signal_counts(by_signals: &DataFrame) -> Result<Vec<SignalCount>> {
    let mut sig_aggs = Vec::new();
    for s in Signal::names() {
        let has = col("signals").str().contains_literal(lit(s));
        sig_aggs.push(count_if(&format!("{s}_events"), has.clone()));
        sig_aggs.push(
            col("user_id")
                .filter(has)
                .n_unique()
                .alias(format!("{s}_users")),
        );
    }
    let sig = by_signals.clone().lazy().select(sig_aggs).collect()?;
    let mut signals = Vec::new();
    for s in Signal::names() {
        signals.push(SignalCount {
            signal: s.to_string(),
            events: usize_col(&sig, &format!("{s}_events"))?
                .first()
                .copied()
                .unwrap_or(0),
            users: usize_col(&sig, &format!("{s}_users"))?
                .first()
                .copied()
                .unwrap_or(0),
        });
    }
    Ok(signals)
}

/// The reads per value of `key` (an hour or a weekday), for values below `n`.
fn reads_by(reads: &LazyFrame, key: &str, n: usize) -> Result<Vec<usize>> {
    let df = reads
        .clone()
        .group_by([col(key)])
        .agg([col("n").sum()])
        .collect()?;
    let (k, c) = (usize_col(&df, key)?, usize_col(&df, "n")?);
    let mut out = vec![0; n];
    for (k, c) in k.into_iter().zip(c) {
        if let Some(slot) = out.get_mut(k) {
            *slot = c;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six verdict rows; rows 0/3 and 1/4 fall in the same groups, so the halves' counts
    /// must be added, not counted.
    fn rows(range: std::ops::Range<usize>) -> DataFrame {
        let pick = |v: [&'static str; 6]| -> Vec<&'static str> { v[range.clone()].to_vec() };
        let date = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let days = crate::period::days_since_epoch(date);
        let n = range.len();
        df!(
            "user_team" => pick(["A", "A", "B", "A", "A", "B"]),
            "verdict" => pick([Verdict::Justified.name(), Verdict::Unjustified.name(), Verdict::Emergency.name(), Verdict::Justified.name(), Verdict::Unjustified.name(), Verdict::Justified.name()]),
            "rule" => pick(["direct_worker", "", "", "direct_worker", "", "direct_worker"])
                .into_iter()
                .map(|r| (!r.is_empty()).then_some(r))
                .collect::<Vec<_>>(),
            "reason" => pick(["", "no_relation", "", "", "no_relation", ""])
                .into_iter()
                .map(|r| (!r.is_empty()).then_some(r))
                .collect::<Vec<_>>(),
            "local_date" => vec![days; n],
            "signals" => pick(["first_access", "after_hours", "", "first_access", "after_hours", ""]),
            "user_id" => pick(["u1", "u2", "u3", "u1", "u4", "u3"]),
            "client_pid" => pick(["c1", "c2", "c3", "c1", "c2", "c4"]),
            "action" => pick(["R", "R", "U", "R", "R", "R"]),
            "local_hour" => [9, 22, 10, 9, 22, 11][range.clone()].to_vec(),
            "weekday" => vec![1i32; n],
        )
        .unwrap()
        .lazy()
        .with_column(col("local_date").cast(DataType::Date))
        .collect()
        .unwrap()
    }

    #[test]
    fn the_figures_of_parts_add_up_to_those_of_the_whole() {
        let policy = Policy::parse(
            std::path::Path::new("t.toml"),
            crate::policy::tests::MINIMAL,
        )
        .unwrap();
        let whole = AuditSummary::compute(&rows(0..6), &policy).unwrap();
        let mut tally = Tally::of(&rows(0..3)).unwrap();
        tally.append(&Tally::of(&rows(3..6)).unwrap()).unwrap();
        let parts = AuditSummary::from_tally(&tally, &policy).unwrap();
        assert_eq!(parts, whole);
        assert_eq!(whole.totals.events, 6);
        assert_eq!(whole.totals.justified, 3);
        assert_eq!(whole.totals.first_events, 2);
        let a = &whole.teams[0];
        assert_eq!((a.group.as_str(), a.events, a.unjustified), ("A", 4, 2));
        assert_eq!(whole.reasons.len(), 1);
        let r = &whole.reasons[0];
        assert_eq!((r.events, r.users, r.clients), (2, 2, 1));
        assert_eq!(whole.rules[0].events, 3);
        assert_eq!(whole.reads_by_hour[9], 2);
        assert_eq!(whole.reads_by_hour[22], 2);
        let after = whole
            .signals
            .iter()
            .find(|s| s.signal == "after_hours")
            .unwrap();
        assert_eq!((after.events, after.users), (2, 2));
    }
}
