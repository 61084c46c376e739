//! `generate`: a synthetic municipality with injected, labelled misuse, written as CSV exports.

pub mod activity;
pub mod org;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Europe::Amsterdam;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::contract::Contract;
use crate::error::{Error, Result};
use crate::source_profile::SourceProfile;
use activity::Access;
use org::Org;

/// The profile the Dutch export is written in: the generator inverts its mappings, so the
/// export and the profile cannot drift apart.
pub const EXPORT_PROFILE: &str = include_str!("../../schemas/profiles/zaaksysteem-nl.toml");
const SOURCE: &str = "suite4sd-voorbeeldstad";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// 3 area teams, ~40 accounts, ~500 clients, ~45,000 events over a year.
    Small,
    /// 10 area teams, ~80 accounts, ~5,000 clients, ~190,000 events over a year.
    Medium,
    /// 56 area teams, ~380 accounts, ~28,000 clients, ~1 million events (benchmarks).
    Large,
    /// 580 area teams, ~3,500 accounts, ~290,000 clients, ~10 million events (benchmarks).
    Huge,
}

#[derive(Debug, Clone)]
pub struct GenerateConfig {
    pub out: PathBuf,
    pub seed: u64,
    pub size: Size,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct GenerateSummary {
    pub out: PathBuf,
    pub teams: usize,
    pub accounts: usize,
    pub clients: usize,
    pub cases: usize,
    pub events: usize,
    pub labelled: BTreeMap<&'static str, usize>,
}

impl fmt::Display for GenerateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "wrote {}: {} teams, {} accounts, {} clients, {} cases, {} events",
            self.out.display(),
            self.teams,
            self.accounts,
            self.clients,
            self.cases,
            self.events
        )?;
        write!(f, "labelled:")?;
        for (k, n) in &self.labelled {
            write!(f, " {k}={n}")?;
        }
        Ok(())
    }
}

pub fn run(config: &GenerateConfig) -> Result<GenerateSummary> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let start =
        NaiveDate::from_ymd_opt(2025, 10, 1).ok_or_else(|| Error::Invalid("bad date".into()))?;
    let end =
        NaiveDate::from_ymd_opt(2026, 9, 30).ok_or_else(|| Error::Invalid("bad date".into()))?;
    let (areas, clients) = match config.size {
        Size::Small => (3, 500),
        Size::Medium => (10, 5000),
        Size::Large => (56, 28_000),
        Size::Huge => (580, 290_000),
    };
    let mut org = Org::build(&mut rng, areas, clients, start, end);
    let mut accesses = activity::inject(&mut org, &mut rng);
    accesses.extend(activity::routine(&org, &mut rng));
    accesses.sort_by_key(|a| (a.time, a.user, a.client));

    let out = &config.out;
    for dir in ["reference", "canonical", "export-nl"] {
        std::fs::create_dir_all(out.join(dir)).map_err(|e| Error::io(out.join(dir), e))?;
    }
    write_reference(&org, &out.join("reference"))?;
    write_canonical_log(&org, &accesses, &out.join("canonical/access_log.csv"))?;
    write_dutch_log(
        &org,
        &accesses,
        &out.join(format!("export-nl/Logboek_{start}_{end}.csv")),
    )?;
    let labelled = write_labels(&org, &accesses, &out.join("labels.csv"))?;
    Ok(GenerateSummary {
        out: out.clone(),
        teams: org.teams.len(),
        accounts: org.people.len(),
        clients: org.clients.len(),
        cases: org.cases.len(),
        events: accesses.len(),
        labelled,
    })
}

fn event_id(i: usize) -> String {
    format!("EV{:08}", i + 1)
}

fn csv_writer(path: &Path) -> Result<csv::Writer<std::fs::File>> {
    csv::WriterBuilder::new()
        .from_path(path)
        .map_err(|e| Error::input(path, e.to_string()))
}

