//! The verdicts file (`verdicts.parquet`): every verdict row of an audit, written part by part
//! while the next part is computed, with the text columns the engine decodes from codes written
//! from those codes, and an encoding chosen per column.
//!
//! An Enum column is its codes and its labels, which the Parquet writer takes as the dictionary
//! as they are, instead of finding each text column's distinct values by hashing every row. The
//! client pseudonyms (millions of labels, too many for an Enum, whose labels go into every row
//! group and the file's schema) are written from the client codes with each row group's own
//! dictionary (`ClientDictionary`); the event ids, unique, are written plain, and the times in
//! order as deltas, with no dictionary tried. The file holds the same strings either way: DuckDB,
//! Spark and Trino read a dictionary-encoded string column; polars reads the Enum ones back as
//! Enums.

use std::fs::File;
use std::sync::mpsc::Receiver;

use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_arrow::record_batch::RecordBatch;
use polars_parquet::write::Encoding;

use crate::engine::vocab::{Reason, Signal, Verdict};
use crate::engine::{self, CodeLabels};
use crate::error::Result;
use crate::store::encoded_writer::EncodedWriter;

/// A verdict column written from a code column: `text` from `code` (through `remap` where the
/// code is another column's), as the Enum `dtype` whose codes are of type `physical`.
struct Coded {
    text: &'static str,
    code: &'static str,
    remap: Option<Vec<u32>>,
    dtype: DataType,
    physical: DataType,
    labels: usize,
}

/// How an audit's verdict rows are written (`engine::VERDICT_COLUMNS`, from the frames of
/// `Engine::coded_verdicts`).
pub struct VerdictFile {
    coded: Vec<Coded>,
    /// Client pseudonyms by code.
    clients: StringChunked,
}

impl VerdictFile {
    /// The Enum columns for the labels of an audit's codes. A column whose labels are not
    /// distinct stays text.
    pub fn new(labels: &CodeLabels) -> VerdictFile {
        let rules: Vec<&str> = labels.rules.iter().map(String::as_str).collect();
        // Articles by rule: several rules may cite one article.
        let mut articles: Vec<String> = labels.articles.clone();
        articles.sort();
        articles.dedup();
        let article_of_rule = labels
            .articles
            .iter()
            .map(|a| articles.binary_search(a).unwrap_or(0) as u32)
            .collect::<Vec<u32>>();
        // (text column, code column, remap, labels)
        let columns = [
            // Every event has its user's code (the engine refuses events without a user).
            ("user_id", "u", None, labels.users.clone()),
            ("user_team", "user_team_code", None, labels.teams.clone()),
            ("user_role", "user_role_code", None, labels.roles.clone()),
            (
                "dossier_team",
                "dossier_team_code",
                None,
                labels.teams.clone(),
            ),
            (
                "verdict",
                "verdict_code",
                None,
                Verdict::names().map(String::from).to_vec(),
            ),
            ("rule", "rule_code", None, labels.rules.clone()),
            ("article", "rule_code", Some(article_of_rule), articles),
            (
                "reason",
                "reason_code",
                None,
                Reason::names().map(String::from).to_vec(),
            ),
            (
                "also_explained_by",
                "explained_mask",
                None,
                crate::engine::vocab::mask_labels(&rules),
            ),
            (
                "signals",
                "signal_mask",
                None,
                crate::engine::vocab::mask_labels(&Signal::names()),
            ),
        ];
        let coded = columns
            .into_iter()
            .filter_map(|(text, code, remap, values)| {
                let cats = FrozenCategories::new(values.iter().map(String::as_str)).ok()?;
                Some(Coded {
                    text,
                    code,
                    remap,
                    physical: cats.physical().dtype(),
                    dtype: DataType::from_frozen_categories(cats),
                    labels: values.len(),
                })
            })
            .collect();
        VerdictFile {
            coded,
            clients: labels.clients.clone(),
        }
    }

