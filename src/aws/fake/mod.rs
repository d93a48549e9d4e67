//! Local stand-ins for AWS, speaking the protocols the SDK speaks (Smithy RPC v2 CBOR at
//! `/service/{service}/operation/{op}`, JSON 1.1 at `/` with `X-Amz-Target`), on one
//! 127.0.0.1 listener. Point `[aws] endpoint_url` at [`AwsFake::endpoint_url`].
//!
//! - CloudWatch goes to a [`CloudWatchBackend`]: either a running `moto_server`, reached
//!   through a translating front (CBOR ⇄ JSON 1.0, see `cbor`), which is what the
//!   integration tests use, or a small in-memory table of alarms for `warroom demo`, which
//!   must run without Python.
//! - GetMetricWidgetImage, which moto lacks, is answered here with a PNG chart (`png`).
//! - DescribeAlarmHistory, which moto lacks, is answered here from the state changes the
//!   in-memory CloudWatch made and those a test adds ([`AwsFake::add_alarm_history`]).
//! - CloudTrail LookupEvents (`cloudtrail`), which moto lacks, is answered here from events
//!   the test or the demo adds ([`AwsFake::add_trail_event`]).
//! - The AWS Health API, which moto lacks entirely, is answered here from events the test
//!   or the demo adds ([`AwsFake::add_health_event`]), or with
//!   `SubscriptionRequiredException` ([`AwsFake::require_subscription`]).
//! - AWS Support (`support`): with moto, CreateCase, DescribeCases and ResolveCase go to moto
//!   (with moto's made-up status and severity changes undone), and DescribeCommunications
//!   and AddCommunicationToCase, which moto lacks, are answered here; in memory, all five
//!   are. Tests play AWS's engineers with [`AwsFake::add_support_reply`].
//!
//! Like the Slack emulator, this is shipped in the crate (not behind a feature) because the
//! demo uses it; it shares no code with the SDK adapter it serves.

mod cbor;
mod cloudtrail;
mod moto;
mod png;
mod support;

pub use cloudtrail::{FakeTrailEvent, CLOUDTRAIL};
pub use moto::MotoServer;
pub use support::{FakeCase, SUPPORT};

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use ciborium::Value as Cbor;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HttpClient;
use serde_json::{json, Value as Json};
use tokio::sync::watch;

use crate::clock::{SharedClock, SystemClock};
use crate::domain::health_service::HealthEvent;

/// The service names in the RPC v2 paths (`/service/<name>/operation/<op>`).
const CLOUDWATCH: &str = "GraniteServiceVersion20100801";
const HEALTH: &str = "AWSHealth_20160804";
/// SQS's JSON 1.0 target prefix (`AmazonSQS.ReceiveMessage`).
const SQS: &str = "AmazonSQS";
/// The account id the in-memory CloudWatch puts in ARNs (moto's default too).
pub const ACCOUNT_ID: &str = "123456789012";

/// Where CloudWatch calls other than GetMetricWidgetImage go, and Support's case calls.
#[derive(Debug, Clone)]
pub enum CloudWatchBackend {
    /// A `moto_server` at this base URL (`http://127.0.0.1:PORT`).
    Moto(String),
    /// Alarms set with [`AwsFake::set_alarm`] (DescribeAlarms and ListTagsForResource only),
    /// and Support cases kept here.
    InMemory,
}

/// An alarm for the in-memory CloudWatch.
#[derive(Debug, Clone)]
pub struct FakeAlarm {
    pub region: String,
    pub name: String,
    pub description: Option<String>,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
    pub period_secs: i64,
    pub threshold: f64,
    pub comparison: String,
    /// `ALARM`, `OK`, `INSUFFICIENT_DATA`.
    pub state: String,
    pub state_reason: String,
    pub state_updated_at: DateTime<Utc>,
    pub tags: Vec<(String, String)>,
}

/// One call the fake answered, for tests that count calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCall {
    pub service: String,
    pub operation: String,
    /// From the request's SigV4 credential scope.
    pub region: Option<String>,
    /// Whether the body arrived gzip-compressed.
    pub gzipped: bool,
}

/// One state change of an alarm, for DescribeAlarmHistory.
#[derive(Debug, Clone)]
struct FakeHistory {
    region: String,
    name: String,
    at: DateTime<Utc>,
    from: String,
    to: String,
    reason: String,
}

