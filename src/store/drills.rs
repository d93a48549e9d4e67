//! Drills: the `drills` row beside a drill's incident (negative id), the dry-run case, and
//! the scorecards kept for comparison.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::incidents::{self, NewIncident};
use super::{bad, fmt_time, parse_opt_time, parse_time, Db, StoreResult, Tx};
use crate::domain::drill::{DryRunCase, Scorecard};
use crate::domain::{IncidentId, IncidentRecord};

/// What only a drill has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drill {
    pub incident_id: IncidentId,
    /// The request that started it; a replay finds the drill by it.
    pub source_key: String,
    /// The alarm route rehearsed.
    pub route: String,
    /// Started with `--real-case` by a member of the AWS Support user group.
    pub real_case: bool,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// The synthetic alarm's post is done.
    pub first_post_ts: Option<String>,
    /// When a dry-run case was shown (the AWS decision, as far as the clocks go).
    pub dry_run_at: Option<DateTime<Utc>>,
    pub dry_run: Option<DryRunCase>,
    pub scorecard: Option<Scorecard>,
}

const COLUMNS: &str = "incident_id, source_key, route, real_case, requested_by, requested_at, \
     first_post_ts, dry_run_at, dry_run_by, dry_run_severity, dry_run_subject, dry_run_body, \
     scorecard";

fn from_row(row: &AnyRow) -> StoreResult<Drill> {
    let dry_run_at = parse_opt_time(row.try_get("dry_run_at")?)?;
    let severity: Option<String> = row.try_get("dry_run_severity")?;
    let dry_run = match (dry_run_at, severity) {
        (Some(_), Some(sev)) => Some(DryRunCase {
            by: row
                .try_get::<Option<String>, _>("dry_run_by")?
                .unwrap_or_default(),
            severity: sev.parse().map_err(|_| bad("dry-run severity", &sev))?,
            subject: row
                .try_get::<Option<String>, _>("dry_run_subject")?
                .unwrap_or_default(),
            body: row
                .try_get::<Option<String>, _>("dry_run_body")?
                .unwrap_or_default(),
        }),
        _ => None,
    };
    let scorecard = match row.try_get::<Option<String>, _>("scorecard")? {
        Some(json) => Some(serde_json::from_str(&json).map_err(|e| bad("scorecard", e))?),
        None => None,
    };
    Ok(Drill {
        incident_id: IncidentId(row.try_get("incident_id")?),
        source_key: row.try_get("source_key")?,
        route: row.try_get("route")?,
        real_case: row.try_get::<i64, _>("real_case")? != 0,
        requested_by: row.try_get("requested_by")?,
        requested_at: parse_time(&row.try_get::<String, _>("requested_at")?)?,
        first_post_ts: row.try_get("first_post_ts")?,
        dry_run_at,
        dry_run,
        scorecard,
    })
}

/// A new drill: its incident (the next negative id) with the `declared` entry, and its
/// row. Idempotent by `new.source_key`: `(record, false)` when it already existed.
pub async fn create(
    tx: &mut Tx,
    new: &NewIncident,
    route: &str,
    real_case: bool,
    requested_by: &str,
    now: DateTime<Utc>,
) -> StoreResult<(IncidentRecord, bool)> {
    let (record, created) = incidents::create_drill(tx, new, now).await?;
    if created {
        sqlx::query(
            "INSERT INTO drills (incident_id, source_key, route, real_case, requested_by,
                                 requested_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.incident.id.0)
        .bind(&new.source_key)
        .bind(route)
        .bind(i64::from(real_case))
        .bind(requested_by)
        .bind(fmt_time(now))
        .execute(tx.conn())
        .await?;
    }
    Ok((record, created))
}

/// The drill of this incident; `None` for a real incident.
pub async fn get(db: Db<'_>, id: IncidentId) -> StoreResult<Option<Drill>> {
    if !id.is_drill() {
        return Ok(None);
    }
    let mut c = db.conn().await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM drills WHERE incident_id = $1"
    ))
    .bind(id.0)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The drill a request started, if it did.
pub async fn by_source(db: Db<'_>, source_key: &str) -> StoreResult<Option<Drill>> {
    let mut c = db.conn().await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM drills WHERE source_key = $1"
    ))
    .bind(source_key)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Whether this channel is a drill's war room (its posts are marked DRILL).
