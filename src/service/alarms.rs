//! The alarm poller: CloudWatch alarms open war rooms with no human in the loop.
//!
//! Every `[alarms] poll_interval`, for each region in `[alarms] regions`:
//! 1. **Record.** DescribeAlarms (metric and composite, StateValue=ALARM, every page); each
//!    transition not seen before is written to the database *before* anything else happens
//!    with it. Alarms of open incidents that are no longer in ALARM are looked up by name,
//!    and their OK / INSUFFICIENT_DATA transition is recorded too.
//! 2. **Decide.** Each recorded transition is routed (`domain::routing`) and correlated
//!    (`domain::correlation`): it opens an incident, joins one, or is ignored. The decision,
//!    the alarm link and the timeline entry are one transaction. No Slack call yet, so a
//!    storm of alarms is on record at once, whatever Slack says.
//! 3. **Slack.** For each alarm-opened incident, the resumable steps: the war room (shared
//!    with `/incident declare`), the first post, what changed before the alarm
//!    (`changes`), the graph, AWS Health, then posts for the
//!    alarms that joined or recovered. When Slack says 429 (conversations.create is Tier 2)
//!    or fails, the incident waits until `Retry-After` and is tried again; nothing is dropped.
//!
//! A crash anywhere is repaired by the next round: transitions are unique, decisions are
//! idempotent and each Slack step is recorded when done.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::failure::Failure;
use super::{Ctx, Service};
use crate::aws::{Aws, PollTarget};
use crate::backoff::Backoff;
use crate::domain::alarm::{Alarm, AlarmState};
use crate::domain::channel_name::{channel_name, private_channel_name};
use crate::domain::correlation::{correlate, Decision, JoinReason};
use crate::domain::health_service::health_service;
use crate::domain::routing::Route;
use crate::domain::EntryKind;
use crate::domain::{ChannelId, OutboxDestination, UserId};
use crate::slack::render;
use crate::slack::web::{FileUpload, SlackError};
use crate::store::alarms::{
    self, outcome as alarm_outcome, AlarmIncident, AlarmStep, AlarmTransition, Decided,
};
use crate::store::graphs::{self, Graph};
use crate::store::incidents::{self, NewIncident};
use crate::store::StoreError;

/// Transitions decided per batch.
const DECIDE_BATCH: i64 = 500;
/// Longest wait before Slack work for an incident is tried again after a non-429 failure.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);
/// Longest incident title taken from an alarm name (channel names are cut further).
const MAX_TITLE_CHARS: usize = 200;

