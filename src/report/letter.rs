//! The resident's overview of who looked at their dossier (Leiden art. 15; NEN 7513's client
//! view): organisation, team and role, when, for what in plain words, and whether the emergency
//! login was used. Staff names only on request. Letter-ready HTML that prints on A4.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde::Serialize;
use serde_json::json;

use crate::audit::verdict_row::VerdictRow;
use crate::csv_output::CsvRow;
use crate::engine::input::AuditTables;
use crate::engine::vocab::Verdict;
use crate::error::Result;
use crate::i18n::{all_texts, text, Lang};
use crate::period::DayRange;
use crate::policy::Policy;
use crate::report::page::{render, to_json};

const TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/templates/letter.html"
));

/// One access as the resident reads it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LetterLine {
    /// The day, ISO 8601 (`YYYY-MM-DD`); the letter shows it as `DD-MM-YYYY`.
    pub date: String,
    pub time: String,
    pub organisation: String,
    pub team: String,
    pub role: String,
    pub purpose: String,
    pub emergency_login: bool,
    /// Empty unless names were asked for.
    pub name: String,
}

impl CsvRow for LetterLine {
    const COLUMNS: &'static [&'static str] = &[
        "date",
        "time",
        "organisation",
        "team",
        "role",
        "purpose",
        "emergency_login",
        "name",
    ];
}

pub struct Letter {
    pub lines: Vec<LetterLine>,
    pub organisation: String,
    pub range: DayRange,
    pub with_names: bool,
    pub lang: Lang,
}

impl Letter {
    pub fn build(
        rows: &[VerdictRow],
        tables: &AuditTables,
        policy: &Policy,
        range: DayRange,
        with_names: bool,
        lang: Lang,
    ) -> Result<Letter> {
        let t = |k: &str| text(lang, k);
        let zone = policy.time_zone;
        let teams = &tables.teams;
        let (ids, names, orgs) = (
            teams.column("team_id")?.str()?,
            teams.column("name")?.str()?,
            teams.column("organisation")?.str()?,
        );
        let mut team_info: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
        for i in 0..teams.height() {
            if let (Some(id), Some(n), Some(o)) = (ids.get(i), names.get(i), orgs.get(i)) {
                team_info.insert(id, (n, o));
            }
        }
        let people = crate::audit::findings::display_names(&tables.staff)?;
        let lines = rows
            .iter()
            .map(|r| {
                let local = r.event_time.with_timezone(&zone);
                let team = r.user_team.as_deref().unwrap_or("");
                let (team_name, org) = team_info
                    .get(team)
                    .copied()
                    .unwrap_or(("", policy.organisation.as_str()));
                let purpose = match (Verdict::parse(&r.verdict), r.rule.as_deref()) {
                    (Some(Verdict::Emergency), _) => t("purpose_emergency"),
                    (Some(Verdict::Unjustified), _) => t("purpose_unjustified"),
                    (_, Some(rule)) => t(&format!("purpose_{rule}")),
                    _ => String::new(),
                };
                LetterLine {
                    date: local.format("%Y-%m-%d").to_string(),
                    time: local.format("%H:%M").to_string(),
                    organisation: org.to_string(),
                    team: if team_name.is_empty() {
                        t("unknown_team")
                    } else {
                        team_name.to_string()
                    },
                    role: r
                        .user_role
                        .as_deref()
                        .map(|x| t(&format!("role_{x}")))
                        .unwrap_or_else(|| t("no_role")),
                    purpose,
                    emergency_login: r.emergency,
                    name: if with_names {
                        people.get(&r.user_id).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    },
                }
            })
            .collect();
        // Without --from/--to the letter covers the first to the last access.
        let range = if range == crate::investigate::model::all_days() {
            let days: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.local_date).collect();
            match (days.iter().min(), days.iter().max()) {
                (Some(&first), Some(&last)) => DayRange { first, last },
                _ => range,
            }
        } else {
            range
        };
        Ok(Letter {
            lines,
            organisation: policy.organisation.clone(),
            range,
            with_names,
            lang,
        })
    }

    pub fn write_html(&self, w: &mut dyn Write) -> Result<()> {
        let teams: BTreeSet<&str> = self.lines.iter().map(|l| l.team.as_str()).collect();
        let t = |k: &str| text(self.lang, k);
        let intro = t("letter_intro")
            .replace("{from}", &self.range.first.format("%d-%m-%Y").to_string())
            .replace("{to}", &self.range.last.format("%d-%m-%Y").to_string())
            .replace("{n}", &self.lines.len().to_string())
            .replace("{teams}", &teams.len().to_string());
        let ctx = json!({
            "lang": self.lang.code(),
            "t": all_texts(self.lang),
            "organisation": self.organisation,
            "intro": intro,
            "lines": self
                .lines
                .iter()
                .map(|l| {
                    let mut v = to_json(l);
                    v["date"] = json!(dutch_date(&l.date));
                    v
                })
                .collect::<Vec<_>>(),
            "with_names": self.with_names,
            "several_organisations": self
                .lines
                .iter()
                .map(|l| l.organisation.as_str())
                .collect::<BTreeSet<_>>()
                .len()
                > 1,
            "emergencies": self.lines.iter().filter(|l| l.emergency_login).count(),
        });
        render("letter.html", TEMPLATE, &ctx, w)
    }
}

/// An ISO day (`YYYY-MM-DD`) as a Dutch letter writes it (`DD-MM-YYYY`).
fn dutch_date(iso: &str) -> String {
    match (iso.get(..4), iso.get(5..7), iso.get(8..10)) {
        (Some(y), Some(m), Some(d)) => format!("{d}-{m}-{y}"),
        _ => iso.to_string(),
    }
}
