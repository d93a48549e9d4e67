//! "What changed before the alarm?": the recent AWS changes (CloudTrail management write
//! events), the alarm's own history and the alarms firing beside it, ranked and explained.
//!
//! The first question of almost every incident is what changed. The AWS adapter fetches
//! the raw material (LookupEvents, DescribeAlarmHistory, DescribeAlarms); this module decides
//! what is worth showing: changes to the alarm's own resources first, then deploy-like
//! changes, then the rest, without routine noise. A [`ChangeReport`] is what is posted, kept
//! on the timeline (as JSON) and quoted in the AWS Support case and the postmortem.
//!
//! Pure: no IO, time comes in as a parameter.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::alarm::Dimension;
use super::text::{percent_encode, truncate};
use super::time::format_duration;

/// How many changes a report shows; the rest are counted.
pub const MAX_SHOWN: usize = 10;
/// The lookback when `[diagnostics] lookback` says nothing.
pub const DEFAULT_LOOKBACK: Duration = Duration::hours(2);
/// Shortest and longest lookback `/incident changes` and the config accept.
pub const MIN_LOOKBACK: Duration = Duration::minutes(5);
pub const MAX_LOOKBACK: Duration = Duration::days(7);
/// How long after a call CloudTrail may still not list it (about 5 minutes on average, not
/// guaranteed): a look-up this soon after its anchor says to look again.
pub const CLOUDTRAIL_DELAY: Duration = Duration::minutes(15);
/// How far back the alarm's own history is read.
pub const HISTORY_WINDOW: Duration = Duration::hours(24);
/// Alarms in ALARM listed by name beside this one; the rest are counted.
pub const MAX_NEIGHBOURS: usize = 10;

/// Events that are routine, never a change anyone made to the system: credentials being
/// handed out, log streams being created, sign-ins. `[diagnostics] ignore_events` adds to it.
pub const ROUTINE_EVENTS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "CreateLogStream",
    "PutLogEvents",
    "ConsoleLogin",
    "CreateGrant",
    "RetireGrant",
    "StartSession",
    "ResumeSession",
    "TerminateSession",
    "SendSSHPublicKey",
];

/// Events that usually mean a deploy, a scaling or database change, or a network or
/// permission change: what an on-call engineer asks about first.
pub const DEPLOY_LIKE_EVENTS: &[&str] = &[
    // Deploys.
    "UpdateService",
    "CreateService",
    "RegisterTaskDefinition",
    "CreateDeployment",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "PublishVersion",
    "UpdateAlias",
    "ExecuteChangeSet",
    "UpdateStack",
    "CreateStack",
    "DeleteStack",
    "StartInstanceRefresh",
    "UpdateEnvironment",
    // Scaling and databases.
    "UpdateAutoScalingGroup",
    "SetDesiredCapacity",
    "PutScalingPolicy",
    "ModifyDBInstance",
    "ModifyDBCluster",
    "ModifyDBParameterGroup",
    "ModifyDBClusterParameterGroup",
    "RebootDBInstance",
    "FailoverDBCluster",
    "UpdateTable",
    "ModifyCacheCluster",
    "ModifyReplicationGroup",
    // Network and permissions.
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupEgress",
    "ModifyLoadBalancerAttributes",
    "ModifyTargetGroup",
    "ModifyListener",
    "ModifyRule",
    "PutBucketPolicy",
    "PutRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ChangeResourceRecordSets",
    "UpdateDistribution",
    "ReplaceRoute",
    "CreateRoute",
    "DeleteRoute",
];

/// One CloudTrail management event, as the AWS adapter read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// CloudTrail's `EventId`: the console link is made from it.
    pub id: String,
    pub at: DateTime<Utc>,
    /// `UpdateService`, `ModifyDBInstance`, …
    pub name: String,
    /// `ecs.amazonaws.com`, …
    pub source: String,
    /// Who made the call: the caller's ARN or user name, as CloudTrail gives it.
    pub who: String,
    /// What the call was about: CloudTrail's resource names and the names and ARNs in the
    /// request parameters (services, functions, groups, instances, …).
    pub targets: Vec<String>,
    pub region: String,
    /// Set when the call failed (then it changed nothing).
    pub error_code: Option<String>,
}

