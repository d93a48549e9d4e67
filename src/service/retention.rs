//! How long warroom keeps the raw events Slack sent (`[database] keep_raw_events`): the
//! inbox holds each event until it is applied, then only as long as a redelivery or an
//! investigation could need it. What an event recorded stays on the timeline. Events in
//! channels that are not incidents keep nothing but their dedupe key once applied (the
//! worker forgets their payload); events set aside stay until an operator replays them.

use chrono::{DateTime, Duration, Utc};

use super::Ctx;
use crate::store::{inbox, StoreError};

/// How often processed events are pruned, on the service clock.
const PRUNE_EVERY: Duration = Duration::minutes(10);

/// Delete the inbox rows processed longer ago than `keep_raw_events`, at most every
/// [`PRUNE_EVERY`] (`last` is when it last ran). Called by the scheduler.
pub(super) async fn prune_raw_events(ctx: &Ctx, last: &mut Option<DateTime<Utc>>) {
    let Some(keep) = ctx.config.database.keep_raw_events else {
        return;
    };
    let now = ctx.clock.now();
    if last.is_some_and(|l| now - l < PRUNE_EVERY) {
        return;
    }
    *last = Some(now);
    let Ok(keep) = Duration::from_std(keep) else {
        return;
    };
    match prune_inbox(ctx, now - keep).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            events = n,
            "pruned raw events past [database] keep_raw_events"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot prune raw events; will try again"),
    }
}

/// One unit of work: on several replicas only the leader prunes.
async fn prune_inbox(ctx: &Ctx, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let mut tx = ctx.store.begin().await?;
    let pruned = inbox::prune(&mut tx, before).await?;
    tx.commit().await?;
    Ok(pruned)
}
