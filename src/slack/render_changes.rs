//! "What changed before the alarm": the post that answers the first question of an incident
//! (recent AWS changes, the alarm's history, the alarms beside it), from a
//! [`ChangeReport`].
//!
//! Everything in it came from AWS or from whoever made the changes (resource names, session
//! names, alarm names): all of it is escaped; the only links are console addresses built
//! from percent-encoded parts. `web.rs` fits the message to Slack's limits after escaping.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::mrkdwn::{escape_inline, truncate};
use super::outgoing::Outgoing;
use super::render::when;
use crate::domain::changes::{
    console_url, format_lookback, resource, short_identity, ChangeList, ChangeReport, Finding,
    HistorySummary, RankedChange, Relevance, MAX_NEIGHBOURS,
};
use crate::domain::time::format_duration;

/// Longest section text warroom builds (Slack's limit is 3,000 after escaping; `web.rs`
/// cuts whatever still passes it).
const SECTION_CHARS: usize = 2_800;

/// The post: a heading, one line per change, then the alarm's history and neighbours.
pub fn changes_report(report: &ChangeReport) -> Outgoing {
    let lookback = format_lookback(report.lookback());
    let subject = match &report.alarm_name {
        Some(name) => format!(
            "*What changed before the alarm* {}",
            escape_inline(&truncate(name, 200))
        ),
        None => format!(
            "*What changed before {}*",
            escape_inline(&report.anchor_label)
        ),
    };
    let mut blocks = vec![section(format!(
        ":mag: {subject}: AWS management changes from {} to {} ({lookback})",
        when(report.since()),
        when(report.anchor)
    ))];
    let mut text_lines = Vec::new();
    for region in &report.regions {
        let r = escape_inline(&region.region);
        match &region.changes {
            Finding::Failed(why) => {
                let line = format!(
                    ":warning: Changes in {r} could not be checked: {}",
                    escape_inline(why)
                );
                text_lines.push(line.clone());
                blocks.push(section(line));
            }
            Finding::Found(list) if list.shown.is_empty() => {
                let line = format!(
                    ":white_check_mark: No management changes in the last {lookback} in {r}{}.",
                    left_out_note(list)
                );
                text_lines.push(line.clone());
                blocks.push(section(line));
            }
            Finding::Found(list) => {
                text_lines.push(format!("{} change(s) in {r}", list.shown.len() + list.more));
                let mut lines: Vec<String> = list
                    .shown
                    .iter()
                    .map(|c| change_line(c, report.anchor, &region.region))
                    .collect();
                if list.more > 0 {
                    lines.push(format!(
                        "…and {} more in {r} (CloudTrail's event history has them all)",
                        list.more
                    ));
                }
                if list.truncated {
                    lines.push(
                        "_warroom reads a bounded number of pages and stopped before the start of the window: older changes may be missing._"
                            .to_string(),
                    );
                }
                let note = left_out_note(list);
                if !note.is_empty() {
                    lines.push(format!("_{}_", note.trim_start_matches([',', ' '])));
                }
                blocks.extend(sections(&lines));
            }
        }
    }
    let mut extra = Vec::new();
    if let Some(history) = &report.history {
        extra.push(match history {
            Finding::Found(h) => history_line(h, report.anchor),
            Finding::Failed(why) => format!(
                "*This alarm's history* could not be read: {}",
                escape_inline(why)
            ),
        });
    }
    if let Some(neighbours) = &report.neighbours {
        let region = report
            .regions
            .first()
            .map(|r| escape_inline(&r.region))
            .unwrap_or_default();
        extra.push(match neighbours {
            Finding::Found(names) if names.is_empty() => {
                format!("*Other alarms in ALARM in {region}:* none")
            }
            Finding::Found(names) => {
                let mut shown: Vec<String> = names
                    .iter()
                    .take(MAX_NEIGHBOURS)
                    .map(|n| escape_inline(&truncate(n, 120)))
                    .collect();
                if names.len() > MAX_NEIGHBOURS {
                    shown.push(format!("and {} more", names.len() - MAX_NEIGHBOURS));
                }
                format!("*Other alarms in ALARM in {region}:* {}", shown.join(", "))
            }
            Finding::Failed(why) => format!(
                "*Other alarms in ALARM* could not be listed: {}",
                escape_inline(why)
            ),
        });
    }
    if !extra.is_empty() {
        blocks.push(section(extra.join("\n")));
    }
    let mut context = vec!["Own resources first, then deploys and other risky changes, then the rest. `/incident changes [2h]` looks again.".to_string()];
    if report.maybe_incomplete {
        context.push("CloudTrail can take several minutes to list a change (about 5 on average): look again shortly.".to_string());
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": context.join(" ")}]
    }));
    let text = format!(
        "What changed before {}: {}",
        report
            .alarm_name
            .as_deref()
            .map(|n| format!("the alarm {}", escape_inline(&truncate(n, 200))))
            .unwrap_or_else(|| escape_inline(&report.anchor_label)),
        text_lines.join("; ")
    );
    Outgoing {
        text,
        blocks: Some(Value::Array(blocks)),
    }
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// Lines grouped into sections under [`SECTION_CHARS`].
fn sections(lines: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut chunk = String::new();
    for line in lines {
        if !chunk.is_empty() && chunk.chars().count() + line.chars().count() + 1 > SECTION_CHARS {
            out.push(section(std::mem::take(&mut chunk)));
        }
        if !chunk.is_empty() {
            chunk.push('\n');
        }
        chunk.push_str(line);
    }
    if !chunk.is_empty() {
        out.push(section(chunk));
    }
    out
}

