//! The workspace model: everything the emulated Slack knows, in one value behind one lock.
//!
//! [`Workspace`] is the public, read-only view tests write predicates over; [`State`] adds
//! the bookkeeping clients never see directly (tickets, trigger ids, response URLs, faults,
//! Socket Mode connections). Keeping it all under a single mutex makes every Web API call
//! and every simulated human action atomic, so tests never observe half-applied effects.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Instant;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use super::faults::FaultQueues;
use super::EmulatorConfig;

/// A workspace member (a person, or the app's bot user).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    /// The handle (`@name`).
    pub name: String,
    pub real_name: String,
    pub display_name: String,
    /// IANA zone name, as Slack reports it in `users.info`.
    pub tz: String,
    pub tz_label: String,
    /// Offset from UTC in seconds.
    pub tz_offset: i64,
    pub is_bot: bool,
    /// Deactivated: `users.info` still answers, with `deleted: true`.
    pub deleted: bool,
}

/// A user group (`@oncall`), answered by `usergroups.users.list`.
#[derive(Debug, Clone, PartialEq)]
pub struct Usergroup {
    pub id: String,
    pub handle: String,
    pub users: Vec<String>,
}

/// A channel topic or purpose, as Slack stores it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Topic {
    pub value: String,
    pub creator: String,
    pub last_set: i64,
}

/// A conversation: public/private channel or the IM between the bot and one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: String,
    /// Empty for IMs (Slack gives IMs no name).
    pub name: String,
    pub creator: String,
    pub members: Vec<String>,
    pub is_archived: bool,
    pub is_private: bool,
    pub is_im: bool,
    /// The person on the other side of an IM.
    pub im_user: Option<String>,
    pub topic: Topic,
    pub purpose: Topic,
    /// Unix seconds.
    pub created: i64,
}

impl Channel {
    pub fn is_member(&self, user: &str) -> bool {
        self.members.iter().any(|m| m == user)
    }

    /// Whether `user` can see the channel at all: public channels are visible to everyone,
    /// private channels and IMs only to their members.
    pub fn is_visible_to(&self, user: &str) -> bool {
        !(self.is_private || self.is_im) || self.is_member(user)
    }

    /// The `channel_type` Slack puts on message events.
    pub(super) fn channel_type(&self) -> &'static str {
        if self.is_im {
            "im"
        } else if self.is_private {
            "group"
        } else {
            "channel"
        }
    }

    /// The conversation object as the Web API returns it (`is_member` is the bot's view).
    pub(super) fn to_json(&self, cfg: &EmulatorConfig) -> Value {
        if self.is_im {
            return json!({
                "id": self.id,
                "created": self.created,
                "is_im": true,
                "is_channel": false,
                "is_group": false,
                "is_mpim": false,
                "is_private": true,
                "is_archived": self.is_archived,
                "is_org_shared": false,
                "context_team_id": cfg.team_id,
                "user": self.im_user,
                "is_user_deleted": false,
                "priority": 0,
            });
        }
        json!({
            "id": self.id,
            "name": self.name,
            "is_channel": true,
            "is_group": false,
            "is_im": false,
            "is_mpim": false,
            "is_private": self.is_private,
            "created": self.created,
            "is_archived": self.is_archived,
            "is_general": false,
            "unlinked": 0,
            "name_normalized": self.name,
            "is_shared": false,
            "is_org_shared": false,
            "is_ext_shared": false,
            "is_pending_ext_shared": false,
            "pending_shared": [],
            "context_team_id": cfg.team_id,
            "updated": self.created * 1000,
            "parent_conversation": null,
            "creator": self.creator,
            "is_member": self.is_member(&cfg.bot_user_id),
            "topic": topic_json(&self.topic),
            "purpose": topic_json(&self.purpose),
            "previous_names": [],
            "num_members": self.members.len(),
        })
    }
}

fn topic_json(t: &Topic) -> Value {
    json!({"value": t.value, "creator": t.creator, "last_set": t.last_set})
}

/// `edited` on a changed message.
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    pub user: String,
    pub ts: String,
}

/// One emoji on a message and who added it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    pub name: String,
    pub users: Vec<String>,
}

