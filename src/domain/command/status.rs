//! `status`, `sev`, `lead`, `role`: change the incident's state and people.

use super::*;

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
pub(super) const STATUS_USAGE: &str = status_usage!();
pub(super) const SEV_USAGE: &str = sev_usage!();
pub(super) const LEAD_USAGE: &str = lead_usage!();
pub(super) const ROLE_USAGE: &str = role_usage!();
pub(super) fn parse_status(rest: &str) -> Result<Command, UsageError> {
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

pub(super) fn parse_sev(rest: &str) -> Result<Command, UsageError> {
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

pub(super) fn parse_lead(rest: &str) -> Result<Command, UsageError> {
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

pub(super) fn parse_role(rest: &str) -> Result<Command, UsageError> {
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
pub(super) fn one_person(
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

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn table() {
        check(vec![
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
        ]);
    }
}
