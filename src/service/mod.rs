//! The application layer: takes what Slack delivered (recorded first, see [`intake`]),
//! turns it into domain changes, store writes and Slack effects ([`worker`], [`commands`],
//! action items and postmortem drafts in `postmortem`).
//!
//! Invariant: every event is in the inbox before its envelope is acked; the worker applies
//! inbox rows one at a time in arrival order, and each step is idempotent, so a crash at any
//! point is repaired by replaying the row.

mod alarms;
mod announce;
mod answer;
mod archive;
mod authorization;
mod changes;
mod checklist;
mod commands;
mod drills;
mod escalation;
mod events;
mod failure;
mod health;
pub mod intake;
mod nudges;
mod people;
mod postmortem;
mod retention;
mod summary;
mod support;
mod timers;
mod war_room;
mod worker;

pub use intake::Intake;
pub use nudges::arm_all_nudges;
pub use summary::ensure_summary_scheduled;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::lease::Gate;
use crate::postmortem::Templates;
use crate::slack::web::{BotIdentity, SlackWeb};
use crate::store::Store;

/// What every handler reads: the store, Slack, the clock, the config and the clients, and
/// what wakes the long-running loops. Shared and read-only (a handler composes store
/// functions in a unit of work of its own): the feature modules are free functions over
/// `&Ctx`, and the loops on [`Service`] lend it to them.
pub struct Ctx {
    /// The database: units of work over per-table functions.
    pub store: Store,
    /// Slack's Web API (behind the leader gate).
    pub web: SlackWeb,
    /// Now, as the handlers see it (a manual clock in tests).
    pub clock: SharedClock,
    pub config: Arc<Config>,
    /// The bot's own identity, to recognise its channels and messages.
    pub bot: BotIdentity,
    /// Postmortem templates, loaded and checked at start.
    pub templates: Arc<Templates>,
    /// This bot's counters (`/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// AWS clients, for the Support API (`None` when the bot runs without AWS).
    pub aws: Option<crate::aws::Aws>,
    /// Open while this replica leads: AWS Support calls go through it (Slack's through the
    /// same gate inside [`SlackWeb`]).
    pub gate: Gate,
    /// Woken whenever something is recorded (here, or on PostgreSQL by any replica), so the
    /// worker does not poll.
    wake: Arc<Notify>,
    /// Woken when timers change or the clock is moved by hand.
    timers_kick: Notify,
    /// Woken when a case is opened, so its correspondence is polled at once.
    support_kick: Notify,
    /// Woken when the queue consumer recorded an alarm transition, so it is decided and
    /// its war room opened at once rather than at the next poll.
    alarms_kick: Notify,
    /// Whose names this process looked at, and when: spares the names cache a read for
    /// every message (`service::people`).
    names_seen: std::sync::Mutex<std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>>,
}

impl Ctx {
    /// Wake the scheduler now (after something was scheduled, or the clock moved).
    pub fn kick_timers(&self) {
        self.timers_kick.notify_one();
    }

    /// Wake the Support poller: a case was opened, poll its correspondence at once.
    pub(crate) fn kick_support(&self) {
        self.support_kick.notify_one();
    }

    /// Wake the alarm loop: the queue consumer recorded a transition.
    pub(crate) fn kick_alarms(&self) {
        self.alarms_kick.notify_one();
    }

    /// Wake the worker: something was recorded in the inbox.
    pub(crate) fn wake_worker(&self) {
        self.wake.notify_one();
    }
}

/// Owns the handlers' context and runs the long-running loops (worker, scheduler, pollers,
/// queue consumer) over it; the intake (Socket Mode callbacks) shares it. Outside
/// `service`, only [`Service::ctx`] (read-only) and the entry points.
pub struct Service {
    ctx: Ctx,
}

impl Service {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        web: SlackWeb,
        clock: SharedClock,
        config: Arc<Config>,
        bot: BotIdentity,
        templates: Arc<Templates>,
        metrics: Arc<crate::metrics::Metrics>,
        aws: Option<crate::aws::Aws>,
        gate: Gate,
    ) -> Arc<Service> {
        Arc::new(Service {
            ctx: Ctx {
                store,
                web,
                clock,
                config,
                bot,
                templates,
                metrics,
                aws,
                gate,
                wake: Arc::new(Notify::new()),
                timers_kick: Notify::new(),
                support_kick: Notify::new(),
                alarms_kick: Notify::new(),
                names_seen: std::sync::Mutex::default(),
            },
        })
    }

    /// The handlers' context, read-only.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// What wakes the worker (given to the database's inbox listener on PostgreSQL).
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.ctx.wake.clone()
    }

    /// Wake the scheduler now (after the clock was moved by hand).
    pub fn kick_timers(&self) {
        self.ctx.kick_timers();
    }
}
