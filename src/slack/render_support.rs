//! Slack messages and the modal of the AWS Support escalation: nudges with their buttons,
//! the case form, case notices and mirrored AWS replies.
//!
//! Everything that came from people or AWS (titles, replies, case subjects) is escaped;
//! links are built only from ids warroom validated ([`crate::domain::support::console_url`]).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::inbound::ClickedMessage;
use super::mrkdwn::{escape, escape_inline, truncate, user_mention};
use super::outgoing::Outgoing;
use crate::domain::authorization::{control, Role};
use crate::domain::escalation::NudgeKind;
use crate::domain::support::SupportCase;
use crate::domain::support::{console_url, Communication, SupportSeverity, SUPPORT_CENTER_URL};
use crate::domain::time::format_duration;
use crate::domain::{Incident, UserId};

/// "Open AWS Support case" on the nudge: opens the case modal.
pub const OPEN_CASE_ACTION: &str = control::OPEN_CASE;
/// "Snooze 30m" on a nudge; the button's value is the duration.
pub const SNOOZE_ACTION: &str = control::SNOOZE;
/// "Not an AWS issue" on the case nudge.
pub const NOT_AWS_ACTION: &str = control::NOT_AWS;
/// "Resolve AWS case" after the incident is resolved; the value is the case row.
pub const RESOLVE_CASE_ACTION: &str = control::RESOLVE_CASE;
/// Link buttons (Support Center) also send a click; it asks for nothing (no row in the
/// authorization table), so the checkpoint drops it.
pub const LINK_ACTION: &str = "support_center_link";
/// `callback_id` of the case modal.
pub const CASE_MODAL: &str = control::CASE_FORM;
/// How long the Snooze button silences nudges.
pub const SNOOZE_BUTTON_MINUTES: i64 = 30;

/// Block ids of the modal's inputs (the submission's keys).
pub mod field {
    pub const SUBJECT: &str = "subject";
    pub const SEVERITY: &str = "severity";
    pub const SERVICE: &str = "service_code";
    pub const CATEGORY: &str = "category_code";
    pub const BODY: &str = "body";
}

/// Most of an AWS reply shown in the channel; the rest is in the Support Center.
const MAX_REPLY_CHARS: usize = 2500;

fn mentions(people: &[UserId]) -> String {
    if people.is_empty() {
        "Responders".to_string()
    } else {
        people
            .iter()
            .map(user_mention)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

fn case_name(case: &SupportCase) -> String {
    let id = case
        .display_id
        .clone()
        .or_else(|| case.case_id.clone())
        .unwrap_or_else(|| "(pending)".into());
    match &case.case_id {
        // A `|` in the label would end it early in some clients: shown as `¦`.
        Some(case_id) => format!(
            "<{}|{}>",
            console_url(case_id, case.display_id.as_deref()),
            escape_inline(&truncate(&id, 60)).replace('|', "¦")
        ),
        None => escape(&id),
    }
}

fn button(action_id: &str, text: &str, value: &str, style: Option<&str>) -> Value {
    let mut b = json!({
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": value,
    });
    if let Some(style) = style {
        b["style"] = style.into();
    }
    b
}

fn link_button(text: &str, url: &str) -> Value {
    json!({
        "type": "button",
        "action_id": LINK_ACTION,
        "text": {"type": "plain_text", "text": text},
        "url": url,
    })
}

fn with_buttons(text: String, buttons: Vec<Value>) -> Outgoing {
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "elements": buttons},
    ]);
    Outgoing {
        text,
        blocks: Some(blocks),
    }
}

fn snooze_button() -> Value {
    button(
        SNOOZE_ACTION,
        &format!("Snooze {SNOOZE_BUTTON_MINUTES}m"),
        &format!("{SNOOZE_BUTTON_MINUTES}m"),
        None,
    )
}