/// Why a change is shown where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relevance {
    /// It touched one of the alarm's own resources (a dimension of its metric).
    OwnResource { dimension: String, value: String },
    /// A deploy, scaling, database, network or permission change.
    DeployLike,
    /// Any other write.
    Other,
}

impl Relevance {
    fn rank(&self) -> u8 {
        match self {
            Relevance::OwnResource { .. } => 0,
            Relevance::DeployLike => 1,
            Relevance::Other => 2,
        }
    }
}

/// A change with the reason for its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedChange {
    pub event: ChangeEvent,
    pub relevance: Relevance,
}

/// The changes of one region and window, ranked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeList {
    /// At most [`MAX_SHOWN`], most relevant first.
    pub shown: Vec<RankedChange>,
    /// Changes found but not shown.
    pub more: usize,
    /// Routine or failed calls left out.
    pub left_out: usize,
    /// warroom stopped paging before the window's start: older changes may exist.
    pub truncated: bool,
}

/// One state change in the alarm's history (DescribeAlarmHistory, StateUpdate items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    pub at: DateTime<Utc>,
    /// `OK`, `ALARM`, `INSUFFICIENT_DATA` (`None` when AWS did not say).
    pub from: Option<String>,
    pub to: String,
}

/// What the alarm's history says before this transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySummary {
    /// How many times it went to ALARM in the [`HISTORY_WINDOW`] before this one.
    pub alarms_before: usize,
    /// The last time it went to ALARM before this one, and when it left ALARM again.
    pub last_alarm: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
}

impl HistorySummary {
    /// Three or more ALARMs in a day: the alarm flaps, and this may be one more of them.
    pub fn flapping(&self) -> bool {
        self.alarms_before >= 3
    }
}

/// Summarise the alarm's history before `anchor` (its current ALARM transition).
pub fn summarise_history(items: &[HistoryItem], anchor: DateTime<Utc>) -> HistorySummary {
    let mut before: Vec<&HistoryItem> = items
        .iter()
        .filter(|i| i.at < anchor && i.at >= anchor - HISTORY_WINDOW)
        .collect();
    before.sort_by_key(|i| i.at);
    let alarms: Vec<&&HistoryItem> = before.iter().filter(|i| i.to == "ALARM").collect();
    let last_alarm = alarms.last().map(|last| {
        let left = before
            .iter()
            .find(|i| i.at > last.at && i.to != "ALARM")
            .map(|i| i.at);
        (last.at, left)
    });
    HistorySummary {
        alarms_before: alarms.len(),
        last_alarm,
    }
}

/// A part of the report that could not be had, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Finding<T> {
    Found(T),
    /// Why not, as a user reads it (see [`explain_failure`]).
    Failed(String),
}

/// The look-up of one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionChanges {
    pub region: String,
    pub changes: Finding<ChangeList>,
}

/// Everything "What changed before the alarm" says, kept on the timeline as it was posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeReport {
    /// The moment the look-back ends: the alarm's state change, or when the incident was
    /// declared.
    pub anchor: DateTime<Utc>,
    /// What the anchor is ("the alarm", "the incident was declared").
    pub anchor_label: String,
    pub lookback_minutes: i64,
    /// The alarm the report is about, when an alarm opened the incident.
    pub alarm_name: Option<String>,
    pub regions: Vec<RegionChanges>,
    /// The alarm's own history (alarm-opened incidents only).
    pub history: Option<Finding<HistorySummary>>,
    /// Other alarms in ALARM in the same region right now, by name.
    pub neighbours: Option<Finding<Vec<String>>>,
    /// The look-up ran within [`CLOUDTRAIL_DELAY`] of the anchor: CloudTrail may not list
    /// the latest changes yet.
    pub maybe_incomplete: bool,
}

impl ChangeReport {
    pub fn lookback(&self) -> Duration {
        Duration::minutes(self.lookback_minutes)
    }

    /// When the window starts.
    pub fn since(&self) -> DateTime<Utc> {
        self.anchor - self.lookback()
    }

