//! CloudWatch alarms as warroom sees them: one state transition of one alarm, with what the
//! first post in a war room shows (metric, threshold, reason, console link).
//!
//! Pure data: the AWS adapter fills it in from DescribeAlarms; the store keeps it as JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::text::percent_encode;

/// An alarm's state, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlarmState {
    Alarm,
    Ok,
    InsufficientData,
}

impl AlarmState {
    /// CloudWatch's name: `ALARM`, `OK`, `INSUFFICIENT_DATA` (also the stored form).
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Alarm => "ALARM",
            AlarmState::Ok => "OK",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    pub fn parse(s: &str) -> Option<AlarmState> {
        match s {
            "ALARM" => Some(AlarmState::Alarm),
            "OK" => Some(AlarmState::Ok),
            "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
            _ => None,
        }
    }
}

/// Metric alarms watch one metric (or metric math); composite alarms combine other alarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlarmKind {
    Metric,
    Composite,
}

/// One dimension of the watched metric (`InstanceId = i-0abc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// An alarm at one state transition. Identified by `arn` + `state_updated_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub arn: String,
    pub name: String,
    pub kind: AlarmKind,
    pub description: Option<String>,
    /// The region the alarm lives in (alarms are regional).
    pub region: String,
    /// `AWS/EC2`, … `None` for composite and metric-math alarms.
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<Dimension>,
    /// `Average`, `Sum`, `p99`, …
    pub statistic: Option<String>,
    pub period_secs: Option<i32>,
    pub threshold: Option<f64>,
    /// CloudWatch's operator name, e.g. `GreaterThanThreshold`.
    pub comparison: Option<String>,
    /// The rule of a composite alarm.
    pub rule: Option<String>,
    pub state: AlarmState,
    pub state_reason: Option<String>,
    pub state_updated_at: DateTime<Utc>,
    /// The alarm's tags, for routing.
    pub tags: Vec<(String, String)>,
}

impl Alarm {
    /// The symbol for the comparison (`>`, `>=`, …), or CloudWatch's name when it has none
    /// (anomaly-detection bands).
    pub fn comparison_symbol(&self) -> Option<String> {
        self.comparison.as_deref().map(|c| {
            match c {
                "GreaterThanThreshold" => ">",
                "GreaterThanOrEqualToThreshold" => ">=",
                "LessThanThreshold" => "<",
                "LessThanOrEqualToThreshold" => "<=",
                other => other,
            }
            .to_string()
        })
    }

    /// `CPUUtilization > 80` (with the statistic and period when known), or the rule of a
    /// composite alarm.
    pub fn condition(&self) -> Option<String> {
        if let Some(rule) = &self.rule {
            return Some(rule.clone());
        }
        let metric = self.metric_name.as_deref()?;
        let mut out = String::new();
        if let Some(stat) = &self.statistic {
            out.push_str(&format!("{stat} of "));
        }
        out.push_str(metric);
        if let (Some(op), Some(t)) = (self.comparison_symbol(), self.threshold) {
            out.push_str(&format!(" {op} {}", format_number(t)));
        }
        if let Some(p) = self.period_secs {
            out.push_str(&format!(" (period {})", format_period(p)));
        }
        Some(out)
    }

