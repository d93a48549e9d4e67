//! Every message warroom posts, as fallback text plus Block Kit.
//!
//! Invariant: text that came from people or alarms goes through [`mrkdwn::escape`] before it
//! lands in a message; the only `<…>` sequences warroom emits are the mentions, channel links
//! and dates it builds itself from validated ids.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::mrkdwn::{self, escape, escape_inline, truncate, user_mention};
use super::outgoing::Outgoing;
use crate::domain::command::UsageError;
use crate::domain::incident::Change;
use crate::domain::privacy::{Redacted, Sight, Viewer};
use crate::domain::roles::Roles;
use crate::domain::support::CaseGlance;
use crate::domain::time::format_duration;
use crate::domain::{ActionItem, IncidentRecord, TimelineEntry};
use crate::domain::{EntryKind, Incident, IncidentId, Status, UserId};

/// Longest title or note echoed in one message line, in characters.
const MAX_ECHO_CHARS: usize = 500;
/// Entries shown by `/incident timeline` before pointing at the operator CLI.
const MAX_TIMELINE_LINES: usize = 60;

fn mention_str(user: &str) -> String {
    match UserId::parse(user) {
        Ok(u) => user_mention(&u),
        Err(_) => escape(user),
    }
}

/// `2026-11-21 13:50 UTC`, also as a Slack date token that renders in the reader's zone.
pub(super) fn when(t: DateTime<Utc>) -> String {
    let fallback = t.format("%Y-%m-%d %H:%M UTC").to_string();
    format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        t.timestamp(),
        fallback
    )
}

fn status_emoji(status: Status) -> &'static str {
    match status {
        Status::Investigating => ":mag:",
        Status::Identified => ":bulb:",
        Status::Monitoring => ":eyes:",
        Status::Resolved => ":white_check_mark:",
    }
}

fn title(i: &Incident) -> String {
    escape_inline(&truncate(&i.title, MAX_ECHO_CHARS))
}

/// "a private SEV2 incident, lead <@U1>": all that a private incident shows to those who
/// may not see it (`domain::privacy`).
pub fn redacted_line(r: &Redacted) -> String {
    let lead = r
        .lead
        .as_ref()
        .map(|l| format!("lead {}", user_mention(l)))
        .unwrap_or_else(|| "no lead yet".to_string());
    format!("a private {} incident, {lead}", r.severity)
}

/// The list line of an incident this viewer may not see.
fn redacted_item(r: &Redacted) -> String {
    format!("• :lock: {}", redacted_line(r))
}

/// The pinned header: title, severity, status, lead, the other roles, opened-at. Kept
/// current with chat.update.
pub fn header(record: &IncidentRecord, roles: &Roles, now: DateTime<Utc>) -> Outgoing {
    let i = &record.incident;
    let lead = i
        .lead
        .as_ref()
        .map(user_mention)
        .unwrap_or_else(|| "_nobody yet_".to_string());
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Severity*\n{}", i.severity)}),
        json!({"type": "mrkdwn", "text": format!("*Status*\n{} {}", status_emoji(i.status), i.status)}),
        json!({"type": "mrkdwn", "text": format!("*Lead*\n{lead}")}),
        json!({"type": "mrkdwn", "text": format!("*Opened*\n{}", when(i.opened_at))}),
    ];
    match i.resolved_at {
        Some(r) => fields.push(json!({"type": "mrkdwn", "text": format!("*Resolved*\n{} (after {})", when(r), format_duration(r - i.opened_at))})),
        None => fields.push(json!({"type": "mrkdwn", "text": format!("*Open for*\n{} (as of this update)", format_duration(now - i.opened_at))})),
    }
    fields.push(json!({"type": "mrkdwn", "text": format!("*Declared by*\n{}", user_mention(&i.declared_by))}));
    if let Some(t) = &record.incident_type {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Type*\n{}", escape(t))}));
    }
    if !roles.is_empty() {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Roles*\n{}", role_lines(roles))}));
    }
    let (lock, private_note) = if record.private {
        (
            ":lock: ",
            " :lock: *Private*: outside this channel, only \"a private incident\", its severity and lead are shown.",
        )
    } else {
        ("", "")
    };
    let text = format!(
        "{}{}Incident {}: {} ({}, {}{})",
        drill_prefix(i.id),
        lock,
        i.id,
        title(i),
        i.severity,
        i.status,
        if record.private { ", private" } else { "" }
    );
    let header = Outgoing {
        text,
        blocks: Some(json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": format!(":rotating_light: {lock}*Incident {}: {}*", i.id, title(i))}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Everything said here is recorded on the timeline. `/incident help` lists the commands.{private_note}")}]}
        ])),
    };
    if i.id.is_drill() {
        with_drill_banner(header)
    } else {
        header
    }
}

