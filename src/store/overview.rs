//! Read-only views across incidents: what summaries, App Home and `/incident list` show.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::escalation::{awaiting_aws_from, AWS_LAST_REPLIED, FIRST_UNANSWERED};
use super::incidents::{from_row, COLUMNS};
use super::{fmt_time, parse_time, IncidentRecord, Store, StoreError, StoreResult};
use crate::domain::support::SupportSeverity;
use crate::domain::{EntryKind, IncidentId};

/// Where an open incident's AWS Support case stands, at a glance: what managers and
/// `/incident list` show beside the incident (AWS going quiet was one of the costly
/// blind spots in the reference write-ups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseGlance {
    /// The number AWS shows people (the case id when AWS gave none).
    pub display_id: String,
    pub severity: SupportSeverity,
    pub resolved: bool,
    /// Since when a customer message has waited for AWS; `None` when AWS answered last.
    pub awaiting_aws_since: Option<DateTime<Utc>>,
}

impl Store {
    /// Incidents resolved after `since` (and still resolved), most recent first.
    pub async fn resolved_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<IncidentRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM incidents
             WHERE status = 'resolved' AND resolved_at > ? ORDER BY resolved_at DESC"
        ))
        .bind(fmt_time(since))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The `limit` most recently resolved incidents.
    pub async fn recently_resolved(&self, limit: i64) -> StoreResult<Vec<IncidentRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM incidents
             WHERE status = 'resolved' ORDER BY resolved_at DESC, id DESC LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The latest opened AWS Support case of each open incident that has one.
    pub async fn case_glances(&self) -> StoreResult<HashMap<IncidentId, CaseGlance>> {
        let sql = format!(
            "SELECT c.incident_id, COALESCE(c.display_id, c.case_id), c.severity,
                    c.resolved_at IS NOT NULL,
                    COALESCE(c.opened_at, c.requested_at), {AWS_LAST_REPLIED}, {FIRST_UNANSWERED}
             FROM support_cases c JOIN incidents i ON i.id = c.incident_id
             WHERE i.status != 'resolved' AND c.case_id IS NOT NULL
               AND c.id = (SELECT MAX(id) FROM support_cases
                           WHERE incident_id = c.incident_id AND case_id IS NOT NULL)"
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let severity: String = r.try_get(2)?;
                let glance = CaseGlance {
                    display_id: r.try_get(1)?,
                    severity: severity.parse().map_err(|e| {
                        StoreError::Other(anyhow::anyhow!("support case severity: {e}"))
                    })?,
                    resolved: r.try_get(3)?,
                    awaiting_aws_since: awaiting_aws_from(r, 4)?,
                };
                Ok((IncidentId(r.try_get(0)?), glance))
            })
            .collect()
    }

    /// When each incident last had a stakeholder update (`/incident update`).
    pub async fn last_updates(&self) -> StoreResult<HashMap<IncidentId, DateTime<Utc>>> {
        let rows = sqlx::query(
            "SELECT incident_id, MAX(occurred_at) FROM timeline WHERE kind = ? GROUP BY incident_id",
        )
        .bind(EntryKind::Update.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    IncidentId(r.try_get(0)?),
                    parse_time(&r.try_get::<String, _>(1)?)?,
                ))
            })
            .collect()
    }

    /// Whether `user` took part in an incident: declared it, leads it, or spoke in it.
    pub async fn is_participant(&self, id: IncidentId, user: &str) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM incidents WHERE id = ?1 AND (declared_by = ?2 OR lead_user = ?2))
                 OR EXISTS (SELECT 1 FROM timeline WHERE incident_id = ?1 AND actor = ?2)",
        )
        .bind(id.0)
        .bind(user)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>(0)? != 0)
    }
}
