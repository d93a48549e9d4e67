//! People: names from Slack (`users.info`, cached in `user_names`) and the incident roles
//! besides the lead (`/incident role`).
//!
//! **Names.** A name is asked of Slack when warroom first needs it (a person speaks or
//! runs a command, joins an incident channel, or is named in a postmortem, a catch-up or
//! App Home) and again lazily once the cached answer is older than a day: the refresh is
//! lazy, not a daily job. A failed look-up (Slack down, rate limited, the scope missing)
//! is logged and the person is shown by id; it never fails the caller. Look-ups happen
//! here, never inside a `Tx`.

use std::collections::{HashMap, HashSet};

use anyhow::anyhow;
use chrono::Duration;

use super::authorization::Actor;
use super::failure::Failure;
use super::Ctx;
use crate::domain::names::Names;
use crate::domain::roles::{self, Roles};
use crate::domain::OutboxDestination;
use crate::domain::{EntryKind, IncidentRecord, UserId};
use crate::slack::inbound::CommandInvocation;
use crate::slack::render;
use crate::store::inbox::InboxRow;
use crate::store::outbox::{self, Refusal};
use crate::store::people;
use crate::store::timeline::{self, NewEntry};

/// How long a cached name is trusted before Slack is asked again.
pub const NAME_TTL: Duration = Duration::hours(24);

/// Most `users.info` calls one look-up makes; the rest are shown by id this time.
const MAX_LOOKUPS: usize = 50;

/// Names for `users` (ids; anything else is ignored): cached ones, and fresh answers
/// from Slack for those never asked or asked more than [`NAME_TTL`] ago. Best effort.
pub(crate) async fn names_for<I, S>(ctx: &Ctx, users: I) -> Names
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut wanted: Vec<String> = users
        .into_iter()
        .filter(|u| UserId::parse(u.as_ref()).is_ok() && u.as_ref() != ctx.bot.user_id)
        .map(|u| u.as_ref().to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    wanted.sort();
    let cached = match people::names(ctx.store.db(), &wanted).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the names cache; showing ids");
            return Names::default();
        }
    };
    let now = ctx.clock.now();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut stale = Vec::new();
    for user in &wanted {
        match cached.get(user) {
            Some(c) => {
                if let Some(n) = &c.name {
                    names.insert(user.clone(), n.clone());
                }
                if now - c.fetched_at >= NAME_TTL {
                    stale.push(user.clone());
                }
            }
            None => stale.push(user.clone()),
        }
    }
    for user in stale.into_iter().take(MAX_LOOKUPS) {
        match ctx.web.user_name(&user).await {
            Ok(name) => {
                if let Some(n) = &name {
                    names.insert(user.clone(), n.clone());
                }
                if let Err(e) = remember_name(ctx, &user, name.as_deref()).await {
                    tracing::warn!(error = %e, "cannot cache a name");
                }
            }
            Err(e) => {
                // Shown by id (or the older name) this time; asked again next time.
                tracing::warn!(error = %e, user, "cannot look a name up in Slack");
                break;
            }
        }
    }
    Names::new(names)
}

async fn remember_name(
    ctx: &Ctx,
    user: &str,
    name: Option<&str>,
) -> Result<(), crate::store::StoreError> {
    let mut tx = ctx.store.begin().await?;
    people::save_name(&mut tx, user, name, ctx.clock.now()).await?;
    tx.commit().await
}

/// Learn the names of people who just did something (best effort; cached for a day).
/// People this process looked at within [`NAME_TTL`] are skipped without a query.
pub(crate) async fn learn_names<S: AsRef<str>>(ctx: &Ctx, users: &[S]) {
    let now = ctx.clock.now();
    let unseen: Vec<String> = {
        let Ok(mut seen) = ctx.names_seen.lock() else {
            return;
        };
        let mut unseen = Vec::new();
        for u in users.iter().map(AsRef::as_ref) {
            if seen.get(u).is_none_or(|at| now - *at >= NAME_TTL) {
                seen.insert(u.to_string(), now);
                unseen.push(u.to_string());
            }
        }
        unseen
    };
    if !unseen.is_empty() {
        let _ = names_for(ctx, unseen).await;
    }
}

