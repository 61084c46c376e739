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
    let name = |u: &str| input.names.get(u).cloned().unwrap_or_default();

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
    let reasons: Vec<Value> = s
        .reasons
        .iter()
        .map(|r| {
            let mut v = to_json(r);
            v["label"] = json!(t(&format!("reason_{}", r.reason)));
            v
        })
        .collect();
    let rules: Vec<Value> = s
        .rules
        .iter()
        .map(|r| {
            let mut v = to_json(r);
            v["label"] = json!(t(&format!("rule_{}", r.rule)));
            v
        })
        .collect();
    let signals: Vec<Value> = s
        .signals
        .iter()
        .map(|x| {
            let mut v = to_json(x);
            v["label"] = json!(t(&format!("signal_{}", x.signal)));
            v
        })
        .collect();
    let logins: Vec<Value> = input
        .logins
        .iter()
        .map(|l| {
            let mut v = to_json(l);
            v["display_name"] = json!(name(&l.user_id));
            v["client_short"] = json!(l.client_pid.chars().take(14).collect::<String>() + "…");
            v
        })
        .collect();
    let outliers: Vec<Value> = input
        .outliers
        .iter()
        .filter(|o| o.flagged)
        .map(|o| {
            let mut v = to_json(o);
            v["display_name"] = json!(name(&o.user_id));
            v["own_z"] = json!(o.own_z.map(|z| format!("{z:.1}")).unwrap_or("-".into()));
            v["peer_z"] = json!(o.peer_z.map(|z| format!("{z:.1}")).unwrap_or("-".into()));
            v
        })
        .collect();
    let policy_rules: Vec<Value> = p
        .rules
        .iter()
        .map(|r| {
            let mut v = to_json(r);
            v["label"] = json!(t(&format!("rule_{}", r.kind.name())));
            v
        })
        .collect();
    let policy_sections: Vec<Value> = p
        .sections
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
        .collect();
    let from = match p.retention.counted_from {
        CountedFrom::Closure => "closure",
        CountedFrom::EndOfClosureYear => "end_of_closure_year",
        CountedFrom::Opening => "opening",
    };
    let retention_text = format!(
        "{}; counted_from = {from}{}",
        p.retention
            .closure
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        if p.retention.sections.is_empty() {
            String::new()
        } else {
            format!(
                "; {}",
                p.retention
                    .sections
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let day_names: Vec<String> = t("weekdays").split(',').map(str::to_string).collect();
    let office_hours_text = format!(
        "{}–{}, {}",
        p.office_hours.from.format("%H:%M"),
        p.office_hours.to.format("%H:%M"),
        p.office_hours
            .days
            .iter()
            .map(|d| day_names
                .get(d.num_days_from_monday() as usize)
                .cloned()
                .unwrap_or_default())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let charts = charts::Charts::draw(s, p, lang)?;

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
        "reasons": reasons,
        "months": s.months,
        "rules": rules,
        "cases": input.cases,
        "logins": logins,
        "signals": signals,
        "outliers": outliers,
        "outliers_text": fill(&t("outliers_text"), &[("threshold", p.outliers.threshold.to_string())]),
        "charts": charts,
        "policy_rules": policy_rules,
        "policy_sections": policy_sections,
        "retention_text": retention_text,
        "office_hours_text": office_hours_text,
        "policy_file": input.policy_file.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default(),
        "policy_sha256": input.policy_sha256,
        "key_id": input.store_key_id,
    });
    render("audit.html", TEMPLATE, &ctx, w)
}
