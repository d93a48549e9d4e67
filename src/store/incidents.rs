//! Incidents: creation (idempotent by source), lookups, the war room's set-up steps, and
//! saving a domain change.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::timeline::{self, NewEntry};
use super::{bad, fmt_time, parse_opt_time, parse_time, Db, StoreError, StoreResult, Tx};
use crate::domain::{
    ChannelId, EntryKind, Incident, IncidentId, IncidentRecord, Severity, Status, Ts, UserId,
};

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
    /// A private incident: a private channel, and only the redacted line elsewhere.
    pub private: bool,
}

/// One step of setting up the war room, recorded as it is done so a replay resumes.
#[derive(Debug, Clone, Copy)]
pub enum SetUp<'a> {
    /// The channel name about to be created (before the Slack call, so a crash between
    /// the call and [`SetUp::Channel`] can be recognised on retry).
    ChannelName(&'a str),
    /// conversations.create succeeded.
    Channel(&'a ChannelId),
    /// The header message was posted.
    Header(&'a Ts),
    HeaderPinned,
    MembersInvited,
}

pub(super) const COLUMNS: &str =
    "id, title, severity, status, lead_user, declared_by, opened_at, resolved_at, \
     channel_name, channel_id, header_ts, header_pinned, members_invited, private, incident_type";

pub(super) fn from_row(row: &AnyRow) -> StoreResult<IncidentRecord> {
    let severity: i64 = row.try_get("severity")?;
    let status: String = row.try_get("status")?;
    let lead: Option<String> = row.try_get("lead_user")?;
    let declared_by: String = row.try_get("declared_by")?;
    let incident = Incident {
        id: IncidentId(row.try_get("id")?),
        title: row.try_get("title")?,
        severity: Severity::from_level(severity).ok_or_else(|| bad("severity", severity))?,
        status: status
            .parse::<Status>()
            .map_err(|_| bad("status", &status))?,
        lead: lead
            .map(|l| UserId::parse(&l).map_err(|_| bad("lead", &l)))
            .transpose()?,
        declared_by: UserId::parse(&declared_by).map_err(|_| bad("declared_by", &declared_by))?,
        opened_at: parse_time(&row.try_get::<String, _>("opened_at")?)?,
        resolved_at: parse_opt_time(row.try_get("resolved_at")?)?,
    };
    Ok(IncidentRecord {
        incident,
        channel_name: row.try_get("channel_name")?,
        channel_id: row
            .try_get::<Option<String>, _>("channel_id")?
            .map(ChannelId::new),
        header_ts: row.try_get::<Option<String>, _>("header_ts")?.map(Ts::new),
        header_pinned: row.try_get::<i64, _>("header_pinned")? != 0,
        members_invited: row.try_get::<i64, _>("members_invited")? != 0,
        private: row.try_get::<i64, _>("private")? != 0,
        incident_type: row.try_get("incident_type")?,
    })
}

/// Open an incident with its `declared` entry. Idempotent by `source_key`: returns
/// `(record, false)` when it already existed.
#[tracing::instrument(skip_all, fields(source = %new.source_key))]
pub async fn create(
    tx: &mut Tx,
    new: &NewIncident,
    now: DateTime<Utc>,
) -> StoreResult<(IncidentRecord, bool)> {
    insert(tx, new, false, now).await
}

/// [`create`] for a drill: the incident gets the next negative id.
pub(super) async fn create_drill(
    tx: &mut Tx,
    new: &NewIncident,
    now: DateTime<Utc>,
) -> StoreResult<(IncidentRecord, bool)> {
    insert(tx, new, true, now).await
}

async fn insert(
    tx: &mut Tx,
    new: &NewIncident,
    drill_id: bool,
    now: DateTime<Utc>,
) -> StoreResult<(IncidentRecord, bool)> {
    let existing = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM incidents WHERE source_key = $1"
    ))
    .bind(&new.source_key)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(row) = existing {
        return Ok((from_row(&row)?, false));
    }
    // A drill takes the next negative id (-1, -2, …); the leader alone writes, and the
    // primary key refuses a duplicate anyway. Real incidents keep their own numbering.
    let id_sql = if drill_id {
        "(SELECT COALESCE(MIN(CASE WHEN id < 0 THEN id ELSE 0 END), 0) - 1 FROM incidents)"
    } else {
        super::dialect::new_incident_id(tx.backend())
    };
    let row = sqlx::query(&format!(
        "INSERT INTO incidents (id, source_key, title, severity, status, lead_user,
                                declared_by, opened_at, channel_name, updated_at, private)
         VALUES ({id_sql}, $1, $2, $3, 'investigating', $4, $5, $6, $7, $8, $9)
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
    .bind(i64::from(new.private))
    .fetch_one(tx.conn())
    .await?;
    let record = from_row(&row)?;
    let declared = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: format!("declared:{}", new.source_key),
        kind: EntryKind::Declared,
        occurred_at: new.opened_at,
        actor: Some(new.declared_by.as_str().to_string()),
        text: format!("declared {} {}", new.severity, new.title),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    timeline::insert(tx, &declared, now).await?;
    Ok((record, true))
}

pub async fn get(db: Db<'_>, id: IncidentId) -> StoreResult<IncidentRecord> {
    let mut c = db.conn().await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    from_row(&row)
}

/// The incident whose war room is `channel_id`, if any.
pub async fn by_channel(db: Db<'_>, channel_id: &str) -> StoreResult<Option<IncidentRecord>> {
    let mut c = db.conn().await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM incidents WHERE channel_id = $1"
    ))
    .bind(channel_id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Incidents newest first; only open ones (worst severity first) when `open_only`.
pub async fn list(db: Db<'_>, open_only: bool) -> StoreResult<Vec<IncidentRecord>> {
    let sql = if open_only {
        format!(
            "SELECT {COLUMNS} FROM incidents WHERE status != 'resolved' ORDER BY severity, id DESC"
        )
    } else {
        format!("SELECT {COLUMNS} FROM incidents ORDER BY id DESC")
    };
    let mut c = db.conn().await?;
    let rows = sqlx::query(&sql).fetch_all(&mut *c).await?;
    rows.iter().map(from_row).collect()
}

/// Open incidents' ids, oldest first.
pub async fn open_ids(db: Db<'_>) -> StoreResult<Vec<IncidentId>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query("SELECT id FROM incidents WHERE status != 'resolved' ORDER BY id")
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|r| Ok(IncidentId(r.try_get(0)?))).collect()
}

