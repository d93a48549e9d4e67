//! Operator output from the database: `warroom incidents`, `warroom timeline <ID>`.
//! Plain text, one line per item, so it greps and pipes well.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::domain::time::format_duration;
use crate::domain::EntryKind;
use crate::domain::{IncidentRecord, TimelineEntry};

/// One line per incident: id, severity, status, age or duration, channel, title.
pub fn incidents(records: &[IncidentRecord], now: DateTime<Utc>) -> String {
    if records.is_empty() {
        return "no incidents\n".to_string();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<5} {:<5} {:<13} {:<17} {:<10} {:<32} TITLE",
        "ID", "SEV", "STATUS", "OPENED (UTC)", "DURATION", "CHANNEL"
    );
    for r in records {
        let i = &r.incident;
        let end = i.resolved_at.unwrap_or(now);
        let channel = match &r.channel_id {
            Some(id) => format!("#{} ({id})", r.channel_name),
            None => format!("#{} (pending)", r.channel_name),
        };
        let _ = writeln!(
            out,
            "{:<5} {:<5} {:<13} {:<17} {:<10} {:<32} {}",
            i.id.0,
            i.severity.to_string(),
            i.status.to_string(),
            i.opened_at.format("%Y-%m-%d %H:%M"),
            format_duration(end - i.opened_at),
            channel,
            i.title.replace('\n', " ")
        );
    }
    out
}

/// The full timeline, oldest first, with edit history and deletions.
pub fn timeline(record: &IncidentRecord, entries: &[TimelineEntry]) -> String {
    let i = &record.incident;
    let mut out = String::new();
    let _ = writeln!(out, "Incident {}: {}", i.id, i.title);
    let _ = writeln!(
        out,
        "{} · {} · lead {} · opened {}",
        i.severity,
        i.status,
        i.lead.as_ref().map(|l| l.as_str()).unwrap_or("-"),
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
            e.actor.as_deref().unwrap_or("warroom"),
            e.text.replace(
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
