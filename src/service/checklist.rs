//! Incident types at work: the type's people invited with the war room, its checklist
//! queued after the header, and the "Done" button on a step.
//!
//! The checklist is copied onto the incident in the unit of work that creates it
//! (`store::checklist::set_type`); its messages go through the outbox in a unit of work
//! that marks them queued, so a crash or a replay posts them once. A tick is one unit of
//! work: the step's who and when, a `checklist_step` key event keyed by the click, the inbox
//! row processed; then the clicked message is redrawn with chat.update.

use super::answer::Request;
use super::failure::Failure;
use super::Ctx;
use crate::domain::incident_type::{self, IncidentType};
use crate::domain::{DomainError, EntryKind, IncidentRecord, Ts, UserId};
use crate::slack::render;
use crate::slack::render_checklist;
use crate::store::outbox;
use crate::store::timeline::{self, NewEntry};
use crate::store::{checklist, inbox, Tx};

/// The configured type of this incident, if it has one still in the config.
pub(super) fn type_of<'a>(ctx: &'a Ctx, record: &IncidentRecord) -> Option<&'a IncidentType> {
    record
        .incident_type
        .as_deref()
        .and_then(|name| ctx.config.incident.incident_type(name))
}

/// Give a freshly created incident its type and checklist, in the creating unit of work.
pub(super) async fn give_type(
    tx: &mut Tx,
    record: &mut IncidentRecord,
    t: &IncidentType,
) -> Result<(), Failure> {
    checklist::set_type(tx, record.incident.id, &t.name, &t.checklist).await?;
    record.incident_type = Some(t.name.clone());
    Ok(())
}

/// The type's responders and its user group's members, invited with the war room.
pub(super) async fn type_invitees(
    ctx: &Ctx,
    record: &IncidentRecord,
) -> Result<Vec<String>, Failure> {
    let Some(t) = type_of(ctx, record) else {
        return Ok(Vec::new());
    };
    invitees(ctx, &t.responders, t.usergroup.as_deref(), &t.name).await
}

/// The war room's last set-up step: the checklist messages into the outbox, once.
pub(super) async fn queue_checklist(ctx: &Ctx, record: &IncidentRecord) -> Result<(), Failure> {
    let id = record.incident.id;
    if record.channel_id.is_none() || !checklist::to_queue(ctx.store.db(), id).await? {
        return Ok(());
    }
    let items = checklist::of_incident(ctx.store.db(), id).await?;
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin().await?;
    if checklist::mark_queued(&mut tx, id).await? {
        for msg in render_checklist::checklist_messages(record, &items) {
            if let Some(out) = super::answer::notice_in(record, msg) {
                outbox::enqueue(&mut tx, &out, now).await?;
            }
        }
    }
    tx.commit().await?;
    ctx.kick_timers();
    Ok(())
}

/// "Done" beside a checklist step (the button's value is the step's number).
pub(super) async fn checklist_click(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    value: Option<&str>,
    message_ts: &Ts,
) -> Result<(), Failure> {
    let id = record.incident.id;
    let Some(position) = value.and_then(|v| v.parse::<i64>().ok()) else {
        return Ok(());
    };
    // A redelivered click: recorded already, nothing more to do.
    if timeline::exists(ctx.store.db(), req.key).await? {
        return Ok(());
    }
    let items = checklist::of_incident(ctx.store.db(), id).await?;
    let now = ctx.clock.now();
    let ticked = match incident_type::tick(&items, position, &req.actor, req.at) {
        Ok(t) => t,
        Err(DomainError::NoChange(_)) => {
            if let Some(step) = items.iter().find(|s| s.position == position) {
                super::answer::tell(ctx, req, &render_checklist::already_done(step)).await;
            }
            redraw_checklist(ctx, record, &items, position, message_ts).await;
            return Ok(());
        }
        Err(e) => {
            super::answer::tell(ctx, req, &render::problem(&e.to_string())).await;
            return Ok(());
        }
    };
    let entry = NewEntry {
        incident_id: id,
        dedupe_key: req.key.to_string(),
        kind: EntryKind::ChecklistStep,
        occurred_at: ticked.at,
        actor: Some(ticked.by.as_str().to_string()),
        text: ticked.summary.clone(),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let mut tx = ctx.store.begin().await?;
    // The step's row decides: a tick that lost a race to another records nothing.
    if checklist::tick(&mut tx, id, position, &ticked.by, ticked.at).await? {
        timeline::insert(&mut tx, &entry, now).await?;
    }
    inbox::mark_processed(&mut tx, req.inbox_id, now, None).await?;
    tx.commit().await?;
    super::people::learn_names(ctx, &[ticked.by.as_str()]).await;
    let items = checklist::of_incident(ctx.store.db(), id).await?;
    redraw_checklist(ctx, record, &items, position, message_ts).await;
    Ok(())
}

/// Redraw the message holding step `position` as the steps stand. Best effort: the tick
/// is recorded, and the next tick on that message redraws it again.
async fn redraw_checklist(
    ctx: &Ctx,
    record: &IncidentRecord,
    items: &[incident_type::ChecklistItem],
    position: i64,
    message_ts: &Ts,
) {
    let Some(channel) = record.channel_id.as_ref() else {
        return;
    };
    let part = render_checklist::part_of(position);
    let msg = render_checklist::checklist_part(record, items, part);
    if let Err(e) = ctx.web.update(channel, message_ts, &msg).await {
        tracing::warn!(incident = %record.incident.id, error = %e, "could not redraw the checklist");
    }
}

/// `responders` and the members of `usergroup`, for an invitation. A user group Slack
/// refuses (deleted, wrong id) is logged and skipped: the war room opens anyway.
pub(super) async fn invitees(
    ctx: &Ctx,
    responders: &[UserId],
    usergroup: Option<&str>,
    from: &str,
) -> Result<Vec<String>, Failure> {
    let mut users: Vec<String> = responders.iter().map(|u| u.as_str().to_string()).collect();
    if let Some(group) = usergroup {
        match ctx.web.usergroup_members(group).await {
            Ok(members) => users.extend(members),
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => {
                tracing::warn!(usergroup = %group, from, error = %e, "cannot list the user group; inviting the others")
            }
        }
    }
    Ok(users)
}
