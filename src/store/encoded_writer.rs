//! A Parquet writer with an encoding chosen per column, for the files written from the tool's
//! largest frames (the store's event parts, the audit's verdicts).
//!
//! polars' own writer chooses by type: it tries a dictionary for every text, integer and time
//! column (for text first estimating the distinct count by hashing every row, then hashing every
//! row again into the dictionary). For columns whose values are unique (event ids) or in order
//! (times, written as deltas) that is work that does not pay; a text column here is made a
//! dictionary with one hash per row (`text_dictionary`).

use std::fs::File;

use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_parquet::read::ParquetError;
use polars_parquet::write::{
    array_to_columns, CompressionOptions, Compressor, DynIter, DynStreamingIterator, Encoding,
    FallibleStreamingIterator, FileWriter, ParquetType, Version, WriteOptions, ZstdLevel,
};

use crate::error::Result;

/// Rows in a row group of `write_frame` (polars' writer's default).
pub const ROW_GROUP_ROWS: usize = 1 << 18;

/// A Parquet file being written row group by row group, each column with its own encoding.
pub struct EncodedWriter<'f> {
    file: FileWriter<&'f File>,
    options: WriteOptions,
    /// Each column's Parquet type and encoding.
    columns: Vec<(ParquetType, Encoding)>,
}

