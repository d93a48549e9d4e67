//! AWS Health: DescribeEvents for one service in one region, open and upcoming events only.
//! Health is a global service answered from us-east-1; an account without a Business or
//! Enterprise support plan gets `SubscriptionRequiredException`.

use aws_sdk_health::types::{EventFilter, EventStatusCode};
use aws_sdk_health::Client;

use super::{sdk_error, to_chrono, AwsError, HealthAnswer};
use crate::domain::health_service::HealthEvent;

pub(super) async fn open_events(
    client: &Client,
    service: &str,
    region: &str,
) -> Result<HealthAnswer, AwsError> {
    let filter = EventFilter::builder()
        .services(service)
        .regions(region)
        .event_status_codes(EventStatusCode::Open)
        .event_status_codes(EventStatusCode::Upcoming)
        .build();
    let mut pages = client
        .describe_events()
        .filter(filter)
        .into_paginator()
        .send();
    let mut events = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let err = sdk_error("DescribeEvents", e);
                if err.code() == Some("SubscriptionRequiredException") {
                    return Ok(HealthAnswer::SubscriptionRequired);
                }
                return Err(err);
            }
        };
        for e in page.events() {
            let Some(arn) = e.arn() else { continue };
            events.push(HealthEvent {
                arn: arn.to_string(),
                service: e.service().unwrap_or(service).to_string(),
                event_type: e.event_type_code().unwrap_or("unknown").to_string(),
                category: e.event_type_category().map(|c| c.as_str().to_string()),
                region: e.region().map(str::to_string),
                status: e
                    .status_code()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "open".to_string()),
                started_at: e.start_time().and_then(to_chrono),
                last_updated_at: e.last_updated_time().and_then(to_chrono),
            });
        }
    }
    Ok(HealthAnswer::Events(events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::{AwsFake, CloudWatchBackend};
    use crate::domain::health_service::HealthEvent;

    /// The SDK client the bot would use, pointed at a fresh in-memory fake.
    async fn on_fake() -> (Client, AwsFake) {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        let conf = aws_sdk_health::Config::builder()
            .http_client(crate::aws::https_client())
            .behavior_version(aws_sdk_health::config::BehaviorVersion::latest())
            .region(aws_sdk_health::config::Region::new(
                crate::aws::HEALTH_REGION,
            ))
            .endpoint_url(fake.endpoint_url())
            .credentials_provider(aws_sdk_health::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build();
        (Client::from_conf(conf), fake)
    }

    fn event(arn: &str, service: &str, region: &str, status: &str) -> HealthEvent {
        HealthEvent {
            arn: arn.into(),
            service: service.into(),
            event_type: "AWS_EC2_OPERATIONAL_ISSUE".into(),
            category: Some("issue".into()),
            region: Some(region.into()),
            status: status.into(),
            started_at: None,
            last_updated_at: None,
        }
    }

    #[tokio::test]
    async fn asks_for_open_events_of_the_service_in_the_region() {
        let (client, fake) = on_fake().await;
        fake.add_health_event(event("arn:1", "EC2", "eu-west-1", "open"));
        fake.add_health_event(event("arn:2", "EC2", "us-east-1", "open"));
        fake.add_health_event(event("arn:3", "RDS", "eu-west-1", "open"));
        let HealthAnswer::Events(events) = open_events(&client, "EC2", "eu-west-1").await.unwrap()
        else {
            panic!("expected events");
        };
        let arns: Vec<&str> = events.iter().map(|e| e.arn.as_str()).collect();
        assert_eq!(arns, ["arn:1"]);
        assert_eq!(events[0].event_type, "AWS_EC2_OPERATIONAL_ISSUE");
        assert_eq!(events[0].status, "open");
    }

    #[tokio::test]
    async fn no_support_plan_is_an_answer_not_an_error() {
        let (client, fake) = on_fake().await;
        fake.require_subscription(true);
        assert_eq!(
            open_events(&client, "EC2", "us-east-1").await.unwrap(),
            HealthAnswer::SubscriptionRequired
        );
    }
}
