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
    use aws_sdk_health::operation::describe_events::{DescribeEventsError, DescribeEventsOutput};
    use aws_sdk_health::types::Event;
    use aws_smithy_mocks::{mock, mock_client};

    #[tokio::test]
    async fn asks_for_open_and_upcoming_events_of_the_service_in_the_region() {
        let rule = mock!(Client::describe_events)
            .match_requests(|r| {
                let f = r.filter().unwrap();
                f.services() == ["EC2"]
                    && f.regions() == ["eu-west-1"]
                    && f.event_status_codes() == [EventStatusCode::Open, EventStatusCode::Upcoming]
            })
            .then_output(|| {
                DescribeEventsOutput::builder()
                    .events(
                        Event::builder()
                            .arn("arn:aws:health:eu-west-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/1")
                            .service("EC2")
                            .event_type_code("AWS_EC2_OPERATIONAL_ISSUE")
                            .region("eu-west-1")
                            .status_code(EventStatusCode::Open)
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_health, [&rule]);
        let HealthAnswer::Events(events) = open_events(&client, "EC2", "eu-west-1").await.unwrap()
        else {
            panic!("expected events");
        };
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "AWS_EC2_OPERATIONAL_ISSUE");
        assert_eq!(events[0].status, "open");
    }

    #[tokio::test]
    async fn no_support_plan_is_an_answer_not_an_error() {
        let rule = mock!(Client::describe_events).then_error(|| {
            DescribeEventsError::generic(
                aws_sdk_health::error::ErrorMetadata::builder()
                    .code("SubscriptionRequiredException")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_health, [&rule]);
        assert_eq!(
            open_events(&client, "EC2", "us-east-1").await.unwrap(),
            HealthAnswer::SubscriptionRequired
        );
    }
}