/// Incidents resolved after `since` (and still resolved), most recent first.
pub async fn resolved_since(db: Db<'_>, since: DateTime<Utc>) -> StoreResult<Vec<IncidentRecord>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM incidents
         WHERE status = 'resolved' AND resolved_at > $1 ORDER BY resolved_at DESC"
    ))
    .bind(fmt_time(since))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The `limit` most recently resolved incidents.
pub async fn recently_resolved(db: Db<'_>, limit: i64) -> StoreResult<Vec<IncidentRecord>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM incidents
         WHERE status = 'resolved' ORDER BY resolved_at DESC, id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Whether `user` took part in an incident: declared it, leads it, or spoke in it.
pub async fn is_participant(db: Db<'_>, id: IncidentId, user: &str) -> StoreResult<bool> {
    let mut c = db.conn().await?;
    let row = sqlx::query(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM incidents
                                  WHERE id = $1 AND (declared_by = $2 OR lead_user = $2))
                       OR EXISTS (SELECT 1 FROM timeline WHERE incident_id = $1 AND actor = $2)
                THEN 1 ELSE 0 END",
    )
    .bind(id.0)
    .bind(user)
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get::<i64, _>(0)? != 0)
}

/// Record a step of the war room's set-up.
pub async fn set_up(tx: &mut Tx, id: IncidentId, step: SetUp<'_>) -> StoreResult<()> {
    // `column` is one of these literals, never input.
    let (column, text) = match step {
        SetUp::ChannelName(name) => ("channel_name", Some(name)),
        SetUp::Channel(channel) => ("channel_id", Some(channel.as_str())),
        SetUp::Header(ts) => ("header_ts", Some(ts.as_str())),
        SetUp::HeaderPinned => ("header_pinned", None),
        SetUp::MembersInvited => ("members_invited", None),
    };
    let sql = format!("UPDATE incidents SET {column} = $1, updated_at = $2 WHERE id = $3");
    let q = sqlx::query(&sql);
    let q = match text {
        Some(t) => q.bind(t),
        None => q.bind(1_i64),
    };
    let done = q
        .bind(fmt_time(Utc::now()))
        .bind(id.0)
        .execute(tx.conn())
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("incident {id}")));
    }
    Ok(())
}

