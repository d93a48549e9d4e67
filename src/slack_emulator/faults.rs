//! Web API fault injection: make the next N calls of a method fail the way Slack fails, so
//! the app's retry, back-off and error paths can be tested deterministically.

use std::time::Duration;

use super::state::State;

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

pub(super) fn inject(st: &mut State, method: &str, fault: Fault, times: u32) {
    let queue = st.faults.entry(method.to_string()).or_default();
    for _ in 0..times {
        queue.push_back(fault.clone());
    }
}

/// The fault the current call of `method` must suffer, if any (consumes one).
pub(super) fn take(st: &mut State, method: &str) -> Option<Fault> {
    let queue = st.faults.get_mut(method)?;
    let fault = queue.pop_front();
    if queue.is_empty() {
        st.faults.remove(method);
    }
    fault
}
