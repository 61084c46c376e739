//! The organisation's access policy: which explanations count, with their articles, and the
//! periods the rules need. Loaded from `schemas/policies/*.toml` and checked once, with errors
//! that name the file, the line and the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};

/// Explanations with a meaning of their own (see `engine`).
pub const STRUCTURAL_RULES: [&str; 5] = [
    "direct_worker",
    "team_coach",
    "complaints_handler",
    "replacement",
    "veilig_thuis",
];

/// Explanations that hold for anyone who holds the role of the same name at the time.
pub const ROLE_RULES: [&str; 6] = [
    "coordinator",
    "controller",
    "auditor",
    "supervisor",
    "policy_adviser",
    "administrator",
];

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

/// One explanation the policy accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// One of `STRUCTURAL_RULES` or `ROLE_RULES`.
    pub id: String,
    /// The article that allows it, e.g. `Leiden art. 11 lid 2`.
    pub article: String,
    /// Days the explanation outlives the end of its period (assignment, case, complaint).
    pub grace_days: i32,
    /// `replacement` only: team kinds whose members may stand in for any team.
    pub any_team_kinds: Vec<String>,
    /// Why the rule is read this way, where the protocol leaves it open.
    pub note: String,
}

/// What a section demands beyond an explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SectionRule {
    /// Only users BIG-registered at the time.
    pub requires_big: bool,
    /// When set: only these rules explain an access to the section.
    pub explained_by: Option<Vec<String>>,
    pub article: String,
}

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
    pub time_zone: String,
    pub office_hours: OfficeHours,
    pub rules: Vec<Rule>,
    pub sections: BTreeMap<String, SectionRule>,
    pub retention: Retention,
    pub emergency: Emergency,
    pub outliers: Outliers,
    pub disclosure: DisclosurePolicy,
}

