//! The verdicts file (`verdicts.parquet`): every verdict row of an audit, written part by part
//! while the next part is computed, the text columns the engine decodes from codes as Enum
//! columns made from those codes.
//!
//! Written as text, those columns made polars' Parquet writer find each one's distinct values by
//! hashing every row (to dictionary-encode them). An Enum column is its codes and its labels,
//! which the writer takes as the dictionary as they are: about 1.2 s less CPU of 21 s at 10M
//! events. The user's id is one of them (from the user code every event has): at 100M about
//! 20 s less CPU, and a file no larger. The file holds the same strings either way: DuckDB, Spark and Trino read a
//! dictionary-encoded string column; polars reads it back as an Enum.

use std::fs::File;
use std::sync::mpsc::Receiver;

use polars::prelude::*;

use crate::engine::{self, CodeLabels, REASONS, SIGNALS, VERDICTS};
use crate::error::{Error, Result};

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
                VERDICTS.map(String::from).to_vec(),
            ),
            ("rule", "rule_code", None, labels.rules.clone()),
            ("article", "rule_code", Some(article_of_rule), articles),
            (
                "reason",
                "reason_code",
                None,
                REASONS.map(String::from).to_vec(),
            ),
            (
                "also_explained_by",
                "explained_mask",
                None,
                engine::mask_labels(&rules),
            ),
            (
                "signals",
                "signal_mask",
                None,
                engine::mask_labels(&SIGNALS),
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
        VerdictFile { coded }
    }

    /// The verdict columns of `chunk` (a frame of `Engine::coded_verdicts`) as written: the
    /// coded ones as Enums. The engine decodes each of these texts from its code, so the two
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
            if !fits || codes.null_count() != text.null_count() {
                return Err(Error::Invalid(format!(
                    "internal: the codes of verdict column '{}' do not match its text",
                    c.text
                )));
            }
            let physical = codes.cast(&c.physical)?;
            // SAFETY: every code is below the number of labels (`fits`).
            let column = unsafe { physical.from_physical_unchecked(&c.dtype)? };
            let column = column.with_name(c.text.into());
            out.replace(c.text, column.into())?;
        }
        Ok(out)
    }

    /// Writes the frames received to `file` as one Parquet file.
    pub fn write(file: &File, parts: Receiver<DataFrame>) -> Result<()> {
        let mut writer = None;
        for mut chunk in parts {
            // The writer takes rows in batches whose columns break at the same rows; the
            // engine's columns come from several sources (the files read, the facts' threads).
            chunk.align_chunks_par();
            let w = match &mut writer {
                Some(w) => w,
                // Encoded on this thread (not polars' pool, which computes the next part).
                None => writer.insert(
                    crate::store::parquet_writer(file)
                        .set_parallel(false)
                        .batched(chunk.schema())?,
                ),
            };
            if chunk.height() > 0 {
                w.write_batch(&chunk)?;
            }
        }
        if let Some(w) = writer {
            w.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        VerdictFile::write(&file, rx).unwrap();
        let back = ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap();
        let mut want = part.clone();
        want.vstack_mut(&part).unwrap();
        assert!(back.equals_missing(&want), "{back}");
    }
}
