//! Alarm transitions, their links to incidents, the war-room steps of alarm-opened
//! incidents, and AWS Health events seen.
//!
//! A transition is unique by alarm ARN + StateUpdatedTimestamp and is written before
//! anything is posted. Routing and correlation decisions are written in one transaction with
//! the alarm link and the timeline entry (keyed `alarm:<transition id>`), so replaying a
//! decision after a crash is a no-op.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::timeline::{self, NewEntry};
use super::{
    bad, fmt_time, parse_opt_time, parse_time, value_rows, Db, StoreError, StoreResult, Tx,
};
use crate::domain::alarm::{Alarm, AlarmState};
use crate::domain::correlation::OpenLink;
use crate::domain::health_service::HealthEvent;
use crate::domain::{EntryKind, IncidentId};

/// What became of a transition.
pub mod outcome {
    /// It opened an incident.
    pub const OPENED: &str = "opened";
    /// It joined an open incident on the same route.
    pub const JOINED: &str = "joined";
    /// The same alarm fired again within its open incident.
    pub const REPEAT: &str = "repeat";
    /// OK / INSUFFICIENT_DATA for an alarm of an open incident.
    pub const RECOVERED: &str = "recovered";
    /// Its route does not open incidents.
    pub const IGNORED: &str = "ignored";
    /// A recovery of an alarm no open incident has.
    pub const UNLINKED: &str = "unlinked";
}

/// A recorded transition.
#[derive(Debug, Clone)]
pub struct AlarmTransition {
    pub id: i64,
    pub alarm: Alarm,
    pub recorded_at: DateTime<Utc>,
    pub outcome: Option<String>,
    pub route: Option<String>,
    pub incident_id: Option<IncidentId>,
    pub posted_at: Option<DateTime<Utc>>,
}

/// An incident an alarm opened, with its alarm-specific war-room steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmIncident {
    pub incident_id: IncidentId,
    pub transition_id: i64,
    pub route: String,
    pub first_post_ts: Option<String>,
    pub graph_done: bool,
    pub health_service: Option<String>,
    pub health_region: Option<String>,
    pub health_checked_at: Option<DateTime<Utc>>,
    pub retry_at: Option<DateTime<Utc>>,
    pub attempts: i64,
}

/// An alarm of an open incident that is still in ALARM (watched for recovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedAlarm {
    pub incident_id: IncidentId,
    pub arn: String,
    pub name: String,
    pub region: String,
}

/// What was decided about a transition.
#[derive(Debug, Clone, Copy)]
pub struct Decided<'a> {
    /// One of [`outcome`].
    pub outcome: &'a str,
    pub route: Option<&'a str>,
    pub incident: Option<IncidentId>,
    /// Nothing left to post for it (ignored, unlinked).
    pub posted: bool,
}

const TRANSITION_COLUMNS: &str = "id, alarm, recorded_at, outcome, route, incident_id, posted_at";

const ALARM_INCIDENT_COLUMNS: &str = "incident_id, transition_id, route, first_post_ts, \
     graph_done_at, health_service, health_region, health_checked_at, retry_at, attempts";

fn transition_from_row(row: &AnyRow) -> StoreResult<AlarmTransition> {
    let json: String = row.try_get("alarm")?;
    let alarm: Alarm = serde_json::from_str(&json).map_err(|e| bad("alarm", e))?;
    Ok(AlarmTransition {
        id: row.try_get("id")?,
        alarm,
        recorded_at: parse_time(&row.try_get::<String, _>("recorded_at")?)?,
        outcome: row.try_get("outcome")?,
        route: row.try_get("route")?,
        incident_id: row
            .try_get::<Option<i64>, _>("incident_id")?
            .map(IncidentId),
        posted_at: parse_opt_time(row.try_get("posted_at")?)?,
    })
}

fn alarm_incident_from_row(row: &AnyRow) -> StoreResult<AlarmIncident> {
    Ok(AlarmIncident {
        incident_id: IncidentId(row.try_get("incident_id")?),
        transition_id: row.try_get("transition_id")?,
        route: row.try_get("route")?,
        first_post_ts: row.try_get("first_post_ts")?,
        graph_done: row.try_get::<Option<String>, _>("graph_done_at")?.is_some(),
        health_service: row.try_get("health_service")?,
        health_region: row.try_get("health_region")?,
        health_checked_at: parse_opt_time(row.try_get("health_checked_at")?)?,
        retry_at: parse_opt_time(row.try_get("retry_at")?)?,
        attempts: row.try_get("attempts")?,
    })
}

