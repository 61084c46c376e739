//! Writing outputs as CSV: rows of a type (one header line, also for an empty list, then one
//! line per row in the order given) or a polars frame.

use std::io::Write;

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};

/// A row type with its column names (the serialised field names, in order).
pub trait CsvRow: Serialize {
    const COLUMNS: &'static [&'static str];
}

/// How a CSV file for people is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvDialect {
    /// As Excel and LibreOffice with Dutch settings open it without the import wizard: UTF-8
    /// with a byte-order mark, `;` between fields, and a decimal comma.
    #[default]
    Semicolon,
    /// For tools: UTF-8 without a byte-order mark, `,` between fields, a decimal point.
    Comma,
}

impl CsvDialect {
    /// The dialects by the names `--csv-dialect` takes.
    pub const NAMES: [&'static str; 2] = ["semicolon", "comma"];

    pub fn parse(name: &str) -> Option<CsvDialect> {
        match name {
            "semicolon" => Some(CsvDialect::Semicolon),
            "comma" => Some(CsvDialect::Comma),
            _ => None,
        }
    }

    fn delimiter(self) -> u8 {
        match self {
            CsvDialect::Semicolon => b';',
            CsvDialect::Comma => b',',
        }
    }

    /// A CSV writer on `w` in this dialect, the byte-order mark already written.
    fn writer<'w>(
        self,
        w: &'w mut dyn Write,
        name: &str,
    ) -> Result<csv::Writer<&'w mut dyn Write>> {
        if self == CsvDialect::Semicolon {
            w.write_all("\u{feff}".as_bytes())
                .map_err(|e| Error::Invalid(format!("writing {name}: {e}")))?;
        }
        Ok(csv::WriterBuilder::new()
            .has_headers(false)
            .delimiter(self.delimiter())
            .from_writer(w))
    }

    /// A number's text: with a decimal comma in the semicolon dialect.
    fn number(self, text: &str) -> String {
        match self {
            CsvDialect::Semicolon => text.replace('.', ","),
            CsvDialect::Comma => text.to_string(),
        }
    }

    /// A text field. In the semicolon dialect, for a spreadsheet: a local time with its offset
    /// (`2026-03-10T09:15:00+01:00`) is written as a spreadsheet reads a date and time
    /// (`2026-03-10 09:15:00`), and a text a spreadsheet would run as a formula (one that begins
    /// with `=`, `+`, `-`, `@`, a tab or a carriage return, such as a display name or an
    /// emergency reason from a source system) gets a leading `'`, as OWASP advises against CSV
    /// injection. The comma dialect, for tools, writes the text as it is.
    fn text(self, text: &str) -> String {
        match self {
            CsvDialect::Semicolon if is_local_time_with_offset(text) => {
                format!("{} {}", &text[..10], &text[11..19])
            }
            CsvDialect::Semicolon if runs_as_formula(text) => format!("'{text}"),
            _ => text.to_string(),
        }
    }
}

/// Writes `rows` to `w` in `dialect`; `name` only names the file in messages.
pub fn write_rows<T: CsvRow>(
    rows: &[T],
    w: &mut dyn Write,
    name: &str,
    dialect: CsvDialect,
) -> Result<()> {
    let err = |e: csv::Error| Error::Invalid(format!("writing {name}: {e}"));
    let mut out = dialect.writer(w, name)?;
    out.write_record(T::COLUMNS).map_err(err)?;
    for r in rows {
        out.write_record(fields(r, T::COLUMNS, dialect))
            .map_err(err)?;
    }
    out.flush()
        .map_err(|e| Error::Invalid(format!("writing {name}: {e}")))
}

/// A row's fields in the order of `columns`, as text: numbers in the dialect's notation, a
/// missing value empty.
fn fields<T: Serialize>(row: &T, columns: &[&str], dialect: CsvDialect) -> Vec<String> {
    let value = serde_json::to_value(row).expect("rows of strings, numbers and flags serialise");
    columns
        .iter()
        .map(|c| match &value[*c] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => dialect.text(s),
            serde_json::Value::Number(n) if n.is_f64() => dialect.number(&n.to_string()),
            other => other.to_string(),
        })
        .collect()
}

