//! The rule engine: tables and a policy in, one verdict row per event out: each event's facts
//! from the reference tables (looked up by integer code, `relations.rs`), then the rules, the
//! reason and the signals as a polars plan. Pure: no file access, no clock.
//!
//! Semantics (the reference model in `tests/engine_reference.rs` spells them out slowly):
//! d is the event's calendar day in the policy's time zone; a period holds on d when
//! `from <= d <= to (+ grace)`, an open end being +infinity.

use chrono::Timelike;
use polars::prelude::*;

use crate::audit_tables::{AuditTables, DayRange};
use crate::by_code::ByCode;
use crate::codebook::Codebook;
use crate::error::Result;
use crate::policy::Policy;
use crate::relations::Relations;
use crate::time_parser::days_since_epoch;

/// Verdicts.
pub const EMERGENCY: &str = "emergency";
pub const JUSTIFIED: &str = "justified";
pub const UNJUSTIFIED: &str = "unjustified";
/// The verdicts by verdict code (`verdict_code`).
pub const VERDICTS: [&str; 3] = [EMERGENCY, JUSTIFIED, UNJUSTIFIED];

/// Reasons for an unjustified access, in the order they are tried (most telling first).
pub const REASONS: [&str; 6] = [
    "section_not_allowed",
    "no_open_complaint",
    "relation_ended",
    "case_closed",
    "other_team",
    "no_relation",
];

/// Signals, in the order they are listed in an event's `signals`.
pub const SIGNALS: [&str; 9] = [
    "self_access",
    "same_surname",
    "same_address",
    "restricted_client",
    "after_hours",
    "past_retention",
    "first_access",
    "failed_outcome",
    "no_emergency_reason",
];

/// Signals that make even a justified access a finding for review. The others
/// (`same_surname`, `restricted_client`, `first_access`, `failed_outcome`) are ordinary on a
/// justified access: the report counts them, and they sharpen a case's narrative.
pub const REVIEW_SIGNALS: [&str; 5] = [
    "self_access",
    "same_address",
    "after_hours",
    "past_retention",
    "no_emergency_reason",
];

/// True for verdict rows that need a person's review: unjustified, emergency, or carrying a
/// review signal.
pub fn needs_review() -> Expr {
    let mut e = col("verdict").neq(lit(JUSTIFIED));
    for s in REVIEW_SIGNALS {
        e = e.or(col("signals").str().contains_literal(lit(s)));
    }
    e
}

/// The columns of a verdict row, in order.
pub const VERDICT_COLUMNS: [&str; 24] = [
    "event_id",
    "source",
    "event_time",
    "local_date",
    "local_hour",
    "weekday",
    "user_id",
    "user_team",
    "user_role",
    "client_pid",
    "dossier_team",
    "action",
    "section",
    "emergency",
    "emergency_reason_given",
    "outcome",
    "verdict",
    "rule",
    "article",
    "reason",
    "also_explained_by",
    "signals",
    "signal_count",
    "workstation",
];

/// The integer codes behind a verdict row's text, which `Engine::coded_verdicts` adds to it:
/// the user (`u`, labels `CodeLabels::users`), the client (`c`, coded in the order of the
/// pseudonyms), the local day (`d`), the user's team and role (`user_team_code`,
/// `user_role_code`), the verdict (0 emergency, 1 justified, 2 unjustified), the explaining rule
/// (`rule_code`, in the policy's order), the signals (`signal_mask`, bit i for `SIGNALS[i]`),
/// the reason (`reason_code`, index in `REASONS`), the rules that held at an emergency login
/// (`explained_mask`, bit i for rule i; `also_explained_by`) and the dossier's team
/// (`dossier_team_code`, labels `CodeLabels::teams`). `d` is an `Int32`, the others `UInt32`.
pub const CODE_COLUMNS: [&str; 11] = [
    "u",
    "c",
    "d",
    "user_team_code",
    "user_role_code",
    "verdict_code",
    "rule_code",
    "signal_mask",
    "reason_code",
    "explained_mask",
    "dossier_team_code",
];

/// The labels of the codes of `CODE_COLUMNS`, by code.
#[derive(Debug, Clone)]
pub struct CodeLabels {
    pub users: Vec<String>,
    pub teams: Vec<String>,
    pub roles: Vec<String>,
    pub rules: Vec<String>,
    /// The article of each rule, by rule code.
    pub articles: Vec<String>,
}