impl Service {
    /// Poll, decide and post until `shutdown` turns true.
    pub async fn run_alarms(self: Arc<Self>, aws: Aws, mut shutdown: watch::Receiver<bool>) {
        let polling = self.ctx.config.alarms.enabled && self.ctx.config.alarms.polling;
        if polling {
            tracing::info!(regions = ?self.ctx.config.alarms.regions, every = ?self.ctx.config.alarms.poll_interval, "polling CloudWatch alarms");
        } else {
            tracing::info!("not polling CloudWatch alarms: they come from the [events] queue");
        }
        let mut failing = HashSet::new();
        loop {
            if *shutdown.borrow() {
                return;
            }
            if polling {
                poll_alarms(&self.ctx, &aws, &mut failing).await;
            }
            if let Err(e) = decide_alarms(&self.ctx).await {
                tracing::error!(error = %format!("{e:#}"), "cannot decide alarm transitions; will retry");
            }
            let next_retry = alarm_slack_work(&self.ctx, &aws).await;
            // Without polling, only a retry due or the queue consumer wakes the loop (the
            // Health re-checks of open incidents ride on the same minute).
            let mut wait = if polling {
                self.ctx.config.alarms.poll_interval
            } else {
                self.ctx
                    .config
                    .alarms
                    .health_recheck
                    .min(Duration::from_secs(60))
            };
            if let Some(at) = next_retry {
                let until = (at - self.ctx.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO);
                wait = wait.min(until);
            }
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(20))) => {}
                _ = self.ctx.alarms_kick.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Step 1: record every new transition, in every region of warroom's own account and
/// of each `[[aws.accounts]]` entry. A target that fails (a role that cannot be assumed,
/// AccessDenied, a throttle) is reported once, tried again every round and reported
/// again when it recovers; the others go on. `failing` remembers which targets failed.
async fn poll_alarms(ctx: &Ctx, aws: &Aws, failing: &mut HashSet<PollTarget>) {
    for target in aws.poll_targets(&ctx.config.alarms.regions) {
        let result = poll_region(ctx, aws, &target).await;
        ctx.metrics.alarm_poll(
            target.account.as_deref().unwrap_or_default(),
            &target.region,
            result.is_err(),
        );
        match result {
            Ok(()) => {
                if failing.remove(&target) {
                    tracing::info!(target = %target, "alarm polling works again");
                }
            }
            Err(e) => {
                let account = target.account.as_deref().unwrap_or("");
                if failing.insert(target.clone()) {
                    tracing::warn!(account, region = %target.region, error = %format!("{e:#}"), "alarm poll failed; the other accounts and regions go on, this one is retried every round");
                } else {
                    tracing::debug!(account, region = %target.region, error = %format!("{e:#}"), "alarm poll still failing");
                }
            }
        }
    }
}

/// Whether any route matches on tags (an alarm's tags are then read before it is
/// recorded).
pub(super) fn routes_use_tags(ctx: &Ctx) -> bool {
    ctx.config
        .alarms
        .routes
        .routes
        .iter()
        .any(|r| !r.matcher.tags.is_empty())
}

async fn poll_region(ctx: &Ctx, aws: &Aws, target: &PollTarget) -> anyhow::Result<()> {
    let region = target.region.as_str();
    let in_alarm = aws.alarms_in_alarm_at(target).await?;
    let uses_tags = routes_use_tags(ctx);
    let mut firing: HashSet<String> = HashSet::new();
    let mut new = 0usize;
    let known = alarms::known(ctx.store.db(), &transition_keys(&in_alarm)).await?;
    let mut to_record = Vec::new();
    for (mut alarm, known) in in_alarm.into_iter().zip(known) {
        firing.insert(alarm.arn.clone());
        if known {
            continue;
        }
        if uses_tags {
            // Without its tags the alarm could take the wrong route: leave it for the
            // next round rather than guess. The other alarms go on.
            match aws.tags(region, &alarm.arn).await {
                Ok(tags) => alarm.tags = tags,
                Err(e) => {
                    tracing::warn!(alarm = %alarm.name, error = %e, "cannot read the alarm's tags; will retry");
                    continue;
                }
            }
        }
        to_record.push(alarm);
    }
    // Every new transition of the poll in one unit of work, before anything is decided.
    let mut tx = ctx.store.begin().await?;
    for alarm in &to_record {
        if alarms::record(&mut tx, alarm, ctx.clock.now()).await? {
            new += 1;
        }
    }
    tx.commit().await?;
    if new > 0 {
        tracing::info!(region, new, "recorded alarm transitions");
    }
    // Alarms of open incidents that left ALARM: ask for their current state by name, in
    // the account that polled them.
    let mut names: Vec<String> = alarms::watched(ctx.store.db())
        .await?
        .into_iter()
        .filter(|w| w.region == region && !firing.contains(&w.arn))
        .filter(|w| aws.owns(target, &w.arn))
        .map(|w| w.name)
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Ok(());
    }
    let left: Vec<Alarm> = aws
        .alarms_named_at(target, &names)
        .await?
        .into_iter()
        .filter(|a| a.state != AlarmState::Alarm)
        .collect();
    let known = alarms::known(ctx.store.db(), &transition_keys(&left)).await?;
    let mut tx = ctx.store.begin().await?;
    for (alarm, known) in left.iter().zip(known) {
        if !known {
            alarms::record(&mut tx, alarm, ctx.clock.now()).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Step 2: route and correlate every recorded transition, oldest first. Database only.
async fn decide_alarms(ctx: &Ctx) -> anyhow::Result<()> {
    loop {
        let batch = alarms::undecided(ctx.store.db(), DECIDE_BATCH).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for t in batch {
            decide(ctx, &t).await?;
        }
    }
}

async fn decide(ctx: &Ctx, t: &AlarmTransition) -> anyhow::Result<()> {
    let now = ctx.clock.now();
    let alarm = &t.alarm;
    if alarm.state != AlarmState::Alarm {
        match alarms::incident_watching(ctx.store.db(), &alarm.arn).await? {
            Some(incident) => {
                let text = format!(
                    "{} went to {} in {}: {}",
                    alarm.name,
                    alarm.state.as_str(),
                    alarm.region,
                    alarm.state_reason.as_deref().unwrap_or("no reason given")
                );
                // The link's state, a timeline entry and the decision, at once.
                let mut tx = ctx.store.begin().await?;
                alarms::set_link_state(&mut tx, incident, &alarm.arn, alarm.state).await?;
                alarms::add_entry(&mut tx, incident, t, EntryKind::AlarmRecovered, &text, now)
                    .await?;
                let decided = Decided {
                    outcome: alarm_outcome::RECOVERED,
                    route: None,
                    incident: Some(incident),
                    posted: false,
                };
                alarms::mark_decided(&mut tx, t.id, &decided, now).await?;
                tx.commit().await?;
                tracing::info!(incident = %incident, alarm = %alarm.name, state = alarm.state.as_str(), "alarm recovered");
            }
            None => decide_nothing(ctx, t, alarm_outcome::UNLINKED, None).await?,
        }
        return Ok(());
    }
    let route = ctx.config.alarms.routes.route(alarm);
    if !route.opens_incident {
        tracing::info!(alarm = %alarm.name, route = %route.name, "alarm on a route that opens no incident");
        return Ok(decide_nothing(ctx, t, alarm_outcome::IGNORED, Some(&route.name)).await?);
    }
    let text = format!(
        "{} went to ALARM in {}: {}",
        alarm.name,
        alarm.region,
        alarm.state_reason.as_deref().unwrap_or("no reason given")
    );
    let window = chrono::Duration::from_std(ctx.config.alarms.correlation_window)
        .unwrap_or(chrono::Duration::MAX);
    let links = alarms::open_links(ctx.store.db()).await?;
    match correlate(
        &alarm.arn,
        &route.name,
        alarm.state_updated_at,
        window,
        &links,
    ) {
        Decision::Join { incident, reason } => {
            let outcome = match reason {
                JoinReason::SameAlarm => alarm_outcome::REPEAT,
                JoinReason::SameRoute => alarm_outcome::JOINED,
            };
            // The link, a timeline entry and the decision, at once.
            let mut tx = ctx.store.begin().await?;
            alarms::link(&mut tx, incident, alarm, &route.name).await?;
            alarms::add_entry(&mut tx, incident, t, EntryKind::AlarmFired, &text, now).await?;
            let decided = Decided {
                outcome,
                route: Some(&route.name),
                incident: Some(incident),
                posted: false,
            };
            alarms::mark_decided(&mut tx, t.id, &decided, now).await?;
            tx.commit().await?;
            tracing::info!(incident = %incident, alarm = %alarm.name, outcome, "alarm joined an open incident");
        }
        Decision::Open => {
            let bot = UserId::parse(&ctx.bot.user_id)
                .map_err(|e| anyhow!("the bot's own user id is unusable: {e}"))?;
            let opened_at = alarm.state_updated_at.min(now);
            let title = crate::slack::mrkdwn::truncate(&alarm.name, MAX_TITLE_CHARS);
            let kind = route
                .incident_type
                .as_deref()
                .and_then(|name| ctx.config.incident.incident_type(name));
            // A route whose type is private opens private incidents.
            let private = kind.is_some_and(|t| t.private);
            let new = NewIncident {
                private,
                source_key: format!(
                    "alarm:{}@{}",
                    alarm.arn,
                    crate::store::format_time(alarm.state_updated_at)
                ),
                channel_name: if private {
                    private_channel_name(opened_at)
                } else {
                    channel_name(opened_at, &title)
                },
                title,
                severity: route.severity,
                declared_by: bot,
                opened_at,
            };
            let health = alarm
                .namespace
                .as_deref()
                .and_then(health_service)
                .map(|s| (s, alarm.region.as_str()));
            // The incident, its link, its war-room steps row, the timeline entry and the
            // decision, at once. The opening alarm's post is the first post, so the
            // transition counts as posted once that is done.
            let mut tx = ctx.store.begin().await?;
            let (mut record, created) = incidents::create(&mut tx, &new, now).await?;
            let id = record.incident.id;
            if let (true, Some(t)) = (created, kind) {
                super::checklist::give_type(&mut tx, &mut record, t).await?;
            }
            alarms::link(&mut tx, id, alarm, &route.name).await?;
            alarms::add_alarm_incident(&mut tx, id, t.id, &route.name, health).await?;
            incidents::clear_bot_lead(&mut tx, id).await?;
            alarms::add_entry(&mut tx, id, t, EntryKind::AlarmFired, &text, now).await?;
            let decided = Decided {
                outcome: alarm_outcome::OPENED,
                route: Some(&route.name),
                incident: Some(id),
                posted: false,
            };
            alarms::mark_decided(&mut tx, t.id, &decided, now).await?;
            tx.commit().await?;
            tracing::info!(incident = %record.incident.id, alarm = %alarm.name, route = %route.name, "alarm opened an incident");
        }
    }
    Ok(())
}

/// Step 3: the Slack side of every alarm-opened incident that has some left. Returns
/// the earliest time an incident waiting on Slack should be tried again.
async fn alarm_slack_work(ctx: &Ctx, aws: &Aws) -> Option<DateTime<Utc>> {
    let work = match alarms::with_work(ctx.store.db()).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "cannot read alarm incidents");
            return None;
        }
    };
    let mut next: Option<DateTime<Utc>> = None;
    for ai in work {
        // Setting up a war room waits on Slack's rate limits; transitions recorded
        // meanwhile (from the queue, mid-storm) are decided between war rooms, so each
        // is on its incident's timeline in milliseconds, not after every room is open.
        if let Err(e) = decide_alarms(ctx).await {
            tracing::error!(error = %format!("{e:#}"), "cannot decide alarm transitions; will retry");
        }
        let now = ctx.clock.now();
        if let Some(at) = ai.retry_at.filter(|at| *at > now) {
            next = Some(next.map_or(at, |n| n.min(at)));
            continue;
        }
        match alarm_incident_steps(ctx, aws, &ai).await {
            Ok(()) => {
                if ai.retry_at.is_some() {
                    let _ = alarm_step(ctx, ai.incident_id, AlarmStep::RetryCleared).await;
                }
            }
            Err(failure) => {
                let (delay, msg) = retry_delay(&failure, ai.attempts);
                tracing::warn!(incident = %ai.incident_id, error = %msg, retry_in = ?delay, "alarm incident not fully set up in Slack yet; will retry");
                let at = ctx.clock.now()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(5));
                if let Err(e) = alarm_step(ctx, ai.incident_id, AlarmStep::RetryAt(at, &msg)).await
                {
                    tracing::error!(error = %e, "cannot record the retry");
                }
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
    }
    next
}

/// War room, first post, what changed, graph, Health, then the posts still due. Each step is recorded,
/// so a failure or a crash resumes at the step that did not finish.
async fn alarm_incident_steps(ctx: &Ctx, aws: &Aws, ai: &AlarmIncident) -> Result<(), Failure> {
    let id = ai.incident_id;
    let mut record = incidents::get(ctx.store.db(), id).await?;
    let opening = alarms::transition(ctx.store.db(), ai.transition_id).await?;
    let routes = &ctx.config.alarms.routes;
    let route = routes.by_name(&ai.route).unwrap_or(&routes.default).clone();
    let set_up = record.channel_id.is_some()
        && record.members_invited
        && record.header_ts.is_some()
        && record.header_pinned;
    if !set_up {
        let bot = UserId::parse(&ctx.bot.user_id)
            .map_err(|e| Failure::Permanent(anyhow!("the bot's own user id is unusable: {e}")))?;
        let extra = if record.members_invited {
            Vec::new()
        } else {
            let mut extra = route_invitees(ctx, &route).await?;
            extra.extend(super::checklist::type_invitees(ctx, &record).await?);
            extra
        };
        super::war_room::open_war_room(ctx, &mut record, &bot, &extra).await?;
    }
    let Some(channel) = record.channel_id.clone() else {
        return Err(Failure::Transient(anyhow!(
            "incident {id} has no channel yet"
        )));
    };
    if ai.first_post_ts.is_none() {
        // Posted only after the war room is set up: if it was not at the start of this
        // attempt, no earlier one can have posted it.
        let first = render::alarm_first_post(&opening.alarm, &route);
        let ts = super::announce::post_in_war_room(ctx, &channel, &first, set_up).await?;
        let now = ctx.clock.now();
        let mut tx = ctx.store.begin().await?;
        alarms::set_first_post(&mut tx, id, &ts, now).await?;
        tx.commit().await?;
        // From the poll that recorded the alarm: what responders waited for.
        let took = (now - opening.recorded_at).to_std().unwrap_or_default();
        ctx.metrics.alarm_war_room_opened(took);
    }
    if ctx.config.diagnostics.enabled {
        super::changes::alarm_changes(ctx, aws, id, &channel, &opening.alarm).await?;
    }
    if !ai.graph_done {
        let graph = post_alarm_graph(ctx, aws, &channel, &opening.alarm).await?;
        // The graph kept for the postmortem, and the step done, at once.
        let mut tx = ctx.store.begin().await?;
        graphs::keep(&mut tx, id, &graph).await?;
        alarms::record_step(&mut tx, id, AlarmStep::GraphDone, ctx.clock.now()).await?;
        tx.commit().await?;
    }
    super::health::alarm_health_check(ctx, aws, ai, &record, &channel).await?;
    post_alarm_updates(ctx, id, &channel).await
}

/// The route's responders and its user group's members, for the invitation. A user group
/// Slack refuses (deleted, wrong id) is logged and skipped: the war room opens anyway.
pub(super) async fn route_invitees(ctx: &Ctx, route: &Route) -> Result<Vec<String>, Failure> {
    super::checklist::invitees(
        ctx,
        &route.responders,
        route.usergroup.as_deref(),
        &route.name,
    )
    .await
}

/// Upload the metric graph, or say why there is none; what to keep for the postmortem
/// (the image, the Slack file, or the reason). Only a transient Slack failure stops
/// here (and is retried); AWS failures never hold the incident up.
async fn post_alarm_graph(
    ctx: &Ctx,
    aws: &Aws,
    channel: &ChannelId,
    alarm: &Alarm,
) -> Result<Graph, Failure> {
    let mut kept = Graph {
        alarm_name: alarm.name.clone(),
        title: format!("{} around the breach", alarm.name),
        png: None,
        slack_file_id: None,
        permalink: None,
        unavailable: None,
        posted_at: ctx.clock.now(),
    };
    let reason = match aws.alarm_graph(alarm, ctx.clock.now()).await {
        Ok(Some(png)) => {
            kept.png = Some(png.clone());
            let upload = FileUpload {
                filename: format!("{}.png", file_stem(&alarm.name)),
                title: kept.title.clone(),
                content_type: "image/png",
                bytes: png,
                comment: render::alarm_graph_comment(alarm),
            };
            match ctx.web.upload_file(channel, &upload).await {
                Ok(file) => {
                    kept.slack_file_id = Some(file.id);
                    kept.permalink = file.permalink;
                    None
                }
                Err(e) if e.is_transient() => return Err(e.into()),
                Err(e) => Some(format!(
                    "Slack refused the upload ({})",
                    e.code().unwrap_or("error")
                )),
            }
        }
        Ok(None) => {
            Some("the alarm has no single metric to draw (composite or metric math)".to_string())
        }
        Err(e) => {
            tracing::warn!(alarm = %alarm.name, error = %e, "no graph for the alarm");
            Some(e.to_string())
        }
    };
    if let Some(reason) = reason {
        ctx.web
            .post(channel, &render::alarm_graph_unavailable(alarm, &reason))
            .await?;
        kept.unavailable = Some(reason);
    }
    kept.posted_at = ctx.clock.now();
    Ok(kept)
}

/// Post the alarms that joined (in one message) and the recoveries (one each): each
/// queued in the outbox in the unit of work that marks it posted, so a crash cannot
/// post it twice (they are the last of an alarm's steps: the war room's order holds).
async fn post_alarm_updates(
    ctx: &Ctx,
    id: crate::domain::IncidentId,
    channel: &str,
) -> Result<(), Failure> {
    let pending = alarms::unposted(ctx.store.db(), id).await?;
    if pending.is_empty() {
        return Ok(());
    }
    let (fired, recovered): (Vec<&AlarmTransition>, Vec<&AlarmTransition>) = pending
        .iter()
        .partition(|t| t.alarm.state == AlarmState::Alarm);
    if !fired.is_empty() {
        let alarms: Vec<&Alarm> = fired.iter().map(|t| &t.alarm).collect();
        let repeats = fired
            .iter()
            .filter(|t| t.outcome.as_deref() == Some(alarm_outcome::REPEAT))
            .count();
        let ids: Vec<i64> = fired.iter().map(|t| t.id).collect();
        queue_alarm_post(ctx, channel, render::alarms_joined(&alarms, repeats), &ids).await?;
    }
    for t in recovered {
        queue_alarm_post(ctx, channel, render::alarm_recovered(&t.alarm), &[t.id]).await?;
    }
    Ok(())
}

/// A transition that needs nothing more (`ignored`, `unlinked`).
async fn decide_nothing(
    ctx: &Ctx,
    t: &AlarmTransition,
    outcome: &str,
    route: Option<&str>,
) -> Result<(), StoreError> {
    let decided = Decided {
        outcome,
        route,
        incident: None,
        posted: true,
    };
    let mut tx = ctx.store.begin().await?;
    alarms::mark_decided(&mut tx, t.id, &decided, ctx.clock.now()).await?;
    tx.commit().await
}

async fn alarm_step(
    ctx: &Ctx,
    incident: crate::domain::IncidentId,
    step: AlarmStep<'_>,
) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin().await?;
    alarms::record_step(&mut tx, incident, step, ctx.clock.now()).await?;
    tx.commit().await
}

