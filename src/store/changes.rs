//! "What changed before the alarm" on the timeline: each look-up is one key entry
//! (`aws_changes`) whose `data` is the whole [`ChangeReport`] as posted, so the AWS Support
//! case draft and the postmortem quote exactly what responders saw. No table of its own: the
//! timeline is the record, and its dedupe key makes a replayed look-up a no-op.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{fmt_time, Store, StoreError, StoreResult};
use crate::domain::changes::ChangeReport;
use crate::domain::{EntryKind, IncidentId};

/// The dedupe key of the look-up posted when an alarm opens a war room.
pub fn alarm_changes_key(incident: IncidentId) -> String {
    format!("changes:alarm:{}", incident.0)
}

impl Store {
    /// Record a look-up on the timeline (no-op when `dedupe_key` exists). `actor` is who
    /// asked (`None`: warroom on its own). Returns whether it was new.
    pub async fn record_changes(
        &self,
        incident: IncidentId,
        dedupe_key: &str,
        actor: Option<&str>,
        report: &ChangeReport,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let data = serde_json::to_string(report)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("cannot serialise changes: {e}")))?;
        let written = sqlx::query(
            "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, actor, text, key_event, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(incident.0)
        .bind(dedupe_key)
        .bind(EntryKind::AwsChanges.as_str())
        .bind(fmt_time(now))
        .bind(fmt_time(now))
        .bind(actor)
        .bind(report.summary())
        .bind(data)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1;
        Ok(written)
    }

    /// Every look-up recorded for `incident`, oldest first.
    pub async fn change_reports(&self, incident: IncidentId) -> StoreResult<Vec<ChangeReport>> {
        let rows = sqlx::query(
            "SELECT data FROM timeline
             WHERE incident_id = $1 AND kind = $2 AND data IS NOT NULL AND deleted_at IS NULL
             ORDER BY occurred_at, id",
        )
        .bind(incident.0)
        .bind(EntryKind::AwsChanges.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let text: String = row.try_get(0)?;
            match serde_json::from_str(&text) {
                Ok(r) => out.push(r),
                // Written by another version: the entry's text still tells the story.
                Err(e) => tracing::warn!(error = %e, "skipping unreadable changes data"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::changes::tests::{at, event};
    use crate::domain::changes::{rank, Finding, RegionChanges};
    use crate::domain::{Severity, UserId};
    use crate::store::test_support::temp_store;
    use crate::store::NewIncident;

    #[tokio::test]
    async fn a_look_up_is_recorded_once_and_read_back_whole() {
        let (store, _dir) = temp_store().await;
        let (record, _) = store
            .create_incident(
                &NewIncident {
                    source_key: "k".into(),
                    title: "t".into(),
                    severity: Severity::Sev2,
                    declared_by: UserId::parse("U1").unwrap(),
                    opened_at: at(10, 0),
                    channel_name: "inc-k".into(),
                },
                at(10, 0),
            )
            .await
            .unwrap();
        let id = record.incident.id;
        let events = vec![event("1", "UpdateService", at(9, 50), &["checkout"])];
        let report = ChangeReport {
            anchor: at(10, 0),
            anchor_label: "the alarm".into(),
            lookback_minutes: 120,
            alarm_name: Some("web-cpu".into()),
            regions: vec![RegionChanges {
                region: "eu-west-1".into(),
                changes: Finding::Found(rank(&events, &[], &[], at(8, 0), at(10, 0), false)),
            }],
            history: None,
            neighbours: Some(Finding::Failed("AWS did not answer".into())),
            maybe_incomplete: false,
        };
        let key = alarm_changes_key(id);
        assert!(store
            .record_changes(id, &key, None, &report, at(10, 1))
            .await
            .unwrap());
        assert!(
            !store
                .record_changes(id, &key, None, &report, at(10, 2))
                .await
                .unwrap(),
            "a replay is a no-op"
        );
        assert!(store.entry_exists(&key).await.unwrap());
        assert_eq!(store.change_reports(id).await.unwrap(), vec![report]);
        let entry = store
            .timeline(id)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.kind == EntryKind::AwsChanges)
            .unwrap();
        assert_eq!(
            entry.text,
            "Changes before the alarm: 1 change in the last 2h (UpdateService)"
        );
        assert!(entry.key_event);
    }
}
