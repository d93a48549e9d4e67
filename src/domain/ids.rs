//! The identifiers the domain passes around: incidents and people.
//!
//! A leaf of the domain: it imports nothing else from `domain/`, so every other module
//! can name an id without importing the module that owns the id's aggregate.

use std::fmt;

/// The database id of an incident, shown to people as `#12`. A drill (a rehearsal, see
/// `domain::drill`) has a negative id and is shown as `drill #3` (id -3), so real
/// incidents keep their own gap-free numbering.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct IncidentId(pub i64);

impl IncidentId {
    /// Whether this is a drill: drills are numbered -1, -2, … apart from real incidents.
    pub fn is_drill(self) -> bool {
        self.0 < 0
    }

    /// Parse the id forms operators type: `12` or `#12` for an incident, `drill-3`,
    /// `drill#3` or `-3` for a drill.
    pub fn parse(s: &str) -> Option<IncidentId> {
        let s = s.trim();
        let drill = s
            .strip_prefix("drill-")
            .or_else(|| s.strip_prefix("drill#"))
            .or_else(|| s.strip_prefix("drill #"));
        if let Some(n) = drill {
            let n: i64 = n.parse().ok()?;
            return (n > 0).then_some(IncidentId(-n));
        }
        let n: i64 = s.strip_prefix('#').unwrap_or(s).parse().ok()?;
        (n != 0).then_some(IncidentId(n))
    }
}

impl std::fmt::Display for IncidentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_drill() {
            write!(f, "drill #{}", self.0.unsigned_abs())
        } else {
            write!(f, "#{}", self.0)
        }
    }
}

/// A Slack-independent user identifier (in practice a Slack user id such as `U024BE7LH`).
/// Validated on construction: 2..=32 chars of `[A-Z0-9]`, starting with `U` or `W`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Longest accepted user id, in characters.
    pub const MAX_LEN: usize = 32;

    pub fn parse(s: &str) -> Result<UserId, String> {
        let well_formed = (2..=Self::MAX_LEN).contains(&s.len())
            && s.starts_with(['U', 'W'])
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if well_formed {
            Ok(UserId(s.to_owned()))
        } else {
            Err(format!(
                "\"{s}\" is not a Slack user id (expected something like U024BE7LH: U or W followed by capital letters and digits)"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        UserId::parse(&s)
    }
}

impl From<UserId> for String {
    fn from(u: UserId) -> String {
        u.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
