//! `declare`: open an incident (title, severity, type, `--private`).

use super::*;

macro_rules! declare_usage {
    () => {
        "/incident declare [--private] <title> [sev1-4] [type:<name>] — open an incident and its channel (severity defaults to SEV3, or the type's; --private: a private channel, shown elsewhere only as \"a private SEVn incident\")"
    };
}
pub(super) const DECLARE_USAGE: &str = declare_usage!();
pub(super) fn parse_declare(rest: &str) -> Result<Command, UsageError> {
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
pub(super) fn type_word(word: &str) -> Option<&str> {
    word.get(..5)
        .filter(|prefix| prefix.eq_ignore_ascii_case("type:"))
        .map(|_| &word[5..])
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn table() {
        check(vec![
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
        ]);
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
}
