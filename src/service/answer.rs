//! Answering people and posting in an incident's channel, the leaf helpers most features
//! share: privately to the caller of a command ([`reply`]) or of a click or form
//! ([`tell`]), and the outbox row of a notice in the incident channel ([`notice_in`]).
//! Best effort where it says so: the change the answer is about stands either way.

use super::nudges::Request;
use super::Ctx;
use crate::domain::IncidentRecord;
use crate::domain::OutboxDestination;
use crate::slack::inbound::CommandInvocation;
use crate::slack::web::Outgoing;
use crate::store::outbox::NewOutgoing;

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

/// A message for the incident's channel, for the outbox (none before the channel exists).
pub(super) fn notice_in(record: &IncidentRecord, msg: Outgoing) -> Option<NewOutgoing> {
    record.channel_id.as_ref().map(|c| NewOutgoing {
        destination: OutboxDestination::channel(c.clone()),
        text: msg.text,
        blocks: msg.blocks.map(|b| b.to_string()),
    })
}