/// Save the incident's state after a domain change (its timeline entry is the caller's).
pub async fn save(tx: &mut Tx, i: &Incident, now: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "UPDATE incidents SET title = $1, severity = $2, status = $3, lead_user = $4,
                resolved_at = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(&i.title)
    .bind(i.severity.level())
    .bind(i.status.as_str())
    .bind(i.lead.as_ref().map(|l| l.as_str()))
    .bind(i.resolved_at.map(fmt_time))
    .bind(fmt_time(now))
    .bind(i.id.0)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Nobody leads an incident an alarm opened until someone takes it (`/incident lead`).
pub async fn clear_bot_lead(tx: &mut Tx, id: IncidentId) -> StoreResult<()> {
    sqlx::query("UPDATE incidents SET lead_user = NULL WHERE id = $1 AND lead_user = declared_by")
        .bind(id.0)
        .execute(tx.conn())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::incident::Change;
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    fn new_incident(key: &str, now: DateTime<Utc>) -> NewIncident {
        NewIncident {
            private: false,
            source_key: key.into(),
            title: "Checkout errors".into(),
            severity: Severity::Sev2,
            declared_by: UserId::parse("U0ALICE").unwrap(),
            opened_at: now,
            channel_name: "inc-checkout-errors".into(),
        }
    }

    async fn an_incident_is_created_once_per_source_with_its_declared_entry(store: Store) {
        let now = Utc::now();
        for replay in [false, true] {
            let mut tx = store.begin().await.unwrap();
            let (record, created) = create(&mut tx, &new_incident("cmd:1", now), now)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(created, !replay);
            assert_eq!(
                record.incident.lead,
                Some(UserId::parse("U0ALICE").unwrap())
            );
        }
        let all = list(store.db(), false).await.unwrap();
        assert_eq!(all.len(), 1);
        let entries = timeline::of_incident(store.db(), all[0].incident.id)
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].kind, EntryKind::Declared);
        assert_eq!(entries[0].text, "declared SEV2 Checkout errors");
    }

    async fn set_up_steps_and_changes_are_saved(store: Store) {
        let now = Utc::now();
        let mut tx = store.begin().await.unwrap();
        let (record, _) = create(&mut tx, &new_incident("cmd:1", now), now)
            .await
            .unwrap();
        let id = record.incident.id;
        for step in [
            SetUp::ChannelName("inc-checkout-errors-2"),
            SetUp::Channel(&ChannelId::new("C0INC")),
            SetUp::Header(&Ts::new("1800000000.000100")),
            SetUp::HeaderPinned,
            SetUp::MembersInvited,
        ] {
            set_up(&mut tx, id, step).await.unwrap();
        }
        let applied = record
            .incident
            .apply(&Change::Severity(Severity::Sev1), now)
            .unwrap();
        save(&mut tx, &applied.incident, now).await.unwrap();
        tx.commit().await.unwrap();
        let got = by_channel(store.db(), "C0INC").await.unwrap().unwrap();
        assert_eq!(got.channel_name, "inc-checkout-errors-2");
        assert_eq!(got.header_ts.as_deref(), Some("1800000000.000100"));
        assert!(got.header_pinned && got.members_invited);
        assert_eq!(got.incident.severity, Severity::Sev1);
        assert_eq!(list(store.db(), true).await.unwrap().len(), 1);
        assert!(is_participant(store.db(), id, "U0ALICE").await.unwrap());
        assert!(!is_participant(store.db(), id, "U0BOB").await.unwrap());
        let mut tx = store.begin().await.unwrap();
        let missing = set_up(&mut tx, IncidentId(99), SetUp::HeaderPinned).await;
        assert!(matches!(missing, Err(StoreError::NotFound(_))));
    }

    on_both_backends!(
        an_incident_is_created_once_per_source_with_its_declared_entry,
        set_up_steps_and_changes_are_saved,
    );
}
