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

// One macro per usage line, so each line exists once and `USAGE` can be assembled with
// `concat!` at compile time.
macro_rules! declare_usage {
    () => {
        "/incident declare [--private] <title> [sev1-4] [type:<name>] — open an incident and its channel (severity defaults to SEV3, or the type's; --private: a private channel, shown elsewhere only as \"a private SEVn incident\")"
    };
}
macro_rules! status_usage {
    () => {
        "/incident status <investigating|identified|monitoring|resolved> [note] — move the incident to a new status, with an optional note"
    };
}
macro_rules! sev_usage {
    () => {
        "/incident sev <1-4> — change the severity (1 is the most severe)"
    };
}
macro_rules! lead_usage {
    () => {
        "/incident lead <@user> — hand the incident to a new lead"
    };
}
macro_rules! role_usage {
    () => {
        "/incident role <name> <@user> — give someone a role besides the lead (the names are in [incident] roles: comms, scribe, ops, aws-liaison by default)"
    };
}
macro_rules! catchup_usage {
    () => {
        "/incident catchup — what you missed: status, people, the latest update, the AWS case, key events, open items (only you see it)"
    };
}
macro_rules! note_usage {
    () => {
        "/incident note [at HH:MM] <text> — add a note to the timeline, optionally backdated (HH:MM in UTC)"
    };
}
macro_rules! update_usage {
    () => {
        "/incident update <text> — post a stakeholder update here and in the status channel"
    };
}
macro_rules! snooze_usage {
    () => {
        "/incident snooze <duration> — silence warroom's nudges in this incident for a while (1m to 7d, e.g. 30m or 1h30m)"
    };
}
macro_rules! aws_usage {
    () => {
        "/incident aws <yes|no> — say whether AWS is involved: yes starts the AWS Support clock, no stops it"
    };
}
macro_rules! aws_status_usage {
    () => {
        "/incident aws status — show the state of the incident's AWS Support case"
    };
}
macro_rules! aws_reply_usage {
    () => {
        "/incident aws reply <text> — add a message to the incident's open AWS Support case"
    };
}
macro_rules! escalate_usage {
    () => {
        "/incident escalate aws [low|normal|high|urgent|critical] — open an AWS Support case now (severity follows the incident's unless given)"
    };
}
macro_rules! changes_usage {
    () => {
        "/incident changes [2h] — what changed in AWS before the alarm (CloudTrail, the alarm's history, other alarms), 5m to 7d"
    };
}
macro_rules! timeline_usage {
    () => {
        "/incident timeline — show the incident's timeline (only you see it)"
    };
}
macro_rules! resolve_usage {
    () => {
        "/incident resolve [note] — resolve the incident, with an optional closing note"
    };
}
macro_rules! action_usage {
    () => {
        "/incident action <text> [@owner] — add an action item for the postmortem, optionally with an owner"
    };
}
macro_rules! action_done_usage {
    () => {
        "/incident action done <n> — mark action item n done"
    };
}
macro_rules! actions_usage {
    () => {
        "/incident actions — list the action items (only you see it)"
    };
}
macro_rules! postmortem_usage {
    () => {
        "/incident postmortem — draft the postmortem and upload it here as a Markdown file"
    };
}
macro_rules! drill_usage {
    () => {
        "/incident drill [route] [sev1-4] [--real-case] — rehearse: open a DRILL incident from a synthetic alarm on an alarm route (AWS Support cases are dry runs unless --real-case)"
    };
}
macro_rules! list_usage {
    () => {
        "/incident list — show the open incidents (only you see it)"
    };
}
macro_rules! stats_usage {
    () => {
        "/incident stats [30d] — the short incident report of the last 30 days (or 1d to 366d): counts and how fast (only you see it)"
    };
}
macro_rules! help_usage {
    () => {
        "/incident help — show this help (only you see it)"
    };
}

const DECLARE_USAGE: &str = declare_usage!();
const STATUS_USAGE: &str = status_usage!();
const SEV_USAGE: &str = sev_usage!();
const LEAD_USAGE: &str = lead_usage!();
const ROLE_USAGE: &str = role_usage!();
const CATCHUP_USAGE: &str = catchup_usage!();
const NOTE_USAGE: &str = note_usage!();
const TIMELINE_USAGE: &str = timeline_usage!();
const UPDATE_USAGE: &str = update_usage!();
const SNOOZE_USAGE: &str = snooze_usage!();
const AWS_USAGE: &str = aws_usage!();
const AWS_STATUS_USAGE: &str = aws_status_usage!();
const AWS_REPLY_USAGE: &str = aws_reply_usage!();
/// Every `aws` line, for `aws` alone or with a word it does not know.
const AWS_ALL_USAGE: &str = concat!(
    aws_usage!(),
    "\n",
    aws_status_usage!(),
    "\n",
    aws_reply_usage!()
);
const ESCALATE_USAGE: &str = escalate_usage!();
const CHANGES_USAGE: &str = changes_usage!();
const RESOLVE_USAGE: &str = resolve_usage!();
const ACTION_USAGE: &str = action_usage!();
const ACTION_DONE_USAGE: &str = action_done_usage!();
const ACTIONS_USAGE: &str = actions_usage!();
const POSTMORTEM_USAGE: &str = postmortem_usage!();
const LIST_USAGE: &str = list_usage!();
const DRILL_USAGE: &str = drill_usage!();
const STATS_USAGE: &str = stats_usage!();
const HELP_USAGE: &str = help_usage!();

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

fn parse_declare(rest: &str) -> Result<Command, UsageError> {
    const EXAMPLE: &str = "e.g. /incident declare Checkout errors sev2";
    // `--private` before the title (once or more, in any case).
    let mut rest = rest;
    let mut private = false;
    loop {
        let (word, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if !word.eq_ignore_ascii_case("--private") {
            break;
        }
        private = true;
        rest = after.trim_start();
    }
    if rest.is_empty() {
        return Err(UsageError::new(
            DECLARE_USAGE,
            format!("the title is missing: say what is wrong, {EXAMPLE}"),
        ));
    }
    // At most one `sevN` and one `type:<name>` at the end, in either order.
    let mut title = rest;
    let mut severity = None;
    let mut incident_type = None;
    for _ in 0..2 {
        let (before, last) = match title.rsplit_once(char::is_whitespace) {
            Some((before, last)) => (before.trim_end(), last),
            None => ("", title),
        };
        if severity.is_none() && is_severity_word(last) {
            severity = Some(last);
        } else if incident_type.is_none() && type_word(last).is_some() {
            incident_type = type_word(last);
        } else {
            break;
        }
        if before.is_empty() {
            return Err(UsageError::new(
                DECLARE_USAGE,
                format!("the title is missing: write it before the severity and type, {EXAMPLE}"),
            ));
        }
        title = before;
    }
    let severity = severity
        .map(|word| word.parse::<Severity>())
        .transpose()
        .map_err(|problem| UsageError::new(DECLARE_USAGE, problem))?;
    let incident_type = incident_type
        .map(|name| {
            let ok = !name.is_empty()
                && name.chars().count() <= MAX_TYPE_CHARS
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if ok {
                Ok(name.to_owned())
            } else {
                Err(UsageError::new(
                    DECLARE_USAGE,
                    format!(
                        "type:{name} is not a type name: use 1 to {MAX_TYPE_CHARS} lowercase letters, digits and dashes, e.g. type:security"
                    ),
                ))
            }
        })
        .transpose()?;
    let chars = title.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(UsageError::new(
            DECLARE_USAGE,
            format!(
                "the title is too long ({chars} characters, at most {MAX_TITLE_CHARS}): keep it short and add details with /incident note"
            ),
        ));
    }
    Ok(Command::Declare {
        title: title.to_owned(),
        severity,
        private,
        incident_type,
    })
}

