//! The incident type's checklist in the channel: a section per step with a "Done" button,
//! or, once ticked, ✓ who and when. A long checklist is split over several messages so
//! each stays within Block Kit's 50 blocks; every step's text is escaped and measured
//! after escaping ([`super::limits`]).
//!
//! The split depends only on the step numbers ([`STEPS_PER_MESSAGE`]), so a click on any
//! message redraws exactly the steps that message holds ([`part_of`]).

use serde_json::{json, Value};

use super::limits;
use super::mrkdwn::{escape, user_mention};
use super::outgoing::Outgoing;
use super::render::{when, with_drill_banner};
use crate::domain::authorization::control;
use crate::domain::incident_type::ChecklistItem;
use crate::domain::IncidentRecord;

/// Steps in one message: a heading and the drill banner besides, well under the 50 blocks.
pub const STEPS_PER_MESSAGE: usize = 40;

/// The button beside a step still to do.
pub const TICK_ACTION: &str = control::CHECKLIST_TICK;

/// Which message (0-based) holds step `position`.
pub fn part_of(position: i64) -> usize {
    usize::try_from(position.max(1) - 1).unwrap_or(0) / STEPS_PER_MESSAGE
}

/// Every message of the checklist, in order (none for an empty one).
pub fn checklist_messages(record: &IncidentRecord, items: &[ChecklistItem]) -> Vec<Outgoing> {
    let parts = items.len().div_ceil(STEPS_PER_MESSAGE);
    (0..parts)
        .map(|p| checklist_part(record, items, p))
        .collect()
}

/// Message `part` of the checklist (0-based), as it stands.
pub fn checklist_part(record: &IncidentRecord, items: &[ChecklistItem], part: usize) -> Outgoing {
    let i = &record.incident;
    let parts = items.len().div_ceil(STEPS_PER_MESSAGE).max(1);
    let done = items.iter().filter(|s| s.is_done()).count();
    let kind = record
        .incident_type
        .as_deref()
        .map(|t| format!(" ({})", escape(t)))
        .unwrap_or_default();
    let of_parts = if parts > 1 {
        format!(", part {} of {parts}", part + 1)
    } else {
        String::new()
    };
    let heading = format!(
        ":clipboard: *Checklist{kind} for incident {}*: {done} of {} done{of_parts}",
        i.id,
        items.len()
    );
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": heading}})];
    let mine = items
        .iter()
        .filter(|s| part_of(s.position) == part)
        .map(step_block);
    blocks.extend(mine);
    let text = format!(
        "Checklist for incident {}: {done} of {} done",
        i.id,
        items.len()
    );
    let msg = Outgoing {
        text,
        blocks: Some(Value::Array(blocks)),
    };
    if i.id.is_drill() {
        with_drill_banner(msg)
    } else {
        msg
    }
}

/// One step: `*2.* Rotate the keys · <runbook>` with a Done button, or struck through with
/// ✓ who and when.
fn step_block(step: &ChecklistItem) -> Value {
    let runbook = step
        .runbook
        .as_deref()
        .map(|url| format!(" · <{}|runbook>", escape(url)))
        .unwrap_or_default();
    match &step.done {
        Some((who, at)) => {
            let tail = format!(
                "{runbook}\n:white_check_mark: {} · {}",
                user_mention(who),
                when(*at)
            );
            let room = limits::SECTION_TEXT.saturating_sub(limits::length(&tail) + 16);
            let body = format!("~{}~", limits::cut_mrkdwn(&escape(&step.text), room));
            json!({"type": "section", "text": {"type": "mrkdwn",
                "text": format!("*{}.* {body}{tail}", step.position)}})
        }
        None => {
            let room = limits::SECTION_TEXT.saturating_sub(limits::length(&runbook) + 16);
            let body = limits::cut_mrkdwn(&escape(&step.text), room);
            json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": format!("*{}.* {body}{runbook}", step.position)},
                "accessory": {
                    "type": "button",
                    "action_id": TICK_ACTION,
                    "value": step.position.to_string(),
                    "text": {"type": "plain_text", "text": "Done"},
                }
            })
        }
    }
}

/// What the clicker is told when the step was already ticked.
pub fn already_done(step: &ChecklistItem) -> Outgoing {
    match &step.done {
        Some((who, at)) => Outgoing::text(format!(
            "Step {} is already done: {} ticked it {}",
            step.position,
            user_mention(who),
            when(*at)
        )),
        None => Outgoing::text(format!("Step {} is still to do", step.position)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Incident, IncidentId, Severity, Status, UserId};
    use chrono::{TimeZone, Utc};

    fn record() -> IncidentRecord {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        IncidentRecord {
            incident: Incident {
                id: IncidentId(7),
                title: "Leak".into(),
                severity: Severity::Sev1,
                status: Status::Investigating,
                lead: None,
                declared_by: UserId::parse("U0ALICE").unwrap(),
                opened_at: at,
                resolved_at: None,
            },
            channel_name: "inc-leak".into(),
            channel_id: Some(crate::domain::ChannelId::new("C1")),
            header_ts: None,
            header_pinned: false,
            members_invited: false,
            private: false,
            incident_type: Some("security".into()),
        }
    }

    fn steps(n: i64, text: &str) -> Vec<ChecklistItem> {
        (1..=n)
            .map(|position| ChecklistItem {
                position,
                text: text.to_string(),
                runbook: Some("https://wiki.example/a".into()),
                done: None,
            })
            .collect()
    }

    #[test]
    fn a_long_checklist_is_split_and_every_part_fits() {
        let text = "<!channel> & ".repeat(40);
        let items = steps(100, &text);
        let msgs = checklist_messages(&record(), &items);
        assert_eq!(msgs.len(), 3);
        let mut buttons = 0;
        for m in &msgs {
            let fit = limits::fit_message(m);
            assert_eq!(fit.blocks, m.blocks, "the part fits as rendered");
            assert_eq!(fit.text, m.text);
            let blocks = m.blocks.as_ref().unwrap().as_array().unwrap();
            assert!(blocks.len() <= limits::MESSAGE_BLOCKS);
            let raw = m.blocks.as_ref().unwrap().to_string();
            assert!(!raw.contains("<!channel>"), "escaped");
            buttons += raw.matches(TICK_ACTION).count();
        }
        assert_eq!(buttons, 100);
        assert_eq!(part_of(40), 0);
        assert_eq!(part_of(41), 1);
        assert_eq!(part_of(100), 2);
    }

    #[test]
    fn a_done_step_shows_who_and_when_without_a_button() {
        let mut items = steps(2, "Rotate keys");
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 5, 0).unwrap();
        items[0].done = Some((UserId::parse("U0BOB").unwrap(), at));
        let m = checklist_part(&record(), &items, 0);
        let raw = m.blocks.unwrap().to_string();
        assert!(raw.contains("<@U0BOB>"));
        assert!(raw.contains("2026-12-01 10:05 UTC"));
        assert_eq!(raw.matches(TICK_ACTION).count(), 1);
        assert!(m.text.contains("1 of 2 done"));
    }
}
