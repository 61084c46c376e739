//! `generate`: write a synthetic organisation (canonical CSV, Dutch export, labels).

use std::path::PathBuf;

use crate::generate::{self, GenerateConfig, Size};

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed: the same seed and size give byte-identical files.
    #[arg(long, default_value_t = 7513)]
    pub seed: u64,
    /// Size of the organisation.
    #[arg(long, value_enum, default_value = "small")]
    pub size: Size,
}

pub fn run(args: GenerateArgs) -> anyhow::Result<i32> {
    let summary = generate::run(&GenerateConfig {
        out: args.out.clone(),
        seed: args.seed,
        size: args.size,
    })?;
    println!("{summary}");
    Ok(super::EXIT_OK)
}