/// The "open an AWS Support case" nudge.
pub fn open_case_nudge(
    incident: &Incident,
    people: &[UserId],
    target: Duration,
    support_api: bool,
    now: DateTime<Utc>,
) -> Outgoing {
    let text = format!(
        ":alarm_clock: {} incident {} has been running for *{}* (since {}) and *no AWS Support case is open*. \
         The target for {} is {}. If AWS could be part of this, open a case now: it costs minutes, \
         waiting for AWS later costs hours.",
        mentions(people),
        incident.id,
        format_duration(now - incident.opened_at),
        when(incident.opened_at),
        incident.severity,
        format_duration(target),
    );
    let open = if support_api {
        button(
            OPEN_CASE_ACTION,
            "Open AWS Support case",
            "",
            Some("primary"),
        )
    } else {
        link_button("Open AWS Support case", SUPPORT_CENTER_URL)
    };
    with_buttons(
        text,
        vec![
            open,
            snooze_button(),
            button(NOT_AWS_ACTION, "Not an AWS issue", "", None),
        ],
    )
}

/// AWS has not answered the case within the response target of its severity.
pub fn aws_quiet_nudge(
    case: &SupportCase,
    people: &[UserId],
    waiting_since: DateTime<Utc>,
    target: Duration,
    now: DateTime<Utc>,
) -> Outgoing {
    let higher = match case.severity {
        SupportSeverity::Critical => String::new(),
        s => format!(
            " The case is *{}* ({}); if the impact is worse than that, raise the severity.",
            s,
            s.meaning()
        ),
    };
    let text = format!(
        ":hourglass: {} AWS Support has been *silent for {}* on case {} (waiting since {}; AWS's target for {} is {}). \
         Switch to *chat or phone* in the Support Center to reach an engineer now.{}",
        mentions(people),
        format_duration(now - waiting_since),
        case_name(case),
        when(waiting_since),
        case.severity,
        format_duration(target),
        higher,
    );
    let url = case
        .case_id
        .as_deref()
        .map(|id| console_url(id, case.display_id.as_deref()))
        .unwrap_or_else(|| SUPPORT_CENTER_URL.to_string());
    with_buttons(
        text,
        vec![
            link_button("Open the case in the Support Center", &url),
            snooze_button(),
        ],
    )
}

/// No stakeholder update for a while.
pub fn stale_update_nudge(
    people: &[UserId],
    since: DateTime<Utc>,
    had_update: bool,
    now: DateTime<Utc>,
) -> Outgoing {
    let what = if had_update {
        format!(
            "The last stakeholder update was {} ago",
            format_duration(now - since)
        )
    } else {
        format!(
            "No stakeholder update has been posted in the {} since the incident opened",
            format_duration(now - since)
        )
    };
    let text = format!(
        ":loudspeaker: {} {what}. Stakeholders are waiting: post what is affected, what you are doing \
         and when the next update comes with `/incident update &lt;text&gt;`.",
        mentions(people)
    );
    with_buttons(text, vec![snooze_button()])
}

/// The nudge of `kind`, for logs and metrics labels.
pub fn nudge_label(kind: NudgeKind) -> &'static str {
    match kind {
        NudgeKind::OpenCase => "open an AWS Support case",
        NudgeKind::AwsQuiet => "AWS Support is quiet",
        NudgeKind::StaleUpdate => "post a stakeholder update",
    }
}

/// A prompt somebody answered, redrawn for everyone: as it was, without its buttons, with
/// the answer underneath, so nobody acts on a question already settled.
pub fn answered_prompt(prompt: &ClickedMessage, answer: &Outgoing) -> Outgoing {
    let mut blocks: Vec<Value> = match prompt.blocks.as_ref().and_then(Value::as_array) {
        Some(blocks) => blocks
            .iter()
            .filter(|b| b["type"] != "actions")
            .cloned()
            .collect(),
        None => vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": prompt.text}})],
    };
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": truncate(&answer.text, 2900)}
    ]}));
    Outgoing {
        text: prompt.text.clone(),
        blocks: Some(Value::Array(blocks)),
    }
}

