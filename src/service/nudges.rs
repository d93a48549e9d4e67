//! The nudge clocks: arming them when facts change, firing them from the scheduler, and
//! the answers people give (snooze, "AWS is / is not involved").
//!
//! A clock is a timer row per incident, kind and due time. When one fires, the policy is
//! asked again with the current facts ([`crate::domain::escalation::next_due`]): a nudge is
//! posted only if it is still due, and the next look is scheduled in the same transaction,
//! so a restart neither loses a nudge nor posts one twice.

use chrono::{DateTime, Duration, Utc};

use super::worker::Failure;
use super::Service;
use crate::domain::escalation::{self as policy, Facts, NudgeKind, Policy};
use crate::domain::IncidentRecord;
use crate::domain::OutboxDestination;
use crate::domain::{EntryKind, IncidentId, UserId};
use crate::slack::inbound::ClickedMessage;
use crate::slack::render_support as render;
use crate::slack::web::Outgoing;
use crate::store::escalation::{self, parse_nudge_payload, NudgeAnswer};
use crate::store::outbox::{self, NewOutgoing};
use crate::store::timeline::{self, NewEntry};
use crate::store::timers::{self, Timer};
use crate::store::{alarms, inbox, incidents, StoreError};

/// Who asked for something (a command, a button or a modal), and where to answer them.
#[derive(Debug, Clone)]
pub(super) struct Request<'a> {
    /// The inbox key: the idempotency key of whatever the request records.
    pub key: &'a str,
    pub inbox_id: i64,
    /// Admitted by the checkpoint: a `Request` cannot be made for anyone else.
    pub actor: super::authorization::Actor,
    pub at: DateTime<Utc>,
    /// Where a private answer goes (a command's or a click's response_url); `None` for
    /// form submissions, which are answered in the channel.
    pub response_url: Option<&'a str>,
    /// The incident channel, where a request without a `response_url` is answered (an
    /// ephemeral message only the requester sees).
    pub channel: Option<&'a str>,
    /// The prompt a clicked button was on, to redraw without its buttons once answered.
    pub clicked: Option<&'a ClickedMessage>,
}

impl Service {
    /// The `[escalation]` knobs as the policy wants them.
    pub(crate) fn escalation_policy(&self) -> Policy {
        let e = &self.ctx.config.escalation;
        let d = |s: std::time::Duration| Duration::from_std(s).unwrap_or(Duration::MAX);
        Policy {
            support_after: crate::domain::Severity::ALL
                .into_iter()
                .map(|s| (s, d(e.support_after(s))))
                .collect(),
            renudge_every: d(e.renudge_every),
            update_every: e.update_every.map(d),
            response_targets: crate::domain::support::SupportSeverity::ALL
                .into_iter()
                .map(|s| (s, d(e.response_target(s))))
                .collect(),
        }
    }

    /// Schedule a look at every clock of `incident` for its next due time. Idempotent; call
    /// it whenever a fact changes (declare, severity, snooze, answers, a case, an update).
    pub(crate) async fn arm_nudges(&self, incident: IncidentId) -> Result<(), Failure> {
        let facts = escalation::facts(self.ctx.store.db(), incident).await?;
        let policy = self.escalation_policy();
        let mut scheduled = false;
        let mut tx = self.ctx.store.begin().await?;
        for kind in NudgeKind::ALL {
            if let Some(due) = policy::next_due(&policy, &facts, kind) {
                scheduled |= escalation::schedule_nudge(&mut tx, incident, kind, due).await?;
            }
        }
        tx.commit().await?;
        if scheduled {
            self.kick_timers();
        }
        Ok(())
    }

    /// At start: arm every open incident's clocks (covers incidents from before an upgrade
    /// and config changes such as a shorter `aws_support_after`).
    pub async fn arm_all_nudges(&self) -> anyhow::Result<()> {
        for id in incidents::open_ids(self.ctx.store.db()).await? {
            self.arm_nudges(id)
                .await
                .map_err(|e| anyhow::anyhow!("arming nudges of incident {id}: {e}"))?;
        }
        Ok(())
    }