pub async fn is_drill_channel(db: Db<'_>, channel_id: &str) -> StoreResult<bool> {
    let mut c = db.conn().await?;
    let row = sqlx::query("SELECT id FROM incidents WHERE channel_id = $1 AND id < 0")
        .bind(channel_id)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.is_some())
}

/// The synthetic alarm's post is done.
pub async fn set_first_post(tx: &mut Tx, id: IncidentId, ts: &str) -> StoreResult<()> {
    sqlx::query("UPDATE drills SET first_post_ts = $2 WHERE incident_id = $1")
        .bind(id.0)
        .bind(ts)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Keep the case a drill would have opened. The first dry run stands (a second one is
/// refused as "already opened", like a real case).
pub async fn record_dry_run(
    tx: &mut Tx,
    id: IncidentId,
    case: &DryRunCase,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE drills SET dry_run_at = $2, dry_run_by = $3, dry_run_severity = $4,
                           dry_run_subject = $5, dry_run_body = $6
         WHERE incident_id = $1 AND dry_run_at IS NULL",
    )
    .bind(id.0)
    .bind(fmt_time(at))
    .bind(&case.by)
    .bind(case.severity.code())
    .bind(&case.subject)
    .bind(&case.body)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(done > 0)
}

/// Keep a resolved drill's scorecard (the latest resolve's).
pub async fn set_scorecard(tx: &mut Tx, id: IncidentId, card: &Scorecard) -> StoreResult<()> {
    let json = serde_json::to_string(card).map_err(|e| bad("scorecard", e))?;
    sqlx::query("UPDATE drills SET scorecard = $2 WHERE incident_id = $1")
        .bind(id.0)
        .bind(json)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The scorecards of the `limit` latest drills on `route` before `before`, newest first.
pub async fn previous_scorecards(
    db: Db<'_>,
    route: &str,
    before: IncidentId,
    limit: i64,
) -> StoreResult<Vec<Scorecard>> {
    let mut c = db.conn().await?;
    // Drill ids count down: an earlier drill has a larger (less negative) id.
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM drills
         WHERE route = $1 AND incident_id > $2 AND scorecard IS NOT NULL
         ORDER BY incident_id LIMIT $3"
    ))
    .bind(route)
    .bind(before.0)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| from_row(r).map(|d| d.scorecard))
        .filter_map(|r| r.transpose())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Severity, UserId};
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    fn new(key: &str) -> NewIncident {
        let at = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        NewIncident {
            private: false,
            source_key: key.to_string(),
            title: key.to_string(),
            severity: Severity::Sev2,
            declared_by: UserId::parse("UBOT").unwrap(),
            opened_at: at,
            channel_name: format!("x-{key}"),
        }
    }

    /// Drills count down from -1, real incidents up from 1 whichever comes first, and a
    /// replayed request opens nothing new.
    async fn drills_and_incidents_are_numbered_apart(store: Store) {
        let now = chrono::Utc::now();
        let mut tx = store.begin().await.unwrap();
        let (d1, _) = create(&mut tx, &new("d1"), "api", false, "U1", now)
            .await
            .unwrap();
        let (d2, _) = create(&mut tx, &new("d2"), "api", true, "U1", now)
            .await
            .unwrap();
        let (again, created) = create(&mut tx, &new("d1"), "api", false, "U1", now)
            .await
            .unwrap();
        let (i1, _) = incidents::create(&mut tx, &new("i1"), now).await.unwrap();
        let (i2, _) = incidents::create(&mut tx, &new("i2"), now).await.unwrap();
        let (d3, _) = create(&mut tx, &new("d3"), "api", false, "U1", now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let ids: Vec<i64> = [&d1, &d2, &i1, &i2, &d3]
            .iter()
            .map(|r| r.incident.id.0)
            .collect();
        assert_eq!(ids, vec![-1, -2, 1, 2, -3]);
        assert!(!created);
        assert_eq!(again.incident.id, d1.incident.id);
        let drill = get(store.db(), IncidentId(-2)).await.unwrap().unwrap();
        assert!(drill.real_case);
        assert_eq!(drill.route, "api");
        assert!(get(store.db(), IncidentId(1)).await.unwrap().is_none());
    }
    on_both_backends!(drills_and_incidents_are_numbered_apart);
}
