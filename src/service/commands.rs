//! Executing recorded `/incident` commands: declare (channel, invites, pinned header) and
//! the changes made inside an incident channel.

use anyhow::anyhow;

use super::authorization::Actor;
use super::authorization::Ask;
use super::worker::Failure;
use super::Service;
use crate::domain::channel_name::{channel_name, private_channel_name, with_suffix};
use crate::domain::command::{self, Command};
use crate::domain::incident::Change;
use crate::domain::privacy::update_goes_to_status_channel;
use crate::domain::time::backdate;
use crate::domain::OutboxDestination;
use crate::domain::{EntryKind, IncidentId, IncidentRecord, Severity, UserId};
use crate::slack::inbound::CommandInvocation;
use crate::slack::render;
use crate::slack::web::Outgoing;
use crate::store::inbox::InboxRow;
use crate::store::incidents::{self, NewIncident, SetUp};
use crate::store::outbox::{self, NewOutgoing, Refusal};
use crate::store::timeline::{self, NewEntry};
use crate::store::StoreError;

/// Suffixes tried on `name_taken` before giving up.
const MAX_NAME_ATTEMPTS: u32 = 50;

/// What a declare asks for, once parsed. `private` comes from `--private` today; an
/// incident type marked private sets it the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeclareAsk {
    pub title: String,
    pub severity: Severity,
    /// A private channel, and only the redacted line elsewhere (`domain::privacy`).
    pub private: bool,
}

