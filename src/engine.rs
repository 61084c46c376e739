//! The rule engine: tables and a policy in, one verdict row per event out, as one lazy polars
//! plan (equi-joins on the relation keys with interval conditions, then per-event aggregates).
//! Pure: no file access, no clock.
//!
//! Semantics (the reference model in `tests/engine_reference.rs` spells them out slowly):
//! d is the event's calendar day in the policy's time zone; a period holds on d when
//! `from <= d <= to (+ grace)`, an open end being +infinity.

use chrono::Timelike;
use polars::prelude::*;

use crate::audit_tables::{AuditTables, DayRange};
use crate::error::Result;
use crate::policy::{Policy, ROLE_RULES};
use crate::time_parser::days_since_epoch;

/// Verdicts.
pub const EMERGENCY: &str = "emergency";
pub const JUSTIFIED: &str = "justified";
pub const UNJUSTIFIED: &str = "unjustified";

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

fn null_str() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// `any` over a boolean column in an aggregation, nulls counting as false.
fn any_of(e: Expr, name: &str) -> Expr {
    e.fill_null(lit(false)).any(true).alias(name)
}

fn left() -> JoinArgs {
    JoinArgs::new(JoinType::Left)
}

fn inner() -> JoinArgs {
    JoinArgs::new(JoinType::Inner)
}