pub fn snoozed(actor: &UserId, until: DateTime<Utc>) -> Outgoing {
    Outgoing::text(format!(
        ":zzz: {} snoozed warroom's nudges in this incident until {}.",
        user_mention(actor),
        when(until)
    ))
}

pub fn involvement(actor: &UserId, involved: bool, support_after: Duration) -> Outgoing {
    Outgoing::text(if involved {
        format!(
            ":cloud: {} says AWS is involved. warroom will nudge to open an AWS Support case {} into the incident unless one is open.",
            user_mention(actor),
            format_duration(support_after)
        )
    } else {
        format!(
            ":ok_hand: {} says this is not an AWS issue: no more AWS Support nudges. `/incident aws yes` turns them back on.",
            user_mention(actor)
        )
    })
}

/// What the case modal is prefilled with.
#[derive(Debug, Clone)]
pub struct CaseForm {
    pub subject: String,
    pub severity: SupportSeverity,
    pub service_code: Option<String>,
    pub category_code: Option<String>,
    pub body: String,
}

/// The "Open an AWS Support case" modal (`views.open`). `metadata` comes back unchanged in
/// the submission.
pub fn case_modal(form: &CaseForm, metadata: &str) -> Value {
    let options: Vec<Value> = SupportSeverity::ALL
        .iter()
        .rev()
        .map(|s| severity_option(*s))
        .collect();
    let text_input = |block: &str,
                      label: &str,
                      value: Option<&str>,
                      multiline: bool,
                      max: usize,
                      optional: bool,
                      hint: Option<&str>| {
        let mut element = json!({
            "type": "plain_text_input",
            "action_id": format!("{block}_input"),
            "multiline": multiline,
            "max_length": max,
        });
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            element["initial_value"] = v.into();
        }
        let mut b = json!({
            "type": "input",
            "block_id": block,
            "optional": optional,
            "label": {"type": "plain_text", "text": label},
            "element": element,
        });
        if let Some(h) = hint {
            b["hint"] = json!({"type": "plain_text", "text": h});
        }
        b
    };
    json!({
        "type": "modal",
        "callback_id": CASE_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "AWS Support case"},
        "submit": {"type": "plain_text", "text": "Open case"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            text_input(field::SUBJECT, "Subject", Some(&form.subject), false,
                crate::domain::support::MAX_CASE_SUBJECT_CHARS, false, None),
            {
                "type": "input",
                "block_id": field::SEVERITY,
                "label": {"type": "plain_text", "text": "Severity"},
                "element": {
                    "type": "static_select",
                    "action_id": "severity_input",
                    "options": options,
                    "initial_option": severity_option(form.severity),
                },
                "hint": {"type": "plain_text", "text": "critical needs an Enterprise support plan"},
            },
            text_input(field::SERVICE, "Service code", form.service_code.as_deref(), false, 100, true,
                Some("AWS's service code (DescribeServices); empty lets AWS choose")),
            text_input(field::CATEGORY, "Category code", form.category_code.as_deref(), false, 100, true, None),
            text_input(field::BODY, "Description", Some(&form.body), true,
                super::limits::INPUT_MAX_LENGTH.min(crate::domain::support::MAX_CASE_BODY_CHARS), false,
                Some("Drafted from the incident: check the impact and what was tried")),
        ],
    })
}

fn severity_option(s: SupportSeverity) -> Value {
    json!({
        "text": {"type": "plain_text", "text": format!("{} — {}", s, s.meaning())},
        "value": s.code(),
    })
}

pub fn case_opened(actor: &UserId, case: &SupportCase) -> Outgoing {
    Outgoing::text(format!(
        ":white_check_mark: {} opened AWS Support case {} (*{}*, {}): _{}_\nwarroom posts AWS's replies here. \
         `/incident aws reply &lt;text&gt;` answers on the case; `/incident aws status` shows where it stands.",
        user_mention(actor),
        case_name(case),
        case.severity,
        case.severity.meaning(),
        escape_inline(&truncate(&case.subject, 250)),
    ))
}

