//! Who may do what in an incident: one table, [`TABLE`], mirrored in `SECURITY.md`.
//!
//! Speed and openness matter more than control during an incident, so reading and adding
//! to the record is open to anyone (and records who did it). Changing the incident, its
//! lead, or silencing warroom's nudges is kept to the people running it, so a bystander
//! cannot take over or quieten someone else's incident; stakeholder updates also accept
//! anyone who took part; AWS Support cases add the support user group.
//!
//! Every way a person asks for something is a row: each `/incident` subcommand, each button
//! on warroom's messages (by the id warroom gives the control) and each form. A new command
//! or button is one row here and one row in SECURITY.md (a test keeps the two equal).
//!
//! Resolving a person's roles needs IO (the store, Slack user groups); that lives in
//! `service::authorization`, the one checkpoint every request passes. This module only
//! decides, given the roles.

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

/// The ids warroom gives the controls on its messages and its forms (Slack's `action_id`
/// and `callback_id`). The renderers put them on the buttons; the checkpoint maps a click or
/// a submission back to its row of [`TABLE`] by them.
pub mod control {
    /// "Open AWS Support case" on the case nudge: opens the case form.
    pub const OPEN_CASE: &str = "support_open_case";
    /// "Snooze 30m" on a nudge.
    pub const SNOOZE: &str = "nudge_snooze";
    /// "Not an AWS issue" on the case nudge.
    pub const NOT_AWS: &str = "nudge_not_aws";
    /// "Draft the postmortem" on the resolve notice.
    pub const DRAFT_POSTMORTEM: &str = "postmortem_draft";
    /// "Resolve AWS case" after the incident is resolved with its case still open.
    pub const RESOLVE_CASE: &str = "support_resolve_case";
    /// "Keep open" on the notice that the channel is about to be archived.
    pub const KEEP_OPEN: &str = "archive_keep_open";
    /// "Done" beside a step of the incident type's checklist; the value is the step's number.
    pub const CHECKLIST_TICK: &str = "checklist_tick";
    /// The AWS Support case form (a modal).
    pub const CASE_FORM: &str = "support_case";
}

