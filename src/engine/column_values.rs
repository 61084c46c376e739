//! A polars column's values as a plain vector, read Arrow array by Arrow array: a
//! `ChunkedArray`'s own iterator looks for each row's chunk, which was about half of
//! `Engine::keys` in a `perf` profile of a 100M audit.

use polars::prelude::*;

/// The values of a numeric column, `None` where missing, read array by array (a
/// `ChunkedArray`'s own iterator looks for each row's chunk).
pub(crate) fn options<T: PolarsNumericType>(column: &ChunkedArray<T>) -> Vec<Option<T::Native>> {
    let mut out = Vec::with_capacity(column.len());
    for array in column.downcast_iter() {
        match array.validity().filter(|v| v.unset_bits() > 0) {
            None => out.extend(array.values().iter().map(|&v| Some(v))),
            Some(valid) => out.extend(
                array
                    .values()
                    .iter()
                    .zip(valid.iter())
                    .map(|(&v, ok)| ok.then_some(v)),
            ),
        }
    }
    out
}

/// The values of a numeric column, `missing` where missing, read array by array (a chunk
/// without nulls is copied whole, where collecting row by row as options costs a branch and a
/// copy per value).
pub(crate) fn values_or<T: PolarsNumericType>(
    column: &ChunkedArray<T>,
    missing: T::Native,
) -> Vec<T::Native> {
    let mut out = Vec::with_capacity(column.len());
    for array in column.downcast_iter() {
        match array.validity().filter(|v| v.unset_bits() > 0) {
            None => out.extend_from_slice(array.values()),
            Some(valid) => out.extend(array.values().iter().zip(valid.iter()).map(|(&v, ok)| {
                if ok {
                    v
                } else {
                    missing
                }
            })),
        }
    }
    out
}

/// The values of a boolean column, `missing` where missing, read array by array.
pub(crate) fn flags(column: &BooleanChunked, missing: bool) -> Vec<bool> {
    let mut out = Vec::with_capacity(column.len());
    for array in column.downcast_iter() {
        match array.validity().filter(|v| v.unset_bits() > 0) {
            None => out.extend(array.values().iter()),
            Some(valid) => out.extend(array.values().iter().zip(valid.iter()).map(|(v, ok)| {
                if ok {
                    v
                } else {
                    missing
                }
            })),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{flags, options, values_or};
    use polars::prelude::*;

    /// Values come out in row order across chunks, missing ones as `None` (or `missing`),
    /// whether a chunk has nulls or not.
    #[test]
    fn values_come_out_in_order_across_chunks_with_their_gaps() {
        let mut numbers = Int32Chunked::from_slice("n".into(), &[1, 2]);
        numbers
            .append(&Int32Chunked::from_iter([Some(3), None, Some(5)]))
            .unwrap();
        assert_eq!(numbers.chunks().len(), 2);
        assert_eq!(
            options(&numbers),
            vec![Some(1), Some(2), Some(3), None, Some(5)]
        );
        assert_eq!(values_or(&numbers, -1), vec![1, 2, 3, -1, 5]);
        let mut marks = BooleanChunked::from_iter([Some(true), None]);
        marks
            .append(&BooleanChunked::from_slice("b".into(), &[false, true]))
            .unwrap();
        assert_eq!(flags(&marks, true), vec![true, true, false, true]);
        assert_eq!(flags(&marks, false), vec![true, false, false, true]);
    }
}
