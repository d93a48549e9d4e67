//! The fast path, run by the Socket Mode client before each ack: record, or answer at once.

use futures::future::BoxFuture;

use super::{Ctx, Service};
use crate::domain::authorization::Action;
use crate::domain::command::{self, Command};
use crate::domain::report::Period;
use crate::metrics::Metrics;
use crate::report::managers;
use crate::slack::inbound::{CommandInvocation, Inbound};
use crate::slack::render;
use crate::slack::render_report;
use crate::slack::socket::EventSink;
use crate::slack::web::Outgoing;
use crate::store::{actions, incidents, overview, timeline};

/// What `/incident stats` covers when no period is given.
const STATS_WINDOW: chrono::Duration = chrono::Duration::days(30);

/// `30 days`, `1 day`, `36 hours`.
fn window_words(window: chrono::Duration) -> String {
    match window.num_days() {
        1 if window == chrono::Duration::days(1) => "day".to_string(),
        d if window == chrono::Duration::days(d) => format!("{d} days"),
        _ => format!("{} hours", window.num_hours()),
    }
}

async fn record_inbound(
    ctx: &Ctx,
    key: &str,
    inbound: &Inbound,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    let payload = serde_json::to_string(inbound)?;
    if !ctx
        .store
        .record_inbound(key, &payload, ctx.clock.now())
        .await?
    {
        tracing::debug!(key, "redelivered event already recorded");
        metrics.envelope_redelivered();
    }
    ctx.wake_worker();
    Ok(())
}

/// Answer what can be answered without changing anything; record the rest.
async fn take_command(
    ctx: &Ctx,
    mut inv: CommandInvocation,
    metrics: &Metrics,
) -> anyhow::Result<Option<Outgoing>> {
    inv.at = ctx.clock.now();
    let cmd = match command::parse(&inv.text) {
        Ok(c) => c,
        Err(usage) => return Ok(Some(render::usage_error(&usage))),
    };
    // An unknown `type:<name>` is a usage error, answered here to the caller alone.
    if let Command::Declare {
        incident_type: Some(name),
        ..
    } = &cmd
    {
        if ctx.config.incident.incident_type(name).is_none() {
            return Ok(Some(render::usage_error(&super::answer::unknown_type(
                ctx, name,
            ))));
        }
    }
    let incident =
        if cmd.needs_incident() || matches!(cmd, Command::Timeline) {
            match incidents::by_channel(ctx.store.db(), &inv.channel).await? {
                Some(r) => Some(r),
                None => return Ok(Some(render::problem(
                    "this command works inside an incident channel; run /incident list to find one",
                ))),
            }
        } else {
            None
        };
    // Only what everybody may see is answered here, in the ack: the checkpoint's answer
    // for those needs no lookups. Anything else is recorded and passes the checkpoint
    // in the worker, with the caller's roles.
    let open = Action::of(&cmd, None).open_to_anyone();
    match (&cmd, incident) {
        _ if !open => record_command(ctx, inv, metrics).await,
        (Command::Help, _) => Ok(Some(render::help())),
        (Command::List, _) => {
            let open = incidents::list(ctx.store.db(), true).await?;
            let last_updates = timeline::last_updates(ctx.store.db()).await?;
            let aws_cases = overview::case_glances(ctx.store.db()).await?;
            // Run inside an incident channel, the caller is one of its members.
            let here = incidents::by_channel(ctx.store.db(), &inv.channel).await?;
            let viewer = super::authorization::viewer(ctx, &inv.user, here.map(|r| r.incident.id));
            Ok(Some(render::incident_list(&render::Overview {
                open: &open,
                last_updates: &last_updates,
                aws_cases: &aws_cases,
                now: ctx.clock.now(),
                viewer: &viewer,
            })))
        }
        (Command::Stats { window }, _) => {
            let window = window.unwrap_or(STATS_WINDOW);
            let now = ctx.clock.now();
            let period = Period {
                since: now - window,
                until: now,
            };
            let report =
                managers::of_period(ctx.store.db(), period, &ctx.config.escalation).await?;
            let heading = format!("Incidents in the last {}", window_words(window));
            Ok(Some(render_report::short_report(&report, &heading)))
        }
        (Command::Actions, Some(record)) => {
            let items = actions::of_incident(ctx.store.db(), record.incident.id).await?;
            Ok(Some(render::action_list(&record, &items)))
        }
        (Command::Catchup, Some(record)) => {
            Ok(Some(super::people::catchup_message(ctx, &record).await?))
        }
        (Command::Timeline, Some(record)) => {
            let entries = timeline::of_incident(ctx.store.db(), record.incident.id).await?;
            Ok(Some(render::timeline(&record, &entries)))
        }
        _ => record_command(ctx, inv, metrics).await,
    }
}

async fn record_command(
    ctx: &Ctx,
    inv: CommandInvocation,
    metrics: &Metrics,
) -> anyhow::Result<Option<Outgoing>> {
    let key = format!("cmd:{}", inv.trigger_id);
    record_inbound(ctx, &key, &Inbound::Command(inv), metrics).await?;
    Ok(None)
}

/// The Socket Mode client calls into the service through this; redeliveries are counted
/// in the metrics.
pub struct Intake(pub std::sync::Arc<Service>, pub std::sync::Arc<Metrics>);

impl EventSink for Intake {
    fn record(&self, key: String, inbound: Inbound) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move { record_inbound(self.0.ctx(), &key, &inbound, &self.1).await })
    }

    fn command(&self, inv: CommandInvocation) -> BoxFuture<'_, anyhow::Result<Option<Outgoing>>> {
        // The answer goes back in the ack, not through `slack::web`: fitted here.
        Box::pin(async move {
            let answer = take_command(self.0.ctx(), inv, &self.1).await?;
            Ok(answer.map(|a| crate::slack::limits::fit_message(&a)))
        })
    }
}
