//! Drafts built from synthetic timelines and rendered with the real templates (no IO but
//! the template directories of the override tests).

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::templates::SHIPPED;
use super::*;
use crate::domain::alarm::AlarmState;
use crate::domain::{ActionItem, IncidentRecord, TimelineEntry};
use crate::domain::{EntryKind, Incident, IncidentId, Severity, Status, UserId};
use crate::store::{Evidence, PostmortemSource};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 13, 0, 0).unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn options() -> Options {
    Options {
        gap: Duration::minutes(30),
        appendix_max_bytes: 256 * 1024,
        escalation_target: Duration::minutes(30),
    }
}

/// A timeline under construction, for an incident opened at `t0` by U0ALICE.
struct Source {
    title: String,
    severity: Severity,
    status: Status,
    resolved_at: Option<DateTime<Utc>>,
    entries: Vec<TimelineEntry>,
    details: HashMap<i64, serde_json::Value>,
    actions: Vec<ActionItem>,
}

impl Source {
    fn new(title: &str) -> Source {
        let mut s = Source {
            title: title.to_string(),
            severity: Severity::Sev3,
            status: Status::Investigating,
            resolved_at: None,
            entries: Vec::new(),
            details: HashMap::new(),
            actions: Vec::new(),
        };
        s.entry(
            0,
            EntryKind::Declared,
            "U0ALICE",
            &format!("declared SEV3 {title}"),
        );
        s
    }

    fn entry(
        &mut self,
        minutes: i64,
        kind: EntryKind,
        actor: &str,
        text: &str,
    ) -> &mut TimelineEntry {
        let id = self.entries.len() as i64 + 1;
        self.entries.push(TimelineEntry {
            id,
            incident_id: IncidentId(1),
            kind,
            occurred_at: at(minutes),
            recorded_at: at(minutes),
            actor: Some(actor.to_string()),
            text: text.to_string(),
            slack_ts: None,
            thread_ts: None,
            key_event: kind.is_key_by_default(),
            edited_at: None,
            deleted_at: None,
            revisions: Vec::new(),
        });
        self.entries.last_mut().unwrap()
    }

    fn message(&mut self, minutes: i64, actor: &str, text: &str) -> &mut TimelineEntry {
        self.entry(minutes, EntryKind::Message, actor, text)
    }

    fn change(&mut self, minutes: i64, kind: EntryKind, text: &str, data: serde_json::Value) {
        let id = self.entry(minutes, kind, "U0BOB", text).id;
        self.details.insert(id, data);
    }

    fn severity(&mut self, minutes: i64, from: &str, to: &str) {
        self.change(
            minutes,
            EntryKind::SeverityChanged,
            &format!("severity {from} → {to}"),
            json!({"change": "severity", "from": from, "to": to}),
        );
    }

    fn status(&mut self, minutes: i64, from: &str, to: &str, note: Option<&str>) {
        let kind = if to == "Resolved" {
            EntryKind::Resolved
        } else {
            EntryKind::StatusChanged
        };
        self.change(
            minutes,
            kind,
            &format!("status {from} → {to}"),
            json!({"change": "status", "from": from, "to": to, "note": note}),
        );
        if to == "Resolved" {
            self.status = Status::Resolved;
            self.resolved_at = Some(at(minutes));
        }
    }

    fn build(mut self) -> PostmortemSource {
        self.entries.sort_by_key(|e| (e.occurred_at, e.id));
        PostmortemSource {
            record: IncidentRecord {
                private: false,
                incident: Incident {
                    id: IncidentId(1),
                    title: self.title,
                    severity: self.severity,
                    status: self.status,
                    lead: Some(user("U0BOB")),
                    declared_by: user("U0ALICE"),
                    opened_at: t0(),
                    resolved_at: self.resolved_at,
                },
                channel_name: "inc-20261121-db".to_string(),
                channel_id: Some(crate::domain::ChannelId::new("C1")),
                header_ts: None,
                header_pinned: true,
                members_invited: true,
                incident_type: None,
            },
            entries: self.entries,
            details: self.details,
            actions: self.actions,
            names: Default::default(),
            roles: Vec::new(),
            checklist: Vec::new(),
            evidence: Evidence::default(),
        }
    }
}

