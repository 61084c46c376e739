//! Command-line entry point: parse arguments, run the library, map the outcome to an exit code.

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its index in `mimalloc.h`, the same in mimalloc 2 and 3;
/// the bindings give it no name).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Freed memory stays with the allocator for reuse instead of going back to the OS 10 ms
    // later: polars frees and allocates large buffers part after part, and every return would
    // have the kernel zero fresh pages again.
    // SAFETY: sets a plain integer option before any thread is started.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // Writing to a closed pipe (`wmo-audit ... | head -1`) ends the process quietly with the
    // conventional status, as for other command-line tools, instead of a panic in `println!`.
    // SAFETY: restores the default action of one signal before any thread is started.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = wmo_audit::cmd::Cli::parse();
    match wmo_audit::cmd::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("wmo-audit: error: {err:#}");
            std::process::exit(wmo_audit::cmd::EXIT_ERROR);
        }
    }
}
