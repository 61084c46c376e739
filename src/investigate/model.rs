//! What an investigation shows: the subject and search, each event as a line in local time,
//! the day-by-day timeline and an employee's usual pattern.

use crate::audit::outliers::{daily_activity, median};
use crate::audit::verdict_row::VerdictRow;
use crate::csv_output::CsvRow;
use crate::engine::input::AuditTables;
use crate::engine::vocab::Verdict;
use crate::error::Result;
use crate::period::DayRange;
use crate::policy::Policy;
use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Conditions of a search; each one given must hold. Also the `investigate search` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, clap::Args)]
#[group(id = "search_conditions")]
pub struct Search {
    /// justified, unjustified or emergency.
    #[arg(long)]
    pub verdict: Option<String>,
    /// One of the signals, e.g. restricted_client.
    #[arg(long)]
    pub signal: Option<String>,
    /// One of the reasons of an unjustified access, e.g. other_team.
    #[arg(long)]
    pub reason: Option<String>,
    /// The explanation (rule id), e.g. team_coach.
    #[arg(long)]
    pub rule: Option<String>,
    /// The employee's team or the dossier's team.
    #[arg(long)]
    pub team: Option<String>,
    /// The dossier section, e.g. medical.
    #[arg(long)]
    pub section: Option<String>,
}

/// What is investigated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    /// A client, by pseudonym (the command turns a BSN or client number into it with the key).
    Client(String),
    Day(NaiveDate),
    Search(Search),
    /// The resident's own overview (subject access), by pseudonym.
    Resident {
        client_pid: String,
        with_names: bool,
    },
}

/// One event as the investigation files show it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct EventLine {
    pub event_id: String,
    pub local_time: String,
    pub user_id: String,
    pub display_name: String,
    pub user_team: String,
    pub user_role: String,
    pub client_pid: String,
    pub dossier_team: String,
    pub action: String,
    pub section: String,
    pub verdict: String,
    pub rule: String,
    pub article: String,
    pub reason: String,
    pub signals: String,
    pub emergency_reason_given: bool,
}

impl CsvRow for EventLine {
    const COLUMNS: &'static [&'static str] = &[
        "event_id",
        "local_time",
        "user_id",
        "display_name",
        "user_team",
        "user_role",
        "client_pid",
        "dossier_team",
        "action",
        "section",
        "verdict",
        "rule",
        "article",
        "reason",
        "signals",
        "emergency_reason_given",
    ];
}

/// An employee's usual volume beside the investigated window.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct UserPattern {
    pub team: String,
    pub role: String,
    pub window_accesses: usize,
    pub window_days: usize,
    pub window_per_day: f64,
    pub window_clients: usize,
    pub window_clients_per_day: f64,
    /// Active days before the window, and the median accesses and clients on them.
    pub history_days: usize,
    pub history_median_per_day: Option<f64>,
    pub history_median_clients_per_day: Option<f64>,
    /// Others with the same role in the same team during the window.
    pub peers: usize,
    pub peer_median_per_day: Option<f64>,
}

/// Per-day counts per verdict, for the timeline.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DayCount {
    pub day: String,
    pub justified: usize,
    pub unjustified: usize,
    pub emergency: usize,
}

impl EventLine {
    pub(crate) fn new(
        r: &VerdictRow,
        names: &BTreeMap<String, String>,
        zone: chrono_tz::Tz,
    ) -> EventLine {
        EventLine {
            event_id: r.event_id.clone(),
            local_time: r
                .event_time
                .with_timezone(&zone)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            user_id: r.user_id.clone(),
            display_name: names.get(&r.user_id).cloned().unwrap_or_default(),
            user_team: r.user_team.clone().unwrap_or_default(),
            user_role: r.user_role.clone().unwrap_or_default(),
            client_pid: r.client_pid.clone(),
            dossier_team: r.dossier_team.clone().unwrap_or_default(),
            action: r.action.clone(),
            section: r.section.clone(),
            verdict: r.verdict.clone(),
            rule: r.rule.clone().unwrap_or_default(),
            article: r.article.clone().unwrap_or_default(),
            reason: r.reason.clone().unwrap_or_default(),
            signals: r.signals.join(";"),
            emergency_reason_given: r.emergency_reason_given,
        }
    }
}

/// Per-day verdict counts of `lines`, every day from the first to the last.
pub fn timeline(lines: &[EventLine]) -> Vec<DayCount> {
    let mut by_day: BTreeMap<&str, DayCount> = BTreeMap::new();
    for l in lines {
        let day = l.local_time.get(..10).unwrap_or("");
        let e = by_day.entry(day).or_insert_with(|| DayCount {
            day: day.to_string(),
            ..DayCount::default()
        });
        match Verdict::parse(&l.verdict) {
            Some(Verdict::Justified) => e.justified += 1,
            Some(Verdict::Unjustified) => e.unjustified += 1,
            _ => e.emergency += 1,
        }
    }
    let (Some(first), Some(last)) = (by_day.keys().next(), by_day.keys().last()) else {
        return Vec::new();
    };
    let parse = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
    let (Some(mut d), Some(end)) = (parse(first), parse(last)) else {
        return by_day.into_values().collect();
    };
    let mut out = Vec::new();
    while d <= end {
        let key = d.to_string();
        out.push(by_day.get(key.as_str()).cloned().unwrap_or(DayCount {
            day: key,
            ..DayCount::default()
        }));
        d = d.succ_opt().unwrap_or(end + chrono::Duration::days(1));
    }
    out
}