#[derive(Default)]
struct FakeState {
    /// In-memory alarms by (region, name), as CloudWatch's JSON shape.
    alarms: BTreeMap<(String, String), Json>,
    tags: BTreeMap<String, Vec<(String, String)>>,
    health_events: Vec<HealthEvent>,
    subscription_required: bool,
    /// GetMetricWidgetImage answers with an error while set.
    widget_failure: bool,
    widget_requests: Vec<Json>,
    calls: Vec<FakeCall>,
    support: support::SupportState,
    /// CloudTrail's management events, for LookupEvents.
    trail_events: Vec<FakeTrailEvent>,
    /// Alarm state changes for DescribeAlarmHistory, oldest first.
    alarm_history: Vec<FakeHistory>,
    /// Injected CloudWatch, Health and CloudTrail failures by operation: the error code and
    /// calls left.
    failures: BTreeMap<String, (String, u32)>,
    /// Held-back answers by operation (any service): the delay and calls left.
    slow: BTreeMap<String, (std::time::Duration, u32)>,
    /// Role ARNs whose AssumeRole is answered with AccessDenied (moto's STS lets anyone
    /// assume anything).
    denied_roles: std::collections::BTreeSet<String>,
}

impl FakeState {
    /// Use up one injected CloudWatch, Health or CloudTrail failure of `operation`, if any
    /// is left.
    fn take_failure(&mut self, operation: &str) -> Option<String> {
        let (code, left) = self.failures.get_mut(operation)?;
        let code = code.clone();
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.failures.remove(operation);
        }
        Some(code)
    }

    /// The next `times` calls of `operation` fail with `code` (`times` 0 clears).
    fn inject_failure(&mut self, operation: &str, code: &str, times: u32) {
        if times == 0 {
            self.failures.remove(operation);
        } else {
            self.failures
                .insert(operation.to_string(), (code.to_string(), times));
        }
    }

    /// Use up one held-back answer of `operation`, if any is left.
    fn take_delay(&mut self, operation: &str) -> Option<std::time::Duration> {
        let (delay, left) = self.slow.get_mut(operation)?;
        let delay = *delay;
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.slow.remove(operation);
        }
        Some(delay)
    }
}