/// Who holds which role in the incident, ordered as `[incident] roles`, with the
/// roles its type asks to fill.
pub(crate) async fn roles_of(ctx: &Ctx, record: &IncidentRecord) -> Result<Roles, Failure> {
    let held = people::roles_of(ctx.store.db(), record.incident.id).await?;
    Ok(roles_with_type(ctx, record, held))
}

/// `held`, ordered, with the roles the incident's type asks to fill.
fn roles_with_type(ctx: &Ctx, record: &IncidentRecord, held: Vec<(String, UserId)>) -> Roles {
    let mut roles = Roles::ordered(held, &ctx.config.incident.roles);
    if let Some(t) = record
        .incident_type
        .as_deref()
        .and_then(|name| ctx.config.incident.incident_type(name))
    {
        roles.to_fill = t.roles.clone();
    }
    roles
}

/// Everyone a postmortem may name: whoever acted, action item owners, role holders,
/// lead and declarer.
pub(crate) fn people_in(source: &crate::store::PostmortemSource) -> Vec<String> {
    let i = &source.record.incident;
    source
        .entries
        .iter()
        .filter_map(|e| e.actor.clone())
        .chain(
            source
                .actions
                .iter()
                .filter_map(|a| a.owner.as_ref().map(|o| o.as_str().to_string())),
        )
        .chain(source.roles.iter().map(|(_, u)| u.as_str().to_string()))
        .chain(
            source
                .checklist
                .iter()
                .filter_map(|s| s.done.as_ref().map(|(u, _)| u.as_str().to_string())),
        )
        .chain(i.lead.iter().map(|u| u.as_str().to_string()))
        .chain(std::iter::once(i.declared_by.as_str().to_string()))
        .collect()
}

/// The catch-up for an incident: where it stands, who does what, the latest update, the
/// AWS case, the last key events, the open action items.
pub(crate) async fn catchup_message(
    ctx: &Ctx,
    record: &IncidentRecord,
) -> Result<crate::slack::web::Outgoing, crate::store::StoreError> {
    let id = record.incident.id;
    let held = people::roles_of(ctx.store.db(), id).await?;
    let roles = roles_with_type(ctx, record, held);
    let checklist = crate::store::checklist::of_incident(ctx.store.db(), id).await?;
    let entries = timeline::of_incident(ctx.store.db(), id).await?;
    let actions = crate::store::actions::of_incident(ctx.store.db(), id).await?;
    let cases = crate::store::overview::case_glances(ctx.store.db()).await?;
    Ok(render::catchup(&render::Catchup {
        record,
        roles: &roles,
        entries: &entries,
        case: cases.get(&id),
        actions: &actions,
        checklist: &checklist,
        now: ctx.clock.now(),
    }))
}

/// Someone joined an incident channel: send them the catch-up, visible to them only,
/// once per person and incident. Not to the people warroom itself invited when it set
/// the war room up (`inviter` is the bot): they were there from the start.
pub(super) async fn member_joined(
    ctx: &Ctx,
    row: &InboxRow,
    record: &IncidentRecord,
    user: &str,
    inviter: Option<&str>,
) -> Result<(), Failure> {
    let now = ctx.clock.now();
    let by_warroom = inviter == Some(ctx.bot.user_id.as_str());
    let person = UserId::parse(user).ok().filter(|_| user != ctx.bot.user_id);
    let (Some(person), Some(channel), false) = (person, record.channel_id.as_ref(), by_warroom)
    else {
        return mark_row(ctx, row).await;
    };
    learn_names(ctx, &[user]).await;
    if people::catchup_sent(ctx.store.db(), record.incident.id, &person).await? {
        return mark_row(ctx, row).await;
    }
    let msg = catchup_message(ctx, record).await?;
    match ctx.web.post_ephemeral(channel, user, &msg).await {
        Ok(()) => {}
        // Left again already, or the channel went away: nothing to tell.
        Err(e)
            if matches!(
                e.code(),
                Some(
                    "user_not_in_channel" | "channel_not_found" | "is_archived" | "not_in_channel"
                )
            ) =>
        {
            tracing::info!(error = %e, "the catch-up found nobody to tell");
        }
        Err(e) => return Err(e.into()),
    }
    let mut tx = ctx.store.begin().await?;
    people::mark_catchup_sent(&mut tx, record.incident.id, &person, now).await?;
    crate::store::inbox::mark_processed(&mut tx, row.id, now, None).await?;
    tx.commit().await?;
    Ok(())
}

