//! Rows grouped by a dense integer code (`Offsets`): where each code's rows are, so that an
//! event's rows in a reference table are two array reads instead of a hash join.

use crate::error::Result;

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
            assert!(
                k < n,
                "code {code} of {what} is not below {n}: codes count the {what}s"
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each code's rows are its rows of the input, in input order; a null code has none, and
    /// neither has a code beyond the count.
    #[test]
    fn offsets_group_rows_by_code_in_input_order() {
        let codes = [Some(2u32), Some(0), None, Some(2), Some(3)];
        let (index, order) = Offsets::new(&codes, 5, "k").unwrap();
        let rows = |c: Option<u32>| index.rows(c).map(|r| order[r]).collect::<Vec<_>>();
        assert_eq!(rows(Some(0)), [1]);
        assert_eq!(rows(Some(1)), Vec::<usize>::new());
        assert_eq!(rows(Some(2)), [0, 3]);
        assert_eq!(rows(Some(3)), [4]);
        assert_eq!(rows(Some(4)), Vec::<usize>::new());
        assert_eq!(rows(Some(9)), Vec::<usize>::new());
        assert_eq!(rows(None), Vec::<usize>::new());
    }

    #[test]
    #[should_panic(expected = "code 3 of k is not below 3")]
    fn a_code_beyond_the_count_is_refused() {
        let _ = Offsets::new(&[Some(0), Some(3)], 3, "k");
    }
}