/// Joins the events to periods of a (user, client) relation (`p_from`, `p_to`) and flags per
/// event whether one holds on its day (plus `grace`) and whether one had begun by then.
fn relation_periods(
    keys: &LazyFrame,
    periods: LazyFrame,
    grace: i32,
    holds: &str,
    begun: &str,
) -> LazyFrame {
    keys.clone()
        .join(
            periods,
            [col("user_id"), col("client_pid")],
            [col("user_id"), col("client_pid")],
            inner(),
        )
        .group_by([col("idx")])
        .agg([
            any_of(
                within(col("d"), col("p_from"), col("p_to") + lit(grace)),
                holds,
            ),
            any_of(col("p_from").lt_eq(col("d")), begun),
        ])
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

/// Builds the verdict plan for the events of `range`.
pub fn verdicts(tables: &AuditTables, policy: &Policy, range: DayRange) -> Result<LazyFrame> {
    let tz = TimeZone::opt_try_new(Some(policy.time_zone.as_str()))?.unwrap_or(TimeZone::UTC);
    let (first, last) = range.epoch_days();
    let grace = |id: &str| policy.rule(id).map(|r| r.grace_days).unwrap_or(0);

    // Events with their local calendar day; first accesses are found over all given events.
    let local = col("event_time").dt().convert_time_zone(tz);
    let all = tables.events.clone().with_columns([
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
    ]);
    let firsts = match &tables.first_seen {
        Some(f) => f
            .clone()
            .lazy()
            .select([col("user_id"), col("client_pid"), col("first_time")]),
        None => all
            .clone()
            .group_by([col("user_id"), col("client_pid")])
            .agg([col("event_time").min().alias("first_time")]),
    };
    let ev = all
        .filter(within(col("d"), lit(first), lit(last)))
        .with_row_index("idx", None);
    let keys = ev
        .clone()
        .select([col("idx"), col("user_id"), col("client_pid"), col("d")]);

    // (A) assignments, on (user, client).
    let cases = tables.cases.clone().lazy();
    let assign = tables
        .assignments
        .clone()
        .lazy()
        .join(
            cases.clone().select([col("case_id"), col("client_pid")]),
            [col("case_id")],
            [col("case_id")],
            inner(),
        )
        .select([
            col("user_id"),
            col("client_pid"),
            days("valid_from").alias("p_from"),
            days_or_open("valid_to").alias("p_to"),
        ]);
    let a_agg = relation_periods(
        &keys,
        assign,
        grace("direct_worker"),
        "direct",
        "assigned_before",
    );

    // (B) the client's cases, with the user's roles in each case's team.
    let teams = tables
        .teams
        .clone()
        .lazy()
        .select([col("team_id"), col("kind").alias("team_kind")]);
    let staff = tables.staff.clone().lazy().select([
        col("user_id"),
        col("team_id"),
        col("role"),
        days("valid_from").alias("s_from"),
        days_or_open("valid_to").alias("s_to"),
        col("big_registered"),
    ]);
    let mut case_cols = vec![
        col("client_pid"),
        col("team_id"),
        days("opened").alias("c_from"),
        days_or_open("closed").alias("c_to"),
        col("domestic_violence"),
        col("keep_default"),
    ];
    for s in policy.retention.sections.keys() {
        case_cols.push(col(format!("keep_{s}")));
    }
    let case_rows = cases
        .join(
            retention_columns(&tables.cases, policy)?.lazy(),
            [col("case_id")],
            [col("case_id")],
            inner(),
        )
        .select(case_cols);
    // The retention day that applies to the event's section.
    let mut keep_day = col("keep_default");
    for s in policy.retention.sections.keys() {
        keep_day = when(col("section").eq(lit(s.as_str())))
            .then(col(format!("keep_{s}")))
            .otherwise(keep_day);
    }
    let open_now = within(col("d"), col("c_from"), col("c_to"));
    let role_now = within(col("d"), col("s_from"), col("s_to")).fill_null(lit(false));
    let b_agg = ev
        .clone()
        .select([
            col("idx"),
            col("user_id"),
            col("client_pid"),
            col("d"),
            col("section"),
        ])
        .join(case_rows, [col("client_pid")], [col("client_pid")], inner())
        .with_column(keep_day.alias("keep_d"))
        .join(
            staff.clone(),
            [col("user_id"), col("team_id")],
            [col("user_id"), col("team_id")],
            left(),
        )
        .group_by([col("idx")])
        .agg([
            any_of(open_now.clone(), "has_open_case"),
            any_of(
                within(
                    col("d"),
                    col("c_from"),
                    col("c_to") + lit(grace("team_coach")),
                )
                .and(role_now.clone())
                .and(col("role").eq(lit("coach"))),
                "coach",
            ),
            any_of(open_now.clone().and(role_now.clone()), "own_team_open"),
            any_of(role_now.clone(), "team_case"),
            any_of(open_now.clone().and(col("domestic_violence")), "dv_open"),
            any_of(col("c_to").lt(col("d")), "closed_before"),
            col("keep_d")
                .is_not_null()
                .and(col("keep_d").lt(col("d")))
                .fill_null(lit(false))
                .all(true)
                .alias("all_past_retention"),
            col("team_id").filter(open_now).min().alias("open_team"),
            col("team_id").max().alias("any_team"),
        ]);

    // (C) the user's own role periods.
    let mut c_exprs = vec![
        any_of(role_now.clone(), "any_role"),
        any_of(role_now.clone().and(col("big_registered")), "big"),
        col("team_id")
            .filter(role_now.clone())
            .min()
            .alias("user_team"),
        col("role")
            .filter(role_now.clone())
            .min()
            .alias("user_role"),
    ];
    for role in ROLE_RULES
        .iter()
        .chain(["veilig_thuis", "complaints_handler"].iter())
    {
        c_exprs.push(any_of(
            role_now.clone().and(col("role").eq(lit(*role))),
            &format!("role_{role}"),
        ));
    }
    let kinds = policy
        .rule("replacement")
        .map(|r| r.any_team_kinds.clone())
        .unwrap_or_default();
    let mut in_kind = lit(false);
    for k in &kinds {
        in_kind = in_kind.or(col("team_kind").eq(lit(k.as_str())));
    }
    c_exprs.push(any_of(role_now.clone().and(in_kind), "any_team_member"));
    let c_agg = keys
        .clone()
        .join(
            staff.join(teams, [col("team_id")], [col("team_id")], left()),
            [col("user_id")],
            [col("user_id")],
            inner(),
        )
        .group_by([col("idx")])
        .agg(c_exprs);

    // (D) complaints handled by the user about the client.
    let complaints = tables.complaints.clone().lazy().select([
        col("handler_user_id").alias("user_id"),
        col("client_pid"),
        days("opened").alias("p_from"),
        days_or_open("closed").alias("p_to"),
    ]);
    let d_agg = relation_periods(
        &keys,
        complaints,
        grace("complaints_handler"),
        "complaint_open",
        "complaint_before",
    );

    // (E) identities for the signals: the user's own pseudonyms and the client's.
    let people = tables.staff.clone().lazy().group_by([col("user_id")]).agg([
        col("person_pid").drop_nulls().min().alias("u_person"),
        col("surname_pid").drop_nulls().min().alias("u_surname"),
        col("address_pid").drop_nulls().min().alias("u_address"),
    ]);
    let clients = tables.clients.clone().lazy().select([
        col("client_pid"),
        col("surname_pid").alias("c_surname"),
        col("address_pid").alias("c_address"),
        col("restricted"),
    ]);

    let flags = [
        "direct",
        "assigned_before",
        "has_open_case",
        "coach",
        "own_team_open",
        "team_case",
        "dv_open",
        "closed_before",
        "any_role",
        "big",
        "any_team_member",
        "complaint_open",
        "complaint_before",
    ];
    let mut joined = ev
        .join(a_agg, [col("idx")], [col("idx")], left())
        .join(b_agg, [col("idx")], [col("idx")], left())
        .join(c_agg, [col("idx")], [col("idx")], left())
        .join(d_agg, [col("idx")], [col("idx")], left())
        .join(people, [col("user_id")], [col("user_id")], left())
        .join(clients, [col("client_pid")], [col("client_pid")], left())
        .join(
            firsts,
            [col("user_id"), col("client_pid")],
            [col("user_id"), col("client_pid")],
            left(),
        );
    let mut fill: Vec<Expr> = flags
        .iter()
        .map(|f| col(*f).fill_null(lit(false)))
        .collect();
    for role in ROLE_RULES
        .iter()
        .chain(["veilig_thuis", "complaints_handler"].iter())
    {
        let name = format!("role_{role}");
        fill.push(col(name.as_str()).fill_null(lit(false)));
    }
    fill.push(col("all_past_retention").fill_null(lit(false)));
    joined = joined.with_columns(fill);

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
        holds.push((r.id.clone(), raw(&r.id).and(section_ok(&r.id))));
        any_raw = any_raw.or(raw(&r.id));
    }
    let mut rule = null_str();
    let mut article = null_str();
    for (id, h) in holds.iter().rev() {
        rule = when(h.clone()).then(lit(id.as_str())).otherwise(rule);
        article = when(h.clone())
            .then(lit(policy.article(id)))
            .otherwise(article);
    }
    let also = concat_str(
        holds
            .iter()
            .map(|(id, h)| when(h.clone()).then(lit(id.as_str())).otherwise(null_str()))
            .collect::<Vec<_>>(),
        ";",
        true,
    );

    let emergency = col("emergency");
    let verdict = when(emergency.clone())
        .then(lit(EMERGENCY))
        .when(col("rule").is_not_null())
        .then(lit(JUSTIFIED))
        .otherwise(lit(UNJUSTIFIED));
    let complaints_rule = policy.rule("complaints_handler").is_some();
    let reason = when(col("verdict").neq(lit(UNJUSTIFIED)))
        .then(null_str())
        .when(col("any_raw"))
        .then(lit("section_not_allowed"))
        .when(
            lit(complaints_rule)
                .and(col("role_complaints_handler"))
                .and(col("complaint_open").not()),
        )
        .then(lit("no_open_complaint"))
        .when(
            col("assigned_before")
                .or(col("complaint_before"))
                .and(col("has_open_case").or(col("any_role").not())),
        )
        .then(lit("relation_ended"))
        .when(
            col("has_open_case")
                .not()
                .and(col("closed_before"))
                .and(col("assigned_before").or(col("team_case"))),
        )
        .then(lit("case_closed"))
        .when(
            col("any_team").is_not_null().and(col("any_role")).and(
                when(col("has_open_case"))
                    .then(col("own_team_open"))
                    .otherwise(col("team_case"))
                    .not(),
            ),
        )
        .then(lit("other_team"))
        .otherwise(lit("no_relation"));

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
    let signal_exprs: Vec<(&str, Expr)> = vec![
        ("self_access", same("u_person", "client_pid")),
        ("same_surname", same("u_surname", "c_surname")),
        ("same_address", same("u_address", "c_address")),
        ("restricted_client", col("restricted").fill_null(lit(false))),
        ("after_hours", in_office.not()),
        (
            "past_retention",
            col("all_past_retention").and(col("has_open_case").not()),
        ),
        (
            "first_access",
            col("event_time")
                .eq(col("first_time"))
                .fill_null(lit(false)),
        ),
        ("failed_outcome", col("outcome").neq(lit(0))),
        (
            "no_emergency_reason",
            emergency.clone().and(reason_missing.clone()),
        ),
    ];
    debug_assert!(signal_exprs.iter().map(|s| s.0).eq(SIGNALS));
    let signals = concat_str(
        signal_exprs
            .iter()
            .map(|(name, e)| when(e.clone()).then(lit(*name)).otherwise(null_str()))
            .collect::<Vec<_>>(),
        ";",
        true,
    );
    let mut count = lit(0i32);
    for (_, e) in &signal_exprs {
        count = count + e.clone().cast(DataType::Int32);
    }

    let out = joined
        .with_columns([
            rule.alias("rule"),
            article.alias("article"),
            any_raw.alias("any_raw"),
        ])
        .with_columns([verdict.alias("verdict")])
        .with_columns([
            // An emergency login is not explained by a rule; `also_explained_by` says which held.
            when(col("emergency"))
                .then(null_str())
                .otherwise(col("rule"))
                .alias("rule"),
            when(col("emergency"))
                .then(null_str())
                .otherwise(col("article"))
                .alias("article"),
            reason.alias("reason"),
            when(emergency)
                .then(also)
                .otherwise(null_str())
                .alias("also_explained_by"),
            signals.alias("signals"),
            count.alias("signal_count"),
            reason_missing.not().alias("emergency_reason_given"),
            col("d").cast(DataType::Date).alias("local_date"),
            col("open_team")
                .fill_null(col("any_team"))
                .alias("dossier_team"),
        ])
        .select(VERDICT_COLUMNS.iter().map(|c| col(*c)).collect::<Vec<_>>())
        .sort_by_exprs(
            [col("event_time"), col("source"), col("event_id")],
            SortMultipleOptions::default(),
        );
    Ok(out)
}
