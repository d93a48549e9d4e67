//! Everything a postmortem draft is built from, read in one go: the incident, its whole
//! timeline, the structured `data` of its change entries, its action items, and what is
//! known from AWS (alarms, Support cases, Health events, graphs).
//!
//! A case's correspondence is told once: the opening description as warroom sent it, then
//! what came after. AWS lists the opening again among the communications (submitted by the
//! IAM caller); that echo, and the echo of every reply warroom sent, are left out.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::escalation::normalise_body;
use super::graphs::{self, Graph};
use super::{actions, alarms, escalation, incidents, timeline, Db, StoreResult};
use crate::domain::alarm::AlarmState;
use crate::domain::support::CaseCorrespondence;
use crate::domain::{ActionItem, IncidentId, IncidentRecord, TimelineEntry};

/// An alarm transition (recorded by the alarms feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmEvent {
    pub name: String,
    pub state: AlarmState,
    pub at: DateTime<Utc>,
    pub region: String,
    pub metric: Option<String>,
    pub description: Option<String>,
    /// The alarm's page in the AWS console.
    pub console_url: String,
}

/// An AWS Support case and its correspondence (recorded by the escalation feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCase {
    pub id: String,
    pub severity: String,
    pub subject: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    /// The case's page in the Support Center.
    pub console_url: String,
    /// The opening description first (when warroom opened the case), then the rest,
    /// oldest first.
    pub communications: Vec<CaseMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseMessage {
    pub at: DateTime<Utc>,
    /// `AWS`, `warroom`, or who wrote in the Support Center.
    pub from: String,
    pub text: String,
    pub kind: CaseMessageKind,
}

/// Where a message on a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseMessageKind {
    /// The description warroom sent with CreateCase.
    Opening,
    /// A reply sent through warroom (`/incident aws reply`).
    Sent,
    /// AWS Support's reply.
    Aws,
    /// Written on the case outside warroom (the Support Center).
    Outside,
}

/// An AWS Health event seen during the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    pub service: String,
    pub region: String,
    pub event_type: String,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub description: String,
}

/// What warroom knows about the incident from AWS. Empty until the alarm and escalation
/// features record it (they fill it in [`Store::postmortem_source`]); the draft then says
/// "none recorded" in those sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The alarm that opened the incident (warroom declared it), if one did.
    pub opened_by_alarm: Option<String>,
    pub alarms: Vec<AlarmEvent>,
    pub aws_cases: Vec<AwsCase>,
    pub health_events: Vec<HealthEvent>,
    pub graphs: Vec<Graph>,
}

/// The recorded facts about one incident.
#[derive(Debug, Clone)]
pub struct PostmortemSource {
    pub record: IncidentRecord,
    /// Oldest first, as [`timeline::of_incident`] returns it.
    pub entries: Vec<TimelineEntry>,
    /// `timeline.data` by entry id, for entries that have it (changes, action items).
    pub details: HashMap<i64, serde_json::Value>,
    pub actions: Vec<ActionItem>,
    pub evidence: Evidence,
    /// How to show the people in it (the names warroom learned from Slack); anyone missing
    /// is shown by id.
    pub names: crate::domain::names::Names,
    /// The `[incident] roles` held at the end (`role`, holder), besides the lead.
    pub roles: Vec<(String, crate::domain::UserId)>,
    /// The incident type's checklist, ticks included (empty without a type).
    pub checklist: Vec<crate::domain::incident_type::ChecklistItem>,
}

/// Everything a postmortem draft of incident `id` is built from, read on one connection.
pub async fn source(db: Db<'_>, id: IncidentId) -> StoreResult<PostmortemSource> {
    let mut c = db.conn().await?;
    let record = incidents::get(c.db(), id).await?;
    let entries = timeline::of_incident(c.db(), id).await?;
    let details = timeline::data_of_incident(c.db(), id).await?;
    let actions = actions::of_incident(c.db(), id).await?;
    let evidence = evidence(c.db(), id).await?;
    let roles = super::people::roles_of(c.db(), id).await?;
    let checklist = super::checklist::of_incident(c.db(), id).await?;
    let mut people: Vec<String> = entries
        .iter()
        .filter_map(|e| e.actor.clone())
        .chain(
            actions
                .iter()
                .filter_map(|a| a.owner.as_ref().map(|o| o.as_str().to_string())),
        )
        .chain(roles.iter().map(|(_, u)| u.as_str().to_string()))
        .chain(
            checklist
                .iter()
                .filter_map(|s| s.done.as_ref().map(|(u, _)| u.as_str().to_string())),
        )
        .chain(record.incident.lead.iter().map(|u| u.as_str().to_string()))
        .chain(std::iter::once(
            record.incident.declared_by.as_str().to_string(),
        ))
        .collect();
    people.sort();
    people.dedup();
    let names = super::people::known_names(c.db(), &people).await?;
    Ok(PostmortemSource {
        record,
        entries,
        details,
        actions,
        evidence,
        names,
        roles,
        checklist,
    })
}

