//! Incidents: creation (idempotent by source), lookups, and applying domain changes together
//! with their timeline entry in one transaction.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::timers::enqueue_answerable;
use super::{fmt_time, parse_opt_time, parse_time, NewOutgoing, Store, StoreError, StoreResult};
use crate::domain::incident::Applied;
use crate::domain::{EntryKind, Incident, IncidentId, Severity, Status, UserId};

/// An incident plus where it lives in Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub incident: Incident,
    /// The channel name chosen (or being created).
    pub channel_name: String,
    /// Set once conversations.create succeeded.
    pub channel_id: Option<String>,
    /// The pinned header message, kept current with chat.update.
    pub header_ts: Option<String>,
    pub header_pinned: bool,
    pub members_invited: bool,
}

/// What is needed to open an incident.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// What opened it; a second create with the same key returns the first incident.
    pub source_key: String,
    pub title: String,
    pub severity: Severity,
    pub declared_by: UserId,
    pub opened_at: DateTime<Utc>,
    pub channel_name: String,
}

pub(super) const COLUMNS: &str =
    "id, title, severity, status, lead_user, declared_by, opened_at, resolved_at, \
                       channel_name, channel_id, header_ts, header_pinned, members_invited";

pub(super) fn from_row(row: &SqliteRow) -> StoreResult<IncidentRecord> {
    let bad = |what: &str, v: String| StoreError::Other(anyhow::anyhow!("bad stored {what}: {v}"));
    let severity: i64 = row.try_get("severity")?;
    let status: String = row.try_get("status")?;
    let lead: Option<String> = row.try_get("lead_user")?;
    let declared_by: String = row.try_get("declared_by")?;
    let incident = Incident {
        id: IncidentId(row.try_get("id")?),
        title: row.try_get("title")?,
        severity: Severity::from_level(severity)
            .ok_or_else(|| bad("severity", severity.to_string()))?,
        status: status
            .parse::<Status>()
            .map_err(|_| bad("status", status.clone()))?,
        lead: lead
            .map(|l| UserId::parse(&l).map_err(|_| bad("lead", l.clone())))
            .transpose()?,
        declared_by: UserId::parse(&declared_by)
            .map_err(|_| bad("declared_by", declared_by.clone()))?,
        opened_at: parse_time(&row.try_get::<String, _>("opened_at")?)?,
        resolved_at: parse_opt_time(row.try_get("resolved_at")?)?,
    };
    Ok(IncidentRecord {
        incident,
        channel_name: row.try_get("channel_name")?,
        channel_id: row.try_get("channel_id")?,
        header_ts: row.try_get("header_ts")?,
        header_pinned: row.try_get::<i64, _>("header_pinned")? != 0,
        members_invited: row.try_get::<i64, _>("members_invited")? != 0,
    })
}

