//! Source profiles (`schemas/profiles/*.toml`): how a real export maps onto the contract.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ingest::read::time_parser::{Ambiguous, Nonexistent, TimeParser};
use crate::store::contract::Contract;

/// Text encoding of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum Encoding {
    /// UTF-8, with or without byte-order mark.
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl Encoding {
    /// A field's text (borrowed where the bytes are already UTF-8 text); `None` for bytes that
    /// are not UTF-8 where UTF-8 is expected.
    pub(crate) fn decode(self, bytes: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Encoding::Utf8 => std::str::from_utf8(bytes)
                .ok()
                .map(std::borrow::Cow::Borrowed),
            Encoding::Windows1252 => Some(
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0,
            ),
        }
    }
}

/// How clients are identified: by BSN (11-check) or by the case system's own number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientIds {
    #[default]
    Bsn,
    Local,
}

impl ClientIds {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientIds::Bsn => "bsn",
            ClientIds::Local => "local",
        }
    }
}

/// The mapping of one contract table.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TableMapping {
    /// Files whose name starts with one of these (case-insensitive) hold this table.
    #[serde(default)]
    pub file_prefixes: Vec<String>,
    /// Export column name -> contract column name.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Contract column -> (export value -> contract value).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    description: String,
    #[serde(default = "comma")]
    delimiter: String,
    #[serde(default)]
    encoding: Encoding,
    time_zone: String,
    #[serde(default)]
    timestamp_formats: Vec<String>,
    #[serde(default = "iso_date")]
    date_format: String,
    #[serde(default)]
    ambiguous_time: Ambiguous,
    #[serde(default)]
    nonexistent_time: Nonexistent,
    #[serde(default)]
    client_ids: ClientIds,
    tables: BTreeMap<String, TableMapping>,
}

fn comma() -> String {
    ",".into()
}

fn iso_date() -> String {
    "%Y-%m-%d".into()
}

/// A loaded, checked source profile.
#[derive(Debug, Clone)]
pub struct SourceProfile {
    pub name: String,
    pub description: String,
    pub path: PathBuf,
    pub sha256: String,
    pub delimiter: u8,
    pub encoding: Encoding,
    pub time: TimeParser,
    pub client_ids: ClientIds,
    pub tables: BTreeMap<String, TableMapping>,
}

