//! Reading FHIR AuditEvent (R4 and R5; NDJSON bulk export or a JSON Bundle) as access-log rows.
//!
//! Mapping (documented in README.md):
//! - `event_id` <- `id`; `event_time` <- R5 `occurredDateTime` / `occurredPeriod.start`, else `recorded`;
//! - `user_id` <- the requesting agent's (`requestor = true`, else the first) `who.identifier.value`,
//!   else the id in `who.reference`; `workstation` <- its R4 `network.address` or R5 `networkString`;
//! - `client_id` <- R5 `patient`, else the entity whose `what` is a Patient: identifier value
//!   (a BSN under system `http://fhir.nl/fhir/NamingSystem/bsn`), else the reference id;
//! - `section` <- an entity `detail` of type `section`, else the resource type of the first
//!   non-Patient entity (Condition, Observation, ... -> medical; CarePlan -> plan; ...), else identity;
//! - `emergency` <- DCM 110127 "Emergency Override Started" in `subtype` (R4) or `code` (R5), or
//!   v3-ActReason `ETREAT`/`BTG` in `purposeOfEvent` (R4), `authorization` (R5),
//!   `agent.purposeOfUse` (R4) or `agent.authorization` (R5); `emergency_reason` <- that concept's `text`;
//! - `outcome` <- R4 `outcome` or R5 `outcome.code.code` (0/4/8/12); absent means 0 (success);
//! - `source` <- `source.observer` identifier value, display or reference, else R4 `source.site`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::ingest::read::raw_fields::RawFields;
use crate::ingest::read::raw_row::{RawRow, RawText};
use crate::privacy::bsn::redact_bsns;
use crate::store::contract::TableSpec;

const BSN_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/bsn";

/// Resource type of an accessed entity -> dossier section.
const SECTIONS: &[(&str, &str)] = &[
    ("Patient", "identity"),
    ("RelatedPerson", "identity"),
    ("CarePlan", "plan"),
    ("Goal", "plan"),
    ("ServiceRequest", "plan"),
    ("Communication", "contact"),
    ("Encounter", "contact"),
    ("Appointment", "contact"),
    ("Condition", "medical"),
    ("Observation", "medical"),
    ("DiagnosticReport", "medical"),
    ("MedicationStatement", "medical"),
    ("Claim", "finance"),
    ("Coverage", "finance"),
    ("Invoice", "finance"),
    ("Account", "finance"),
];

/// A FHIR file being read: NDJSON line by line, or a Bundle's entries.
pub struct FhirInput {
    path: PathBuf,
    columns: Vec<String>,
    source: FhirSource,
}

/// Skips a UTF-8 byte-order mark at the start of `file` (some exporters write one; it is not
/// part of the JSON).
fn skip_byte_order_mark(file: &mut BufReader<std::fs::File>) -> std::io::Result<()> {
    if file.fill_buf()?.starts_with(b"\xef\xbb\xbf") {
        file.consume(3);
    }
    Ok(())
}

enum FhirSource {
    Lines(std::io::Lines<BufReader<std::fs::File>>, u64),
    Entries(std::vec::IntoIter<Json>, u64),
}

