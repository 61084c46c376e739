//! Shows and profiles the rule engine's polars plan on a store (a benchmark aid, not part of the
//! tool): the optimised plan, then each node's start and end in microseconds, slowest last.
//!
//!   cargo run --release --example plan_profile -- STORE POLICY PERIOD [--plan] [--near] [--write]
//!   e.g. ... -- /tmp/wmo-audit-bench/huge/store samples/voorbeeldstad/policy.toml 2026-03
//!
//! `--write` also times writing the verdicts to Parquet with several compressions.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use wmo_audit::audit::load::{load_tables, near, History};
use wmo_audit::engine::Engine;
use wmo_audit::period::Period;
use wmo_audit::policy::Policy;
use wmo_audit::store::Store;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [store, policy, period, rest @ ..] = args.as_slice() else {
        bail!("usage: plan_profile STORE POLICY PERIOD [--plan] [--near] [--write]");
    };
    let store = Store::open_read(Path::new(store))?;
    let policy = Policy::load(Path::new(policy))?;
    let period = Period::parse(period).context("period")?;
    let tables = load_tables(&store, period.range, policy.time_zone, History::Period)?;

    let t0 = Instant::now();
    let engine = Engine::new(&tables, &policy)?;
    eprintln!("reference tables coded in {:?}", t0.elapsed());
    let t1 = Instant::now();
    let events = if rest.iter().any(|a| a == "--near") {
        // As `audit` reads a part: only the row groups near its days.
        tables.events.clone().filter(near(period.range))
    } else {
        tables.events.clone()
    };
    let plan = engine.verdicts(events, period.range)?;
    eprintln!("events keyed in {:?}", t1.elapsed());
    if rest.iter().any(|a| a == "--plan") {
        println!("{}", plan.describe_optimized_plan()?);
    }
    let t2 = Instant::now();
    let (df, profile) = plan.profile()?;
    eprintln!("{} verdicts in {:?}", df.height(), t2.elapsed());
    if rest.iter().any(|a| a == "--write") {
        for (name, c, stats) in [
            (
                "zstd default, full stats",
                ParquetCompression::Zstd(None),
                true,
            ),
            (
                "zstd default, no stats",
                ParquetCompression::Zstd(None),
                false,
            ),
            ("lz4", ParquetCompression::Lz4Raw, true),
            ("snappy", ParquetCompression::Snappy, true),
            ("none", ParquetCompression::Uncompressed, true),
        ] {
            let path = std::env::temp_dir().join("plan_profile.parquet");
            let f = std::fs::File::create(&path)?;
            let t = Instant::now();
            let stats = if stats {
                StatisticsOptions::full()
            } else {
                StatisticsOptions::empty()
            };
            ParquetWriter::new(&f)
                .with_compression(c)
                .with_statistics(stats)
                .finish(&mut df.clone())?;
            eprintln!(
                "write {name}: {:?}, {} bytes",
                t.elapsed(),
                std::fs::metadata(&path)?.len()
            );
        }
    }
    let profile = profile
        .lazy()
        .with_column((col("end") - col("start")).alias("took"))
        .sort(["end"], SortMultipleOptions::default())
        .collect()?;
    std::env::set_var("POLARS_FMT_MAX_ROWS", "200");
    std::env::set_var("POLARS_FMT_STR_LEN", "70");
    println!("{profile}");
    Ok(())
}