/// Why CreateCase failed (`detail`: warroom's words, never AWS's message), and what to do
/// instead.
pub fn case_failed(code: Option<&str>, detail: &str) -> Outgoing {
    let advice = match code {
        Some("SubscriptionRequiredException") => {
            "This AWS account has no Business, Enterprise On-Ramp or Enterprise support plan, which the Support API needs. \
             Open the case in the Support Center instead (Basic support covers account and billing only)."
                .to_string()
        }
        Some(c) if c.contains("Throttl") || c.contains("TooManyRequests") => {
            "AWS is throttling the Support API. Open the case by chat or phone in the Support Center rather than wait.".to_string()
        }
        _ => "Open the case in the Support Center (chat or phone for urgent cases), then paste its number here.".to_string(),
    };
    Outgoing::text(format!(
        ":warning: The AWS Support case could not be opened: {}. {} <{}|Support Center>",
        escape(&truncate(detail, 300)),
        advice,
        SUPPORT_CENTER_URL
    ))
}

/// CreateCase is being retried (AWS throttling or unreachable); `detail` is warroom's words.
pub fn case_retrying(detail: &str) -> Outgoing {
    Outgoing::text(format!(
        ":hourglass_flowing_sand: AWS did not take the case yet ({}); warroom keeps trying for a few minutes. \
         If it is urgent, call or chat in the <{}|Support Center> now.",
        escape(&truncate(detail, 200)),
        SUPPORT_CENTER_URL
    ))
}

pub fn aws_reply(case: &SupportCase, comm: &Communication) -> Outgoing {
    let body = escape(&truncate(comm.body.trim(), MAX_REPLY_CHARS));
    let quoted = body
        .lines()
        .map(|l| format!(">{l}"))
        .collect::<Vec<_>>()
        .join("\n");
    let attachments = if comm.attachments.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = comm
            .attachments
            .iter()
            .map(|a| escape_inline(&truncate(a, 100)))
            .collect();
        format!(
            "\n:paperclip: Attachments (in the Support Center): {}",
            names.join(", ")
        )
    };
    Outgoing::text(format!(
        ":speech_balloon: *AWS Support replied* on case {} at {}:\n{quoted}{attachments}",
        case_name(case),
        when(comm.time_created)
    ))
}

/// Someone wrote on the case outside Slack (Support Center, e-mail).
pub fn outside_message(case: &SupportCase, comm: &Communication) -> Outgoing {
    let body = escape(&truncate(comm.body.trim(), MAX_REPLY_CHARS));
    Outgoing::text(format!(
        ":memo: {} wrote on case {} outside Slack at {}:\n>{}",
        escape_inline(&truncate(&comm.submitted_by, 100)),
        case_name(case),
        when(comm.time_created),
        body.replace('\n', "\n>")
    ))
}

pub fn reply_sent(actor: &UserId, case: &SupportCase, text: &str) -> Outgoing {
    Outgoing::text(format!(
        ":outbox_tray: {} replied on AWS case {}:\n>{}",
        user_mention(actor),
        case_name(case),
        escape(&truncate(text, MAX_REPLY_CHARS)).replace('\n', "\n>")
    ))
}

