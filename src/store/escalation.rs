//! Escalation state: what the nudge clocks read ([`Facts`]), firing a nudge exactly once,
//! AWS Support cases and their correspondence.
//!
//! Every write that Slack will see goes through the outbox in the same transaction that
//! records it, so a crash can delay a nudge or a mirrored AWS reply but neither lose nor
//! repeat it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::timeline::{insert_entry, mark_inbox};
use super::timers::{claim_timer, enqueue, schedule_in};
use super::{fmt_time, parse_opt_time, parse_time, NewEntry, NewOutgoing, Store, StoreResult};
use crate::domain::escalation::{CaseFacts, Facts, Involvement, NudgeKind};
use crate::domain::support::{Communication, SupportSeverity};
use crate::domain::{EntryKind, IncidentId, Status};
use crate::store::Timer;

/// The timer kind of every nudge clock.
pub const NUDGE_TIMER: &str = "nudge";
/// The timer kind of a CreateCase retry (payload `{"case_row": N}`).
pub const CASE_RETRY_TIMER: &str = "case_retry";

/// An AWS Support case as warroom recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportCase {
    /// The row id (stable even before AWS gave a case id).
    pub row: i64,
    pub incident_id: IncidentId,
    pub source_key: String,
    pub case_id: Option<String>,
    pub display_id: Option<String>,
    pub subject: String,
    pub severity: SupportSeverity,
    pub body: String,
    pub service_code: Option<String>,
    pub category_code: Option<String>,
    /// CreateCase attempts that failed and may be retried.
    pub attempts: i64,
    /// `requested`, `failed`, or AWS's status.
    pub status: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl SupportCase {
    /// Open at AWS: created and not resolved.
    pub fn is_open(&self) -> bool {
        self.case_id.is_some() && self.resolved_at.is_none()
    }
}

/// A case request about to be sent.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub incident_id: IncidentId,
    pub source_key: String,
    pub subject: String,
    pub severity: SupportSeverity,
    pub body: String,
    pub service_code: Option<String>,
    pub category_code: Option<String>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

/// An answer to the nudges, as [`Store::record_answer`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NudgeAnswer {
    /// `/incident aws yes|no`, "Not an AWS issue".
    AwsInvolved(bool),
    /// `/incident snooze`, the Snooze button.
    SnoozedUntil(DateTime<Utc>),
}

/// What firing a nudge timer produced, written with the claim.
// Built and consumed once per fired timer: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum NudgeOutcome {
    /// Post this nudge: its timeline entry and channel message; look again at `next`.
    Nudge {
        kind: NudgeKind,
        entry: NewEntry,
        message: NewOutgoing,
        next: Option<DateTime<Utc>>,
    },
    /// Not due (snoozed, answered, rescheduled): look again at `next`, if ever.
    Wait { next: Option<DateTime<Utc>> },
}

/// The timer key of a nudge clock's deadline (one per incident, kind and due time).
pub fn nudge_timer_key(incident: IncidentId, kind: NudgeKind, due: DateTime<Utc>) -> String {
    format!("nudge:{}:{}:{}", incident.0, kind.as_str(), fmt_time(due))
}

/// The payload of a nudge timer.
pub fn nudge_payload(incident: IncidentId, kind: NudgeKind) -> String {
    serde_json::json!({"incident": incident.0, "kind": kind.as_str()}).to_string()
}

/// Read a nudge timer's payload.
pub fn parse_nudge_payload(payload: &str) -> Option<(IncidentId, NudgeKind)> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    let id = v.get("incident")?.as_i64()?;
    let kind = NudgeKind::parse(v.get("kind")?.as_str()?)?;
    Some((IncidentId(id), kind))
}

fn last_column(kind: NudgeKind) -> &'static str {
    match kind {
        NudgeKind::OpenCase => "last_open_case",
        NudgeKind::AwsQuiet => "last_aws_quiet",
        NudgeKind::StaleUpdate => "last_stale_update",
    }
}

