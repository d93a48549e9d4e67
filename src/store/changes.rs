//! "What changed before the alarm" on the timeline: each look-up is one key entry
//! (`aws_changes`) whose `data` is the whole [`ChangeReport`] as posted, so the AWS Support
//! case draft and the postmortem quote exactly what responders saw. No table of its own: the
//! timeline is the record, and its dedupe key makes a replayed look-up a no-op.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::timeline::{self, NewEntry};
use super::{Db, StoreError, StoreResult, Tx};
use crate::domain::changes::ChangeReport;
use crate::domain::{EntryKind, IncidentId};

/// The dedupe key of the look-up posted when an alarm opens a war room.
pub fn alarm_key(incident: IncidentId) -> String {
    format!("changes:alarm:{}", incident.0)
}

/// Record a look-up on the timeline, as a key entry whose data is the whole report (no-op
/// when `dedupe_key` exists). `actor` is who asked (`None`: warroom on its own). Returns
/// whether it was new.
pub async fn record(
    tx: &mut Tx,
    incident: IncidentId,
    dedupe_key: &str,
    actor: Option<&str>,
    report: &ChangeReport,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let data = serde_json::to_value(report)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("cannot serialise changes: {e}")))?;
    let entry = NewEntry {
        incident_id: incident,
        dedupe_key: dedupe_key.to_string(),
        kind: EntryKind::AwsChanges,
        occurred_at: now,
        actor: actor.map(str::to_string),
        text: report.summary(),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    timeline::insert_with_data(tx, &entry, Some(&data), now).await
}

/// Every look-up recorded for `incident`, oldest first.
pub async fn of_incident(db: Db<'_>, incident: IncidentId) -> StoreResult<Vec<ChangeReport>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT data FROM timeline
         WHERE incident_id = $1 AND kind = $2 AND data IS NOT NULL AND deleted_at IS NULL
         ORDER BY occurred_at, id",
    )
    .bind(incident.0)
    .bind(EntryKind::AwsChanges.as_str())
    .fetch_all(&mut *c)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::changes::tests::{at, event};
    use crate::domain::changes::{rank, Finding, RegionChanges};
    use crate::domain::{Severity, UserId};
    use crate::store::incidents::{self, NewIncident};
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    async fn a_look_up_is_recorded_once_and_read_back_whole(store: Store) {
        let mut tx = store.begin().await.unwrap();
        let (created, _) = incidents::create(
            &mut tx,
            &NewIncident {
                private: false,
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
        tx.commit().await.unwrap();
        let id = created.incident.id;
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
        let key = alarm_key(id);
        let mut tx = store.begin().await.unwrap();
        assert!(record(&mut tx, id, &key, None, &report, at(10, 1))
            .await
            .unwrap());
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(
            !record(&mut tx, id, &key, None, &report, at(10, 2))
                .await
                .unwrap(),
            "a replay is a no-op"
        );
        tx.commit().await.unwrap();
        assert!(timeline::exists(store.db(), &key).await.unwrap());
        assert_eq!(of_incident(store.db(), id).await.unwrap(), vec![report]);
        let entry = timeline::of_incident(store.db(), id)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.kind == EntryKind::AwsChanges)
            .unwrap();
        assert_eq!(
            entry.text,
            "Changes before the alarm: 1 change in the last 2h (UpdateService)"
        );
        assert_eq!(entry.occurred_at, at(10, 1), "the replay changed nothing");
        assert!(entry.key_event);
    }

    on_both_backends!(a_look_up_is_recorded_once_and_read_back_whole);
}
