//! Executing recorded `/incident` commands: declare (channel, invites, pinned header) and
//! the changes made inside an incident channel.

use anyhow::anyhow;

use super::authorization::Actor;
use super::authorization::Ask;
use super::failure::Failure;
use super::Ctx;
use crate::domain::channel_name::{channel_name, private_channel_name};
use crate::domain::command::{self, Command};
use crate::domain::incident::Change;
use crate::domain::privacy::update_goes_to_status_channel;
use crate::domain::time::backdate;
use crate::domain::OutboxDestination;
use crate::domain::{EntryKind, IncidentRecord, Severity};
use crate::slack::inbound::CommandInvocation;
use crate::slack::render;
use crate::store::inbox::InboxRow;
use crate::store::incidents::{self, NewIncident};
use crate::store::outbox::{self, Refusal};
use crate::store::timeline::{self, NewEntry};

/// What a declare asks for, once parsed. `private` comes from `--private` today; an
/// incident type marked private sets it the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeclareAsk {
    pub title: String,
    pub severity: Severity,
    /// A private channel, and only the redacted line elsewhere (`domain::privacy`).
    pub private: bool,
}

pub(super) async fn execute_command(
    ctx: &Ctx,
    row: &InboxRow,
    inv: CommandInvocation,
) -> Result<(), Failure> {
    let cmd = match command::parse(&inv.text) {
        Ok(c) => c,
        Err(usage) => {
            super::answer::reply(ctx, &inv, &render::usage_error(&usage)).await;
            return Ok(());
        }
    };
    // Who may do what is one table (`domain::authorization`), checked before anything runs.
    let Some(admitted) =
        super::authorization::checkpoint(ctx, row, Ask::Command(&inv, &cmd)).await?
    else {
        return Ok(());
    };
    let actor = admitted.actor;
    match cmd {
        Command::Declare {
            title,
            severity,
            private,
            incident_type,
        } => {
            let kind = match incident_type.as_deref() {
                None => None,
                Some(name) => match ctx.config.incident.incident_type(name) {
                    Some(t) => Some(t),
                    None => {
                        let usage = super::answer::unknown_type(ctx, name);
                        super::answer::reply(ctx, &inv, &render::usage_error(&usage)).await;
                        return Ok(());
                    }
                },
            };
            let ask = DeclareAsk {
                title,
                severity: severity
                    .or(kind.map(|t| t.severity))
                    .unwrap_or(Severity::DEFAULT),
                // `--private`, or a type that is private.
                private: private || kind.is_some_and(|t| t.private),
            };
            declare(ctx, row, &inv, actor, ask, kind).await
        }
        Command::Drill {
            route,
            severity,
            real_case,
        } => {
            let ask = super::drills::DrillAsk {
                route,
                severity,
                real_case,
            };
            super::drills::drill(ctx, row, &inv, actor, ask).await
        }
        Command::Status { status, note } => {
            change(ctx, row, &inv, actor, Change::Status { to: status, note }).await
        }
        Command::Sev(s) => change(ctx, row, &inv, actor, Change::Severity(s)).await,
        Command::Lead(u) => change(ctx, row, &inv, actor, Change::Lead(u)).await,
        Command::Role { role, user } => {
            super::people::assign_role(ctx, row, &inv, actor, role, user).await
        }
        Command::Resolve { note } => change(ctx, row, &inv, actor, Change::Resolve { note }).await,
        Command::Note { at, text } => note(ctx, row, &inv, actor, at, text).await,
        Command::Update { text } => stakeholder_update(ctx, row, &inv, actor, text).await,
        Command::Action { text, owner } => {
            super::postmortem::add_action(ctx, row, &inv, actor, text, owner).await
        }
        Command::ActionDone(n) => super::postmortem::close_action(ctx, row, &inv, actor, n).await,
        Command::Postmortem => super::postmortem::postmortem_command(ctx, &inv, actor).await,
        Command::Changes { lookback } => {
            super::changes::changes_command(ctx, row, &inv, actor, lookback).await
        }
        c @ (Command::Snooze(_)
        | Command::AwsInvolved(_)
        | Command::AwsStatus
        | Command::AwsReply { .. }
        | Command::EscalateAws { .. }) => {
            super::escalation::escalation_command(ctx, row, &inv, actor, c).await
        }
        // Read-only commands are answered in the ack; nothing to do if one got here.
        Command::Timeline
        | Command::Catchup
        | Command::List
        | Command::Stats { .. }
        | Command::Help
        | Command::Actions => Ok(()),
    }
}

