//! CloudWatch calls: DescribeAlarms (metric and composite, every page), ListTagsForResource,
//! GetMetricWidgetImage and DescribeAlarmHistory, with SDK shapes turned into [`Alarm`]s and
//! [`HistoryItem`]s.

use aws_sdk_cloudwatch::types::{
    AlarmType, CompositeAlarm, HistoryItemType, MetricAlarm, ScanBy, StateValue,
};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Duration, SecondsFormat, Utc};

use super::{sdk_error, to_chrono, AwsError};
use crate::domain::alarm::{Alarm, AlarmKind, AlarmState, Dimension};
use crate::domain::changes::HistoryItem;

/// DescribeAlarmHistory records read per look-up (one page, newest first): a day of even a
/// flapping alarm's state changes.
const HISTORY_RECORDS: i32 = 100;

/// DescribeAlarms takes at most 100 names per call.
const NAMES_PER_CALL: usize = 100;

pub(super) async fn alarms_in_alarm(client: &Client, region: &str) -> Result<Vec<Alarm>, AwsError> {
    let mut pages = client
        .describe_alarms()
        .state_value(StateValue::Alarm)
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("DescribeAlarms", e))?;
        collect(
            region,
            page.metric_alarms(),
            page.composite_alarms(),
            &mut out,
        );
    }
    Ok(out)
}

/// One small DescribeAlarms call: are CloudWatch, the credentials and the permission there?
pub(super) async fn reachable(client: &Client) -> Result<(), AwsError> {
    client
        .describe_alarms()
        .max_records(1)
        .send()
        .await
        .map(drop)
        .map_err(|e| sdk_error("DescribeAlarms", e))
}

pub(super) async fn alarms_named(
    client: &Client,
    region: &str,
    names: &[String],
) -> Result<Vec<Alarm>, AwsError> {
    let mut out = Vec::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let mut pages = client
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("DescribeAlarms", e))?;
            collect(
                region,
                page.metric_alarms(),
                page.composite_alarms(),
                &mut out,
            );
        }
    }
    Ok(out)
}

pub(super) async fn tags(client: &Client, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| sdk_error("ListTagsForResource", e))?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect())
}

pub(super) async fn widget_image(client: &Client, widget: &str) -> Result<Vec<u8>, AwsError> {
    let out = client
        .get_metric_widget_image()
        .metric_widget(widget)
        .output_format("png")
        .send()
        .await
        .map_err(|e| sdk_error("GetMetricWidgetImage", e))?;
    let bytes = out
        .metric_widget_image()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(AwsError::Transport {
            operation: "GetMetricWidgetImage",
            detail: format!("the answer is not a PNG image ({} bytes)", bytes.len()),
        });
    }
    Ok(bytes)
}

/// The alarm's state changes between `since` and `until`, newest first (one page of
/// [`HISTORY_RECORDS`]).
pub(super) async fn alarm_history(
    client: &Client,
    name: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<HistoryItem>, AwsError> {
    let time = |t: DateTime<Utc>| {
        aws_sdk_cloudwatch::primitives::DateTime::from_millis(t.timestamp_millis())
    };
    let out = client
        .describe_alarm_history()
        .alarm_name(name)
        .history_item_type(HistoryItemType::StateUpdate)
        .start_date(time(since))
        .end_date(time(until))
        .scan_by(ScanBy::TimestampDescending)
        .max_records(HISTORY_RECORDS)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeAlarmHistory", e))?;
    Ok(out
        .alarm_history_items()
        .iter()
        .filter_map(|i| {
            let at = to_chrono(i.timestamp()?)?;
            let (from, to) = history_states(i.history_data(), i.history_summary())?;
            Some(HistoryItem { at, from, to })
        })
        .collect())
}

/// The old and new state of a StateUpdate item: from `HistoryData` (JSON with
/// `oldState.stateValue` and `newState.stateValue`), else from the summary
/// ("Alarm updated from OK to ALARM").
fn history_states(data: Option<&str>, summary: Option<&str>) -> Option<(Option<String>, String)> {
    if let Some(json) = data.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()) {
        if let Some(to) = json
            .pointer("/newState/stateValue")
            .and_then(|v| v.as_str())
        {
            let from = json
                .pointer("/oldState/stateValue")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            return Some((from, to.to_string()));
        }
    }
    let rest = summary?.split(" from ").nth(1)?;
    let (from, to) = rest.split_once(" to ")?;
    Some((Some(from.trim().to_string()), to.trim().to_string()))
}