impl SourceProfile {
    pub fn load(path: &Path, contract: &Contract) -> Result<SourceProfile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| Error::Profile {
            path: path.into(),
            message: "is not UTF-8 text".into(),
        })?;
        Self::parse(&text, path, &hex::encode(Sha256::digest(&bytes)), contract)
    }

    pub fn parse(
        text: &str,
        path: &Path,
        sha256: &str,
        contract: &Contract,
    ) -> Result<SourceProfile> {
        let err = |message: String| Error::Profile {
            path: path.into(),
            message,
        };
        let file: ProfileFile =
            toml::from_str(text).map_err(|e| err(e.to_string().trim().to_string()))?;
        let delimiter = match file.delimiter.as_bytes() {
            [b] if b.is_ascii() && *b != b'"' => *b,
            _ => {
                return Err(err(format!(
                    "delimiter '{}' must be one ASCII character (e.g. \";\")",
                    file.delimiter
                )))
            }
        };
        let zone: chrono_tz::Tz = file.time_zone.parse().map_err(|_| {
            err(format!(
                "time_zone '{}' is not an IANA zone name (e.g. \"Europe/Amsterdam\")",
                file.time_zone
            ))
        })?;
        for f in &file.timestamp_formats {
            if !round_trips(f, true) {
                return Err(err(format!(
                    "timestamp format '{f}' cannot read a date and time; write it as chrono does, e.g. \"%d-%m-%Y %H:%M:%S\""
                )));
            }
        }
        if !round_trips(&file.date_format, false) {
            return Err(err(format!(
                "date_format '{}' cannot read a date; write it as chrono does, e.g. \"%d-%m-%Y\"",
                file.date_format
            )));
        }
        for (table, mapping) in &file.tables {
            let spec = contract.table(table).ok_or_else(|| {
                err(format!(
                    "[tables.{table}]: no such contract table (known: {})",
                    contract
                        .tables
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            for target in mapping.columns.values().chain(mapping.values.keys()) {
                if spec.column_index(target).is_none() {
                    return Err(err(format!(
                        "[tables.{table}]: '{target}' is not a column of the {table} contract"
                    )));
                }
            }
            if mapping.file_prefixes.is_empty() {
                return Err(err(format!(
                    "[tables.{table}]: file_prefixes is empty, so no file would be read with it"
                )));
            }
        }
        Ok(SourceProfile {
            name: file.name,
            description: file.description,
            path: path.into(),
            sha256: sha256.into(),
            delimiter,
            encoding: file.encoding,
            time: TimeParser {
                local_formats: file.timestamp_formats,
                zone,
                ambiguous: file.ambiguous_time,
                nonexistent: file.nonexistent_time,
                date_format: file.date_format,
            },
            client_ids: file.client_ids,
            tables: file.tables,
        })
    }

    /// The contract table a file holds under this profile, by its name.
    pub fn table_for(&self, file_name: &str) -> Option<&str> {
        let lower = file_name.to_lowercase();
        self.tables
            .iter()
            .find(|(_, m)| {
                m.file_prefixes
                    .iter()
                    .any(|p| lower.starts_with(&p.to_lowercase()))
            })
            .map(|(t, _)| t.as_str())
    }
}

/// Whether `format` (chrono's strftime) writes a date (and time, with `with_time`) that it reads
/// back as the same: a format with an unknown specifier, or without a day or an hour, would
/// quarantine every row.
fn round_trips(format: &str, with_time: bool) -> bool {
    use chrono::format::{Item, StrftimeItems};
    use chrono::{NaiveDate, NaiveDateTime};
    if StrftimeItems::new(format).any(|i| matches!(i, Item::Error)) {
        return false;
    }
    let day = NaiveDate::from_ymd_opt(2026, 3, 28).expect("a real day");
    if with_time {
        let at = day.and_hms_opt(21, 15, 0).expect("a real time");
        NaiveDateTime::parse_from_str(&at.format(format).to_string(), format) == Ok(at)
    } else {
        NaiveDate::parse_from_str(&day.format(format).to_string(), format) == Ok(day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SourceProfile> {
        SourceProfile::parse(text, Path::new("p.toml"), "00", &Contract::load().unwrap())
    }

    #[test]
    fn shipped_profile_is_valid() {
        let p = parse(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/profiles/zaaksysteem-nl.toml"
        )))
        .unwrap();
        assert_eq!(p.delimiter, b';');
        assert_eq!(p.encoding, Encoding::Windows1252);
        assert_eq!(p.table_for("Logboek_2026.csv"), Some("access_log"));
        assert_eq!(p.table_for("teams.csv"), None);
    }

    #[test]
    fn a_time_format_that_cannot_read_a_time_is_refused_when_the_profile_is_loaded() {
        let base = "name='x'\ndescription='x'\ntime_zone='Europe/Amsterdam'\n";
        for bad in ["%d-%m-%Y %H:%M:%Q", "%d-%m-%Y", "%H:%M"] {
            let e = parse(&format!("{base}timestamp_formats=['{bad}']\n[tables]\n")).unwrap_err();
            assert!(
                e.to_string().contains(&format!("timestamp format '{bad}'")),
                "{e}"
            );
        }
        let e = parse(&format!("{base}date_format='%d-%m'\n[tables]\n")).unwrap_err();
        assert!(e.to_string().contains("date_format '%d-%m'"), "{e}");
        assert!(parse(&format!(
            "{base}timestamp_formats=['%d-%m-%Y %H:%M:%S', '%Y%m%d%H%M%S']\n[tables]\n"
        ))
        .is_ok());
    }

    #[test]
    fn mistakes_are_named() {
        let base = "name='x'\ndescription='x'\ntime_zone='Europe/Amsterdam'\n";
        let e = parse(&format!("{base}[tables.acces_log]\nfile_prefixes=['a']\n")).unwrap_err();
        assert!(e.to_string().contains("no such contract table"), "{e}");
        let e = parse(&format!(
            "{base}[tables.access_log]\nfile_prefixes=['a']\ncolumns={{ 'X' = 'evnt_id' }}\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("'evnt_id' is not a column"), "{e}");
        let e = parse("name='x'\ndescription='x'\ntime_zone='Europe/Amsterdm'\n[tables]\n")
            .unwrap_err();
        assert!(e.to_string().contains("not an IANA zone"), "{e}");
        let e = parse(&format!("{base}delimiter=';;'\n[tables]\n")).unwrap_err();
        assert!(e.to_string().contains("one ASCII character"), "{e}");
        let e = parse(&format!("{base}encoding='latin9'\n[tables]\n")).unwrap_err();
        assert!(e.to_string().contains("latin9"), "{e}");
    }
}
