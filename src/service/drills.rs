//! Drills: `/incident drill` and `warroom drill` open a rehearsal incident from a synthetic
//! alarm on a route; on resolve, the scorecard.
//!
//! A drill goes the way an alarm-opened incident goes (the route's severity, responders,
//! user group and runbook; no lead until someone takes it; the nudge clocks), in a channel
//! named `drill-YYYYMMDD-<route>`, with three differences: the alarm is made up from the
//! route (no CloudWatch call), its graph is a placeholder and AWS Health is not asked (the
//! post says so: a drill must not make people think AWS has a real event), and an AWS
//! Support case is a dry run (`service::support`) unless `--real-case`.
//!
//! Resumable like declare: the incident and its row are written first (idempotent by the
//! request's inbox key), then the war-room steps, then the synthetic alarm's post, each
//! recorded when done.

use anyhow::anyhow;
use chrono::{DateTime, Utc};

use super::authorization::Actor;
use super::failure::Failure;
use super::Ctx;
use crate::domain::alarm::{Alarm, AlarmKind, AlarmState};
use crate::domain::channel_name::drill_channel_name;
use crate::domain::drill::{Reached, Scorecard, COMPARE_WITH};
use crate::domain::routing::Route;
use crate::domain::OutboxDestination;
use crate::domain::{EntryKind, IncidentRecord, Severity, UserId};
use crate::slack::inbound::CommandInvocation;
use crate::slack::render;
use crate::store::drills;
use crate::store::inbox::InboxRow;
use crate::store::incidents::{self, NewIncident};
use crate::store::timeline::{self, NewEntry};
use crate::store::{Db, StoreError, Tx};

/// A drill as asked for.
pub(super) struct DrillAsk {
    pub route: Option<String>,
    pub severity: Option<Severity>,
    pub real_case: bool,
}

/// `/incident drill [route] [sevN] [--real-case]` (the checkpoint let it through; a
/// real case was checked against the AWS Support user group there).
pub(super) async fn drill(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    ask: DrillAsk,
) -> Result<(), Failure> {
    let routes = &ctx.config.alarms.routes;
    let route = match &ask.route {
        None => routes.default.clone(),
        Some(name) => match routes.by_name(name) {
            Some(r) => r.clone(),
            None => {
                let known: Vec<&str> = std::iter::once(routes.default.name.as_str())
                    .chain(routes.routes.iter().map(|r| r.name.as_str()))
                    .collect();
                // `problem` escapes the text.
                super::answer::reply(
                    ctx,
                    inv,
                    &render::problem(&format!(
                        "there is no alarm route called {name}; the routes are: {}",
                        known.join(", ")
                    )),
                )
                .await;
                return Ok(());
            }
        },
    };
    let bot = UserId::parse(&ctx.bot.user_id)
        .map_err(|e| Failure::Permanent(anyhow!("the bot's own user id is unusable: {e}")))?;
    let region = ctx
        .config
        .alarms
        .regions
        .first()
        .cloned()
        .unwrap_or_else(|| ctx.config.aws.region.clone());
    let alarm = synthetic_alarm(&route, &region, inv.at);
    // A drill rehearses the route's incident type too: its checklist, its people, and
    // a private channel if the type is private.
    let kind = route
        .incident_type
        .as_deref()
        .and_then(|name| ctx.config.incident.incident_type(name));
    let new = NewIncident {
        private: kind.is_some_and(|t| t.private),
        source_key: row.dedupe_key.clone(),
        channel_name: drill_channel_name(inv.at, &route.name),
        title: alarm.name.clone(),
        severity: ask.severity.unwrap_or(route.severity),
        declared_by: bot.clone(),
        opened_at: inv.at,
    };
    let now = ctx.clock.now();
    // The incident, its drill row, no lead (as when an alarm opens one) and the alarm's
    // timeline entry, at once.
    let mut tx = ctx.store.begin().await?;
    let (mut record, created) = drills::create(
        &mut tx,
        &new,
        &route.name,
        ask.real_case,
        actor.as_str(),
        now,
    )
    .await?;
    if created {
        if let Some(t) = kind {
            super::checklist::give_type(&mut tx, &mut record, t).await?;
        }
        incidents::clear_bot_lead(&mut tx, record.incident.id).await?;
        record.incident.lead = None;
        let entry = NewEntry {
            incident_id: record.incident.id,
            dedupe_key: format!("drill-alarm:{}", row.dedupe_key),
            kind: EntryKind::AlarmFired,
            occurred_at: inv.at,
            actor: Some(bot.as_str().to_string()),
            text: format!(
                "DRILL: synthetic alarm {} went to ALARM in {} (started by {})",
                alarm.name,
                alarm.region,
                actor.as_str()
            ),
            slack_ts: None,
            thread_ts: None,
            key_event: true,
        };
        timeline::insert(&mut tx, &entry, now).await?;
    }
    tx.commit().await?;
    if created {
        tracing::info!(incident = %record.incident.id, route = %route.name, real_case = ask.real_case, "drill started");
    }
    drill_steps(ctx, &mut record, &route, &alarm, &actor)
        .await
        .map_err(|f| {
            f.for_caller(format!(
                "{} is recorded, but its channel could not be set up",
                record.incident.id
            ))
        })?;
    super::answer::reply(
        ctx,
        inv,
        &render::drill_started(&record, &route, ask.real_case),
    )
    .await;
    Ok(())
}

