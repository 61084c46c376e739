//! The organisation's access policy: which explanations count, with their articles, and the
//! periods the rules need. Loaded from `schemas/policies/*.toml` and checked once, with errors
//! that name the file, the line and the fix.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, Months, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::policy::rule::{Rule, RuleKind, SectionRule};

mod parse;
pub mod rule;

/// Dossier sections whose access a policy may restrict.
pub const SECTIONS: [&str; 3] = ["medical", "complaint", "incident"];

/// Closure kinds of a case (contract `cases.closure`), plus `unknown` for a missing one.
pub const CLOSURES: [&str; 4] = ["completed", "no_support", "aborted", "unknown"];

/// Team kinds (contract `teams.kind`).
pub const TEAM_KINDS: [&str; 6] = [
    "area",
    "access",
    "citywide",
    "backoffice",
    "complaints",
    "veilig_thuis",
];

/// A period such as `15y`, `6w`, `30d` or `3m`, counted in calendar units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Span {
    Years(u32),
    Months(u32),
    Weeks(u32),
    Days(u32),
}

impl Span {
    pub fn parse(text: &str) -> Option<Span> {
        let text = text.trim();
        let (num, unit) = text.split_at(text.len().checked_sub(1)?);
        let n: u32 = num.parse().ok()?;
        match unit {
            "y" => Some(Span::Years(n)),
            "m" => Some(Span::Months(n)),
            "w" => Some(Span::Weeks(n)),
            "d" => Some(Span::Days(n)),
            _ => None,
        }
    }

    /// `date` plus this period; `None` beyond the calendar's range.
    pub fn after(self, date: NaiveDate) -> Option<NaiveDate> {
        match self {
            Span::Years(n) => date.checked_add_months(Months::new(n.checked_mul(12)?)),
            Span::Months(n) => date.checked_add_months(Months::new(n)),
            Span::Weeks(n) => date.checked_add_days(chrono::Days::new(u64::from(n) * 7)),
            Span::Days(n) => date.checked_add_days(chrono::Days::new(u64::from(n))),
        }
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Span::Years(n) => write!(f, "{n}y"),
            Span::Months(n) => write!(f, "{n}m"),
            Span::Weeks(n) => write!(f, "{n}w"),
            Span::Days(n) => write!(f, "{n}d"),
        }
    }
}

/// From which day a retention period runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CountedFrom {
    /// The day the case closed.
    Closure,
    /// The last day of the year in which the case closed ("te rekenen vanaf het jaar waarin").
    EndOfClosureYear,
    /// The day the case opened ("15 jaar na ontvangst").
    Opening,
}

/// How long a closed dossier may be kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    pub counted_from: CountedFrom,
    /// Per closure kind (all of `CLOSURES`).
    pub closure: BTreeMap<String, Span>,
    /// Sections kept for a period of their own (e.g. complaints 2 years), counted the same way.
    pub sections: BTreeMap<String, Span>,
    pub article: String,
}

impl Retention {
    /// Last day a case may still be kept, for a section, or `None` while it is open.
    pub fn keep_until(
        &self,
        opened: NaiveDate,
        closed: Option<NaiveDate>,
        closure: Option<&str>,
        section: Option<&str>,
    ) -> Option<NaiveDate> {
        let closed = closed?;
        let base = match self.counted_from {
            CountedFrom::Closure => closed,
            CountedFrom::EndOfClosureYear => NaiveDate::from_ymd_opt(closed.year(), 12, 31)?,
            CountedFrom::Opening => opened,
        };
        let span = section
            .and_then(|s| self.sections.get(s))
            .or_else(|| self.closure.get(closure.unwrap_or("unknown")))
            .or_else(|| self.closure.get("unknown"))?;
        span.after(base)
    }
}

/// The office hours; everything outside is `after_hours`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfficeHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
    pub days: Vec<Weekday>,
}

/// Volume-outlier settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outliers {
    /// Robust z-score (0.6745 (x - median) / MAD) above which a user is reported.
    pub threshold: f64,
    /// Fewer history days or peers than this: that comparison is not made.
    pub min_history: usize,
    /// A user is reported only when also at least this many times the median: a tiny spread
    /// (peers who all do about the same) makes small differences score high.
    pub min_ratio: f64,
}

