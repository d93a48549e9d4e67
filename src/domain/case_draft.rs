//! The first draft of an AWS Support case, written from the incident so nobody has to
//! retype what the timeline already knows: what is broken, since when, which alarm fired on
//! which resource, what changed in AWS before it (CloudTrail), what AWS Health says, and
//! what was tried.
//!
//! The engineer reading it at AWS needs resource ids, region and UTC times first; the
//! draft leads with those and cuts the timeline excerpt, never the facts, to fit the API's
//! limit.

use chrono::{DateTime, Utc};

use super::alarm::Alarm;
use super::health_service::HealthEvent;
use super::support::{MAX_CASE_BODY_CHARS, MAX_CASE_SUBJECT_CHARS};

/// The longest body the Support API takes.
pub const MAX_BODY_CHARS: usize = MAX_CASE_BODY_CHARS;
use super::text::truncate;
use super::time::format_duration;
use super::{Severity, Status};

/// One line of the timeline excerpt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcerptLine {
    pub at: DateTime<Utc>,
    /// A display name or user id; empty for warroom's own entries.
    pub who: String,
    pub text: String,
}

/// Everything the draft is written from.
#[derive(Debug, Clone)]
pub struct DraftInput<'a> {
    pub incident_id: i64,
    pub title: &'a str,
    pub severity: Severity,
    pub status: Status,
    pub opened_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// The latest stakeholder update: the best statement of impact so far.
    pub impact: Option<&'a str>,
    /// The alarms of the incident (latest state of each).
    pub alarms: &'a [Alarm],
    pub health: &'a [HealthEvent],
    /// "What changed before the alarm", one plain line per change (the latest look-up).
    pub changes: &'a [String],
    /// Notes and key events: what people found and tried.
    pub tried: &'a [ExcerptLine],
    /// The most recent timeline entries, oldest first.
    pub excerpt: &'a [ExcerptLine],
}

/// `warroom #12: Checkout errors`, cut to the API's subject limit.
pub fn subject(incident_id: i64, title: &str) -> String {
    // `warroom #12: …`; a drill's (a real case only with --real-case) says so:
    // `warroom drill #3: …`.
    let shown = super::incident::IncidentId(incident_id);
    let s = format!("warroom {shown}: {}", one_line(title));
    truncate(&s, MAX_CASE_SUBJECT_CHARS)
}

/// The case body: plain text, at most [`MAX_CASE_BODY_CHARS`] characters.
pub fn body(input: &DraftInput<'_>) -> String {
    body_within(input, MAX_CASE_BODY_CHARS)
}

