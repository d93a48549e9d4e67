//! `[summary]`: the periodic status summaries.

use super::*;

#[derive(Debug, Clone)]
pub struct SummaryConfig {
    /// Send a summary this long after the previous one. `None` when only `at` is configured.
    pub every: Option<Duration>,
    /// Fixed local times of day (`["09:00", "17:00"]`) in `timezone`.
    pub at: Vec<chrono::NaiveTime>,
    /// IANA zone for `at` (`Europe/Berlin`); UTC by default.
    pub timezone: chrono_tz::Tz,
    /// When nothing is open and nothing was resolved, say so once, then stay quiet until
    /// something changes.
    pub quiet_when_idle: bool,
    /// `weekly = "mon 09:00"` (local to `timezone`): the short report of the past 7 days to
    /// the status channel and the managers. Off when `None`.
    pub weekly: Option<crate::domain::schedule::Weekly>,
}

impl SummaryConfig {
    /// The schedule these settings describe.
    pub fn schedule(&self) -> crate::domain::schedule::Schedule {
        crate::domain::schedule::Schedule {
            every: self.every.and_then(|d| chrono::Duration::from_std(d).ok()),
            at: self.at.clone(),
            tz: self.timezone,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSummary {
    pub(super) every: Option<String>,
    #[serde(default)]
    pub(super) at: Vec<String>,
    pub(super) timezone: Option<String>,
    pub(super) quiet_when_idle: Option<bool>,
    pub(super) weekly: Option<String>,
}

pub(super) fn summary_config(
    raw: RawSummary,
    defaults: &SummaryConfig,
) -> Result<SummaryConfig, ConfigError> {
    let at = raw
        .at
        .iter()
        .enumerate()
        .map(|(i, t)| {
            chrono::NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| {
                invalid(
                    &format!("[summary] at[{i}]"),
                    format!("\"{t}\" is not a time of day; write e.g. \"09:00\""),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // With fixed times and no explicit period, only the fixed times apply.
    let every = match (raw.every, at.is_empty()) {
        (Some(text), _) => Some(duration("[summary] every", Some(text), Duration::ZERO)?),
        (None, true) => defaults.every,
        (None, false) => None,
    };
    let timezone = match raw.timezone {
        None => defaults.timezone,
        Some(tz) => tz.parse::<chrono_tz::Tz>().map_err(|_| {
            invalid(
                "[summary] timezone",
                format!("\"{tz}\" is not an IANA time zone name (like Europe/Berlin or UTC)"),
            )
        })?,
    };
    Ok(SummaryConfig {
        every,
        at,
        timezone,
        quiet_when_idle: raw.quiet_when_idle.unwrap_or(defaults.quiet_when_idle),
        weekly: raw
            .weekly
            .map(|text| {
                crate::domain::schedule::Weekly::parse(&text, timezone)
                    .map_err(|problem| invalid("[summary] weekly", problem))
            })
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_times_alone_replace_the_default_period() {
        let c =
            Config::parse("[summary]\nat = [\"09:00\", \"17:00\"]\ntimezone = \"Europe/Berlin\"")
                .unwrap();
        assert_eq!(c.summary.every, None);
        assert_eq!(c.summary.at.len(), 2);
        assert_eq!(c.summary.timezone, chrono_tz::Europe::Berlin);
        let both = Config::parse("[summary]\nevery = \"4h\"\nat = [\"09:00\"]").unwrap();
        assert_eq!(both.summary.every, Some(Duration::from_secs(4 * 3600)));
        assert!(Config::parse("").unwrap().summary.quiet_when_idle);
    }

    #[test]
    fn the_weekly_report_is_a_weekday_and_a_local_time() {
        assert_eq!(Config::parse("").unwrap().summary.weekly, None);
        let c = Config::parse("[summary]\nweekly = \"mon 09:00\"\ntimezone = \"Europe/Berlin\"")
            .unwrap();
        let weekly = c.summary.weekly.unwrap();
        assert_eq!(weekly.weekday, chrono::Weekday::Mon);
        assert_eq!(weekly.tz, chrono_tz::Europe::Berlin);
        let err = Config::parse("[summary]\nweekly = \"monday\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[summary] weekly"), "{err}");
        assert!(err.contains("mon 09:00"), "{err}");
    }
}
