//! Reading a CSV export (any delimiter, UTF-8 or Windows-1252, mapped headers) as raw rows.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ingest::read::hashing_read::{HashingRead, ReadHash};
use crate::ingest::read::raw_fields::RawFields;
use crate::ingest::read::raw_row::{RawRow, RawText};
use crate::ingest::read::source_profile::{Encoding, TableMapping};
use crate::store::contract::{ColType, TableSpec};

/// A CSV file being read, its header already checked against the contract.
pub struct CsvInput {
    path: PathBuf,
    reader: csv::Reader<Box<dyn Read + Send>>,
    encoding: Encoding,
    delimiter: u8,
    /// For each contract column, the index of the file column that holds it.
    positions: Vec<Option<usize>>,
    /// For each contract column, the export value -> contract value map.
    value_maps: Vec<Option<BTreeMap<String, String>>>,
    /// File columns whose raw text is redacted in the quarantine.
    redact: std::sync::Arc<[bool]>,
    header_len: usize,
    /// Header columns that are not part of the contract (reported, not read).
    pub ignored_columns: Vec<String>,
    /// Rows given back by `recycle`.
    spare: Vec<RawRow>,
}

/// How many rows `CsvInput::recycle` keeps.
const SPARE_ROWS: usize = 1 << 16;

impl CsvInput {
    /// Opens a CSV file of `table` and reads its header: each contract column once, found by
    /// its name or by the profile's `mapping`, and every required one. `hash`: hashes the
    /// file's bytes as they are read.
    pub fn open(
        path: &Path,
        table: &TableSpec,
        mapping: Option<&TableMapping>,
        delimiter: u8,
        encoding: Encoding,
        hash: Option<ReadHash>,
    ) -> Result<CsvInput> {
        let stream = text_stream(path, hash)?;
        // Records end at '\n' only: the csv crate's line numbers run one behind on CRLF
        // files otherwise. The '\r' this leaves on the last field is trimmed like all
        // surrounding white space.
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .has_headers(false)
            .flexible(true)
            .from_reader(stream);
        let names = read_header(&mut reader, path, encoding)?;
        let header = Header::map(&names, table, mapping, path)?;
        let missing: Vec<&str> = table
            .columns
            .iter()
            .zip(&header.positions)
            .filter(|(c, p)| c.required && p.is_none())
            .map(|(c, _)| c.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::input(
                path,
                lacking_columns(table, &missing, &names, delimiter),
            ));
        }
        let value_maps = table
            .columns
            .iter()
            .map(|c| mapping.and_then(|m| m.values.get(&c.name).cloned()))
            .collect();
        Ok(CsvInput {
            path: path.into(),
            reader,
            encoding,
            delimiter,
            positions: header.positions,
            value_maps,
            redact: header.redact.into(),
            header_len: names.len(),
            ignored_columns: header.ignored_columns,
            spare: Vec::new(),
        })
    }

    /// Bytes read so far, for the progress bar.
    pub fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// The next row, or `None` at the end. An error here is about the whole file.
    pub fn next_row(&mut self) -> Result<Option<RawRow>> {
        // A row given back (`recycle`) is read into: its buffers are the right size already.
        let (mut fields, mut record, redact) = match self.spare.pop() {
            Some(RawRow {
                fields,
                raw: RawText::Csv { record, redact, .. },
                ..
            }) => (fields, record, redact),
            _ => (
                RawFields::default(),
                csv::ByteRecord::new(),
                self.redact.clone(),
            ),
        };
        let got = self
            .reader
            .read_byte_record(&mut record)
            .map_err(|e| Error::input(&self.path, format!("cannot be read as CSV: {e}")))?;
        if !got {
            return Ok(None);
        }
        let line = record
            .position()
            .expect("the csv reader sets the position of every record it reads")
            .line();
        let n = record.len();
        let problem = (n != self.header_len).then(|| {
            format!(
                "row has {n} fields where the header has {}",
                self.header_len
            )
        });
        let not_text = || Error::input(&self.path, not_utf8(line));
        fields.clear();
        match self.encoding {
            // The record is checked once: its fields are text if it is, and no field boundary
            // splits a character.
            Encoding::Utf8 => {
                let text = std::str::from_utf8(record.as_slice()).map_err(|_| not_text())?;
                let field = |i: usize| record.range(i).and_then(|r| text.get(r));
                if (0..n).any(|i| field(i).is_none()) {
                    return Err(not_text());
                }
                self.fields(&mut fields, |p| field(p).map(Cow::Borrowed))
            }
            Encoding::Windows1252 => self.fields(&mut fields, |p| {
                record.get(p).and_then(|f| Encoding::Windows1252.decode(f))
            }),
        };
        Ok(Some(RawRow {
            line,
            fields,
            raw: RawText::Csv {
                record,
                encoding: self.encoding,
                delimiter: self.delimiter,
                redact,
            },
            problem,
        }))
    }

    /// The contract's fields, given the text of each file column.
    fn fields<'r>(&self, into: &mut RawFields, text: impl Fn(usize) -> Option<Cow<'r, str>>) {
        for (pos, map) in self.positions.iter().zip(&self.value_maps) {
            let text = pos.and_then(&text);
            let text = text.as_deref().map(str::trim).filter(|t| !t.is_empty());
            into.push(text.map(|t| map_value(t, map.as_ref())));
        }
    }

    /// Takes back a row that is done with, to read a later row into (at most `SPARE_ROWS`
    /// are kept).
    pub fn recycle(&mut self, row: RawRow) {
        if self.spare.len() < SPARE_ROWS {
            self.spare.push(row);
        }
    }
}

