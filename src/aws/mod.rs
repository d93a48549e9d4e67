//! The AWS adapter: CloudWatch (alarms, metric graphs, alarm history), CloudTrail (recent
//! changes), AWS Health and AWS Support cases,
//! through the AWS SDK for Rust, with answers in warroom's own types
//! ([`crate::domain::alarm::Alarm`], [`crate::domain::health_service::HealthEvent`],
//! [`crate::domain::support`]).
//!
//! CloudWatch and Health speak Smithy RPC v2 CBOR on the wire, Support and CloudTrail speak
//! JSON 1.1.
//! Credentials come from the SDK's default chain (environment, profile, instance role), never
//! from warroom's config file; `[aws] endpoint_url` points every client elsewhere (VPC
//! endpoints, the local fakes).
//!
//! - `cloudwatch`: DescribeAlarms (all pages), ListTagsForResource, GetMetricWidgetImage,
//!   DescribeAlarmHistory.
//! - `cloudtrail`: LookupEvents (management writes), paced to 2 calls per second per region
//!   and at most a few pages.
//! - `health`: DescribeEvents in us-east-1 (Health's global endpoint).
//! - `support`: CreateCase, DescribeCases, DescribeCommunications (all pages),
//!   AddCommunicationToCase, ResolveCase in us-east-1 (Support's only endpoint).
//! - [`fake`]: local stand-ins speaking the same protocols, for the tests and the demo.
//!
//! Architecture invariant: the only module that imports the AWS SDK.

pub mod cloudtrail;
mod cloudwatch;
pub mod fake;
mod health;
pub mod sqs;
mod support;

use std::collections::HashMap;
use std::fmt;

use aws_config::{BehaviorVersion, Region};
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::alarm::Alarm;
use crate::domain::changes::HistoryItem;
use crate::domain::health_service::HealthEvent;
use crate::domain::support::{CaseInfo, CaseRequest, Communication};

/// Every AWS API action warroom calls, as IAM names them. `deploy/iam-policy.json` grants
/// exactly these (a test keeps the two, and the calls in this module, in step).
pub const IAM_ACTIONS: &[&str] = &[
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource",
    "cloudwatch:GetMetricWidgetImage",
    "cloudwatch:DescribeAlarmHistory",
    "cloudtrail:LookupEvents",
    "health:DescribeEvents",
    "support:CreateCase",
    "support:DescribeCases",
    "support:DescribeCommunications",
    "support:AddCommunicationToCase",
    "support:ResolveCase",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sts:AssumeRole",
];

/// The calls warroom makes in another account through its `[[aws.accounts]]` role: the
/// read-only role of `deploy/aws/member-account.yaml` grants exactly these.
pub const MEMBER_ACCOUNT_ACTIONS: &[&str] = &[
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource",
    "cloudwatch:GetMetricWidgetImage",
    "cloudwatch:DescribeAlarmHistory",
];

/// Health's global endpoint lives in us-east-1, whatever region the alarm is in.
pub const HEALTH_REGION: &str = "us-east-1";

/// The Support API is served only from us-east-1, whatever region the alarms are in.
pub const SUPPORT_REGION: &str = "us-east-1";

/// A failed AWS call, without credentials or request signatures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AwsError {
    /// AWS answered with an error (`AccessDenied`, `Throttling`, …).
    #[error("AWS {operation} failed: {code}: {message}")]
    Service {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// No usable answer: network, timeout, an unreadable response, missing credentials.
    #[error("AWS {operation} did not answer properly: {detail}")]
    Transport {
        operation: &'static str,
        detail: String,
    },
}

impl AwsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => Some(code),
            AwsError::Transport { .. } => None,
        }
    }

    /// AWS says the account has no Business/Enterprise support plan
    /// (`SubscriptionRequiredException`): retrying will not help, opening a case by hand will.
    pub fn is_subscription_required(&self) -> bool {
        self.code() == Some("SubscriptionRequiredException")
    }

    /// Throttling, too many requests, AWS's own failures, or no usable answer at all: the
    /// same call may work later. (The SDK has already retried a few times by then.)
    pub fn is_retryable(&self) -> bool {
        match self {
            AwsError::Transport { .. } => true,
            AwsError::Service { code, .. } => matches!(
                code.as_str(),
                "Throttling"
                    | "ThrottlingException"
                    | "ThrottledException"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "RequestThrottled"
                    | "RequestThrottledException"
                    | "SlowDown"
                    | "ServiceUnavailable"
                    | "ServiceUnavailableException"
                    | "InternalServerError"
                    | "InternalServerErrorException"
                    | "InternalFailure"
                    | "InternalError"
                    | "RequestTimeout"
                    | "RequestTimeoutException"
            ),
        }
    }
}

