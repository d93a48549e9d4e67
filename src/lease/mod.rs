//! Leadership: exactly one replica applies the inbox and runs the timers, the outbox and
//! the alarm, Health and Support pollers; every replica records and acks.
//!
//! On PostgreSQL a [`LeaseLoop`] per replica takes the lease when it lapsed and renews it
//! while it holds it (the SQL is in `store/dialect/lease.rs`). Leading, it sets the
//! [`Fence`] (every unit of work checks the term before it writes) and opens the [`Gate`]
//! (Slack and AWS calls) until a margin before the lease would lapse without a renewal;
//! it closes both the moment a renewal fails past that margin, or another replica holds
//! the lease. [`Role`] changes tell the app to start or stop the leader's tasks.
//!
//! On SQLite one process holds the file ([`crate::store::InstanceLock`]) and is the leader
//! for its whole life: no lease, the gate always open.

mod gate;

pub use gate::{Gate, NotLeading};

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::{Fence, Store};

/// What this replica is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Records and acks; the leader applies.
    Follower,
    /// Applies the inbox, runs timers, outbox and pollers, in this term of the lease.
    Leader { term: i64 },
}

/// A name for this replica, unique among the replicas of a database: host, process and a
/// random suffix (a restarted pod on the same host is another replica).
pub fn replica_id() -> String {
    format!(
        "{}:{}:{:04x}",
        crate::store::host_name(),
        std::process::id(),
        rand::random::<u16>()
    )
}

/// Takes and renews the lease for one replica.
pub struct LeaseLoop {
    /// Unfenced: the lease's own statements are not leader transactions.
    store: Store,
    fence: Arc<Fence>,
    gate: Gate,
    /// How long a lease lasts unrenewed (`[database] failover_after`).
    duration: Duration,
    role: watch::Sender<Role>,
    metrics: Arc<Metrics>,
}

impl LeaseLoop {
    pub fn new(
        store: Store,
        fence: Arc<Fence>,
        gate: Gate,
        duration: Duration,
        metrics: Arc<Metrics>,
    ) -> (LeaseLoop, watch::Receiver<Role>) {
        let (role, role_rx) = watch::channel(Role::Follower);
        (
            LeaseLoop {
                store,
                fence,
                gate,
                duration,
                role,
                metrics,
            },
            role_rx,
        )
    }

    /// Renew a third of the way through the lease: two renewals can fail before it lapses.
    fn renew_every(&self) -> Duration {
        self.duration / 3
    }

    /// How often a follower looks whether the lease lapsed: what a failover costs on top of
    /// the lease itself.
    fn look_every(&self) -> Duration {
        (self.duration / 10).clamp(Duration::from_millis(200), Duration::from_secs(1))
    }

    /// The gate closes this long before the lease would lapse, so calls that are still
    /// running are cut (or on the wire) before another replica can take over.
    fn margin(&self) -> Duration {
        self.duration / 3
    }

    /// One look at the lease, at start: lead at once when nobody does (a single replica
    /// then starts as SQLite's one process does). Returns whether this replica leads.
    pub async fn try_lead_now(&self) -> crate::store::StoreResult<bool> {
        let started = Instant::now();
        let term = self
            .store
            .lease_acquire(self.fence.holder(), self.duration)
            .await?;
        if let Some(term) = term {
            self.lead(term, started);
        }
        Ok(term.is_some())
    }

    /// Lead in `term`, the lease taken or renewed at `started`.
    fn lead(&self, term: i64, started: Instant) {
        self.fence.set(Some(term));
        self.gate
            .open_until(started + self.duration.saturating_sub(self.margin()));
        self.metrics.lease_held(term);
        if *self.role.borrow() != (Role::Leader { term }) {
            tracing::info!(replica = %self.fence.holder(), term, "this replica leads now");
            self.role.send_replace(Role::Leader { term });
        }
    }

    /// Run until `shutdown` turns true; leading then, give the lease up so another replica
    /// takes over at its next look instead of after the lease lapses.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let holder = self.fence.holder().to_string();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let started = Instant::now();
            let wait = match self.store.lease_acquire(&holder, self.duration).await {
                Ok(Some(term)) => {
                    self.lead(term, started);
                    self.renew_every()
                }
                Ok(None) => {
                    self.step_down(&holder, "another replica holds the lease");
                    self.look_every()
                }
                Err(e) => {
                    // The gate closes by itself at the margin; the fence lets nothing more
                    // commit once the lease is gone. Step down for good at the margin.
                    tracing::warn!(replica = %holder, error = %format!("{e:#}"), "cannot take or renew the lease; will retry");
                    if !self.gate.allows() {
                        self.step_down(&holder, "the lease could not be renewed in time");
                    }
                    self.look_every()
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
        let last = *self.role.borrow();
        if let Role::Leader { term } = last {
            self.step_down(&holder, "stopping");
            if let Err(e) = self.store.lease_release(&holder, term).await {
                tracing::warn!(error = %e, "could not give the lease up; it lapses by itself");
            }
        }
    }

    fn step_down(&self, holder: &str, why: &str) {
        self.gate.close();
        self.fence.set(None);
        self.metrics.lease_lost();
        if *self.role.borrow() != Role::Follower {
            tracing::warn!(replica = %holder, why, "this replica no longer leads");
            self.role.send_replace(Role::Follower);
        }
    }
}
