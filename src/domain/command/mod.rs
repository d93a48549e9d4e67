//! The `/incident` grammar: one enum, one parse function, table tests.
//!
//! # Format
//! ```text
//! /incident declare [--private] <title> [sev1|sev2|sev3|sev4] [type:<name>]
//! /incident status <investigating|identified|monitoring|resolved> [note]
//! /incident sev <1-4>
//! /incident lead <@user>
//! /incident role <name> <@user>
//! /incident catchup
//! /incident note [at HH:MM] <text>
//! /incident timeline
//! /incident resolve [note]
//! /incident list
//! /incident stats [30d]
//! /incident help
//! /incident action <text> [<@owner>]
//! /incident action done <n>
//! /incident actions
//! /incident postmortem
//! /incident snooze <duration>
//! /incident aws yes|no|status
//! /incident aws reply <text>
//! /incident escalate aws [low|normal|high|urgent|critical]
//! /incident changes [lookback]
//! /incident drill [route] [sev1-4] [--real-case]
//! ```
//! Subcommand names are case-insensitive. Mentions arrive from Slack escaped as
//! `<@U123ABC>` or `<@U123ABC|name>` (the manifest sets `should_escape`); a bare user id
//! (`U123ABC`) is accepted too.

use std::fmt;

use chrono::NaiveTime;

use super::severity::Severity;
use super::status::Status;
use super::support::SupportSeverity;
use super::timeline::UserId;

/// Longest accepted incident title, in characters. Slack headers and channel names stay
/// readable; anything longer belongs in a note.
pub const MAX_TITLE_CHARS: usize = 150;
/// Longest incident type name (`type:<name>`, `[[incident.types]] name`), in characters.
pub const MAX_TYPE_CHARS: usize = 32;
/// Longest accepted free text (notes, status notes), in characters.
pub const MAX_TEXT_CHARS: usize = 3000;
/// Longest accepted command text as a whole, in characters; checked before anything else.
pub const MAX_COMMAND_CHARS: usize = 4000;
/// Shortest snooze: anything shorter is over before anyone notices it.
pub const MIN_SNOOZE: chrono::Duration = chrono::Duration::minutes(1);
/// Longest snooze: an incident left quiet for longer needs a person, not a timer.
pub const MAX_SNOOZE: chrono::Duration = chrono::Duration::days(7);

/// A parsed `/incident` command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Command {
    /// Open a new incident and its channel. Severity defaults to [`Severity::DEFAULT`].
    /// `private` (`--private` before the title): a private channel, and only the redacted
    /// line on every surface outside it (`domain::privacy`).
    Declare {
        title: String,
        severity: Option<Severity>,
        private: bool,
        /// `type:<name>`: one of the `[[incident.types]]` (checked by the service, which
        /// knows the config).
        incident_type: Option<String>,
    },
    /// Move the incident to a new status, with an optional note.
    Status {
        status: Status,
        note: Option<String>,
    },
    /// Change the severity.
    Sev(Severity),
    /// Hand the incident to a new lead.
    Lead(UserId),
    /// Give one of the `[incident] roles` (besides the lead) to a person. The name is
    /// lowercased here; whether it is a configured role is the service's question.
    Role { role: String, user: UserId },
    /// Show the catch-up (what a late joiner is sent) to the caller only.
    Catchup,
    /// Add a timeline entry, optionally backdated to `at` (UTC, today or yesterday).
    Note { at: Option<NaiveTime>, text: String },
    /// Show the timeline to the caller only.
    Timeline,
    /// Resolve the incident, with an optional closing note.
    Resolve { note: Option<String> },
    /// Show open incidents to the caller only.
    List,
    /// Show the caller the short incident report of the last `window` (30 days unless
    /// given): counts and the median times to detect, engage, escalate and resolve.
    Stats { window: Option<chrono::Duration> },
    /// Show the usage text to the caller only.
    Help,
    /// Add an action item for the postmortem; `owner` is a trailing mention.
    Action { text: String, owner: Option<UserId> },
    /// Mark the action item with this per-incident number done.
    ActionDone(u32),
    /// Show the incident's action items to the caller only.
    Actions,
    /// Draft the postmortem and upload it to the incident channel.
    Postmortem,
    /// Post a stakeholder update (incident channel and status channel).
    Update { text: String },
    /// Silence warroom's nudges in this incident for a while (1 minute to 7 days).
    Snooze(chrono::Duration),
    /// Whether AWS is involved: `aws yes` starts the AWS Support clock, `aws no` stops it.
    AwsInvolved(bool),
    /// Show the AWS Support case's state (asks AWS, so it is processed by the worker).
    AwsStatus,
    /// Add a message to the incident's open AWS Support case.
    AwsReply { text: String },
    /// Open an AWS Support case now, without the modal; severity defaults from the incident's.
    EscalateAws { severity: Option<SupportSeverity> },
    /// What changed in AWS before the alarm (or the declaration): CloudTrail, the alarm's
    /// history and its neighbours. The lookback defaults to `[diagnostics] lookback`.
    Changes { lookback: Option<chrono::Duration> },
    /// Open a rehearsal incident from a synthetic alarm on `route` (the default route when
    /// `None`). Severity defaults to the route's. An AWS Support case is a dry run unless
    /// `real_case` (kept to the AWS Support user group).
    Drill {
        route: Option<String>,
        severity: Option<Severity>,
        real_case: bool,
    },
}

