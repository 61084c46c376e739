//! What an audit keeps of each part's verdicts: the rows for review and the counts its report
//! needs, grouped on the verdicts' integer codes (`engine::CODE_COLUMNS`) instead of their text.
//!
//! The frames are those of `Tally::of`, `outliers::roles` and `outliers::daily_from_verdicts` on
//! the verdicts' text columns (a test checks it); only their row order may differ, which none
//! of their readers depend on. Grouping on 4-byte codes instead of 37-byte pseudonyms hashes
//! and compares far fewer bytes.

use polars::prelude::*;

use crate::audit::summary::Tally;
use crate::engine::column_values::{flags, options, values_or};
use crate::engine::vocab::{Signal, Verdict};
use crate::engine::{CodeLabels, VERDICT_COLUMNS};
use crate::error::Result;

/// The rows for review and the counts of one part.
pub struct PartCounts {
    pub tally: Tally,
    /// The verdict rows that need review (`engine::needs_review`), in order.
    pub review: DataFrame,
    /// Verdict rows per user, team and role (`outliers::roles`).
    pub roles: DataFrame,
    /// Accesses and distinct clients per user and day (`outliers::daily_from_verdicts`).
    pub daily: DataFrame,
}

/// A missing code in `codes`' vectors. Codes are places in label lists, so never this.
const NONE: u32 = u32::MAX;

/// A column of codes (as `UInt32`), `NONE` where missing (`values_or`).
fn codes(chunk: &DataFrame, name: &str) -> Result<Vec<u32>> {
    Ok(values_or(chunk.column(name)?.u32()?, NONE))
}

/// Four codes as one integer that hashes as one value and sorts as the tuple of options does
/// (a missing code as 0, a code as one more than itself): hashing a tuple of four options
/// hashed eight values per row.
fn key4(a: u32, b: u32, c: u32, d: u32) -> u128 {
    let slot = |v: u32| u128::from(v.wrapping_add(1));
    (slot(a) << 96) | (slot(b) << 64) | (slot(c) << 32) | slot(d)
}

/// The four codes of a `key4` key.
fn unkey4(key: u128) -> [Option<u32>; 4] {
    [96, 64, 32, 0].map(|shift| ((key >> shift) as u32).checked_sub(1))
}

/// The (key, count) entries of a map, by key (so that the frames come out the same every run).
fn sorted<K: Ord>(counts: impl IntoIterator<Item = (K, u64)>) -> Vec<(K, u64)> {
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort_unstable();
    rows
}

/// A text column.
fn text(name: &str, values: impl Iterator<Item = Option<String>>) -> Column {
    Column::new(name.into(), values.collect::<Vec<_>>())
}

/// A count column `n` (as `Tally::of` counts).
fn counts(values: impl Iterator<Item = u64>) -> Column {
    Column::new("n".into(), values.collect::<Vec<u64>>())
}

/// Whether any of `bits` is set in each row's signal mask (`codes` of `signal_mask`).
fn has_signal(mask: &[u32], bits: u32) -> BooleanChunked {
    mask.iter().map(|&m| m != NONE && m & bits != 0).collect()
}

impl PartCounts {
    /// The counts of `chunk`, a frame of `Engine::coded_verdicts`.
    pub fn of(chunk: &DataFrame, labels: &CodeLabels) -> Result<PartCounts> {
        let rows = CodedRows::read(chunk)?;
        let counted = Counted::of(&rows);
        let label = |labels: &[String], code: Option<u32>| -> Option<String> {
            code.and_then(|k| labels.get(k as usize)).cloned()
        };
        let unjustified = chunk.select(["reason", "user_id", "client_pid"])?.filter(
            &chunk
                .column("verdict_code")?
                .u32()?
                .equal(Verdict::Unjustified.code()),
        )?;
        let review = chunk.filter(
            &(chunk
                .column("verdict_code")?
                .u32()?
                .not_equal(Verdict::Justified.code())
                | has_signal(&rows.mask, Signal::review_mask())),
        )?;
        Ok(PartCounts {
            tally: Tally {
                verdicts: verdict_frame(counted.by_verdict, rows.first_day, labels, &label)?,
                signals: signal_frame(counted.by_signals, labels, &label)?,
                reads: reads_frame(counted.by_hour)?,
                unjustified,
            },
            review: review.select(VERDICT_COLUMNS.iter().map(|c| PlSmallStr::from(*c)))?,
            roles: role_frame(counted.by_role, labels, &label)?,
            daily: daily_frame(counted.by_day, rows.first_day, labels, &label)?,
        })
    }
}