/// The draft's section starting at heading `title`, up to the next `## ` heading.
fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let start = doc
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title} in:\n{doc}"));
    let body = &doc[start + 1..];
    let end = body[3..].find("\n## ").map_or(body.len(), |e| e + 4);
    &body[..end]
}

/// `|` that are cell separators (not escaped with a backslash).
fn separators(line: &str) -> usize {
    let bytes = line.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
        .count()
}

/// Every table row has as many cells as its header, and no line starts a heading or a
/// code fence that the template did not write.
fn assert_markdown_structure(doc: &str) {
    let mut header_cells: Option<usize> = None;
    for (n, line) in doc.lines().enumerate() {
        if line.starts_with('|') {
            let cells = separators(line);
            match header_cells {
                None => header_cells = Some(cells),
                Some(h) => assert_eq!(cells, h, "line {}: {line}", n + 1),
            }
            assert!(line.ends_with('|'), "line {}: {line}", n + 1);
        } else {
            header_cells = None;
        }
        if line.starts_with('#') {
            assert!(
                line.starts_with("# Postmortem: ")
                    || line.starts_with("# DRILL — Postmortem: ")
                    || line.starts_with("## ")
                    || line.starts_with("### "),
                "line {}: {line}",
                n + 1
            );
        }
        assert!(!line.starts_with("```"), "line {}: {line}", n + 1);
    }
}

#[test]
fn every_shipped_template_renders_the_full_and_the_empty_sample() {
    let templates = Templates::load(None).unwrap();
    assert!(templates.overridden().is_empty());
    assert_eq!(SHIPPED.len(), 3);
    for data in [sample::full().unwrap(), sample::empty().unwrap()] {
        for format in [Format::Markdown, Format::Html] {
            let out = templates.render(format, &data).unwrap();
            for heading in [
                "Summary",
                "Impact",
                "Key times and durations",
                "Timeline",
                "Alarms",
                "AWS Support cases",
                "AWS Health events",
                "Changes before the incident",
                "Retrospective",
                "Contributing factors",
                "What went well",
                "What went badly",
                "Where we got lucky",
                "Action items",
                "Appendix: message log",
            ] {
                assert!(out.contains(heading), "{format:?} lacks {heading}");
            }
            for q in &data.retrospective {
                assert!(out.contains(&q.question), "{format:?} lacks {}", q.question);
            }
        }
        let md = templates.render(Format::Markdown, &data).unwrap();
        assert_markdown_structure(&md);
        assert!(md.starts_with("# Postmortem: Checkout \\| errors \\`5xx\\` \\# spike\n"));
        let html = templates.render(Format::Html, &data).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(
            html.contains("<style>") && !html.contains("<script"),
            "self-contained"
        );
        assert!(html.contains("Checkout | errors `5xx` # spike"));
    }
}

