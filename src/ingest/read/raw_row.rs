//! A row as read from an input file, in contract column order, before validation.

use crate::ingest::read::raw_fields::RawFields;

/// One input row: the fields in the contract's column order (`None` for an empty or absent
/// field), where it came from, and its raw text with identifier fields redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    /// Line in the file (the header is line 1), or the entry number in a FHIR Bundle.
    pub line: u64,
    pub fields: RawFields,
    pub raw: RawText,
    /// A problem found while reading the row (wrong number of fields, not JSON, ...): the row
    /// goes to the quarantine with this reason.
    pub problem: Option<String>,
}

/// A row's raw text with identifier fields redacted and BSN-like numbers masked, made only
/// when it is needed (for the quarantine): most rows are never shown.
#[derive(Debug, Clone, PartialEq)]
pub enum RawText {
    /// Text already made (a FHIR entry).
    Text(String),
    /// A CSV record as read, with its encoding, the delimiter and which fields to redact.
    Csv {
        record: csv::ByteRecord,
        encoding: crate::ingest::read::source_profile::Encoding,
        delimiter: u8,
        redact: std::sync::Arc<[bool]>,
    },
}

impl RawText {
    /// The redacted raw text.
    pub fn render(&self) -> String {
        match self {
            RawText::Text(t) => t.clone(),
            RawText::Csv {
                record,
                encoding,
                delimiter,
                redact,
            } => {
                let fields: Vec<String> = record
                    .iter()
                    .map(|f| {
                        encoding
                            .decode(f)
                            .map(|t| t.into_owned())
                            .unwrap_or_else(|| String::from_utf8_lossy(f).into_owned())
                    })
                    .collect();
                let mut w = csv::WriterBuilder::new()
                    .delimiter(*delimiter)
                    .from_writer(Vec::new());
                let shown: Vec<&str> = fields
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        if redact.get(i).copied().unwrap_or(false) && !t.is_empty() {
                            "[redacted]"
                        } else {
                            t.trim_end_matches('\r')
                        }
                    })
                    .collect();
                w.write_record(&shown)
                    .expect("one record written to memory cannot fail");
                let bytes = w.into_inner().expect("flushing into memory cannot fail");
                crate::privacy::bsn::redact_bsns(String::from_utf8_lossy(&bytes).trim_end())
            }
        }
    }
}