impl Command {
    /// Whether the command only makes sense inside an incident channel.
    pub fn needs_incident(&self) -> bool {
        match self {
            Command::Status { .. }
            | Command::Sev(_)
            | Command::Lead(_)
            | Command::Role { .. }
            | Command::Catchup
            | Command::Note { .. }
            | Command::Timeline
            | Command::Resolve { .. }
            | Command::Update { .. }
            | Command::Action { .. }
            | Command::ActionDone(_)
            | Command::Actions
            | Command::Postmortem
            | Command::Snooze(_)
            | Command::AwsInvolved(_)
            | Command::AwsStatus
            | Command::AwsReply { .. }
            | Command::EscalateAws { .. }
            | Command::Changes { .. } => true,
            Command::Declare { .. }
            | Command::Drill { .. }
            | Command::List
            | Command::Stats { .. }
            | Command::Help => false,
        }
    }

    /// Whether the command is recorded and processed in order by the worker (changes state,
    /// posts for everyone, or calls AWS), as opposed to a read-only reply to the caller.
    pub fn is_mutation(&self) -> bool {
        match self {
            Command::Declare { .. }
            | Command::Drill { .. }
            | Command::Status { .. }
            | Command::Sev(_)
            | Command::Lead(_)
            | Command::Role { .. }
            | Command::Note { .. }
            | Command::Resolve { .. }
            | Command::Update { .. }
            | Command::Action { .. }
            | Command::ActionDone(_)
            | Command::Postmortem
            | Command::Snooze(_)
            | Command::AwsInvolved(_)
            | Command::AwsStatus
            | Command::AwsReply { .. }
            | Command::EscalateAws { .. }
            // Asks AWS (paced, several calls) and posts for everyone: too slow for the ack.
            | Command::Changes { .. } => true,
            Command::Timeline
            | Command::Catchup
            | Command::List
            | Command::Stats { .. }
            | Command::Help
            | Command::Actions => false,
        }
    }
}

/// A command the user got wrong: what was wrong and how to write it. Shown to the caller
/// only; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// What was wrong, in one sentence without a trailing period (e.g. `unknown severity "9"`).
    pub problem: String,
    /// The usage line of the subcommand concerned, or the whole [`USAGE`] text when the
    /// subcommand itself is unknown or missing.
    pub usage: &'static str,
}

impl fmt::Display for UsageError {
    /// `"{problem}\nUsage: {usage}"` for one subcommand, `"{problem}\n{USAGE}"` for all.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.usage == USAGE {
            write!(f, "{}\n{}", self.problem, USAGE)
        } else {
            write!(f, "{}\nUsage: {}", self.problem, self.usage)
        }
    }
}

impl std::error::Error for UsageError {}

impl UsageError {
    /// An error about one subcommand, shown with that subcommand's usage line.
    fn new(usage: &'static str, problem: impl Into<String>) -> UsageError {
        UsageError {
            problem: problem.into(),
            usage,
        }
    }

    /// An error not tied to a known subcommand, shown with the whole [`USAGE`].
    fn general(problem: impl Into<String>) -> UsageError {
        UsageError::new(USAGE, problem)
    }

    /// Whether the error is shown with the whole [`USAGE`] rather than one line of it.
    pub fn shows_full_usage(&self) -> bool {
        self.usage == USAGE
    }
}

// One file per subcommand family (like mini-redis's `cmd/`): its parser, its usage lines
// and its table test. One macro per usage line, so each line exists once and `USAGE` can be
// assembled with `concat!` at compile time; `#[macro_use]` makes them visible below.
#[macro_use]
mod action;
#[macro_use]
mod aws;
#[macro_use]
mod declare;
#[macro_use]
mod drill;
#[macro_use]
mod resolve;
#[macro_use]
mod stats;
#[macro_use]
mod status;
#[macro_use]
mod timeline;
#[macro_use]
mod update;
#[cfg(test)]
mod tests;

use action::*;
use aws::*;
pub use declare::*;
use drill::*;
use resolve::*;
use stats::*;
pub use status::*;
use timeline::*;
use update::*;