// ---- the file as written -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    id: String,
    organisation: String,
    protocol: String,
    #[serde(default)]
    source: String,
    time_zone: Spanned<String>,
    office_hours: RawOfficeHours,
    #[serde(rename = "rule")]
    rules: Vec<RawRule>,
    #[serde(default)]
    sections: BTreeMap<Spanned<String>, RawSection>,
    retention: RawRetention,
    emergency: RawEmergency,
    outliers: Option<RawOutliers>,
    disclosure: Option<RawDisclosure>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisclosure {
    k: Option<Spanned<i64>>,
    k_findings: Option<Spanned<i64>>,
    dominance_n: Option<Spanned<i64>>,
    dominance_share: Option<Spanned<f64>>,
    merge_teams_below: Option<Spanned<i64>>,
    round_base: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOfficeHours {
    from: Spanned<String>,
    to: Spanned<String>,
    days: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    article: Spanned<String>,
    #[serde(default)]
    grace_days: Option<Spanned<i64>>,
    #[serde(default)]
    any_team_kinds: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    #[serde(default)]
    requires_big: bool,
    explained_by: Option<Spanned<Vec<String>>>,
    article: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    counted_from: Spanned<String>,
    article: String,
    closure: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    sections: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmergency {
    article: String,
    follow_up_days: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutliers {
    threshold: Spanned<f64>,
    min_history: Spanned<i64>,
    min_ratio: Option<Spanned<f64>>,
}

/// Turns byte offsets into `file:line` messages.
struct Located<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Located<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    fn err<T>(&self, span: &Spanned<T>, message: impl Into<String>) -> Error {
        Error::Policy {
            path: self.path.to_path_buf(),
            line: self.line(span.span().start),
            message: message.into(),
        }
    }
}

fn one_of(list: &[&str]) -> String {
    list.iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Policy::parse(path, &text)
    }

    /// Checks a policy given as text; `path` only names it in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Policy> {
        let at = Located { path, text };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| Error::Policy {
            path: PathBuf::from(path),
            line: e.span().map(|s| at.line(s.start)).unwrap_or(1),
            message: e.message().to_lowercase(),
        })?;

        let tz = raw.time_zone.get_ref();
        if tz.parse::<chrono_tz::Tz>().is_err() {
            return Err(at.err(
                &raw.time_zone,
                format!("time_zone '{tz}' is not an IANA zone name; write e.g. 'Europe/Amsterdam'"),
            ));
        }

        let office_hours = {
            let o = &raw.office_hours;
            let time = |s: &Spanned<String>| {
                NaiveTime::parse_from_str(s.get_ref(), "%H:%M").map_err(|_| {
                    at.err(
                        s,
                        format!(
                            "office hour '{}' is not a time; write it as 'HH:MM'",
                            s.get_ref()
                        ),
                    )
                })
            };
            let (from, to) = (time(&o.from)?, time(&o.to)?);
            if from >= to {
                return Err(at.err(
                    &o.to,
                    format!(
                        "office hours end '{}' is not after their start '{}'; make 'to' later than 'from'",
                        o.to.get_ref(),
                        o.from.get_ref()
                    ),
                ));
            }
            let mut days = Vec::new();
            for d in o.days.get_ref() {
                let day = d.parse::<Weekday>().map_err(|_| {
                    at.err(
                        &o.days,
                        format!("office day '{d}' is not a weekday; use 'mon', 'tue', ... 'sun'"),
                    )
                })?;
                days.push(day);
            }
            OfficeHours { from, to, days }
        };

        let mut rules: Vec<Rule> = Vec::new();
        for r in &raw.rules {
            let id = r.id.get_ref();
            if !STRUCTURAL_RULES.contains(&id.as_str()) && !ROLE_RULES.contains(&id.as_str()) {
                return Err(at.err(
                    &r.id,
                    format!(
                        "unknown rule '{id}'; use one of {}, {}",
                        one_of(&STRUCTURAL_RULES),
                        one_of(&ROLE_RULES)
                    ),
                ));
            }
            if rules.iter().any(|x| &x.id == id) {
                return Err(at.err(
                    &r.id,
                    format!("rule '{id}' is listed twice; keep one of them"),
                ));
            }
            if r.article.get_ref().trim().is_empty() {
                return Err(at.err(
                    &r.article,
                    format!("rule '{id}' cites no article; name the article that allows it"),
                ));
            }
            let grace_days = match &r.grace_days {
                None => 0,
                Some(g) if *g.get_ref() < 0 || *g.get_ref() > 3660 => {
                    return Err(at.err(
                        g,
                        format!(
                            "grace_days {} of rule '{id}' is out of range; use 0 to 3660 days",
                            g.get_ref()
                        ),
                    ))
                }
                Some(g) => *g.get_ref() as i32,
            };
            let any_team_kinds = match &r.any_team_kinds {
                None => Vec::new(),
                Some(k) if id != "replacement" => {
                    return Err(at.err(
                        k,
                        format!(
                        "any_team_kinds applies to rule 'replacement' only, not '{id}'; remove it"
                    ),
                    ))
                }
                Some(k) => {
                    for kind in k.get_ref() {
                        if !TEAM_KINDS.contains(&kind.as_str()) {
                            return Err(at.err(
                                k,
                                format!(
                                    "unknown team kind '{kind}'; use one of {}",
                                    one_of(&TEAM_KINDS)
                                ),
                            ));
                        }
                    }
                    k.get_ref().clone()
                }
            };
            rules.push(Rule {
                id: id.clone(),
                article: r.article.get_ref().clone(),
                grace_days,
                any_team_kinds,
                note: r.note.clone(),
            });
        }
        if rules.is_empty() {
            return Err(Error::Policy {
                path: path.to_path_buf(),
                line: 1,
                message: "the policy lists no [[rule]]; add at least 'direct_worker'".into(),
            });
        }

        let mut sections = BTreeMap::new();
        for (name, s) in &raw.sections {
            if !SECTIONS.contains(&name.get_ref().as_str()) {
                return Err(at.err(
                    name,
                    format!(
                        "unknown section '{}'; use one of {}",
                        name.get_ref(),
                        one_of(&SECTIONS)
                    ),
                ));
            }
            if let Some(by) = &s.explained_by {
                for r in by.get_ref() {
                    if !rules.iter().any(|x| &x.id == r) {
                        return Err(at.err(
                            by,
                            format!(
                                "section '{}' names rule '{r}', which the policy does not list; add a [[rule]] with id = '{r}' or remove it here",
                                name.get_ref()
                            ),
                        ));
                    }
                }
            }
            sections.insert(
                name.get_ref().clone(),
                SectionRule {
                    requires_big: s.requires_big,
                    explained_by: s.explained_by.as_ref().map(|b| b.get_ref().clone()),
                    article: s.article.clone(),
                },
            );
        }

        let retention = {
            let r = &raw.retention;
            let counted_from = match r.counted_from.get_ref().as_str() {
                "closure" => CountedFrom::Closure,
                "end_of_closure_year" => CountedFrom::EndOfClosureYear,
                "opening" => CountedFrom::Opening,
                other => {
                    return Err(at.err(
                        &r.counted_from,
                        format!("counted_from '{other}' is unknown; use 'closure', 'end_of_closure_year' or 'opening'"),
                    ))
                }
            };
            let span = |v: &Spanned<String>| {
                Span::parse(v.get_ref()).ok_or_else(|| {
                    at.err(
                        v,
                        format!(
                            "retention period '{}' is not a period; write a whole number and a unit: '15y', '3m', '6w' or '30d'",
                            v.get_ref()
                        ),
                    )
                })
            };
            let mut closure = BTreeMap::new();
            for (k, v) in &r.closure {
                if !CLOSURES.contains(&k.get_ref().as_str()) {
                    return Err(at.err(
                        k,
                        format!(
                            "unknown closure kind '{}'; use one of {}",
                            k.get_ref(),
                            one_of(&CLOSURES)
                        ),
                    ));
                }
                closure.insert(k.get_ref().clone(), span(v)?);
            }
            if let Some(missing) = CLOSURES.iter().find(|c| !closure.contains_key(**c)) {
                return Err(Error::Policy {
                    path: path.to_path_buf(),
                    line: at.line(r.counted_from.span().start),
                    message: format!(
                        "[retention.closure] has no period for '{missing}'; give every closure kind ({}) a period",
                        one_of(&CLOSURES)
                    ),
                });
            }
            let mut secs = BTreeMap::new();
            for (k, v) in &r.sections {
                if !SECTIONS.contains(&k.get_ref().as_str()) {
                    return Err(at.err(
                        k,
                        format!(
                            "unknown section '{}'; use one of {}",
                            k.get_ref(),
                            one_of(&SECTIONS)
                        ),
                    ));
                }
                secs.insert(k.get_ref().clone(), span(v)?);
            }
            Retention {
                counted_from,
                closure,
                sections: secs,
                article: r.article.clone(),
            }
        };

        let e = &raw.emergency;
        let follow = *e.follow_up_days.get_ref();
        if !(0..=366).contains(&follow) {
            return Err(at.err(
                &e.follow_up_days,
                format!("follow_up_days {follow} is out of range; use 0 to 366 days"),
            ));
        }
        let emergency = Emergency {
            article: e.article.clone(),
            follow_up_days: follow as i32,
        };

        let outliers = match &raw.outliers {
            None => Outliers {
                threshold: 3.5,
                min_history: 5,
                min_ratio: 1.5,
            },
            Some(o) => {
                let t = *o.threshold.get_ref();
                if !(t.is_finite() && t > 0.0) {
                    return Err(at.err(
                        &o.threshold,
                        format!("outlier threshold {t} must be a positive number, e.g. 3.5"),
                    ));
                }
                let m = *o.min_history.get_ref();
                if !(1..=10_000).contains(&m) {
                    return Err(at.err(
                        &o.min_history,
                        format!("min_history {m} is out of range; use 1 to 10000"),
                    ));
                }
                let min_ratio = match &o.min_ratio {
                    None => 1.5,
                    Some(r) if !(r.get_ref().is_finite() && *r.get_ref() >= 1.0) => {
                        return Err(at.err(
                            r,
                            format!(
                                "min_ratio {} must be a number of at least 1, e.g. 1.5",
                                r.get_ref()
                            ),
                        ))
                    }
                    Some(r) => *r.get_ref(),
                };
                Outliers {
                    threshold: t,
                    min_history: m as usize,
                    min_ratio,
                }
            }
        };

        let disclosure = {
            let d = crate::policy::Thresholds::default();
            let mut out = DisclosurePolicy {
                thresholds: d,
                merge_teams_below: 0,
                round_base: 0,
            };
            if let Some(r) = &raw.disclosure {
                let int = |v: &Option<Spanned<i64>>, name: &str, lo: i64, hi: i64, default: i64| {
                    match v {
                        None => Ok(default),
                        Some(x) if !(lo..=hi).contains(x.get_ref()) => Err(at.err(
                            x,
                            format!("{name} {} is out of range; use {lo} to {hi}", x.get_ref()),
                        )),
                        Some(x) => Ok(*x.get_ref()),
                    }
                };
                let k = int(&r.k, "k", 3, 1000, d.k as i64)? as usize;
                let kf = int(
                    &r.k_findings,
                    "k_findings",
                    k as i64,
                    1000,
                    d.k_findings.max(k) as i64,
                )? as usize;
                let n = int(&r.dominance_n, "dominance_n", 1, 3, d.dominance_n as i64)? as usize;
                let share = match &r.dominance_share {
                    None => d.dominance_share,
                    Some(x) if !(0.5..=1.0).contains(x.get_ref()) => {
                        return Err(at.err(
                            x,
                            format!(
                                "dominance_share {} is out of range; use 0.5 to 1.0",
                                x.get_ref()
                            ),
                        ))
                    }
                    Some(x) => *x.get_ref(),
                };
                out.thresholds = crate::policy::Thresholds {
                    k,
                    k_findings: kf,
                    dominance_n: n,
                    dominance_share: share,
                };
                out.merge_teams_below =
                    int(&r.merge_teams_below, "merge_teams_below", 0, 1000, 0)? as usize;
                out.round_base = int(&r.round_base, "round_base", 0, 100, 0)? as u64;
            }
            out
        };

        Ok(Policy {
            id: raw.id,
            organisation: raw.organisation,
            protocol: raw.protocol,
            source: raw.source,
            time_zone: tz.clone(),
            office_hours,
            rules,
            sections,
            retention,
            emergency,
            outliers,
            disclosure,
        })
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The article of a rule, or "" for an unknown one.
    pub fn article(&self, id: &str) -> &str {
        self.rule(id).map(|r| r.article.as_str()).unwrap_or("")
    }

    /// Whether `section` may be explained by `rule` under the section constraints (BIG is
    /// checked separately, per user).
    pub fn section_allows(&self, section: &str, rule: &str) -> bool {
        match self
            .sections
            .get(section)
            .and_then(|s| s.explained_by.as_ref())
        {
            Some(by) => by.iter().any(|r| r == rule),
            None => true,
        }
    }

    pub fn requires_big(&self, section: &str) -> bool {
        self.sections.get(section).is_some_and(|s| s.requires_big)
    }
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
