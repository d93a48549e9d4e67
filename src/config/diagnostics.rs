//! `[diagnostics]`: what is gathered for a war room (recent changes, health).

use super::*;

/// `[diagnostics]`: "What changed before the alarm" (CloudTrail, the alarm's history, the
/// alarms beside it), posted when an alarm opens a war room and on `/incident changes`.
#[derive(Debug, Clone)]
pub struct DiagnosticsConfig {
    /// Post the look-up when an alarm opens a war room (`/incident changes` works either way).
    pub enabled: bool,
    /// How far before the alarm (or the declaration) to look.
    pub lookback: chrono::Duration,
    /// Event names left out besides the built-in routine ones (AssumeRole, CreateLogStream, …).
    pub ignore_events: Vec<String>,
    /// The section is in the file: AWS clients are built for `/incident changes` even without
    /// `[alarms]` or the Support API.
    pub configured: bool,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        DiagnosticsConfig {
            enabled: true,
            lookback: crate::domain::changes::DEFAULT_LOOKBACK,
            ignore_events: Vec::new(),
            configured: false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDiagnostics {
    pub(super) enabled: Option<bool>,
    pub(super) lookback: Option<String>,
    #[serde(default)]
    pub(super) ignore_events: Vec<String>,
}

pub(super) fn diagnostics_config(
    raw: Option<RawDiagnostics>,
) -> Result<DiagnosticsConfig, ConfigError> {
    use crate::domain::changes::{MAX_LOOKBACK, MIN_LOOKBACK};
    let defaults = DiagnosticsConfig::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let lookback = match raw.lookback {
        None => defaults.lookback,
        Some(text) => {
            let d = humantime::parse_duration(&text)
                .ok()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .ok_or_else(|| {
                    invalid(
                        "[diagnostics] lookback",
                        format!("\"{text}\" is not a duration; write e.g. \"2h\" or \"90m\""),
                    )
                })?;
            if d < MIN_LOOKBACK || d > MAX_LOOKBACK {
                return Err(invalid(
                    "[diagnostics] lookback",
                    format!("\"{text}\" is out of range: use 5m to 7d"),
                ));
            }
            d
        }
    };
    for (i, name) in raw.ignore_events.iter().enumerate() {
        let plausible = !name.is_empty()
            && name.len() <= 128
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plausible {
            return Err(invalid(
                &format!("[diagnostics] ignore_events[{i}]"),
                format!("\"{name}\" is not a CloudTrail event name (like CreateTags)"),
            ));
        }
    }
    Ok(DiagnosticsConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        lookback,
        ignore_events: raw.ignore_events,
        configured: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_default_to_two_hours_and_name_bad_keys() {
        let d = Config::parse("").unwrap().diagnostics;
        assert!(d.enabled && !d.configured);
        assert_eq!(d.lookback, chrono::Duration::hours(2));
        let c = Config::parse(
            "[diagnostics]\nlookback = \"90m\"\nignore_events = [\"CreateTags\", \"PutMetricData\"]",
        )
        .unwrap()
        .diagnostics;
        assert!(c.configured);
        assert_eq!(c.lookback, chrono::Duration::minutes(90));
        assert_eq!(c.ignore_events, ["CreateTags", "PutMetricData"]);
        for (text, key) in [
            (
                "[diagnostics]\nlookback = \"soon\"",
                "[diagnostics] lookback",
            ),
            (
                "[diagnostics]\nlookback = \"30d\"",
                "[diagnostics] lookback",
            ),
            (
                "[diagnostics]\nignore_events = [\"ok\", \"bad name\"]",
                "[diagnostics] ignore_events[1]",
            ),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("config key {key}: ")), "{err}");
        }
    }
}
