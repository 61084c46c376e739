//! Columnar buffers that turn validated rows into a Polars frame of the contract's store schema.

use polars::prelude::*;
use polars_arrow::array::{MutableBinaryViewArray, View};

use crate::error::Result;
use crate::ingest::value::Value;
use crate::store::contract::{ColType, ColumnSpec, TableSpec};

enum Builder {
    /// Strings go straight into Arrow's view buffers (no allocation per value).
    Str(TextColumn),
    /// Values and a validity bitmap made only once a value is missing.
    Bool(BooleanChunkedBuilder),
    Int(PrimitiveChunkedBuilder<Int32Type>),
    Date(PrimitiveChunkedBuilder<Int32Type>),
    Timestamp(PrimitiveChunkedBuilder<Int64Type>),
    U32(PrimitiveChunkedBuilder<UInt32Type>),
    U64(PrimitiveChunkedBuilder<UInt64Type>),
}

impl Builder {
    fn new(ty: ColType, rows: usize) -> Builder {
        let name = PlSmallStr::EMPTY;
        match ty {
            ColType::String | ColType::Text | ColType::Enum | ColType::Identifier => {
                Builder::Str(TextColumn::with_capacity(rows))
            }
            ColType::Bool => Builder::Bool(BooleanChunkedBuilder::new(name, rows)),
            ColType::Int => Builder::Int(PrimitiveChunkedBuilder::new(name, rows)),
            ColType::Date => Builder::Date(PrimitiveChunkedBuilder::new(name, rows)),
            ColType::Timestamp => Builder::Timestamp(PrimitiveChunkedBuilder::new(name, rows)),
            ColType::U32 => Builder::U32(PrimitiveChunkedBuilder::new(name, rows)),
            ColType::U64 => Builder::U64(PrimitiveChunkedBuilder::new(name, rows)),
        }
    }

    fn push(&mut self, v: &Value) -> bool {
        match (self, v) {
            (Builder::Str(b), Value::Str(s)) => b.push(s),
            (Builder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Builder::Int(b), Value::Int(x)) => b.append_value(*x),
            (Builder::Date(b), Value::Date(x)) => b.append_value(*x),
            (Builder::Timestamp(b), Value::Timestamp(x)) => b.append_value(*x),
            (Builder::U32(b), Value::U32(x)) => b.append_value(*x),
            (Builder::U64(b), Value::U64(x)) => b.append_value(*x),
            (Builder::Str(b), Value::Null) => b.push_null(),
            (Builder::Bool(b), Value::Null) => b.append_null(),
            (Builder::Int(b) | Builder::Date(b), Value::Null) => b.append_null(),
            (Builder::Timestamp(b), Value::Null) => b.append_null(),
            (Builder::U32(b), Value::Null) => b.append_null(),
            (Builder::U64(b), Value::Null) => b.append_null(),
            _ => return false,
        }
        true
    }

    fn into_column(self, name: &str) -> Result<Column> {
        let name = PlSmallStr::from(name);
        let series = match self {
            Builder::Str(b) => b.finish(name).into_series(),
            Builder::Bool(b) => b.finish().with_name(name).into_series(),
            Builder::Int(b) => b.finish().with_name(name).into_series(),
            Builder::U32(b) => b.finish().with_name(name).into_series(),
            Builder::U64(b) => b.finish().with_name(name).into_series(),
            Builder::Date(b) => b.finish().with_name(name).into_date().into_series(),
            Builder::Timestamp(b) => b
                .finish()
                .with_name(name)
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_series(),
        };
        Ok(series.into())
    }
}

/// A text column being built. A long text (one not held inline in its view) equal to the last
/// long text takes that one's view, pointing at the same bytes, instead of a copy of its own: a
/// log repeats its source system, say, row after row. (The Parquet writer then also knows the
/// repeat by its view, without hashing the text: `store::encoded_writer::text_dictionary`.)
struct TextColumn {
    array: MutableBinaryViewArray<str>,
    /// The view of the last long text pushed.
    last_long: Option<View>,
    /// Bytes of the texts that took another's view (not counted by `array`).
    repeated: usize,
}

impl TextColumn {
    fn with_capacity(rows: usize) -> TextColumn {
        TextColumn {
            array: MutableBinaryViewArray::with_capacity(rows),
            last_long: None,
            repeated: 0,
        }
    }

    fn push(&mut self, text: &str) {
        if text.len() <= View::MAX_INLINE_SIZE as usize {
            self.array.push_value(text);
            return;
        }
        if let Some(view) = self.last_long {
            // SAFETY: `view` is a view this array made (`last_long`).
            let last = unsafe { self.array.value_from_view_unchecked(&view) };
            if last == text {
                // SAFETY: the view is one of this array's, so its buffer and offset are valid;
                // the total of the texts' lengths is set right in `finish`.
                unsafe { self.array.views_mut().push(view) };
                if let Some(validity) = self.array.validity() {
                    validity.push(true);
                }
                self.repeated += text.len();
                return;
            }
        }
        self.array.push_value(text);
        self.last_long = self.array.views().last().copied();
    }