/// How a request reaches warroom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `/incident <name> …`.
    Command,
    /// A button on one of warroom's messages, by its [`control`] id.
    Button(&'static str),
    /// A form warroom opened, by its [`control`] id.
    Form(&'static str),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub via: Via,
    /// How SECURITY.md names it: what people type, or the label of the button or form.
    pub name: &'static str,
    /// What a refusal says the caller may not do ("… may change the severity").
    pub what: &'static str,
    /// Who may: holding any one of these roles is enough.
    pub who: &'static [Role],
}

/// Everybody.
const ANYONE: &[Role] = &[Role::Anyone];
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

/// Only the AWS Support user group: there is no incident yet to hold a role in.
const SUPPORT_GROUP: &[Role] = &[Role::SupportEscalator];

/// Declares [`Action`] and [`TABLE`] from one list, so an action and its row cannot drift.
macro_rules! table {
    ($( $(#[doc = $doc:literal])* $action:ident: $via:expr, $name:literal, $what:literal, $who:expr; )*) => {
        /// Something a person asks warroom to do: one row of [`TABLE`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $( $(#[doc = $doc])* $action, )*
        }

        /// Who may do what, one row per action, in the order of SECURITY.md's table.
        pub const TABLE: &[Rule] = &[
            $( Rule { action: Action::$action, via: $via, name: $name, what: $what, who: $who }, )*
        ];
    };
}

table! {
    Declare: Via::Command, "declare", "declare incidents", ANYONE;
    /// `/incident drill` (and `warroom drill`): a rehearsal whose AWS Support case is a dry run.
    Drill: Via::Command, "drill", "start drills", ANYONE;
    /// `/incident drill --real-case`: a rehearsal that opens a real AWS Support case.
    DrillRealCase: Via::Command, "drill --real-case", "start drills that open real AWS Support cases", SUPPORT_GROUP;
    Note: Via::Command, "note", "add notes", ANYONE;
    Timeline: Via::Command, "timeline", "see the timeline", ANYONE;
    /// `/incident catchup`: what a late joiner is sent, on demand.
    Catchup: Via::Command, "catchup", "see the catch-up", ANYONE;
    List: Via::Command, "list", "list incidents", ANYONE;
    Help: Via::Command, "help", "see the help", ANYONE;
    /// `/incident stats`: aggregate figures over every incident, answered to the caller.
    Stats: Via::Command, "stats", "see the incident report", ANYONE;
    /// `/incident actions`: the action items.
    Actions: Via::Command, "actions", "see the action items", ANYONE;
    /// `/incident action <text>`: add an action item.
    AddAction: Via::Command, "action", "add action items", ANYONE;
    ActionDone: Via::Command, "action done", "close action items", ANYONE;
    Postmortem: Via::Command, "postmortem", "draft the postmortem", ANYONE;
    AwsStatus: Via::Command, "aws status", "see the AWS Support case", ANYONE;
    /// `/incident changes`: a read-only look-up of recent AWS changes, posted in the channel.
    Changes: Via::Command, "changes", "look up recent AWS changes", ANYONE;
    /// `/incident update`: a stakeholder update.
    Update: Via::Command, "update", "post stakeholder updates", TAKING_PART;
    /// `/incident snooze`: silences warroom's nudges.
    Snooze: Via::Command, "snooze", "snooze the nudges", RUNNING;
    /// `/incident aws yes|no`: turns the AWS Support nudges on or off.
    AwsInvolved: Via::Command, "aws yes|no", "say whether AWS is involved", RUNNING;
    /// A status change of an open incident.
    Status: Via::Command, "status", "change the status", RUNNING;
    Severity: Via::Command, "sev", "change the severity", RUNNING;
    /// Setting the lead, of an incident with or without one.
    Lead: Via::Command, "lead", "choose the incident lead", RUNNING;
    /// `/incident role <name> <@user>`: the other `[incident] roles`, kept to the same
    /// people as the lead.
    AssignRole: Via::Command, "role", "hand out incident roles", RUNNING;
    /// `/incident resolve`, or `status resolved`.
    Resolve: Via::Command, "resolve", "resolve the incident", RUNNING;
    /// A status change of a resolved incident.
    Reopen: Via::Command, "reopen", "reopen the incident", RUNNING;
    /// `/incident escalate aws`: opens the drafted case without the form.
    EscalateAws: Via::Command, "escalate aws", "open AWS Support cases", WITH_SUPPORT;
    /// `/incident aws reply <text>`: writes on the open case.
    AwsReply: Via::Command, "aws reply", "write on the AWS Support case", WITH_SUPPORT;
    /// "Draft the postmortem" on the resolve notice.
    DraftPostmortemButton: Via::Button(control::DRAFT_POSTMORTEM), "Draft the postmortem", "draft the postmortem", ANYONE;
    /// "Snooze 30m" on a nudge.
    SnoozeButton: Via::Button(control::SNOOZE), "Snooze", "snooze the nudges", RUNNING;
    /// "Not an AWS issue" on the case nudge.
    NotAwsButton: Via::Button(control::NOT_AWS), "Not an AWS issue", "say this is not an AWS issue", RUNNING;
    /// "Open AWS Support case" on the case nudge: opens the form.
    OpenCaseButton: Via::Button(control::OPEN_CASE), "Open AWS Support case", "open AWS Support cases", WITH_SUPPORT;
    /// The case form submitted: opens the case.
    CaseForm: Via::Form(control::CASE_FORM), "AWS Support case", "open AWS Support cases", WITH_SUPPORT;
    /// "Resolve AWS case" after the incident is resolved.
    ResolveCaseButton: Via::Button(control::RESOLVE_CASE), "Resolve AWS case", "resolve AWS Support cases", WITH_SUPPORT;
    /// "Keep open" on the notice that a resolved incident's channel is about to be archived:
    /// anyone who can see the channel, since keeping it is harmless and undoes nothing.
    KeepOpenButton: Via::Button(control::KEEP_OPEN), "Keep open", "keep the channel open", ANYONE;
    /// "Done" beside a checklist step: open like notes, since it adds to the record (who
    /// and when) and changes nothing else.
    ChecklistTickButton: Via::Button(control::CHECKLIST_TICK), "Done", "tick checklist steps", ANYONE;
}

impl Action {
    /// Every action, in the order of the table.
    pub fn all() -> impl Iterator<Item = Action> {
        TABLE.iter().map(|r| r.action)
    }

    /// This action's row.
    pub fn rule(self) -> &'static Rule {
        // The macro lists the variants and the rows in the same order.
        &TABLE[self as usize]
    }

    /// The action a command asks for. `status` is the incident's current status, when the
    /// command runs in an incident: a status change of a resolved incident is a reopen.
    pub fn of(cmd: &Command, status: Option<Status>) -> Action {
        match cmd {
            Command::Declare { .. } => Action::Declare,
            Command::Drill {
                real_case: true, ..
            } => Action::DrillRealCase,
            Command::Drill { .. } => Action::Drill,
            Command::Note { .. } => Action::Note,
            Command::Timeline => Action::Timeline,
            Command::Catchup => Action::Catchup,
            Command::List => Action::List,
            Command::Help => Action::Help,
            Command::Stats { .. } => Action::Stats,
            Command::Actions => Action::Actions,
            Command::Action { .. } => Action::AddAction,
            Command::ActionDone(_) => Action::ActionDone,
            Command::Postmortem => Action::Postmortem,
            Command::Snooze(_) => Action::Snooze,
            Command::AwsInvolved(_) => Action::AwsInvolved,
            Command::AwsStatus => Action::AwsStatus,
            Command::Changes { .. } => Action::Changes,
            Command::Status {
                status: Status::Resolved,
                ..
            } => Action::Resolve,
            Command::Status { .. } if status == Some(Status::Resolved) => Action::Reopen,
            Command::Status { .. } => Action::Status,
            Command::Sev(_) => Action::Severity,
            Command::Lead(_) => Action::Lead,
            Command::Role { .. } => Action::AssignRole,
            Command::Resolve { .. } => Action::Resolve,
            Command::Update { .. } => Action::Update,
            Command::EscalateAws { .. } => Action::EscalateAws,
            Command::AwsReply { .. } => Action::AwsReply,
        }
    }

    /// The action of a click on the button with this [`control`] id; `None` for controls
    /// that ask for nothing (link buttons) or that this version does not know.
    pub fn for_button(id: &str) -> Option<Action> {
        TABLE
            .iter()
            .find(|r| matches!(r.via, Via::Button(c) if c == id))
            .map(|r| r.action)
    }

    /// The action of submitting the form with this [`control`] id.
    pub fn for_form(id: &str) -> Option<Action> {
        TABLE
            .iter()
            .find(|r| matches!(r.via, Via::Form(c) if c == id))
            .map(|r| r.action)
    }

    /// How the table names the action (what people type, or the button or form).
    pub fn name(self) -> &'static str {
        self.rule().name
    }

    /// What a refusal says the caller may not do ("… may change the severity").
    pub fn describe(self) -> &'static str {
        self.rule().what
    }

    /// Whether everybody may: the checkpoint then needs no lookups at all.
    pub fn open_to_anyone(self) -> bool {
        allowed(self, &RoleSet::anyone())
    }
}

