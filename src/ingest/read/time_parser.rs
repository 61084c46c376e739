//! Timestamp and date parsing: ISO 8601 with offset, or local time in a zone with a DST policy.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::period::days_since_epoch;

/// What to do with a local time that occurs twice (the last Sunday of October, 02:00-03:00
/// in Europe/Amsterdam happens first in summer time, then again in winter time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Ambiguous {
    /// The first occurrence (summer time, the larger offset). The default.
    #[default]
    Earliest,
    /// The second occurrence (winter time).
    Latest,
    /// Quarantine the row.
    Reject,
}

/// What to do with a local time that never occurs (the last Sunday of March, 02:00-03:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Nonexistent {
    /// Read it with the offset in force before the gap, which moves it forward by the gap's
    /// length (02:30 becomes 03:30 summer time). The default.
    #[default]
    ShiftForward,
    /// Quarantine the row.
    Reject,
}

/// How a timestamp was read, so the summary can count the DST cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Exact,
    Ambiguous,
    Shifted,
}

/// Parses timestamps to microseconds since the epoch (UTC) and dates to days since the epoch.
#[derive(Debug, Clone)]
pub struct TimeParser {
    /// chrono formats for local times; empty: only ISO 8601 with offset is accepted.
    pub local_formats: Vec<String>,
    pub zone: Tz,
    pub ambiguous: Ambiguous,
    pub nonexistent: Nonexistent,
    pub date_format: String,
}

impl TimeParser {
    /// The canonical contract: ISO 8601 timestamps with offset, ISO dates.
    pub fn canonical(zone: Tz) -> TimeParser {
        TimeParser {
            local_formats: Vec::new(),
            zone,
            ambiguous: Ambiguous::default(),
            nonexistent: Nonexistent::default(),
            date_format: "%Y-%m-%d".into(),
        }
    }

    pub fn timestamp(&self, text: &str) -> Result<(i64, Resolution), String> {
        let text = text.trim();
        let iso = DateTime::parse_from_rfc3339(text);
        if let Ok(t) = iso {
            return Ok((t.timestamp_micros(), Resolution::Exact));
        }
        // ISO 8601 with a space instead of 'T', as many exports write it.
        let spaced = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z");
        if let Ok(t) = spaced {
            return Ok((t.timestamp_micros(), Resolution::Exact));
        }
        if self.local_formats.is_empty() {
            if [iso.err(), spaced.err()]
                .into_iter()
                .flatten()
                .any(names_no_such_day)
            {
                return Err(format!(
                    "timestamp '{text}' names a day or time that does not exist"
                ));
            }
            return Err(format!(
                "timestamp '{text}' is not ISO 8601 with a UTC offset (e.g. 2026-03-01T09:15:00+01:00)"
            ));
        }
        let parsed: Vec<_> = self
            .local_formats
            .iter()
            .map(|f| NaiveDateTime::parse_from_str(text, f))
            .collect();
        let naive = match parsed.iter().find_map(|p| p.ok()) {
            Some(naive) => naive,
            None if parsed.iter().any(|p| p.is_err_and(names_no_such_day)) => {
                return Err(format!(
                    "timestamp '{text}' names a day or time that does not exist"
                ))
            }
            None => {
                return Err(format!(
                    "timestamp '{text}' matches none of the formats {}",
                    self.local_formats.join(", ")
                ))
            }
        };
        self.resolve_local(naive)
            .map_err(|why| format!("local time '{text}' in {}: {why}", self.zone))
    }

    fn resolve_local(&self, naive: NaiveDateTime) -> Result<(i64, Resolution), String> {
        match self.zone.from_local_datetime(&naive) {
            LocalResult::Single(t) => Ok((t.timestamp_micros(), Resolution::Exact)),
            LocalResult::Ambiguous(first, second) => match self.ambiguous {
                Ambiguous::Earliest => Ok((first.timestamp_micros(), Resolution::Ambiguous)),
                Ambiguous::Latest => Ok((second.timestamp_micros(), Resolution::Ambiguous)),
                Ambiguous::Reject => Err(
                    "occurs twice (end of summer time) and the profile rejects such times".into(),
                ),
            },
            LocalResult::None => match self.nonexistent {
                Nonexistent::ShiftForward => {
                    // The offset in force just before the gap.
                    let before = naive - Duration::hours(3);
                    let offset = self.zone.offset_from_utc_datetime(&before).fix();
                    let utc = naive - Duration::seconds(i64::from(offset.local_minus_utc()));
                    Ok((utc.and_utc().timestamp_micros(), Resolution::Shifted))
                }
                Nonexistent::Reject => Err(
                    "does not exist (start of summer time) and the profile rejects such times"
                        .into(),
                ),
            },
        }
    }

    pub fn date(&self, text: &str) -> Result<i32, String> {
        let text = text.trim();
        if self.date_format == "%Y-%m-%d" {
            if let Some(d) = iso_date(text) {
                return Ok(days_since_epoch(d));
            }
        }
        let d = NaiveDate::parse_from_str(text, &self.date_format).map_err(|e| {
            if names_no_such_day(e) {
                format!("date '{text}' does not exist")
            } else {
                format!("date '{text}' is not in the form {}", self.date_format)
            }
        })?;
        Ok(days_since_epoch(d))
    }
}

