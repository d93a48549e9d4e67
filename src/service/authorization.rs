//! The checkpoint: every request a person makes (a slash command, a click on one of
//! warroom's buttons, a submitted form) is mapped here to its row of the authorization
//! table ([`crate::domain::authorization`]) and checked before anything happens. A refusal
//! is told to the caller alone and changes nothing, not even the timeline.
//!
//! Roles are looked up from the incident record and the config first, then the store, then
//! Slack user groups, and only as far as needed to decide.

use anyhow::anyhow;

use super::failure::Failure;
use super::Ctx;
use crate::domain::authorization::{allowed, who_may, Action, Role, RoleSet};
use crate::domain::privacy::Viewer;
use crate::domain::IncidentRecord;
use crate::domain::{ChannelId, Command, IncidentId, UserId};
use crate::slack::inbound::{ActionClick, CommandInvocation, ViewSubmission};
use crate::slack::render_support;
use crate::slack::web::Outgoing;
use crate::store::inbox::InboxRow;
use crate::store::{alarms, incidents, timeline};

/// A request as it arrived, before the checkpoint.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ask<'a> {
    /// A parsed `/incident` command.
    Command(&'a CommandInvocation, &'a Command),
    /// A click on a button of one of warroom's messages.
    Click(&'a ActionClick),
    /// A submitted form.
    Form(&'a ViewSubmission),
}

/// A request the checkpoint let through.
#[derive(Debug, Clone)]
pub(super) struct Admitted {
    pub action: Action,
    pub actor: Actor,
    /// The incident the request is about: the channel's, or the one a form was opened for.
    /// `None` outside an incident (the handler explains, or there is nothing to do).
    pub record: Option<IncidentRecord>,
}

/// The person behind a request the checkpoint admitted. Only [`checkpoint`] makes
/// one (its field is private to this module), and every handler of a person's request
/// takes one: a handler cannot be reached around the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Actor(UserId);

impl Actor {
    /// The admitted person's user id.
    pub fn user(&self) -> &UserId {
        &self.0
    }
}

impl std::ops::Deref for Actor {
    type Target = UserId;
    fn deref(&self) -> &UserId {
        &self.0
    }
}

/// Where a private answer to the caller goes.
#[derive(Debug, Clone, Copy)]
enum ReplyTo<'a> {
    /// The command's or the click's `response_url`.
    Url(&'a str),
    /// A form has none: an ephemeral message in the incident channel.
    Channel,
}

/// Who `user` is to private incidents, on a surface outside their channels: the one
/// place that decides it (`domain::privacy` decides what they then see).
/// `member_of`: the private incidents whose channel `user` is known to be in (from
/// Slack's `conversations.members`, or the channel a command was run in).
pub(crate) fn viewer(
    ctx: &Ctx,
    user: &str,
    member_of: impl IntoIterator<Item = IncidentId>,
) -> Viewer {
    let private_viewer = ctx
        .config
        .incident
        .private_viewers
        .iter()
        .any(|v| v.as_str() == user);
    Viewer::person(private_viewer, member_of)
}

/// [`viewer`] for App Home: membership of each private incident's channel
/// among `records` asked of Slack (`conversations.members`). A channel Slack will not
/// list (archived and gone, the bot removed, a failure) counts as not a member: the
/// redacted line, never the details.
pub(crate) async fn home_viewer(ctx: &Ctx, user: &str, records: &[&IncidentRecord]) -> Viewer {
    let mut member_of = Vec::new();
    if !viewer(ctx, user, []).sees_all_private() {
        for r in records.iter().filter(|r| r.private) {
            let Some(channel) = r.channel_id.as_ref() else {
                continue;
            };
            match ctx.web.channel_members(channel).await {
                Ok(members) if members.iter().any(|m| m == user) => member_of.push(r.incident.id),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(incident = %r.incident.id, error = %e, "cannot list a private channel's members; showing the redacted line")
                }
            }
        }
    }
    viewer(ctx, user, member_of)
}