/// The HTTP status AWS answers an error code with: throttling and client errors are 400,
/// `ServiceUnavailable` 503, the rest (`InternalServiceFault`, `InternalFailure`, …) 500.
fn status_of(code: &str) -> StatusCode {
    match code {
        "ServiceUnavailable" => StatusCode::SERVICE_UNAVAILABLE,
        c if c.starts_with("Internal") => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

struct Shared {
    backend: CloudWatchBackend,
    /// The time the fake stamps on what it makes (Support cases and messages): the bot's
    /// own clock in the demo and the tests that move time, so both tell the same story.
    clock: SharedClock,
    state: Mutex<FakeState>,
    http: HttpClient<HttpConnector, Body>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        // A panic while holding the lock leaves plain data; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running fake.
pub struct AwsFake {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl AwsFake {
    /// moto_server with a fake in front of it, as the tests run them. Keep the
    /// [`MotoServer`]: dropping it stops moto.
    pub async fn start_on_moto() -> anyhow::Result<(AwsFake, MotoServer)> {
        let moto = MotoServer::start().await?;
        let fake = AwsFake::start(CloudWatchBackend::Moto(moto.url().to_string())).await?;
        Ok((fake, moto))
    }

    /// An SQS client on this fake (so on moto) with test credentials: the tests' side of
    /// the `[events]` queue (creating it, sending EventBridge's events to it).
    pub fn operator_sqs(&self, region: &str) -> aws_sdk_sqs::Client {
        use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_sqs::Config::builder()
            .http_client(crate::aws::https_client())
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build();
        aws_sdk_sqs::Client::from_conf(conf)
    }

    /// A CloudWatch client on this fake with test credentials: the operator's side in tests
    /// (creating alarms, setting their state), beside the bot's own clients.
    pub fn operator_cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_cloudwatch::Config::builder()
            .http_client(crate::aws::https_client())
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build();
        aws_sdk_cloudwatch::Client::from_conf(conf)
    }

    /// Serve on 127.0.0.1 with a free port, on the system clock.
    pub async fn start(backend: CloudWatchBackend) -> anyhow::Result<AwsFake> {
        AwsFake::start_with_clock(backend, Arc::new(SystemClock)).await
    }

    /// Serve on 127.0.0.1 with a free port, stamping cases and messages with `clock`'s
    /// time: give it the bot's clock when the bot runs on a moved one (the demo, the golden
    /// postmortem), or AWS's times and warroom's disagree.
    pub async fn start_with_clock(
        backend: CloudWatchBackend,
        clock: SharedClock,
    ) -> anyhow::Result<AwsFake> {
        let http = HttpClient::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        if let CloudWatchBackend::Moto(url) = &backend {
            moto::pin_support_case_status(&http, url).await?;
        }
        let shared = Arc::new(Shared {
            backend,
            clock,
            state: Mutex::new(FakeState::default()),
            http,
        });
        let app = Router::new()
            .route("/service/{service}/operation/{operation}", post(handle))
            .route("/", post(handle_json11))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the AWS fake on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(error = %e, "AWS fake stopped");
            }
        });
        Ok(AwsFake { shared, addr, stop })
    }

    /// `http://127.0.0.1:PORT`, for `[aws] endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Add or replace an alarm in the in-memory CloudWatch.
    pub fn set_alarm(&self, alarm: FakeAlarm) {
        let arn = format!(
            "arn:aws:cloudwatch:{}:{ACCOUNT_ID}:alarm:{}",
            alarm.region, alarm.name
        );
        let ts = alarm.state_updated_at.timestamp_millis() as f64 / 1000.0;
        let value = json!({
            "AlarmName": alarm.name,
            "AlarmArn": arn,
            "AlarmDescription": alarm.description,
            "AlarmConfigurationUpdatedTimestamp": ts,
            "ActionsEnabled": true,
            "StateValue": alarm.state,
            "StateReason": alarm.state_reason,
            "StateUpdatedTimestamp": ts,
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "Statistic": alarm.statistic,
            "Dimensions": alarm.dimensions.iter().map(|(n, v)| json!({"Name": n, "Value": v})).collect::<Vec<_>>(),
            "Period": alarm.period_secs,
            "EvaluationPeriods": 1,
            "Threshold": alarm.threshold,
            "ComparisonOperator": alarm.comparison,
        });
        let mut st = self.shared.state();
        st.tags.insert(arn, alarm.tags.clone());
        st.alarms.insert((alarm.region, alarm.name), value);
    }

    /// Change an in-memory alarm's state (a new transition).
    pub fn set_alarm_state(
        &self,
        region: &str,
        name: &str,
        state: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) {
        let mut st = self.shared.state();
        if let Some(a) = st.alarms.get_mut(&(region.to_string(), name.to_string())) {
            let from = a["StateValue"].as_str().unwrap_or("OK").to_string();
            let change = FakeHistory {
                region: region.to_string(),
                name: name.to_string(),
                at,
                from,
                to: state.to_string(),
                reason: reason.to_string(),
            };
            a["StateValue"] = state.into();
            a["StateReason"] = reason.into();
            a["StateUpdatedTimestamp"] = (at.timestamp_millis() as f64 / 1000.0).into();
            st.alarm_history.push(change);
        }
    }

    /// A past state change of an alarm, as DescribeAlarmHistory will list it (the in-memory
    /// CloudWatch adds one itself on every [`AwsFake::set_alarm_state`]).
    pub fn add_alarm_history(
        &self,
        region: &str,
        name: &str,
        at: DateTime<Utc>,
        from: &str,
        to: &str,
    ) {
        self.shared.state().alarm_history.push(FakeHistory {
            region: region.to_string(),
            name: name.to_string(),
            at,
            from: from.to_string(),
            to: to.to_string(),
            reason: "Threshold Crossed".to_string(),
        });
    }

    /// A management event CloudTrail will list from now on.
    pub fn add_trail_event(&self, event: FakeTrailEvent) {
        let mut st = self.shared.state();
        st.trail_events.retain(|e| e.id != event.id);
        st.trail_events.push(event);
    }

    /// The next `times` CloudTrail calls of `operation` ("LookupEvents") fail with `code`
    /// ("AccessDeniedException", "ThrottlingException", …; 400, or 500 for `Internal…`).
    /// The SDK retries throttling and 500s itself (3 attempts). `times` 0 clears what is left.
    pub fn fail_cloudtrail(&self, operation: &str, code: &str, times: u32) {
        self.shared.state().inject_failure(operation, code, times);
    }

    /// An event AWS Health reports from now on (replaces one with the same ARN).
    pub fn add_health_event(&self, event: HealthEvent) {
        let mut st = self.shared.state();
        st.health_events.retain(|e| e.arn != event.arn);
        st.health_events.push(event);
    }

    /// Answer every Health and Support call with `SubscriptionRequiredException`, as AWS
    /// does for an account without a Business or Enterprise support plan.
    pub fn require_subscription(&self, required: bool) {
        self.shared.state().subscription_required = required;
    }

    /// Make GetMetricWidgetImage fail (or work again).
    pub fn fail_widget_images(&self, fail: bool) {
        self.shared.state().widget_failure = fail;
    }

    /// The MetricWidget JSON of every GetMetricWidgetImage call.
    pub fn widget_requests(&self) -> Vec<Json> {
        self.shared.state().widget_requests.clone()
    }

    /// An AWS Support engineer replies on the case (submittedBy "Amazon Web Services").
    /// A case the fake does not know is ignored, with a warning.
    pub fn add_support_reply(
        &self,
        case_id: &str,
        body: &str,
        at: DateTime<Utc>,
        attachments: &[&str],
    ) {
        self.shared
            .state()
            .support
            .add_reply(case_id, body, at, attachments);
    }

    /// The cases created through the fake, oldest first.
    pub fn support_cases(&self) -> Vec<FakeCase> {
        self.shared.state().support.cases()
    }

    /// Bodies sent with AddCommunicationToCase to this case, oldest first.
    pub fn support_replies_sent(&self, case_id: &str) -> Vec<String> {
        self.shared.state().support.sent(case_id)
    }

    /// The next `times` calls of `operation` (e.g. "CreateCase") fail with `code`
    /// ("InternalServerError" → 500, others 400, such as "ThrottlingException"). `times` 0
    /// clears what is left. The SDK retries throttling and 500s itself, so a test that wants
    /// warroom to see the error injects more failures than the SDK's attempts.
    pub fn fail_support(&self, operation: &str, code: &str, times: u32) {
        self.shared.state().support.fail(operation, code, times);
    }

    /// The next `times` calls of the CloudWatch or Health `operation` ("DescribeAlarms",
    /// "DescribeEvents", …) fail with `code`: "Throttling" (CloudWatch's throttling code,
    /// 400), "ServiceUnavailable" (503), "InternalServiceFault" and other `Internal…` (500).
    /// `times` 0 clears what is left. As with [`AwsFake::fail_support`], the SDK retries
    /// throttling and 5xx itself (3 attempts), so one failed call of warroom's takes three.
    pub fn fail_cloudwatch(&self, operation: &str, code: &str, times: u32) {
        self.shared.state().inject_failure(operation, code, times);
    }

    /// Answer STS AssumeRole of `role_arn` with `AccessDenied` (403), as STS does when the
    /// role's trust policy does not name the caller; `false` lets it through to moto again.
    pub fn deny_assume_role(&self, role_arn: &str, denied: bool) {
        let mut st = self.shared.state();
        if denied {
            st.denied_roles.insert(role_arn.to_string());
        } else {
            st.denied_roles.remove(role_arn);
        }
    }

    /// A CloudWatch client on this fake (so on moto) with the credentials of `role_arn`,
    /// assumed through STS: the operator's side in another account.
    pub async fn operator_cloudwatch_as(
        &self,
        region: &str,
        role_arn: &str,
    ) -> aws_sdk_cloudwatch::Client {
        use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
        let base = aws_config::defaults(BehaviorVersion::latest())
            .http_client(crate::aws::https_client())
            .region(Region::new(region.to_string()))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        let role = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("operator")
            .configure(&base)
            .build()
            .await;
        let conf = aws_sdk_cloudwatch::config::Builder::from(&base)
            .credentials_provider(role)
            .build();
        aws_sdk_cloudwatch::Client::from_conf(conf)
    }

    /// The next `times` answers to `operation` (any service: "DescribeAlarms",
    /// "CreateCase", "DescribeCommunications", …) come `delay` late. The call's work is done
    /// first (the case exists, the message is recorded), so a caller that stops waiting
    /// meets what a lost answer leaves behind. `times` 0 clears what is left.
    pub fn slow_aws(&self, operation: &str, delay: std::time::Duration, times: u32) {
        let mut st = self.shared.state();
        if times == 0 {
            st.slow.remove(operation);
        } else {
            st.slow.insert(operation.to_string(), (delay, times));
        }
    }

    pub fn calls(&self) -> Vec<FakeCall> {
        self.shared.state().calls.clone()
    }

    /// How many calls of `operation` were answered.
    pub fn call_count(&self, operation: &str) -> usize {
        self.shared
            .state()
            .calls
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }
}

