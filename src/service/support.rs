//! AWS Support cases from Slack: the case modal and `/incident escalate aws`, CreateCase
//! with retries that never open a second case, `/incident aws reply|status`, resolving, and
//! the poller that mirrors AWS's replies into the channel.
//!
//! Who may open, answer or resolve a case is decided before any of this runs, by the
//! checkpoint (`service/authorization.rs`): the `escalate aws`, `aws reply`, case button,
//! case form and "Resolve AWS case" rows of the table.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

use super::answer::Request;
use super::failure::{event_reference, fresh_reference, internal_error, Failure};
use super::{Ctx, Service};
use crate::aws::{Aws, AwsError};
use crate::backoff::Backoff;
use crate::domain::case_draft::{self, DraftInput, ExcerptLine};
use crate::domain::drill::DryRunCase;
use crate::domain::support::{CaseRequest, Communication, SupportCase, SupportSeverity};
use crate::domain::OutboxDestination;
use crate::domain::{EntryKind, IncidentRecord, TimelineEntry, UserId};
use crate::slack::inbound::ViewSubmission;
use crate::slack::render_support::{self as render, field, CaseForm};
use crate::store::drills::{self, Drill};
use crate::store::escalation::{self, NewCase};
use crate::store::inbox;
use crate::store::outbox::{self, NewOutgoing};
use crate::store::timeline::{self, NewEntry};
use crate::store::timers::{self, Timer};
use crate::store::{alarms, changes, incidents, StoreError};

/// What may be shown of an AWS error: its code (documented by AWS, naming nothing of the
/// account), never its message.
fn aws_says(e: &AwsError) -> String {
    match e.code() {
        Some(code) => format!("AWS says {code}"),
        None => "AWS did not answer".to_string(),
    }
}

/// CreateCase retries (after the first attempt) before the request is given up on.
const MAX_CASE_RETRIES: i64 = 8;
/// Timeline entries quoted in the case body.
const EXCERPT_ENTRIES: usize = 40;

/// The wait before CreateCase retry `attempt` (1-based): 15 s doubling, at most 4 min.
fn case_retry_delay(attempt: i64) -> Duration {
    const RETRY: Backoff = Backoff::doubling(
        std::time::Duration::from_secs(15),
        std::time::Duration::from_secs(240),
    );
    Duration::from_std(RETRY.delay_i64(attempt)).unwrap_or(Duration::seconds(240))
}

impl Service {
    /// Mirror AWS's replies on open cases until `shutdown`. Polls every
    /// `[escalation] support_poll_interval` of the service clock, so tests move the clock
    /// instead of waiting.
    pub async fn run_support(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(aws) = support_api(&self.ctx).cloned() else {
            return;
        };
        let every = Duration::from_std(self.ctx.config.escalation.support_poll_interval)
            .unwrap_or(Duration::minutes(1));
        let mut last: Option<DateTime<Utc>> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let now = self.ctx.clock.now();
            if last.is_none_or(|l| now - l >= every) {
                last = Some(now);
                poll_cases(&self.ctx, &aws).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                _ = self.ctx.support_kick.notified() => { last = None; }
                _ = shutdown.changed() => {}
            }
        }
    }
}

pub(super) fn support_api(ctx: &Ctx) -> Option<&Aws> {
    if ctx.config.escalation.support_api {
        ctx.aws.as_ref()
    } else {
        None
    }
}