/// Writes a frame in `dialect`: its column names, then one line per row, nulls empty.
pub fn write_frame(
    df: &DataFrame,
    w: &mut dyn Write,
    name: &str,
    dialect: CsvDialect,
) -> Result<()> {
    let err = |e: csv::Error| Error::Invalid(format!("writing {name}: {e}"));
    let mut out = dialect.writer(w, name)?;
    out.write_record(df.get_column_names().iter().map(|n| n.as_str()))
        .map_err(err)?;
    let floats: Vec<bool> = df.columns().iter().map(|c| c.dtype().is_float()).collect();
    let strings: Vec<Column> = df
        .columns()
        .iter()
        .map(|c| c.cast(&DataType::String))
        .collect::<PolarsResult<_>>()?;
    let cols: Vec<&StringChunked> = strings
        .iter()
        .map(|c| c.str())
        .collect::<PolarsResult<_>>()?;
    for i in 0..df.height() {
        let record = cols.iter().zip(&floats).map(|(c, float)| {
            let text = c.get(i).unwrap_or("");
            if *float {
                dialect.number(text)
            } else {
                dialect.text(text)
            }
        });
        out.write_record(record).map_err(err)?;
    }
    out.flush()
        .map_err(|e| Error::Invalid(format!("writing {name}: {e}")))
}

/// Whether a spreadsheet would run `text` as a formula: it begins with `=`, `+`, `-`, `@`, a
/// tab or a carriage return, and is not a plain number such as `-0,67` or a sign alone.
fn runs_as_formula(text: &str) -> bool {
    let plain_number = text.strip_prefix(['-', '+']).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b',' || b == b'.')
            && rest.bytes().next().is_some_and(|b| b.is_ascii_digit())
    });
    let sign_alone = text == "-" || text == "+";
    text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !plain_number && !sign_alone
}

/// Whether `text` is a time as `YYYY-MM-DDTHH:MM:SS+HH:MM` (or `-HH:MM`).
fn is_local_time_with_offset(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    b.len() == 25
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (b[19] == b'+' || b[19] == b'-')
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
}

/// The header serde would write for a row, for tests to check `COLUMNS` against.
#[cfg(test)]
pub(crate) fn serde_header<T: Serialize>(row: &T) -> Vec<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let _ = out.serialize(row);
    let bytes = out.into_inner().unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct Row {
        event_id: String,
        local_time: String,
    }

    impl CsvRow for Row {
        const COLUMNS: &'static [&'static str] = &["event_id", "local_time"];
    }

    #[test]
    fn an_empty_list_still_has_its_header() {
        let mut out = Vec::new();
        write_rows::<Row>(&[], &mut out, "x.csv", CsvDialect::Comma).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("event_id,local_time"));
        assert_eq!(serde_header(&Row::default()), Row::COLUMNS);
    }

    #[test]
    fn the_semicolon_dialect_writes_what_a_dutch_spreadsheet_reads() {
        #[derive(Serialize)]
        struct Measured {
            share: Option<f64>,
            count: u64,
            at: String,
            note: String,
        }
        impl CsvRow for Measured {
            const COLUMNS: &'static [&'static str] = &["share", "count", "at", "note"];
        }
        let rows = [Measured {
            share: Some(97.5),
            count: 1200,
            at: "2026-10-25T02:30:00+02:00".into(),
            note: "a; b".into(),
        }];
        let mut out = Vec::new();
        write_rows(&rows, &mut out, "x.csv", CsvDialect::Semicolon).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\u{feff}share;count;at;note\n97,5;1200;2026-10-25 02:30:00;\"a; b\"\n"
        );
        let mut out = Vec::new();
        write_rows(&rows, &mut out, "x.csv", CsvDialect::Comma).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "share,count,at,note\n97.5,1200,2026-10-25T02:30:00+02:00,a; b\n"
        );
        assert!(!is_local_time_with_offset("2026-10-25T02:30:00"));
        for formula in [
            "=1+1",
            "+31 6",
            "-x",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "=HYPERLINK(\"http://x\")",
        ] {
            assert!(runs_as_formula(formula), "{formula:?}");
            assert_eq!(CsvDialect::Semicolon.text(formula), format!("'{formula}"));
            assert_eq!(CsvDialect::Comma.text(formula), formula);
        }
        for plain in ["-0,67", "-12", "+3", "Jan de Vries", "x=1", "", "-"] {
            assert!(!runs_as_formula(plain), "{plain:?}");
        }
        assert!(!is_local_time_with_offset("EV0002026-10-25T02:30:00+02:00"));
    }
}
