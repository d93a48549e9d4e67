//! Incident severity: SEV1 (worst) to SEV4.

use std::fmt;
use std::str::FromStr;

/// How bad an incident is. `Sev1` is the most severe; ordering follows urgency, so
/// `Sev1 < Sev2` sorts the worst first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Severity {
    /// Severity of an incident declared without one.
    pub const DEFAULT: Severity = Severity::Sev3;

    /// All severities, worst first.
    pub const ALL: [Severity; 4] = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];

    /// 1..=4, the number stored in the database.
    pub fn level(self) -> i64 {
        match self {
            Severity::Sev1 => 1,
            Severity::Sev2 => 2,
            Severity::Sev3 => 3,
            Severity::Sev4 => 4,
        }
    }

    /// Inverse of [`Severity::level`]; `None` outside 1..=4.
    pub fn from_level(level: i64) -> Option<Severity> {
        match level {
            1 => Some(Severity::Sev1),
            2 => Some(Severity::Sev2),
            3 => Some(Severity::Sev3),
            4 => Some(Severity::Sev4),
            _ => None,
        }
    }
}

/// Accepts `sev1`, `SEV1`, `Sev1`, `1`, `s1` (any case). Anything else is an error
/// naming the accepted forms.
impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let digits = lower
            .strip_prefix("sev")
            .or_else(|| lower.strip_prefix('s'))
            .unwrap_or(&lower);
        let level = match digits {
            "1" => 1,
            "2" => 2,
            "3" => 3,
            "4" => 4,
            _ => 0,
        };
        Severity::from_level(level).ok_or_else(|| {
            format!(
                "unknown severity \"{}\": use sev1 (most severe), sev2, sev3 or sev4 (1-4 and s1-s4 work too)",
                s.trim()
            )
        })
    }
}

/// Renders as `SEV1` … `SEV4`.
impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SEV{}", self.level())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_round_trips() {
        for sev in Severity::ALL {
            assert_eq!(Severity::from_level(sev.level()), Some(sev));
        }
        assert_eq!(Severity::Sev1.level(), 1);
        assert_eq!(Severity::Sev4.level(), 4);
        for bad in [0, 5, -1, 9, i64::MAX, i64::MIN] {
            assert_eq!(Severity::from_level(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_accepted_forms_in_any_case() {
        let cases = [
            ("sev1", Severity::Sev1),
            ("SEV1", Severity::Sev1),
            ("Sev1", Severity::Sev1),
            ("sEv2", Severity::Sev2),
            ("1", Severity::Sev1),
            ("2", Severity::Sev2),
            ("3", Severity::Sev3),
            ("4", Severity::Sev4),
            ("s1", Severity::Sev1),
            ("S4", Severity::Sev4),
            ("sev3", Severity::Sev3),
            (" sev4 ", Severity::Sev4),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<Severity>(), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn rejects_everything_else_naming_the_accepted_forms() {
        for bad in [
            "",
            "0",
            "5",
            "9",
            "sev0",
            "sev5",
            "sev",
            "s",
            "two",
            "sev-1",
            "sev 1",
            "sev01",
            "01",
            "1.0",
            "sev1x",
            "high",
            "ｓｅｖ１",
        ] {
            let err = bad.parse::<Severity>().unwrap_err();
            assert!(err.contains("unknown severity"), "{bad:?}: {err}");
            assert!(err.contains("sev1") && err.contains("sev4"), "{err}");
            assert!(!err.ends_with('.'), "{err}");
        }
        let err = "9".parse::<Severity>().unwrap_err();
        assert!(err.contains("\"9\""), "{err}");
    }

    #[test]
    fn display_and_round_trip() {
        assert_eq!(Severity::Sev1.to_string(), "SEV1");
        assert_eq!(Severity::Sev2.to_string(), "SEV2");
        assert_eq!(Severity::Sev3.to_string(), "SEV3");
        assert_eq!(Severity::Sev4.to_string(), "SEV4");
        for sev in Severity::ALL {
            assert_eq!(sev.to_string().parse::<Severity>(), Ok(sev));
        }
    }

    #[test]
    fn ordering_puts_worst_first_and_default_is_sev3() {
        assert!(Severity::Sev1 < Severity::Sev2);
        assert!(Severity::Sev3 < Severity::Sev4);
        let mut v = vec![
            Severity::Sev3,
            Severity::Sev1,
            Severity::Sev4,
            Severity::Sev2,
        ];
        v.sort();
        assert_eq!(v, Severity::ALL.to_vec());
        assert_eq!(Severity::DEFAULT, Severity::Sev3);
    }
}
