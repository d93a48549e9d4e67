//! Operator output from the database: `warroom incidents`, `warroom timeline <ID>`.
//! Plain text, one line per item, so it greps and pipes well. What goes to a terminal
//! passes [`for_terminal`] first: recorded text is whatever people and alarms wrote, and a
//! terminal obeys escape sequences.
//!
//! [`managers`] renders the managers' report (`warroom report`) as Markdown, CSV, JSON or
//! a self-contained HTML page.

pub mod managers;

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::domain::names::Names;
use crate::domain::time::format_duration;
use crate::domain::EntryKind;
use crate::domain::{IncidentRecord, TimelineEntry};

/// One line per incident: id, severity, status, age or duration, channel, lead, title.
/// People are shown by the name warroom learned from Slack (`names`), else by id.
pub fn incidents(records: &[IncidentRecord], names: &Names, now: DateTime<Utc>) -> String {
    if records.is_empty() {
        return "no incidents\n".to_string();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<5} {:<5} {:<13} {:<17} {:<10} {:<32} {:<20} TITLE",
        "ID", "SEV", "STATUS", "OPENED (UTC)", "DURATION", "CHANNEL", "LEAD"
    );
    for r in records {
        let i = &r.incident;
        let end = i.resolved_at.unwrap_or(now);
        let channel = match &r.channel_id {
            Some(id) => format!("#{} ({id})", r.channel_name),
            None => format!("#{} (pending)", r.channel_name),
        };
        let lead = i
            .lead
            .as_ref()
            .map_or_else(|| "-".to_string(), |l| names.show(l.as_str()));
        let _ = writeln!(
            out,
            "{:<5} {:<5} {:<13} {:<17} {:<10} {:<32} {:<20} {}",
            i.id.0,
            i.severity.to_string(),
            i.status.to_string(),
            i.opened_at.format("%Y-%m-%d %H:%M"),
            format_duration(end - i.opened_at),
            channel,
            lead,
            match &r.incident_type {
                Some(t) => format!("{} (type {t})", i.title.replace('\n', " ")),
                None => i.title.replace('\n', " "),
            }
        );
    }
    out
}

/// The full timeline, oldest first, with edit history and deletions. People are shown by
/// name where warroom learned one (`names`; the lead with the id too), else by id; ids in
/// recorded text (`lead U0A → U0B`, mentions) are named the same way.
pub fn timeline(record: &IncidentRecord, entries: &[TimelineEntry], names: &Names) -> String {
    let i = &record.incident;
    let mut out = String::new();
    let _ = writeln!(out, "Incident {}: {}", i.id, i.title);
    let _ = writeln!(
        out,
        "{} · {} · lead {} · opened {}",
        i.severity,
        i.status,
        i.lead
            .as_ref()
            .map_or_else(|| "-".to_string(), |l| names.show_with_id(l.as_str())),
        i.opened_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(r) = i.resolved_at {
        let _ = writeln!(
            out,
            "resolved {} after {}",
            r.format("%Y-%m-%d %H:%M:%S UTC"),
            format_duration(r - i.opened_at)
        );
    }
    let _ = writeln!(out);
    for e in entries {
        let mut flags = Vec::new();
        if e.key_event && e.kind == EntryKind::Message {
            flags.push("key");
        }
        if e.thread_ts.is_some() {
            flags.push("thread");
        }
        if e.edited_at.is_some() {
            flags.push("edited");
        }
        if e.deleted_at.is_some() {
            flags.push("deleted");
        }
        if e.occurred_at + chrono::Duration::seconds(60) < e.recorded_at
            && e.kind == EntryKind::Note
        {
            flags.push("backdated");
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join(","))
        };
        let _ = writeln!(
            out,
            "{}  {:<16} {:<12} {}{}",
            e.occurred_at.format("%m-%d %H:%M:%S"),
            e.kind.as_str(),
            e.actor
                .as_deref()
                .map_or_else(|| "warroom".to_string(), |a| names.show(a)),
            names.in_text(&e.text).replace(
                '\n',
                "\n                                                     "
            ),
            flags
        );
        for old in &e.revisions {
            let _ = writeln!(out, "{:>53} was: {}", "", old.replace('\n', " "));
        }
    }
    out
}