/// `comms: <@U1>` one per line, in the configured order. Role names are validated (letters,
/// digits, dashes), so they need no escaping.
fn role_lines(roles: &Roles) -> String {
    roles
        .held
        .iter()
        .map(|(role, user)| format!("{role}: {}", user_mention(user)))
        .chain(
            roles
                .unfilled()
                .into_iter()
                .map(|role| format!("{role}: _unfilled_")),
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// In the channel, when `/incident role` hands a role to someone.
pub fn role_notice(actor: &UserId, role: &str, to: &UserId, id: IncidentId) -> Outgoing {
    let msg = Outgoing::text(format!(
        ":busts_in_silhouette: {} made {} *{role}* of incident {id}",
        user_mention(actor),
        user_mention(to),
    ));
    if id.is_drill() {
        with_drill_banner(msg)
    } else {
        msg
    }
}

/// What a late joiner (or `/incident catchup`) is shown.
pub struct Catchup<'a> {
    pub record: &'a IncidentRecord,
    pub roles: &'a Roles,
    /// The whole timeline, oldest first.
    pub entries: &'a [TimelineEntry],
    pub case: Option<&'a CaseGlance>,
    pub actions: &'a [ActionItem],
    /// The incident type's checklist (empty without one).
    pub checklist: &'a [crate::domain::incident_type::ChecklistItem],
    pub now: DateTime<Utc>,
}

/// Key events the catch-up lists.
const CATCHUP_KEY_EVENTS: usize = 5;
/// Open action items the catch-up lists before "and N more".
const CATCHUP_ACTIONS: usize = 10;

/// The catch-up: where the incident stands, who does what, the latest stakeholder update,
/// the AWS case, the last key events, the open action items and how to help. Shown to one
/// person only (an ephemeral message or the ack).
pub fn catchup(c: &Catchup<'_>) -> Outgoing {
    let i = &c.record.incident;
    let lead = i
        .lead
        .as_ref()
        .map(user_mention)
        .unwrap_or_else(|| "_nobody yet_".to_string());
    let mut people = format!("*Lead*: {lead}");
    if !c.roles.is_empty() {
        people.push('\n');
        people.push_str(&role_lines(c.roles));
    }
    let state = format!(
        "{} *{}* · {} · open for {}",
        status_emoji(i.status),
        i.status,
        i.severity,
        format_duration(i.duration(c.now))
    );
    let update = c
        .entries
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::Update && e.deleted_at.is_none())
        .map(|e| {
            format!(
                "*Latest stakeholder update* ({} ago, by {}):\n>{}",
                format_duration(c.now - e.occurred_at),
                e.actor
                    .as_deref()
                    .map(mention_str)
                    .unwrap_or_else(|| "warroom".into()),
                escape(&truncate(&e.text.replace('\n', " "), MAX_ECHO_CHARS))
            )
        })
        .unwrap_or_else(|| "*Latest stakeholder update*: _none yet_".to_string());
    let case = match c.case {
        None => "*AWS Support*: no case".to_string(),
        Some(case) if case.resolved => format!(
            "*AWS Support*: case {} (resolved)",
            escape(&case.display_id)
        ),
        Some(case) => match case.awaiting_aws_since {
            Some(since) => format!(
                "*AWS Support*: case {} ({}), waiting on AWS for {}",
                escape(&case.display_id),
                case.severity,
                format_duration(c.now - since)
            ),
            None => format!(
                "*AWS Support*: case {} ({}), AWS answered last",
                escape(&case.display_id),
                case.severity
            ),
        },
    };
    // Each list fits its section after escaping; what does not fit is counted, not cut.
    let budget = super::limits::SECTION_TEXT - 200;
    let keys: Vec<&TimelineEntry> = c
        .entries
        .iter()
        .filter(|e| e.key_event && e.deleted_at.is_none())
        .collect();
    let recent = &keys[keys.len().saturating_sub(CATCHUP_KEY_EVENTS)..];
    let events = if recent.is_empty() {
        "*Key events*: _none yet_".to_string()
    } else {
        // The newest first into the budget, then shown oldest first.
        let mut lines: Vec<String> = Vec::new();
        let mut used = 0;
        for e in recent.iter().rev() {
            let line = entry_line(e);
            if used + line.len() + 1 > budget {
                break;
            }
            used += line.len() + 1;
            lines.push(line);
        }
        lines.reverse();
        let left_out = recent.len() - lines.len();
        let mut text = format!(
            "*Last {} key events* (UTC):\n{}",
            lines.len(),
            lines.join("\n")
        );
        if left_out > 0 {
            text.push_str(&format!("\n_… {left_out} more: `/incident timeline`_"));
        }
        text
    };
    let open: Vec<&ActionItem> = c.actions.iter().filter(|a| !a.is_done()).collect();
    let actions = if open.is_empty() {
        "*Open action items*: _none_".to_string()
    } else {
        let mut lines: Vec<String> = Vec::new();
        let mut used = 0;
        for a in open.iter().take(CATCHUP_ACTIONS) {
            let owner = a
                .owner
                .as_ref()
                .map(|o| format!(" ({})", user_mention(o)))
                .unwrap_or_default();
            let line = format!("{}. {}{owner}", a.number, escape(&truncate(&a.text, 200)));
            if used + line.len() + 1 > budget {
                break;
            }
            used += line.len() + 1;
            lines.push(line);
        }
        if open.len() > lines.len() {
            lines.push(format!(
                "_… and {} more: `/incident actions`_",
                open.len() - lines.len()
            ));
        }
        format!("*Open action items*:\n{}", lines.join("\n"))
    };
    let open_steps: Vec<_> = c.checklist.iter().filter(|s| !s.is_done()).collect();
    let checklist = if c.checklist.is_empty() {
        None
    } else if open_steps.is_empty() {
        Some(format!("*Checklist*: all {} steps done", c.checklist.len()))
    } else {
        let mut lines: Vec<String> = Vec::new();
        let mut used = 0;
        for s in open_steps.iter().take(CATCHUP_ACTIONS) {
            let line = format!("{}. {}", s.position, escape(&truncate(&s.text, 200)));
            if used + line.len() + 1 > budget {
                break;
            }
            used += line.len() + 1;
            lines.push(line);
        }
        if open_steps.len() > lines.len() {
            lines.push(format!(
                "_… and {} more on the checklist above_",
                open_steps.len() - lines.len()
            ));
        }
        Some(format!(
            "*Open checklist items* ({} of {} done):\n{}",
            c.checklist.len() - open_steps.len(),
            c.checklist.len(),
            lines.join("\n")
        ))
    };
    let help = if i.is_open() {
        "*How to help*: say what you see here (it is all recorded), ask the lead before you change anything, `/incident note &lt;text&gt;` for findings, `/incident action &lt;text&gt;` for follow-ups, `/incident timeline` for everything"
    } else {
        "*This incident is resolved*: `/incident postmortem` drafts the postmortem; `/incident action &lt;text&gt;` adds a follow-up"
    };
    let heading = format!(":wave: *Catch-up on incident {}: {}*", i.id, title(i));
    let blocks: Vec<Value> = [
        heading.clone(),
        format!("{state}\n{people}"),
        update,
        case,
        events,
        actions,
    ]
    .into_iter()
    .chain(checklist)
    .chain(std::iter::once(help.to_string()))
    .map(|t| json!({"type": "section", "text": {"type": "mrkdwn", "text": t}}))
    .collect();
    Outgoing {
        text: format!(
            "{}Catch-up on incident {}: {} ({}, {})",
            drill_prefix(i.id),
            i.id,
            title(i),
            i.severity,
            i.status
        ),
        blocks: Some(Value::Array(blocks)),
    }
}

/// The banner on every message warroom posts about a drill.
pub const DRILL_BANNER: &str =
    ":construction: *DRILL* — a rehearsal, not a real incident. Nothing here is on fire.";
/// How the fallback text of a drill's messages begins.
pub const DRILL_PREFIX: &str = "DRILL · ";

/// `DRILL · ` for a drill, nothing for a real incident.
fn drill_prefix(id: IncidentId) -> &'static str {
    if id.is_drill() {
        DRILL_PREFIX
    } else {
        ""
    }
}

/// A message marked DRILL: the fallback text prefixed, and the banner as its first block.
/// Marking twice changes nothing.
pub fn with_drill_banner(msg: Outgoing) -> Outgoing {
    let text = if msg.text.starts_with(DRILL_PREFIX) {
        msg.text
    } else {
        format!("{DRILL_PREFIX}{}", msg.text)
    };
    let banner = json!({"type": "context", "elements": [{"type": "mrkdwn", "text": DRILL_BANNER}]});
    let blocks = match msg.blocks {
        Some(Value::Array(mut blocks)) => {
            let marked = blocks
                .first()
                .is_some_and(|b| b.to_string().contains(DRILL_BANNER));
            if !marked {
                blocks.insert(0, banner);
            }
            Value::Array(blocks)
        }
        Some(other) => other,
        None => {
            // A plain-text message: the text becomes a section under the banner.
            let body = text.strip_prefix(DRILL_PREFIX).unwrap_or(&text).to_string();
            json!([banner, {"type": "section", "text": {"type": "mrkdwn", "text": body}}])
        }
    };
    Outgoing {
        text,
        blocks: Some(blocks),
    }
}