/// A message in a channel (top level or thread reply).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    /// Author; for the app's messages this is the bot user, with `bot_id` set too.
    pub user: String,
    pub bot_id: Option<String>,
    pub text: String,
    /// The `blocks` array as stored (Slack fills in missing `block_id`s).
    pub blocks: Option<Value>,
    pub thread_ts: Option<String>,
    pub edited: Option<Edited>,
    /// Always false in [`Workspace::messages`]; true in [`Workspace::deleted_messages`].
    pub deleted: bool,
    pub pinned: bool,
    pub metadata: Option<Value>,
    /// File objects shared with the message (`files.completeUploadExternal`).
    pub files: Vec<Value>,
    pub reactions: Vec<Reaction>,
    /// Set on messages typed by people, as Slack's clients do.
    pub client_msg_id: Option<String>,
}

impl Message {
    /// The message object as `conversations.history` / `chat.postMessage` return it.
    pub(super) fn to_json(&self, cfg: &EmulatorConfig) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!("message"));
        m.insert("user".into(), json!(self.user));
        m.insert("text".into(), json!(self.text));
        m.insert("ts".into(), json!(self.ts));
        m.insert("team".into(), json!(cfg.team_id));
        if let Some(bot_id) = &self.bot_id {
            m.insert("bot_id".into(), json!(bot_id));
            m.insert("app_id".into(), json!(cfg.app_id));
            m.insert(
                "bot_profile".into(),
                json!({
                    "id": bot_id,
                    "app_id": cfg.app_id,
                    "name": cfg.bot_name,
                    "deleted": false,
                    "team_id": cfg.team_id,
                }),
            );
        }
        if let Some(blocks) = &self.blocks {
            m.insert("blocks".into(), blocks.clone());
        }
        if let Some(thread_ts) = &self.thread_ts {
            m.insert("thread_ts".into(), json!(thread_ts));
        }
        if let Some(edited) = &self.edited {
            m.insert(
                "edited".into(),
                json!({"user": edited.user, "ts": edited.ts}),
            );
        }
        if let Some(metadata) = &self.metadata {
            m.insert("metadata".into(), metadata.clone());
        }
        if !self.files.is_empty() {
            m.insert("files".into(), json!(self.files));
            m.insert("upload".into(), json!(false));
        }
        if let Some(id) = &self.client_msg_id {
            m.insert("client_msg_id".into(), json!(id));
        }
        if !self.reactions.is_empty() {
            let reactions: Vec<Value> = self
                .reactions
                .iter()
                .map(|r| json!({"name": r.name, "users": r.users, "count": r.users.len()}))
                .collect();
            m.insert("reactions".into(), json!(reactions));
        }
        if self.pinned {
            m.insert("pinned_to".into(), json!([self.channel]));
        }
        Value::Object(m)
    }
}

/// How an ephemeral message reached the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EphemeralSource {
    /// The `payload` of a Socket Mode ack (slash commands).
    AckPayload,
    /// `chat.postEphemeral`.
    PostEphemeral,
    /// A POST to a `response_url`.
    ResponseUrl,
}

/// A message only `user` can see; Slack never stores these, so this is the only record.
#[derive(Debug, Clone, PartialEq)]
pub struct Ephemeral {
    pub channel: String,
    pub user: String,
    pub text: String,
    pub blocks: Option<Value>,
    pub thread_ts: Option<String>,
    pub source: EphemeralSource,
    /// The `message_ts` Slack hands back (not addressable afterwards).
    pub ts: String,
    pub at: DateTime<Utc>,
}

/// A modal opened with `views.open` (and possibly changed by `views.update`).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedView {
    pub view_id: String,
    pub trigger_id: String,
    pub user: String,
    /// The full view object as Slack returned it (with `id`, `hash`, `state` …).
    pub view: Value,
    /// Closed by a submission (or an ack with `response_action: clear`).
    pub closed: bool,
}

/// A `views.publish` call (App Home).
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedView {
    pub user: String,
    pub view: Value,
    pub at: DateTime<Utc>,
}

