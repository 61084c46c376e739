//! wmo-audit: audit access to Wmo client dossiers against the organisation's privacy protocol.
//!
//! The library does the work; `main.rs` only parses arguments and maps results to exit codes.

pub mod audit_run;
pub mod audit_summary;
pub mod audit_tables;
mod background_hashes;
pub mod bsn;
mod bsn_macs;
pub mod cmd;
mod codebook;
mod column_values;
pub mod contract;
pub mod csv_input;
pub mod csv_output;
pub mod disclosure;
pub mod emergency_logins;
mod encoded_writer;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod fhir_input;
mod firsts;
pub mod generate;
mod hashing_read;
mod in_order;
pub mod ingest;
pub mod investigation;
pub mod key;
pub mod manifest;
mod offsets;
pub mod outliers;
pub mod part_counts;
pub mod period;
pub mod phase_timings;
pub mod policy;
pub mod pseudonymiser;
pub mod raw_fields;
pub mod raw_row;
mod relations;
pub mod report;
pub mod review_cases;
pub mod row_validator;
mod rule_table;
mod sha_key;
mod sha_key_table;
pub mod source_profile;
pub mod stats_run;
pub mod stats_xlsx;
pub mod store;
pub mod table_buffer;
pub mod time_parser;
pub mod value;
pub mod verdict_file;
pub mod verdict_row;

pub use error::{Error, Result};
