//! Command-line interface: the argument definitions and the dispatch to one module per command.

pub mod audit;
pub mod generate;
pub mod ingest;
pub mod investigate;
pub mod keygen;
pub mod period_args;
pub mod run;
pub mod stats;
pub mod verify;

use clap::{Parser, Subcommand};

/// Success.
pub const EXIT_OK: i32 = 0;
/// The command failed (bad input file, store problem, ...); the message says why.
pub const EXIT_ERROR: i32 = 1;
/// The command line itself is wrong (clap uses 2 as well).
pub const EXIT_USAGE: i32 = 2;
/// `ingest --strict` only: the run completed but rows went to the quarantine.
pub const EXIT_QUARANTINED: i32 = 3;
/// `audit` only: the run completed and found accesses that need review (unjustified accesses
/// or emergency logins). 0 means it completed and found none.
pub const EXIT_FINDINGS: i32 = 4;
/// `verify` only: an output file (or an input it records) changed since it was written.
pub const EXIT_TAMPERED: i32 = 5;

#[derive(Debug, Parser)]
#[command(
    name = "wmo-audit",
    version,
    about = "Audit access to Wmo client dossiers against the organisation's privacy protocol"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job in one command: ingest, audit and statistics (the sample without --config).
    #[command(
        after_help = "Examples:\n  wmo-audit run                                   # the committed sample, from the project's folder\n  wmo-audit run --config /etc/wmo-audit/job.toml  # an organisation's periodic job\n\nExit status: 0 nothing to review, 4 accesses to review, 1 an error (nothing after it runs)."
    )]
    Run(run::RunArgs),
    /// Create a pseudonymisation key file (owner-only permissions).
    #[command(after_help = "Example:\n  wmo-audit keygen --out /secure/place/wmo-key.json")]
    Keygen(keygen::KeygenArgs),
    /// Validate, pseudonymise and store access logs and reference data.
    #[command(
        after_help = "Example:\n  wmo-audit ingest --store store --key samples/demo-key.json \\\n      --profile schemas/profiles/zaaksysteem-nl.toml \\\n      samples/voorbeeldstad/reference samples/voorbeeldstad/export-nl"
    )]
    Ingest(ingest::IngestArgs),
    /// Check every access of a period against the policy and write the FG's report.
    #[command(
        after_help = "Example:\n  wmo-audit audit --store store --policy samples/voorbeeldstad/policy.toml --period 2026-Q1\n\nExit status: 0 nothing to review, 4 accesses to review, 1 an error."
    )]
    Audit(audit::AuditArgs),
    /// Investigate one employee, one client's dossier, one day, or search the verdicts.
    #[command(
        after_help = "Examples:\n  wmo-audit investigate user W0012 --store store --policy samples/voorbeeldstad/policy.toml\n  wmo-audit investigate day 2026-03-10 --store store --policy samples/voorbeeldstad/policy.toml\n  wmo-audit investigate search --verdict emergency --period 2026-05 \\\n      --store store --policy samples/voorbeeldstad/policy.toml"
    )]
    Investigate(investigate::InvestigateArgs),
    /// A resident's overview of who looked at their dossier (letter-ready HTML).
    #[command(
        after_help = "Example:\n  wmo-audit subject-access --bsn 123456782 --key /secure/place/wmo-key.json \\\n      --store store --policy samples/voorbeeldstad/policy.toml"
    )]
    SubjectAccess(investigate::SubjectAccessArgs),
    /// Anonymised management statistics with disclosure control (HTML, CSV, Excel).
    #[command(
        after_help = "Example:\n  wmo-audit stats --store store --policy samples/voorbeeldstad/policy.toml --period 2026"
    )]
    Stats(stats::StatsArgs),
    /// Re-check an output folder against its evidence manifest.
    #[command(
        after_help = "Example:\n  wmo-audit verify reports/audit-voorbeeldstad-2026-Q1\n\nExit status: 0 unchanged, 5 a file changed, 1 an error."
    )]
    Verify(verify::VerifyArgs),
    /// Generate a synthetic organisation with injected misuse and its labels.
    #[command(after_help = "Example:\n  wmo-audit generate --out /tmp/org --size large --seed 7")]
    Generate(generate::GenerateArgs),
}

/// `--timings` of `ingest` and `audit`: the run's phases to standard error, under a heading.
fn print_timings(timings: &crate::phase_timings::PhaseTimings) -> std::io::Result<()> {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    writeln!(err, "timings (wall clock):")?;
    timings.write(&mut err)
}

/// Runs a command and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::Ingest(a) => ingest::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Investigate(a) => investigate::run(a),
        Command::SubjectAccess(a) => investigate::run_subject_access(a),
        Command::Stats(a) => stats::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Generate(a) => generate::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap checks the definitions (unique names, groups) only when a command is built.
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