    /// Every change shown, region by region, most relevant first.
    pub fn shown(&self) -> impl Iterator<Item = &RankedChange> {
        self.regions.iter().flat_map(|r| match &r.changes {
            Finding::Found(list) => list.shown.as_slice(),
            Finding::Failed(_) => &[],
        })
    }

    /// "no management changes in the last 2h" when every region answered with none.
    pub fn nothing_found(&self) -> bool {
        self.regions
            .iter()
            .all(|r| matches!(&r.changes, Finding::Found(l) if l.shown.is_empty()))
    }

    /// One line per change for plain-text readers (the AWS Support case, the timeline):
    /// `2026-11-21 09:48 UTC (12m before the alarm) UpdateService on checkout by deploy-bot`.
    pub fn plain_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for r in &self.regions {
            match &r.changes {
                Finding::Failed(why) => lines.push(format!("{}: not checked: {why}", r.region)),
                Finding::Found(list) => {
                    for c in &list.shown {
                        lines.push(format!(
                            "{} ({}) {}{} by {} in {}",
                            c.event.at.format("%Y-%m-%d %H:%M UTC"),
                            relative(c.event.at, self.anchor, &self.anchor_label),
                            c.event.name,
                            resource(&c.event)
                                .map(|t| format!(" on {t}"))
                                .unwrap_or_default(),
                            short_identity(&c.event.who),
                            r.region,
                        ));
                    }
                    if list.more > 0 {
                        lines.push(format!("…and {} more in {}", list.more, r.region));
                    }
                }
            }
        }
        if lines.is_empty() || self.nothing_found() {
            lines.push(format!(
                "no management changes in the last {} before {}",
                format_lookback(self.lookback()),
                self.anchor_label
            ));
        }
        lines
    }

    /// The timeline entry's text: a one-line summary.
    pub fn summary(&self) -> String {
        let shown = self.shown().count();
        let failed: Vec<&str> = self
            .regions
            .iter()
            .filter(|r| matches!(r.changes, Finding::Failed(_)))
            .map(|r| r.region.as_str())
            .collect();
        let mut s = if shown == 0 && failed.is_empty() {
            format!(
                "Changes before {}: no management changes in the last {}",
                self.anchor_label,
                format_lookback(self.lookback())
            )
        } else {
            let names: Vec<String> = self.shown().take(3).map(|c| c.event.name.clone()).collect();
            format!(
                "Changes before {}: {} in the last {}{}",
                self.anchor_label,
                match shown {
                    1 => "1 change".to_string(),
                    n => format!("{n} changes"),
                },
                format_lookback(self.lookback()),
                if names.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", names.join(", "))
                }
            )
        };
        if !failed.is_empty() {
            s.push_str(&format!("; not checked in {}", failed.join(", ")));
        }
        s
    }
}

/// Rank the changes of one region: writes that succeeded, without routine events or the
/// names in `ignore`, inside `[since, until]`; changes to the alarm's own resources
/// (`dimensions`) first, then deploy-like ones, then the rest, the most recent first in
/// each group. At most [`MAX_SHOWN`] are kept.
pub fn rank(
    events: &[ChangeEvent],
    dimensions: &[Dimension],
    ignore: &[String],
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    truncated: bool,
) -> ChangeList {
    let mut left_out = 0;
    let mut ranked: Vec<RankedChange> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in events {
        if e.at < since || e.at > until || !seen.insert(e.id.as_str()) {
            continue;
        }
        if is_routine(&e.name, ignore) || e.error_code.is_some() {
            left_out += 1;
            continue;
        }
        ranked.push(RankedChange {
            relevance: relevance(e, dimensions),
            event: e.clone(),
        });
    }
    ranked.sort_by(|a, b| {
        a.relevance
            .rank()
            .cmp(&b.relevance.rank())
            .then(b.event.at.cmp(&a.event.at))
            .then(a.event.id.cmp(&b.event.id))
    });
    let more = ranked.len().saturating_sub(MAX_SHOWN);
    ranked.truncate(MAX_SHOWN);
    ChangeList {
        shown: ranked,
        more,
        left_out,
        truncated,
    }
}

/// Whether `name` is routine noise (built in, or in `[diagnostics] ignore_events`).
pub fn is_routine(name: &str, ignore: &[String]) -> bool {
    ROUTINE_EVENTS.contains(&name) || ignore.iter().any(|i| i == name)
}

