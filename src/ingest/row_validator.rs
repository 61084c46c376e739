//! Validates one raw row against its contract table and turns it into store values.

use crate::ingest::read::raw_fields::RawFields;
use crate::ingest::read::source_profile::ClientIds;
use crate::ingest::read::time_parser::{Resolution, TimeParser};
use crate::ingest::value::{digest, Value};
use crate::period::date_from_days;
use crate::privacy::bsn::{redact_bsns, Bsn};
use crate::privacy::pseudonymiser::{Domain, Pseudonymiser};
use crate::store::contract::{ColType, IdKind, TableSpec};
use crate::store::manifest::TimeStats;

/// Checks rows of one table: required fields, types, allowed values, BSNs, periods.
pub struct RowValidator<'a> {
    spec: &'a TableSpec,
    time: &'a TimeParser,
    client_ids: ClientIds,
    enums: Vec<Vec<String>>,
    ints: Vec<Vec<i64>>,
    period: Option<(usize, usize)>,
    /// The columns that hold BSNs (`is_bsn`).
    bsn_columns: Vec<usize>,
}

impl<'a> RowValidator<'a> {
    pub fn new(spec: &'a TableSpec, time: &'a TimeParser, client_ids: ClientIds) -> Self {
        let index = |column: &str| {
            spec.column_index(column)
                .expect("Contract::check requires a period's columns")
        };
        let period = spec
            .period
            .as_ref()
            .map(|(from, to)| (index(from), index(to)));
        let bsn_columns = (0..spec.columns.len())
            .filter(|&i| {
                spec.columns[i]
                    .identifier
                    .is_some_and(|kind| is_bsn(kind, client_ids))
            })
            .collect();
        RowValidator {
            spec,
            time,
            client_ids,
            enums: spec.columns.iter().map(|c| c.enum_values()).collect(),
            ints: spec.columns.iter().map(|c| c.int_values()).collect(),
            period,
            bsn_columns,
        }
    }

    /// The store values of the row (contract columns, then the digest), or the reason it
    /// cannot be stored.
    pub fn validate(
        &self,
        fields: &RawFields,
        ps: &mut Pseudonymiser,
        stats: &mut TimeStats,
    ) -> Result<Vec<Value>, String> {
        // Room for the digest and for a column the caller adds (the events' pair code).
        let mut values = Vec::with_capacity(fields.len() + 2);
        for (i, col) in self.spec.columns.iter().enumerate() {
            let Some(text) = fields.get(i) else {
                if col.required {
                    return Err(format!("required field '{}' is empty", col.name));
                }
                values.push(Value::Null);
                continue;
            };
            let v = match col.ty {
                ColType::String => Value::Str(text.into()),
                ColType::Text => Value::Str(redact_bsns(text).into()),
                ColType::Enum => {
                    if !self.enums[i].iter().any(|e| e == text) {
                        return Err(format!(
                            "unknown {} '{text}' (expected one of {})",
                            col.name,
                            self.enums[i].join(", ")
                        ));
                    }
                    Value::Str(text.into())
                }
                ColType::Bool if text.eq_ignore_ascii_case("true") => Value::Bool(true),
                ColType::Bool if text.eq_ignore_ascii_case("false") => Value::Bool(false),
                ColType::Bool => return Err(format!("{} '{text}' is not true or false", col.name)),
                ColType::Int => {
                    let n: i64 = text
                        .parse()
                        .map_err(|_| format!("{} '{text}' is not a whole number", col.name))?;
                    let allowed = &self.ints[i];
                    if !allowed.is_empty() && !allowed.contains(&n) {
                        let list: Vec<String> = allowed.iter().map(i64::to_string).collect();
                        return Err(format!(
                            "{} '{text}' is not one of {}",
                            col.name,
                            list.join(", ")
                        ));
                    }
                    Value::Int(n as i32)
                }
                ColType::Date => Value::Date(
                    self.time
                        .date(text)
                        .map_err(|e| format!("{}: {e}", col.name))?,
                ),
                ColType::Timestamp => {
                    let (t, how) = self
                        .time
                        .timestamp(text)
                        .map_err(|e| format!("{}: {e}", col.name))?;
                    match how {
                        Resolution::Ambiguous => stats.ambiguous += 1,
                        Resolution::Shifted => stats.shifted += 1,
                        Resolution::Exact => {}
                    }
                    Value::Timestamp(t)
                }
                ColType::Identifier => {
                    let kind = col
                        .identifier
                        .expect("Contract::check gives every identifier column its kind");
                    Value::Str(self.pseudonym(kind, &col.name, text, ps)?.into())
                }
                ColType::U32 | ColType::U64 => {
                    unreachable!("Contract::check refuses u32 and u64 in a table's columns")
                }
            };
            values.push(v);
        }
        if let Some((from, to)) = self.period {
            if let (Value::Date(a), Value::Date(b)) = (&values[from], &values[to]) {
                if b < a {
                    return Err(format!(
                        "{} '{}' is before {} '{}': the period ends before it starts",
                        self.spec.columns[to].name,
                        date_from_days(*b),
                        self.spec.columns[from].name,
                        date_from_days(*a)
                    ));
                }
            }
        }
        let d = digest(&values);
        values.push(Value::U64(d));
        Ok(values)
    }