/// Queue `msg` for `channel` and mark the transitions `ids` posted, at once.
async fn queue_alarm_post(
    ctx: &Ctx,
    channel: &str,
    msg: crate::slack::web::Outgoing,
    ids: &[i64],
) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    let message = super::announce::to_outbox(OutboxDestination::channel(channel), msg);
    let mut tx = ctx.store.begin().await?;
    crate::store::outbox::enqueue(&mut tx, &message, now).await?;
    alarms::mark_posted(&mut tx, ids, now).await?;
    tx.commit().await?;
    ctx.kick_timers();
    Ok(())
}

/// How long to wait after a failed Slack step, and what to record. A 429 waits exactly
/// as long as Slack asked; other failures back off from 2 s up to five minutes.
fn retry_delay(failure: &Failure, attempts: i64) -> (Duration, String) {
    let e = failure.error();
    let msg = format!("{e:#}");
    if let Some(SlackError::RateLimited { retry_after, .. }) = e.downcast_ref::<SlackError>() {
        return (retry_after.unwrap_or(Duration::from_secs(5)), msg);
    }
    // 2 s after the first failure (`attempts` counts those before it), doubling.
    const RETRY: Backoff = Backoff::doubling(Duration::from_secs(2), MAX_RETRY_DELAY);
    (RETRY.delay_i64(attempts.saturating_add(1)), msg)
}

