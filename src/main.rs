//! Command-line entry point: parse arguments, run the library, map the outcome to an exit code.

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = wmo_audit::cmd::Cli::parse();
    match wmo_audit::cmd::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("wmo-audit: error: {err:#}");
            std::process::exit(wmo_audit::cmd::EXIT_ERROR);
        }
    }
}
