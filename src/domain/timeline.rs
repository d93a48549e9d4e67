//! The timeline vocabulary: what kinds of entries an incident's timeline holds.

use chrono::{DateTime, Utc};

use super::ids::IncidentId;
pub use super::ids::UserId;

/// What a timeline entry records. Stored as its `as_str` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EntryKind {
    /// The incident was declared (by a person or, later, by an alarm).
    Declared,
    /// A message a person posted in the incident channel.
    Message,
    /// `/incident status …`
    StatusChanged,
    /// `/incident sev …`
    SeverityChanged,
    /// `/incident lead …`
    LeadChanged,
    /// `/incident role …`: one of the `[incident] roles` handed to someone.
    RoleAssigned,
    /// `/incident note …`, possibly backdated.
    Note,
    /// `/incident resolve`
    Resolved,
    /// The incident was reopened by moving a resolved incident to an open status.
    Reopened,
    /// `/incident update`: a stakeholder update (resets the stale-update clock).
    Update,
    /// A CloudWatch alarm went to ALARM (the one that opened the incident, or one that joined).
    AlarmFired,
    /// An alarm of the incident went back to OK or INSUFFICIENT_DATA.
    AlarmRecovered,
    /// AWS Health reported an event (or an update to one) for the alarming service.
    HealthEvent,
    /// warroom nudged the responders (open an AWS Support case, AWS is quiet, post an update).
    Nudge,
    /// Someone snoozed the nudges (`/incident snooze`, the Snooze button).
    Snoozed,
    /// Someone said whether AWS is involved (`/incident aws yes|no`, "Not an AWS issue").
    AwsInvolvement,
    /// An AWS Support case was opened, could not be opened, or was resolved.
    SupportCase,
    /// The customer side wrote on the case (`/incident aws reply`, or the Support Center).
    SupportMessage,
    /// AWS Support replied on the case.
    AwsReply,
    /// "What changed before the alarm": recent AWS changes, the alarm's history and its
    /// neighbours (the whole report as JSON in `timeline.data`).
    AwsChanges,
    /// The channel's tidy-up after a resolve (`[incident] archive_after`): the archive
    /// announced, kept open ("Keep open"), or done.
    ChannelArchive,
    /// A step of the incident type's checklist ticked (the "Done" button): who and when.
    ChecklistStep,
}

impl EntryKind {
    pub const ALL: &'static [EntryKind] = &[
        EntryKind::Declared,
        EntryKind::Message,
        EntryKind::StatusChanged,
        EntryKind::SeverityChanged,
        EntryKind::LeadChanged,
        EntryKind::RoleAssigned,
        EntryKind::Note,
        EntryKind::Resolved,
        EntryKind::Reopened,
        EntryKind::Update,
        EntryKind::AlarmFired,
        EntryKind::AlarmRecovered,
        EntryKind::HealthEvent,
        EntryKind::Nudge,
        EntryKind::Snoozed,
        EntryKind::AwsInvolvement,
        EntryKind::SupportCase,
        EntryKind::SupportMessage,
        EntryKind::AwsReply,
        EntryKind::AwsChanges,
        EntryKind::ChannelArchive,
        EntryKind::ChecklistStep,
    ];

    /// snake_case name used in the database (`status_changed`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Declared => "declared",
            EntryKind::Message => "message",
            EntryKind::StatusChanged => "status_changed",
            EntryKind::SeverityChanged => "severity_changed",
            EntryKind::LeadChanged => "lead_changed",
            EntryKind::RoleAssigned => "role_assigned",
            EntryKind::Note => "note",
            EntryKind::Resolved => "resolved",
            EntryKind::Reopened => "reopened",
            EntryKind::Update => "update",
            EntryKind::AlarmFired => "alarm_fired",
            EntryKind::AlarmRecovered => "alarm_recovered",
            EntryKind::HealthEvent => "health_event",
            EntryKind::Nudge => "nudge",
            EntryKind::Snoozed => "snoozed",
            EntryKind::AwsInvolvement => "aws_involvement",
            EntryKind::SupportCase => "support_case",
            EntryKind::SupportMessage => "support_message",
            EntryKind::AwsReply => "aws_reply",
            EntryKind::AwsChanges => "aws_changes",
            EntryKind::ChannelArchive => "channel_archive",
            EntryKind::ChecklistStep => "checklist_step",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Whether entries of this kind are key events by nature (everything but plain messages;
    /// messages become key events when pinned or marked with :pushpin:).
    pub fn is_key_by_default(self) -> bool {
        self != EntryKind::Message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_accepts_slack_ids() {
        for ok in [
            "U024BE7LH",
            "W012A3CDE",
            "U1",
            "U123ABC",
            &format!("U{}", "A".repeat(31)),
        ] {
            let id = UserId::parse(ok).unwrap();
            assert_eq!(id.as_str(), ok);
            assert_eq!(id.to_string(), ok);
            assert_eq!(String::from(id.clone()), ok);
            assert_eq!(UserId::try_from(ok.to_owned()), Ok(id));
        }
    }

    #[test]
    fn user_id_rejects_everything_else() {
        for bad in [
            "",
            "U",
            "W",
            "alice",
            "u123abc",
            "C123ABC",
            "123",
            "U123 ABC",
            "U123abc",
            "<@U123ABC>",
            "@U123ABC",
            "U123-ABC",
            "Ü123",
            &format!("U{}", "A".repeat(32)),
        ] {
            let err = UserId::parse(bad).unwrap_err();
            assert!(err.contains("not a Slack user id"), "{bad:?}: {err}");
            assert!(!err.ends_with('.'));
        }
    }

    #[test]
    fn user_id_serde_validates() {
        let id: UserId = serde_json::from_str("\"U123ABC\"").unwrap();
        assert_eq!(id.as_str(), "U123ABC");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"U123ABC\"");
        assert!(serde_json::from_str::<UserId>("\"alice\"").is_err());
    }

    #[test]
    fn entry_kind_names_round_trip_and_are_unique() {
        let names: Vec<&str> = EntryKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "declared",
                "message",
                "status_changed",
                "severity_changed",
                "lead_changed",
                "role_assigned",
                "note",
                "resolved",
                "reopened",
                "update",
                "alarm_fired",
                "alarm_recovered",
                "health_event",
                "nudge",
                "snoozed",
                "aws_involvement",
                "support_case",
                "support_message",
                "aws_reply",
                "aws_changes",
                "channel_archive",
                "checklist_step"
            ]
        );
        for &kind in EntryKind::ALL {
            assert_eq!(EntryKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EntryKind::parse("Declared"), None);
        assert_eq!(EntryKind::parse("bogus"), None);
    }

    #[test]
    fn only_messages_are_not_key_by_default() {
        for &kind in EntryKind::ALL {
            assert_eq!(
                kind.is_key_by_default(),
                kind != EntryKind::Message,
                "{kind:?}"
            );
        }
    }
}

/// A recorded timeline entry: the read model of `/incident timeline`, the postmortem and
/// the operator report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub id: i64,
    pub incident_id: IncidentId,
    pub kind: EntryKind,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: Option<String>,
    pub text: String,
    pub slack_ts: Option<String>,
    pub thread_ts: Option<String>,
    pub key_event: bool,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Earlier texts, oldest first (edits).
    pub revisions: Vec<String>,
}