    /// A nudge timer is due: post the nudge if the facts still call for it. Claiming the
    /// timer, the nudge's timeline entry, its message (outbox) and the next look are one
    /// unit of work, so a restart neither loses a nudge nor posts one twice.
    pub(crate) async fn fire_nudge(&self, timer: &Timer) -> Result<(), Failure> {
        let now = self.ctx.clock.now();
        let Some((incident, kind)) = parse_nudge_payload(&timer.payload) else {
            tracing::warn!(key = %timer.key, "unreadable nudge timer; dropping it");
            let mut tx = self.ctx.store.begin().await?;
            timers::claim(&mut tx, timer.id, now).await?;
            tx.commit().await?;
            return Ok(());
        };
        let policy = self.escalation_policy();
        let mut facts = escalation::facts(self.ctx.store.db(), incident).await?;
        let record = incidents::get(self.ctx.store.db(), incident).await?;
        let nudge = match (
            &record.channel_id,
            policy::is_due(&policy, &facts, kind, now),
        ) {
            (Some(channel), true) => {
                let message = self
                    .nudge_message(&record, &facts, kind, &policy, now)
                    .await?;
                facts.last_nudge.insert(kind, now);
                let entry = NewEntry {
                    incident_id: incident,
                    dedupe_key: format!("nudge:{}", timer.key),
                    kind: EntryKind::Nudge,
                    occurred_at: now,
                    actor: None,
                    text: format!("warroom nudged: {}", render::nudge_label(kind)),
                    slack_ts: None,
                    thread_ts: None,
                    key_event: true,
                };
                let message = NewOutgoing {
                    destination: OutboxDestination::channel(channel.clone()),
                    text: message.text,
                    blocks: message.blocks.map(|b| b.to_string()),
                };
                Some((entry, message))
            }
            _ => None,
        };
        let next = match (&nudge, &record.channel_id) {
            (Some(_), _) => policy::next_due(&policy, &facts, kind),
            // The war room is still being set up: look again shortly.
            (None, None) if policy::is_due(&policy, &facts, kind, now) => {
                Some(now + Duration::minutes(1))
            }
            (None, _) => policy::next_due(&policy, &facts, kind).filter(|d| *d > now),
        };
        let mut tx = self.ctx.store.begin().await?;
        if !timers::claim(&mut tx, timer.id, now).await? {
            tx.rollback().await?;
            return Ok(()); // fired already (a replay): nothing twice
        }
        if let Some((entry, message)) = &nudge {
            timeline::insert(&mut tx, entry, now).await?;
            escalation::set_last_nudge(&mut tx, incident, kind, now).await?;
            outbox::enqueue_for_timer(&mut tx, timer.id, message, now).await?;
        }
        if let Some(due) = next {
            escalation::schedule_nudge(&mut tx, incident, kind, due).await?;
        }
        tx.commit().await?;
        if nudge.is_some() {
            tracing::info!(incident = %incident, kind = %kind, "nudged");
            self.ctx.metrics.nudge_fired(kind.as_str());
        }
        Ok(())
    }

