//! Escalation state: what the nudge clocks read ([`Facts`]), the nudge timers, AWS Support
//! cases and their correspondence.
//!
//! Every write that Slack will see goes through the outbox in the unit of work that records
//! it, so a crash can delay a nudge or a mirrored AWS reply but neither lose nor repeat it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{
    bad, fmt_time, incidents, parse_opt_time, parse_time, timeline, timers, Db, StoreResult, Tx,
};
use crate::domain::escalation::{CaseFacts, Facts, Involvement, NudgeKind};
use crate::domain::support::{CaseCorrespondence, Communication, SupportCase, SupportSeverity};
use crate::domain::{IncidentId, Status};

/// The timer kind of every nudge clock.
pub const NUDGE_TIMER: &str = "nudge";
/// The timer kind of a CreateCase retry (payload `{"case_row": N}`).
pub const CASE_RETRY_TIMER: &str = "case_retry";

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

/// An answer to the nudges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NudgeAnswer {
    /// `/incident aws yes|no`, "Not an AWS issue".
    AwsInvolved(bool),
    /// `/incident snooze`, the Snooze button.
    SnoozedUntil(DateTime<Utc>),
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

/// Make sure a nudge clock looks again at `due` (idempotent per due time).
pub async fn schedule_nudge(
    tx: &mut Tx,
    incident: IncidentId,
    kind: NudgeKind,
    due: DateTime<Utc>,
) -> StoreResult<bool> {
    timers::schedule(
        tx,
        NUDGE_TIMER,
        &nudge_timer_key(incident, kind, due),
        due,
        &nudge_payload(incident, kind),
    )
    .await
}

/// Schedule the retry of CreateCase attempt `attempts + 1` for a case request.
pub async fn schedule_case_retry(
    tx: &mut Tx,
    case_row: i64,
    attempts: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    timers::schedule(
        tx,
        CASE_RETRY_TIMER,
        &format!("case_retry:{case_row}:{attempts}"),
        at,
        &serde_json::json!({"case_row": case_row}).to_string(),
    )
    .await?;
    Ok(())
}

fn last_column(kind: NudgeKind) -> &'static str {
    match kind {
        NudgeKind::OpenCase => "last_open_case",
        NudgeKind::AwsQuiet => "last_aws_quiet",
        NudgeKind::StaleUpdate => "last_stale_update",
    }
}

