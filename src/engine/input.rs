//! The tables an audit reads: the events (lazily, from any source) and the reference tables,
//! in the store's column names. Building them from a store is IO and lives in `audit::load`.

use polars::prelude::*;

/// Everything the rule engine needs. The reference tables are small and held in memory; the
/// events stay lazy so the plan can stream them.
#[derive(Clone)]
pub struct AuditTables {
    /// The stored events of the audited period (and, where `first_seen` is missing or history is
    /// asked for, the earlier ones).
    pub events: LazyFrame,
    pub staff: DataFrame,
    pub teams: DataFrame,
    pub clients: DataFrame,
    pub cases: DataFrame,
    pub assignments: DataFrame,
    pub complaints: DataFrame,
    /// The store's first access of each (user, client) over all its events (`user_id`,
    /// `client_pid`, `first_time`); without it `first_access` is found among `events`.
    pub first_seen: Option<DataFrame>,
}

impl AuditTables {
    /// What an audit reads of the reference tables once the rule engine holds its own coded
    /// copy: staff and teams whole, and of cases and assignments the columns that the emergency
    /// logins' follow-up check joins (`EmergencyLogin::list`); the other tables are left empty.
    /// At 100M events the rest is over a gigabyte, which the audit's parts can then reuse.
    /// Not for the engine, which would miss the clients and first accesses.
    pub fn for_review_lists(self) -> PolarsResult<AuditTables> {
        Ok(AuditTables {
            events: self.events,
            staff: self.staff,
            teams: self.teams,
            clients: self.clients.clear(),
            cases: self.cases.select(["case_id", "client_pid"])?,
            assignments: self
                .assignments
                .select(["case_id", "user_id", "valid_from"])?,
            complaints: self.complaints.clear(),
            first_seen: self.first_seen.map(|f| f.clear()),
        })
    }
}