/// The case body in at most `max_chars` characters (a form's text input holds fewer than
/// the API takes): the facts first, then as much of the recent timeline as fits.
pub fn body_within(input: &DraftInput<'_>, max_chars: usize) -> String {
    let max_chars = max_chars.min(MAX_CASE_BODY_CHARS);
    let mut head = String::new();
    let utc = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    head.push_str(&format!(
        "Incident: {}\nSeverity: {} (our scale, SEV1 worst) - status {}\nStarted: {} ({} ago)\n",
        one_line(input.title),
        input.severity,
        input.status,
        utc(input.opened_at),
        format_duration(input.now - input.opened_at),
    ));
    head.push_str("\nImpact so far:\n");
    match input.impact {
        Some(text) => head.push_str(&format!("{}\n", text.trim())),
        None => head.push_str("(no stakeholder update posted yet)\n"),
    }
    if !input.alarms.is_empty() {
        head.push_str("\nCloudWatch alarms:\n");
        for a in input.alarms {
            head.push_str(&alarm_lines(a, &utc));
        }
    }
    if !input.health.is_empty() {
        head.push_str("\nAWS Health events seen:\n");
        for e in input.health {
            head.push_str(&format!(
                "- {} {} in {} ({}{})\n",
                e.service,
                e.event_type,
                e.region.as_deref().unwrap_or("global"),
                e.status,
                e.started_at
                    .map(|t| format!(", since {}", utc(t)))
                    .unwrap_or_default()
            ));
        }
    }
    if !input.changes.is_empty() {
        head.push_str("\nAWS changes before the incident (CloudTrail, management writes):\n");
        for c in input.changes.iter().take(super::changes::MAX_SHOWN + 2) {
            head.push_str(&format!("- {}\n", truncate(&one_line(c), 300)));
        }
    }
    if !input.tried.is_empty() {
        head.push_str("\nWhat we found and tried:\n");
        for l in input.tried {
            head.push_str(&line(l));
        }
    }
    let footer = "\n(Drafted by warroom from the incident timeline.)\n";
    let mut out = truncate(&head, max_chars.saturating_sub(footer.chars().count()));
    if !input.excerpt.is_empty() {
        let budget = max_chars
            .saturating_sub(out.chars().count())
            .saturating_sub(footer.chars().count());
        let title = "\nTimeline (UTC, latest last):\n";
        // Keep the newest lines that fit: the recent past is what AWS needs most.
        let mut kept: Vec<String> = Vec::new();
        let mut used = title.chars().count();
        for l in input.excerpt.iter().rev() {
            let text = line(l);
            let n = text.chars().count();
            if used + n > budget {
                break;
            }
            used += n;
            kept.push(text);
        }
        if !kept.is_empty() {
            out.push_str(title);
            for l in kept.iter().rev() {
                out.push_str(l);
            }
        }
    }
    out.push_str(footer);
    out
}

fn alarm_lines(a: &Alarm, utc: &dyn Fn(DateTime<Utc>) -> String) -> String {
    let mut s = format!("- {} ({}), region {}\n", a.name, a.state.as_str(), a.region);
    if let (Some(ns), Some(metric)) = (&a.namespace, &a.metric_name) {
        let stat = a.statistic.as_deref().unwrap_or("value");
        let cond = match (a.comparison_symbol(), a.threshold) {
            (Some(op), Some(t)) => format!(" {op} {t}"),
            _ => String::new(),
        };
        let period = a
            .period_secs
            .map(|p| format!(" over {p}s"))
            .unwrap_or_default();
        s.push_str(&format!("  Metric: {ns} {metric} ({stat}{cond}{period})\n"));
    }
    if !a.dimensions.is_empty() {
        let dims: Vec<String> = a
            .dimensions
            .iter()
            .map(|d| format!("{}={}", d.name, d.value))
            .collect();
        s.push_str(&format!("  Resources: {}\n", dims.join(", ")));
    }
    if let Some(reason) = &a.state_reason {
        s.push_str(&format!("  Reason: {}\n", one_line(reason)));
    }
    s.push_str(&format!(
        "  Since: {}\n  ARN: {}\n",
        utc(a.state_updated_at),
        a.arn
    ));
    s
}