/// The full help text: one line per subcommand with a short explanation.
pub const USAGE: &str = concat!(
    declare_usage!(),
    "\n",
    status_usage!(),
    "\n",
    sev_usage!(),
    "\n",
    lead_usage!(),
    "\n",
    role_usage!(),
    "\n",
    note_usage!(),
    "\n",
    update_usage!(),
    "\n",
    snooze_usage!(),
    "\n",
    aws_usage!(),
    "\n",
    aws_status_usage!(),
    "\n",
    aws_reply_usage!(),
    "\n",
    escalate_usage!(),
    "\n",
    changes_usage!(),
    "\n",
    timeline_usage!(),
    "\n",
    catchup_usage!(),
    "\n",
    resolve_usage!(),
    "\n",
    action_usage!(),
    "\n",
    action_done_usage!(),
    "\n",
    actions_usage!(),
    "\n",
    postmortem_usage!(),
    "\n",
    drill_usage!(),
    "\n",
    list_usage!(),
    "\n",
    stats_usage!(),
    "\n",
    help_usage!(),
);

/// Parse the text after `/incident`. Leading/trailing whitespace is ignored; empty text is
/// a usage error (with the full [`USAGE`]). Errors for: unknown subcommand, missing or
/// invalid arguments, unexpected extra arguments (`timeline`, `list`, `help`, `sev`,
/// `aws yes|no|status`, `escalate aws <severity>`), a snooze outside 1 minute to 7 days,
/// a title or text over the limits above, a command over [`MAX_COMMAND_CHARS`].
/// The title is trimmed, inner whitespace is kept; a trailing `sevN` word is the severity
/// (only when a title remains before it).
pub fn parse(text: &str) -> Result<Command, UsageError> {
    let chars = text.chars().count();
    if chars > MAX_COMMAND_CHARS {
        return Err(UsageError::general(format!(
            "the command is too long ({chars} characters, at most {MAX_COMMAND_CHARS}): keep the title short and add details as separate notes"
        )));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(UsageError::general(
            "a subcommand is missing: say what to do, e.g. /incident declare Checkout errors sev2",
        ));
    }
    let (word, rest) = split_word(text);
    match word.to_ascii_lowercase().as_str() {
        "declare" => parse_declare(rest),
        "status" => parse_status(rest),
        "sev" => parse_sev(rest),
        "lead" => parse_lead(rest),
        "role" => parse_role(rest),
        "catchup" => no_arguments("catchup", rest, CATCHUP_USAGE).map(|()| Command::Catchup),
        "note" => parse_note(rest),
        "timeline" => no_arguments("timeline", rest, TIMELINE_USAGE).map(|()| Command::Timeline),
        "resolve" => Ok(Command::Resolve {
            note: optional_text(rest, "closing note", RESOLVE_USAGE)?,
        }),
        "list" => no_arguments("list", rest, LIST_USAGE).map(|()| Command::List),
        "stats" => parse_stats(rest),
        "update" => parse_update(rest),
        "snooze" => parse_snooze(rest),
        "aws" => parse_aws(rest),
        "escalate" => parse_escalate(rest),
        "changes" => parse_changes(rest),
        "drill" => parse_drill(rest),
        "help" => no_arguments("help", rest, HELP_USAGE).map(|()| Command::Help),
        "action" => parse_action(rest),
        "actions" => no_arguments("actions", rest, ACTIONS_USAGE).map(|()| Command::Actions),
        "postmortem" => {
            no_arguments("postmortem", rest, POSTMORTEM_USAGE).map(|()| Command::Postmortem)
        }
        _ => Err(UsageError::general(format!(
            "unknown subcommand {}; these are the ones I know",
            quoted(word)
        ))),
    }
}

/// The first whitespace-separated word and the rest with its leading whitespace removed
/// (inner whitespace kept). `s` must not start with whitespace.
fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (s, ""),
    }
}

/// User input echoed back in an error: quoted and cut to a readable length.
fn quoted(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("\"{}…\"", s.get(..cut).unwrap_or(s)),
        None => format!("\"{s}\""),
    }
}

fn no_arguments(name: &str, rest: &str, usage: &'static str) -> Result<(), UsageError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(UsageError::new(
            usage,
            format!("{name} takes no arguments, but got {}", quoted(rest)),
        ))
    }
}

/// Free text over [`MAX_TEXT_CHARS`] is an error naming `what` it is.
fn check_text(text: &str, what: &str, usage: &'static str) -> Result<(), UsageError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        Err(UsageError::new(
            usage,
            format!(
                "the {what} is too long ({chars} characters, at most {MAX_TEXT_CHARS}): split it into several notes"
            ),
        ))
    } else {
        Ok(())
    }
}

/// `None` for empty text, else the (already trimmed) text within the limit.
fn optional_text(
    text: &str,
    what: &str,
    usage: &'static str,
) -> Result<Option<String>, UsageError> {
    if text.is_empty() {
        return Ok(None);
    }
    check_text(text, what, usage)?;
    Ok(Some(text.to_owned()))
}

/// `sev` followed by digits, in any case: meant as a severity, valid or not.
fn is_severity_word(word: &str) -> bool {
    word.get(..3)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("sev"))
        && word.len() > 3
        && word.bytes().skip(3).all(|b| b.is_ascii_digit())
}
