//! Process-wide counters for `/metrics`, kept in `prometheus-client` metrics and rendered
//! by its OpenMetrics text encoder.
//!
//! It sits at the bottom of the crate, beside the domain: the Slack and AWS adapters, the
//! lease and the service count into it, and `ops::health` (above them) serves it. One
//! [`Metrics`] per running bot (not a global), so several bots in one test process do not
//! count each other's work. The hot paths only touch atomics (the labelled families take a
//! short read lock). Gauges that live in the database (open incidents, inbox backlog) or in
//! the Socket Mode client are read at scrape time by `ops::health` and passed to
//! [`Metrics::render`], which registers them with this scrape's registry only, so what is
//! unknown (the database did not answer, a follower's lease age) is left out, not faked.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::domain::escalation::NudgeKind;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the ack latency buckets. Slack wants an ack within 3 s; the
/// interesting range is the few milliseconds a SQLite commit takes.
const ACK_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Upper bounds (seconds) of the alarm → war room buckets. A war room takes a handful of
/// Slack calls (and `chat.postMessage` is paced at 1/s), so seconds are normal; minutes
/// mean Slack was rate limiting or failing.
const ALARM_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// A label set: `(name, value)` pairs in the order they are written.
type Labels = Vec<(&'static str, String)>;

fn labels<const N: usize>(pairs: [(&'static str, &str); N]) -> Labels {
    pairs.into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

/// Counters of one running bot.
#[derive(Debug)]
pub struct Metrics {
    envelopes_received: Counter,
    envelopes_acked: Counter,
    envelopes_redelivered: Counter,
    /// Envelope read → ack written.
    ack_latency: Histogram,
    /// Web API calls by `method`.
    slack_calls: Family<Labels, Counter>,
    /// Failed Web API calls by `method` (a zero series for every method called).
    slack_errors: Family<Labels, Counter>,
    /// AWS calls by `operation` and `result` (`ok` or the error code).
    aws_calls: Family<Labels, Counter>,
    timers_fired: Counter,
    /// How late the last timer fired, in seconds (due time → fired), to the millisecond.
    timer_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Nudges posted by `kind` (every kind present from the start, at zero).
    nudges: Family<Labels, Counter>,
    /// Alarm recorded by a poll → first post in the war room it opened.
    alarm_to_war_room: Histogram,
    /// This replica's lease: whether it leads, its term, when it was last taken or renewed.
    leadership: Mutex<Leadership>,
    /// Socket Mode connections replaced or reopened, by `reason`.
    socket_reconnects: Family<Labels, Counter>,
    /// Events the worker set aside because they kept failing.
    events_set_aside: Counter,
    /// Write checks of the database made for `/readyz`.
    readiness_database_checks: Counter,
    /// `[events]` queue messages handled and deleted, by `kind` (alarm, health,
    /// support_case, unknown, malformed, abandoned).
    queue_messages: Family<Labels, Counter>,
    /// `[events]` queue messages that were not EventBridge events warroom can read: logged
    /// (by message id), counted here and deleted.
    queue_messages_malformed: Counter,
    /// 1 while the last alarm poll of (`account`, `region`) failed; account "" is
    /// warroom's own. Labels come from the validated config.
    alarm_polls_failing: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let nudges = Family::<Labels, Counter>::default();
        for kind in NudgeKind::ALL {
            nudges.get_or_create_owned(&labels([("kind", kind.as_str())]));
        }
        Metrics {
            envelopes_received: Counter::default(),
            envelopes_acked: Counter::default(),
            envelopes_redelivered: Counter::default(),
            ack_latency: Histogram::new(ACK_BUCKETS),
            slack_calls: Family::default(),
            slack_errors: Family::default(),
            aws_calls: Family::default(),
            timers_fired: Counter::default(),
            timer_lag: Gauge::default(),
            nudges,
            alarm_to_war_room: Histogram::new(ALARM_BUCKETS),
            leadership: Mutex::default(),
            socket_reconnects: Family::default(),
            events_set_aside: Counter::default(),
            readiness_database_checks: Counter::default(),
            queue_messages: Family::default(),
            queue_messages_malformed: Counter::default(),
            alarm_polls_failing: Family::default(),
        }
    }
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

/// A count as a gauge value (counts never come near `i64::MAX`).
fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
        self.envelopes_received.inc();
    }

    /// An envelope was acked after `recording` (the time between receiving and acking).
    pub fn envelope_acked(&self, recording: Duration) {
        self.envelopes_acked.inc();
        self.ack_latency.observe(recording.as_secs_f64());
    }

    /// A Socket Mode connection was replaced or reopened, for `reason` (`closed`, `error`,
    /// `ping_timeout`, `scheduled_refresh`, `warning`, `refresh_requested`, `link_disabled`,
    /// `other_disconnect`).
    pub fn socket_reconnect(&self, reason: &'static str) {
        self.socket_reconnects
            .get_or_create(&labels([("reason", reason)]))
            .inc();
    }

    /// Reconnects for `reason` so far.
    pub fn socket_reconnects_of(&self, reason: &str) -> u64 {
        count_of(&self.socket_reconnects, &labels([("reason", reason)]))
    }

    /// An event arrived whose inbox key was already recorded.
    pub fn envelope_redelivered(&self) {
        self.envelopes_redelivered.inc();
    }

    /// A queue message of `kind` was handled (and deleted).
    pub fn queue_message(&self, kind: &'static str) {
        self.queue_messages
            .get_or_create(&labels([("kind", kind)]))
            .inc();
    }

    /// Queue messages of `kind` handled so far.
    pub fn queue_messages_of(&self, kind: &str) -> u64 {
        count_of(&self.queue_messages, &labels([("kind", kind)]))
    }

    /// The alarm poll of `account` ("" for warroom's own) in `region` worked or failed.
    pub fn alarm_poll(&self, account: &str, region: &str, failed: bool) {
        self.alarm_polls_failing
            .get_or_create(&labels([("account", account), ("region", region)]))
            .set(i64::from(failed));
    }

    /// Whether the last alarm poll of `account` in `region` failed (`None`: never polled).
    pub fn alarm_poll_failing(&self, account: &str, region: &str) -> Option<bool> {
        self.alarm_polls_failing
            .get(&labels([("account", account), ("region", region)]))
            .map(|g| g.get() != 0)
    }

    /// A queue message could not be read as an event (logged and deleted).
    pub fn queue_message_malformed(&self) {
        self.queue_messages_malformed.inc();
    }

    pub fn queue_messages_malformed(&self) -> u64 {
        self.queue_messages_malformed.get()
    }

    /// The worker set an event aside (it kept failing; `warroom inbox --failed` lists it).
    pub fn event_set_aside(&self) {
        self.events_set_aside.inc();
    }

    pub fn events_set_aside(&self) -> u64 {
        self.events_set_aside.get()
    }

    /// `/readyz` checked that the database takes writes (at most once a second).
    pub fn readiness_database_checked(&self) {
        self.readiness_database_checks.inc();
    }

    /// One Web API call finished; `ok` is false for `ok:false`, HTTP and network errors.
    pub fn slack_call(&self, method: &'static str, ok: bool) {
        let method = labels([("method", method)]);
        self.slack_calls.get_or_create(&method).inc();
        let errors = self.slack_errors.get_or_create(&method);
        if !ok {
            errors.inc();
        }
    }

    /// One AWS call finished: `result` is `ok`, the service's error code, or `transport`.
    pub fn aws_call(&self, operation: &'static str, result: &str) {
        self.aws_calls
            .get_or_create(&labels([("operation", operation), ("result", result)]))
            .inc();
    }

    /// Calls of one AWS operation with one result so far.
    pub fn aws_calls_of(&self, operation: &str, result: &str) -> u64 {
        count_of(
            &self.aws_calls,
            &labels([("operation", operation), ("result", result)]),
        )
    }

    /// A timer fired `lag` after it was due.
    pub fn timer_fired(&self, lag: Duration) {
        self.timers_fired.inc();
        let millis = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
        self.timer_lag.set(millis as f64 / 1e3);
    }

    /// A nudge of `kind` (`open_case`, `aws_quiet`, `stale_update`) was posted.
    pub fn nudge_fired(&self, kind: &'static str) {
        self.nudges.get_or_create(&labels([("kind", kind)])).inc();
    }

    /// Nudges of `kind` posted so far.
    pub fn nudges_of(&self, kind: &str) -> u64 {
        count_of(&self.nudges, &labels([("kind", kind)]))
    }

    /// An alarm-opened incident got its first post, `took` after the poll that recorded
    /// the alarm (Slack's answers and pacing included: what responders wait for).
    pub fn alarm_war_room_opened(&self, took: Duration) {
        self.alarm_to_war_room.observe(took.as_secs_f64());
    }

    /// Calls and errors of one Web API method so far.
    pub fn slack_calls_of(&self, method: &str) -> (u64, u64) {
        let method = labels([("method", method)]);
        (
            count_of(&self.slack_calls, &method),
            count_of(&self.slack_errors, &method),
        )
    }

    pub fn envelopes(&self) -> (u64, u64, u64) {
        (
            self.envelopes_received.get(),
            self.envelopes_acked.get(),
            self.envelopes_redelivered.get(),
        )
    }

    /// The OpenMetrics text exposition ([`CONTENT_TYPE`]). `store` is `None` when the
    /// database could not be read for this scrape; its gauges are then left out rather
    /// than faked.
    pub fn render(&self, store: Option<&StoreGauges>, socket: SocketGauges) -> String {
        // A registry per scrape: the live metrics are shared handles (clones count into
        // the same atomics), the scrape-time gauges are constants of this scrape.
        let mut r = Registry::default();
        if let Some(store) = store {
            let open = Family::<Labels, Gauge>::default();
            for (severity, n) in &store.open_incidents {
                open.get_or_create(&labels([("severity", severity)]))
                    .set(gauge_value(*n));
            }
            register(
                &mut r,
                "warroom_open_incidents",
                "Incidents not resolved, by severity.",
                open,
            );
            register(
                &mut r,
                "warroom_inbox_backlog",
                "Recorded events not yet processed by the worker.",
                ConstGauge::new(gauge_value(store.inbox_backlog)),
            );
        }
        let lease = *self.leadership.lock().unwrap_or_else(|e| e.into_inner());
        register(
            &mut r,
            "warroom_leader",
            "1 when this replica holds the lease (applies the inbox, runs timers, outbox and pollers), else 0.",
            ConstGauge::new(i64::from(lease.leader)),
        );
        register(
            &mut r,
            "warroom_lease_term",
            "The lease's term (fencing token) this replica last led in; 0 when it never led.",
            ConstGauge::new(lease.term),
        );
        if let Some(renewed) = lease.renewed.filter(|_| lease.leader) {
            register(
                &mut r,
                "warroom_lease_age_seconds",
                "Seconds since the leader last took or renewed its lease (absent on followers).",
                ConstGauge::new(renewed.elapsed().as_secs_f64()),
            );
        }
        register(
            &mut r,
            "warroom_leader_terms_total",
            "Times this replica became the leader.",
            ConstCounter::new(lease.terms_started),
        );
        register(
            &mut r,
            "warroom_envelopes_received_total",
            "Socket Mode envelopes received.",
            self.envelopes_received.clone(),
        );
        register(
            &mut r,
            "warroom_envelopes_acked_total",
            "Socket Mode envelopes acked (after their record committed).",
            self.envelopes_acked.clone(),
        );
        register(
            &mut r,
            "warroom_envelopes_redelivered_total",
            "Events delivered again whose inbox key was already recorded.",
            self.envelopes_redelivered.clone(),
        );
        register(
            &mut r,
            "warroom_events_set_aside_total",
            "Events the worker set aside because they kept failing (warroom inbox --failed).",
            self.events_set_aside.clone(),
        );
        register(
            &mut r,
            "warroom_queue_messages_malformed_total",
            "[events] queue messages that were not readable EventBridge events (logged and deleted).",
            self.queue_messages_malformed.clone(),
        );
        register(
            &mut r,
            "warroom_queue_messages_total",
            "[events] queue messages handled and deleted, by kind (alarm, health, support_case, unknown, malformed, abandoned).",
            self.queue_messages.clone(),
        );
        register(
            &mut r,
            "warroom_alarm_poll_failing",
            "1 while the last CloudWatch alarm poll of an account (\"\" for warroom's own) and region failed.",
            self.alarm_polls_failing.clone(),
        );
        register(
            &mut r,
            "warroom_readiness_database_checks_total",
            "Write checks of the database made for /readyz (at most one a second).",
            self.readiness_database_checks.clone(),
        );
        register(
            &mut r,
            "warroom_ack_latency_seconds",
            "Time from reading an envelope to writing its ack (recording included).",
            self.ack_latency.clone(),
        );
        register(
            &mut r,
            "warroom_slack_api_calls_total",
            "Slack Web API calls, by method.",
            self.slack_calls.clone(),
        );
        register(
            &mut r,
            "warroom_slack_api_errors_total",
            "Slack Web API calls that failed (ok:false, HTTP or network errors), by method.",
            self.slack_errors.clone(),
        );
        register(
            &mut r,
            "warroom_socket_mode_connections",
            "Socket Mode connections open (hello received, not dropped).",
            ConstGauge::new(socket.live_connections),
        );
        register(
            &mut r,
            "warroom_socket_mode_disconnects_total",
            "Socket Mode connections lost or refreshed.",
            ConstCounter::new(socket.disconnects),
        );
        register(
            &mut r,
            "warroom_socket_mode_reconnects_total",
            "Socket Mode connections replaced or reopened, by reason (closed, error, ping_timeout, scheduled_refresh, warning, refresh_requested, link_disabled, other_disconnect).",
            self.socket_reconnects.clone(),
        );
        register(
            &mut r,
            "warroom_aws_api_calls_total",
            "AWS API calls, by operation and result (ok, the error code, or transport).",
            self.aws_calls.clone(),
        );
        register(
            &mut r,
            "warroom_timers_fired_total",
            "Timers (summaries, …) fired.",
            self.timers_fired.clone(),
        );
        register(
            &mut r,
            "warroom_timer_lag_seconds",
            "How late the last timer fired after its due time.",
            self.timer_lag.clone(),
        );
        register(
            &mut r,
            "warroom_nudges_total",
            "Nudges posted, by kind (open_case, aws_quiet, stale_update).",
            self.nudges.clone(),
        );
        register(
            &mut r,
            "warroom_alarm_war_room_seconds",
            "Time from the alarm poll that recorded an ALARM to the first post in the war room it opened (Slack included).",
            self.alarm_to_war_room.clone(),
        );
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &r) {
            // Writing to a String does not fail, and no metric here refuses to encode.
            tracing::warn!(error = %e, "metrics: cannot encode the exposition");
        }
        out
    }
}

/// Register `metric` under the series name dashboards know: the encoder adds `_total` to
/// counters and a period to the help, so both are taken off here first.
fn register(
    r: &mut Registry,
    name: &str,
    help: &str,
    metric: impl prometheus_client::registry::Metric,
) {
    let name = name.strip_suffix("_total").unwrap_or(name);
    r.register(name, help.strip_suffix('.').unwrap_or(help), metric);
}

/// A labelled counter's value, without creating the series when it was never counted.
fn count_of(family: &Family<Labels, Counter>, labels: &Labels) -> u64 {
    family.get(labels).map_or(0, |c| c.get())
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
            value(&text, &format!("{name}_bucket{{le=\"300.0\"}}")),
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
        let m = Metrics::default();
        m.aws_call("DescribeAlarms", "a\"b\\c\nd");
        let text = m.render(None, SocketGauges::default());
        assert_eq!(
            value(
                &text,
                "warroom_aws_api_calls_total{operation=\"DescribeAlarms\",result=\"a\\\"b\\\\c\\nd\"}"
            ),
            Some(1.0),
            "{text}"
        );
    }

    #[test]
    fn bucket_bounds_and_the_end_of_the_exposition() {
        let m = Metrics::default();
        let text = m.render(None, SocketGauges::default());
        let bounds: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("warroom_ack_latency_seconds_bucket{le=\""))
            .filter_map(|l| l.split_once('"').map(|(b, _)| b))
            .collect();
        assert_eq!(
            bounds,
            [
                "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                "0.5", "1.0", "2.5", "+Inf"
            ]
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        // Counters keep their `_total` series names; reading a count creates no series.
        assert_eq!(m.socket_reconnects_of("closed"), 0);
        assert!(!m
            .render(None, SocketGauges::default())
            .contains("reason=\"closed\""));
        assert_eq!(value(&text, "warroom_envelopes_received_total"), Some(0.0));
        assert_eq!(
            value(&text, "warroom_nudges_total{kind=\"open_case\"}"),
            Some(0.0)
        );
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
    use std::collections::{BTreeMap, BTreeSet};

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
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/metrics.shape");
            std::fs::write(path, &shape).unwrap();
        }
        assert_eq!(shape, include_str!("metrics.shape"));
    }
}
