//! The client against the emulator's real Socket Mode, with a sink whose records the test
//! can hold back or fail: what is acked when, and how much is read while records wait.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Semaphore;

use super::*;
use crate::slack::web::build_client;
use crate::slack_emulator::{EmulatorConfig, EnvelopeRecord, SlackEmulator};

const DEADLINE: Duration = Duration::from_secs(30);

/// Records into a list once the gate lets it; messages whose text is in `failing` fail
/// instead.
struct GatedSink {
    gate: Semaphore,
    in_record: AtomicUsize,
    recorded: Mutex<Vec<String>>,
    failing: Mutex<HashSet<String>>,
}

impl GatedSink {
    fn new(open: bool) -> Arc<GatedSink> {
        Arc::new(GatedSink {
            gate: Semaphore::new(if open { Semaphore::MAX_PERMITS } else { 0 }),
            in_record: AtomicUsize::new(0),
            recorded: Mutex::new(Vec::new()),
            failing: Mutex::new(HashSet::new()),
        })
    }

    fn recorded(&self) -> Vec<String> {
        self.recorded.lock().unwrap().clone()
    }
}

impl EventSink for GatedSink {
    fn record(&self, key: String, inbound: Inbound) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            self.in_record.fetch_add(1, Ordering::SeqCst);
            let permit = self.gate.acquire().await;
            self.in_record.fetch_sub(1, Ordering::SeqCst);
            permit?.forget();
            let text = match &inbound {
                Inbound::Message { text, .. } => text.clone(),
                _ => String::new(),
            };
            if self.failing.lock().unwrap().contains(&text) {
                anyhow::bail!("the disk is full");
            }
            self.recorded.lock().unwrap().push(key);
            Ok(())
        })
    }

    fn command(&self, inv: CommandInvocation) -> BoxFuture<'_, anyhow::Result<Option<Outgoing>>> {
        Box::pin(async move { Ok(Some(Outgoing::text(format!("you said {}", inv.text)))) })
    }
}

struct Client {
    emu: SlackEmulator,
    socket: SocketMode,
    metrics: Arc<Metrics>,
}

async fn start(config: EmulatorConfig, sink: Arc<GatedSink>, options: SocketOptions) -> Client {
    crate::tls::install_crypto_provider();
    let emu = SlackEmulator::start(config).await.expect("emulator");
    emu.add_user("U0ALICE", "alice");
    let web = build_client(&emu.api_url(), false).expect("client");
    let metrics = Arc::new(Metrics::default());
    let connections = options.connections as usize;
    let socket = SocketMode::start(
        web,
        &secrecy::SecretString::from(emu.config().app_token.clone()),
        sink,
        emu.config().bot_user_id.clone(),
        Arc::new(SocketStatus::default()),
        metrics.clone(),
        options,
    )
    .await
    .expect("socket mode starts");
    emu.wait_for_connections(connections, DEADLINE)
        .await
        .expect("connected");
    Client {
        emu,
        socket,
        metrics,
    }
}

fn message(n: usize) -> serde_json::Value {
    json!({"type": "message", "channel": "C0LOAD", "user": "U0ALICE", "text": format!("m{n}"),
        "ts": format!("1800000000.{n:06}")})
}