impl Drop for AwsFake {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An RPC v2 CBOR answer.
fn cbor_response(status: StatusCode, body: &Cbor) -> Response {
    let mut resp = (status, cbor::encode(body)).into_response();
    let h = resp.headers_mut();
    h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    h.insert("content-type", HeaderValue::from_static("application/cbor"));
    resp
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = Cbor::Map(vec![
        (Cbor::Text("__type".into()), Cbor::Text(code.into())),
        (Cbor::Text("message".into()), Cbor::Text(message.into())),
    ]);
    cbor_response(status, &body)
}

fn ok_response(operation: &str, body: &Json) -> Response {
    cbor_response(
        StatusCode::OK,
        &cbor::to_cbor(body, cbor::output_shape(operation)),
    )
}

/// The region from a SigV4 `Authorization` header's credential scope.
fn signing_region(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    scope.split('/').nth(2).map(str::to_string)
}

/// The body as sent, gunzipped when `Content-Encoding: gzip` says so, and whether it was.
fn request_body(headers: &HeaderMap, body: Bytes) -> Result<(Bytes, bool), String> {
    let gzipped = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzipped {
        return Ok((body, false));
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut out)
        .map_err(|e| format!("bad gzip body: {e}"))?;
    Ok((Bytes::from(out), true))
}

/// JSON 1.1 at `/`: AWS Support and CloudTrail, told apart by `X-Amz-Target`.
async fn handle_json11(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match request_body(&headers, body) {
        Ok((raw, gzipped)) => {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let operation = target.rsplit('.').next().unwrap_or_default();
            let form = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            let resp = if form {
                sts(&shared, &headers, raw).await
            } else if let Some(op) = target.strip_prefix(SQS).and_then(|t| t.strip_prefix('.')) {
                sqs(&shared, &headers, op, raw).await
            } else {
                match target
                    .strip_prefix(CLOUDTRAIL)
                    .and_then(|t| t.strip_prefix('.'))
                {
                    Some(op) => cloudtrail::handle(&shared, &headers, op, &raw, gzipped),
                    None => support::handle(&shared, &headers, raw, gzipped).await,
                }
            };
            hold_back(&shared, operation).await;
            resp
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            json!({"__type": "SerializationException", "message": e}).to_string(),
        )
            .into_response(),
    }
}

/// STS (AWS Query, a form on `/`): AssumeRole of a role the test denied is refused here,
/// everything else goes to moto unchanged (moto's credentials then act in the role's
/// account).
async fn sts(shared: &Shared, headers: &HeaderMap, body: Bytes) -> Response {
    let params: BTreeMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let action = params.get("Action").cloned().unwrap_or_default();
    shared.state().calls.push(FakeCall {
        service: "sts".to_string(),
        operation: action.clone(),
        region: signing_region(headers),
        gzipped: false,
    });
    let xml = [("content-type", "text/xml")];
    let role = params.get("RoleArn").cloned().unwrap_or_default();
    if action == "AssumeRole" && shared.state().denied_roles.contains(&role) {
        let body = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>AccessDenied</Code><Message>User: \
             arn:aws:iam::123456789012:user/warroom is not authorized to perform: \
             sts:AssumeRole on resource: {role}</Message></Error>\
             <RequestId>denied</RequestId></ErrorResponse>"
        );
        return (StatusCode::FORBIDDEN, xml, body).into_response();
    }
    let CloudWatchBackend::Moto(base) = &shared.backend else {
        return (StatusCode::BAD_REQUEST, xml, "STS needs the fake on moto").into_response();
    };
    match moto::forward_json11(&shared.http, base, headers, body).await {
        Ok((status, bytes)) => (status, xml, bytes).into_response(),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            xml,
            format!("moto did not answer: {e:#}"),
        )
            .into_response(),
    }
}

