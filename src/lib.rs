//! wmo-audit: audit access to Wmo client dossiers against the organisation's privacy protocol.
//!
//! The library does the work; `main.rs` only parses arguments and maps results to exit codes.
//! The folders follow the pipeline, and each imports only the ones below it:
//! `cmd` -> `app` -> `report` -> `audit`, `stats`, `investigate` -> `engine` -> `policy`,
//! `store`; `ingest` reads inputs into the store through `privacy`. See `docs/architecture.md`.

pub(crate) mod app;
pub mod audit;
pub mod cmd;
pub(crate) mod csv_output;
pub mod engine;
pub mod error;
pub(crate) mod evidence;
pub(crate) mod generate;
pub(crate) mod i18n;
pub mod ingest;
pub(crate) mod investigate;
pub mod period;
mod phase_timings;
pub mod policy;
mod prefetch;
pub(crate) mod privacy;
pub(crate) mod report;
pub mod stats;
pub mod store;

pub use error::{Error, Result};