/// A file going through the external upload flow.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile {
    pub id: String,
    pub filename: String,
    /// The `length` announced to `files.getUploadURLExternal`.
    pub length: u64,
    pub title: Option<String>,
    pub bytes: Vec<u8>,
    /// Bytes have been POSTed to the upload URL.
    pub uploaded: bool,
    /// `files.completeUploadExternal` succeeded.
    pub completed: bool,
    pub channel: Option<String>,
    pub initial_comment: Option<String>,
    pub thread_ts: Option<String>,
    /// The message that shared the file into `channel`.
    pub message_ts: Option<String>,
}

/// One Web API request as the emulator saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    pub method: String,
    /// Query + body parameters merged, `token` removed.
    pub params: Value,
    pub ok: bool,
    pub error: Option<String>,
    pub http_status: u16,
    pub at: DateTime<Utc>,
}

/// Socket Mode envelope types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    EventsApi,
    SlashCommands,
    Interactive,
}

impl EnvelopeKind {
    /// The envelope's `type` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeKind::EventsApi => "events_api",
            EnvelopeKind::SlashCommands => "slash_commands",
            EnvelopeKind::Interactive => "interactive",
        }
    }
}

/// One envelope (one delivery attempt) pushed to the app.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeRecord {
    pub envelope_id: String,
    pub kind: EnvelopeKind,
    /// `event_id` for `events_api` envelopes (shared by all retries of one event).
    pub event_id: Option<String>,
    pub retry_attempt: u32,
    pub retry_reason: String,
    /// The envelope's `payload`.
    pub payload: Value,
    /// None while queued for lack of a connection.
    pub delivered_at: Option<DateTime<Utc>>,
    pub connection: Option<u64>,
    pub acked_at: Option<DateTime<Utc>>,
    pub ack_payload: Option<Value>,
}

/// Read-only view of the emulated workspace, for assertions and [`wait_until`] predicates.
///
/// [`wait_until`]: super::SlackEmulator::wait_until
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    pub users: Vec<User>,
    pub usergroups: Vec<Usergroup>,
    /// All conversations in creation order, IMs included (`is_im`).
    pub channels: Vec<Channel>,
    /// Live messages per channel id, in ts order (thread replies interleaved).
    pub messages: BTreeMap<String, Vec<Message>>,
    pub deleted_messages: Vec<Message>,
    pub ephemerals: Vec<Ephemeral>,
    pub views_published: Vec<PublishedView>,
    pub views_opened: Vec<OpenedView>,
    pub files: Vec<UploadedFile>,
    pub api_calls: Vec<ApiCall>,
    pub envelopes: Vec<EnvelopeRecord>,
    /// Number of open Socket Mode connections not asked to refresh.
    pub live_connections: usize,
    /// Every Socket Mode connection ever opened, in order.
    pub socket_connections: Vec<SocketConnection>,
}

/// One Socket Mode connection's life, as Slack saw it.
#[derive(Debug, Clone)]
pub struct SocketConnection {
    pub id: u64,
    /// When `hello` was sent.
    pub opened_at: DateTime<Utc>,
    /// When the emulator stopped routing envelopes to it (refresh asked, or closed).
    pub retired_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<ClosedBy>,
}

/// Who ended a Socket Mode connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedBy {
    /// The app closed it (close frame or end of stream).
    App,
    /// Slack closed it after a refresh (`disconnect`, then the grace period).
    SlackRefresh,
    /// Slack refreshed it because it reached `connection_lifetime`.
    SlackLifetime,
    /// Dropped without a close frame (`drop_connections`) or at shutdown.
    Dropped,
}

impl Workspace {
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    pub(super) fn channel_mut(&mut self, id: &str) -> Option<&mut Channel> {
        self.channels.iter_mut().find(|c| c.id == id)
    }

    /// Non-IM channel by name (archived ones too: Slack keeps their names taken).
    pub fn channel_by_name(&self, name: &str) -> Option<&Channel> {
        let name = name.trim_start_matches('#');
        self.channels.iter().find(|c| !c.is_im && c.name == name)
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn messages_in(&self, channel: &str) -> &[Message] {
        self.messages.get(channel).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn message(&self, channel: &str, ts: &str) -> Option<&Message> {
        self.messages_in(channel).iter().find(|m| m.ts == ts)
    }

    pub(super) fn message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut Message> {
        self.messages
            .get_mut(channel)
            .and_then(|v| v.iter_mut().find(|m| m.ts == ts))
    }

    /// The IM between the bot and `user`, if one was opened.
    pub fn im_with(&self, user: &str) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.is_im && c.im_user.as_deref() == Some(user))
    }

