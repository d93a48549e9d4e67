//! `stats`, `list`, `help`: read-only answers.

use super::*;

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

pub(super) const LIST_USAGE: &str = list_usage!();
pub(super) const STATS_USAGE: &str = stats_usage!();
pub(super) const HELP_USAGE: &str = help_usage!();

/// `stats [window]`.
pub(super) fn parse_stats(rest: &str) -> Result<Command, UsageError> {
    if rest.is_empty() {
        return Ok(Command::Stats { window: None });
    }
    crate::domain::report::parse_window(rest)
        .map(|w| Command::Stats { window: Some(w) })
        .map_err(|problem| UsageError::new(STATS_USAGE, problem))
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn table() {
        check(vec![
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
        ]);
    }
}