async fn declare(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    ask: DeclareAsk,
    kind: Option<&crate::domain::incident_type::IncidentType>,
) -> Result<(), Failure> {
    let DeclareAsk {
        title,
        severity,
        private,
    } = ask;
    let new = NewIncident {
        source_key: row.dedupe_key.clone(),
        channel_name: if private {
            private_channel_name(inv.at)
        } else {
            channel_name(inv.at, &title)
        },
        title,
        severity,
        declared_by: actor.user().clone(),
        opened_at: inv.at,
        private,
    };
    let mut tx = ctx.store.begin().await?;
    let (mut record, created) = incidents::create(&mut tx, &new, ctx.clock.now()).await?;
    if let (true, Some(t)) = (created, kind) {
        super::checklist::give_type(&mut tx, &mut record, t).await?;
    }
    tx.commit().await?;
    if created {
        tracing::info!(incident = %record.incident.id, incident_type = ?record.incident_type, "incident declared");
    }
    let extra = if record.members_invited {
        Vec::new()
    } else {
        super::checklist::type_invitees(ctx, &record).await?
    };
    super::war_room::open_war_room(ctx, &mut record, &actor, &extra)
        .await
        .map_err(|f| {
            f.for_caller(format!(
                "incident {} is recorded, but its channel could not be set up",
                record.incident.id
            ))
        })?;
    super::answer::reply(ctx, inv, &render::declared_reply(&record)).await;
    Ok(())
}