/// The case form drafted from the incident: subject, severity, codes and a body of at
/// most `body_chars` characters.
pub(super) async fn draft_case(
    ctx: &Ctx,
    record: &IncidentRecord,
    severity: Option<SupportSeverity>,
    body_chars: usize,
) -> Result<CaseForm, Failure> {
    let i = &record.incident;
    let now = ctx.clock.now();
    let mut alarms: Vec<crate::domain::alarm::Alarm> = Vec::new();
    for t in alarms::of_incident(ctx.store.db(), i.id)
        .await?
        .into_iter()
        .rev()
    {
        if !alarms.iter().any(|a| a.arn == t.alarm.arn) {
            alarms.push(t.alarm);
        }
    }
    alarms.reverse();
    let health = alarms::health_events_seen(ctx.store.db(), i.id).await?;
    let changes = changes::of_incident(ctx.store.db(), i.id)
        .await?
        .last()
        .map(|r| r.plain_lines())
        .unwrap_or_default();
    let entries = timeline::of_incident(ctx.store.db(), i.id).await?;
    let line = |e: &TimelineEntry| ExcerptLine {
        at: e.occurred_at,
        who: e.actor.clone().unwrap_or_default(),
        text: e.text.clone(),
    };
    let live: Vec<_> = entries.iter().filter(|e| e.deleted_at.is_none()).collect();
    let impact = live
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::Update)
        .map(|e| e.text.as_str());
    let tried: Vec<ExcerptLine> = live
        .iter()
        .filter(|e| e.kind == EntryKind::Note || (e.kind == EntryKind::Message && e.key_event))
        .map(|e| line(e))
        .collect();
    let recent: Vec<&&TimelineEntry> = live
        .iter()
        .filter(|e| !matches!(e.kind, EntryKind::Nudge))
        .collect();
    let excerpt: Vec<ExcerptLine> = recent[recent.len().saturating_sub(EXCERPT_ENTRIES)..]
        .iter()
        .map(|e| line(e))
        .collect();
    let body = case_draft::body_within(
        &DraftInput {
            incident_id: i.id.0,
            title: &i.title,
            severity: i.severity,
            status: i.status,
            opened_at: i.opened_at,
            now,
            impact,
            alarms: &alarms,
            health: &health,
            changes: &changes,
            tried: &tried,
            excerpt: &excerpt,
        },
        body_chars,
    );
    Ok(CaseForm {
        subject: case_draft::subject(i.id.0, &i.title),
        severity: severity.unwrap_or_else(|| ctx.config.escalation.case_severity_for(i.severity)),
        service_code: ctx.config.escalation.service_code.clone(),
        category_code: ctx.config.escalation.category_code.clone(),
        body,
    })
}

/// The nudge's "Open AWS Support case" button: the prefilled modal.
pub(super) async fn show_case_modal(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    trigger_id: &str,
) -> Result<(), Failure> {
    if let Some(case) = escalation::latest_case(ctx.store.db(), record.incident.id).await? {
        if case.is_open() {
            super::answer::tell(ctx, req, &render::case_already_open(&case)).await;
            return Ok(());
        }
    }
    // The form's text input holds less than the Support API takes.
    let form = draft_case(ctx, record, None, crate::slack::limits::INPUT_MAX_LENGTH).await?;
    let metadata = serde_json::json!({"incident": record.incident.id.0}).to_string();
    if let Err(e) = ctx
        .web
        .open_view(trigger_id, render::case_modal(&form, &metadata))
        .await
    {
        // Triggers expire after 3 seconds: a slow queue loses the modal, not the case.
        let msg = internal_error(
            "the case form could not be opened; `/incident escalate aws` opens the case with the drafted text",
            &event_reference(req.inbox_id),
            &e,
        );
        super::answer::tell(ctx, req, &msg).await;
    }
    Ok(())
}

