//! The arguments `audit` and `stats` share (store, policy, period, output folder, language),
//! checked once into a `PeriodConfig` before any work starts.

use std::path::PathBuf;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::app::audit::PeriodConfig;
use crate::csv_output::CsvDialect;
use crate::i18n::Lang;
use crate::period::Period;
use crate::policy::Policy;

#[derive(Debug, clap::Args)]
pub struct PeriodArgs {
    /// The store folder made by `ingest`.
    #[arg(long)]
    pub store: PathBuf,
    /// The organisation's policy (see schemas/policies/).
    #[arg(long)]
    pub policy: PathBuf,
    /// Period: a year '2026', a quarter '2026-Q3', a month '2026-09' or days '2026-07-01..2026-09-30'.
    #[arg(long)]
    pub period: String,
    /// Output folder (default: under reports/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Language of the report and the narratives.
    #[arg(long, default_value = "nl", value_parser = ["nl", "en"])]
    pub lang: String,
    /// CSV files: 'semicolon' (UTF-8 with a byte-order mark, ';', decimal comma: opens in
    /// Excel and LibreOffice with Dutch settings) or 'comma' (for tools).
    #[arg(long, default_value = "semicolon", value_parser = CsvDialect::NAMES)]
    pub csv_dialect: String,
}

impl PeriodArgs {
    /// Checks every argument; the default output folder is `reports/<kind>-<policy>-<period>`.
    pub fn check(&self, kind: &str) -> anyhow::Result<PeriodConfig> {
        let text = std::fs::read(&self.policy)
            .with_context(|| format!("cannot read policy '{}'", self.policy.display()))?;
        let policy = Policy::load(&self.policy)?;
        let period = Period::parse(&self.period)?;
        if !self.store.join("manifest.json").exists() {
            anyhow::bail!(
                "store '{}' has no manifest.json; ingest data into it first",
                self.store.display()
            );
        }
        let out_dir = self.out.clone().unwrap_or_else(|| {
            PathBuf::from("reports").join(format!("{kind}-{}-{}", policy.id, period.label))
        });
        Ok(PeriodConfig {
            store: self.store.clone(),
            policy_sha256: hex::encode(Sha256::digest(&text)),
            policy,
            policy_path: self.policy.clone(),
            period,
            out_dir,
            lang: Lang::parse(&self.lang).expect("clap allows only the languages Lang parses"),
            csv: CsvDialect::parse(&self.csv_dialect)
                .expect("clap allows only the dialects CsvDialect parses"),
            command: crate::evidence::command_line(&std::env::args().collect::<Vec<_>>()),
        })
    }
}
