//! `drill`: rehearse an alarm route.

use super::*;

macro_rules! drill_usage {
    () => {
        "/incident drill [route] [sev1-4] [--real-case] — rehearse: open a DRILL incident from a synthetic alarm on an alarm route (AWS Support cases are dry runs unless --real-case)"
    };
}
pub(super) const DRILL_USAGE: &str = drill_usage!();
/// `[route] [sevN] [--real-case]`, in any order: a `sevN` word is the severity,
/// `--real-case` the flag, the one other word the route name.
pub(super) fn parse_drill(rest: &str) -> Result<Command, UsageError> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn table() {
        check(vec![
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
        ]);
    }
}
