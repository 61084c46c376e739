//! One verdict as a plain Rust value, for the review lists and for tests. The verdict table
//! itself stays a polars frame; only the (few) rows a person reads are turned into these.

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::period::date_from_days;

/// A text every verdict row has (the engine refuses events without it).
fn required(value: &Option<String>, name: &str) -> String {
    value
        .clone()
        .unwrap_or_else(|| panic!("a verdict row without '{name}'"))
}

/// One verdict row, its text columns as the verdicts file writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictRow {
    pub event_id: String,
    pub source: String,
    pub event_time: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub local_hour: i32,
    pub user_id: String,
    pub user_team: Option<String>,
    pub user_role: Option<String>,
    pub client_pid: String,
    pub dossier_team: Option<String>,
    pub action: String,
    pub section: String,
    pub emergency: bool,
    pub emergency_reason_given: bool,
    pub verdict: String,
    pub rule: Option<String>,
    pub article: Option<String>,
    pub reason: Option<String>,
    pub also_explained_by: Option<String>,
    pub signals: Vec<String>,
}

impl VerdictRow {
    pub fn has_signal(&self, s: &str) -> bool {
        self.signals.iter().any(|x| x == s)
    }

    /// Reads every row of a verdict frame (as `engine::verdicts` makes it).
    pub fn read_all(df: &DataFrame) -> Result<Vec<VerdictRow>> {
        let s = |name: &str| -> Result<Vec<Option<String>>> {
            let c = df.column(name)?.cast(&DataType::String)?;
            Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
        };
        let b = |name: &str| -> Result<Vec<bool>> {
            Ok(df
                .column(name)?
                .bool()?
                .iter()
                .map(|v| v.unwrap_or_else(|| panic!("a verdict row without '{name}'")))
                .collect())
        };
        // The engine gives every verdict row its time, day and hour.
        let i = |name: &str| -> Result<Vec<i64>> {
            let c = df.column(name)?.cast(&DataType::Int64)?;
            Ok(c.i64()?
                .iter()
                .map(|v| v.unwrap_or_else(|| panic!("a verdict row without '{name}'")))
                .collect())
        };
        let time = i("event_time")?; // microseconds, UTC
        let date = i("local_date")?;
        let hour = i("local_hour")?;
        let (id, source, user, team, role, client, dteam, action, section) = (
            s("event_id")?,
            s("source")?,
            s("user_id")?,
            s("user_team")?,
            s("user_role")?,
            s("client_pid")?,
            s("dossier_team")?,
            s("action")?,
            s("section")?,
        );
        let (verdict, rule, article, reason, also, signals) = (
            s("verdict")?,
            s("rule")?,
            s("article")?,
            s("reason")?,
            s("also_explained_by")?,
            s("signals")?,
        );
        let (emergency, given) = (b("emergency")?, b("emergency_reason_given")?);
        let mut out = Vec::with_capacity(df.height());
        for r in 0..df.height() {
            let t = DateTime::<Utc>::from_timestamp_micros(time[r])
                .ok_or_else(|| Error::Invalid(format!("event time {} is out of range", time[r])))?;
            out.push(VerdictRow {
                event_id: required(&id[r], "event_id"),
                source: required(&source[r], "source"),
                event_time: t,
                local_date: date_from_days(date[r] as i32),
                local_hour: hour[r] as i32,
                user_id: required(&user[r], "user_id"),
                user_team: team[r].clone(),
                user_role: role[r].clone(),
                client_pid: required(&client[r], "client_pid"),
                dossier_team: dteam[r].clone(),
                action: required(&action[r], "action"),
                section: required(&section[r], "section"),
                emergency: emergency[r],
                emergency_reason_given: given[r],
                verdict: required(&verdict[r], "verdict"),
                rule: rule[r].clone(),
                article: article[r].clone(),
                reason: reason[r].clone(),
                also_explained_by: also[r].clone().filter(|a| !a.is_empty()),
                signals: signals[r]
                    .as_deref()
                    .unwrap_or("")
                    .split(';')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect(),
            });
        }
        Ok(out)
    }
}