/// `/incident aws status`.
pub fn case_status(
    case: &SupportCase,
    aws_status: Option<&str>,
    last_aws_reply: Option<DateTime<Utc>>,
    awaiting_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Outgoing {
    let status = aws_status.unwrap_or(&case.status);
    let mut lines = vec![format!(
        "*AWS Support case {}* — status *{}*, severity {} ({}), opened {} by {}",
        case_name(case),
        escape_inline(status),
        case.severity,
        case.severity.meaning(),
        when(case.opened_at.unwrap_or(case.requested_at)),
        UserId::parse(&case.requested_by)
            .map(|u| user_mention(&u))
            .unwrap_or_else(|_| escape(&case.requested_by)),
    )];
    lines.push(match last_aws_reply {
        Some(t) => format!(
            "Last reply from AWS: {} ({} ago)",
            when(t),
            format_duration(now - t)
        ),
        None => "AWS has not replied yet.".to_string(),
    });
    if let Some(since) = awaiting_since {
        lines.push(format!(
            "Waiting for AWS for *{}*.",
            format_duration(now - since)
        ));
    }
    Outgoing::text(lines.join("\n"))
}

pub fn no_case() -> Outgoing {
    Outgoing::text(
        "No AWS Support case is open for this incident. `/incident escalate aws` opens one (the nudge's button does too).",
    )
}

/// A drill's AWS Support case, shown instead of sent: what warroom would have opened.
pub fn case_dry_run(actor: &UserId, case: &crate::domain::drill::DryRunCase) -> Outgoing {
    let head = format!(
        ":test_tube: {} asked for an AWS Support case. *Dry run*: this is a drill, so warroom did not call AWS. It would have opened:",
        user_mention(actor)
    );
    let fields = format!(
        "*Subject*: {}\n*Severity*: {} ({})",
        escape_inline(&truncate(&case.subject, 250)),
        case.severity,
        case.severity.meaning()
    );
    let body = format!(
        "*Body*\n```{}```",
        escape(&truncate(&case.body, 2500)).replace("```", "` ` `")
    );
    crate::slack::render::with_drill_banner(Outgoing {
        text: format!(
            "Dry run: the AWS Support case warroom would have opened ({}): {}",
            case.severity,
            escape_inline(&truncate(&case.subject, 250))
        ),
        blocks: Some(json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": head}},
            {"type": "section", "text": {"type": "mrkdwn", "text": fields}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body}}
        ])),
    })
}

/// A second case asked for in a drill whose dry run was shown.
pub fn dry_run_already(id: crate::domain::IncidentId) -> Outgoing {
    Outgoing::text(format!(
        "{id} already showed its AWS Support case as a dry run; scroll up to see it"
    ))
}

pub fn case_already_open(case: &SupportCase) -> Outgoing {
    Outgoing::text(format!(
        "AWS Support case {} is already open for this incident; `/incident aws reply &lt;text&gt;` adds to it.",
        case_name(case)
    ))
}

/// After `/incident resolve` with a case still open.
pub fn resolve_case_prompt(case: &SupportCase) -> Outgoing {
    with_buttons(
        format!(
            ":information_source: AWS Support case {} is still open. Resolve it too if AWS's part is done.",
            case_name(case)
        ),
        vec![button(
            RESOLVE_CASE_ACTION,
            "Resolve AWS case",
            &case.row.to_string(),
            Some("primary"),
        )],
    )
}

pub fn case_resolved(actor: Option<&UserId>, case: &SupportCase) -> Outgoing {
    Outgoing::text(match actor {
        Some(a) => format!(
            ":white_check_mark: {} resolved AWS Support case {}.",
            user_mention(a),
            case_name(case)
        ),
        None => format!(
            ":white_check_mark: AWS Support case {} is resolved at AWS.",
            case_name(case)
        ),
    })
}

/// A refusal, privately to the caller: who may do `what`, named from the authorization
/// table, with the user group ids given.
pub fn refusal(
    what: &str,
    who: &[Role],
    incident_leads: Option<&str>,
    support_group: Option<&str>,
) -> Outgoing {
    let names: Vec<String> = who
        .iter()
        .map(|r| {
            let group = match r {
                Role::IncidentLead => incident_leads,
                Role::SupportEscalator => support_group,
                _ => None,
            };
            match group {
                Some(g) => format!("{} ({})", r.describe(), escape(g)),
                None => r.describe().to_string(),
            }
        })
        .collect();
    let names = match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{}, or {last}", rest.join(", ")),
        None => "nobody".to_string(),
    };
    let hint = if who.contains(&Role::Participant) {
        ", or say something in the channel first to take part"
    } else {
        ""
    };
    Outgoing::text(format!(
        ":no_entry: Only {names} may {what}. Ask one of them{hint}."
    ))
}