/// SQS (AWS JSON 1.0 on `/`): passed to moto unchanged, which keeps the queues.
async fn sqs(shared: &Shared, headers: &HeaderMap, operation: &str, body: Bytes) -> Response {
    shared.state().calls.push(FakeCall {
        service: SQS.to_string(),
        operation: operation.to_string(),
        region: signing_region(headers),
        gzipped: false,
    });
    let CloudWatchBackend::Moto(base) = &shared.backend else {
        return (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.0")],
            json!({"__type": "UnknownOperationException", "message": "SQS needs the fake on moto"})
                .to_string(),
        )
            .into_response();
    };
    match moto::forward_json11(&shared.http, base, headers, body).await {
        Ok((status, bytes)) => (
            status,
            [("content-type", "application/x-amz-json-1.0")],
            bytes,
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "application/x-amz-json-1.0")],
            json!({"__type": "InternalFailure", "message": format!("moto did not answer: {e:#}")})
                .to_string(),
        )
            .into_response(),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((service, operation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get("smithy-protocol").and_then(|v| v.to_str().ok()) != Some("rpc-v2-cbor") {
        return error_response(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "missing smithy-protocol: rpc-v2-cbor",
        );
    }
    let (raw, gzipped) = match request_body(&headers, body) {
        Ok(b) => b,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, "SerializationException", &e),
    };
    let input = match cbor::decode(&raw) {
        Ok(v) => cbor::to_json(&v),
        Err(e) => return error_response(StatusCode::BAD_REQUEST, "SerializationException", &e),
    };
    let region = signing_region(&headers);
    let failure = {
        let mut st = shared.state();
        st.calls.push(FakeCall {
            service: service.clone(),
            operation: operation.clone(),
            region: region.clone(),
            gzipped,
        });
        st.take_failure(&operation)
    };
    if let Some(code) = failure {
        return error_response(status_of(&code), &code, "injected by the AWS fake");
    }
    let resp = cbor_operation(&shared, &service, &operation, &headers, &input, region).await;
    hold_back(&shared, &operation).await;
    resp
}

