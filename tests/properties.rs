//! Property tests of the escaping invariant: no text a person typed (titles, notes, status
//! notes, updates, action items, timeline entries, command text echoed in usage errors) or
//! AWS wrote (Support case replies, authors, attachment names, statuses, display ids) ever
//! reaches an outbound message as a live `<!…>`, `<@…>`, `<#…>` or `<http…|…>`. The only
//! `<…>` sequences allowed in the output are the mentions, channel links and dates warroom
//! builds itself from validated ids, which the test knows.
//!
//! The postmortem page gets the same treatment for HTML: whatever people and AWS wrote,
//! the page has only the template's elements and attributes, links only to web addresses,
//! and images only from PNG bytes.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::Value;
use warroom::domain::incident::Change;
use warroom::domain::roles::Roles;
use warroom::domain::support::CaseGlance;
use warroom::domain::support::SupportSeverity;
use warroom::domain::{ActionItem, IncidentRecord, TimelineEntry};
use warroom::domain::{EntryKind, Incident, IncidentId, Severity, Status, UserId};
use warroom::slack::render::{self, Overview};
use warroom::slack::web::Outgoing;

const CHANNEL: &str = "C0INCIDENT";

fn user(id: &str) -> UserId {
    UserId::parse(id).expect("a valid user id")
}

fn opened() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap()
}

/// Hostile text: Slack control sequences, entities, brackets and unicode, mixed with noise.
fn hostile() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("<!channel>".to_string()),
        Just("<!here>".to_string()),
        Just("<!everyone>".to_string()),
        Just("<!subteam^S0123|@oncall>".to_string()),
        Just("<!date^1700000000^{date}|x>".to_string()),
        Just("<@U0DAVE>".to_string()),
        Just("<@U0DAVE|dave>".to_string()),
        Just("<#C0OTHER>".to_string()),
        Just("<#C0OTHER|general>".to_string()),
        Just("<https://evil.example|click here>".to_string()),
        Just("<http://evil.example>".to_string()),
        Just("<mailto:a@b.c|mail>".to_string()),
        Just("&lt;!channel&gt;".to_string()),
        Just("&amp;".to_string()),
        Just("<".to_string()),
        Just(">".to_string()),
        Just("&".to_string()),
        Just("|".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("*bold* _it_ `code` ~s~".to_string()),
        Just("\u{202E}\u{200B}\u{200D}\u{FEFF}".to_string()),
        Just("👨\u{200D}👩\u{200D}👧".to_string()),
        "[a-z ]{0,12}",
        any::<String>(),
    ];
    prop::collection::vec(token, 0..12).prop_map(|v| v.concat())
}

fn incident(title: &str, status: Status, resolved: bool) -> IncidentRecord {
    IncidentRecord {
        private: false,
        incident: Incident {
            id: IncidentId(7),
            title: title.to_string(),
            severity: Severity::Sev2,
            status,
            lead: Some(user("U0ALICE")),
            declared_by: user("U0BOB"),
            opened_at: opened(),
            resolved_at: resolved.then(|| opened() + chrono::Duration::hours(2)),
        },
        channel_name: "inc-20261121-x".to_string(),
        channel_id: Some(warroom::domain::ChannelId::new(CHANNEL)),
        header_ts: Some(warroom::domain::Ts::new("1763717400.000100")),
        header_pinned: true,
        members_invited: true,
        incident_type: None,
    }
}

fn entry(kind: EntryKind, text: &str, actor: &str) -> TimelineEntry {
    TimelineEntry {
        id: 1,
        incident_id: IncidentId(7),
        kind,
        occurred_at: opened(),
        recorded_at: opened(),
        actor: Some(actor.to_string()),
        text: text.to_string(),
        slack_ts: Some("1763717401.000200".to_string()),
        thread_ts: None,
        key_event: false,
        edited_at: None,
        deleted_at: None,
        revisions: vec![text.to_string()],
    }
}

fn action(text: &str, created_by: &str) -> ActionItem {
    ActionItem {
        incident_id: IncidentId(7),
        number: 1,
        text: text.to_string(),
        owner: Some(user("U0CAROL")),
        created_by: created_by.to_string(),
        created_at: opened(),
        done_at: Some(opened()),
        done_by: Some(created_by.to_string()),
    }
}