/// Emergency-login settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Emergency {
    pub article: String,
    /// An assignment starting within this many days after the login counts as a follow-up.
    pub follow_up_days: i32,
}

/// Disclosure control for management statistics (`stats`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DisclosurePolicy {
    pub thresholds: crate::policy::Thresholds,
    /// Teams with fewer distinct employees than this in a period are merged into one group
    /// (`OVERIG`); 0 merges nothing.
    pub merge_teams_below: usize,
    /// Published counts rounded to this base (0 or 1: not rounded), marked as rounded.
    pub round_base: u64,
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub id: String,
    pub organisation: String,
    pub protocol: String,
    pub source: String,
    /// The zone in which days, office hours and local times are read.
    #[serde(serialize_with = "zone_name")]
    pub time_zone: Tz,
    pub office_hours: OfficeHours,
    pub rules: Vec<Rule>,
    pub sections: BTreeMap<String, SectionRule>,
    pub retention: Retention,
    pub emergency: Emergency,
    pub outliers: Outliers,
    pub disclosure: DisclosurePolicy,
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Policy::parse(path, &text)
    }

    /// Checks a policy given as text; `path` only names it in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Policy> {
        parse::parse(path, text)
    }

    /// The policy's rule of this kind, if it lists one.
    pub fn rule(&self, kind: RuleKind) -> Option<&Rule> {
        self.rules.iter().find(|r| r.kind == kind)
    }

    /// The grace of the policy's rule of this kind, 0 where it lists none (the rule then never
    /// holds, so its grace is never read).
    pub fn grace(&self, kind: RuleKind) -> i32 {
        self.rule(kind).map_or(0, |r| r.grace_days)
    }

    /// Whether `section` may be explained by `rule` under the section constraints (BIG is
    /// checked separately, per user).
    pub fn section_allows(&self, section: &str, rule: RuleKind) -> bool {
        match self
            .sections
            .get(section)
            .and_then(|s| s.explained_by.as_ref())
        {
            Some(by) => by.contains(&rule),
            None => true,
        }
    }

    /// The time zone as polars names it, for converting time columns.
    pub fn polars_zone(&self) -> polars::prelude::TimeZone {
        polars::prelude::TimeZone::opt_try_new(Some(self.time_zone.name()))
            .ok()
            .flatten()
            .expect("a zone chrono-tz knows is one polars knows: both read the same database")
    }

    pub fn requires_big(&self, section: &str) -> bool {
        self.sections.get(section).is_some_and(|s| s.requires_big)
    }
}