/// Transitions looked up per query in [`known`]: two bound values each.
const KNOWN_PER_QUERY: usize = 400;

/// Which of `transitions` (alarm ARN, StateUpdatedTimestamp) are recorded already, in
/// their order. Every poll asks this of every alarm in ALARM, so it is one query per
/// [`KNOWN_PER_QUERY`] rather than one per alarm (BENCHMARKS.md, finding 8).
pub async fn known(db: Db<'_>, transitions: &[(&str, DateTime<Utc>)]) -> StoreResult<Vec<bool>> {
    let keys: Vec<(&str, String)> = transitions
        .iter()
        .map(|(arn, at)| (*arn, fmt_time(*at)))
        .collect();
    let mut found = std::collections::HashSet::new();
    let mut c = db.conn().await?;
    for chunk in keys.chunks(KNOWN_PER_QUERY) {
        let sql = format!(
            "SELECT alarm_arn, state_updated_at FROM alarm_transitions
             WHERE (alarm_arn, state_updated_at) IN (VALUES {})",
            value_rows(chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for (arn, at) in chunk {
            q = q.bind(*arn).bind(at.as_str());
        }
        for row in q.fetch_all(&mut *c).await? {
            found.insert((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
        }
    }
    Ok(keys
        .into_iter()
        .map(|(arn, at)| found.contains(&(arn.to_string(), at)))
        .collect())
}

/// Record a transition before anything else happens with it. Returns `false` when it was
/// already recorded (a later poll, or a restart, seeing it again).
#[tracing::instrument(skip_all, fields(alarm = %alarm.name))]
pub async fn record(tx: &mut Tx, alarm: &Alarm, now: DateTime<Utc>) -> StoreResult<bool> {
    let json = serde_json::to_string(alarm)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("cannot serialise an alarm: {e}")))?;
    let done = sqlx::query(
        "INSERT INTO alarm_transitions (alarm_arn, state_updated_at, state, alarm_name, region,
                                        alarm, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (alarm_arn, state_updated_at) DO NOTHING",
    )
    .bind(&alarm.arn)
    .bind(fmt_time(alarm.state_updated_at))
    .bind(alarm.state.as_str())
    .bind(&alarm.name)
    .bind(&alarm.region)
    .bind(json)
    .bind(fmt_time(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Transitions not yet routed and correlated, oldest first.
pub async fn undecided(db: Db<'_>, limit: i64) -> StoreResult<Vec<AlarmTransition>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(&format!(
        "SELECT {TRANSITION_COLUMNS} FROM alarm_transitions
         WHERE decided_at IS NULL ORDER BY id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(transition_from_row).collect()
}

pub async fn transition(db: Db<'_>, id: i64) -> StoreResult<AlarmTransition> {
    let mut c = db.conn().await?;
    let row = sqlx::query(&format!(
        "SELECT {TRANSITION_COLUMNS} FROM alarm_transitions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("alarm transition {id}")))?;
    transition_from_row(&row)
}

/// Every transition linked to `incident`, oldest first.
pub async fn of_incident(db: Db<'_>, incident: IncidentId) -> StoreResult<Vec<AlarmTransition>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(&format!(
        "SELECT {TRANSITION_COLUMNS} FROM alarm_transitions WHERE incident_id = $1 ORDER BY id"
    ))
    .bind(incident.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(transition_from_row).collect()
}

/// The alarms of open incidents, for correlation.
pub async fn open_links(db: Db<'_>) -> StoreResult<Vec<OpenLink>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT l.incident_id, l.alarm_arn, l.route, l.last_alarm_at
         FROM alarm_links l JOIN incidents i ON i.id = l.incident_id
         WHERE i.status != 'resolved'",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OpenLink {
                incident: IncidentId(r.try_get("incident_id")?),
                alarm_arn: r.try_get("alarm_arn")?,
                route: r.try_get("route")?,
                last_alarm_at: parse_time(&r.try_get::<String, _>("last_alarm_at")?)?,
            })
        })
        .collect()
}

/// Open alarm-opened incidents watching AWS Health for `service` in `region`, with their
/// war-room channel (`None` until it exists).
pub async fn health_watchers(
    db: Db<'_>,
    service: &str,
    region: &str,
) -> StoreResult<Vec<(IncidentId, Option<String>)>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT a.incident_id, i.channel_id
         FROM alarm_incidents a JOIN incidents i ON i.id = a.incident_id
         WHERE i.status != 'resolved' AND a.health_service = $1 AND a.health_region = $2
         ORDER BY a.incident_id",
    )
    .bind(service)
    .bind(region)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                IncidentId(r.try_get("incident_id")?),
                r.try_get::<Option<String>, _>("channel_id")?,
            ))
        })
        .collect()
}

