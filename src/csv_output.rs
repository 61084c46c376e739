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

/// Writes `rows` to `w`; `name` only names the file in messages.
pub fn write_rows<T: CsvRow>(rows: &[T], w: &mut dyn Write, name: &str) -> Result<()> {
    let err = |e: csv::Error| Error::Invalid(format!("writing {name}: {e}"));
    let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(w);
    out.write_record(T::COLUMNS).map_err(err)?;
    for r in rows {
        out.serialize(r).map_err(err)?;
    }
    out.flush()
        .map_err(|e| Error::Invalid(format!("writing {name}: {e}")))
}

/// Writes a frame: its column names, then one line per row, nulls empty.
pub fn write_frame(df: &DataFrame, w: &mut dyn Write, name: &str) -> Result<()> {
    let err = |e: csv::Error| Error::Invalid(format!("writing {name}: {e}"));
    let mut out = csv::Writer::from_writer(w);
    out.write_record(df.get_column_names().iter().map(|n| n.as_str()))
        .map_err(err)?;
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
        out.write_record(cols.iter().map(|c| c.get(i).unwrap_or("")))
            .map_err(err)?;
    }
    out.flush()
        .map_err(|e| Error::Invalid(format!("writing {name}: {e}")))
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
        write_rows::<Row>(&[], &mut out, "x.csv").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("event_id,local_time"));
        assert_eq!(serde_header(&Row::default()), Row::COLUMNS);
    }
}