/// Writes a time zone as its IANA name.
fn zone_name<S: Serializer>(zone: &Tz, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(zone.name())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The smallest valid policy (other modules' tests use it too).
    pub(crate) const MINIMAL: &str = r#"
id = "t"
organisation = "T"
protocol = "P"
time_zone = "Europe/Amsterdam"
[office_hours]
from = "07:00"
to = "19:00"
days = ["mon", "tue", "wed", "thu", "fri"]
[[rule]]
id = "direct_worker"
article = "T art. 1"
grace_days = 7
[retention]
counted_from = "closure"
article = "T art. 2"
closure = { completed = "20y", no_support = "5y", aborted = "6w", unknown = "20y" }
[emergency]
article = "T art. 3"
follow_up_days = 7
"#;

    fn parse(text: &str) -> Result<Policy> {
        Policy::parse(Path::new("p.toml"), text)
    }

    fn message(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn minimal_policy_loads_with_defaults() {
        let p = parse(MINIMAL).unwrap();
        assert_eq!(p.rules.len(), 1);
        assert_eq!(p.rules[0].grace_days, 7);
        assert_eq!(p.outliers.threshold, 3.5);
        assert_eq!(p.office_hours.days.len(), 5);
    }

    #[test]
    fn unknown_rule_names_line_and_choices() {
        let m = message(&MINIMAL.replace("id = \"direct_worker\"", "id = \"buddy\""));
        assert!(m.contains("p.toml:11:"), "{m}");
        assert!(m.contains("unknown rule 'buddy'"), "{m}");
        assert!(m.contains("'team_coach'"), "{m}");
    }

    #[test]
    fn an_id_that_could_name_a_path_is_refused() {
        for id in ["../../x", "a/b", "..", "", "Leiden", "x\\\\y", "a b"] {
            let m = message(&MINIMAL.replace("id = \"t\"", &format!("id = \"{id}\"")));
            assert!(m.contains("is not a plain name"), "{id}: {m}");
            assert!(m.contains("p.toml:2:"), "{id}: {m}");
        }
        assert_eq!(
            parse(&MINIMAL.replace("id = \"t\"", "id = \"inzet-zoetermeer_2\""))
                .unwrap()
                .id,
            "inzet-zoetermeer_2"
        );
    }

    #[test]
    fn negative_grace_is_refused() {
        let m = message(&MINIMAL.replace("grace_days = 7", "grace_days = -3"));
        assert!(
            m.contains("p.toml:13:") && m.contains("grace_days -3"),
            "{m}"
        );
    }

    #[test]
    fn negative_or_bad_period_is_refused() {
        let m = message(&MINIMAL.replace("aborted = \"6w\"", "aborted = \"-6w\""));
        assert!(m.contains("p.toml:17:") && m.contains("'-6w'"), "{m}");
    }

    #[test]
    fn unknown_role_in_section_is_refused() {
        let text = format!(
            "{MINIMAL}[sections.complaint]\narticle = \"x\"\nexplained_by = [\"direct_worker\", \"janitor\"]\n"
        );
        let m = message(&text);
        assert!(
            m.contains("rule 'janitor'") && m.contains("p.toml:23:"),
            "{m}"
        );
    }

    #[test]
    fn unknown_key_is_refused_with_line() {
        let m = message(&MINIMAL.replace("grace_days = 7", "grace_dayz = 7"));
        assert!(m.contains("p.toml:13:") && m.contains("grace_dayz"), "{m}");
    }

    #[test]
    fn disclosure_defaults_and_limits() {
        let p = parse(MINIMAL).unwrap();
        assert_eq!(p.disclosure.thresholds.k, 5);
        assert_eq!(p.disclosure.thresholds.k_findings, 10);
        let m = message(&format!("{MINIMAL}[disclosure]\nk = 1\n"));
        assert!(
            m.contains("p.toml:22:") && m.contains("k 1 is out of range"),
            "{m}"
        );
        let m = message(&format!("{MINIMAL}[disclosure]\nk = 8\nk_findings = 5\n"));
        assert!(
            m.contains("k_findings 5 is out of range; use 8 to 1000"),
            "{m}"
        );
    }

    #[test]
    fn retention_counts_calendar_periods() {
        let p = parse(MINIMAL).unwrap();
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let r = &p.retention;
        assert_eq!(r.keep_until(d(2000, 1, 1), None, None, None), None);
        assert_eq!(
            r.keep_until(d(2000, 1, 1), Some(d(2004, 2, 29)), Some("completed"), None),
            Some(d(2024, 2, 29))
        );
        assert_eq!(
            r.keep_until(d(2000, 1, 1), Some(d(2024, 1, 1)), Some("aborted"), None),
            Some(d(2024, 2, 12))
        );
        assert_eq!(
            r.keep_until(d(2000, 1, 1), Some(d(2024, 1, 1)), None, None),
            Some(d(2044, 1, 1))
        );
    }
}

/// Thresholds (from the policy's `[disclosure]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Distinct employees and distinct clients a published cell needs.
    pub k: usize,
    /// The same for cells about unjustified accesses and emergency logins.
    pub k_findings: usize,
    /// Suppress when the `dominance_n` largest employees make up `dominance_share` or more.
    pub dominance_n: usize,
    pub dominance_share: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            k: 5,
            k_findings: 10,
            dominance_n: 2,
            dominance_share: 0.85,
        }
    }
}
