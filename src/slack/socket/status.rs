//! Which Socket Mode connections are up, for readiness (`/readyz`), metrics and tests.
//!
//! Each connection marks itself up when its `hello` arrives and down when it ends
//! ([`LiveGuard`]), so the picture cannot drift from the connections themselves.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Connection health, shared with whoever needs to know.
#[derive(Debug, Default)]
pub struct SocketStatus {
    /// At least one connection has said `hello` and has not ended since.
    pub connected: AtomicBool,
    /// `hello` frames received (one per connection opened).
    pub hellos: AtomicU64,
    /// Connections that ended after their `hello` (dropped, silent, refreshed, shut down).
    pub disconnects: AtomicU64,
    /// Ids of the connections that are up.
    live: Mutex<HashSet<u64>>,
    /// Slack said Socket Mode is turned off for the app (`link_disabled`); cleared by the
    /// next `hello`.
    disabled: AtomicBool,
}

impl SocketStatus {
    /// Whether any Socket Mode connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// How many Socket Mode connections are up.
    pub fn live_connections(&self) -> usize {
        self.live_ids().len()
    }

    /// Why nothing is connected, when Slack told us: for `/readyz`.
    pub fn problem(&self) -> Option<&'static str> {
        self.disabled
            .load(Ordering::SeqCst)
            .then_some("Slack turned Socket Mode off for this app (link_disabled)")
    }

    pub(super) fn link_disabled(&self) {
        self.disabled.store(true, Ordering::SeqCst);
    }

    fn live_ids(&self) -> MutexGuard<'_, HashSet<u64>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Mark connection `id` up; it is marked down when the guard is dropped.
    pub(super) fn up(self: &Arc<Self>, id: u64) -> LiveGuard {
        let mut live = self.live_ids();
        live.insert(id);
        self.hellos.fetch_add(1, Ordering::SeqCst);
        self.disabled.store(false, Ordering::SeqCst);
        self.connected.store(true, Ordering::SeqCst);
        LiveGuard {
            status: self.clone(),
            id,
        }
    }
}

/// Held by a connection from its `hello` to its end.
#[derive(Debug)]
pub(super) struct LiveGuard {
    status: Arc<SocketStatus>,
    id: u64,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut live = self.status.live_ids();
        if live.remove(&self.id) {
            self.status.disconnects.fetch_add(1, Ordering::SeqCst);
        }
        self.status
            .connected
            .store(!live.is_empty(), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_while_any_connection_is_up() {
        let status = Arc::new(SocketStatus::default());
        assert!(!status.is_connected());
        let a = status.up(1);
        let b = status.up(2);
        assert_eq!(status.live_connections(), 2);
        drop(a);
        assert!(status.is_connected());
        drop(b);
        assert!(!status.is_connected());
        assert_eq!(status.hellos.load(Ordering::SeqCst), 2);
        assert_eq!(status.disconnects.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn link_disabled_is_reported_until_the_next_hello() {
        let status = Arc::new(SocketStatus::default());
        status.link_disabled();
        assert!(status.problem().is_some());
        let _up = status.up(1);
        assert_eq!(status.problem(), None);
    }
}
