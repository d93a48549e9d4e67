//! Sample incidents the templates are checked against when loaded: one with every section
//! filled (alarms, AWS cases, Health events, graphs, gaps, action items, stakeholder
//! updates, a deleted and an edited message), one with nothing but the declaration.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::model::{build, Options, PostmortemData};
use crate::domain::alarm::AlarmState;
use crate::domain::{ActionItem, IncidentRecord, TimelineEntry};
use crate::domain::{EntryKind, Incident, IncidentId, Severity, Status, UserId};
use crate::store::{
    AlarmEvent, AwsCase, CaseMessage, CaseMessageKind, Evidence, Graph, HealthEvent,
    PostmortemSource,
};

/// A 1×1 grey PNG: the sample graph.
pub const SAMPLE_PNG: [u8; 67] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b,
    0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x01, 0x48, 0xaf, 0xa4, 0x71, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 13, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn user(id: &str) -> Result<UserId, String> {
    UserId::parse(id)
}

const CONSOLE: &str =
    "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/checkout-5xx";

fn options() -> Options {
    Options {
        gap: Duration::minutes(30),
        appendix_max_bytes: 256 * 1024,
        escalation_target: Duration::minutes(30),
    }
}

fn record(status: Status, resolved_at: Option<DateTime<Utc>>) -> Result<IncidentRecord, String> {
    Ok(IncidentRecord {
        private: false,
        incident: Incident {
            id: IncidentId(7),
            title: "Checkout | errors `5xx` # spike".to_string(),
            severity: Severity::Sev1,
            status,
            lead: Some(user("U0BOB")?),
            declared_by: user("U0ALICE")?,
            opened_at: t0(),
            resolved_at,
        },
        channel_name: "inc-20261121-checkout-errors".to_string(),
        channel_id: Some(crate::domain::ChannelId::new("C0SAMPLE")),
        header_ts: None,
        header_pinned: true,
        members_invited: true,
        incident_type: None,
    })
}

struct Entries {
    list: Vec<TimelineEntry>,
    details: HashMap<i64, serde_json::Value>,
}

impl Entries {
    fn push(
        &mut self,
        minutes: i64,
        kind: EntryKind,
        actor: Option<&str>,
        text: &str,
        data: Option<serde_json::Value>,
    ) -> &mut TimelineEntry {
        let id = self.list.len() as i64 + 1;
        let at = t0() + Duration::minutes(minutes);
        if let Some(data) = data {
            self.details.insert(id, data);
        }
        self.list.push(TimelineEntry {
            id,
            incident_id: IncidentId(7),
            kind,
            occurred_at: at,
            recorded_at: at,
            actor: actor.map(str::to_string),
            text: text.to_string(),
            slack_ts: None,
            thread_ts: None,
            key_event: kind.is_key_by_default(),
            edited_at: None,
            deleted_at: None,
            revisions: Vec::new(),
        });
        let last = self.list.len() - 1;
        &mut self.list[last]
    }
}