/// Alarms of open incidents whose latest known state is ALARM.
pub async fn watched(db: Db<'_>) -> StoreResult<Vec<WatchedAlarm>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT l.incident_id, l.alarm_arn, l.alarm_name, l.region
         FROM alarm_links l JOIN incidents i ON i.id = l.incident_id
         WHERE i.status != 'resolved' AND l.state = 'ALARM'
         ORDER BY l.incident_id, l.alarm_name",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WatchedAlarm {
                incident_id: IncidentId(r.try_get("incident_id")?),
                arn: r.try_get("alarm_arn")?,
                name: r.try_get("alarm_name")?,
                region: r.try_get("region")?,
            })
        })
        .collect()
}

/// The open incident (latest first) that has `arn` linked and still in ALARM.
pub async fn incident_watching(db: Db<'_>, arn: &str) -> StoreResult<Option<IncidentId>> {
    let mut c = db.conn().await?;
    let row = sqlx::query(
        "SELECT l.incident_id FROM alarm_links l JOIN incidents i ON i.id = l.incident_id
         WHERE l.alarm_arn = $1 AND l.state = $2 AND i.status != 'resolved'
         ORDER BY l.incident_id DESC LIMIT 1",
    )
    .bind(arn)
    .bind(AlarmState::Alarm.as_str())
    .fetch_optional(&mut *c)
    .await?;
    Ok(row
        .map(|r| r.try_get::<i64, _>("incident_id"))
        .transpose()?
        .map(IncidentId))
}