const OPEN_END: i32 = i32::MAX - 100_000;

fn days(name: &str) -> Expr {
    col(name).cast(DataType::Int32)
}

fn days_or_open(name: &str) -> Expr {
    col(name).cast(DataType::Int32).fill_null(lit(OPEN_END))
}

fn within(d: Expr, from: Expr, to: Expr) -> Expr {
    d.clone().gt_eq(from).and(d.lt_eq(to))
}

fn left() -> JoinArgs {
    JoinArgs::new(JoinType::Left)
}

fn inner() -> JoinArgs {
    JoinArgs::new(JoinType::Inner)
}

/// The sorted distinct values of string columns, as a dictionary frame (`value`, `code`): codes
/// count from 0 in sorted order, so comparing codes compares the strings.
fn dictionary(columns: &[&Column]) -> Result<DataFrame> {
    let mut all = Series::new_empty("value".into(), &DataType::String);
    for c in columns {
        all.append(
            &c.as_materialized_series()
                .cast(&DataType::String)?
                .with_name("value".into()),
        )?;
    }
    let values = all.drop_nulls().unique()?.sort(SortOptions::default())?;
    let codes: Vec<u32> = (0..values.len() as u32).collect();
    Ok(DataFrame::new(
        values.len(),
        vec![values.into(), Column::new("code".into(), codes)],
    )?)
}

/// Adds `name`, the code of string column `column` in `dict` (null when absent).
fn encode(lf: LazyFrame, column: &str, dict: &DataFrame, name: &str) -> LazyFrame {
    lf.join(
        dict.clone()
            .lazy()
            .select([col("value"), col("code").alias(name)]),
        [col(column)],
        [col("value")],
        left(),
    )
}

/// Decodes a code column by position in `labels` (null codes stay null).
fn decode(code: Expr, labels: Vec<String>) -> Expr {
    lit(Series::new("labels".into(), labels)).gather(code, true)
}