/// Every section has something in it.
pub fn full() -> Result<PostmortemData, String> {
    let mut e = Entries {
        list: Vec::new(),
        details: HashMap::new(),
    };
    let note = e.push(
        -20,
        EntryKind::Note,
        Some("U0BOB"),
        "errors started <after> deploy",
        None,
    );
    note.recorded_at = t0() + Duration::minutes(5);
    e.push(
        0,
        EntryKind::Declared,
        Some("U0ALICE"),
        "declared SEV3 Checkout errors",
        None,
    );
    e.push(
        2,
        EntryKind::Message,
        Some("U0BOB"),
        "looking at <@U0ALICE|alice>'s graph: <https://x.io|dash>",
        None,
    );
    e.push(
        3,
        EntryKind::Message,
        Some("U0CAROL"),
        "| pipes | and `ticks` # hash\nsecond line",
        None,
    )
    .key_event = true;
    e.push(
        4,
        EntryKind::SeverityChanged,
        Some("U0BOB"),
        "severity SEV3 → SEV1",
        Some(json!({"change": "severity", "from": "Sev3", "to": "Sev1"})),
    );
    e.push(5, EntryKind::Message, Some("U0BOB"), "typo", None)
        .edited_at = Some(t0());
    e.push(6, EntryKind::Message, Some("U0CAROL"), "oops", None)
        .deleted_at = Some(t0());
    e.push(
        10,
        EntryKind::StatusChanged,
        Some("U0BOB"),
        "status investigating → identified: bad config",
        Some(json!({"change": "status", "from": "Investigating", "to": "Identified", "note": "bad config"})),
    );
    e.push(
        12,
        EntryKind::Note,
        Some("U0BOB"),
        "action item 1: alarm on pool use (owner U0CAROL)",
        Some(json!({"change": "action_added", "number": 1, "owner": "U0CAROL"})),
    );
    e.push(
        45,
        EntryKind::Update,
        Some("U0BOB"),
        "Checkout failing for 1 in 3 orders; rolling back",
        None,
    );
    e.push(
        70,
        EntryKind::StatusChanged,
        Some("U0BOB"),
        "status identified → monitoring",
        Some(json!({"change": "status", "from": "Identified", "to": "Monitoring", "note": null})),
    );
    e.push(
        85,
        EntryKind::Resolved,
        Some("U0BOB"),
        "resolved: rolled back",
        Some(json!({"change": "status", "from": "Monitoring", "to": "Resolved", "note": "rolled back"})),
    );
    e.push(
        -5,
        EntryKind::AwsChanges,
        None,
        "Changes before the alarm: 1 change in the last 2h (UpdateService)",
        Some(changes_report()?),
    );
    let evidence = Evidence {
        alarms: vec![
            AlarmEvent {
                name: "checkout-5xx".to_string(),
                state: AlarmState::Alarm,
                at: t0() - Duration::minutes(6),
                region: "us-east-1".to_string(),
                metric: Some("AWS/ApplicationELB HTTPCode_Target_5XX_Count > 50".to_string()),
                description: Some("<!channel> 5xx on checkout".to_string()),
                console_url: CONSOLE.to_string(),
            },
            AlarmEvent {
                name: "checkout-5xx".to_string(),
                state: AlarmState::Ok,
                at: t0() + Duration::minutes(72),
                region: "us-east-1".to_string(),
                metric: None,
                description: None,
                console_url: CONSOLE.to_string(),
            },
        ],
        aws_cases: vec![AwsCase {
            id: "case-123456".to_string(),
            severity: "urgent".to_string(),
            subject: "RDS connections exhausted".to_string(),
            status: "resolved".to_string(),
            opened_at: t0() + Duration::minutes(40),
            console_url:
                "https://support.console.aws.amazon.com/support/home#/case/?displayId=123456&language=en"
                    .to_string(),
            communications: vec![
                CaseMessage {
                    at: t0() + Duration::minutes(40),
                    from: "warroom".to_string(),
                    text: "Incident: Checkout errors\nSeverity: SEV1".to_string(),
                    kind: CaseMessageKind::Opening,
                },
                CaseMessage {
                    at: t0() + Duration::minutes(55),
                    from: "AWS".to_string(),
                    text: "We see elevated | connections".to_string(),
                    kind: CaseMessageKind::Aws,
                },
                CaseMessage {
                    at: t0() + Duration::minutes(56),
                    from: "U0BOB".to_string(),
                    text: "Thanks, failing over".to_string(),
                    kind: CaseMessageKind::Sent,
                },
            ],
        }],
        health_events: vec![HealthEvent {
            service: "RDS".to_string(),
            region: "us-east-1".to_string(),
            event_type: "AWS_RDS_OPERATIONAL_ISSUE".to_string(),
            status: "closed".to_string(),
            started_at: Some(t0() - Duration::minutes(30)),
            description: "Increased connection errors".to_string(),
        }],
        graphs: vec![
            Graph {
                alarm_name: "checkout-5xx".to_string(),
                title: "checkout-5xx around the breach".to_string(),
                png: Some(SAMPLE_PNG.to_vec()),
                slack_file_id: Some("F0SAMPLE".to_string()),
                permalink: Some(
                    "https://example.slack.com/files/U0WARBOT/F0SAMPLE/checkout-5xx.png"
                        .to_string(),
                ),
                unavailable: None,
                posted_at: t0() - Duration::minutes(5),
            },
            Graph {
                alarm_name: "checkout-latency".to_string(),
                title: "checkout-latency around the breach".to_string(),
                png: None,
                slack_file_id: None,
                permalink: None,
                unavailable: Some("AccessDenied: not allowed".to_string()),
                posted_at: t0() - Duration::minutes(5),
            },
        ],
        opened_by_alarm: None,
    };
    let source = PostmortemSource {
        record: record(Status::Resolved, Some(t0() + Duration::minutes(85)))?,
        entries: e.list,
        details: e.details,
        actions: vec![
            ActionItem {
                incident_id: IncidentId(7),
                number: 1,
                text: "alarm on pool use".to_string(),
                owner: Some(user("U0CAROL")?),
                created_by: "U0BOB".to_string(),
                created_at: t0() + Duration::minutes(12),
                done_at: None,
                done_by: None,
            },
            ActionItem {
                incident_id: IncidentId(7),
                number: 2,
                text: "runbook for <rollbacks>".to_string(),
                owner: None,
                created_by: "U0ALICE".to_string(),
                created_at: t0() + Duration::minutes(80),
                done_at: Some(t0() + Duration::minutes(84)),
                done_by: Some("U0ALICE".to_string()),
            },
        ],
        names: Default::default(),
        roles: Vec::new(),
        checklist: vec![
            crate::domain::incident_type::ChecklistItem {
                position: 1,
                text: "Page the <database> | team".to_string(),
                runbook: Some("https://wiki.example/db".to_string()),
                done: Some((user("U0BOB")?, t0() + Duration::minutes(6))),
            },
            crate::domain::incident_type::ChecklistItem {
                position: 2,
                text: "Tell *customers*".to_string(),
                runbook: None,
                done: None,
            },
        ],
        evidence,
    };
    let mut source = source;
    source.record.incident_type = Some("database".to_string());
    Ok(build(&source, &options(), t0() + Duration::minutes(90)))
}