#[test]
fn sections_with_no_aws_data_say_none_recorded_and_filled_ones_show_it() {
    let templates = Templates::load(None).unwrap();
    let empty = templates
        .render(Format::Markdown, &sample::empty().unwrap())
        .unwrap();
    assert!(section(&empty, "Alarms").contains("None recorded"));
    assert!(section(&empty, "AWS Support cases").contains("None recorded"));
    assert!(section(&empty, "AWS Health events").contains("None recorded"));
    assert!(section(&empty, "Changes before the incident")
        .contains("None recorded: warroom did not look (run /incident changes in the channel)"));
    assert!(section(&empty, "Action items").contains("None yet"));
    assert!(section(&empty, "Key times and durations").contains("no alarm recorded"));

    let full = templates
        .render(Format::Markdown, &sample::full().unwrap())
        .unwrap();
    let alarms = section(&full, "Alarms");
    assert!(
        alarms.contains("checkout-5xx") && alarms.contains("\\<!channel\\> 5xx"),
        "{alarms}"
    );
    assert!(
        alarms.contains("- checkout-5xx around the breach, posted 12:55: [the file in Slack](https://example.slack.com/files/U0WARBOT/F0SAMPLE/checkout-5xx.png)"),
        "{alarms}"
    );
    assert!(
        alarms.contains("- checkout-latency around the breach, posted 12:55 _(no graph: AccessDenied: not allowed)_"),
        "{alarms}"
    );
    let cases = section(&full, "AWS Support cases");
    assert!(
        cases.contains("### Case case-123456: RDS connections exhausted"),
        "{cases}"
    );
    assert!(cases.contains("| 2026-11-21 13:55 | AWS | We see elevated \\| connections |"));
    assert!(
        cases.contains("| 2026-11-21 13:40 | warroom _(the opening description, as sent)_ | Incident: Checkout errors<br>Severity: SEV1 |"),
        "{cases}"
    );
    assert!(
        cases.contains(
            "| 2026-11-21 13:56 | @U0BOB _(sent through warroom)_ | Thanks, failing over |"
        ),
        "{cases}"
    );
    assert!(section(&full, "AWS Health events").contains("AWS\\_RDS\\_OPERATIONAL\\_ISSUE"));
    let changes = section(&full, "Changes before the incident");
    assert!(
        changes.contains("| 12:44 | 10m before the alarm | [UpdateService](https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1\\#/events/0f3c-sample) |"),
        "{changes}"
    );
    assert!(
        changes.contains("the alarm's ServiceName checkout-api"),
        "{changes}"
    );
    assert!(
        changes.contains("checkout-api \\| \\<script\\>x\\</script\\>"),
        "hostile text is escaped: {changes}"
    );
    assert!(
        changes.contains(
            "eu-west-1: could not be checked: warroom may not call cloudtrail:LookupEvents"
        ),
        "{changes}"
    );
    let html = templates
        .render(Format::Html, &sample::full().unwrap())
        .unwrap();
    assert!(html.contains("<h2 id=\"changes\">Changes before the incident</h2>"));
    assert!(
        html.contains("checkout-api | &lt;script&gt;x&lt;&#x2F;script&gt;")
            || html.contains("checkout-api | &lt;script&gt;x&lt;/script&gt;"),
        "escaped in the page"
    );
    let retro = section(&full, "Retrospective");
    assert!(
        retro.contains(
            "1 AWS change(s) were made shortly before (see \"Changes before the incident\")"
        ),
        "{retro}"
    );
    let times = section(&full, "Key times and durations");
    assert!(
        times.contains("| Incident opened | 13:00 | time to detect | 6m | from the alarm |"),
        "{times}"
    );
    assert!(
        times.contains("| AWS Support case opened | 13:40 | time to escalate | 46m |"),
        "{times}"
    );
}

#[test]
fn markdown_breaking_characters_keep_tables_and_headings_intact() {
    let nasty =
        "a | b `code` # not a heading\n## nor this\n```\nfence\n``` *x* _y_ [l](http://e) <b>&amp;";
    // Slack sends what people typed with `&`, `<`, `>` as entities.
    let as_slack_sends_it = nasty
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut s = Source::new(nasty);
    s.message(1, "U0BOB", &as_slack_sends_it).key_event = true;
    s.message(2, "U0CAROL", "| --- | --- |\n| injected | row |");
    s.entry(3, EntryKind::Note, "U0BOB", nasty);
    s.actions.push(ActionItem {
        incident_id: IncidentId(1),
        number: 1,
        text: nasty.to_string(),
        owner: None,
        created_by: "U0BOB".to_string(),
        created_at: at(4),
        done_at: None,
        done_by: None,
    });
    s.status(5, "Investigating", "Resolved", Some(nasty));
    let data = build(&s.build(), &options(), at(10));
    let md = Templates::load(None)
        .unwrap()
        .render(Format::Markdown, &data)
        .unwrap();
    assert_markdown_structure(&md);
    let escaped = "a \\| b \\`code\\` \\# not a heading<br>\\#\\# nor this<br>\\`\\`\\`<br>fence<br>\\`\\`\\` \\*x\\* \\_y\\_ \\[l\\](http://e) \\<b\\>\\&amp;";
    assert!(
        md.starts_with(&format!("# Postmortem: {escaped}\n")),
        "{md}"
    );
    // The declaration, the pinned message and the note stay in their cells.
    let timeline = section(&md, "Timeline");
    assert_eq!(timeline.matches(escaped).count(), 3, "{timeline}");
    assert!(section(&md, "Summary").contains(&format!("- 13:05 — resolved: {escaped}")));
    assert!(section(&md, "Action items").contains(&format!("| 1 | {escaped} |")));
    assert!(section(&md, "Appendix: message log")
        .contains("\\| --- \\| --- \\|<br>\\| injected \\| row \\|"));
}

