//! The identifiers the domain passes around: incidents, people, and Slack's ids as types
//! (a channel, a message timestamp, where an outbox message goes). Plain strings in the
//! database (text columns) and on the wire; typed in between.
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

/// A Slack id kept as the text Slack gave (never typed by a person: those are parsed by the
/// grammar). Read as text through `Deref` (rendering, storing, logging) and compared with
/// text; made only on purpose, with `new`, so one kind cannot be passed where another goes.
/// Serialised as its text, so recorded JSON reads the same as before it was a type.
macro_rules! slack_text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// One from Slack or from the database.
            pub fn new(id: impl Into<String>) -> $name {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slack_text_id!(
    /// A Slack conversation id (`C…` public, `G…`/`C…` private, `D…` a DM).
    ChannelId
);

slack_text_id!(
    /// A message's timestamp (`1700000000.000100`): Slack's id of a message in its channel.
    Ts
);

/// Where a message in the outbox goes: a channel, or a person (a direct message, opened
/// with `conversations.open` at delivery).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutboxDestination {
    Channel(ChannelId),
    Dm(UserId),
}

impl OutboxDestination {
    /// A channel (an incident's, the status channel, a configured one).
    pub fn channel(id: impl Into<String>) -> OutboxDestination {
        OutboxDestination::Channel(ChannelId::new(id))
    }

    /// A destination as stored (one text column) or configured: a well-formed user id
    /// (`U…`/`W…`) is a person, anything else a channel.
    pub fn from_stored(s: impl Into<String>) -> OutboxDestination {
        let s = s.into();
        match UserId::parse(&s) {
            Ok(user) => OutboxDestination::Dm(user),
            Err(_) => OutboxDestination::Channel(ChannelId(s)),
        }
    }

    /// The id as stored and as given to Slack.
    pub fn as_str(&self) -> &str {
        match self {
            OutboxDestination::Channel(c) => c.as_str(),
            OutboxDestination::Dm(u) => u.as_str(),
        }
    }

    /// The channel, if this is not a direct message.
    pub fn as_channel(&self) -> Option<&ChannelId> {
        match self {
            OutboxDestination::Channel(c) => Some(c),
            OutboxDestination::Dm(_) => None,
        }
    }
}

impl fmt::Display for OutboxDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<UserId> for OutboxDestination {
    fn from(u: UserId) -> Self {
        OutboxDestination::Dm(u)
    }
}

impl From<ChannelId> for OutboxDestination {
    fn from(c: ChannelId) -> Self {
        OutboxDestination::Channel(c)
    }
}

#[cfg(test)]
mod slack_id_tests {
    use super::*;

    #[test]
    fn a_stored_destination_is_a_person_only_when_it_is_a_user_id() {
        for (stored, dm) in [
            ("U0ALICE", true),
            ("W024BE7LH", true),
            ("C0INCIDENT", false),
            ("G0PRIVATE", false),
            ("D0IM", false),
            // Not a well-formed user id: a channel (Slack says so if it is not one).
            ("Ulowercase", false),
        ] {
            let d = OutboxDestination::from_stored(stored);
            assert_eq!(matches!(d, OutboxDestination::Dm(_)), dm, "{stored}");
            assert_eq!(d.as_str(), stored, "kept as stored");
            assert_eq!(d.to_string(), stored);
        }
    }

    #[test]
    fn channel_and_ts_keep_slacks_text() {
        assert_eq!(ChannelId::new("C1").as_str(), "C1");
        assert_eq!(
            Ts::new("1700000000.000100").to_string(),
            "1700000000.000100"
        );
        let d: OutboxDestination = ChannelId::new("C1").into();
        assert_eq!(d.as_channel(), Some(&ChannelId::new("C1")));
    }
}
