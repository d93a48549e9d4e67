//! The HTML postmortem page against hostile input: markup, event handlers and `javascript:`
//! links typed into titles, messages and notes, and arriving in alarm descriptions, AWS
//! Health events and AWS Support replies. The page is rendered with the shipped templates
//! and checked as a browser would read it: every tag on the page is the template's own,
//! with the same attributes, and the hostile text is shown as text.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use warroom::domain::{ActionItem, IncidentRecord, TimelineEntry};
use warroom::domain::{EntryKind, Incident, IncidentId, Severity, Status, UserId};
use warroom::postmortem::{self, Format, Options, Templates};
use warroom::store::{
    AlarmEvent, AwsCase, CaseMessage, CaseMessageKind, Evidence, Graph, HealthEvent,
    PostmortemSource,
};

const HOSTILE: [&str; 6] = [
    "<script>alert('title')</script>",
    "\"><img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(2)\">click me</a>",
    "javascript:alert(3)",
    "' onmouseover='alert(4)",
    "</td></tr></table><iframe src=//evil.example></iframe>",
];

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 13, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn entry(id: i64, minutes: i64, kind: EntryKind, actor: &str, text: &str) -> TimelineEntry {
    TimelineEntry {
        id,
        incident_id: IncidentId(1),
        kind,
        occurred_at: t(minutes),
        recorded_at: t(minutes),
        actor: Some(actor.to_string()),
        text: text.to_string(),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
        edited_at: None,
        deleted_at: None,
        revisions: Vec::new(),
    }
}

