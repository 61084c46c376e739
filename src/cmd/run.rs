//! `run`: the main job in one command: ingest the inputs, audit the period and write the
//! management statistics. Without `--config` it runs on the committed sample; with it, an
//! organisation's periodic job from one TOML file (for a cron line or a scheduled task).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use serde::Deserialize;

use super::audit::{exit_status, print_outcome};
use super::ingest::IngestArgs;
use super::period_args::{command_line, out_dir, CheckedPolicy};
use crate::app::audit::PeriodConfig;
use crate::csv_output::CsvDialect;
use crate::i18n::Lang;
use crate::ingest::IngestConfig;
use crate::period::Period;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The job file (TOML): store, key, inputs with their profiles, policy, period, reports
    /// folder, language. Without it: the committed sample (see samples/voorbeeldstad-job.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The day a relative period (`previous-month`, `previous-quarter`) counts back from
    /// (default: today in the policy's time zone).
    #[arg(long, hide = true)]
    pub today: Option<NaiveDate>,
}

/// The job of the committed sample, the same as `samples/voorbeeldstad-job.toml` (a test
/// checks the two agree).
pub const SAMPLE_JOB: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/samples/voorbeeldstad-job.toml"
));

/// A job file as written. Relative paths are read from the file's own folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    store: PathBuf,
    key: PathBuf,
    policy: PathBuf,
    /// A period as `audit` takes it, or `previous-month` / `previous-quarter`.
    period: String,
    #[serde(default = "default_reports")]
    reports: PathBuf,
    #[serde(default = "default_lang")]
    lang: String,
    #[serde(default = "default_csv_dialect")]
    csv_dialect: String,
    #[serde(rename = "input")]
    inputs: Vec<JobInput>,
}

/// One ingest: files or folders read with one source profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobInput {
    paths: Vec<PathBuf>,
    profile: Option<PathBuf>,
    time_zone: Option<String>,
    client_ids: Option<String>,
}

fn default_reports() -> PathBuf {
    PathBuf::from("reports")
}

fn default_lang() -> String {
    "nl".into()
}

fn default_csv_dialect() -> String {
    "semicolon".into()
}

/// A checked job: every ingest, and the audit and the statistics of the period.
struct Job {
    ingests: Vec<(IngestConfig, PathBuf)>,
    audit: PeriodConfig,
    stats: PeriodConfig,
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let (text, base, name) = match &args.config {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read job file '{}'", path.display()))?,
            path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            path.display().to_string(),
        ),
        None => (
            SAMPLE_JOB.to_string(),
            PathBuf::from("samples"),
            "the sample job".to_string(),
        ),
    };
    let job = check(&text, &base, &name, args.today)?;
    execute(job)
}

/// Reads and checks a job: every path, the key, the profiles, the policy and the period are
/// checked before anything is written.
fn check(text: &str, base: &Path, name: &str, today: Option<NaiveDate>) -> anyhow::Result<Job> {
    let file: JobFile = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{name}: {}", e.to_string().trim_end()))?;
    let at = |p: &Path| joined(base, p);
    anyhow::ensure!(
        !file.inputs.is_empty(),
        "{name}: the job lists no [[input]]"
    );
    let lang = Lang::parse(&file.lang)
        .ok_or_else(|| anyhow::anyhow!("{name}: lang '{}' is not 'nl' or 'en'", file.lang))?;
    let csv = CsvDialect::parse(&file.csv_dialect).ok_or_else(|| {
        anyhow::anyhow!(
            "{name}: csv_dialect '{}' is not 'semicolon' or 'comma'",
            file.csv_dialect
        )
    })?;
    let policy_path = at(&file.policy);
    let policy = CheckedPolicy::load(&policy_path)?;
    let today = today.unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&policy.policy.time_zone)
            .date_naive()
    });
    let period = match Period::relative(&file.period, today) {
        Some(p) => p,
        None => Period::parse(&file.period)?,
    };
    let store = at(&file.store);
    let mut ingests = Vec::new();
    for input in &file.inputs {
        let args = IngestArgs {
            store: store.clone(),
            key: at(&file.key),
            profile: input.profile.as_deref().map(at),
            time_zone: input
                .time_zone
                .clone()
                .unwrap_or_else(|| "Europe/Amsterdam".into()),
            client_ids: input.client_ids.clone(),
            strict: false,
            quiet: !std::io::stderr().is_terminal(),
            timings: false,
            part_rows: crate::ingest::PART_ROWS as u64,
            inputs: input.paths.iter().map(|p| at(p)).collect(),
        };
        ingests.push((super::ingest::check(&args)?, store.clone()));
    }
    let reports = at(&file.reports);
    let config = |kind: &str| PeriodConfig {
        store: store.clone(),
        policy: policy.policy.clone(),
        policy_path: policy_path.clone(),
        policy_sha256: policy.sha256.clone(),
        out_dir: out_dir(&reports, kind, &policy.policy, &period),
        period: period.clone(),
        lang,
        csv,
        command: command_line(),
    };
    Ok(Job {
        ingests,
        audit: config("audit"),
        stats: config("stats"),
    })
}

