//! `update` (stakeholder updates) and `snooze` (quiet the nudges).

use super::*;

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
pub(super) const UPDATE_USAGE: &str = update_usage!();
pub(super) const SNOOZE_USAGE: &str = snooze_usage!();
pub(super) fn parse_update(rest: &str) -> Result<Command, UsageError> {
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
pub(super) fn parse_snooze(rest: &str) -> Result<Command, UsageError> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn table() {
        check(vec![
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
        ]);
    }
}
