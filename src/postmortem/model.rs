//! The postmortem as data: what the templates see. Built from the recorded facts
//! ([`PostmortemSource`]: the timeline, action items, and the AWS [`Evidence`] — alarms,
//! Support cases, Health events, graphs), with every time already in UTC text and every
//! duration already formatted, so templates only lay things out.
//!
//! People are named in one place ([`People`]): by the name warroom learned from Slack
//! (`Bob Smith`), `@U0BOB` when it knows none, and warroom itself for the incidents it
//! declares for an alarm.
//!
//! Pure: no IO, `now` passed in.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::picture::{self, EventKind, Picture};
use super::text::{escape_markdown, slack_to_plain};
use crate::domain::alarm::AlarmState;
use crate::domain::incident::ChangeDetail;
use crate::domain::time::format_duration;
use crate::domain::TimelineEntry;
use crate::domain::{EntryKind, Severity, Status, UserId};
use crate::store::{CaseMessageKind, Evidence, Graph, PostmortemSource};

/// Knobs from `[postmortem]` and `[escalation]`, as plain values: the model does not read
/// the configuration (`Options::from_config`, in the module above, does).
#[derive(Debug, Clone)]
pub struct Options {
    /// Quiet spells longer than this are called out.
    pub gap: Duration,
    /// The message log appendix stops before it would pass this many bytes.
    pub appendix_max_bytes: usize,
    /// `[escalation] aws_support_after`: the target for opening an AWS Support case.
    pub escalation_target: Duration,
}

