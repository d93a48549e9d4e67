//! Waiting on a condition with a deadline, never sleeping and hoping: poll the condition
//! every [`RECHECK`] until it holds, and fail naming what was awaited (and what was last seen)
//! once the deadline has passed.

use std::fmt::Debug;
use std::time::Duration;

/// How often a condition is looked at again.
pub const RECHECK: Duration = Duration::from_millis(20);

/// Wait until `check` holds; panics naming `what` after `deadline`.
pub async fn wait_until(deadline: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    wait_until_ok(deadline, what, async || {
        if check().await {
            Ok(())
        } else {
            Err("not yet")
        }
    })
    .await
}

/// Wait until `check` gives a value, and return it; panics naming `what` after `deadline`.
pub async fn wait_until_some<T>(
    deadline: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    wait_until_ok(deadline, what, async || check().await.ok_or("nothing yet")).await
}

/// Wait until `check` gives `Ok`, and return its value. `Err` carries what it saw instead,
/// shown in the panic that names `what` after `deadline`.
pub async fn wait_until_ok<T, S: Debug>(
    deadline: Duration,
    what: &str,
    check: impl AsyncFnMut() -> Result<T, S>,
) -> T {
    wait_until_ok_every(deadline, RECHECK, what, check).await
}

/// [`wait_until_ok`], looking every `poll` (for a check that is costly itself).
pub async fn wait_until_ok_every<T, S: Debug>(
    deadline: Duration,
    poll: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Result<T, S>,
) -> T {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let seen = match check().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if tokio::time::Instant::now() >= until {
            panic!("waited {deadline:?} for {what}; last seen: {seen:#?}");
        }
        tokio::time::sleep(poll).await;
    }
}

/// The value `check` gives once it gives one, or `None` after `deadline`: for a test that
/// asserts on the outcome itself (say, that a process exited, with its log).
pub async fn within<T>(deadline: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(RECHECK).await;
    }
}

/// What was last seen, shown as is (not quoted) when a wait fails.
pub struct Seen(pub String);

impl Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// [`wait_until`] for a condition that is a plain function (a counter, a flag).
pub async fn wait_until_sync(deadline: Duration, what: &str, mut check: impl FnMut() -> bool) {
    wait_until(deadline, what, async || check()).await
}