/// The synthetic alarm's post in a drill's channel: the alarm as a real one would be shown,
/// the route's runbook, a placeholder where the graph would be, and that AWS Health is not
/// asked during a drill.
pub fn drill_first_post(
    alarm: &crate::domain::alarm::Alarm,
    route: &crate::domain::routing::Route,
    real_case: bool,
) -> Outgoing {
    let shown = alarm_first_post(alarm, route);
    let mut blocks = match shown.blocks {
        Some(Value::Array(b)) => b,
        _ => Vec::new(),
    };
    // The console link would point at an alarm that does not exist.
    blocks.pop();
    if let Some(first) = blocks.first_mut() {
        *first = json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            ":rotating_light: Synthetic alarm {} is in *ALARM* (route {})",
            alarm_name(alarm),
            escape_inline(&route.name)
        )}});
    }
    let runbook = match &route.runbook {
        Some(url) => format!("<{url}|Runbook>"),
        None => "No runbook for this route".to_string(),
    };
    let case = if real_case {
        "An AWS Support case opened in this drill is *real* (started with --real-case)."
    } else {
        "An AWS Support case is a *dry run*: warroom shows the case it would open and does not call AWS."
    };
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": runbook}]}));
    blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": ":chart_with_upwards_trend: _Graph placeholder: a drill's alarm has no metric to draw. In a real incident the alarm's graph around the breach appears here._"}}));
    blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(":stethoscope: _drill: AWS Health not checked._ {case}")}}));
    with_drill_banner(Outgoing {
        text: format!(
            "Synthetic alarm {} is in ALARM ({})",
            escape_inline(&truncate(&alarm.name, 255)),
            escape_inline(&route.name)
        ),
        blocks: Some(Value::Array(blocks)),
    })
}

/// Reply to whoever started a drill (ephemeral), pointing at its channel.
pub fn drill_started(
    record: &IncidentRecord,
    route: &crate::domain::routing::Route,
    real_case: bool,
) -> Outgoing {
    let where_ = record
        .channel_id
        .as_deref()
        .map(mrkdwn::channel_link)
        .unwrap_or_else(|| format!("#{}", escape(&record.channel_name)));
    let case = if real_case {
        "AWS Support cases are real in this drill"
    } else {
        "AWS Support cases are dry runs"
    };
    Outgoing::text(format!(
        ":construction: DRILL {} started on route {} ({}): {where_}. {case}; resolve it for the scorecard.",
        record.incident.id,
        escape_inline(&route.name),
        record.incident.severity
    ))
}

/// The scorecard posted when a drill is resolved: each milestone against its target, and
/// the previous drills on the same route.
pub fn drill_scorecard(
    card: &crate::domain::drill::Scorecard,
    previous: &[crate::domain::drill::Scorecard],
) -> Outgoing {
    use crate::domain::drill::took_text;
    let mut lines = vec![format!(
        "*Scorecard of {} on route {}*: {} of {} targets met",
        card.drill,
        escape_inline(&card.route),
        card.met(),
        card.lines.len()
    )];
    for l in &card.lines {
        let mark = if l.met() { ":white_check_mark:" } else { ":x:" };
        let before: Vec<String> = previous
            .iter()
            .map(|p| {
                let took = p.line(l.milestone).and_then(|pl| pl.took);
                format!("{} {}", p.drill, took_text(took))
            })
            .collect();
        let compare = if before.is_empty() {
            String::new()
        } else {
            format!(" · before: {}", before.join(", "))
        };
        lines.push(format!(
            "{mark} {}: *{}* (target {}){compare}",
            l.milestone.label(),
            took_text(l.took),
            took_text(Some(l.target))
        ));
    }
    if previous.is_empty() {
        lines.push(
            "_The first scored drill on this route: the next one compares with it._".to_string(),
        );
    }
    let text = format!(
        "Drill scorecard: {} of {} targets met",
        card.met(),
        card.lines.len()
    );
    with_drill_banner(Outgoing {
        text,
        blocks: Some(
            json!([{"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}}]),
        ),
    })
}

/// The visible notice in the channel for a change someone made.
pub fn change_notice(
    actor: &UserId,
    before: &Incident,
    after: &Incident,
    change: &Change,
) -> Outgoing {
    let who = user_mention(actor);
    let note_suffix = |note: &Option<String>| {
        note.as_deref()
            .map(|n| format!(": {}", escape(&truncate(n, MAX_ECHO_CHARS))))
            .unwrap_or_default()
    };
    let text = match change {
        Change::Status { to, note } if before.status == Status::Resolved && to.is_open() => {
            format!(
                ":leftwards_arrow_with_hook: {who} reopened the incident as *{to}*{}",
                note_suffix(note)
            )
        }
        Change::Status {
            to: Status::Resolved,
            note,
        }
        | Change::Resolve { note } => format!(
            ":white_check_mark: {who} resolved the incident after {}{}",
            format_duration(after.resolved_at.unwrap_or(after.opened_at) - after.opened_at),
            note_suffix(note)
        ),
        Change::Status { to, note } => format!(
            "{} {who} changed status: {} → *{to}*{}",
            status_emoji(*to),
            before.status,
            note_suffix(note)
        ),
        Change::Severity(s) => format!(
            ":rotating_light: {who} changed severity: {} → *{s}*",
            before.severity
        ),
        Change::Lead(l) => match &before.lead {
            Some(old) => format!(
                ":crown: {who} handed the lead from {} to {}",
                user_mention(old),
                user_mention(l)
            ),
            None => format!(":crown: {who} made {} the lead", user_mention(l)),
        },
    };
    if after.status == Status::Resolved && before.status != Status::Resolved {
        return with_postmortem_button(text, after);
    }
    Outgoing::text(text)
}

/// `action_id` of the "Draft the postmortem" button on the resolve notice.
pub const DRAFT_POSTMORTEM_ACTION: &str = crate::domain::authorization::control::DRAFT_POSTMORTEM;

/// The resolve notice: the text, and a button that drafts the postmortem.
fn with_postmortem_button(text: String, incident: &Incident) -> Outgoing {
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "elements": [{
            "type": "button",
            "action_id": DRAFT_POSTMORTEM_ACTION,
            "text": {"type": "plain_text", "text": "Draft the postmortem"},
            "value": incident.id.0.to_string(),
        }]},
    ]);
    Outgoing {
        text,
        blocks: Some(blocks),
    }
}

/// `/incident action …` as posted in the channel.
pub fn action_added(actor: &UserId, item: &ActionItem) -> Outgoing {
    let owner = item
        .owner
        .as_ref()
        .map(|o| format!(" — owner {}", user_mention(o)))
        .unwrap_or_default();
    Outgoing::text(format!(
        ":clipboard: {} added action item {}: {}{owner}",
        user_mention(actor),
        item.number,
        escape(&truncate(&item.text, MAX_ECHO_CHARS))
    ))
}

/// `/incident action done <n>` as posted in the channel.
pub fn action_closed(actor: &UserId, item: &ActionItem) -> Outgoing {
    Outgoing::text(format!(
        ":ballot_box_with_check: {} closed action item {}: {}",
        user_mention(actor),
        item.number,
        escape(&truncate(&item.text, MAX_ECHO_CHARS))
    ))
}

