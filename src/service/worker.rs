//! Applies recorded events in arrival order: one at a time, except that a run of
//! consecutive message events is written in one transaction (they only add timeline
//! entries, and one transaction per message held the timeline to a third to two thirds of
//! the inbox rate; BENCHMARKS.md, finding 4).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::failure::{event_reference, Failure, ForCaller};
use super::{Ctx, Service};
use crate::backoff::Backoff;
use crate::domain::{ChannelId, OutboxDestination, Ts};
use crate::domain::{EntryKind, IncidentId};
use crate::slack::inbound::Inbound;
use crate::slack::render;
use crate::store::inbox::{self, InboxRow};
use crate::store::outbox::{self, NewOutgoing};
use crate::store::timeline::{self, MessageEdit, NewEntry};
use crate::store::{incidents, Backend, StoreError};

/// How long the worker waits, once woken from idle, before it reads the inbox: a person
/// does not notice 2 ms, and under load it turns one-event runs into runs of several.
const LINGER: Duration = Duration::from_millis(2);

/// How often an idle worker looks at the inbox without being woken: an event put back by
/// `warroom inbox --retry` (another process) is picked up within this.
const IDLE_LOOK: Duration = Duration::from_secs(2);

/// [`IDLE_LOOK`] with several replicas: events recorded by the others arrive as
/// notifications, and this look covers a notification lost to a reconnect.
const IDLE_LOOK_REPLICAS: Duration = Duration::from_secs(1);

/// Wait before attempt `attempts + 1`: growing by 250 ms per failure, at most 10 s.
const BACKOFF: Backoff = Backoff::linear(Duration::from_millis(250), Duration::from_secs(10));

fn backoff(attempts: i64) -> Duration {
    BACKOFF.delay_i64(attempts)
}

/// Whether handling an event already marked its inbox row processed (timeline writes do it
/// in their own transaction, so the event is applied exactly once even across a crash).
enum Marked {
    Already,
    No,
    /// Not in an incident channel: nothing was recorded, and the raw event is not kept
    /// beyond its dedupe key.
    Outside,
}

impl Service {
    /// Run until `shutdown` turns true; the event being handled is finished first.
    pub async fn run_worker(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let batch = match inbox::pending(self.ctx.store.db(), 256).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the inbox; retrying");
                    if wait_or_shutdown(&mut shutdown, Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                let idle_look = match self.ctx.store.backend() {
                    Backend::Sqlite => IDLE_LOOK,
                    Backend::Postgres => IDLE_LOOK_REPLICAS,
                };
                tokio::select! {
                    _ = self.ctx.wake.notified() => {}
                    _ = tokio::time::sleep(idle_look) => {}
                    _ = shutdown.changed() => {}
                }
                // Let events that arrive together be read and applied together: without
                // it, a busy channel is applied one event per wake-up, each costing a read
                // of the inbox and a transaction (BENCHMARKS.md, finding 12).
                tokio::time::sleep(LINGER).await;
                continue;
            }
            let mut next = 0;
            // Rows before this index are taken one at a time (a run that failed as a whole).
            let mut singly_until = 0;
            while next < batch.len() {
                if *shutdown.borrow() {
                    return;
                }
                if next >= singly_until {
                    let run = message_run(&batch[next..]);
                    let len = run.len();
                    if len > 0 {
                        match apply_messages(&self.ctx, run).await {
                            Ok(()) => {
                                next += len;
                                continue;
                            }
                            Err(e) => {
                                // Row by row below: each row gets its own attempts and
                                // backoff, exactly as before batching.
                                tracing::warn!(error = %format!("{e:#}"), rows = len, "cannot apply a run of messages at once; taking them one by one");
                                singly_until = next + len;
                            }
                        }
                    }
                }
                if let Some(backoff) = process_row(&self.ctx, &batch[next]).await {
                    if wait_or_shutdown(&mut shutdown, backoff).await {
                        return;
                    }
                    break;
                }
                next += 1;
            }
        }
    }
}