fn write_rows(path: &Path, header: &[&str], rows: Vec<Vec<String>>) -> Result<()> {
    let mut w = csv_writer(path)?;
    let err = |e: csv::Error| Error::input(path, e.to_string());
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn write_reference(org: &Org, dir: &Path) -> Result<()> {
    write_rows(
        &dir.join("teams.csv"),
        &["team_id", "name", "kind", "organisation"],
        org.teams
            .iter()
            .map(|t| {
                vec![
                    t.id.clone(),
                    t.name.clone(),
                    t.kind.into(),
                    org::ORGANISATION.into(),
                ]
            })
            .collect(),
    )?;
    write_rows(
        &dir.join("staff.csv"),
        &[
            "user_id",
            "display_name",
            "role",
            "team_id",
            "valid_from",
            "valid_to",
            "big_registered",
            "person_id",
            "surname",
            "address_key",
        ],
        org.roles
            .iter()
            .map(|r| {
                let p = &org.people[r.user];
                vec![
                    p.user_id.clone(),
                    p.name.clone(),
                    r.role.into(),
                    org.teams[r.team].id.clone(),
                    r.from.to_string(),
                    date(r.to),
                    r.big.to_string(),
                    p.bsn.clone(),
                    p.surname.clone(),
                    p.address.clone(),
                ]
            })
            .collect(),
    )?;
    write_rows(
        &dir.join("clients.csv"),
        &["client_id", "surname", "address_key", "restricted"],
        org.clients
            .iter()
            .map(|c| {
                vec![
                    c.bsn.clone(),
                    c.surname.clone(),
                    c.address.clone(),
                    c.restricted.to_string(),
                ]
            })
            .collect(),
    )?;
    write_rows(
        &dir.join("cases.csv"),
        &[
            "case_id",
            "client_id",
            "team_id",
            "opened",
            "closed",
            "closure",
            "domestic_violence",
        ],
        org.cases
            .iter()
            .map(|c| {
                vec![
                    c.id.clone(),
                    org.clients[c.client].bsn.clone(),
                    org.teams[c.team].id.clone(),
                    c.opened.to_string(),
                    date(c.closed),
                    c.closure.unwrap_or("").into(),
                    c.dv.to_string(),
                ]
            })
            .collect(),
    )?;
    write_rows(
        &dir.join("assignments.csv"),
        &["case_id", "user_id", "relation", "valid_from", "valid_to"],
        org.assignments
            .iter()
            .map(|a| {
                vec![
                    org.cases[a.case].id.clone(),
                    org.people[a.user].user_id.clone(),
                    a.relation.into(),
                    a.from.to_string(),
                    date(a.to),
                ]
            })
            .collect(),
    )?;
    write_rows(
        &dir.join("complaints.csv"),
        &[
            "complaint_id",
            "client_id",
            "handler_user_id",
            "opened",
            "closed",
        ],
        org.complaints
            .iter()
            .map(|k| {
                vec![
                    k.id.clone(),
                    org.clients[k.client].bsn.clone(),
                    org.people[k.handler].user_id.clone(),
                    k.opened.to_string(),
                    date(k.closed),
                ]
            })
            .collect(),
    )
}

/// The contract's access-log values of one access, in contract column order.
fn log_values(org: &Org, i: usize, a: &Access) -> Vec<String> {
    let local = Amsterdam
        .from_local_datetime(&a.time)
        .earliest()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_default();
    let user = &org.people[a.user].user_id;
    vec![
        event_id(i),
        local,
        user.clone(),
        a.action.into(),
        org.clients[a.client].bsn.clone(),
        a.section.into(),
        a.emergency.to_string(),
        a.reason.clone().unwrap_or_default(),
        a.outcome.to_string(),
        SOURCE.into(),
        if a.time.and_utc().timestamp() % 20 == 0 {
            String::new()
        } else {
            format!("WS-{}", &user[2..])
        },
    ]
}

fn write_canonical_log(org: &Org, accesses: &[Access], path: &Path) -> Result<()> {
    let contract = Contract::load()?;
    let header: Vec<&str> = contract
        .events()
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    write_rows(
        path,
        &header,
        accesses
            .iter()
            .enumerate()
            .map(|(i, a)| log_values(org, i, a))
            .collect(),
    )
}

/// The same log as the case system's Dutch export: the profile's column names and values,
/// local time without offset, semicolons, CRLF, Windows-1252.
fn write_dutch_log(org: &Org, accesses: &[Access], path: &Path) -> Result<()> {
    let contract = Contract::load()?;
    let profile = SourceProfile::parse(
        EXPORT_PROFILE,
        Path::new("zaaksysteem-nl.toml"),
        "",
        &contract,
    )?;
    let table = contract.events();
    let mapping = profile
        .tables
        .get(&table.name)
        .ok_or_else(|| Error::Invalid("export profile has no access_log mapping".into()))?;
    let header: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            mapping
                .columns
                .iter()
                .find(|(_, to)| **to == c.name)
                .map_or(c.name.clone(), |(from, _)| from.clone())
        })
        .collect();
    let inverse: Vec<BTreeMap<String, String>> = table
        .columns
        .iter()
        .map(|c| {
            mapping
                .values
                .get(&c.name)
                .map(|m| m.iter().map(|(k, v)| (v.clone(), k.clone())).collect())
                .unwrap_or_default()
        })
        .collect();
    let time_idx = table.require("event_time")?;
    let format = profile
        .time
        .local_formats
        .first()
        .cloned()
        .unwrap_or_else(|| "%d-%m-%Y %H:%M:%S".into());
    let mut w = csv::WriterBuilder::new()
        .delimiter(profile.delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let err = |e: csv::Error| Error::input(path, e.to_string());
    w.write_record(&header).map_err(err)?;
    for (i, a) in accesses.iter().enumerate() {
        let mut values = log_values(org, i, a);
        values[time_idx] = a.time.format(&format).to_string();
        for (v, inv) in values.iter_mut().zip(&inverse) {
            if let Some(x) = inv.get(v.as_str()) {
                *v = x.clone();
            }
        }
        w.write_record(&values).map_err(err)?;
    }
    let text = w
        .into_inner()
        .map_err(|e| Error::input(path, e.to_string()))?;
    let text = String::from_utf8(text).map_err(|e| Error::input(path, e.to_string()))?;
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    if unmappable {
        return Err(Error::input(path, "text cannot be written in Windows-1252"));
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

fn write_labels(
    org: &Org,
    accesses: &[Access],
    path: &Path,
) -> Result<BTreeMap<&'static str, usize>> {
    let mut counts = BTreeMap::new();
    let rows = accesses
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let l = a.label.as_ref()?;
            *counts.entry(l.kind).or_insert(0) += 1;
            Some(vec![
                event_id(i),
                l.kind.into(),
                org.people[a.user].user_id.clone(),
                l.verdict.into(),
                l.reason.into(),
                l.signals.into(),
            ])
        })
        .collect();
    write_rows(
        path,
        &[
            "event_id",
            "kind",
            "user_id",
            "expected_verdict",
            "expected_reason",
            "expected_signals",
        ],
        rows,
    )?;
    Ok(counts)
}