/// For the caller only: that item was closed before.
pub fn action_already_done(item: &ActionItem) -> Outgoing {
    let by = item
        .done_by
        .as_deref()
        .map(|u| format!(" by {}", mention_str(u)))
        .unwrap_or_default();
    let when = item
        .done_at
        .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    Outgoing::text(format!(
        ":information_source: action item {} is already done (closed{by}{when})",
        item.number
    ))
}

/// `/incident actions`: for the caller only.
pub fn action_list(record: &IncidentRecord, items: &[ActionItem]) -> Outgoing {
    if items.is_empty() {
        return Outgoing::text(format!(
            "Incident {} has no action items yet; add one with `/incident action &lt;text&gt; @owner`",
            record.incident.id
        ));
    }
    let open = items.iter().filter(|i| !i.is_done()).count();
    let mut lines = vec![format!(
        "*Action items of incident {}: {}* ({} open, {} done)",
        record.incident.id,
        title(&record.incident),
        open,
        items.len() - open
    )];
    for i in items {
        let owner = i
            .owner
            .as_ref()
            .map(user_mention)
            .unwrap_or_else(|| "_no owner_".to_string());
        let text = escape(&truncate(&i.text.replace('\n', " "), 300));
        lines.push(if i.is_done() {
            format!("{}. ~{text}~ — {owner} — done", i.number)
        } else {
            format!("{}. {text} — {owner} — open", i.number)
        });
    }
    Outgoing::text(lines.join("\n"))
}

/// The figures of a postmortem draft that its Slack summary shows. Plain numbers and
/// text, so the renderer needs no import of the postmortem model (which sits above the
/// Slack adapter): `postmortem` converts its `PostmortemData` into these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmortemFigures {
    /// The severity the draft records now, and the highest it reached.
    pub severity: String,
    pub peak_severity: String,
    /// Timeline items of kind `event`.
    pub key_events: usize,
    /// Participants who wrote at least one message.
    pub people: usize,
    pub gaps: usize,
    pub gap_minutes: i64,
    pub actions: usize,
    pub actions_open: usize,
    /// Messages in the appendix.
    pub messages: usize,
}

/// The message the postmortem draft file is shared with.
pub fn postmortem_summary(
    record: &IncidentRecord,
    data: impl Into<PostmortemFigures>,
    requested_by: &UserId,
) -> Outgoing {
    let data: PostmortemFigures = data.into();
    let i = &record.incident;
    let state = match i.resolved_at {
        Some(r) => format!("resolved after {}", format_duration(r - i.opened_at)),
        None => format!("still {}", i.status),
    };
    let (key_events, people) = (data.key_events, data.people);
    let severity = if data.peak_severity != data.severity {
        format!("{} (peak {})", i.severity, data.peak_severity)
    } else {
        i.severity.to_string()
    };
    Outgoing::text(format!(
        "{}:memo: Postmortem draft for incident {}: *{}*, requested by {}.\n{severity}, {state}. {key_events} key events, {} quiet spell(s) over {}m, {} action item(s) ({} open), {} message(s) from {people} people.\nDownload it, fill in the ✏️ parts, and share it.",
        drill_prefix(i.id),
        i.id,
        title(i),
        user_mention(requested_by),
        data.gaps,
        data.gap_minutes,
        data.actions,
        data.actions_open,
        data.messages,
    ))
}

/// A `/incident note` as posted in the channel.
pub fn note_notice(actor: &UserId, text: &str, at: DateTime<Utc>, backdated: bool) -> Outgoing {
    let stamp = if backdated {
        format!(" (backdated to {})", at.format("%H:%M UTC"))
    } else {
        String::new()
    };
    Outgoing::text(format!(
        ":memo: {} added a timeline note{stamp}: {}",
        user_mention(actor),
        escape(&truncate(text, MAX_ECHO_CHARS))
    ))
}

/// Reply to the declarer (ephemeral), pointing at the new channel.
pub fn declared_reply(record: &IncidentRecord) -> Outgoing {
    let where_ = record
        .channel_id
        .as_deref()
        .map(mrkdwn::channel_link)
        .unwrap_or_else(|| format!("#{}", escape(&record.channel_name)));
    Outgoing::text(format!(
        "Incident {} declared ({}): {}",
        record.incident.id, record.incident.severity, where_
    ))
}

/// A usage error, for the caller only.
pub fn usage_error(err: &UsageError) -> Outgoing {
    Outgoing::text(format!(":warning: {}", escape(&err.to_string())))
}

/// Any refusal or failure explained to the caller only.
pub fn problem(text: &str) -> Outgoing {
    Outgoing::text(format!(":warning: {}", escape(text)))
}

/// Something failed on warroom's side: what it means for the caller, and the reference the
/// operators find the details under in the log. Never the error itself.
pub fn internal_error(what: &str, reference: &str) -> Outgoing {
    Outgoing::text(format!(
        ":warning: {} (reference `{}`; the details are in warroom's log)",
        escape(what),
        escape_inline(reference)
    ))
}

/// For the status channel: an event was set aside after it kept failing.
pub fn event_set_aside(inbox_id: i64, what: &str, reference: &str) -> Outgoing {
    Outgoing::text(format!(
        ":warning: warroom set aside {what} after it kept failing (reference `{}`); later events go on. \
         The details are in warroom's log. `warroom inbox --failed` lists it; `warroom inbox --retry {inbox_id}` replays it once the cause is fixed.",
        escape_inline(reference)
    ))
}

pub fn help() -> Outgoing {
    Outgoing::text(escape(crate::domain::command::USAGE))
}

/// Open incidents and their last stakeholder update, as shown by `/incident list`,
/// the periodic summary and App Home.
pub struct Overview<'a> {
    pub open: &'a [IncidentRecord],
    pub last_updates: &'a HashMap<IncidentId, DateTime<Utc>>,
    /// The AWS Support case of open incidents that have one.
    pub aws_cases: &'a HashMap<IncidentId, CaseGlance>,
    pub now: DateTime<Utc>,
    /// Who reads it: private incidents this viewer may not see are one redacted line.
    pub viewer: &'a Viewer,
}

impl Overview<'_> {
    /// Open real incidents (or open drills), worst severity first, then oldest first.
    fn sorted(&self, drills: bool) -> Vec<&IncidentRecord> {
        let mut open: Vec<&IncidentRecord> = self
            .open
            .iter()
            .filter(|r| r.incident.id.is_drill() == drills)
            .collect();
        open.sort_by_key(|r| (r.incident.severity, r.incident.opened_at, r.incident.id));
        open
    }

    /// One line per open incident: severity, title, status, age, lead, time since the last
    /// update, the AWS case and whether it waits for AWS, channel.
    fn open_lines(&self, drills: bool) -> Vec<String> {
        self.sorted(drills)
            .into_iter()
            .map(|r| {
                if let Sight::Redacted(redacted) = self.viewer.sight(r) {
                    return redacted_item(&redacted);
                }
                let i = &r.incident;
                let lead = i
                    .lead
                    .as_ref()
                    .map(|l| format!("lead {}", user_mention(l)))
                    .unwrap_or_else(|| "no lead yet".into());
                let update = match self.last_updates.get(&i.id) {
                    Some(t) => format!("last update {} ago", format_duration(self.now - *t)),
                    None => "no update yet".to_string(),
                };
                let case = self
                    .aws_cases
                    .get(&i.id)
                    .map(|c| format!(" · {}", case_glance(c, self.now)))
                    .unwrap_or_default();
                format!(
                    "• *{}* {} {}{} — {} {} · open {} · {} · {}{} · {}",
                    i.severity,
                    i.id,
                    title(i),
                    kind(r),
                    status_emoji(i.status),
                    i.status,
                    format_duration(self.now - i.opened_at),
                    lead,
                    update,
                    case,
                    place(r)
                )
            })
            .collect()
    }
}