impl<'f> EncodedWriter<'f> {
    /// A writer of the columns `fields` (name and type), with their encodings.
    pub fn new(file: &'f File, fields: Vec<(Field, Encoding)>) -> Result<EncodedWriter<'f>> {
        let (fields, encodings): (Vec<Field>, Vec<Encoding>) = fields.into_iter().unzip();
        let schema: Schema = fields.into_iter().collect();
        let options = WriteOptions {
            // Min, max and null counts (what readers prune row groups by), not distinct counts,
            // which cost a hash of every value.
            statistics: StatisticsOptions::default(),
            // As every file of the tool: on its data both faster and smaller than level 3.
            compression: CompressionOptions::Zstd(Some(ZstdLevel::try_new(1)?)),
            version: Version::V1,
            data_page_size: None,
        };
        let file = FileWriter::try_new(file, schema.to_arrow(CompatLevel::newest()), options)?;
        let columns = file
            .parquet_schema()
            .fields()
            .iter()
            .cloned()
            .zip(encodings)
            .collect();
        Ok(EncodedWriter {
            file,
            options,
            columns,
        })
    }

    /// The encoding of a column of an event-ordered frame: event ids (unique) plain, times (in
    /// order) as deltas, text as a dictionary, the rest plain.
    pub fn encoding_of(name: &str, dtype: &DataType) -> Encoding {
        match dtype {
            _ if name == "event_id" => Encoding::Plain,
            DataType::Datetime(..) => Encoding::DeltaBinaryPacked,
            DataType::String | DataType::Categorical(..) | DataType::Enum(..) => {
                Encoding::RleDictionary
            }
            _ => Encoding::Plain,
        }
    }

    /// Writes one row group of `arrays`, one per column, all of one length. A text column
    /// with encoding `RleDictionary` is made a dictionary here (`text_dictionary`), or written
    /// plain where more than three rows in four are distinct.
    pub fn write(&mut self, arrays: &[&dyn Array]) -> Result<()> {
        let rows = arrays.first().map_or(0, |a| a.len());
        if rows == 0 {
            return Ok(());
        }
        let mut encoded = Vec::with_capacity(self.columns.len());
        for (array, (parquet_type, encoding)) in arrays.iter().zip(&self.columns) {
            let text = match (encoding, array.as_any().downcast_ref::<Utf8ViewArray>()) {
                (Encoding::RleDictionary, Some(text)) => Some(text_dictionary(text)),
                _ => None,
            };
            let (array, encoding): (&dyn Array, Encoding) = match &text {
                Some(Some(dictionary)) => (dictionary, Encoding::RleDictionary),
                // Most rows differ: polars' writer would find the same and fall back to plain.
                Some(None) => (*array, Encoding::Plain),
                None => (*array, *encoding),
            };
            for pages in array_to_columns(array, parquet_type.clone(), self.options, &[encoding])? {
                let pages = pages.map(|p| {
                    p.map_err(|e| ParquetError::FeatureNotSupported(format!("reraised: {e}")))
                });
                let compressed = Compressor::new_from_vec(pages, self.options.compression, vec![])
                    .map_err(PolarsError::from);
                encoded.push(Ok(DynStreamingIterator::new(compressed)));
            }
        }
        self.file
            .write(rows as u64, DynIter::new(encoded.into_iter()))?;
        Ok(())
    }

    /// Writes a frame with the writer's columns, in row groups of `ROW_GROUP_ROWS`.
    pub fn write_frame(&mut self, df: &DataFrame) -> Result<()> {
        let mut offset = 0;
        while offset < df.height() {
            let mut group = df.slice(offset as i64, ROW_GROUP_ROWS);
            offset += group.height();
            group.rechunk_mut();
            for batch in group.iter_chunks(CompatLevel::newest(), false) {
                let arrays: Vec<&dyn Array> = batch.columns().iter().map(|a| a.as_ref()).collect();
                self.write(&arrays)?;
            }
        }
        Ok(())
    }

    /// Writes the file's footer.
    pub fn finish(mut self) -> Result<()> {
        self.file.end(None)?;
        Ok(())
    }
}

/// A text column as a dictionary array for the writer (each distinct string once, the rows as
/// keys into them), or `None` (found out as soon as it is so) where more than three rows in four
/// are distinct. A row whose view equals the previous row's (the same bytes in the same place,
/// or the same short string inline) takes its key without hashing.
fn text_dictionary(array: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    let mut index: PlHashMap<&str, u32> = PlHashMap::default();
    let mut values: Vec<&str> = Vec::new();
    let mut keys: Vec<u32> = Vec::with_capacity(array.len());
    let mut last: Option<(u128, u32)> = None;
    // More distinct values than three rows in four: a dictionary would not pay (polars'
    // writer draws the line there too).
    let limit = array.len() / 4 * 3;
    for (i, view) in array.views().iter().enumerate() {
        if !array.is_valid(i) {
            keys.push(0);
            continue;
        }
        let view = view.as_u128();
        let key = match last {
            Some((v, k)) if v == view => k,
            _ => {
                let value = array.value(i);
                *index.entry(value).or_insert_with(|| {
                    values.push(value);
                    (values.len() - 1) as u32
                })
            }
        };
        if values.len() > limit {
            return None;
        }
        last = Some((view, key));
        keys.push(key);
    }
    let keys = PrimitiveArray::new(
        ArrowDataType::UInt32,
        keys.into(),
        array.validity().cloned(),
    );
    let values = Utf8ViewArray::arr_from_iter_trusted(values.into_iter().map(Some)).boxed();
    let dtype = ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    );
    let dictionary = DictionaryArray::try_new(dtype, keys, values).expect(
        "the types are a dictionary's, and every key of a valid row indexes `values` (a null \
         row's key 0 is checked only where some row is valid, so `values` is not empty)",
    );
    Some(dictionary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars_parquet::read::read_metadata;

    /// A text column with few distinct values becomes a dictionary of each once (a long string
    /// repeated from another place in the buffers too) whose keys give back every row; one of
    /// mostly distinct values is not.
    #[test]
    fn a_text_column_is_dictionary_encoded_with_each_string_once() {
        let long = "suite4sd-voorbeeldstad-archief";
        let rows = [
            Some("R"),
            Some("R"),
            None,
            Some(long),
            Some("W"),
            Some(long),
            Some("R"),
        ];
        let mut array = Utf8ViewArray::arr_from_iter_trusted(rows.iter().copied());
        // The same long string once more, from a buffer of its own.
        let more = Utf8ViewArray::arr_from_iter_trusted([Some(long)].iter().copied());
        array = polars_arrow::compute::concatenate::concatenate_unchecked(&[
            array.boxed(),
            more.boxed(),
        ])
        .unwrap()
        .as_any()
        .downcast_ref::<Utf8ViewArray>()
        .unwrap()
        .clone();
        let dict = text_dictionary(&array).unwrap();
        let values = dict
            .values()
            .as_any()
            .downcast_ref::<Utf8ViewArray>()
            .unwrap();
        let distinct: Vec<&str> = values.values_iter().collect();
        assert_eq!(distinct, ["R", long, "W"]);
        let back: Vec<Option<&str>> = (0..dict.len())
            .map(|i| {
                dict.is_valid(i)
                    .then(|| values.value(dict.keys().value(i) as usize))
            })
            .collect();
        let mut want = rows.to_vec();
        want.push(Some(long));
        assert_eq!(back, want);

        let distinct_rows =
            Utf8ViewArray::arr_from_iter_trusted(["a", "b", "c", "d"].map(Some).iter().copied());
        assert!(text_dictionary(&distinct_rows).is_none());
        // A column of nulls only: a dictionary of nothing.
        let nulls = Utf8ViewArray::arr_from_iter_trusted([None::<&str>; 8].iter().copied());
        assert_eq!(text_dictionary(&nulls).unwrap().values().len(), 0);
    }

    /// A frame in chunks (as ingest's buffers make them) is written in row groups of
    /// `ROW_GROUP_ROWS`, each column with its encoding, and reads back as it was.
    #[test]
    fn a_frame_reads_back_whole_with_each_column_encoded_as_chosen() {
        let rows = ROW_GROUP_ROWS + 1000;
        let frame = |from: usize, to: usize| {
            df!(
                "event_id" => (from..to).map(|i| format!("EV{i:08}")).collect::<Vec<_>>(),
                "action" => (from..to).map(|i| ["R", "W", "U"][i % 3]).collect::<Vec<_>>(),
                "event_time" => (from..to).map(|i| 1_700_000_000_000_000 + i as i64 * 7_000_000)
                    .collect::<Vec<_>>(),
            )
            .unwrap()
            .lazy()
            .with_column(col("event_time").cast(DataType::Datetime(
                TimeUnit::Microseconds,
                Some(TimeZone::UTC),
            )))
            .collect()
            .unwrap()
        };
        let mut df = frame(0, 1000);
        df.vstack_mut_owned(frame(1000, rows)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part.parquet");
        let file = File::create(&path).unwrap();
        let fields = df
            .columns()
            .iter()
            .map(|c| {
                let encoding = EncodedWriter::encoding_of(c.name(), c.dtype());
                (Field::new(c.name().clone(), c.dtype().clone()), encoding)
            })
            .collect();
        let mut writer = EncodedWriter::new(&file, fields).unwrap();
        writer.write_frame(&df).unwrap();
        writer.finish().unwrap();

        let back = ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert!(back.equals_missing(&df));
        let meta = read_metadata(&mut File::open(&path).unwrap()).unwrap();
        let groups: Vec<usize> = meta.row_groups.iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [ROW_GROUP_ROWS, 1000]);
        for group in &meta.row_groups {
            let [id, action, time] = group.parquet_columns() else {
                panic!("three columns");
            };
            assert!(id.dictionary_page_offset().is_none());
            assert!(action.dictionary_page_offset().is_some());
            // Times 7 s apart as deltas: a few bytes a page, where plain is 8 a row.
            assert!(time.dictionary_page_offset().is_none());
            assert!(time.uncompressed_size() < group.num_rows() as i64 / 8);
        }
    }
}
