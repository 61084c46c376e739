//! `investigate` and `subject-access`: check the arguments into an `InvestigationConfig`
//! (turning a BSN or client number into its pseudonym with the key), run, print the folder.

use crate::engine::vocab::Reason;
use crate::engine::vocab::Signal;
use crate::engine::vocab::Verdict;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::NaiveDate;

use crate::app::investigate::{self, InvestigationConfig};
use crate::csv_output::CsvDialect;
use crate::i18n::Lang;
use crate::investigate::model::{Search, Subject};
use crate::period::DayRange;
use crate::period::Period;
use crate::policy::Policy;
use crate::privacy::bsn::Bsn;
use crate::privacy::key::Key;
use crate::privacy::pseudonymiser::{Domain, Pseudonymiser};

/// Arguments every investigation shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The store folder made by `ingest`.
    #[arg(long)]
    pub store: PathBuf,
    /// The organisation's policy (see schemas/policies/).
    #[arg(long)]
    pub policy: PathBuf,
    /// First day (YYYY-MM-DD, in the policy's time zone); default: the beginning.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, included; default: the end.
    #[arg(long)]
    pub to: Option<String>,
    /// Output folder (default: under reports/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Language of the page.
    #[arg(long, default_value = "nl", value_parser = ["nl", "en"])]
    pub lang: String,
    /// CSV files: 'semicolon' (UTF-8 with a byte-order mark, ';', decimal comma: opens in
    /// Excel and LibreOffice with Dutch settings) or 'comma' (for tools).
    #[arg(long, default_value = "semicolon", value_parser = CsvDialect::NAMES)]
    pub csv_dialect: String,
}

/// How a client is named on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The client's BSN (11-check enforced); needs --key to find the pseudonym.
    #[arg(long, conflicts_with = "client_id")]
    pub bsn: Option<String>,
    /// A local client number (needs --key), or a pseudonym as the store holds it (bsn1_..., cln1_...).
    #[arg(long)]
    pub client_id: Option<String>,
    /// The store's key file, to turn a BSN or client number into its pseudonym.
    #[arg(long)]
    pub key: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum InvestigateCommand {
    /// Everything one employee did, client by client and day by day, beside their usual pattern.
    #[command(
        after_help = "Example:\n  wmo-audit investigate user W0012 --store store --policy samples/voorbeeldstad/policy.toml"
    )]
    User {
        user_id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Every access to one client's dossier: by whom, in which role and team, verdict, signals.
    #[command(
        after_help = "Example:\n  wmo-audit investigate client --bsn 123456782 --key /secure/place/wmo-key.json \\\n      --store store --policy samples/voorbeeldstad/policy.toml"
    )]
    Client {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Every access on one day (NEN 7513's daily view).
    #[command(
        after_help = "Example:\n  wmo-audit investigate day 2026-03-10 --store store --policy samples/voorbeeldstad/policy.toml"
    )]
    Day {
        /// The day, YYYY-MM-DD.
        date: String,
        #[command(flatten)]
        common: Common,
    },
    /// Accesses matching every condition given, e.g. emergency logins on restricted clients in May:
    /// `--verdict emergency --signal restricted_client --period 2026-05`.
    #[command(
        after_help = "Example:\n  wmo-audit investigate search --verdict emergency --signal restricted_client --period 2026-05 \\\n      --store store --policy samples/voorbeeldstad/policy.toml"
    )]
    Search {
        #[command(flatten)]
        search: Search,
        /// A period instead of --from/--to: '2026', '2026-Q2', '2026-05' or 'from..to'.
        #[arg(long)]
        period: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, clap::Args)]
pub struct InvestigateArgs {
    #[command(subcommand)]
    pub what: InvestigateCommand,
}

#[derive(Debug, clap::Args)]
pub struct SubjectAccessArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Include staff names (the protocols weigh this separately; default: role and team only).
    #[arg(long)]
    pub with_names: bool,
    #[command(flatten)]
    pub common: Common,
}

fn day(flag: &str, text: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .with_context(|| format!("{flag} '{text}' is not a day; write it as YYYY-MM-DD"))
}

fn range(common: &Common) -> anyhow::Result<DayRange> {
    let all = crate::investigate::model::all_days();
    let first = common
        .from
        .as_deref()
        .map(|t| day("--from", t))
        .transpose()?;
    let last = common.to.as_deref().map(|t| day("--to", t)).transpose()?;
    let r = DayRange {
        first: first.unwrap_or(all.first),
        last: last.unwrap_or(all.last),
    };
    if r.last < r.first {
        bail!("--to {} is before --from {}; swap them", r.last, r.first);
    }
    Ok(r)
}

fn label(r: DayRange) -> String {
    if r == crate::investigate::model::all_days() {
        "all".into()
    } else {
        format!("{}_{}", r.first, r.last)
    }
}

