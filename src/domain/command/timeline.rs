//! `note`, `timeline`, `catchup`: write to and read the timeline.

use super::*;

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
macro_rules! timeline_usage {
    () => {
        "/incident timeline — show the incident's timeline (only you see it)"
    };
}
pub(super) const CATCHUP_USAGE: &str = catchup_usage!();
pub(super) const NOTE_USAGE: &str = note_usage!();
pub(super) const TIMELINE_USAGE: &str = timeline_usage!();
pub(super) fn parse_note(rest: &str) -> Result<Command, UsageError> {
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
pub(super) fn looks_like_time(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_digit())
        && word.contains(':')
        && word.chars().all(|c| c.is_ascii_digit() || c == ':')
}

/// `H:MM` or `HH:MM`, 24-hour.
pub(super) fn parse_time(word: &str) -> Result<NaiveTime, UsageError> {
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
    use super::super::tests::*;
    use super::*;

    #[test]
    fn table() {
        check(vec![
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
        ]);
    }
}
