//! Group commit: writes that arrive while one is in flight go together in the next.
//!
//! Every Socket Mode connection records one envelope at a time before it acks, and the
//! store has one connection. With several Socket Mode connections, or while the worker holds
//! the database, records queue up; one statement each would cost a round trip to sqlx's
//! connection thread per envelope. Instead the caller that finds no write in flight *leads*:
//! it writes its own item and whatever is queued (up to a cap) in one statement, answers
//! the others, and hands the lead to the next queued caller if more arrived meanwhile. A lone
//! caller pays nothing extra: it leads at once and writes just its own row.
//!
//! No task is spawned, so nothing is left running when the store is dropped. A leader that is
//! cancelled mid-write hands the lead on (drop guard); callers whose batch it was writing get
//! `None` and do not ack, so Slack redelivers and the inbox's dedupe key absorbs the repeat.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

pub(super) struct GroupCommit<T, R> {
    state: Mutex<State<T, R>>,
    max_batch: usize,
}

struct State<T, R> {
    queue: VecDeque<Waiter<T, R>>,
    leading: bool,
}

struct Waiter<T, R> {
    item: T,
    reply: oneshot::Sender<Turn<T, R>>,
}

/// What a queued caller is told: its result, or that it leads now (with its item back).
enum Turn<T, R> {
    Done(R),
    Lead(T),
}

impl<T, R> GroupCommit<T, R> {
    /// `max_batch` bounds one statement (SQLite caps bound parameters per statement).
    pub(super) fn new(max_batch: usize) -> Self {
        GroupCommit {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                leading: false,
            }),
            max_batch: max_batch.max(1),
        }
    }

    /// Write `item`, grouped with whatever else is waiting. `write` gets the items in
    /// arrival order and must return one result per item, in the same order. `None` when
    /// the write was abandoned (its leader cancelled): the item may or may not be stored.
    pub(super) async fn submit<F, Fut>(&self, item: T, write: F) -> Option<R>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<R>>,
    {
        let queued = {
            let mut state = self.lock();
            if state.leading {
                let (reply, rx) = oneshot::channel();
                state.queue.push_back(Waiter { item, reply });
                Ok(rx)
            } else {
                state.leading = true;
                Err(item)
            }
        };
        match queued {
            Err(item) => self.lead(item, write).await,
            Ok(rx) => match rx.await {
                Ok(Turn::Done(result)) => Some(result),
                Ok(Turn::Lead(item)) => self.lead(item, write).await,
                Err(_) => None,
            },
        }
    }

    /// Write `first` and the queue's head in one call of `write`, then pass the lead on.
    async fn lead<F, Fut>(&self, first: T, write: F) -> Option<R>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<R>>,
    {
        let _handover = HandOver(self);
        let mut items = vec![first];
        let mut replies = Vec::new();
        {
            let mut state = self.lock();
            let n = state.queue.len().min(self.max_batch - 1);
            for waiter in state.queue.drain(..n) {
                items.push(waiter.item);
                replies.push(waiter.reply);
            }
        }
        let mut results = write(items).await.into_iter();
        let mine = results.next();
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that went away needs no answer; its row is written all the same.
            let _ = reply.send(Turn::Done(result));
        }
        mine
    }

    fn lock(&self) -> MutexGuard<'_, State<T, R>> {
        // Never held across an await or user code, so a poisoned lock still has sound state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// On the leader's way out (done, cancelled or unwinding): wake the next queued caller as
/// leader, skipping any that went away, or stop leading when nobody waits.
struct HandOver<'a, T, R>(&'a GroupCommit<T, R>);

