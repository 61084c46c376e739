//! Findings grouped into one review case per employee, ranked so that serial behaviour (many
//! clients, many days) comes before a single slip, each with a short narrative.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;
use serde::Serialize;

use crate::audit::verdict_row::VerdictRow;
use crate::csv_output::CsvRow;
use crate::engine::vocab::Verdict;
use crate::error::Result;
use crate::i18n::{text, Lang};

/// Signals that point at a personal interest in the client.
const PERSONAL: [&str; 4] = [
    "self_access",
    "same_surname",
    "same_address",
    "restricted_client",
];

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ReviewCase {
    pub rank: usize,
    pub score: u64,
    pub user_id: String,
    pub display_name: String,
    pub user_team: String,
    pub user_role: String,
    pub unjustified: usize,
    pub unjustified_clients: usize,
    pub unjustified_days: usize,
    pub emergency: usize,
    pub emergency_without_reason: usize,
    pub personal_signals: usize,
    pub other_signals: usize,
    pub first_day: String,
    pub last_day: String,
    pub reasons: String,
    pub signals: String,
    pub narrative: String,
}

fn tally(map: &BTreeMap<String, usize>) -> String {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| format!("{k} x{n}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ReviewCase {
    /// Groups the findings of a verdict frame per user.
    pub fn group(
        verdicts: &DataFrame,
        names: &BTreeMap<String, String>,
        lang: Lang,
    ) -> Result<Vec<ReviewCase>> {
        let review = verdicts
            .clone()
            .lazy()
            .filter(crate::engine::vocab::needs_review())
            .collect()?;
        let rows = VerdictRow::read_all(&review)?;
        let mut by_user: BTreeMap<&str, Vec<&VerdictRow>> = BTreeMap::new();
        for r in &rows {
            by_user.entry(r.user_id.as_str()).or_default().push(r);
        }
        let mut cases: Vec<ReviewCase> = by_user
            .into_iter()
            .map(|(user, rows)| Self::one(user, &rows, names, lang))
            .collect();
        cases.sort_by(|a, b| b.score.cmp(&a.score).then(a.user_id.cmp(&b.user_id)));
        for (i, c) in cases.iter_mut().enumerate() {
            c.rank = i + 1;
        }
        Ok(cases)
    }

    fn one(
        user: &str,
        rows: &[&VerdictRow],
        names: &BTreeMap<String, String>,
        lang: Lang,
    ) -> ReviewCase {
        let unj: Vec<_> = rows
            .iter()
            .filter(|r| r.verdict == Verdict::Unjustified.name())
            .collect();
        let emg: Vec<_> = rows
            .iter()
            .filter(|r| r.verdict == Verdict::Emergency.name())
            .collect();
        let clients: BTreeSet<_> = unj.iter().map(|r| r.client_pid.as_str()).collect();
        let days: BTreeSet<_> = unj.iter().map(|r| r.local_date).collect();
        let no_reason = emg.iter().filter(|r| !r.emergency_reason_given).count();
        let mut reasons = BTreeMap::new();
        for r in &unj {
            *reasons
                .entry(r.reason.clone().unwrap_or_default())
                .or_insert(0) += 1;
        }
        let mut signals = BTreeMap::new();
        let (mut personal, mut other) = (0, 0);
        for r in rows {
            let mut p = false;
            let mut o = false;
            for s in r.signals.iter().filter(|s| *s != "first_access") {
                *signals.entry(s.clone()).or_insert(0) += 1;
                if PERSONAL.contains(&s.as_str()) {
                    p = true;
                } else {
                    o = true;
                }
            }
            personal += usize::from(p);
            other += usize::from(o && !p);
        }
        let score = 10 * clients.len() as u64
            + 5 * days.len() as u64
            + 2 * unj.len() as u64
            + 8 * personal as u64
            + 4 * no_reason as u64
            + 2 * emg.len() as u64
            + other as u64;
        let first = rows.iter().map(|r| r.local_date).min();
        let last = rows.iter().map(|r| r.local_date).max();
        let latest = rows.iter().max_by_key(|r| r.event_time);
        let mut parts = Vec::new();
        if !unj.is_empty() {
            parts.push(
                text(lang, "narr_unjustified")
                    .replace("{n}", &unj.len().to_string())
                    .replace("{clients}", &clients.len().to_string())
                    .replace("{days}", &days.len().to_string())
                    .replace("{reasons}", &tally(&reasons)),
            );
            if clients.len() >= 3 || days.len() >= 3 {
                parts.push(text(lang, "narr_serial").to_string());
            }
        }
        if !emg.is_empty() {
            parts.push(
                text(lang, "narr_emergency")
                    .replace("{n}", &emg.len().to_string())
                    .replace("{without}", &no_reason.to_string()),
            );
        }
        if !signals.is_empty() {
            parts.push(text(lang, "narr_signals").replace("{signals}", &tally(&signals)));
        }
        ReviewCase {
            rank: 0,
            score,
            user_id: user.to_string(),
            display_name: names.get(user).cloned().unwrap_or_default(),
            user_team: latest
                .and_then(|r| r.user_team.clone())
                .unwrap_or_else(|| "-".into()),
            user_role: latest
                .and_then(|r| r.user_role.clone())
                .unwrap_or_else(|| "-".into()),
            unjustified: unj.len(),
            unjustified_clients: clients.len(),
            unjustified_days: days.len(),
            emergency: emg.len(),
            emergency_without_reason: no_reason,
            personal_signals: personal,
            other_signals: other,
            first_day: first.map(|d| d.to_string()).unwrap_or_default(),
            last_day: last.map(|d| d.to_string()).unwrap_or_default(),
            reasons: tally(&reasons),
            signals: tally(&signals),
            narrative: parts.join(" "),
        }
    }
}

impl CsvRow for ReviewCase {
    const COLUMNS: &'static [&'static str] = &[
        "rank",
        "score",
        "user_id",
        "display_name",
        "user_team",
        "user_role",
        "unjustified",
        "unjustified_clients",
        "unjustified_days",
        "emergency",
        "emergency_without_reason",
        "personal_signals",
        "other_signals",
        "first_day",
        "last_day",
        "reasons",
        "signals",
        "narrative",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_columns_are_the_serialised_fields() {
        use crate::csv_output::{serde_header, CsvRow};
        assert_eq!(serde_header(&ReviewCase::default()), ReviewCase::COLUMNS);
    }
}
