//! Opening a war room: channel, members, pinned header, the type's checklist and the
//! escalation clocks. Each step is recorded as it completes, so a replay after a crash
//! resumes where it stopped instead of creating a second channel or header.

use anyhow::anyhow;

use super::failure::Failure;
use super::Ctx;
use crate::domain::channel_name::{channel_name, private_channel_name, with_suffix};
use crate::domain::{ChannelId, IncidentId, IncidentRecord, UserId};
use crate::slack::render;
use crate::store::incidents::{self, SetUp};
use crate::store::StoreError;

/// Suffixes tried on `name_taken` before giving up.
const MAX_NAME_ATTEMPTS: u32 = 50;

/// Channel, members, pinned header: each step recorded, so a replay resumes where a crash
/// stopped instead of starting over. `extra` are invited on top of `[slack] responders`
/// and the declarer (an alarm route's responders and user group).
pub(super) async fn open_war_room(
    ctx: &Ctx,
    record: &mut IncidentRecord,
    declarer: &UserId,
    extra: &[String],
) -> Result<(), Failure> {
    let id = record.incident.id;
    // The header is posted only once the members are recorded invited: before that, no
    // earlier attempt can have posted it.
    let header_may_be_there = record.members_invited;
    let channel = match record.channel_id.clone() {
        Some(c) => c,
        None => {
            let c = create_channel(ctx, record).await?;
            set_up(ctx, id, SetUp::Channel(&c)).await?;
            record.channel_id = Some(c.clone());
            c
        }
    };
    if !record.members_invited {
        let mut users: Vec<String> = ctx
            .config
            .slack
            .responders
            .iter()
            .chain(std::iter::once(declarer))
            .map(|u| u.as_str().to_string())
            .chain(extra.iter().cloned())
            .filter(|u| *u != ctx.bot.user_id)
            .collect();
        users.sort();
        users.dedup();
        ctx.web.invite(&channel, &users).await?;
        set_up(ctx, id, SetUp::MembersInvited).await?;
        record.members_invited = true;
    }
    let ts = match record.header_ts.clone() {
        Some(ts) => ts,
        None => {
            let roles = super::people::roles_of(ctx, record).await?;
            let header = render::header(record, &roles, ctx.clock.now());
            let ts = super::announce::post_in_war_room(ctx, &channel, &header, header_may_be_there)
                .await?;
            set_up(ctx, id, SetUp::Header(&ts)).await?;
            record.header_ts = Some(ts.clone());
            ts
        }
    };
    if !record.header_pinned {
        ctx.web.pin(&channel, &ts).await?;
        set_up(ctx, id, SetUp::HeaderPinned).await?;
        record.header_pinned = true;
    }
    // The type's checklist follows the header, through the outbox.
    super::checklist::queue_checklist(ctx, record).await?;
    // The escalation clocks start with the war room.
    super::nudges::arm_nudges(ctx, id).await
}

/// `conversations.create` with Slack's naming rules; on `name_taken`, adopt the channel if
/// it is the one this incident created before a crash, else try `-2`, `-3`, …
async fn create_channel(ctx: &Ctx, record: &IncidentRecord) -> Result<ChannelId, Failure> {
    let id = record.incident.id;
    let base = if id.is_drill() {
        // `drill-YYYYMMDD-<route>` as first chosen (from the route, not the title).
        record.channel_name.clone()
    } else if record.private {
        // Never the title: `inc-YYYYMMDD-private`.
        private_channel_name(record.incident.opened_at)
    } else {
        channel_name(record.incident.opened_at, &record.incident.title)
    };
    let mut name = record.channel_name.clone();
    let mut attempt = 1;
    loop {
        match ctx.web.create_channel(&name, record.private).await {
            Ok(channel) => return Ok(channel),
            Err(e) if e.code() == Some("name_taken") => {
                if let Some(found) = ctx.web.find_channel(&name, record.private).await? {
                    let ours = found.creator.as_deref() == Some(ctx.bot.user_id.as_str());
                    let taken = incidents::by_channel(ctx.store.db(), &found.id).await?;
                    if ours && taken.is_none() {
                        tracing::info!(incident = %id, channel = %found.id, "adopting the channel created before a restart");
                        return Ok(found.id);
                    }
                }
                attempt += 1;
                if attempt > MAX_NAME_ATTEMPTS {
                    return Err(Failure::Permanent(anyhow!(
                        "every name from {base} to {name} is taken"
                    )));
                }
                name = with_suffix(&base, attempt);
                set_up(ctx, id, SetUp::ChannelName(&name)).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Record a step of setting up a war room.
async fn set_up(ctx: &Ctx, id: IncidentId, step: SetUp<'_>) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin().await?;
    incidents::set_up(&mut tx, id, step).await?;
    tx.commit().await
}