/// `path` read from `base` (as is where absolute), with `.` and `..` worked out as far as they
/// go, so that messages show `store`, not `samples/../store`.
fn joined(base: &Path, path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in base.join(path).components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir
                if matches!(
                    out.components().next_back(),
                    Some(std::path::Component::Normal(_))
                ) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Runs the job's steps in order, each announced on a line of its own; stops at the first
/// error. The exit status is the audit's.
fn execute(job: Job) -> anyhow::Result<i32> {
    let steps = job.ingests.len() + 2;
    for (i, (config, store)) in job.ingests.into_iter().enumerate() {
        println!("== step {}/{steps}: ingest into {}", i + 1, store.display());
        super::ingest::execute(config, &store)?;
    }
    println!(
        "== step {}/{steps}: audit {} {}",
        steps - 1,
        job.audit.policy.id,
        job.audit.period.label
    );
    let outcome = crate::app::audit::run(&job.audit)?;
    print_outcome(&job.audit, &outcome);
    println!(
        "== step {steps}/{steps}: statistics {} {}",
        job.stats.policy.id, job.stats.period.label
    );
    super::stats::execute(&job.stats)?;
    let status = exit_status(&outcome);
    println!();
    println!("Open:");
    println!(
        "  {}  (the FG's audit report)",
        job.audit.out_dir.join("report.html").display()
    );
    println!(
        "  {}  (management statistics)",
        job.stats.out_dir.join("stats.html").display()
    );
    println!(
        "Exit status {status}: {}",
        if status == super::EXIT_FINDINGS {
            "the audit found accesses to review (0 when none, 1 on an error)"
        } else {
            "the audit found nothing to review (4 when it does, 1 on an error)"
        }
    );
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_path_is_read_from_the_job_file_s_folder() {
        let j = |b: &str, p: &str| joined(Path::new(b), Path::new(p));
        assert_eq!(j("samples", "../store"), Path::new("store"));
        assert_eq!(
            j("samples", "./voorbeeldstad/policy.toml"),
            Path::new("samples/voorbeeldstad/policy.toml")
        );
        assert_eq!(j("/etc/wmo", "/var/lib/store"), Path::new("/var/lib/store"));
        assert_eq!(j("..", "../x"), Path::new("../../x"));
        assert_eq!(j("a", ".."), Path::new("."));
    }

    /// The sample job, as `run` reads it without `--config`, checked from the project's root.
    #[test]
    fn the_sample_job_names_files_that_exist() {
        let file: JobFile = toml::from_str(SAMPLE_JOB).unwrap();
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        for p in [&file.key, &file.policy]
            .into_iter()
            .chain(file.inputs.iter().flat_map(|i| &i.paths))
            .chain(file.inputs.iter().filter_map(|i| i.profile.as_ref()))
        {
            assert!(base.join(p).exists(), "{}", p.display());
        }
        assert_eq!(file.period, "2025-10-01..2026-09-30");
    }
}