/// The user's pattern: own history before the window, and peers in the window.
pub(crate) fn user_pattern(
    tables: &AuditTables,
    policy: &Policy,
    user: &str,
    range: DayRange,
    lines: &[EventLine],
) -> Result<UserPattern> {
    let (first, last) = range.epoch_days();
    let daily = daily_activity(tables, policy, None, last)?;
    let u = daily.column("user_id")?.str()?.clone();
    let d = daily.column("d")?.i32()?.clone();
    let n = daily.column("n")?.cast(&DataType::Float64)?;
    let c = daily.column("clients")?.cast(&DataType::Float64)?;
    let (n, c) = (n.f64()?, c.f64()?);
    // Team and role: the ones the user held most in the window's events.
    let mut held: BTreeMap<(String, String), usize> = BTreeMap::new();
    for l in lines {
        *held
            .entry((l.user_team.clone(), l.user_role.clone()))
            .or_default() += 1;
    }
    let (team, role) = held
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    // Peers: other users with that role in that team at some time in the window.
    let staff = &tables.staff;
    let (su, sr, st) = (
        staff.column("user_id")?.str()?,
        staff.column("role")?.str()?,
        staff.column("team_id")?.str()?,
    );
    let (sf, sto) = (
        staff.column("valid_from")?.cast(&DataType::Int32)?,
        staff.column("valid_to")?.cast(&DataType::Int32)?,
    );
    let (sf, sto) = (sf.i32()?, sto.i32()?);
    let mut peers: BTreeSet<&str> = BTreeSet::new();
    for i in 0..staff.height() {
        let overlaps =
            sf.get(i).is_some_and(|f| f <= last) && sto.get(i).is_none_or(|t| t >= first);
        if overlaps && sr.get(i) == Some(role.as_str()) && st.get(i) == Some(team.as_str()) {
            if let Some(p) = su.get(i).filter(|p| *p != user) {
                peers.insert(p);
            }
        }
    }
    let (mut hist_n, mut hist_c) = (Vec::new(), Vec::new());
    let mut peer_totals: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for i in 0..daily.height() {
        let (Some(uid), Some(day), Some(count), Some(clients)) =
            (u.get(i), d.get(i), n.get(i), c.get(i))
        else {
            continue;
        };
        if uid == user && day < first {
            hist_n.push(count);
            hist_c.push(clients);
        } else if day >= first && peers.contains(uid) {
            let e = peer_totals.entry(uid).or_default();
            e.0 += count;
            e.1 += 1;
        }
    }
    let mut peer_rates: Vec<f64> = peer_totals
        .values()
        .map(|(total, days)| total / *days as f64)
        .collect();
    let window_days: BTreeSet<&str> = lines
        .iter()
        .map(|l| l.local_time.get(..10).unwrap_or(""))
        .collect();
    let clients: BTreeSet<&str> = lines.iter().map(|l| l.client_pid.as_str()).collect();
    let mut client_days: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for l in lines {
        client_days
            .entry(l.local_time.get(..10).unwrap_or(""))
            .or_default()
            .insert(l.client_pid.as_str());
    }
    let days = window_days.len().max(1) as f64;
    let round = |x: f64| (x * 100.0).round() / 100.0;
    Ok(UserPattern {
        team,
        role,
        window_accesses: lines.len(),
        window_days: window_days.len(),
        window_per_day: round(lines.len() as f64 / days),
        window_clients: clients.len(),
        window_clients_per_day: round(
            client_days.values().map(|s| s.len()).sum::<usize>() as f64 / days,
        ),
        history_days: hist_n.len(),
        history_median_per_day: median(&mut hist_n),
        history_median_clients_per_day: median(&mut hist_c),
        peers: peer_rates.len(),
        peer_median_per_day: median(&mut peer_rates).map(round),
    })
}

pub(crate) fn matches_search(r: &VerdictRow, s: &Search) -> bool {
    let eq =
        |want: &Option<String>, got: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == got);
    eq(&s.verdict, Some(r.verdict.as_str()))
        && eq(&s.reason, r.reason.as_deref())
        && eq(&s.rule, r.rule.as_deref())
        && eq(&s.section, Some(r.section.as_str()))
        && s.team.as_deref().is_none_or(|t| {
            r.user_team.as_deref() == Some(t) || r.dossier_team.as_deref() == Some(t)
        })
        && s.signal.as_deref().is_none_or(|x| r.has_signal(x))
}

/// The whole calendar, for investigations without `--from`/`--to`.
pub fn all_days() -> DayRange {
    DayRange {
        first: NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default(),
        last: NaiveDate::from_ymd_opt(2999, 12, 31).unwrap_or_default(),
    }
}