fn line(l: &ExcerptLine) -> String {
    let who = if l.who.is_empty() {
        String::new()
    } else {
        format!(" {}:", l.who)
    };
    format!(
        "- {}{} {}\n",
        l.at.format("%H:%M"),
        who,
        truncate(&one_line(&l.text), 400)
    )
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alarm::{AlarmKind, AlarmState, Dimension};

    fn t(hm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-21T{hm}:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn alarm() -> Alarm {
        Alarm {
            arn: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:db-cpu".into(),
            name: "db-cpu".into(),
            kind: AlarmKind::Metric,
            description: None,
            region: "eu-west-1".into(),
            namespace: Some("AWS/RDS".into()),
            metric_name: Some("CPUUtilization".into()),
            dimensions: vec![Dimension {
                name: "DBInstanceIdentifier".into(),
                value: "payments-db-1".into(),
            }],
            statistic: Some("Average".into()),
            period_secs: Some(60),
            threshold: Some(90.0),
            comparison: Some("GreaterThanThreshold".into()),
            rule: None,
            state: AlarmState::Alarm,
            state_reason: Some("Threshold Crossed: 1 datapoint [97.5] was greater than 90".into()),
            state_updated_at: t("10:02"),
            tags: vec![],
        }
    }

    fn lines(n: usize) -> Vec<ExcerptLine> {
        (0..n)
            .map(|i| ExcerptLine {
                at: t("10:30") + chrono::Duration::seconds(i as i64),
                who: "ann".into(),
                text: format!("step {i:05} {}", "x".repeat(150)),
            })
            .collect()
    }

    #[test]
    fn the_draft_carries_resource_region_times_and_what_was_tried() {
        let alarms = [alarm()];
        let tried = [ExcerptLine {
            at: t("10:20"),
            who: "bob".into(),
            text: "Failed over to the replica; errors continue".into(),
        }];
        let excerpt = lines(3);
        let b = body(&DraftInput {
            incident_id: 7,
            title: "Checkout\nerrors",
            severity: Severity::Sev1,
            status: Status::Investigating,
            opened_at: t("10:00"),
            now: t("10:45"),
            impact: Some("30% of checkouts fail in EU"),
            alarms: &alarms,
            health: &[],
            changes: &[
                "2026-11-21 09:48 UTC (14m before the alarm) ModifyDBInstance on payments-db-1 by Deployer/ci-42 in eu-west-1".to_string(),
            ],
            tried: &tried,
            excerpt: &excerpt,
        });
        for want in [
            "Incident: Checkout errors",
            "Started: 2026-11-21 10:00 UTC (45m ago)",
            "30% of checkouts fail in EU",
            "db-cpu (ALARM), region eu-west-1",
            "AWS/RDS CPUUtilization (Average > 90 over 60s)",
            "DBInstanceIdentifier=payments-db-1",
            "Threshold Crossed: 1 datapoint [97.5]",
            "10:20 bob: Failed over to the replica",
            "AWS changes before the incident (CloudTrail, management writes):\n- 2026-11-21 09:48 UTC (14m before the alarm) ModifyDBInstance on payments-db-1",
            "10:30 ann: step 00002",
        ] {
            assert!(b.contains(want), "missing {want:?} in\n{b}");
        }
        assert_eq!(
            subject(7, "Checkout\nerrors"),
            "warroom #7: Checkout errors"
        );
    }

    #[test]
    fn a_long_timeline_is_cut_from_the_oldest_end_within_the_api_limit() {
        let excerpt = lines(500);
        let b = body(&DraftInput {
            incident_id: 1,
            title: "t",
            severity: Severity::Sev2,
            status: Status::Identified,
            opened_at: t("10:00"),
            now: t("12:00"),
            impact: None,
            alarms: &[],
            health: &[],
            changes: &[],
            tried: &[],
            excerpt: &excerpt,
        });
        assert!(b.chars().count() <= MAX_CASE_BODY_CHARS, "{}", b.len());
        assert!(b.contains("step 00499"), "the newest line is kept");
        // A form's smaller field: the facts and the newest lines, within it.
        let input = DraftInput {
            incident_id: 1,
            title: "t",
            severity: Severity::Sev2,
            status: Status::Identified,
            opened_at: t("10:00"),
            now: t("12:00"),
            impact: None,
            alarms: &[],
            health: &[],
            changes: &[],
            tried: &[],
            excerpt: &excerpt,
        };
        let small = body_within(&input, 3_000);
        assert!(small.chars().count() <= 3_000, "{}", small.chars().count());
        assert!(small.contains("step 00499") && small.contains("Incident: t"));
        assert!(small.ends_with("(Drafted by warroom from the incident timeline.)\n"));
        assert!(!b.contains("step 00000"), "the oldest is dropped");
        assert!(b.contains("(no stakeholder update posted yet)"));
        let long_title = "y".repeat(400);
        assert_eq!(
            subject(1, &long_title).chars().count(),
            MAX_CASE_SUBJECT_CHARS
        );
    }
}