/// War room (with the route's responders, its user group and whoever started the
/// drill), then the synthetic alarm's post: each step recorded.
async fn drill_steps(
    ctx: &Ctx,
    record: &mut IncidentRecord,
    route: &Route,
    alarm: &Alarm,
    requester: &UserId,
) -> Result<(), Failure> {
    let bot = UserId::parse(&ctx.bot.user_id)
        .map_err(|e| Failure::Permanent(anyhow!("the bot's own user id is unusable: {e}")))?;
    let mut extra = if record.members_invited {
        Vec::new()
    } else {
        let mut extra = super::alarms::route_invitees(ctx, route).await?;
        extra.extend(super::checklist::type_invitees(ctx, record).await?);
        extra
    };
    extra.push(requester.as_str().to_string());
    // The first post follows a finished set-up: if the header was not pinned before this
    // attempt, no earlier attempt can have posted it.
    let first_post_may_be_there = record.header_pinned;
    super::war_room::open_war_room(ctx, record, &bot, &extra).await?;
    let id = record.incident.id;
    let Some(channel) = record.channel_id.clone() else {
        return Err(Failure::Transient(anyhow!("{id} has no channel yet")));
    };
    let drill = drills::get(ctx.store.db(), id)
        .await?
        .ok_or_else(|| Failure::Permanent(anyhow!("{id} has no drill row")))?;
    if drill.first_post_ts.is_none() {
        let first = render::drill_first_post(alarm, route, drill.real_case);
        let ts = super::announce::post_in_war_room(ctx, &channel, &first, first_post_may_be_there)
            .await?;
        let mut tx = ctx.store.begin().await?;
        drills::set_first_post(&mut tx, id, &ts).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// In the unit of work that resolves a drill: its scorecard, kept and posted (through
/// the outbox, with the resolve, so it is posted once whatever crashes).
pub(super) async fn drill_scorecard(
    ctx: &Ctx,
    tx: &mut Tx,
    record: &IncidentRecord,
    resolved_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = record.incident.id;
    let Some(drill) = drills::get(tx.db(), id).await? else {
        return Ok(());
    };
    let entries = timeline::of_incident(tx.db(), id).await?;
    let mut reached = Reached::from_timeline(&entries, &ctx.bot.user_id);
    // The resolve being written is the latest one.
    reached.resolve = Some(resolved_at);
    let card = Scorecard::score(
        id,
        &drill.route,
        record.incident.opened_at,
        &reached,
        &ctx.config.drills.targets,
    );
    let previous =
        drills::previous_scorecards(tx.db(), &drill.route, id, COMPARE_WITH as i64).await?;
    drills::set_scorecard(tx, id, &card).await?;
    if let Some(channel) = &record.channel_id {
        let msg = render::drill_scorecard(&card, &previous);
        let out = super::announce::to_outbox(OutboxDestination::Channel(channel.clone()), msg);
        crate::store::outbox::enqueue(tx, &out, ctx.clock.now()).await?;
    }
    Ok(())
}

/// Whether warroom's posts to `channel` are marked DRILL. A lookup failure marks nothing
/// (the message still goes out; its channel's name and header say DRILL).
pub(super) async fn is_drill_channel(db: Db<'_>, channel: &str) -> bool {
    match drills::is_drill_channel(db, channel).await {
        Ok(drill) => drill,
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell whether a channel is a drill's");
            false
        }
    }
}

/// The alarm a drill rehearses: named after the route's alarm-name pattern (its wildcards
/// filled with `drill`), in the route's namespace when the route names one, in ALARM now.
pub(super) fn synthetic_alarm(route: &Route, region: &str, at: DateTime<Utc>) -> Alarm {
    let fill = |g: &crate::domain::routing::Glob| g.as_str().replace(['*', '?'], "drill");
    let name = route
        .matcher
        .alarm_name
        .as_ref()
        .map(fill)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("{}-drill-alarm", route.name));
    Alarm {
        arn: format!("arn:warroom:drill:{region}:alarm:{name}"),
        name,
        kind: AlarmKind::Metric,
        description: Some(format!(
            "DRILL: a synthetic alarm for the {} route. No CloudWatch alarm fired; rehearse as if it had.",
            route.name
        )),
        region: region.to_string(),
        namespace: route.matcher.namespace.as_ref().map(fill),
        metric_name: None,
        dimensions: Vec::new(),
        statistic: None,
        period_secs: None,
        threshold: None,
        comparison: None,
        rule: None,
        state: AlarmState::Alarm,
        state_reason: Some("DRILL: synthetic breach for a rehearsal".to_string()),
        state_updated_at: at,
        tags: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::routing::{Glob, Matcher};

    #[test]
    fn the_synthetic_alarm_follows_the_route() {
        let mut route = Route::default_route();
        route.name = "checkout".to_string();
        route.matcher = Matcher {
            alarm_name: Some(Glob::new("prod-checkout-*")),
            namespace: Some(Glob::new("AWS/ApplicationELB")),
            tags: Vec::new(),
        };
        let at = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let a = synthetic_alarm(&route, "eu-west-1", at);
        assert_eq!(a.name, "prod-checkout-drill");
        assert_eq!(a.namespace.as_deref(), Some("AWS/ApplicationELB"));
        assert_eq!(a.state, AlarmState::Alarm);
        assert_eq!(a.state_updated_at, at);
        let plain = synthetic_alarm(&Route::default_route(), "us-east-1", at);
        assert_eq!(plain.name, "default-drill-alarm");
        assert!(plain.namespace.is_none());
    }
}