    /// `InstanceId=i-0abc, AutoScalingGroupName=web`
    pub fn dimensions_text(&self) -> String {
        self.dimensions
            .iter()
            .map(|d| format!("{}={}", d.name, d.value))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The AWS account the alarm belongs to, from its ARN (alarms from the `[events]` queue
    /// may come from any account of the organisation).
    pub fn account(&self) -> Option<&str> {
        alarm_account(&self.arn).filter(|a| !a.is_empty())
    }

    /// The alarm's page in the AWS console, in its own region and partition.
    pub fn console_url(&self) -> String {
        let host = match self.arn.split(':').nth(1) {
            Some("aws-cn") => format!("{}.console.amazonaws.cn", self.region),
            Some("aws-us-gov") => format!("{}.console.amazonaws-us-gov.com", self.region),
            _ => format!("{}.console.aws.amazon.com", self.region),
        };
        format!(
            "https://{host}/cloudwatch/home?region={}#alarmsV2:alarm/{}",
            percent_encode(&self.region),
            percent_encode(&self.name)
        )
    }
}

/// `80`, `0.5`, `1234.25`: no trailing zeros.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn format_period(secs: i32) -> String {
    if secs >= 60 && secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// The account in an alarm ARN (`arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`).
pub fn alarm_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("cloudwatch"), Some(_), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some(account)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A metric alarm on EC2 CPU, in ALARM, for tests across the domain.
    pub(crate) fn cpu_alarm(name: &str) -> Alarm {
        Alarm {
            arn: format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"),
            name: name.to_string(),
            kind: AlarmKind::Metric,
            description: Some("CPU high on the web fleet".into()),
            region: "us-east-1".into(),
            namespace: Some("AWS/EC2".into()),
            metric_name: Some("CPUUtilization".into()),
            dimensions: vec![Dimension {
                name: "AutoScalingGroupName".into(),
                value: "web".into(),
            }],
            statistic: Some("Average".into()),
            period_secs: Some(300),
            threshold: Some(80.0),
            comparison: Some("GreaterThanThreshold".into()),
            rule: None,
            state: AlarmState::Alarm,
            state_reason: Some("Threshold Crossed".into()),
            state_updated_at: DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            tags: vec![],
        }
    }

    #[test]
    fn states_round_trip() {
        for s in [
            AlarmState::Alarm,
            AlarmState::Ok,
            AlarmState::InsufficientData,
        ] {
            assert_eq!(AlarmState::parse(s.as_str()), Some(s));
        }
        assert_eq!(AlarmState::parse("alarm"), None);
    }

    #[test]
    fn condition_reads_like_the_console() {
        let cases: [(Option<&str>, f64, Option<i32>, &str); 4] = [
            (
                Some("GreaterThanThreshold"),
                80.0,
                Some(300),
                "Average of CPUUtilization > 80 (period 5 min)",
            ),
            (
                Some("LessThanOrEqualToThreshold"),
                0.5,
                Some(30),
                "Average of CPUUtilization <= 0.5 (period 30 s)",
            ),
            (
                Some("LessThanLowerOrGreaterThanUpperThreshold"),
                2.0,
                None,
                "Average of CPUUtilization LessThanLowerOrGreaterThanUpperThreshold 2",
            ),
            (None, 80.0, None, "Average of CPUUtilization"),
        ];
        for (op, threshold, period, want) in cases {
            let mut a = cpu_alarm("x");
            a.comparison = op.map(str::to_string);
            a.threshold = Some(threshold);
            a.period_secs = period;
            assert_eq!(a.condition().as_deref(), Some(want));
        }
        let mut composite = cpu_alarm("c");
        composite.kind = AlarmKind::Composite;
        composite.rule = Some("ALARM(a) OR ALARM(b)".into());
        assert_eq!(
            composite.condition().as_deref(),
            Some("ALARM(a) OR ALARM(b)")
        );
    }

    #[test]
    fn console_links_are_encoded_and_in_the_right_partition() {
        let mut a = cpu_alarm("web cpu|<high>");
        assert_eq!(
            a.console_url(),
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/web%20cpu%7C%3Chigh%3E"
        );
        a.arn = "arn:aws-us-gov:cloudwatch:us-gov-west-1:1:alarm:x".into();
        a.region = "us-gov-west-1".into();
        assert!(a
            .console_url()
            .starts_with("https://us-gov-west-1.console.amazonaws-us-gov.com/"));
        a.arn = "arn:aws-cn:cloudwatch:cn-north-1:1:alarm:x".into();
        a.region = "cn-north-1".into();
        assert!(a
            .console_url()
            .starts_with("https://cn-north-1.console.amazonaws.cn/"));
    }

    #[test]
    fn numbers_and_dimensions_are_short() {
        assert_eq!(format_number(80.0), "80");
        assert_eq!(format_number(99.5), "99.5");
        assert_eq!(format_number(-0.25), "-0.25");
        assert_eq!(cpu_alarm("x").dimensions_text(), "AutoScalingGroupName=web");
    }
}