/// The usage error for `type:<name>` when no `[[incident.types]]` has that name: it lists
/// those that exist.
pub fn unknown_type(name: &str, known: &[&str]) -> UsageError {
    let problem = if known.is_empty() {
        format!("there is no incident type {name:?}: no types are configured")
    } else {
        format!(
            "there is no incident type {name:?}; the types are {}",
            known.join(", ")
        )
    };
    UsageError::new(DECLARE_USAGE, problem)
}

/// `type:<name>` in any case of `type:`: the name, as written (checked by the caller).
fn type_word(word: &str) -> Option<&str> {
    word.get(..5)
        .filter(|prefix| prefix.eq_ignore_ascii_case("type:"))
        .map(|_| &word[5..])
}

/// `[route] [sevN] [--real-case]`, in any order: a `sevN` word is the severity,
/// `--real-case` the flag, the one other word the route name.
fn parse_drill(rest: &str) -> Result<Command, UsageError> {
    let mut route: Option<String> = None;
    let mut severity = None;
    let mut real_case = false;
    for word in rest.split_whitespace() {
        if word.eq_ignore_ascii_case("--real-case") {
            real_case = true;
        } else if is_severity_word(word) {
            if severity.is_some() {
                return Err(UsageError::new(DRILL_USAGE, "give the severity once"));
            }
            severity = Some(
                word.parse::<Severity>()
                    .map_err(|problem| UsageError::new(DRILL_USAGE, problem))?,
            );
        } else if word.starts_with('-') {
            return Err(UsageError::new(
                DRILL_USAGE,
                format!(
                    "unknown option {}: the only one is --real-case",
                    quoted(word)
                ),
            ));
        } else if route.is_some() {
            return Err(UsageError::new(
                DRILL_USAGE,
                format!("drill takes one route name, but got more: {}", quoted(rest)),
            ));
        } else if word.chars().count() > MAX_TITLE_CHARS {
            return Err(UsageError::new(DRILL_USAGE, "the route name is too long"));
        } else {
            route = Some(word.to_owned());
        }
    }
    Ok(Command::Drill {
        route,
        severity,
        real_case,
    })
}

fn parse_status(rest: &str) -> Result<Command, UsageError> {
    let (word, note) = split_word(rest);
    if word.is_empty() {
        return Err(UsageError::new(
            STATUS_USAGE,
            "the status is missing: use investigating, identified, monitoring or resolved",
        ));
    }
    let status = word
        .parse::<Status>()
        .map_err(|problem| UsageError::new(STATUS_USAGE, problem))?;
    Ok(Command::Status {
        status,
        note: optional_text(note, "note", STATUS_USAGE)?,
    })
}

fn parse_sev(rest: &str) -> Result<Command, UsageError> {
    let (word, extra) = split_word(rest);
    if word.is_empty() {
        return Err(UsageError::new(
            SEV_USAGE,
            "the severity is missing: use 1 (most severe) to 4, e.g. /incident sev 2",
        ));
    }
    let severity = word
        .parse::<Severity>()
        .map_err(|problem| UsageError::new(SEV_USAGE, problem))?;
    if !extra.is_empty() {
        return Err(UsageError::new(
            SEV_USAGE,
            format!(
                "sev takes one severity, but got more after it: {}",
                quoted(extra)
            ),
        ));
    }
    Ok(Command::Sev(severity))
}

fn parse_lead(rest: &str) -> Result<Command, UsageError> {
    if rest.is_empty() {
        return Err(UsageError::new(
            LEAD_USAGE,
            "the new lead is missing: mention them, e.g. /incident lead @alice",
        ));
    }
    one_person(
        rest,
        "lead",
        "the new lead",
        LEAD_USAGE,
        "/incident lead @alice",
    )
    .map(Command::Lead)
}

/// Longest role name, in characters.
pub const MAX_ROLE_CHARS: usize = 32;

fn parse_role(rest: &str) -> Result<Command, UsageError> {
    let (name, rest) = split_word(rest);
    if name.is_empty() || rest.is_empty() {
        return Err(UsageError::new(
            ROLE_USAGE,
            "say which role and who: e.g. /incident role comms @alice",
        ));
    }
    let role = name.to_ascii_lowercase();
    let well_formed = role.chars().count() <= MAX_ROLE_CHARS
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !well_formed {
        return Err(UsageError::new(
            ROLE_USAGE,
            format!(
                "{} is not a role name: role names are letters, digits and dashes, e.g. comms",
                quoted(name)
            ),
        ));
    }
    let user = one_person(
        rest,
        "role",
        "the person",
        ROLE_USAGE,
        "/incident role comms @alice",
    )?;
    Ok(Command::Role { role, user })
}

/// Exactly one mention (`<@U123>`, `<@U123|name>`) or bare user id, and nothing after it.
fn one_person(
    rest: &str,
    sub: &str,
    who: &str,
    usage: &'static str,
    example: &str,
) -> Result<UserId, UsageError> {
    // A mention is `<@U123>` or `<@U123|name>`; take it whole up to its `>` so a label
    // with spaces in it does not count as extra text.
    let (mention, extra) = match rest.strip_prefix("<@").and_then(|m| m.split_once('>')) {
        Some((inner, extra)) => {
            let id = inner.split_once('|').map_or(inner, |(id, _label)| id);
            (id, extra.trim_start())
        }
        None => split_word(rest),
    };
    let user = UserId::parse(mention).map_err(|_| {
        UsageError::new(
            usage,
            format!(
                "{} is not a user: mention {who} with @ so Slack picks the person, e.g. {example}",
                quoted(mention)
            ),
        )
    })?;
    if !extra.is_empty() {
        return Err(UsageError::new(
            usage,
            format!(
                "{sub} takes one person, but got more after the mention: {}",
                quoted(extra)
            ),
        ));
    }
    Ok(user)
}

fn parse_update(rest: &str) -> Result<Command, UsageError> {
    if rest.is_empty() {
        return Err(UsageError::new(
            UPDATE_USAGE,
            "the update text is missing: say what stakeholders need to know, e.g. /incident update checkout degraded, next update 14:30",
        ));
    }
    check_text(rest, "update", UPDATE_USAGE)?;
    Ok(Command::Update {
        text: rest.to_owned(),
    })
}

/// `snooze <duration>`: humantime's units (`30m`, `2h`, `1h30m`, `1h 30m`, `2d`), read in
/// lower case so a chat-typed `30M` means minutes rather than humantime's months.
fn parse_snooze(rest: &str) -> Result<Command, UsageError> {
    if rest.is_empty() {
        return Err(UsageError::new(
            SNOOZE_USAGE,
            "the snooze duration is missing: say for how long, e.g. /incident snooze 30m",
        ));
    }
    let not_a_duration = || {
        UsageError::new(
            SNOOZE_USAGE,
            format!("{} is not a duration (like 30m or 2h)", quoted(rest)),
        )
    };
    let std = humantime::parse_duration(&rest.to_lowercase()).map_err(|_| not_a_duration())?;
    let duration = chrono::Duration::from_std(std).map_err(|_| not_a_duration())?;
    if duration < MIN_SNOOZE {
        return Err(UsageError::new(
            SNOOZE_USAGE,
            format!(
                "{} is too short: snooze for at least 1 minute, e.g. /incident snooze 30m",
                quoted(rest)
            ),
        ));
    }
    if duration > MAX_SNOOZE {
        return Err(UsageError::new(
            SNOOZE_USAGE,
            format!(
                "{} is too long: snooze for at most 7 days (7d)",
                quoted(rest)
            ),
        ));
    }
    Ok(Command::Snooze(duration))
}

