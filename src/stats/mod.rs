//! Management statistics: the release of counts per team, role and month, and the disclosure
//! control that keeps any cell from singling out a person.

pub mod disclosure;
pub(crate) mod release;