#[test]
fn durations_and_retrospective_answers_come_from_the_data() {
    let mut s = Source::new("DB connections exhausted");
    let backdated = s.entry(-15, EntryKind::Note, "U0BOB", "p99 latency doubled");
    backdated.recorded_at = at(10);
    s.message(3, "U0BOB", "looking");
    s.message(4, "U0CAROL", "pool at 100%");
    s.message(5, "U0BOB", "raising sev");
    s.severity(20, "Sev3", "Sev1");
    s.status(
        25,
        "Investigating",
        "Identified",
        Some("pool exhausted by a runaway job"),
    );
    s.status(40, "Identified", "Monitoring", None);
    // Nothing from 13:40 to 14:45: a 1h 5m quiet spell.
    s.message(105, "U0CAROL", "still fine");
    s.status(110, "Monitoring", "Resolved", Some("job fixed"));
    let source = s.build();
    let data = build(&source, &options(), at(120));

    let times: Vec<(&str, Option<&str>)> = data
        .key_times
        .iter()
        .map(|k| (k.measure.as_str(), k.duration.as_deref()))
        .collect();
    assert_eq!(
        times,
        [
            ("", None),
            ("time to detect", None),
            ("time to engage", Some("3m")),
            ("time to escalate", None),
            ("time to mitigate", Some("40m")),
            ("time to resolve", Some("1h 50m")),
        ]
    );
    assert_eq!(data.incident.duration, "1h 50m");
    assert_eq!(data.incident.severity, "SEV3");
    assert_eq!(data.incident.peak_severity, "SEV1");
    let history: Vec<(&str, &str, &str)> = data
        .severity_history
        .iter()
        .map(|s| (s.at.as_str(), s.severity.as_str(), s.change.as_str()))
        .collect();
    assert_eq!(
        history,
        [("13:00", "SEV3", "declared"), ("13:20", "SEV1", "raised")]
    );

    assert_eq!(data.gaps.len(), 1);
    assert_eq!(
        (
            data.gaps[0].from.as_str(),
            data.gaps[0].until.as_str(),
            data.gaps[0].duration.as_str()
        ),
        ("13:40", "14:45", "1h 5m")
    );
    // The quiet spell sits between the monitoring change and the next key event.
    let order: Vec<&str> = data
        .timeline
        .iter()
        .map(|t| {
            if t.kind == "gap" {
                "gap"
            } else {
                t.what.as_str()
            }
        })
        .collect();
    assert_eq!(
        order,
        ["note", "declared", "severity", "status", "status", "gap", "resolved"]
    );
    assert_eq!(data.timeline[0].flags, ["backdated"]);

    let answers = |i: usize| data.retrospective[i].answers.join("\n");
    let detect = answers(0);
    assert!(
        detect.contains("No alarm is recorded: @U0ALICE declared the incident by hand at 13:00"),
        "{detect}"
    );
    assert!(
        detect.contains("backdated to 12:45 puts the first sign 15m before"),
        "{detect}"
    );
    assert!(detect.contains("“p99 latency doubled”"), "{detect}");
    assert!(
        detect.contains("first message in the channel came 3m after"),
        "{detect}"
    );
    let resolve = answers(1);
    assert!(
        resolve.contains("Mitigated (status monitoring) after 40m."),
        "{resolve}"
    );
    assert!(resolve.contains("Resolved after 1h 50m."), "{resolve}");
    assert!(resolve.contains("No AWS Support case was opened, and the incident ran 1h 50m, past the 30m escalation target"), "{resolve}");
    assert!(
        resolve.contains("longest quiet spell lasted 1h 5m (13:40 to 14:45)"),
        "{resolve}"
    );
    assert!(
        resolve.contains("raised from SEV3 to SEV1 20m after the start"),
        "{resolve}"
    );
    assert!(answers(2).contains("No action items are recorded yet"));

    let summary: Vec<&str> = data.summary.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        summary,
        [
            "identified: pool exhausted by a runaway job",
            "resolved: job fixed"
        ]
    );
    let people: Vec<(&str, usize, usize, &str)> = data
        .participants
        .iter()
        .map(|p| (p.user.as_str(), p.messages, p.actions, p.role.as_str()))
        .collect();
    assert_eq!(
        people,
        [
            ("@U0BOB", 2, 5, "lead"),
            ("@U0CAROL", 2, 0, ""),
            ("@U0ALICE", 0, 1, "declared"),
        ]
    );

    // A longer threshold: no quiet spell, and the retrospective does not mention one.
    let relaxed = Options {
        gap: Duration::minutes(90),
        ..options()
    };
    let data = build(&source, &relaxed, at(120));
    assert!(data.gaps.is_empty());
    assert!(!data.retrospective[1]
        .answers
        .join(" ")
        .contains("quiet spell"));
    // An escalation target longer than the incident: within target.
    let patient = Options {
        escalation_target: Duration::hours(3),
        ..options()
    };
    let data = build(&source, &patient, at(120));
    assert!(data.retrospective[1]
        .answers
        .join(" ")
        .contains("within the 3h 0m escalation target"));
}