/// `• 12m before · *UpdateService* on checkout by Deployer/ci-42 · <…|event>  :dart: …`
fn change_line(c: &RankedChange, anchor: DateTime<Utc>, region: &str) -> String {
    let e = &c.event;
    let rel = if e.at <= anchor {
        format!("{} before", format_duration(anchor - e.at))
    } else {
        format!("{} after", format_duration(e.at - anchor))
    };
    let on = resource(e)
        .map(|r| format!(" on {}", escape_inline(&r)))
        .unwrap_or_default();
    let why = match &c.relevance {
        Relevance::OwnResource { dimension, value } => format!(
            "  :dart: the alarm's {} {}",
            escape_inline(&truncate(dimension, 60)),
            escape_inline(&truncate(value, 80))
        ),
        Relevance::DeployLike | Relevance::Other => String::new(),
    };
    format!(
        "• {rel} · *{}* ({}){on} by {} · <{}|event>{why}",
        escape_inline(&truncate(&e.name, 80)),
        escape_inline(&truncate(&e.source, 60)),
        escape_inline(&short_identity(&e.who)),
        console_url(region, &e.id),
    )
}

fn left_out_note(list: &ChangeList) -> String {
    if list.left_out == 0 {
        String::new()
    } else {
        format!(", {} routine or failed call(s) left out", list.left_out)
    }
}

fn history_line(h: &HistorySummary, anchor: DateTime<Utc>) -> String {
    let mut s = match h.alarms_before {
        0 => "*This alarm* was not in ALARM in the 24h before.".to_string(),
        1 => "*This alarm* went to ALARM once in the 24h before.".to_string(),
        n => format!("*This alarm* went to ALARM {n} times in the 24h before."),
    };
    if h.flapping() {
        s.push_str(" :repeat: It flaps: this may be one more of those.");
    }
    if let Some((at, left)) = h.last_alarm {
        s.push_str(&format!(
            " Last time: {} ({} before this one",
            when(at),
            format_duration(anchor - at)
        ));
        match left {
            Some(l) => s.push_str(&format!(
                ", back to normal after {}).",
                format_duration(l - at)
            )),
            None => s.push_str(")."),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alarm::Dimension;
    use crate::domain::changes::tests::{at, event};
    use crate::domain::changes::{rank, RegionChanges};

    fn report(events: &[crate::domain::changes::ChangeEvent]) -> ChangeReport {
        let dims = [Dimension {
            name: "ServiceName".into(),
            value: "checkout".into(),
        }];
        ChangeReport {
            anchor: at(10, 0),
            anchor_label: "the alarm".into(),
            lookback_minutes: 120,
            alarm_name: Some("checkout-5xx".into()),
            regions: vec![RegionChanges {
                region: "eu-west-1".into(),
                changes: Finding::Found(rank(events, &dims, &[], at(8, 0), at(10, 0), false)),
            }],
            history: Some(Finding::Found(HistorySummary {
                alarms_before: 0,
                last_alarm: None,
            })),
            neighbours: Some(Finding::Found(vec!["orders-latency".into()])),
            maybe_incomplete: true,
        }
    }

    fn all_text(msg: &Outgoing) -> String {
        format!(
            "{}{}",
            msg.text,
            msg.blocks
                .as_ref()
                .map(|b| b.to_string())
                .unwrap_or_default()
        )
    }

    #[test]
    fn a_change_reads_when_what_who_and_where_to_look() {
        let msg = changes_report(&report(&[event(
            "ev-1",
            "UpdateService",
            at(9, 48),
            &["checkout"],
        )]));
        let all = all_text(&msg);
        assert!(all.contains("• 12m before · *UpdateService* (example.amazonaws.com) on checkout by Deployer/ci-42"), "{all}");
        assert!(all.contains("<https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/ev-1|event>"), "{all}");
        assert!(
            all.contains(":dart: the alarm's ServiceName checkout"),
            "{all}"
        );
        assert!(
            all.contains("*Other alarms in ALARM in eu-west-1:* orders-latency"),
            "{all}"
        );
        assert!(all.contains("CloudTrail can take several minutes"), "{all}");
    }

    #[test]
    fn nothing_found_is_said_plainly() {
        let all = all_text(&changes_report(&report(&[])));
        assert!(
            all.contains("No management changes in the last 2h in eu-west-1."),
            "{all}"
        );
    }

    #[test]
    fn hostile_event_fields_never_ping_or_link() {
        let mut e = event(
            "ev-<!channel>|x>",
            "Update<!here>Service",
            at(9, 50),
            &["<https://evil.example|click>", "checkout"],
        );
        e.who = "arn:aws:sts::1:assumed-role/<!everyone>/<@U0BOSS>".into();
        e.source = "<!subteam^S1>".into();
        let mut r = report(&[e]);
        r.alarm_name = Some("<!channel> alarm".into());
        r.neighbours = Some(Finding::Found(vec!["<https://evil|x>".into()]));
        r.regions.push(RegionChanges {
            region: "us-east-1".into(),
            changes: Finding::Failed("AWS said <!here>".into()),
        });
        let all = all_text(&changes_report(&r));
        for bad in [
            "<!channel>",
            "<!here>",
            "<!everyone>",
            "<@U0BOSS>",
            "<https://evil",
            "<!subteam",
        ] {
            assert!(!all.contains(bad), "{bad} in {all}");
        }
        assert!(all.contains("&lt;!channel&gt;"), "{all}");
        assert!(
            all.contains("#/events/ev-%3C%21channel%3E%7Cx%3E|event>"),
            "the event id is percent-encoded in the link: {all}"
        );
    }
}