async fn ensure_row(tx: &mut Transaction<'_, Sqlite>, incident: IncidentId) -> StoreResult<()> {
    sqlx::query("INSERT INTO escalation (incident_id) VALUES (?) ON CONFLICT DO NOTHING")
        .bind(incident.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn case_from_row(r: &SqliteRow) -> StoreResult<SupportCase> {
    let severity: String = r.try_get("severity")?;
    Ok(SupportCase {
        row: r.try_get("id")?,
        incident_id: IncidentId(r.try_get("incident_id")?),
        source_key: r.try_get("source_key")?,
        case_id: r.try_get("case_id")?,
        display_id: r.try_get("display_id")?,
        subject: r.try_get("subject")?,
        severity: severity
            .parse()
            .map_err(|e: String| super::StoreError::Other(anyhow::anyhow!(e)))?,
        body: r.try_get("body")?,
        service_code: r.try_get("service_code")?,
        category_code: r.try_get("category_code")?,
        attempts: r.try_get("attempts")?,
        status: r.try_get("status")?,
        requested_by: r.try_get("requested_by")?,
        requested_at: parse_time(&r.try_get::<String, _>("requested_at")?)?,
        opened_at: parse_opt_time(r.try_get("opened_at")?)?,
        resolved_at: parse_opt_time(r.try_get("resolved_at")?)?,
        error: r.try_get("error")?,
    })
}

const CASE_COLUMNS: &str =
    "id, incident_id, source_key, case_id, display_id, subject, severity, body, service_code,
     category_code, attempts, status, requested_by, requested_at, opened_at, resolved_at, error";

/// Normalise a body for "is this the text we sent?" (AWS may change line endings and trim).
pub(super) fn normalise_body(body: &str) -> String {
    body.replace("\r\n", "\n").trim().to_string()
}

/// SQL over a case row aliased `c`: when AWS last wrote on it.
pub(super) const AWS_LAST_REPLIED: &str = "(SELECT MAX(time_created) FROM support_communications
     WHERE case_row = c.id AND from_aws = 1)";
/// SQL over a case row aliased `c`: the first customer message after AWS's latest reply.
pub(super) const FIRST_UNANSWERED: &str = "(SELECT MIN(s.time_created) FROM support_communications s
     WHERE s.case_row = c.id AND s.from_aws = 0 AND s.time_created >
       (SELECT MAX(time_created) FROM support_communications WHERE case_row = c.id AND from_aws = 1))";

/// Since when the customer waits for AWS, from three columns starting at `at`: the case's
/// opening, [`AWS_LAST_REPLIED`] and [`FIRST_UNANSWERED`]. Until AWS first replies, the
/// opening itself waits; after that, the first message AWS has not answered (if any).
pub(super) fn awaiting_aws_from(
    row: &sqlx::sqlite::SqliteRow,
    at: usize,
) -> StoreResult<Option<DateTime<Utc>>> {
    let opened = parse_time(&row.try_get::<String, _>(at)?)?;
    if parse_opt_time(row.try_get(at + 1)?)?.is_none() {
        return Ok(Some(opened));
    }
    parse_opt_time(row.try_get(at + 2)?)
}

