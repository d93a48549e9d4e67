//! Figure 3: alarm to war room, and the alarm storm (`load alarm`, `load storm`).
//!
//! The release binary polls the in-memory CloudWatch of [`AwsFake`] (alarms set with
//! [`AwsFake::set_alarm`]) and talks to the in-crate Slack emulator, both in this process.
//! Between the bot and each of them sits a [`TimingProxy`]: it forwards every HTTP request
//! and notes when it arrived and when the answer was back from upstream. That is how
//! "excluding Slack's own time" is measured: what AWS and Slack spend answering is the sum
//! of their exchanges, and warroom's own time is what is left between the poll that saw the
//! alarm and the first `chat.postMessage` into the new channel.
//!
//! - `alarm`: `--alarms` alarms, one at a time, each opening its own incident (correlation
//!   window 1 ms). Before each, Slack has been quiet for 1.1 s: slack-morphism paces
//!   `chat.postMessage` at 1/s for the whole workspace, and the figure is about an alarm
//!   that meets an idle bot, not about that queue. Per alarm: poll → header (the first
//!   `chat.postMessage` into the channel) and poll → the alarm's details post (the second,
//!   so it includes slack-morphism's 1 s pacing), each with and without Slack's time.
//! - `storm`: `--storm-alarms` alarms over `--storm-routes` routes go to ALARM at once, with
//!   the production rate limits on (`proactive_rate_limits` left at its default): time from
//!   the poll that sees them until every one is recorded, on a timeline, every incident has
//!   a channel, and every war room has its posts; and the busiest minute of
//!   `conversations.create` and second of `chat.postMessage`, against Slack's limits.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{HOST, TRANSFER_ENCODING};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::Utc;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HttpClient;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use warroom::aws::fake::{AwsFake, CloudWatchBackend, FakeAlarm, MotoServer};

use super::{cpu_secs, percentile, Args, Results, World, BOB, DEADLINE};

pub(super) const REGION: &str = "us-east-1";
/// How long Slack must have been quiet before an alarm of the latency scenario: longer
/// than slack-morphism's 1 s spacing of `chat.postMessage`.
pub(super) const QUIET: Duration = Duration::from_millis(1_100);
/// Slack's Tier 2 (`conversations.create`): 20 calls per minute.
pub(super) const TIER2_PER_MINUTE: usize = 20;
/// How long a storm may take before the run gives up.
pub(super) const STORM_DEADLINE: Duration = Duration::from_secs(900);

// --- the timing proxy ---

/// One HTTP exchange a [`TimingProxy`] forwarded.
#[derive(Debug, Clone)]
pub(super) struct Hop {
    /// The request path (`/api/chat.postMessage`, `/service/…/operation/DescribeAlarms`).
    pub(super) path: String,
    /// The operation of a JSON-protocol AWS call (`ReceiveMessage`, from `X-Amz-Target`).
    pub(super) target: Option<String>,
    /// The request arrived at the proxy.
    pub(super) start: Instant,
    /// The whole answer was back from upstream.
    pub(super) end: Instant,
    pub(super) status: u16,
    /// The request body of `chat.postMessage` (to tell which channel it posts into).
    pub(super) body: Option<String>,
    /// A DescribeAlarms or ReceiveMessage answer that named the watched alarm.
    pub(super) saw_watched: bool,
}

impl Hop {
    pub(super) fn took(&self) -> Duration {
        self.end - self.start
    }

    pub(super) fn is(&self, method: &str) -> bool {
        self.path.ends_with(method) || self.target.as_deref() == Some(method)
    }
}