fn relevance(e: &ChangeEvent, dimensions: &[Dimension]) -> Relevance {
    for d in dimensions {
        if d.value.len() >= 2 && e.targets.iter().any(|t| names_resource(t, &d.value)) {
            return Relevance::OwnResource {
                dimension: d.name.clone(),
                value: d.value.clone(),
            };
        }
    }
    if DEPLOY_LIKE_EVENTS.contains(&e.name.as_str()) {
        Relevance::DeployLike
    } else {
        Relevance::Other
    }
}

/// Whether `target` (a name or an ARN from the event) names the resource a dimension value
/// names: equal, or an ARN or path ending in it (`…:targetgroup/web/73e2`,
/// `…/service/prod/checkout`, `…:function:orders`).
fn names_resource(target: &str, value: &str) -> bool {
    target == value
        || target
            .strip_suffix(value)
            .is_some_and(|head| head.ends_with(['/', ':']))
}

/// The resource a line names: the first target, without its ARN prefix.
pub fn resource(e: &ChangeEvent) -> Option<String> {
    let t = e.targets.first()?;
    let short = if t.starts_with("arn:") {
        t.splitn(6, ':').nth(5).unwrap_or(t)
    } else {
        t.as_str()
    };
    Some(truncate(short, 80))
}

/// The caller, shortened: `arn:aws:sts::1:assumed-role/Deployer/ci-1234` → `Deployer/ci-1234`,
/// `arn:aws:iam::1:user/alice` → `alice`, `arn:aws:iam::1:root` → `root`.
pub fn short_identity(who: &str) -> String {
    let tail = if who.starts_with("arn:") {
        who.splitn(6, ':').nth(5).unwrap_or(who)
    } else {
        who
    };
    let tail = tail
        .strip_prefix("assumed-role/")
        .or_else(|| tail.strip_prefix("user/"))
        .or_else(|| tail.strip_prefix("role/"))
        .unwrap_or(tail);
    let tail = if tail.is_empty() { "unknown" } else { tail };
    truncate(tail, 64)
}

/// `12m before the alarm`, `3m after the alarm`.
pub fn relative(at: DateTime<Utc>, anchor: DateTime<Utc>, anchor_label: &str) -> String {
    if at <= anchor {
        format!("{} before {anchor_label}", format_duration(anchor - at))
    } else {
        format!("{} after {anchor_label}", format_duration(at - anchor))
    }
}

/// The event's page in the CloudTrail console (event history), in its region.
pub fn console_url(region: &str, event_id: &str) -> String {
    format!(
        "https://{}.console.aws.amazon.com/cloudtrailv2/home?region={}#/events/{}",
        percent_encode(region),
        percent_encode(region),
        percent_encode(event_id)
    )
}

/// `2h`, `90m`, `1d`: how a lookback reads.
pub fn format_lookback(d: Duration) -> String {
    let m = d.num_minutes();
    if m > 0 && m % (24 * 60) == 0 {
        format!("{}d", m / (24 * 60))
    } else if m > 0 && m % 60 == 0 {
        format!("{}h", m / 60)
    } else {
        format!("{m}m")
    }
}

/// Which AWS call a failure came from, for [`explain_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// CloudTrail LookupEvents.
    Changes,
    /// CloudWatch DescribeAlarmHistory.
    History,
    /// CloudWatch DescribeAlarms.
    Neighbours,
}

impl Source {
    /// The IAM action the call needs.
    pub fn iam_action(self) -> &'static str {
        match self {
            Source::Changes => "cloudtrail:LookupEvents",
            Source::History => "cloudwatch:DescribeAlarmHistory",
            Source::Neighbours => "cloudwatch:DescribeAlarms",
        }
    }
}

