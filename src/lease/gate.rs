//! The gate: whether this replica may act on the outside world right now.
//!
//! Only the leader posts to Slack and calls AWS Support. The database refuses a deposed
//! leader's writes (the lease's fencing term), but Slack and AWS know nothing of terms, so
//! every such call goes through the gate: it lets a call start only while the lease is
//! valid *with a margin*, and cancels a call still running (waiting on a rate limit, say)
//! when the margin is reached. The lease lapses a margin later, and only then can another
//! replica take over, so the old leader's calls have ended (or are in flight on the wire)
//! before the new leader looks at what they did. SQLite's one process is always open.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

/// How far the gate is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permit {
    /// One process per database: it always leads.
    Always,
    /// The lease allows acting until then.
    Until(Instant),
    Closed,
}

/// Shared by the lease loop (which opens and closes it) and everything that acts.
#[derive(Debug, Clone)]
pub struct Gate {
    tx: Arc<watch::Sender<Permit>>,
}

/// A call cut short, or never started, because this replica does not lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this replica does not lead (the lease is not held or is about to lapse)")]
pub struct NotLeading;

impl Gate {
    /// Open for good (SQLite, tests).
    pub fn always_open() -> Gate {
        Gate {
            tx: Arc::new(watch::channel(Permit::Always).0),
        }
    }

    /// Closed until the lease is taken.
    pub fn closed() -> Gate {
        Gate {
            tx: Arc::new(watch::channel(Permit::Closed).0),
        }
    }

    /// The lease allows acting until `until`.
    pub fn open_until(&self, until: Instant) {
        self.tx.send_replace(Permit::Until(until));
    }

    pub fn close(&self) {
        self.tx.send_replace(Permit::Closed);
    }

    /// Whether a call may start now.
    pub fn allows(&self) -> bool {
        match *self.tx.borrow() {
            Permit::Always => true,
            Permit::Until(t) => Instant::now() < t,
            Permit::Closed => false,
        }
    }

    /// Run `call` if the gate allows it, cancelling it when the gate shuts first.
    pub async fn run<T>(&self, call: impl Future<Output = T>) -> Result<T, NotLeading> {
        if !self.allows() {
            return Err(NotLeading);
        }
        tokio::select! {
            out = call => Ok(out),
            () = self.shut() => Err(NotLeading),
        }
    }

    /// Resolves when the gate no longer allows calls (never, when always open).
    pub async fn shut(&self) {
        let mut rx = self.tx.subscribe();
        loop {
            let permit = *rx.borrow_and_update();
            match permit {
                Permit::Closed => return,
                Permit::Always => {
                    if rx.changed().await.is_err() {
                        return std::future::pending().await;
                    }
                }
                Permit::Until(t) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(t.into()) => {
                            if !self.allows() {
                                return;
                            }
                        }
                        changed = rx.changed() => {
                            if changed.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_call_runs_only_while_the_lease_allows_and_is_cut_when_it_lapses() {
        let gate = Gate::closed();
        assert_eq!(gate.run(async { 1 }).await, Err(NotLeading));
        gate.open_until(Instant::now() + Duration::from_secs(60));
        assert_eq!(gate.run(async { 2 }).await, Ok(2));
        // A renewal while a call waits extends it; the lapse cuts it.
        gate.open_until(Instant::now() + Duration::from_millis(50));
        let slow = gate.run(tokio::time::sleep(Duration::from_secs(30)));
        let started = Instant::now();
        assert_eq!(slow.await, Err(NotLeading));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(!gate.allows());
        gate.open_until(Instant::now() + Duration::from_secs(60));
        let g = gate.clone();
        let waiting = tokio::spawn(async move { g.run(std::future::pending::<()>()).await });
        gate.close();
        assert_eq!(waiting.await.unwrap(), Err(NotLeading));
        assert_eq!(Gate::always_open().run(async { 3 }).await, Ok(3));
    }
}
