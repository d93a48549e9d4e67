//! Answering the person who asked: privately (an ephemeral reply to a command, a button or a
//! modal), or as a notice in the incident's channel through the outbox. Best effort: what
//! was asked for is recorded whatever happens here.

use chrono::{DateTime, Utc};

use super::authorization::Actor;
use super::failure::Failure;
use super::Ctx;
use crate::domain::command;
use crate::domain::{ChannelId, IncidentRecord, OutboxDestination};
use crate::slack::inbound::{ClickedMessage, CommandInvocation};
use crate::slack::render;
use crate::slack::web::Outgoing;
use crate::store::incidents;
use crate::store::outbox::NewOutgoing;

/// Who asked for something (a command, a button or a modal), and where to answer them.
#[derive(Debug, Clone)]
pub(super) struct Request<'a> {
    /// The inbox key: the idempotency key of whatever the request records.
    pub key: &'a str,
    pub inbox_id: i64,
    /// Admitted by the checkpoint: a `Request` cannot be made for anyone else.
    pub actor: Actor,
    pub at: DateTime<Utc>,
    /// Where a private answer goes (a command's or a click's response_url); `None` for
    /// form submissions, which are answered in the channel.
    pub response_url: Option<&'a str>,
    /// The incident channel, where a request without a `response_url` is answered (an
    /// ephemeral message only the requester sees).
    pub channel: Option<&'a ChannelId>,
    /// The prompt a clicked button was on, to redraw without its buttons once answered.
    pub clicked: Option<&'a ClickedMessage>,
}

/// A message for the incident's channel, for the outbox (none before the channel exists).
pub(super) fn notice_in(record: &IncidentRecord, msg: Outgoing) -> Option<NewOutgoing> {
    record
        .channel_id
        .as_ref()
        .map(|c| super::announce::to_outbox(OutboxDestination::Channel(c.clone()), msg))
}

/// Answer the requester privately: through the `response_url`, or for a form, in the
/// incident channel where only they see it.
pub(super) async fn tell(ctx: &Ctx, req: &Request<'_>, msg: &Outgoing) {
    let told = match (req.response_url, req.channel) {
        (Some(url), _) => ctx.web.respond_ephemeral(url, msg).await,
        (None, Some(channel)) => {
            ctx.web
                .post_ephemeral(channel, req.actor.as_str(), msg)
                .await
        }
        (None, None) => Ok(()),
    };
    if let Err(e) = told {
        tracing::warn!(error = %e, "could not answer the requester");
    }
}

/// Tell the caller something, privately. Best effort: the command's effect stands.
pub(super) async fn reply(ctx: &Ctx, inv: &CommandInvocation, msg: &Outgoing) {
    // `warroom drill` records a command with nobody to answer: the CLI prints instead.
    if inv.response_url.is_empty() {
        return;
    }
    if let Err(e) = ctx.web.respond_ephemeral(&inv.response_url, msg).await {
        tracing::warn!(error = %e, "could not reply to the caller");
    }
}

/// The usage error for a `type:<name>` no `[[incident.types]]` has.
pub(super) fn unknown_type(ctx: &Ctx, name: &str) -> command::UsageError {
    let known: Vec<&str> = ctx
        .config
        .incident
        .types
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    command::unknown_type(name, &known)
}

/// The incident whose channel the command was run in; when there is none, the caller is
/// told so and `None` returned.
pub(super) async fn incident_here(
    ctx: &Ctx,
    inv: &CommandInvocation,
) -> Result<Option<IncidentRecord>, Failure> {
    let found = incidents::by_channel(ctx.store.db(), &inv.channel).await?;
    if found.is_none() {
        reply(
            ctx,
            inv,
            &render::problem(
                "this command works inside an incident channel; run /incident list to find one",
            ),
        )
        .await;
    }
    Ok(found)
}
