//! The findings: the verdict rows that need a person's review, with the employees' display
//! names, compacted part by part as the audit runs.

use crate::audit::part_counts::PartCounts;
use crate::audit::summary::Tally;
use crate::engine;
use crate::engine::vocab::Verdict;
use crate::error::Result;
use crate::policy::Policy;
use polars::prelude::*;

/// What a run keeps of each part's verdicts: the rows for review, and counts.
#[derive(Default)]
pub(crate) struct Kept {
    pub(crate) tally: Option<Tally>,
    pub(crate) review: Vec<DataFrame>,
    /// Verdict rows per user, team and role (`outliers::roles`).
    pub(crate) roles: Vec<DataFrame>,
    /// Accesses per user and day (`outliers::daily_activity`).
    pub(crate) daily: Vec<DataFrame>,
}

impl Kept {
    pub(crate) fn add(&mut self, chunk: &DataFrame, labels: &engine::CodeLabels) -> Result<()> {
        let counts = PartCounts::of(chunk, labels)?;
        let mut t = counts.tally;
        for f in [
            &mut t.verdicts,
            &mut t.signals,
            &mut t.reads,
            &mut t.unjustified,
        ] {
            *f = compact(f)?;
        }
        match &mut self.tally {
            Some(all) => all.append(&t)?,
            None => self.tally = Some(t),
        }
        self.review.push(compact(&counts.review)?);
        self.roles.push(compact(&counts.roles)?);
        self.daily.push(compact(&counts.daily)?);
        Ok(())
    }
}

/// The frames one under the other.
pub(crate) fn stack(parts: Vec<DataFrame>) -> Result<DataFrame> {
    let mut it = parts.into_iter();
    let mut all = it.next().unwrap_or_default();
    for p in it {
        all.vstack_mut(&p)?;
    }
    Ok(all)
}

/// A copy of a (small) frame whose text owns its bytes. Polars' text columns point into shared
/// buffers, so a few rows kept from a part would otherwise keep all of the part's text alive.
pub(crate) fn compact(df: &DataFrame) -> Result<DataFrame> {
    let mut out = df.clone();
    for name in df.get_column_names_owned() {
        let c = df.column(&name)?;
        if c.dtype() == &DataType::String {
            let copied = StringChunked::from_iter_options(name.clone(), c.str()?.iter());
            out.replace(&name, copied.into_series().into())?;
        }
    }
    Ok(out)
}

/// user id → display name (the latest role period's name).
pub fn display_names(staff: &DataFrame) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    let sorted = staff.sort(["user_id", "valid_from"], SortMultipleOptions::default())?;
    let ids = sorted.column("user_id")?.str()?.clone();
    let names = sorted.column("display_name")?.str()?.clone();
    for (id, name) in ids.iter().zip(names.iter()) {
        if let (Some(id), Some(name)) = (id, name) {
            out.insert(id.to_string(), name.to_string());
        }
    }
    Ok(out)
}

/// Events for review: unjustified, emergency, or with a review signal (`engine::needs_review`).
pub fn findings(
    verdicts: &DataFrame,
    names: &std::collections::BTreeMap<String, String>,
    policy: &Policy,
) -> Result<DataFrame> {
    let tz = policy.polars_zone();
    let priority = when(col("verdict").eq(lit(Verdict::Unjustified.name())))
        .then(lit(1))
        .when(col("verdict").eq(lit(Verdict::Emergency.name())))
        .then(lit(2))
        .otherwise(lit(3));
    let ids: Vec<String> = names.keys().cloned().collect();
    let vals: Vec<String> = names.values().cloned().collect();
    let name_df = df!("user_id" => ids, "display_name" => vals)?;
    let df = verdicts
        .clone()
        .lazy()
        .filter(crate::engine::vocab::needs_review())
        .join(
            name_df.lazy(),
            [col("user_id")],
            [col("user_id")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            priority.alias("priority"),
            col("event_id"),
            col("source"),
            col("event_time")
                .dt()
                .convert_time_zone(tz)
                .dt()
                .to_string("%Y-%m-%dT%H:%M:%S%:z")
                .alias("local_time"),
            col("user_id"),
            col("display_name"),
            col("user_team"),
            col("user_role"),
            col("client_pid"),
            col("dossier_team"),
            col("action"),
            col("section"),
            col("verdict"),
            col("rule"),
            col("article"),
            col("reason"),
            col("also_explained_by"),
            col("signals"),
            col("emergency_reason_given"),
        ])
        .sort_by_exprs(
            [
                col("priority"),
                col("local_time"),
                col("source"),
                col("event_id"),
            ],
            SortMultipleOptions::default(),
        )
        .collect()?;
    Ok(df)
}