/// Apply a run of consecutive message events in one transaction: their timeline entries
/// (for incident channels) and their inbox marks. All or nothing, so a crash leaves the
/// whole run pending and its replay is a no-op for what was already written.
async fn apply_messages(ctx: &Ctx, run: Vec<(&InboxRow, Message)>) -> Result<(), StoreError> {
    let mut incidents: HashMap<ChannelId, Option<IncidentId>> = HashMap::new();
    let mut ids = Vec::with_capacity(run.len());
    let mut outside = Vec::new();
    let mut entries = Vec::with_capacity(run.len());
    for (row, m) in run {
        ids.push(row.id);
        let incident = match incidents.get(&m.channel) {
            Some(known) => *known,
            None => {
                let found = incidents::by_channel(ctx.store.db(), &m.channel)
                    .await?
                    .map(|r| r.incident.id);
                incidents.insert(m.channel.clone(), found);
                found
            }
        };
        // Not an incident channel: nothing to record, the row is only marked (and its
        // payload forgotten once it is).
        let Some(incident_id) = incident else {
            outside.push(row.id);
            continue;
        };
        entries.push(NewEntry {
            incident_id,
            dedupe_key: timeline::message_key(&m.channel, &m.ts),
            kind: EntryKind::Message,
            occurred_at: m.at,
            actor: Some(m.user),
            text: m.text,
            slack_ts: Some(m.ts.into()),
            thread_ts: m.thread_ts.map(String::from),
            key_event: false,
        });
    }
    if ids.is_empty() {
        return Ok(());
    }
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin().await?;
    timeline::insert_many(&mut tx, &entries, now).await?;
    inbox::mark_all_processed(&mut tx, &ids, now).await?;
    inbox::forget_payloads(&mut tx, &outside).await?;
    tx.commit().await?;
    // Who spoke in an incident channel, by name for the record (once a day a person).
    let speakers: Vec<&str> = entries.iter().filter_map(|e| e.actor.as_deref()).collect();
    super::people::learn_names(ctx, &speakers).await;
    Ok(())
}

/// Mark an inbox row done on its own; `forget`: keep only its dedupe key (it recorded
/// nothing: not in an incident channel).
async fn mark_done(ctx: &Ctx, id: i64, forget: bool) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin().await?;
    inbox::mark_processed(&mut tx, id, ctx.clock.now(), None).await?;
    if forget {
        inbox::forget_payloads(&mut tx, &[id]).await?;
    }
    tx.commit().await
}

/// Count a failed attempt of an inbox row; the attempts so far.
async fn count_failure(ctx: &Ctx, id: i64, error: &str) -> Result<i64, StoreError> {
    let mut tx = ctx.store.begin().await?;
    let attempts = inbox::record_failure(&mut tx, id, error).await?;
    tx.commit().await?;
    Ok(attempts)
}

/// Handle one row; returns a backoff when it should be retried.
async fn process_row(ctx: &Ctx, row: &InboxRow) -> Option<Duration> {
    let inbound = serde_json::from_str::<Inbound>(&row.payload);
    let result = match &inbound {
        Ok(inbound) => handle(ctx, row, inbound.clone()).await,
        Err(e) => Err(Failure::Permanent(anyhow::anyhow!(
            "unreadable inbox payload: {e}"
        ))),
    };
    let failure = match result {
        // The store already marked it, in the transaction that applied it.
        Ok(Marked::Already) => return None,
        Ok(marked @ (Marked::No | Marked::Outside)) => {
            let forget = matches!(marked, Marked::Outside);
            if let Err(e) = mark_done(ctx, row.id, forget).await {
                tracing::error!(error = %e, "cannot mark event processed");
                return Some(Duration::from_millis(500));
            }
            return None;
        }
        Err(failure) => failure,
    };
    if failure.is_not_leader() {
        // Deposed mid-event: the next leader applies it; nothing is counted against it.
        return Some(Duration::from_millis(500));
    }
    let msg = format!("{:#}", failure.error());
    let attempts = count_failure(ctx, row.id, &msg)
        .await
        .unwrap_or(row.attempts + 1);
    if attempts < failure.attempts_allowed() {
        tracing::warn!(key = %row.dedupe_key, error = %msg, attempts, "event failed; will retry");
        return Some(backoff(attempts));
    }
    set_aside(ctx, row, inbound.ok().as_ref(), &failure, attempts).await
}