    /// Replies in the thread rooted at `thread_ts` (parent excluded).
    pub fn thread_replies(&self, channel: &str, thread_ts: &str) -> Vec<&Message> {
        self.messages_in(channel)
            .iter()
            .filter(|m| m.thread_ts.as_deref() == Some(thread_ts) && m.ts != thread_ts)
            .collect()
    }

    pub fn ephemerals_for(&self, user: &str) -> Vec<&Ephemeral> {
        self.ephemerals.iter().filter(|e| e.user == user).collect()
    }

    pub fn api_calls_to(&self, method: &str) -> Vec<&ApiCall> {
        self.api_calls
            .iter()
            .filter(|c| c.method == method)
            .collect()
    }

    pub(super) fn envelope_mut(&mut self, id: &str) -> Option<&mut EnvelopeRecord> {
        self.envelopes
            .iter_mut()
            .rev()
            .find(|e| e.envelope_id == id)
    }
}

/// A trigger id handed to the app; `views.open` exchanges it once.
pub(super) struct Trigger {
    pub user: String,
    pub used: bool,
}

/// What a `response_url` answers.
#[derive(Clone)]
pub(super) enum ResponseTarget {
    Slash {
        channel: String,
        user: String,
    },
    Message {
        channel: String,
        message_ts: String,
        user: String,
    },
}

pub(super) struct ResponseUrl {
    pub target: ResponseTarget,
    pub uses: u32,
    pub issued: Instant,
}

/// Everything behind the emulator's lock.
pub(super) struct State {
    pub ws: Workspace,
    pub sock: SocketState,
    pub triggers: HashMap<String, Trigger>,
    pub response_urls: HashMap<String, ResponseUrl>,
    pub faults: FaultQueues,
    /// Used connection tickets stay here so a reuse is told apart from a forgery in logs.
    pub used_tickets: HashSet<String>,
    last_ts_micros: i64,
    /// When set, message timestamps come from this time instead of the system clock
    /// ([`super::SlackEmulator::set_clock`]).
    pub clock: Option<DateTime<Utc>>,
}

impl State {
    pub fn new(cfg: &EmulatorConfig) -> State {
        let mut ws = Workspace::default();
        ws.users.push(User {
            id: cfg.bot_user_id.clone(),
            name: cfg.bot_name.clone(),
            real_name: cfg.bot_name.clone(),
            display_name: cfg.bot_name.clone(),
            tz: "America/Los_Angeles".into(),
            tz_label: "Pacific Standard Time".into(),
            tz_offset: -28800,
            is_bot: true,
            deleted: false,
        });
        State {
            ws,
            sock: SocketState::default(),
            triggers: HashMap::new(),
            response_urls: HashMap::new(),
            faults: HashMap::new(),
            used_tickets: HashSet::new(),
            last_ts_micros: 0,
            clock: None,
        }
    }

    /// A fresh Slack timestamp (`"1700000000.000123"`), strictly increasing so every message
    /// and event gets a unique, ordered ts as in real Slack.
    pub fn next_ts(&mut self) -> String {
        let now = self.clock.unwrap_or_else(Utc::now).timestamp_micros();
        let t = now.max(self.last_ts_micros + 1);
        self.last_ts_micros = t;
        format!("{}.{:06}", t / 1_000_000, t % 1_000_000)
    }

    /// Appends a message to its channel (ts order is kept because ts only grows).
    pub fn store_message(&mut self, msg: Message) {
        self.ws
            .messages
            .entry(msg.channel.clone())
            .or_default()
            .push(msg);
    }

    /// The IM channel between the bot and `user`, created on first use like `conversations.open`.
    pub fn open_im(&mut self, cfg: &EmulatorConfig, user: &str) -> String {
        if let Some(c) = self.ws.im_with(user) {
            return c.id.clone();
        }
        let id = random_id("D", 10);
        self.ws.channels.push(Channel {
            id: id.clone(),
            name: String::new(),
            creator: user.to_string(),
            members: vec![cfg.bot_user_id.clone(), user.to_string()],
            is_archived: false,
            is_private: true,
            is_im: true,
            im_user: Some(user.to_string()),
            topic: Topic::default(),
            purpose: Topic::default(),
            created: Utc::now().timestamp(),
        });
        id
    }

