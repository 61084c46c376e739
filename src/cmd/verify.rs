//! `verify`: re-check an output folder against its evidence manifest and name what changed.

use std::path::PathBuf;

use crate::evidence;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// An output folder of audit, investigate or subject-access.
    pub folder: PathBuf,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<i32> {
    let base = std::env::current_dir()?;
    let v = evidence::verify(&args.folder, &base)?;
    let show = |what: &str, list: &[String]| {
        for f in list {
            println!("{what}: {f}");
        }
    };
    show("changed", &v.changed);
    show("missing", &v.missing);
    show("not in the manifest", &v.added);
    show("input changed", &v.inputs_changed);
    show("input not found (not checked)", &v.inputs_not_found);
    if v.outputs_intact() && v.inputs_changed.is_empty() {
        println!(
            "ok: {} files as written; inputs {}",
            v.checked,
            if v.inputs_not_found.is_empty() {
                "unchanged"
            } else {
                "partly not found"
            }
        );
        Ok(super::EXIT_OK)
    } else {
        println!("verification failed: {}", args.folder.display());
        Ok(super::EXIT_TAMPERED)
    }
}