/// The labels of every subset of `names`, indexed by bit mask (bit i for `names[i]`), joined
/// with `;` in the order of `names`.
pub(crate) fn mask_labels(names: &[&str]) -> Vec<String> {
    (0..1u32 << names.len())
        .map(|m| {
            names
                .iter()
                .enumerate()
                .filter(|(i, _)| m & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(";")
        })
        .collect()
}

/// A bit mask of boolean expressions (bit i for `flags[i]`).
fn mask(flags: &[Expr]) -> Expr {
    let mut m = lit(0u32);
    for (i, f) in flags.iter().enumerate() {
        m = m + f.clone().cast(DataType::UInt32) * lit(1u32 << i);
    }
    m
}

/// The events' time on the local clock of `zone`, as microseconds since the epoch: `event_time`
/// plus the zone's offset, by integer arithmetic (a time zone conversion per event is slow). The offsets in force from two days before the
/// range to two days after it are looked up once (a quarter hour apart, which finds every
/// transition); events further out are outside the range whatever their offset.
fn local_micros(zone: &str, range: DayRange) -> Result<Expr> {
    use chrono::{Offset, TimeZone as _};
    let tz: chrono_tz::Tz = zone
        .parse()
        .map_err(|_| crate::error::Error::Invalid(format!("unknown time zone '{zone}'")))?;
    let start = (range.first - chrono::Days::new(2)).and_time(chrono::NaiveTime::MIN);
    let end = (range.last + chrono::Days::new(3)).and_time(chrono::NaiveTime::MIN);
    let offset = |t: chrono::NaiveDateTime| {
        i64::from(tz.offset_from_utc_datetime(&t).fix().local_minus_utc()) * 1_000_000
    };
    // (from, offset) for each offset in force, the first from the window's start.
    let mut spans = vec![(i64::MIN, offset(start))];
    let mut t = start;
    while t < end {
        t += chrono::Duration::minutes(15);
        let o = offset(t);
        if spans.last().is_some_and(|s| s.1 != o) {
            spans.push((t.and_utc().timestamp_micros(), o));
        }
    }
    let utc = col("event_time").dt().timestamp(TimeUnit::Microseconds);
    let mut off = lit(spans[0].1);
    for (from, o) in spans.iter().skip(1) {
        off = when(utc.clone().gt_eq(lit(*from)))
            .then(lit(*o))
            .otherwise(off);
    }
    Ok(utc + off)
}

/// Per case: the last day it may be kept, by default and for each section with a period of its
/// own (`keep_default`, `keep_<section>`); open cases keep nothing (null).
fn retention_columns(cases: &DataFrame, policy: &Policy) -> Result<DataFrame> {
    let opened = cases.column("opened")?.cast(&DataType::Int32)?;
    let closed = cases.column("closed")?.cast(&DataType::Int32)?;
    let closure = cases.column("closure")?.cast(&DataType::String)?;
    let (opened, closed, closure) = (opened.i32()?, closed.i32()?, closure.str()?);
    let keep = |section: Option<&str>| -> Vec<Option<i32>> {
        (0..cases.height())
            .map(|i| {
                let o = crate::time_parser::date_from_days(opened.get(i)?);
                let c = closed.get(i).map(crate::time_parser::date_from_days);
                policy
                    .retention
                    .keep_until(o, c, closure.get(i), section)
                    .map(days_since_epoch)
            })
            .collect()
    };
    let mut out = cases.select(["case_id"])?;
    out.with_column(Column::new("keep_default".into(), keep(None)))?;
    for s in policy.retention.sections.keys() {
        out.with_column(Column::new(format!("keep_{s}").into(), keep(Some(s))))?;
    }
    Ok(out)
}

/// The rule engine for one policy, with the reference tables coded once (the pairs, users,
/// clients and teams as integers) so that runs over several parts of a period share them.
///
/// Each event gets integer codes for its (user, client) pair, its user and its client. Stored
/// events carry the pair's code (given at ingest, the row of the store's `first_access`); the
/// user's and the client's follow from it by position. Events without it are coded by lookup
/// (`Codebook`). The reference tables are indexed by code (`Relations` for periods by pair, cases
/// by client and role periods by user; `ByCode` for clients), so an event's rows are found by
/// array reads. The text columns of the verdict (rule, article, reason, signals) are decoded
/// from small integers.
pub struct Engine<'p> {
    policy: &'p Policy,
    /// The codes of users, clients and pairs by lookup; `None` where the events carry the
    /// store's pair codes.
    codes: Option<Codebook>,
    /// The user, the client and the first access of each pair, by pair code.
    pair_u: Series,
    pair_c: Series,
    first_time: Series,
    /// Assignments and complaints handled by pair, cases by client, role periods and coded
    /// pseudonyms by user: what the per-event facts are read from.
    relations: Relations,
    /// The clients' coded pseudonyms and flags (for the signals), by client code.
    client_rows: ByCode,
    /// Team ids and user ids by code.
    teams: Vec<String>,
    user_labels: Vec<String>,
}

/// Builds the verdict plan for the events of `range` (see `Engine`).
pub fn verdicts(tables: &AuditTables, policy: &Policy, range: DayRange) -> Result<LazyFrame> {
    Engine::new(tables, policy)?.verdicts(tables.events.clone(), range)
}