async fn mark_row(ctx: &Ctx, row: &InboxRow) -> Result<(), Failure> {
    let mut tx = ctx.store.begin().await?;
    crate::store::inbox::mark_processed(&mut tx, row.id, ctx.clock.now(), None).await?;
    tx.commit().await?;
    Ok(())
}

/// `/incident role <name> <@user>`: recorded (the holder, a key event with the change as
/// data, the notice in the outbox) in one unit of work; then the header shows it.
pub(super) async fn assign_role(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    role: String,
    to: UserId,
) -> Result<(), Failure> {
    let Some(record) = super::answer::incident_here(ctx, inv).await? else {
        return Ok(());
    };
    // A replay after a crash: the assignment is on record; only redo the header.
    if timeline::exists(ctx.store.db(), &row.dedupe_key).await? {
        return refresh_header(ctx, &record).await;
    }
    let roles = roles_of(ctx, &record).await?;
    let now = ctx.clock.now();
    let assigned = match roles::assign(
        &record.incident,
        &roles,
        &ctx.config.incident.roles,
        &role,
        &to,
        now,
    ) {
        Ok(a) => a,
        Err(e) => {
            super::answer::reply(ctx, inv, &render::problem(&e.to_string())).await;
            return Ok(());
        }
    };
    let entry = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: row.dedupe_key.clone(),
        kind: EntryKind::RoleAssigned,
        occurred_at: now,
        actor: Some(actor.as_str().to_string()),
        text: assigned.summary.clone(),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let detail = serde_json::to_value(&assigned.detail)
        .map_err(|e| Failure::Permanent(anyhow!("cannot serialise a change: {e}")))?;
    let notice = render::role_notice(&actor, &role, &to, record.incident.id);
    let notice = record
        .channel_id
        .clone()
        .map(|channel| super::announce::to_outbox(OutboxDestination::Channel(channel), notice));
    let refusal = Refusal {
        response_url: inv.response_url.clone(),
        text: "the role is recorded, but its notice could not be posted".to_string(),
    };
    let mut tx = ctx.store.begin().await?;
    if timeline::insert_with_data(&mut tx, &entry, Some(&detail), now).await? {
        people::set_role(&mut tx, record.incident.id, &role, &to, now).await?;
        if let Some(notice) = &notice {
            outbox::enqueue_answerable(&mut tx, notice, Some(&refusal), now).await?;
        }
    }
    tx.commit().await?;
    ctx.kick_timers();
    refresh_header(ctx, &record).await?;
    learn_names(ctx, &[to.as_str()]).await;
    Ok(())
}

/// Keep the pinned header in step with the database.
pub(crate) async fn refresh_header(ctx: &Ctx, record: &IncidentRecord) -> Result<(), Failure> {
    if let (Some(channel), Some(ts)) = (&record.channel_id, &record.header_ts) {
        let roles = super::people::roles_of(ctx, record).await?;
        ctx.web
            .update(
                channel,
                ts,
                &render::header(record, &roles, ctx.clock.now()),
            )
            .await?;
    }
    Ok(())
}