/// The one checkpoint. Maps the request to its action, finds the incident it is about
/// and the caller's roles there, and returns `None` when the caller may not (after
/// telling them who may) or when the request asks for nothing (a link button, a control
/// this version does not know).
pub(super) async fn checkpoint(
    ctx: &Ctx,
    row: &InboxRow,
    ask: Ask<'_>,
) -> Result<Option<Admitted>, Failure> {
    let (action, user, record, reply) = match ask {
        Ask::Command(inv, cmd) => {
            let record = incidents::by_channel(ctx.store.db(), &inv.channel).await?;
            let status = record.as_ref().map(|r| r.incident.status);
            let action = Action::of(cmd, status);
            (action, &inv.user, record, ReplyTo::Url(&inv.response_url))
        }
        Ask::Click(click) => {
            let Some(action) = Action::for_button(&click.action_id) else {
                // Link buttons open a browser; unknown ones come from another version.
                tracing::debug!(action_id = %click.action_id, "a click that asks for nothing");
                return Ok(None);
            };
            let record = incidents::by_channel(ctx.store.db(), &click.channel).await?;
            (
                action,
                &click.user,
                record,
                ReplyTo::Url(&click.response_url),
            )
        }
        Ask::Form(form) => {
            let Some(action) = Action::for_form(&form.callback_id) else {
                tracing::info!(callback_id = %form.callback_id, "ignoring an unknown form");
                return Ok(None);
            };
            let record = match form_incident(form) {
                Some(id) => Some(incidents::get(ctx.store.db(), id).await?),
                None => {
                    return Err(Failure::Permanent(anyhow!(
                        "a {} form without its incident",
                        action.name()
                    )))
                }
            };
            (action, &form.user, record, ReplyTo::Channel)
        }
    };
    let actor = UserId::parse(user).map_err(|e| {
        Failure::Permanent(anyhow!("{} from an unusable user id: {e}", action.name()))
    })?;
    if permitted(ctx, action, record.as_ref(), &actor, &row.dedupe_key).await? {
        return Ok(Some(Admitted {
            action,
            actor: Actor(actor),
            record,
        }));
    }
    let incident = record.as_ref().map(|r| r.incident.id);
    tracing::info!(incident = ?incident.map(|i| i.0), user = %actor.as_str(), action = action.name(), "refused");
    let refusal = refusal(ctx, action);
    match (reply, record.as_ref().and_then(|r| r.channel_id.as_ref())) {
        (ReplyTo::Url(url), _) => {
            if let Err(e) = ctx.web.respond_ephemeral(url, &refusal).await {
                tracing::warn!(error = %e, "could not tell the caller they may not");
            }
        }
        (ReplyTo::Channel, Some(channel)) => {
            if let Err(e) = ctx
                .web
                .post_ephemeral(channel, actor.as_str(), &refusal)
                .await
            {
                tracing::warn!(error = %e, "could not tell the caller they may not");
            }
        }
        (ReplyTo::Channel, None) => {}
    }
    Ok(None)
}

/// Whether `actor` may do `action` in this incident.
async fn permitted(
    ctx: &Ctx,
    action: Action,
    record: Option<&IncidentRecord>,
    actor: &UserId,
    key: &str,
) -> Result<bool, Failure> {
    if action.open_to_anyone() {
        return Ok(true);
    }
    // A drill that opens a real AWS Support case is about no incident yet: the one role
    // that allows it, the AWS Support user group, is asked of Slack directly. A replayed
    // request whose drill exists was allowed when it was made.
    if action == Action::DrillRealCase {
        if crate::store::drills::by_source(ctx.store.db(), key)
            .await?
            .is_some()
        {
            return Ok(true);
        }
        return match ctx.config.escalation.support_usergroup.as_deref() {
            Some(group) => in_usergroup(ctx, "[escalation] support_usergroup", group, actor).await,
            None => Ok(false),
        };
    }
    // Outside an incident there are no roles to hold; the handler says where the
    // request works.
    let Some(record) = record else {
        return Ok(true);
    };
    // A replay of a request already recorded was allowed when it was made; the caller
    // may since have handed the lead to someone else.
    if timeline::exists(ctx.store.db(), key).await? {
        return Ok(true);
    }
    let roles = roles(ctx, action, record, actor).await?;
    Ok(allowed(action, &roles))
}

