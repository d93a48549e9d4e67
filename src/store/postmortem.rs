//! Everything a postmortem draft is built from, read in one go: the incident, its whole
//! timeline, the structured `data` of its change entries, its action items, and what is
//! known from AWS (alarms, Support cases, Health events, graphs).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::actions::ActionItem;
use super::{IncidentRecord, Store, StoreResult, TimelineEntry};
use crate::domain::IncidentId;

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
    /// Oldest first, as [`Store::timeline`] returns it.
    pub entries: Vec<TimelineEntry>,
    /// `timeline.data` by entry id, for entries that have it (changes, action items).
    pub details: HashMap<i64, serde_json::Value>,
    pub actions: Vec<ActionItem>,
    pub evidence: Evidence,
}

impl Store {
    pub async fn postmortem_source(&self, id: IncidentId) -> StoreResult<PostmortemSource> {
        let record = self.incident(id).await?;
        let entries = self.timeline(id).await?;
        let rows =
            sqlx::query("SELECT id, data FROM timeline WHERE incident_id = ? AND data IS NOT NULL")
                .bind(id.0)
                .fetch_all(self.pool())
                .await?;
        let mut details = HashMap::with_capacity(rows.len());
        for row in rows {
            let entry: i64 = row.try_get(0)?;
            let text: String = row.try_get(1)?;
            match serde_json::from_str(&text) {
                Ok(value) => {
                    details.insert(entry, value);
                }
                // Unreadable detail: the entry's text still tells the story.
                Err(e) => tracing::warn!(entry, error = %e, "skipping unreadable timeline data"),
            }
        }
        let actions = self.actions(id).await?;
        let evidence = self.evidence(id).await?;
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
    async fn evidence(&self, id: IncidentId) -> StoreResult<Evidence> {
        let alarms = self
            .incident_alarm_transitions(id)
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
        let health_events = self
            .health_events_seen(id)
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
        for case in self.incident_cases(id).await? {
            let Some(case_id) = case.case_id.clone() else {
                continue; // never opened at AWS (failed): the timeline tells that story
            };
            let communications = self
                .case_communications(case.row)
                .await?
                .into_iter()
                .map(|c| CaseMessage {
                    at: c.at,
                    from: if c.from_aws {
                        "AWS".to_string()
                    } else if c.sent_by_warroom {
                        c.submitted_by
                    } else {
                        format!("{} (Support Center)", c.submitted_by)
                    },
                    text: c.body,
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
}