#[test]
fn ten_thousand_entries_render_complete_with_the_appendix_cut() {
    let mut s = Source::new("Storm");
    let mut key = 1; // the declaration
    for i in 0..10_000i64 {
        let minute = i / 20; // 20 entries a minute: no quiet spell
        if i % 500 == 250 {
            s.entry(minute, EntryKind::Note, "U0BOB", &format!("note {i}"));
            key += 1;
        } else {
            let e = s.message(
                minute,
                if i % 2 == 0 { "U0BOB" } else { "U0CAROL" },
                &format!("message {i} | with some text to fill the log"),
            );
            if i % 100 == 0 {
                e.key_event = true;
                key += 1;
            }
        }
    }
    s.status(500, "Investigating", "Resolved", None);
    key += 1;
    let max = 64 * 1024;
    let opts = Options {
        appendix_max_bytes: max,
        ..options()
    };
    let data = build(&s.build(), &opts, at(501));
    assert_eq!(data.timeline.len(), key, "every key event, no gaps");
    assert_eq!(data.appendix.total, 10_000 - 20);
    assert!(data.appendix.truncated);
    assert_eq!(
        data.appendix.shown + data.appendix.omitted,
        data.appendix.total
    );
    assert!(data.appendix.shown > 100, "{}", data.appendix.shown);

    let templates = Templates::load(None).unwrap();
    let md = templates.render(Format::Markdown, &data).unwrap();
    assert_markdown_structure(&md);
    // Complete: every key event is in the timeline, the last included.
    let timeline = section(&md, "Timeline");
    assert_eq!(
        timeline
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| Time"))
            .count(),
        key
    );
    assert!(
        timeline.contains("message 9900 \\| with some text"),
        "the last pinned message"
    );
    assert!(timeline.contains("| resolved |"));
    // Truncated where promised, with the note, within the budget.
    let appendix = section(&md, "Appendix: message log");
    assert!(appendix.len() <= max, "{} bytes", appendix.len());
    assert!(appendix.contains(&format!(
        "{} of {} messages are left out",
        data.appendix.omitted, data.appendix.total
    )));
    assert!(appendix.contains("`warroom timeline 1` prints them all"));
    let log_rows = appendix
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Time"))
        .count();
    assert_eq!(log_rows, data.appendix.shown);
    // The HTML page is complete too.
    let html = templates.render(Format::Html, &data).unwrap();
    assert!(html.contains("message 9900 | with some text"));
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn a_custom_template_dir_overrides_one_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("postmortem.md.tera"),
        "Custom draft for #{{ incident.id }}: {{ incident.title }}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("README.txt"), "not a template {{").unwrap();
    let templates = Templates::load(Some(dir.path())).unwrap();
    assert_eq!(templates.overridden(), ["postmortem.md.tera"]);
    let data = sample::full().unwrap();
    assert_eq!(
        templates.render(Format::Markdown, &data).unwrap(),
        "Custom draft for #7: Checkout \\| errors \\`5xx\\` \\# spike\n",
        "custom templates are escaped for Markdown too"
    );
    let html = templates.render(Format::Html, &data).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>"),
        "the HTML template is still the shipped one"
    );
}

#[test]
fn a_custom_template_can_extend_a_partial_from_the_same_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.tera"),
        "BASE {% block body %}{% endblock %}",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("postmortem.md.tera"),
        "{% extends \"base.tera\" %}{% block body %}{{ incident.status }}{% endblock %}",
    )
    .unwrap();
    let templates = Templates::load(Some(dir.path())).unwrap();
    let out = templates
        .render(Format::Markdown, &sample::full().unwrap())
        .unwrap();
    assert_eq!(out, "BASE resolved");
}

