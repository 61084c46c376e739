//! The engine's vocabulary: the verdict of an access, the reason an access is unjustified and
//! the signals, as types. Their names are the strings of the output columns and the texts'
//! keys; their order is their code in the verdicts file (`verdict_code`, `reason_code`, bit i
//! of `signal_mask`).

use polars::prelude::*;

/// The verdict of one access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// A login with the emergency flag: always reviewed, never explained by a rule.
    Emergency,
    /// A rule of the policy explains the access, within the section's requirements.
    Justified,
    /// No rule explains it; the reason says why.
    Unjustified,
}

impl Verdict {
    /// Every verdict, by code.
    pub const ALL: [Verdict; 3] = [Verdict::Emergency, Verdict::Justified, Verdict::Unjustified];

    /// The verdict's name in output columns.
    pub const fn name(self) -> &'static str {
        match self {
            Verdict::Emergency => "emergency",
            Verdict::Justified => "justified",
            Verdict::Unjustified => "unjustified",
        }
    }

    /// The verdict's code (`verdict_code`).
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The verdicts' names, by code.
    pub fn names() -> [&'static str; 3] {
        Verdict::ALL.map(Verdict::name)
    }

    /// The verdict of a name, as written in an output column.
    pub fn parse(name: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// Why an access is unjustified: the most telling reason that applies, tried in the order of
/// `Reason::ALL` (the semantics are in `engine::rules::reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// A rule held, but the section's requirement (the rules it allows, a BIG registration) did
    /// not.
    SectionNotAllowed,
    /// A complaints handler, while no complaint about this client is open.
    NoOpenComplaint,
    /// Assigned to or handling this client before, not now, while the case runs on or the
    /// account holds no role any more.
    RelationEnded,
    /// No case of the client is open, and the dossier was the user's own or their team's.
    CaseClosed,
    /// The dossier belongs to teams the user is not in.
    OtherTeam,
    /// None of the above: the user had no relation with the client.
    NoRelation,
}

impl Reason {
    /// Every reason, in the order they are tried (most telling first), which is their code.
    pub const ALL: [Reason; 6] = [
        Reason::SectionNotAllowed,
        Reason::NoOpenComplaint,
        Reason::RelationEnded,
        Reason::CaseClosed,
        Reason::OtherTeam,
        Reason::NoRelation,
    ];

    /// The reason's name in output columns and texts (`reason_<name>`).
    pub const fn name(self) -> &'static str {
        match self {
            Reason::SectionNotAllowed => "section_not_allowed",
            Reason::NoOpenComplaint => "no_open_complaint",
            Reason::RelationEnded => "relation_ended",
            Reason::CaseClosed => "case_closed",
            Reason::OtherTeam => "other_team",
            Reason::NoRelation => "no_relation",
        }
    }

    /// The reason's code (`reason_code`).
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The reasons' names, by code.
    pub fn names() -> [&'static str; 6] {
        Reason::ALL.map(Reason::name)
    }
}

/// A signal: something about an access worth knowing whatever its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    /// The client is the employee: the employee's own pseudonymised BSN.
    SelfAccess,
    /// The employee's pseudonymised surname equals the client's.
    SameSurname,
    /// The employee's pseudonymised address equals the client's.
    SameAddress,
    /// The client's dossier is restricted.
    RestrictedClient,
    /// Outside the policy's office hours.
    AfterHours,
    /// Every case of the client is closed and past its retention: the dossier should have been
    /// destroyed.
    PastRetention,
    /// The employee's first access to this client in the whole store.
    FirstAccess,
    /// The access did not succeed.
    FailedOutcome,
    /// An emergency login without a reason.
    NoEmergencyReason,
}

impl Signal {
    /// Every signal, in the order an event's `signals` lists them (bit i of `signal_mask`).
    pub const ALL: [Signal; 9] = [
        Signal::SelfAccess,
        Signal::SameSurname,
        Signal::SameAddress,
        Signal::RestrictedClient,
        Signal::AfterHours,
        Signal::PastRetention,
        Signal::FirstAccess,
        Signal::FailedOutcome,
        Signal::NoEmergencyReason,
    ];

    /// Signals that make even a justified access a finding for review. The others
    /// (`same_surname`, `restricted_client`, `first_access`, `failed_outcome`) are ordinary on a
    /// justified access: the report counts them, and they sharpen a case's narrative.
    pub const REVIEW: [Signal; 5] = [
        Signal::SelfAccess,
        Signal::SameAddress,
        Signal::AfterHours,
        Signal::PastRetention,
        Signal::NoEmergencyReason,
    ];

    /// The signal's name in output columns and texts (`signal_<name>`).
    pub const fn name(self) -> &'static str {
        match self {
            Signal::SelfAccess => "self_access",
            Signal::SameSurname => "same_surname",
            Signal::SameAddress => "same_address",
            Signal::RestrictedClient => "restricted_client",
            Signal::AfterHours => "after_hours",
            Signal::PastRetention => "past_retention",
            Signal::FirstAccess => "first_access",
            Signal::FailedOutcome => "failed_outcome",
            Signal::NoEmergencyReason => "no_emergency_reason",
        }
    }

    /// The signal's bit in `signal_mask`.
    pub const fn bit(self) -> u32 {
        1 << self as u32
    }

    /// The signals' names, in order.
    pub fn names() -> [&'static str; 9] {
        Signal::ALL.map(Signal::name)
    }

    /// The signal of a name, as written in an output column.
    pub fn parse(name: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The mask of the review signals.
    pub fn review_mask() -> u32 {
        Signal::REVIEW.iter().fold(0, |m, s| m | s.bit())
    }
}

/// True for verdict rows that need a person's review: unjustified, emergency, or carrying a
/// review signal.
pub fn needs_review() -> Expr {
    let mut e = col("verdict").neq(lit(Verdict::Justified.name()));
    for s in Signal::REVIEW {
        e = e.or(col("signals").str().contains_literal(lit(s.name())));
    }
    e
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_order_of_all() {
        for (i, v) in Verdict::ALL.iter().enumerate() {
            assert_eq!(v.code() as usize, i);
            assert_eq!(Verdict::parse(v.name()), Some(*v));
        }
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(r.code() as usize, i);
        }
        for (i, s) in Signal::ALL.iter().enumerate() {
            assert_eq!(s.bit(), 1 << i);
            assert_eq!(Signal::parse(s.name()), Some(*s));
        }
        assert_eq!(Verdict::parse("maybe"), None);
    }

    #[test]
    fn a_mask_label_lists_its_names_in_order() {
        let labels = mask_labels(&["a", "b", "c"]);
        assert_eq!(labels.len(), 8);
        assert_eq!(labels[0], "");
        assert_eq!(labels[0b101], "a;c");
        assert_eq!(labels[0b111], "a;b;c");
    }
}