impl FhirInput {
    pub fn open(path: &Path, table: &TableSpec) -> Result<FhirInput> {
        let columns = table.columns.iter().map(|c| c.name.clone()).collect();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut file = BufReader::new(file);
        skip_byte_order_mark(&mut file).map_err(|e| Error::io(path, e))?;
        // As an empty CSV file (without even its header) is refused, so is an empty FHIR file:
        // an export that wrote nothing at all is more likely broken than empty.
        if file.fill_buf().map_err(|e| Error::io(path, e))?.is_empty() {
            return Err(Error::input(
                path,
                "is empty: there is no FHIR resource in it",
            ));
        }
        let is_ndjson = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("ndjson"));
        let source = if is_ndjson {
            FhirSource::Lines(file.lines(), 0)
        } else {
            let doc: Json = serde_json::from_reader(file)
                .map_err(|e| Error::input(path, format!("is not a JSON document: {e}")))?;
            let entries = match doc.get("resourceType").and_then(Json::as_str) {
                Some("Bundle") => doc
                    .get("entry")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|e| e.get("resource").cloned().unwrap_or(Json::Null))
                            .collect()
                    })
                    .unwrap_or_default(),
                Some("AuditEvent") => vec![doc],
                other => {
                    return Err(Error::input(
                        path,
                        format!(
                            "is a FHIR '{}' resource; expected a Bundle or an AuditEvent",
                            other.unwrap_or("(no resourceType)")
                        ),
                    ))
                }
            };
            FhirSource::Entries(entries.into_iter(), 0)
        };
        Ok(FhirInput {
            path: path.into(),
            columns,
            source,
        })
    }

    pub fn next_row(&mut self) -> Result<Option<RawRow>> {
        let (line, parsed) = match &mut self.source {
            FhirSource::Lines(lines, n) => loop {
                let Some(text) = lines.next() else {
                    return Ok(None);
                };
                *n += 1;
                let text = text.map_err(|e| {
                    Error::input(
                        &self.path,
                        format!("line {n} cannot be read as UTF-8 text: {e}"),
                    )
                })?;
                if text.trim().is_empty() {
                    continue;
                }
                break (
                    *n,
                    serde_json::from_str::<Json>(&text).map_err(|e| (text.clone(), e.to_string())),
                );
            },
            FhirSource::Entries(entries, n) => {
                let Some(doc) = entries.next() else {
                    return Ok(None);
                };
                *n += 1;
                (*n, Ok(doc))
            }
        };
        let row = match parsed {
            Err((text, why)) => RawRow {
                line,
                fields: RawFields::absent(self.columns.len()),
                raw: RawText::Text(redact_bsns(&text)),
                problem: Some(format!("line is not JSON: {why}")),
            },
            Ok(doc) => self.map(line, &doc),
        };
        Ok(Some(row))
    }

    fn map(&self, line: u64, doc: &Json) -> RawRow {
        let mut raw = serde_json::to_string(doc).expect("a JSON value always serialises");
        let kind = doc.get("resourceType").and_then(Json::as_str).unwrap_or("");
        if kind != "AuditEvent" {
            return RawRow {
                line,
                fields: RawFields::absent(self.columns.len()),
                raw: RawText::Text(redact_bsns(&raw)),
                problem: Some(format!("resource type '{kind}' is not an AuditEvent")),
            };
        }
        let agent = requesting_agent(doc);
        let client = client_id(doc);
        if let Some(c) = &client {
            raw = raw.replace(c.as_str(), "[redacted]");
        }
        let (emergency, reason) = emergency(doc);
        let get = |name: &str| -> Option<String> {
            match name {
                "event_id" => str_at(doc, &["id"]),
                "event_time" => str_at(doc, &["occurredDateTime"])
                    .or_else(|| str_at(doc, &["occurredPeriod", "start"]))
                    .or_else(|| str_at(doc, &["recorded"])),
                "user_id" => agent.and_then(|a| {
                    str_at(a, &["who", "identifier", "value"])
                        .or_else(|| str_at(a, &["who", "reference"]).map(|r| reference_id(&r)))
                }),
                "action" => str_at(doc, &["action"]),
                "client_id" => client.clone(),
                "section" => Some(section(doc)),
                "emergency" => Some(emergency.to_string()),
                "emergency_reason" => reason.clone(),
                "outcome" => str_at(doc, &["outcome"])
                    .or_else(|| str_at(doc, &["outcome", "code", "code"]))
                    .or_else(|| Some("0".into())),
                "source" => str_at(doc, &["source", "observer", "identifier", "value"])
                    .or_else(|| str_at(doc, &["source", "observer", "display"]))
                    .or_else(|| str_at(doc, &["source", "observer", "reference"]))
                    .or_else(|| str_at(doc, &["source", "site"])),
                "workstation" => agent.and_then(|a| {
                    str_at(a, &["network", "address"]).or_else(|| str_at(a, &["networkString"]))
                }),
                _ => None,
            }
        };
        let values: Vec<Option<String>> = self.columns.iter().map(|c| get(c)).collect();
        // A NUL character is refused as in a CSV file: no stored text holds one.
        let problem = self
            .columns
            .iter()
            .zip(&values)
            .find(|(_, v)| v.as_deref().is_some_and(|v| v.contains('\0')))
            .map(|(c, _)| format!("{c} holds a NUL character (\\u0000)"));
        let mut fields = RawFields::default();
        for v in &values {
            fields.push(v.as_deref().filter(|v| !v.trim().is_empty()));
        }
        RawRow {
            line,
            fields,
            raw: RawText::Text(redact_bsns(&raw)),
            problem,
        }
    }
}

