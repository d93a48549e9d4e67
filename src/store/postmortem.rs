//! Everything a postmortem draft is built from, read in one go: the incident, its whole
//! timeline, the structured `data` of its change entries, its action items, and what is
//! known from AWS (alarms, Support cases, Health events, graphs).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{actions, alarms, escalation, incidents, timeline, Db, StoreResult};
use crate::domain::{ActionItem, IncidentId, IncidentRecord, TimelineEntry};

/// An alarm transition (recorded by the alarms feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmEvent {
    pub name: String,
    /// `ALARM`, `OK`, `INSUFFICIENT_DATA`.
    pub state: String,
    pub at: DateTime<Utc>,
    pub region: String,
    pub metric: Option<String>,
    pub description: Option<String>,
}

/// An AWS Support case and its correspondence (recorded by the escalation feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCase {
    pub id: String,
    pub severity: String,
    pub subject: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub communications: Vec<CaseMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseMessage {
    pub at: DateTime<Utc>,
    /// `AWS` or the person who wrote.
    pub from: String,
    pub text: String,
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

/// A graph image posted for an alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub title: String,
    pub url: String,
}

/// What warroom knows about the incident from AWS. Empty until the alarm and escalation
/// features record it (they fill it in [`Store::postmortem_source`]); the draft then says
/// "none recorded" in those sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
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
}

/// Everything a postmortem draft of incident `id` is built from, read on one connection.
pub async fn source(db: Db<'_>, id: IncidentId) -> StoreResult<PostmortemSource> {
    let mut c = db.conn().await?;
    let record = incidents::get(c.db(), id).await?;
    let entries = timeline::of_incident(c.db(), id).await?;
    let details = timeline::data_of_incident(c.db(), id).await?;
    let actions = actions::of_incident(c.db(), id).await?;
    let evidence = evidence(c.db(), id).await?;
    Ok(PostmortemSource {
        record,
        entries,
        details,
        actions,
        evidence,
    })
}

/// What warroom recorded from AWS for the incident: its alarm transitions, the AWS
/// Health events seen while it was open, and its Support cases with their correspondence.
async fn evidence(db: Db<'_>, id: IncidentId) -> StoreResult<Evidence> {
    let mut c = db.conn().await?;
    let alarms = alarms::of_incident(c.db(), id)
        .await?
        .into_iter()
        .map(|t| {
            // `Average of CPUUtilization > 80 (period 5m)`, or a composite's rule.
            let metric = match (&t.alarm.namespace, t.alarm.condition()) {
                (Some(ns), Some(cond)) => Some(format!("{ns}: {cond}")),
                (None, cond) => cond,
                (Some(ns), None) => Some(ns.clone()),
            };
            AlarmEvent {
                name: t.alarm.name,
                state: t.alarm.state.as_str().to_string(),
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
        let communications = escalation::communications(c.db(), case.row)
            .await?
            .into_iter()
            .map(|m| CaseMessage {
                at: m.at,
                from: if m.from_aws {
                    "AWS".to_string()
                } else if m.sent_by_warroom {
                    m.submitted_by
                } else {
                    format!("{} (Support Center)", m.submitted_by)
                },
                text: m.body,
            })
            .collect();
        aws_cases.push(AwsCase {
            id: case.display_id.unwrap_or(case_id),
            severity: case.severity.code().to_string(),
            subject: case.subject,
            status: case.status,
            opened_at: case.opened_at.unwrap_or(case.requested_at),
            communications,
        });
    }
    Ok(Evidence {
        alarms,
        aws_cases,
        health_events,
        graphs: Vec::new(),
    })
}