/// "AWS case 1234 (urgent) waiting on AWS for 1h 5m": AWS's silence is what people miss.
fn case_glance(c: &CaseGlance, now: DateTime<Utc>) -> String {
    let case = format!("AWS case {} ({})", escape(&c.display_id), c.severity);
    match (c.resolved, c.awaiting_aws_since) {
        (true, _) => format!("{case} resolved"),
        (false, Some(since)) => format!(
            ":hourglass: {case} waiting on AWS for {}",
            format_duration(now - since)
        ),
        (false, None) => format!("{case} answered by AWS"),
    }
}

/// " _(security)_" after the title of an incident opened with a type, else nothing.
fn kind(r: &IncidentRecord) -> String {
    r.incident_type
        .as_deref()
        .map(|t| format!(" _({})_", escape_inline(t)))
        .unwrap_or_default()
}

fn place(r: &IncidentRecord) -> String {
    r.channel_id
        .as_deref()
        .map(mrkdwn::channel_link)
        .unwrap_or_else(|| "_channel pending_".to_string())
}

impl Overview<'_> {
    /// How many open real incidents (`false`) or drills (`true`).
    fn count(&self, drills: bool) -> usize {
        self.open
            .iter()
            .filter(|r| r.incident.id.is_drill() == drills)
            .count()
    }
}

/// The drills among `records`, and the real incidents.
fn split_drills(records: &[IncidentRecord]) -> (Vec<IncidentRecord>, Vec<IncidentRecord>) {
    records
        .iter()
        .cloned()
        .partition(|r| r.incident.id.is_drill())
}

/// The "Drills" lines of a list, summary or Home tab: open drills, then those resolved.
fn drill_lines(overview: &Overview<'_>, resolved: &[IncidentRecord]) -> Vec<String> {
    let open = overview.count(true);
    if open == 0 && resolved.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!(
        ":construction: *Drills* (rehearsals, not counted as incidents): {open} open, {} resolved",
        resolved.len()
    )];
    lines.extend(overview.open_lines(true));
    lines.extend(resolved_lines(resolved, overview.viewer));
    lines
}

fn resolved_lines(resolved: &[IncidentRecord], viewer: &Viewer) -> Vec<String> {
    resolved
        .iter()
        .map(|r| {
            if let Sight::Redacted(redacted) = viewer.sight(r) {
                return format!("{}, resolved", redacted_item(&redacted));
            }
            let i = &r.incident;
            let took = i
                .resolved_at
                .map(|t| format_duration(t - i.opened_at))
                .unwrap_or_default();
            format!(
                "• *{}* {} {}{} — resolved after {} · {}",
                i.severity,
                i.id,
                title(i),
                kind(r),
                took,
                place(r)
            )
        })
        .collect()
}

/// Sections of at most ~2,900 characters (Slack's section text limit is 3,000).
fn sections(lines: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut chunk = String::new();
    for line in lines {
        if !chunk.is_empty() && chunk.len() + line.len() + 1 > 2900 {
            out.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": chunk}}));
            chunk = String::new();
        }
        if !chunk.is_empty() {
            chunk.push('\n');
        }
        chunk.push_str(&truncate(line, 2900));
    }
    if !chunk.is_empty() {
        out.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": chunk}}));
    }
    out
}

/// `/incident list`: open incidents, worst first, to the caller only; open drills apart.
pub fn incident_list(overview: &Overview<'_>) -> Outgoing {
    let open = overview.count(false);
    let mut lines = if open == 0 {
        vec!["No open incidents. :tada:".to_string()]
    } else {
        let mut lines = vec![format!("*{open} open incident(s)*")];
        lines.extend(overview.open_lines(false));
        lines
    };
    let drills = drill_lines(overview, &[]);
    if !drills.is_empty() {
        lines.push(String::new());
        lines.extend(drills);
    }
    Outgoing::text(lines.join("\n"))
}

/// The periodic summary for the status channel and managers' DMs. Real incidents are
/// counted in the headline; drills have a section of their own.
pub fn summary(overview: &Overview<'_>, resolved_since: &[IncidentRecord]) -> Outgoing {
    let (resolved_drills, resolved_since) = split_drills(resolved_since);
    let (open, resolved) = (overview.count(false), resolved_since.len());
    let headline = match (open, resolved) {
        (0, 0) => ":white_check_mark: *Incident summary*: no open incidents, and none resolved since the last summary".to_string(),
        _ => format!(":bar_chart: *Incident summary*: {open} open, {resolved} resolved since the last summary"),
    };
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": headline}})];
    if open > 0 {
        let mut lines = vec!["*Open*".to_string()];
        lines.extend(overview.open_lines(false));
        blocks.extend(sections(&lines));
    }
    if resolved > 0 {
        let mut lines = vec!["*Resolved since the last summary*".to_string()];
        lines.extend(resolved_lines(&resolved_since, overview.viewer));
        blocks.extend(sections(&lines));
    }
    let drills = drill_lines(overview, &resolved_drills);
    if !drills.is_empty() {
        blocks.push(json!({"type": "divider"}));
        blocks.extend(sections(&drills));
    }
    Outgoing {
        text: headline,
        blocks: Some(Value::Array(blocks)),
    }
}

/// The App Home tab: open incidents and the last resolved ones; drills in a section of
/// their own.
pub fn home(overview: &Overview<'_>, recent: &[IncidentRecord]) -> Value {
    let (recent_drills, recent) = split_drills(recent);
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": "Incidents"}})];
    let mut open = vec![format!("*Open ({})*", overview.count(false))];
    if overview.count(false) == 0 {
        open.push("No open incidents. :tada:".to_string());
    }
    open.extend(overview.open_lines(false));
    blocks.extend(sections(&open));
    blocks.push(json!({"type": "divider"}));
    let mut resolved = vec![format!("*Recently resolved ({})*", recent.len())];
    if recent.is_empty() {
        resolved.push("Nothing resolved yet.".to_string());
    }
    resolved.extend(resolved_lines(&recent, overview.viewer));
    blocks.extend(sections(&resolved));
    let drills = drill_lines(overview, &recent_drills);
    if !drills.is_empty() {
        blocks.push(json!({"type": "divider"}));
        blocks.extend(sections(&drills));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("As of {}. `/incident help` lists the commands.", when(overview.now))}]}));
    blocks.truncate(100);
    Value::Array(blocks)
}

