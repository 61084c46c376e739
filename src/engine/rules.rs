//! The policy compiled for judging one event at a time (`RuleTable`): when each rule holds
//! (`holds`), which rules each section allows, the reason of an unjustified access (`reason`),
//! the signals (`signals`) and the office hours, as small integers and bit masks. `judge` turns
//! an event's facts (`facts.rs`) into its verdict, explaining rule, reason and signals. Pure:
//! no file access, no clock.
//!
//! The reference model in `tests/common/world.rs` spells the same semantics out slowly, and
//! `tests/engine_reference.rs` checks the two agree.

use chrono::Timelike;

use crate::engine::vocab::{Reason, Signal, Verdict};
use crate::policy::rule::{Role, RuleKind};
use crate::policy::Policy;

/// What `judge` reads of an event besides its facts.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EventMarks {
    /// The event's section as an index into the policy's sections (`RuleTable::section_code`);
    /// `None` for a section the policy does not name.
    pub section: Option<u8>,
    pub emergency: bool,
    /// An emergency reason that is missing or blank.
    pub reason_missing: bool,
    /// An outcome other than success (0).
    pub failed: bool,
    /// The event is the first access of its (user, client) pair.
    pub first: bool,
    /// Minutes since local midnight, and the weekday (Monday 1 to Sunday 7).
    pub minute: i32,
    pub weekday: i32,
}

/// The per-event facts `judge` needs (`facts.rs` computes them).
#[derive(Debug, Default, Clone)]
pub(crate) struct Facts {
    pub direct: bool,
    pub assigned_before: bool,
    pub complaint_open: bool,
    pub complaint_before: bool,
    pub has_open_case: bool,
    pub coach: bool,
    pub own_team_open: bool,
    pub team_case: bool,
    pub dv_open: bool,
    pub closed_before: bool,
    pub all_past_retention: bool,
    pub open_team: Option<u32>,
    pub any_team: Option<u32>,
    pub any_role: bool,
    pub big: bool,
    pub user_team: Option<u32>,
    /// The least role code (roles are coded in sorted order, so this is the least role name).
    pub user_role: Option<u32>,
    /// Bit i for `facts::role_names()[i]`.
    pub roles: u32,
    pub any_team_member: bool,
    /// The user's own coded pseudonyms: as a client, surname and address.
    pub u_person: Option<u32>,
    pub u_surname: Option<u32>,
    pub u_address: Option<u32>,
    /// The client's code and coded surname and address, and whether the client is restricted.
    pub c: Option<u32>,
    pub c_surname: Option<u32>,
    pub c_address: Option<u32>,
    pub restricted: bool,
}

/// An event's verdict as codes (see `engine::CODE_COLUMNS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Judgement {
    pub verdict: Verdict,
    /// The first rule (in policy order) that explains a non-emergency access.
    pub rule: Option<u32>,
    /// An unjustified access's reason.
    pub reason: Option<Reason>,
    /// The signals' bits (`Signal::bit`).
    pub signals: u32,
    /// At an emergency login, the rules that held (bit i for rule i).
    pub explained: Option<u32>,
    /// The team of the client's open case, else of any of its cases.
    pub dossier_team: Option<u32>,
}

/// The policy's rules, sections and office hours, compiled (see the module doc).
#[derive(Debug, Clone)]
pub(crate) struct RuleTable {
    /// The policy's rules in its order (rule i is bit i of a rule mask).
    rules: Vec<RuleKind>,
    /// The policy's sections by code, and per section the rules it allows (bit i for rule i)
    /// and whether it requires a BIG registration.
    sections: Vec<String>,
    allowed: Vec<u32>,
    requires_big: Vec<bool>,
    /// The role bit of Veilig Thuis workers, and each role rule's role bit (by `Role` order).
    veilig_thuis: u32,
    role_bits: [u32; Role::ALL.len()],
    /// The policy has a complaints-handler rule; the role bit of complaints handlers.
    complaints_rule: bool,
    complaints_role: u32,
    /// Office days (bit n for weekday n, Monday 1) and hours, in minutes since midnight.
    office_days: u32,
    office_from: i32,
    office_to: i32,
}

