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

use crate::error::{Error, Result};
use crate::ingest::read::source_profile::SourceProfile;
use crate::store::contract::Contract;
use activity::Access;
use org::Org;

/// The profile the Dutch export is written in: the generator inverts its mappings, so the
/// export and the profile cannot drift apart.
pub const EXPORT_PROFILE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/profiles/zaaksysteem-nl.toml"
));
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
    /// 5,800 area teams, ~35,000 accounts, ~2.9 million clients, ~100 million events: a
    /// national-size year (benchmarks; written day by day, so memory holds the organisation
    /// and one day of events).
    National,
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
        Size::National => (5800, 2_900_000),
    };
    let mut org = Org::build(&mut rng, areas, clients, start, end);
    // Injected misuse first (it adds clients and cases), bucketed by day.
    let mut injected: BTreeMap<NaiveDate, Vec<Access>> = BTreeMap::new();
    for a in activity::inject(&mut org, &mut rng) {
        injected.entry(a.time.date()).or_default().push(a);
    }

    let out = &config.out;
    for dir in ["reference", "canonical", "export-nl"] {
        std::fs::create_dir_all(out.join(dir)).map_err(|e| Error::io(out.join(dir), e))?;
    }
    write_reference(&org, &out.join("reference"))?;
    // The log is written day by day, so memory holds one day of events: a day's injected and
    // routine accesses, sorted by (time, user, client); days follow each other in time.
    let mut w = EventWriters::new(&org, out, start, end)?;
    let write_day = |w: &mut EventWriters, mut day: Vec<Access>| -> Result<()> {
        day.sort_by_key(|a| (a.time, a.user, a.client));
        day.iter().try_for_each(|a| w.write(a))
    };
    activity::routine(&org, &mut rng, |d, routine| {
        while let Some(entry) = injected.first_entry() {
            if *entry.key() >= d {
                break;
            }
            write_day(&mut w, entry.remove())?;
        }
        let mut day = injected.remove(&d).unwrap_or_default();
        day.extend(routine);
        write_day(&mut w, day)
    })?;
    while let Some((_, day)) = injected.pop_first() {
        write_day(&mut w, day)?;
    }
    let (events, labelled) = w.finish()?;
    Ok(GenerateSummary {
        out: out.clone(),
        teams: org.teams.len(),
        accounts: org.people.len(),
        clients: org.clients.len(),
        cases: org.cases.len(),
        events,
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

/// The three event files, written one access at a time: the canonical log, the Dutch export
/// (the profile's columns and values, local time, semicolons, CRLF, Windows-1252) and labels.
struct EventWriters<'o> {
    org: &'o Org,
    canonical: csv::Writer<std::io::BufWriter<std::fs::File>>,
    dutch: std::io::BufWriter<std::fs::File>,
    dutch_delimiter: u8,
    dutch_inverse: Vec<BTreeMap<String, String>>,
    dutch_time: (usize, String),
    labels: csv::Writer<std::io::BufWriter<std::fs::File>>,
    paths: [PathBuf; 3],
    n: usize,
    labelled: BTreeMap<&'static str, usize>,
}

fn buffered(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    Ok(std::io::BufWriter::new(
        std::fs::File::create(path).map_err(|e| Error::io(path, e))?,
    ))
}

impl<'o> EventWriters<'o> {
    fn new(org: &'o Org, out: &Path, start: NaiveDate, end: NaiveDate) -> Result<Self> {
        let contract = Contract::load()?;
        let table = contract.events();
        let paths = [
            out.join("canonical/access_log.csv"),
            out.join(format!("export-nl/Logboek_{start}_{end}.csv")),
            out.join("labels.csv"),
        ];
        let mut canonical = csv::Writer::from_writer(buffered(&paths[0])?);
        let header: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        canonical
            .write_record(&header)
            .map_err(|e| Error::input(&paths[0], e.to_string()))?;

        let profile = SourceProfile::parse(
            EXPORT_PROFILE,
            Path::new("zaaksysteem-nl.toml"),
            "",
            &contract,
        )?;
        let mapping = profile
            .tables
            .get(&table.name)
            .ok_or_else(|| Error::Invalid("export profile has no access_log mapping".into()))?;
        let dutch_header: Vec<String> = table
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
        let dutch_inverse = table
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
        let format = profile
            .time
            .local_formats
            .first()
            .cloned()
            .unwrap_or_else(|| "%d-%m-%Y %H:%M:%S".into());
        let mut labels = csv::Writer::from_writer(buffered(&paths[2])?);
        labels
            .write_record([
                "event_id",
                "kind",
                "user_id",
                "expected_verdict",
                "expected_reason",
                "expected_signals",
            ])
            .map_err(|e| Error::input(&paths[2], e.to_string()))?;
        let mut w = EventWriters {
            org,
            canonical,
            dutch: buffered(&paths[1])?,
            dutch_delimiter: profile.delimiter,
            dutch_inverse,
            dutch_time: (table.require("event_time")?, format),
            labels,
            paths,
            n: 0,
            labelled: BTreeMap::new(),
        };
        w.dutch_record(&dutch_header)?;
        Ok(w)
    }

    /// Writes one record of the Dutch export, encoded as Windows-1252.
    fn dutch_record(&mut self, values: &[String]) -> Result<()> {
        let path = &self.paths[1];
        let mut row = csv::WriterBuilder::new()
            .delimiter(self.dutch_delimiter)
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(512)
            .from_writer(Vec::new());
        row.write_record(values)
            .map_err(|e| Error::input(path, e.to_string()))?;
        let bytes = row
            .into_inner()
            .map_err(|e| Error::input(path, e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| Error::input(path, e.to_string()))?;
        let (encoded, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
        if unmappable {
            return Err(Error::input(path, "text cannot be written in Windows-1252"));
        }
        std::io::Write::write_all(&mut self.dutch, &encoded).map_err(|e| Error::io(path, e))
    }

    fn write(&mut self, a: &Access) -> Result<()> {
        let i = self.n;
        self.n += 1;
        let values = log_values(self.org, i, a);
        self.canonical
            .write_record(&values)
            .map_err(|e| Error::input(&self.paths[0], e.to_string()))?;
        let mut dutch = values;
        dutch[self.dutch_time.0] = a.time.format(&self.dutch_time.1).to_string();
        for (v, inv) in dutch.iter_mut().zip(&self.dutch_inverse) {
            if let Some(x) = inv.get(v.as_str()) {
                *v = x.clone();
            }
        }
        self.dutch_record(&dutch)?;
        if let Some(l) = &a.label {
            *self.labelled.entry(l.kind).or_insert(0) += 1;
            self.labels
                .write_record([
                    event_id(i).as_str(),
                    l.kind,
                    &self.org.people[a.user].user_id,
                    l.verdict,
                    l.reason,
                    l.signals,
                ])
                .map_err(|e| Error::input(&self.paths[2], e.to_string()))?;
        }
        Ok(())
    }

    /// Flushes the files; returns the number of events and the labelled counts per kind.
    fn finish(mut self) -> Result<(usize, BTreeMap<&'static str, usize>)> {
        self.canonical
            .flush()
            .map_err(|e| Error::io(&self.paths[0], e))?;
        std::io::Write::flush(&mut self.dutch).map_err(|e| Error::io(&self.paths[1], e))?;
        self.labels
            .flush()
            .map_err(|e| Error::io(&self.paths[2], e))?;
        Ok((self.n, self.labelled))
    }
}
