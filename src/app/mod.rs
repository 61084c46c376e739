//! The runs: each reads the store, calls the core (audit, statistics, investigation) and writes
//! one output folder with its evidence manifest. The only layer that orchestrates file IO for a
//! report.

pub mod audit;
pub mod investigate;
mod output;
pub mod stats;