/// Whether a parse failed on a day or time that does not exist (29 February of a year that is
/// not a leap year, 31 April, 25:00), not on the text's form.
fn names_no_such_day(e: chrono::ParseError) -> bool {
    matches!(
        e.kind(),
        chrono::format::ParseErrorKind::OutOfRange | chrono::format::ParseErrorKind::Impossible
    )
}

/// A date written `YYYY-MM-DD`, digits only, that exists; else `None` (and the general parser
/// decides). Millions of reference rows carry dates, and chrono's parser interprets its format
/// for each.
fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(number(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::date_from_days;

    #[test]
    fn a_day_that_does_not_exist_is_said_to_be_so() {
        let p = TimeParser::canonical(chrono_tz::Europe::Amsterdam);
        let e = p.date("2025-02-29").unwrap_err();
        assert_eq!(e, "date '2025-02-29' does not exist");
        assert!(p.date("2024-02-29").is_ok());
        assert_eq!(
            p.date("2025-2-29x").unwrap_err(),
            "date '2025-2-29x' is not in the form %Y-%m-%d"
        );
        let e = p.timestamp("2025-02-29T10:00:00+01:00").unwrap_err();
        assert_eq!(
            e,
            "timestamp '2025-02-29T10:00:00+01:00' names a day or time that does not exist"
        );
        assert!(p
            .timestamp("gisteren")
            .unwrap_err()
            .contains("is not ISO 8601"));
    }

    fn local(ambiguous: Ambiguous, nonexistent: Nonexistent) -> TimeParser {
        TimeParser {
            local_formats: vec!["%d-%m-%Y %H:%M:%S".into()],
            zone: chrono_tz::Europe::Amsterdam,
            ambiguous,
            nonexistent,
            date_format: "%d-%m-%Y".into(),
        }
    }

    #[test]
    fn iso_dates_read_as_chrono_reads_them() {
        let p = TimeParser::canonical(chrono_tz::Europe::Amsterdam);
        let texts = [
            "2026-03-02",
            "1970-01-01",
            "1969-12-31",
            "0001-01-01",
            "2024-02-29",
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-1-05",
            "2025-01-5 ",
            "+2025-01-05",
            "2025/01/05",
            "2025-01-0x",
            "",
        ];
        for t in texts {
            let slow = NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
                .map(days_since_epoch)
                .ok();
            assert_eq!(p.date(t).ok(), slow, "{t:?}");
        }
        assert_eq!(p.date("2026-03-02"), Ok(20514));
    }

    fn utc(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn iso_with_offset_is_exact() {
        let p = TimeParser::canonical(chrono_tz::Europe::Amsterdam);
        assert_eq!(
            p.timestamp("2026-03-01T09:15:00+01:00").unwrap(),
            (utc("2026-03-01T08:15:00Z"), Resolution::Exact)
        );
        assert!(p
            .timestamp("2026-03-01 09:15:00")
            .unwrap_err()
            .contains("UTC offset"));
    }

    #[test]
    fn ordinary_local_times_use_the_zone_offset() {
        let p = local(Ambiguous::Earliest, Nonexistent::ShiftForward);
        assert_eq!(
            p.timestamp("15-01-2026 10:00:00").unwrap().0,
            utc("2026-01-15T09:00:00Z")
        );
        assert_eq!(
            p.timestamp("15-07-2026 10:00:00").unwrap().0,
            utc("2026-07-15T08:00:00Z")
        );
    }

    #[test]
    fn repeated_october_hour_follows_the_policy() {
        // 25 October 2026: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
        let early = local(Ambiguous::Earliest, Nonexistent::Reject);
        assert_eq!(
            early.timestamp("25-10-2026 02:30:00").unwrap(),
            (utc("2026-10-25T00:30:00Z"), Resolution::Ambiguous)
        );
        let late = local(Ambiguous::Latest, Nonexistent::Reject);
        assert_eq!(
            late.timestamp("25-10-2026 02:30:00").unwrap().0,
            utc("2026-10-25T01:30:00Z")
        );
        let strict = local(Ambiguous::Reject, Nonexistent::Reject);
        assert!(strict
            .timestamp("25-10-2026 02:30:00")
            .unwrap_err()
            .contains("occurs twice"));
    }

    #[test]
    fn missing_march_hour_is_shifted_forward_or_rejected() {
        // 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 never happens.
        let shift = local(Ambiguous::Earliest, Nonexistent::ShiftForward);
        assert_eq!(
            shift.timestamp("29-03-2026 02:30:00").unwrap(),
            (utc("2026-03-29T01:30:00Z"), Resolution::Shifted)
        );
        let strict = local(Ambiguous::Earliest, Nonexistent::Reject);
        assert!(strict
            .timestamp("29-03-2026 02:30:00")
            .unwrap_err()
            .contains("does not exist"));
    }

    #[test]
    fn dates_round_trip() {
        let p = TimeParser::canonical(chrono_tz::UTC);
        let d = p.date("2026-02-28").unwrap();
        assert_eq!(date_from_days(d).to_string(), "2026-02-28");
        assert!(p.date("28-02-2026").is_err());
        assert!(p.date("2026-02-30").is_err());
    }
}
