//! Rows grouped by a dense integer code (`Offsets`), a reference table indexed by such a code
//! (`ByCode`), and the left join of events to it by array reads.

use polars::prelude::*;

use crate::error::{Error, Result};

/// Rows grouped by a dense code: code k's rows are `start[k]..start[k + 1]` of the arrays.
pub(crate) struct Offsets(Vec<usize>);

impl Offsets {
    /// The offsets of `codes` (each below `n`) and the order that sorts the rows by code (stable).
    pub(crate) fn new(
        codes: &[Option<u32>],
        n: usize,
        what: &str,
    ) -> Result<(Offsets, Vec<usize>)> {
        let mut start = vec![0usize; n + 1];
        for code in codes.iter().flatten() {
            let k = *code as usize;
            if k >= n {
                return Err(Error::Invalid(format!(
                    "internal: code {code} of {what} is not below {n}"
                )));
            }
            start[k + 1] += 1;
        }
        for k in 0..n {
            start[k + 1] += start[k];
        }
        let mut next = start.clone();
        let mut order = vec![0usize; start[n]];
        for (row, code) in codes.iter().enumerate() {
            if let Some(k) = code {
                order[next[*k as usize]] = row;
                next[*k as usize] += 1;
            }
        }
        Ok((Offsets(start), order))
    }

    /// The rows of `code` (none for a null code or one beyond the table).
    pub(crate) fn rows(&self, code: Option<u32>) -> std::ops::Range<usize> {
        match code.map(|c| c as usize) {
            Some(k) if k + 1 < self.0.len() => self.0[k]..self.0[k + 1],
            _ => 0..0,
        }
    }
}

/// A reference table indexed by a dense integer code (`0..n`): its rows sorted by the code, and
/// where each code's rows begin. Looking up an event's rows is then two array reads instead of a
/// hash join, whose hash table over millions of pairs or clients was rebuilt for every part.
pub(crate) struct ByCode {
    key: String,
    /// The rows sorted by `key`, without the `key` column.
    rows: DataFrame,
    /// Where each code's rows are.
    index: Offsets,
}

impl ByCode {
    /// Indexes `table` by its `key` column of codes below `n` (rows without a code are dropped).
    pub(crate) fn new(table: DataFrame, key: &str, n: usize) -> Result<ByCode> {
        let codes: Vec<Option<u32>> = table
            .column(key)?
            .cast(&DataType::UInt32)?
            .u32()?
            .iter()
            .collect();
        let (index, order) = Offsets::new(&codes, n, &format!("'{key}'"))?;
        let order = IdxCa::from_vec(
            "order".into(),
            order.iter().map(|&r| r as IdxSize).collect(),
        );
        Ok(ByCode {
            key: key.to_string(),
            rows: table.drop(key)?.take(&order)?,
            index,
        })
    }

    /// A left join of `left` to these rows on the code column of the same name, keeping the
    /// order of `left`: each of its rows once per matching row, or once with nulls.
    pub(crate) fn left_join(&self, left: &DataFrame) -> Result<DataFrame> {
        let codes = left.column(&self.key)?.cast(&DataType::UInt32)?;
        let mut li: Vec<IdxSize> = Vec::with_capacity(left.height());
        let mut ri: Vec<Option<IdxSize>> = Vec::with_capacity(left.height());
        for (i, code) in codes.u32()?.iter().enumerate() {
            let rows = self.index.rows(code);
            if rows.is_empty() {
                li.push(i as IdxSize);
                ri.push(None);
            }
            for r in rows {
                li.push(i as IdxSize);
                ri.push(Some(r as IdxSize));
            }
        }
        // With at most one match per row, `left` is taken as it is.
        let left = if li.len() == left.height() {
            left.clone()
        } else {
            left.take(&IdxCa::from_vec("li".into(), li))?
        };
        let right = self
            .rows
            .take(&IdxCa::from_iter_options("ri".into(), ri.into_iter()))?;
        Ok(left.hstack(right.columns())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup gives what a left join keeping the left order gives: every match of a code, one
    /// row of nulls for a code without rows, a null code or one beyond the table.
    #[test]
    fn left_join_by_code_is_a_left_join_in_left_order() {
        let table = df!(
            "k" => [2u32, 0, 2, 3],
            "v" => ["c1", "a", "c2", "d"],
        )
        .unwrap();
        let by = ByCode::new(table, "k", 5).unwrap();
        let left = df!(
            "i" => [0u32, 1, 2, 3, 4],
            "k" => [Some(2u32), Some(1), None, Some(0), Some(9)],
        )
        .unwrap();
        let got = by.left_join(&left).unwrap();
        let want = df!(
            "i" => [0u32, 0, 1, 2, 3, 4],
            "k" => [Some(2u32), Some(2), Some(1), None, Some(0), Some(9)],
            "v" => [Some("c1"), Some("c2"), None, None, Some("a"), None],
        )
        .unwrap();
        assert!(got.equals_missing(&want), "{got}");
        // One match at most: the left frame comes back as it was, with the right columns.
        let one = ByCode::new(df!("k" => [1u32], "v" => ["b"]).unwrap(), "k", 2).unwrap();
        let got = one.left_join(&left).unwrap();
        assert_eq!(got.height(), left.height());
        assert_eq!(got.column("v").unwrap().null_count(), 4);
        // An empty table: nulls for every row.
        let empty = df!("k" => Vec::<u32>::new(), "v" => Vec::<i32>::new()).unwrap();
        let got = ByCode::new(empty, "k", 3)
            .unwrap()
            .left_join(&left)
            .unwrap();
        assert_eq!(got.column("v").unwrap().null_count(), left.height());
    }

    #[test]
    fn a_code_beyond_the_count_is_refused() {
        let table = df!("k" => [0u32, 3], "v" => [1, 2]).unwrap();
        assert!(ByCode::new(table, "k", 3).is_err());
    }
}
