//! `aws yes|no|status|reply`, `escalate aws`, `changes`: AWS Support and what changed.

use super::*;

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
pub(super) const AWS_USAGE: &str = aws_usage!();
pub(super) const AWS_STATUS_USAGE: &str = aws_status_usage!();
pub(super) const AWS_REPLY_USAGE: &str = aws_reply_usage!();
/// Every `aws` line, for `aws` alone or with a word it does not know.
pub(super) const AWS_ALL_USAGE: &str = concat!(
    aws_usage!(),
    "\n",
    aws_status_usage!(),
    "\n",
    aws_reply_usage!()
);
pub(super) const ESCALATE_USAGE: &str = escalate_usage!();
pub(super) const CHANGES_USAGE: &str = changes_usage!();
/// `changes [lookback]`: 5 minutes to 7 days, like `2h` or `90m`.
pub(super) fn parse_changes(rest: &str) -> Result<Command, UsageError> {
    use crate::domain::changes::{MAX_LOOKBACK, MIN_LOOKBACK};
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

/// `aws yes|no|status` and `aws reply <text>`.
pub(super) fn parse_aws(rest: &str) -> Result<Command, UsageError> {
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
pub(super) fn parse_escalate(rest: &str) -> Result<Command, UsageError> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn table() {
        check(vec![
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
        ]);
    }
}
