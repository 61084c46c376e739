//! The reports for people: the FG's audit page, investigation pages and the resident's
//! letter, the management statistics (HTML and Excel), and the charts they share.

pub mod audit;
pub mod charts;
pub mod investigation;
pub mod letter;
pub mod page;
pub mod stats;
pub mod stats_xlsx;