    /// The verdict columns of `chunk` (a frame of `Engine::coded_verdicts`) as written: the
    /// coded ones as Enums, and the client codes (`CLIENT_CODE`) last, for `write`. The engine decodes each of these texts from its code, so the two
    /// match; codes that do not (a null in one but not the other, a code beyond the labels) are
    /// an error, as writing that part's column as text would change the file's schema midway.
    pub fn frame(&self, chunk: &DataFrame) -> Result<DataFrame> {
        let mut out = chunk.select(engine::VERDICT_COLUMNS.iter().map(|c| PlSmallStr::from(*c)))?;
        for c in &self.coded {
            let codes = chunk.column(c.code)?.u32()?;
            let codes = match &c.remap {
                Some(map) => codes.apply(|v| v.and_then(|v| map.get(v as usize).copied())),
                None => codes.clone(),
            };
            let text = out.column(c.text)?;
            let fits = codes.max().is_none_or(|m| (m as usize) < c.labels);
            assert!(
                fits && codes.null_count() == text.null_count(),
                "the codes of verdict column '{}' decode to its text: both come from the engine's labels",
                c.text
            );
            let physical = codes.cast(&c.physical)?;
            // SAFETY: every code is below the number of labels (`fits`).
            let column = unsafe { physical.from_physical_unchecked(&c.dtype)? };
            let column = column.with_name(c.text.into());
            out.replace(c.text, column.into())?;
        }
        // The writer makes `client_pid`'s dictionary from the client codes.
        out.with_column(chunk.column(CLIENT_CODE)?.clone())?;
        Ok(out)
    }

    /// Writes the frames received (from `frame`) to `file` as one Parquet file, a row group per
    /// frame chunk; a frame's `c` column is not written (see `ClientDictionary`).
    pub fn write(&self, file: &File, parts: Receiver<DataFrame>) -> Result<()> {
        let mut writer: Option<Writer> = None;
        let mut clients = ClientDictionary::new(&self.clients);
        for mut chunk in parts {
            // The writer takes rows in batches whose columns break at the same rows; the
            // engine's columns come from several sources (the files read, the facts' threads).
            chunk.align_chunks_par();
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(Writer::new(file, &chunk)?),
            };
            for batch in chunk.iter_chunks(CompatLevel::newest(), false) {
                w.write(batch, &mut clients)?;
            }
        }
        if let Some(w) = writer {
            w.file.finish()?;
        }
        Ok(())
    }
}

/// The client code column a frame for `VerdictFile::write` carries beside `client_pid`.
pub const CLIENT_CODE: &str = "c";

/// The verdict columns' writer: `client_pid` made a dictionary from the client codes.
struct Writer<'f> {
    file: EncodedWriter<'f>,
    /// The batch columns written, in order.
    written: Vec<usize>,
    /// The places of `client_pid` and its codes in a batch.
    client: Option<(usize, usize)>,
}

impl<'f> Writer<'f> {
    fn new(file: &'f File, first: &DataFrame) -> Result<Writer<'f>> {
        let names = first.get_column_names();
        let code_at = names.iter().position(|n| n.as_str() == CLIENT_CODE);
        let written: Vec<usize> = (0..names.len()).filter(|i| Some(*i) != code_at).collect();
        let fields = written
            .iter()
            .map(|&i| {
                let c = &first.columns()[i];
                let encoding = match c.name().as_str() {
                    // Unique per event: a dictionary would not pay.
                    "event_id" => Encoding::Plain,
                    _ => match c.dtype() {
                        DataType::Datetime(..) => Encoding::DeltaBinaryPacked,
                        _ => Encoding::RleDictionary,
                    },
                };
                (Field::new(c.name().clone(), c.dtype().clone()), encoding)
            })
            .collect();
        let client = match (
            names.iter().position(|n| n.as_str() == "client_pid"),
            code_at,
        ) {
            (Some(text), Some(code)) => Some((text, code)),
            _ => None,
        };
        Ok(Writer {
            file: EncodedWriter::new(file, fields)?,
            written,
            client,
        })
    }

    /// Writes `batch` as one row group.
    fn write(&mut self, batch: RecordBatch, clients: &mut ClientDictionary) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let arrays = batch.columns();
        let dictionary = match self.client {
            Some((_, code)) => Some(clients.of(arrays[code].as_ref())?),
            None => None,
        };
        let columns: Vec<&dyn Array> = self
            .written
            .iter()
            .map(|&i| match (&dictionary, self.client) {
                (Some(d), Some((client, _))) if client == i => d as &dyn Array,
                _ => arrays[i].as_ref(),
            })
            .collect();
        self.file.write(&columns)
    }
}

/// Writes `client_pid` dictionary-encoded from the client codes beside it, with a dictionary of
/// the row group's own clients in code order (the pseudonyms' order). polars' writer would find
/// the distinct pseudonyms by hashing each row's 37 bytes (millions of clients in a large store);
/// an `Enum` would put every client's pseudonym in every row group and in the file's schema.
struct ClientDictionary<'a> {
    labels: &'a StringChunked,
    /// Each code's place in the current row group's dictionary (`u32::MAX`: not in it).
    place: Vec<u32>,
}

