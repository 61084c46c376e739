//! The data contract: loads `schemas/contract/*.toml` (embedded at build time) into table specs.

use polars::prelude::{DataType, Field, Schema, TimeUnit, TimeZone};
use serde::Deserialize;

use crate::error::{Error, Result};

/// The contract files, embedded so that the binary needs nothing beside it at run time.
const FILES: &[(&str, &str)] = &[
    (
        "teams.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/contract/teams.toml"
        )),
    ),
    (
        "staff.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/contract/staff.toml"
        )),
    ),
    (
        "clients.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/contract/clients.toml"
        )),
    ),
    (
        "cases.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/contract/cases.toml"
        )),
    ),
    (
        "assignments.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/contract/assignments.toml"
        )),
    ),
    (
        "complaints.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/contract/complaints.toml"
        )),
    ),
    (
        "access_log.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/contract/access_log.toml"
        )),
    ),
];
const STORE_FILE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/contract/store.toml"
));

/// Logical type of a contract column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColType {
    String,
    Text,
    Enum,
    Bool,
    Int,
    Date,
    Timestamp,
    Identifier,
    U32,
    U64,
}

/// Kind of identifier that is replaced by a pseudonym at ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// A client identifier: a BSN, or a local client number where the store declares so.
    Client,
    /// A BSN (an employee's own).
    Bsn,
    Surname,
    Address,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub meaning: String,
    /// Allowed values of an enum (strings) or int column (numbers).
    #[serde(default)]
    pub values: Vec<toml::Value>,
    pub identifier: Option<IdKind>,
    pub stored_as: Option<String>,
}

impl ColumnSpec {
    /// Name of the column in the store (a pseudonymised column is renamed).
    pub fn store_name(&self) -> &str {
        self.stored_as.as_deref().unwrap_or(&self.name)
    }

    pub fn enum_values(&self) -> Vec<String> {
        self.values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    pub fn int_values(&self) -> Vec<i64> {
        self.values
            .iter()
            .filter_map(toml::Value::as_integer)
            .collect()
    }

    /// The Polars type of the stored column.
    pub fn store_dtype(&self) -> DataType {
        match self.ty {
            ColType::String | ColType::Text | ColType::Enum | ColType::Identifier => {
                DataType::String
            }
            ColType::Bool => DataType::Boolean,
            ColType::Int => DataType::Int32,
            ColType::Date => DataType::Date,
            ColType::Timestamp => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
            ColType::U32 => DataType::UInt32,
            ColType::U64 => DataType::UInt64,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub column: String,
    pub table: String,
    pub key: String,
}

/// One table of the contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub name: String,
    /// Where it is stored: `events` (partitioned by month) or `<name>.parquet`.
    pub store: String,
    pub key: Vec<String>,
    pub description: String,
    /// Start and end column of the row's validity period, if it has one.
    #[serde(default)]
    pub period: Option<(String, String)>,
    #[serde(default)]
    pub references: Vec<Reference>,
    pub columns: Vec<ColumnSpec>,
    /// Store-only columns (from store.toml), appended after the contract columns.
    #[serde(skip)]
    pub added: Vec<ColumnSpec>,
}

impl TableSpec {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Index of a column the code relies on; a missing one is a contract error, found by
    /// `Contract::load` before any work starts.
    pub fn require(&self, name: &str) -> Result<usize> {
        self.column_index(name).ok_or_else(|| Error::Contract {
            file: format!("{}.toml", self.name),
            message: format!("the code needs column '{name}', which the contract lacks"),
        })
    }

    /// Index of a column the code relies on holding a value of type `ty` in every valid row:
    /// a required column of that type. Anything else is a contract error.
    pub fn require_filled(&self, name: &str, ty: ColType) -> Result<usize> {
        let i = self.require(name)?;
        let column = &self.columns[i];
        if !column.required || column.ty != ty {
            return Err(Error::Contract {
                file: format!("{}.toml", self.name),
                message: format!(
                    "the code needs column '{name}' to be a required {}",
                    format!("{ty:?}").to_lowercase()
                ),
            });
        }
        Ok(i)
    }

    /// Whether the store partitions this table by month.
    pub fn is_events(&self) -> bool {
        self.store == "events"
    }

    /// The Parquet schema of the stored table, built from the contract alone.
    pub fn store_schema(&self) -> Schema {
        schema_of(self.columns.iter().chain(&self.added))
    }

    /// The store names of the contract's columns, without the store's own (`added`): what a
    /// reader of the data needs (the digest only serves ingest).
    pub fn contract_store_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.store_name()).collect()
    }

    /// The Parquet schema of `contract_store_names`.
    pub fn contract_store_schema(&self) -> Schema {
        schema_of(&self.columns)
    }

    pub fn key_indices(&self) -> Vec<usize> {
        self.key
            .iter()
            .map(|k| {
                self.column_index(k)
                    .expect("Contract::check requires the key columns")
            })
            .collect()
    }
}

