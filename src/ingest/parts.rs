//! The order the store's files are written in: an events part by time, source and event id
//! (`write_part`), a reference table by its key (`sort_by_key`).

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use polars::prelude::*;

use crate::error::Result;
use crate::store::encoded_writer::{EncodedWriter, ROW_GROUP_ROWS};

/// The columns an events part is sorted by: the order the audit reads in.
const PART_ORDER: [&str; 3] = ["event_time", "source", "event_id"];

/// Writes an events part, sorted by `PART_ORDER`. Exports are mostly in time order already:
/// then the part is written as it is, without sorting a copy, each column encoded as
/// `EncodedWriter::encoding_of` says.
fn write_part(path: &Path, df: DataFrame) -> Result<()> {
    let df = if in_part_order(&df)? {
        df
    } else {
        df.sort(PART_ORDER, SortMultipleOptions::default())?
    };
    crate::store::write_encoded_file(path, &df, EncodedWriter::encoding_of)
}

/// What the part writer is handed: a part to write (its file and its rows), or `None`, which
/// the writer takes only once every part handed over before it is written.
pub(super) type PartHandover = Option<(PathBuf, DataFrame)>;

/// The part writer's work, on a thread of its own: writes the parts handed over
/// (`write_part`) one at a time, until the sending side is gone.
pub(super) fn write_parts(parts: Receiver<PartHandover>) -> Result<()> {
    for (path, df) in parts.into_iter().flatten() {
        write_part(&path, df)?;
    }
    Ok(())
}

/// Whether the rows are in `PART_ORDER` already (missing values first, as the sort puts them).
fn in_part_order(df: &DataFrame) -> Result<bool> {
    let [time, source, id] = PART_ORDER;
    let time = df.column(time)?.datetime()?.physical();
    let (source, id) = (df.column(source)?.str()?, df.column(id)?.str()?);
    let mut rows = time.iter().zip(source.iter()).zip(id.iter());
    let Some(mut last) = rows.next() else {
        return Ok(true);
    };
    for row in rows {
        if row < last {
            return Ok(false);
        }
        last = row;
    }
    Ok(true)
}

