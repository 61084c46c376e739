//! The rule engine: tables and a policy in, one verdict row per event out: each event's facts
//! from the reference tables (looked up by integer code, `facts.rs`), then the rules, the
//! reason and the signals (`rules.rs`, in the vocabulary of `vocab.rs` and `policy::rule`), in
//! one pass over the events; polars reads, orders and codes the events and decodes the
//! verdicts' text. Pure: no file access, no clock.
//!
//! Semantics (the reference model in `tests/common/world.rs` spells them out slowly): d is the
//! event's calendar day in the policy's time zone; a period holds on d when
//! `from <= d <= to (+ grace)`, an open end being +infinity.

pub(crate) mod codebook;
pub(crate) mod column_values;
pub(crate) mod facts;
pub mod input;
pub(crate) mod offsets;
pub(crate) mod rules;
pub mod vocab;

use crate::engine::vocab::Reason;
use crate::engine::vocab::Signal;
use crate::engine::vocab::Verdict;
use polars::prelude::*;

use crate::engine::codebook::Codebook;
use crate::engine::column_values::{flags, options};
use crate::engine::facts::{CodedReference, EventKeys, Relations};
use crate::engine::input::AuditTables;
use crate::engine::rules::{EventMarks, RuleTable};
use crate::error::Result;
use crate::period::days_since_epoch;
use crate::period::DayRange;
use crate::policy::rule::RuleKind;
use crate::policy::Policy;

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
/// (`rule_code`, in the policy's order), the signals (`signal_mask`, bit i for `Signal::names()[i]`),
/// the reason (`reason_code`, index in `Reason::names()`), the rules that held at an emergency login
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
    /// Client pseudonyms by code (`c`), in one chunk: millions in a large store, so kept as
    /// one Arrow array rather than as strings.
    pub clients: StringChunked,
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
    dictionary_frame(all.drop_nulls().unique()?.sort(SortOptions::default())?)
}

/// A dictionary frame of sorted distinct `values`: each with its place as its code.
fn dictionary_frame(values: Series) -> Result<DataFrame> {
    let codes: Vec<u32> = (0..values.len() as u32).collect();
    Ok(DataFrame::new(
        values.len(),
        vec![
            values.with_name("value".into()).into(),
            Column::new("code".into(), codes),
        ],
    )?)
}

