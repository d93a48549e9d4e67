//! What AWS pushes through EventBridge, as warroom understands it: one SQS message body is
//! one EventBridge event (the envelope `version`, `id`, `detail-type`, `source`, `account`,
//! `time`, `region`, `resources`, `detail`), of which three kinds matter:
//!
//! - `aws.cloudwatch` / "CloudWatch Alarm State Change": an alarm transition, the same
//!   [`Alarm`] the poller reads from DescribeAlarms (identified by ARN + state time, so the
//!   two de-duplicate on the transition's unique row);
//! - `aws.health` / "AWS Health Event": a [`HealthEvent`];
//! - `aws.support` / "Support Case Update": a case id, what happened and who did it.
//!
//! Anything else that parses as an EventBridge event is [`QueueEvent::Unknown`]; a body that
//! is not one is an [`EventError`]. Pure: no IO, time and text come in as values.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

pub use super::alarm::alarm_account;
use super::alarm::{Alarm, AlarmKind, AlarmState, Dimension};
use super::health_service::HealthEvent;

/// One event from the queue.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueEvent {
    /// An alarm changed state (in `alarm.region`, of the account in `alarm.arn`).
    Alarm(Alarm),
    /// AWS Health opened or updated an event; `account` is the account it was sent from.
    /// `account_specific`: `eventScopeCode` ACCOUNT_SPECIFIC (this account's resources are
    /// affected), not PUBLIC (a service event for everyone in the region).
    Health {
        account: String,
        event: HealthEvent,
        account_specific: bool,
    },
    /// Something happened on an AWS Support case.
    SupportCase(SupportCaseUpdate),
    /// A well-formed EventBridge event of a kind warroom does not handle.
    Unknown { source: String, detail_type: String },
}

/// "Support Case Update": `detail.case-id`, `event-name`, `origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportCaseUpdate {
    pub account: String,
    pub case_id: String,
    /// `CreateCase`, `AddCommunicationToCase`, `ResolveCase`, `ReopenCase`.
    pub event_name: String,
    /// `AWS` (AWS's engineers) or `CUSTOMER` (anyone in the account, warroom included).
    pub origin: String,
}

impl SupportCaseUpdate {
    /// Whether AWS did something warroom should mirror now (its own writes come back as
    /// `CUSTOMER` events and are already known).
    pub fn is_from_aws(&self) -> bool {
        self.origin.eq_ignore_ascii_case("AWS")
    }
}

/// Why a message body is not an event warroom can use. The text names the field, never the
/// body (which is logged by id only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventError(String);

fn bad(what: impl Into<String>) -> EventError {
    EventError(what.into())
}

/// Parse one SQS message body.
pub fn parse(body: &str) -> Result<QueueEvent, EventError> {
    let v: Json = serde_json::from_str(body).map_err(|e| bad(format!("not JSON ({e})")))?;
    if !v.is_object() {
        return Err(bad("not a JSON object"));
    }
    let source = text(&v, "source")?;
    let detail_type = text(&v, "detail-type")?;
    let account = text(&v, "account")?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("account is not a 12-digit AWS account id"));
    }
    let detail = v
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| bad("detail is missing"))?;
    match (source.as_str(), detail_type.as_str()) {
        ("aws.cloudwatch", "CloudWatch Alarm State Change") => {
            let region = text(&v, "region")?;
            alarm(&v, detail, &account, &region).map(QueueEvent::Alarm)
        }
        ("aws.health", "AWS Health Event") => Ok(QueueEvent::Health {
            event: health(detail)?,
            account_specific: opt_text(detail, "eventScopeCode").as_deref()
                == Some("ACCOUNT_SPECIFIC"),
            account,
        }),
        ("aws.support", "Support Case Update") => Ok(QueueEvent::SupportCase(SupportCaseUpdate {
            case_id: text(detail, "case-id")?,
            event_name: text(detail, "event-name")?,
            origin: text(detail, "origin")?,
            account,
        })),
        _ => Ok(QueueEvent::Unknown {
            source,
            detail_type,
        }),
    }
}

