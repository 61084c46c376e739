//! Audit periods as people write them: `2026-Q3`, `2026-09`, `2026`, or `2026-07-01..2026-09-30`.

use chrono::{Datelike, NaiveDate};

use crate::error::{Error, Result};

/// A named run of calendar days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// As given (normalised), used in folder names and reports.
    pub label: String,
    pub range: DayRange,
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn month_end(y: i32, m: u32) -> Option<NaiveDate> {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    ymd(ny, nm, 1)?.pred_opt()
}

impl Period {
    pub fn parse(text: &str) -> Result<Period> {
        let t = text.trim();
        let bad = || {
            Error::Invalid(format!(
                "period '{text}' is not understood; write a year '2026', a quarter '2026-Q3', a month '2026-09' or days '2026-07-01..2026-09-30'"
            ))
        };
        let range = if let Some((a, b)) = t.split_once("..") {
            let a = NaiveDate::parse_from_str(a.trim(), "%Y-%m-%d").map_err(|_| bad())?;
            let b = NaiveDate::parse_from_str(b.trim(), "%Y-%m-%d").map_err(|_| bad())?;
            if b < a {
                return Err(Error::Invalid(format!(
                    "period '{text}' ends before it starts; put the earlier day first"
                )));
            }
            (a, b)
        } else if let Some((y, q)) = t.split_once("-Q").or_else(|| t.split_once("-q")) {
            let y: i32 = y.parse().map_err(|_| bad())?;
            let q: u32 = q.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&q) {
                return Err(bad());
            }
            let first = ymd(y, q * 3 - 2, 1).ok_or_else(bad)?;
            (first, month_end(y, q * 3).ok_or_else(bad)?)
        } else if t.len() == 7 {
            let first =
                NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").map_err(|_| bad())?;
            (
                first,
                month_end(first.year(), first.month()).ok_or_else(bad)?,
            )
        } else if t.len() == 4 {
            let y: i32 = t.parse().map_err(|_| bad())?;
            (
                ymd(y, 1, 1).ok_or_else(bad)?,
                ymd(y, 12, 31).ok_or_else(bad)?,
            )
        } else {
            return Err(bad());
        };
        let label = if t.contains("..") {
            format!("{}_{}", range.0, range.1)
        } else {
            t.to_uppercase()
        };
        Ok(Period {
            label,
            range: DayRange {
                first: range.0,
                last: range.1,
            },
        })
    }

    /// The months (`YYYY-MM`) the period touches.
    pub fn months(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut d = ymd(self.range.first.year(), self.range.first.month(), 1);
        while let Some(m) = d {
            if m > self.range.last {
                break;
            }
            out.push(m.format("%Y-%m").to_string());
            d = month_end(m.year(), m.month()).and_then(|e| e.succ_opt());
        }
        out
    }

    /// A period named relative to `today` (`previous-month`, `previous-quarter`: the last
    /// whole month or quarter before the one `today` is in), or `None` for any other text.
    /// The label is that of the period written out (`2026-11`, `2026-Q3`).
    pub fn relative(text: &str, today: NaiveDate) -> Option<Period> {
        let (year, month) = (today.year(), today.month());
        let written = match text.trim() {
            "previous-month" if month == 1 => format!("{}-12", year - 1),
            "previous-month" => format!("{year}-{:02}", month - 1),
            "previous-quarter" if month <= 3 => format!("{}-Q4", year - 1),
            "previous-quarter" => format!("{year}-Q{}", (month - 1) / 3),
            _ => return None,
        };
        Some(Period::parse(&written).expect("a month or quarter written out parses"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_month_and_quarter_are_the_last_whole_ones_before_today() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let label = |text: &str, today: &str| Period::relative(text, day(today)).unwrap().label;
        assert_eq!(label("previous-month", "2026-12-08"), "2026-11");
        assert_eq!(label("previous-month", "2026-01-01"), "2025-12");
        assert_eq!(label("previous-quarter", "2026-12-08"), "2026-Q3");
        assert_eq!(label("previous-quarter", "2026-03-31"), "2025-Q4");
        assert_eq!(label("previous-quarter", "2026-04-01"), "2026-Q1");
        let q = Period::relative("previous-quarter", day("2026-07-15")).unwrap();
        assert_eq!(
            (q.range.first, q.range.last),
            (day("2026-04-01"), day("2026-06-30"))
        );
        assert!(Period::relative("2026-Q1", day("2026-07-15")).is_none());
    }

    fn p(t: &str) -> (String, String, String) {
        let p = Period::parse(t).unwrap();
        (p.label, p.range.first.to_string(), p.range.last.to_string())
    }

    #[test]
    fn parses_each_form() {
        assert_eq!(
            p("2026-Q3"),
            ("2026-Q3".into(), "2026-07-01".into(), "2026-09-30".into())
        );
        assert_eq!(
            p("2024-02"),
            ("2024-02".into(), "2024-02-01".into(), "2024-02-29".into())
        );
        assert_eq!(
            p("2025"),
            ("2025".into(), "2025-01-01".into(), "2025-12-31".into())
        );
        assert_eq!(
            p("2026-01-05..2026-01-07"),
            (
                "2026-01-05_2026-01-07".into(),
                "2026-01-05".into(),
                "2026-01-07".into()
            )
        );
        assert_eq!(
            Period::parse("2025-Q4").unwrap().months(),
            ["2025-10", "2025-11", "2025-12"]
        );
    }

    #[test]
    fn refuses_nonsense_quoting_it() {
        for t in [
            "2026-Q5",
            "26",
            "2026-13",
            "2026-02-01..2026-01-01",
            "last week",
        ] {
            let m = Period::parse(t).unwrap_err().to_string();
            assert!(m.contains(&format!("'{t}'")), "{m}");
        }
    }
}

pub fn days_since_epoch(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - EPOCH_FROM_CE
}

/// The date `days` after 1970-01-01; a count beyond chrono's range gives its last date.
pub fn date_from_days(days: i32) -> NaiveDate {
    days.checked_add(EPOCH_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or(NaiveDate::MAX)
}

/// The calendar days (in the policy's time zone) an audit covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub first: chrono::NaiveDate,
    pub last: chrono::NaiveDate,
}

impl DayRange {
    /// The range as days since 1970-01-01, as polars stores a `Date`.
    pub fn epoch_days(&self) -> (i32, i32) {
        (days_since_epoch(self.first), days_since_epoch(self.last))
    }
}

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const EPOCH_FROM_CE: i32 = 719_163;
