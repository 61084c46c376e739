//! Pseudonymisation: the key, the keyed pseudonyms, and finding and redacting BSNs.

pub mod bsn;
pub(crate) mod bsn_macs;
pub mod key;
pub mod pseudonymiser;