/// What a failed call means for the user, from AWS's error code (`None`: no answer).
pub fn explain_failure(source: Source, code: Option<&str>) -> String {
    let action = source.iam_action();
    match code {
        Some(
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
            | "NotAuthorized" | "UnrecognizedClientException",
        ) => format!(
            "warroom may not call {action}: add \"{action}\" to its IAM policy (deploy/iam-policy.json)"
        ),
        Some(
            "ThrottlingException" | "Throttling" | "TooManyRequestsException"
            | "RequestLimitExceeded",
        ) if source == Source::Changes => "CloudTrail is throttling LookupEvents (it allows 2 requests per second per account and region): run /incident changes again in a minute".to_string(),
        Some(
            "ThrottlingException" | "Throttling" | "TooManyRequestsException"
            | "RequestLimitExceeded",
        ) => format!("AWS is throttling {action}: run /incident changes again in a minute"),
        Some(code) => format!("AWS answered {action} with {code}"),
        None => format!("AWS did not answer {action}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, h, m, 0).unwrap()
    }

    pub(crate) fn event(id: &str, name: &str, at: DateTime<Utc>, targets: &[&str]) -> ChangeEvent {
        ChangeEvent {
            id: id.into(),
            at,
            name: name.into(),
            source: "example.amazonaws.com".into(),
            who: "arn:aws:sts::123456789012:assumed-role/Deployer/ci-42".into(),
            targets: targets.iter().map(|t| t.to_string()).collect(),
            region: "eu-west-1".into(),
            error_code: None,
        }
    }

    fn dims() -> Vec<Dimension> {
        vec![Dimension {
            name: "AutoScalingGroupName".into(),
            value: "web".into(),
        }]
    }

    #[test]
    fn a_change_to_the_alarms_own_resource_comes_first() {
        let alarm = at(10, 0);
        let events = vec![
            event("1", "PutBucketPolicy", at(9, 55), &["logs-bucket"]),
            event("2", "UpdateFunctionCode", at(9, 50), &["orders"]),
            event(
                "3",
                "UpdateAutoScalingGroup",
                at(8, 30),
                &["arn:aws:autoscaling:eu-west-1:1:autoScalingGroup:abc:autoScalingGroupName/web"],
            ),
            event("4", "CreateTags", at(9, 59), &["i-0abc"]),
        ];
        let list = rank(
            &events,
            &dims(),
            &[],
            alarm - DEFAULT_LOOKBACK,
            alarm,
            false,
        );
        let names: Vec<&str> = list.shown.iter().map(|c| c.event.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "UpdateAutoScalingGroup",
                "PutBucketPolicy",
                "UpdateFunctionCode",
                "CreateTags"
            ],
            "own resource, then deploy-like (newest first), then the rest"
        );
        assert_eq!(
            list.shown[0].relevance,
            Relevance::OwnResource {
                dimension: "AutoScalingGroupName".into(),
                value: "web".into()
            }
        );
    }

    #[test]
    fn resources_match_by_name_or_arn_tail_only() {
        assert!(names_resource("web", "web"));
        assert!(names_resource(
            "arn:aws:lambda:eu-west-1:1:function:web",
            "web"
        ));
        assert!(names_resource(
            "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/web/73e2d6bc24d8a067",
            "targetgroup/web/73e2d6bc24d8a067"
        ));
        assert!(!names_resource("webshop", "web"));
        assert!(!names_resource("my-web", "web"));
    }

    #[test]
    fn routine_failed_and_ignored_events_are_left_out() {
        let alarm = at(10, 0);
        let mut failed = event("3", "UpdateService", at(9, 40), &["checkout"]);
        failed.error_code = Some("AccessDenied".into());
        let events = vec![
            event("1", "AssumeRole", at(9, 50), &[]),
            event("2", "CreateLogStream", at(9, 51), &[]),
            failed,
            event("4", "TagResource", at(9, 52), &[]),
            event("5", "ModifyDBInstance", at(9, 53), &["orders-db"]),
        ];
        let ignore = vec!["TagResource".to_string()];
        let list = rank(
            &events,
            &[],
            &ignore,
            alarm - DEFAULT_LOOKBACK,
            alarm,
            false,
        );
        let names: Vec<&str> = list.shown.iter().map(|c| c.event.name.as_str()).collect();
        assert_eq!(names, ["ModifyDBInstance"]);
        assert_eq!(list.left_out, 4);
    }

    #[test]
    fn the_lookback_window_is_honoured() {
        let alarm = at(10, 0);
        let events = vec![
            event("early", "UpdateService", at(7, 59), &[]),
            event("edge", "UpdateService", at(8, 0), &[]),
            event("late", "UpdateService", at(10, 1), &[]),
        ];
        let list = rank(&events, &[], &[], alarm - DEFAULT_LOOKBACK, alarm, false);
        let ids: Vec<&str> = list.shown.iter().map(|c| c.event.id.as_str()).collect();
        assert_eq!(ids, ["edge"], "only [alarm - 2h, alarm]");
    }

    #[test]
    fn at_most_ten_are_shown_and_the_rest_counted() {
        let alarm = at(10, 0);
        let events: Vec<ChangeEvent> = (0..14)
            .map(|i| event(&format!("e{i}"), "CreateTags", at(9, i), &[]))
            .collect();
        let list = rank(&events, &[], &[], alarm - DEFAULT_LOOKBACK, alarm, true);
        assert_eq!(list.shown.len(), MAX_SHOWN);
        assert_eq!(list.more, 4);
        assert!(list.truncated);
        assert_eq!(list.shown[0].event.id, "e13", "newest first");
    }

    #[test]
    fn identities_are_shortened() {
        assert_eq!(
            short_identity("arn:aws:sts::123456789012:assumed-role/Deployer/ci-42"),
            "Deployer/ci-42"
        );
        assert_eq!(
            short_identity("arn:aws:iam::123456789012:user/alice"),
            "alice"
        );
        assert_eq!(short_identity("arn:aws:iam::123456789012:root"), "root");
        assert_eq!(short_identity("ecs.amazonaws.com"), "ecs.amazonaws.com");
        assert_eq!(short_identity(""), "unknown");
    }

    #[test]
    fn history_tells_flapping_and_the_last_alarm() {
        let anchor = at(10, 0);
        let item = |h, m, from: &str, to: &str| HistoryItem {
            at: at(h, m),
            from: Some(from.into()),
            to: to.into(),
        };
        let items = vec![
            item(10, 0, "OK", "ALARM"),
            item(9, 40, "ALARM", "OK"),
            item(9, 30, "OK", "ALARM"),
            item(8, 40, "ALARM", "OK"),
            item(8, 30, "OK", "ALARM"),
            item(7, 10, "ALARM", "OK"),
            item(7, 0, "OK", "ALARM"),
        ];
        let s = summarise_history(&items, anchor);
        assert_eq!(s.alarms_before, 3);
        assert!(s.flapping());
        assert_eq!(s.last_alarm, Some((at(9, 30), Some(at(9, 40)))));
        let calm = summarise_history(&items[..1], anchor);
        assert_eq!(calm.alarms_before, 0);
        assert_eq!(calm.last_alarm, None);
    }

    #[test]
    fn failures_are_explained() {
        assert_eq!(
            explain_failure(Source::Changes, Some("AccessDeniedException")),
            "warroom may not call cloudtrail:LookupEvents: add \"cloudtrail:LookupEvents\" to its IAM policy (deploy/iam-policy.json)"
        );
        assert!(
            explain_failure(Source::Changes, Some("ThrottlingException"))
                .contains("2 requests per second per account and region")
        );
        assert!(explain_failure(Source::History, Some("AccessDenied"))
            .contains("cloudwatch:DescribeAlarmHistory"));
        assert_eq!(
            explain_failure(Source::Changes, None),
            "AWS did not answer cloudtrail:LookupEvents"
        );
    }

    #[test]
    fn nothing_found_reads_plainly() {
        let report = ChangeReport {
            anchor: at(10, 0),
            anchor_label: "the alarm".into(),
            lookback_minutes: 120,
            alarm_name: Some("web-cpu".into()),
            regions: vec![RegionChanges {
                region: "eu-west-1".into(),
                changes: Finding::Found(ChangeList::default()),
            }],
            history: None,
            neighbours: None,
            maybe_incomplete: false,
        };
        assert!(report.nothing_found());
        assert_eq!(
            report.plain_lines(),
            ["no management changes in the last 2h before the alarm"]
        );
        assert_eq!(
            report.summary(),
            "Changes before the alarm: no management changes in the last 2h"
        );
    }
}