impl Store {
    /// Everything the nudge clocks look at for one incident.
    pub async fn escalation_facts(&self, incident: IncidentId) -> StoreResult<Facts> {
        let record = self.incident(incident).await?;
        let row = sqlx::query(
            "SELECT aws_involved, snoozed_until, last_open_case, last_aws_quiet, last_stale_update
             FROM escalation WHERE incident_id = ?",
        )
        .bind(incident.0)
        .fetch_optional(self.pool())
        .await?;
        let mut involvement = Involvement::Unsaid;
        let mut snoozed_until = None;
        let mut last_nudge = BTreeMap::new();
        if let Some(r) = &row {
            involvement = match r.try_get::<Option<String>, _>(0)?.as_deref() {
                Some("yes") => Involvement::Yes,
                Some("no") => Involvement::No,
                _ => Involvement::Unsaid,
            };
            snoozed_until = parse_opt_time(r.try_get(1)?)?;
            for (i, kind) in NudgeKind::ALL.into_iter().enumerate() {
                if let Some(t) = parse_opt_time(r.try_get(2 + i)?)? {
                    last_nudge.insert(kind, t);
                }
            }
        }
        let evidence = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM alarm_incidents WHERE incident_id = ?1)
                 OR EXISTS (SELECT 1 FROM alarm_links WHERE incident_id = ?1)
                 OR EXISTS (SELECT 1 FROM health_events_seen WHERE incident_id = ?1)",
        )
        .bind(incident.0)
        .fetch_one(self.pool())
        .await?
        .try_get::<i64, _>(0)?
            != 0;
        let last_update =
            sqlx::query("SELECT MAX(occurred_at) FROM timeline WHERE incident_id = ? AND kind = ?")
                .bind(incident.0)
                .bind(EntryKind::Update.as_str())
                .fetch_one(self.pool())
                .await?;
        let case = match self.latest_case(incident).await? {
            Some(c) if c.case_id.is_some() => Some(CaseFacts {
                opened_at: c.opened_at.unwrap_or(c.requested_at),
                severity: c.severity,
                resolved: c.resolved_at.is_some(),
                awaiting_aws_since: self.awaiting_aws_since(&c).await?,
            }),
            _ => None,
        };
        Ok(Facts {
            opened_at: record.incident.opened_at,
            severity: record.incident.severity,
            resolved: record.incident.status == Status::Resolved,
            involvement,
            aws_evidence: evidence,
            snoozed_until,
            case,
            last_update_at: parse_opt_time(last_update.try_get(0)?)?,
            last_nudge,
        })
    }

    /// The earliest customer message (the opening counts) after AWS's latest reply.
    async fn awaiting_aws_since(&self, case: &SupportCase) -> StoreResult<Option<DateTime<Utc>>> {
        let sql = format!(
            "SELECT COALESCE(c.opened_at, c.requested_at), {AWS_LAST_REPLIED}, {FIRST_UNANSWERED}
             FROM support_cases c WHERE c.id = ?"
        );
        let row = sqlx::query(&sql)
            .bind(case.row)
            .fetch_one(self.pool())
            .await?;
        awaiting_aws_from(&row, 0)
    }

    /// Record an answer to the nudges (who said whether AWS is involved, or a snooze) with
    /// its timeline entry and its channel notice (outbox), marking `inbox_id` processed, in
    /// one transaction. Returns whether it was new (a replay changes nothing).
    pub async fn record_answer(
        &self,
        incident: IncidentId,
        answer: NudgeAnswer,
        entry: &NewEntry,
        notice: Option<&NewOutgoing>,
        now: DateTime<Utc>,
        inbox_id: Option<i64>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        ensure_row(&mut tx, incident).await?;
        let new = insert_entry(&mut tx, entry, now).await?;
        if new {
            let (column, value) = match answer {
                NudgeAnswer::AwsInvolved(yes) => {
                    ("aws_involved", if yes { "yes" } else { "no" }.to_string())
                }
                NudgeAnswer::SnoozedUntil(until) => ("snoozed_until", fmt_time(until)),
            };
            sqlx::query(&format!(
                "UPDATE escalation SET {column} = ? WHERE incident_id = ?"
            ))
            .bind(value)
            .bind(incident.0)
            .execute(&mut *tx)
            .await?;
            if let Some(notice) = notice {
                enqueue(&mut tx, None, notice, now).await?;
            }
        }
        mark_inbox(&mut tx, inbox_id, now).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Make sure a nudge clock looks again at `due` (idempotent per due time).
    pub async fn schedule_nudge(
        &self,
        incident: IncidentId,
        kind: NudgeKind,
        due: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.schedule_timer(
            NUDGE_TIMER,
            &nudge_timer_key(incident, kind, due),
            due,
            &nudge_payload(incident, kind),
        )
        .await
    }

    /// Settle a fired nudge timer, atomically: claim it, and for a nudge record its timeline
    /// entry, the time of the nudge and its message in the outbox; schedule the next look.
    /// Returns `false` (writing nothing) when the timer had fired already.
    pub async fn fire_nudge(
        &self,
        timer: &Timer,
        incident: IncidentId,
        kind: NudgeKind,
        outcome: &NudgeOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        if !claim_timer(&mut tx, timer.id, now).await? {
            return Ok(false);
        }
        let next = match outcome {
            NudgeOutcome::Nudge {
                kind: nudged,
                entry,
                message,
                next,
            } => {
                ensure_row(&mut tx, incident).await?;
                insert_entry(&mut tx, entry, now).await?;
                let sql = format!(
                    "UPDATE escalation SET {} = ? WHERE incident_id = ?",
                    last_column(*nudged)
                );
                sqlx::query(&sql)
                    .bind(fmt_time(now))
                    .bind(incident.0)
                    .execute(&mut *tx)
                    .await?;
                enqueue(&mut tx, Some(timer.id), message, now).await?;
                *next
            }
            NudgeOutcome::Wait { next } => *next,
        };
        if let Some(due) = next {
            schedule_in(
                &mut tx,
                NUDGE_TIMER,
                &nudge_timer_key(incident, kind, due),
                due,
                &nudge_payload(incident, kind),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Record a case request before CreateCase is called. Returns the row and whether it
    /// is new (`false`: a replay, and CreateCase may already have succeeded).
    pub async fn request_case(&self, new: &NewCase) -> StoreResult<(SupportCase, bool)> {
        let fresh = sqlx::query(
            "INSERT INTO support_cases (incident_id, source_key, subject, severity, body,
                                        service_code, category_code, status, requested_by,
                                        requested_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'requested', ?, ?) ON CONFLICT (source_key) DO NOTHING",
        )
        .bind(new.incident_id.0)
        .bind(&new.source_key)
        .bind(&new.subject)
        .bind(new.severity.code())
        .bind(&new.body)
        .bind(&new.service_code)
        .bind(&new.category_code)
        .bind(&new.requested_by)
        .bind(fmt_time(new.requested_at))
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1;
        let sql = format!("SELECT {CASE_COLUMNS} FROM support_cases WHERE source_key = ?");
        let row = sqlx::query(&sql)
            .bind(&new.source_key)
            .fetch_one(self.pool())
            .await?;
        Ok((case_from_row(&row)?, fresh))
    }

    /// The case of a row id.
    pub async fn case_by_row(&self, case_row: i64) -> StoreResult<Option<SupportCase>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM support_cases WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(case_row)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(case_from_row).transpose()
    }

    /// A CreateCase attempt failed in a way worth retrying: count it, remember why, and
    /// schedule the retry timer, atomically. Returns the attempts so far.
    pub async fn case_attempt_failed(
        &self,
        case_row: i64,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "UPDATE support_cases SET attempts = attempts + 1, error = ? WHERE id = ? RETURNING attempts",
        )
        .bind(error)
        .bind(case_row)
        .fetch_one(&mut *tx)
        .await?;
        let attempts: i64 = row.try_get(0)?;
        schedule_in(
            &mut tx,
            CASE_RETRY_TIMER,
            &format!("case_retry:{case_row}:{attempts}"),
            retry_at,
            &serde_json::json!({"case_row": case_row}).to_string(),
        )
        .await?;
        tx.commit().await?;
        Ok(attempts)
    }

    /// Claim a case-retry timer (so a retry runs once); `false` when it fired already.
    pub async fn claim_case_retry(&self, timer: &Timer, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let claimed = claim_timer(&mut tx, timer.id, now).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// AWS opened the case: record its id and the timeline entry, and put the channel
    /// message in the outbox, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn case_opened(
        &self,
        case_row: i64,
        case_id: &str,
        display_id: Option<&str>,
        body: &str,
        entry: &NewEntry,
        message: &NewOutgoing,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE support_cases SET case_id = ?, display_id = ?, status = 'opened', opened_at = ?,
                                      error = NULL
             WHERE id = ? AND case_id IS NULL",
        )
        .bind(case_id)
        .bind(display_id)
        .bind(fmt_time(entry.occurred_at))
        .bind(case_row)
        .execute(&mut *tx)
        .await?;
        insert_sent(
            &mut tx,
            case_row,
            &format!("sent:open:{case_row}"),
            "warroom",
            body,
            entry.occurred_at,
            now,
        )
        .await?;
        if insert_entry(&mut tx, entry, now).await? {
            enqueue(&mut tx, None, message, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// CreateCase failed for good: record why (the case row is kept for the record) and
    /// tell the channel through the outbox.
    pub async fn case_failed(
        &self,
        case_row: i64,
        error: &str,
        entry: &NewEntry,
        message: &NewOutgoing,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE support_cases SET status = 'failed', error = ? WHERE id = ? AND case_id IS NULL",
        )
        .bind(error)
        .bind(case_row)
        .execute(&mut *tx)
        .await?;
        if insert_entry(&mut tx, entry, now).await? {
            enqueue(&mut tx, None, message, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The incident's latest case request, if any (failed ones included).
    pub async fn latest_case(&self, incident: IncidentId) -> StoreResult<Option<SupportCase>> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM support_cases WHERE incident_id = ?
             ORDER BY (case_id IS NOT NULL) DESC, id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(incident.0)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(case_from_row).transpose()
    }

    /// Every case request of an incident, oldest first.
    pub async fn incident_cases(&self, incident: IncidentId) -> StoreResult<Vec<SupportCase>> {
        let sql =
            format!("SELECT {CASE_COLUMNS} FROM support_cases WHERE incident_id = ? ORDER BY id");
        let rows = sqlx::query(&sql)
            .bind(incident.0)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(case_from_row).collect()
    }

    /// The case recorded for a request key (a replayed command or click).
    pub async fn case_by_source(&self, source_key: &str) -> StoreResult<Option<SupportCase>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM support_cases WHERE source_key = ?");
        let row = sqlx::query(&sql)
            .bind(source_key)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(case_from_row).transpose()
    }

    /// Cases open at AWS, for the correspondence poller.
    pub async fn open_cases(&self) -> StoreResult<Vec<SupportCase>> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM support_cases
             WHERE case_id IS NOT NULL AND resolved_at IS NULL ORDER BY id"
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(case_from_row).collect()
    }

    /// The newest correspondence time recorded for a case (to ask AWS only for newer).
    pub async fn last_communication_at(&self, case_row: i64) -> StoreResult<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT MAX(time_created) FROM support_communications
             WHERE case_row = ? AND key NOT LIKE 'sent:%'",
        )
        .bind(case_row)
        .fetch_one(self.pool())
        .await?;
        parse_opt_time(row.try_get(0)?)
    }

    /// Whether the customer side sent this body through warroom (so it is not mirrored back).
    pub async fn sent_by_warroom(&self, case_row: i64, body: &str) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM support_communications
                            WHERE case_row = ? AND key LIKE 'sent:%' AND body = ?)",
        )
        .bind(case_row)
        .bind(normalise_body(body))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>(0)? != 0)
    }

    /// Record a communication AWS listed, once: with a timeline entry and a channel message
    /// when given (AWS's replies, messages written outside warroom). Returns whether it was
    /// new.
    pub async fn record_communication(
        &self,
        case_row: i64,
        comm: &Communication,
        entry: Option<&NewEntry>,
        message: Option<&NewOutgoing>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let new = sqlx::query(
            "INSERT INTO support_communications (case_row, key, from_aws, submitted_by, body,
                                                 attachments, time_created, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        )
        .bind(case_row)
        .bind(comm.key())
        .bind(comm.from_aws() as i64)
        .bind(&comm.submitted_by)
        .bind(&comm.body)
        .bind(serde_json::to_string(&comm.attachments).unwrap_or_else(|_| "[]".into()))
        .bind(fmt_time(comm.time_created))
        .bind(fmt_time(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if new {
            if let Some(entry) = entry {
                insert_entry(&mut tx, entry, now).await?;
            }
            if let Some(message) = message {
                enqueue(&mut tx, None, message, now).await?;
            }
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Record a message warroom sent on the case (`/incident aws reply`), with its timeline
    /// entry, marking `inbox_id` processed.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_sent_reply(
        &self,
        case_row: i64,
        source_key: &str,
        author: &str,
        body: &str,
        entry: &NewEntry,
        notice: Option<&NewOutgoing>,
        now: DateTime<Utc>,
        inbox_id: Option<i64>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        insert_sent(
            &mut tx,
            case_row,
            &format!("sent:{source_key}"),
            author,
            body,
            now,
            now,
        )
        .await?;
        if insert_entry(&mut tx, entry, now).await? {
            if let Some(notice) = notice {
                enqueue(&mut tx, None, notice, now).await?;
            }
        }
        mark_inbox(&mut tx, inbox_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The case is resolved (by warroom or seen resolved at AWS): record it once, with its
    /// timeline entry and channel message.
    pub async fn case_resolved(
        &self,
        case_row: i64,
        status: &str,
        entry: &NewEntry,
        message: Option<&NewOutgoing>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE support_cases SET status = ?, resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
        )
        .bind(status)
        .bind(fmt_time(entry.occurred_at))
        .bind(case_row)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if changed {
            insert_entry(&mut tx, entry, now).await?;
            if let Some(message) = message {
                enqueue(&mut tx, None, message, now).await?;
            }
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Remember AWS's latest status of an open case (shown by `/incident aws status`).
    pub async fn set_case_status(&self, case_row: i64, status: &str) -> StoreResult<()> {
        sqlx::query("UPDATE support_cases SET status = ? WHERE id = ? AND resolved_at IS NULL")
            .bind(status)
            .bind(case_row)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The correspondence of a case, oldest first (warroom's own copies included).
    pub async fn case_communications(&self, case_row: i64) -> StoreResult<Vec<CaseCorrespondence>> {
        let rows = sqlx::query(
            "SELECT from_aws, submitted_by, body, time_created, key FROM support_communications
             WHERE case_row = ? ORDER BY time_created, id",
        )
        .bind(case_row)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let key: String = r.try_get(4)?;
                Ok(CaseCorrespondence {
                    from_aws: r.try_get::<i64, _>(0)? != 0,
                    submitted_by: r.try_get(1)?,
                    body: r.try_get(2)?,
                    at: parse_time(&r.try_get::<String, _>(3)?)?,
                    sent_by_warroom: key.starts_with("sent:"),
                    opening: key.starts_with("sent:open:"),
                })
            })
            .collect()
    }

    /// The alarm route that opened the incident, if an alarm did.
    pub async fn alarm_route_of(&self, incident: IncidentId) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT route FROM alarm_incidents WHERE incident_id = ?")
            .bind(incident.0)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Put one message in the outbox on its own.
    pub async fn enqueue_outgoing(
        &self,
        message: &NewOutgoing,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        enqueue(&mut tx, None, message, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Open incidents, for re-arming nudge clocks at start.
    pub async fn open_incident_ids(&self) -> StoreResult<Vec<IncidentId>> {
        let rows = sqlx::query("SELECT id FROM incidents WHERE status != 'resolved' ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(IncidentId(r.try_get(0)?))).collect()
    }
}

/// One message on a case, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseCorrespondence {
    pub from_aws: bool,
    pub submitted_by: String,
    pub body: String,
    pub at: DateTime<Utc>,
    /// Sent through warroom (the opening or `/incident aws reply`), not read back from AWS.
    pub sent_by_warroom: bool,
    /// The description warroom opened the case with.
    pub opening: bool,
}

async fn insert_sent(
    tx: &mut Transaction<'_, Sqlite>,
    case_row: i64,
    key: &str,
    author: &str,
    body: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO support_communications (case_row, key, from_aws, submitted_by, body,
                                             time_created, recorded_at)
         VALUES (?, ?, 0, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
    )
    .bind(case_row)
    .bind(key)
    .bind(author)
    .bind(normalise_body(body))
    .bind(fmt_time(at))
    .bind(fmt_time(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