fn collect(
    region: &str,
    metric: &[MetricAlarm],
    composite: &[CompositeAlarm],
    out: &mut Vec<Alarm>,
) {
    for a in metric {
        match from_metric_alarm(region, a) {
            Some(alarm) => out.push(alarm),
            None => {
                tracing::warn!(name = ?a.alarm_name(), "skipping a metric alarm without ARN, state or timestamp")
            }
        }
    }
    for a in composite {
        match from_composite_alarm(region, a) {
            Some(alarm) => out.push(alarm),
            None => {
                tracing::warn!(name = ?a.alarm_name(), "skipping a composite alarm without ARN, state or timestamp")
            }
        }
    }
}

fn state(v: Option<&StateValue>) -> Option<AlarmState> {
    AlarmState::parse(v?.as_str())
}

fn from_metric_alarm(region: &str, a: &MetricAlarm) -> Option<Alarm> {
    Some(Alarm {
        arn: a.alarm_arn()?.to_string(),
        name: a.alarm_name()?.to_string(),
        kind: AlarmKind::Metric,
        description: a.alarm_description().map(str::to_string),
        region: region.to_string(),
        namespace: a.namespace().map(str::to_string),
        metric_name: a.metric_name().map(str::to_string),
        dimensions: a
            .dimensions()
            .iter()
            .filter_map(|d| {
                Some(Dimension {
                    name: d.name()?.to_string(),
                    value: d.value()?.to_string(),
                })
            })
            .collect(),
        statistic: a
            .statistic()
            .map(|s| s.as_str().to_string())
            .or_else(|| a.extended_statistic().map(str::to_string)),
        period_secs: a.period(),
        threshold: a.threshold(),
        comparison: a.comparison_operator().map(|c| c.as_str().to_string()),
        rule: None,
        state: state(a.state_value())?,
        state_reason: a.state_reason().map(str::to_string),
        state_updated_at: to_chrono(a.state_updated_timestamp()?)?,
        tags: Vec::new(),
    })
}

fn from_composite_alarm(region: &str, a: &CompositeAlarm) -> Option<Alarm> {
    Some(Alarm {
        arn: a.alarm_arn()?.to_string(),
        name: a.alarm_name()?.to_string(),
        kind: AlarmKind::Composite,
        description: a.alarm_description().map(str::to_string),
        region: region.to_string(),
        namespace: None,
        metric_name: None,
        dimensions: Vec::new(),
        statistic: None,
        period_secs: None,
        threshold: None,
        comparison: None,
        rule: a.alarm_rule().map(str::to_string),
        state: state(a.state_value())?,
        state_reason: a.state_reason().map(str::to_string),
        state_updated_at: to_chrono(a.state_updated_timestamp()?)?,
        tags: Vec::new(),
    })
}