async fn ensure_row(tx: &mut Tx, incident: IncidentId) -> StoreResult<()> {
    sqlx::query("INSERT INTO escalation (incident_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(incident.0)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Record an answer to the nudges (who said whether AWS is involved, or a snooze).
pub async fn set_answer(tx: &mut Tx, incident: IncidentId, answer: NudgeAnswer) -> StoreResult<()> {
    ensure_row(tx, incident).await?;
    let (column, value) = match answer {
        NudgeAnswer::AwsInvolved(yes) => {
            ("aws_involved", if yes { "yes" } else { "no" }.to_string())
        }
        NudgeAnswer::SnoozedUntil(until) => ("snoozed_until", fmt_time(until)),
    };
    // `column` is one of the literals above, never input.
    sqlx::query(&format!(
        "UPDATE escalation SET {column} = $1 WHERE incident_id = $2"
    ))
    .bind(value)
    .bind(incident.0)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Note that a nudge of `kind` was posted at `at`.
pub async fn set_last_nudge(
    tx: &mut Tx,
    incident: IncidentId,
    kind: NudgeKind,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    ensure_row(tx, incident).await?;
    sqlx::query(&format!(
        "UPDATE escalation SET {} = $1 WHERE incident_id = $2",
        last_column(kind)
    ))
    .bind(fmt_time(at))
    .bind(incident.0)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Everything the nudge clocks look at for one incident.
pub async fn facts(db: Db<'_>, incident: IncidentId) -> StoreResult<Facts> {
    let mut c = db.conn().await?;
    let record = incidents::get(c.db(), incident).await?;
    let row = sqlx::query(
        "SELECT aws_involved, snoozed_until, last_open_case, last_aws_quiet, last_stale_update
         FROM escalation WHERE incident_id = $1",
    )
    .bind(incident.0)
    .fetch_optional(&mut *c)
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
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM alarm_incidents WHERE incident_id = $1)
                       OR EXISTS (SELECT 1 FROM alarm_links WHERE incident_id = $1)
                       OR EXISTS (SELECT 1 FROM health_events_seen WHERE incident_id = $1)
                       OR EXISTS (SELECT 1 FROM drills WHERE incident_id = $1)
                THEN 1 ELSE 0 END",
    )
    .bind(incident.0)
    .fetch_one(&mut *c)
    .await?
    .try_get::<i64, _>(0)?
        != 0;
    let last_update_at = timeline::last_update_of(c.db(), incident).await?;
    let case = match latest_case(c.db(), incident).await? {
        Some(case) if case.case_id.is_some() => Some(CaseFacts {
            opened_at: case.opened_at.unwrap_or(case.requested_at),
            severity: case.severity,
            resolved: case.resolved_at.is_some(),
            awaiting_aws_since: awaiting_aws_since(c.db(), case.row).await?,
        }),
        // A drill's dry-run case is its AWS decision: no more "open one" nudges, and no
        // "AWS is quiet" ones either (nobody at AWS was asked).
        _ => match super::drills::get(c.db(), incident).await? {
            Some(d) => match (d.dry_run_at, d.dry_run) {
                (Some(at), Some(case)) => Some(CaseFacts {
                    opened_at: at,
                    severity: case.severity,
                    resolved: true,
                    awaiting_aws_since: None,
                }),
                _ => None,
            },
            None => None,
        },
    };
    Ok(Facts {
        opened_at: record.incident.opened_at,
        severity: record.incident.severity,
        resolved: record.incident.status == Status::Resolved,
        involvement,
        aws_evidence: evidence,
        snoozed_until,
        case,
        last_update_at,
        last_nudge,
    })
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
pub(super) fn awaiting_aws_from(row: &AnyRow, at: usize) -> StoreResult<Option<DateTime<Utc>>> {
    let opened = parse_time(&row.try_get::<String, _>(at)?)?;
    if parse_opt_time(row.try_get(at + 1)?)?.is_none() {
        return Ok(Some(opened));
    }
    parse_opt_time(row.try_get(at + 2)?)
}

/// The earliest customer message (the opening counts) after AWS's latest reply.
async fn awaiting_aws_since(db: Db<'_>, case_row: i64) -> StoreResult<Option<DateTime<Utc>>> {
    let mut c = db.conn().await?;
    let sql = format!(
        "SELECT COALESCE(c.opened_at, c.requested_at), {AWS_LAST_REPLIED}, {FIRST_UNANSWERED}
         FROM support_cases c WHERE c.id = $1"
    );
    let row = sqlx::query(&sql).bind(case_row).fetch_one(&mut *c).await?;
    awaiting_aws_from(&row, 0)
}

const CASE_COLUMNS: &str =
    "id, incident_id, source_key, case_id, display_id, subject, severity, body, service_code,
     category_code, attempts, status, requested_by, requested_at, opened_at, resolved_at, error";

fn case_from_row(r: &AnyRow) -> StoreResult<SupportCase> {
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
            .map_err(|e: String| bad("case severity", e))?,
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

/// Normalise a body for "is this the text we sent?" (AWS may change line endings and trim).
pub(super) fn normalise_body(body: &str) -> String {
    body.replace("\r\n", "\n").trim().to_string()
}

/// Record a case request before CreateCase is called. Returns the row and whether it
/// is new (`false`: a replay, and CreateCase may already have succeeded).
pub async fn request_case(tx: &mut Tx, new: &NewCase) -> StoreResult<(SupportCase, bool)> {
    let fresh = sqlx::query(
        "INSERT INTO support_cases (incident_id, source_key, subject, severity, body,
                                    service_code, category_code, status, requested_by,
                                    requested_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', $8, $9)
         ON CONFLICT (source_key) DO NOTHING",
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
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    let case = case_by_source(tx.db(), &new.source_key)
        .await?
        .ok_or_else(|| bad("case request", &new.source_key))?;
    Ok((case, fresh))
}

/// The case of a row id.
pub async fn case_by_row(db: Db<'_>, case_row: i64) -> StoreResult<Option<SupportCase>> {
    let mut c = db.conn().await?;
    let sql = format!("SELECT {CASE_COLUMNS} FROM support_cases WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(case_row)
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(case_from_row).transpose()
}

/// The case recorded for a request key (a replayed command or click).
pub async fn case_by_source(db: Db<'_>, source_key: &str) -> StoreResult<Option<SupportCase>> {
    let mut c = db.conn().await?;
    let sql = format!("SELECT {CASE_COLUMNS} FROM support_cases WHERE source_key = $1");
    let row = sqlx::query(&sql)
        .bind(source_key)
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(case_from_row).transpose()
}

/// The incident's latest case request, if any (failed ones included; an opened one first).
pub async fn latest_case(db: Db<'_>, incident: IncidentId) -> StoreResult<Option<SupportCase>> {
    let mut c = db.conn().await?;
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM support_cases WHERE incident_id = $1
         ORDER BY CASE WHEN case_id IS NULL THEN 0 ELSE 1 END DESC, id DESC LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(incident.0)
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(case_from_row).transpose()
}

/// Every case request of an incident, oldest first.
pub async fn cases_of(db: Db<'_>, incident: IncidentId) -> StoreResult<Vec<SupportCase>> {
    let mut c = db.conn().await?;
    let sql =
        format!("SELECT {CASE_COLUMNS} FROM support_cases WHERE incident_id = $1 ORDER BY id");
    let rows = sqlx::query(&sql)
        .bind(incident.0)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(case_from_row).collect()
}

/// Cases open at AWS, for the correspondence poller.
pub async fn open_cases(db: Db<'_>) -> StoreResult<Vec<SupportCase>> {
    let mut c = db.conn().await?;
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM support_cases
         WHERE case_id IS NOT NULL AND resolved_at IS NULL ORDER BY id"
    );
    let rows = sqlx::query(&sql).fetch_all(&mut *c).await?;
    rows.iter().map(case_from_row).collect()
}

/// A CreateCase attempt failed in a way worth retrying: count it and remember why.
/// Returns the attempts so far.
pub async fn case_attempt_failed(tx: &mut Tx, case_row: i64, error: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "UPDATE support_cases SET attempts = attempts + 1, error = $1 WHERE id = $2
         RETURNING attempts",
    )
    .bind(error)
    .bind(case_row)
    .fetch_one(tx.conn())
    .await?;
    Ok(row.try_get(0)?)
}

/// AWS opened the case (once: a case that has its id keeps it).
pub async fn case_opened(
    tx: &mut Tx,
    case_row: i64,
    case_id: &str,
    display_id: Option<&str>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE support_cases SET case_id = $1, display_id = $2, status = 'opened',
                                  opened_at = $3, error = NULL
         WHERE id = $4 AND case_id IS NULL",
    )
    .bind(case_id)
    .bind(display_id)
    .bind(fmt_time(at))
    .bind(case_row)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// CreateCase failed for good (the row is kept for the record).
pub async fn case_failed(tx: &mut Tx, case_row: i64, error: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE support_cases SET status = 'failed', error = $1 WHERE id = $2 AND case_id IS NULL",
    )
    .bind(error)
    .bind(case_row)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The case is resolved (by warroom or seen resolved at AWS). Returns whether this is the
/// first time it was recorded.
pub async fn case_resolved(
    tx: &mut Tx,
    case_row: i64,
    status: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "UPDATE support_cases SET status = $1, resolved_at = $2
         WHERE id = $3 AND resolved_at IS NULL",
    )
    .bind(status)
    .bind(fmt_time(at))
    .bind(case_row)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// Remember AWS's latest status of an open case (shown by `/incident aws status`).
pub async fn set_case_status(tx: &mut Tx, case_row: i64, status: &str) -> StoreResult<()> {
    sqlx::query("UPDATE support_cases SET status = $1 WHERE id = $2 AND resolved_at IS NULL")
        .bind(status)
        .bind(case_row)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The newest correspondence time recorded for a case (to ask AWS only for newer).
pub async fn last_communication_at(
    db: Db<'_>,
    case_row: i64,
) -> StoreResult<Option<DateTime<Utc>>> {
    let mut c = db.conn().await?;
    let row = sqlx::query(
        "SELECT MAX(time_created) FROM support_communications
         WHERE case_row = $1 AND key NOT LIKE 'sent:%'",
    )
    .bind(case_row)
    .fetch_one(&mut *c)
    .await?;
    parse_opt_time(row.try_get(0)?)
}

/// Whether the customer side sent this body through warroom (so it is not mirrored back).
pub async fn sent_by_warroom(db: Db<'_>, case_row: i64, body: &str) -> StoreResult<bool> {
    let mut c = db.conn().await?;
    let row = sqlx::query(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM support_communications
                                  WHERE case_row = $1 AND key LIKE 'sent:%' AND body = $2)
                THEN 1 ELSE 0 END",
    )
    .bind(case_row)
    .bind(normalise_body(body))
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get::<i64, _>(0)? != 0)
}

/// Record a communication AWS listed, once. Returns whether it was new.
pub async fn record_communication(
    tx: &mut Tx,
    case_row: i64,
    comm: &Communication,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "INSERT INTO support_communications (case_row, key, from_aws, submitted_by, body,
                                             attachments, time_created, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO NOTHING",
    )
    .bind(case_row)
    .bind(comm.key())
    .bind(comm.from_aws() as i64)
    .bind(&comm.submitted_by)
    .bind(&comm.body)
    .bind(serde_json::to_string(&comm.attachments).unwrap_or_else(|_| "[]".into()))
    .bind(fmt_time(comm.time_created))
    .bind(fmt_time(now))
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// A message warroom sent on the case (the opening, `/incident aws reply`), keyed so a
/// replay records it once; matched by body when AWS lists it back.
pub async fn record_sent(
    tx: &mut Tx,
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
         VALUES ($1, $2, 0, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
    )
    .bind(case_row)
    .bind(key)
    .bind(author)
    .bind(normalise_body(body))
    .bind(fmt_time(at))
    .bind(fmt_time(now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The correspondence of a case, oldest first (warroom's own copies included).
pub async fn communications(db: Db<'_>, case_row: i64) -> StoreResult<Vec<CaseCorrespondence>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT from_aws, submitted_by, body, time_created, key FROM support_communications
         WHERE case_row = $1 ORDER BY time_created, id",
    )
    .bind(case_row)
    .fetch_all(&mut *c)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Severity, UserId};
    use crate::store::incidents::NewIncident;
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    async fn a_case_is_requested_once_and_its_replies_are_recorded_once(store: Store) {
        let now = Utc::now();
        let mut tx = store.begin().await.unwrap();
        let (record, _) = incidents::create(
            &mut tx,
            &NewIncident {
                private: false,
                source_key: "cmd:1".into(),
                title: "t".into(),
                severity: Severity::Sev1,
                declared_by: UserId::parse("U1").unwrap(),
                opened_at: now,
                channel_name: "inc-t".into(),
            },
            now,
        )
        .await
        .unwrap();
        let id = record.incident.id;
        let new = NewCase {
            incident_id: id,
            source_key: "cmd:2".into(),
            subject: "s".into(),
            severity: SupportSeverity::Urgent,
            body: "b".into(),
            service_code: None,
            category_code: None,
            requested_by: "U1".into(),
            requested_at: now,
        };
        let (case, fresh) = request_case(&mut tx, &new).await.unwrap();
        assert!(fresh);
        let (again, fresh) = request_case(&mut tx, &new).await.unwrap();
        assert!(!fresh);
        assert_eq!(again.row, case.row);
        case_opened(&mut tx, case.row, "case-1", Some("1001"), now)
            .await
            .unwrap();
        record_sent(
            &mut tx,
            case.row,
            "sent:open:1",
            "warroom",
            "b\r\n",
            now,
            now,
        )
        .await
        .unwrap();
        let reply = Communication {
            case_id: "case-1".into(),
            body: "we are looking".into(),
            submitted_by: crate::domain::support::AWS_AUTHOR.into(),
            time_created: now + chrono::Duration::minutes(5),
            attachments: vec![],
        };
        assert!(record_communication(&mut tx, case.row, &reply, now)
            .await
            .unwrap());
        assert!(!record_communication(&mut tx, case.row, &reply, now)
            .await
            .unwrap());
        tx.commit().await.unwrap();
        let latest = latest_case(store.db(), id).await.unwrap().unwrap();
        assert!(latest.is_open());
        assert_eq!(latest.display_id.as_deref(), Some("1001"));
        assert!(sent_by_warroom(store.db(), case.row, "b").await.unwrap());
        assert_eq!(communications(store.db(), case.row).await.unwrap().len(), 2);
        let facts = facts(store.db(), id).await.unwrap();
        let case_facts = facts.case.unwrap();
        assert_eq!(case_facts.awaiting_aws_since, None, "AWS answered last");
        assert_eq!(open_cases(store.db()).await.unwrap().len(), 1);
    }

    on_both_backends!(a_case_is_requested_once_and_its_replies_are_recorded_once,);
}
