//! What an audit makes of the engine's verdicts: the summary and its figures, the findings and
//! the cases for review, emergency logins, volume outliers, and the verdicts file; and reading
//! what an audit needs from the store.

pub(crate) mod emergency_logins;
pub(crate) mod findings;
pub mod load;
pub mod outliers;
pub mod part_counts;
pub(crate) mod review_cases;
pub mod summary;
pub mod verdict_file;
pub mod verdict_row;
