//! Web API fault injection: make the next N calls of a method fail the way Slack fails, so
//! the app's retry, back-off and error paths can be tested deterministically.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Faults waiting, per method (part of the emulator's state).
pub(super) type FaultQueues = HashMap<String, VecDeque<Fault>>;

/// A failure to impose on a Web API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: <secs>` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 200 with `{"ok":false,"error":<code>}`.
    Error(String),
    /// A bare HTTP status (500, 502, 503 …) with a non-JSON body, as Slack's edge returns.
    HttpStatus(u16),
    /// Answer normally, but only after this long (client time-outs).
    Delay(Duration),
}

pub(super) fn inject(faults: &mut FaultQueues, method: &str, fault: Fault, times: u32) {
    let queue = faults.entry(method.to_string()).or_default();
    for _ in 0..times {
        queue.push_back(fault.clone());
    }
}

/// The fault the current call of `method` must suffer, if any (consumes one).
pub(super) fn take(faults: &mut FaultQueues, method: &str) -> Option<Fault> {
    let queue = faults.get_mut(method)?;
    let fault = queue.pop_front();
    if queue.is_empty() {
        faults.remove(method);
    }
    fault
}