/// Put an event that cannot be applied aside, kept with its error, so the queue moves
/// on: it is counted, told once to the status channel (with the outbox, in the same
/// transaction) and to whoever asked. `warroom inbox --retry` puts it back.
async fn set_aside(
    ctx: &Ctx,
    row: &InboxRow,
    inbound: Option<&Inbound>,
    failure: &Failure,
    attempts: i64,
) -> Option<Duration> {
    let reference = event_reference(row.id);
    let chain = format!("{:#}", failure.error());
    tracing::error!(reference = %reference, key = %row.dedupe_key, attempts, error = %chain,
        "event set aside; `warroom inbox --retry {}` replays it", row.id);
    let notice = ctx.config.slack.status_channel.as_ref().map(|channel| {
        let msg = render::event_set_aside(row.id, &describe(inbound), &reference);
        NewOutgoing {
            destination: OutboxDestination::channel(channel.clone()),
            text: msg.text,
            blocks: None,
        }
    });
    if let Err(e) = set_aside_row(ctx, row.id, &chain, notice.as_ref()).await {
        tracing::error!(error = %e, "cannot set the event aside; will try again");
        return Some(backoff(attempts));
    }
    ctx.metrics.event_set_aside();
    if notice.is_some() {
        ctx.kick_timers();
    }
    if let Some(inbound) = inbound {
        tell_caller_of_failure(ctx, inbound, failure, &reference).await;
    }
    None
}

/// The event out of the queue with its error, and the status channel's notice in the
/// outbox, at once.
async fn set_aside_row(
    ctx: &Ctx,
    id: i64,
    error: &str,
    notice: Option<&NewOutgoing>,
) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin().await?;
    inbox::set_aside(&mut tx, id, error, now).await?;
    if let Some(notice) = notice {
        outbox::enqueue(&mut tx, notice, now).await?;
    }
    tx.commit().await
}

/// Tell the person behind a request that was set aside what it means for them, with
/// its reference, and nothing of the error itself.
async fn tell_caller_of_failure(ctx: &Ctx, inbound: &Inbound, failure: &Failure, reference: &str) {
    let what = failure
        .error()
        .downcast_ref::<ForCaller>()
        .map_or("warroom could not finish this request", |c| c.0.as_str());
    let msg = render::internal_error(what, reference);
    let told = match inbound {
        Inbound::Command(inv) => ctx.web.respond_ephemeral(&inv.response_url, &msg).await,
        Inbound::Action(click) => ctx.web.respond_ephemeral(&click.response_url, &msg).await,
        Inbound::ViewSubmitted(form) => {
            let channel = match super::authorization::form_channel(ctx, form).await {
                Some(c) => c,
                None => return,
            };
            ctx.web.post_ephemeral(&channel, &form.user, &msg).await
        }
        _ => return,
    };
    if let Err(e) = told {
        tracing::warn!(error = %e, "could not tell the caller their request was set aside");
    }
}

