//! Process-wide counters for `/metrics`, rendered in the Prometheus text format.
//!
//! One [`Metrics`] per running bot (not a global), so several bots in one test process do
//! not count each other's work. The hot paths only touch atomics; the per-method map takes
//! a short lock. Gauges that live in the database (open incidents, inbox backlog) are read
//! at scrape time by [`super::health`] and passed to [`Metrics::render`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the ack latency buckets. Slack wants an ack within 3 s; the
/// interesting range is the few milliseconds a SQLite commit takes.
const ACK_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Upper bounds (seconds) of the alarm → war room buckets. A war room takes a handful of
/// Slack calls (and `chat.postMessage` is paced at 1/s), so seconds are normal; minutes
/// mean Slack was rate limiting or failing.
const ALARM_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// A cumulative histogram with fixed bounds (seconds), for the Prometheus text format.
#[derive(Debug)]
struct Histogram<const N: usize> {
    bounds: [f64; N],
    buckets: [AtomicU64; N],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new(bounds: [f64; N]) -> Self {
        Histogram {
            bounds,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, "histogram", help);
        let mut cumulative = 0;
        for (bound, n) in self.bounds.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Counters of one running bot.
#[derive(Debug, Default)]
pub struct Metrics {
    envelopes_received: AtomicU64,
    envelopes_acked: AtomicU64,
    envelopes_redelivered: AtomicU64,
    ack_buckets: [AtomicU64; ACK_BUCKETS.len()],
    ack_count: AtomicU64,
    ack_sum_micros: AtomicU64,
    /// Web API method → (calls, errors).
    slack_calls: Mutex<BTreeMap<&'static str, (u64, u64)>>,
    /// (AWS operation, result: `ok` or the error code) → calls.
    aws_calls: Mutex<BTreeMap<(&'static str, String), u64>>,
    timers_fired: AtomicU64,
    /// How late the last timer fired, in milliseconds (due time → fired).
    timer_lag_millis: AtomicU64,
    /// Nudge kind → nudges posted.
    nudges: Mutex<BTreeMap<&'static str, u64>>,
    /// Alarm recorded by a poll → first post in the war room it opened.
    alarm_to_war_room: AlarmHistogram,
    /// This replica's lease: whether it leads, its term, when it was last taken or renewed.
    leadership: Mutex<Leadership>,
    /// Why Socket Mode connections were replaced or reopened → how often.
    socket_reconnects: Mutex<BTreeMap<&'static str, u64>>,
    /// Events the worker set aside because they kept failing.
    events_set_aside: AtomicU64,
    /// Write checks of the database made for `/readyz`.
    readiness_database_checks: AtomicU64,
    /// `[events]` queue messages handled and deleted, by kind (alarm, health, support_case,
    /// unknown, malformed, abandoned).
    queue_messages: Mutex<BTreeMap<&'static str, u64>>,
    /// `[events]` queue messages that were not EventBridge events warroom can read: logged
    /// (by message id), counted here and deleted.
    queue_messages_malformed: AtomicU64,
    /// Whether the last alarm poll of each (account, region) failed; account "" is
    /// warroom's own. Labels come from the validated config.
    alarm_polls_failing: Mutex<BTreeMap<(String, String), bool>>,
}

/// What `/metrics` says of the lease.
#[derive(Debug, Default, Clone, Copy)]
struct Leadership {
    leader: bool,
    term: i64,
    /// The last successful take or renewal of the lease (while leading).
    renewed: Option<std::time::Instant>,
    /// Times this replica became the leader.
    terms_started: u64,
}

/// [`Histogram`] with the alarm bounds, so [`Metrics`] keeps its `Default`.
#[derive(Debug)]
struct AlarmHistogram(Histogram<{ ALARM_BUCKETS.len() }>);

impl Default for AlarmHistogram {
    fn default() -> Self {
        AlarmHistogram(Histogram::new(ALARM_BUCKETS))
    }
}

/// What the database says at scrape time.
#[derive(Debug, Clone, Default)]
pub struct StoreGauges {
    /// `(label, count)` per severity, worst first, zeros included.
    pub open_incidents: Vec<(String, u64)>,
    pub inbox_backlog: u64,
}

/// What the Socket Mode side says at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SocketGauges {
    pub live_connections: u64,
    pub disconnects: u64,
}

impl Metrics {
    /// This replica took or renewed the lease, in `term`.
    pub fn lease_held(&self, term: i64) {
        let mut l = self.leadership.lock().unwrap_or_else(|e| e.into_inner());
        if !l.leader || l.term != term {
            l.terms_started += 1;
        }
        *l = Leadership {
            leader: true,
            term,
            renewed: Some(std::time::Instant::now()),
            terms_started: l.terms_started,
        };
    }

    /// One process per database (SQLite): it leads for good, with no lease to age.
    pub fn leads_alone(&self) {
        let mut l = self.leadership.lock().unwrap_or_else(|e| e.into_inner());
        *l = Leadership {
            leader: true,
            term: 1,
            renewed: None,
            terms_started: 1,
        };
    }

    /// This replica does not (or no longer) lead.
    pub fn lease_lost(&self) {
        let mut l = self.leadership.lock().unwrap_or_else(|e| e.into_inner());
        l.leader = false;
        l.renewed = None;
    }

    /// Whether this replica leads, as last recorded.
    pub fn is_leader(&self) -> bool {
        self.leadership
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .leader
    }

    /// A Socket Mode envelope arrived (before it is handled).
    pub fn envelope_received(&self) {
        self.envelopes_received.fetch_add(1, Ordering::Relaxed);
    }

    /// An envelope was acked after `recording` (the time between receiving and acking).
    pub fn envelope_acked(&self, recording: Duration) {
        self.envelopes_acked.fetch_add(1, Ordering::Relaxed);
        let secs = recording.as_secs_f64();
        if let Some(i) = ACK_BUCKETS.iter().position(|b| secs <= *b) {
            self.ack_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.ack_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(recording.as_micros()).unwrap_or(u64::MAX);
        self.ack_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// A Socket Mode connection was replaced or reopened, for `reason` (`closed`, `error`,
    /// `ping_timeout`, `scheduled_refresh`, `warning`, `refresh_requested`, `link_disabled`,
    /// `other_disconnect`).
    pub fn socket_reconnect(&self, reason: &'static str) {
        *self
            .socket_reconnects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    /// Reconnects for `reason` so far.
    pub fn socket_reconnects_of(&self, reason: &str) -> u64 {
        self.socket_reconnects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(reason)
            .copied()
            .unwrap_or_default()
    }

    /// An event arrived whose inbox key was already recorded.
    pub fn envelope_redelivered(&self) {
        self.envelopes_redelivered.fetch_add(1, Ordering::Relaxed);
    }

    /// A queue message of `kind` was handled (and deleted).
    pub fn queue_message(&self, kind: &'static str) {
        *self
            .queue_messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    /// Queue messages of `kind` handled so far.
    pub fn queue_messages_of(&self, kind: &str) -> u64 {
        self.queue_messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(kind)
            .copied()
            .unwrap_or_default()
    }

    /// The alarm poll of `account` ("" for warroom's own) in `region` worked or failed.
    pub fn alarm_poll(&self, account: &str, region: &str, failed: bool) {
        self.alarm_polls_failing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert((account.to_string(), region.to_string()), failed);
    }

    /// Whether the last alarm poll of `account` in `region` failed (`None`: never polled).
    pub fn alarm_poll_failing(&self, account: &str, region: &str) -> Option<bool> {
        self.alarm_polls_failing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&(account.to_string(), region.to_string()))
            .copied()
    }

    /// A queue message could not be read as an event (logged and deleted).
    pub fn queue_message_malformed(&self) {
        self.queue_messages_malformed
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn queue_messages_malformed(&self) -> u64 {
        self.queue_messages_malformed.load(Ordering::Relaxed)
    }

    /// The worker set an event aside (it kept failing; `warroom inbox --failed` lists it).
    pub fn event_set_aside(&self) {
        self.events_set_aside.fetch_add(1, Ordering::Relaxed);
    }

    pub fn events_set_aside(&self) -> u64 {
        self.events_set_aside.load(Ordering::Relaxed)
    }

    /// `/readyz` checked that the database takes writes (at most once a second).
    pub fn readiness_database_checked(&self) {
        self.readiness_database_checks
            .fetch_add(1, Ordering::Relaxed);
    }

    /// One Web API call finished; `ok` is false for `ok:false`, HTTP and network errors.
    pub fn slack_call(&self, method: &'static str, ok: bool) {
        let mut calls = self
            .slack_calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = calls.entry(method).or_default();
        entry.0 += 1;
        if !ok {
            entry.1 += 1;
        }
    }

    /// One AWS call finished: `result` is `ok`, the service's error code, or `transport`.
    pub fn aws_call(&self, operation: &'static str, result: &str) {
        let mut calls = self
            .aws_calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *calls.entry((operation, result.to_string())).or_default() += 1;
    }

    /// Calls of one AWS operation with one result so far.
    pub fn aws_calls_of(&self, operation: &str, result: &str) -> u64 {
        let calls = self
            .aws_calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        calls
            .iter()
            .filter(|((op, r), _)| *op == operation && r == result)
            .map(|(_, n)| *n)
            .sum()
    }

    /// A timer fired `lag` after it was due.
    pub fn timer_fired(&self, lag: Duration) {
        self.timers_fired.fetch_add(1, Ordering::Relaxed);
        let millis = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
        self.timer_lag_millis.store(millis, Ordering::Relaxed);
    }

    /// A nudge of `kind` (`open_case`, `aws_quiet`, `stale_update`) was posted.
    pub fn nudge_fired(&self, kind: &'static str) {
        *self
            .nudges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    /// Nudges of `kind` posted so far.
    pub fn nudges_of(&self, kind: &str) -> u64 {
        self.nudges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(kind)
            .copied()
            .unwrap_or_default()
    }

    /// An alarm-opened incident got its first post, `took` after the poll that recorded
    /// the alarm (Slack's answers and pacing included: what responders wait for).
    pub fn alarm_war_room_opened(&self, took: Duration) {
        self.alarm_to_war_room.0.observe(took);
    }

    /// Calls and errors of one Web API method so far.
    pub fn slack_calls_of(&self, method: &str) -> (u64, u64) {
        let calls = self
            .slack_calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        calls.get(method).copied().unwrap_or_default()
    }

    pub fn envelopes(&self) -> (u64, u64, u64) {
        (
            self.envelopes_received.load(Ordering::Relaxed),
            self.envelopes_acked.load(Ordering::Relaxed),
            self.envelopes_redelivered.load(Ordering::Relaxed),
        )
    }

    /// The Prometheus text exposition (format 0.0.4). `store` is `None` when the database
    /// could not be read for this scrape; its gauges are then left out rather than faked.
    pub fn render(&self, store: Option<&StoreGauges>, socket: SocketGauges) -> String {
        let mut out = String::new();
        let (received, acked, redelivered) = self.envelopes();
        if let Some(store) = store {
            header(
                &mut out,
                "warroom_open_incidents",
                "gauge",
                "Incidents not resolved, by severity.",
            );
            for (severity, n) in &store.open_incidents {
                let _ = writeln!(
                    out,
                    "warroom_open_incidents{{severity=\"{}\"}} {n}",
                    label(severity)
                );
            }
            header(
                &mut out,
                "warroom_inbox_backlog",
                "gauge",
                "Recorded events not yet processed by the worker.",
            );
            let _ = writeln!(out, "warroom_inbox_backlog {}", store.inbox_backlog);
        }
        let lease = *self.leadership.lock().unwrap_or_else(|e| e.into_inner());
        header(
            &mut out,
            "warroom_leader",
            "gauge",
            "1 when this replica holds the lease (applies the inbox, runs timers, outbox and pollers), else 0.",
        );
        let _ = writeln!(out, "warroom_leader {}", u8::from(lease.leader));
        header(
            &mut out,
            "warroom_lease_term",
            "gauge",
            "The lease's term (fencing token) this replica last led in; 0 when it never led.",
        );
        let _ = writeln!(out, "warroom_lease_term {}", lease.term);
        if let Some(renewed) = lease.renewed.filter(|_| lease.leader) {
            header(
                &mut out,
                "warroom_lease_age_seconds",
                "gauge",
                "Seconds since the leader last took or renewed its lease (absent on followers).",
            );
            let _ = writeln!(
                out,
                "warroom_lease_age_seconds {}",
                renewed.elapsed().as_secs_f64()
            );
        }
        counter(
            &mut out,
            "warroom_leader_terms_total",
            "Times this replica became the leader.",
            lease.terms_started,
        );
        counter(
            &mut out,
            "warroom_envelopes_received_total",
            "Socket Mode envelopes received.",
            received,
        );
        counter(
            &mut out,
            "warroom_envelopes_acked_total",
            "Socket Mode envelopes acked (after their record committed).",
            acked,
        );
        counter(
            &mut out,
            "warroom_envelopes_redelivered_total",
            "Events delivered again whose inbox key was already recorded.",
            redelivered,
        );
        counter(
            &mut out,
            "warroom_events_set_aside_total",
            "Events the worker set aside because they kept failing (warroom inbox --failed).",
            self.events_set_aside(),
        );
        counter(
            &mut out,
            "warroom_queue_messages_malformed_total",
            "[events] queue messages that were not readable EventBridge events (logged and deleted).",
            self.queue_messages_malformed(),
        );
        header(
            &mut out,
            "warroom_queue_messages_total",
            "counter",
            "[events] queue messages handled and deleted, by kind (alarm, health, support_case, unknown, malformed, abandoned).",
        );
        let kinds: Vec<(&'static str, u64)> = self
            .queue_messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(k, n)| (*k, *n))
            .collect();
        for (kind, n) in kinds {
            let _ = writeln!(out, "warroom_queue_messages_total{{kind=\"{kind}\"}} {n}");
        }
        header(
            &mut out,
            "warroom_alarm_poll_failing",
            "gauge",
            "1 while the last CloudWatch alarm poll of an account (\"\" for warroom's own) and region failed.",
        );
        let polls: Vec<((String, String), bool)> = self
            .alarm_polls_failing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for ((account, region), failed) in polls {
            let _ = writeln!(
                out,
                "warroom_alarm_poll_failing{{account=\"{account}\",region=\"{region}\"}} {}",
                u8::from(failed)
            );
        }
        counter(
            &mut out,
            "warroom_readiness_database_checks_total",
            "Write checks of the database made for /readyz (at most one a second).",
            self.readiness_database_checks.load(Ordering::Relaxed),
        );

        header(
            &mut out,
            "warroom_ack_latency_seconds",
            "histogram",
            "Time from reading an envelope to writing its ack (recording included).",
        );
        let mut cumulative = 0;
        for (bound, n) in ACK_BUCKETS.iter().zip(&self.ack_buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "warroom_ack_latency_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.ack_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "warroom_ack_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.ack_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "warroom_ack_latency_seconds_sum {sum}");
        let _ = writeln!(out, "warroom_ack_latency_seconds_count {count}");

        let calls: Vec<(&'static str, (u64, u64))> = self
            .slack_calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(m, c)| (*m, *c))
            .collect();
        header(
            &mut out,
            "warroom_slack_api_calls_total",
            "counter",
            "Slack Web API calls, by method.",
        );
        for (method, (n, _)) in &calls {
            let _ = writeln!(
                out,
                "warroom_slack_api_calls_total{{method=\"{}\"}} {n}",
                label(method)
            );
        }
        header(
            &mut out,
            "warroom_slack_api_errors_total",
            "counter",
            "Slack Web API calls that failed (ok:false, HTTP or network errors), by method.",
        );
        for (method, (_, errors)) in &calls {
            let _ = writeln!(
                out,
                "warroom_slack_api_errors_total{{method=\"{}\"}} {errors}",
                label(method)
            );
        }

        header(
            &mut out,
            "warroom_socket_mode_connections",
            "gauge",
            "Socket Mode connections open (hello received, not dropped).",
        );
        let _ = writeln!(
            out,
            "warroom_socket_mode_connections {}",
            socket.live_connections
        );
        counter(
            &mut out,
            "warroom_socket_mode_disconnects_total",
            "Socket Mode connections lost or refreshed.",
            socket.disconnects,
        );
        header(
            &mut out,
            "warroom_socket_mode_reconnects_total",
            "counter",
            "Socket Mode connections replaced or reopened, by reason (closed, error, ping_timeout, scheduled_refresh, warning, refresh_requested, link_disabled, other_disconnect).",
        );
        let reconnects: Vec<(&'static str, u64)> = self
            .socket_reconnects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(k, n)| (*k, *n))
            .collect();
        for (reason, n) in reconnects {
            let _ = writeln!(
                out,
                "warroom_socket_mode_reconnects_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let aws: Vec<((&'static str, String), u64)> = self
            .aws_calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        header(
            &mut out,
            "warroom_aws_api_calls_total",
            "counter",
            "AWS API calls, by operation and result (ok, the error code, or transport).",
        );
        for ((operation, result), n) in &aws {
            let _ = writeln!(
                out,
                "warroom_aws_api_calls_total{{operation=\"{}\",result=\"{}\"}} {n}",
                label(operation),
                label(result)
            );
        }
        counter(
            &mut out,
            "warroom_timers_fired_total",
            "Timers (summaries, …) fired.",
            self.timers_fired.load(Ordering::Relaxed),
        );
        header(
            &mut out,
            "warroom_timer_lag_seconds",
            "gauge",
            "How late the last timer fired after its due time.",
        );
        let lag = self.timer_lag_millis.load(Ordering::Relaxed) as f64 / 1e3;
        let _ = writeln!(out, "warroom_timer_lag_seconds {lag}");
        header(
            &mut out,
            "warroom_nudges_total",
            "counter",
            "Nudges posted, by kind (open_case, aws_quiet, stale_update).",
        );
        let nudges: Vec<(&'static str, u64)> = self
            .nudges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(k, n)| (*k, *n))
            .collect();
        for kind in crate::domain::escalation::NudgeKind::ALL {
            let n = nudges
                .iter()
                .find(|(k, _)| *k == kind.as_str())
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(
                out,
                "warroom_nudges_total{{kind=\"{}\"}} {n}",
                kind.as_str()
            );
        }
        self.alarm_to_war_room.0.render(
            &mut out,
            "warroom_alarm_war_room_seconds",
            "Time from the alarm poll that recorded an ALARM to the first post in the war room it opened (Slack included).",
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

/// Escape a label value as the exposition format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_match_the_count() {
        let m = Metrics::default();
        m.envelope_acked(Duration::from_micros(300));
        m.envelope_acked(Duration::from_millis(3));
        m.envelope_acked(Duration::from_secs(5));
        let text = m.render(None, SocketGauges::default());
        assert_eq!(
            value(&text, "warroom_ack_latency_seconds_bucket{le=\"0.0005\"}"),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "warroom_ack_latency_seconds_bucket{le=\"0.005\"}"),
            Some(2.0)
        );
        assert_eq!(
            value(&text, "warroom_ack_latency_seconds_bucket{le=\"2.5\"}"),
            Some(2.0)
        );
        assert_eq!(
            value(&text, "warroom_ack_latency_seconds_bucket{le=\"+Inf\"}"),
            Some(3.0)
        );
        assert_eq!(value(&text, "warroom_ack_latency_seconds_count"), Some(3.0));
        let sum = value(&text, "warroom_ack_latency_seconds_sum").unwrap();
        assert!((sum - 5.0033).abs() < 1e-6, "{sum}");
    }

    #[test]
    fn slack_calls_and_errors_are_counted_per_method() {
        let m = Metrics::default();
        m.slack_call("chat.postMessage", true);
        m.slack_call("chat.postMessage", false);
        m.slack_call("pins.add", true);
        let text = m.render(None, SocketGauges::default());
        assert_eq!(
            value(
                &text,
                "warroom_slack_api_calls_total{method=\"chat.postMessage\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                "warroom_slack_api_errors_total{method=\"chat.postMessage\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "warroom_slack_api_errors_total{method=\"pins.add\"}"),
            Some(0.0)
        );
    }

    #[test]
    fn database_gauges_are_left_out_when_unknown() {
        let m = Metrics::default();
        assert!(!m
            .render(None, SocketGauges::default())
            .contains("warroom_open_incidents"));
        let gauges = StoreGauges {
            open_incidents: vec![("sev1".into(), 2)],
            inbox_backlog: 7,
        };
        let text = m.render(Some(&gauges), SocketGauges::default());
        assert_eq!(
            value(&text, "warroom_open_incidents{severity=\"sev1\"}"),
            Some(2.0)
        );
        assert_eq!(value(&text, "warroom_inbox_backlog"), Some(7.0));
    }

    #[test]
    fn alarm_to_war_room_times_are_a_histogram() {
        let m = Metrics::default();
        let name = "warroom_alarm_war_room_seconds";
        let text = m.render(None, SocketGauges::default());
        assert_eq!(value(&text, &format!("{name}_count")), Some(0.0));
        m.alarm_war_room_opened(Duration::from_millis(30));
        m.alarm_war_room_opened(Duration::from_millis(1_200));
        m.alarm_war_room_opened(Duration::from_secs(600));
        let text = m.render(None, SocketGauges::default());
        assert!(text.contains(&format!("# TYPE {name} histogram")));
        assert_eq!(
            value(&text, &format!("{name}_bucket{{le=\"0.05\"}}")),
            Some(1.0)
        );
        assert_eq!(
            value(&text, &format!("{name}_bucket{{le=\"2.5\"}}")),
            Some(2.0)
        );
        assert_eq!(
            value(&text, &format!("{name}_bucket{{le=\"300\"}}")),
            Some(2.0)
        );
        assert_eq!(
            value(&text, &format!("{name}_bucket{{le=\"+Inf\"}}")),
            Some(3.0)
        );
        let sum = value(&text, &format!("{name}_sum")).unwrap();
        assert!((sum - 601.23).abs() < 1e-6, "{sum}");
    }

    #[test]
    fn socket_reconnects_are_counted_by_reason() {
        let m = Metrics::default();
        m.socket_reconnect("ping_timeout");
        m.socket_reconnect("ping_timeout");
        m.socket_reconnect("refresh_requested");
        let text = m.render(None, SocketGauges::default());
        assert_eq!(
            value(
                &text,
                "warroom_socket_mode_reconnects_total{reason=\"ping_timeout\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                "warroom_socket_mode_reconnects_total{reason=\"refresh_requested\"}"
            ),
            Some(1.0)
        );
        assert_eq!(m.socket_reconnects_of("closed"), 0);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

/// The shape of `/metrics` that dashboards and alerts depend on, pinned in a fixture taken
/// from the hand-written exposition before the move to `prometheus-client`: every series
/// name with its family's type and HELP and its label names. Values and label values are
/// left out (they depend on what happened), and so is how a family is named in its
/// `# TYPE` line (`x_total` in text format 0.0.4, `x` in OpenMetrics): a series is matched
/// to the family whose name is its longest prefix.
#[cfg(test)]
mod shape {
    use super::*;
    use std::collections::BTreeSet;

    /// A `Metrics` with every family holding at least one series.
    pub(super) fn exercised() -> String {
        let m = Metrics::default();
        m.lease_held(3);
        m.envelope_received();
        m.envelope_acked(Duration::from_millis(2));
        m.envelope_redelivered();
        m.socket_reconnect("ping_timeout");
        m.queue_message("alarm");
        m.queue_message_malformed();
        m.alarm_poll("", "eu-west-1", true);
        m.event_set_aside();
        m.readiness_database_checked();
        m.slack_call("chat.postMessage", false);
        m.aws_call("DescribeAlarms", "ok");
        m.timer_fired(Duration::from_millis(40));
        m.nudge_fired("open_case");
        m.alarm_war_room_opened(Duration::from_secs(2));
        let store = StoreGauges {
            open_incidents: vec![("sev1".into(), 1), ("sev2".into(), 0)],
            inbox_backlog: 2,
        };
        let socket = SocketGauges {
            live_connections: 1,
            disconnects: 1,
        };
        m.render(Some(&store), socket)
    }

    /// `series type {labels} help`, one line per distinct series shape, sorted.
    pub(super) fn shape_of(text: &str) -> String {
        let mut families: Vec<(String, String, String)> = Vec::new();
        let mut helps = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                helps.insert(name.to_string(), help.to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
                let help = helps.get(name).cloned().unwrap_or_default();
                families.push((name.to_string(), kind.to_string(), help));
            }
        }
        let mut shapes = BTreeSet::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let series = &line[..end];
            let labels: BTreeSet<&str> = match line[end..].strip_prefix('{') {
                Some(rest) => rest[..rest.find('}').unwrap_or(0)]
                    .split(',')
                    .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
                    .collect(),
                None => BTreeSet::new(),
            };
            let family = families
                .iter()
                .filter(|(name, _, _)| series.starts_with(name.as_str()))
                .max_by_key(|(name, _, _)| name.len());
            let (kind, help) = family.map_or(("?", ""), |(_, k, h)| (k.as_str(), h.as_str()));
            let labels: Vec<&str> = labels.into_iter().collect();
            shapes.insert(format!("{series} {kind} {{{}}} {help}", labels.join(",")));
        }
        shapes.into_iter().map(|s| s + "\n").collect()
    }

    #[test]
    fn the_exposition_keeps_its_series_types_labels_and_help() {
        let shape = shape_of(&exercised());
        if std::env::var_os("WARROOM_BLESS").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ops/metrics.shape");
            std::fs::write(path, &shape).unwrap();
        }
        assert_eq!(shape, include_str!("metrics.shape"));
    }
}