/// The GetMetricWidgetImage request for an alarm: its metric from three hours before the
/// breach to an hour after (or now), with the threshold as a horizontal line. `None` when
/// there is no single metric to draw.
pub(super) fn widget_json(alarm: &Alarm, now: DateTime<Utc>) -> Option<String> {
    let namespace = alarm.namespace.as_deref()?;
    let metric = alarm.metric_name.as_deref()?;
    let mut series: Vec<serde_json::Value> = vec![namespace.into(), metric.into()];
    for d in &alarm.dimensions {
        series.push(d.name.clone().into());
        series.push(d.value.clone().into());
    }
    let mut options = serde_json::Map::new();
    if let Some(stat) = &alarm.statistic {
        options.insert("stat".into(), stat.clone().into());
    }
    series.push(options.into());
    let at = alarm.state_updated_at;
    let end = (at + Duration::hours(1)).min(now).max(at);
    let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut widget = serde_json::json!({
        "metrics": [series],
        "region": alarm.region,
        "title": alarm.name,
        "start": iso(at - Duration::hours(3)),
        "end": iso(end),
        "view": "timeSeries",
        "stacked": false,
        "width": 800,
        "height": 400,
    });
    if let Some(p) = alarm.period_secs {
        widget["period"] = p.into();
    }
    if let Some(t) = alarm.threshold {
        widget["annotations"] = serde_json::json!({
            "horizontal": [{ "label": "threshold", "value": t }]
        });
    }
    Some(widget.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::{AwsFake, CloudWatchBackend, FakeAlarm};

    fn fake_alarm(i: usize, state: &str) -> FakeAlarm {
        FakeAlarm {
            region: "eu-west-1".into(),
            name: format!("db-{i:03}"),
            description: None,
            namespace: "AWS/RDS".into(),
            metric_name: "DatabaseConnections".into(),
            dimensions: vec![("DBInstanceIdentifier".into(), "orders".into())],
            statistic: "Maximum".into(),
            period_secs: 60,
            threshold: 500.0,
            comparison: "GreaterThanThreshold".into(),
            state: state.into(),
            state_reason: "Threshold Crossed".into(),
            state_updated_at: Utc::now(),
            tags: vec![],
        }
    }

    /// The SDK client the bot would use, pointed at a fresh in-memory fake.
    async fn on_fake() -> (Client, AwsFake) {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        (fake.operator_cloudwatch("eu-west-1"), fake)
    }

    #[tokio::test]
    async fn every_page_is_read_and_only_alarms_in_alarm_are_kept() {
        let (client, fake) = on_fake().await;
        for i in 0..120 {
            fake.set_alarm(fake_alarm(i, if i % 4 == 0 { "OK" } else { "ALARM" }));
        }
        let alarms = alarms_in_alarm(&client, "eu-west-1").await.unwrap();
        assert_eq!(alarms.len(), 90, "every alarm in ALARM, across pages");
        assert!(alarms.iter().all(|a| a.region == "eu-west-1"));
        assert_eq!(alarms[0].threshold, Some(500.0));
        assert_eq!(alarms[0].kind, AlarmKind::Metric);
        assert_eq!(
            fake.call_count("DescribeAlarms"),
            2,
            "two pages of at most 50"
        );
    }

    #[tokio::test]
    async fn service_errors_keep_their_code() {
        let (client, fake) = on_fake().await;
        fake.fail_cloudwatch("DescribeAlarms", "AccessDenied", 1);
        let err = alarms_in_alarm(&client, "eu-west-1").await.unwrap_err();
        assert_eq!(err.code(), Some("AccessDenied"));
        assert!(
            err.to_string()
                .starts_with("AWS DescribeAlarms failed: AccessDenied: "),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_alarm_history_lists_state_changes_newest_first() {
        let (client, fake) = on_fake().await;
        let now = Utc::now();
        let mut alarm = fake_alarm(1, "OK");
        alarm.state_updated_at = now - Duration::hours(3);
        fake.set_alarm(alarm);
        for (mins, state) in [(90, "ALARM"), (80, "OK"), (10, "ALARM")] {
            fake.set_alarm_state(
                "eu-west-1",
                "db-001",
                state,
                "test",
                now - Duration::minutes(mins),
            );
        }
        let items = alarm_history(&client, "db-001", now - Duration::hours(1), now)
            .await
            .unwrap();
        assert_eq!(items.len(), 1, "the window bounds the history");
        let items = alarm_history(&client, "db-001", now - Duration::hours(24), now)
            .await
            .unwrap();
        let states: Vec<(Option<&str>, &str)> = items
            .iter()
            .map(|i| (i.from.as_deref(), i.to.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                (Some("OK"), "ALARM"),
                (Some("ALARM"), "OK"),
                (Some("OK"), "ALARM")
            ]
        );
        assert!(items[0].at > items[1].at);
        fake.fail_cloudwatch("DescribeAlarmHistory", "AccessDenied", 1);
        let err = alarm_history(&client, "db-001", now - Duration::hours(24), now)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("AccessDenied"));
    }

    #[test]
    fn history_states_come_from_the_data_or_the_summary() {
        assert_eq!(
            history_states(
                Some(r#"{"oldState":{"stateValue":"OK"},"newState":{"stateValue":"ALARM"}}"#),
                None
            ),
            Some((Some("OK".into()), "ALARM".into()))
        );
        assert_eq!(
            history_states(None, Some("Alarm updated from ALARM to OK")),
            Some((Some("ALARM".into()), "OK".into()))
        );
        assert_eq!(history_states(None, Some("Alarm created")), None);
    }

    #[tokio::test]
    async fn the_widget_comes_back_as_a_png_or_as_an_error() {
        let (client, fake) = on_fake().await;
        let widget = r#"{"metrics":[["AWS/RDS","DatabaseConnections"]]}"#;
        let png = widget_image(&client, widget).await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG image");
        fake.fail_widget_images(true);
        assert!(widget_image(&client, widget).await.is_err());
    }

    #[test]
    fn the_widget_shows_the_metric_around_the_breach_with_the_threshold() {
        let mut alarm = crate::domain::alarm::tests::cpu_alarm("web-cpu");
        let now = alarm.state_updated_at + Duration::minutes(10);
        let w: serde_json::Value =
            serde_json::from_str(&widget_json(&alarm, now).unwrap()).unwrap();
        assert_eq!(
            w["metrics"][0],
            serde_json::json!(["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", "web", {"stat": "Average"}])
        );
        assert_eq!(w["start"], "2026-11-21T07:00:00Z");
        assert_eq!(w["end"], "2026-11-21T10:10:00Z");
        assert_eq!(w["annotations"]["horizontal"][0]["value"], 80.0);
        assert_eq!(w["period"], 300);
        alarm.namespace = None;
        assert_eq!(widget_json(&alarm, now), None);
    }
}