fn text(v: &Json, key: &str) -> Result<String, EventError> {
    match v.get(key).and_then(Json::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
        _ => Err(bad(format!("{key} is missing or not text"))),
    }
}

fn opt_text(v: &Json, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// CloudWatch's event times: `2019-10-01T13:56:40.987+0000` (also RFC 3339).
fn alarm_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Health's event times: `Fri, 27 Jan 2023 01:43:21 GMT` (also RFC 3339).
fn health_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s)
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn alarm(env: &Json, detail: &Json, account: &str, region: &str) -> Result<Alarm, EventError> {
    let name = text(detail, "alarmName")?;
    let state = detail
        .get("state")
        .filter(|s| s.is_object())
        .ok_or_else(|| bad("detail.state is missing"))?;
    let value = text(state, "value")?;
    let state_value =
        AlarmState::parse(&value).ok_or_else(|| bad("detail.state.value is not a state"))?;
    let at = text(state, "timestamp")?;
    let state_updated_at =
        alarm_time(&at).ok_or_else(|| bad("detail.state.timestamp is not a time"))?;
    // The alarm's ARN is the event's resource; built from its parts when absent.
    let arn = env
        .get("resources")
        .and_then(Json::as_array)
        .and_then(|r| {
            r.iter()
                .filter_map(Json::as_str)
                .find(|a| a.contains(":alarm:"))
        })
        .map(str::to_string)
        .unwrap_or_else(|| format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}"));
    if alarm_account(&arn) != Some(account) {
        return Err(bad("the alarm's ARN names another account"));
    }
    let config = detail.get("configuration").unwrap_or(&Json::Null);
    let rule = opt_text(config, "alarmRule");
    // A metric alarm on one metric: `metrics[0].metricStat`. Metric math has several
    // entries (no single metric); composite alarms have a rule instead.
    let metrics = config.get("metrics").and_then(Json::as_array);
    let single = match metrics {
        Some(m) if m.len() == 1 => m[0].get("metricStat"),
        _ => None,
    };
    let metric = single.and_then(|s| s.get("metric"));
    let mut dimensions: Vec<Dimension> = metric
        .and_then(|m| m.get("dimensions"))
        .and_then(Json::as_object)
        .map(|d| {
            d.iter()
                .filter_map(|(k, v)| {
                    v.as_str().map(|v| Dimension {
                        name: k.clone(),
                        value: v.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    dimensions.sort_by(|a, b| a.name.cmp(&b.name));
    // The threshold is only in the reason data (a JSON document in a string).
    let threshold = opt_text(state, "reasonData")
        .and_then(|d| serde_json::from_str::<Json>(&d).ok())
        .and_then(|d| d.get("threshold").and_then(Json::as_f64));
    Ok(Alarm {
        arn,
        name,
        kind: if rule.is_some() {
            AlarmKind::Composite
        } else {
            AlarmKind::Metric
        },
        description: opt_text(config, "description"),
        region: region.to_string(),
        namespace: metric.and_then(|m| opt_text(m, "namespace")),
        metric_name: metric.and_then(|m| opt_text(m, "name")),
        dimensions,
        statistic: single.and_then(|s| opt_text(s, "stat")),
        period_secs: single
            .and_then(|s| s.get("period"))
            .and_then(Json::as_i64)
            .and_then(|p| i32::try_from(p).ok()),
        threshold,
        comparison: None,
        rule,
        state: state_value,
        state_reason: opt_text(state, "reason"),
        state_updated_at,
        tags: Vec::new(),
    })
}

fn health(detail: &Json) -> Result<HealthEvent, EventError> {
    Ok(HealthEvent {
        arn: text(detail, "eventArn")?,
        service: text(detail, "service")?,
        event_type: text(detail, "eventTypeCode")?,
        category: opt_text(detail, "eventTypeCategory"),
        region: opt_text(detail, "eventRegion"),
        status: text(detail, "statusCode")?,
        started_at: opt_text(detail, "startTime").and_then(|t| health_time(&t)),
        last_updated_at: opt_text(detail, "lastUpdatedTime").and_then(|t| health_time(&t)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's example of the event (CloudWatch User Guide, "Alarm events and EventBridge").
    const ALARM_EVENT: &str = r#"{
      "version": "0",
      "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
      "detail-type": "CloudWatch Alarm State Change",
      "source": "aws.cloudwatch",
      "account": "123456789012",
      "time": "2019-10-02T17:04:40Z",
      "region": "us-east-1",
      "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"],
      "detail": {
        "alarmName": "ServerCpuTooHigh",
        "configuration": {
          "description": "Goes into alarm when server CPU utilization is too high!",
          "metrics": [{
            "id": "30b6c6b2-a864-43a2-4877-c09a1afc3b87",
            "metricStat": {
              "metric": {
                "dimensions": {"InstanceId": "i-12345678901234567"},
                "name": "CPUUtilization",
                "namespace": "AWS/EC2"
              },
              "period": 300,
              "stat": "Average"
            },
            "returnData": true
          }]
        },
        "previousState": {
          "reason": "Threshold Crossed: 1 out of the last 1 datapoints [0.0666851903306472 (01/10/19 13:46:00)] was not greater than the threshold (50.0) (minimum 1 datapoint for ALARM -> OK transition).",
          "reasonData": "{\"version\":\"1.0\",\"queryDate\":\"2019-10-01T13:56:40.985+0000\",\"statistic\":\"Average\",\"period\":300,\"threshold\":50.0}",
          "timestamp": "2019-10-01T13:56:40.987+0000",
          "value": "OK"
        },
        "state": {
          "reason": "Threshold Crossed: 1 out of the last 1 datapoints [99.50160229693434 (02/10/19 16:59:00)] was greater than the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).",
          "reasonData": "{\"version\":\"1.0\",\"queryDate\":\"2019-10-02T17:04:40.985+0000\",\"startDate\":\"2019-10-02T16:59:00.000+0000\",\"statistic\":\"Average\",\"period\":300,\"recentDatapoints\":[99.50160229693434],\"threshold\":50.0,\"evaluatedDatapoints\":[{\"timestamp\":\"2019-10-02T16:59:00.000+0000\",\"sampleCount\":1.0,\"value\":99.50160229693434}]}",
          "timestamp": "2019-10-02T17:04:40.989+0000",
          "value": "ALARM"
        }
      }
    }"#;

    #[test]
    fn an_alarm_state_change_is_the_polled_transition() {
        let QueueEvent::Alarm(a) = parse(ALARM_EVENT).unwrap() else {
            panic!("not an alarm")
        };
        assert_eq!(
            a.arn,
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"
        );
        assert_eq!(a.name, "ServerCpuTooHigh");
        assert_eq!(a.state, AlarmState::Alarm);
        assert_eq!(
            a.state_updated_at,
            "2019-10-02T17:04:40.989Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(a.namespace.as_deref(), Some("AWS/EC2"));
        assert_eq!(a.metric_name.as_deref(), Some("CPUUtilization"));
        assert_eq!(a.statistic.as_deref(), Some("Average"));
        assert_eq!(a.period_secs, Some(300));
        assert_eq!(a.threshold, Some(50.0));
        assert_eq!(a.dimensions_text(), "InstanceId=i-12345678901234567");
        assert_eq!(a.kind, AlarmKind::Metric);
        assert_eq!(alarm_account(&a.arn), Some("123456789012"));
    }

    #[test]
    fn a_composite_alarm_keeps_its_rule() {
        let body = r#"{"version":"0","id":"1","detail-type":"CloudWatch Alarm State Change",
          "source":"aws.cloudwatch","account":"210987654321","time":"2022-07-14T06:48:12Z",
          "region":"eu-west-1","resources":["arn:aws:cloudwatch:eu-west-1:210987654321:alarm:Both"],
          "detail":{"alarmName":"Both","configuration":{"alarmRule":"ALARM(a) AND ALARM(b)"},
          "state":{"value":"OK","reason":"r","timestamp":"2022-07-14T06:48:12.123+0000"}}}"#;
        let QueueEvent::Alarm(a) = parse(body).unwrap() else {
            panic!("not an alarm")
        };
        assert_eq!(a.kind, AlarmKind::Composite);
        assert_eq!(a.rule.as_deref(), Some("ALARM(a) AND ALARM(b)"));
        assert_eq!(a.state, AlarmState::Ok);
        assert_eq!(a.region, "eu-west-1");
        assert!(a.namespace.is_none());
    }

    #[test]
    fn health_and_support_events_parse() {
        let health_body = r#"{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602",
          "detail-type":"AWS Health Event","source":"aws.health","account":"123456789012",
          "time":"2023-01-27T01:43:21Z","region":"af-south-1","resources":[],
          "detail":{"eventArn":"arn:aws:health:af-south-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/AWS_EC2_OPERATIONAL_ISSUE_7f35c8ae",
          "service":"EC2","eventTypeCode":"AWS_EC2_OPERATIONAL_ISSUE","eventTypeCategory":"issue",
          "eventScopeCode":"PUBLIC","startTime":"Fri, 27 Jan 2023 01:43:21 GMT",
          "lastUpdatedTime":"Fri, 27 Jan 2023 01:43:21 GMT","statusCode":"open",
          "eventRegion":"af-south-1","eventDescription":[{"language":"en_US","latestDescription":"x"}]}}"#;
        let QueueEvent::Health {
            account,
            event,
            account_specific,
        } = parse(health_body).unwrap()
        else {
            panic!("not Health")
        };
        assert_eq!(account, "123456789012");
        assert!(!account_specific, "PUBLIC");
        assert_eq!(event.service, "EC2");
        assert_eq!(event.region.as_deref(), Some("af-south-1"));
        assert_eq!(event.status, "open");
        assert!(event.last_updated_at.is_some());

        let support_body = r#"{"version":"0","id":"1aa4458d-556f-732e-ddc1-4a5b2fbd14a5",
          "detail-type":"Support Case Update","source":"aws.support","account":"111122223333",
          "time":"2022-02-21T15:51:31Z","region":"us-east-1","resources":[],
          "detail":{"case-id":"case-111122223333-muen-2022-7118885805350839",
          "display-id":"1234563851","communication-id":"ReplyId-f9ae0ad3f21c1e1a",
          "event-name":"AddCommunicationToCase","origin":"AWS"}}"#;
        let QueueEvent::SupportCase(s) = parse(support_body).unwrap() else {
            panic!("not Support")
        };
        assert_eq!(s.case_id, "case-111122223333-muen-2022-7118885805350839");
        assert!(s.is_from_aws());
    }

    #[test]
    fn malformed_and_unknown_bodies() {
        for body in [
            "",
            "not json",
            "[]",
            r#"{"source":"aws.cloudwatch"}"#,
            r#"{"source":"aws.cloudwatch","detail-type":"CloudWatch Alarm State Change","account":"123","detail":{}}"#,
            &ALARM_EVENT.replace("2019-10-02T17:04:40.989+0000", "yesterday"),
            &ALARM_EVENT.replace("\"value\": \"ALARM\"", "\"value\": \"ON_FIRE\""),
            &ALARM_EVENT.replace(
                "arn:aws:cloudwatch:us-east-1:123456789012:alarm",
                "arn:aws:cloudwatch:us-east-1:999999999999:alarm",
            ),
        ] {
            assert!(parse(body).is_err(), "{body}");
        }
        let other = r#"{"version":"0","id":"1","detail-type":"EC2 Instance State-change Notification",
          "source":"aws.ec2","account":"123456789012","time":"2022-07-14T06:48:12Z",
          "region":"eu-west-1","resources":[],"detail":{"state":"running"}}"#;
        assert!(matches!(parse(other), Ok(QueueEvent::Unknown { .. })));
    }
}