/// An incident with `say(i)` in every place people or AWS write.
fn source(say: impl Fn(usize) -> String) -> PostmortemSource {
    let user = |id: &str| UserId::parse(id).unwrap();
    let mut entries = vec![entry(
        1,
        0,
        EntryKind::Declared,
        "U0ALICE",
        &format!("declared SEV2 {}", say(0)),
    )];
    for i in 0..HOSTILE.len() {
        let base = 10 + 3 * i as i64;
        entries.push(entry(base, base, EntryKind::Message, "U0BOB", &say(i)));
        entries.push(entry(
            base + 1,
            base + 1,
            EntryKind::Note,
            "U0CAROL",
            &say(i),
        ));
        entries.push(entry(
            base + 2,
            base + 2,
            EntryKind::Update,
            "U0ALICE",
            &say(i),
        ));
    }
    entries.push(entry(99, 90, EntryKind::Resolved, "U0BOB", "resolved"));
    PostmortemSource {
        record: IncidentRecord {
            private: false,
            incident: Incident {
                id: IncidentId(1),
                title: say(0),
                severity: Severity::Sev2,
                status: Status::Resolved,
                lead: Some(user("U0BOB")),
                declared_by: user("U0ALICE"),
                opened_at: t(0),
                resolved_at: Some(t(90)),
            },
            channel_name: "inc-20261121-hostile".to_string(),
            channel_id: Some(warroom::domain::ChannelId::new("C1")),
            header_ts: None,
            header_pinned: true,
            members_invited: true,
            incident_type: None,
        },
        entries,
        details: HashMap::new(),
        actions: (0..HOSTILE.len())
            .map(|i| ActionItem {
                incident_id: IncidentId(1),
                number: i as u32 + 1,
                text: say(i),
                owner: Some(user("U0CAROL")),
                created_by: "U0BOB".to_string(),
                created_at: t(60),
                done_at: None,
                done_by: None,
            })
            .collect(),
        names: Default::default(),
        roles: Vec::new(),
        checklist: Vec::new(),
        evidence: Evidence {
            alarms: (0..HOSTILE.len())
                .map(|i| AlarmEvent {
                    name: say(i),
                    state: warroom::domain::alarm::AlarmState::Alarm,
                    at: t(1),
                    region: "eu-west-1".to_string(),
                    metric: Some(say(i)),
                    description: Some(say(i)),
                    console_url: say(i),
                })
                .collect(),
            aws_cases: vec![AwsCase {
                id: "case-1".to_string(),
                severity: "high".to_string(),
                subject: say(1),
                status: "resolved".to_string(),
                opened_at: t(20),
                console_url: "javascript:alert(1)".to_string(),
                communications: (0..HOSTILE.len())
                    .map(|i| CaseMessage {
                        at: t(30 + i as i64),
                        from: if i % 2 == 0 {
                            "AWS".to_string()
                        } else {
                            say(i)
                        },
                        text: say(i),
                        kind: if i % 2 == 0 {
                            CaseMessageKind::Aws
                        } else {
                            CaseMessageKind::Outside
                        },
                    })
                    .collect(),
            }],
            health_events: vec![HealthEvent {
                service: "EC2".to_string(),
                region: "eu-west-1".to_string(),
                event_type: say(2),
                status: "open".to_string(),
                started_at: Some(t(5)),
                description: say(3),
            }],
            graphs: vec![
                Graph {
                    alarm_name: say(0),
                    title: say(1),
                    // Not a PNG: the page must not show it, whatever it says.
                    png: Some(say(2).into_bytes()),
                    slack_file_id: Some(say(3)),
                    permalink: Some("javascript:alert(1)".to_string()),
                    unavailable: Some(say(4)),
                    posted_at: t(2),
                },
                Graph {
                    // A real image: its alt text and caption carry the alarm's name.
                    alarm_name: say(1),
                    title: say(1),
                    png: Some(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
                    slack_file_id: None,
                    permalink: None,
                    unavailable: None,
                    posted_at: t(3),
                },
            ],
            opened_by_alarm: Some(say(5)),
        },
    }
}

fn render(source: &PostmortemSource) -> String {
    let templates = Templates::load(None).expect("the shipped templates load");
    let options = Options {
        gap: Duration::minutes(30),
        appendix_max_bytes: 256 * 1024,
        escalation_target: Duration::minutes(30),
    };
    postmortem::draft(&templates, source, &options, t(120), Format::Html).expect("renders")
}

/// The page's tags, each with its attribute values blanked: the page's structure as a
/// browser builds it.
fn tags(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start..start + len + 1];
        let mut shape = String::new();
        let mut quoted = false;
        for c in tag.chars() {
            if c == '"' {
                quoted = !quoted;
                shape.push(c);
            } else if !quoted {
                shape.push(c.to_ascii_lowercase());
            }
        }
        out.push(shape);
        rest = &rest[start + len + 1..];
    }
    out
}

#[test]
fn hostile_text_in_the_html_postmortem_is_shown_never_run() {
    let benign = render(&source(|i| format!("plain words number {i}")));
    let hostile = render(&source(|i| HOSTILE[i].to_string()));
    // Every tag is the template's own, with the same attributes: nothing added, nothing
    // closed early, no attribute smuggled in through a quote.
    assert_eq!(tags(&hostile), tags(&benign));
    let lower = hostile.to_ascii_lowercase();
    for live in ["<script", "<img src=x", "<iframe", "<a "] {
        assert!(!lower.contains(live), "{live:?} is live on the page");
    }
    // Outside quoted attribute values, no tag carries any of it either; inside them the
    // text is escaped (no `"` to break out of the value).
    for tag in tags(&hostile) {
        for live in ["onerror", "onmouseover", "javascript:", "script", "iframe"] {
            assert!(!tag.contains(live), "{live:?} in the tag {tag}");
        }
    }
    assert!(hostile.contains(
        "alt=\"CloudWatch graph of alarm &quot;&gt;&lt;img src=x onerror=alert(1)&gt; around the breach"
    ));
    // And people see what was written, as text.
    for escaped in [
        "&lt;script&gt;alert(",
        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
        "javascript:alert(3)",
    ] {
        assert!(hostile.contains(escaped), "{escaped:?} is not shown");
    }
}
