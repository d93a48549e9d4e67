//! Read-only views across incidents: what summaries, App Home and `/incident list` show.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::incidents::{from_row, COLUMNS};
use super::{fmt_time, parse_time, IncidentRecord, Store, StoreResult};
use crate::domain::{EntryKind, IncidentId};

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
