//! Incident status lifecycle: investigating → identified → monitoring → resolved.

use std::fmt;
use std::str::FromStr;

/// Where the response stands. Any open status may move to any other; `Resolved`
/// closes the incident, and moving a resolved incident back to an open status reopens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Status {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl Status {
    /// All statuses in lifecycle order (for usage messages).
    pub const ALL: [Status; 4] = [
        Status::Investigating,
        Status::Identified,
        Status::Monitoring,
        Status::Resolved,
    ];

    /// Lowercase name as typed in commands and stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Investigating => "investigating",
            Status::Identified => "identified",
            Status::Monitoring => "monitoring",
            Status::Resolved => "resolved",
        }
    }

    pub fn is_open(self) -> bool {
        self != Status::Resolved
    }
}

/// Case-insensitive; accepts exactly the four names in [`Status::ALL`].
impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown status \"{s}\": use investigating, identified, monitoring or resolved"
                )
            })
    }
}

/// Renders the lowercase name (`investigating`).
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_display_and_round_trip() {
        let names = ["investigating", "identified", "monitoring", "resolved"];
        for (status, name) in Status::ALL.into_iter().zip(names) {
            assert_eq!(status.as_str(), name);
            assert_eq!(status.to_string(), name);
            assert_eq!(name.parse::<Status>(), Ok(status));
            assert_eq!(status.to_string().parse::<Status>(), Ok(status));
        }
    }

    #[test]
    fn parse_is_case_insensitive() {
        assert_eq!("IDENTIFIED".parse::<Status>(), Ok(Status::Identified));
        assert_eq!("Monitoring".parse::<Status>(), Ok(Status::Monitoring));
        assert_eq!("rEsOlVeD".parse::<Status>(), Ok(Status::Resolved));
    }

    #[test]
    fn parse_rejects_other_words_listing_the_accepted_ones() {
        for bad in [
            "",
            "bogus",
            "resolve",
            "open",
            "investigating!",
            "identify",
            " monitoring",
        ] {
            let err = bad.parse::<Status>().unwrap_err();
            assert!(err.contains("unknown status"), "{bad:?}: {err}");
            for status in Status::ALL {
                assert!(err.contains(status.as_str()), "{err}");
            }
            assert!(!err.ends_with('.'));
        }
    }

    #[test]
    fn only_resolved_is_closed() {
        assert!(Status::Investigating.is_open());
        assert!(Status::Identified.is_open());
        assert!(Status::Monitoring.is_open());
        assert!(!Status::Resolved.is_open());
    }
}