    pub fn issue_trigger(&mut self, user: &str) -> String {
        let mut rng = rand::rng();
        let id = format!(
            "{}.{}.{:032x}",
            rng.random_range(1_000_000_000u64..9_999_999_999),
            rng.random_range(100_000_000u64..999_999_999),
            rng.random::<u128>()
        );
        self.triggers.insert(
            id.clone(),
            Trigger {
                user: user.to_string(),
                used: false,
            },
        );
        id
    }

    pub fn issue_response_url(&mut self, target: ResponseTarget) -> String {
        let id = random_token(32);
        self.response_urls.insert(
            id.clone(),
            ResponseUrl {
                target,
                uses: 0,
                issued: Instant::now(),
            },
        );
        id
    }
}

/// A Slack-style id: prefix + upper-case alphanumerics (`C0123ABCD`).
pub(super) fn random_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    let mut s = String::from(prefix);
    for _ in 0..len {
        s.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    s
}

/// Opaque lower-case token (tickets, response URL secrets).
pub(super) fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// `8-4-4-4-12` hex, the shape of Socket Mode envelope ids and `client_msg_id`s.
pub(super) fn uuid_like() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Gives every block without a `block_id` a random one, as Slack does when storing a message,
/// so interaction payloads can name the block.
pub(super) fn fill_block_ids(blocks: &mut Value) {
    if let Some(list) = blocks.as_array_mut() {
        for block in list {
            if let Some(obj) = block.as_object_mut() {
                if !obj.contains_key("block_id") {
                    obj.insert("block_id".into(), json!(random_token(5)));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Socket Mode bookkeeping (driven by `socket_mode`; here so the state sits below it).

/// Connection bookkeeping, part of the emulator's single locked [`State`].
#[derive(Default)]
pub(super) struct SocketState {
    pub(super) conns: Vec<Conn>,
    pub(super) next_conn_id: u64,
    pub(super) rr: usize,
    pub(super) tickets: HashSet<String>,
    /// Envelope ids waiting for a connection.
    pub(super) queue: VecDeque<String>,
    pub(super) inflight: HashMap<String, InFlight>,
    /// Per `event_id`: the retry chain of one event.
    pub(super) chains: HashMap<String, Chain>,
    /// Envelopes in flight: created, not acked, not superseded by a retry, not given up on
    /// (for flow control in the load driver).
    pub(super) unacked: u64,
}

pub(super) struct Conn {
    pub(super) id: u64,
    pub(super) tx: mpsc::UnboundedSender<ConnCmd>,
    /// Told to refresh, aborted, or found dead: gets no new envelopes.
    pub(super) closing: bool,
}

pub(super) enum ConnCmd {
    Text(String),
    /// Close with a close frame (end of a refresh grace period).
    Close(ClosedBy),
    /// Drop the socket without a close frame.
    Abort,
    /// Neither read nor write for this long (a broken network path).
    Stall(std::time::Duration),
}

/// What an ack means to the person waiting on the other side.
pub(super) enum AckAction {
    Nothing,
    /// Ack `payload` text/blocks is shown to the caller (or the channel).
    Slash {
        channel: String,
        user: String,
    },
    /// Ack `payload.response_action` decides the modal's fate.
    ViewSubmission {
        view_id: String,
        user: String,
    },
}

pub(super) struct InFlight {
    pub(super) frame: String,
    pub(super) kind: EnvelopeKind,
    pub(super) event_id: Option<String>,
    pub(super) acked: bool,
    /// The person stopped waiting (AckTimeout); a late ack has no visible effect.
    pub(super) expired: bool,
    pub(super) conn: Option<u64>,
    pub(super) waiter: Option<oneshot::Sender<Option<Value>>>,
    pub(super) on_ack: AckAction,
    /// Counted in `SocketState::unacked`.
    pub(super) counted: bool,
}

pub(super) struct Chain {
    pub(super) payload: Value,
    pub(super) attempt: u32,
    /// The envelope whose ack (or timeout) decides what happens next.
    pub(super) current: String,
    pub(super) acked: bool,
}