/// A stakeholder update, for the incident channel and the status channel.
pub fn stakeholder_update(
    record: &IncidentRecord,
    actor: &UserId,
    text: &str,
    now: DateTime<Utc>,
) -> Outgoing {
    let i = &record.incident;
    let context = format!(
        "*{}* · {} {} · open {} · {}",
        i.severity,
        status_emoji(i.status),
        i.status,
        format_duration(now - i.opened_at),
        place(record)
    );
    let head = format!(":loudspeaker: *Update on incident {}: {}*", i.id, title(i));
    let body = escape(&truncate(text, 2800));
    let update = Outgoing {
        text: format!("Update on incident {}: {}", i.id, body),
        blocks: Some(json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("{head}\n{context}")}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Posted by {}", user_mention(actor))}]}
        ])),
    };
    if i.id.is_drill() {
        with_drill_banner(update)
    } else {
        update
    }
}

/// The one-line notice in the status channel for a status or severity change.
pub fn status_channel_notice(
    actor: &UserId,
    before: &Incident,
    after: &IncidentRecord,
) -> Outgoing {
    let a = &after.incident;
    let what = if before.status != a.status {
        if a.status == Status::Resolved {
            format!(
                "resolved after {}",
                format_duration(a.resolved_at.unwrap_or(a.opened_at) - a.opened_at)
            )
        } else {
            format!("status {} → *{}*", before.status, a.status)
        }
    } else {
        format!("severity {} → *{}*", before.severity, a.severity)
    };
    // The status channel is shared: a private incident is the redacted line and what
    // changed, nothing more (no id, title, actor or channel).
    if let Sight::Redacted(redacted) = Viewer::public().sight(after) {
        return Outgoing::text(format!(":lock: {} — {what}", redacted_line(&redacted)));
    }
    Outgoing::text(format!(
        "{}{} Incident {} {} ({}): {} by {} · {}",
        drill_prefix(a.id),
        status_emoji(a.status),
        a.id,
        title(a),
        a.severity,
        what,
        user_mention(actor),
        place(after)
    ))
}

fn entry_line(e: &TimelineEntry) -> String {
    let who = e
        .actor
        .as_deref()
        .map(mention_str)
        .unwrap_or_else(|| "warroom".into());
    let mut text = escape(&truncate(&e.text.replace('\n', " "), 300));
    if e.deleted_at.is_some() {
        text = format!("~{text}~ _(deleted)_");
    } else if e.edited_at.is_some() {
        text.push_str(" _(edited)_");
    }
    let marker = if e.key_event && e.kind == EntryKind::Message {
        " :pushpin:"
    } else {
        ""
    };
    let kind = match e.kind {
        EntryKind::Message if e.thread_ts.is_some() => "reply".to_string(),
        EntryKind::Message => "message".to_string(),
        k => k.as_str().replace('_', " "),
    };
    format!(
        "`{}` {kind}{marker} — {who}: {text}",
        e.occurred_at.format("%m-%d %H:%M")
    )
}

/// `/incident timeline`: the most recent entries, for the caller only.
pub fn timeline(record: &IncidentRecord, entries: &[TimelineEntry]) -> Outgoing {
    let mut lines = vec![format!(
        "*Timeline of incident {}: {}* ({} entries, times UTC)",
        record.incident.id,
        title(&record.incident),
        entries.len()
    )];
    let skip = entries.len().saturating_sub(MAX_TIMELINE_LINES);
    if skip > 0 {
        lines.push(format!(
            "_… {skip} earlier entries; `warroom timeline {}` prints them all_",
            record.incident.id.0
        ));
    }
    lines.extend(entries.iter().skip(skip).map(entry_line));
    Outgoing::text(lines.join("\n"))
}

/// Plain-text rendering of Block Kit / mrkdwn for transcripts (demo, logs): keeps the words,
/// drops the markup.
pub fn plain_text(text: &str, blocks: Option<&Value>) -> String {
    let mut parts = Vec::new();
    if let Some(Value::Array(blocks)) = blocks {
        for b in blocks {
            if let Some(t) = b.pointer("/text/text").and_then(Value::as_str) {
                parts.push(t.to_string());
            }
            if let Some(Value::Array(fields)) = b.get("fields") {
                let f: Vec<String> = fields
                    .iter()
                    .filter_map(|f| f.get("text").and_then(Value::as_str))
                    .map(|t| t.replace('\n', ": "))
                    .collect();
                parts.push(f.join(" | "));
            }
            if let Some(Value::Array(els)) = b.get("elements") {
                for e in els {
                    if let Some(t) = e.get("text").and_then(Value::as_str) {
                        parts.push(t.to_string());
                    }
                }
            }
        }
    }
    if parts.is_empty() {
        parts.push(text.to_string());
    }
    unformat(&parts.join("\n"))
}

