//! Volume outliers per user and period, with robust statistics (median and MAD, the modified
//! z-score of Iglewicz and Hoaglin): the user's busiest day against their own daily history, and
//! their accesses per active day against peers holding the same role in the same team.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::csv_output::CsvRow;
use crate::engine::input::AuditTables;
use crate::error::Result;
use crate::period::date_from_days;
use crate::period::DayRange;
use crate::policy::Policy;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct VolumeOutlier {
    pub user_id: String,
    pub user_team: String,
    pub user_role: String,
    pub accesses: usize,
    pub active_days: usize,
    pub per_day: f64,
    pub peak_day: String,
    pub peak_accesses: usize,
    /// Median accesses on the user's active days up to the period's end.
    pub own_median: Option<f64>,
    /// Modified z of the peak day against all the user's active days up to the period's end.
    pub own_z: Option<f64>,
    pub peers: usize,
    pub peer_median_per_day: Option<f64>,
    /// Modified z of `per_day` against the peers' `per_day`.
    pub peer_z: Option<f64>,
    pub flagged: bool,
}

pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The modified z-score of `x` in `sample`: 0.6745 (x - median) / MAD. A MAD of zero (more
/// than half the values equal) is replaced by the mean absolute deviation times 1.2533, and by
/// 1 when that is zero too, so a constant history still gives a finite score.
pub fn modified_z(x: f64, sample: &[f64]) -> Option<f64> {
    let mut s = sample.to_vec();
    let med = median(&mut s)?;
    let mut dev: Vec<f64> = sample.iter().map(|v| (v - med).abs()).collect();
    let mad = median(&mut dev)?;
    if mad > 0.0 {
        return Some(0.6745 * (x - med) / mad);
    }
    let mean_ad = dev.iter().sum::<f64>() / dev.len() as f64;
    let scale = if mean_ad > 0.0 { 1.2533 * mean_ad } else { 1.0 };
    Some((x - med) / scale)
}

/// Accesses (`n`) and distinct clients (`clients`) per user and local day (`d`, days since
/// the epoch) of all given events from day `first` (if given) up to day `last`, sorted.
pub fn daily_activity(
    tables: &AuditTables,
    policy: &Policy,
    first: Option<i32>,
    last: i32,
) -> Result<DataFrame> {
    let zone = policy.polars_zone();
    Ok(tables
        .events
        .clone()
        .with_column(
            col("event_time")
                .dt()
                .convert_time_zone(zone)
                .dt()
                .date()
                .cast(DataType::Int32)
                .alias("d"),
        )
        .filter(
            col("d")
                .lt_eq(lit(last))
                .and(col("d").gt_eq(lit(first.unwrap_or(i32::MIN)))),
        )
        .group_by([col("user_id"), col("d")])
        .agg([
            len().alias("n"),
            col("client_pid").n_unique().alias("clients"),
        ])
        .sort(["user_id", "d"], SortMultipleOptions::default())
        .collect()?)
}

/// Accesses (`n`) and distinct clients (`clients`) per user and local day (`d`) of a verdict
/// frame: `daily_activity` of its events, without reading them again.
pub fn daily_from_verdicts(verdicts: &DataFrame) -> Result<DataFrame> {
    Ok(verdicts
        .clone()
        .lazy()
        .group_by([
            col("user_id"),
            col("local_date").cast(DataType::Int32).alias("d"),
        ])
        .agg([
            len().alias("n"),
            col("client_pid").n_unique().alias("clients"),
        ])
        .collect()?)
}

/// Verdict rows (`n`) per user, team and role: what `VolumeOutlier::find` needs of them.
pub fn roles(verdicts: &DataFrame) -> Result<DataFrame> {
    Ok(verdicts
        .clone()
        .lazy()
        .group_by([col("user_id"), col("user_team"), col("user_role")])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .collect()?)
}

impl VolumeOutlier {
    /// Every user active in the period, with their scores; `flagged` where a score passes the
    /// policy's threshold.
    ///
    /// `daily` is the users' `daily_activity` up to the range's last day, one row per user and
    /// day in any order (a user's days are only counted, summed and ranked; sorting the 9
    /// million rows of a 100M audit by user took 3.8 s); `roles` counts verdict rows per user,
    /// team and role (`roles`, for one or more parts of the run).
    pub fn find(
        daily: &DataFrame,
        roles: &DataFrame,
        policy: &Policy,
        range: DayRange,
    ) -> Result<Vec<VolumeOutlier>> {
        let (first, _) = range.epoch_days();
        let (u, d, n) = (
            daily.column("user_id")?.str()?,
            daily.column("d")?.i32()?,
            daily.column("n")?.cast(&DataType::UInt64)?,
        );
        let n = n.u64()?;
        // By user: (day, accesses), the user ids borrowed from `daily`.
        let mut days: PlHashMap<&str, Vec<(i32, usize)>> = PlHashMap::default();
        for ((u, d), n) in u.iter().zip(d.iter()).zip(n.iter()) {
            if let (Some(u), Some(d), Some(n)) = (u, d, n) {
                days.entry(u).or_default().push((d, n as usize));
            }
        }
        // The team and role each user held most in the period (ties: alphabetical).
        let roles = roles
            .clone()
            .lazy()
            .group_by([col("user_id"), col("user_team"), col("user_role")])
            .agg([col("n").sum()])
            .sort_by_exprs(
                [col("user_id"), col("n"), col("user_team"), col("user_role")],
                SortMultipleOptions::default()
                    .with_order_descending_multi([false, true, false, false]),
            )
            .collect()?;
        let mut role_of: BTreeMap<String, (String, String)> = BTreeMap::new();
        let (ru, rt, rr) = (
            roles.column("user_id")?.str()?,
            roles.column("user_team")?.str()?,
            roles.column("user_role")?.str()?,
        );
        for i in 0..roles.height() {
            if let Some(u) = ru.get(i) {
                role_of.entry(u.to_string()).or_insert_with(|| {
                    (
                        rt.get(i).unwrap_or("-").to_string(),
                        rr.get(i).unwrap_or("-").to_string(),
                    )
                });
            }
        }

        let mut out: Vec<VolumeOutlier> = Vec::new();
        for (user, (team, role)) in &role_of {
            let hist: &[(i32, usize)] = days.get(user.as_str()).map_or(&[], Vec::as_slice);
            let in_period: Vec<&(i32, usize)> = hist.iter().filter(|(d, _)| *d >= first).collect();
            let accesses: usize = in_period.iter().map(|(_, n)| n).sum();
            let active = in_period.len();
            let Some(&&(peak_d, peak_n)) = in_period
                .iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            else {
                continue;
            };
            let sample: Vec<f64> = hist.iter().map(|(_, n)| *n as f64).collect();
            let enough = sample.len() >= policy.outliers.min_history;
            let own_z = enough.then(|| modified_z(peak_n as f64, &sample)).flatten();
            let own_median = enough.then(|| median(&mut sample.clone())).flatten();
            out.push(VolumeOutlier {
                user_id: user.clone(),
                user_team: team.clone(),
                user_role: role.clone(),
                accesses,
                active_days: active,
                per_day: accesses as f64 / active.max(1) as f64,
                peak_day: date_from_days(peak_d).to_string(),
                peak_accesses: peak_n,
                own_median,
                own_z,
                peers: 0,
                peer_median_per_day: None,
                peer_z: None,
                flagged: false,
            });
        }
        let groups: BTreeMap<(String, String), Vec<(String, f64)>> =
            out.iter().fold(BTreeMap::new(), |mut m, o| {
                m.entry((o.user_team.clone(), o.user_role.clone()))
                    .or_default()
                    .push((o.user_id.clone(), o.per_day));
                m
            });
        let t = policy.outliers.threshold;
        for o in &mut out {
            let peers: Vec<f64> = groups
                .get(&(o.user_team.clone(), o.user_role.clone()))
                .map(|g| g.iter().filter(|p| p.0 != o.user_id).map(|p| p.1).collect())
                .unwrap_or_default();
            o.peers = peers.len();
            let ratio = policy.outliers.min_ratio;
            if peers.len() >= policy.outliers.min_history {
                o.peer_median_per_day = median(&mut peers.clone());
                o.peer_z = modified_z(o.per_day, &peers);
            }
            let peer_big = o
                .peer_median_per_day
                .is_some_and(|m| o.per_day >= ratio * m);
            let own_big = o
                .own_median
                .is_some_and(|m| o.peak_accesses as f64 >= ratio * m);
            o.flagged = (own_big && o.own_z.is_some_and(|z| z > t))
                || (peer_big && o.peer_z.is_some_and(|z| z > t));
            o.own_z = o.own_z.map(round2);
            o.peer_z = o.peer_z.map(round2);
            o.per_day = round2(o.per_day);
            o.peer_median_per_day = o.peer_median_per_day.map(round2);
        }
        out.sort_by(|a, b| {
            b.flagged
                .cmp(&a.flagged)
                .then(
                    b.own_z
                        .unwrap_or(0.0)
                        .max(b.peer_z.unwrap_or(0.0))
                        .total_cmp(&a.own_z.unwrap_or(0.0).max(a.peer_z.unwrap_or(0.0))),
                )
                .then(a.user_id.cmp(&b.user_id))
        });
        Ok(out)
    }
}

impl CsvRow for VolumeOutlier {
    const COLUMNS: &'static [&'static str] = &[
        "user_id",
        "user_team",
        "user_role",
        "accesses",
        "active_days",
        "per_day",
        "peak_day",
        "peak_accesses",
        "own_median",
        "own_z",
        "peers",
        "peer_median_per_day",
        "peer_z",
        "flagged",
    ];
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_columns_are_the_serialised_fields() {
        use crate::csv_output::{serde_header, CsvRow};
        assert_eq!(
            serde_header(&VolumeOutlier::default()),
            VolumeOutlier::COLUMNS
        );
    }

    #[test]
    fn median_and_modified_z() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
        // median 10, MAD 1: 0.6745 * 10 / 1
        let z = modified_z(20.0, &[9.0, 10.0, 11.0, 10.0, 9.0, 11.0, 10.0]).unwrap();
        assert!((z - 6.745).abs() < 1e-9, "{z}");
        // A constant history still scores a jump, finitely.
        let z = modified_z(15.0, &[10.0; 6]).unwrap();
        assert_eq!(z, 5.0);
    }

    /// A frame of (user, day, accesses) rows.
    fn daily(rows: &[(&str, i32, u32)]) -> DataFrame {
        df!(
            "user_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "d" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "n" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn the_order_of_the_daily_rows_does_not_change_the_outliers() {
        let policy = Policy::parse(
            std::path::Path::new("t.toml"),
            crate::policy::tests::MINIMAL,
        )
        .unwrap();
        let first = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let range = DayRange {
            first,
            last: first + chrono::Days::new(29),
        };
        let d0 = crate::period::days_since_epoch(first);
        // u1 has a quiet history and one busy day (with a tie for its quietest days); u2 and
        // u3 are steady peers of u1; u4 was active before the period only.
        let mut rows = Vec::new();
        for day in 0..10 {
            rows.push(("u1", d0 - 10 + day, 10 + (day as u32 % 2)));
            rows.push(("u2", d0 + day, 12));
            rows.push(("u3", d0 + day, 11 + (day as u32 % 3)));
            rows.push(("u4", d0 - 20 + day, 5));
        }
        rows.push(("u1", d0 + 3, 90));
        rows.push(("u1", d0 + 4, 10));
        let roles = df!(
            "user_id" => ["u1", "u2", "u3", "u4"],
            "user_team" => ["A", "A", "A", "A"],
            "user_role" => ["worker", "worker", "worker", "worker"],
            "n" => [100u64, 120, 120, 50],
        )
        .unwrap();
        let found = |rows: &[(&str, i32, u32)]| {
            VolumeOutlier::find(&daily(rows), &roles, &policy, range).unwrap()
        };
        let sorted = found(&rows);
        let flagged: Vec<&str> = sorted
            .iter()
            .filter(|o| o.flagged)
            .map(|o| o.user_id.as_str())
            .collect();
        assert_eq!(flagged, ["u1"]);
        let u1 = &sorted[0];
        assert_eq!((u1.peak_day.as_str(), u1.peak_accesses), ("2026-03-04", 90));
        assert_eq!((u1.accesses, u1.active_days), (100, 2));
        let mut reversed = rows.clone();
        reversed.reverse();
        let mut interleaved: Vec<_> = rows.iter().step_by(2).copied().collect();
        interleaved.extend(rows.iter().skip(1).step_by(2).copied());
        for other in [reversed, interleaved] {
            assert_eq!(format!("{:?}", found(&other)), format!("{sorted:?}"));
        }
    }
}
