//! Incident types (`[[incident.types]]`) and their checklists.
//!
//! A type names a kind of incident ("security", "database") and what it brings: a default
//! severity, responders and a user group to invite, the roles to fill, a checklist of steps
//! and optionally its own postmortem template. The checklist is copied onto the incident
//! when it opens ([`ChecklistItem`]), so a later config change leaves an open incident's
//! checklist alone; ticking a step is decided here ([`tick`]) and recorded by the service.
//!
//! Pure: no IO; time comes in as a parameter.

use chrono::{DateTime, Utc};

use super::incident::DomainError;
use super::severity::Severity;
use super::timeline::UserId;

/// One step of a type's checklist, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What to do, as the operator wrote it (escaped when shown).
    pub text: String,
    /// An http(s) link to the runbook for the step (checked at config load).
    pub runbook: Option<String>,
}

/// `[[incident.types]]`: one kind of incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentType {
    /// What `type:<name>` and an alarm route's `type` say: lowercase letters, digits, dashes.
    pub name: String,
    /// The severity when the declare gives none.
    pub severity: Severity,
    /// The incident is private (see private incidents). Parsed and kept; what it does is
    /// the private incidents' business.
    pub private: bool,
    /// Invited to the incident channel on top of `[slack] responders`.
    pub responders: Vec<UserId>,
    /// A Slack user group id (`S0…`) whose members are invited too.
    pub usergroup: Option<String>,
    /// Roles (among `[incident] roles`) the header shows as unfilled until assigned.
    pub roles: Vec<String>,
    /// Posted in the channel with a "Done" button per step.
    pub checklist: Vec<Step>,
    /// A template file name (`security.md.tera`) used instead of the default postmortem
    /// Markdown template for incidents of this type.
    pub postmortem_template: Option<String>,
}

/// One step of an incident's checklist: its place, what it says, and who ticked it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistItem {
    /// 1-based, in the order the type lists its steps.
    pub position: i64,
    pub text: String,
    pub runbook: Option<String>,
    /// Who ticked it and when; `None` while it is still to do.
    pub done: Option<(UserId, DateTime<Utc>)>,
}

impl ChecklistItem {
    pub fn is_done(&self) -> bool {
        self.done.is_some()
    }
}

/// A tick to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticked {
    pub position: i64,
    /// Plain one-line timeline text: `checklist step 2 done: Rotate the keys`.
    pub summary: String,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// Tick step `position` of `items` for `by`. Refused when there is no such step, and with
/// [`DomainError::NoChange`] when it is already done (a second click records nothing).
/// A resolved incident's steps can still be ticked: the checklist often runs past the
/// resolve (customer notice, evidence kept).
pub fn tick(
    items: &[ChecklistItem],
    position: i64,
    by: &UserId,
    now: DateTime<Utc>,
) -> Result<Ticked, DomainError> {
    let Some(item) = items.iter().find(|i| i.position == position) else {
        return Err(DomainError::Invalid(format!(
            "this incident's checklist has no step {position}"
        )));
    };
    if let Some((who, _)) = &item.done {
        return Err(DomainError::NoChange(format!(
            "step {position} is already done (by {who})"
        )));
    }
    Ok(Ticked {
        position,
        summary: format!("checklist step {position} done: {}", item.text),
        by: by.clone(),
        at: now,
    })
}

/// The roles of `roles_to_fill` nobody holds yet, in order.
pub fn unfilled<'a>(roles_to_fill: &'a [String], held: &[(String, UserId)]) -> Vec<&'a str> {
    roles_to_fill
        .iter()
        .filter(|r| !held.iter().any(|(h, _)| h == *r))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn user(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn items() -> Vec<ChecklistItem> {
        vec![
            ChecklistItem {
                position: 1,
                text: "Page security".into(),
                runbook: None,
                done: None,
            },
            ChecklistItem {
                position: 2,
                text: "Rotate keys".into(),
                runbook: Some("https://wiki.example/keys".into()),
                done: Some((
                    user("U1"),
                    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                )),
            },
        ]
    }

    #[test]
    fn ticking_an_open_step_records_who_and_when() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap();
        let t = tick(&items(), 1, &user("U2"), now).unwrap();
        assert_eq!(t.position, 1);
        assert_eq!(t.by, user("U2"));
        assert_eq!(t.at, now);
        assert_eq!(t.summary, "checklist step 1 done: Page security");
    }

    #[test]
    fn a_done_step_or_a_missing_one_is_refused() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap();
        assert!(matches!(
            tick(&items(), 2, &user("U2"), now),
            Err(DomainError::NoChange(m)) if m.contains("already done (by U1)")
        ));
        assert!(matches!(
            tick(&items(), 3, &user("U2"), now),
            Err(DomainError::Invalid(_))
        ));
    }

    #[test]
    fn unfilled_roles_are_those_nobody_holds() {
        let to_fill = vec!["comms".to_string(), "scribe".to_string()];
        assert_eq!(unfilled(&to_fill, &[]), ["comms", "scribe"]);
        assert_eq!(
            unfilled(&to_fill, &[("comms".to_string(), user("U1"))]),
            ["scribe"]
        );
    }
}
