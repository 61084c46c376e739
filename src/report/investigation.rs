//! The investigation page: one employee, one dossier, one day or a search, with the events day
//! by day, their verdicts and signals, the employee's usual pattern and a timeline chart.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde_json::{json, Value};

use crate::engine::vocab::Verdict;
use crate::error::Result;
use crate::i18n::{all_texts, text, Lang};
use crate::investigate::model::{timeline, EventLine, Subject, UserPattern};
use crate::period::DayRange;
use crate::policy::Policy;
use crate::report::charts;
use crate::report::page::{render, to_json};

const TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/templates/investigation.html"
));

pub struct Page<'a> {
    pub subject: &'a Subject,
    pub policy: &'a Policy,
    pub range: DayRange,
    pub lines: &'a [EventLine],
    pub pattern: Option<&'a UserPattern>,
    pub key_id: &'a str,
    pub lang: Lang,
}

/// Events grouped by one key (client or user), with counts.
fn groups(lines: &[EventLine], key: impl Fn(&EventLine) -> String) -> Vec<Value> {
    let mut by: BTreeMap<String, Vec<&EventLine>> = BTreeMap::new();
    for l in lines {
        by.entry(key(l)).or_default().push(l);
    }
    let mut by: Vec<(String, Vec<&EventLine>)> = by.into_iter().collect();
    // Findings first, then by number of accesses.
    let findings = |v: &[&EventLine]| {
        v.iter()
            .filter(|l| l.verdict != Verdict::Justified.name())
            .count()
    };
    by.sort_by(|a, b| {
        findings(&b.1)
            .cmp(&findings(&a.1))
            .then(b.1.len().cmp(&a.1.len()))
            .then(a.0.cmp(&b.0))
    });
    by.into_iter()
        .map(|(k, v)| {
            let days: BTreeSet<&str> = v
                .iter()
                .map(|l| l.local_time.get(..10).unwrap_or(""))
                .collect();
            let signals: BTreeSet<&str> = v
                .iter()
                .flat_map(|l| l.signals.split(';'))
                .filter(|s| !s.is_empty() && *s != "first_access")
                .collect();
            json!({
                "key": k,
                "name": v[0].display_name,
                "team": v[0].user_team,
                "role": v[0].user_role,
                "dossier_team": v[0].dossier_team,
                "events": v.len(),
                "days": days.len(),
                "unjustified": v.iter().filter(|l| l.verdict == Verdict::Unjustified.name()).count(),
                "emergency": v.iter().filter(|l| l.verdict == Verdict::Emergency.name()).count(),
                "signals": signals.into_iter().collect::<Vec<_>>().join(", "),
            })
        })
        .collect()
}

impl Page<'_> {
    pub fn write_html(&self, w: &mut dyn Write) -> Result<()> {
        let t = |k: &str| text(self.lang, k);
        let (title, subject) = match self.subject {
            Subject::User(u) => (
                t("inv_user"),
                format!(
                    "{u} {}",
                    self.lines
                        .first()
                        .map(|l| l.display_name.as_str())
                        .unwrap_or("")
                ),
            ),
            Subject::Client(c) | Subject::Resident { client_pid: c, .. } => {
                (t("inv_client"), c.clone())
            }
            Subject::Day(d) => (t("inv_day"), d.to_string()),
            Subject::Search(s) => (
                t("inv_search"),
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_object().cloned())
                    .map(|o| {
                        o.iter()
                            .filter(|(_, v)| !v.is_null())
                            .map(|(k, v)| format!("{k} = {}", v.as_str().unwrap_or("")))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
            ),
        };
        let by_client = matches!(self.subject, Subject::User(_) | Subject::Search(_));
        let grouped = if by_client {
            groups(self.lines, |l| l.client_pid.clone())
        } else {
            groups(self.lines, |l| l.user_id.clone())
        };
        let days = timeline(self.lines);
        let labels: Vec<String> = days
            .iter()
            .map(|d| d.day.get(5..).unwrap_or("").to_string())
            .collect();
        let j: Vec<usize> = days.iter().map(|d| d.justified).collect();
        let u: Vec<usize> = days.iter().map(|d| d.unjustified).collect();
        let e: Vec<usize> = days.iter().map(|d| d.emergency).collect();
        let chart = if days.len() > 1 {
            charts::timeline(&labels, &j, &u, &e, self.lang)?
        } else {
            String::new()
        };
        let count = |v: &str| self.lines.iter().filter(|l| l.verdict == v).count();
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                let mut v = to_json(l);
                v["verdict_label"] = json!(t(&format!("verdict_{}", l.verdict)));
                v["reason_label"] = if l.reason.is_empty() {
                    json!("")
                } else {
                    json!(t(&format!("reason_{}", l.reason)))
                };
                v["rule_label"] = if l.rule.is_empty() {
                    json!("")
                } else {
                    json!(t(&format!("rule_{}", l.rule)))
                };
                v["day"] = json!(l.local_time.get(..10).unwrap_or(""));
                v["time"] = json!(l.local_time.get(11..16).unwrap_or(""));
                v
            })
            .collect();
        let ctx = json!({
            "lang": self.lang.code(),
            "t": all_texts(self.lang),
            "version": env!("CARGO_PKG_VERSION"),
            "title": title,
            "subject": subject,
            "policy": self.policy,
            "first_day": self.range.first.to_string(),
            "last_day": self.range.last.to_string(),
            "events": self.lines.len(),
            "justified": count(Verdict::Justified.name()),
            "unjustified": count(Verdict::Unjustified.name()),
            "emergency": count(Verdict::Emergency.name()),
            "pattern": self.pattern,
            "chart": chart,
            "by_client": by_client,
            "groups": grouped,
            "lines": lines,
            "key_id": self.key_id,
        });
        render("investigation.html", TEMPLATE, &ctx, w)
    }
}