/// The case form was submitted (the checkpoint let it through).
pub(super) async fn case_submitted(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    v: &ViewSubmission,
) -> Result<(), Failure> {
    let get = |k: &str| {
        v.values
            .get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let drafted = draft_case(ctx, record, None, case_draft::MAX_BODY_CHARS).await?;
    let form = CaseForm {
        subject: get(field::SUBJECT).unwrap_or(drafted.subject),
        severity: get(field::SEVERITY)
            .and_then(|s| s.parse().ok())
            .unwrap_or(drafted.severity),
        service_code: get(field::SERVICE),
        category_code: get(field::CATEGORY),
        body: get(field::BODY).unwrap_or(drafted.body),
    };
    open_case(ctx, req, record, form).await
}

/// `/incident escalate aws [severity]`: the drafted case, without the modal.
pub(super) async fn escalate_command(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    severity: Option<SupportSeverity>,
) -> Result<(), Failure> {
    let form = draft_case(ctx, record, severity, case_draft::MAX_BODY_CHARS).await?;
    open_case(ctx, req, record, form).await
}

/// Record the request, then try CreateCase once; retryable failures go to a timer so
/// the inbox queue is not held up by AWS.
async fn open_case(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    form: CaseForm,
) -> Result<(), Failure> {
    // A drill's case is a dry run unless it was started with --real-case (which the
    // checkpoint kept to the AWS Support user group): shown and recorded, never sent.
    if let Some(drill) = drills::get(ctx.store.db(), record.incident.id).await? {
        if !drill.real_case {
            return dry_run_case(ctx, req, record, &drill, form).await;
        }
    }
    if support_api(ctx).is_none() {
        super::answer::tell(
            ctx,
            req,
            &render::case_failed(
                None,
                "warroom does not call the Support API here ([escalation] support_api = false)",
            ),
        )
        .await;
        return Ok(());
    }
    if let Some(existing) = escalation::latest_case(ctx.store.db(), record.incident.id).await? {
        if existing.source_key != req.key && (existing.is_open() || existing.status == "requested")
        {
            super::answer::tell(ctx, req, &render::case_already_open(&existing)).await;
            return Ok(());
        }
    }
    let new_case = NewCase {
        incident_id: record.incident.id,
        source_key: req.key.to_string(),
        subject: form.subject,
        severity: form.severity,
        body: form.body,
        service_code: form.service_code,
        category_code: form.category_code,
        requested_by: req.actor.as_str().to_string(),
        requested_at: req.at,
    };
    // Recorded before CreateCase is called, so a retry after a crash looks for the case
    // this attempt may open instead of opening a second one.
    let mut tx = ctx.store.begin().await?;
    let (case, fresh) = escalation::request_case(&mut tx, &new_case).await?;
    tx.commit().await?;
    attempt_case(ctx, &case, fresh).await
}

/// The case a drill would have opened: kept with the drill, on the timeline (the AWS
/// decision of the scorecard) and posted in the channel, at once. CreateCase is not
/// called. A second request in the same drill is told the first one stands.
async fn dry_run_case(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    drill: &Drill,
    form: CaseForm,
) -> Result<(), Failure> {
    if drill.dry_run.is_some() {
        super::answer::tell(ctx, req, &render::dry_run_already(record.incident.id)).await;
        return Ok(());
    }
    let id = record.incident.id;
    let now = ctx.clock.now();
    let case = DryRunCase {
        by: req.actor.as_str().to_string(),
        severity: form.severity,
        subject: form.subject,
        body: form.body,
    };
    let entry = NewEntry {
        incident_id: id,
        dedupe_key: format!("drill-case:{}", req.key),
        kind: EntryKind::SupportCase,
        occurred_at: now,
        actor: Some(case.by.clone()),
        text: format!(
            "{} ({}): {}",
            crate::domain::drill::DRY_RUN_CASE_TEXT,
            case.severity,
            case.subject
        ),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let notice = super::answer::notice_in(record, render::case_dry_run(&req.actor, &case));
    let mut tx = ctx.store.begin().await?;
    if drills::record_dry_run(&mut tx, id, &case, now).await?
        && timeline::insert(&mut tx, &entry, now).await?
    {
        if let Some(n) = &notice {
            outbox::enqueue(&mut tx, n, now).await?;
        }
    }
    tx.commit().await?;
    tracing::info!(incident = %id, "drill: AWS Support case shown as a dry run, not sent");
    ctx.kick_timers();
    super::nudges::arm_nudges(ctx, id).await
}

/// One CreateCase attempt for a recorded request (from the worker or a retry timer).
async fn attempt_case(ctx: &Ctx, case: &SupportCase, fresh: bool) -> Result<(), Failure> {
    if case.case_id.is_some() || case.status == "failed" {
        return Ok(()); // done before a crash or a redelivery
    }
    let Some(aws) = support_api(ctx) else {
        return Ok(());
    };
    let record = incidents::get(ctx.store.db(), case.incident_id).await?;
    let channel: String = record
        .channel_id
        .clone()
        .map(String::from)
        .unwrap_or_default();
    // CreateCase has no idempotency token: after a crash or a lost answer, look for the
    // case the earlier attempt may have opened before opening another.
    let adopted = if fresh {
        None
    } else {
        aws.case_with_subject(&case.subject, case.requested_at - Duration::minutes(5))
            .await
            .ok()
            .flatten()
    };
    let result = match adopted {
        Some(info) => Ok(info.case_id),
        // (the adopted case's id, or what CreateCase returned)
        None => {
            // Only the leader opens cases, and not after its lease could have passed on.
            let request = CaseRequest {
                subject: case.subject.clone(),
                severity: case.severity,
                service_code: case.service_code.clone(),
                category_code: case.category_code.clone(),
                body: case.body.clone(),
                cc: ctx.config.escalation.cc_email_addresses.clone(),
            };
            ctx.gate
                .run(aws.create_case(&request))
                .await
                .map_err(|e| Failure::Transient(e.into()))?
        }
    };
    let now = ctx.clock.now();
    let entry = |suffix: &str, text: String| NewEntry {
        incident_id: case.incident_id,
        dedupe_key: format!("case:{}:{suffix}", case.row),
        kind: EntryKind::SupportCase,
        occurred_at: now,
        actor: Some(case.requested_by.clone()),
        text,
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let outgoing = |m| super::announce::to_outbox(OutboxDestination::channel(channel.clone()), m);
    match result {
        Ok(case_id) => {
            let display_id = match aws.describe_case(&case_id).await {
                Ok(Some(info)) => info.display_id,
                _ => None,
            };
            let mut opened = case.clone();
            opened.case_id = Some(case_id.clone());
            opened.display_id = display_id.clone();
            opened.opened_at = Some(now);
            let actor = UserId::parse(&case.requested_by).map_err(|e| {
                Failure::Permanent(anyhow::anyhow!("case requested by an unusable id: {e}"))
            })?;
            let text = format!(
                "opened AWS Support case {} ({}): {}",
                display_id.as_deref().unwrap_or(&case_id),
                case.severity,
                case.subject
            );
            // Its id, the opening as sent correspondence, the timeline entry and the
            // channel message, at once.
            let entry = entry("opened", text);
            let message = outgoing(render::case_opened(&actor, &opened));
            let mut tx = ctx.store.begin().await?;
            escalation::case_opened(&mut tx, case.row, &case_id, display_id.as_deref(), now)
                .await?;
            let key = format!("sent:open:{}", case.row);
            escalation::record_sent(&mut tx, case.row, &key, "warroom", &case.body, now, now)
                .await?;
            if timeline::insert(&mut tx, &entry, now).await? {
                outbox::enqueue(&mut tx, &message, now).await?;
            }
            tx.commit().await?;
            tracing::info!(incident = %case.incident_id, case_id, "AWS Support case opened");
            ctx.kick_timers();
            super::nudges::arm_nudges(ctx, case.incident_id).await?;
            ctx.kick_support();
            Ok(())
        }
        Err(e) if e.is_retryable() && case.attempts < MAX_CASE_RETRIES => {
            // The failure counted and the retry timer scheduled, at once.
            let mut tx = ctx.store.begin().await?;
            let attempts =
                escalation::case_attempt_failed(&mut tx, case.row, &e.to_string()).await?;
            let retry_at = now + case_retry_delay(case.attempts + 1);
            escalation::schedule_case_retry(&mut tx, case.row, attempts, retry_at).await?;
            tx.commit().await?;
            tracing::warn!(incident = %case.incident_id, attempts, error = %e, "CreateCase failed; will retry");
            if attempts == 1 {
                if let Some(notice) =
                    super::answer::notice_in(&record, render::case_retrying(&aws_says(&e)))
                {
                    enqueue_alone(ctx, &notice).await?;
                }
            }
            ctx.kick_timers();
            Ok(())
        }
        Err(e) => {
            // AWS's message can name the account and its IAM identities: the channel
            // and the timeline get AWS's error code and a reference, the log the rest.
            let reference = fresh_reference();
            tracing::warn!(incident = %case.incident_id, reference = %reference, error = %e, "CreateCase failed");
            let why = format!("{} (reference `{reference}`)", aws_says(&e));
            let msg = render::case_failed(e.code(), &why);
            let entry = entry(
                "failed",
                format!("the AWS Support case could not be opened: {why}"),
            );
            let message = outgoing(msg);
            let mut tx = ctx.store.begin().await?;
            escalation::case_failed(&mut tx, case.row, &e.to_string()).await?;
            if timeline::insert(&mut tx, &entry, now).await? {
                outbox::enqueue(&mut tx, &message, now).await?;
            }
            tx.commit().await?;
            ctx.kick_timers();
            Ok(())
        }
    }
}

/// A CreateCase retry timer is due.
pub(crate) async fn fire_case_retry(ctx: &Ctx, timer: &Timer) -> Result<(), Failure> {
    let row = serde_json::from_str::<serde_json::Value>(&timer.payload)
        .ok()
        .and_then(|v| v.get("case_row")?.as_i64());
    if let Some(case) = match row {
        Some(r) => escalation::case_by_row(ctx.store.db(), r).await?,
        None => None,
    } {
        attempt_case(ctx, &case, false).await?;
    }
    let mut tx = ctx.store.begin().await?;
    timers::claim(&mut tx, timer.id, ctx.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// `/incident aws reply <text>`.
pub(super) async fn aws_reply(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    text: &str,
) -> Result<(), Failure> {
    let Some(case) = escalation::latest_case(ctx.store.db(), record.incident.id)
        .await?
        .filter(SupportCase::is_open)
    else {
        super::answer::tell(ctx, req, &render::no_case()).await;
        return Ok(());
    };
    if timeline::exists(ctx.store.db(), req.key).await? {
        return Ok(()); // sent and recorded before a crash
    }
    let (Some(aws), Some(case_id)) = (support_api(ctx), case.case_id.as_deref()) else {
        super::answer::tell(ctx, req, &render::no_case()).await;
        return Ok(());
    };
    let send = aws.add_communication(case_id, text, &ctx.config.escalation.cc_email_addresses);
    let sent = ctx
        .gate
        .run(send)
        .await
        .map_err(|e| Failure::Transient(e.into()))?;
    if let Err(e) = sent {
        let msg = internal_error(
            &format!(
                "AWS did not take the reply ({}); nothing was sent. Try again, or write in the Support Center",
                aws_says(&e)
            ),
            &event_reference(req.inbox_id),
            &e,
        );
        super::answer::tell(ctx, req, &msg).await;
        return Ok(());
    }
    let now = ctx.clock.now();
    let entry = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: req.key.to_string(),
        kind: EntryKind::SupportMessage,
        occurred_at: req.at,
        actor: Some(req.actor.as_str().to_string()),
        text: format!("replied on the AWS case: {text}"),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let notice = super::answer::notice_in(record, render::reply_sent(&req.actor, &case, text));
    // The reply as sent correspondence, its timeline entry and notice, and the inbox
    // row, at once.
    let mut tx = ctx.store.begin().await?;
    let key = format!("sent:{}", req.key);
    escalation::record_sent(&mut tx, case.row, &key, req.actor.as_str(), text, now, now).await?;
    if timeline::insert(&mut tx, &entry, now).await? {
        if let Some(notice) = &notice {
            outbox::enqueue(&mut tx, notice, now).await?;
        }
    }
    inbox::mark_processed(&mut tx, req.inbox_id, now, None).await?;
    tx.commit().await?;
    ctx.kick_timers();
    super::nudges::arm_nudges(ctx, record.incident.id).await
}

/// `/incident aws status`: AWS's view of the case, for the caller.
pub(super) async fn aws_status(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
) -> Result<(), Failure> {
    let Some(case) = escalation::latest_case(ctx.store.db(), record.incident.id)
        .await?
        .filter(|c| c.case_id.is_some())
    else {
        super::answer::tell(ctx, req, &render::no_case()).await;
        return Ok(());
    };
    let mut status = None;
    if let (Some(aws), Some(id)) = (support_api(ctx), case.case_id.as_deref()) {
        match aws.describe_case(id).await {
            Ok(Some(info)) => {
                set_case_status(ctx, case.row, &info.status).await?;
                status = Some(info.status);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "DescribeCases failed; showing what is recorded")
            }
        }
    }
    let facts = escalation::facts(ctx.store.db(), record.incident.id).await?;
    let last_aws = escalation::communications(ctx.store.db(), case.row)
        .await?
        .iter()
        .filter(|c| c.from_aws)
        .map(|c| c.at)
        .max();
    let awaiting = facts.case.and_then(|c| c.awaiting_aws_since);
    super::answer::tell(
        ctx,
        req,
        &render::case_status(
            &case,
            status.as_deref(),
            last_aws,
            awaiting,
            ctx.clock.now(),
        ),
    )
    .await;
    Ok(())
}

/// After `/incident resolve`: offer to resolve a case that is still open.
pub(super) async fn offer_case_resolution(
    ctx: &Ctx,
    record: &IncidentRecord,
) -> Result<(), Failure> {
    if let Some(case) = escalation::latest_case(ctx.store.db(), record.incident.id)
        .await?
        .filter(SupportCase::is_open)
    {
        if let Some(notice) = super::answer::notice_in(record, render::resolve_case_prompt(&case)) {
            enqueue_alone(ctx, &notice).await?;
            ctx.kick_timers();
        }
    }
    Ok(())
}

/// The "Resolve AWS case" button.
pub(super) async fn resolve_case_click(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    case_row: Option<i64>,
) -> Result<(), Failure> {
    let case = match case_row {
        Some(r) => escalation::case_by_row(ctx.store.db(), r).await?,
        None => escalation::latest_case(ctx.store.db(), record.incident.id).await?,
    };
    let Some(case) = case.filter(|c| c.incident_id == record.incident.id) else {
        super::answer::tell(ctx, req, &render::no_case()).await;
        return Ok(());
    };
    let (Some(aws), Some(case_id), true) =
        (support_api(ctx), case.case_id.as_deref(), case.is_open())
    else {
        return Ok(()); // resolved already (a second click)
    };
    let resolve = ctx
        .gate
        .run(aws.resolve_case(case_id))
        .await
        .map_err(|e| Failure::Transient(e.into()))?;
    let status = match resolve {
        Ok(s) => s,
        Err(e) => {
            let msg = internal_error(
                &format!(
                    "AWS did not resolve the case ({}); resolve it in the Support Center",
                    aws_says(&e)
                ),
                &event_reference(req.inbox_id),
                &e,
            );
            super::answer::tell(ctx, req, &msg).await;
            return Ok(());
        }
    };
    let now = ctx.clock.now();
    let entry = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: format!("case:{}:resolved", case.row),
        kind: EntryKind::SupportCase,
        occurred_at: now,
        actor: Some(req.actor.as_str().to_string()),
        text: format!("resolved the AWS Support case {case_id}"),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let msg = render::case_resolved(Some(&req.actor), &case);
    let outgoing = record.channel_id.as_ref().map(|c| NewOutgoing {
        destination: OutboxDestination::channel(c.clone()),
        text: msg.text,
        blocks: None,
    });
    record_case_resolved(ctx, case.row, &status, &entry, outgoing.as_ref()).await?;
    ctx.kick_timers();
    Ok(())
}

async fn poll_cases(ctx: &Ctx, aws: &Aws) {
    let cases = match escalation::open_cases(ctx.store.db()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot read open AWS Support cases");
            return;
        }
    };
    for case in cases {
        if let Err(e) = poll_case(ctx, aws, &case).await {
            tracing::warn!(incident = %case.incident_id, error = %format!("{e:#}"), "polling an AWS Support case failed; will try again");
        }
    }
}

/// New correspondence on one case, then its status.
pub(super) async fn poll_case(ctx: &Ctx, aws: &Aws, case: &SupportCase) -> anyhow::Result<()> {
    let Some(case_id) = case.case_id.as_deref() else {
        return Ok(());
    };
    let record = incidents::get(ctx.store.db(), case.incident_id).await?;
    let after = escalation::last_communication_at(ctx.store.db(), case.row)
        .await?
        .map(|t| t - Duration::seconds(1));
    let comms = aws.communications(case_id, after).await?;
    let mut new_any = false;
    for comm in comms {
        new_any |= mirror(ctx, case, &record, &comm).await?;
    }
    if new_any {
        ctx.kick_timers();
        super::nudges::arm_nudges(ctx, case.incident_id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    if let Some(info) = aws.describe_case(case_id).await? {
        if info.is_resolved() {
            let now = ctx.clock.now();
            let entry = NewEntry {
                incident_id: case.incident_id,
                dedupe_key: format!("case:{}:resolved", case.row),
                kind: EntryKind::SupportCase,
                occurred_at: now,
                actor: None,
                text: format!("the AWS Support case {case_id} is resolved at AWS"),
                slack_ts: None,
                thread_ts: None,
                key_event: true,
            };
            let msg = render::case_resolved(None, case);
            let outgoing = record.channel_id.as_ref().map(|c| NewOutgoing {
                destination: OutboxDestination::channel(c.clone()),
                text: msg.text,
                blocks: None,
            });
            if record_case_resolved(ctx, case.row, &info.status, &entry, outgoing.as_ref()).await? {
                ctx.kick_timers();
            }
        } else if info.status != case.status {
            set_case_status(ctx, case.row, &info.status).await?;
        }
    }
    Ok(())
}

/// Record one communication once; AWS's replies and messages written outside warroom
/// are posted in the channel (through the outbox, in the same transaction).
async fn mirror(
    ctx: &Ctx,
    case: &SupportCase,
    record: &IncidentRecord,
    comm: &Communication,
) -> anyhow::Result<bool> {
    let now = ctx.clock.now();
    let ours = !comm.from_aws()
        && escalation::sent_by_warroom(ctx.store.db(), case.row, &comm.body).await?;
    let (kind, msg, text) = if comm.from_aws() {
        (
            EntryKind::AwsReply,
            render::aws_reply(case, comm),
            format!("AWS Support replied: {}", comm.body.trim()),
        )
    } else {
        (
            EntryKind::SupportMessage,
            render::outside_message(case, comm),
            format!(
                "{} wrote on the AWS case: {}",
                comm.submitted_by,
                comm.body.trim()
            ),
        )
    };
    let entry = NewEntry {
        incident_id: case.incident_id,
        dedupe_key: format!("comm:{}", comm.key()),
        kind,
        occurred_at: comm.time_created,
        actor: None,
        text,
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let outgoing = record.channel_id.as_ref().map(|c| NewOutgoing {
        destination: OutboxDestination::channel(c.clone()),
        text: msg.text,
        blocks: None,
    });
    let (entry, outgoing) = if ours {
        (None, None)
    } else {
        (Some(&entry), outgoing.as_ref())
    };
    // Recorded once, with its timeline entry and channel message when new.
    let mut tx = ctx.store.begin().await?;
    let new = escalation::record_communication(&mut tx, case.row, comm, now).await?;
    if new {
        if let Some(entry) = entry {
            timeline::insert(&mut tx, entry, now).await?;
        }
        if let Some(message) = outgoing {
            outbox::enqueue(&mut tx, message, now).await?;
        }
    }
    tx.commit().await?;
    if new && !ours {
        tracing::info!(incident = %case.incident_id, from_aws = comm.from_aws(), "AWS Support correspondence mirrored");
    }
    Ok(new)
}

/// Put one message in the outbox on its own.
async fn enqueue_alone(ctx: &Ctx, message: &NewOutgoing) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin().await?;
    outbox::enqueue(&mut tx, message, ctx.clock.now()).await?;
    tx.commit().await
}

async fn set_case_status(ctx: &Ctx, case_row: i64, status: &str) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin().await?;
    escalation::set_case_status(&mut tx, case_row, status).await?;
    tx.commit().await
}

/// The case is resolved: recorded once, with its timeline entry and channel message.
async fn record_case_resolved(
    ctx: &Ctx,
    case_row: i64,
    status: &str,
    entry: &NewEntry,
    message: Option<&NewOutgoing>,
) -> Result<bool, StoreError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin().await?;
    let changed = escalation::case_resolved(&mut tx, case_row, status, entry.occurred_at).await?;
    if changed {
        timeline::insert(&mut tx, entry, now).await?;
        if let Some(message) = message {
            outbox::enqueue(&mut tx, message, now).await?;
        }
    }
    tx.commit().await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_retries_back_off_to_four_minutes() {
        assert_eq!(case_retry_delay(1), Duration::seconds(15));
        assert_eq!(case_retry_delay(2), Duration::seconds(30));
        assert_eq!(case_retry_delay(4), Duration::seconds(120));
        assert_eq!(case_retry_delay(9), Duration::seconds(240));
        let total: i64 = (1..=MAX_CASE_RETRIES)
            .map(|a| case_retry_delay(a).num_seconds())
            .sum();
        assert!((600..=1500).contains(&total), "{total}s of retries");
    }
}
