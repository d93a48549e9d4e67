//! Who is who for an incident ([`crate::domain::authorization`] decides what they may do):
//! the incident record and the config first, then the store, then Slack user groups, and
//! only as far as needed to decide. Every `/incident` command passes through
//! [`Service::command_permitted`]; the AWS Support case's buttons and form are checked where
//! the case is handled (`support.rs`).

use super::worker::Failure;
use super::Service;
use crate::domain::authorization::{allowed, who_may, Action, Role, RoleSet};
use crate::domain::IncidentRecord;
use crate::domain::{Command, UserId};
use crate::slack::inbound::CommandInvocation;
use crate::slack::render_support;
use crate::slack::web::Outgoing;
use crate::store::inbox::InboxRow;
use crate::store::{alarms, incidents, timeline};

impl Service {
    /// The roles of `user` in this incident that decide `action`: lookups stop once a role
    /// allows it, and roles that cannot allow it are not looked up (so an open action costs
    /// nothing and Slack is asked about user groups only when nothing cheaper settles it).
    pub(crate) async fn roles(
        &self,
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
        if self.config.slack.responders.contains(user) {
            roles.insert(Role::Responder);
        }
        // The alarm route's on-call group is invited as responders, so it counts as them.
        let mut route_group = None;
        if needed(&roles, Role::Responder) {
            if let Some(name) = alarms::route_of(self.store.db(), i.id).await? {
                let routes = &self.config.alarms.routes;
                let route = routes.by_name(&name).unwrap_or(&routes.default);
                if route.responders.contains(user) {
                    roles.insert(Role::Responder);
                }
                route_group = route.usergroup.as_deref();
            }
        }
        if needed(&roles, Role::Participant)
            && incidents::is_participant(self.store.db(), i.id, user.as_str()).await?
        {
            roles.insert(Role::Participant);
        }
        // Slack last: one usergroups.users.list per group, and a group named twice is
        // asked once.
        let groups = [
            (
                Role::IncidentLead,
                "[slack] incident_leads",
                self.config.slack.incident_leads.as_deref(),
            ),
            (
                Role::SupportEscalator,
                "[escalation] support_usergroup",
                self.config.escalation.support_usergroup.as_deref(),
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
                    let m = self.in_usergroup(key, group, user).await?;
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

    /// Whether `user` may do `action` in this incident.
    pub(crate) async fn authorize(
        &self,
        action: Action,
        record: &IncidentRecord,
        user: &UserId,
    ) -> Result<bool, Failure> {
        // An incident nobody leads (an alarm opened it) must not be stuck when no responder or
        // incident lead is configured: anyone may take the lead.
        if action == Action::Lead && record.incident.lead.is_none() {
            return Ok(true);
        }
        let roles = self.roles(action, record, user).await?;
        Ok(allowed(action, &roles))
    }

    /// Membership of a Slack user group. A group Slack will not list (deleted, missing
    /// scope) has no known members: nobody gains a role from it, and the operator is told.
    async fn in_usergroup(&self, key: &str, group: &str, user: &UserId) -> Result<bool, Failure> {
        match self.web.usergroup_members(group).await {
            Ok(members) => Ok(members.iter().any(|m| m == user.as_str())),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, usergroup = %group, "cannot list {key}; its members are not recognised");
                Ok(false)
            }
        }
    }

    /// The gate every `/incident` command passes before it runs: `false` when the caller
    /// may not, after telling them privately who may. Nothing is recorded for a refusal.
    pub(super) async fn command_permitted(
        &self,
        row: &InboxRow,
        inv: &CommandInvocation,
        actor: &UserId,
        cmd: &Command,
    ) -> Result<bool, Failure> {
        if allowed(Action::of(cmd, None), &RoleSet::anyone()) {
            return Ok(true);
        }
        // Outside an incident channel the command itself explains that.
        let Some(record) = incidents::by_channel(self.store.db(), &inv.channel).await? else {
            return Ok(true);
        };
        let action = Action::of(cmd, Some(record.incident.status));
        // A replay of a change already recorded was allowed when it was made; the caller
        // may since have handed the lead to someone else.
        if timeline::exists(self.store.db(), &row.dedupe_key).await?
            || self.authorize(action, &record, actor).await?
        {
            return Ok(true);
        }
        tracing::info!(incident = %record.incident.id, user = %actor.as_str(), action = action.name(), "refused");
        self.reply(inv, &self.refusal(action)).await;
        Ok(false)
    }

    /// Who may do `action`, leaving out user groups that are not configured.
    pub(super) fn refusal(&self, action: Action) -> Outgoing {
        let leads = self.config.slack.incident_leads.as_deref();
        let support = self.config.escalation.support_usergroup.as_deref();
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
}
