//! `keygen`: create a new pseudonymisation key file.

use std::path::PathBuf;

use anyhow::Context;

use crate::privacy::key::Key;

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the key (refuses to overwrite). Keep it apart from the store.
    #[arg(long)]
    pub out: PathBuf,
    /// Mark the key as a demo key (for published synthetic samples only): it is then
    /// accepted with any file permissions, and every command that uses it warns.
    #[arg(long, hide = true)]
    pub demo: bool,
}

pub fn run(args: KeygenArgs) -> anyhow::Result<i32> {
    let key = Key::generate()?;
    let key = if args.demo { key.into_demo() } else { key };
    key.write_new(&args.out)
        .with_context(|| format!("cannot create key file '{}'", args.out.display()))?;
    println!(
        "created key {} in {} (owner-only); keep it apart from the store and the reports",
        key.id(),
        args.out.display()
    );
    Ok(super::EXIT_OK)
}
