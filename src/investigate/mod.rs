//! Investigations of one employee, one dossier, one day or a search, and the resident's
//! overview: the lines and patterns the pages and the letter show.

pub mod model;