    /// Starts fetching the pseudonym caches' entries for the row's BSNs (`Pseudonymiser::
    /// prefetch_bsn`): the checker calls this a few rows ahead of `validate`.
    pub fn prefetch(&self, fields: &RawFields, ps: &Pseudonymiser) {
        for &i in &self.bsn_columns {
            if let Some(Ok(n)) = fields.get(i).map(Bsn::parse_number) {
                ps.prefetch_bsn(n);
            }
        }
    }

    fn pseudonym(
        &self,
        kind: IdKind,
        column: &str,
        text: &str,
        ps: &mut Pseudonymiser,
    ) -> Result<String, String> {
        Ok(match kind {
            _ if self.is_bsn(kind) => ps.bsn_pseudonym(
                Bsn::parse_number(text).map_err(|e| format!("{column} (value withheld) {e}"))?,
            ),
            IdKind::Surname => ps.pseudonym(Domain::Surname, text),
            IdKind::Address => ps.pseudonym(Domain::Address, text),
            // A local client number (a BSN is taken above).
            IdKind::Client | IdKind::Bsn => ps.pseudonym(Domain::ClientNumber, text),
        })
    }

    /// Whether an identifier of this kind is a BSN: an employee's own, or a client's where the
    /// store identifies clients by BSN.
    fn is_bsn(&self, kind: IdKind) -> bool {
        is_bsn(kind, self.client_ids)
    }
}

/// The digest of a row of a table with `columns` contract columns, as `validate` made it.
pub fn digest_of(values: &[Value], columns: usize) -> u64 {
    let Value::U64(d) = values[columns] else {
        unreachable!("RowValidator::validate puts the digest after the contract's columns")
    };
    d
}

/// Whether an identifier of this kind is a BSN where clients are identified by `client_ids`.
fn is_bsn(kind: IdKind, client_ids: ClientIds) -> bool {
    matches!(
        (kind, client_ids),
        (IdKind::Bsn, _) | (IdKind::Client, ClientIds::Bsn)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::key::Key;
    use crate::store::contract::Contract;

    fn fields(v: &[&str]) -> RawFields {
        RawFields::from_texts(v.iter().copied().map(Some))
    }

    fn check(table: &str, row: &[&str]) -> Result<Vec<Value>, String> {
        let contract = Contract::load().unwrap();
        let key = Key::from_secret([3; 32], false);
        let mut ps = Pseudonymiser::new(&key);
        let time = TimeParser::canonical(chrono_tz::Europe::Amsterdam);
        let spec = contract.table(table).unwrap();
        RowValidator::new(spec, &time, ClientIds::Bsn).validate(
            &fields(row),
            &mut ps,
            &mut TimeStats::default(),
        )
    }

    const GOOD: [&str; 11] = [
        "E1",
        "2026-03-02T09:00:00+01:00",
        "u1",
        "R",
        "111222333",
        "plan",
        "false",
        "",
        "0",
        "sys",
        "",
    ];

    #[test]
    fn a_good_event_becomes_store_values_without_the_bsn() {
        let v = check("access_log", &GOOD).unwrap();
        assert_eq!(v.len(), 12);
        let pid = v[4].as_str().unwrap();
        assert!(pid.starts_with("bsn1_"));
        assert!(!format!("{v:?}").contains("111222333"));
    }

    #[test]
    fn each_bad_field_kind_has_its_own_reason() {
        let with = |i: usize, s: &'static str| {
            let mut r = GOOD;
            r[i] = s;
            check("access_log", &r).unwrap_err()
        };
        assert_eq!(with(0, ""), "required field 'event_id' is empty");
        assert!(with(1, "gisteren").contains("timestamp 'gisteren' is not ISO 8601"));
        assert!(with(3, "X").contains("unknown action 'X' (expected one of C, R, U, D, E)"));
        let bsn = with(4, "111222334");
        assert!(
            bsn.contains("fails the 11-check") && !bsn.contains("111222334"),
            "{bsn}"
        );
        assert!(with(6, "ja").contains("emergency 'ja' is not true or false"));
        assert!(with(8, "3").contains("outcome '3' is not one of 0, 4, 8, 12"));
    }

    #[test]
    fn an_assignment_ending_before_it_starts_is_refused() {
        let e = check(
            "assignments",
            &["Z1", "u1", "primary", "2026-03-01", "2026-02-01"],
        )
        .unwrap_err();
        assert!(
            e.contains("valid_to '2026-02-01' is before valid_from '2026-03-01'"),
            "{e}"
        );
        assert!(check(
            "assignments",
            &["Z1", "u1", "primary", "2026-03-01", "2026-03-01"]
        )
        .is_ok());
    }

    #[test]
    fn free_text_is_redacted() {
        let mut r = GOOD;
        r[6] = "true";
        r[7] = "crisis bij 111222333";
        let v = check("access_log", &r).unwrap();
        assert_eq!(v[7], Value::Str("crisis bij [bsn]".into()));
    }
}