    fn push_null(&mut self) {
        self.array.push_null();
    }

    fn finish(mut self, name: PlSmallStr) -> StringChunked {
        let total = self.array.total_bytes_len() + self.repeated;
        // SAFETY: the total of the texts' lengths, those pushed and those that took a view.
        unsafe { self.array.set_total_bytes_len(total) };
        StringChunked::with_chunk(name, self.array.freeze())
    }
}

/// Rows in the first chunk of a buffer; each next chunk holds as many rows as the buffer
/// already has, up to `MAX_CHUNK_ROWS`.
const FIRST_CHUNK_ROWS: usize = 1 << 10;
const MAX_CHUNK_ROWS: usize = 1 << 18;

/// Rows of one table, column by column, in the order of the contract's store schema.
///
/// Rows go into builders sized for one chunk; a full chunk becomes a frame of its own. So a
/// buffer never grows a column by copying it, and a large one holds what it holds and little
/// more (its columns are chunked; the frame is made without copying them).
pub struct TableBuffer {
    specs: Vec<ColumnSpec>,
    builders: Vec<Builder>,
    /// Rows the builders have room for, and rows in them.
    room: usize,
    building: usize,
    /// Full chunks.
    chunks: Vec<DataFrame>,
    len: usize,
}

impl TableBuffer {
    pub fn new(table: &TableSpec) -> TableBuffer {
        Self::with_columns(
            table
                .columns
                .iter()
                .chain(table.added.iter())
                .cloned()
                .collect(),
        )
    }

