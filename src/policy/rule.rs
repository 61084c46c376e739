//! The explanations a policy may accept (`RuleKind`), each with what it means; a policy's rule
//! (`Rule`) is one of them with the article that allows it and its grace. The engine judges
//! them in `engine::rules::RuleTable::holds`.

use serde::{Serialize, Serializer};

/// A role whose holders may open any dossier while they hold it (a role rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Coordinator,
    Controller,
    Auditor,
    Supervisor,
    PolicyAdviser,
    Administrator,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Coordinator,
        Role::Controller,
        Role::Auditor,
        Role::Supervisor,
        Role::PolicyAdviser,
        Role::Administrator,
    ];

    /// The role's name, as in `staff.role` and in a policy's rule ids.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Controller => "controller",
            Role::Auditor => "auditor",
            Role::Supervisor => "supervisor",
            Role::PolicyAdviser => "policy_adviser",
            Role::Administrator => "administrator",
        }
    }
}

/// An explanation of an access that a policy may accept. d is the access's calendar day in the
/// policy's time zone, C the cases of its client; a period holds on d when
/// `from <= d <= to + grace` (an open end always holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleKind {
    /// The worker directly involved: an assignment of the user to a case in C holds on d.
    DirectWorker,
    /// The teamcoach: the user holds the role `coach` on d in the team of a case in C, the case
    /// open on d or closed less than the rule's grace before.
    TeamCoach,
    /// The complaints handler while a complaint runs: the user handles a complaint about the
    /// client, open on d or settled less than the rule's grace before.
    ComplaintsHandler,
    /// A replacement colleague: the user holds any role on d in the team of a case in C open on
    /// d; or the user is in a team of a kind listed in the rule's `any_team_kinds` and a case in
    /// C is open.
    Replacement,
    /// Veilig Thuis when domestic violence is flagged: the user holds the role `veilig_thuis`
    /// on d while a case in C with domestic violence is open.
    VeiligThuis,
    /// The user holds this role on d.
    Role(Role),
}

impl RuleKind {
    /// The rules with a meaning of their own, in the order the documentation lists them.
    pub const STRUCTURAL: [RuleKind; 5] = [
        RuleKind::DirectWorker,
        RuleKind::TeamCoach,
        RuleKind::ComplaintsHandler,
        RuleKind::Replacement,
        RuleKind::VeiligThuis,
    ];

    /// Every rule kind: the structural ones, then the role rules.
    pub fn all() -> impl Iterator<Item = RuleKind> {
        RuleKind::STRUCTURAL
            .into_iter()
            .chain(Role::ALL.into_iter().map(RuleKind::Role))
    }

    /// The rule's id in policy files and output columns.
    pub const fn name(self) -> &'static str {
        match self {
            RuleKind::DirectWorker => "direct_worker",
            RuleKind::TeamCoach => "team_coach",
            RuleKind::ComplaintsHandler => "complaints_handler",
            RuleKind::Replacement => "replacement",
            RuleKind::VeiligThuis => "veilig_thuis",
            RuleKind::Role(role) => role.name(),
        }
    }

    /// The rule of an id, as written in a policy file or an output column.
    pub fn parse(id: &str) -> Option<RuleKind> {
        RuleKind::all().find(|k| k.name() == id)
    }
}

impl std::fmt::Display for RuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for RuleKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One explanation the policy accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Which explanation (its id in the policy file).
    #[serde(rename = "id")]
    pub kind: RuleKind,
    /// The article that allows it, e.g. `Leiden art. 11 lid 2`.
    pub article: String,
    /// Days the explanation outlives the end of its period (assignment, case, complaint).
    pub grace_days: i32,
    /// `replacement` only: team kinds whose members may stand in for any team.
    pub any_team_kinds: Vec<String>,
    /// Why the rule is read this way, where the protocol leaves it open.
    pub note: String,
}

/// What a section demands beyond an explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SectionRule {
    /// Only users BIG-registered at the time.
    pub requires_big: bool,
    /// When set: only these rules explain an access to the section.
    pub explained_by: Option<Vec<RuleKind>>,
    pub article: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_kind_reads_back_from_its_id() {
        let all: Vec<RuleKind> = RuleKind::all().collect();
        assert_eq!(all.len(), 11);
        for k in &all {
            assert_eq!(RuleKind::parse(k.name()), Some(*k));
        }
        assert_eq!(
            RuleKind::parse("policy_adviser"),
            Some(RuleKind::Role(Role::PolicyAdviser))
        );
        assert_eq!(RuleKind::parse("coach"), None, "a role, not a rule");
    }
}