impl Service {
    pub(super) async fn execute_command(
        &self,
        row: &InboxRow,
        inv: CommandInvocation,
    ) -> Result<(), Failure> {
        let cmd = match command::parse(&inv.text) {
            Ok(c) => c,
            Err(usage) => {
                self.reply(&inv, &render::usage_error(&usage)).await;
                return Ok(());
            }
        };
        // Who may do what is one table (`domain::authorization`), checked before anything runs.
        let Some(admitted) = self.checkpoint(row, Ask::Command(&inv, &cmd)).await? else {
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
                    Some(name) => match self.ctx.config.incident.incident_type(name) {
                        Some(t) => Some(t),
                        None => {
                            let usage = self.unknown_type(name);
                            self.reply(&inv, &render::usage_error(&usage)).await;
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
                self.declare(row, &inv, actor, ask, kind).await
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
                self.drill(row, &inv, actor, ask).await
            }
            Command::Status { status, note } => {
                self.change(row, &inv, actor, Change::Status { to: status, note })
                    .await
            }
            Command::Sev(s) => self.change(row, &inv, actor, Change::Severity(s)).await,
            Command::Lead(u) => self.change(row, &inv, actor, Change::Lead(u)).await,
            Command::Role { role, user } => self.assign_role(row, &inv, actor, role, user).await,
            Command::Resolve { note } => {
                self.change(row, &inv, actor, Change::Resolve { note })
                    .await
            }
            Command::Note { at, text } => self.note(row, &inv, actor, at, text).await,
            Command::Update { text } => self.stakeholder_update(row, &inv, actor, text).await,
            Command::Action { text, owner } => self.add_action(row, &inv, actor, text, owner).await,
            Command::ActionDone(n) => self.close_action(row, &inv, actor, n).await,
            Command::Postmortem => self.postmortem_command(&inv, actor).await,
            Command::Changes { lookback } => self.changes_command(row, &inv, actor, lookback).await,
            c @ (Command::Snooze(_)
            | Command::AwsInvolved(_)
            | Command::AwsStatus
            | Command::AwsReply { .. }
            | Command::EscalateAws { .. }) => self.escalation_command(row, &inv, actor, c).await,
            // Read-only commands are answered in the ack; nothing to do if one got here.
            Command::Timeline
            | Command::Catchup
            | Command::List
            | Command::Stats { .. }
            | Command::Help
            | Command::Actions => Ok(()),
        }
    }

    /// Tell the caller something, privately. Best effort: the command's effect stands.
    pub(super) async fn reply(&self, inv: &CommandInvocation, msg: &Outgoing) {
        // `warroom drill` records a command with nobody to answer: the CLI prints instead.
        if inv.response_url.is_empty() {
            return;
        }
        if let Err(e) = self.ctx.web.respond_ephemeral(&inv.response_url, msg).await {
            tracing::warn!(error = %e, "could not reply to the caller");
        }
    }

    /// The usage error for a `type:<name>` no `[[incident.types]]` has.
    pub(super) fn unknown_type(&self, name: &str) -> command::UsageError {
        let known: Vec<&str> = self
            .ctx
            .config
            .incident
            .types
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        command::unknown_type(name, &known)
    }

    async fn declare(
        &self,
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
        let mut tx = self.ctx.store.begin().await?;
        let (mut record, created) = incidents::create(&mut tx, &new, self.ctx.clock.now()).await?;
        if let (true, Some(t)) = (created, kind) {
            self.give_type(&mut tx, &mut record, t).await?;
        }
        tx.commit().await?;
        if created {
            tracing::info!(incident = %record.incident.id, incident_type = ?record.incident_type, "incident declared");
        }
        let extra = if record.members_invited {
            Vec::new()
        } else {
            self.type_invitees(&record).await?
        };
        self.open_war_room(&mut record, &actor, &extra)
            .await
            .map_err(|f| {
                f.for_caller(format!(
                    "incident {} is recorded, but its channel could not be set up",
                    record.incident.id
                ))
            })?;
        self.reply(inv, &render::declared_reply(&record)).await;
        Ok(())
    }

    /// Channel, members, pinned header: each step recorded, so a replay resumes where a crash
    /// stopped instead of starting over. `extra` are invited on top of `[slack] responders`
    /// and the declarer (an alarm route's responders and user group).
    pub(super) async fn open_war_room(
        &self,
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
                let c = self.create_channel(record).await?;
                self.set_up(id, SetUp::Channel(&c)).await?;
                record.channel_id = Some(c.clone());
                c
            }
        };
        if !record.members_invited {
            let mut users: Vec<String> = self
                .ctx
                .config
                .slack
                .responders
                .iter()
                .chain(std::iter::once(declarer))
                .map(|u| u.as_str().to_string())
                .chain(extra.iter().cloned())
                .filter(|u| *u != self.ctx.bot.user_id)
                .collect();
            users.sort();
            users.dedup();
            self.ctx.web.invite(&channel, &users).await?;
            self.set_up(id, SetUp::MembersInvited).await?;
            record.members_invited = true;
        }
        let ts = match record.header_ts.clone() {
            Some(ts) => ts,
            None => {
                let roles = self.roles_of(record).await?;
                let header = render::header(record, &roles, self.ctx.clock.now());
                let ts = self
                    .post_in_war_room(&channel, &header, header_may_be_there)
                    .await?;
                self.set_up(id, SetUp::Header(&ts)).await?;
                record.header_ts = Some(ts.clone());
                ts
            }
        };
        if !record.header_pinned {
            self.ctx.web.pin(&channel, &ts).await?;
            self.set_up(id, SetUp::HeaderPinned).await?;
            record.header_pinned = true;
        }
        // The type's checklist follows the header, through the outbox.
        self.queue_checklist(record).await?;
        // The escalation clocks start with the war room.
        self.arm_nudges(id).await
    }

    /// `conversations.create` with Slack's naming rules; on `name_taken`, adopt the channel if
    /// it is the one this incident created before a crash, else try `-2`, `-3`, …
    async fn create_channel(&self, record: &IncidentRecord) -> Result<String, Failure> {
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
            match self.ctx.web.create_channel(&name, record.private).await {
                Ok(channel) => return Ok(channel),
                Err(e) if e.code() == Some("name_taken") => {
                    if let Some(found) = self.ctx.web.find_channel(&name, record.private).await? {
                        let ours = found.creator.as_deref() == Some(self.ctx.bot.user_id.as_str());
                        let taken = incidents::by_channel(self.ctx.store.db(), &found.id).await?;
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
                    self.set_up(id, SetUp::ChannelName(&name)).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub(super) async fn incident_here(
        &self,
        inv: &CommandInvocation,
    ) -> Result<Option<IncidentRecord>, Failure> {
        let found = incidents::by_channel(self.ctx.store.db(), &inv.channel).await?;
        if found.is_none() {
            self.reply(
                inv,
                &render::problem(
                    "this command works inside an incident channel; run /incident list to find one",
                ),
            )
            .await;
        }
        Ok(found)
    }

    async fn change(
        &self,
        row: &InboxRow,
        inv: &CommandInvocation,
        actor: Actor,
        change: Change,
    ) -> Result<(), Failure> {
        let Some(record) = self.incident_here(inv).await? else {
            return Ok(());
        };
        let channel = record.channel_id.clone().unwrap_or_default();
        // A replay after a crash: the change is on record; only redo the header.
        if timeline::exists(self.ctx.store.db(), &row.dedupe_key).await? {
            return self.refresh_header(&record).await;
        }
        let now = self.ctx.clock.now();
        let applied = match record.incident.apply(&change, now) {
            Ok(a) => a,
            Err(e) => {
                self.reply(inv, &render::problem(&e.to_string())).await;
                return Ok(());
            }
        };
        // The notice goes into the outbox with the change, so a failed post is retried by
        // the scheduler (a replay of this event finds the change recorded and would not post
        // it). A notice Slack refuses for good (archived channel, bot removed) is explained
        // to the caller from there; the header and the status channel go on regardless.
        let notice = render::change_notice(&actor, &record.incident, &applied.incident, &change);
        let notice = NewOutgoing {
            destination: OutboxDestination::channel(channel),
            text: notice.text,
            blocks: notice.blocks.map(|b| b.to_string()),
        };
        let refusal = Refusal {
            response_url: inv.response_url.clone(),
            text: "the change is recorded, but its notice could not be posted".to_string(),
        };
        // Status and severity changes are told to the status channel too, the same way.
        let (b, a) = (&record.incident, &applied.incident);
        let for_status_channel = self
            .ctx
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
                NewOutgoing {
                    destination: OutboxDestination::from_stored(destination.clone()),
                    text: msg.text,
                    blocks: msg.blocks.map(|b| b.to_string()),
                }
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
        let mut tx = self.ctx.store.begin().await?;
        if timeline::insert_with_data(&mut tx, &entry, Some(&detail), now).await? {
            incidents::save(&mut tx, &applied.incident, now).await?;
            if !notice.destination.as_str().is_empty() {
                outbox::enqueue_answerable(&mut tx, &notice, Some(&refusal), now).await?;
            }
            if let Some(also) = &for_status_channel {
                outbox::enqueue(&mut tx, also, now).await?;
            }
            // A resolve schedules the channel's archive, a reopen cancels it.
            self.archive_on_change(&mut tx, b, a).await?;
            // A drill's scorecard goes with its resolve, once.
            if a.id.is_drill()
                && a.status == crate::domain::Status::Resolved
                && b.status != a.status
            {
                let after = IncidentRecord {
                    incident: a.clone(),
                    ..record.clone()
                };
                self.drill_scorecard(&mut tx, &after, a.resolved_at.unwrap_or(now))
                    .await?;
            }
        }
        tx.commit().await?;
        self.kick_timers();
        let updated = incidents::get(self.ctx.store.db(), record.incident.id).await?;
        self.refresh_header(&updated).await?;
        let a = &updated.incident;
        if a.status == crate::domain::Status::Resolved && b.status != a.status {
            self.offer_case_resolution(&updated).await?;
        }
        // A new severity moves the escalation deadline; a reopen restarts the clocks.
        self.arm_nudges(a.id).await
    }

    /// Record a step of setting up a war room.
    async fn set_up(&self, id: IncidentId, step: SetUp<'_>) -> Result<(), StoreError> {
        let mut tx = self.ctx.store.begin().await?;
        incidents::set_up(&mut tx, id, step).await?;
        tx.commit().await
    }

    /// Post to `[slack] status_channel` when one is configured. Best effort: the change
    /// itself is recorded and visible in the incident channel whatever happens here.
    pub(crate) async fn tell_status_channel(&self, msg: &Outgoing) {
        if let Some(channel) = &self.ctx.config.slack.status_channel {
            if let Err(e) = self.ctx.web.post(channel, msg).await {
                tracing::warn!(error = %e, "could not post to the status channel");
            }
        }
    }

    async fn stakeholder_update(
        &self,
        row: &InboxRow,
        inv: &CommandInvocation,
        actor: Actor,
        text: String,
    ) -> Result<(), Failure> {
        // Who may post one is checked before (`command_permitted`).
        let Some(record) = self.incident_here(inv).await? else {
            return Ok(());
        };
        let now = self.ctx.clock.now();
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
            self.channel_and_status(record.channel_id.as_ref(), &msg)
        } else {
            record
                .channel_id
                .iter()
                .cloned()
                .chain(
                    self.ctx
                        .config
                        .incident
                        .private_viewers
                        .iter()
                        .map(|u| u.as_str().to_string()),
                )
                .map(|destination| (destination, msg.clone()))
                .collect()
        };
        let refusal = (
            inv.response_url.as_str(),
            "the update is recorded, but it could not be posted",
        );
        self.record_and_announce(&entry, notices, Some(refusal), None)
            .await?;
        self.arm_nudges(record.incident.id).await
    }

    /// Keep the pinned header in step with the database.
    pub(crate) async fn refresh_header(&self, record: &IncidentRecord) -> Result<(), Failure> {
        if let (Some(channel), Some(ts)) = (&record.channel_id, &record.header_ts) {
            let roles = self.roles_of(record).await?;
            self.ctx
                .web
                .update(
                    channel,
                    ts,
                    &render::header(record, &roles, self.ctx.clock.now()),
                )
                .await?;
        }
        Ok(())
    }

    async fn note(
        &self,
        row: &InboxRow,
        inv: &CommandInvocation,
        actor: Actor,
        at: Option<chrono::NaiveTime>,
        text: String,
    ) -> Result<(), Failure> {
        let Some(record) = self.incident_here(inv).await? else {
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
            .map(|c| (c.clone(), notice.clone()))
            .collect();
        let refusal = (
            inv.response_url.as_str(),
            "the note is recorded, but its notice could not be posted",
        );
        self.record_and_announce(&entry, notices, Some(refusal), None)
            .await?;
        Ok(())
    }
}
