//! `audit`: check the arguments into an `AuditConfig`, run the audit, print where the report is.

use std::path::PathBuf;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::audit_run::{self, AuditConfig};
use crate::period::Period;
use crate::policy::Policy;
use crate::report::Lang;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The store folder made by `ingest`.
    #[arg(long)]
    pub store: PathBuf,
    /// The organisation's policy (see schemas/policies/).
    #[arg(long)]
    pub policy: PathBuf,
    /// Period: a year '2026', a quarter '2026-Q3', a month '2026-09' or days '2026-07-01..2026-09-30'.
    #[arg(long)]
    pub period: String,
    /// Output folder (default: reports/audit-<policy id>-<period>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Language of the report and the narratives.
    #[arg(long, default_value = "nl", value_parser = ["nl", "en"])]
    pub lang: String,
}

impl AuditArgs {
    /// Checks every argument before any work starts.
    pub fn config(&self) -> anyhow::Result<AuditConfig> {
        let text = std::fs::read(&self.policy)
            .with_context(|| format!("cannot read policy '{}'", self.policy.display()))?;
        let policy = Policy::load(&self.policy)?;
        let period = Period::parse(&self.period)?;
        let lang = Lang::parse(&self.lang).unwrap_or_default();
        if !self.store.join("manifest.json").exists() {
            anyhow::bail!(
                "store '{}' has no manifest.json; ingest data into it first",
                self.store.display()
            );
        }
        let out_dir = self.out.clone().unwrap_or_else(|| {
            PathBuf::from("reports").join(format!("audit-{}-{}", policy.id, period.label))
        });
        Ok(AuditConfig {
            store: self.store.clone(),
            policy_sha256: hex::encode(Sha256::digest(&text)),
            policy,
            policy_path: self.policy.clone(),
            period,
            out_dir,
            lang,
            command: crate::evidence::command_line(&std::env::args().collect::<Vec<_>>()),
        })
    }
}

pub fn run(args: AuditArgs) -> anyhow::Result<i32> {
    let config = args.config()?;
    let o = audit_run::run(&config)?;
    println!(
        "audit {} {}: {} accesses, {} justified, {} unjustified, {} emergency logins",
        config.policy.id, config.period.label, o.events, o.justified, o.unjustified, o.emergency
    );
    println!(
        "  {} findings, {} employees to review, {} volume outliers",
        o.findings, o.review_cases, o.outliers
    );
    println!("  report: {}", o.out_dir.join("report.html").display());
    println!("  evidence: manifest.json sha256 {}", o.manifest_sha256);
    Ok(if o.has_findings() {
        super::EXIT_FINDINGS
    } else {
        super::EXIT_OK
    })
}