fn str_at(doc: &Json, path: &[&str]) -> Option<String> {
    let mut v = doc;
    for p in path {
        v = v.get(p)?;
    }
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn reference_id(reference: &str) -> String {
    reference
        .rsplit('/')
        .next()
        .unwrap_or(reference)
        .to_string()
}

fn requesting_agent(doc: &Json) -> Option<&Json> {
    let agents = doc.get("agent")?.as_array()?;
    agents
        .iter()
        .find(|a| a.get("requestor").and_then(Json::as_bool) == Some(true))
        .or_else(|| agents.first())
}

/// The client from a reference: a BSN identifier first, any identifier next, the id last.
fn from_reference(r: &Json) -> Option<String> {
    let ident = r.get("identifier");
    if let Some(i) = ident {
        if str_at(i, &["system"]).as_deref() == Some(BSN_SYSTEM) {
            return str_at(i, &["value"]);
        }
    }
    ident
        .and_then(|i| str_at(i, &["value"]))
        .or_else(|| str_at(r, &["reference"]).map(|s| reference_id(&s)))
}

fn client_id(doc: &Json) -> Option<String> {
    if let Some(p) = doc.get("patient") {
        return from_reference(p);
    }
    let entities = doc.get("entity")?.as_array()?;
    entities.iter().find_map(|e| {
        let what = e.get("what")?;
        let is_patient = str_at(what, &["reference"]).is_some_and(|r| r.starts_with("Patient/"))
            || str_at(what, &["type"]).as_deref() == Some("Patient")
            || str_at(what, &["identifier", "system"]).as_deref() == Some(BSN_SYSTEM);
        is_patient.then(|| from_reference(what)).flatten()
    })
}

fn section(doc: &Json) -> String {
    let entities = doc
        .get("entity")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    for e in &entities {
        for d in e
            .get("detail")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let ty = str_at(d, &["type"]).or_else(|| str_at(d, &["type", "text"]));
            if ty.as_deref() == Some("section") {
                if let Some(v) = str_at(d, &["valueString"]) {
                    return v;
                }
            }
        }
    }
    for e in &entities {
        let Some(what) = e.get("what") else { continue };
        let ty = str_at(what, &["type"]).or_else(|| {
            str_at(what, &["reference"]).and_then(|r| r.split('/').next().map(str::to_string))
        });
        if let Some(ty) = ty.filter(|t| t != "Patient") {
            if let Some((_, s)) = SECTIONS.iter().find(|(k, _)| *k == ty) {
                return (*s).to_string();
            }
        }
    }
    "identity".into()
}

/// All codings of a CodeableConcept or a Coding.
fn codings(v: &Json) -> Vec<&Json> {
    match v.get("coding").and_then(Json::as_array) {
        Some(list) => list.iter().collect(),
        None if v.get("code").is_some() => vec![v],
        None => Vec::new(),
    }
}

fn emergency(doc: &Json) -> (bool, Option<String>) {
    let mut found = false;
    let mut reason = None;
    let mut concepts: Vec<&Json> = Vec::new();
    for key in ["purposeOfEvent", "authorization"] {
        concepts.extend(doc.get(key).and_then(Json::as_array).into_iter().flatten());
    }
    for a in doc
        .get("agent")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        for key in ["purposeOfUse", "authorization"] {
            concepts.extend(a.get(key).and_then(Json::as_array).into_iter().flatten());
        }
    }
    for c in concepts {
        let btg = codings(c).iter().any(|k| {
            matches!(str_at(k, &["code"]).as_deref(), Some("ETREAT" | "BTG"))
                && str_at(k, &["system"]).is_none_or(|s| s.contains("ActReason"))
        });
        if btg {
            found = true;
            reason = reason.or_else(|| str_at(c, &["text"]));
        }
    }
    let mut types: Vec<&Json> = doc
        .get("subtype")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .collect();
    types.extend(doc.get("code"));
    for t in types {
        if codings(t)
            .iter()
            .any(|k| str_at(k, &["code"]).as_deref() == Some("110127"))
        {
            found = true;
        }
    }
    (found, reason)
}
