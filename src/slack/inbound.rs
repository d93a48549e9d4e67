//! What warroom takes from Slack, in its own terms: the Slack adapter turns Socket Mode
//! payloads into these, the store records them verbatim (JSON) before the envelope is
//! acked, and the service processes them in order.
//!
//! Keeping our own type here (rather than slack-morphism's models) means the recorded inbox
//! stays readable after a library upgrade, and nothing past the adapter sees Slack's shapes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{ChannelId, Ts};

/// One thing that happened in Slack that warroom acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Inbound {
    /// `/incident …` (already parsed once for the quick ack; parsed again by the service).
    Command(CommandInvocation),
    /// Someone clicked a button on one of warroom's messages.
    Action(ActionClick),
    /// Someone submitted one of warroom's modals.
    ViewSubmitted(ViewSubmission),
    /// A person posted in a channel the bot is in.
    Message {
        channel: ChannelId,
        user: String,
        ts: Ts,
        thread_ts: Option<Ts>,
        text: String,
        at: DateTime<Utc>,
    },
    /// A message was edited (`message_changed`).
    MessageEdited {
        channel: ChannelId,
        ts: Ts,
        user: Option<String>,
        text: String,
        at: DateTime<Utc>,
    },
    /// A message was deleted (`message_deleted`).
    MessageDeleted {
        channel: ChannelId,
        ts: Ts,
        at: DateTime<Utc>,
    },
    /// A reaction was added to a message.
    Reaction {
        channel: ChannelId,
        ts: Ts,
        user: String,
        reaction: String,
        at: DateTime<Utc>,
    },
    /// A message was pinned.
    Pinned {
        channel: ChannelId,
        ts: Ts,
        user: String,
        at: DateTime<Utc>,
    },
    /// Someone opened the bot's App Home tab.
    AppHomeOpened { user: String, at: DateTime<Utc> },
    /// Someone joined a channel the bot is in, or was added to it (`member_joined_channel`;
    /// `inviter` is who added them). Never the bot itself.
    MemberJoined {
        channel: ChannelId,
        user: String,
        inviter: Option<String>,
        at: DateTime<Utc>,
    },
}

/// A click on an interactive element (a button) of one of warroom's messages
/// (`block_actions`). Which button is `action_id`; the handler looks at nothing else to
/// decide what to do, so new buttons only need a new `action_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionClick {
    pub user: String,
    pub channel: ChannelId,
    /// The message the button is on.
    pub message_ts: Ts,
    pub action_id: String,
    /// The button's `value`, if it has one.
    pub value: Option<String>,
    pub trigger_id: String,
    /// Where replies to the clicker go (ephemeral, or replacing the message).
    pub response_url: String,
    pub at: DateTime<Utc>,
    /// The message as the clicker saw it, so an answered prompt can be redrawn without its
    /// buttons. (Absent from clicks recorded by older versions.)
    #[serde(default)]
    pub message: Option<ClickedMessage>,
}

/// The text and blocks of the message a button was on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickedMessage {
    pub text: String,
    pub blocks: Option<Value>,
}

/// A submitted modal (`view_submission`): which one (`callback_id`), what warroom put in
/// it (`private_metadata`), and the inputs as `block_id → value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewSubmission {
    pub user: String,
    pub view_id: String,
    pub callback_id: String,
    pub private_metadata: String,
    pub values: std::collections::BTreeMap<String, String>,
    pub at: DateTime<Utc>,
}

/// A slash command as Slack delivered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandInvocation {
    pub user: String,
    pub channel: ChannelId,
    pub text: String,
    /// Where delayed replies to the caller go (ephemeral, works in any channel).
    pub response_url: String,
    /// Unique per invocation: the inbox key.
    pub trigger_id: String,
    pub at: DateTime<Utc>,
}

impl Inbound {
    /// The channel the event happened in (empty for App Home).
    pub fn channel(&self) -> &str {
        match self {
            Inbound::Command(c) => &c.channel,
            Inbound::Action(a) => &a.channel,
            Inbound::Message { channel, .. }
            | Inbound::MessageEdited { channel, .. }
            | Inbound::MessageDeleted { channel, .. }
            | Inbound::Reaction { channel, .. }
            | Inbound::Pinned { channel, .. }
            | Inbound::MemberJoined { channel, .. } => channel,
            Inbound::AppHomeOpened { .. } | Inbound::ViewSubmitted(_) => "",
        }
    }
}

/// Slack message timestamps to UTC: the domain's parser, re-exported for the socket
/// client and the demo.
pub use crate::domain::time::ts_to_time;