/// Sorts a frame by its key columns, rows with equal keys in the order they had: as a stable
/// sort of its rows by their values (`Value`'s order: nulls first, text byte by byte) would.
///
/// Most comparisons read no key from elsewhere in memory: where the first key is text, rows
/// are ordered by its first 16 bytes, held side by side with the rows' places, and whole keys
/// are compared only where those tie. (A reference table of a national log has millions of
/// rows, and a read from memory per comparison would dominate the sort.) (Text compares byte by byte, so zero-padded
/// prefixes order as the text does, or tie; a missing value, first in the order, ties with "".)
///
/// The sorted frame is in chunks of `ROW_GROUP_ROWS`, each a row group when it is written
/// (polars' writer writes a frame of one chunk as one row group, however long).
pub(super) fn sort_by_key(df: &DataFrame, keys: &[PlSmallStr]) -> Result<DataFrame> {
    // The key columns in one chunk each, for reads by row.
    let mut key_frame = df.select(keys.iter().cloned())?;
    key_frame.rechunk_mut();
    let columns = key_frame
        .columns()
        .iter()
        .map(|c| KeyColumn::new(c.as_materialized_series()))
        .collect::<Result<Vec<_>>>()?;
    let by_key = |a: IdxSize, b: IdxSize| {
        columns
            .iter()
            .map(|c| c.cmp(a as usize, b as usize))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    let mut order: Vec<(u128, IdxSize)> = (0..df.height())
        .map(|i| (columns.first().map_or(0, |c| c.prefix(i)), i as IdxSize))
        .collect();
    order.sort_by(|(pa, a), (pb, b)| pa.cmp(pb).then_with(|| by_key(*a, *b)));
    let order = IdxCa::from_vec(
        PlSmallStr::EMPTY,
        order.into_iter().map(|(_, i)| i).collect(),
    );
    let sorted = df.take(&order)?;
    let mut chunked = sorted.slice(0, ROW_GROUP_ROWS);
    let mut offset = ROW_GROUP_ROWS;
    while offset < sorted.height() {
        chunked.vstack_mut_owned(sorted.slice(offset as i64, ROW_GROUP_ROWS))?;
        offset += ROW_GROUP_ROWS;
    }
    Ok(chunked)
}

/// A key column of a frame of one chunk, compared row with row in `Value`'s order.
enum KeyColumn {
    Text(StringChunked),
    Bool(BooleanChunked),
    I32(Int32Chunked),
    I64(Int64Chunked),
    U32(UInt32Chunked),
    U64(UInt64Chunked),
}

impl KeyColumn {
    fn new(s: &Series) -> Result<KeyColumn> {
        Ok(match s.dtype() {
            DataType::String => KeyColumn::Text(s.str()?.clone()),
            DataType::Boolean => KeyColumn::Bool(s.bool()?.clone()),
            DataType::Int32 => KeyColumn::I32(s.i32()?.clone()),
            DataType::Date => KeyColumn::I32(s.date()?.physical().clone()),
            DataType::Datetime(..) => KeyColumn::I64(s.datetime()?.physical().clone()),
            DataType::UInt32 => KeyColumn::U32(s.u32()?.clone()),
            DataType::UInt64 => KeyColumn::U64(s.u64()?.clone()),
            other => unreachable!(
                "key column '{}' of type {other}: a reference table's frame has the store \
                 schema, whose types (ColumnSpec::store_dtype) are all above",
                s.name()
            ),
        })
    }

    fn cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        match self {
            KeyColumn::Text(c) => c.get(a).cmp(&c.get(b)),
            KeyColumn::Bool(c) => c.get(a).cmp(&c.get(b)),
            KeyColumn::I32(c) => c.get(a).cmp(&c.get(b)),
            KeyColumn::I64(c) => c.get(a).cmp(&c.get(b)),
            KeyColumn::U32(c) => c.get(a).cmp(&c.get(b)),
            KeyColumn::U64(c) => c.get(a).cmp(&c.get(b)),
        }
    }

    /// The first 16 bytes of row `i`'s text, zero-padded; 0 for anything else.
    fn prefix(&self, i: usize) -> u128 {
        let KeyColumn::Text(c) = self else { return 0 };
        let Some(s) = c.get(i) else { return 0 };
        let mut b = [0u8; 16];
        let n = s.len().min(16);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        u128::from_be_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::table_buffer::{frame_rows, TableBuffer};
    use crate::ingest::value::Value;
    use crate::store::contract::ColumnSpec;

    #[test]
    fn a_frame_sorts_by_key_as_a_stable_sort_of_its_rows_by_value_does() {
        use crate::store::contract::ColType;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7513);
        // Texts that share prefixes, are prefixes of each other, hold zero bytes or are not
        // ASCII; a second key column (dates, some before 1970); a payload column (the row's
        // place), so that the order of equal keys shows.
        let texts = [
            "",
            "a",
            "a\0",
            "a\0\0",
            "bsn1_00000000000",
            "bsn1_000000000000",
            "bsn1_0000000000001",
            "bsn1_00000000000000000000000000000000",
            "zz",
            "Z",
            "\u{e9}t\u{e9}",
        ];
        let spec = |name: &str, ty: ColType| ColumnSpec {
            name: name.into(),
            ty,
            required: false,
            meaning: String::new(),
            values: Vec::new(),
            identifier: None,
            stored_as: None,
        };
        let specs = [
            spec("t", ColType::String),
            spec("d", ColType::Date),
            spec("n", ColType::U64),
        ];
        for round in 0..40 {
            let mut buf = TableBuffer::with_columns(specs.to_vec());
            let rows: Vec<Vec<Value>> = (0..rng.random_range(0..300))
                .map(|i| {
                    let t = if round % 10 == 9 && i % 7 == 3 {
                        Value::Null
                    } else {
                        Value::Str(texts[rng.random_range(0..texts.len())].into())
                    };
                    vec![t, Value::Date(rng.random_range(-2..3)), Value::U64(i)]
                })
                .collect();
            for r in &rows {
                buf.push(r).unwrap();
            }
            let df = buf.take_frame().unwrap();
            for keys in [vec!["t"], vec!["t", "d"], vec!["d", "t"]] {
                let names: Vec<PlSmallStr> = keys.iter().map(|&k| k.into()).collect();
                let sorted = frame_rows(&sort_by_key(&df, &names).unwrap(), &specs).unwrap();
                let idx: Vec<usize> = keys
                    .iter()
                    .map(|k| specs.iter().position(|s| s.name == *k).unwrap())
                    .collect();
                let mut slow = rows.clone();
                slow.sort_by(|a, b| {
                    idx.iter()
                        .map(|&k| a[k].cmp(&b[k]))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                assert_eq!(sorted, slow, "round {round}, keys {keys:?}");
            }
        }
    }

    fn part(rows: &[(i64, &str, &str)]) -> DataFrame {
        df!(
            "event_time" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "source" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "event_id" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .unwrap()
        .lazy()
        .with_column(col("event_time").cast(DataType::Datetime(
            TimeUnit::Microseconds,
            Some(polars::prelude::TimeZone::UTC),
        )))
        .collect()
        .unwrap()
    }

    #[test]
    fn a_part_is_in_order_only_when_time_then_source_then_id_never_go_down() {
        assert!(in_part_order(&part(&[])).unwrap());
        assert!(in_part_order(&part(&[
            (1, "b", "E9"),
            (2, "a", "E1"),
            (2, "a", "E2"),
            (2, "b", "E0")
        ]))
        .unwrap());
        assert!(!in_part_order(&part(&[(2, "a", "E1"), (1, "b", "E9")])).unwrap());
        assert!(!in_part_order(&part(&[(2, "b", "E1"), (2, "a", "E9")])).unwrap());
        assert!(!in_part_order(&part(&[(2, "a", "E2"), (2, "a", "E1")])).unwrap());
    }

    #[test]
    fn a_part_out_of_order_is_written_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part.parquet");
        write_part(
            &path,
            part(&[(3, "a", "E3"), (1, "b", "E1"), (1, "a", "E2")]),
        )
        .unwrap();
        let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert!(back.equals(&part(&[(1, "a", "E2"), (1, "b", "E1"), (3, "a", "E3")])));
    }
}