impl<'p> Engine<'p> {
    /// Codes the reference tables of `tables` (and, without the store's first accesses, finds
    /// them among all of `tables.events`).
    pub fn new(tables: &AuditTables, policy: &'p Policy) -> Result<Engine<'p>> {
        let grace = |id: &str| policy.rule(id).map(|r| r.grace_days).unwrap_or(0);
        // The (user, client) pairs with their first access: the store's table, or found among all
        // given events. Codes for users, clients, teams and people's pseudonyms.
        let firsts = match &tables.first_seen {
            Some(f) if f.column("pair").is_ok() => {
                f.select(["pair", "user_id", "client_pid", "first_time"])?
            }
            Some(f) => f.select(["user_id", "client_pid", "first_time"])?,
            None => tables
                .events
                .clone()
                .group_by([col("user_id"), col("client_pid")])
                .agg([col("event_time").min().alias("first_time")])
                .collect()?,
        };
        let users = dictionary(&[firsts.column("user_id")?])?;
        let clients = dictionary(&[firsts.column("client_pid")?])?;
        let teams = dictionary(&[
            tables.teams.column("team_id")?,
            tables.staff.column("team_id")?,
            tables.cases.column("team_id")?,
        ])?;
        let names = dictionary(&[
            tables.staff.column("surname_pid")?,
            tables.staff.column("address_pid")?,
            tables.clients.column("surname_pid")?,
            tables.clients.column("address_pid")?,
        ])?;
        // The pairs in the order of their codes: the store's, or counted here in (user, client)
        // order.
        let stored_codes = firsts.column("pair").is_ok();
        let pairs = encode(
            encode(firsts.lazy(), "user_id", &users, "u"),
            "client_pid",
            &clients,
            "c",
        );
        let pairs = if stored_codes {
            pairs.sort(["pair"], SortMultipleOptions::default())
        } else {
            pairs
                .filter(col("u").is_not_null().and(col("c").is_not_null()))
                .sort(["u", "c"], SortMultipleOptions::default())
                .with_row_index("pair", None)
        }
        .collect()?;
        let codes = if stored_codes {
            let counted = pairs
                .column("pair")?
                .u32()?
                .iter()
                .enumerate()
                .all(|(i, p)| p == Some(i as u32));
            if !counted
                || pairs.column("c")?.null_count() > 0
                || pairs.column("u")?.null_count() > 0
            {
                return Err(crate::error::Error::Invalid(
                    "the store's first_access table does not count its pair codes up from 0; \
                     the store is inconsistent"
                        .into(),
                ));
            }
            None
        } else {
            Some(Codebook::new(&users, &clients, &pairs)?)
        };

        // (A, D) assignments (kind 0) and complaints handled (kind 1), on the pair.
        let pair_of = pairs
            .clone()
            .lazy()
            .select([col("u"), col("c"), col("pair")]);
        let coded = |lf: LazyFrame, user: &str| {
            encode(encode(lf, user, &users, "u"), "client_pid", &clients, "c").join(
                pair_of.clone(),
                [col("u"), col("c")],
                [col("u"), col("c")],
                inner(),
            )
        };
        let cases = tables.cases.clone().lazy();
        let assign = coded(
            tables.assignments.clone().lazy().join(
                cases.clone().select([col("case_id"), col("client_pid")]),
                [col("case_id")],
                [col("case_id")],
                inner(),
            ),
            "user_id",
        )
        .select([
            col("pair"),
            lit(0i32).alias("kind"),
            days("valid_from").alias("p_from"),
            days_or_open("valid_to").alias("p_to"),
            lit(grace("direct_worker")).alias("grace"),
        ]);
        let complaints = coded(tables.complaints.clone().lazy(), "handler_user_id").select([
            col("pair"),
            lit(1i32).alias("kind"),
            days("opened").alias("p_from"),
            days_or_open("closed").alias("p_to"),
            lit(grace("complaints_handler")).alias("grace"),
        ]);
        let periods = concat([assign, complaints], UnionArgs::default())?.collect()?;
        // (B) the client's cases, with the user's roles in each case's team.
        let team_kinds = encode(tables.teams.clone().lazy(), "team_id", &teams, "t")
            .select([col("t"), col("kind").alias("team_kind")]);
        let staff_rows = encode(
            encode(tables.staff.clone().lazy(), "user_id", &users, "u")
                .filter(col("u").is_not_null()),
            "team_id",
            &teams,
            "t",
        )
        .select([
            col("u"),
            col("t"),
            col("role"),
            days("valid_from").alias("s_from"),
            days_or_open("valid_to").alias("s_to"),
            col("big_registered"),
        ]);
        let kinds = policy
            .rule("replacement")
            .map(|r| r.any_team_kinds.clone())
            .unwrap_or_default();
        let mut in_kind = lit(false);
        for k in &kinds {
            in_kind = in_kind.or(col("team_kind").eq(lit(k.as_str())));
        }
        let staff_rows = staff_rows
            .lazy()
            .join(team_kinds, [col("t")], [col("t")], left())
            .with_column(in_kind.fill_null(lit(false)).alias("any_team_kind"))
            .collect()?;
        let mut case_cols = vec![
            col("c"),
            col("t"),
            days("opened").alias("c_from"),
            days_or_open("closed").alias("c_to"),
            col("domestic_violence"),
            col("keep_default"),
        ];
        for s in policy.retention.sections.keys() {
            case_cols.push(col(format!("keep_{s}")));
        }
        let case_rows = encode(
            encode(
                cases.join(
                    retention_columns(&tables.cases, policy)?.lazy(),
                    [col("case_id")],
                    [col("case_id")],
                    inner(),
                ),
                "client_pid",
                &clients,
                "c",
            )
            .filter(col("c").is_not_null()),
            "team_id",
            &teams,
            "t",
        )
        .select(case_cols)
        .collect()?;
        // (E) identities for the signals: the user's own pseudonyms and the client's, coded.
        let people = encode(
            encode(
                encode(
                    encode(tables.staff.clone().lazy(), "user_id", &users, "u")
                        .filter(col("u").is_not_null())
                        .group_by([col("u")])
                        .agg([
                            col("person_pid").drop_nulls().min(),
                            col("surname_pid").drop_nulls().min(),
                            col("address_pid").drop_nulls().min(),
                        ]),
                    "person_pid",
                    &clients,
                    "u_person",
                ),
                "surname_pid",
                &names,
                "u_surname",
            ),
            "address_pid",
            &names,
            "u_address",
        )
        .select([
            col("u"),
            col("u_person"),
            col("u_surname"),
            col("u_address"),
        ])
        .collect()?;
        let client_rows = encode(
            encode(
                encode(tables.clients.clone().lazy(), "client_pid", &clients, "c")
                    .filter(col("c").is_not_null()),
                "surname_pid",
                &names,
                "c_surname",
            ),
            "address_pid",
            &names,
            "c_address",
        )
        .select([
            col("c"),
            col("c_surname"),
            col("c_address"),
            col("restricted"),
        ])
        // One row per client (the store keys clients by id; a table given otherwise keeps its
        // first row).
        .unique_stable(Some(cols(["c"])), UniqueKeepStrategy::First)
        .collect()?;
        let client_rows = ByCode::new(client_rows, "c", clients.height())?;
        let relations = Relations::new(
            &periods,
            pairs.height(),
            &case_rows,
            clients.height(),
            policy.retention.sections.keys().cloned().collect(),
            grace("team_coach"),
            &staff_rows,
            &people,
            users.height(),
        )?;

        let teams = dictionary_values(&teams)?;
        let user_labels = dictionary_values(&users)?;
        Ok(Engine {
            policy,
            codes,
            pair_u: pairs.column("u")?.as_materialized_series().clone(),
            pair_c: pairs.column("c")?.as_materialized_series().clone(),
            first_time: pairs.column("first_time")?.as_materialized_series().clone(),
            relations,
            client_rows,
            teams,
            user_labels,
        })
    }

    /// The verdict plan for those of `events` on the days of `range`, with the integer codes
    /// behind some of its text (`CODE_COLUMNS`) after the verdict's columns: what the counts of
    /// an audit's parts are taken from (`PartCounts`).
    pub fn coded_verdicts(&self, events: LazyFrame, range: DayRange) -> Result<LazyFrame> {
        let policy = self.policy;
        let (first, last) = range.epoch_days();
        // The period's events with their local calendar day, hour and weekday, and their codes.
        let local = local_micros(&policy.time_zone, range)?
            .cast(DataType::Datetime(TimeUnit::Microseconds, None));
        let ev = events
            .with_columns([
                local.clone().dt().date().cast(DataType::Int32).alias("d"),
                local
                    .clone()
                    .dt()
                    .hour()
                    .cast(DataType::Int32)
                    .alias("local_hour"),
                local
                    .clone()
                    .dt()
                    .minute()
                    .cast(DataType::Int32)
                    .alias("local_minute"),
                local.dt().weekday().cast(DataType::Int32).alias("weekday"),
            ])
            .filter(within(col("d"), lit(first), lit(last)));
        let ev = in_order(ev.collect()?)?;
        // The codes of the user, the client and the pair, and the pair's first access.
        let ev = match &self.codes {
            Some(codes) => codes.key(&ev.drop_many(["pair"]))?,
            None => self.stored_pairs(ev)?,
        };
        let first_time = self.first_time.take(ev.column("pair")?.u32()?)?;
        let mut ev = ev.hstack(&[first_time.into()])?;
        ev = ev.with_row_index("idx".into(), None)?;
        let unpaired = ev
            .clone()
            .lazy()
            .filter(
                col("pair")
                    .is_null()
                    .and(col("user_id").is_not_null())
                    .and(col("client_pid").is_not_null()),
            )
            .select([len()])
            .collect()?;
        let unpaired = unpaired.column("len")?.u32()?.get(0).unwrap_or(0);
        if unpaired > 0 {
            return Err(crate::error::Error::Invalid(format!(
                "the store's first_access table lacks the (user, client) pair of {unpaired} events; \
                 the store is inconsistent"
            )));
        }
        // The client's pseudonyms and flags: one row per client.
        let ev = self.client_rows.left_join(&ev)?;
        let keys = ev.select(["idx", "u", "c", "pair", "d", "section"])?;

        // The facts each rule reads: the event's periods, cases and role periods, by code.
        let facts = self.relations.event_facts(&keys)?;
        let joined = ev.hstack(facts.columns())?.lazy();

        // Which explanations hold, before and after the section constraints.
        let raw = |id: &str| -> Expr {
            match id {
                "direct_worker" => col("direct"),
                "team_coach" => col("coach"),
                "complaints_handler" => col("complaint_open"),
                "replacement" => {
                    col("own_team_open").or(col("any_team_member").and(col("has_open_case")))
                }
                "veilig_thuis" => col("role_veilig_thuis").and(col("dv_open")),
                role => col(format!("role_{role}").as_str()),
            }
        };
        let mut big_ok = lit(true);
        for (name, s) in &policy.sections {
            if s.requires_big {
                big_ok = big_ok.and(col("section").neq(lit(name.as_str())).or(col("big")));
            }
        }
        let section_ok = |id: &str| -> Expr {
            let mut ok = big_ok.clone();
            for name in policy.sections.keys() {
                if !policy.section_allows(name, id) {
                    ok = ok.and(col("section").neq(lit(name.as_str())));
                }
            }
            ok
        };
        let mut holds = Vec::new();
        let mut any_raw = lit(false);
        for r in &policy.rules {
            holds.push(raw(&r.id).and(section_ok(&r.id)));
            any_raw = any_raw.or(raw(&r.id));
        }
        // The first rule (in policy order) that holds; every rule that holds, as a bit mask.
        let mut rule_ix = lit(NULL).cast(DataType::UInt32);
        for (i, h) in holds.iter().enumerate().rev() {
            rule_ix = when(h.clone()).then(lit(i as u32)).otherwise(rule_ix);
        }
        let rule_ids: Vec<&str> = policy.rules.iter().map(|r| r.id.as_str()).collect();
        let rule_labels: Vec<String> = rule_ids.iter().map(|s| s.to_string()).collect();
        let article_labels: Vec<String> = rule_ids
            .iter()
            .map(|id| policy.article(id).to_string())
            .collect();

        // Verdict codes: 0 emergency, 1 justified, 2 unjustified.
        let emergency = col("emergency");
        let verdict = when(emergency.clone())
            .then(lit(0u32))
            .when(col("rule_ix").is_not_null())
            .then(lit(1u32))
            .otherwise(lit(2u32));
        // Reason codes index `REASONS`.
        let complaints_rule = policy.rule("complaints_handler").is_some();
        let reason = when(col("verdict_code").neq(lit(2u32)))
            .then(lit(NULL).cast(DataType::UInt32))
            .when(col("any_raw"))
            .then(lit(0u32))
            .when(
                lit(complaints_rule)
                    .and(col("role_complaints_handler"))
                    .and(col("complaint_open").not()),
            )
            .then(lit(1u32))
            .when(
                col("assigned_before")
                    .or(col("complaint_before"))
                    .and(col("has_open_case").or(col("any_role").not())),
            )
            .then(lit(2u32))
            .when(
                col("has_open_case")
                    .not()
                    .and(col("closed_before"))
                    .and(col("assigned_before").or(col("team_case"))),
            )
            .then(lit(3u32))
            .when(
                col("any_team").is_not_null().and(col("any_role")).and(
                    when(col("has_open_case"))
                        .then(col("own_team_open"))
                        .otherwise(col("team_case"))
                        .not(),
                ),
            )
            .then(lit(4u32))
            .otherwise(lit(5u32));

        // Signals.
        let o = &policy.office_hours;
        let minute = col("local_hour") * lit(60) + col("local_minute");
        let from_min = (o.from.hour() * 60 + o.from.minute()) as i32;
        let to_min = (o.to.hour() * 60 + o.to.minute()) as i32;
        let mut office_day = lit(false);
        for d in &o.days {
            office_day = office_day.or(col("weekday").eq(lit(d.number_from_monday() as i32)));
        }
        let in_office = office_day
            .and(minute.clone().gt_eq(lit(from_min)))
            .and(minute.lt(lit(to_min)));
        let same = |a: &str, b: &str| col(a).eq(col(b)).fill_null(lit(false));
        let reason_missing = col("emergency_reason").is_null().or(col("emergency_reason")
            .str()
            .strip_chars(lit(NULL))
            .str()
            .len_bytes()
            .eq(lit(0u32)));
        // In the order of `SIGNALS`.
        let signal_exprs: Vec<Expr> = vec![
            same("u_person", "c"),
            same("u_surname", "c_surname"),
            same("u_address", "c_address"),
            col("restricted").fill_null(lit(false)),
            in_office.not(),
            col("all_past_retention").and(col("has_open_case").not()),
            col("event_time")
                .eq(col("first_time"))
                .fill_null(lit(false)),
            col("outcome").neq(lit(0)).fill_null(lit(false)),
            emergency.clone().and(reason_missing.clone()),
        ];
        let mut count = lit(0i32);
        for e in &signal_exprs {
            count = count + e.clone().cast(DataType::Int32);
        }

        // An emergency login is not explained by a rule; `also_explained_by` says which held.
        let explaining_rule = when(col("emergency"))
            .then(lit(NULL).cast(DataType::UInt32))
            .otherwise(col("rule_ix"));
        let out = joined
            .with_columns([
                rule_ix.alias("rule_ix"),
                any_raw.alias("any_raw"),
                mask(&holds).alias("holding"),
                mask(&signal_exprs).alias("signal_mask"),
                count.alias("signal_count"),
            ])
            .with_columns([verdict.alias("verdict_code")])
            .with_columns([
                reason.alias("reason_code"),
                when(emergency)
                    .then(col("holding"))
                    .otherwise(lit(NULL).cast(DataType::UInt32))
                    .alias("explained_mask"),
                col("open_team")
                    .fill_null(col("any_team"))
                    .alias("dossier_team_code"),
            ])
            .with_columns([
                decode(col("verdict_code"), VERDICTS.map(String::from).to_vec()).alias("verdict"),
                decode(explaining_rule.clone(), rule_labels).alias("rule"),
                decode(explaining_rule.clone(), article_labels).alias("article"),
                decode(
                    col("reason_code"),
                    REASONS.iter().map(|s| s.to_string()).collect(),
                )
                .alias("reason"),
                decode(col("explained_mask"), mask_labels(&rule_ids)).alias("also_explained_by"),
                decode(col("signal_mask"), mask_labels(&SIGNALS)).alias("signals"),
                reason_missing.not().alias("emergency_reason_given"),
                col("d").cast(DataType::Date).alias("local_date"),
                decode(col("user_team"), self.teams.clone()).alias("user_team"),
                decode(col("dossier_team_code"), self.teams.clone()).alias("dossier_team"),
                col("user_team").alias("user_team_code"),
                explaining_rule.alias("rule_code"),
            ])
            .select(
                VERDICT_COLUMNS
                    .iter()
                    .map(|c| col(*c))
                    .chain(CODE_COLUMNS.iter().map(|c| {
                        let t = if *c == "d" {
                            DataType::Int32
                        } else {
                            DataType::UInt32
                        };
                        col(*c).cast(t)
                    }))
                    .collect::<Vec<_>>(),
            );
        Ok(out)
    }

    /// The verdict plan for those of `events` on the days of `range`: the columns of
    /// `VERDICT_COLUMNS`.
    pub fn verdicts(&self, events: LazyFrame, range: DayRange) -> Result<LazyFrame> {
        Ok(self
            .coded_verdicts(events, range)?
            .select(VERDICT_COLUMNS.iter().map(|c| col(*c)).collect::<Vec<_>>()))
    }

    /// The labels of the codes in `CODE_COLUMNS`.
    pub fn labels(&self) -> CodeLabels {
        CodeLabels {
            users: self.user_labels.clone(),
            teams: self.teams.clone(),
            roles: self.relations.role_labels().to_vec(),
            rules: self.policy.rules.iter().map(|r| r.id.clone()).collect(),
            articles: self
                .policy
                .rules
                .iter()
                .map(|r| self.policy.article(&r.id).to_string())
                .collect(),
        }
    }

    /// `events` with the codes of their user and client, from the pair codes they carry.
    fn stored_pairs(&self, events: DataFrame) -> Result<DataFrame> {
        let invalid = |m: String| Err(crate::error::Error::Invalid(m));
        let Ok(pair) = events.column("pair") else {
            return invalid(
                "the store's events carry no pair codes (made by an older version); \
                 ingest them into a new store"
                    .into(),
            );
        };
        let pair = pair.cast(&DataType::UInt32)?;
        let pair = pair.u32()?;
        if let Some(p) = pair.max().filter(|p| *p as usize >= self.pair_u.len()) {
            return invalid(format!(
                "an event carries pair code {p}, beyond the {} pairs of the store's first_access \
                 table; the store is inconsistent",
                self.pair_u.len()
            ));
        }
        let (u, c) = (self.pair_u.take(pair)?, self.pair_c.take(pair)?);
        Ok(events.hstack(&[u.into(), c.into()])?)
    }
}

/// `events` in the order of the verdicts (time, source, event id): as they come when read from
/// one sorted event file, which is checked in one pass; sorted otherwise.
fn in_order(events: DataFrame) -> Result<DataFrame> {
    let by = ["event_time", "source", "event_id"];
    let time = events.column(by[0])?.to_physical_repr();
    let time = time.i64()?;
    let source = events.column(by[1])?.str()?;
    let id = events.column(by[2])?.str()?;
    let key = |i: usize| (time.get(i), source.get(i), id.get(i));
    let sorted = time.null_count() == 0
        && (1..events.height()).all(|i| {
            let (a, b) = (time.get(i - 1), time.get(i));
            a < b || (a == b && key(i - 1) <= key(i))
        });
    if sorted {
        return Ok(events);
    }
    Ok(events.sort(by, SortMultipleOptions::default())?)
}

/// The values of a dictionary (`dictionary`), by code.
fn dictionary_values(dict: &DataFrame) -> Result<Vec<String>> {
    Ok(dict
        .column("value")?
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone as _};

    /// The local clock from integer offsets agrees with chrono-tz on every quarter hour around
    /// both changes of 2026 in Amsterdam, and in a zone with a half-hour offset.
    #[test]
    fn local_time_by_offsets_agrees_with_the_time_zone_database() {
        for (zone, first, last) in [
            ("Europe/Amsterdam", "2026-03-28", "2026-03-30"),
            ("Europe/Amsterdam", "2026-10-24", "2026-10-26"),
            ("Asia/Kolkata", "2026-01-01", "2026-01-02"),
        ] {
            let day = |s: &str| s.parse::<NaiveDate>().unwrap();
            let range = DayRange {
                first: day(first),
                last: day(last),
            };
            let tz: chrono_tz::Tz = zone.parse().unwrap();
            let start = day(first).and_hms_opt(0, 0, 0).unwrap().and_utc();
            let times: Vec<i64> = (0..3 * 96)
                .map(|q| start.timestamp_micros() + q * 15 * 60_000_000)
                .collect();
            let df = df!("t" => times.clone())
                .unwrap()
                .lazy()
                .select([col("t")
                    .cast(DataType::Datetime(
                        TimeUnit::Microseconds,
                        Some(TimeZone::UTC),
                    ))
                    .alias("event_time")])
                .select([local_micros(zone, range).unwrap().alias("local")])
                .collect()
                .unwrap();
            let got = df.column("local").unwrap().i64().unwrap();
            for (i, t) in times.iter().enumerate() {
                let utc = chrono::Utc.timestamp_micros(*t).unwrap();
                let want = utc
                    .with_timezone(&tz)
                    .naive_local()
                    .and_utc()
                    .timestamp_micros();
                assert_eq!(got.get(i), Some(want), "{zone} at {utc}");
            }
        }
    }
}