async fn handle(ctx: &Ctx, row: &InboxRow, inbound: Inbound) -> Result<Marked, Failure> {
    let now = ctx.clock.now();
    if let Inbound::Command(inv) = inbound {
        let user = inv.user.clone();
        let done = super::commands::execute_command(ctx, row, inv)
            .await
            .map(|()| Marked::No);
        super::people::learn_names(ctx, &[user]).await;
        return done;
    }
    if let Inbound::Action(click) = inbound {
        return super::escalation::handle_click(ctx, row, click)
            .await
            .map(|()| Marked::No);
    }
    if let Inbound::AppHomeOpened { user, .. } = inbound {
        return super::summary::publish_home(ctx, &user)
            .await
            .map(|()| Marked::No);
    }
    if let Inbound::ViewSubmitted(v) = inbound {
        return super::escalation::handle_submission(ctx, row, v)
            .await
            .map(|()| Marked::No);
    }
    let Some(record) = incidents::by_channel(ctx.store.db(), inbound.channel()).await? else {
        return Ok(Marked::Outside); // not an incident channel: nothing to record
    };
    let id = record.incident.id;
    match inbound {
        Inbound::Command(_)
        | Inbound::AppHomeOpened { .. }
        | Inbound::Action(_)
        | Inbound::ViewSubmitted(_) => Ok(Marked::No),
        Inbound::MemberJoined { user, inviter, .. } => {
            super::people::member_joined(ctx, row, &record, &user, inviter.as_deref()).await?;
            Ok(Marked::Already)
        }
        Inbound::Message {
            channel,
            user,
            ts,
            thread_ts,
            text,
            at,
        } => {
            let entry = NewEntry {
                incident_id: id,
                dedupe_key: timeline::message_key(&channel, &ts),
                kind: EntryKind::Message,
                occurred_at: at,
                actor: Some(user),
                text,
                slack_ts: Some(ts.into()),
                thread_ts: thread_ts.map(String::from),
                key_event: false,
            };
            let mut tx = ctx.store.begin().await?;
            timeline::insert(&mut tx, &entry, now).await?;
            inbox::mark_processed(&mut tx, row.id, now, None).await?;
            tx.commit().await?;
            Ok(Marked::Already)
        }
        Inbound::MessageEdited {
            channel,
            ts,
            user,
            text,
            at,
        } => {
            let edit = MessageEdit {
                incident_id: id,
                channel: &channel,
                ts: &ts,
                actor: user.as_deref(),
                text: &text,
                at,
            };
            let mut tx = ctx.store.begin().await?;
            timeline::edit_message(&mut tx, &edit, now).await?;
            inbox::mark_processed(&mut tx, row.id, now, None).await?;
            tx.commit().await?;
            Ok(Marked::Already)
        }
        Inbound::MessageDeleted { channel, ts, at } => {
            let mut tx = ctx.store.begin().await?;
            timeline::delete_message(&mut tx, id, &channel, &ts, at, now).await?;
            inbox::mark_processed(&mut tx, row.id, now, None).await?;
            tx.commit().await?;
            Ok(Marked::Already)
        }
        Inbound::Reaction {
            channel,
            ts,
            reaction,
            ..
        } => {
            if reaction == "pushpin" || reaction == "round_pushpin" {
                mark_key_event(ctx, row, &channel, &ts).await?;
                return Ok(Marked::Already);
            }
            Ok(Marked::No)
        }
        Inbound::Pinned { channel, ts, .. } => {
            mark_key_event(ctx, row, &channel, &ts).await?;
            Ok(Marked::Already)
        }
    }
}

/// A pin or :pushpin: makes a message a key event; the row is marked with it.
async fn mark_key_event(
    ctx: &Ctx,
    row: &InboxRow,
    channel: &str,
    ts: &str,
) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin().await?;
    timeline::mark_key_event(&mut tx, channel, ts).await?;
    inbox::mark_processed(&mut tx, row.id, ctx.clock.now(), None).await?;
    tx.commit().await
}

/// Most message rows applied in one transaction. The intake waits for the one database
/// connection while a run is written, so a run must stay short next to the ack budget
/// (64 rows: about half a millisecond; `cargo bench --features bench --bench store`, `add_entries_64`).
const MAX_RUN: usize = 64;

/// A new message, as the worker records it.
struct Message {
    channel: ChannelId,
    user: String,
    ts: Ts,
    thread_ts: Option<Ts>,
    text: String,
    at: DateTime<Utc>,
}

