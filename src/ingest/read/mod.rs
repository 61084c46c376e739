//! Reading input files: source profiles, CSV in its export styles, FHIR AuditEvent, and the
//! parsing of times and dates, into raw rows for validation.

pub mod csv_input;
pub mod fhir_input;
pub(crate) mod hashing_read;
pub mod raw_fields;
pub mod raw_row;
pub mod source_profile;
pub mod time_parser;