/// A (user, team, role) of codes.
type UserTeamRole = (Option<u32>, Option<u32>, Option<u32>);

/// A code's label, `None` for a missing code.
type Label<'a> = dyn Fn(&[String], Option<u32>) -> Option<String> + 'a;

/// The codes of a part's verdict rows, one vector per column (`NONE` for a missing code).
struct CodedRows {
    u: Vec<u32>,
    c: Vec<u32>,
    team: Vec<u32>,
    role: Vec<u32>,
    verdict: Vec<u32>,
    rule: Vec<u32>,
    mask: Vec<u32>,
    /// Days as codes from the part's first day (a part spans days, not years).
    first_day: i32,
    day: Vec<u32>,
    read: Vec<bool>,
    hour: Vec<Option<i32>>,
    weekday: Vec<Option<i32>>,
}

impl CodedRows {
    fn read(chunk: &DataFrame) -> Result<CodedRows> {
        // Every verdict row has its user's and client's codes: the engine refuses events
        // without a user, a client or a known pair.
        for code in ["u", "c"] {
            assert_eq!(
                chunk.column(code)?.null_count(),
                0,
                "every verdict row has its '{code}' code"
            );
        }
        let d = chunk.column("d")?.i32()?;
        let first_day = d.min().unwrap_or(0);
        let day_code = |day: Option<i32>| -> u32 {
            day.and_then(|v| u32::try_from(i64::from(v) - i64::from(first_day)).ok())
                .filter(|&v| v != NONE)
                .unwrap_or(NONE)
        };
        Ok(CodedRows {
            u: codes(chunk, "u")?,
            c: codes(chunk, "c")?,
            team: codes(chunk, "user_team_code")?,
            role: codes(chunk, "user_role_code")?,
            verdict: codes(chunk, "verdict_code")?,
            rule: codes(chunk, "rule_code")?,
            mask: codes(chunk, "signal_mask")?,
            first_day,
            day: options(d).into_iter().map(day_code).collect(),
            read: flags(&chunk.column("action")?.str()?.equal("R"), false),
            hour: options(chunk.column("local_hour")?.i32()?),
            weekday: options(chunk.column("weekday")?.i32()?),
        })
    }
}

/// The counts of one pass over a part's rows.
struct Counted {
    /// (team, rule, day, verdict and first access) per row (`key4`).
    by_verdict: PlHashMap<u128, u64>,
    /// Rows per user and signals, and per user, team and role.
    by_signals: PlHashMap<(Option<u32>, Option<u32>), u64>,
    by_role: PlHashMap<UserTeamRole, u64>,
    /// Reads per local hour and weekday.
    by_hour: PlHashMap<(Option<i32>, Option<i32>), u64>,
    /// (user, client) of every row as one integer, by day code (missing as `NONE`).
    by_day: Vec<(u32, Vec<u64>)>,
}

