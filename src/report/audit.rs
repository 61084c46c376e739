//! The FG's audit report: one self-contained HTML page, Dutch by default, rendered from
//! `templates/audit.html` into any `Write`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use crate::audit::emergency_logins::EmergencyLogin;
use crate::audit::outliers::VolumeOutlier;
use crate::audit::review_cases::ReviewCase;
use crate::audit::summary::AuditSummary;
use crate::error::Result;
use crate::i18n::{all_texts, text, Lang};
use crate::period::Period;
use crate::policy::{CountedFrom, Policy};
use crate::report::charts;
use crate::report::page::{render, to_json};

const TEMPLATE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/audit.html"));

/// Everything the report shows.
pub struct ReportInput<'a> {
    pub policy: &'a Policy,
    pub policy_file: &'a Path,
    pub policy_sha256: &'a str,
    pub period: &'a Period,
    pub store_key_id: &'a str,
    pub summary: &'a AuditSummary,
    pub cases: &'a [ReviewCase],
    pub logins: &'a [EmergencyLogin],
    pub outliers: &'a [VolumeOutlier],
    pub names: &'a BTreeMap<String, String>,
    pub lang: Lang,
}

/// A share as a percentage, rounded down so that 99.96% never reads as 100%.
fn pct(x: f64) -> String {
    format!("{:.1}%", (x * 1000.0).floor() / 10.0)
}

fn fill(template: &str, pairs: &[(&str, String)]) -> String {
    pairs.iter().fold(template.to_string(), |s, (k, v)| {
        s.replace(&format!("{{{k}}}"), v)
    })
}

fn coverage_json(c: &crate::audit::summary::Coverage, lang: Lang) -> Value {
    let mut v = to_json(c);
    if c.group == "-" {
        v["group"] = json!(text(lang, "no_role"));
    }
    v["coverage_pct"] = json!(pct(c.coverage));
    v["first_coverage_pct"] = json!(pct(c.first_coverage));
    v
}

/// Renders the report.
pub fn write_html(input: &ReportInput, w: &mut dyn Write) -> Result<()> {
    let lang = input.lang;
    let t = |k: &str| text(lang, k);
    let p = input.policy;
    let s = input.summary;
    let summary_text = fill(
        &t("summary_text"),
        &[
            ("events", s.totals.events.to_string()),
            ("justified", s.totals.justified.to_string()),
            ("coverage", pct(s.totals.coverage)),
            ("unjustified", s.totals.unjustified.to_string()),
            ("emergency", s.totals.emergency.to_string()),
        ],
    );
    let ctx = json!({
        "lang": lang.code(),
        "t": all_texts(lang),
        "version": env!("CARGO_PKG_VERSION"),
        "policy": p,
        "period": input.period.label,
        "first_day": input.period.range.first.to_string(),
        "last_day": input.period.range.last.to_string(),
        "totals": coverage_json(&s.totals, lang),
        "summary_text": summary_text,
        "teams": s.teams.iter().map(|c| coverage_json(c, lang)).collect::<Vec<_>>(),
        "reasons": labelled(&s.reasons, lang, |r| format!("reason_{}", r.reason)),
        "months": s.months,
        "rules": labelled(&s.rules, lang, |r| format!("rule_{}", r.rule)),
        "cases": input.cases,
        "logins": logins_json(input),
        "signals": labelled(&s.signals, lang, |x| format!("signal_{}", x.signal)),
        "outliers": outliers_json(input),
        "outliers_text": fill(&t("outliers_text"), &[("threshold", p.outliers.threshold.to_string())]),
        "charts": charts::Charts::draw(s, p, lang)?,
        "policy_rules": labelled(&p.rules, lang, |r| format!("rule_{}", r.kind.name())),
        "policy_sections": sections_json(p, lang),
        "retention_text": retention_text(p),
        "office_hours_text": office_hours_text(p, lang),
        "policy_file": input.policy_file.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default(),
        "policy_sha256": input.policy_sha256,
        "key_id": input.store_key_id,
    });
    render("audit.html", TEMPLATE, &ctx, w)
}

/// Each row as JSON with its `label`: the text of the key `key` gives for it.
fn labelled<T: serde::Serialize>(rows: &[T], lang: Lang, key: impl Fn(&T) -> String) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let mut v = to_json(r);
            v["label"] = json!(text(lang, &key(r)));
            v
        })
        .collect()
}

/// An employee's display name, empty where the staff table gives none.
fn display_name(input: &ReportInput, user: &str) -> String {
    input.names.get(user).cloned().unwrap_or_default()
}

/// The emergency logins with the employee's name and the client's pseudonym shortened.
fn logins_json(input: &ReportInput) -> Vec<Value> {
    input
        .logins
        .iter()
        .map(|l| {
            let mut v = to_json(l);
            v["display_name"] = json!(display_name(input, &l.user_id));
            v["client_short"] = json!(l.client_pid.chars().take(14).collect::<String>() + "…");
            v
        })
        .collect()
}

/// The flagged volume outliers with the employee's name and the scores to one decimal.
fn outliers_json(input: &ReportInput) -> Vec<Value> {
    input
        .outliers
        .iter()
        .filter(|o| o.flagged)
        .map(|o| {
            let mut v = to_json(o);
            v["display_name"] = json!(display_name(input, &o.user_id));
            v["own_z"] = json!(o.own_z.map(|z| format!("{z:.1}")).unwrap_or("-".into()));
            v["peer_z"] = json!(o.peer_z.map(|z| format!("{z:.1}")).unwrap_or("-".into()));
            v
        })
        .collect()
}

/// The policy's sections with what each requires.
fn sections_json(p: &Policy, lang: Lang) -> Vec<Value> {
    let t = |k: &str| text(lang, k);
    p.sections
        .iter()
        .map(|(name, sec)| {
            let mut req = Vec::new();
            if sec.requires_big {
                req.push(t("big_required"));
            }
            if let Some(by) = &sec.explained_by {
                let names: Vec<&str> = by.iter().map(|k| k.name()).collect();
                req.push(format!("{} {}", t("only_by"), names.join(", ")));
            }
            json!({"name": name, "requirement": req.join("; "), "article": sec.article})
        })
        .collect()
}

/// The retention periods as the policy file writes them.
fn retention_text(p: &Policy) -> String {
    let from = match p.retention.counted_from {
        CountedFrom::Closure => "closure",
        CountedFrom::EndOfClosureYear => "end_of_closure_year",
        CountedFrom::Opening => "opening",
    };
    let list = |spans: &std::collections::BTreeMap<String, crate::policy::Span>| {
        spans
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sections = if p.retention.sections.is_empty() {
        String::new()
    } else {
        format!("; {}", list(&p.retention.sections))
    };
    format!(
        "{}; counted_from = {from}{sections}",
        list(&p.retention.closure)
    )
}

/// The office hours and days in the report's language.
fn office_hours_text(p: &Policy, lang: Lang) -> String {
    let day_names: Vec<String> = text(lang, "weekdays")
        .split(',')
        .map(str::to_string)
        .collect();
    format!(
        "{}–{}, {}",
        p.office_hours.from.format("%H:%M"),
        p.office_hours.to.format("%H:%M"),
        p.office_hours
            .days
            .iter()
            .map(|d| day_names
                .get(d.num_days_from_monday() as usize)
                .cloned()
                .expect("templates/i18n.toml names seven weekdays"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