    pub fn with_columns(specs: Vec<ColumnSpec>) -> TableBuffer {
        TableBuffer {
            specs,
            builders: Vec::new(),
            room: 0,
            building: 0,
            chunks: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row. The values match the columns: the validator makes them by the same
    /// specs (a mismatch is a bug, not bad input, and panics).
    pub fn push(&mut self, row: &[Value]) -> Result<()> {
        assert_eq!(
            row.len(),
            self.specs.len(),
            "a row has a value for each column of its table"
        );
        if self.building == self.room {
            self.finish_chunk()?;
            self.room = self.len.clamp(FIRST_CHUNK_ROWS, MAX_CHUNK_ROWS);
            self.builders = self
                .specs
                .iter()
                .map(|c| Builder::new(c.ty, self.room))
                .collect();
        }
        for ((b, v), spec) in self.builders.iter_mut().zip(row).zip(&self.specs) {
            let fits = b.push(v);
            assert!(
                fits,
                "value {v:?} does not fit column '{}': a row's values have its columns' types",
                spec.name
            );
        }
        self.building += 1;
        self.len += 1;
        Ok(())
    }

    /// Turns the rows in the builders into a chunk.
    fn finish_chunk(&mut self) -> Result<()> {
        if self.building == 0 {
            return Ok(());
        }
        let columns = std::mem::take(&mut self.builders)
            .into_iter()
            .zip(&self.specs)
            .map(|(b, s)| b.into_column(s.store_name()))
            .collect::<Result<Vec<_>>>()?;
        self.chunks
            .push(DataFrame::new(std::mem::take(&mut self.building), columns)?);
        self.room = 0;
        Ok(())
    }

    /// The frame, emptying the buffer.
    pub fn take_frame(&mut self) -> Result<DataFrame> {
        self.finish_chunk()?;
        self.len = 0;
        let mut chunks = std::mem::take(&mut self.chunks).into_iter();
        let Some(mut df) = chunks.next() else {
            let columns = self
                .specs
                .iter()
                .map(|s| Builder::new(s.ty, 0).into_column(s.store_name()))
                .collect::<Result<Vec<_>>>()?;
            return Ok(DataFrame::new(0, columns)?);
        };
        for chunk in chunks {
            df.vstack_mut_owned(chunk)?;
        }
        Ok(df)
    }
}

/// Reads a stored frame back into rows of values (for merging reference tables and for
/// de-duplicating against what the store already holds).
pub fn frame_rows(df: &DataFrame, specs: &[ColumnSpec]) -> Result<Vec<Vec<Value>>> {
    let n = df.height();
    let mut rows = vec![Vec::with_capacity(specs.len()); n];
    for spec in specs {
        let col = df.column(spec.store_name())?.as_materialized_series();
        let mut push = |i: usize, v: Value| rows[i].push(v);
        match spec.ty {
            ColType::String | ColType::Text | ColType::Enum | ColType::Identifier => {
                for (i, v) in col.str()?.iter().enumerate() {
                    push(i, v.map_or(Value::Null, |s| Value::Str(s.into())));
                }
            }
            ColType::Bool => {
                for (i, v) in col.bool()?.iter().enumerate() {
                    push(i, v.map_or(Value::Null, Value::Bool));
                }
            }
            ColType::Int => {
                for (i, v) in col.i32()?.iter().enumerate() {
                    push(i, v.map_or(Value::Null, Value::Int));
                }
            }
            ColType::Date => {
                for (i, v) in col.date()?.physical().iter().enumerate() {
                    push(i, v.map_or(Value::Null, Value::Date));
                }
            }
            ColType::Timestamp => {
                for (i, v) in col.datetime()?.physical().iter().enumerate() {
                    push(i, v.map_or(Value::Null, Value::Timestamp));
                }
            }
            ColType::U32 => {
                for (i, v) in col.u32()?.iter().enumerate() {
                    push(i, v.map_or(Value::Null, Value::U32));
                }
            }
            ColType::U64 => {
                for (i, v) in col.u64()?.iter().enumerate() {
                    push(i, v.map_or(Value::Null, Value::U64));
                }
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::Contract;

    #[test]
    fn a_long_text_like_the_last_takes_its_view_and_reads_back_the_same() {
        let (a, b) = ("suite4sd-voorbeeldstad", "suite4sd-voorbeeldstae");
        let rows = [
            Some(a),
            Some(a),
            None,
            Some(a),
            Some(b),
            Some(b),
            Some("x"),
            Some(b),
            Some(a),
        ];
        let mut column = TextColumn::with_capacity(4);
        for r in rows {
            match r {
                Some(t) => column.push(t),
                None => column.push_null(),
            }
        }
        let ca = column.finish("t".into());
        assert_eq!(ca.iter().collect::<Vec<_>>(), rows);
        let array = ca.downcast_iter().next().unwrap();
        // Three copies (a, b, a again after b); the other long texts point at them.
        assert_eq!(array.total_buffer_len(), 3 * a.len());
        assert_eq!(array.total_bytes_len(), 7 * a.len() + 1);
        assert_eq!(array.views()[0], array.views()[3]);
        assert_eq!(array.views()[4], array.views()[7]);
        assert_ne!(array.views()[0], array.views()[8]);
    }

    #[test]
    fn rows_survive_a_round_trip_through_a_frame() {
        let contract = Contract::load().unwrap();
        let cases = contract.table("cases").unwrap();
        let row = vec![
            Value::Str("Z1".into()),
            Value::Str("bsn1_00".into()),
            Value::Str("T1".into()),
            Value::Date(20000),
            Value::Null,
            Value::Null,
            Value::Bool(true),
            Value::U64(42),
        ];
        let mut buf = TableBuffer::new(cases);
        buf.push(&row).unwrap();
        let df = buf.take_frame().unwrap();
        assert_eq!(df.schema().as_ref(), &cases.store_schema());
        let specs: Vec<_> = cases.columns.iter().chain(&cases.added).cloned().collect();
        assert_eq!(frame_rows(&df, &specs).unwrap(), vec![row]);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_large_buffer_is_chunked_and_gives_back_every_row_in_order() {
        let contract = Contract::load().unwrap();
        let cases = contract.table("cases").unwrap();
        let specs: Vec<_> = cases.columns.iter().chain(&cases.added).cloned().collect();
        let rows: Vec<Vec<Value>> = (0..5000u64)
            .map(|i| {
                vec![
                    Value::Str(format!("Z{i}").into()),
                    Value::Str(format!("bsn1_{i:032}").into()),
                    Value::Str("T1".into()),
                    Value::Date(20000 + i as i32),
                    if i % 7 == 0 {
                        Value::Null
                    } else {
                        Value::Date(21000)
                    },
                    Value::Null,
                    Value::Bool(i % 2 == 0),
                    Value::U64(i * 3),
                ]
            })
            .collect();
        let mut buf = TableBuffer::new(cases);
        for row in &rows {
            buf.push(row).unwrap();
        }
        assert_eq!(buf.len(), 5000);
        let df = buf.take_frame().unwrap();
        // 1024 rows, then as many as the buffer holds: 1024, 2048, then the last 904.
        assert_eq!(df.column("case_id").unwrap().n_chunks(), 4);
        assert_eq!(df.schema().as_ref(), &cases.store_schema());
        assert_eq!(frame_rows(&df, &specs).unwrap(), rows);
        // The buffer starts over, and an empty one gives an empty frame of the schema.
        assert!(buf.is_empty());
        buf.push(&rows[1]).unwrap();
        assert_eq!(
            frame_rows(&buf.take_frame().unwrap(), &specs).unwrap(),
            rows[1..2]
        );
        let empty = buf.take_frame().unwrap();
        assert_eq!(
            (empty.height(), empty.schema().as_ref()),
            (0, &cases.store_schema())
        );
    }

    #[test]
    #[should_panic(expected = "does not fit column 'team_id'")]
    fn a_value_of_the_wrong_type_is_refused() {
        let contract = Contract::load().unwrap();
        let mut buf = TableBuffer::new(contract.table("teams").unwrap());
        let bad = vec![
            Value::Int(1),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ];
        let _ = buf.push(&bad);
    }
}