    async fn nudge_message(
        &self,
        record: &IncidentRecord,
        facts: &Facts,
        kind: NudgeKind,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Outgoing, Failure> {
        let people = self.nudge_people(record).await?;
        Ok(match kind {
            NudgeKind::OpenCase => render::open_case_nudge(
                &record.incident,
                &people,
                policy.support_after(record.incident.severity),
                self.ctx.config.escalation.support_api,
                now,
            ),
            NudgeKind::AwsQuiet => {
                let case = escalation::latest_case(self.ctx.store.db(), record.incident.id).await?;
                match (case, facts.case.as_ref().and_then(|c| c.awaiting_aws_since)) {
                    (Some(case), Some(since)) => render::aws_quiet_nudge(
                        &case,
                        &people,
                        since,
                        policy.response_target(case.severity),
                        now,
                    ),
                    _ => Outgoing::text("AWS Support has been quiet on this incident's case."),
                }
            }
            NudgeKind::StaleUpdate => render::stale_update_nudge(
                &people,
                facts.last_update_at.unwrap_or(record.incident.opened_at),
                facts.last_update_at.is_some(),
                now,
            ),
        })
    }

    /// Nudges mention the lead; without one, the responders (configured and of the alarm
    /// route) and whoever declared (unless an alarm did).
    async fn nudge_people(&self, record: &IncidentRecord) -> Result<Vec<UserId>, Failure> {
        if let Some(lead) = &record.incident.lead {
            return Ok(vec![lead.clone()]);
        }
        let mut people = self.ctx.config.slack.responders.clone();
        if let Some(route) = alarms::route_of(self.ctx.store.db(), record.incident.id).await? {
            let routes = &self.ctx.config.alarms.routes;
            if let Some(r) = routes.by_name(&route).or(Some(&routes.default)) {
                people.extend(r.responders.iter().cloned());
            }
        }
        people.push(record.incident.declared_by.clone());
        people.retain(|u| u.as_str() != self.ctx.bot.user_id);
        let mut seen = std::collections::HashSet::new();
        people.retain(|u| seen.insert(u.clone()));
        Ok(people)
    }

    /// `/incident snooze <duration>` and the Snooze button.
    pub(super) async fn snooze(
        &self,
        req: &Request<'_>,
        record: &IncidentRecord,
        duration: Duration,
    ) -> Result<(), Failure> {
        let until = self.ctx.clock.now() + duration;
        let text = format!(
            "snoozed nudges for {} (until {} UTC)",
            crate::domain::time::format_duration(duration),
            until.format("%H:%M")
        );
        let notice = render::snoozed(&req.actor, until);
        let answer = NudgeAnswer::SnoozedUntil(until);
        self.answer_nudges(req, record, answer, EntryKind::Snoozed, text, notice)
            .await
    }

    /// `/incident aws yes|no` and the "Not an AWS issue" button.
    pub(super) async fn set_involvement(
        &self,
        req: &Request<'_>,
        record: &IncidentRecord,
        involved: bool,
    ) -> Result<(), Failure> {
        let text = if involved {
            "said AWS is involved"
        } else {
            "said this is not an AWS issue"
        };
        let after = self
            .escalation_policy()
            .support_after(record.incident.severity);
        let notice = render::involvement(&req.actor, involved, after);
        let answer = NudgeAnswer::AwsInvolved(involved);
        self.answer_nudges(
            req,
            record,
            answer,
            EntryKind::AwsInvolvement,
            text.into(),
            notice,
        )
        .await
    }

    /// Record an answer with its timeline entry and channel notice (once, whatever the
    /// replays), then re-arm the clocks it changes.
    async fn answer_nudges(
        &self,
        req: &Request<'_>,
        record: &IncidentRecord,
        answer: NudgeAnswer,
        kind: EntryKind,
        text: String,
        notice: Outgoing,
    ) -> Result<(), Failure> {
        let entry = NewEntry {
            incident_id: record.incident.id,
            dedupe_key: req.key.to_string(),
            kind,
            occurred_at: req.at,
            actor: Some(req.actor.as_str().to_string()),
            text,
            slack_ts: None,
            thread_ts: None,
            key_event: true,
        };
        let answered = req
            .clicked
            .zip(req.response_url)
            .map(|(prompt, url)| (url, render::answered_prompt(prompt, &notice)));
        let notice = self.notice_in(record, notice);
        if self
            .record_answer(
                record.incident.id,
                answer,
                &entry,
                notice.as_ref(),
                req.inbox_id,
            )
            .await?
        {
            self.kick_timers();
            // Best effort: the answer is recorded and announced whatever happens here.
            if let Some((url, prompt)) = answered {
                if let Err(e) = self.ctx.web.replace_clicked(url, &prompt).await {
                    tracing::warn!(error = %e, "could not take the buttons off an answered nudge");
                }
            }
        }
        self.arm_nudges(record.incident.id).await
    }

    /// Record an answer to the nudges with its timeline entry and its channel notice
    /// (outbox), marking the inbox row processed, in one unit of work. Returns whether it
    /// was new (a replay changes nothing).
    async fn record_answer(
        &self,
        incident: IncidentId,
        answer: NudgeAnswer,
        entry: &NewEntry,
        notice: Option<&NewOutgoing>,
        inbox_id: i64,
    ) -> Result<bool, StoreError> {
        let now = self.ctx.clock.now();
        let mut tx = self.ctx.store.begin().await?;
        let new = timeline::insert(&mut tx, entry, now).await?;
        if new {
            escalation::set_answer(&mut tx, incident, answer).await?;
            if let Some(notice) = notice {
                outbox::enqueue(&mut tx, notice, now).await?;
            }
        }
        inbox::mark_processed(&mut tx, inbox_id, now, None).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// A message for the incident's channel, for the outbox (none before the channel exists).
    pub(super) fn notice_in(&self, record: &IncidentRecord, msg: Outgoing) -> Option<NewOutgoing> {
        record.channel_id.as_ref().map(|c| NewOutgoing {
            destination: OutboxDestination::channel(c.clone()),
            text: msg.text,
            blocks: msg.blocks.map(|b| b.to_string()),
        })
    }

    /// Answer the requester privately: through the `response_url`, or for a form, in the
    /// incident channel where only they see it.
    pub(super) async fn tell(&self, req: &Request<'_>, msg: &Outgoing) {
        let told = match (req.response_url, req.channel) {
            (Some(url), _) => self.ctx.web.respond_ephemeral(url, msg).await,
            (None, Some(channel)) => {
                self.ctx
                    .web
                    .post_ephemeral(channel, req.actor.as_str(), msg)
                    .await
            }
            (None, None) => Ok(()),
        };
        if let Err(e) = told {
            tracing::warn!(error = %e, "could not answer the requester");
        }
    }
}