/// What warroom recorded from AWS for the incident: its alarm transitions, the AWS
/// Health events seen while it was open, its Support cases with their correspondence,
/// and the graphs posted.
async fn evidence(db: Db<'_>, id: IncidentId) -> StoreResult<Evidence> {
    let mut c = db.conn().await?;
    let transitions = alarms::of_incident(c.db(), id).await?;
    let opened_by_alarm = transitions
        .iter()
        .find(|t| t.outcome.as_deref() == Some(alarms::outcome::OPENED))
        .map(|t| t.alarm.name.clone());
    let alarms = transitions
        .into_iter()
        .map(|t| {
            // `Average of CPUUtilization > 80 (period 5m)`, or a composite's rule.
            let metric = match (&t.alarm.namespace, t.alarm.condition()) {
                (Some(ns), Some(cond)) => Some(format!("{ns}: {cond}")),
                (None, cond) => cond,
                (Some(ns), None) => Some(ns.clone()),
            };
            AlarmEvent {
                console_url: t.alarm.console_url(),
                name: t.alarm.name,
                state: t.alarm.state,
                at: t.alarm.state_updated_at,
                region: t.alarm.region,
                metric,
                description: t.alarm.description,
            }
        })
        .collect();
    let health_events = alarms::health_events_seen(c.db(), id)
        .await?
        .into_iter()
        .map(|h| HealthEvent {
            service: h.service,
            region: h.region.unwrap_or_else(|| "global".to_string()),
            description: h.category.clone().unwrap_or_default(),
            event_type: h.event_type,
            status: h.status,
            started_at: h.started_at,
        })
        .collect();
    let mut aws_cases = Vec::new();
    for case in escalation::cases_of(c.db(), id).await? {
        let Some(case_id) = case.case_id.clone() else {
            continue; // never opened at AWS (failed): the timeline tells that story
        };
        let communications = told_once(escalation::communications(c.db(), case.row).await?);
        aws_cases.push(AwsCase {
            console_url: crate::domain::support::console_url(&case_id, case.display_id.as_deref()),
            id: case.display_id.unwrap_or(case_id),
            severity: case.severity.code().to_string(),
            subject: case.subject,
            status: case.status,
            opened_at: case.opened_at.unwrap_or(case.requested_at),
            communications,
        });
    }
    Ok(Evidence {
        opened_by_alarm,
        alarms,
        aws_cases,
        health_events,
        graphs: graphs::of_incident(c.db(), id).await?,
    })
}

/// A case's correspondence as a reader should see it: the opening description warroom
/// sent first, then everything after it in time order, without AWS's copies of what
/// warroom sent (AWS lists the opening and every reply again, as from the IAM caller).
fn told_once(recorded: Vec<CaseCorrespondence>) -> Vec<CaseMessage> {
    let sent: Vec<String> = recorded
        .iter()
        .filter(|c| c.sent_by_warroom)
        .map(|c| normalise_body(&c.body))
        .collect();
    let mut out: Vec<CaseMessage> = recorded
        .into_iter()
        .filter(|c| c.sent_by_warroom || c.from_aws || !sent.contains(&normalise_body(&c.body)))
        .map(|c| {
            let kind = if c.opening {
                CaseMessageKind::Opening
            } else if c.sent_by_warroom {
                CaseMessageKind::Sent
            } else if c.from_aws {
                CaseMessageKind::Aws
            } else {
                CaseMessageKind::Outside
            };
            CaseMessage {
                at: c.at,
                from: match kind {
                    CaseMessageKind::Aws => "AWS".to_string(),
                    CaseMessageKind::Opening => "warroom".to_string(),
                    CaseMessageKind::Sent | CaseMessageKind::Outside => c.submitted_by,
                },
                text: c.body,
                kind,
            }
        })
        .collect();
    // The opening first, even when AWS's clock puts a reply a little before it.
    out.sort_by_key(|m| (m.kind != CaseMessageKind::Opening, m.at));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-20T13:{minute:02}:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn recorded(
        minute: u32,
        from_aws: bool,
        by: &str,
        body: &str,
        key: &str,
    ) -> CaseCorrespondence {
        CaseCorrespondence {
            from_aws,
            submitted_by: by.to_string(),
            body: body.to_string(),
            at: at(minute),
            sent_by_warroom: key.starts_with("sent:"),
            opening: key.starts_with("sent:open:"),
        }
    }

    #[test]
    fn a_case_is_told_once_opening_first_without_aws_echoes() {
        const CALLER: &str = "arn:aws:iam::123456789012:user/warroom";
        let told = told_once(vec![
            // AWS's clock puts its copy of the opening a minute before warroom's record.
            recorded(
                19,
                false,
                CALLER,
                "Incident: x\r\nSeverity: SEV1 \n",
                "case-1:echo",
            ),
            recorded(
                20,
                false,
                "warroom",
                "Incident: x\nSeverity: SEV1",
                "sent:open:1",
            ),
            recorded(
                30,
                true,
                "Amazon Web Services",
                "We are looking",
                "case-1:aws",
            ),
            recorded(35, false, "U0BOB", "Thanks, failing over", "sent:cmd-7"),
            recorded(35, false, CALLER, "Thanks, failing over", "case-1:echo2"),
            recorded(
                40,
                false,
                "someone@example.com",
                "Written in the console",
                "case-1:other",
            ),
        ]);
        let seen: Vec<(CaseMessageKind, &str, &str)> = told
            .iter()
            .map(|m| (m.kind, m.from.as_str(), m.text.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    CaseMessageKind::Opening,
                    "warroom",
                    "Incident: x\nSeverity: SEV1"
                ),
                (CaseMessageKind::Aws, "AWS", "We are looking"),
                (CaseMessageKind::Sent, "U0BOB", "Thanks, failing over"),
                (
                    CaseMessageKind::Outside,
                    "someone@example.com",
                    "Written in the console"
                ),
            ]
        );
    }
}