/// Undo mrkdwn for display: `<!date^…|fallback>` → fallback, `<@U1>` → `@U1`,
/// `<#C1>` → `#C1`, entities back to characters.
fn unformat(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + end];
        let shown = match inner.split_once('|') {
            Some((_, label)) => label.to_string(),
            None if inner.starts_with('@') || inner.starts_with('#') => inner.to_string(),
            None if inner.starts_with('!') => format!("@{}", &inner[1..]),
            None => inner.to_string(),
        };
        out.push_str(&shown);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_without_a_lead_says_so_once() {
        use crate::domain::Severity;
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-20T13:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let record = |id: i64, lead: Option<&str>| IncidentRecord {
            private: false,
            incident: Incident {
                id: IncidentId(id),
                title: format!("incident {id}"),
                severity: Severity::Sev2,
                status: Status::Investigating,
                lead: lead.map(|l| UserId::parse(l).unwrap()),
                declared_by: UserId::parse("U0WARBOT").unwrap(),
                opened_at: t0,
                resolved_at: None,
            },
            channel_name: format!("inc-{id}"),
            channel_id: Some(crate::domain::ChannelId::new(format!("C{id}"))),
            header_ts: None,
            header_pinned: true,
            members_invited: true,
            incident_type: None,
        };
        let open = [record(1, None), record(2, Some("U0BOB"))];
        let lines = Overview {
            open: &open,
            last_updates: &HashMap::new(),
            aws_cases: &HashMap::new(),
            now: t0 + chrono::Duration::minutes(30),
            viewer: &Viewer::public(),
        }
        .open_lines(false);
        assert!(lines[0].contains(" · no lead yet · "), "{}", lines[0]);
        assert!(!lines[0].contains("lead no lead"), "{}", lines[0]);
        assert!(lines[1].contains(" · lead <@U0BOB> · "), "{}", lines[1]);
    }

    fn private_record(title: &str) -> IncidentRecord {
        use crate::domain::Severity;
        use chrono::TimeZone;
        let lead = UserId::parse("U0LEAD").unwrap();
        IncidentRecord {
            incident: Incident {
                id: IncidentId(7),
                title: title.to_string(),
                severity: Severity::Sev2,
                status: Status::Investigating,
                lead: Some(lead.clone()),
                declared_by: lead,
                opened_at: Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap(),
                resolved_at: None,
            },
            channel_name: "inc-20261203-private".into(),
            channel_id: Some(crate::domain::ChannelId::new("C0PRIV")),
            header_ts: None,
            header_pinned: true,
            members_invited: true,
            private: true,
            incident_type: None,
        }
    }

    #[test]
    fn a_private_incident_is_one_redacted_line_for_those_who_may_not_see_it() {
        let open = [private_record("Payroll <leak> & more")];
        let now = open[0].incident.opened_at + chrono::Duration::minutes(5);
        let (updates, cases) = (HashMap::new(), HashMap::new());
        let overview = |viewer| Overview {
            open: &open,
            last_updates: &updates,
            aws_cases: &cases,
            now,
            viewer,
        };
        let public = Viewer::public();
        let lines = overview(&public).open_lines(false);
        assert_eq!(
            lines,
            ["• :lock: a private SEV2 incident, lead <@U0LEAD>".to_string()]
        );
        let summary = summary(&overview(&public), &open)
            .blocks
            .unwrap()
            .to_string();
        assert!(!summary.contains("Payroll"), "{summary}");
        assert!(!summary.contains("C0PRIV"), "{summary}");
        let home_view = home(&overview(&public), &[]).to_string();
        assert!(!home_view.contains("Payroll"), "{home_view}");
        // A member sees it, escaped.
        let member = Viewer::person(false, [IncidentId(7)]);
        let lines = overview(&member).open_lines(false);
        assert!(
            lines[0].contains("Payroll &lt;leak&gt; &amp; more"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn the_status_channel_notice_of_a_private_incident_has_no_title_id_or_channel() {
        let before = private_record("Payroll leak");
        let mut after = before.clone();
        after.incident.severity = crate::domain::Severity::Sev1;
        let actor = UserId::parse("U0ACTOR").unwrap();
        let msg = status_channel_notice(&actor, &before.incident, &after);
        assert_eq!(
            msg.text,
            ":lock: a private SEV1 incident, lead <@U0LEAD> — severity SEV2 → *SEV1*"
        );
        // The header in its own channel says it is private.
        let header = header(&before, &Roles::default(), before.incident.opened_at);
        assert!(header.text.contains("private"), "{}", header.text);
        assert!(header.text.contains("Payroll leak"), "{}", header.text);
    }

    #[test]
    fn unformat_reads_like_slack_shows_it() {
        assert_eq!(
            unformat("<@U1> at <!date^1^{time}|13:50 UTC> in <#C1> &lt;!channel&gt;"),
            "@U1 at 13:50 UTC in #C1 <!channel>"
        );
    }
}

// --- CloudWatch alarms and AWS Health (issue 3) ---

/// Longest alarm description or state reason shown, in characters.
const MAX_ALARM_TEXT: usize = 1500;
/// Alarm names listed in one "joined" post before "and N more".
const MAX_JOINED_NAMES: usize = 25;

fn alarm_name(a: &crate::domain::alarm::Alarm) -> String {
    format!("*{}*", escape_inline(&truncate(&a.name, 255)))
}

/// The first post of an alarm-opened war room: what fired, where, why, and where to look.
pub fn alarm_first_post(
    alarm: &crate::domain::alarm::Alarm,
    route: &crate::domain::routing::Route,
) -> Outgoing {
    use crate::domain::alarm::format_number;
    let field = |label: &str, value: String| json!({"type": "mrkdwn", "text": format!("*{label}*\n{value}")});
    let none = || "_none_".to_string();
    let mut fields = vec![
        field(
            "Metric",
            alarm
                .condition()
                .map(|c| escape_inline(&truncate(&c, 300)))
                .unwrap_or_else(none),
        ),
        field(
            "Namespace",
            alarm
                .namespace
                .as_deref()
                .map(escape_inline)
                .unwrap_or_else(none),
        ),
        field(
            "Dimensions",
            if alarm.dimensions.is_empty() {
                none()
            } else {
                escape_inline(&truncate(&alarm.dimensions_text(), 300))
            },
        ),
        field(
            "Threshold",
            match (alarm.comparison_symbol(), alarm.threshold) {
                (Some(op), Some(t)) => escape_inline(&format!("{op} {}", format_number(t))),
                _ => none(),
            },
        ),
        field(
            "Region",
            match alarm.account() {
                Some(account) => format!(
                    "{} (account {})",
                    escape_inline(&alarm.region),
                    escape_inline(account)
                ),
                None => escape_inline(&alarm.region),
            },
        ),
        field("In ALARM since", when(alarm.state_updated_at)),
    ];
    fields.push(field(
        "Route",
        format!("{} ({})", escape_inline(&route.name), route.severity),
    ));
    let description = alarm
        .description
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .map(|d| escape(&truncate(d, MAX_ALARM_TEXT)))
        .unwrap_or_else(|| "_The alarm has no description._".to_string());
    let reason = alarm
        .state_reason
        .as_deref()
        .map(|r| escape(&truncate(r, MAX_ALARM_TEXT)))
        .unwrap_or_else(none);
    // The console opens in whichever account the reader is signed in to: say which one the
    // alarm is in.
    let mut links = vec![match alarm.account() {
        Some(account) => format!(
            "<{}|Open the alarm in the CloudWatch console> (account {})",
            alarm.console_url(),
            escape_inline(account)
        ),
        None => format!(
            "<{}|Open the alarm in the CloudWatch console>",
            alarm.console_url()
        ),
    }];
    match &route.runbook {
        Some(url) => links.push(format!("<{url}|Runbook>")),
        None => links.push("No runbook for this route".to_string()),
    }
    let text = format!(
        "CloudWatch alarm {} is in ALARM ({}): {}",
        escape_inline(&truncate(&alarm.name, 255)),
        escape_inline(&alarm.region),
        escape_inline(&truncate(alarm.state_reason.as_deref().unwrap_or(""), 300))
    );
    Outgoing {
        text,
        blocks: Some(json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": format!(":rotating_light: CloudWatch alarm {} is in *ALARM*", alarm_name(alarm))}},
            {"type": "section", "text": {"type": "mrkdwn", "text": description}},
            {"type": "section", "fields": fields},
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*State reason*\n{reason}")}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": links.join("  ·  ")}]}
        ])),
    }
}

/// Alarms that joined the incident since the last post (same route or the same alarm again).
pub fn alarms_joined(alarms: &[&crate::domain::alarm::Alarm], repeats: usize) -> Outgoing {
    let mut lines: Vec<String> = alarms
        .iter()
        .take(MAX_JOINED_NAMES)
        .map(|a| {
            format!(
                "• {} ({}, {}): {}",
                alarm_name(a),
                escape_inline(&a.region),
                when(a.state_updated_at),
                escape_inline(&truncate(a.state_reason.as_deref().unwrap_or(""), 200))
            )
        })
        .collect();
    if alarms.len() > MAX_JOINED_NAMES {
        lines.push(format!(
            "…and {} more (all on the timeline: `/incident timeline`)",
            alarms.len() - MAX_JOINED_NAMES
        ));
    }
    let head = match (alarms.len(), repeats) {
        (1, 1) => ":repeat: This alarm is in ALARM again:".to_string(),
        (1, _) => ":heavy_plus_sign: Another alarm fired and joined this incident:".to_string(),
        (n, 0) => format!(":heavy_plus_sign: {n} more alarms fired and joined this incident:"),
        (n, r) => format!(
            ":heavy_plus_sign: {n} alarms fired ({r} of them again) and joined this incident:"
        ),
    };
    Outgoing::text(format!("{head}\n{}", lines.join("\n")))
}