/// What AWS Health said for one service and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthAnswer {
    /// Open and upcoming events (possibly none).
    Events(Vec<HealthEvent>),
    /// The account has no Business/Enterprise support plan, so no Health API.
    SubscriptionRequired,
}

/// Where credentials come from.
#[derive(Clone, Default)]
pub enum AwsAccess {
    /// The SDK's default chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`,
    /// SSO, instance and container roles. What `warroom run` uses.
    #[default]
    DefaultChain,
    /// Fixed keys, for the in-process fakes of the demo and the tests only.
    Static {
        access_key_id: String,
        secret_access_key: String,
    },
}

impl fmt::Debug for AwsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwsAccess::DefaultChain => f.write_str("DefaultChain"),
            AwsAccess::Static { .. } => f.write_str("Static { [redacted] }"),
        }
    }
}

/// One `[[aws.accounts]]` entry: CloudWatch clients for its regions, signing with the
/// credentials of its assumed role.
#[derive(Clone)]
struct Account {
    name: String,
    account_id: String,
    cloudwatch: HashMap<String, aws_sdk_cloudwatch::Client>,
}

/// Where alarms are polled: warroom's own account (`account: None`) or a listed one, and a
/// region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PollTarget {
    /// The `[[aws.accounts]]` name; `None` for warroom's own account.
    pub account: Option<String>,
    pub region: String,
}

impl fmt::Display for PollTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.account {
            Some(a) => write!(f, "account {a}, {}", self.region),
            None => f.write_str(&self.region),
        }
    }
}