struct ProxyState {
    target: String,
    http: HttpClient<HttpConnector, Body>,
    hops: Mutex<Vec<Hop>>,
    /// An alarm name to look for in DescribeAlarms answers.
    watched: Mutex<Option<String>>,
    /// When the last `chat.postMessage` arrived (kept across [`TimingProxy::take`]).
    last_post: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A reverse proxy on 127.0.0.1 that times every exchange with `target`.
pub(super) struct TimingProxy {
    state: Arc<ProxyState>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl TimingProxy {
    async fn start(target: &str) -> anyhow::Result<TimingProxy> {
        let state = Arc::new(ProxyState {
            target: target.trim_end_matches('/').to_string(),
            http: HttpClient::builder(hyper_util::rt::TokioExecutor::new()).build_http(),
            hops: Mutex::new(Vec::new()),
            watched: Mutex::new(None),
            last_post: Mutex::new(None),
        });
        let app = Router::new().fallback(forward).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Ok(TimingProxy { state, addr, stop })
    }

    pub(super) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every exchange since the last call, oldest first.
    pub(super) fn take(&self) -> Vec<Hop> {
        std::mem::take(&mut *lock(&self.state.hops))
    }

    pub(super) fn watch(&self, name: Option<String>) {
        *lock(&self.state.watched) = name;
    }

    pub(super) fn last_post(&self) -> Option<Instant> {
        *lock(&self.state.last_post)
    }
}

impl Drop for TimingProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn forward(State(p): State<Arc<ProxyState>>, req: Request) -> Response {
    match relay(&p, req).await {
        Ok(r) => r,
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{e:#}")).into_response(),
    }
}

async fn relay(p: &ProxyState, req: Request) -> anyhow::Result<Response> {
    let start = Instant::now();
    let (mut parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await?;
    let path = parts.uri.path().to_string();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .map(str::to_string);
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    parts.uri = format!("{}{path_and_query}", p.target).parse()?;
    parts.headers.remove(HOST);
    let posted = path.ends_with("chat.postMessage");
    if posted {
        *lock(&p.last_post) = Some(start);
    }
    let request_body = posted.then(|| String::from_utf8_lossy(&body).into_owned());
    let answer = p
        .http
        .request(Request::from_parts(parts, Body::from(body)))
        .await?;
    let (mut parts, body) = answer.into_parts();
    let body = axum::body::to_bytes(Body::new(body), usize::MAX).await?;
    let end = Instant::now();
    let reads_alarms =
        path.ends_with("DescribeAlarms") || target.as_deref() == Some("ReceiveMessage");
    let saw_watched = reads_alarms
        && lock(&p.watched)
            .as_deref()
            .is_some_and(|name| body.windows(name.len()).any(|w| w == name.as_bytes()));
    lock(&p.hops).push(Hop {
        path,
        target,
        start,
        end,
        status: parts.status.as_u16(),
        body: request_body,
        saw_watched,
    });
    parts.headers.remove(TRANSFER_ENCODING);
    Ok(Response::from_parts(parts, Body::from(body)))
}

// --- the bot ---

pub(super) struct Rig {
    pub(super) world: World,
    pub(super) aws: AwsFake,
    pub(super) slack: TimingProxy,
    pub(super) aws_proxy: TimingProxy,
    /// moto, behind the fake, when the rig has SQS (the `[events]` queue scenarios).
    _moto: Option<MotoServer>,
}

impl Rig {
    async fn new() -> anyhow::Result<Rig> {
        let aws = AwsFake::start(CloudWatchBackend::InMemory).await?;
        Rig::with(aws, None).await
    }

    /// The AWS fake on moto_server, which keeps SQS queues (`MOTO_SERVER` or the crate's
    /// `.venv`, as in the tests).
    pub(super) async fn on_moto() -> anyhow::Result<Rig> {
        let (aws, moto) = AwsFake::start_on_moto().await?;
        Rig::with(aws, Some(moto)).await
    }

    async fn with(aws: AwsFake, moto: Option<MotoServer>) -> anyhow::Result<Rig> {
        let world = World::new().await?;
        let slack = TimingProxy::start(&world.emu.base_url()).await?;
        let aws_proxy = TimingProxy::start(&aws.endpoint_url()).await?;
        Ok(Rig {
            world,
            aws,
            slack,
            aws_proxy,
            _moto: moto,
        })
    }

    /// Start warroom with `slack_toml` added to `[slack]` and `alarms_toml` (the `[alarms]`
    /// table and routes, and `[events]`) to its config; returns it, its pid and its
    /// `/metrics` address once it is connected and polling CloudWatch or the queue.
    pub(super) async fn start_bot(
        &self,
        args: &Args,
        db: &Path,
        slack_toml: &str,
        alarms_toml: &str,
    ) -> anyhow::Result<(Child, u32, SocketAddr)> {
        let listen = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?
        };
        let config_path = db.with_extension("toml");
        std::fs::write(
            &config_path,
            format!(
                "[slack]\napi_url = \"{}/api/\"\nresponders = [\"{BOB}\"]\nsocket_connections = 1\n\
                 {slack_toml}\n\
                 [database]\nurl = \"sqlite://{}\"\n\
                 [server]\nlisten = \"{listen}\"\n\
                 [aws]\nregion = \"{REGION}\"\nendpoint_url = \"{}\"\n\
                 {alarms_toml}\n",
                self.slack.url(),
                db.display(),
                self.aws_proxy.url(),
            ),
        )?;
        let bin = args.warroom_bin()?;
        let child = Command::new(&bin)
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .env("SLACK_APP_TOKEN", &self.world.emu.config().app_token)
            .env("SLACK_BOT_TOKEN", &self.world.emu.config().bot_token)
            // The fake takes any keys; these keep the SDK's default chain off the network.
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env(
                "RUST_LOG",
                std::env::var("BOT_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (cargo build --release --features bench --bins --examples?)",
                    bin.display()
                )
            })?;
        let pid = child.id().ok_or_else(|| anyhow!("bot exited at once"))?;
        self.world.emu.wait_for_connections(1, DEADLINE).await?;
        // The poller is running once it has asked CloudWatch, the queue reader once it has
        // asked SQS.
        let until = Instant::now() + DEADLINE;
        while self.aws.call_count("DescribeAlarms") + self.aws.call_count("ReceiveMessage") == 0 {
            if Instant::now() > until {
                bail!("the bot never polled CloudWatch or the queue");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok((child, pid, listen))
    }
}

/// An alarm in ALARM in a custom namespace (AWS Health has nothing to say about it, so the
/// war room is header, details, graph).
fn alarm(name: &str, at: chrono::DateTime<Utc>) -> FakeAlarm {
    FakeAlarm {
        region: REGION.to_string(),
        name: name.to_string(),
        description: Some("Checkout API p99 latency over budget".to_string()),
        namespace: "Bench/Checkout".to_string(),
        metric_name: "LatencyP99".to_string(),
        dimensions: vec![("Service".to_string(), "checkout".to_string())],
        statistic: "Maximum".to_string(),
        period_secs: 60,
        threshold: 800.0,
        comparison: "GreaterThanThreshold".to_string(),
        state: "ALARM".to_string(),
        state_reason:
            "Threshold Crossed: 1 datapoint [1312.0] was greater than the threshold (800.0)"
                .to_string(),
        state_updated_at: at,
        tags: Vec::new(),
    }
}

/// The bot's own `warroom_alarm_war_room_seconds` (sum, count), from `/metrics`.
pub(super) async fn bot_histogram(listen: SocketAddr) -> anyhow::Result<(f64, f64)> {
    let text = reqwest::get(format!("http://{listen}/metrics"))
        .await?
        .text()
        .await?;
    let value = |series: &str| -> anyhow::Result<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .ok_or_else(|| anyhow!("{series} missing from /metrics"))
    };
    Ok((
        value("warroom_alarm_war_room_seconds_sum")?,
        value("warroom_alarm_war_room_seconds_count")?,
    ))
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What AWS and Slack spent answering, over the exchanges that ran inside `(from, to]`.
pub(super) fn others_time(hops: &[&Hop], from: Instant, to: Instant) -> (Duration, usize) {
    hops.iter()
        .filter(|h| h.start >= from && h.end <= to)
        .fold((Duration::ZERO, 0), |(t, n), h| (t + h.took(), n + 1))
}

// --- figure 3: one alarm at a time ---

/// One alarm's way into its war room.
struct Sample {
    /// Alarms already in ALARM when it fired (each costs the poll a lookup).
    firing: usize,
    header_total: Duration,
    header_own: Duration,
    header_calls: usize,
    details_total: Duration,
    details_own: Duration,
}

pub(super) async fn latency_run(args: &Args, run: usize, res: &mut Results) -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let db = rig.world.db_path(&format!("alarm-{run}.db"));
    let (mut child, pid, listen) = rig
        .start_bot(
            args,
            &db,
            "proactive_rate_limits = false",
            "[alarms]\npoll_interval = \"200ms\"\ncorrelation_window = \"1ms\"\n\
             [[alarms.route]]\nname = \"checkout\"\nalarm_name = \"bench-*\"\nseverity = \"sev2\"\n",
        )
        .await?;
    let emu = &rig.world.emu;
    let bot = emu.config().bot_user_id.clone();
    let cpu_before = cpu_secs(pid)?;
    let mut samples = Vec::with_capacity(args.alarms);
    let mut known: Vec<String> = Vec::new();
    for k in 0..args.alarms {
        // An idle bot: Slack quiet long enough that the header is not paced behind the
        // previous war room's posts.
        loop {
            let since = rig.slack.last_post().map_or(QUIET, |t| t.elapsed());
            if since >= QUIET {
                break;
            }
            tokio::time::sleep(QUIET - since).await;
        }
        rig.slack.take();
        rig.aws_proxy.take();
        let name = format!("bench-{run}-{k:04}");
        rig.aws_proxy.watch(Some(name.clone()));
        rig.aws.set_alarm(alarm(&name, Utc::now()));
        // Header, details and graph in a channel that is new.
        let known_now = known.clone();
        let channel = emu
            .wait_until(DEADLINE, |ws| {
                ws.channels
                    .iter()
                    .filter(|c| c.name.starts_with("inc-") && !known_now.contains(&c.id))
                    .find(|c| {
                        ws.messages
                            .get(&c.id)
                            .is_some_and(|m| m.iter().filter(|m| m.user == bot).count() >= 2)
                            && ws
                                .files
                                .iter()
                                .any(|f| f.completed && f.channel.as_deref() == Some(&c.id))
                    })
                    .map(|c| c.id.clone())
            })
            .await
            .map_err(|e| anyhow!("alarm {name}: war room not set up: {e}"))?;
        known.push(channel.clone());
        let aws_hops = rig.aws_proxy.take();
        let slack_hops = rig.slack.take();
        let poll = aws_hops
            .iter()
            .find(|h| h.saw_watched)
            .ok_or_else(|| anyhow!("alarm {name}: no DescribeAlarms answer named it"))?;
        let t0 = poll.end;
        let posts: Vec<&Hop> = slack_hops
            .iter()
            .filter(|h| {
                h.is("chat.postMessage")
                    && h.start >= t0
                    && h.body.as_deref().is_some_and(|b| b.contains(&channel))
            })
            .collect();
        let [header, details, ..] = posts[..] else {
            bail!("alarm {name}: {} posts into {channel}", posts.len());
        };
        let all: Vec<&Hop> = aws_hops.iter().chain(slack_hops.iter()).collect();
        let (before_header, header_calls) = others_time(&all, t0, header.start);
        let (before_details, _) = others_time(&all, t0, details.start);
        let header_total = header.start - t0;
        let details_total = details.start - t0;
        samples.push(Sample {
            firing: k,
            header_total,
            header_own: header_total.saturating_sub(before_header),
            header_calls,
            details_total,
            details_own: details_total.saturating_sub(before_details),
        });
    }
    let cpu = cpu_secs(pid)? - cpu_before;
    let (sum, count) = bot_histogram(listen).await?;
    child.kill().await?;

    let series =
        |f: fn(&Sample) -> Duration| -> Vec<f64> { samples.iter().map(|s| ms(f(s))).collect() };
    let own = series(|s| s.header_own);
    let total = series(|s| s.header_total);
    let details_own = series(|s| s.details_own);
    let details_total = series(|s| s.details_total);
    let calls = samples.iter().map(|s| s.header_calls).max().unwrap_or(0);
    println!(
        "alarm run {run}: {} alarms, each its own war room; Slack calls before the header: {calls}",
        samples.len()
    );
    for (label, v) in [
        ("header.own", &own),
        ("header.total", &total),
        ("details.own", &details_own),
        ("details.total", &details_total),
    ] {
        res.add(
            &format!("warroom.alarm.{label}.p50"),
            "ms",
            percentile(v, 50.0),
        );
        res.add(
            &format!("warroom.alarm.{label}.p99"),
            "ms",
            percentile(v, 99.0),
        );
        res.add(
            &format!("warroom.alarm.{label}.max"),
            "ms",
            percentile(v, 100.0),
        );
    }
    // The poll looks up every alarm in ALARM before deciding: cost per alarm already firing
    // (least squares of warroom's own time to the header against that count).
    let n = samples.len() as f64;
    let xs: Vec<f64> = samples.iter().map(|s| s.firing as f64).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / n, own.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(&own).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if var > 0.0 {
        res.add("warroom.alarm.header.own_per_firing_alarm", "ms", cov / var);
    }
    res.add(
        "warroom.alarm.bot_histogram_mean",
        "ms",
        if count > 0.0 {
            sum / count * 1000.0
        } else {
            f64::NAN
        },
    );
    res.add(
        "warroom.alarm.driver_details_mean",
        "ms",
        details_total.iter().sum::<f64>() / n,
    );
    res.add("warroom.alarm.cpu_per_alarm", "ms", cpu * 1000.0 / n);
    Ok(())
}

// --- figure 3: the storm ---

/// The most events within any window of `width`, over sorted instants.
pub(super) fn busiest(times: &[Instant], width: Duration) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= width {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// `SELECT COUNT(*)` through a read-only connection.
pub(super) fn count(db: &Path, sql: &str) -> anyhow::Result<i64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn.query_row(sql, [], |r| r.get(0))?)
}

pub(super) async fn storm_run(args: &Args, run: usize, res: &mut Results) -> anyhow::Result<()> {
    let (alarms, routes) = (args.storm_alarms, args.storm_routes.max(1));
    let rig = Rig::new().await?;
    let db = rig.world.db_path(&format!("storm-{run}.db"));
    let mut alarms_toml = String::from("[alarms]\npoll_interval = \"2s\"\n");
    for r in 0..routes {
        alarms_toml.push_str(&format!(
            "[[alarms.route]]\nname = \"service-{r:03}\"\nalarm_name = \"storm-{r:03}-*\"\nseverity = \"sev2\"\n"
        ));
    }
    // Production rate limits: proactive_rate_limits left at its default (on).
    let (mut child, pid, _) = rig.start_bot(args, &db, "", &alarms_toml).await?;
    let emu = &rig.world.emu;
    let bot = emu.config().bot_user_id.clone();
    rig.slack.take();
    rig.aws_proxy.take();
    let first = "storm-000-0000".to_string();
    rig.aws_proxy.watch(Some(first.clone()));
    // Breaches spread over the last minute, as a real storm's would be.
    let now = Utc::now();
    let set_start = Instant::now();
    for i in 0..alarms {
        let name = format!("storm-{:03}-{:04}", i % routes, i / routes);
        let at = now - chrono::Duration::milliseconds((i as i64 * 7_919) % 60_000);
        rig.aws.set_alarm(alarm(&name, at));
    }
    println!(
        "storm run {run}: {alarms} alarms over {routes} routes set in {:.1} ms",
        ms(set_start.elapsed())
    );
    let cpu_before = cpu_secs(pid)?;
    // Milestones, each a condition with a deadline.
    let until = Instant::now() + STORM_DEADLINE;
    let total = alarms as i64;
    let mut recorded = None;
    let mut on_timeline = None;
    while on_timeline.is_none() {
        if recorded.is_none() && count(&db, "SELECT COUNT(*) FROM alarm_transitions")? >= total {
            recorded = Some(Instant::now());
        }
        if count(
            &db,
            "SELECT COUNT(*) FROM timeline WHERE kind = 'alarm_fired'",
        )? >= total
        {
            on_timeline = Some(Instant::now());
            recorded.get_or_insert(Instant::now());
        }
        if Instant::now() > until {
            bail!("storm: not every alarm on a timeline after {STORM_DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let incidents = count(&db, "SELECT COUNT(*) FROM incidents")? as usize;
    let channels_at = emu
        .wait_until(STORM_DEADLINE, |ws| {
            let n = ws
                .channels
                .iter()
                .filter(|c| c.name.starts_with("inc-"))
                .count();
            (n >= incidents).then(Instant::now)
        })
        .await?;
    // Every war room: header, the alarm's details and the "joined" post for the others.
    let posts = if alarms > routes { 3 } else { 2 };
    let posted_at = emu
        .wait_until(STORM_DEADLINE, |ws| {
            let rooms: Vec<_> = ws
                .channels
                .iter()
                .filter(|c| c.name.starts_with("inc-"))
                .collect();
            let done = rooms.len() >= incidents
                && rooms.iter().all(|c| {
                    ws.messages
                        .get(&c.id)
                        .is_some_and(|m| m.iter().filter(|m| m.user == bot).count() >= posts)
                });
            done.then(Instant::now)
        })
        .await?;
    let cpu = cpu_secs(pid)? - cpu_before;
    child.kill().await?;
    let aws_hops = rig.aws_proxy.take();
    let slack_hops = rig.slack.take();
    let poll = aws_hops
        .iter()
        .find(|h| h.saw_watched)
        .ok_or_else(|| anyhow!("storm: no DescribeAlarms answer named {first}"))?;
    // The poll starts with the request whose answer named the first alarm (page one).
    let t0 = poll.start;
    let pages = aws_hops
        .iter()
        .filter(|h| h.is("DescribeAlarms") && h.start >= t0)
        .take_while(|h| h.start < recorded.unwrap_or(t0))
        .count();
    let since = |t: Instant| ms(t.saturating_duration_since(t0)) / 1000.0;
    let (recorded, on_timeline) = (recorded.unwrap_or(t0), on_timeline.unwrap_or(t0));
    println!("storm run {run}: {incidents} incidents; {pages} DescribeAlarms pages in the poll");
    res.add("warroom.storm.incidents", "count", incidents as f64);
    res.add("warroom.storm.all_recorded", "s", since(recorded));
    res.add("warroom.storm.all_on_a_timeline", "s", since(on_timeline));
    res.add("warroom.storm.all_channels", "s", since(channels_at));
    res.add("warroom.storm.all_war_rooms_posted", "s", since(posted_at));
    let mut creates: Vec<Instant> = slack_hops
        .iter()
        .filter(|h| h.is("conversations.create"))
        .map(|h| h.start)
        .collect();
    creates.sort();
    let mut posts_at: Vec<Instant> = slack_hops
        .iter()
        .filter(|h| h.is("chat.postMessage"))
        .map(|h| h.start)
        .collect();
    posts_at.sort();
    let busiest_minute = busiest(&creates, Duration::from_secs(60));
    res.add(
        "warroom.storm.create_busiest_minute",
        "calls",
        busiest_minute as f64,
    );
    res.add(
        "warroom.storm.post_busiest_second",
        "calls",
        busiest(&posts_at, Duration::from_secs(1)) as f64,
    );
    res.add(
        "warroom.storm.slack_429",
        "count",
        slack_hops.iter().filter(|h| h.status == 429).count() as f64,
    );
    res.add(
        "warroom.storm.slack_calls",
        "count",
        slack_hops.len() as f64,
    );
    res.add("warroom.storm.cpu", "s", cpu);
    if busiest_minute > TIER2_PER_MINUTE {
        println!(
            "storm run {run}: {busiest_minute} conversations.create in one minute, over Tier 2 ({TIER2_PER_MINUTE}/min)"
        );
    }
    Ok(())
}