/// An alarm of the incident left ALARM. The incident stays open: people decide.
pub fn alarm_recovered(alarm: &crate::domain::alarm::Alarm) -> Outgoing {
    use crate::domain::alarm::AlarmState;
    let (emoji, what) = match alarm.state {
        AlarmState::Ok => (":large_green_circle:", "recovered (OK)".to_string()),
        other => (":grey_question:", format!("went to {}", other.as_str())),
    };
    Outgoing::text(format!(
        "{emoji} {} {what} at {}: {}. Consider `/incident status monitoring`; the incident stays open until someone resolves it.",
        alarm_name(alarm),
        when(alarm.state_updated_at),
        escape_inline(&truncate(alarm.state_reason.as_deref().unwrap_or("no reason given"), 300))
    ))
}

/// The message the alarm graph is shared with.
pub fn alarm_graph_comment(alarm: &crate::domain::alarm::Alarm) -> String {
    format!(
        ":chart_with_upwards_trend: {} around the breach (threshold as a horizontal line)",
        alarm_name(alarm)
    )
}

/// Said instead of the graph when it cannot be had; the incident goes on without it.
pub fn alarm_graph_unavailable(alarm: &crate::domain::alarm::Alarm, reason: &str) -> Outgoing {
    Outgoing::text(format!(
        ":chart_with_upwards_trend: The graph of {} is unavailable: {}",
        alarm_name(alarm),
        escape(&truncate(reason, 300))
    ))
}

fn health_line(e: &crate::domain::health_service::HealthEvent) -> String {
    let mut line = format!(
        "• *{}* ({}",
        escape_inline(&e.event_type),
        escape_inline(&e.status)
    );
    if let Some(t) = e.started_at {
        line.push_str(&format!(", since {}", when(t)));
    }
    if let Some(t) = e.last_updated_at {
        line.push_str(&format!(", updated {}", when(t)));
    }
    line.push(')');
    line
}

/// What AWS Health reports for the alarming service: events (new or updated), or none.
pub fn health_report(
    service: &str,
    region: &str,
    events: &[crate::domain::health_service::HealthEvent],
    recheck: bool,
) -> Outgoing {
    let (service, region) = (escape_inline(service), escape_inline(region));
    if events.is_empty() {
        return Outgoing::text(format!(
            ":white_check_mark: AWS Health reports no open issue for {service} in {region}."
        ));
    }
    let head = if recheck {
        format!(":warning: AWS Health has news for {service} in {region}:")
    } else {
        format!(":warning: AWS Health reports an issue for {service} in {region}:")
    };
    let lines: Vec<String> = events.iter().map(health_line).collect();
    Outgoing::text(format!("{head}\n{}", lines.join("\n")))
}

/// An AWS Health event pushed through the `[events]` queue for a war room's service and
/// region, with the account that sent it.
pub fn health_pushed(
    account: &str,
    service: &str,
    region: &str,
    events: &[crate::domain::health_service::HealthEvent],
) -> Outgoing {
    let (account, service, region) = (
        escape_inline(account),
        escape_inline(service),
        escape_inline(region),
    );
    let lines: Vec<String> = events.iter().map(health_line).collect();
    Outgoing::text(format!(
        ":warning: AWS Health event for {service} in {region} (account {account}):\n{}",
        lines.join("\n")
    ))
}

/// Said once, the first time the Health API refuses for lack of a support plan.
pub fn health_unavailable() -> Outgoing {
    Outgoing::text(
        ":information_source: AWS Health cannot be checked: its API needs a Business, Enterprise On-Ramp or Enterprise support plan, which this AWS account does not have. warroom will not ask it again.",
    )
}

#[cfg(test)]
mod alarm_tests {
    use super::*;
    use crate::domain::routing::Route;

    #[test]
    fn alarm_text_never_pings_or_links() {
        let mut alarm = crate::domain::alarm::tests::cpu_alarm("web <!here> cpu");
        alarm.description = Some("<!channel> look at <https://evil|click>".into());
        alarm.state_reason = Some("Threshold <@U0BOSS> crossed".into());
        let route = Route {
            runbook: Some("https://wiki.example.com/cpu".into()),
            ..Route::default_route()
        };
        for msg in [
            alarm_first_post(&alarm, &route),
            alarms_joined(&[&alarm], 0),
            alarm_recovered(&alarm),
            alarm_graph_unavailable(&alarm, "<!channel>"),
        ] {
            let all = format!(
                "{}{}",
                msg.text,
                msg.blocks.map(|b| b.to_string()).unwrap_or_default()
            );
            for bad in ["<!channel>", "<!here>", "<https://evil", "<@U0BOSS>"] {
                assert!(!all.contains(bad), "{bad} in {all}");
            }
        }
        let first = alarm_first_post(&alarm, &route).blocks.unwrap().to_string();
        assert!(first.contains("&lt;!channel&gt;"), "{first}");
        assert!(
            first.contains("<https://wiki.example.com/cpu|Runbook>"),
            "{first}"
        );
        assert!(
            first.contains("#alarmsV2:alarm/web%20%3C%21here%3E%20cpu|"),
            "{first}"
        );
    }

    #[test]
    fn health_says_none_plainly() {
        let none = health_report("EC2", "us-east-1", &[], false);
        assert_eq!(
            none.text,
            ":white_check_mark: AWS Health reports no open issue for EC2 in us-east-1."
        );
    }
}

/// `action_id` of the "Keep open" button on the archive warning.
pub const KEEP_OPEN_ACTION: &str = crate::domain::authorization::control::KEEP_OPEN;

/// The notice that a resolved incident's channel is about to be archived
/// (`[incident] archive_after`), with a button that keeps it open.
pub fn archive_warning(incident: IncidentId, archive_at: DateTime<Utc>) -> Outgoing {
    let text = format!(
        ":file_cabinet: This incident is resolved, so this channel will be archived at {} UTC. Press *Keep open* to keep it.",
        archive_at.format("%Y-%m-%d %H:%M")
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "elements": [{
            "type": "button",
            "action_id": KEEP_OPEN_ACTION,
            "text": {"type": "plain_text", "text": "Keep open"},
            "value": incident.0.to_string(),
        }]},
    ]);
    Outgoing {
        text,
        blocks: Some(blocks),
    }
}

/// Someone pressed "Keep open": the channel will not be archived.
pub fn kept_open(actor: &UserId) -> Outgoing {
    Outgoing::text(format!(
        ":open_file_folder: {} kept this channel open: it will not be archived",
        user_mention(actor)
    ))
}