/// The model: who may do `action`.
pub fn who_may(action: Action) -> &'static [Role] {
    action.rule().who
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
        let mut head = format!("{:<21}", "action");
        for r in Role::ALL {
            head.push_str(&format!("|{:^15}", r.heading()));
        }
        let mut lines = vec![head];
        for a in Action::all() {
            let mut line = format!("{:<21}", a.name());
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
action               |     lead      |   responder   |   declarer    | incident lead | support group |  participant  |    anyone
declare              |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
drill                |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
drill --real-case    |       -       |       -       |       -       |       -       |      yes      |       -       |       -
note                 |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
timeline             |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
catchup              |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
list                 |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
help                 |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
stats                |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
actions              |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
action               |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
action done          |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
postmortem           |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
aws status           |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
changes              |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
update               |      yes      |      yes      |      yes      |      yes      |       -       |      yes      |       -
snooze               |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
aws yes|no           |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
status               |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
sev                  |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
lead                 |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
role                 |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
resolve              |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
reopen               |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
escalate aws         |      yes      |      yes      |      yes      |      yes      |      yes      |       -       |       -
aws reply            |      yes      |      yes      |      yes      |      yes      |      yes      |       -       |       -
Draft the postmortem |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
Snooze               |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
Not an AWS issue     |      yes      |      yes      |      yes      |      yes      |       -       |       -       |       -
Open AWS Support case|      yes      |      yes      |      yes      |      yes      |      yes      |       -       |       -
AWS Support case     |      yes      |      yes      |      yes      |      yes      |      yes      |       -       |       -
Resolve AWS case     |      yes      |      yes      |      yes      |      yes      |      yes      |       -       |       -
Keep open            |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
Done                 |      yes      |      yes      |      yes      |      yes      |      yes      |      yes      |      yes
";

    #[test]
    fn the_full_matrix_is_the_written_model() {
        let got = matrix();
        assert_eq!(got, EXPECTED, "\n{got}");
    }

    /// The table in SECURITY.md, as Markdown: commands as typed, buttons and forms by label.
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
        for rule in TABLE {
            let name = match rule.via {
                Via::Command => format!("`{}`", rule.name.replace('|', "\\|")),
                Via::Button(_) => format!("\"{}\" button", rule.name),
                Via::Form(_) => format!("\"{}\" form", rule.name),
            };
            out.push_str(&format!("| {name} |"));
            for r in Role::ALL {
                let mark = if allowed(rule.action, &RoleSet::of(r)) {
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
    fn each_action_has_its_own_row_and_each_control_one_action() {
        for (i, rule) in TABLE.iter().enumerate() {
            assert_eq!(rule.action as usize, i, "{} is out of order", rule.name);
            assert_eq!(rule.action.rule(), rule);
            assert!(!rule.who.is_empty(), "{} names nobody", rule.name);
        }
        let mut controls: Vec<&str> = TABLE
            .iter()
            .filter_map(|r| match r.via {
                Via::Button(c) | Via::Form(c) => Some(c),
                Via::Command => None,
            })
            .collect();
        let n = controls.len();
        controls.sort();
        controls.dedup();
        assert_eq!(controls.len(), n, "a control id is used twice");
        assert_eq!(
            Action::for_button(control::SNOOZE),
            Some(Action::SnoozeButton)
        );
        assert_eq!(
            Action::for_button(control::RESOLVE_CASE),
            Some(Action::ResolveCaseButton)
        );
        assert_eq!(Action::for_form(control::CASE_FORM), Some(Action::CaseForm));
        // A form id is not a button, and unknown or link controls ask for nothing.
        assert_eq!(Action::for_button(control::CASE_FORM), None);
        assert_eq!(Action::for_form(control::SNOOZE), None);
        assert_eq!(Action::for_button("support_center_link"), None);
        assert_eq!(Action::for_button(""), None);
    }

    #[test]
    fn an_incident_without_a_lead_is_not_anyone_s_to_take() {
        // An alarm opens incidents without a lead; taking it is for the people running
        // incidents, like every other change of who runs it.
        assert!(!allowed(Action::Lead, &RoleSet::anyone()));
        assert!(!allowed(Action::Lead, &RoleSet::of(Role::Participant)));
        assert!(allowed(Action::Lead, &RoleSet::of(Role::Responder)));
        assert!(allowed(Action::Lead, &RoleSet::of(Role::IncidentLead)));
        for quiet in [Action::Snooze, Action::SnoozeButton, Action::NotAwsButton] {
            assert!(!quiet.open_to_anyone(), "{}", quiet.name());
        }
        assert!(Action::Note.open_to_anyone());
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