/// Every user id a timeline may show: lead, declarer, actors, and ids in recorded text.
pub fn people_in_timeline(record: &IncidentRecord, entries: &[TimelineEntry]) -> Vec<String> {
    let i = &record.incident;
    let mut ids: Vec<String> = i
        .lead
        .iter()
        .chain(std::iter::once(&i.declared_by))
        .map(|u| u.as_str().to_string())
        .chain(entries.iter().filter_map(|e| e.actor.clone()))
        .chain(entries.iter().flat_map(|e| {
            e.text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| crate::domain::UserId::parse(w).is_ok())
                .map(str::to_string)
                .collect::<Vec<_>>()
        }))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// `warroom inbox --failed`: one block per event set aside, oldest first, with its error.
pub fn failed_events(events: &[crate::store::inbox::FailedEvent]) -> String {
    if events.is_empty() {
        return "no events set aside\n".to_string();
    }
    let mut out = String::new();
    for e in events {
        let kind = serde_json::from_str::<serde_json::Value>(&e.payload)
            .ok()
            .and_then(|v| v.get("type")?.as_str().map(str::to_string))
            .unwrap_or_else(|| "unreadable".to_string());
        let _ = writeln!(
            out,
            "{}  ev-{}  {}  {}  received {}  set aside {} after {} attempt(s)",
            e.id,
            e.id,
            kind,
            e.dedupe_key,
            e.received_at.format("%Y-%m-%d %H:%M:%S UTC"),
            e.failed_at.format("%Y-%m-%d %H:%M:%S UTC"),
            e.attempts
        );
        let _ = writeln!(out, "    {}", e.error.replace('\n', "\n    "));
    }
    let _ = writeln!(
        out,
        "\n`warroom inbox --retry ID` puts one back in the queue once its cause is fixed."
    );
    out
}

/// Shown where control characters were removed, so a reader knows text was there.
const REMOVED: char = '\u{FFFD}';

/// `text` made safe to print on a terminal: escape sequences (CSI such as colours and
/// cursor moves, OSC such as window titles and hyperlinks, DCS, SOS, PM, APC), their C1
/// forms and every other control character (CR, BEL, backspace, DEL, …) are removed, each
/// sequence shown as one `�`. Line breaks and tabs stay. Piped output is not filtered: it
/// keeps what was recorded, byte for byte.
pub fn for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\u{1b}' => {
                match chars.next() {
                    Some('[') => skip_csi(&mut chars),
                    Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                    // A two-character escape (or a lone ESC at the end).
                    _ => {}
                }
                mark(&mut out);
            }
            '\u{9b}' => {
                skip_csi(&mut chars);
                mark(&mut out);
            }
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => {
                skip_string(&mut chars);
                mark(&mut out);
            }
            c if c.is_control() => mark(&mut out),
            c => out.push(c),
        }
    }
    out
}

/// One `�` for a run of removed characters.
fn mark(out: &mut String) {
    if !out.ends_with(REMOVED) {
        out.push(REMOVED);
    }
}

/// Past a control sequence's parameters to its final byte (`@` to `~`).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            return;
        }
    }
}

/// Past a control string to its terminator: BEL, ESC `\\` or the C1 string terminator.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{07}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_control_characters_do_not_reach_a_terminal() {
        let cases = [
            ("\u{1b}[31mred\u{1b}[0m", "�red�"),
            ("\u{1b}]0;pwned\u{7}title", "�title"),
            (
                "\u{1b}]8;;https://evil.example\u{1b}\\click\u{1b}]8;;\u{1b}\\",
                "�click�",
            ),
            ("over\rwrite", "over�write"),
            ("bell\u{7}\u{8}\u{7f}", "bell�"),
            ("\u{9b}2Jcleared", "�cleared"),
            ("\u{9d}0;t\u{9c}x", "�x"),
            ("\u{1b}Pdcs\u{1b}\\after", "�after"),
            ("lines\r\nand\ttabs\n", "lines\nand\ttabs\n"),
            ("trailing \u{1b}", "trailing �"),
            ("unterminated \u{1b}]0;title", "unterminated �"),
            ("🔥 Zürich 数据 \u{200D}", "🔥 Zürich 数据 \u{200D}"),
        ];
        for (input, want) in cases {
            let got = for_terminal(input);
            assert_eq!(got, want, "{input:?}");
            assert!(
                !got.chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t'),
                "{input:?}"
            );
        }
    }
}
