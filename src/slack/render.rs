//! Every message warroom posts, as fallback text plus Block Kit.
//!
//! Invariant: text that came from people or alarms goes through [`mrkdwn::escape`] before it
//! lands in a message; the only `<…>` sequences warroom emits are the mentions, channel links
//! and dates it builds itself from validated ids.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::mrkdwn::{self, escape, escape_inline, truncate, user_mention};
use super::web::Outgoing;
use crate::domain::command::UsageError;
use crate::domain::incident::Change;
use crate::domain::time::format_duration;
use crate::domain::{EntryKind, Incident, Status, UserId};
use crate::store::{IncidentRecord, TimelineEntry};

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
fn when(t: DateTime<Utc>) -> String {
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

/// The pinned header: title, severity, status, lead, opened-at. Kept current with chat.update.
pub fn header(record: &IncidentRecord, now: DateTime<Utc>) -> Outgoing {
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
    let text = format!(
        "Incident {}: {} ({}, {})",
        i.id,
        title(i),
        i.severity,
        i.status
    );
    Outgoing {
        text,
        blocks: Some(json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": format!(":rotating_light: *Incident {}: {}*", i.id, title(i))}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "Everything said here is recorded on the timeline. `/incident help` lists the commands."}]}
        ])),
    }
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
    Outgoing::text(text)
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

pub fn help() -> Outgoing {
    Outgoing::text(escape(crate::domain::command::USAGE))
}

/// `/incident list`: open incidents, worst first.
pub fn incident_list(records: &[IncidentRecord], now: DateTime<Utc>) -> Outgoing {
    if records.is_empty() {
        return Outgoing::text("No open incidents. :tada:");
    }
    let mut lines = vec![format!("*{} open incident(s)*", records.len())];
    for r in records {
        let i = &r.incident;
        let place = r
            .channel_id
            .as_deref()
            .map(mrkdwn::channel_link)
            .unwrap_or_else(|| "_channel pending_".to_string());
        let lead = i
            .lead
            .as_ref()
            .map(user_mention)
            .unwrap_or_else(|| "no lead".into());
        lines.push(
            format!(
                "• {} *{}* {} — {} {}, open {}, lead {}",
                i.id,
                i.severity,
                title(i),
                status_emoji(i.status),
                i.status,
                format_duration(now - i.opened_at),
                lead
            ) + &format!(" — {place}"),
        );
    }
    Outgoing::text(lines.join("\n"))
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
    fn unformat_reads_like_slack_shows_it() {
        assert_eq!(
            unformat("<@U1> at <!date^1^{time}|13:50 UTC> in <#C1> &lt;!channel&gt;"),
            "@U1 at 13:50 UTC in #C1 <!channel>"
        );
    }
}