/// The whole draft, as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct PostmortemData {
    /// When the draft was made, `2026-11-21 15:00 UTC`.
    pub generated_at: String,
    pub incident: IncidentView,
    /// The starting severity, then every change.
    pub severity_history: Vec<SeverityStep>,
    pub participants: Vec<Participant>,
    /// Facts for the summary: status notes, stakeholder updates, alarms.
    pub summary: Vec<Fact>,
    /// Facts for the impact section.
    pub impact: Vec<String>,
    pub key_times: Vec<KeyTime>,
    /// The incident's shape: phases, alarms, the AWS case, updates and quiet spells on a
    /// time axis (inline SVG in the page, one line in the Markdown).
    pub picture: Picture,
    /// Key events and quiet spells in time order.
    pub timeline: Vec<TimelineItem>,
    pub gaps: Vec<Gap>,
    pub actions: Vec<ActionView>,
    pub actions_open: usize,
    /// The incident type's checklist: steps done (who, when) and not done.
    pub checklist: ChecklistView,
    pub alarms: Vec<AlarmView>,
    pub aws_cases: Vec<CaseView>,
    pub health_events: Vec<HealthView>,
    /// "Changes before the incident": what CloudTrail showed when warroom looked.
    pub changes: ChangesView,
    pub graphs: Vec<GraphView>,
    pub retrospective: Vec<Question>,
    pub appendix: Appendix,
    pub settings: Settings,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    /// The number in the database: `4` (shown as `#4`), or negative for a drill.
    pub id: i64,
    /// The number shown after `#`: the id, or for a drill its number (`drill #3` is -3).
    pub number: u64,
    /// A rehearsal (`/incident drill`): the draft says DRILL plainly.
    pub drill: bool,
    pub title: String,
    pub severity: String,
    pub peak_severity: String,
    pub status: String,
    pub open: bool,
    /// `@U…`, or none.
    pub lead: Option<String>,
    /// `@U…`, or `warroom, from alarm checkout-alb-5xx`.
    pub declared_by: String,
    /// The alarm that opened the incident, if one did.
    pub opened_by_alarm: Option<String>,
    pub channel: String,
    pub opened_at: String,
    pub resolved_at: Option<String>,
    /// Open to resolved, or to the draft's time while open.
    pub duration: String,
    pub reopened: usize,
    /// The `[[incident.types]]` name it was opened with, if any.
    pub incident_type: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeverityStep {
    pub at: String,
    pub severity: String,
    pub by: String,
    /// `declared`, `raised` or `lowered`.
    pub change: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Participant {
    pub user: String,
    pub messages: usize,
    /// Commands and notes (status, severity, notes, action items …).
    pub actions: usize,
    /// `lead`, `declared`, the `[incident] roles` they hold (`lead, declared, comms`) or empty.
    pub role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub at: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyTime {
    /// `Alarm fired`, `Incident opened`, …
    pub event: String,
    pub at: Option<String>,
    /// `time to detect`, `time to engage`, …
    pub measure: String,
    pub duration: Option<String>,
    /// Why there is no time, or how it was measured.
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineItem {
    /// `event` or `gap`.
    pub kind: String,
    pub at: String,
    /// `status`, `severity`, `note`, `pinned message`, `action item` … (events only).
    pub what: String,
    pub who: String,
    pub text: String,
    /// `backdated`, `edited`, `deleted` (events only).
    pub flags: Vec<String>,
    /// The quiet spell's length (gaps only).
    pub duration: String,
    /// When the quiet spell ended (gaps only).
    pub until: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub from: String,
    pub until: String,
    pub duration: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionView {
    pub number: u32,
    pub text: String,
    pub owner: Option<String>,
    pub done: bool,
    pub added_at: String,
    pub added_by: String,
    pub done_at: Option<String>,
}

/// The checklist section: empty lists for an incident without a checklist.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChecklistView {
    /// Whether the incident had a checklist at all.
    pub any: bool,
    pub done: Vec<StepView>,
    pub not_done: Vec<StepView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub number: i64,
    pub text: String,
    pub runbook: Option<String>,
    /// Who ticked it, when done.
    pub by: Option<String>,
    pub at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlarmView {
    pub name: String,
    pub state: String,
    pub at: String,
    pub region: String,
    pub metric: Option<String>,
    pub description: Option<String>,
    /// The alarm's page in the AWS console, when it is a plain web address.
    pub console_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub id: String,
    pub severity: String,
    pub subject: String,
    pub status: String,
    pub opened_at: String,
    /// The case's page in the Support Center, when it is a plain web address.
    pub console_url: Option<String>,
    /// The opening description (as warroom sent it) first, then what came after it.
    pub communications: Vec<CaseMessageView>,
}

/// One message on an AWS Support case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseMessageView {
    pub at: String,
    /// `AWS`, `warroom`, `@U0BOB`, or who wrote in the Support Center.
    pub from: String,
    /// `opening` (what warroom sent to open the case), `sent` (a reply sent through
    /// warroom), `aws` (AWS's reply) or `outside` (written in the Support Center).
    pub kind: String,
    /// `the opening description, as sent`, `sent through warroom`, `written in the
    /// Support Center`, or empty (AWS's replies).
    pub note: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthView {
    pub service: String,
    pub region: String,
    pub event_type: String,
    pub status: String,
    pub started_at: Option<String>,
    pub description: String,
}

/// "Changes before the incident", from the look-ups recorded on the timeline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangesView {
    /// Whether warroom looked at all (an alarm opened the war room, or someone ran
    /// `/incident changes`).
    pub looked: bool,
    /// `2h before the alarm (10:56–12:56 UTC)`, one per look-up.
    pub windows: Vec<String>,
    /// Every change shown in any look-up, once, oldest first.
    pub items: Vec<ChangeItemView>,
    /// What could not be checked, and "no management changes" answers.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeItemView {
    pub at: String,
    /// `12m before the alarm`.
    pub before: String,
    pub event: String,
    pub resource: String,
    pub who: String,
    pub region: String,
    /// `the alarm's LoadBalancer app/checkout/…`, `deploy, scaling, database or network
    /// change`, or empty.
    pub why: String,
    /// The event in the CloudTrail console (a plain web address, or none).
    pub console_url: Option<String>,
}

/// The changes recorded by "What changed before the alarm" and `/incident changes`.
fn changes_view(source: &PostmortemSource, clock: &Clock) -> ChangesView {
    use crate::domain::changes::{
        console_url, format_lookback, resource, short_identity, ChangeReport, Finding, Relevance,
    };
    let mut view = ChangesView::default();
    let mut seen = std::collections::HashSet::new();
    let mut items: Vec<(DateTime<Utc>, ChangeItemView)> = Vec::new();
    for e in source
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::AwsChanges && e.deleted_at.is_none())
    {
        let Some(report) = source
            .details
            .get(&e.id)
            .and_then(|v| serde_json::from_value::<ChangeReport>(v.clone()).ok())
        else {
            continue;
        };
        view.looked = true;
        view.windows.push(format!(
            "{} before {} ({}–{} UTC)",
            format_lookback(report.lookback()),
            report.anchor_label,
            clock.at(report.since()),
            clock.at(report.anchor)
        ));
        for r in &report.regions {
            match &r.changes {
                Finding::Failed(why) => view
                    .notes
                    .push(format!("{}: could not be checked: {why}", r.region)),
                Finding::Found(list) if list.shown.is_empty() => view.notes.push(format!(
                    "{}: no management changes in the {} before {}",
                    r.region,
                    format_lookback(report.lookback()),
                    report.anchor_label
                )),
                Finding::Found(list) => {
                    for c in &list.shown {
                        if !seen.insert(c.event.id.clone()) {
                            continue;
                        }
                        let why = match &c.relevance {
                            Relevance::OwnResource { dimension, value } => {
                                format!("the alarm's {dimension} {value}")
                            }
                            Relevance::DeployLike => {
                                "deploy, scaling, database, network or permission change"
                                    .to_string()
                            }
                            Relevance::Other => String::new(),
                        };
                        items.push((
                            c.event.at,
                            ChangeItemView {
                                at: clock.at(c.event.at),
                                before: crate::domain::changes::relative(
                                    c.event.at,
                                    report.anchor,
                                    &report.anchor_label,
                                ),
                                event: c.event.name.clone(),
                                resource: resource(&c.event).unwrap_or_default(),
                                who: short_identity(&c.event.who),
                                region: r.region.clone(),
                                why,
                                console_url: web_link(&console_url(&r.region, &c.event.id)),
                            },
                        ));
                    }
                    if list.more > 0 {
                        view.notes.push(format!(
                            "{}: {} more change(s) not listed (CloudTrail's event history has them)",
                            r.region, list.more
                        ));
                    }
                }
            }
        }
    }
    items.sort_by_key(|a| a.0);
    view.items = items.into_iter().map(|(_, v)| v).collect();
    view
}

/// The graph posted for an alarm: embedded in the page, linked from the Markdown.
#[derive(Debug, Clone, Serialize)]
pub struct GraphView {
    pub alarm: String,
    /// `checkout-alb-5xx around the breach`.
    pub title: String,
    /// When it was posted.
    pub at: String,
    /// What the image shows, for readers who cannot see it.
    pub alt: String,
    /// `data:image/png;base64,…`: the image itself, so the page stays one file. Only ever
    /// built from PNG bytes.
    pub data_uri: Option<String>,
    /// The Slack file's page (`https://…`), when Slack gave one.
    pub link: Option<String>,
    /// The Slack file id, when it was shared.
    pub file_id: Option<String>,
    /// Why there is no graph, or why it is not in Slack.
    pub unavailable: Option<String>,
    /// The link, else the embedded image: for templates written before the fields above.
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Question {
    pub question: String,
    /// What the recorded data already says.
    pub answers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Appendix {
    pub lines: Vec<LogLine>,
    pub total: usize,
    pub shown: usize,
    pub omitted: usize,
    pub truncated: bool,
    pub max_bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub at: String,
    pub who: String,
    pub text: String,
    /// A reply in a thread.
    pub reply: bool,
    pub edited: bool,
    pub deleted: bool,
    /// Pinned or marked with :pushpin:.
    pub key: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub gap_minutes: i64,
    pub escalation_target: String,
    pub appendix_max_bytes: usize,
}

/// Rough Markdown bytes a log line takes besides its text and author (time, separators,
/// flags); the appendix budget counts it so the limit holds for the rendered file.
const LOG_LINE_OVERHEAD: usize = 48;

/// `2026-11-21 13:50`
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// How the draft names people, in one place.
struct People<'a> {
    /// warroom's own user id, when it declared the incident for an alarm.
    bot: Option<&'a str>,
    /// The names warroom learned from Slack.
    names: &'a crate::domain::names::Names,
}

impl People<'_> {
    /// The person's name when known, `@U0ALICE` for other user ids, the text itself
    /// otherwise, `warroom` for no one and for warroom itself.
    fn who(&self, actor: Option<&str>) -> String {
        match actor {
            None => "warroom".to_string(),
            Some(a) if Some(a) == self.bot => "warroom".to_string(),
            Some(a) if UserId::parse(a).is_ok() => match self.names.get(a) {
                Some(name) => name.to_string(),
                None => format!("@{a}"),
            },
            Some(a) => a.to_string(),
        }
    }

    /// Recorded text with the user ids in it (`lead U0A → U0B`, `<@U0B>` in a message)
    /// shown by name where known.
    fn in_text(&self, text: &str) -> String {
        self.names.in_text(text)
    }

    fn mention(&self, user: &UserId) -> String {
        self.who(Some(user.as_str()))
    }

    fn is_bot(&self, actor: &str) -> bool {
        self.bot == Some(actor)
    }
}

/// Entries written with a time well before they were recorded: notes typed later.
fn is_backdated(e: &TimelineEntry) -> bool {
    e.kind == EntryKind::Note && e.occurred_at + Duration::seconds(60) < e.recorded_at
}

/// Times within the incident: `13:50` when everything happened on one day, else the date too.
struct Clock {
    single_day: bool,
}

impl Clock {
    fn at(&self, t: DateTime<Utc>) -> String {
        if self.single_day {
            t.format("%H:%M").to_string()
        } else {
            stamp(t)
        }
    }
}

/// The structured detail of an entry, when it has one.
enum Detail {
    Change(ChangeDetail),
    ActionAdded,
    ActionDone,
    /// Data this version does not know (written by a newer one).
    Other,
}

fn detail_of(details: &HashMap<i64, serde_json::Value>, e: &TimelineEntry) -> Option<Detail> {
    let value = details.get(&e.id)?;
    match value.get("change").and_then(serde_json::Value::as_str) {
        Some("action_added") => Some(Detail::ActionAdded),
        Some("action_done") => Some(Detail::ActionDone),
        _ => Some(
            serde_json::from_value::<ChangeDetail>(value.clone())
                .map(Detail::Change)
                .unwrap_or(Detail::Other),
        ),
    }
}

/// Build the draft. `now` is the draft's time (and the end of a still-open incident).
pub fn build(source: &PostmortemSource, options: &Options, now: DateTime<Utc>) -> PostmortemData {
    let evidence: &Evidence = &source.evidence;
    let inc = &source.record.incident;
    let entries = &source.entries;
    let people = People {
        bot: evidence
            .opened_by_alarm
            .is_some()
            .then(|| inc.declared_by.as_str()),
        names: &source.names,
    };
    let declared_by = match &evidence.opened_by_alarm {
        Some(alarm) => format!("warroom, from alarm {alarm}"),
        None => people.mention(&inc.declared_by),
    };
    let end = inc.resolved_at.unwrap_or(now);
    let first_alarm = evidence
        .alarms
        .iter()
        .filter(|a| a.state == AlarmState::Alarm)
        .map(|a| a.at)
        .min();
    // Durations run from the start of trouble: the alarm if one fired first, else the
    // declaration.
    let start = first_alarm.map_or(inc.opened_at, |a| a.min(inc.opened_at));
    let single_day = entries
        .iter()
        .map(|e| e.occurred_at)
        .chain([inc.opened_at, end, start])
        .all(|t| t.date_naive() == inc.opened_at.date_naive());
    let clock = Clock { single_day };

    // Status and severity history from the change details.
    let mut first_monitoring = None;
    let mut severity_history = Vec::new();
    let mut initial_severity = None;
    let mut first_raise: Option<(DateTime<Utc>, Severity, Severity)> = None;
    for e in entries {
        if let Some(Detail::Change(change)) = detail_of(&source.details, e) {
            match change {
                ChangeDetail::Status { to, .. } => {
                    if to == Status::Monitoring && first_monitoring.is_none() {
                        first_monitoring = Some(e.occurred_at);
                    }
                }
                ChangeDetail::Severity { from, to } => {
                    initial_severity.get_or_insert(from);
                    if to < from && first_raise.is_none() {
                        first_raise = Some((e.occurred_at, from, to));
                    }
                    severity_history.push(SeverityStep {
                        at: clock.at(e.occurred_at),
                        severity: to.to_string(),
                        by: people.who(e.actor.as_deref()),
                        change: if to < from { "raised" } else { "lowered" }.to_string(),
                    });
                }
                ChangeDetail::Lead { .. } | ChangeDetail::Role { .. } => {}
            }
        }
    }
    let initial_severity = initial_severity.unwrap_or(inc.severity);
    severity_history.insert(
        0,
        SeverityStep {
            at: clock.at(inc.opened_at),
            severity: initial_severity.to_string(),
            by: declared_by.clone(),
            change: "declared".to_string(),
        },
    );
    let peak = std::iter::once(initial_severity)
        .chain(
            severity_history
                .iter()
                .filter_map(|s| s.severity.parse().ok()),
        )
        .min()
        .unwrap_or(inc.severity);
    let reopened = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Reopened)
        .count();

    let incident = IncidentView {
        id: inc.id.0,
        number: inc.id.0.unsigned_abs(),
        drill: inc.id.is_drill(),
        title: inc.title.clone(),
        severity: inc.severity.to_string(),
        peak_severity: peak.to_string(),
        status: inc.status.to_string(),
        open: inc.is_open(),
        lead: inc.lead.as_ref().map(|l| people.mention(l)),
        declared_by: declared_by.clone(),
        opened_by_alarm: evidence.opened_by_alarm.clone(),
        channel: format!("#{}", source.record.channel_name),
        opened_at: stamp(inc.opened_at),
        resolved_at: inc.resolved_at.map(stamp),
        duration: format_duration(end - inc.opened_at),
        reopened,
        incident_type: source.record.incident_type.clone(),
    };

    let participants = participants(
        &people,
        entries,
        inc.lead.as_ref(),
        &inc.declared_by,
        &source.roles,
    );
    let gaps = quiet_spells(entries, inc.opened_at, end, options.gap);
    let first_message = entries
        .iter()
        .find(|e| e.kind == EntryKind::Message && e.occurred_at >= inc.opened_at);
    let first_case = evidence.aws_cases.iter().map(|c| c.opened_at).min();

    let key_times = key_times(KeyTimeFacts {
        clock: &clock,
        start,
        first_alarm,
        opened_at: inc.opened_at,
        declared_by: &inc.declared_by,
        first_message: first_message.map(|e| e.occurred_at),
        first_case,
        first_monitoring,
        resolved_at: inc.resolved_at,
        status: inc.status,
    });

    let picture = picture::draw(&picture::Facts {
        at: &|t| clock.at(t),
        start,
        end,
        alarm: first_alarm,
        phases: [
            Some(inc.opened_at),
            first_message.map(|e| e.occurred_at),
            first_case,
            first_monitoring,
            inc.resolved_at,
        ],
        events: picture_events(evidence, entries, &clock),
        quiet: &gaps,
    });

    let mut summary = Vec::new();
    for a in evidence
        .alarms
        .iter()
        .filter(|a| a.state == AlarmState::Alarm)
    {
        let description = a
            .description
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        summary.push(Fact {
            at: clock.at(a.at),
            text: format!("alarm {} fired in {}{description}", a.name, a.region),
        });
    }
    for e in entries {
        let fact = match (e.kind, detail_of(&source.details, e)) {
            (
                _,
                Some(Detail::Change(ChangeDetail::Status {
                    to,
                    note: Some(note),
                    ..
                })),
            ) => Some(format!("{to}: {note}")),
            // `/incident update` entries (matched by name: the kind is added by that feature).
            (kind, _) if kind.as_str() == "update" => Some(format!("update: {}", e.text)),
            _ => None,
        };
        if let Some(text) = fact {
            summary.push(Fact {
                at: clock.at(e.occurred_at),
                text,
            });
        }
    }
    summary.sort_by(|a, b| a.at.cmp(&b.at));

    let mut impact = Vec::new();
    match inc.resolved_at {
        Some(r) => impact.push(format!(
            "Open from {} to {} UTC ({}).",
            stamp(inc.opened_at),
            stamp(r),
            format_duration(r - inc.opened_at)
        )),
        None => impact.push(format!(
            "Open since {} UTC ({} so far, now {}).",
            stamp(inc.opened_at),
            format_duration(now - inc.opened_at),
            inc.status
        )),
    }
    if severity_history.len() > 1 {
        impact.push(format!(
            "Severity {} at declaration, {} at its peak.",
            initial_severity, peak
        ));
    } else {
        impact.push(format!("Severity {initial_severity} throughout."));
    }
    for a in evidence
        .alarms
        .iter()
        .filter(|a| a.state == AlarmState::Alarm)
    {
        if let Some(metric) = &a.metric {
            impact.push(format!("Alarm {} on {metric}.", a.name));
        }
    }

    let timeline = timeline(&people, source, &clock, &gaps);

    let actions: Vec<ActionView> = source
        .actions
        .iter()
        .map(|a| ActionView {
            number: a.number,
            text: a.text.clone(),
            owner: a.owner.as_ref().map(|o| people.mention(o)),
            done: a.is_done(),
            added_at: clock.at(a.created_at),
            added_by: people.who(Some(&a.created_by)),
            done_at: a.done_at.map(|t| clock.at(t)),
        })
        .collect();
    let actions_open = actions.iter().filter(|a| !a.done).count();
    let (done, not_done): (Vec<StepView>, Vec<StepView>) = source
        .checklist
        .iter()
        .map(|step| StepView {
            number: step.position,
            text: step.text.clone(),
            runbook: step.runbook.clone(),
            by: step.done.as_ref().map(|(who, _)| people.mention(who)),
            at: step.done.as_ref().map(|(_, at)| clock.at(*at)),
        })
        .partition(|s| s.at.is_some());
    let checklist = ChecklistView {
        any: !source.checklist.is_empty(),
        done,
        not_done,
    };

    let changes = changes_view(source, &clock);
    let retrospective = retrospective(Retro {
        changes: &changes,
        evidence,
        options,
        clock: &clock,
        entries,
        start,
        end,
        opened_at: inc.opened_at,
        declared_by: &inc.declared_by,
        first_alarm,
        first_message: first_message.map(|e| e.occurred_at),
        first_case,
        first_monitoring,
        resolved: inc.resolved_at.is_some(),
        first_raise,
        reopened,
        gaps: &gaps,
        actions: &actions,
        actions_open,
    });

    PostmortemData {
        generated_at: format!("{} UTC", stamp(now)),
        incident,
        severity_history,
        participants,
        summary,
        impact,
        key_times,
        picture,
        timeline,
        gaps: gaps
            .iter()
            .map(|g| Gap {
                from: clock.at(g.0),
                until: clock.at(g.1),
                duration: format_duration(g.1 - g.0),
            })
            .collect(),
        actions,
        actions_open,
        checklist,
        alarms: evidence
            .alarms
            .iter()
            .map(|a| AlarmView {
                name: a.name.clone(),
                state: a.state.as_str().to_string(),
                at: stamp(a.at),
                region: a.region.clone(),
                metric: a.metric.clone(),
                description: a.description.clone(),
                console_url: web_link(&a.console_url),
            })
            .collect(),
        aws_cases: evidence
            .aws_cases
            .iter()
            .map(|c| CaseView {
                id: c.id.clone(),
                severity: c.severity.clone(),
                subject: c.subject.clone(),
                status: c.status.clone(),
                opened_at: stamp(c.opened_at),
                console_url: web_link(&c.console_url),
                communications: c
                    .communications
                    .iter()
                    .map(|m| {
                        let (kind, note) = match m.kind {
                            CaseMessageKind::Opening => {
                                ("opening", "the opening description, as sent")
                            }
                            CaseMessageKind::Sent => ("sent", "sent through warroom"),
                            CaseMessageKind::Aws => ("aws", ""),
                            CaseMessageKind::Outside => {
                                ("outside", "written in the Support Center")
                            }
                        };
                        CaseMessageView {
                            at: stamp(m.at),
                            from: people.who(Some(&m.from)),
                            kind: kind.to_string(),
                            note: note.to_string(),
                            text: m.text.clone(),
                        }
                    })
                    .collect(),
            })
            .collect(),
        health_events: evidence
            .health_events
            .iter()
            .map(|h| HealthView {
                service: h.service.clone(),
                region: h.region.clone(),
                event_type: h.event_type.clone(),
                status: h.status.clone(),
                started_at: h.started_at.map(stamp),
                description: h.description.clone(),
            })
            .collect(),
        changes,
        graphs: evidence
            .graphs
            .iter()
            .map(|g| graph_view(g, evidence, &clock))
            .collect(),
        retrospective,
        appendix: appendix(&people, entries, &clock, options.appendix_max_bytes),
        settings: Settings {
            gap_minutes: options.gap.num_minutes(),
            escalation_target: format_duration(options.escalation_target),
            appendix_max_bytes: options.appendix_max_bytes,
        },
    }
}

/// The marks above the picture's axis: alarms and recoveries, the AWS cases and AWS's
/// replies, the stakeholder updates.
fn picture_events(
    evidence: &Evidence,
    entries: &[TimelineEntry],
    clock: &Clock,
) -> Vec<(EventKind, DateTime<Utc>, String)> {
    let mut events = Vec::new();
    for a in &evidence.alarms {
        let (kind, what) = if a.state == AlarmState::Alarm {
            (EventKind::Alarm, "fired".to_string())
        } else {
            (EventKind::Recovery, format!("back to {}", a.state.as_str()))
        };
        events.push((
            kind,
            a.at,
            format!("alarm {} {what} {}", a.name, clock.at(a.at)),
        ));
    }
    for c in &evidence.aws_cases {
        events.push((
            EventKind::Case,
            c.opened_at,
            format!("AWS case {} opened {}", c.id, clock.at(c.opened_at)),
        ));
        for m in c
            .communications
            .iter()
            .filter(|m| m.kind == CaseMessageKind::Aws)
        {
            events.push((
                EventKind::Reply,
                m.at,
                format!("AWS replied {}: {}", clock.at(m.at), quote(&m.text)),
            ));
        }
    }
    for e in entries.iter().filter(|e| e.kind == EntryKind::Update) {
        events.push((
            EventKind::Update,
            e.occurred_at,
            format!("update {}: {}", clock.at(e.occurred_at), quote(&e.text)),
        ));
    }
    events
}

/// The PNG signature: only PNG bytes become a `data:image/png` URI.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn graph_view(g: &Graph, evidence: &Evidence, clock: &Clock) -> GraphView {
    let png = g.png.as_deref();
    let data_uri = png.filter(|b| b.starts_with(PNG_SIGNATURE)).map(|b| {
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(b)
        )
    });
    let unavailable = match (&g.unavailable, png, &data_uri) {
        (Some(why), _, _) => Some(why.clone()),
        (None, Some(_), None) => Some("the image AWS returned is not a PNG".to_string()),
        (None, None, _) => Some("no image was kept".to_string()),
        (None, Some(_), Some(_)) => None,
    };
    let link = g.permalink.as_deref().and_then(web_link);
    let metric = evidence
        .alarms
        .iter()
        .find(|a| a.name == g.alarm_name)
        .and_then(|a| a.metric.as_deref());
    let alt = match metric {
        Some(m) => format!(
            "CloudWatch graph of alarm {} around the breach, threshold drawn: {m}",
            g.alarm_name
        ),
        None => format!(
            "CloudWatch graph of alarm {} around the breach",
            g.alarm_name
        ),
    };
    GraphView {
        alarm: g.alarm_name.clone(),
        title: g.title.clone(),
        at: clock.at(g.posted_at),
        alt,
        url: link.clone().or(data_uri.clone()).unwrap_or_default(),
        data_uri,
        link,
        file_id: g.slack_file_id.clone(),
        unavailable,
    }
}