#[test]
fn a_broken_template_is_reported_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postmortem.html.tera");
    std::fs::write(
        &path,
        "<h1>{{ incident.title }}</h1>\n<p>ok</p>\n<p>{{ incident.title </p>\n",
    )
    .unwrap();
    let err = Templates::load(Some(dir.path())).unwrap_err().to_string();
    assert!(
        err.contains("postmortem template postmortem.html.tera"),
        "{err}"
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("is broken at line 3, column"), "{err}");

    std::fs::write(&path, "{% for x in incident.nothing %}{{ x }}{% endfor %}").unwrap();
    let err = Templates::load(Some(dir.path())).unwrap_err().to_string();
    assert!(err.contains("does not render"), "{err}");
    assert!(err.contains("nothing"), "{err}");

    std::fs::write(&path, "{{ incident.title | no_such_filter }}").unwrap();
    let err = Templates::load(Some(dir.path())).unwrap_err().to_string();
    assert!(err.contains("no_such_filter"), "{err}");

    let missing = dir.path().join("nope");
    let err = Templates::load(Some(&missing)).unwrap_err().to_string();
    assert!(
        err.starts_with("config key [postmortem] template_dir: cannot read"),
        "{err}"
    );
}

#[test]
fn formats_parse_from_the_command_line_words() {
    assert_eq!("md".parse::<Format>(), Ok(Format::Markdown));
    assert_eq!("Markdown".parse::<Format>(), Ok(Format::Markdown));
    assert_eq!("HTML".parse::<Format>(), Ok(Format::Html));
    let err = "pdf".parse::<Format>().unwrap_err();
    assert!(err.contains("use md or html"), "{err}");
}

/// Text that would break out of an element, an attribute or an SVG label if it were not
/// escaped.
const HOSTILE: &str = "a\"><img src=x onerror=alert(1)></text><script>alert('x')</script> & ✓";

