//! Recording a timeline entry together with the notices it causes (one transaction, then
//! the outbox delivers them), and the two direct posts that cannot wait for the outbox:
//! the war room's header and the alarm's first post, which look in the channel before
//! posting again after a crash ([`already_posted`]).

use super::Ctx;
use crate::domain::{ChannelId, OutboxDestination, Ts};
use crate::slack::web::{Outgoing, PostedMessage, SlackError};
use crate::store::outbox::{self, NewOutgoing, Refusal};
use crate::store::timeline::{self, NewEntry};
use crate::store::{inbox, StoreError};

/// Record `entry` and, if it is new, announce it: `notices` go into the outbox in the
/// same transaction and the scheduler is woken to deliver them. Returns whether the
/// entry was new (a replay announces nothing twice).
pub(crate) async fn record_and_announce(
    ctx: &Ctx,
    entry: &NewEntry,
    notices: Vec<(OutboxDestination, Outgoing)>,
    refusal: Option<(&str, &str)>,
    inbox_id: Option<i64>,
) -> Result<bool, StoreError> {
    let messages: Vec<NewOutgoing> = notices
        .into_iter()
        .map(|(destination, m)| to_outbox(destination, m))
        .collect();
    let refusal = refusal.map(|(url, text)| Refusal {
        response_url: url.to_string(),
        text: text.to_string(),
    });
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin().await?;
    let new = timeline::insert(&mut tx, entry, now).await?;
    if new {
        for m in &messages {
            outbox::enqueue_answerable(&mut tx, m, refusal.as_ref(), now).await?;
        }
    }
    if let Some(id) = inbox_id {
        inbox::mark_processed(&mut tx, id, now, None).await?;
    }
    tx.commit().await?;
    if new && !messages.is_empty() {
        ctx.kick_timers();
    }
    Ok(new)
}

/// The incident channel and, when configured, the status channel.
pub(crate) fn channel_and_status(
    ctx: &Ctx,
    channel: Option<&ChannelId>,
    msg: &Outgoing,
) -> Vec<(OutboxDestination, Outgoing)> {
    channel
        .into_iter()
        .chain(ctx.config.slack.status_channel.as_ref())
        .map(|c| (OutboxDestination::Channel(c.clone()), msg.clone()))
        .collect()
}

/// A rendered message as an outbox row for `destination`.
pub(super) fn to_outbox(destination: OutboxDestination, msg: Outgoing) -> NewOutgoing {
    NewOutgoing {
        destination,
        text: msg.text,
        blocks: msg.blocks.map(|b| b.to_string()),
    }
}

/// Post `msg` in a war room and return its ts. `may_be_there` says an earlier attempt
/// may have posted it and died before recording its ts: then the channel's history is
/// searched first (the channel was created for this incident, so all of it) and the
/// message found is adopted instead of posted again.
pub(super) async fn post_in_war_room(
    ctx: &Ctx,
    channel: &ChannelId,
    msg: &Outgoing,
    may_be_there: bool,
) -> Result<Ts, SlackError> {
    if may_be_there {
        let war_room = OutboxDestination::Channel(channel.clone());
        if let Some(ts) = already_posted(ctx, &war_room, chrono::DateTime::UNIX_EPOCH, msg).await? {
            return Ok(ts);
        }
    }
    ctx.web.post(channel, msg).await
}

/// The ts of this bot's message `msg` in `destination` since `since`, if an interrupted
/// attempt (a process killed, or an answer lost, between the post and its record) had
/// posted it. Every post that can be repeated after a crash looks here first: the
/// outbox (rows marked sending), the war-room header and the alarm's first post.
pub(super) async fn already_posted(
    ctx: &Ctx,
    destination: &OutboxDestination,
    since: chrono::DateTime<chrono::Utc>,
    msg: &Outgoing,
) -> Result<Option<Ts>, SlackError> {
    match ctx.web.messages_since(destination, since).await {
        Ok(messages) => {
            // Slack has the text as it was sent: fitted to its limits.
            let sent = crate::slack::limits::fit_message(msg).text;
            let text = sent.trim();
            let mine = |m: &PostedMessage| {
                m.user.as_deref() == Some(ctx.bot.user_id.as_str())
                    || (m.bot_id.is_some() && m.bot_id == ctx.bot.bot_id)
            };
            let found = messages.iter().find(|m| mine(m) && m.text.trim() == text);
            if let Some(found) = found {
                tracing::info!(destination = %destination, ts = %found.ts, "an interrupted post had reached Slack; not posting it again");
            }
            Ok(found.map(|m| m.ts.clone()))
        }
        Err(e) if e.is_transient() => Err(e),
        // Cannot look (a scope missing from an older install): posting twice beats
        // not posting.
        Err(e) => {
            tracing::warn!(destination = %destination, error = %e, "cannot check whether an interrupted post reached Slack; posting it");
            Ok(None)
        }
    }
}

/// Post to `[slack] status_channel` when one is configured. Best effort: the change
/// itself is recorded and visible in the incident channel whatever happens here.
pub(crate) async fn tell_status_channel(ctx: &Ctx, msg: &Outgoing) {
    if let Some(channel) = &ctx.config.slack.status_channel {
        if let Err(e) = ctx.web.post(channel, msg).await {
            tracing::warn!(error = %e, "could not post to the status channel");
        }
    }
}