/// `changes [lookback]`: 5 minutes to 7 days, like `2h` or `90m`.
fn parse_changes(rest: &str) -> Result<Command, UsageError> {
    use super::changes::{MAX_LOOKBACK, MIN_LOOKBACK};
    if rest.is_empty() {
        return Ok(Command::Changes { lookback: None });
    }
    let not_a_duration = || {
        UsageError::new(
            CHANGES_USAGE,
            format!("{} is not a lookback (like 2h or 90m)", quoted(rest)),
        )
    };
    let std = humantime::parse_duration(&rest.to_lowercase()).map_err(|_| not_a_duration())?;
    let lookback = chrono::Duration::from_std(std).map_err(|_| not_a_duration())?;
    if !(MIN_LOOKBACK..=MAX_LOOKBACK).contains(&lookback) {
        return Err(UsageError::new(
            CHANGES_USAGE,
            format!(
                "{} is out of range: look back 5m to 7d, e.g. /incident changes 6h",
                quoted(rest)
            ),
        ));
    }
    Ok(Command::Changes {
        lookback: Some(lookback),
    })
}

/// `stats [window]`.
fn parse_stats(rest: &str) -> Result<Command, UsageError> {
    if rest.is_empty() {
        return Ok(Command::Stats { window: None });
    }
    super::report::parse_window(rest)
        .map(|w| Command::Stats { window: Some(w) })
        .map_err(|problem| UsageError::new(STATS_USAGE, problem))
}

/// `aws yes|no|status` and `aws reply <text>`.
fn parse_aws(rest: &str) -> Result<Command, UsageError> {
    let (word, after) = split_word(rest);
    let no_more = |name: &str, usage: &'static str| -> Result<(), UsageError> {
        no_arguments(name, after, usage)
    };
    match word.to_ascii_lowercase().as_str() {
        "" => Err(UsageError::new(
            AWS_ALL_USAGE,
            "say what about AWS: yes or no (is AWS involved?), status, or reply <text>",
        )),
        "yes" => no_more("aws yes", AWS_USAGE).map(|()| Command::AwsInvolved(true)),
        "no" => no_more("aws no", AWS_USAGE).map(|()| Command::AwsInvolved(false)),
        "status" => no_more("aws status", AWS_STATUS_USAGE).map(|()| Command::AwsStatus),
        "reply" => {
            if after.is_empty() {
                return Err(UsageError::new(
                    AWS_REPLY_USAGE,
                    "the reply text is missing: say what AWS Support should know, e.g. /incident aws reply errors stopped at 14:05 after the failover",
                ));
            }
            check_text(after, "reply", AWS_REPLY_USAGE)?;
            Ok(Command::AwsReply {
                text: after.to_owned(),
            })
        }
        _ => Err(UsageError::new(
            AWS_ALL_USAGE,
            format!(
                "{} is not an aws subcommand: use yes, no, status or reply <text>",
                quoted(word)
            ),
        )),
    }
}

/// `escalate aws [severity]`: AWS Support is the only place warroom escalates to.
fn parse_escalate(rest: &str) -> Result<Command, UsageError> {
    let (target, after) = split_word(rest);
    if target.is_empty() {
        return Err(UsageError::new(
            ESCALATE_USAGE,
            "say where to escalate: only AWS Support is supported, e.g. /incident escalate aws",
        ));
    }
    if !target.eq_ignore_ascii_case("aws") {
        return Err(UsageError::new(
            ESCALATE_USAGE,
            format!(
                "cannot escalate to {}: only AWS Support is supported, e.g. /incident escalate aws",
                quoted(target)
            ),
        ));
    }
    let (word, extra) = split_word(after);
    if !extra.is_empty() {
        return Err(UsageError::new(
            ESCALATE_USAGE,
            format!(
                "escalate aws takes at most a case severity, but got more after it: {}",
                quoted(extra)
            ),
        ));
    }
    let severity = if word.is_empty() {
        None
    } else {
        Some(
            word.parse::<SupportSeverity>()
                .map_err(|problem| UsageError::new(ESCALATE_USAGE, problem))?,
        )
    };
    Ok(Command::EscalateAws { severity })
}

/// `action done <n>` closes item n; anything else is `action <text> [<@owner>]`, where only
/// a trailing `<@U…>` mention is the owner (a bare id could be a word such as "UPS").
fn parse_action(rest: &str) -> Result<Command, UsageError> {
    let (first, after) = split_word(rest);
    if first.eq_ignore_ascii_case("done") {
        return parse_action_done(after);
    }
    if rest.is_empty() {
        return Err(UsageError::new(
            ACTION_USAGE,
            "the action text is missing: say what should change, e.g. /incident action add an alarm on RDS connections @bob",
        ));
    }
    let (text, owner) = match trailing_mention(rest) {
        Some((text, id)) => {
            let owner = UserId::parse(id).map_err(|_| {
                UsageError::new(
                    ACTION_USAGE,
                    format!(
                        "{} is not a user: mention the owner with @ so Slack picks the person, e.g. /incident action add an alarm @bob",
                        quoted(id)
                    ),
                )
            })?;
            (text, Some(owner))
        }
        None => (rest, None),
    };
    if text.is_empty() {
        return Err(UsageError::new(
            ACTION_USAGE,
            "the action text is missing before the owner: write what should change first, e.g. /incident action add an alarm @bob",
        ));
    }
    check_text(text, "action text", ACTION_USAGE)?;
    Ok(Command::Action {
        text: text.to_owned(),
        owner,
    })
}

/// `text <@U123|label>` → `(text, "U123")`: a mention that ends the text (its label may hold
/// spaces). The text before it is trimmed and may be empty.
fn trailing_mention(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_suffix('>')?;
    let start = inner.rfind("<@")?;
    let mention = inner.get(start + 2..)?;
    if mention.contains(['<', '>']) {
        return None;
    }
    let before = inner.get(..start)?;
    if !(before.is_empty() || before.ends_with(char::is_whitespace)) {
        return None;
    }
    let id = mention.split_once('|').map_or(mention, |(id, _label)| id);
    Some((before.trim_end(), id))
}

fn parse_action_done(rest: &str) -> Result<Command, UsageError> {
    if rest.is_empty() {
        return Err(UsageError::new(
            ACTION_DONE_USAGE,
            "the action number is missing: /incident actions shows them, e.g. /incident action done 2",
        ));
    }
    let digits = rest.strip_prefix('#').unwrap_or(rest);
    match digits.parse::<u32>() {
        Ok(n) if n >= 1 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Command::ActionDone(n))
        }
        _ => Err(UsageError::new(
            ACTION_DONE_USAGE,
            format!(
                "{} is not an action number: use the number /incident actions shows, e.g. /incident action done 2",
                quoted(rest)
            ),
        )),
    }
}

fn parse_note(rest: &str) -> Result<Command, UsageError> {
    let missing = |problem: &str| {
        UsageError::new(
            NOTE_USAGE,
            format!(
                "{problem}: write what happened, e.g. /incident note at 13:50 error rate doubled"
            ),
        )
    };
    if rest.is_empty() {
        return Err(missing("the note text is missing"));
    }
    let (first, after_at) = split_word(rest);
    if first.eq_ignore_ascii_case("at") {
        let (time, text) = split_word(after_at);
        if looks_like_time(time) {
            let at = parse_time(time)?;
            if text.is_empty() {
                return Err(missing("the note text is missing after the time"));
            }
            check_text(text, "note", NOTE_USAGE)?;
            return Ok(Command::Note {
                at: Some(at),
                text: text.to_owned(),
            });
        }
    }
    // Not a time after `at` ("note at least 3 hosts are down"): plain text.
    check_text(rest, "note", NOTE_USAGE)?;
    Ok(Command::Note {
        at: None,
        text: rest.to_owned(),
    })
}