/// The Parquet schema of `columns`, by their store names and types.
fn schema_of<'a>(columns: impl IntoIterator<Item = &'a ColumnSpec>) -> Schema {
    columns
        .into_iter()
        .map(|c| Field::new(c.store_name().into(), c.store_dtype()))
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
struct StoreFile {
    added: Vec<ColumnSpec>,
    events_added: Vec<ColumnSpec>,
    quarantine: QuarantineSpec,
    first_access: DerivedSpec,
}

/// A table the store derives from the others (`store.toml`).
#[derive(Debug, Clone, Deserialize)]
pub struct DerivedSpec {
    /// File name in the store, without `.parquet`.
    pub store: String,
    pub description: String,
    pub columns: Vec<ColumnSpec>,
}

impl DerivedSpec {
    pub fn file(&self) -> String {
        format!("{}.parquet", self.store)
    }

    pub fn store_schema(&self) -> Schema {
        schema_of(&self.columns)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct QuarantineSpec {
    pub description: String,
    pub columns: Vec<ColumnSpec>,
}

impl QuarantineSpec {
    pub fn store_schema(&self) -> Schema {
        schema_of(&self.columns)
    }
}

/// All tables of the contract, in the order they must be ingested (referenced tables first).
#[derive(Debug, Clone)]
pub struct Contract {
    pub tables: Vec<TableSpec>,
    pub quarantine: QuarantineSpec,
    pub first_access: DerivedSpec,
}

impl Contract {
    /// Parses and checks the embedded contract files.
    pub fn load() -> Result<Contract> {
        let store: StoreFile = toml::from_str(STORE_FILE).map_err(|e| Error::Contract {
            file: "store.toml".into(),
            message: e.to_string(),
        })?;
        let mut tables = Vec::new();
        for (file, text) in FILES {
            let mut spec: TableSpec = toml::from_str(text).map_err(|e| Error::Contract {
                file: (*file).into(),
                message: e.to_string(),
            })?;
            spec.added = store.added.clone();
            if spec.is_events() {
                spec.added.extend(store.events_added.iter().cloned());
            }
            tables.push(spec);
        }
        let contract = Contract {
            tables,
            quarantine: store.quarantine,
            first_access: store.first_access,
        };
        contract.check()?;
        Ok(contract)
    }

    fn check(&self) -> Result<()> {
        for (i, t) in self.tables.iter().enumerate() {
            // The events are read last, after every table whose values they look up.
            if t.is_events() != (i + 1 == self.tables.len()) {
                return Err(Error::Contract {
                    file: format!("{}.toml", t.name),
                    message: "the events table (store = \"events\") must be the only one, and \
                              the last in the ingest order"
                        .into(),
                });
            }
        }
        for t in &self.tables {
            let err = |message: String| Error::Contract {
                file: format!("{}.toml", t.name),
                message,
            };
            for k in &t.key {
                t.require(k)?;
            }
            if let Some((from, to)) = &t.period {
                for c in [from, to] {
                    if t.columns[t.require(c)?].ty != ColType::Date {
                        return Err(err(format!("period column '{c}' must be a date")));
                    }
                }
            }
            for c in &t.columns {
                if (c.ty == ColType::Identifier) != c.identifier.is_some()
                    || c.identifier.is_some() != c.stored_as.is_some()
                {
                    return Err(err(format!(
                        "column '{}': an identifier needs both 'identifier' and 'stored_as'",
                        c.name
                    )));
                }
                if c.ty == ColType::Enum && c.values.is_empty() {
                    return Err(err(format!("enum column '{}' lists no values", c.name)));
                }
                if matches!(c.ty, ColType::U32 | ColType::U64) {
                    return Err(err(format!(
                        "column '{}': u32 and u64 are types of the store's own columns, not of \
                         input columns",
                        c.name
                    )));
                }
            }
            for r in &t.references {
                t.require(&r.column)?;
                let target = self
                    .table(&r.table)
                    .ok_or_else(|| err(format!("reference to unknown table '{}'", r.table)))?;
                target.require(&r.key)?;
                let pos = |name: &str| self.tables.iter().position(|x| x.name == name);
                if pos(&r.table) >= pos(&t.name) {
                    return Err(err(format!(
                        "table '{}' must come before '{}' in the ingest order",
                        r.table, t.name
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn table(&self, name: &str) -> Option<&TableSpec> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The access log's spec: the last table (`check`).
    pub fn events(&self) -> &TableSpec {
        self.tables
            .last()
            .filter(|t| t.is_events())
            .expect("Contract::check makes the last table the events table")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_loads_and_orders_references_first() {
        let c = Contract::load().unwrap();
        let names: Vec<_> = c.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "teams",
                "staff",
                "clients",
                "cases",
                "assignments",
                "complaints",
                "access_log"
            ]
        );
        assert!(c.events().is_events());
    }

    #[test]
    fn what_the_code_relies_on_is_checked_when_the_contract_is_read() {
        let c = Contract::load().unwrap();
        let events = c.events();
        assert!(events
            .require_filled("event_time", ColType::Timestamp)
            .is_ok());
        let e = events
            .require_filled("workstation", ColType::String)
            .unwrap_err();
        assert!(e.to_string().contains("to be a required string"), "{e}");

        let mut moved = c.clone();
        moved.tables.swap(0, 6);
        let e = moved.check().unwrap_err().to_string();
        assert!(e.contains("access_log.toml") && e.contains("last"), "{e}");
        let mut counted = c.clone();
        counted.tables[1].columns[0].ty = ColType::U32;
        let e = counted.check().unwrap_err().to_string();
        assert!(e.contains("u32 and u64"), "{e}");
    }

    #[test]
    fn identifiers_are_renamed_in_the_store_schema() {
        let c = Contract::load().unwrap();
        let schema = c.events().store_schema();
        assert!(schema.get("client_pid").is_some());
        assert!(schema.get("client_id").is_none());
        assert_eq!(
            schema.get("event_time"),
            Some(&DataType::Datetime(
                TimeUnit::Microseconds,
                Some(TimeZone::UTC)
            ))
        );
        assert_eq!(schema.get("digest"), Some(&DataType::UInt64));
    }
}