/// The message events at the head of `rows`, in order, at most [`MAX_RUN`]; stops at the
/// first row that is anything else (or unreadable), which is then handled on its own.
fn message_run(rows: &[InboxRow]) -> Vec<(&InboxRow, Message)> {
    rows.iter()
        .take(MAX_RUN)
        .map_while(|row| match serde_json::from_str::<Inbound>(&row.payload) {
            Ok(Inbound::Message {
                channel,
                user,
                ts,
                thread_ts,
                text,
                at,
            }) => Some((
                row,
                Message {
                    channel,
                    user,
                    ts,
                    thread_ts,
                    text,
                    at,
                },
            )),
            _ => None,
        })
        .collect()
}

/// What an event was, for the status channel's notice (no user text in it).
fn describe(inbound: Option<&Inbound>) -> String {
    let who = |user: &str| match crate::domain::UserId::parse(user) {
        Ok(u) => crate::slack::mrkdwn::user_mention(&u),
        Err(_) => "someone".to_string(),
    };
    match inbound {
        Some(Inbound::Command(inv)) => format!("a slash command from {}", who(&inv.user)),
        Some(Inbound::Action(click)) => format!("a button clicked by {}", who(&click.user)),
        Some(Inbound::ViewSubmitted(form)) => format!("a form submitted by {}", who(&form.user)),
        Some(Inbound::AppHomeOpened { user, .. }) => format!("{} opening App Home", who(user)),
        Some(Inbound::MemberJoined { user, .. }) => format!("{} joining a channel", who(user)),
        Some(_) => "an event in a channel".to_string(),
        None => "an event warroom cannot read".to_string(),
    }
}

/// Sleep for `d` unless shutdown comes first; returns whether shutdown came.
async fn wait_or_shutdown(shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::failure::MAX_ATTEMPTS;

    fn row(id: i64, inbound: &Inbound) -> InboxRow {
        InboxRow {
            id,
            dedupe_key: format!("ev:{id}"),
            payload: serde_json::to_string(inbound).unwrap(),
            attempts: 0,
        }
    }

    fn message(ts: &str) -> Inbound {
        Inbound::Message {
            channel: ChannelId::new("C1"),
            user: "U1".into(),
            ts: Ts::new(ts),
            thread_ts: None,
            text: format!("at {ts}"),
            at: Utc::now(),
        }
    }

    #[test]
    fn a_run_is_the_messages_before_anything_else_and_is_bounded() {
        let delete = Inbound::MessageDeleted {
            channel: ChannelId::new("C1"),
            ts: Ts::new("1.000001"),
            at: Utc::now(),
        };
        let rows = [
            row(1, &message("1.000001")),
            row(2, &message("1.000002")),
            row(3, &delete),
            row(4, &message("1.000003")),
        ];
        let run = message_run(&rows);
        let ids: Vec<i64> = run.iter().map(|(r, _)| r.id).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(run[1].1.ts, "1.000002");
        assert!(
            message_run(&rows[2..]).is_empty(),
            "the delete goes on its own"
        );
        let unreadable = InboxRow {
            payload: "{".into(),
            ..row(5, &message("1.0"))
        };
        assert!(message_run(std::slice::from_ref(&unreadable)).is_empty());
        let many: Vec<InboxRow> = (0..200)
            .map(|i| row(i, &message(&format!("2.{i:06}"))))
            .collect();
        assert_eq!(message_run(&many).len(), MAX_RUN);
    }

    #[test]
    fn the_retry_budget_rides_out_minutes_of_slack_failures() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(4), Duration::from_millis(1000));
        assert_eq!(backoff(100), Duration::from_secs(10));
        let total: Duration = (1..MAX_ATTEMPTS).map(backoff).sum();
        assert!(
            total > Duration::from_secs(4 * 60) && total < Duration::from_secs(8 * 60),
            "{total:?}"
        );
    }
}
