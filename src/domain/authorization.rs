//! Who may do what in an incident: one table, mirrored in `SECURITY.md`.
//!
//! Speed and openness matter more than control during an incident, so most commands are
//! open to anyone (and record who ran them). Changing the incident's state is kept to the
//! people running it, so a bystander cannot resolve someone else's incident; stakeholder
//! updates also accept anyone who took part; AWS Support cases add the support user group.
//!
//! Resolving a person's roles needs IO (the store, Slack user groups); that lives in
//! `service::authorization`. This module only decides, given the roles.

use crate::domain::{Command, Status};

/// What a person is to one incident. Everyone holds [`Role::Anyone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The incident's lead.
    Lead,
    /// `[slack] responders`, or the responders (and on-call user group) of the alarm route
    /// that opened the incident.
    Responder,
    /// Whoever declared the incident.
    Declarer,
    /// A member of `[slack] incident_leads`: may run any incident.
    IncidentLead,
    /// A member of `[escalation] support_usergroup`.
    SupportEscalator,
    /// Took part in the incident: spoke in its channel or ran a command there.
    Participant,
    /// Anybody in the workspace.
    Anyone,
}

impl Role {
    /// Every role, in the order refusals and the table name them.
    pub const ALL: [Role; 7] = [
        Role::Lead,
        Role::Responder,
        Role::Declarer,
        Role::IncidentLead,
        Role::SupportEscalator,
        Role::Participant,
        Role::Anyone,
    ];