/// An alarm-opened incident with hostile text wherever AWS or people write: the alarm, a
/// stakeholder update, the AWS case's messages, the graphs' titles and Slack's answers.
fn hostile_source() -> PostmortemSource {
    use crate::store::{AlarmEvent, AwsCase, CaseMessage, CaseMessageKind, Graph};
    let mut s = Source::new(HOSTILE);
    s.message(2, "U0BOB", "looking");
    s.entry(5, EntryKind::Update, "U0CAROL", HOSTILE);
    s.status(20, "Investigating", "Monitoring", None);
    let mut source = s.build();
    source.evidence = Evidence {
        opened_by_alarm: Some(HOSTILE.to_string()),
        alarms: vec![AlarmEvent {
            name: HOSTILE.to_string(),
            state: AlarmState::Alarm,
            at: at(-3),
            region: "us-east-1".to_string(),
            metric: Some(HOSTILE.to_string()),
            description: Some(HOSTILE.to_string()),
            console_url: "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/a%22%3E".to_string(),
        }],
        aws_cases: vec![AwsCase {
            id: "1234567890".to_string(),
            severity: "high".to_string(),
            subject: HOSTILE.to_string(),
            status: "opened".to_string(),
            opened_at: at(10),
            console_url: crate::domain::support::console_url("case-1", Some("1234567890")),
            communications: vec![
                CaseMessage {
                    at: at(10),
                    from: "warroom".to_string(),
                    text: HOSTILE.to_string(),
                    kind: CaseMessageKind::Opening,
                },
                CaseMessage {
                    at: at(12),
                    from: "AWS".to_string(),
                    text: HOSTILE.to_string(),
                    kind: CaseMessageKind::Aws,
                },
            ],
        }],
        health_events: Vec::new(),
        graphs: vec![
            // A real PNG, but Slack's permalink is a script.
            Graph {
                alarm_name: HOSTILE.to_string(),
                title: HOSTILE.to_string(),
                png: Some(sample::SAMPLE_PNG.to_vec()),
                slack_file_id: Some("F1".to_string()),
                permalink: Some("javascript:alert(1)".to_string()),
                unavailable: None,
                posted_at: at(1),
            },
            // Not a PNG, and a permalink that tries to leave its attribute.
            Graph {
                alarm_name: "second".to_string(),
                title: "second graph".to_string(),
                png: Some(b"<svg onload=alert(1)>".to_vec()),
                slack_file_id: Some("F2".to_string()),
                permalink: Some("https://x.slack.com/files/a\" onmouseover=\"alert(1)".to_string()),
                unavailable: None,
                posted_at: at(1),
            },
        ],
    };
    source
}

#[test]
fn the_page_escapes_svg_labels_alt_texts_and_links_and_embeds_only_pngs() {
    let data = build(&hostile_source(), &options(), at(30));
    let html = Templates::load(None)
        .unwrap()
        .render(Format::Html, &data)
        .unwrap();
    let escaped = "a&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;&#x2F;text&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt; &amp; ✓";
    assert!(!html.contains("<script"), "no script from the data");
    assert!(!html.contains("<img src=x"), "no element from the data");
    assert!(
        !html.contains("<svg onload"),
        "no markup from a graph's bytes"
    );
    // The SVG's description and the update's tooltip.
    assert!(
        html.contains(&format!("<title>update 13:05: “{escaped}”</title>")),
        "the update's mark in the picture"
    );
    assert!(html.contains("<desc id=\"shape-desc\">From 12:57 to 13:30;"));
    // The graph: its alt text escaped, its bytes as a data URI, the script link dropped.
    assert!(
        html.contains("<img class=\"graph\" src=\"data:image&#x2F;png;base64,iVBORw0KGgo"),
        "the PNG embedded"
    );
    assert!(html.contains(&format!(
        "alt=\"CloudWatch graph of alarm {escaped} around the breach, threshold drawn: {escaped}\""
    )));
    assert_eq!(html.matches("<img ").count(), 1, "only PNG bytes are shown");
    assert!(html.contains("No graph: the image AWS returned is not a PNG."));
    assert!(!html.contains("href=\"javascript"), "no script link");
    assert!(!html.contains("onmouseover=\""), "no attribute from a link");
    for href in html.split("href=\"").skip(1) {
        assert!(
            href.starts_with("https:&#x2F;&#x2F;"),
            "{}",
            &href[..40.min(href.len())]
        );
    }
    // Everything else people and AWS wrote: escaped, wherever it lands.
    assert!(html.contains(&format!("<td>warroom, from alarm {escaped}</td>")));
    assert!(html.contains(&format!("<h3>Case 1234567890: {escaped}</h3>")));
    assert_eq!(
        html.matches(&format!("<td class=\"text\">{escaped}</td>"))
            .count(),
        4
    );

    let md = Templates::load(None)
        .unwrap()
        .render(Format::Markdown, &data)
        .unwrap();
    assert_markdown_structure(&md);
    let graphs = section(&md, "Alarms");
    assert!(!graphs.contains("javascript"), "{graphs}");
    assert!(!graphs.contains("onmouseover"), "{graphs}");
    assert!(
        graphs.contains("- second graph, posted 13:01: shared in the channel _(no graph: the image AWS returned is not a PNG)_"),
        "{graphs}"
    );
    assert!(
        md.contains("**At a glance:** alarm 12:57 → detected 13:00 → engaged 13:02 → escalated 13:10 → mitigated 13:20\n"),
        "{md}"
    );
}