async fn change(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    change: Change,
) -> Result<(), Failure> {
    let Some(record) = super::answer::incident_here(ctx, inv).await? else {
        return Ok(());
    };
    // Found by the channel the command was run in.
    let channel = record
        .channel_id
        .clone()
        .unwrap_or_else(|| inv.channel.clone());
    // A replay after a crash: the change is on record; only redo the header.
    if timeline::exists(ctx.store.db(), &row.dedupe_key).await? {
        return super::people::refresh_header(ctx, &record).await;
    }
    let now = ctx.clock.now();
    let applied = match record.incident.apply(&change, now) {
        Ok(a) => a,
        Err(e) => {
            super::answer::reply(ctx, inv, &render::problem(&e.to_string())).await;
            return Ok(());
        }
    };
    // The notice goes into the outbox with the change, so a failed post is retried by
    // the scheduler (a replay of this event finds the change recorded and would not post
    // it). A notice Slack refuses for good (archived channel, bot removed) is explained
    // to the caller from there; the header and the status channel go on regardless.
    let notice = render::change_notice(&actor, &record.incident, &applied.incident, &change);
    let notice = super::announce::to_outbox(OutboxDestination::Channel(channel), notice);
    let refusal = Refusal {
        response_url: inv.response_url.clone(),
        text: "the change is recorded, but its notice could not be posted".to_string(),
    };
    // Status and severity changes are told to the status channel too, the same way.
    let (b, a) = (&record.incident, &applied.incident);
    let for_status_channel = ctx
        .config
        .slack
        .status_channel
        .as_ref()
        .filter(|_| b.status != a.status || b.severity != a.severity)
        .map(|destination| {
            let after = IncidentRecord {
                incident: a.clone(),
                ..record.clone()
            };
            let msg = render::status_channel_notice(&actor, b, &after);
            super::announce::to_outbox(OutboxDestination::Channel(destination.clone()), msg)
        });
    // The change, its timeline entry (with the change as data) and its notices, at once:
    // a replay finds the entry and writes nothing, so nothing is announced twice.
    let entry = NewEntry {
        incident_id: applied.incident.id,
        dedupe_key: row.dedupe_key.clone(),
        kind: applied.entry,
        occurred_at: now,
        actor: Some(actor.as_str().to_string()),
        text: applied.summary.clone(),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let detail = serde_json::to_value(&applied.detail)
        .map_err(|e| Failure::Permanent(anyhow!("cannot serialise a change: {e}")))?;
    let mut tx = ctx.store.begin().await?;
    if timeline::insert_with_data(&mut tx, &entry, Some(&detail), now).await? {
        incidents::save(&mut tx, &applied.incident, now).await?;
        if !notice.destination.as_str().is_empty() {
            outbox::enqueue_answerable(&mut tx, &notice, Some(&refusal), now).await?;
        }
        if let Some(also) = &for_status_channel {
            outbox::enqueue(&mut tx, also, now).await?;
        }
        // A resolve schedules the channel's archive, a reopen cancels it.
        super::archive::archive_on_change(ctx, &mut tx, b, a).await?;
        // A drill's scorecard goes with its resolve, once.
        if a.id.is_drill() && a.status == crate::domain::Status::Resolved && b.status != a.status {
            let after = IncidentRecord {
                incident: a.clone(),
                ..record.clone()
            };
            super::drills::drill_scorecard(ctx, &mut tx, &after, a.resolved_at.unwrap_or(now))
                .await?;
        }
    }
    tx.commit().await?;
    ctx.kick_timers();
    let updated = incidents::get(ctx.store.db(), record.incident.id).await?;
    super::people::refresh_header(ctx, &updated).await?;
    let a = &updated.incident;
    if a.status == crate::domain::Status::Resolved && b.status != a.status {
        super::support::offer_case_resolution(ctx, &updated).await?;
    }
    // A new severity moves the escalation deadline; a reopen restarts the clocks.
    super::nudges::arm_nudges(ctx, a.id).await
}

async fn stakeholder_update(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    text: String,
) -> Result<(), Failure> {
    // Who may post one is checked before (`command_permitted`).
    let Some(record) = super::answer::incident_here(ctx, inv).await? else {
        return Ok(());
    };
    let now = ctx.clock.now();
    let entry = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: row.dedupe_key.clone(),
        kind: EntryKind::Update,
        occurred_at: inv.at,
        actor: Some(actor.as_str().to_string()),
        text: text.clone(),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let msg = render::stakeholder_update(&record, &actor, &text, now);
    // A private incident's update stays off the status channel: its channel, and the
    // `[incident] private_viewers` by DM (`domain::privacy`).
    let notices = if update_goes_to_status_channel(&record) {
        super::announce::channel_and_status(ctx, record.channel_id.as_ref(), &msg)
    } else {
        record
            .channel_id
            .iter()
            .cloned()
            .map(OutboxDestination::Channel)
            .chain(
                ctx.config
                    .incident
                    .private_viewers
                    .iter()
                    .cloned()
                    .map(OutboxDestination::Dm),
            )
            .map(|destination| (destination, msg.clone()))
            .collect()
    };
    let refusal = (
        inv.response_url.as_str(),
        "the update is recorded, but it could not be posted",
    );
    super::announce::record_and_announce(ctx, &entry, notices, Some(refusal), None).await?;
    super::nudges::arm_nudges(ctx, record.incident.id).await
}

async fn note(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    at: Option<chrono::NaiveTime>,
    text: String,
) -> Result<(), Failure> {
    let Some(record) = super::answer::incident_here(ctx, inv).await? else {
        return Ok(());
    };
    let occurred_at = at.map(|t| backdate(inv.at, t)).unwrap_or(inv.at);
    let entry = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: row.dedupe_key.clone(),
        kind: EntryKind::Note,
        occurred_at,
        actor: Some(actor.as_str().to_string()),
        text: text.clone(),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let notice = render::note_notice(&actor, &text, occurred_at, at.is_some());
    let notices = record
        .channel_id
        .iter()
        .map(|c| (OutboxDestination::Channel(c.clone()), notice.clone()))
        .collect();
    let refusal = (
        inv.response_url.as_str(),
        "the note is recorded, but its notice could not be posted",
    );
    super::announce::record_and_announce(ctx, &entry, notices, Some(refusal), None).await?;
    Ok(())
}