/// Wait out an answer held back with [`AwsFake::slow_aws`].
async fn hold_back(shared: &Shared, operation: &str) {
    let delay = shared.state().take_delay(operation);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
}

/// Answer one CloudWatch or Health call.
async fn cbor_operation(
    shared: &Arc<Shared>,
    service: &str,
    operation: &str,
    headers: &HeaderMap,
    input: &Json,
    region: Option<String>,
) -> Response {
    match (service, operation) {
        (CLOUDWATCH, "GetMetricWidgetImage") => widget_image(shared, input),
        (CLOUDWATCH, "DescribeAlarmHistory") => {
            alarm_history(shared, region.as_deref().unwrap_or("us-east-1"), input)
        }
        (CLOUDWATCH, _) => match &shared.backend {
            CloudWatchBackend::Moto(url) => {
                moto::forward(&shared.http, url, operation, headers, input).await
            }
            CloudWatchBackend::InMemory => in_memory(
                shared,
                region.as_deref().unwrap_or("us-east-1"),
                operation,
                input,
            ),
        },
        (HEALTH, "DescribeEvents") => describe_events(shared, input),
        _ => error_response(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!("the AWS fake does not implement {service}.{operation}"),
        ),
    }
}

fn widget_image(shared: &Shared, input: &Json) -> Response {
    let widget: Json = input
        .get("MetricWidget")
        .and_then(Json::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Json::Null);
    let mut st = shared.state();
    st.widget_requests.push(widget.clone());
    if st.widget_failure {
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServiceFault",
            "the metric widget could not be rendered",
        );
    }
    if widget.get("metrics").is_none() {
        return error_response(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "MetricWidget must be JSON with a metrics array",
        );
    }
    let has_threshold = widget.pointer("/annotations/horizontal/0/value").is_some();
    let png = png::chart(if has_threshold { 0.7 } else { 1.1 });
    let body = Cbor::Map(vec![(
        Cbor::Text("MetricWidgetImage".into()),
        Cbor::Bytes(png),
    )]);
    cbor_response(StatusCode::OK, &body)
}

