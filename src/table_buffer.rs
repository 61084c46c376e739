//! Columnar buffers that turn validated rows into a Polars frame of the contract's store schema.

use polars::prelude::*;

use crate::contract::{ColType, ColumnSpec, TableSpec};
use crate::error::{Error, Result};
use crate::value::Value;

enum Builder {
    /// Strings go straight into Arrow's view buffers (no allocation per value).
    Str(StringChunkedBuilder),
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i32>>),
    Date(Vec<Option<i32>>),
    Timestamp(Vec<Option<i64>>),
    U32(Vec<Option<u32>>),
    U64(Vec<Option<u64>>),
}

impl Builder {
    fn new(ty: ColType) -> Builder {
        match ty {
            ColType::String | ColType::Text | ColType::Enum | ColType::Identifier => {
                Builder::Str(StringChunkedBuilder::new(PlSmallStr::EMPTY, 0))
            }
            ColType::Bool => Builder::Bool(Vec::new()),
            ColType::Int => Builder::Int(Vec::new()),
            ColType::Date => Builder::Date(Vec::new()),
            ColType::Timestamp => Builder::Timestamp(Vec::new()),
            ColType::U32 => Builder::U32(Vec::new()),
            ColType::U64 => Builder::U64(Vec::new()),
        }
    }

    fn push(&mut self, v: &Value) -> bool {
        match (self, v) {
            (Builder::Str(b), Value::Str(s)) => b.append_value(s),
            (Builder::Bool(b), Value::Bool(x)) => b.push(Some(*x)),
            (Builder::Int(b), Value::Int(x)) => b.push(Some(*x)),
            (Builder::Date(b), Value::Date(x)) => b.push(Some(*x)),
            (Builder::Timestamp(b), Value::Timestamp(x)) => b.push(Some(*x)),
            (Builder::U32(b), Value::U32(x)) => b.push(Some(*x)),
            (Builder::U64(b), Value::U64(x)) => b.push(Some(*x)),
            (Builder::Str(b), Value::Null) => b.append_null(),
            (Builder::Bool(b), Value::Null) => b.push(None),
            (Builder::Int(b), Value::Null) => b.push(None),
            (Builder::Date(b), Value::Null) => b.push(None),
            (Builder::Timestamp(b), Value::Null) => b.push(None),
            (Builder::U32(b), Value::Null) => b.push(None),
            (Builder::U64(b), Value::Null) => b.push(None),
            _ => return false,
        }
        true
    }

    fn into_column(self, name: &str) -> Result<Column> {
        let name = PlSmallStr::from(name);
        let series = match self {
            Builder::Str(b) => b.finish().with_name(name).into_series(),
            Builder::Bool(v) => Series::new(name, v),
            Builder::Int(v) => Series::new(name, v),
            Builder::Date(v) => Int32Chunked::from_iter_options(name, v.into_iter())
                .into_date()
                .into_series(),
            Builder::Timestamp(v) => Int64Chunked::from_iter_options(name, v.into_iter())
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_series(),
            Builder::U32(v) => Series::new(name, v),
            Builder::U64(v) => Series::new(name, v),
        };
        Ok(series.into())
    }
}

/// Rows of one table, column by column, in the order of the contract's store schema.
pub struct TableBuffer {
    specs: Vec<ColumnSpec>,
    builders: Vec<Builder>,
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
        let builders = specs.iter().map(|c| Builder::new(c.ty)).collect();
        TableBuffer {
            specs,
            builders,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row; the values must match the store schema (a bug otherwise, not bad input).
    pub fn push(&mut self, row: &[Value]) -> Result<()> {
        if row.len() != self.builders.len() {
            return Err(Error::Invalid(format!(
                "internal: row of {} values for {} columns",
                row.len(),
                self.builders.len()
            )));
        }
        for ((b, v), spec) in self.builders.iter_mut().zip(row).zip(&self.specs) {
            if !b.push(v) {
                return Err(Error::Invalid(format!(
                    "internal: value {v:?} does not fit column '{}'",
                    spec.name
                )));
            }
        }
        self.len += 1;
        Ok(())
    }

    /// The frame, emptying the buffer.
    pub fn take_frame(&mut self) -> Result<DataFrame> {
        let builders = std::mem::replace(
            &mut self.builders,
            self.specs.iter().map(|c| Builder::new(c.ty)).collect(),
        );
        let height = std::mem::take(&mut self.len);
        let columns = builders
            .into_iter()
            .zip(&self.specs)
            .map(|(b, s)| b.into_column(s.store_name()))
            .collect::<Result<Vec<_>>>()?;
        Ok(DataFrame::new(height, columns)?)
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
                    push(i, v.map_or(Value::Null, |s| Value::Str(s.to_string())));
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
    use crate::contract::Contract;

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
        assert!(buf.push(&bad).is_err());
    }
}