/// Clients for every region warroom polls, plus Health and Support.
#[derive(Clone)]
pub struct Aws {
    cloudwatch: HashMap<String, aws_sdk_cloudwatch::Client>,
    /// `[[aws.accounts]]`, in the config's order.
    accounts: Vec<Account>,
    /// For `[alarms] regions` and `[aws] region`: where changes are looked up.
    cloudtrail: HashMap<String, aws_sdk_cloudtrail::Client>,
    /// Keeps LookupEvents to its rate, per region.
    trail_pacer: cloudtrail::Pacer,
    health: aws_sdk_health::Client,
    support: aws_sdk_support::Client,
    /// The `[events]` queue and a client in its region, when configured.
    sqs: Option<(String, aws_sdk_sqs::Client)>,
    /// Where every call is counted (`/metrics`), when set.
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

impl fmt::Debug for Aws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aws")
            .field("regions", &self.cloudwatch.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Aws {
    /// Build clients for `[alarms] regions` (CloudWatch, CloudTrail), `[aws] region`
    /// (CloudTrail), Health and Support. Nothing is called yet: credentials are resolved on
    /// the first request.
    pub async fn connect(config: &Config, access: &AwsAccess) -> Aws {
        let mut cloudwatch = HashMap::new();
        let mut cloudtrail = HashMap::new();
        for region in &config.alarms.regions {
            let sdk = sdk_config(config, access, region).await;
            cloudwatch.insert(region.clone(), aws_sdk_cloudwatch::Client::new(&sdk));
            cloudtrail.insert(region.clone(), aws_sdk_cloudtrail::Client::new(&sdk));
        }
        if !cloudtrail.contains_key(&config.aws.region) {
            let sdk = sdk_config(config, access, &config.aws.region).await;
            cloudtrail.insert(
                config.aws.region.clone(),
                aws_sdk_cloudtrail::Client::new(&sdk),
            );
        }
        let health = aws_sdk_health::Client::new(&sdk_config(config, access, HEALTH_REGION).await);
        let support =
            aws_sdk_support::Client::new(&sdk_config(config, access, SUPPORT_REGION).await);
        let sqs = match &config.events {
            Some(events) => Some((
                events.sqs_queue_url.clone(),
                aws_sdk_sqs::Client::new(&sdk_config(config, access, &events.region).await),
            )),
            None => None,
        };
        let mut accounts = Vec::new();
        for a in &config.aws.accounts {
            accounts.push(account_clients(config, access, a).await);
        }
        Aws {
            cloudwatch,
            accounts,
            cloudtrail,
            trail_pacer: cloudtrail::Pacer::default(),
            health,
            support,
            sqs,
            metrics: None,
        }
    }

    /// Count every call into `metrics` (the running bot's).
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Aws {
        self.metrics = Some(metrics);
        self
    }

    /// Count one finished call by operation and result.
    fn count<T>(
        &self,
        operation: &'static str,
        result: Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        if let Some(m) = &self.metrics {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(AwsError::Service { code, .. }) => code.as_str(),
                Err(AwsError::Transport { .. }) => "transport",
            };
            m.aws_call(operation, outcome);
        }
        result
    }

    /// Every (account, region) the alarm poller asks: `[alarms] regions` in warroom's own
    /// account, then each `[[aws.accounts]]` entry's regions.
    pub fn poll_targets(&self, own_regions: &[String]) -> Vec<PollTarget> {
        let mut out: Vec<PollTarget> = own_regions
            .iter()
            .map(|r| PollTarget {
                account: None,
                region: r.clone(),
            })
            .collect();
        for a in &self.accounts {
            let mut regions: Vec<&String> = a.cloudwatch.keys().collect();
            regions.sort();
            out.extend(regions.into_iter().map(|r| PollTarget {
                account: Some(a.name.clone()),
                region: r.clone(),
            }));
        }
        out
    }

    /// Whether the alarm `arn` is polled at `target`'s account: the listed account its ARN
    /// names, or warroom's own for every other ARN.
    pub fn owns(&self, target: &PollTarget, arn: &str) -> bool {
        let account = crate::domain::alarm::alarm_account(arn);
        let listed = self
            .accounts
            .iter()
            .find(|a| Some(a.account_id.as_str()) == account);
        match (&target.account, listed) {
            (None, None) => true,
            (Some(name), Some(a)) => &a.name == name,
            _ => false,
        }
    }

    /// Where the alarm `arn` in `region` is read: the listed account its ARN names, else
    /// warroom's own. `None` when that account does not poll `region`.
    pub fn target_of(&self, region: &str, arn: &str) -> Option<PollTarget> {
        let account = crate::domain::alarm::alarm_account(arn);
        match self
            .accounts
            .iter()
            .find(|a| Some(a.account_id.as_str()) == account)
        {
            Some(a) => a.cloudwatch.contains_key(region).then(|| PollTarget {
                account: Some(a.name.clone()),
                region: region.to_string(),
            }),
            None => self.watches_region(region).then(|| PollTarget {
                account: None,
                region: region.to_string(),
            }),
        }
    }

    /// The `[[aws.accounts]]` names, in the config's order.
    pub fn account_names(&self) -> Vec<String> {
        self.accounts.iter().map(|a| a.name.clone()).collect()
    }

    /// The CloudWatch client for `target`.
    fn cloudwatch_at(&self, target: &PollTarget) -> Result<&aws_sdk_cloudwatch::Client, AwsError> {
        let Some(name) = &target.account else {
            return self.cloudwatch(&target.region);
        };
        self.accounts
            .iter()
            .find(|a| &a.name == name)
            .and_then(|a| a.cloudwatch.get(&target.region))
            .ok_or_else(|| AwsError::Transport {
                operation: "CloudWatch",
                detail: format!("region {} is not polled in account {name}", target.region),
            })
    }

    /// The CloudWatch client for a resource (an alarm's ARN) in `region`: the listed
    /// account's when the ARN names one, else warroom's own.
    fn cloudwatch_for(
        &self,
        region: &str,
        arn: &str,
    ) -> Result<&aws_sdk_cloudwatch::Client, AwsError> {
        let account = crate::domain::alarm::alarm_account(arn);
        match self
            .accounts
            .iter()
            .find(|a| Some(a.account_id.as_str()) == account)
        {
            Some(a) => a.cloudwatch.get(region).ok_or_else(|| AwsError::Transport {
                operation: "CloudWatch",
                detail: format!("region {region} is not polled in account {}", a.name),
            }),
            None => self.cloudwatch(region),
        }
    }

    /// Every metric and composite alarm in ALARM at `target`, all pages.
    pub async fn alarms_in_alarm_at(&self, target: &PollTarget) -> Result<Vec<Alarm>, AwsError> {
        let r = cloudwatch::alarms_in_alarm(self.cloudwatch_at(target)?, &target.region).await;
        self.count("DescribeAlarms", r)
    }

    /// The current state of the named alarms at `target` (any state).
    pub async fn alarms_named_at(
        &self,
        target: &PollTarget,
        names: &[String],
    ) -> Result<Vec<Alarm>, AwsError> {
        let r = cloudwatch::alarms_named(self.cloudwatch_at(target)?, &target.region, names).await;
        self.count("DescribeAlarms", r)
    }

    /// Whether CloudWatch at `target` answers (for `warroom doctor`): for a listed account,
    /// this is where its role is assumed.
    pub async fn cloudwatch_reachable_at(&self, target: &PollTarget) -> Result<(), AwsError> {
        let r = cloudwatch::reachable(self.cloudwatch_at(target)?).await;
        self.count("DescribeAlarms", r)
    }

    fn cloudwatch(&self, region: &str) -> Result<&aws_sdk_cloudwatch::Client, AwsError> {
        self.cloudwatch
            .get(region)
            .ok_or_else(|| AwsError::Transport {
                operation: "CloudWatch",
                detail: format!("region {region} is not in [alarms] regions"),
            })
    }

    fn cloudtrail(&self, region: &str) -> Result<&aws_sdk_cloudtrail::Client, AwsError> {
        self.cloudtrail
            .get(region)
            .ok_or_else(|| AwsError::Transport {
                operation: "LookupEvents",
                detail: format!("region {region} is in neither [alarms] regions nor [aws] region"),
            })
    }

    /// The regions changes can be looked up in.
    pub fn change_regions(&self) -> Vec<String> {
        let mut r: Vec<String> = self.cloudtrail.keys().cloned().collect();
        r.sort();
        r
    }

    /// Whether CloudWatch can be asked about `region` (it is in `[alarms] regions`).
    pub fn watches_region(&self, region: &str) -> bool {
        self.cloudwatch.contains_key(region)
    }

    /// CloudTrail management write events in `region` between `since` and `until`
    /// (LookupEvents, ReadOnly=false), paced and bounded (see [`cloudtrail`]).
    pub async fn write_events(
        &self,
        region: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<cloudtrail::Lookup, AwsError> {
        let client = self.cloudtrail(region)?;
        let r = cloudtrail::write_events(client, &self.trail_pacer, region, since, until).await;
        self.count("LookupEvents", r)
    }

    /// Whether LookupEvents in `region` answers with these credentials (for `warroom
    /// doctor`): one call for one event.
    pub async fn cloudtrail_reachable(&self, region: &str) -> Result<(), AwsError> {
        let client = self.cloudtrail(region)?;
        let r = cloudtrail::reachable(client, &self.trail_pacer, region).await;
        self.count("LookupEvents", r)
    }

    /// The alarm's state changes between `since` and `until`, newest first.
    pub async fn alarm_history(
        &self,
        region: &str,
        name: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<HistoryItem>, AwsError> {
        self.alarm_history_at(
            &PollTarget {
                account: None,
                region: region.to_string(),
            },
            name,
            since,
            until,
        )
        .await
    }

    /// [`Aws::alarm_history`] at `target` (a listed account's alarm: in that account).
    pub async fn alarm_history_at(
        &self,
        target: &PollTarget,
        name: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<HistoryItem>, AwsError> {
        let r = cloudwatch::alarm_history(self.cloudwatch_at(target)?, name, since, until).await;
        self.count("DescribeAlarmHistory", r)
    }

    /// Whether CloudWatch in `region` answers with these credentials (for `warroom doctor`).
    pub async fn cloudwatch_reachable(&self, region: &str) -> Result<(), AwsError> {
        let r = cloudwatch::reachable(self.cloudwatch(region)?).await;
        self.count("DescribeAlarms", r)
    }

    /// The alarm's tags (for routes that match on tags).
    pub async fn tags(&self, region: &str, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        let r = cloudwatch::tags(self.cloudwatch_for(region, arn)?, arn).await;
        self.count("ListTagsForResource", r)
    }

    /// A PNG of the alarm's metric around `alarm.state_updated_at`, threshold line included.
    /// `Ok(None)` when the alarm has no single metric to draw (composite, metric math).
    pub async fn alarm_graph(
        &self,
        alarm: &Alarm,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<u8>>, AwsError> {
        let Some(widget) = cloudwatch::widget_json(alarm, now) else {
            return Ok(None);
        };
        let r = cloudwatch::widget_image(self.cloudwatch_for(&alarm.region, &alarm.arn)?, &widget)
            .await
            .map(Some);
        self.count("GetMetricWidgetImage", r)
    }

    /// Open and upcoming Health events for `service` in `region`.
    pub async fn health_events(
        &self,
        service: &str,
        region: &str,
    ) -> Result<HealthAnswer, AwsError> {
        let r = health::open_events(&self.health, service, region).await;
        // SubscriptionRequired is an answer, not a failure, but worth seeing in metrics.
        let r = self.count("DescribeEvents", r);
        if let (Some(m), Ok(HealthAnswer::SubscriptionRequired)) = (&self.metrics, &r) {
            m.aws_call("DescribeEvents", "SubscriptionRequiredException");
        }
        r
    }

    /// CreateCase (`language` "en", `issueType` "technical"); returns the case id.
    pub async fn create_case(&self, req: &CaseRequest) -> Result<String, AwsError> {
        let r = support::create_case(&self.support, req).await;
        self.count("CreateCase", r)
    }

    /// DescribeCases for one id, resolved cases included, without communications.
    /// `Ok(None)` when AWS does not know the case.
    pub async fn describe_case(&self, case_id: &str) -> Result<Option<CaseInfo>, AwsError> {
        let r = support::describe_case(&self.support, case_id).await;
        self.count("DescribeCases", r)
    }

    /// The newest case created at or after `since` whose subject is exactly `subject`,
    /// resolved ones included (DescribeCases with afterTime, every page). CreateCase has no
    /// idempotency token: this finds the case an attempt whose answer was lost opened.
    pub async fn case_with_subject(
        &self,
        subject: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<CaseInfo>, AwsError> {
        let r = support::case_with_subject(&self.support, subject, since).await;
        self.count("DescribeCases", r)
    }

    /// DescribeCommunications, every page, oldest first. `after` becomes `afterTime`; AWS
    /// may include a message from that very instant, so callers tell seen ones apart with
    /// [`Communication::key`].
    pub async fn communications(
        &self,
        case_id: &str,
        after: Option<DateTime<Utc>>,
    ) -> Result<Vec<Communication>, AwsError> {
        let r = support::communications(&self.support, case_id, after).await;
        self.count("DescribeCommunications", r)
    }

    /// AddCommunicationToCase: a message from warroom's side, copied to `cc`.
    pub async fn add_communication(
        &self,
        case_id: &str,
        body: &str,
        cc: &[String],
    ) -> Result<(), AwsError> {
        let r = support::add_communication(&self.support, case_id, body, cc).await;
        self.count("AddCommunicationToCase", r)
    }

    /// ResolveCase; returns `finalCaseStatus`.
    pub async fn resolve_case(&self, case_id: &str) -> Result<String, AwsError> {
        let r = support::resolve_case(&self.support, case_id).await;
        self.count("ResolveCase", r)
    }

    fn sqs(&self, operation: &'static str) -> Result<(&str, &aws_sdk_sqs::Client), AwsError> {
        self.sqs
            .as_ref()
            .map(|(url, c)| (url.as_str(), c))
            .ok_or_else(|| AwsError::Transport {
                operation,
                detail: "no [events] sqs_queue_url is configured".to_string(),
            })
    }

    /// Long-poll the `[events]` queue: up to `max` messages, waiting up to `wait_secs`.
    pub async fn receive_events(
        &self,
        wait_secs: i32,
        max: i32,
    ) -> Result<Vec<sqs::QueueMessage>, AwsError> {
        let (url, client) = self.sqs("ReceiveMessage")?;
        let r = sqs::receive(client, url, wait_secs, max).await;
        self.count("ReceiveMessage", r)
    }

    /// Delete handled messages from the `[events]` queue in one call (at most 10); the
    /// receipt handles SQS could not delete, with its reason.
    pub async fn delete_events(
        &self,
        receipt_handles: &[&str],
    ) -> Result<Vec<(String, String)>, AwsError> {
        let (url, client) = self.sqs("DeleteMessageBatch")?;
        let r = sqs::delete_batch(client, url, receipt_handles).await;
        self.count("DeleteMessageBatch", r)
    }

    /// The `[events]` queue's approximate depth (for `warroom doctor`).
    pub async fn event_queue_depth(&self) -> Result<u64, AwsError> {
        let (url, client) = self.sqs("GetQueueAttributes")?;
        let r = sqs::depth(client, url).await;
        self.count("GetQueueAttributes", r)
    }

    /// Whether the Support API answers with these credentials and this account's plan (for
    /// `warroom doctor`): one small DescribeCases.
    pub async fn support_reachable(&self) -> Result<(), AwsError> {
        let r = support::reachable(&self.support).await;
        self.count("DescribeCases", r)
    }
}

/// The HTTPS client every AWS call goes through, credential look-ups included: hyper 1 and
/// rustls on ring, the same stack as the Slack client (Cargo.toml says why not the SDK's
/// default). Built once per process; its connection pool is shared by every SDK client.
pub(crate) fn https_client() -> aws_sdk_cloudwatch::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    static CLIENT: std::sync::OnceLock<aws_sdk_cloudwatch::config::SharedHttpClient> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https()
        })
        .clone()
}

/// CloudWatch clients in `account`'s regions with the credentials of its role: STS
/// AssumeRole (in `[aws] region`, signed with warroom's own credentials) through the SDK's
/// provider, behind the SDK's identity cache, which assumes the role again shortly before
/// the session expires. Nothing is called until the first request.
async fn account_clients(
    config: &Config,
    access: &AwsAccess,
    account: &crate::config::AccountConfig,
) -> Account {
    let base = sdk_config(config, access, &config.aws.region).await;
    let mut role = aws_config::sts::AssumeRoleProvider::builder(account.role_arn.clone())
        .session_name(format!("warroom-{}", account.name))
        .configure(&base);
    if let Some(id) = &account.external_id {
        role = role.external_id(id.clone());
    }
    let provider = aws_sdk_cloudwatch::config::SharedCredentialsProvider::new(role.build().await);
    let assumed = base
        .into_builder()
        .credentials_provider(provider)
        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
        .build();
    let mut cloudwatch = HashMap::new();
    for region in &account.regions {
        let conf = aws_sdk_cloudwatch::config::Builder::from(&assumed)
            .region(Region::new(region.clone()))
            .build();
        cloudwatch.insert(region.clone(), aws_sdk_cloudwatch::Client::from_conf(conf));
    }
    Account {
        name: account.name.clone(),
        account_id: account.account_id.clone(),
        cloudwatch,
    }
}

async fn sdk_config(config: &Config, access: &AwsAccess, region: &str) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .region(Region::new(region.to_string()));
    if let Some(url) = &config.aws.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    if let AwsAccess::Static {
        access_key_id,
        secret_access_key,
    } = access
    {
        loader = loader.credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            access_key_id.clone(),
            secret_access_key.clone(),
            None,
            None,
            "warroom-static",
        ));
    }
    loader.load().await
}

/// Turn an SDK error into [`AwsError`]: the service's code and message, or a short
/// description of the transport failure (the SDK's own texts never carry credentials).
///
/// Every SDK crate re-exports the same `SdkError` and `ProvideErrorMetadata` (from
/// aws-smithy-runtime-api and aws-smithy-types), so this serves CloudWatch, Health and
/// Support errors alike.
fn sdk_error<E, R>(
    operation: &'static str,
    e: aws_sdk_cloudwatch::error::SdkError<E, R>,
) -> AwsError
where
    E: aws_sdk_cloudwatch::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_cloudwatch::error::SdkError;
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            AwsError::Service {
                operation,
                code: err.code().unwrap_or("Unknown").to_string(),
                message: err.message().unwrap_or_default().to_string(),
            }
        }
        _ => AwsError::Transport {
            operation,
            detail: short(&aws_sdk_cloudwatch::error::DisplayErrorContext(&e).to_string()),
        },
    }
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(300).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

fn to_chrono(t: &aws_sdk_cloudwatch::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(t.to_millis().ok()?)
}
