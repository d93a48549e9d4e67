//! The short incident report: `/incident stats` (to the caller) and the weekly report (the
//! status channel and the managers' DMs). Counts and how fast, from the same [`Report`] as
//! `warroom report`, which has the rest.

use serde_json::{json, Value};

use super::mrkdwn::{escape, user_mention};
use super::outgoing::Outgoing;
use crate::domain::report::Report;
use crate::domain::time::human_minutes;
use crate::domain::UserId;

/// Routes named in the short version; the rest are in `warroom report`.
const TOP_ROUTES: usize = 3;
/// Owners of open action items named in the short version.
const TOP_OWNERS: usize = 5;

/// The short report under `heading` (plain words, e.g. "Incidents in the last 30 days").
pub fn short_report(report: &Report, heading: &str) -> Outgoing {
    let severities: Vec<String> = report
        .by_severity
        .iter()
        .map(|(sev, n)| format!("{sev} {n}"))
        .collect();
    let headline = format!(
        ":bar_chart: *{}*: {} incident(s), {} resolved ({})",
        escape(heading),
        report.incidents,
        report.resolved,
        severities.join(" · ")
    );
    let mut lines = vec![headline.clone()];
    let mut routes: Vec<(&String, &usize)> = report.by_route.iter().collect();
    routes.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    if report.incidents > 0 {
        let top: Vec<String> = routes
            .iter()
            .take(TOP_ROUTES)
            .map(|(r, n)| format!("{} {n}", escape(r)))
            .collect();
        lines.push(format!("*By route*: {}", top.join(" · ")));
    }
    lines.push("*How fast* (median / 90th percentile, number measured)".to_string());
    let stat = |name: &str, s: &crate::domain::report::Stat| {
        format!(
            "• {name}: {} / {} ({})",
            human_minutes(s.p50_minutes),
            human_minutes(s.p90_minutes),
            s.count
        )
    };
    lines.push(stat("detect", &report.time_to_detect));
    lines.push(stat("engage", &report.time_to_engage));
    lines.push(stat("escalate to AWS", &report.time_to_escalate));
    let aws = &report.aws_first_response;
    let cases = aws.count + aws.unanswered;
    lines.push(format!(
        "• AWS first response: {} / {} ({}); {} of {cases} case(s) answered within target, {} unanswered",
        human_minutes(aws.p50_minutes),
        human_minutes(aws.p90_minutes),
        aws.count,
        aws.within_target,
        aws.unanswered
    ));
    lines.push(stat("mitigate", &report.time_to_mitigate));
    lines.push(stat("resolve", &report.time_to_resolve));
    if !report.without_postmortem.is_empty() {
        let ids: Vec<String> = report
            .without_postmortem
            .iter()
            .map(|i| format!("#{i}"))
            .collect();
        lines.push(format!(
            "*Resolved without a postmortem draft*: {}",
            ids.join(", ")
        ));
    }
    let open = &report.open_action_items;
    if open.count > 0 {
        let owners: Vec<String> = open
            .by_owner
            .iter()
            .take(TOP_OWNERS)
            .map(|o| {
                let who = o
                    .owner
                    .as_deref()
                    .and_then(|u| UserId::parse(u).ok())
                    .map(|u| user_mention(&u))
                    .unwrap_or_else(|| "nobody".to_string());
                format!("{who} {} (oldest {}d)", o.count, o.oldest_days)
            })
            .collect();
        lines.push(format!(
            "*Action items open*: {} — {}",
            open.count,
            owners.join(", ")
        ));
    }
    if report.drills.count > 0 {
        lines.push(format!(
            "Drills: {} (not counted above)",
            report.drills.count
        ));
    }
    let text = lines.join("\n");
    let footer = "`warroom report` has the full report (Markdown, HTML, CSV or JSON).";
    let blocks: Vec<Value> = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]}),
    ];
    Outgoing {
        text: headline,
        blocks: Some(Value::Array(blocks)),
    }
}