/// A look-up with a deploy on the alarm's own service (hostile text in it) and a region
/// that could not be checked.
fn changes_report() -> Result<serde_json::Value, String> {
    use crate::domain::changes::{
        ChangeEvent, ChangeList, ChangeReport, Finding, RankedChange, RegionChanges, Relevance,
    };
    let report = ChangeReport {
        anchor: t0() - Duration::minutes(6),
        anchor_label: "the alarm".to_string(),
        lookback_minutes: 120,
        alarm_name: Some("checkout-5xx".to_string()),
        regions: vec![
            RegionChanges {
                region: "us-east-1".to_string(),
                changes: Finding::Found(ChangeList {
                    shown: vec![RankedChange {
                        event: ChangeEvent {
                            id: "0f3c-sample".to_string(),
                            at: t0() - Duration::minutes(16),
                            name: "UpdateService".to_string(),
                            source: "ecs.amazonaws.com".to_string(),
                            who: "arn:aws:sts::123456789012:assumed-role/Deployer/<b>ci</b>"
                                .to_string(),
                            targets: vec!["checkout-api | <script>x</script>".to_string()],
                            region: "us-east-1".to_string(),
                            error_code: None,
                        },
                        relevance: Relevance::OwnResource {
                            dimension: "ServiceName".to_string(),
                            value: "checkout-api".to_string(),
                        },
                    }],
                    more: 0,
                    left_out: 3,
                    truncated: false,
                }),
            },
            RegionChanges {
                region: "eu-west-1".to_string(),
                changes: Finding::Failed(
                    "warroom may not call cloudtrail:LookupEvents".to_string(),
                ),
            },
        ],
        history: None,
        neighbours: None,
        maybe_incomplete: false,
    };
    serde_json::to_value(report).map_err(|e| e.to_string())
}

/// Nothing but the declaration, still open.
pub fn empty() -> Result<PostmortemData, String> {
    let mut e = Entries {
        list: Vec::new(),
        details: HashMap::new(),
    };
    e.push(
        0,
        EntryKind::Declared,
        Some("U0ALICE"),
        "declared SEV1 x",
        None,
    );
    let mut record = record(Status::Investigating, None)?;
    record.incident.lead = None;
    let source = PostmortemSource {
        record,
        entries: e.list,
        details: e.details,
        actions: Vec::new(),
        names: Default::default(),
        roles: Vec::new(),
        checklist: Vec::new(),
        evidence: Evidence::default(),
    };
    Ok(build(&source, &options(), t0() + Duration::minutes(5)))
}