/// Every string in a message: its fallback text and every string inside its blocks.
fn strings(out: &Outgoing) -> Vec<String> {
    let mut all = vec![out.text.clone()];
    if let Some(b) = &out.blocks {
        collect(b, &mut all);
    }
    all
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect(x, out)),
        _ => {}
    }
}

/// The `<…>` warroom may emit: mentions of the users in the fixtures, the incident's channel
/// link, and its own date tokens. Anything else starting with `<` came from user text.
fn assert_no_live_sequences(what: &str, texts: &[String]) -> Result<(), TestCaseError> {
    let allowed = ["<@U0ALICE>", "<@U0BOB>", "<@U0CAROL>", "<#C0INCIDENT>"];
    for text in texts {
        let mut rest = text.as_str();
        while let Some(i) = rest.find('<') {
            let tail = &rest[i..];
            if let Some(ok) = allowed.iter().find(|a| tail.starts_with(**a)) {
                rest = &tail[ok.len()..];
                continue;
            }
            // Links warroom builds: Support Center, the CloudWatch console, the fixture's
            // runbook. The URL must be one piece (nothing from the text broke out of it), and
            // the label, if any, plain escaped text.
            let own_link = [
                "<https://support.console.aws.amazon.com/",
                "<https://us-east-1.console.aws.amazon.com/",
                "<https://wiki.example.com/runbooks/",
            ]
            .iter()
            .find(|p| tail.starts_with(**p));
            if let Some(link) = own_link.map(|_| &tail[1..]) {
                let end = link.find('>').ok_or_else(|| {
                    TestCaseError::fail(format!("{what}: unterminated link in {text:?}"))
                })?;
                let body = &link[..end];
                let (url, label) = body.split_once('|').unwrap_or((body, ""));
                prop_assert!(
                    !url.contains(char::is_whitespace)
                        && !url.contains('<')
                        && !label.contains('|')
                        && !label.contains('<'),
                    "{what}: a link warroom did not build: {body:?} in {text:?}"
                );
                rest = &link[end + 1..];
                continue;
            }
            if let Some(date) = tail.strip_prefix("<!date^") {
                // warroom's date token: <!date^SECONDS^{date_short_pretty} {time}|YYYY-MM-DD HH:MM UTC>
                let end = date.find('>').ok_or_else(|| {
                    TestCaseError::fail(format!("{what}: unterminated date token in {text:?}"))
                })?;
                let body = &date[..end];
                let digits_then_format = body
                    .split_once("^{date_short_pretty} {time}|")
                    .is_some_and(|(secs, fallback)| {
                        secs.bytes().all(|b| b.is_ascii_digit())
                            && fallback.ends_with(" UTC")
                            && !fallback.contains('<')
                    });
                prop_assert!(
                    digits_then_format,
                    "{what}: a date token warroom did not build: {body:?} in {text:?}"
                );
                rest = &date[end + 1..];
                continue;
            }
            return Err(TestCaseError::fail(format!(
                "{what}: a live <…> sequence from user text: {:?} in {text:?}",
                tail.chars().take(40).collect::<String>()
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn incident_messages_never_carry_live_sequences_from_user_text(
        title in hostile(),
        note in hostile(),
        text in hostile(),
        actor_text in hostile(),
    ) {
        let alice = user("U0ALICE");
        let open = incident(&title, Status::Identified, false);
        let before = incident(&title, Status::Investigating, false);
        let resolved = incident(&title, Status::Resolved, true);
        let now = opened() + chrono::Duration::minutes(95);
        let roles = Roles::ordered(
            vec![("comms".to_string(), user("U0BOB")), ("aws-liaison".to_string(), alice.clone())],
            &["comms".to_string()],
        );
        let changes = [
            Change::Status { to: Status::Identified, note: Some(note.clone()) },
            Change::Status { to: Status::Investigating, note: Some(note.clone()) },
            Change::Resolve { note: Some(note.clone()) },
            Change::Severity(Severity::Sev1),
            Change::Lead(user("U0CAROL")),
        ];
        let mut outs: Vec<(&str, Outgoing)> = vec![
            ("header", render::header(&open, &roles, now)),
            ("header resolved", render::header(&resolved, &Roles::default(), now)),
            ("note", render::note_notice(&alice, &note, now, true)),
            ("declared", render::declared_reply(&open)),
            ("problem", render::problem(&text)),
            ("update", render::stakeholder_update(&open, &alice, &text, now)),
            ("status channel", render::status_channel_notice(&alice, &before.incident, &open)),
            ("action added", render::action_added(&alice, &action(&text, &actor_text))),
            ("action closed", render::action_closed(&alice, &action(&text, &actor_text))),
            ("action done", render::action_already_done(&action(&text, &actor_text))),
            ("actions", render::action_list(&open, &[action(&text, &actor_text), action(&note, "U0BOB")])),
        ];
        for change in &changes {
            outs.push(("change", render::change_notice(&alice, &before.incident, &open.incident, change)));
            outs.push(("change from resolved", render::change_notice(&alice, &resolved.incident, &open.incident, change)));
        }
        let entries: Vec<TimelineEntry> = [
            EntryKind::Declared, EntryKind::Message, EntryKind::StatusChanged,
            EntryKind::Note, EntryKind::Resolved,
        ]
        .into_iter()
        .map(|k| entry(k, &text, &actor_text))
        .chain([entry(EntryKind::Message, &note, "U0BOB")])
        .collect();
        outs.push(("timeline", render::timeline(&open, &entries)));
        let with_update: Vec<TimelineEntry> = entries
            .iter()
            .cloned()
            .chain([entry(EntryKind::Update, &text, &actor_text)])
            .collect();
        let actions = [action(&text, &actor_text), action(&note, "U0BOB")];
        let steps = [
            warroom::domain::incident_type::ChecklistItem {
                position: 1,
                text: text.clone(),
                runbook: None,
                done: None,
            },
            warroom::domain::incident_type::ChecklistItem {
                position: 2,
                text: note.clone(),
                runbook: None,
                done: Some((user("U0BOB"), now)),
            },
        ];
        outs.push((
            "catch-up",
            render::catchup(&render::Catchup {
                record: &open,
                roles: &roles,
                entries: &with_update,
                case: None,
                actions: &actions,
                checklist: &steps,
                now,
            }),
        ));
        for part in warroom::slack::render_checklist::checklist_messages(&open, &steps) {
            outs.push(("checklist", part));
        }
        outs.push(("role", render::role_notice(&alice, "comms", &user("U0BOB"), open.incident.id)));
        // Whatever the command text, a usage error echoes it escaped.
        if let Err(e) = warroom::domain::command::parse(&format!("{text} {note}")) {
            outs.push(("usage", render::usage_error(&e)));
        }
        if let Err(e) = warroom::domain::command::parse(&format!("sev {text}")) {
            outs.push(("usage sev", render::usage_error(&e)));
        }
        for (what, out) in &outs {
            assert_no_live_sequences(what, &strings(out))?;
        }
    }

    #[test]
    fn list_summary_and_home_never_carry_live_sequences_from_user_text(
        titles in prop::collection::vec(hostile(), 1..5),
    ) {
        let open: Vec<IncidentRecord> = titles
            .iter()
            .map(|t| incident(t, Status::Monitoring, false))
            .collect();
        let resolved: Vec<IncidentRecord> = titles
            .iter()
            .map(|t| incident(t, Status::Resolved, true))
            .collect();
        let updates: HashMap<IncidentId, DateTime<Utc>> =
            [(IncidentId(7), opened())].into_iter().collect();
        // A case id is AWS's text: it is echoed escaped like everything else.
        let aws_cases: HashMap<IncidentId, CaseGlance> = open
            .iter()
            .zip(&titles)
            .map(|(r, t)| {
                let glance = CaseGlance {
                    display_id: t.clone(),
                    severity: SupportSeverity::Urgent,
                    resolved: false,
                    awaiting_aws_since: Some(opened()),
                };
                (r.incident.id, glance)
            })
            .collect();
        let overview = Overview {
            open: &open,
            last_updates: &updates,
            aws_cases: &aws_cases,
            now: opened() + chrono::Duration::hours(3),
            viewer: &warroom::domain::privacy::Viewer::public(),
        };
        assert_no_live_sequences("list", &strings(&render::incident_list(&overview)))?;
        assert_no_live_sequences("summary", &strings(&render::summary(&overview, &resolved)))?;
        let mut home = Vec::new();
        collect(&render::home(&overview, &resolved), &mut home);
        assert_no_live_sequences("home", &home)?;
    }

    #[test]
    fn escalation_messages_never_carry_live_sequences_from_aws_or_user_text(
        title in hostile(),
        subject in hostile(),
        display in hostile(),
        body in hostile(),
        author in hostile(),
        attachment in hostile(),
        status in hostile(),
    ) {
        use warroom::domain::support::{Communication, SupportSeverity};
        use warroom::slack::render_support as ui;
        let open = incident(&title, Status::Identified, false);
        let now = opened() + chrono::Duration::minutes(95);
        let case = warroom::domain::support::SupportCase {
            row: 1,
            incident_id: IncidentId(7),
            source_key: "cmd:1".into(),
            case_id: Some(format!("case-{display}")),
            display_id: Some(display.clone()),
            subject: subject.clone(),
            severity: SupportSeverity::Urgent,
            body: body.clone(),
            service_code: None,
            category_code: None,
            attempts: 0,
            status: status.clone(),
            requested_by: "U0BOB".into(),
            requested_at: opened(),
            opened_at: Some(opened()),
            resolved_at: None,
            error: None,
        };
        let comm = Communication {
            case_id: "case-1".into(),
            body: body.clone(),
            submitted_by: author.clone(),
            time_created: now,
            attachments: vec![attachment.clone()],
        };
        let bob = user("U0BOB");
        let people = [user("U0ALICE"), user("U0CAROL")];
        let outs: Vec<(&str, Outgoing)> = vec![
            ("case nudge", ui::open_case_nudge(&open.incident, &people, chrono::Duration::minutes(30), true, now)),
            ("quiet nudge", ui::aws_quiet_nudge(&case, &people, opened(), chrono::Duration::hours(1), now)),
            ("update nudge", ui::stale_update_nudge(&people, opened(), true, now)),
            ("opened", ui::case_opened(&bob, &case)),
            ("failed", ui::case_failed(Some(&status), &body)),
            ("retrying", ui::case_retrying(&body)),
            ("aws reply", ui::aws_reply(&case, &comm)),
            ("outside", ui::outside_message(&case, &comm)),
            ("sent", ui::reply_sent(&bob, &case, &body)),
            ("status", ui::case_status(&case, Some(&status), Some(now), Some(opened()), now)),
            ("already open", ui::case_already_open(&case)),
            ("resolve prompt", ui::resolve_case_prompt(&case)),
            ("resolved", ui::case_resolved(Some(&bob), &case)),
            ("refused", ui::refusal(
                "open AWS Support cases",
                &[warroom::domain::authorization::Role::Lead, warroom::domain::authorization::Role::SupportEscalator],
                Some(&status),
                Some(&status),
            )),
        ];
        for (what, out) in &outs {
            assert_no_live_sequences(what, &strings(out))?;
        }
        // The form carries the drafted text as plain_text inputs: never interpreted, but it
        // must round-trip exactly what the incident says.
        let form = ui::CaseForm {
            subject: subject.clone(),
            severity: SupportSeverity::High,
            service_code: None,
            category_code: None,
            body: body.clone(),
        };
        let modal = ui::case_modal(&form, "{}");
        let blocks = modal["blocks"].as_array().cloned().unwrap_or_default();
        for block in blocks.iter().filter(|b| b["element"]["type"] == "plain_text_input") {
            let value = block["element"]["initial_value"].as_str().unwrap_or_default();
            prop_assert!(value.is_empty() || value == subject || value == body);
        }
    }

    #[test]
    fn alarm_and_health_posts_never_carry_live_sequences_from_aws_text(
        name in hostile(),
        description in hostile(),
        reason in hostile(),
        namespace in hostile(),
        metric in hostile(),
        dimension in hostile(),
        service in hostile(),
        event_type in hostile(),
    ) {
        use warroom::domain::alarm::{Alarm, AlarmKind, AlarmState, Dimension};
        let alarm = Alarm {
            arn: format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"),
            name: name.clone(),
            kind: AlarmKind::Metric,
            description: Some(description.clone()),
            region: "us-east-1".into(),
            namespace: Some(namespace.clone()),
            metric_name: Some(metric.clone()),
            dimensions: vec![Dimension { name: dimension.clone(), value: dimension.clone() }],
            statistic: Some(reason.clone()),
            period_secs: Some(60),
            threshold: Some(80.0),
            comparison: Some(reason.clone()),
            rule: Some(description.clone()),
            state: AlarmState::Alarm,
            state_reason: Some(reason.clone()),
            state_updated_at: opened(),
            tags: vec![(name.clone(), reason.clone())],
        };
        let mut route = warroom::domain::routing::Route::default_route();
        route.runbook = Some("https://wiki.example.com/runbooks/checkout".into());
        let event = warroom::domain::health_service::HealthEvent {
            arn: format!("arn:aws:health:us-east-1::event/{event_type}"),
            service: service.clone(),
            event_type: event_type.clone(),
            category: Some(description.clone()),
            region: Some(reason.clone()),
            status: reason.clone(),
            started_at: Some(opened()),
            last_updated_at: Some(opened()),
        };
        let outs: Vec<(&str, Outgoing)> = vec![
            ("first post", render::alarm_first_post(&alarm, &route)),
            ("joined", render::alarms_joined(&[&alarm, &alarm], 3)),
            ("recovered", render::alarm_recovered(&alarm)),
            ("graph unavailable", render::alarm_graph_unavailable(&alarm, &reason)),
            ("graph comment", Outgoing::text(render::alarm_graph_comment(&alarm))),
            ("health", render::health_report(&service, &reason, std::slice::from_ref(&event), false)),
            ("health recheck", render::health_report(&service, &reason, &[event.clone(), event.clone()], true)),
        ];
        for (what, out) in &outs {
            assert_no_live_sequences(what, &strings(out))?;
        }
    }

    #[test]
    fn changes_posts_never_carry_live_sequences_from_cloudtrail_text(
        name in hostile(),
        who in hostile(),
        target in hostile(),
        id in hostile(),
        source in hostile(),
        alarm in hostile(),
        why in hostile(),
    ) {
        use warroom::domain::alarm::Dimension;
        use warroom::domain::changes::{
            rank, ChangeEvent, ChangeReport, Finding, HistorySummary, RegionChanges,
        };
        let event = |id: String, name: String| ChangeEvent {
            id,
            at: opened() - chrono::Duration::minutes(5),
            name,
            source: source.clone(),
            who: format!("arn:aws:sts::123456789012:assumed-role/{who}"),
            targets: vec![target.clone()],
            region: "us-east-1".into(),
            error_code: None,
        };
        let events = [event(id.clone(), name.clone()), event(format!("{id}-2"), "UpdateService".into())];
        let dims = [Dimension { name: why.clone(), value: target.clone() }];
        let list = rank(&events, &dims, &[], opened() - chrono::Duration::hours(2), opened(), true);
        let report = ChangeReport {
            anchor: opened(),
            anchor_label: "the alarm".into(),
            lookback_minutes: 120,
            alarm_name: Some(alarm.clone()),
            regions: vec![
                RegionChanges { region: "us-east-1".into(), changes: Finding::Found(list) },
                RegionChanges { region: "us-east-1".into(), changes: Finding::Failed(why.clone()) },
            ],
            history: Some(Finding::Found(HistorySummary {
                alarms_before: 4,
                last_alarm: Some((opened() - chrono::Duration::hours(1), None)),
            })),
            neighbours: Some(Finding::Found(vec![alarm.clone(), who.clone()])),
            maybe_incomplete: true,
        };
        let failed = ChangeReport {
            alarm_name: None,
            history: Some(Finding::Failed(why.clone())),
            neighbours: Some(Finding::Failed(why.clone())),
            ..report.clone()
        };
        for (what, r) in [("changes", &report), ("changes failed", &failed)] {
            assert_no_live_sequences(what, &strings(&warroom::slack::render_changes::changes_report(r)))?;
        }
    }

    #[test]
    fn the_postmortem_page_has_only_its_own_markup_whatever_the_text(
        title in hostile(),
        message in hostile(),
        update in hostile(),
        alarm in hostile(),
        reply in hostile(),
        graph_title in hostile(),
        permalink in hostile(),
        png in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let html = postmortem_page(&title, &message, &update, &alarm, &reply, &graph_title, &permalink, png);
        assert_only_template_markup(&html)?;
    }

    #[test]
    fn escape_leaves_no_bracket_and_round_trips(text in hostile()) {
        let escaped = warroom::slack::mrkdwn::escape(&text);
        prop_assert!(!escaped.contains('<') && !escaped.contains('>'));
        let back = escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
        prop_assert_eq!(back, text);
    }
}

/// The postmortem page of an alarm-opened incident with these texts where people and AWS
/// write, and these bytes as its graph (a real PNG's header in front half the time).
#[allow(clippy::too_many_arguments)]
fn postmortem_page(
    title: &str,
    message: &str,
    update: &str,
    alarm: &str,
    reply: &str,
    graph_title: &str,
    permalink: &str,
    mut png: Vec<u8>,
) -> String {
    use warroom::postmortem::{self, Format, Templates};
    use warroom::store::{
        AlarmEvent, AwsCase, CaseMessage, CaseMessageKind, Evidence, Graph, PostmortemSource,
    };
    if png.first().is_some_and(|b| b % 2 == 0) {
        png.splice(0..0, *b"\x89PNG\r\n\x1a\n");
    }
    let mut pinned = entry(EntryKind::Message, message, "U0CAROL");
    pinned.key_event = true;
    let mut said = entry(EntryKind::Update, update, "U0CAROL");
    said.id = 2;
    said.key_event = true;
    let source = PostmortemSource {
        record: incident(title, Status::Resolved, true),
        entries: vec![pinned, said],
        details: HashMap::new(),
        actions: vec![action(message, "U0BOB")],
        names: Default::default(),
        roles: Vec::new(),
        checklist: Vec::new(),
        evidence: Evidence {
            opened_by_alarm: Some(alarm.to_string()),
            alarms: vec![AlarmEvent {
                name: alarm.to_string(),
                state: warroom::domain::alarm::AlarmState::Alarm,
                at: opened(),
                region: "us-east-1".to_string(),
                metric: Some(alarm.to_string()),
                description: Some(reply.to_string()),
                console_url: "https://us-east-1.console.aws.amazon.com/cloudwatch/home".to_string(),
            }],
            aws_cases: vec![AwsCase {
                id: reply.to_string(),
                severity: "high".to_string(),
                subject: title.to_string(),
                status: reply.to_string(),
                opened_at: opened(),
                console_url: warroom::domain::support::console_url(reply, Some(reply)),
                communications: vec![
                    CaseMessage {
                        at: opened(),
                        from: "warroom".to_string(),
                        text: message.to_string(),
                        kind: CaseMessageKind::Opening,
                    },
                    CaseMessage {
                        at: opened(),
                        from: reply.to_string(),
                        text: reply.to_string(),
                        kind: CaseMessageKind::Aws,
                    },
                ],
            }],
            health_events: Vec::new(),
            graphs: vec![Graph {
                alarm_name: alarm.to_string(),
                title: graph_title.to_string(),
                png: Some(png),
                slack_file_id: Some(graph_title.to_string()),
                permalink: Some(permalink.to_string()),
                unavailable: None,
                posted_at: opened(),
            }],
        },
    };
    let templates = Templates::load(None).expect("the shipped templates");
    postmortem::draft(
        &templates,
        &source,
        &postmortem::Options {
            gap: chrono::Duration::minutes(30),
            appendix_max_bytes: 1 << 20,
            escalation_target: chrono::Duration::minutes(30),
        },
        opened() + chrono::Duration::hours(3),
        Format::Html,
    )
    .expect("the page renders")
}

/// Every tag is one the template writes, with the template's attributes; links go to web
/// addresses and images come from PNG bytes. Text from the data can only be character data.
fn assert_only_template_markup(html: &str) -> Result<(), TestCaseError> {
    const TAGS: &[&str] = &[
        "!DOCTYPE",
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "h3",
        "p",
        "strong",
        "em",
        "code",
        "br",
        "span",
        "table",
        "thead",
        "tr",
        "th",
        "td",
        "ul",
        "li",
        "figure",
        "figcaption",
        "img",
        "a",
        "section",
        "footer",
        "svg",
        "desc",
        "g",
        "line",
        "text",
        "rect",
        "path",
        "circle",
    ];
    const ATTRIBUTES: &[&str] = &[
        "lang",
        "charset",
        "name",
        "content",
        "class",
        "id",
        "href",
        "src",
        "alt",
        "xmlns",
        "viewBox",
        "role",
        "aria-labelledby",
        "x",
        "y",
        "x1",
        "y1",
        "x2",
        "y2",
        "width",
        "height",
        "text-anchor",
        "dy",
        "d",
        "cx",
        "cy",
        "r",
        "fill",
        "stroke",
        "stroke-width",
        "data-phase",
        "data-event",
    ];
    // The style sheet is the template's own text: skip it.
    let (before, rest) = html.split_once("<style>").unwrap_or((html, ""));
    let after = rest.split_once("</style>").map_or("", |(_, a)| a);
    for part in [before, after] {
        for raw in part.split('<').skip(1) {
            let tag = raw.split('>').next().unwrap_or_default();
            let tag = tag.strip_suffix('/').unwrap_or(tag);
            let mut words = tag.trim_start_matches('/').splitn(2, ' ');
            let name = words.next().unwrap_or_default();
            prop_assert!(TAGS.contains(&name), "element <{}> in the page", name);
            let mut attrs = words.next().unwrap_or_default().trim();
            if name == "!DOCTYPE" {
                continue;
            }
            while !attrs.is_empty() {
                let (attr, value_and_rest) = attrs.split_once("=\"").unwrap_or((attrs, ""));
                prop_assert!(
                    ATTRIBUTES.contains(&attr),
                    "attribute {:?} on <{}>",
                    attr,
                    name
                );
                let (value, more) = value_and_rest
                    .split_once('"')
                    .unwrap_or((value_and_rest, ""));
                match attr {
                    "href" => {
                        prop_assert!(value.starts_with("https:&#x2F;&#x2F;"), "href={:?}", value)
                    }
                    "src" => prop_assert!(
                        value.starts_with("data:image&#x2F;png;base64,iVBORw0KGg")
                            && value["data:image&#x2F;png;base64,".len()..]
                                .replace("&#x2F;", "/")
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric()
                                    || b == b'+'
                                    || b == b'/'
                                    || b == b'='),
                        "src={:?}",
                        value
                    ),
                    _ => {}
                }
                attrs = more.trim_start();
            }
        }
    }
    Ok(())
}

/// The checker itself: a raw sequence is caught, warroom's own tokens are not.
#[test]
fn the_checker_tells_live_sequences_from_warroom_s_own() {
    for raw in [
        "hi <!channel>",
        "<@U0DAVE>",
        "<#C0OTHER|general>",
        "<https://evil.example|click>",
    ] {
        assert!(
            assert_no_live_sequences("raw", &[raw.to_string()]).is_err(),
            "{raw}"
        );
    }
    let own = "<@U0ALICE> in <#C0INCIDENT> at <!date^1763717400^{date_short_pretty} {time}|2026-11-21 09:30 UTC>";
    assert!(assert_no_live_sequences("own", &[own.to_string()]).is_ok());
    assert!(assert_no_live_sequences("escaped", &[render::problem("<!channel>").text]).is_ok());
}

/// The page checker itself: foreign elements, attributes, links and images are caught; the
/// shipped page with harmless text passes.
#[test]
fn the_page_checker_tells_foreign_markup_from_the_template_s() {
    for foreign in [
        "<p>x</p><script>alert(1)</script>",
        "<p onclick=\"alert(1)\">x</p>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<img class=\"graph\" src=\"https:&#x2F;&#x2F;evil.example&#x2F;x.png\">",
    ] {
        assert!(assert_only_template_markup(foreign).is_err(), "{foreign}");
    }
    let page = postmortem_page(
        "t",
        "m",
        "u",
        "a",
        "r",
        "g",
        "https://x.slack.com/f",
        vec![0],
    );
    assert!(page.contains("<img class=\"graph\""), "a PNG is shown");
    assert!(assert_only_template_markup(&page).is_ok());
}
