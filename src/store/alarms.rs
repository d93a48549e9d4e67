//! Alarm transitions, their links to incidents, the war-room steps of alarm-opened
//! incidents, and AWS Health events seen.
//!
//! A transition is unique by alarm ARN + StateUpdatedTimestamp and is written before
//! anything is posted. Routing and correlation decisions are written in one transaction with
//! the alarm link and the timeline entry (keyed `alarm:<transition id>`), so replaying a
//! decision after a crash is a no-op.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{fmt_time, parse_opt_time, parse_time, Store, StoreError, StoreResult};
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

const TRANSITION_COLUMNS: &str = "id, alarm, recorded_at, outcome, route, incident_id, posted_at";

fn transition_from_row(row: &SqliteRow) -> StoreResult<AlarmTransition> {
    let json: String = row.try_get("alarm")?;
    let alarm: Alarm = serde_json::from_str(&json)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("bad stored alarm: {e}")))?;
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

fn alarm_incident_from_row(row: &SqliteRow) -> StoreResult<AlarmIncident> {
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

/// The timeline entry a decision writes.
async fn add_alarm_entry(
    tx: &mut Transaction<'_, Sqlite>,
    incident: IncidentId,
    transition: &AlarmTransition,
    kind: EntryKind,
    text: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, actor, text, key_event, data)
         VALUES (?, ?, ?, ?, ?, NULL, ?, 1, ?)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(incident.0)
    .bind(format!("alarm:{}", transition.id))
    .bind(kind.as_str())
    .bind(fmt_time(transition.alarm.state_updated_at))
    .bind(fmt_time(now))
    .bind(text)
    .bind(
        serde_json::json!({
            "alarm": transition.alarm.name,
            "arn": transition.alarm.arn,
            "state": transition.alarm.state.as_str(),
            "region": transition.alarm.region,
        })
        .to_string(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_link(
    tx: &mut Transaction<'_, Sqlite>,
    incident: IncidentId,
    alarm: &Alarm,
    route: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO alarm_links (incident_id, alarm_arn, alarm_name, region, route, state, last_alarm_at)
         VALUES (?, ?, ?, ?, ?, 'ALARM', ?)
         ON CONFLICT (incident_id, alarm_arn) DO UPDATE SET
             state = 'ALARM',
             last_alarm_at = MAX(last_alarm_at, excluded.last_alarm_at)",
    )
    .bind(incident.0)
    .bind(&alarm.arn)
    .bind(&alarm.name)
    .bind(&alarm.region)
    .bind(route)
    .bind(fmt_time(alarm.state_updated_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn mark_decided(
    tx: &mut Transaction<'_, Sqlite>,
    id: i64,
    outcome: &str,
    route: Option<&str>,
    incident: Option<IncidentId>,
    posted: bool,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE alarm_transitions SET decided_at = ?, outcome = ?, route = ?, incident_id = ?,
                posted_at = CASE WHEN ? THEN ? ELSE posted_at END
         WHERE id = ?",
    )
    .bind(fmt_time(now))
    .bind(outcome)
    .bind(route)
    .bind(incident.map(|i| i.0))
    .bind(posted)
    .bind(fmt_time(now))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Transitions looked up per query in [`Store::known_transitions`]: two bound values each.
const KNOWN_PER_QUERY: usize = 400;

impl Store {
    /// Which of `transitions` (alarm ARN, StateUpdatedTimestamp) are recorded already, in
    /// their order. Every poll asks this of every alarm in ALARM, so it is one query per
    /// [`KNOWN_PER_QUERY`] rather than one per alarm (BENCHMARKS.md, finding 8).
    pub async fn known_transitions(
        &self,
        transitions: &[(&str, DateTime<Utc>)],
    ) -> StoreResult<Vec<bool>> {
        let keys: Vec<(&str, String)> = transitions
            .iter()
            .map(|(arn, at)| (*arn, fmt_time(*at)))
            .collect();
        let mut known = std::collections::HashSet::new();
        for chunk in keys.chunks(KNOWN_PER_QUERY) {
            let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                "SELECT alarm_arn, state_updated_at FROM alarm_transitions
                 WHERE (alarm_arn, state_updated_at) IN (VALUES ",
            );
            let mut pairs = q.separated(", ");
            for (arn, at) in chunk {
                pairs
                    .push("(")
                    .push_bind_unseparated(*arn)
                    .push_unseparated(", ")
                    .push_bind_unseparated(at.as_str())
                    .push_unseparated(")");
            }
            q.push(")");
            for row in q.build().fetch_all(self.pool()).await? {
                known.insert((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
            }
        }
        Ok(keys
            .into_iter()
            .map(|(arn, at)| known.contains(&(arn.to_string(), at)))
            .collect())
    }

    /// Record a transition before anything else happens with it. Returns `false` when it was
    /// already recorded (a later poll, or a restart, seeing it again).
    #[tracing::instrument(skip_all, fields(alarm = %alarm.name))]
    pub async fn record_transition(&self, alarm: &Alarm, now: DateTime<Utc>) -> StoreResult<bool> {
        let json = serde_json::to_string(alarm)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("cannot serialise an alarm: {e}")))?;
        let done = sqlx::query(
            "INSERT INTO alarm_transitions (alarm_arn, state_updated_at, state, alarm_name, region, alarm, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (alarm_arn, state_updated_at) DO NOTHING",
        )
        .bind(&alarm.arn)
        .bind(fmt_time(alarm.state_updated_at))
        .bind(alarm.state.as_str())
        .bind(&alarm.name)
        .bind(&alarm.region)
        .bind(json)
        .bind(fmt_time(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Transitions not yet routed and correlated, oldest first.
    pub async fn undecided_transitions(&self, limit: i64) -> StoreResult<Vec<AlarmTransition>> {
        let rows = sqlx::query(&format!(
            "SELECT {TRANSITION_COLUMNS} FROM alarm_transitions WHERE decided_at IS NULL ORDER BY id LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(transition_from_row).collect()
    }

    pub async fn alarm_transition(&self, id: i64) -> StoreResult<AlarmTransition> {
        let row = sqlx::query(&format!(
            "SELECT {TRANSITION_COLUMNS} FROM alarm_transitions WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("alarm transition {id}")))?;
        transition_from_row(&row)
    }

    /// Every transition linked to `incident`, oldest first.
    pub async fn incident_alarm_transitions(
        &self,
        incident: IncidentId,
    ) -> StoreResult<Vec<AlarmTransition>> {
        let rows = sqlx::query(&format!(
            "SELECT {TRANSITION_COLUMNS} FROM alarm_transitions WHERE incident_id = ? ORDER BY id"
        ))
        .bind(incident.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(transition_from_row).collect()
    }

    /// The alarms of open incidents, for correlation.
    pub async fn open_alarm_links(&self) -> StoreResult<Vec<OpenLink>> {
        let rows = sqlx::query(
            "SELECT l.incident_id, l.alarm_arn, l.route, l.last_alarm_at
             FROM alarm_links l JOIN incidents i ON i.id = l.incident_id
             WHERE i.status != 'resolved'",
        )
        .fetch_all(self.pool())
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

    /// Alarms of open incidents whose latest known state is ALARM.
    pub async fn watched_alarms(&self) -> StoreResult<Vec<WatchedAlarm>> {
        let rows = sqlx::query(
            "SELECT l.incident_id, l.alarm_arn, l.alarm_name, l.region
             FROM alarm_links l JOIN incidents i ON i.id = l.incident_id
             WHERE i.status != 'resolved' AND l.state = 'ALARM'
             ORDER BY l.incident_id, l.alarm_name",
        )
        .fetch_all(self.pool())
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

    /// A transition that needs nothing more (`ignored`, `unlinked`).
    pub async fn decide_nothing(
        &self,
        transition: &AlarmTransition,
        outcome: &str,
        route: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        mark_decided(&mut tx, transition.id, outcome, route, None, true, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The alarm joins an open incident: link, timeline entry and decision, atomically.
    pub async fn decide_join(
        &self,
        transition: &AlarmTransition,
        incident: IncidentId,
        route: &str,
        outcome: &str,
        entry_text: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        upsert_link(&mut tx, incident, &transition.alarm, route).await?;
        add_alarm_entry(
            &mut tx,
            incident,
            transition,
            EntryKind::AlarmFired,
            entry_text,
            now,
        )
        .await?;
        mark_decided(
            &mut tx,
            transition.id,
            outcome,
            Some(route),
            Some(incident),
            false,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The alarm opened `incident` (created just before with `create_incident`): link,
    /// war-room steps row, timeline entry and decision, atomically. The opening alarm's post
    /// is the first post, so the transition counts as posted once that is done.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_open(
        &self,
        transition: &AlarmTransition,
        incident: IncidentId,
        route: &str,
        health: Option<(&str, &str)>,
        entry_text: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        upsert_link(&mut tx, incident, &transition.alarm, route).await?;
        sqlx::query(
            "INSERT INTO alarm_incidents (incident_id, transition_id, route, health_service, health_region)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (incident_id) DO NOTHING",
        )
        .bind(incident.0)
        .bind(transition.id)
        .bind(route)
        .bind(health.map(|h| h.0))
        .bind(health.map(|h| h.1))
        .execute(&mut *tx)
        .await?;
        // Nobody leads an incident an alarm opened until someone takes it (`/incident lead`).
        sqlx::query(
            "UPDATE incidents SET lead_user = NULL WHERE id = ? AND lead_user = declared_by",
        )
        .bind(incident.0)
        .execute(&mut *tx)
        .await?;
        add_alarm_entry(
            &mut tx,
            incident,
            transition,
            EntryKind::AlarmFired,
            entry_text,
            now,
        )
        .await?;
        mark_decided(
            &mut tx,
            transition.id,
            outcome::OPENED,
            Some(route),
            Some(incident),
            false,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The alarm left ALARM: its link's state, a timeline entry and the decision.
    pub async fn decide_recovery(
        &self,
        transition: &AlarmTransition,
        incident: IncidentId,
        entry_text: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE alarm_links SET state = ? WHERE incident_id = ? AND alarm_arn = ?")
            .bind(transition.alarm.state.as_str())
            .bind(incident.0)
            .bind(&transition.alarm.arn)
            .execute(&mut *tx)
            .await?;
        add_alarm_entry(
            &mut tx,
            incident,
            transition,
            EntryKind::AlarmRecovered,
            entry_text,
            now,
        )
        .await?;
        mark_decided(
            &mut tx,
            transition.id,
            outcome::RECOVERED,
            None,
            Some(incident),
            false,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The open incident (latest first) that has `arn` linked and still in ALARM.
    pub async fn incident_watching(&self, arn: &str) -> StoreResult<Option<IncidentId>> {
        let row = sqlx::query(
            "SELECT l.incident_id FROM alarm_links l JOIN incidents i ON i.id = l.incident_id
             WHERE l.alarm_arn = ? AND l.state = ? AND i.status != 'resolved'
             ORDER BY l.incident_id DESC LIMIT 1",
        )
        .bind(arn)
        .bind(AlarmState::Alarm.as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("incident_id"))
            .transpose()?
            .map(IncidentId))
    }

    /// Alarm-opened incidents that may have Slack work: set-up not finished, posts pending,
    /// or still open (Health re-checks).
    pub async fn alarm_incidents_with_work(&self) -> StoreResult<Vec<AlarmIncident>> {
        let rows = sqlx::query(
            "SELECT a.* FROM alarm_incidents a JOIN incidents i ON i.id = a.incident_id
             WHERE i.status != 'resolved'
                OR a.first_post_ts IS NULL
                OR a.graph_done_at IS NULL
                OR EXISTS (SELECT 1 FROM alarm_transitions t
                           WHERE t.incident_id = a.incident_id AND t.posted_at IS NULL
                             AND t.id != a.transition_id)
             ORDER BY a.incident_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(alarm_incident_from_row).collect()
    }

    /// Joined, repeated and recovered transitions of `incident` whose post is still due.
    pub async fn unposted_transitions(
        &self,
        incident: IncidentId,
    ) -> StoreResult<Vec<AlarmTransition>> {
        let rows = sqlx::query(&format!(
            "SELECT {TRANSITION_COLUMNS} FROM alarm_transitions
             WHERE incident_id = ? AND posted_at IS NULL
               AND id NOT IN (SELECT transition_id FROM alarm_incidents)
             ORDER BY id"
        ))
        .bind(incident.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(transition_from_row).collect()
    }

    pub async fn mark_transitions_posted(
        &self,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        for id in ids {
            sqlx::query("UPDATE alarm_transitions SET posted_at = ? WHERE id = ?")
                .bind(fmt_time(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The first post is in the channel; the opening transition counts as posted.
    pub async fn set_alarm_first_post(
        &self,
        incident: IncidentId,
        ts: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE alarm_incidents SET first_post_ts = ? WHERE incident_id = ?")
            .bind(ts)
            .bind(incident.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE alarm_transitions SET posted_at = ?
             WHERE id = (SELECT transition_id FROM alarm_incidents WHERE incident_id = ?)",
        )
        .bind(fmt_time(now))
        .bind(incident.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn mark_alarm_graph_done(
        &self,
        incident: IncidentId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.alarm_incident_field(incident, "graph_done_at", Some(fmt_time(now)))
            .await
    }

    pub async fn mark_health_checked(
        &self,
        incident: IncidentId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.alarm_incident_field(incident, "health_checked_at", Some(fmt_time(now)))
            .await
    }

    /// Slack work for `incident` failed: try again at `retry_at`.
    pub async fn set_alarm_retry(
        &self,
        incident: IncidentId,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE alarm_incidents SET retry_at = ?, attempts = attempts + 1, last_error = ?
             WHERE incident_id = ?",
        )
        .bind(fmt_time(retry_at))
        .bind(error)
        .bind(incident.0)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn clear_alarm_retry(&self, incident: IncidentId) -> StoreResult<()> {
        sqlx::query(
            "UPDATE alarm_incidents SET retry_at = NULL, attempts = 0, last_error = NULL
             WHERE incident_id = ? AND retry_at IS NOT NULL",
        )
        .bind(incident.0)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    // `column` is always one of the literals above, never user input.
    async fn alarm_incident_field(
        &self,
        incident: IncidentId,
        column: &str,
        value: Option<String>,
    ) -> StoreResult<()> {
        sqlx::query(&format!(
            "UPDATE alarm_incidents SET {column} = ? WHERE incident_id = ?"
        ))
        .bind(value)
        .bind(incident.0)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Health events not yet recorded for `incident` (new, or with a new lastUpdatedTime).
    pub async fn unseen_health_events(
        &self,
        incident: IncidentId,
        events: &[HealthEvent],
    ) -> StoreResult<Vec<HealthEvent>> {
        let mut out = Vec::new();
        for e in events {
            let seen = sqlx::query(
                "SELECT 1 FROM health_events_seen
                 WHERE incident_id = ? AND event_arn = ? AND last_updated_at = ?",
            )
            .bind(incident.0)
            .bind(&e.arn)
            .bind(health_updated_key(e))
            .fetch_optional(self.pool())
            .await?;
            if seen.is_none() {
                out.push(e.clone());
            }
        }
        Ok(out)
    }

    /// Record a Health event as seen (after it was posted), with its timeline entry.
    pub async fn record_health_event(
        &self,
        incident: IncidentId,
        event: &HealthEvent,
        entry_text: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO health_events_seen (incident_id, event_arn, last_updated_at, service, region,
                                             event_type, status, started_at, seen_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
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
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            sqlx::query(
                "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, actor, text, key_event)
                 VALUES (?, ?, ?, ?, ?, NULL, ?, 1)
                 ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind(incident.0)
            .bind(format!(
                "health:{}:{}:{}",
                incident.0,
                event.arn,
                health_updated_key(event)
            ))
            .bind(EntryKind::HealthEvent.as_str())
            .bind(fmt_time(now))
            .bind(fmt_time(now))
            .bind(entry_text)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Health events recorded for `incident`, in the order seen.
    pub async fn health_events_seen(&self, incident: IncidentId) -> StoreResult<Vec<HealthEvent>> {
        let rows = sqlx::query(
            "SELECT * FROM health_events_seen WHERE incident_id = ? ORDER BY seen_at, event_arn",
        )
        .bind(incident.0)
        .fetch_all(self.pool())
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
    pub async fn aws_fact(&self, key: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM aws_facts WHERE key = ?")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    /// Record a fact once; returns `false` when it was already known.
    pub async fn learn_aws_fact(
        &self,
        key: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO aws_facts (key, value, learned_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .bind(fmt_time(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// The stored form of an event's lastUpdatedTime ('' when AWS gave none).
fn health_updated_key(e: &HealthEvent) -> String {
    e.last_updated_at.map(fmt_time).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alarm::tests::cpu_alarm;
    use crate::domain::{Severity, UserId};
    use crate::store::test_support::temp_store;
    use crate::store::NewIncident;

    #[tokio::test]
    async fn a_transition_is_recorded_once() {
        let (store, _dir) = temp_store().await;
        let a = cpu_alarm("web-cpu");
        let now = Utc::now();
        assert!(store.record_transition(&a, now).await.unwrap());
        assert!(!store.record_transition(&a, now).await.unwrap());
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
            store.known_transitions(&asked).await.unwrap(),
            [true, false, false, true],
            "known by ARN and time together, answered in order"
        );
        assert!(store.record_transition(&later, now).await.unwrap());
        // More than one query's worth: still answered in order.
        let many: Vec<(&str, DateTime<Utc>)> = (0..1000)
            .map(|i| {
                let at = a.state_updated_at + chrono::Duration::seconds(i);
                (a.arn.as_str(), at)
            })
            .chain([(later.arn.as_str(), later.state_updated_at)])
            .collect();
        let known = store.known_transitions(&many).await.unwrap();
        assert_eq!(known.len(), 1001);
        let hits: Vec<usize> = known
            .iter()
            .enumerate()
            .filter(|(_, k)| **k)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(hits, [0, 300, 1000], "the recorded two, wherever they fall");
        assert_eq!(store.undecided_transitions(10).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn deciding_twice_writes_one_entry_and_one_link() {
        let (store, _dir) = temp_store().await;
        let now = Utc::now();
        let a = cpu_alarm("web-cpu");
        store.record_transition(&a, now).await.unwrap();
        let t = store.undecided_transitions(1).await.unwrap().remove(0);
        let (record, _) = store
            .create_incident(
                &NewIncident {
                    source_key: "alarm:x".into(),
                    title: "web-cpu".into(),
                    severity: Severity::Sev2,
                    declared_by: UserId::parse("U0BOT").unwrap(),
                    opened_at: now,
                    channel_name: "inc-x".into(),
                },
                now,
            )
            .await
            .unwrap();
        let id = record.incident.id;
        for _ in 0..2 {
            store
                .decide_open(&t, id, "default", Some(("EC2", "us-east-1")), "fired", now)
                .await
                .unwrap();
        }
        let entries = store.timeline(id).await.unwrap();
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.kind == EntryKind::AlarmFired)
                .count(),
            1
        );
        assert_eq!(store.open_alarm_links().await.unwrap().len(), 1);
        assert!(store.undecided_transitions(10).await.unwrap().is_empty());
        let work = store.alarm_incidents_with_work().await.unwrap();
        assert_eq!(work.len(), 1);
        assert_eq!(work[0].health_service.as_deref(), Some("EC2"));
        assert_eq!(store.watched_alarms().await.unwrap().len(), 1);
        assert_eq!(store.incident_watching(&a.arn).await.unwrap(), Some(id));
    }

    #[tokio::test]
    async fn health_events_are_new_once_per_update() {
        let (store, _dir) = temp_store().await;
        let now = Utc::now();
        let (record, _) = store
            .create_incident(
                &NewIncident {
                    source_key: "alarm:y".into(),
                    title: "t".into(),
                    severity: Severity::Sev3,
                    declared_by: UserId::parse("U0BOT").unwrap(),
                    opened_at: now,
                    channel_name: "inc-y".into(),
                },
                now,
            )
            .await
            .unwrap();
        let id = record.incident.id;
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
            store
                .unseen_health_events(id, &[e.clone()])
                .await
                .unwrap()
                .len(),
            1
        );
        store
            .record_health_event(id, &e, "seen", now)
            .await
            .unwrap();
        assert!(store
            .unseen_health_events(id, &[e.clone()])
            .await
            .unwrap()
            .is_empty());
        e.last_updated_at = Some(now + chrono::Duration::minutes(3));
        assert_eq!(store.unseen_health_events(id, &[e]).await.unwrap().len(), 1);
        assert!(store
            .learn_aws_fact("health_unavailable", "x", now)
            .await
            .unwrap());
        assert!(!store
            .learn_aws_fact("health_unavailable", "x", now)
            .await
            .unwrap());
        assert_eq!(
            store
                .aws_fact("health_unavailable")
                .await
                .unwrap()
                .as_deref(),
            Some("x")
        );
    }
}
