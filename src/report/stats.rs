//! The management page: anonymised statistics with disclosure control, self-contained HTML.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::json;

use crate::error::Result;
use crate::i18n::{all_texts, text, Lang};
use crate::period::Period;
use crate::policy::Policy;
use crate::report::charts;
use crate::report::page::render;
use crate::stats::release::{Release, StatRow, ALL, ORG};

const TEMPLATE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/stats.html"));

pub fn write_html(
    release: &Release,
    policy: &Policy,
    period: &Period,
    lang: Lang,
    w: &mut dyn Write,
) -> Result<()> {
    let t = |k: &str| text(lang, k);
    let totals: Vec<&StatRow> = release.teams.iter().filter(|r| r.month == ALL).collect();
    let org = totals
        .iter()
        .find(|r| r.group == ORG)
        .copied()
        .cloned()
        .unwrap_or_default();
    let teams: Vec<&StatRow> = totals.iter().filter(|r| r.group != ORG).copied().collect();
    let org_months: Vec<&StatRow> = release
        .teams
        .iter()
        .filter(|r| r.group == ORG && r.month != ALL)
        .collect();
    // Team x month matrix of coverage.
    let mut matrix: BTreeMap<&str, BTreeMap<&str, &StatRow>> = BTreeMap::new();
    for r in release.teams.iter().filter(|r| r.month != ALL) {
        matrix
            .entry(r.group.as_str())
            .or_default()
            .insert(r.month.as_str(), r);
    }
    // Teams first, the organisation last.
    let mut matrix: Vec<_> = matrix.into_iter().collect();
    matrix.sort_by_key(|(team, _)| (*team == ORG, *team));
    let matrix: Vec<_> = matrix
        .iter()
        .map(|(team, months)| {
            json!({
                "team": team,
                "cells": release.months.iter().map(|m| months.get(m.as_str()).and_then(|r| r.coverage_pct)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let team_labels: Vec<String> = teams.iter().map(|r| r.group.clone()).collect();
    // A chart only where something is published.
    let chart =
        |labels: &[String], values: Vec<Option<f64>>, name: &str, y: &str| -> Result<String> {
            if values.iter().all(Option::is_none) {
                Ok(String::new())
            } else {
                charts::published(labels, &values, name, y)
            }
        };
    let coverage_chart = chart(
        &team_labels,
        teams.iter().map(|r| r.coverage_pct).collect(),
        &t("coverage"),
        "%",
    )?;
    let month_labels: Vec<String> = org_months.iter().map(|r| r.month.clone()).collect();
    let unjustified_chart = chart(
        &month_labels,
        org_months.iter().map(|r| r.unjustified_per_1000).collect(),
        &t("stats_per_1000"),
        &t("stats_per_1000"),
    )?;
    let mut rules: BTreeMap<String, usize> = BTreeMap::new();
    for s in &release.log {
        *rules
            .entry(
                serde_json::to_value(s.rule)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            )
            .or_default() += 1;
    }
    let ctx = json!({
        "lang": lang.code(),
        "t": all_texts(lang),
        "version": env!("CARGO_PKG_VERSION"),
        "policy": policy,
        "period": period.label,
        "first_day": period.range.first.to_string(),
        "last_day": period.range.last.to_string(),
        "org": org,
        "teams": teams,
        "org_months": org_months,
        "months": release.months,
        "matrix": matrix,
        "roles": release.roles,
        "trend": release.trend,
        "concentration": release.concentration,
        "top_decile": release.top_decile_share_pct,
        "coverage_chart": coverage_chart,
        "unjustified_chart": unjustified_chart,
        "thresholds": policy.disclosure.thresholds,
        "merge_below": policy.disclosure.merge_teams_below,
        "rounded_to": release.rounded_to,
        "suppressed": release.log.len(),
        "rules": rules,
    });
    render("stats.html", TEMPLATE, &ctx, w)
}