impl Store {
    /// Open an incident and record its `declared` entry, atomically. Idempotent by
    /// `source_key`: returns `(record, false)` when it already existed.
    #[tracing::instrument(skip_all, fields(source = %new.source_key))]
    pub async fn create_incident(
        &self,
        new: &NewIncident,
        now: DateTime<Utc>,
    ) -> StoreResult<(IncidentRecord, bool)> {
        let mut tx = self.pool().begin().await?;
        let existing = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM incidents WHERE source_key = ?"
        ))
        .bind(&new.source_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            return Ok((from_row(&row)?, false));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO incidents (source_key, title, severity, status, lead_user, declared_by,
                                    opened_at, channel_name, updated_at)
             VALUES (?, ?, ?, 'investigating', ?, ?, ?, ?, ?)
             RETURNING {COLUMNS}"
        ))
        .bind(&new.source_key)
        .bind(&new.title)
        .bind(new.severity.level())
        .bind(new.declared_by.as_str())
        .bind(new.declared_by.as_str())
        .bind(fmt_time(new.opened_at))
        .bind(&new.channel_name)
        .bind(fmt_time(now))
        .fetch_one(&mut *tx)
        .await?;
        let record = from_row(&row)?;
        sqlx::query(
            "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, actor, text, key_event)
             VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
        )
        .bind(record.incident.id.0)
        .bind(format!("declared:{}", new.source_key))
        .bind(EntryKind::Declared.as_str())
        .bind(fmt_time(new.opened_at))
        .bind(fmt_time(now))
        .bind(new.declared_by.as_str())
        .bind(format!("declared {} {}", new.severity, new.title))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((record, true))
    }

    pub async fn incident(&self, id: IncidentId) -> StoreResult<IncidentRecord> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
        from_row(&row)
    }

    pub async fn incident_by_channel(
        &self,
        channel_id: &str,
    ) -> StoreResult<Option<IncidentRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM incidents WHERE channel_id = ?"
        ))
        .bind(channel_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Incidents newest first; only open ones when `open_only`.
    pub async fn incidents(&self, open_only: bool) -> StoreResult<Vec<IncidentRecord>> {
        let sql = if open_only {
            format!("SELECT {COLUMNS} FROM incidents WHERE status != 'resolved' ORDER BY severity, id DESC")
        } else {
            format!("SELECT {COLUMNS} FROM incidents ORDER BY id DESC")
        };
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Record the channel name about to be created (before the Slack call, so a crash
    /// between the call and [`Store::attach_channel`] can be recognised on retry).
    pub async fn set_channel_name(&self, id: IncidentId, name: &str) -> StoreResult<()> {
        self.update_field(id, "channel_name", Some(name)).await
    }

    pub async fn attach_channel(&self, id: IncidentId, channel_id: &str) -> StoreResult<()> {
        self.update_field(id, "channel_id", Some(channel_id)).await
    }

    pub async fn set_header(&self, id: IncidentId, ts: &str) -> StoreResult<()> {
        self.update_field(id, "header_ts", Some(ts)).await
    }

    pub async fn mark_header_pinned(&self, id: IncidentId) -> StoreResult<()> {
        self.update_field(id, "header_pinned", Some("1")).await
    }

    pub async fn mark_members_invited(&self, id: IncidentId) -> StoreResult<()> {
        self.update_field(id, "members_invited", Some("1")).await
    }

    // `column` is always one of the literals above, never user input.
    async fn update_field(
        &self,
        id: IncidentId,
        column: &str,
        value: Option<&str>,
    ) -> StoreResult<()> {
        let done = sqlx::query(&format!(
            "UPDATE incidents SET {column} = ?, updated_at = ? WHERE id = ?"
        ))
        .bind(value)
        .bind(fmt_time(Utc::now()))
        .bind(id.0)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("incident {id}")));
        }
        Ok(())
    }

    /// Persist a domain change and its timeline entry atomically. `dedupe_key` makes a
    /// replay (after a crash) a no-op: returns `false` when the change was already recorded.
    pub async fn apply_change(
        &self,
        applied: &Applied,
        dedupe_key: &str,
        actor: &UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.apply_change_with_notice(applied, dedupe_key, actor, None, None, None, now)
            .await
    }

    /// [`Store::apply_change`], with the change's channel notice put in the outbox in the
    /// same transaction, so a notice is neither lost to a failed post (the scheduler retries
    /// it) nor posted twice by a replay (which finds the change recorded and enqueues
    /// nothing). `refusal` is who to tell, and how, if Slack refuses the notice for good:
    /// its destination is the command's response_url. `also` is one more message (the
    /// status channel's), enqueued the same way, whose refusal nobody is told of.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all, fields(incident = %applied.incident.id, key = dedupe_key))]
    pub async fn apply_change_with_notice(
        &self,
        applied: &Applied,
        dedupe_key: &str,
        actor: &UserId,
        notice: Option<&NewOutgoing>,
        refusal: Option<&NewOutgoing>,
        also: Option<&NewOutgoing>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let detail = serde_json::to_string(&applied.detail)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("cannot serialise a change: {e}")))?;
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, actor, text, key_event, data)
             VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(applied.incident.id.0)
        .bind(dedupe_key)
        .bind(applied.entry.as_str())
        .bind(fmt_time(now))
        .bind(fmt_time(now))
        .bind(actor.as_str())
        .bind(&applied.summary)
        .bind(detail)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            let i = &applied.incident;
            sqlx::query(
                "UPDATE incidents SET title = ?, severity = ?, status = ?, lead_user = ?,
                        resolved_at = ?, updated_at = ? WHERE id = ?",
            )
            .bind(&i.title)
            .bind(i.severity.level())
            .bind(i.status.as_str())
            .bind(i.lead.as_ref().map(|l| l.as_str()))
            .bind(i.resolved_at.map(fmt_time))
            .bind(fmt_time(now))
            .bind(i.id.0)
            .execute(&mut *tx)
            .await?;
            if let Some(notice) = notice {
                enqueue_answerable(&mut tx, None, notice, refusal, now).await?;
            }
            if let Some(also) = also {
                enqueue_answerable(&mut tx, None, also, None, now).await?;
            }
        }
        tx.commit().await?;
        Ok(inserted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::incident::Change;
    use crate::store::test_support::temp_store;

    #[tokio::test]
    async fn a_change_and_its_notice_are_recorded_together_and_once() {
        let (store, _dir) = temp_store().await;
        let now = Utc::now();
        let alice = UserId::parse("U0ALICE").unwrap();
        let new = NewIncident {
            source_key: "cmd:1".into(),
            title: "Checkout errors".into(),
            severity: Severity::Sev2,
            declared_by: alice.clone(),
            opened_at: now,
            channel_name: "inc-checkout-errors".into(),
        };
        let (record, _) = store.create_incident(&new, now).await.unwrap();
        let applied = record
            .incident
            .apply(&Change::Severity(Severity::Sev1), now)
            .unwrap();
        let notice = NewOutgoing {
            destination: "C0INC".into(),
            text: "severity SEV2 → SEV1".into(),
            blocks: None,
        };
        let refusal = NewOutgoing {
            destination: "https://hooks.example/response".into(),
            text: "the change is recorded, but its notice could not be posted".into(),
            blocks: None,
        };
        for replay in [false, true] {
            let first = store
                .apply_change_with_notice(
                    &applied,
                    "cmd:2",
                    &alice,
                    Some(&notice),
                    Some(&refusal),
                    None,
                    now,
                )
                .await
                .unwrap();
            assert_eq!(first, !replay);
        }
        let outbox = store.pending_outbox(10).await.unwrap();
        assert_eq!(outbox.len(), 1, "a replay enqueues nothing: {outbox:?}");
        assert_eq!(outbox[0].destination, "C0INC");
        assert_eq!(outbox[0].sending_since, None);
        assert_eq!(
            outbox[0].refusal,
            Some((refusal.destination.clone(), refusal.text.clone()))
        );
        assert_eq!(
            store
                .incident(record.incident.id)
                .await
                .unwrap()
                .incident
                .severity,
            Severity::Sev1
        );
    }
}