/// A file name from an alarm name: letters, digits, `-`, `_`, `.`; at most 80 characters.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    if stem.is_empty() {
        "alarm".to_string()
    } else {
        stem
    }
}

/// What identifies a transition: the alarm and when its state last changed.
fn transition_keys(alarms: &[Alarm]) -> Vec<(&str, DateTime<Utc>)> {
    alarms
        .iter()
        .map(|a| (a.arn.as_str(), a.state_updated_at))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_honour_retry_after_and_back_off_otherwise() {
        let limited = Failure::Transient(
            SlackError::RateLimited {
                method: "conversations.create",
                retry_after: Some(Duration::from_secs(7)),
            }
            .into(),
        );
        assert_eq!(retry_delay(&limited, 3).0, Duration::from_secs(7));
        let other = Failure::Transient(anyhow!("boom"));
        assert_eq!(retry_delay(&other, 0).0, Duration::from_secs(2));
        assert_eq!(retry_delay(&other, 2).0, Duration::from_secs(8));
        assert_eq!(retry_delay(&other, 30).0, MAX_RETRY_DELAY);
    }

    #[test]
    fn file_names_are_tame() {
        assert_eq!(file_stem("prod web/cpu <high>"), "prod-web-cpu--high-");
        assert_eq!(file_stem(""), "alarm");
    }
}
