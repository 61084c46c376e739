//! Reading a policy file: the file as written (`Raw*`), then each part checked in a step of
//! its own, with errors that name the file, the line and the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::policy::rule::{Role, Rule, RuleKind, SectionRule};
use crate::policy::{
    CountedFrom, DisclosurePolicy, Emergency, OfficeHours, Outliers, Policy, Retention, Span,
    Thresholds, CLOSURES, SECTIONS, TEAM_KINDS,
};

/// Checks a policy given as text; `path` only names it in messages.
pub(super) fn parse(path: &Path, text: &str) -> Result<Policy> {
    let at = Located { path, text };
    let raw: RawPolicy = toml::from_str(text).map_err(|e| Error::Policy {
        path: PathBuf::from(path),
        line: e.span().map(|s| at.line(s.start)).unwrap_or(1),
        message: e.message().to_lowercase(),
    })?;
    let id = policy_id(&at, &raw.id)?;
    let time_zone = time_zone(&at, &raw.time_zone)?;
    let office_hours = office_hours(&at, &raw.office_hours)?;
    let rules = rules(&at, &raw.rules)?;
    let sections = sections(&at, &raw.sections, &rules)?;
    let retention = retention(&at, &raw.retention)?;
    let emergency = emergency(&at, &raw.emergency)?;
    let outliers = outliers(&at, raw.outliers.as_ref())?;
    let disclosure = disclosure(&at, raw.disclosure.as_ref())?;
    Ok(Policy {
        id,
        organisation: raw.organisation,
        protocol: raw.protocol,
        source: raw.source,
        time_zone,
        office_hours,
        rules,
        sections,
        retention,
        emergency,
        outliers,
        disclosure,
    })
}

/// The policy's id: it names the output folders (`audit-<id>-<period>`), so it is a plain name
/// of lower-case letters, digits, `-` and `_`, never a path.
fn policy_id(at: &Located, id: &Spanned<String>) -> Result<String> {
    let name = id.get_ref();
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !plain {
        return Err(at.err(
            id,
            format!(
                "id '{}' is not a plain name; use lower-case letters, digits, '-' and '_' (it names the output folders)",
                name.escape_debug()
            ),
        ));
    }
    Ok(name.clone())
}

/// The policy's time zone, an IANA zone name.
fn time_zone(at: &Located, zone: &Spanned<String>) -> Result<Tz> {
    let name = zone.get_ref();
    name.parse::<Tz>().map_err(|_| {
        at.err(
            zone,
            format!("time_zone '{name}' is not an IANA zone name; write e.g. 'Europe/Amsterdam'"),
        )
    })
}

/// The office hours: a start before an end, and weekdays.
fn office_hours(at: &Located, o: &RawOfficeHours) -> Result<OfficeHours> {
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
    Ok(OfficeHours { from, to, days })
}

/// The rules in the policy's order: known ids, each once, each citing an article.
fn rules(at: &Located, raw: &[RawRule]) -> Result<Vec<Rule>> {
    let mut rules: Vec<Rule> = Vec::new();
    for r in raw {
        let id = r.id.get_ref();
        let kind = RuleKind::parse(id).ok_or_else(|| {
            let structural = RuleKind::STRUCTURAL.map(RuleKind::name);
            let roles = Role::ALL.map(Role::name);
            at.err(
                &r.id,
                format!(
                    "unknown rule '{id}'; use one of {}, {}",
                    one_of(&structural),
                    one_of(&roles)
                ),
            )
        })?;
        if rules.iter().any(|x| x.kind == kind) {
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
            Some(k) if kind != RuleKind::Replacement => {
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
            kind,
            article: r.article.get_ref().clone(),
            grace_days,
            any_team_kinds,
            note: r.note.clone(),
        });
    }
    if rules.is_empty() {
        return Err(Error::Policy {
            path: at.path.to_path_buf(),
            line: 1,
            message: "the policy lists no [[rule]]; add at least 'direct_worker'".into(),
        });
    }
    Ok(rules)
}

/// The sections' requirements, each naming only rules the policy lists.
fn sections(
    at: &Located,
    raw: &BTreeMap<Spanned<String>, RawSection>,
    rules: &[Rule],
) -> Result<BTreeMap<String, SectionRule>> {
    let mut sections = BTreeMap::new();
    for (name, s) in raw {
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
        let explained_by = match &s.explained_by {
            None => None,
            Some(by) => Some(
                by.get_ref()
                    .iter()
                    .map(|r| {
                        rules
                            .iter()
                            .map(|x| x.kind)
                            .find(|k| k.name() == r)
                            .ok_or_else(|| {
                                at.err(
                                    by,
                                    format!(
                                        "section '{}' names rule '{r}', which the policy does not list; add a [[rule]] with id = '{r}' or remove it here",
                                        name.get_ref()
                                    ),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        sections.insert(
            name.get_ref().clone(),
            SectionRule {
                requires_big: s.requires_big,
                explained_by,
                article: s.article.clone(),
            },
        );
    }
    Ok(sections)
}

/// The retention periods: one per closure kind, and sections with a period of their own.
fn retention(at: &Located, r: &RawRetention) -> Result<Retention> {
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
            path: at.path.to_path_buf(),
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
    Ok(Retention {
        counted_from,
        closure,
        sections: secs,
        article: r.article.clone(),
    })
}

/// The emergency-login settings.
fn emergency(at: &Located, e: &RawEmergency) -> Result<Emergency> {
    let follow = *e.follow_up_days.get_ref();
    if !(0..=366).contains(&follow) {
        return Err(at.err(
            &e.follow_up_days,
            format!("follow_up_days {follow} is out of range; use 0 to 366 days"),
        ));
    }
    Ok(Emergency {
        article: e.article.clone(),
        follow_up_days: follow as i32,
    })
}

/// The volume-outlier settings, or their defaults.
fn outliers(at: &Located, raw: Option<&RawOutliers>) -> Result<Outliers> {
    Ok(match raw {
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
    })
}

/// The disclosure-control settings, or their defaults.
fn disclosure(at: &Located, raw: Option<&RawDisclosure>) -> Result<DisclosurePolicy> {
    let d = Thresholds::default();
    let mut out = DisclosurePolicy {
        thresholds: d,
        merge_teams_below: 0,
        round_base: 0,
    };
    if let Some(r) = raw {
        let int = |v: &Option<Spanned<i64>>, name: &str, lo: i64, hi: i64, default: i64| match v {
            None => Ok(default),
            Some(x) if !(lo..=hi).contains(x.get_ref()) => Err(at.err(
                x,
                format!("{name} {} is out of range; use {lo} to {hi}", x.get_ref()),
            )),
            Some(x) => Ok(*x.get_ref()),
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
        out.thresholds = Thresholds {
            k,
            k_findings: kf,
            dominance_n: n,
            dominance_share: share,
        };
        out.merge_teams_below =
            int(&r.merge_teams_below, "merge_teams_below", 0, 1000, 0)? as usize;
        out.round_base = int(&r.round_base, "round_base", 0, 100, 0)? as u64;
    }
    Ok(out)
}

fn one_of(list: &[&str]) -> String {
    list.iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The policy file as written, with the places of the values that are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    id: Spanned<String>,
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