#[test]
fn the_page_uses_no_character_that_needs_an_emoji_font() {
    let emoji = |c: char| matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x23E9..=0x23FA | 0xFE0F);
    let (_, template) = SHIPPED
        .iter()
        .find(|(name, _)| *name == templates::HTML)
        .unwrap();
    let found: Vec<char> = template.chars().filter(|c| emoji(*c)).collect();
    assert!(found.is_empty(), "{found:?}");
    // Nor does what warroom itself writes into it (names of phases, marks, flags).
    let html = Templates::load(None)
        .unwrap()
        .render(Format::Html, &sample::full().unwrap())
        .unwrap();
    let found: Vec<char> = html.chars().filter(|c| emoji(*c)).collect();
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_drill_s_draft_says_drill_plainly_and_a_real_one_does_not() {
    let templates = Templates::load(None).unwrap();
    let mut data = sample::full().unwrap();
    for format in [Format::Markdown, Format::Html] {
        let out = templates.render(format, &data).unwrap();
        assert!(!out.contains("DRILL"), "{format:?}");
        assert!(out.contains("from incident #"), "{format:?}");
    }
    data.incident.id = -3;
    data.incident.number = 3;
    data.incident.drill = true;
    let md = templates.render(Format::Markdown, &data).unwrap();
    assert!(md.starts_with("# DRILL — Postmortem: "), "{md}");
    assert!(
        md.contains("> **DRILL**: this was a rehearsal (drill #3)"),
        "{md}"
    );
    assert!(md.contains("written by warroom from drill #3 ("), "{md}");
    assert_markdown_structure(&md);
    let html = templates.render(Format::Html, &data).unwrap();
    assert!(html.contains("<h1>DRILL — Postmortem: "), "{html}");
    assert!(html.contains("<strong>DRILL</strong>: this was a rehearsal (drill #3)"));
}

#[test]
fn the_checklist_section_lists_steps_done_with_who_and_when_and_steps_not_done() {
    let templates = Templates::load(None).unwrap();
    let data = sample::full().unwrap();
    let md = templates.render(Format::Markdown, &data).unwrap();
    assert_markdown_structure(&md);
    let checklist = section(&md, "Checklist");
    assert!(checklist.contains("1 done, 1 not done"), "{checklist}");
    // Done: when and by whom; escaped for Markdown.
    assert!(
        checklist.contains("| 1 | Page the \\<database\\> \\| team"),
        "{checklist}"
    );
    assert!(checklist.contains("| 13:06 | @U0BOB |"), "{checklist}");
    assert!(
        checklist.contains("| 2 | Tell \\*customers\\* | **not done** |"),
        "{checklist}"
    );
    assert!(md.contains("| Type | database |"));
    let html = templates.render(Format::Html, &data).unwrap();
    assert!(html.contains("<h2>Checklist</h2>"));
    assert!(html.contains("Page the &lt;database&gt; | team"));
    assert!(html.contains("<strong>not done</strong>"));
    // Without a checklist, no section.
    let empty = templates
        .render(Format::Markdown, &sample::empty().unwrap())
        .unwrap();
    assert!(!empty.contains("## Checklist"));
}

#[test]
fn a_type_template_replaces_the_markdown_draft_only() {
    let templates = Templates::load(None).unwrap();
    let data = sample::full().unwrap();
    let md = templates
        .render_with(Format::Markdown, &data, Some(super::templates::SECURITY))
        .unwrap();
    assert!(
        md.starts_with("# Security incident review: Checkout"),
        "{md}"
    );
    assert!(md.contains("## Response checklist"));
    assert!(md.contains("1 of 2 steps done"), "{md}");
    let html = templates
        .render_with(Format::Html, &data, Some(super::templates::SECURITY))
        .unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(matches!(
        templates.check_markdown("missing.md.tera"),
        Err(TemplateError::Broken { .. })
    ));
}