/// The dictionary of one string column (as `dictionary`), and the code of each of its rows in
/// it (null for a null), in one pass: each distinct value is hashed into a first-seen number,
/// and only the distinct values are sorted (a join of the column with its dictionary would
/// hash every row twice).
fn dictionary_and_codes(column: &Column) -> Result<(DataFrame, UInt32Chunked)> {
    let text = column.cast(&DataType::String)?;
    let text = text.str()?;
    let mut seen: PlHashMap<&str, u32> = PlHashMap::default();
    let mut distinct: Vec<&str> = Vec::new();
    let first_seen: Vec<Option<u32>> = text
        .iter()
        .map(|v| {
            v.map(|v| {
                *seen.entry(v).or_insert_with(|| {
                    distinct.push(v);
                    (distinct.len() - 1) as u32
                })
            })
        })
        .collect();
    let mut order: Vec<u32> = (0..distinct.len() as u32).collect();
    order.sort_unstable_by(|a, b| distinct[*a as usize].cmp(distinct[*b as usize]));
    let mut rank = vec![0u32; distinct.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let values = StringChunked::from_iter_values(
        "value".into(),
        order.iter().map(|&i| distinct[i as usize]),
    );
    let dict = dictionary_frame(values.into_series())?;
    let coded = first_seen
        .into_iter()
        .map(|i| i.map(|i| rank[i as usize]))
        .collect();
    Ok((dict, coded))
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

/// The events' time on the local clock of `zone`, as microseconds since the epoch: `event_time`
/// plus the zone's offset, by integer arithmetic (a time zone conversion per event is slow). The offsets in force from two days before the
/// range to two days after it are looked up once (a quarter hour apart, which finds every
/// transition); events further out are outside the range whatever their offset.
fn local_micros(tz: chrono_tz::Tz, range: DayRange) -> Result<Expr> {
    use chrono::{Offset, TimeZone as _};
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

/// Whether a code column counts up from 0 (0, 1, 2, ... without gaps or nulls).
fn counts_up(codes: &Column) -> Result<bool> {
    Ok(codes
        .cast(&DataType::UInt32)?
        .u32()?
        .iter()
        .enumerate()
        .all(|(i, p)| p == Some(i as u32)))
}

const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_MINUTE: i64 = 60_000_000;

/// `df` with the calendar day (days since 1970-01-01, as polars' `Date`), hour, minute and ISO
/// weekday (Monday 1) of its local clock `local_us` (microseconds since the epoch,
/// `local_micros`) as `d`, `local_hour`, `local_minute` and `weekday`: by integer arithmetic,
/// where polars' date parts of a time convert each value to a calendar date one by one.
fn with_local_clock(df: DataFrame) -> Result<DataFrame> {
    let local = df.column("local_us")?.i64()?;
    // (Days since the epoch fit an `i32` for every `i64` of microseconds.)
    let day = |t: i64| t.div_euclid(MICROS_PER_DAY) as i32;
    let minutes = |t: i64| (t.rem_euclid(MICROS_PER_DAY) / MICROS_PER_MINUTE) as i32;
    // 1970-01-01 was a Thursday (4).
    let weekday = |t: i64| ((i64::from(day(t)) + 3).rem_euclid(7) + 1) as i32;
    let part = |name: &str, f: &dyn Fn(i64) -> i32| -> Column {
        let values: Int32Chunked = if local.null_count() == 0 {
            Int32Chunked::from_vec(name.into(), local.into_no_null_iter().map(f).collect())
        } else {
            Int32Chunked::from_iter_options(name.into(), local.iter().map(|t| t.map(f)))
        };
        values.into_column()
    };
    Ok(df.hstack(&[
        part("d", &day),
        part("local_hour", &|t| minutes(t) / 60),
        part("local_minute", &|t| minutes(t) % 60),
        part("weekday", &weekday),
    ])?)
}

/// Per case, in the order of `cases`: the last day it may be kept, by default and for each
/// section with a period of its own (`keep_default`, `keep_<section>`); open cases keep nothing
/// (null).
fn retention_columns(cases: &DataFrame, policy: &Policy) -> Result<Vec<Column>> {
    let opened = cases.column("opened")?.cast(&DataType::Int32)?;
    let closed = cases.column("closed")?.cast(&DataType::Int32)?;
    let closure = cases.column("closure")?.cast(&DataType::String)?;
    let (opened, closed, closure) = (opened.i32()?, closed.i32()?, closure.str()?);
    let keep = |name: String, section: Option<&str>| -> Column {
        let days: Vec<Option<i32>> = opened
            .iter()
            .zip(closed.iter())
            .zip(closure.iter())
            .map(|((o, c), closure)| {
                let o = crate::period::date_from_days(o?);
                let c = c.map(crate::period::date_from_days);
                policy
                    .retention
                    .keep_until(o, c, closure, section)
                    .map(days_since_epoch)
            })
            .collect();
        Column::new(name.into(), days)
    };
    let mut out = vec![keep("keep_default".into(), None)];
    for s in policy.retention.sections.keys() {
        out.push(keep(format!("keep_{s}"), Some(s)));
    }
    Ok(out)
}

/// The rule engine for one policy, with the reference tables coded once (the pairs, users,
/// clients and teams as integers) so that runs over several parts of a period share them.
///
/// Each event gets integer codes for its (user, client) pair, its user and its client. Stored
/// events carry the pair's code (given at ingest, the row of the store's `first_access`); the
/// user's and the client's follow from it by position. Events without it are coded by lookup
/// (`Codebook`). The reference tables are indexed by code (`Relations`: periods by pair, cases
/// and pseudonyms by client, role periods and pseudonyms by user), so an event's rows are found
/// by array reads. Each event is then judged in one pass over the events (`RuleTable` on the
/// facts from `Relations`), which gives its verdict as integer codes; the text columns of the
/// verdict (verdict, rule, article, reason, signals, teams, role) are decoded from them.
pub struct Engine<'p> {
    policy: &'p Policy,
    /// The codes of users, clients and pairs by lookup; `None` where the events carry the
    /// store's pair codes.
    codes: Option<Codebook>,
    /// The user, the client and the first access of each pair, by pair code.
    pair_u: Series,
    pair_c: Series,
    /// The first access of each pair in microseconds since the epoch (`NO_TIME` if unknown).
    first_us: Vec<i64>,
    /// Assignments and complaints handled by pair, cases by client, role periods and coded
    /// pseudonyms by user, coded pseudonyms and flags by client: what the per-event facts are
    /// read from.
    relations: Relations,
    /// The policy compiled for judging the events one by one.
    rules: RuleTable,
    /// Team ids by code.
    teams: Vec<String>,
    /// User ids by code (one chunk).
    user_labels: StringChunked,
    /// Client pseudonyms by code (one chunk).
    client_labels: StringChunked,
}

/// The dictionaries that code the reference data: users and clients (those of the (user,
/// client) pairs), teams, and people's surname and address pseudonyms.
struct Dictionaries {
    users: DataFrame,
    clients: DataFrame,
    teams: DataFrame,
    names: DataFrame,
}

impl Dictionaries {
    /// The dictionaries, and the pairs with their first access and their user's and client's
    /// codes (`u`, `c`): the store's table of first accesses, or found among all given events.
    fn of(tables: &AuditTables) -> Result<(Dictionaries, DataFrame)> {
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
        // The pairs' users and clients make the dictionaries, and get their codes on the way.
        let (users, u) = dictionary_and_codes(firsts.column("user_id")?)?;
        let (clients, c) = dictionary_and_codes(firsts.column("client_pid")?)?;
        let firsts = firsts.hstack(&[
            u.with_name("u".into()).into_column(),
            c.with_name("c".into()).into_column(),
        ])?;
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
        let dict = Dictionaries {
            users,
            clients,
            teams,
            names,
        };
        Ok((dict, firsts))
    }
}

/// The pairs in the order of their codes: the store's (checked to count up from 0), or counted
/// here in (user, client) order, with the codebook that codes later pairs in the latter case.
fn pairs_in_code_order(
    firsts: DataFrame,
    dict: &Dictionaries,
) -> Result<(DataFrame, Option<Codebook>)> {
    let stored_codes = firsts.column("pair").is_ok();
    // The store writes them in that order: then there is nothing to sort.
    let in_code_order = stored_codes && counts_up(firsts.column("pair")?)?;
    let pairs = firsts.lazy();
    let pairs = if in_code_order {
        pairs
    } else if stored_codes {
        pairs.sort(["pair"], SortMultipleOptions::default())
    } else {
        pairs
            .filter(col("u").is_not_null().and(col("c").is_not_null()))
            .sort(["u", "c"], SortMultipleOptions::default())
            .with_row_index("pair", None)
    }
    .collect()?;
    if !stored_codes {
        let codes = Codebook::new(&dict.users, &dict.clients, &pairs)?;
        return Ok((pairs, Some(codes)));
    }
    if !(in_code_order || counts_up(pairs.column("pair")?)?)
        || pairs.column("c")?.null_count() > 0
        || pairs.column("u")?.null_count() > 0
    {
        return Err(crate::error::Error::Invalid(
            "the store's first_access table does not count its pair codes up from 0; \
             the store is inconsistent"
                .into(),
        ));
    }
    Ok((pairs, None))
}

/// The (user, client) key of a row with codes `u` and `c`, as one 64-bit value (a null code
/// makes a null key, which joins nothing).
fn user_client() -> Expr {
    (col("u").cast(DataType::UInt64) * lit(1u64 << 32) + col("c").cast(DataType::UInt64))
        .alias("uc")
}

/// The periods on a pair that rules rest on: assignments (kind 0, for `direct_worker`) and
/// complaints handled (kind 1, for `complaints_handler`), each with its rule's grace.
fn periods(
    tables: &AuditTables,
    policy: &Policy,
    dict: &Dictionaries,
    pairs: &DataFrame,
    cases: &DataFrame,
) -> Result<DataFrame> {
    let pair_of = pairs.clone().lazy().select([user_client(), col("pair")]);
    // Rows with a client code `c`: their user's code and the pair's.
    let paired = |lf: LazyFrame, user: &str| {
        encode(lf, user, &dict.users, "u")
            .with_column(user_client())
            .join(pair_of.clone(), [col("uc")], [col("uc")], inner())
    };
    // The assignments take their client's code from their case.
    let assign = paired(
        tables.assignments.clone().lazy().join(
            cases.clone().lazy().select([col("case_id"), col("c")]),
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
        lit(policy.grace(RuleKind::DirectWorker)).alias("grace"),
    ]);
    let complaints = paired(
        encode(
            tables.complaints.clone().lazy(),
            "client_pid",
            &dict.clients,
            "c",
        ),
        "handler_user_id",
    )
    .select([
        col("pair"),
        lit(1i32).alias("kind"),
        days("opened").alias("p_from"),
        days_or_open("closed").alias("p_to"),
        lit(policy.grace(RuleKind::ComplaintsHandler)).alias("grace"),
    ]);
    Ok(concat([assign, complaints], UnionArgs::default())?.collect()?)
}

/// The users' role periods: team, role, days, BIG registration, and whether the team is of a
/// kind whose members may replace in any team (`replacement`'s `any_team_kinds`).
fn staff_rows(tables: &AuditTables, policy: &Policy, dict: &Dictionaries) -> Result<DataFrame> {
    let team_kinds = encode(tables.teams.clone().lazy(), "team_id", &dict.teams, "t")
        .select([col("t"), col("kind").alias("team_kind")]);
    let staff_rows = encode(
        encode(tables.staff.clone().lazy(), "user_id", &dict.users, "u")
            .filter(col("u").is_not_null()),
        "team_id",
        &dict.teams,
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
        .rule(RuleKind::Replacement)
        .map(|r| r.any_team_kinds.clone())
        .unwrap_or_default();
    let mut in_kind = lit(false);
    for k in &kinds {
        in_kind = in_kind.or(col("team_kind").eq(lit(k.as_str())));
    }
    Ok(staff_rows
        .lazy()
        .join(team_kinds, [col("t")], [col("t")], left())
        .with_column(in_kind.fill_null(lit(false)).alias("any_team_kind"))
        .collect()?)
}

/// The clients' cases: client and team codes, open days, domestic violence, and the last day
/// each retention column allows.
fn case_rows(
    tables: &AuditTables,
    policy: &Policy,
    dict: &Dictionaries,
    cases: DataFrame,
) -> Result<DataFrame> {
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
    Ok(encode(
        cases
            .hstack(&retention_columns(&tables.cases, policy)?)?
            .lazy()
            .filter(col("c").is_not_null()),
        "team_id",
        &dict.teams,
        "t",
    )
    .select(case_cols)
    .collect()?)
}

/// The users' own pseudonyms (as a client, surname and address), coded, for the signals.
fn people(tables: &AuditTables, dict: &Dictionaries) -> Result<DataFrame> {
    let own = encode(tables.staff.clone().lazy(), "user_id", &dict.users, "u")
        .filter(col("u").is_not_null())
        .group_by([col("u")])
        .agg([
            col("person_pid").drop_nulls().min(),
            col("surname_pid").drop_nulls().min(),
            col("address_pid").drop_nulls().min(),
        ]);
    let coded = encode(own, "person_pid", &dict.clients, "u_person");
    let coded = encode(coded, "surname_pid", &dict.names, "u_surname");
    let coded = encode(coded, "address_pid", &dict.names, "u_address");
    Ok(coded
        .select([
            col("u"),
            col("u_person"),
            col("u_surname"),
            col("u_address"),
        ])
        .collect()?)
}

/// The clients' coded surname and address and whether they are restricted, one row per client
/// (the store keys clients by id; a table given otherwise keeps its first row).
fn client_rows(tables: &AuditTables, dict: &Dictionaries) -> Result<DataFrame> {
    let clients = encode(
        tables.clients.clone().lazy(),
        "client_pid",
        &dict.clients,
        "c",
    )
    .filter(col("c").is_not_null());
    let coded = encode(clients, "surname_pid", &dict.names, "c_surname");
    let coded = encode(coded, "address_pid", &dict.names, "c_address");
    Ok(coded
        .select([
            col("c"),
            col("c_surname"),
            col("c_address"),
            col("restricted"),
        ])
        .unique_stable(Some(cols(["c"])), UniqueKeepStrategy::First)
        .collect()?)
}

/// Builds the verdict plan for the events of `range` (see `Engine`).
pub fn verdicts(tables: &AuditTables, policy: &Policy, range: DayRange) -> Result<LazyFrame> {
    Engine::new(tables, policy)?.verdicts(tables.events.clone(), range)
}

impl<'p> Engine<'p> {
    /// Codes the reference tables of `tables` (and, without the store's first accesses, finds
    /// them among all of `tables.events`).
    pub fn new(tables: &AuditTables, policy: &'p Policy) -> Result<Engine<'p>> {
        let (dict, firsts) = Dictionaries::of(tables)?;
        let (pairs, codes) = pairs_in_code_order(firsts, &dict)?;
        let cases = encode(
            tables.cases.clone().lazy(),
            "client_pid",
            &dict.clients,
            "c",
        )
        .collect()?;
        let relations = Relations::new(CodedReference {
            periods: periods(tables, policy, &dict, &pairs, &cases)?,
            n_pairs: pairs.height(),
            cases: case_rows(tables, policy, &dict, cases)?,
            n_clients: dict.clients.height(),
            keep_sections: policy.retention.sections.keys().cloned().collect(),
            coach_grace: policy.grace(RuleKind::TeamCoach),
            staff: staff_rows(tables, policy, &dict)?,
            people: people(tables, &dict)?,
            n_users: dict.users.height(),
            clients: client_rows(tables, &dict)?,
        })?;
        let rules = RuleTable::new(policy, &crate::engine::facts::role_names());
        Ok(Engine {
            policy,
            codes,
            pair_u: pairs.column("u")?.as_materialized_series().clone(),
            pair_c: pairs.column("c")?.as_materialized_series().clone(),
            first_us: options(micros(&pairs, "first_time")?.i64()?)
                .into_iter()
                .map(|t| t.unwrap_or(NO_TIME))
                .collect(),
            relations,
            rules,
            teams: dictionary_values(&dict.teams)?,
            user_labels: dict.users.column("value")?.str()?.rechunk().into_owned(),
            client_labels: dict.clients.column("value")?.str()?.rechunk().into_owned(),
        })
    }

    /// The verdict plan for those of `events` on the days of `range`, with the integer codes
    /// behind some of its text (`CODE_COLUMNS`) after the verdict's columns: what the counts of
    /// an audit's parts are taken from (`PartCounts`).
    pub fn coded_verdicts(&self, events: LazyFrame, range: DayRange) -> Result<LazyFrame> {
        let policy = self.policy;
        let (first, last) = range.epoch_days();
        // The period's events with their local calendar day, hour and weekday, and their codes.
        let local = local_micros(policy.time_zone, range)?;
        let reason_missing = col("emergency_reason").is_null().or(col("emergency_reason")
            .str()
            .strip_chars(lit(NULL))
            .str()
            .len_bytes()
            .eq(lit(0u32)));
        // Where the events carry the store's pair codes, their user and client text is not read.
        let mut events = events;
        if self.codes.is_none() && events.collect_schema()?.contains("pair") {
            events = events.select(STORED_EVENT_COLUMNS.map(col));
        }
        // The events whose local day is within the range.
        let (from, to) = (
            i64::from(first) * MICROS_PER_DAY,
            (i64::from(last) + 1) * MICROS_PER_DAY,
        );
        let ev = events
            .with_columns([
                local.alias("local_us"),
                reason_missing.alias("reason_missing"),
            ])
            .filter(
                col("local_us")
                    .gt_eq(lit(from))
                    .and(col("local_us").lt(lit(to))),
            );
        let ev = with_local_clock(in_order(ev.collect()?)?)?;
        // The codes of the user, the client and the pair, and the pair's first access.
        let ev = match &self.codes {
            Some(codes) => codes.key(&ev.drop_many(["pair"]))?,
            None => self.stored_pairs(ev)?,
        };
        let keys = self.keys(&ev)?;

        // Each event judged by the rules on its facts (`RuleTable`), as codes; their text
        // decoded from small label lists.
        let judged = self.relations.judge(&keys, &self.rules)?;
        let rule_ids: Vec<&str> = policy.rules.iter().map(|r| r.kind.name()).collect();
        let rule_labels: Vec<String> = rule_ids.iter().map(|s| s.to_string()).collect();
        let article_labels: Vec<String> = policy.rules.iter().map(|r| r.article.clone()).collect();
        let out = ev
            .hstack(judged.columns())?
            .lazy()
            .with_columns([
                decode(
                    col("verdict_code"),
                    Verdict::names().map(String::from).to_vec(),
                )
                .alias("verdict"),
                decode(col("rule_code"), rule_labels).alias("rule"),
                decode(col("rule_code"), article_labels).alias("article"),
                decode(
                    col("reason_code"),
                    Reason::names().iter().map(|s| s.to_string()).collect(),
                )
                .alias("reason"),
                decode(col("explained_mask"), vocab::mask_labels(&rule_ids))
                    .alias("also_explained_by"),
                decode(col("signal_mask"), vocab::mask_labels(&Signal::names())).alias("signals"),
                col("reason_missing").not().alias("emergency_reason_given"),
                col("d").cast(DataType::Date).alias("local_date"),
                decode(col("user_team_code"), self.teams.clone()).alias("user_team"),
                decode(col("dossier_team_code"), self.teams.clone()).alias("dossier_team"),
                decode(col("user_role_code"), self.relations.role_labels().to_vec())
                    .alias("user_role"),
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

    /// What the facts and the rules read of each event of `ev` (`EventKeys`): its codes, day,
    /// section, and flags. Refuses events whose pair is unknown, or that lack their user, client,
    /// section or emergency flag (the data contract requires them), so that every event has its
    /// user's and client's codes.
    fn keys(&self, ev: &DataFrame) -> Result<EventKeys> {
        let invalid = |m: String| Err(crate::error::Error::Invalid(m));
        let codes = |name: &str| -> Result<Vec<Option<u32>>> {
            Ok(options(ev.column(name)?.cast(&DataType::UInt32)?.u32()?))
        };
        let (u, c, pair) = (codes("u")?, codes("c")?, codes("pair")?);
        let section = ev.column("section")?.cast(&DataType::String)?;
        let section = section.str()?;
        let emergency = ev.column("emergency")?.bool()?;
        for (column, nulls) in [
            ("user_id", ev.column("user_id")?.null_count()),
            ("client_pid", ev.column("client_pid")?.null_count()),
            ("section", section.null_count()),
            ("emergency", emergency.null_count()),
        ] {
            if nulls > 0 {
                return invalid(format!(
                    "{nulls} events lack their '{column}', which the data contract requires"
                ));
            }
        }
        // Every event has its user and client, so each lacking a pair code is one the store's
        // pairs do not know.
        let unpaired = pair.iter().filter(|p| p.is_none()).count();
        if unpaired > 0 {
            return invalid(format!(
                "the store's first_access table lacks the (user, client) pair of {unpaired} events; \
                 the store is inconsistent"
            ));
        }
        let emergency = flags(emergency, false);
        let reason_missing = flags(ev.column("reason_missing")?.bool()?, true);
        let outcome = options(ev.column("outcome")?.cast(&DataType::Int64)?.i64()?);
        let time = options(micros(ev, "event_time")?.i64()?);
        let hour = options(ev.column("local_hour")?.i32()?);
        let minute = options(ev.column("local_minute")?.i32()?);
        let weekday = options(ev.column("weekday")?.i32()?);
        // The section's policy code and retention column, worked out once per run of the same
        // string: equal views of one array are equal strings (sections have no nulls).
        let keep_sections = self.relations.keep_sections();
        let mut sections: Vec<(Option<u8>, usize)> = Vec::with_capacity(ev.height());
        for array in section.downcast_iter() {
            let mut last = None;
            for (i, view) in array.views().iter().enumerate() {
                let codes = match last {
                    Some((v, codes)) if v == *view => codes,
                    _ => {
                        let s = array.value(i);
                        let k = keep_sections
                            .iter()
                            .position(|k| k == s)
                            .map_or(0, |k| k + 1);
                        let codes = (self.rules.section_code(s), k);
                        last = Some((*view, codes));
                        codes
                    }
                };
                sections.push(codes);
            }
        }
        let marks = (0..ev.height())
            .map(|i| EventMarks {
                section: sections[i].0,
                emergency: emergency[i],
                reason_missing: reason_missing[i],
                failed: outcome[i].is_some_and(|o| o != 0),
                first: time[i].is_some_and(|t| {
                    pair[i].and_then(|p| self.first_us.get(p as usize)) == Some(&t)
                }),
                minute: hour[i].unwrap_or(0) * 60 + minute[i].unwrap_or(0),
                weekday: weekday[i].unwrap_or(0),
            })
            .collect();
        Ok(EventKeys {
            u,
            c,
            pair,
            d: options(ev.column("d")?.i32()?)
                .into_iter()
                .map(|d| d.map_or(i64::MAX, i64::from))
                .collect(),
            keep: sections.into_iter().map(|(_, k)| k).collect(),
            marks,
        })
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
            users: self
                .user_labels
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect(),
            clients: self.client_labels.clone(),
            teams: self.teams.clone(),
            roles: self.relations.role_labels().to_vec(),
            rules: self
                .policy
                .rules
                .iter()
                .map(|r| r.kind.name().to_string())
                .collect(),
            articles: self
                .policy
                .rules
                .iter()
                .map(|r| r.article.clone())
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
        let user_id = self.user_labels.take(u.u32()?)?.with_name("user_id".into());
        let client_pid = self
            .client_labels
            .take(c.u32()?)?
            .with_name("client_pid".into());
        Ok(events.hstack(&[
            u.into(),
            c.into(),
            user_id.into_column(),
            client_pid.into_column(),
        ])?)
    }
}

/// A pair's first access that is not known (no event has this time).
const NO_TIME: i64 = i64::MIN;

/// The event columns read where the events carry the store's pair codes: the user's id and the
/// client's pseudonym follow from the pair (`Engine::stored_pairs`), so their text is not read.
const STORED_EVENT_COLUMNS: [&str; 10] = [
    "event_id",
    "source",
    "event_time",
    "action",
    "section",
    "outcome",
    "emergency",
    "emergency_reason",
    "workstation",
    "pair",
];

/// `events` in the order of the verdicts (time, source, event id): as they come when read from
/// one sorted event file, which is checked in one pass; sorted otherwise.
fn in_order(events: DataFrame) -> Result<DataFrame> {
    let by = ["event_time", "source", "event_id"];
    let time = events.column(by[0])?.to_physical_repr();
    let time = time.i64()?;
    let source = events.column(by[1])?.str()?;
    let id = events.column(by[2])?.str()?;
    let key = |i: usize| (source.get(i), id.get(i));
    // The times in one array (a per-row `get` looks up the row's chunk each time); the text
    // keys are read only where two times tie.
    let sorted = time.null_count() == 0 && {
        let times: Vec<i64> = time.into_no_null_iter().collect();
        (1..times.len()).all(|i| {
            let (a, b) = (times[i - 1], times[i]);
            a < b || (a == b && key(i - 1) <= key(i))
        })
    };
    if sorted {
        return Ok(events);
    }
    Ok(events.sort(by, SortMultipleOptions::default())?)
}

/// A time column of `df` as microseconds since the epoch.
fn micros(df: &DataFrame, name: &str) -> Result<Column> {
    let column = df.column(name)?;
    // (multiply by, divide by)
    let (mul, div) = match column.dtype() {
        DataType::Datetime(TimeUnit::Nanoseconds, _) => (1, 1000),
        DataType::Datetime(TimeUnit::Microseconds, _) => (1, 1),
        DataType::Datetime(TimeUnit::Milliseconds, _) => (1000, 1),
        other => {
            return Err(crate::error::Error::Invalid(format!(
                "column '{name}' is {other}, not a time"
            )))
        }
    };
    let physical = column.to_physical_repr();
    let scaled: Int64Chunked = physical.i64()?.apply_values(|v| (v * mul).div_euclid(div));
    Ok(scaled.into_column())
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

    /// The day, hour, minute and weekday by integer arithmetic agree with chrono's calendar,
    /// before the epoch too; a missing time has none.
    #[test]
    fn local_clock_parts_agree_with_the_calendar() {
        let times: Vec<Option<i64>> = (-3000..3000)
            .map(|k: i64| Some(k * 7 * 3_600_000_000 + k.rem_euclid(61) * 60_000_000 + 17))
            .chain([None])
            .collect();
        let df = with_local_clock(df!("local_us" => times.clone()).unwrap()).unwrap();
        let part =
            |n: &str| -> Vec<Option<i32>> { df.column(n).unwrap().i32().unwrap().iter().collect() };
        let (d, h, m, w) = (
            part("d"),
            part("local_hour"),
            part("local_minute"),
            part("weekday"),
        );
        for (i, t) in times.iter().enumerate() {
            use chrono::{Datelike, Timelike};
            let want = t.map(|t| {
                let at = chrono::DateTime::from_timestamp_micros(t)
                    .unwrap()
                    .naive_utc();
                (
                    days_since_epoch(at.date()),
                    at.hour() as i32,
                    at.minute() as i32,
                    at.weekday().number_from_monday() as i32,
                )
            });
            let got = d[i].map(|d| (d, h[i].unwrap(), m[i].unwrap(), w[i].unwrap()));
            assert_eq!(got, want, "at {t:?}");
            assert_eq!(d[i].is_none(), h[i].is_none());
        }
        // Without a missing time (another path), the same.
        let all: Vec<i64> = times.iter().flatten().copied().collect();
        let whole = with_local_clock(df!("local_us" => all).unwrap()).unwrap();
        assert!(whole.equals(&df.head(Some(times.len() - 1))));
    }

    /// One pass gives the sorted distinct values, as `dictionary` does, and each row's code in
    /// them.
    #[test]
    fn a_column_is_coded_by_its_sorted_distinct_values() {
        let column = Column::new(
            "x".into(),
            [Some("pear"), None, Some("apple"), Some("pear"), Some("fig")],
        );
        let (dict, codes) = dictionary_and_codes(&column).unwrap();
        assert!(dict.equals(&dictionary(&[&column]).unwrap()));
        let values: Vec<_> = dict
            .column("value")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(values, [Some("apple"), Some("fig"), Some("pear")]);
        let codes: Vec<_> = codes.iter().collect();
        assert_eq!(codes, [Some(2), None, Some(0), Some(2), Some(1)]);
    }

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
                .select([local_micros(tz, range).unwrap().alias("local")])
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