impl RuleTable {
    /// Compiles `policy`; `role_names` are the roles by their bit in `Facts::roles`.
    pub(crate) fn new(policy: &Policy, role_names: &[&str]) -> RuleTable {
        // Rule i is bit i of a u32 mask, and a mask of all 32 bits would read as a missing one
        // where the masks are stored (`facts.rs`): a policy lists each `RuleKind` at most once.
        debug_assert!(policy.rules.len() < 32);
        let role_bit = |name: &str| -> u32 {
            let i = role_names
                .iter()
                .position(|n| *n == name)
                .expect("`facts::role_names` names every role a rule reads");
            1u32 << i
        };
        // A section's code is a `u8`: a policy names only the sections of `policy::SECTIONS`.
        let sections: Vec<String> = policy.sections.keys().cloned().collect();
        debug_assert!(sections.len() <= usize::from(u8::MAX));
        let allowed = sections
            .iter()
            .map(|s| {
                policy
                    .rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| policy.section_allows(s, r.kind))
                    .fold(0u32, |m, (i, _)| m | 1 << i)
            })
            .collect();
        let requires_big = sections.iter().map(|s| policy.requires_big(s)).collect();
        let o = &policy.office_hours;
        RuleTable {
            rules: policy.rules.iter().map(|r| r.kind).collect(),
            sections,
            allowed,
            requires_big,
            veilig_thuis: role_bit("veilig_thuis"),
            role_bits: Role::ALL.map(|r| role_bit(r.name())),
            complaints_rule: policy.rule(RuleKind::ComplaintsHandler).is_some(),
            complaints_role: role_bit("complaints_handler"),
            office_days: o
                .days
                .iter()
                .fold(0, |m, d| m | 1 << d.number_from_monday()),
            office_from: (o.from.hour() * 60 + o.from.minute()) as i32,
            office_to: (o.to.hour() * 60 + o.to.minute()) as i32,
        }
    }

    /// The code of a section name (`EventMarks::section`).
    pub(crate) fn section_code(&self, section: &str) -> Option<u8> {
        self.sections
            .iter()
            .position(|s| s == section)
            .map(|i| i as u8)
    }

    /// Whether rule `kind` holds on these facts, before the section's requirements (the
    /// meaning of each kind is on `RuleKind`).
    fn holds(&self, kind: RuleKind, f: &Facts) -> bool {
        match kind {
            RuleKind::DirectWorker => f.direct,
            RuleKind::TeamCoach => f.coach,
            RuleKind::ComplaintsHandler => f.complaint_open,
            RuleKind::Replacement => f.own_team_open || (f.any_team_member && f.has_open_case),
            RuleKind::VeiligThuis => f.roles & self.veilig_thuis != 0 && f.dv_open,
            RuleKind::Role(role) => f.roles & self.role_bits[role as usize] != 0,
        }
    }

    /// The reason an access is unjustified: the first of `Reason::ALL` that applies. `held`
    /// says whether a rule held before the section's requirements.
    fn reason(&self, f: &Facts, held: bool) -> Reason {
        let own_dossier = if f.has_open_case {
            f.own_team_open
        } else {
            f.team_case
        };
        if held {
            Reason::SectionNotAllowed
        } else if self.complaints_rule && f.roles & self.complaints_role != 0 && !f.complaint_open {
            Reason::NoOpenComplaint
        } else if (f.assigned_before || f.complaint_before) && (f.has_open_case || !f.any_role) {
            Reason::RelationEnded
        } else if !f.has_open_case && f.closed_before && (f.assigned_before || f.team_case) {
            Reason::CaseClosed
        } else if f.any_team.is_some() && f.any_role && !own_dossier {
            Reason::OtherTeam
        } else {
            Reason::NoRelation
        }
    }

    /// The signals of an access (bits of `Signal`).
    fn signals(&self, f: &Facts, e: &EventMarks) -> u32 {
        let same = |a: Option<u32>, b: Option<u32>| a.is_some() && a == b;
        let in_office = self.office_days & (1 << e.weekday.clamp(0, 31)) != 0
            && e.minute >= self.office_from
            && e.minute < self.office_to;
        let flags = [
            (Signal::SelfAccess, same(f.u_person, f.c)),
            (Signal::SameSurname, same(f.u_surname, f.c_surname)),
            (Signal::SameAddress, same(f.u_address, f.c_address)),
            (Signal::RestrictedClient, f.restricted),
            (Signal::AfterHours, !in_office),
            (
                Signal::PastRetention,
                f.all_past_retention && !f.has_open_case,
            ),
            (Signal::FirstAccess, e.first),
            (Signal::FailedOutcome, e.failed),
            (Signal::NoEmergencyReason, e.emergency && e.reason_missing),
        ];
        flags
            .iter()
            .filter(|(_, on)| *on)
            .fold(0u32, |m, (s, _)| m | s.bit())
    }

    /// The verdict of one event from its facts and marks.
    pub(crate) fn judge(&self, f: &Facts, e: &EventMarks) -> Judgement {
        // Which rules hold before (`raw`) and after the section's requirements (`holding`).
        let (allowed, needs_big) = match e.section.map(usize::from) {
            Some(s) => (self.allowed[s], self.requires_big[s]),
            None => (u32::MAX, false),
        };
        let section_ok = if needs_big && !f.big { 0 } else { allowed };
        let raw = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, kind)| self.holds(**kind, f))
            .fold(0u32, |m, (i, _)| m | 1 << i);
        let holding = raw & section_ok;
        let rule = (holding != 0).then(|| holding.trailing_zeros());
        let verdict = if e.emergency {
            Verdict::Emergency
        } else if rule.is_some() {
            Verdict::Justified
        } else {
            Verdict::Unjustified
        };
        Judgement {
            verdict,
            rule: if e.emergency { None } else { rule },
            reason: (verdict == Verdict::Unjustified).then(|| self.reason(f, raw != 0)),
            signals: self.signals(f, e),
            explained: e.emergency.then_some(holding),
            dossier_team: f.open_team.or(f.any_team),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::facts::role_names;

    /// The sample organisation's policy: eleven rules in order, a medical section that needs a
    /// BIG registration, complaint and incident sections for three rules only.
    fn table() -> (Policy, RuleTable) {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/voorbeeldstad/policy.toml"
        ));
        let policy = Policy::parse(std::path::Path::new("policy.toml"), text).unwrap();
        let table = RuleTable::new(&policy, &role_names());
        (policy, table)
    }

    fn role(name: &str) -> u32 {
        1 << role_names().iter().position(|n| *n == name).unwrap()
    }

    /// A weekday (Monday) at ten in the morning, in no named section.
    fn marks() -> EventMarks {
        EventMarks {
            minute: 600,
            weekday: 1,
            ..EventMarks::default()
        }
    }

    #[test]
    fn the_first_rule_in_policy_order_explains_and_sections_constrain_it() {
        let (policy, t) = table();
        let rule = |id: &str| {
            policy
                .rules
                .iter()
                .position(|r| r.kind.name() == id)
                .unwrap() as u32
        };
        // The direct worker and the supervisor both hold: the direct worker comes first.
        let f = Facts {
            direct: true,
            roles: role("supervisor"),
            ..Facts::default()
        };
        let j = t.judge(&f, &marks());
        assert_eq!(
            (j.verdict, j.rule, j.reason),
            (Verdict::Justified, Some(rule("direct_worker")), None)
        );
        // In the complaint section only the supervisor's rule is allowed.
        let complaint = EventMarks {
            section: t.section_code("complaint"),
            ..marks()
        };
        assert!(complaint.section.is_some());
        assert_eq!(t.judge(&f, &complaint).rule, Some(rule("supervisor")));
        // The medical section needs a BIG registration: without one nothing holds, and the
        // reason is the section, since a rule held before it.
        let medical = EventMarks {
            section: t.section_code("medical"),
            ..marks()
        };
        let j = t.judge(&f, &medical);
        assert_eq!(
            (j.verdict, j.rule, j.reason),
            (Verdict::Unjustified, None, Some(Reason::SectionNotAllowed))
        );
        let big = Facts {
            big: true,
            ..f.clone()
        };
        assert_eq!(t.judge(&big, &medical).rule, Some(rule("direct_worker")));
        // Replacement: an open case in the user's own team.
        let own = Facts {
            own_team_open: true,
            has_open_case: true,
            ..Facts::default()
        };
        assert_eq!(t.judge(&own, &marks()).rule, Some(rule("replacement")));
    }

    #[test]
    fn an_emergency_login_is_not_explained_but_lists_the_rules_that_held() {
        let (policy, t) = table();
        let f = Facts {
            direct: true,
            roles: role("coordinator"),
            ..Facts::default()
        };
        let e = EventMarks {
            emergency: true,
            reason_missing: true,
            ..marks()
        };
        let j = t.judge(&f, &e);
        let bit = |id: &str| {
            1u32 << policy
                .rules
                .iter()
                .position(|r| r.kind.name() == id)
                .unwrap()
        };
        assert_eq!(
            (j.verdict, j.rule, j.reason),
            (Verdict::Emergency, None, None)
        );
        assert_eq!(j.explained, Some(bit("direct_worker") | bit("coordinator")));
        // `no_emergency_reason` is the last signal.
        assert_eq!(j.signals, 1 << 8);
        // Not an emergency: no list.
        assert_eq!(t.judge(&f, &marks()).explained, None);
    }

    #[test]
    fn reasons_are_tried_most_telling_first() {
        let (_, t) = table();
        let reason = |f: Facts| t.judge(&f, &marks()).reason;
        assert_eq!(
            reason(Facts::default()),
            Some(Reason::NoRelation),
            "no relation"
        );
        let handler = Facts {
            roles: role("complaints_handler"),
            any_role: true,
            ..Facts::default()
        };
        assert_eq!(
            reason(handler),
            Some(Reason::NoOpenComplaint),
            "no open complaint"
        );
        let ended = Facts {
            assigned_before: true,
            has_open_case: true,
            any_role: true,
            ..Facts::default()
        };
        assert_eq!(reason(ended), Some(Reason::RelationEnded), "relation ended");
        let closed = Facts {
            closed_before: true,
            team_case: true,
            any_role: true,
            ..Facts::default()
        };
        assert_eq!(reason(closed), Some(Reason::CaseClosed), "case closed");
        let other = Facts {
            any_team: Some(4),
            any_role: true,
            has_open_case: true,
            ..Facts::default()
        };
        assert_eq!(reason(other), Some(Reason::OtherTeam), "other team");
    }

    #[test]
    fn signals_follow_the_order_of_their_names() {
        let (_, t) = table();
        let f = Facts {
            u_person: Some(3),
            c: Some(3),
            u_surname: Some(8),
            c_surname: Some(8),
            u_address: Some(1),
            c_address: Some(2),
            restricted: true,
            all_past_retention: true,
            direct: true,
            ..Facts::default()
        };
        // Saturday 10:00, the pair's first access, failed.
        let e = EventMarks {
            weekday: 6,
            first: true,
            failed: true,
            ..marks()
        };
        let j = t.judge(&f, &e);
        let want = [
            "self_access",
            "same_surname",
            "restricted_client",
            "after_hours",
        ]
        .iter()
        .chain(&["past_retention", "first_access", "failed_outcome"])
        .map(|s| 1u32 << Signal::names().iter().position(|n| n == s).unwrap())
        .fold(0, |m, b| m | b);
        assert_eq!(j.signals, want);
        // Office hours run from 07:00 to 19:00: 19:00 itself is after hours, 07:00 is not.
        let at = |minute| {
            t.judge(&Facts::default(), &EventMarks { minute, ..marks() })
                .signals
        };
        assert_eq!(at(7 * 60) & 1 << 4, 0);
        assert_ne!(at(19 * 60) & 1 << 4, 0);
        assert_ne!(at(7 * 60 - 1) & 1 << 4, 0);
    }
}
