//! Where escalation input arrives: the `/incident snooze|aws|escalate` commands, the
//! buttons on nudges and case notices, and the case modal. Each is turned into a
//! [`Request`] and handed to the nudge clocks ([`super::nudges`]) or the Support case
//! handling ([`super::support`]).

use chrono::Duration;

use super::answer::Request;
use super::authorization::Actor;
use super::authorization::Ask;
use super::failure::Failure;
use super::Ctx;
use crate::domain::authorization::Action;
use crate::domain::Command;
use crate::slack::inbound::{ActionClick, CommandInvocation, ViewSubmission};
use crate::slack::render_support as render;
use crate::store::inbox::InboxRow;

/// `/incident snooze|aws …|escalate aws`.
pub(super) async fn escalation_command(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    cmd: Command,
) -> Result<(), Failure> {
    let Some(record) = super::answer::incident_here(ctx, inv).await? else {
        return Ok(());
    };
    let req = Request {
        key: &row.dedupe_key,
        inbox_id: row.id,
        actor,
        at: inv.at,
        response_url: Some(&inv.response_url),
        channel: record.channel_id.as_ref(),
        clicked: None,
    };
    match cmd {
        Command::Snooze(d) => super::nudges::snooze(ctx, &req, &record, d).await,
        Command::AwsInvolved(yes) => super::nudges::set_involvement(ctx, &req, &record, yes).await,
        Command::AwsStatus => super::support::aws_status(ctx, &req, &record).await,
        Command::AwsReply { text } => super::support::aws_reply(ctx, &req, &record, &text).await,
        Command::EscalateAws { severity } => {
            super::support::escalate_command(ctx, &req, &record, severity).await
        }
        _ => Ok(()),
    }
}

/// A click on a button of one of warroom's messages, through the checkpoint, then to
/// what the button does. Link buttons and unknown ones ask for nothing.
pub(super) async fn handle_click(
    ctx: &Ctx,
    row: &InboxRow,
    click: ActionClick,
) -> Result<(), Failure> {
    let Some(admitted) = super::authorization::checkpoint(ctx, row, Ask::Click(&click)).await?
    else {
        return Ok(());
    };
    // Buttons are only on messages in incident channels.
    let Some(record) = admitted.record else {
        return Ok(());
    };
    let req = Request {
        key: &row.dedupe_key,
        inbox_id: row.id,
        actor: admitted.actor,
        at: click.at,
        response_url: Some(&click.response_url),
        channel: record.channel_id.as_ref(),
        clicked: click.message.as_ref(),
    };
    match admitted.action {
        Action::OpenCaseButton => {
            super::support::show_case_modal(ctx, &req, &record, &click.trigger_id).await
        }
        Action::SnoozeButton => {
            let minutes = click
                .value
                .as_deref()
                .and_then(|v| v.strip_suffix('m'))
                .and_then(|m| m.parse::<i64>().ok())
                .filter(|m| (1..=24 * 60).contains(m))
                .unwrap_or(render::SNOOZE_BUTTON_MINUTES);
            super::nudges::snooze(ctx, &req, &record, Duration::minutes(minutes)).await
        }
        Action::NotAwsButton => super::nudges::set_involvement(ctx, &req, &record, false).await,
        Action::ResolveCaseButton => {
            let case_row = click.value.as_deref().and_then(|v| v.parse().ok());
            super::support::resolve_case_click(ctx, &req, &record, case_row).await
        }
        Action::DraftPostmortemButton => {
            super::postmortem::postmortem_click(ctx, &req, &record).await
        }
        Action::KeepOpenButton => super::archive::keep_open_click(ctx, &req, &record).await,
        Action::ChecklistTickButton => {
            super::checklist::checklist_click(
                ctx,
                &req,
                &record,
                click.value.as_deref(),
                &click.message_ts,
            )
            .await
        }
        other => {
            tracing::warn!(
                action = other.name(),
                "a button mapped to an action that is not a button"
            );
            Ok(())
        }
    }
}

/// A submitted form, through the checkpoint. Only the case form exists.
pub(super) async fn handle_submission(
    ctx: &Ctx,
    row: &InboxRow,
    v: ViewSubmission,
) -> Result<(), Failure> {
    let Some(admitted) = super::authorization::checkpoint(ctx, row, Ask::Form(&v)).await? else {
        return Ok(());
    };
    let (Action::CaseForm, Some(record)) = (admitted.action, admitted.record) else {
        return Ok(());
    };
    let req = Request {
        key: &row.dedupe_key,
        inbox_id: row.id,
        actor: admitted.actor,
        at: v.at,
        response_url: None,
        channel: record.channel_id.as_ref(),
        clicked: None,
    };
    super::support::case_submitted(ctx, &req, &record, &v).await
}