impl<'a> ClientDictionary<'a> {
    fn new(labels: &'a StringChunked) -> ClientDictionary<'a> {
        ClientDictionary {
            labels,
            place: vec![u32::MAX; labels.len()],
        }
    }

    /// The pseudonyms of `codes` (a `UInt32` array) as a dictionary array.
    fn of(&mut self, codes: &dyn Array) -> Result<DictionaryArray<u32>> {
        let codes = codes
            .as_any()
            .downcast_ref::<PrimitiveArray<u32>>()
            .filter(|c| c.null_count() == 0)
            .expect("every verdict row has its client's code (`PartCounts::of` checks the same)");
        let mut used: Vec<u32> = Vec::new();
        for &c in codes.values().iter() {
            let place = self
                .place
                .get_mut(c as usize)
                .expect("client codes count the engine's clients");
            if *place == u32::MAX {
                *place = 0;
                used.push(c);
            }
        }
        used.sort_unstable();
        for (i, &c) in used.iter().enumerate() {
            self.place[c as usize] = i as u32;
        }
        let keys: Vec<u32> = codes
            .values()
            .iter()
            .map(|&c| self.place[c as usize])
            .collect();
        for &c in &used {
            self.place[c as usize] = u32::MAX;
        }
        let values = self.labels.take(&IdxCa::from_vec("".into(), used))?;
        let values = values.rechunk().downcast_as_array().clone().boxed();
        let dtype = ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        );
        Ok(DictionaryArray::try_new(
            dtype,
            PrimitiveArray::from_vec(keys),
            values,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(clients: &[String]) -> CodeLabels {
        CodeLabels {
            users: vec![],
            clients: StringChunked::from_iter_values(
                "value".into(),
                clients.iter().map(String::as_str),
            ),
            teams: vec![],
            roles: vec![],
            rules: vec![],
            articles: vec![],
        }
    }

    /// Parts whose columns break at different rows (as the engine's do) are written whole.
    #[test]
    fn the_verdict_writer_takes_columns_that_break_at_different_rows() {
        let mut a = Series::new("a".into(), [1i64, 2]);
        a.append(&Series::new("a".into(), [3i64])).unwrap();
        let b = Series::new("b".into(), ["x", "y", "z"]);
        let part = DataFrame::new(3, vec![a.into(), b.into()]).unwrap();
        assert_eq!(part.column("a").unwrap().n_chunks(), 2);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.parquet");
        let file = File::create(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        tx.send(part.clone()).unwrap();
        tx.send(part.clone()).unwrap();
        drop(tx);
        VerdictFile::new(&labels(&[])).write(&file, rx).unwrap();
        let back = ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap();
        let mut want = part.clone();
        want.vstack_mut(&part).unwrap();
        assert!(back.equals_missing(&want), "{back}");
    }

    /// `client_pid` is written from the client codes beside it (`c`, not written), with each
    /// row group's own clients as its dictionary: the file reads back as the text, and stays
    /// small when the organisation has many clients. A code beyond the clients is an error.
    #[test]
    fn client_pseudonyms_get_each_row_groups_own_dictionary() {
        // 20,000 clients whose pseudonyms do not compress (as HMACs do not): one dictionary of
        // them all is over 300 kB even under zstd.
        let clients: Vec<String> = (0..20_000u64)
            .map(|i| {
                let a = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let b = (i + 1).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
                format!("{a:016x}{b:016x}")
            })
            .collect();
        let part = |codes: &[u32]| {
            let text: Vec<&str> = codes
                .iter()
                .map(|&c| clients[c as usize].as_str())
                .collect();
            df!("client_pid" => text, "c" => codes.to_vec()).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.parquet");
        let file = File::create(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        tx.send(part(&[5, 19_999, 5, 7])).unwrap();
        tx.send(part(&[3, 3, 12_000])).unwrap();
        drop(tx);
        let verdict_file = VerdictFile::new(&labels(&clients));
        verdict_file.write(&file, rx).unwrap();
        let back = ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap();
        let mut want = part(&[5, 19_999, 5, 7]);
        want.vstack_mut(&part(&[3, 3, 12_000])).unwrap();
        let want = want.select(["client_pid"]).unwrap();
        assert!(back.equals_missing(&want), "{back}");
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 16_000, "the file has {size} bytes");
    }

    #[test]
    #[should_panic(expected = "client codes count the engine's clients")]
    fn a_client_code_beyond_the_clients_is_a_bug() {
        let clients = vec!["a".to_string(), "b".to_string()];
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        tx.send(df!("client_pid" => ["b"], "c" => [2u32]).unwrap())
            .unwrap();
        drop(tx);
        let file = File::create(dir.path().join("v.parquet")).unwrap();
        let _ = VerdictFile::new(&labels(&clients)).write(&file, rx);
    }
}