/// Digits and colons starting with a digit, with at least one colon: meant as a time.
fn looks_like_time(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_digit())
        && word.contains(':')
        && word.chars().all(|c| c.is_ascii_digit() || c == ':')
}

/// `H:MM` or `HH:MM`, 24-hour.
fn parse_time(word: &str) -> Result<NaiveTime, UsageError> {
    let parsed = word.split_once(':').and_then(|(h, m)| {
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let h: u32 = h.parse().ok()?;
        let m: u32 = m.parse().ok()?;
        NaiveTime::from_hms_opt(h, m, 0)
    });
    parsed.ok_or_else(|| {
        UsageError::new(
            NOTE_USAGE,
            format!(
                "{} is not a time: use 24-hour HH:MM in UTC, from 00:00 to 23:59, e.g. 13:50",
                quoted(word)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn hm(h: u32, m: u32) -> Option<NaiveTime> {
        Some(NaiveTime::from_hms_opt(h, m, 0).unwrap())
    }

    fn declare(title: &str, severity: Option<Severity>) -> Command {
        Command::Declare {
            title: title.to_owned(),
            severity,
            private: false,
            incident_type: None,
        }
    }

    fn declare_typed(title: &str, severity: Option<Severity>, t: &str) -> Command {
        Command::Declare {
            title: title.to_owned(),
            severity,
            private: false,
            incident_type: Some(t.to_owned()),
        }
    }

    #[test]
    fn declare_takes_a_type_and_a_severity_in_either_order() {
        for (text, want) in [
            (
                "declare Leaked key type:security",
                declare_typed("Leaked key", None, "security"),
            ),
            (
                "declare Leaked key sev1 type:security",
                declare_typed("Leaked key", Some(Severity::Sev1), "security"),
            ),
            (
                "declare Leaked key TYPE:db-2 sev2",
                declare_typed("Leaked key", Some(Severity::Sev2), "db-2"),
            ),
            // Only at the end: a type word inside the title is part of it.
            (
                "declare type:security in the title",
                declare("type:security in the title", None),
            ),
        ] {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
        for bad in [
            "declare type:security",
            "declare sev1 type:security",
            "declare Leak type:",
            "declare Leak type:Security",
            "declare Leak type:a_b",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("/incident declare"),
                "{bad}: {err}"
            );
        }
    }

    fn declare_private(title: &str, severity: Option<Severity>) -> Command {
        Command::Declare {
            title: title.to_owned(),
            severity,
            private: true,
            incident_type: None,
        }
    }

    fn status(status: Status, note: Option<&str>) -> Command {
        Command::Status {
            status,
            note: note.map(str::to_owned),
        }
    }

    fn note(at: Option<NaiveTime>, text: &str) -> Command {
        Command::Note {
            at,
            text: text.to_owned(),
        }
    }

    fn action(text: &str, owner: Option<&str>) -> Command {
        Command::Action {
            text: text.to_owned(),
            owner: owner.map(user),
        }
    }

    fn resolve(note: Option<&str>) -> Command {
        Command::Resolve {
            note: note.map(str::to_owned),
        }
    }

    fn snooze(secs: i64) -> Command {
        Command::Snooze(chrono::Duration::seconds(secs))
    }

    fn aws_reply(text: &str) -> Command {
        Command::AwsReply {
            text: text.to_owned(),
        }
    }

    fn escalate(severity: Option<SupportSeverity>) -> Command {
        Command::EscalateAws { severity }
    }

    /// What a table row expects: the command, or an error whose `Display` contains every
    /// listed substring.
    enum Expect {
        Ok(Command),
        Err(&'static [&'static str]),
    }
    use Expect::{Err as E, Ok as K};

    fn drill(route: Option<&str>, severity: Option<Severity>, real_case: bool) -> Command {
        Command::Drill {
            route: route.map(str::to_owned),
            severity,
            real_case,
        }
    }

    fn table() -> Vec<(String, Expect)> {
        let long_title = "x".repeat(MAX_TITLE_CHARS + 1);
        let max_title = "x".repeat(MAX_TITLE_CHARS);
        let long_text = "y".repeat(MAX_TEXT_CHARS + 1);
        let max_text = "y".repeat(MAX_TEXT_CHARS);
        let rows: Vec<(&str, Expect)> = vec![
            // drill
            ("drill", K(drill(None, None, false))),
            ("drill checkout", K(drill(Some("checkout"), None, false))),
            (
                "DRILL checkout sev2",
                K(drill(Some("checkout"), Some(Severity::Sev2), false)),
            ),
            (
                "drill sev1 --real-case checkout",
                K(drill(Some("checkout"), Some(Severity::Sev1), true)),
            ),
            ("drill --REAL-CASE", K(drill(None, None, true))),
            ("drill sev9", E(&["Usage: /incident drill"])),
            (
                "drill a b",
                E(&["one route name", "Usage: /incident drill"]),
            ),
            ("drill sev1 sev2", E(&["severity once"])),
            (
                "drill --dry",
                E(&["unknown option \"--dry\"", "--real-case"]),
            ),
            // declare
            ("declare DB down", K(declare("DB down", None))),
            (
                "declare DB down sev1",
                K(declare("DB down", Some(Severity::Sev1))),
            ),
            (
                "declare DB down SEV4",
                K(declare("DB down", Some(Severity::Sev4))),
            ),
            (
                "declare DB down Sev2",
                K(declare("DB down", Some(Severity::Sev2))),
            ),
            (
                "declare  Checkout errors SEV2",
                K(declare("Checkout errors", Some(Severity::Sev2))),
            ),
            (
                "  DECLARE   Checkout   errors   sev3  ",
                K(declare("Checkout   errors", Some(Severity::Sev3))),
            ),
            ("Declare x", K(declare("x", None))),
            (
                "declare\tTabbed\ttitle\tsev1",
                K(declare("Tabbed\ttitle", Some(Severity::Sev1))),
            ),
            (
                "declare sev1 sev2",
                K(declare("sev1", Some(Severity::Sev2))),
            ),
            // Only a trailing `sevN` word is the severity.
            (
                "declare sev1 is the worst kind",
                K(declare("sev1 is the worst kind", None)),
            ),
            (
                "declare Outage in us-east-1",
                K(declare("Outage in us-east-1", None)),
            ),
            ("declare DB down 1", K(declare("DB down 1", None))),
            (
                "declare --private Payroll leak sev2",
                K(declare_private("Payroll leak", Some(Severity::Sev2))),
            ),
            (
                "declare --PRIVATE  --private Payroll leak",
                K(declare_private("Payroll leak", None)),
            ),
            // Only before the title: later it is part of the title.
            (
                "declare Payroll --private leak",
                K(declare("Payroll --private leak", None)),
            ),
            ("declare --private", E(&["title is missing"])),
            ("declare --private sev1", E(&["title is missing"])),
            (
                "declare --privately bad",
                K(declare("--privately bad", None)),
            ),
            ("declare DB down s1", K(declare("DB down s1", None))),
            ("declare DB down severe", K(declare("DB down severe", None))),
            ("declare DB down sev", K(declare("DB down sev", None))),
            (
                "declare DB down sev9",
                E(&["unknown severity \"sev9\"", "Usage: /incident declare"]),
            ),
            ("declare DB down sev0", E(&["unknown severity \"sev0\""])),
            (
                "declare sev1",
                E(&["title is missing", "Usage: /incident declare"]),
            ),
            ("declare   SEV2  ", E(&["title is missing"])),
            (
                "declare",
                E(&["title is missing", "Usage: /incident declare"]),
            ),
            ("declare    ", E(&["title is missing"])),
            (
                "declare <!channel> everything is on fire",
                K(declare("<!channel> everything is on fire", None)),
            ),
            (
                "declare <https://evil|click> & <@U1> sev1",
                K(declare(
                    "<https://evil|click> & <@U1>",
                    Some(Severity::Sev1),
                )),
            ),
            (
                "declare 🔥 Paiements échoués 🔥 sev2",
                K(declare("🔥 Paiements échoués 🔥", Some(Severity::Sev2))),
            ),
            // status
            (
                "status investigating",
                K(status(Status::Investigating, None)),
            ),
            ("status identified", K(status(Status::Identified, None))),
            ("status monitoring", K(status(Status::Monitoring, None))),
            ("status resolved", K(status(Status::Resolved, None))),
            (
                "status investigating looking at the pool",
                K(status(Status::Investigating, Some("looking at the pool"))),
            ),
            (
                "status identified rolled back the deploy",
                K(status(Status::Identified, Some("rolled back the deploy"))),
            ),
            (
                "status monitoring error rate back to normal",
                K(status(
                    Status::Monitoring,
                    Some("error rate back to normal"),
                )),
            ),
            (
                "status resolved pool size raised",
                K(status(Status::Resolved, Some("pool size raised"))),
            ),
            (
                "STATUS   Identified    two  spaces   kept  ",
                K(status(Status::Identified, Some("two  spaces   kept"))),
            ),
            (
                "status identified line one\nline two",
                K(status(Status::Identified, Some("line one\nline two"))),
            ),
            (
                "status bogus",
                E(&[
                    "unknown status \"bogus\"",
                    "investigating, identified, monitoring or resolved",
                    "Usage: /incident status",
                ]),
            ),
            ("status resolve", E(&["unknown status \"resolve\""])),
            (
                "status",
                E(&["status is missing", "Usage: /incident status"]),
            ),
            ("status   ", E(&["status is missing"])),
            // sev
            ("sev 1", K(Command::Sev(Severity::Sev1))),
            ("sev 2", K(Command::Sev(Severity::Sev2))),
            ("sev 3", K(Command::Sev(Severity::Sev3))),
            ("sev 4", K(Command::Sev(Severity::Sev4))),
            ("sev sev2", K(Command::Sev(Severity::Sev2))),
            ("SEV SEV1", K(Command::Sev(Severity::Sev1))),
            ("sev s3", K(Command::Sev(Severity::Sev3))),
            ("  sev    4  ", K(Command::Sev(Severity::Sev4))),
            (
                "sev 9",
                E(&["unknown severity \"9\"", "Usage: /incident sev <1-4>"]),
            ),
            ("sev 0", E(&["unknown severity \"0\""])),
            ("sev two", E(&["unknown severity \"two\"", "sev1"])),
            ("sev -1", E(&["unknown severity \"-1\""])),
            ("sev", E(&["severity is missing", "Usage: /incident sev"])),
            ("sev 1 2", E(&["sev takes one severity", "\"2\""])),
            ("sev 1 because it is bad", E(&["\"because it is bad\""])),
            // lead
            ("lead <@U123ABC>", K(Command::Lead(user("U123ABC")))),
            ("lead <@U123ABC|alice>", K(Command::Lead(user("U123ABC")))),
            (
                "lead <@W123ABC|alice.smith>",
                K(Command::Lead(user("W123ABC"))),
            ),
            (
                "lead <@U123ABC|Alice Smith>",
                K(Command::Lead(user("U123ABC"))),
            ),
            ("lead U123ABC", K(Command::Lead(user("U123ABC")))),
            ("LEAD   <@U123ABC>  ", K(Command::Lead(user("U123ABC")))),
            (
                "lead alice",
                E(&["\"alice\" is not a user", "@", "Usage: /incident lead"]),
            ),
            ("lead @alice", E(&["\"@alice\" is not a user"])),
            ("lead u123abc", E(&["is not a user"])),
            ("lead <@alice>", E(&["\"alice\" is not a user"])),
            ("lead <!channel>", E(&["\"<!channel>\" is not a user"])),
            ("lead <#C123|general>", E(&["is not a user"])),
            ("lead <@U123ABC", E(&["is not a user"])),
            ("lead", E(&["new lead is missing", "Usage: /incident lead"])),
            (
                "lead <@U1> <@U2>",
                E(&["lead takes one person", "\"<@U2>\""]),
            ),
            ("lead U1 and U2", E(&["lead takes one person"])),
            // role
            (
                "role comms <@U123ABC>",
                K(Command::Role {
                    role: "comms".into(),
                    user: user("U123ABC"),
                }),
            ),
            (
                "ROLE AWS-Liaison <@U123ABC|Bob Smith>",
                K(Command::Role {
                    role: "aws-liaison".into(),
                    user: user("U123ABC"),
                }),
            ),
            (
                "role",
                E(&["say which role and who", "Usage: /incident role"]),
            ),
            ("role comms", E(&["say which role and who"])),
            ("role <@U1> comms", E(&["is not a role name"])),
            ("role comms alice", E(&["\"alice\" is not a user"])),
            ("role comms <@U1> <@U2>", E(&["role takes one person"])),
            ("role c*mms <@U1>", E(&["is not a role name"])),
            // catchup
            ("catchup", K(Command::Catchup)),
            ("CATCHUP  ", K(Command::Catchup)),
            ("catchup now", E(&["Usage: /incident catchup"])),
            // note
            (
                "note restarted the pool",
                K(note(None, "restarted the pool")),
            ),
            (
                "note at 13:50 saw errors",
                K(note(hm(13, 50), "saw errors")),
            ),
            (
                "NOTE AT 13:50 saw errors",
                K(note(hm(13, 50), "saw errors")),
            ),
            (
                "note   at   9:05   saw   errors  ",
                K(note(hm(9, 5), "saw   errors")),
            ),
            ("note at 00:00 midnight", K(note(hm(0, 0), "midnight"))),
            ("note at 23:59 late", K(note(hm(23, 59), "late"))),
            (
                "note at least 3 hosts are down",
                K(note(None, "at least 3 hosts are down")),
            ),
            ("note at", K(note(None, "at"))),
            ("note 13:50 saw errors", K(note(None, "13:50 saw errors"))),
            ("note multi\nline\nnote", K(note(None, "multi\nline\nnote"))),
            ("note <!channel> look", K(note(None, "<!channel> look"))),
            (
                "note at 25:00 x",
                E(&["\"25:00\" is not a time", "HH:MM", "Usage: /incident note"]),
            ),
            ("note at 13:60 x", E(&["\"13:60\" is not a time"])),
            ("note at 24:00 x", E(&["\"24:00\" is not a time"])),
            ("note at 1:5 x", E(&["\"1:5\" is not a time"])),
            ("note at 123:45 x", E(&["\"123:45\" is not a time"])),
            ("note at 13:50:00 x", E(&["\"13:50:00\" is not a time"])),
            ("note at 13: x", E(&["\"13:\" is not a time"])),
            (
                "note at 13:50",
                E(&[
                    "note text is missing after the time",
                    "Usage: /incident note",
                ]),
            ),
            (
                "note at 13:50   ",
                E(&["note text is missing after the time"]),
            ),
            (
                "note",
                E(&["note text is missing", "Usage: /incident note"]),
            ),
            ("note    ", E(&["note text is missing"])),
            // timeline, list, help
            ("timeline", K(Command::Timeline)),
            ("TimeLine  ", K(Command::Timeline)),
            (
                "timeline extra",
                E(&[
                    "timeline takes no arguments",
                    "\"extra\"",
                    "Usage: /incident timeline",
                ]),
            ),
            ("list", K(Command::List)),
            ("LIST", K(Command::List)),
            (
                "list all",
                E(&["list takes no arguments", "Usage: /incident list"]),
            ),
            ("help", K(Command::Help)),
            ("Help", K(Command::Help)),
            ("help me", E(&["help takes no arguments"])),
            // update
            (
                "update checkout degraded, next update 14:30",
                K(Command::Update {
                    text: "checkout degraded, next update 14:30".into(),
                }),
            ),
            (
                "UPDATE   <!channel> all good  ",
                K(Command::Update {
                    text: "<!channel> all good".into(),
                }),
            ),
            (
                "update",
                E(&["update text is missing", "Usage: /incident update"]),
            ),
            // snooze
            ("snooze 30m", K(snooze(30 * 60))),
            ("snooze 2h", K(snooze(2 * 3600))),
            ("snooze 1h30m", K(snooze(90 * 60))),
            ("snooze 1h 30m", K(snooze(90 * 60))),
            ("SNOOZE   45min  ", K(snooze(45 * 60))),
            // In chat, an upper-case M means minutes (humantime's `M` is months).
            ("Snooze 30M", K(snooze(30 * 60))),
            ("snooze 2H", K(snooze(2 * 3600))),
            ("snooze 1m", K(snooze(60))),
            ("snooze 60s", K(snooze(60))),
            ("snooze 90s", K(snooze(90))),
            ("snooze 7d", K(snooze(7 * 86400))),
            ("snooze 1w", K(snooze(7 * 86400))),
            ("snooze 1.5h", K(snooze(90 * 60))),
            (
                "snooze soon",
                E(&[
                    "\"soon\" is not a duration (like 30m or 2h)",
                    "Usage: /incident snooze <duration>",
                ]),
            ),
            ("snooze 30", E(&["\"30\" is not a duration"])),
            ("snooze -5m", E(&["\"-5m\" is not a duration"])),
            ("snooze 2h because of the deploy", E(&["is not a duration"])),
            (
                "snooze 30s",
                E(&[
                    "\"30s\" is too short",
                    "at least 1 minute",
                    "Usage: /incident snooze",
                ]),
            ),
            ("snooze 59s", E(&["too short"])),
            ("snooze 0m", E(&["too short"])),
            (
                "snooze 8d",
                E(&[
                    "\"8d\" is too long",
                    "at most 7 days",
                    "Usage: /incident snooze",
                ]),
            ),
            ("snooze 7d 1s", E(&["too long"])),
            ("snooze 1 month", E(&["too long"])),
            ("snooze 99999999999999999999d", E(&["is not a duration"])),
            (
                "snooze",
                E(&["snooze duration is missing", "Usage: /incident snooze"]),
            ),
            ("snooze   ", E(&["snooze duration is missing"])),
            // aws
            ("aws yes", K(Command::AwsInvolved(true))),
            ("aws no", K(Command::AwsInvolved(false))),
            ("AWS YES", K(Command::AwsInvolved(true))),
            ("Aws   No  ", K(Command::AwsInvolved(false))),
            ("aws status", K(Command::AwsStatus)),
            ("AWS Status", K(Command::AwsStatus)),
            (
                "aws reply errors stopped at 14:05",
                K(aws_reply("errors stopped at 14:05")),
            ),
            (
                "AWS REPLY   Still   failing  ",
                K(aws_reply("Still   failing")),
            ),
            // Kept verbatim: escaping is the renderer's job, and AWS gets what was typed.
            (
                "aws reply <!channel> see <https://evil|click> & <@U1> `a|b` *x* > y",
                K(aws_reply(
                    "<!channel> see <https://evil|click> & <@U1> `a|b` *x* > y",
                )),
            ),
            (
                "aws reply line one\nline two",
                K(aws_reply("line one\nline two")),
            ),
            ("aws reply yes", K(aws_reply("yes"))),
            (
                "aws reply",
                E(&["reply text is missing", "Usage: /incident aws reply <text>"]),
            ),
            ("aws reply   ", E(&["reply text is missing"])),
            (
                "aws",
                E(&[
                    "say what about AWS",
                    "Usage: /incident aws <yes|no>",
                    "/incident aws status",
                    "/incident aws reply <text>",
                ]),
            ),
            (
                "aws maybe",
                E(&[
                    "\"maybe\" is not an aws subcommand",
                    "Usage: /incident aws <yes|no>",
                    "/incident aws reply <text>",
                ]),
            ),
            ("aws true", E(&["\"true\" is not an aws subcommand"])),
            (
                "aws yes please",
                E(&[
                    "aws yes takes no arguments",
                    "\"please\"",
                    "Usage: /incident aws <yes|no>",
                ]),
            ),
            ("aws no way", E(&["aws no takes no arguments"])),
            (
                "aws status now",
                E(&[
                    "aws status takes no arguments",
                    "Usage: /incident aws status",
                ]),
            ),
            // escalate
            ("escalate aws", K(escalate(None))),
            ("ESCALATE AWS", K(escalate(None))),
            ("escalate aws low", K(escalate(Some(SupportSeverity::Low)))),
            (
                "escalate aws normal",
                K(escalate(Some(SupportSeverity::Normal))),
            ),
            (
                "escalate aws high",
                K(escalate(Some(SupportSeverity::High))),
            ),
            (
                "Escalate Aws URGENT",
                K(escalate(Some(SupportSeverity::Urgent))),
            ),
            (
                "  escalate   aws   critical  ",
                K(escalate(Some(SupportSeverity::Critical))),
            ),
            (
                "escalate",
                E(&[
                    "only AWS Support is supported",
                    "Usage: /incident escalate aws",
                ]),
            ),
            (
                "escalate pagerduty",
                E(&[
                    "cannot escalate to \"pagerduty\"",
                    "only AWS Support is supported",
                    "Usage: /incident escalate aws",
                ]),
            ),
            (
                "escalate to aws",
                E(&["cannot escalate to \"to\"", "only AWS Support"]),
            ),
            (
                "escalate aws sev1",
                E(&[
                    "unknown AWS Support severity \"sev1\"",
                    "low, normal, high, urgent or critical",
                    "Usage: /incident escalate aws",
                ]),
            ),
            (
                "escalate aws bad",
                E(&["unknown AWS Support severity \"bad\""]),
            ),
            (
                "escalate aws high now",
                E(&[
                    "escalate aws takes at most a case severity",
                    "\"now\"",
                    "Usage: /incident escalate aws",
                ]),
            ),
            // changes
            ("changes", K(Command::Changes { lookback: None })),
            (
                "CHANGES 6h",
                K(Command::Changes {
                    lookback: Some(chrono::Duration::hours(6)),
                }),
            ),
            (
                "changes 1h30m",
                K(Command::Changes {
                    lookback: Some(chrono::Duration::minutes(90)),
                }),
            ),
            (
                "changes soon",
                E(&[
                    "\"soon\" is not a lookback (like 2h or 90m)",
                    "Usage: /incident changes [2h]",
                ]),
            ),
            (
                "changes 1m",
                E(&["\"1m\" is out of range: look back 5m to 7d"]),
            ),
            ("changes 8d", E(&["\"8d\" is out of range"])),
            // stats
            ("stats", K(Command::Stats { window: None })),
            (
                "STATS 90d",
                K(Command::Stats {
                    window: Some(chrono::Duration::days(90)),
                }),
            ),
            (
                "stats 2w",
                K(Command::Stats {
                    window: Some(chrono::Duration::days(14)),
                }),
            ),
            (
                "stats lately",
                E(&[
                    "\"lately\" is not a period (like 30d, 12w or 90d)",
                    "Usage: /incident stats [30d]",
                ]),
            ),
            ("stats 1h", E(&["\"1h\" is out of range: 1d to 366d"])),
            ("stats 2y", E(&["out of range"])),
            // action, action done, actions, postmortem
            (
                "action add an alarm on RDS connections",
                K(action("add an alarm on RDS connections", None)),
            ),
            (
                "action add an alarm on RDS connections <@U0BOB>",
                K(action("add an alarm on RDS connections", Some("U0BOB"))),
            ),
            (
                "ACTION   raise the pool size   <@U0BOB|Bob Smith>  ",
                K(action("raise the pool size", Some("U0BOB"))),
            ),
            (
                "action ask <@U0BOB> about <@U0CAROL> runbook",
                K(action("ask <@U0BOB> about <@U0CAROL> runbook", None)),
            ),
            (
                "action ask <@U0BOB> to page <@U0CAROL>",
                K(action("ask <@U0BOB> to page", Some("U0CAROL"))),
            ),
            // A bare id is a word, not an owner ("check the UPS").
            ("action check the UPS", K(action("check the UPS", None))),
            ("action x<@U0BOB>", K(action("x<@U0BOB>", None))),
            (
                "action fix `a | b` # now",
                K(action("fix `a | b` # now", None)),
            ),
            ("action <!channel> look", K(action("<!channel> look", None))),
            ("action done 2", K(Command::ActionDone(2))),
            ("ACTION DONE #12", K(Command::ActionDone(12))),
            ("action   done   3  ", K(Command::ActionDone(3))),
            (
                "action",
                E(&["action text is missing", "Usage: /incident action <text>"]),
            ),
            (
                "action <@U0BOB>",
                E(&["action text is missing before the owner"]),
            ),
            (
                "action add alarm <@alice>",
                E(&["\"alice\" is not a user", "Usage: /incident action <text>"]),
            ),
            (
                "action done",
                E(&[
                    "action number is missing",
                    "Usage: /incident action done <n>",
                ]),
            ),
            (
                "action done two",
                E(&["\"two\" is not an action number", "/incident actions"]),
            ),
            ("action done 0", E(&["\"0\" is not an action number"])),
            ("action done -1", E(&["\"-1\" is not an action number"])),
            ("action done +1", E(&["\"+1\" is not an action number"])),
            ("action done 1 2", E(&["\"1 2\" is not an action number"])),
            ("action done 99999999999", E(&["is not an action number"])),
            ("actions", K(Command::Actions)),
            ("Actions", K(Command::Actions)),
            (
                "actions all",
                E(&["actions takes no arguments", "Usage: /incident actions"]),
            ),
            ("postmortem", K(Command::Postmortem)),
            ("POSTMORTEM  ", K(Command::Postmortem)),
            (
                "postmortem html",
                E(&[
                    "postmortem takes no arguments",
                    "Usage: /incident postmortem",
                ]),
            ),
            // resolve
            ("resolve", K(resolve(None))),
            ("RESOLVE   ", K(resolve(None))),
            (
                "resolve pool size raised",
                K(resolve(Some("pool size raised"))),
            ),
            (
                "resolve   spaced   note  ",
                K(resolve(Some("spaced   note"))),
            ),
            // unknown, empty
            (
                "frobnicate",
                E(&["unknown subcommand \"frobnicate\"", USAGE]),
            ),
            (
                "frobnicate the widgets",
                E(&["unknown subcommand \"frobnicate\"", USAGE]),
            ),
            ("declared DB down", E(&["unknown subcommand \"declared\""])),
            ("<!channel>", E(&["unknown subcommand \"<!channel>\""])),
            ("", E(&["subcommand is missing", USAGE])),
            ("   ", E(&["subcommand is missing", USAGE])),
            ("\t\n \r\n", E(&["subcommand is missing", USAGE])),
        ];
        let mut rows: Vec<(String, Expect)> =
            rows.into_iter().map(|(s, e)| (s.to_owned(), e)).collect();
        rows.extend([
            // Limits.
            (format!("declare {max_title}"), K(declare(&max_title, None))),
            (
                format!("declare {max_title} sev1"),
                K(declare(&max_title, Some(Severity::Sev1))),
            ),
            (
                format!("declare {long_title}"),
                E(&[
                    "title is too long (151 characters, at most 150)",
                    "/incident note",
                ]),
            ),
            (
                format!("declare {long_title} sev1"),
                E(&["title is too long"]),
            ),
            (
                format!("declare {}", "x".repeat(3000)),
                E(&["title is too long (3000 characters"]),
            ),
            (
                format!("declare {}", "x".repeat(5000)),
                E(&["command is too long (5008 characters, at most 4000)"]),
            ),
            (
                format!("declare {}", "é".repeat(MAX_TITLE_CHARS)),
                K(declare(&"é".repeat(MAX_TITLE_CHARS), None)),
            ),
            (format!("note {max_text}"), K(note(None, &max_text))),
            (
                format!("note at 13:50 {max_text}"),
                K(note(hm(13, 50), &max_text)),
            ),
            (
                format!("note {long_text}"),
                E(&["note is too long (3001 characters, at most 3000)"]),
            ),
            (
                format!("note at 13:50 {long_text}"),
                E(&["note is too long"]),
            ),
            (
                format!("status identified {long_text}"),
                E(&["note is too long", "Usage: /incident status"]),
            ),
            (
                format!("action {long_text}"),
                E(&["action text is too long (3001 characters, at most 3000)"]),
            ),
            (format!("action {max_text}"), K(action(&max_text, None))),
            (
                format!("resolve {long_text}"),
                E(&["closing note is too long", "Usage: /incident resolve"]),
            ),
            (format!("aws reply {max_text}"), K(aws_reply(&max_text))),
            (
                format!("aws reply {long_text}"),
                E(&[
                    "reply is too long (3001 characters, at most 3000)",
                    "Usage: /incident aws reply",
                ]),
            ),
            (
                "note ".repeat(2048),
                E(&["command is too long (10240 characters", USAGE]),
            ),
            (
                format!("frobnicate {}", "z".repeat(10_000)),
                E(&["command is too long"]),
            ),
            (
                "z".repeat(100),
                E(&["unknown subcommand \"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz…\""]),
            ),
        ]);
        rows
    }

    #[test]
    fn parse_table() {
        let mut failures = Vec::new();
        for (input, expect) in table() {
            let got = parse(&input);
            let shown: String = input.chars().take(60).collect();
            match (&expect, &got) {
                (K(want), Ok(cmd)) if want == cmd => {}
                (E(needles), Err(err)) => {
                    let text = err.to_string();
                    for needle in *needles {
                        if !text.contains(needle) {
                            failures.push(format!("{shown:?}: error {text:?} lacks {needle:?}"));
                        }
                    }
                    if err.problem.ends_with('.') {
                        failures.push(format!("{shown:?}: trailing period in {:?}", err.problem));
                    }
                    if err.problem.contains('\n') {
                        failures.push(format!("{shown:?}: multi-line problem {:?}", err.problem));
                    }
                }
                (K(want), _) => failures.push(format!("{shown:?}: want {want:?}, got {got:?}")),
                (E(needles), Ok(cmd)) => {
                    failures.push(format!("{shown:?}: want error {needles:?}, got {cmd:?}"))
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn usage_has_one_line_per_subcommand() {
        let lines: Vec<&str> = USAGE.lines().collect();
        let subcommands = [
            "declare",
            "status",
            "sev",
            "lead",
            "role",
            "note",
            "update",
            "snooze",
            "aws",
            "aws",
            "aws",
            "escalate",
            "changes",
            "timeline",
            "catchup",
            "resolve",
            "action",
            "action",
            "actions",
            "postmortem",
            "drill",
            "list",
            "stats",
            "help",
        ];
        assert_eq!(lines.len(), subcommands.len(), "{USAGE}");
        for (line, sub) in lines.iter().zip(subcommands) {
            assert!(line.starts_with(&format!("/incident {sub} ")), "{line}");
            assert!(line.contains(" — "), "{line}");
            assert!(!line.ends_with('.'), "{line}");
        }
        assert_eq!(
            lines[0],
            "/incident declare [--private] <title> [sev1-4] [type:<name>] — open an incident and its channel (severity defaults to SEV3, or the type's; --private: a private channel, shown elsewhere only as \"a private SEVn incident\")"
        );
        for status in Status::ALL {
            assert!(lines[1].contains(status.as_str()));
        }
        for usage in [
            DECLARE_USAGE,
            STATUS_USAGE,
            SEV_USAGE,
            LEAD_USAGE,
            ROLE_USAGE,
            CATCHUP_USAGE,
            NOTE_USAGE,
            UPDATE_USAGE,
            SNOOZE_USAGE,
            AWS_USAGE,
            AWS_STATUS_USAGE,
            AWS_REPLY_USAGE,
            ESCALATE_USAGE,
            TIMELINE_USAGE,
            RESOLVE_USAGE,
            ACTION_USAGE,
            ACTION_DONE_USAGE,
            ACTIONS_USAGE,
            POSTMORTEM_USAGE,
            LIST_USAGE,
            STATS_USAGE,
            HELP_USAGE,
        ] {
            assert!(lines.contains(&usage), "{usage}");
        }
        assert_eq!(
            AWS_ALL_USAGE.lines().collect::<Vec<_>>(),
            [AWS_USAGE, AWS_STATUS_USAGE, AWS_REPLY_USAGE]
        );
        for severity in SupportSeverity::ALL {
            assert!(ESCALATE_USAGE.contains(severity.code()), "{severity}");
        }
    }

    #[test]
    fn every_subcommand_error_shows_its_own_usage_line() {
        let cases = [
            ("declare", DECLARE_USAGE),
            ("status", STATUS_USAGE),
            ("sev", SEV_USAGE),
            ("lead", LEAD_USAGE),
            ("role", ROLE_USAGE),
            ("role comms", ROLE_USAGE),
            ("catchup x", CATCHUP_USAGE),
            ("note", NOTE_USAGE),
            ("timeline x", TIMELINE_USAGE),
            (
                &format!("resolve {}", "r".repeat(MAX_TEXT_CHARS + 1)),
                RESOLVE_USAGE,
            ),
            ("list x", LIST_USAGE),
            ("stats x", STATS_USAGE),
            ("help x", HELP_USAGE),
            ("action", ACTION_USAGE),
            ("action done", ACTION_DONE_USAGE),
            ("actions x", ACTIONS_USAGE),
            ("postmortem x", POSTMORTEM_USAGE),
            ("update", UPDATE_USAGE),
            ("snooze", SNOOZE_USAGE),
            ("aws", AWS_ALL_USAGE),
            ("aws yes x", AWS_USAGE),
            ("aws status x", AWS_STATUS_USAGE),
            ("aws reply", AWS_REPLY_USAGE),
            ("escalate", ESCALATE_USAGE),
        ];
        for (input, usage) in cases {
            let err = parse(input).unwrap_err();
            assert_eq!(err.usage, usage, "{input}");
            assert!(!err.shows_full_usage());
            assert_eq!(err.to_string(), format!("{}\nUsage: {usage}", err.problem));
        }
    }

    #[test]
    fn general_errors_show_the_full_usage() {
        for input in ["", "frobnicate", &"x".repeat(MAX_COMMAND_CHARS + 1)] {
            let err = parse(input).unwrap_err();
            assert!(err.shows_full_usage(), "{input}");
            assert_eq!(err.usage, USAGE);
            assert_eq!(err.to_string(), format!("{}\n{USAGE}", err.problem));
        }
        let err = parse("frobnicate").unwrap_err();
        assert_eq!(
            err.problem,
            "unknown subcommand \"frobnicate\"; these are the ones I know"
        );
    }

    #[test]
    fn command_limit_is_checked_first_and_counts_chars() {
        // Exactly at the limit in chars (but far more bytes): not a length error.
        let title = "é".repeat(MAX_COMMAND_CHARS - "declare ".len());
        let err = parse(&format!("declare {title}")).unwrap_err();
        assert!(err.problem.contains("title is too long"), "{}", err.problem);
        // One more char: the command limit, before anything else is looked at.
        let err = parse(&format!("declare {title}é")).unwrap_err();
        assert!(
            err.problem.contains("command is too long"),
            "{}",
            err.problem
        );
    }

    #[test]
    fn needs_incident_and_is_mutation() {
        let cases = [
            (declare("x", None), false, true),
            (status(Status::Identified, None), true, true),
            (Command::Sev(Severity::Sev1), true, true),
            (Command::Lead(user("U1")), true, true),
            (
                Command::Role {
                    role: "comms".into(),
                    user: user("U1"),
                },
                true,
                true,
            ),
            (Command::Catchup, true, false),
            (note(None, "x"), true, true),
            (Command::Timeline, true, false),
            (resolve(None), true, true),
            (Command::List, false, false),
            (Command::Stats { window: None }, false, false),
            (Command::Help, false, false),
            (action("x", None), true, true),
            (Command::ActionDone(1), true, true),
            (Command::Actions, true, false),
            (Command::Postmortem, true, true),
            (Command::Update { text: "x".into() }, true, true),
            (snooze(1800), true, true),
            (Command::AwsInvolved(true), true, true),
            (Command::AwsInvolved(false), true, true),
            (Command::AwsStatus, true, true),
            (aws_reply("x"), true, true),
            (escalate(None), true, true),
            (escalate(Some(SupportSeverity::High)), true, true),
        ];
        for (cmd, needs_incident, is_mutation) in cases {
            assert_eq!(cmd.needs_incident(), needs_incident, "{cmd:?}");
            assert_eq!(cmd.is_mutation(), is_mutation, "{cmd:?}");
        }
    }

    #[test]
    fn commands_round_trip_through_serde() {
        for cmd in [
            declare("<!channel> DB down", Some(Severity::Sev1)),
            declare("x", None),
            status(Status::Monitoring, Some("ok")),
            Command::Sev(Severity::Sev2),
            Command::Lead(user("U123ABC")),
            Command::Role {
                role: "aws-liaison".into(),
                user: user("U123ABC"),
            },
            Command::Catchup,
            note(hm(13, 50), "saw errors"),
            Command::Timeline,
            resolve(None),
            Command::List,
            Command::Stats {
                window: Some(chrono::Duration::days(30)),
            },
            Command::Help,
            action("<!channel> add an alarm", Some("U0BOB")),
            action("x", None),
            Command::ActionDone(3),
            Command::Actions,
            Command::Postmortem,
            Command::Update {
                text: "<!channel> ok".into(),
            },
            snooze(90 * 60),
            Command::AwsInvolved(true),
            Command::AwsInvolved(false),
            Command::AwsStatus,
            aws_reply("<!channel> still down"),
            escalate(None),
            escalate(Some(SupportSeverity::Critical)),
        ] {
            let json = serde_json::to_string(&cmd).unwrap();
            assert_eq!(
                serde_json::from_str::<Command>(&json).unwrap(),
                cmd,
                "{json}"
            );
        }
    }
}
