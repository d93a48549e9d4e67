//! Action items and postmortem drafts: `/incident action`, `/incident action done`,
//! `/incident postmortem`, and the resolve notice's "Draft the postmortem" button.

use anyhow::anyhow;

use super::answer::Request;
use super::authorization::Actor;
use super::failure::Failure;
use super::Ctx;
use crate::domain::{IncidentRecord, UserId};
use crate::postmortem::{self, Format};
use crate::slack::inbound::CommandInvocation;
use crate::slack::render;
use crate::slack::web::FileUpload;
use crate::store::actions::{self, CloseOutcome, Closing, NewAction};
use crate::store::inbox::InboxRow;
use crate::store::{outbox, reports, timeline};

pub(super) async fn add_action(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    text: String,
    owner: Option<UserId>,
) -> Result<(), Failure> {
    let Some(record) = super::answer::incident_here(ctx, inv).await? else {
        return Ok(());
    };
    // The notice goes into the outbox with the item: a failed post is retried, where a
    // replay of this command would find the item and post nothing.
    let now = ctx.clock.now();
    let new_action = NewAction {
        incident_id: record.incident.id,
        text: &text,
        owner: owner.as_ref(),
        by: &actor,
        at: inv.at,
        source_key: &row.dedupe_key,
    };
    let mut tx = ctx.store.begin().await?;
    let (item, new) = actions::add(&mut tx, &new_action, now).await?;
    if new {
        if let Some(notice) = super::answer::notice_in(&record, render::action_added(&actor, &item))
        {
            outbox::enqueue(&mut tx, &notice, now).await?;
        }
    }
    tx.commit().await?;
    if new {
        ctx.kick_timers();
    }
    Ok(())
}

pub(super) async fn close_action(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    number: u32,
) -> Result<(), Failure> {
    let Some(record) = super::answer::incident_here(ctx, inv).await? else {
        return Ok(());
    };
    // A replay after a crash: the closure is on record already.
    if timeline::exists(ctx.store.db(), &row.dedupe_key).await? {
        return Ok(());
    }
    let now = ctx.clock.now();
    let closing = Closing {
        incident_id: record.incident.id,
        number,
        by: &actor,
        at: inv.at,
        source_key: &row.dedupe_key,
    };
    let mut tx = ctx.store.begin().await?;
    let outcome = actions::close(&mut tx, &closing, now).await?;
    if let CloseOutcome::Closed(item) = &outcome {
        if let Some(notice) = super::answer::notice_in(&record, render::action_closed(&actor, item))
        {
            outbox::enqueue(&mut tx, &notice, now).await?;
        }
    }
    tx.commit().await?;
    match outcome {
        CloseOutcome::Closed(_) => ctx.kick_timers(),
        CloseOutcome::AlreadyDone(item) => {
            super::answer::reply(ctx, inv, &render::action_already_done(&item)).await;
        }
        CloseOutcome::NotFound => {
            super::answer::reply(
                ctx,
                inv,
                &render::problem(&format!(
                    "incident {} has no action item {number}; /incident actions lists them",
                    record.incident.id
                )),
            )
            .await;
        }
    }
    Ok(())
}

/// `/incident postmortem`: draft and upload.
pub(super) async fn postmortem_command(
    ctx: &Ctx,
    inv: &CommandInvocation,
    actor: Actor,
) -> Result<(), Failure> {
    let Some(record) = super::answer::incident_here(ctx, inv).await? else {
        return Ok(());
    };
    draft_postmortem(ctx, &record, &actor)
        .await
        .map_err(|f| f.for_caller("the postmortem draft could not be posted"))
}

/// The "Draft the postmortem" button on the resolve notice.
pub(super) async fn postmortem_click(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
) -> Result<(), Failure> {
    draft_postmortem(ctx, record, &req.actor)
        .await
        .map_err(|f| f.for_caller("the postmortem draft could not be posted"))
}

/// Render the Markdown draft and upload it to the incident channel with a summary.
async fn draft_postmortem(
    ctx: &Ctx,
    record: &IncidentRecord,
    requested_by: &UserId,
) -> Result<(), Failure> {
    let Some(channel) = &record.channel_id else {
        return Err(Failure::Permanent(anyhow!(
            "incident {} has no channel yet",
            record.incident.id
        )));
    };
    let mut source = crate::store::postmortem_source(ctx.store.db(), record.incident.id).await?;
    // Everyone in it by name: the cached names, refreshed from Slack when stale.
    source.names = super::people::names_for(ctx, super::people::people_in(&source)).await;
    let options = postmortem::Options::from_config(&ctx.config);
    let data = postmortem::build(&source, &options, ctx.clock.now());
    let markdown = ctx
        .templates
        .render_with(
            Format::Markdown,
            &data,
            postmortem::type_template(&ctx.config, record),
        )
        .map_err(|e| Failure::Permanent(e.into()))?;
    let summary = render::postmortem_summary(record, &data, requested_by);
    let file = postmortem::file_name(&source, Format::Markdown);
    let upload = FileUpload {
        filename: file.clone(),
        title: format!("Postmortem draft: incident {}", record.incident.id),
        content_type: "text/markdown; charset=utf-8",
        bytes: markdown.into_bytes(),
        comment: summary.text,
    };
    ctx.web.upload_file(channel, &upload).await?;
    tracing::info!(incident = %record.incident.id, file, "postmortem draft uploaded");
    // On record for the managers' report ("incidents without a postmortem draft"), in a
    // unit of work of its own after the upload: no transaction is held across Slack.
    let mut tx = ctx.store.begin().await?;
    reports::record_draft(&mut tx, record.incident.id, requested_by, ctx.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}