/// The roles of `user` in this incident that decide `action`: lookups stop once a role
/// allows it, and roles that cannot allow it are not looked up (so Slack is asked about
/// user groups only when nothing cheaper settles it).
pub(crate) async fn roles(
    ctx: &Ctx,
    action: Action,
    record: &IncidentRecord,
    user: &UserId,
) -> Result<RoleSet, Failure> {
    let may = who_may(action);
    let needed = |roles: &RoleSet, role: Role| may.contains(&role) && !allowed(action, roles);
    let i = &record.incident;
    let mut roles = RoleSet::anyone();
    if i.lead.as_ref() == Some(user) {
        roles.insert(Role::Lead);
    }
    if &i.declared_by == user {
        roles.insert(Role::Declarer);
    }
    if ctx.config.slack.responders.contains(user) {
        roles.insert(Role::Responder);
    }
    // The alarm route's on-call group is invited as responders, so it counts as them.
    let mut route_group = None;
    if needed(&roles, Role::Responder) {
        let route_name = match alarms::route_of(ctx.store.db(), i.id).await? {
            Some(name) => Some(name),
            // A drill rehearses its route: the route's people are its responders.
            None => crate::store::drills::get(ctx.store.db(), i.id)
                .await?
                .map(|d| d.route),
        };
        if let Some(name) = route_name {
            let routes = &ctx.config.alarms.routes;
            let route = routes.by_name(&name).unwrap_or(&routes.default);
            if route.responders.contains(user) {
                roles.insert(Role::Responder);
            }
            route_group = route.usergroup.as_deref();
        }
    }
    if needed(&roles, Role::Participant)
        && incidents::is_participant(ctx.store.db(), i.id, user.as_str()).await?
    {
        roles.insert(Role::Participant);
    }
    // Slack last: one usergroups.users.list per group, and a group named twice is
    // asked once.
    let groups = [
        (
            Role::IncidentLead,
            "[slack] incident_leads",
            ctx.config.slack.incident_leads.as_deref(),
        ),
        (
            Role::SupportEscalator,
            "[escalation] support_usergroup",
            ctx.config.escalation.support_usergroup.as_deref(),
        ),
        (Role::Responder, "the alarm route's usergroup", route_group),
    ];
    let mut asked: Vec<(&str, bool)> = Vec::new();
    for (role, key, group) in groups {
        let Some(group) = group else { continue };
        if !needed(&roles, role) {
            continue;
        }
        let member = match asked.iter().find(|(g, _)| *g == group) {
            Some((_, m)) => *m,
            None => {
                let m = in_usergroup(ctx, key, group, user).await?;
                asked.push((group, m));
                m
            }
        };
        if member {
            roles.insert(role);
        }
    }
    Ok(roles)
}

/// Membership of a Slack user group. A group Slack will not list (deleted, missing
/// scope) has no known members: nobody gains a role from it, and the operator is told.
async fn in_usergroup(ctx: &Ctx, key: &str, group: &str, user: &UserId) -> Result<bool, Failure> {
    match ctx.web.usergroup_members(group).await {
        Ok(members) => Ok(members.iter().any(|m| m == user.as_str())),
        Err(e) if e.is_transient() => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, usergroup = %group, "cannot list {key}; its members are not recognised");
            Ok(false)
        }
    }
}

/// Who may do `action`, leaving out user groups that are not configured.
fn refusal(ctx: &Ctx, action: Action) -> Outgoing {
    let leads = ctx.config.slack.incident_leads.as_deref();
    let support = ctx.config.escalation.support_usergroup.as_deref();
    let who: Vec<Role> = who_may(action)
        .iter()
        .copied()
        .filter(|r| match r {
            Role::IncidentLead => leads.is_some(),
            Role::SupportEscalator => support.is_some(),
            _ => true,
        })
        .collect();
    render_support::refusal(action.describe(), &who, leads, support)
}

/// The incident channel of the incident a form was opened for, to answer its submitter.
pub(super) async fn form_channel(ctx: &Ctx, form: &ViewSubmission) -> Option<ChannelId> {
    let id = form_incident(form)?;
    incidents::get(ctx.store.db(), id).await.ok()?.channel_id
}

/// The incident a form was opened for: warroom puts it in the form's `private_metadata`,
/// and Slack hands it back unchanged.
fn form_incident(form: &ViewSubmission) -> Option<IncidentId> {
    serde_json::from_str::<serde_json::Value>(&form.private_metadata)
        .ok()
        .and_then(|m| m.get("incident")?.as_i64())
        .map(IncidentId)
}