/// The file's text as a stream, hashed as it is read if `hash` is given, without a UTF-8
/// byte-order mark. A file with NUL bytes in its head is refused: it is binary, not CSV.
fn text_stream(path: &Path, hash: Option<ReadHash>) -> Result<Box<dyn Read + Send>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    // Hashed as it is read, if asked: the head too.
    let mut file: Box<dyn Read + Send> = match hash {
        Some(sha) => Box::new(HashingRead::new(file, sha)),
        None => Box::new(file),
    };
    let mut head = vec![0u8; 8192];
    let n = read_up_to(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
    head.truncate(n);
    if head.contains(&0) {
        return Err(Error::input(
            path,
            "holds NUL bytes: this is a binary file, not CSV text",
        ));
    }
    let skip_bom = head.starts_with(&[0xEF, 0xBB, 0xBF]);
    let rest: Box<dyn Read + Send> = Box::new(BufReader::with_capacity(1 << 20, file));
    let start = if skip_bom { &head[3..] } else { &head[..] };
    Ok(Box::new(std::io::Cursor::new(start.to_vec()).chain(rest)))
}

/// The header's column names, trimmed.
fn read_header(
    reader: &mut csv::Reader<Box<dyn Read + Send>>,
    path: &Path,
    encoding: Encoding,
) -> Result<Vec<String>> {
    let mut header = csv::ByteRecord::new();
    let got = reader
        .read_byte_record(&mut header)
        .map_err(|e| Error::input(path, format!("cannot read the header: {e}")))?;
    if !got {
        return Err(Error::input(path, "is empty: there is no header row"));
    }
    header
        .iter()
        .map(|f| encoding.decode(f).map(|s| s.trim().to_string()))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::input(path, not_utf8(1)))
}

/// Where the header puts the contract's columns.
struct Header {
    /// For each contract column, the index of the file column that holds it.
    positions: Vec<Option<usize>>,
    /// For each file column, whether its raw text is redacted in the quarantine.
    redact: Vec<bool>,
    /// The file columns that are not the contract's.
    ignored_columns: Vec<String>,
}

impl Header {
    /// Finds the contract's columns among the header's `names`, each by its name or by the
    /// name `mapping` gives it. A column named twice is refused.
    fn map(
        names: &[String],
        table: &TableSpec,
        mapping: Option<&TableMapping>,
        path: &Path,
    ) -> Result<Header> {
        let rename = |file_name: &str| -> String {
            mapping
                .and_then(|m| m.columns.get(file_name).cloned())
                .unwrap_or_else(|| file_name.to_string())
        };
        let mut header = Header {
            positions: vec![None; table.columns.len()],
            redact: vec![false; names.len()],
            ignored_columns: Vec::new(),
        };
        for (i, name) in names.iter().enumerate() {
            match table.column_index(&rename(name)) {
                Some(c) if header.positions[c].is_none() => {
                    header.positions[c] = Some(i);
                    header.redact[i] = table.columns[c].ty == ColType::Identifier;
                }
                Some(_) => {
                    return Err(Error::input(
                        path,
                        format!("header names column '{name}' twice"),
                    ))
                }
                None => header.ignored_columns.push(name.clone()),
            }
        }
        Ok(header)
    }
}

/// Why a file whose header lacks the required columns `missing` is not a `table` file.
fn lacking_columns(table: &TableSpec, missing: &[&str], names: &[String], delimiter: u8) -> String {
    let mut message = format!(
        "is not a {} file: the header lacks {} (found: {})",
        table.name,
        missing
            .iter()
            .map(|m| format!("'{m}'"))
            .collect::<Vec<_>>()
            .join(", "),
        names
            .iter()
            .take(12)
            .map(|m| format!("'{m}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if names.len() == 1 {
        message.push_str(&format!(
            "; the header has one column, so the delimiter is probably not '{}'",
            delimiter as char
        ));
    }
    message
}

fn map_value<'t>(text: &'t str, map: Option<&'t BTreeMap<String, String>>) -> &'t str {
    if let Some(map) = map {
        if let Some(v) = map.get(text) {
            return v;
        }
        if let Some((_, v)) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(text)) {
            return v;
        }
    }
    text
}

fn not_utf8(line: u64) -> String {
    format!(
        "line {line} is not valid UTF-8; if the export is Windows-1252, read it with a profile \
         that says encoding = \"windows-1252\""
    )
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
