//! CloudTrail LookupEvents: the management write events (`ReadOnly=false`) of one region in a
//! time window, turned into [`ChangeEvent`]s. JSON 1.1 on the wire; `CloudTrailEvent` is the
//! full event as a JSON string, from which the caller's identity, the error code and the
//! names in the request parameters are read.
//!
//! LookupEvents allows 2 requests per second per account and region: calls are paced
//! ([`Pacer`]), and paging stops after [`MAX_PAGES`] pages (the list then says it may miss
//! older changes) so one look-up never holds the war room up for long.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_cloudtrail::Client;
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use tokio::time::Instant;

use super::{sdk_error, AwsError};
use crate::domain::changes::ChangeEvent;

/// LookupEvents' largest page.
const PAGE_SIZE: i32 = 50;
/// Pages read per look-up at most (250 events).
pub const MAX_PAGES: usize = 5;
/// LookupEvents' rate: 2 requests per second per account and region.
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);

/// What one look-up found.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub events: Vec<ChangeEvent>,
    /// Paging stopped at [`MAX_PAGES`] with more to read.
    pub truncated: bool,
    /// Pages read.
    pub pages: usize,
}

/// Spaces LookupEvents calls [`MIN_INTERVAL`] apart per region (one account per bot), across
/// every look-up running at once: each call books the next free slot of its region, then
/// waits for it, so callers in other regions never wait behind it.
#[derive(Debug, Default, Clone)]
pub struct Pacer {
    booked: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Pacer {
    /// Wait until a call in `region` keeps to the rate.
    async fn wait(&self, region: &str) {
        let slot = {
            // A panic while holding the lock leaves plain data; keep pacing.
            let mut booked = self.booked.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = booked
                .get(region)
                .map_or(now, |last| (*last + MIN_INTERVAL).max(now));
            booked.insert(region.to_string(), slot);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Management write events in `region` between `since` and `until`, newest first, at most
/// [`MAX_PAGES`] pages.
pub(super) async fn write_events(
    client: &Client,
    pacer: &Pacer,
    region: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Lookup, AwsError> {
    let read_only = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ReadOnly)
        .attribute_value("false")
        .build()
        .map_err(|e| AwsError::Transport {
            operation: "LookupEvents",
            detail: e.to_string(),
        })?;
    let mut out = Lookup::default();
    let mut token: Option<String> = None;
    loop {
        if out.pages == MAX_PAGES {
            out.truncated = true;
            break;
        }
        pacer.wait(region).await;
        let page = client
            .lookup_events()
            .lookup_attributes(read_only.clone())
            .start_time(aws_time(since))
            .end_time(aws_time(until))
            .max_results(PAGE_SIZE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| sdk_error("LookupEvents", e))?;
        out.pages += 1;
        for e in page.events() {
            match change_event(e, region) {
                Some(c) => out.events.push(c),
                None => {
                    tracing::debug!(id = ?e.event_id(), "skipping a CloudTrail event without id, name or time")
                }
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// One LookupEvents call for one event: are CloudTrail, the credentials and the permission
/// there?
pub(super) async fn reachable(
    client: &Client,
    pacer: &Pacer,
    region: &str,
) -> Result<(), AwsError> {
    pacer.wait(region).await;
    client
        .lookup_events()
        .max_results(1)
        .send()
        .await
        .map(drop)
        .map_err(|e| sdk_error("LookupEvents", e))
}

fn aws_time(t: DateTime<Utc>) -> aws_sdk_cloudtrail::primitives::DateTime {
    aws_sdk_cloudtrail::primitives::DateTime::from_millis(t.timestamp_millis())
}

fn change_event(e: &aws_sdk_cloudtrail::types::Event, region: &str) -> Option<ChangeEvent> {
    let detail: Json = e
        .cloud_trail_event()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Json::Null);
    let who = detail
        .pointer("/userIdentity/arn")
        .and_then(Json::as_str)
        .or_else(|| {
            detail
                .pointer("/userIdentity/invokedBy")
                .and_then(Json::as_str)
        })
        .or(e.username())
        .unwrap_or("unknown")
        .to_string();
    let mut targets: Vec<String> = e
        .resources()
        .iter()
        .filter_map(|r| r.resource_name())
        .map(str::to_string)
        .collect();
    if let Some(params) = detail.get("requestParameters").and_then(Json::as_object) {
        for v in params.values() {
            if let Some(s) = v.as_str() {
                if !s.is_empty() && s.len() <= 2048 && !targets.iter().any(|t| t == s) {
                    targets.push(s.to_string());
                }
            }
        }
    }
    let at = e.event_time()?.to_millis().ok()?;
    Some(ChangeEvent {
        id: e.event_id()?.to_string(),
        at: DateTime::from_timestamp_millis(at)?,
        name: e.event_name()?.to_string(),
        source: e.event_source().unwrap_or_default().to_string(),
        who,
        targets,
        region: detail
            .get("awsRegion")
            .and_then(Json::as_str)
            .unwrap_or(region)
            .to_string(),
        error_code: detail
            .get("errorCode")
            .and_then(Json::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::{AwsFake, CloudWatchBackend, FakeTrailEvent};
    use crate::aws::{Aws, AwsAccess};
    use crate::config::Config;
    use crate::domain::changes::{explain_failure, Source};

    const WHO: &str = "arn:aws:sts::123456789012:assumed-role/Deployer/ci-42";

    async fn aws(fake: &AwsFake) -> Aws {
        let mut config = Config::default();
        config.aws.region = "eu-west-1".into();
        config.aws.endpoint_url = Some(fake.endpoint_url());
        config.alarms.regions = vec!["eu-west-1".into(), "us-east-1".into()];
        let access = AwsAccess::Static {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        };
        Aws::connect(&config, &access).await
    }

    fn minutes_ago(now: DateTime<Utc>, m: i64) -> DateTime<Utc> {
        now - chrono::Duration::minutes(m)
    }

    #[tokio::test]
    async fn write_events_of_the_window_and_region_arrive_with_who_and_what() {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        let aws = aws(&fake).await;
        let now = Utc::now();
        let mut deploy = FakeTrailEvent::write(
            "eu-west-1",
            "ev-deploy",
            "UpdateService",
            minutes_ago(now, 12),
            WHO,
        );
        deploy.source = "ecs.amazonaws.com".into();
        deploy.resources = vec![("AWS::ECS::Service".into(), "checkout".into())];
        deploy.request_parameters =
            serde_json::json!({"cluster": "prod", "service": "checkout", "desiredCount": 4});
        fake.add_trail_event(deploy);
        let mut refused = FakeTrailEvent::write(
            "eu-west-1",
            "ev-refused",
            "ModifyDBInstance",
            minutes_ago(now, 5),
            WHO,
        );
        refused.error_code = Some("AccessDenied".into());
        fake.add_trail_event(refused);
        let mut read = FakeTrailEvent::write(
            "eu-west-1",
            "ev-read",
            "DescribeServices",
            minutes_ago(now, 3),
            WHO,
        );
        read.read_only = true;
        fake.add_trail_event(read);
        fake.add_trail_event(FakeTrailEvent::write(
            "eu-west-1",
            "ev-old",
            "UpdateService",
            minutes_ago(now, 180),
            WHO,
        ));
        fake.add_trail_event(FakeTrailEvent::write(
            "us-east-1",
            "ev-elsewhere",
            "UpdateService",
            minutes_ago(now, 10),
            WHO,
        ));

        let found = aws
            .write_events("eu-west-1", minutes_ago(now, 120), now)
            .await
            .unwrap();
        let ids: Vec<&str> = found.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            ["ev-refused", "ev-deploy"],
            "writes in the window and region, newest first"
        );
        assert!(!found.truncated);
        let deploy = &found.events[1];
        assert_eq!(deploy.name, "UpdateService");
        assert_eq!(deploy.source, "ecs.amazonaws.com");
        assert_eq!(
            deploy.who, WHO,
            "userIdentity.arn from the CloudTrailEvent string"
        );
        assert_eq!(
            deploy.targets,
            ["checkout", "prod"],
            "resource names, then request parameters"
        );
        assert_eq!(deploy.region, "eu-west-1");
        assert_eq!((deploy.at - minutes_ago(now, 12)).num_seconds(), 0);
        assert_eq!(found.events[0].error_code.as_deref(), Some("AccessDenied"));
        let call = fake
            .calls()
            .into_iter()
            .find(|c| c.operation == "LookupEvents")
            .unwrap();
        assert_eq!(
            call.region.as_deref(),
            Some("eu-west-1"),
            "signed for the region asked"
        );
    }

    #[tokio::test]
    async fn paging_stops_at_the_bound_and_keeps_to_the_rate() {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        let aws = aws(&fake).await;
        let now = Utc::now();
        for i in 0..300 {
            fake.add_trail_event(FakeTrailEvent::write(
                "eu-west-1",
                &format!("ev-{i:03}"),
                "CreateTags",
                now - chrono::Duration::seconds(i),
                WHO,
            ));
        }
        let started = Instant::now();
        let found = aws
            .write_events("eu-west-1", minutes_ago(now, 120), now)
            .await
            .unwrap();
        assert_eq!(found.pages, MAX_PAGES);
        assert!(found.truncated, "more events than the bound reads");
        assert_eq!(found.events.len(), MAX_PAGES * PAGE_SIZE as usize);
        assert_eq!(fake.call_count("LookupEvents"), MAX_PAGES);
        assert!(
            started.elapsed() >= MIN_INTERVAL * (MAX_PAGES as u32 - 1),
            "five calls in one region are at least 500 ms apart: {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn access_denied_and_throttling_keep_their_codes_and_are_explained() {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        let aws = aws(&fake).await;
        let now = Utc::now();
        fake.fail_cloudtrail("LookupEvents", "AccessDeniedException", 1);
        let err = aws
            .write_events("eu-west-1", minutes_ago(now, 120), now)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("AccessDeniedException"));
        assert!(explain_failure(Source::Changes, err.code())
            .contains("add \"cloudtrail:LookupEvents\" to its IAM policy"));
        // More throttling than the SDK's own retries absorb.
        fake.fail_cloudtrail("LookupEvents", "ThrottlingException", 100);
        let err = aws
            .write_events("eu-west-1", minutes_ago(now, 120), now)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ThrottlingException"));
        assert!(explain_failure(Source::Changes, err.code())
            .contains("2 requests per second per account and region"));
        fake.fail_cloudtrail("LookupEvents", "", 0);
        assert!(aws
            .write_events("eu-west-1", minutes_ago(now, 120), now)
            .await
            .unwrap()
            .events
            .is_empty());
    }
}