impl<T, R> Drop for HandOver<'_, T, R> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        while let Some(waiter) = state.queue.pop_front() {
            if waiter.reply.send(Turn::Lead(waiter.item)).is_ok() {
                return;
            }
        }
        state.leading = false;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::Notify;

    use super::*;

    #[tokio::test]
    async fn a_lone_caller_writes_its_own_item_at_once() {
        let gc = GroupCommit::<u32, u32>::new(8);
        let got = gc
            .submit(
                7,
                |items| async move { items.iter().map(|i| i * 10).collect() },
            )
            .await;
        assert_eq!(got, Some(70));
        assert!(!gc.lock().leading, "the lead is released");
    }

    /// Callers that arrive while a write is in flight share the next write, and each gets
    /// its own result back.
    #[tokio::test]
    async fn callers_arriving_during_a_write_share_the_next_one() {
        let gc = Arc::new(GroupCommit::<u32, u32>::new(64));
        let release = Arc::new(Notify::new());
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let write = |release: Arc<Notify>, batches: Arc<Mutex<Vec<Vec<u32>>>>| {
            move |items: Vec<u32>| async move {
                if items.contains(&0) {
                    release.notified().await;
                }
                batches.lock().unwrap().push(items.clone());
                items.iter().map(|i| i + 100).collect::<Vec<_>>()
            }
        };
        let first = tokio::spawn({
            let (gc, w) = (gc.clone(), write(release.clone(), batches.clone()));
            async move { gc.submit(0, w).await }
        });
        // Wait (with a deadline) until the first write is in flight, then queue ten more.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !gc.lock().leading {
            assert!(tokio::time::Instant::now() < deadline, "never led");
            tokio::task::yield_now().await;
        }
        let mut rest = Vec::new();
        for i in 1..=10u32 {
            let (gc, w) = (gc.clone(), write(release.clone(), batches.clone()));
            rest.push(tokio::spawn(async move { gc.submit(i, w).await }));
        }
        while gc.lock().queue.len() < 10 {
            assert!(tokio::time::Instant::now() < deadline, "never queued");
            tokio::task::yield_now().await;
        }
        release.notify_one();
        assert_eq!(first.await.unwrap(), Some(100));
        for (i, h) in rest.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), Some(101 + i as u32));
        }
        let mut batches = batches.lock().unwrap().clone();
        assert_eq!(
            batches.len(),
            2,
            "two writes for eleven callers: {batches:?}"
        );
        batches[1].sort();
        assert_eq!(batches, vec![vec![0], (1..=10).collect::<Vec<_>>()]);
        assert!(!gc.lock().leading);
    }

    #[tokio::test]
    async fn batches_are_capped() {
        let gc = Arc::new(GroupCommit::<u32, u32>::new(3));
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Notify::new());
        let mut handles = Vec::new();
        for i in 0..7u32 {
            let (gc, sizes, gate) = (gc.clone(), sizes.clone(), gate.clone());
            handles.push(tokio::spawn(async move {
                gc.submit(i, |items| async move {
                    if items.contains(&0) {
                        gate.notified().await;
                    }
                    sizes.lock().unwrap().push(items.len());
                    items
                })
                .await
            }));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while gc.lock().queue.len() < 6 {
            assert!(tokio::time::Instant::now() < deadline, "never queued");
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), Some(i as u32));
        }
        assert_eq!(*sizes.lock().unwrap(), vec![1, 3, 3]);
    }

    /// A leader cancelled mid-write must not wedge everyone behind it.
    #[tokio::test]
    async fn a_cancelled_leader_hands_the_lead_on() {
        let gc = Arc::new(GroupCommit::<u32, u32>::new(1));
        let writes = Arc::new(AtomicUsize::new(0));
        let leader = tokio::spawn({
            let gc = gc.clone();
            async move {
                gc.submit(0, |_items| std::future::pending::<Vec<u32>>())
                    .await
            }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !gc.lock().leading {
            assert!(tokio::time::Instant::now() < deadline, "never led");
            tokio::task::yield_now().await;
        }
        let follower = tokio::spawn({
            let (gc, writes) = (gc.clone(), writes.clone());
            async move {
                gc.submit(1, |items| async move {
                    writes.fetch_add(1, Ordering::SeqCst);
                    items
                })
                .await
            }
        });
        while gc.lock().queue.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "never queued");
            tokio::task::yield_now().await;
        }
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled());
        assert_eq!(follower.await.unwrap(), Some(1));
        assert_eq!(writes.load(Ordering::SeqCst), 1);
        assert!(!gc.lock().leading);
    }
}