fn event_envelopes(emu: &SlackEmulator) -> Vec<EnvelopeRecord> {
    emu.envelopes()
        .into_iter()
        .filter(|e| e.event_id.is_some())
        .collect()
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = tokio::time::Instant::now() + DEADLINE;
    while !f() {
        assert!(
            tokio::time::Instant::now() < until,
            "{what} within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// While records wait, at most `max_in_flight` envelopes are read; none of them is acked
/// before its record is done; then every envelope is recorded and acked.
#[tokio::test]
async fn reading_pauses_at_the_in_flight_bound_and_acks_wait_for_their_records() {
    let sink = GatedSink::new(false);
    let mut options = SocketOptions::new(1);
    options.max_in_flight = 4;
    let client = start(EmulatorConfig::default(), sink.clone(), options).await;
    let event_ids: Vec<String> = (0..20).map(|n| client.emu.push_event(message(n))).collect();

    wait_for("four records waiting", || {
        sink.in_record.load(Ordering::SeqCst) == 4
    })
    .await;
    // Reading stopped at the bound: the other sixteen were not even taken off the socket.
    assert_eq!(client.metrics.envelopes().0, 4);
    assert!(
        event_envelopes(&client.emu)
            .iter()
            .all(|e| e.acked_at.is_none()),
        "nothing is acked before its record"
    );

    sink.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    client
        .emu
        .wait_unacked_at_most(0, DEADLINE)
        .await
        .expect("all acked");
    let recorded = sink.recorded();
    let want: Vec<String> = event_ids.iter().map(|id| format!("ev:{id}")).collect();
    assert_eq!(recorded, want, "each recorded once, in arrival order");
    assert_eq!(client.metrics.envelopes().1, 20);
    client.socket.shutdown().await;
}

/// An envelope whose record fails is not acked, and Slack's retry is recorded.
#[tokio::test]
async fn a_failed_record_is_not_acked_and_its_retry_is() {
    let sink = GatedSink::new(true);
    let client = start(
        EmulatorConfig {
            ack_timeout: Duration::from_millis(300),
            max_retries: 50,
            ..EmulatorConfig::default()
        },
        sink.clone(),
        SocketOptions::new(1),
    )
    .await;
    sink.failing.lock().unwrap().insert("m2".to_string());
    let good = client.emu.push_event(message(1));
    let bad = client.emu.push_event(message(2));
    let bad_key = format!("ev:{bad}");
    wait_for("the good event recorded", || {
        sink.recorded().contains(&format!("ev:{good}"))
    })
    .await;
    // The failing event is not acked, so Slack tries again.
    wait_for("the failing event attempted twice", || {
        event_envelopes(&client.emu)
            .iter()
            .filter(|e| e.event_id.as_deref() == Some(bad.as_str()))
            .count()
            >= 2
    })
    .await;
    sink.failing.lock().unwrap().clear();
    client
        .emu
        .wait_unacked_at_most(0, DEADLINE)
        .await
        .expect("the retry is acked");
    let attempts: Vec<EnvelopeRecord> = event_envelopes(&client.emu)
        .into_iter()
        .filter(|e| e.event_id.as_deref() == Some(bad.as_str()))
        .collect();
    assert!(
        attempts[0].acked_at.is_none(),
        "the failed attempt was not acked"
    );
    assert!(attempts.iter().any(|e| e.acked_at.is_some()));
    assert_eq!(sink.recorded().iter().filter(|k| **k == bad_key).count(), 1);
    client.socket.shutdown().await;
}

/// A connection that goes silent (no frame, no pong) is given up within a ping interval
/// and a pong time-out and replaced; what was sent into it is redelivered and recorded.
#[tokio::test]
async fn a_silent_connection_is_noticed_by_its_ping_and_replaced() {
    let sink = GatedSink::new(true);
    let mut options = SocketOptions::new(1);
    options.ping_interval = Duration::from_millis(200);
    options.pong_timeout = Duration::from_millis(300);
    let client = start(
        EmulatorConfig {
            ack_timeout: Duration::from_millis(500),
            max_retries: 50,
            ..EmulatorConfig::default()
        },
        sink.clone(),
        options,
    )
    .await;
    client.emu.stall_connections(Duration::from_secs(3_600));
    let id = client.emu.push_event(message(7));
    client
        .emu
        .wait_until(DEADLINE, |ws| {
            (ws.socket_connections.len() >= 2 && ws.live_connections >= 2).then_some(())
        })
        .await
        .expect("a second connection");
    client
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.envelopes
                .iter()
                .any(|e| e.event_id.as_deref() == Some(id.as_str()) && e.acked_at.is_some())
                .then_some(())
        })
        .await
        .expect("the event sent into the silent connection is acked on the new one");
    assert_eq!(sink.recorded(), vec![format!("ev:{id}")]);
    assert!(client.metrics.socket_reconnects_of("ping_timeout") >= 1);
    client.socket.shutdown().await;
}

/// Records held for many ping intervals: reading is paused on purpose then, so the
/// connection is not taken for dead, and once the records finish everything is acked on
/// the same connection.
#[tokio::test]
async fn a_connection_paused_by_slow_records_is_not_taken_for_dead() {
    let sink = GatedSink::new(false);
    let mut options = SocketOptions::new(1);
    options.max_in_flight = 2;
    options.ping_interval = Duration::from_millis(100);
    options.pong_timeout = Duration::from_millis(100);
    let client = start(
        EmulatorConfig {
            ack_timeout: Duration::from_secs(20),
            ..EmulatorConfig::default()
        },
        sink.clone(),
        options,
    )
    .await;
    for n in 0..6 {
        client.emu.push_event(message(n));
    }
    wait_for("two records waiting", || {
        sink.in_record.load(Ordering::SeqCst) == 2
    })
    .await;
    // The database is slow for 1.5 s: fifteen ping intervals.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    sink.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    client
        .emu
        .wait_unacked_at_most(0, DEADLINE)
        .await
        .expect("all acked");
    assert_eq!(sink.recorded().len(), 6);
    assert_eq!(client.metrics.socket_reconnects_of("ping_timeout"), 0);
    assert_eq!(
        client.emu.workspace().socket_connections.len(),
        1,
        "one connection throughout"
    );
    client.socket.shutdown().await;
}

/// Several connections, each replaced ahead of Slack's own refresh, one at a time: Slack
/// never refreshes one itself and the live count never drops below the configured number.
#[tokio::test]
async fn connections_are_refreshed_before_slack_does_it_and_never_all_at_once() {
    let sink = GatedSink::new(true);
    let mut options = SocketOptions::new(2);
    // Slack would refresh at 6 s; warroom does it between 1.5 and 2.4 s.
    options.refresh_window = (0.25, 0.4);
    let client = start(
        EmulatorConfig {
            connection_lifetime: Duration::from_secs(6),
            ..EmulatorConfig::default()
        },
        sink.clone(),
        options,
    )
    .await;
    let posted = AtomicU64::new(0);
    // Events keep flowing while the connections are replaced.
    let feeding = async {
        while client
            .emu
            .workspace()
            .socket_connections
            .iter()
            .take(2)
            .any(|c| c.closed_at.is_none())
        {
            client
                .emu
                .push_event(message(posted.fetch_add(1, Ordering::SeqCst) as usize));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, feeding)
        .await
        .expect("both first connections replaced");
    client
        .emu
        .wait_unacked_at_most(0, DEADLINE)
        .await
        .expect("all acked");
    let ws = client.emu.workspace();
    for c in ws.socket_connections.iter().take(2) {
        assert_eq!(
            c.closed_by,
            Some(crate::slack_emulator::ClosedBy::App),
            "connection {} was refreshed by Slack, not ahead of it",
            c.id
        );
    }
    // Sweep the connections' lives: once two were up, never fewer than two.
    let mut changes: Vec<(chrono::DateTime<chrono::Utc>, i32)> = Vec::new();
    for c in &ws.socket_connections {
        changes.push((c.opened_at, 1));
        if let Some(t) = c.retired_at {
            changes.push((t, -1));
        }
    }
    changes.sort();
    let (mut live, mut seen_two) = (0, false);
    for (at, change) in changes {
        live += change;
        seen_two |= live >= 2;
        assert!(
            !seen_two || live >= 2,
            "only {live} connection(s) at {at}: {:?}",
            ws.socket_connections
        );
    }
    let n = posted.load(Ordering::SeqCst) as usize;
    let recorded: HashSet<String> = sink.recorded().into_iter().collect();
    assert_eq!(recorded.len(), n, "every event recorded");
    assert!(client.metrics.socket_reconnects_of("scheduled_refresh") >= 2);
    client.socket.shutdown().await;
}

/// Acks leave at once: the WebSocket's TCP connection has Nagle's algorithm off.
#[tokio::test]
async fn connections_are_opened_with_nagle_off() {
    crate::tls::install_crypto_provider();
    let emu = SlackEmulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let web = build_client(&emu.api_url(), false).expect("client");
    let token = SlackApiToken::new(SlackApiTokenValue(emu.config().app_token.clone()));
    let url = web
        .open_session(&token)
        .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
        .await
        .expect("a WebSocket URL")
        .url
        .0
        .to_string();
    let ws = connect(&url).await.expect("connected");
    let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() else {
        panic!("the emulator speaks plain ws://")
    };
    assert!(tcp.nodelay().expect("socket option"));
}

#[test]
fn backoff_grows_to_half_a_minute_and_keeps_some_jitter() {
    for failures in 1..40 {
        let cap = Duration::from_millis(500 << (failures - 1).min(6)).min(Duration::from_secs(30));
        let got = backoff(failures);
        assert!(
            got <= cap && got >= cap / 2,
            "{failures}: {got:?} vs {cap:?}"
        );
    }
    assert_eq!(
        backoff(30).max(Duration::from_secs(30)),
        Duration::from_secs(30)
    );
}