/// Link the alarm to `incident` (in ALARM, its latest ALARM time kept).
pub async fn link(
    tx: &mut Tx,
    incident: IncidentId,
    alarm: &Alarm,
    route: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO alarm_links (incident_id, alarm_arn, alarm_name, region, route, state,
                                  last_alarm_at)
         VALUES ($1, $2, $3, $4, $5, 'ALARM', $6)
         ON CONFLICT (incident_id, alarm_arn) DO UPDATE SET
             state = 'ALARM',
             last_alarm_at = CASE WHEN excluded.last_alarm_at > alarm_links.last_alarm_at
                                  THEN excluded.last_alarm_at
                                  ELSE alarm_links.last_alarm_at END",
    )
    .bind(incident.0)
    .bind(&alarm.arn)
    .bind(&alarm.name)
    .bind(&alarm.region)
    .bind(route)
    .bind(fmt_time(alarm.state_updated_at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The linked alarm's latest state (it left ALARM).
pub async fn set_link_state(
    tx: &mut Tx,
    incident: IncidentId,
    arn: &str,
    state: AlarmState,
) -> StoreResult<()> {
    sqlx::query("UPDATE alarm_links SET state = $1 WHERE incident_id = $2 AND alarm_arn = $3")
        .bind(state.as_str())
        .bind(incident.0)
        .bind(arn)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The timeline entry of a decision (keyed `alarm:<transition id>`, so a replay adds none).
pub async fn add_entry(
    tx: &mut Tx,
    incident: IncidentId,
    transition: &AlarmTransition,
    kind: EntryKind,
    text: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let entry = NewEntry {
        incident_id: incident,
        dedupe_key: format!("alarm:{}", transition.id),
        kind,
        occurred_at: transition.alarm.state_updated_at,
        actor: None,
        text: text.to_string(),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let data = serde_json::json!({
        "alarm": transition.alarm.name,
        "arn": transition.alarm.arn,
        "state": transition.alarm.state.as_str(),
        "region": transition.alarm.region,
    });
    timeline::insert_with_data(tx, &entry, Some(&data), now).await?;
    Ok(())
}

/// Record what was decided about a transition.
pub async fn mark_decided(
    tx: &mut Tx,
    id: i64,
    decided: &Decided<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE alarm_transitions SET decided_at = $1, outcome = $2, route = $3, incident_id = $4,
                posted_at = CASE WHEN $5 = 1 THEN $1 ELSE posted_at END
         WHERE id = $6",
    )
    .bind(fmt_time(now))
    .bind(decided.outcome)
    .bind(decided.route)
    .bind(decided.incident.map(|i| i.0))
    .bind(decided.posted as i64)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The alarm opened `incident`: its war-room steps row (health: the AWS Health service and
/// region to ask about). A second call for the incident changes nothing.
pub async fn add_alarm_incident(
    tx: &mut Tx,
    incident: IncidentId,
    transition_id: i64,
    route: &str,
    health: Option<(&str, &str)>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO alarm_incidents (incident_id, transition_id, route, health_service,
                                      health_region)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (incident_id) DO NOTHING",
    )
    .bind(incident.0)
    .bind(transition_id)
    .bind(route)
    .bind(health.map(|h| h.0))
    .bind(health.map(|h| h.1))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Alarm-opened incidents that may have Slack work: set-up not finished, posts pending,
/// or still open (Health re-checks).
pub async fn with_work(db: Db<'_>) -> StoreResult<Vec<AlarmIncident>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM alarm_incidents a JOIN incidents i ON i.id = a.incident_id
         WHERE i.status != 'resolved'
            OR a.first_post_ts IS NULL
            OR a.graph_done_at IS NULL
            OR EXISTS (SELECT 1 FROM alarm_transitions t
                       WHERE t.incident_id = a.incident_id AND t.posted_at IS NULL
                         AND t.id != a.transition_id)
         ORDER BY a.incident_id",
        prefixed("a", ALARM_INCIDENT_COLUMNS)
    ))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(alarm_incident_from_row).collect()
}

/// `a.x, a.y` from `x, y`.
fn prefixed(alias: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Joined, repeated and recovered transitions of `incident` whose post is still due.
pub async fn unposted(db: Db<'_>, incident: IncidentId) -> StoreResult<Vec<AlarmTransition>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(&format!(
        "SELECT {TRANSITION_COLUMNS} FROM alarm_transitions
         WHERE incident_id = $1 AND posted_at IS NULL
           AND id NOT IN (SELECT transition_id FROM alarm_incidents)
         ORDER BY id"
    ))
    .bind(incident.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(transition_from_row).collect()
}

pub async fn mark_posted(tx: &mut Tx, ids: &[i64], now: DateTime<Utc>) -> StoreResult<()> {
    for id in ids {
        sqlx::query("UPDATE alarm_transitions SET posted_at = $1 WHERE id = $2")
            .bind(fmt_time(now))
            .bind(id)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// The first post is in the channel; the opening transition counts as posted.
pub async fn set_first_post(
    tx: &mut Tx,
    incident: IncidentId,
    ts: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE alarm_incidents SET first_post_ts = $1 WHERE incident_id = $2")
        .bind(ts)
        .bind(incident.0)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "UPDATE alarm_transitions SET posted_at = $1
         WHERE id = (SELECT transition_id FROM alarm_incidents WHERE incident_id = $2)",
    )
    .bind(fmt_time(now))
    .bind(incident.0)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A step of an alarm-opened incident done (or the Slack work waiting for a retry).
#[derive(Debug, Clone, Copy)]
pub enum AlarmStep<'a> {
    GraphDone,
    HealthChecked,
    /// Slack work failed: try again at this time, for this reason.
    RetryAt(DateTime<Utc>, &'a str),
    /// The work went through after retries.
    RetryCleared,
}

/// Record a step of an alarm-opened incident.
pub async fn record_step(
    tx: &mut Tx,
    incident: IncidentId,
    step: AlarmStep<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let q = match step {
        AlarmStep::GraphDone => {
            sqlx::query("UPDATE alarm_incidents SET graph_done_at = $1 WHERE incident_id = $2")
                .bind(fmt_time(now))
                .bind(incident.0)
        }
        AlarmStep::HealthChecked => {
            sqlx::query("UPDATE alarm_incidents SET health_checked_at = $1 WHERE incident_id = $2")
                .bind(fmt_time(now))
                .bind(incident.0)
        }
        AlarmStep::RetryAt(at, error) => sqlx::query(
            "UPDATE alarm_incidents SET retry_at = $1, attempts = attempts + 1, last_error = $2
             WHERE incident_id = $3",
        )
        .bind(fmt_time(at))
        .bind(error.to_string())
        .bind(incident.0),
        AlarmStep::RetryCleared => sqlx::query(
            "UPDATE alarm_incidents SET retry_at = NULL, attempts = 0, last_error = NULL
             WHERE incident_id = $1 AND retry_at IS NOT NULL",
        )
        .bind(incident.0),
    };
    q.execute(tx.conn()).await?;
    Ok(())
}

/// Health events not yet recorded for `incident` (new, or with a new lastUpdatedTime).
pub async fn unseen_health_events(
    db: Db<'_>,
    incident: IncidentId,
    events: &[HealthEvent],
) -> StoreResult<Vec<HealthEvent>> {
    let mut c = db.conn().await?;
    let mut out = Vec::new();
    for e in events {
        let seen = sqlx::query(
            "SELECT 1 FROM health_events_seen
             WHERE incident_id = $1 AND event_arn = $2 AND last_updated_at = $3",
        )
        .bind(incident.0)
        .bind(&e.arn)
        .bind(health_updated_key(e))
        .fetch_optional(&mut *c)
        .await?;
        if seen.is_none() {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// Record a Health event as seen (after it was posted), with its timeline entry.
pub async fn record_health_event(
    tx: &mut Tx,
    incident: IncidentId,
    event: &HealthEvent,
    entry_text: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO health_events_seen (incident_id, event_arn, last_updated_at, service,
                                         region, event_type, status, started_at, seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT DO NOTHING",
    )
    .bind(incident.0)
    .bind(&event.arn)
    .bind(health_updated_key(event))
    .bind(&event.service)
    .bind(&event.region)
    .bind(&event.event_type)
    .bind(&event.status)
    .bind(event.started_at.map(fmt_time))
    .bind(fmt_time(now))
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    if inserted {
        let entry = NewEntry {
            incident_id: incident,
            dedupe_key: format!(
                "health:{}:{}:{}",
                incident.0,
                event.arn,
                health_updated_key(event)
            ),
            kind: EntryKind::HealthEvent,
            occurred_at: now,
            actor: None,
            text: entry_text.to_string(),
            slack_ts: None,
            thread_ts: None,
            key_event: true,
        };
        timeline::insert(tx, &entry, now).await?;
    }
    Ok(())
}

/// Health events recorded for `incident`, in the order seen.
pub async fn health_events_seen(db: Db<'_>, incident: IncidentId) -> StoreResult<Vec<HealthEvent>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT event_arn, service, event_type, region, status, started_at, last_updated_at
         FROM health_events_seen WHERE incident_id = $1 ORDER BY seen_at, event_arn",
    )
    .bind(incident.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let updated: String = r.try_get("last_updated_at")?;
            Ok(HealthEvent {
                arn: r.try_get("event_arn")?,
                service: r.try_get("service")?,
                event_type: r.try_get("event_type")?,
                category: None,
                region: r.try_get("region")?,
                status: r.try_get("status")?,
                started_at: parse_opt_time(r.try_get("started_at")?)?,
                last_updated_at: if updated.is_empty() {
                    None
                } else {
                    Some(parse_time(&updated)?)
                },
            })
        })
        .collect()
}

/// A fact learned about the AWS account (e.g. `health_unavailable`).
pub async fn aws_fact(db: Db<'_>, key: &str) -> StoreResult<Option<String>> {
    let mut c = db.conn().await?;
    let row = sqlx::query("SELECT value FROM aws_facts WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.map(|r| r.try_get("value")).transpose()?)
}

/// Record a fact once; returns `false` when it was already known.
pub async fn learn_aws_fact(
    tx: &mut Tx,
    key: &str,
    value: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO aws_facts (key, value, learned_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(value)
    .bind(fmt_time(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The alarm route that opened the incident, if an alarm did.
pub async fn route_of(db: Db<'_>, incident: IncidentId) -> StoreResult<Option<String>> {
    let mut c = db.conn().await?;
    let row = sqlx::query("SELECT route FROM alarm_incidents WHERE incident_id = $1")
        .bind(incident.0)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// The stored form of an event's lastUpdatedTime ('' when AWS gave none).
fn health_updated_key(e: &HealthEvent) -> String {
    e.last_updated_at.map(fmt_time).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `now` as stored (to the millisecond).
    fn now_ms(now: DateTime<Utc>) -> DateTime<Utc> {
        parse_time(&fmt_time(now)).unwrap()
    }
    use crate::domain::alarm::tests::cpu_alarm;
    use crate::domain::{Severity, UserId};
    use crate::store::incidents::{self, NewIncident};
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    async fn record_one(store: &Store, alarm: &Alarm, now: DateTime<Utc>) -> bool {
        let mut tx = store.begin().await.unwrap();
        let new = record(&mut tx, alarm, now).await.unwrap();
        tx.commit().await.unwrap();
        new
    }

    async fn new_incident(store: &Store, key: &str, now: DateTime<Utc>) -> IncidentId {
        let mut tx = store.begin().await.unwrap();
        let (record, _) = incidents::create(
            &mut tx,
            &NewIncident {
                private: false,
                source_key: key.into(),
                title: "web-cpu".into(),
                severity: Severity::Sev2,
                declared_by: UserId::parse("U0BOT").unwrap(),
                opened_at: now,
                channel_name: format!("inc-{key}"),
            },
            now,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        record.incident.id
    }

    async fn a_transition_is_recorded_once(store: Store) {
        let a = cpu_alarm("web-cpu");
        let now = Utc::now();
        assert!(record_one(&store, &a, now).await);
        assert!(!record_one(&store, &a, now).await);
        let mut later = a.clone();
        later.state_updated_at += chrono::Duration::minutes(5);
        let other = cpu_alarm("db-cpu");
        let asked = [
            (a.arn.as_str(), a.state_updated_at),
            (later.arn.as_str(), later.state_updated_at),
            (other.arn.as_str(), a.state_updated_at),
            (a.arn.as_str(), a.state_updated_at),
        ];
        assert_eq!(
            known(store.db(), &asked).await.unwrap(),
            [true, false, false, true],
            "known by ARN and time together, answered in order"
        );
        assert!(record_one(&store, &later, now).await);
        // More than one query's worth: still answered in order.
        let many: Vec<(&str, DateTime<Utc>)> = (0..1000)
            .map(|i| {
                let at = a.state_updated_at + chrono::Duration::seconds(i);
                (a.arn.as_str(), at)
            })
            .chain([(later.arn.as_str(), later.state_updated_at)])
            .collect();
        let found = known(store.db(), &many).await.unwrap();
        assert_eq!(found.len(), 1001);
        let hits: Vec<usize> = found
            .iter()
            .enumerate()
            .filter(|(_, k)| **k)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(hits, [0, 300, 1000], "the recorded two, wherever they fall");
        assert_eq!(undecided(store.db(), 10).await.unwrap().len(), 2);
    }

    async fn deciding_twice_writes_one_entry_and_one_link(store: Store) {
        let now = Utc::now();
        let a = cpu_alarm("web-cpu");
        record_one(&store, &a, now).await;
        let t = undecided(store.db(), 1).await.unwrap().remove(0);
        let id = new_incident(&store, "alarm:x", now).await;
        // What the alarm service writes when a transition opens an incident: twice, as a
        // replay after a crash would.
        for _ in 0..2 {
            let mut tx = store.begin().await.unwrap();
            link(&mut tx, id, &t.alarm, "default").await.unwrap();
            add_alarm_incident(&mut tx, id, t.id, "default", Some(("EC2", "us-east-1")))
                .await
                .unwrap();
            incidents::clear_bot_lead(&mut tx, id).await.unwrap();
            add_entry(&mut tx, id, &t, EntryKind::AlarmFired, "fired", now)
                .await
                .unwrap();
            let decided = Decided {
                outcome: outcome::OPENED,
                route: Some("default"),
                incident: Some(id),
                posted: false,
            };
            mark_decided(&mut tx, t.id, &decided, now).await.unwrap();
            tx.commit().await.unwrap();
        }
        let entries = timeline::of_incident(store.db(), id).await.unwrap();
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.kind == EntryKind::AlarmFired)
                .count(),
            1
        );
        assert_eq!(open_links(store.db()).await.unwrap().len(), 1);
        assert!(undecided(store.db(), 10).await.unwrap().is_empty());
        let work = with_work(store.db()).await.unwrap();
        assert_eq!(work.len(), 1);
        assert_eq!(work[0].health_service.as_deref(), Some("EC2"));
        assert_eq!(watched(store.db()).await.unwrap().len(), 1);
        assert_eq!(
            incident_watching(store.db(), &a.arn).await.unwrap(),
            Some(id)
        );
        let record = incidents::get(store.db(), id).await.unwrap();
        assert_eq!(
            record.incident.lead, None,
            "nobody leads an alarm's incident yet"
        );
        let mut tx = store.begin().await.unwrap();
        set_first_post(&mut tx, id, "1.000100", now).await.unwrap();
        record_step(&mut tx, id, AlarmStep::GraphDone, now)
            .await
            .unwrap();
        record_step(&mut tx, id, AlarmStep::RetryAt(now, "429"), now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let work = with_work(store.db()).await.unwrap().remove(0);
        assert_eq!(work.first_post_ts.as_deref(), Some("1.000100"));
        assert!(work.graph_done);
        assert_eq!((work.retry_at, work.attempts), (Some(now_ms(now)), 1));
        let mut tx = store.begin().await.unwrap();
        record_step(&mut tx, id, AlarmStep::RetryCleared, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let work = with_work(store.db()).await.unwrap().remove(0);
        assert_eq!((work.retry_at, work.attempts), (None, 0));
        assert_eq!(
            transition(store.db(), t.id).await.unwrap().posted_at,
            Some(now_ms(now))
        );
    }

    async fn health_events_are_new_once_per_update(store: Store) {
        let now = Utc::now();
        let id = new_incident(&store, "alarm:y", now).await;
        let mut e = HealthEvent {
            arn: "arn:aws:health:us-east-1::event/EC2/X/1".into(),
            service: "EC2".into(),
            event_type: "AWS_EC2_OPERATIONAL_ISSUE".into(),
            category: Some("issue".into()),
            region: Some("us-east-1".into()),
            status: "open".into(),
            started_at: Some(now),
            last_updated_at: Some(now),
        };
        assert_eq!(
            unseen_health_events(store.db(), id, &[e.clone()])
                .await
                .unwrap()
                .len(),
            1
        );
        let mut tx = store.begin().await.unwrap();
        record_health_event(&mut tx, id, &e, "seen", now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(unseen_health_events(store.db(), id, &[e.clone()])
            .await
            .unwrap()
            .is_empty());
        e.last_updated_at = Some(now + chrono::Duration::minutes(3));
        assert_eq!(
            unseen_health_events(store.db(), id, &[e])
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(health_events_seen(store.db(), id).await.unwrap().len(), 1);
        let mut tx = store.begin().await.unwrap();
        assert!(learn_aws_fact(&mut tx, "health_unavailable", "x", now)
            .await
            .unwrap());
        assert!(!learn_aws_fact(&mut tx, "health_unavailable", "x", now)
            .await
            .unwrap());
        tx.commit().await.unwrap();
        assert_eq!(
            aws_fact(store.db(), "health_unavailable")
                .await
                .unwrap()
                .as_deref(),
            Some("x")
        );
    }

    on_both_backends!(
        a_transition_is_recorded_once,
        deciding_twice_writes_one_entry_and_one_link,
        health_events_are_new_once_per_update,
    );
}