impl Counted {
    fn of(rows: &CodedRows) -> Counted {
        let first = Signal::FirstAccess.bit();
        let mut by_verdict: PlHashMap<u128, u64> = PlHashMap::default();
        // Rows per user, team, role and signals (`key4`): summed below into the counts per
        // user and signals and per user, team and role (one map looked up per row instead of
        // two).
        let mut by_user: PlHashMap<u128, u64> = PlHashMap::default();
        let mut by_hour: PlHashMap<_, u64> = PlHashMap::default();
        // Sorted later day by day: runs of a user give its rows and its distinct clients that
        // day. Rows come in time order, so a day's bucket is looked for only when the day
        // changes, and each day's keys are sorted on their own (smaller sorts than one of the
        // part).
        let mut by_day: Vec<(u32, Vec<u64>)> = Vec::new();
        let mut bucket = usize::MAX;
        for i in 0..rows.u.len() {
            let is_first = rows.mask[i] != NONE && rows.mask[i] & first != 0;
            // The verdict (a code below 3, or missing as 0) and the first access in one code.
            let verdict_first =
                (rows.verdict[i].wrapping_add(1).saturating_mul(2)) | u32::from(is_first);
            *by_verdict
                .entry(key4(rows.team[i], rows.rule[i], rows.day[i], verdict_first))
                .or_default() += 1;
            *by_user
                .entry(key4(rows.u[i], rows.team[i], rows.role[i], rows.mask[i]))
                .or_default() += 1;
            if rows.read[i] {
                *by_hour.entry((rows.hour[i], rows.weekday[i])).or_default() += 1;
            }
            if by_day.get(bucket).is_none_or(|b| b.0 != rows.day[i]) {
                bucket = match by_day.iter().position(|b| b.0 == rows.day[i]) {
                    Some(at) => at,
                    None => {
                        by_day.push((rows.day[i], Vec::new()));
                        by_day.len() - 1
                    }
                };
            }
            by_day[bucket]
                .1
                .push((u64::from(rows.u[i]) << 32) | u64::from(rows.c[i]));
        }
        let mut by_signals: PlHashMap<_, u64> = PlHashMap::default();
        let mut by_role: PlHashMap<_, u64> = PlHashMap::default();
        for (key, n) in by_user {
            let [u, team, role, mask] = unkey4(key);
            *by_signals.entry((u, mask)).or_default() += n;
            *by_role.entry((u, team, role)).or_default() += n;
        }
        Counted {
            by_verdict,
            by_signals,
            by_role,
            by_hour,
            by_day,
        }
    }
}

/// Rows per team, verdict, rule, local date and first access (`Tally::verdicts`).
fn verdict_frame(
    by_verdict: PlHashMap<u128, u64>,
    first_day: i32,
    labels: &CodeLabels,
    label: &Label,
) -> Result<DataFrame> {
    // As tuples (team, verdict, rule, day, first), sorted in their order.
    let by_verdict = by_verdict.into_iter().map(|(key, n)| {
        let [team, rule, day, verdict_first] = unkey4(key);
        let date = day.map(|v| first_day + v as i32);
        let verdict_first = verdict_first.unwrap_or(0);
        let verdict = (verdict_first / 2).checked_sub(1);
        let first = verdict_first % 2 == 1;
        ((team, verdict, rule, date, first), n)
    });
    let verdict_labels = Verdict::names().map(String::from);
    let rows = sorted(by_verdict);
    Ok(DataFrame::new(
        rows.len(),
        vec![
            text(
                "user_team",
                rows.iter().map(|r| label(&labels.teams, r.0 .0)),
            ),
            text(
                "verdict",
                rows.iter().map(|r| label(&verdict_labels, r.0 .1)),
            ),
            text("rule", rows.iter().map(|r| label(&labels.rules, r.0 .2))),
            Column::new(
                "local_date".into(),
                rows.iter().map(|r| r.0 .3).collect::<Vec<_>>(),
            )
            .cast(&DataType::Date)?,
            Column::new(
                "first".into(),
                rows.iter().map(|r| r.0 .4).collect::<Vec<_>>(),
            ),
            counts(rows.iter().map(|r| r.1)),
        ],
    )?)
}

/// Rows per user and set of signals (`Tally::signals`).
fn signal_frame(
    by_signals: PlHashMap<(Option<u32>, Option<u32>), u64>,
    labels: &CodeLabels,
    label: &Label,
) -> Result<DataFrame> {
    let signal_labels = crate::engine::vocab::mask_labels(&Signal::names());
    let rows = sorted(by_signals);
    Ok(DataFrame::new(
        rows.len(),
        vec![
            text("user_id", rows.iter().map(|r| label(&labels.users, r.0 .0))),
            text(
                "signals",
                rows.iter().map(|r| label(&signal_labels, r.0 .1)),
            ),
            counts(rows.iter().map(|r| r.1)),
        ],
    )?)
}