/// DescribeAlarmHistory as AWS answers it: StateUpdate items of the named alarm in the
/// window, newest first unless `ScanBy` says `TimestampAscending`, `MaxRecords` (1 to 100,
/// 100 by default) per page.
fn alarm_history(shared: &Shared, region: &str, input: &Json) -> Response {
    let st = shared.state();
    let name = input.get("AlarmName").and_then(Json::as_str);
    let kind = input.get("HistoryItemType").and_then(Json::as_str);
    if kind.is_some_and(|k| k != "StateUpdate") {
        return ok_response("DescribeAlarmHistory", &json!({ "AlarmHistoryItems": [] }));
    }
    let secs = |key: &str| input.get(key).and_then(Json::as_f64);
    let (start, end) = (secs("StartDate"), secs("EndDate"));
    let max = input
        .get("MaxRecords")
        .and_then(Json::as_u64)
        .unwrap_or(100);
    if !(1..=100).contains(&max) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "MaxRecords must be between 1 and 100",
        );
    }
    let mut items: Vec<&FakeHistory> = st
        .alarm_history
        .iter()
        .filter(|h| h.region == region && name.is_none_or(|n| n == h.name))
        .filter(|h| {
            let t = h.at.timestamp_millis() as f64 / 1000.0;
            start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)
        })
        .collect();
    items.sort_by_key(|h| h.at);
    if input.get("ScanBy").and_then(Json::as_str) != Some("TimestampAscending") {
        items.reverse();
    }
    let from: usize = input
        .get("NextToken")
        .and_then(Json::as_str)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let page: Vec<Json> = items
        .iter()
        .skip(from)
        .take(max as usize)
        .map(|h| {
            let iso = h.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            json!({
                "AlarmName": h.name,
                "AlarmType": "MetricAlarm",
                "Timestamp": h.at.timestamp_millis() as f64 / 1000.0,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": format!("Alarm updated from {} to {}", h.from, h.to),
                "HistoryData": json!({
                    "version": "1.0",
                    "oldState": {"stateValue": h.from, "stateReason": "previous state"},
                    "newState": {"stateValue": h.to, "stateReason": h.reason, "stateReasonData": {"version": "1.0", "queryDate": iso}},
                }).to_string(),
            })
        })
        .collect();
    let mut out = json!({ "AlarmHistoryItems": page });
    if from + (max as usize) < items.len() {
        out["NextToken"] = (from + max as usize).to_string().into();
    }
    ok_response("DescribeAlarmHistory", &out)
}

