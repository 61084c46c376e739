//! The emergency-login list: every break-the-glass access of the period, whose dossier, whether
//! a reason was given, whether an assignment followed, and how often the same user did it.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use serde::Serialize;

use crate::audit::verdict_row::VerdictRow;
use crate::csv_output::CsvRow;
use crate::engine::input::AuditTables;
use crate::engine::vocab::Verdict;
use crate::error::Result;
use crate::period::days_since_epoch;
use crate::policy::Policy;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct EmergencyLogin {
    pub event_id: String,
    pub local_time: String,
    pub user_id: String,
    pub user_team: String,
    pub client_pid: String,
    pub dossier_team: String,
    pub section: String,
    pub reason_given: bool,
    /// Explanations that would have held without the emergency login.
    pub also_explained_by: String,
    /// An assignment of the user to a case of the client started within the follow-up days.
    pub assignment_followed: bool,
    /// Other emergency logins by the same user in the period.
    pub further_by_user: usize,
}

impl EmergencyLogin {
    pub fn list(
        verdicts: &DataFrame,
        tables: &AuditTables,
        policy: &Policy,
    ) -> Result<Vec<EmergencyLogin>> {
        let rows = VerdictRow::read_all(
            &verdicts
                .clone()
                .lazy()
                .filter(col("verdict").eq(lit(Verdict::Emergency.name())))
                .collect()?,
        )?;
        // (user, client) -> first days of their assignments, for the clients of these rows only
        // (a national store holds millions of assignments).
        let wanted = DataFrame::new_infer_height(vec![Column::new(
            "client_pid".into(),
            rows.iter()
                .map(|r| r.client_pid.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
        )])?;
        let cases = tables
            .cases
            .clone()
            .lazy()
            .select([col("case_id"), col("client_pid")])
            .join(
                wanted.lazy(),
                [col("client_pid")],
                [col("client_pid")],
                JoinArgs::new(JoinType::Inner),
            );
        let a = tables
            .assignments
            .clone()
            .lazy()
            .join(
                cases,
                [col("case_id")],
                [col("case_id")],
                JoinArgs::new(JoinType::Inner),
            )
            .select([
                col("user_id"),
                col("client_pid"),
                col("valid_from").cast(DataType::Int32),
            ])
            .collect()?;
        let mut starts: HashMap<(String, String), Vec<i32>> = HashMap::new();
        let (u, c, f) = (
            a.column("user_id")?.str()?,
            a.column("client_pid")?.str()?,
            a.column("valid_from")?.i32()?,
        );
        for i in 0..a.height() {
            if let (Some(u), Some(c), Some(f)) = (u.get(i), c.get(i), f.get(i)) {
                starts.entry((u.into(), c.into())).or_default().push(f);
            }
        }
        let mut per_user: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &rows {
            *per_user.entry(r.user_id.as_str()).or_default() += 1;
        }
        let tz = policy.time_zone;
        Ok(rows
            .iter()
            .map(|r| {
                let d = days_since_epoch(r.local_date);
                let followed = starts
                    .get(&(r.user_id.clone(), r.client_pid.clone()))
                    .is_some_and(|s| {
                        s.iter()
                            .any(|&f| f >= d && f <= d + policy.emergency.follow_up_days)
                    });
                EmergencyLogin {
                    event_id: r.event_id.clone(),
                    local_time: r
                        .event_time
                        .with_timezone(&tz)
                        .format("%Y-%m-%dT%H:%M:%S%:z")
                        .to_string(),
                    user_id: r.user_id.clone(),
                    user_team: r.user_team.clone().unwrap_or_default(),
                    client_pid: r.client_pid.clone(),
                    dossier_team: r.dossier_team.clone().unwrap_or_default(),
                    section: r.section.clone(),
                    reason_given: r.emergency_reason_given,
                    also_explained_by: r.also_explained_by.clone().unwrap_or_default(),
                    assignment_followed: followed,
                    further_by_user: per_user.get(r.user_id.as_str()).copied().unwrap_or(1) - 1,
                }
            })
            .collect())
    }
}

impl CsvRow for EmergencyLogin {
    const COLUMNS: &'static [&'static str] = &[
        "event_id",
        "local_time",
        "user_id",
        "user_team",
        "client_pid",
        "dossier_team",
        "section",
        "reason_given",
        "also_explained_by",
        "assignment_followed",
        "further_by_user",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_columns_are_the_serialised_fields() {
        use crate::csv_output::{serde_header, CsvRow};
        assert_eq!(
            serde_header(&EmergencyLogin::default()),
            EmergencyLogin::COLUMNS
        );
    }
}
