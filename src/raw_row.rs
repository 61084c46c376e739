//! A row as read from an input file, in contract column order, before validation.

/// One input row: the fields in the contract's column order (`None` for an empty or absent
/// field), where it came from, and its raw text with identifier fields redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    /// Line in the file (the header is line 1), or the entry number in a FHIR Bundle.
    pub line: u64,
    pub fields: Vec<Option<String>>,
    pub raw: String,
    /// A problem found while reading the row (wrong number of fields, not JSON, ...): the row
    /// goes to the quarantine with this reason.
    pub problem: Option<String>,
}
