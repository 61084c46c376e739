//! The arguments `audit` and `stats` share (store, policy, period, output folder, language),
//! checked once into a `PeriodConfig` before any work starts.

use std::path::{Path, PathBuf};

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
        let policy = CheckedPolicy::load(&self.policy)?;
        let period = Period::parse(&self.period)?;
        require_store(&self.store)?;
        Ok(PeriodConfig {
            out_dir: self
                .out
                .clone()
                .unwrap_or_else(|| out_dir(Path::new("reports"), kind, &policy.policy, &period)),
            store: self.store.clone(),
            policy_sha256: policy.sha256,
            policy: policy.policy,
            policy_path: self.policy.clone(),
            period,
            lang: Lang::parse(&self.lang).expect("clap allows only the languages Lang parses"),
            csv: CsvDialect::parse(&self.csv_dialect)
                .expect("clap allows only the dialects CsvDialect parses"),
            command: command_line(),
        })
    }
}

/// A checked policy with the SHA-256 of its file as read.
pub struct CheckedPolicy {
    pub policy: Policy,
    pub sha256: String,
}

impl CheckedPolicy {
    pub fn load(path: &Path) -> anyhow::Result<CheckedPolicy> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy '{}'", path.display()))?;
        Ok(CheckedPolicy {
            policy: Policy::parse(path, &text)?,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }
}

/// Refuses a store that holds no data yet, with what to do (a first ingest killed after its
/// commit point is completed when the store is opened).
pub fn require_store(store: &Path) -> anyhow::Result<()> {
    if !store.join("manifest.json").exists() && !store.join(".staging").exists() {
        anyhow::bail!(
            "store '{}' has no manifest.json; ingest data into it first",
            store.display()
        );
    }
    Ok(())
}

/// The output folder of a run: `<reports>/<kind>-<policy>-<period>`.
pub fn out_dir(reports: &Path, kind: &str, policy: &Policy, period: &Period) -> PathBuf {
    reports.join(format!("{kind}-{}-{}", policy.id, period.label))
}

/// The command line, for the evidence manifest.
pub fn command_line() -> Vec<String> {
    crate::evidence::command_line(&std::env::args().collect::<Vec<_>>())
}
