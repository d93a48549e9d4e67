//! `action`, `action done`, `actions`: the postmortem's action items.

use super::*;

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
pub(super) const ACTION_USAGE: &str = action_usage!();
pub(super) const ACTION_DONE_USAGE: &str = action_done_usage!();
pub(super) const ACTIONS_USAGE: &str = actions_usage!();
/// `action done <n>` closes item n; anything else is `action <text> [<@owner>]`, where only
/// a trailing `<@U…>` mention is the owner (a bare id could be a word such as "UPS").
pub(super) fn parse_action(rest: &str) -> Result<Command, UsageError> {
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
pub(super) fn trailing_mention(s: &str) -> Option<(&str, &str)> {
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

pub(super) fn parse_action_done(rest: &str) -> Result<Command, UsageError> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn table() {
        check(vec![
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
        ]);
    }
}