/// `url` when it is a plain web address that can sit in a Markdown link or an `href` as it
/// is: `http(s)://`, no spaces, quotes, brackets or backslashes.
fn web_link(url: &str) -> Option<String> {
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    let plain = url.chars().all(|c| {
        c.is_ascii_graphic() && !matches!(c, '(' | ')' | '<' | '>' | '"' | '\'' | '\\' | '`')
    });
    (scheme_ok && plain).then(|| url.to_string())
}

fn participants(
    people: &People<'_>,
    entries: &[TimelineEntry],
    lead: Option<&UserId>,
    declared_by: &UserId,
    held: &[(String, UserId)],
) -> Vec<Participant> {
    // (messages, actions, first seen) per person, in order of first appearance.
    let mut order: Vec<&str> = Vec::new();
    let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
    for e in entries {
        // warroom is not a participant, even when it declared the incident.
        let Some(actor) = e.actor.as_deref().filter(|a| !people.is_bot(a)) else {
            continue;
        };
        let c = counts.entry(actor).or_insert_with(|| {
            order.push(actor);
            (0, 0)
        });
        if e.kind == EntryKind::Message {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    // Someone given a role is a participant even if they never spoke.
    for (_, holder) in held {
        let holder = holder.as_str();
        if !people.is_bot(holder) && !counts.contains_key(holder) {
            counts.insert(holder, (0, 0));
            order.push(holder);
        }
    }
    let mut people: Vec<Participant> = order
        .iter()
        .map(|actor| {
            let (messages, actions) = counts.get(actor).copied().unwrap_or_default();
            let mut roles = Vec::new();
            if lead.is_some_and(|l| l.as_str() == *actor) {
                roles.push("lead");
            }
            if declared_by.as_str() == *actor {
                roles.push("declared");
            }
            roles.extend(
                held.iter()
                    .filter(|(_, u)| u.as_str() == *actor)
                    .map(|(r, _)| r.as_str()),
            );
            Participant {
                user: people.who(Some(actor)),
                messages,
                actions,
                role: roles.join(", "),
            }
        })
        .collect();
    // Most messages first; ties keep the order of first appearance (the sort is stable).
    people.sort_by_key(|p| std::cmp::Reverse(p.messages));
    people
}

/// Quiet spells longer than `gap` between `opened` and `end`, as (from, until).
fn quiet_spells(
    entries: &[TimelineEntry],
    opened: DateTime<Utc>,
    end: DateTime<Utc>,
    gap: Duration,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut times: Vec<DateTime<Utc>> = entries
        .iter()
        .map(|e| e.occurred_at)
        .filter(|t| *t >= opened && *t <= end)
        .collect();
    times.push(opened);
    times.push(end);
    times.sort();
    times
        .windows(2)
        .filter(|w| w[1] - w[0] > gap)
        .map(|w| (w[0], w[1]))
        .collect()
}

fn what(e: &TimelineEntry, detail: Option<&Detail>) -> String {
    match (e.kind, detail) {
        (EntryKind::Note, Some(Detail::ActionAdded)) => "action item".to_string(),
        (EntryKind::Note, Some(Detail::ActionDone)) => "action done".to_string(),
        (EntryKind::Message, _) if e.thread_ts.is_some() => "pinned reply".to_string(),
        (EntryKind::Message, _) => "pinned message".to_string(),
        (EntryKind::StatusChanged, _) => "status".to_string(),
        (EntryKind::SeverityChanged, _) => "severity".to_string(),
        (EntryKind::LeadChanged, _) => "lead".to_string(),
        (EntryKind::RoleAssigned, _) => "role".to_string(),
        (kind, _) => kind.as_str().replace('_', " "),
    }
}

/// Text of an entry as a reader should see it.
fn entry_text(e: &TimelineEntry) -> String {
    if e.kind == EntryKind::Message {
        slack_to_plain(&e.text)
    } else {
        e.text.clone()
    }
}

fn flags(e: &TimelineEntry) -> Vec<String> {
    let mut flags = Vec::new();
    if is_backdated(e) {
        flags.push("backdated".to_string());
    }
    if e.edited_at.is_some() {
        flags.push("edited".to_string());
    }
    if e.deleted_at.is_some() {
        flags.push("deleted".to_string());
    }
    flags
}

fn timeline(
    people: &People<'_>,
    source: &PostmortemSource,
    clock: &Clock,
    gaps: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Vec<TimelineItem> {
    let mut items = Vec::new();
    let mut gaps = gaps.iter().peekable();
    for e in source.entries.iter().filter(|e| e.key_event) {
        // A quiet spell goes after the last event at or before its start.
        while let Some((from, until)) = gaps.next_if(|(from, _)| *from < e.occurred_at) {
            items.push(gap_item(clock, *from, *until));
        }
        let detail = detail_of(&source.details, e);
        items.push(TimelineItem {
            kind: "event".to_string(),
            at: clock.at(e.occurred_at),
            what: what(e, detail.as_ref()),
            who: people.who(e.actor.as_deref()),
            text: people.in_text(&entry_text(e)),
            flags: flags(e),
            duration: String::new(),
            until: String::new(),
        });
    }
    for (from, until) in gaps {
        items.push(gap_item(clock, *from, *until));
    }
    items
}

fn gap_item(clock: &Clock, from: DateTime<Utc>, until: DateTime<Utc>) -> TimelineItem {
    TimelineItem {
        kind: "gap".to_string(),
        at: clock.at(from),
        what: String::new(),
        who: String::new(),
        text: format!("no activity for {}", format_duration(until - from)),
        flags: Vec::new(),
        duration: format_duration(until - from),
        until: clock.at(until),
    }
}

struct KeyTimeFacts<'a> {
    clock: &'a Clock,
    start: DateTime<Utc>,
    first_alarm: Option<DateTime<Utc>>,
    opened_at: DateTime<Utc>,
    declared_by: &'a UserId,
    first_message: Option<DateTime<Utc>>,
    first_case: Option<DateTime<Utc>>,
    first_monitoring: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    status: Status,
}

fn key_times(f: KeyTimeFacts<'_>) -> Vec<KeyTime> {
    let row = |event: &str,
               at: Option<DateTime<Utc>>,
               measure: &str,
               from: DateTime<Utc>,
               none: String,
               note: &str| KeyTime {
        event: event.to_string(),
        at: at.map(|t| f.clock.at(t)),
        measure: measure.to_string(),
        duration: at.map(|t| format_duration(t - from)),
        note: if at.is_some() { note.to_string() } else { none },
    };
    vec![
        KeyTime {
            event: "Alarm fired".to_string(),
            at: f.first_alarm.map(|t| f.clock.at(t)),
            measure: String::new(),
            duration: None,
            note: match f.first_alarm {
                Some(_) => "the start".to_string(),
                None => "no alarm recorded".to_string(),
            },
        },
        KeyTime {
            event: "Incident opened".to_string(),
            at: Some(f.clock.at(f.opened_at)),
            measure: "time to detect".to_string(),
            duration: f.first_alarm.map(|a| format_duration(f.opened_at - a)),
            note: match f.first_alarm {
                Some(_) => "from the alarm".to_string(),
                None => format!("declared by @{} (no alarm to measure from)", f.declared_by),
            },
        },
        row(
            "First responder message",
            f.first_message,
            "time to engage",
            f.opened_at,
            "nobody wrote in the channel".to_string(),
            "from the incident opening",
        ),
        row(
            "AWS Support case opened",
            f.first_case,
            "time to escalate",
            f.start,
            "no case recorded".to_string(),
            "from the start",
        ),
        row(
            "Status monitoring",
            f.first_monitoring,
            "time to mitigate",
            f.start,
            "status never set to monitoring".to_string(),
            "from the start",
        ),
        row(
            "Resolved",
            f.resolved_at,
            "time to resolve",
            f.start,
            format!("still {}", f.status),
            "from the start",
        ),
    ]
}

struct Retro<'a> {
    changes: &'a ChangesView,
    evidence: &'a Evidence,
    options: &'a Options,
    clock: &'a Clock,
    entries: &'a [TimelineEntry],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    opened_at: DateTime<Utc>,
    declared_by: &'a UserId,
    first_alarm: Option<DateTime<Utc>>,
    first_message: Option<DateTime<Utc>>,
    first_case: Option<DateTime<Utc>>,
    first_monitoring: Option<DateTime<Utc>>,
    resolved: bool,
    first_raise: Option<(DateTime<Utc>, Severity, Severity)>,
    reopened: usize,
    gaps: &'a [(DateTime<Utc>, DateTime<Utc>)],
    actions: &'a [ActionView],
    actions_open: usize,
}

fn quote(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = one_line.chars().take(120).collect();
    if cut.len() < one_line.len() {
        format!("“{cut}…”")
    } else {
        format!("“{cut}”")
    }
}

fn retrospective(r: Retro<'_>) -> Vec<Question> {
    let d = |a: DateTime<Utc>, b: DateTime<Utc>| format_duration(b - a);

    let mut detect = Vec::new();
    match r.first_alarm {
        Some(alarm) => detect.push(format!(
            "The first alarm fired at {}; the incident was opened {} later (time to detect).",
            r.clock.at(alarm),
            d(alarm, r.opened_at)
        )),
        None => detect.push(format!(
            "No alarm is recorded: @{} declared the incident by hand at {}. Would an alarm have caught it sooner?",
            r.declared_by,
            r.clock.at(r.opened_at)
        )),
    }
    if let Some(early) = r
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Note && e.occurred_at < r.opened_at)
        .min_by_key(|e| e.occurred_at)
    {
        detect.push(format!(
            "A note backdated to {} puts the first sign {} before the incident was opened: {}.",
            r.clock.at(early.occurred_at),
            d(early.occurred_at, r.opened_at),
            quote(&early.text)
        ));
    }
    match r.first_message {
        Some(m) => detect.push(format!(
            "The first message in the channel came {} after it opened (time to engage).",
            d(r.opened_at, m)
        )),
        None => detect.push("Nobody wrote in the incident channel.".to_string()),
    }

    let mut resolve = Vec::new();
    match r.first_monitoring {
        Some(m) => resolve.push(format!(
            "Mitigated (status monitoring) after {}.",
            d(r.start, m)
        )),
        None => resolve.push(
            "The status was never set to monitoring, so the time to mitigate is unknown."
                .to_string(),
        ),
    }
    if r.resolved {
        resolve.push(format!("Resolved after {}.", d(r.start, r.end)));
    } else {
        resolve.push(format!("Still open after {}.", d(r.start, r.end)));
    }
    let target = format_duration(r.options.escalation_target);
    match r.first_case {
        Some(case) => {
            let took = case - r.start;
            if took > r.options.escalation_target {
                resolve.push(format!(
                    "The AWS Support case was opened after {}, {} past the {target} target ([escalation] aws_support_after).",
                    format_duration(took),
                    format_duration(took - r.options.escalation_target)
                ));
            } else {
                resolve.push(format!(
                    "The AWS Support case was opened after {}, within the {target} target ([escalation] aws_support_after).",
                    format_duration(took)
                ));
            }
        }
        None if r.end - r.start > r.options.escalation_target => resolve.push(format!(
            "No AWS Support case was opened, and the incident ran {}, past the {target} escalation target ([escalation] aws_support_after). Was AWS involved, and would a case have helped?",
            d(r.start, r.end)
        )),
        None if r.resolved => resolve.push(format!(
            "No AWS Support case was opened; the incident ended within the {target} escalation target."
        )),
        None => resolve.push(format!(
            "No AWS Support case has been opened; the incident is {} old, within the {target} escalation target so far.",
            d(r.start, r.end)
        )),
    }
    if let Some((from, until)) = r.gaps.iter().max_by_key(|(f, u)| *u - *f) {
        resolve.push(format!(
            "The longest quiet spell lasted {} ({} to {}), longer than {}m.",
            d(*from, *until),
            r.clock.at(*from),
            r.clock.at(*until),
            r.options.gap.num_minutes()
        ));
    }
    if let Some((at, from, to)) = r.first_raise {
        resolve.push(format!(
            "Severity was raised from {from} to {to} {} after the start.",
            d(r.start, at)
        ));
    }
    if r.reopened > 0 {
        resolve.push(format!(
            "The incident was reopened {} time(s) after being resolved.",
            r.reopened
        ));
    }

    let mut prevent = Vec::new();
    if r.actions.is_empty() {
        prevent
            .push("No action items are recorded yet: add them with /incident action.".to_string());
    } else {
        prevent.push(format!(
            "{} action item(s) recorded, {} still open.",
            r.actions.len(),
            r.actions_open
        ));
    }
    if !r.changes.items.is_empty() {
        prevent.push(format!(
            "{} AWS change(s) were made shortly before (see \"Changes before the incident\"): did one of them cause it, and would a safer rollout or a review have caught it?",
            r.changes.items.len()
        ));
    } else if r.changes.looked
        && r.changes
            .notes
            .iter()
            .all(|n| n.contains("no management changes"))
    {
        prevent.push(
            "CloudTrail shows no AWS management change shortly before (see \"Changes before the incident\"): look for changes outside AWS (application config, traffic, dependencies).".to_string(),
        );
    }
    if !r.evidence.health_events.is_empty() {
        prevent.push(format!(
            "AWS Health reported {} event(s) during the incident: was this an AWS issue we could have designed around?",
            r.evidence.health_events.len()
        ));
    }

    vec![
        Question {
            question: "Could it have been detected sooner?".to_string(),
            answers: detect,
        },
        Question {
            question: "Could it have been resolved sooner?".to_string(),
            answers: resolve,
        },
        Question {
            question: "Could it have been prevented?".to_string(),
            answers: prevent,
        },
    ]
}

/// Every message, oldest first, until the next one would pass `max_bytes`.
fn appendix(
    people: &People<'_>,
    entries: &[TimelineEntry],
    clock: &Clock,
    max_bytes: usize,
) -> Appendix {
    let messages: Vec<&TimelineEntry> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Message)
        .collect();
    let mut lines = Vec::new();
    let mut used = 0usize;
    for e in &messages {
        let text = people.in_text(&slack_to_plain(&e.text));
        let who = people.who(e.actor.as_deref());
        // Counted as the escaped Markdown it becomes (the format uploaded to Slack).
        let cost = LOG_LINE_OVERHEAD + escape_markdown(&text).len() + who.len();
        if used + cost > max_bytes {
            break;
        }
        used += cost;
        lines.push(LogLine {
            at: clock.at(e.occurred_at),
            who,
            text,
            reply: e.thread_ts.is_some(),
            edited: e.edited_at.is_some(),
            deleted: e.deleted_at.is_some(),
            key: e.key_event,
        });
    }
    let shown = lines.len();
    Appendix {
        lines,
        total: messages.len(),
        shown,
        omitted: messages.len() - shown,
        truncated: shown < messages.len(),
        max_bytes,
    }
}