/// The client's pseudonym from the command line, checking the key against the store.
fn client_pid(c: &ClientArgs, store: &Path) -> anyhow::Result<String> {
    if let Some(id) = c.client_id.as_deref() {
        if id.starts_with(Domain::Bsn.prefix()) || id.starts_with(Domain::ClientNumber.prefix()) {
            return Ok(id.to_string());
        }
    }
    let (value, domain) = match (&c.bsn, &c.client_id) {
        (Some(b), _) => {
            let bsn = Bsn::parse(b).map_err(|e| anyhow::anyhow!("--bsn (value withheld) {e}"))?;
            (bsn.as_str().to_string(), Domain::Bsn)
        }
        (None, Some(id)) => (id.clone(), Domain::ClientNumber),
        (None, None) => bail!("name the client with --bsn or --client-id"),
    };
    let Some(key_path) = &c.key else {
        bail!(
            "--bsn and a client number need --key: the store holds only pseudonyms, and only the store's key turns the number into its pseudonym; ask the key holder, or give the pseudonym with --client-id"
        );
    };
    let key = Key::load(key_path)?;
    let (store_key, ids) = crate::store::Store::open_read(store)?
        .manifest()
        .map(|m| (m.key_id.clone(), m.client_ids.clone()))
        .unwrap_or_default();
    if key.id() != store_key {
        bail!(
            "key '{}' is not the key of store '{}' ({store_key}); use the store's key",
            key.id(),
            store.display()
        );
    }
    let expected = if domain == Domain::Bsn {
        "bsn"
    } else {
        "local"
    };
    if ids != expected {
        bail!(
            "store '{}' identifies clients by {}; use {}",
            store.display(),
            if ids == "bsn" {
                "BSN"
            } else {
                "local client number"
            },
            if ids == "bsn" { "--bsn" } else { "--client-id" }
        );
    }
    Ok(Pseudonymiser::new(&key).pseudonym(domain, &value))
}

fn config(
    common: &Common,
    subject: Subject,
    r: DayRange,
    default_out: String,
) -> anyhow::Result<InvestigationConfig> {
    let policy = Policy::load(&common.policy)?;
    Ok(InvestigationConfig {
        store: common.store.clone(),
        policy,
        policy_path: common.policy.clone(),
        subject,
        range: r,
        out_dir: common
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("reports").join(default_out)),
        lang: Lang::parse(&common.lang).expect("clap allows only the languages Lang parses"),
        csv: CsvDialect::parse(&common.csv_dialect)
            .expect("clap allows only the dialects CsvDialect parses"),
        command: crate::evidence::command_line(&std::env::args().collect::<Vec<_>>()),
    })
}

fn short(pid: &str) -> String {
    pid.chars().take(16).collect()
}

fn finish(config: InvestigationConfig) -> anyhow::Result<i32> {
    let o = investigate::run(&config)?;
    let count = |v: &str| o.lines.iter().filter(|l| l.verdict == v).count();
    println!(
        "{} accesses: {} justified, {} unjustified, {} emergency logins",
        o.lines.len(),
        count(Verdict::Justified.name()),
        count(Verdict::Unjustified.name()),
        count(Verdict::Emergency.name())
    );
    println!("  folder: {}", o.out_dir.display());
    println!("  evidence: manifest.json sha256 {}", o.manifest_sha256);
    Ok(super::EXIT_OK)
}

pub fn run(args: InvestigateArgs) -> anyhow::Result<i32> {
    let config = match args.what {
        InvestigateCommand::User { user_id, common } => {
            let r = range(&common)?;
            let out = format!("investigate-user-{user_id}-{}", label(r));
            config(&common, Subject::User(user_id), r, out)?
        }
        InvestigateCommand::Client { client, common } => {
            let r = range(&common)?;
            let pid = client_pid(&client, &common.store)?;
            let out = format!("investigate-client-{}-{}", short(&pid), label(r));
            config(&common, Subject::Client(pid), r, out)?
        }
        InvestigateCommand::Day { date, common } => {
            let d = day("date", &date)?;
            let r = DayRange { first: d, last: d };
            config(&common, Subject::Day(d), r, format!("investigate-day-{d}"))?
        }
        InvestigateCommand::Search {
            search,
            period,
            common,
        } => {
            let r = match period {
                Some(p) => Period::parse(&p)?.range,
                None => range(&common)?,
            };
            check_one_of(
                "--verdict",
                &search.verdict,
                &["justified", "unjustified", "emergency"],
            )?;
            check_one_of("--signal", &search.signal, &Signal::names())?;
            check_one_of("--reason", &search.reason, &Reason::names())?;
            config(
                &common,
                Subject::Search(search),
                r,
                format!("investigate-search-{}", label(r)),
            )?
        }
    };
    finish(config)
}

fn check_one_of(flag: &str, value: &Option<String>, allowed: &[&str]) -> anyhow::Result<()> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => {
            bail!("{flag} '{v}' is unknown; use one of {}", allowed.join(", "))
        }
        _ => Ok(()),
    }
}

pub fn run_subject_access(args: SubjectAccessArgs) -> anyhow::Result<i32> {
    let r = range(&args.common)?;
    let pid = client_pid(&args.client, &args.common.store)?;
    let out = format!("subject-access-{}-{}", short(&pid), label(r));
    let config = config(
        &args.common,
        Subject::Resident {
            client_pid: pid,
            with_names: args.with_names,
        },
        r,
        out,
    )?;
    finish(config)
}
