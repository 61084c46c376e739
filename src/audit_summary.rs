//! The audit's figures: totals, explanation coverage per team (all and first accesses),
//! unjustified accesses by reason, explanations used, verdicts per month, reads by hour and
//! weekday, signals. Computed from the verdict table by polars aggregations.

use polars::prelude::*;
use serde::Serialize;

use crate::engine::{EMERGENCY, JUSTIFIED, SIGNALS, UNJUSTIFIED};
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

fn count_if(name: &str, cond: Expr) -> Expr {
    cond.cast(DataType::UInt32).sum().alias(name)
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
    let first = col("signals").str().contains_literal(lit("first_access"));
    vec![
        len().alias("events"),
        count_if("justified", col("verdict").eq(lit(JUSTIFIED))),
        count_if("unjustified", col("verdict").eq(lit(UNJUSTIFIED))),
        count_if("emergency", col("verdict").eq(lit(EMERGENCY))),
        count_if(
            "first_events",
            first.clone().and(col("verdict").neq(lit(EMERGENCY))),
        ),
        count_if(
            "first_justified",
            first.and(col("verdict").eq(lit(JUSTIFIED))),
        ),
    ]
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
    pub fn compute(verdicts: &DataFrame, policy: &Policy) -> Result<AuditSummary> {
        let v = verdicts.clone().lazy();
        let totals_df = v
            .clone()
            .select(coverage_aggs())
            .with_column(lit("all").alias("group"))
            .collect()?;
        let totals = coverage_rows(&totals_df, "group")?
            .into_iter()
            .next()
            .unwrap_or_default();

        let teams = v
            .clone()
            .with_column(col("user_team").fill_null(lit("-")).alias("group"))
            .group_by([col("group")])
            .agg(coverage_aggs())
            .sort(["group"], SortMultipleOptions::default())
            .collect()?;
        let teams = coverage_rows(&teams, "group")?;

        let reasons = v
            .clone()
            .filter(col("verdict").eq(lit(UNJUSTIFIED)))
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

        let rules = v
            .clone()
            .filter(col("verdict").eq(lit(JUSTIFIED)))
            .group_by([col("rule")])
            .agg([len().alias("events")])
            .collect()?;
        let (rr, rev) = (str_col(&rules, "rule")?, usize_col(&rules, "events")?);
        // In policy order.
        let rules = policy
            .rules
            .iter()
            .map(|r| RuleCount {
                rule: r.id.clone(),
                article: r.article.clone(),
                events: rr
                    .iter()
                    .position(|x| x == &r.id)
                    .map(|i| rev[i])
                    .unwrap_or(0),
            })
            .collect();

        let months = v
            .clone()
            .with_column(col("local_date").dt().to_string("%Y-%m").alias("month"))
            .group_by([col("month")])
            .agg([
                count_if("justified", col("verdict").eq(lit(JUSTIFIED))),
                count_if("unjustified", col("verdict").eq(lit(UNJUSTIFIED))),
                count_if("emergency", col("verdict").eq(lit(EMERGENCY))),
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

        let mut sig_aggs = Vec::new();
        for s in SIGNALS {
            let has = col("signals").str().contains_literal(lit(s));
            sig_aggs.push(count_if(&format!("{s}_events"), has.clone()));
            sig_aggs.push(
                col("user_id")
                    .filter(has)
                    .n_unique()
                    .alias(format!("{s}_users")),
            );
        }
        let sig = v.clone().select(sig_aggs).collect()?;
        let mut signals = Vec::new();
        for s in SIGNALS {
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

        let reads = v.filter(col("action").eq(lit("R")));
        let by = |key: &str, n: usize| -> Result<Vec<usize>> {
            let df = reads
                .clone()
                .group_by([col(key)])
                .agg([len().alias("n")])
                .collect()?;
            let (k, c) = (usize_col(&df, key)?, usize_col(&df, "n")?);
            let mut out = vec![0; n];
            for (k, c) in k.into_iter().zip(c) {
                if let Some(slot) = out.get_mut(k) {
                    *slot = c;
                }
            }
            Ok(out)
        };
        let reads_by_hour = by("local_hour", 24)?;
        let mut reads_by_weekday = by("weekday", 8)?;
        reads_by_weekday.remove(0); // weekdays are numbered 1 (Monday) to 7

        Ok(AuditSummary {
            totals,
            teams,
            reasons,
            rules,
            months,
            signals,
            reads_by_hour,
            reads_by_weekday,
        })
    }
}