/// Reads per local hour and weekday (`Tally::reads`).
fn reads_frame(by_hour: PlHashMap<(Option<i32>, Option<i32>), u64>) -> Result<DataFrame> {
    let rows = sorted(by_hour);
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "local_hour".into(),
                rows.iter().map(|r| r.0 .0).collect::<Vec<_>>(),
            ),
            Column::new(
                "weekday".into(),
                rows.iter().map(|r| r.0 .1).collect::<Vec<_>>(),
            ),
            counts(rows.iter().map(|r| r.1)),
        ],
    )?)
}

/// Rows per user, team and role (`outliers::roles`).
fn role_frame(
    by_role: PlHashMap<UserTeamRole, u64>,
    labels: &CodeLabels,
    label: &Label,
) -> Result<DataFrame> {
    let rows = sorted(by_role);
    Ok(DataFrame::new(
        rows.len(),
        vec![
            text("user_id", rows.iter().map(|r| label(&labels.users, r.0 .0))),
            text(
                "user_team",
                rows.iter().map(|r| label(&labels.teams, r.0 .1)),
            ),
            text(
                "user_role",
                rows.iter().map(|r| label(&labels.roles, r.0 .2)),
            ),
            counts(rows.iter().map(|r| r.1)),
        ],
    )?)
}

/// Accesses and distinct clients per user and day (`outliers::daily_from_verdicts`).
fn daily_frame(
    mut by_day: Vec<(u32, Vec<u64>)>,
    first_day: i32,
    labels: &CodeLabels,
    label: &Label,
) -> Result<DataFrame> {
    by_day.sort_unstable_by_key(|b| b.0);
    let mut days: Vec<(u32, Option<i32>)> = Vec::new();
    let (mut n, mut clients): (Vec<IdxSize>, Vec<IdxSize>) = (Vec::new(), Vec::new());
    for (code, mut keys) in by_day {
        let date = (code != NONE).then(|| first_day + code as i32);
        keys.sort_unstable();
        // A user's run of keys: its rows, and its distinct clients where the key changes.
        for run in keys.chunk_by(|a, b| a >> 32 == b >> 32) {
            days.push(((run[0] >> 32) as u32, date));
            n.push(run.len() as IdxSize);
            clients.push(1 + run.windows(2).filter(|w| w[0] != w[1]).count() as IdxSize);
        }
    }
    Ok(DataFrame::new(
        days.len(),
        vec![
            text(
                "user_id",
                days.iter().map(|r| label(&labels.users, Some(r.0))),
            ),
            Column::new("d".into(), days.iter().map(|r| r.1).collect::<Vec<_>>()),
            Column::new("n".into(), n),
            Column::new("clients".into(), clients),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use super::{key4, unkey4, PartCounts, NONE};
    use crate::engine::CodeLabels;
    use polars::prelude::*;

    /// Verdict rows without a user's or client's code are an internal error (the engine
    /// refuses such events), not counted under a missing user or client.
    #[test]
    #[should_panic(expected = "every verdict row has its 'u' code")]
    fn rows_without_their_codes_are_refused() {
        let labels = CodeLabels {
            users: vec!["u1".into()],
            clients: StringChunked::from_iter_values("value".into(), ["c1"].into_iter()),
            teams: vec![],
            roles: vec![],
            rules: vec![],
            articles: vec![],
        };
        let chunk = df!("u" => [None::<u32>], "c" => [Some(0u32)]).unwrap();
        let _ = PartCounts::of(&chunk, &labels);
    }

    /// `key4` keys sort as their tuples of options (missing first) and unpack to them.
    #[test]
    fn four_code_keys_sort_as_their_tuples_and_unpack_to_them() {
        let values = [NONE, 0, 1, 7, NONE - 1];
        let mut tuples = Vec::new();
        for a in values {
            for b in values {
                for c in values {
                    for d in values {
                        tuples.push([a, b, c, d]);
                    }
                }
            }
        }
        let opt = |v: u32| (v != NONE).then_some(v);
        let mut keys: Vec<u128> = tuples
            .iter()
            .map(|t| key4(t[0], t[1], t[2], t[3]))
            .collect();
        keys.sort_unstable();
        let mut want: Vec<[Option<u32>; 4]> = tuples.iter().map(|t| t.map(opt)).collect();
        want.sort_unstable();
        let back: Vec<_> = keys.iter().map(|&k| unkey4(k)).collect();
        assert_eq!(back, want);
    }
}