    /// How a refusal names the people holding the role ("Only the incident lead, …").
    pub fn describe(self) -> &'static str {
        match self {
            Role::Lead => "the incident lead",
            Role::Responder => "its responders",
            Role::Declarer => "whoever declared it",
            Role::IncidentLead => "members of the incident leads user group",
            Role::SupportEscalator => "members of the AWS Support user group",
            Role::Participant => "anyone who has taken part in the channel",
            Role::Anyone => "anyone",
        }
    }

    /// The column heading in the table.
    pub fn heading(self) -> &'static str {
        match self {
            Role::Lead => "lead",
            Role::Responder => "responder",
            Role::Declarer => "declarer",
            Role::IncidentLead => "incident lead",
            Role::SupportEscalator => "support group",
            Role::Participant => "participant",
            Role::Anyone => "anyone",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The roles one person holds for one incident. Always contains [`Role::Anyone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleSet(u8);

impl RoleSet {
    /// Someone with no particular role.
    pub fn anyone() -> RoleSet {
        RoleSet(Role::Anyone.bit())
    }

    /// `role` on top of being anyone.
    pub fn of(role: Role) -> RoleSet {
        let mut s = RoleSet::anyone();
        s.insert(role);
        s
    }

    pub fn insert(&mut self, role: Role) {
        self.0 |= role.bit();
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        Role::ALL.into_iter().filter(|r| self.contains(*r))
    }
}

impl Default for RoleSet {
    fn default() -> Self {
        RoleSet::anyone()
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        let mut s = RoleSet::anyone();
        for r in iter {
            s.insert(r);
        }
        s
    }
}

/// Something a person asks warroom to do in an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Declare,
    Note,
    Timeline,
    List,
    Help,
    /// `/incident actions`: the action items.
    Actions,
    /// `/incident action <text>`: add an action item.
    AddAction,
    ActionDone,
    Postmortem,
    /// `/incident snooze`, the Snooze button.
    Snooze,
    /// `/incident aws yes|no`, the "Not an AWS issue" button.
    AwsInvolved,
    AwsStatus,
    /// A status change of an open incident.
    Status,
    Severity,
    Lead,
    /// `/incident resolve`, or `status resolved`.
    Resolve,
    /// A status change of a resolved incident.
    Reopen,
    /// `/incident update`: a stakeholder update.
    Update,
    /// `/incident escalate aws`, the "Open AWS Support case" button and its form.
    EscalateAws,
    AwsReply,
    /// The "Resolve AWS case" button.
    ResolveCase,
}

impl Action {
    /// Every action, in the order of the table.
    pub const ALL: [Action; 21] = [
        Action::Declare,
        Action::Note,
        Action::Timeline,
        Action::List,
        Action::Help,
        Action::Actions,
        Action::AddAction,
        Action::ActionDone,
        Action::Postmortem,
        Action::Snooze,
        Action::AwsInvolved,
        Action::AwsStatus,
        Action::Status,
        Action::Severity,
        Action::Lead,
        Action::Resolve,
        Action::Reopen,
        Action::Update,
        Action::EscalateAws,
        Action::AwsReply,
        Action::ResolveCase,
    ];

    /// The action a command asks for. `status` is the incident's current status, when the
    /// command runs in an incident: a status change of a resolved incident is a reopen.
    pub fn of(cmd: &Command, status: Option<Status>) -> Action {
        match cmd {
            Command::Declare { .. } => Action::Declare,
            Command::Note { .. } => Action::Note,
            Command::Timeline => Action::Timeline,
            Command::List => Action::List,
            Command::Help => Action::Help,
            Command::Actions => Action::Actions,
            Command::Action { .. } => Action::AddAction,
            Command::ActionDone(_) => Action::ActionDone,
            Command::Postmortem => Action::Postmortem,
            Command::Snooze(_) => Action::Snooze,
            Command::AwsInvolved(_) => Action::AwsInvolved,
            Command::AwsStatus => Action::AwsStatus,
            Command::Status {
                status: Status::Resolved,
                ..
            } => Action::Resolve,
            Command::Status { .. } if status == Some(Status::Resolved) => Action::Reopen,
            Command::Status { .. } => Action::Status,
            Command::Sev(_) => Action::Severity,
            Command::Lead(_) => Action::Lead,
            Command::Resolve { .. } => Action::Resolve,
            Command::Update { .. } => Action::Update,
            Command::EscalateAws { .. } => Action::EscalateAws,
            Command::AwsReply { .. } => Action::AwsReply,
        }
    }

    /// How the table names the action (what people type, or the button).
    pub fn name(self) -> &'static str {
        match self {
            Action::Declare => "declare",
            Action::Note => "note",
            Action::Timeline => "timeline",
            Action::List => "list",
            Action::Help => "help",
            Action::Actions => "actions",
            Action::AddAction => "action",
            Action::ActionDone => "action done",
            Action::Postmortem => "postmortem",
            Action::Snooze => "snooze",
            Action::AwsInvolved => "aws yes|no",
            Action::AwsStatus => "aws status",
            Action::Status => "status",
            Action::Severity => "sev",
            Action::Lead => "lead",
            Action::Resolve => "resolve",
            Action::Reopen => "reopen",
            Action::Update => "update",
            Action::EscalateAws => "escalate aws",
            Action::AwsReply => "aws reply",
            Action::ResolveCase => "resolve case",
        }
    }

    /// What a refusal says the caller may not do ("… may change the severity").
    pub fn describe(self) -> &'static str {
        match self {
            Action::Declare => "declare incidents",
            Action::Note => "add notes",
            Action::Timeline => "see the timeline",
            Action::List => "list incidents",
            Action::Help => "see the help",
            Action::Actions => "see the action items",
            Action::AddAction => "add action items",
            Action::ActionDone => "close action items",
            Action::Postmortem => "draft the postmortem",
            Action::Snooze => "snooze the nudges",
            Action::AwsInvolved => "say whether AWS is involved",
            Action::AwsStatus => "see the AWS Support case",
            Action::Status => "change the status",
            Action::Severity => "change the severity",
            Action::Lead => "hand the incident to a new lead",
            Action::Resolve => "resolve the incident",
            Action::Reopen => "reopen the incident",
            Action::Update => "post stakeholder updates",
            Action::EscalateAws => "open AWS Support cases",
            Action::AwsReply => "write on the AWS Support case",
            Action::ResolveCase => "resolve AWS Support cases",
        }
    }
}

/// The people running the incident.
const RUNNING: &[Role] = &[
    Role::Lead,
    Role::Responder,
    Role::Declarer,
    Role::IncidentLead,
];
/// … and anyone who took part: updates should come from whoever knows.
const TAKING_PART: &[Role] = &[
    Role::Lead,
    Role::Responder,
    Role::Declarer,
    Role::IncidentLead,
    Role::Participant,
];
/// … and the AWS Support user group: a case speaks for the company to AWS.
const WITH_SUPPORT: &[Role] = &[
    Role::Lead,
    Role::Responder,
    Role::Declarer,
    Role::IncidentLead,
    Role::SupportEscalator,
];

/// The model: who may do `action`.
pub fn who_may(action: Action) -> &'static [Role] {
    use Action as A;
    match action {
        A::Declare
        | A::Note
        | A::Timeline
        | A::List
        | A::Help
        | A::Actions
        | A::AddAction
        | A::ActionDone
        | A::Postmortem
        | A::Snooze
        | A::AwsInvolved
        | A::AwsStatus => &[Role::Anyone],
        A::Status | A::Severity | A::Lead | A::Resolve | A::Reopen => RUNNING,
        A::Update => TAKING_PART,
        A::EscalateAws | A::AwsReply | A::ResolveCase => WITH_SUPPORT,
    }
}

/// Whether someone holding `roles` may do `action`.
pub fn allowed(action: Action, roles: &RoleSet) -> bool {
    who_may(action).iter().any(|r| roles.contains(*r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Severity, UserId};

    /// The matrix from the code, one line per action, one column per role.
    fn matrix() -> String {
        let mut head = format!("{:<13}", "action");
        for r in Role::ALL {
            head.push_str(&format!("|{:^15}", r.heading()));
        }
        let mut lines = vec![head];
        for a in Action::ALL {
            let mut line = format!("{:<13}", a.name());
            for r in Role::ALL {
                let mark = if allowed(a, &RoleSet::of(r)) {
                    "yes"
                } else {
                    "-"
                };
                line.push_str(&format!("|{mark:^15}"));
            }
            lines.push(line);
        }
        lines
            .iter()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect()
    }

    /// The model as written down. A change to the table above must show up here as a diff.
    const EXPECTED: &str = "\
action       |     lead      |   responder   |   declarer    | incident lead | support group |  participant  |    anyone
declare      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
note         |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
timeline     |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
list         |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
help         |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
actions      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
action       |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
action done  |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
postmortem   |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
snooze       |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
aws yes|no   |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
aws status   |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
status       |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
sev          |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
lead         |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
resolve      |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
reopen       |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
update       |      yes      |      yes      |      yes      |      yes      |       -       |      yes      |       -
escalate aws |      yes      |      yes      |      yes      |      yes      |      yes      |       -       |       -
aws reply    |      yes      |      yes      |      yes      |      yes      |      yes      |       -       |       -
resolve case |      yes      |      yes      |      yes      |      yes      |      yes      |       -       |       -
";

    #[test]
    fn the_full_matrix_is_the_written_model() {
        let got = matrix();
        assert_eq!(got, EXPECTED, "\n{got}");
    }

    /// The table in SECURITY.md, as Markdown.
    fn markdown() -> String {
        let mut out = String::from("| action |");
        for r in Role::ALL {
            out.push_str(&format!(" {} |", r.heading()));
        }
        out.push_str("\n| --- |");
        for _ in Role::ALL {
            out.push_str(" :-: |");
        }
        out.push('\n');
        for a in Action::ALL {
            out.push_str(&format!("| `{}` |", a.name().replace('|', "\\|")));
            for r in Role::ALL {
                let mark = if allowed(a, &RoleSet::of(r)) {
                    "yes"
                } else {
                    "–"
                };
                out.push_str(&format!(" {mark} |"));
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn security_md_shows_the_same_table() {
        let doc = include_str!("../../SECURITY.md");
        let table = markdown();
        assert!(doc.contains(&table), "SECURITY.md should contain:\n{table}");
    }

    #[test]
    fn commands_map_to_actions_and_a_resolved_incident_is_reopened() {
        let investigating = Command::Status {
            status: Status::Investigating,
            note: None,
        };
        let resolved = Command::Status {
            status: Status::Resolved,
            note: None,
        };
        let open = Some(Status::Identified);
        let closed = Some(Status::Resolved);
        assert_eq!(Action::of(&investigating, open), Action::Status);
        assert_eq!(Action::of(&investigating, closed), Action::Reopen);
        assert_eq!(Action::of(&investigating, None), Action::Status);
        assert_eq!(Action::of(&resolved, open), Action::Resolve);
        assert_eq!(
            Action::of(&Command::Resolve { note: None }, open),
            Action::Resolve
        );
        assert_eq!(
            Action::of(&Command::Sev(Severity::Sev1), open),
            Action::Severity
        );
        let bob = UserId::parse("U0BOB").unwrap();
        assert_eq!(Action::of(&Command::Lead(bob), open), Action::Lead);
        assert_eq!(
            Action::of(&Command::Update { text: "x".into() }, open),
            Action::Update
        );
        assert_eq!(
            Action::of(&Command::EscalateAws { severity: None }, open),
            Action::EscalateAws
        );
        assert_eq!(
            Action::of(&Command::AwsReply { text: "x".into() }, open),
            Action::AwsReply
        );
    }

    #[test]
    fn role_sets_hold_what_was_put_in_and_anyone() {
        let s: RoleSet = [Role::Lead, Role::Participant].into_iter().collect();
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [Role::Lead, Role::Participant, Role::Anyone]
        );
        assert!(!s.contains(Role::Declarer));
        assert_eq!(RoleSet::default(), RoleSet::anyone());
        assert_eq!(RoleSet::anyone().iter().collect::<Vec<_>>(), [Role::Anyone]);
    }
}