fn in_memory(shared: &Shared, region: &str, operation: &str, input: &Json) -> Response {
    let st = shared.state();
    match operation {
        "DescribeAlarms" => {
            let state = input.get("StateValue").and_then(Json::as_str);
            let names: Vec<&str> = input
                .get("AlarmNames")
                .and_then(Json::as_array)
                .map(|a| a.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            let all: Vec<&Json> = st
                .alarms
                .iter()
                .filter(|((r, name), a)| {
                    r == region
                        && (names.is_empty() || names.contains(&name.as_str()))
                        && state.is_none_or(|s| a["StateValue"] == s)
                })
                .map(|(_, a)| a)
                .collect();
            let page_size = input
                .get("MaxRecords")
                .and_then(Json::as_u64)
                .unwrap_or(50)
                .clamp(1, 100) as usize;
            let start: usize = input
                .get("NextToken")
                .and_then(Json::as_str)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let page: Vec<&Json> = all.iter().skip(start).take(page_size).copied().collect();
            let mut out = json!({ "MetricAlarms": page, "CompositeAlarms": [] });
            if start + page_size < all.len() {
                out["NextToken"] = (start + page_size).to_string().into();
            }
            ok_response(operation, &out)
        }
        "ListTagsForResource" => {
            let arn = input
                .get("ResourceARN")
                .and_then(Json::as_str)
                .unwrap_or("");
            match st.tags.get(arn) {
                Some(tags) => ok_response(
                    operation,
                    &json!({"Tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()}),
                ),
                None => error_response(
                    StatusCode::BAD_REQUEST,
                    "ResourceNotFoundException",
                    &format!("no alarm {arn}"),
                ),
            }
        }
        other => error_response(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("the in-memory CloudWatch does not implement {other}"),
        ),
    }
}

fn describe_events(shared: &Shared, input: &Json) -> Response {
    let st = shared.state();
    if st.subscription_required {
        return error_response(
            StatusCode::BAD_REQUEST,
            "SubscriptionRequiredException",
            "The AWS Health API requires a Business, Enterprise On-Ramp, or Enterprise support plan",
        );
    }
    let filter = input.get("filter").cloned().unwrap_or(Json::Null);
    let list = |key: &str| -> Vec<String> {
        filter
            .get(key)
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (services, regions, statuses) =
        (list("services"), list("regions"), list("eventStatusCodes"));
    let secs = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis() as f64 / 1000.0);
    let events: Vec<Json> = st
        .health_events
        .iter()
        .filter(|e| services.is_empty() || services.contains(&e.service))
        .filter(|e| regions.is_empty() || e.region.as_ref().is_some_and(|r| regions.contains(r)))
        .filter(|e| statuses.is_empty() || statuses.contains(&e.status))
        .map(|e| {
            json!({
                "arn": e.arn,
                "service": e.service,
                "eventTypeCode": e.event_type,
                "eventTypeCategory": e.category,
                "region": e.region,
                "startTime": secs(e.started_at),
                "lastUpdatedTime": secs(e.last_updated_at),
                "statusCode": e.status,
                "eventScopeCode": "PUBLIC",
            })
        })
        .collect();
    ok_response("DescribeEvents", &json!({ "events": events }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::types::{MetricDatum, StateValue};

    fn client(fake: &AwsFake) -> aws_sdk_cloudwatch::Client {
        fake.operator_cloudwatch("eu-west-1")
    }

    fn alarm(i: usize, state: &str) -> FakeAlarm {
        FakeAlarm {
            region: "eu-west-1".into(),
            name: format!("a-{i:03}"),
            description: None,
            namespace: "AWS/EC2".into(),
            metric_name: "CPUUtilization".into(),
            dimensions: vec![],
            statistic: "Average".into(),
            period_secs: 60,
            threshold: 80.0,
            comparison: "GreaterThanThreshold".into(),
            state: state.into(),
            state_reason: "test".into(),
            state_updated_at: Utc::now(),
            tags: vec![],
        }
    }

    #[tokio::test]
    async fn the_in_memory_cloudwatch_pages_and_filters_like_aws() {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        for i in 0..120 {
            fake.set_alarm(alarm(i, if i % 3 == 0 { "OK" } else { "ALARM" }));
        }
        let cw = client(&fake);
        let mut pages = cw
            .describe_alarms()
            .state_value(StateValue::Alarm)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.unwrap();
            names.extend(
                page.metric_alarms()
                    .iter()
                    .map(|a| a.alarm_name().unwrap().to_string()),
            );
        }
        assert_eq!(names.len(), 80);
        assert_eq!(fake.call_count("DescribeAlarms"), 2, "two pages of 50");
        let calls = fake.calls();
        assert!(calls
            .iter()
            .all(|c| c.region.as_deref() == Some("eu-west-1")));
        let first = cw
            .describe_alarms()
            .alarm_names("a-001")
            .send()
            .await
            .unwrap();
        let a = &first.metric_alarms()[0];
        assert_eq!(a.threshold(), Some(80.0));
        assert_eq!(a.period(), Some(60));
        assert!(a.state_updated_timestamp().is_some());
    }

    #[tokio::test]
    async fn gzipped_sdk_requests_reach_moto() {
        let (fake, _moto) = AwsFake::start_on_moto()
            .await
            .expect("moto and the fake start");
        let cw = client(&fake);
        // PutMetricData is compressed by the SDK once the body passes 10 KiB.
        let mut put = cw.put_metric_data().namespace("Warroom/Test");
        for i in 0..400 {
            put = put.metric_data(
                MetricDatum::builder()
                    .metric_name(format!("metric-with-a-long-name-{i:04}"))
                    .value(i as f64)
                    .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                        1_795_000_000,
                    ))
                    .build(),
            );
        }
        put.send().await.expect("PutMetricData through the front");
        assert!(fake
            .calls()
            .iter()
            .any(|c| c.operation == "PutMetricData" && c.gzipped));
        let listed = cw
            .list_metrics()
            .namespace("Warroom/Test")
            .metric_name("metric-with-a-long-name-0399")
            .send()
            .await
            .unwrap();
        assert_eq!(listed.metrics().len(), 1);
        // moto's errors come back as the SDK's errors.
        let err = cw
            .set_alarm_state()
            .alarm_name("no-such-alarm")
            .state_value(StateValue::Alarm)
            .state_reason("x")
            .send()
            .await
            .unwrap_err();
        use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
        assert_eq!(err.code(), Some("ResourceNotFound"));
    }
}
