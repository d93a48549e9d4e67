//! A local Slack for the offline demo and the integration tests.
//!
//! It speaks Slack's public wire protocol — the Web API (`POST /api/{method}`), Socket Mode
//! (`apps.connections.open` → WebSocket with envelopes and acks), `response_url`s and the
//! external file-upload flow — so the [`crate::slack`] adapter runs exactly as it would against
//! slack.com. It shares no types with slack-morphism on purpose: shared types would hide the
//! very (de)serialisation mismatches these tests exist to catch.
//!
//! Tests drive it from both sides: they act as people ([`SlackEmulator::post_message`],
//! [`SlackEmulator::slash_command`], [`SlackEmulator::click_button`] …), which pushes the
//! events Slack would push, and they inspect what the app did ([`SlackEmulator::messages`],
//! [`SlackEmulator::api_calls`] …) or wait for it with [`SlackEmulator::wait_until`].
//!
//! Layout:
//! - `state`: the workspace model and its JSON renderings.
//! - `web_api`: HTTP plumbing — parameters, auth, scopes, faults, responses;
//!   `api_conversations`, `api_chat`, `api_misc`: the methods themselves; `block_kit`:
//!   Slack's Block Kit limits, refused as Slack refuses them.
//! - `api_common`: what every method handler takes and returns (params, errors, paging).
//! - `hooks`: `response_url` and upload-URL endpoints.
//! - `socket_mode`: connections, envelopes, acks, redelivery.
//! - `events`: the event and interaction payloads Slack documents.
//! - `people`: the simulated humans.
//! - `faults`: Web API fault injection.

mod api_chat;
mod api_common;
mod api_conversations;
mod api_misc;
mod block_kit;
mod events;
mod faults;
mod hooks;
mod people;
mod socket_mode;
mod state;
mod web_api;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

pub use faults::Fault;
pub use state::{
    ApiCall, Channel, ClosedBy, Edited, EnvelopeKind, EnvelopeRecord, Ephemeral, EphemeralSource,
    Message, OpenedView, PublishedView, Reaction, SocketConnection, Topic, UploadedFile, User,
    Usergroup, Workspace,
};

use state::State;

/// Identity and behaviour of the emulated workspace and app.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub team_id: String,
    pub app_id: String,
    pub bot_user_id: String,
    /// The `B…` id Slack puts on the bot's messages (`bot_id`).
    pub bot_id: String,
    /// The bot user's handle and the `bot_profile.name`.
    pub bot_name: String,
    pub bot_token: String,
    pub app_token: String,
    /// `events_api` envelopes not acked within this are redelivered; interactive envelopes
    /// not acked within this fail for the user (Slack's limit is 3 s).
    pub ack_timeout: Duration,
    /// Redeliveries of one event after the first attempt (Slack documents 3).
    pub max_retries: u32,
    /// Granted bot scopes: reported in `x-oauth-scopes` and enforced (`missing_scope`).
    pub scopes: Vec<String>,
    /// Delay between the `disconnect` (refresh_requested) message and closing the socket.
    /// Slack waits about 10 s; short here so tests stay fast.
    pub refresh_grace: Duration,
    /// How long Slack keeps a connection before refreshing it: announced in `hello` as
    /// `approximate_connection_time` (whole seconds), then enforced (`disconnect`, close).
    /// Slack's is about five hours.
    pub connection_lifetime: Duration,
    /// Hand this WebSocket URL out from `apps.connections.open` instead of the emulator's
    /// own (a benchmark's bare Socket Mode feeder; `None` everywhere else).
    pub socket_url: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            team_id: "T0WARROOM".into(),
            app_id: "A0WARROOM".into(),
            bot_user_id: "U0WARBOT".into(),
            bot_id: "B0WARBOT".into(),
            bot_name: "warroom".into(),
            bot_token: "xoxb-emulator-bot-token".into(),
            app_token: "xapp-1-emulator-app-token".into(),
            ack_timeout: Duration::from_secs(3),
            max_retries: 3,
            scopes: [
                "channels:history",
                "channels:join",
                "channels:manage",
                "channels:read",
                "chat:write",
                "commands",
                "files:read",
                "files:write",
                "groups:history",
                "groups:read",
                "groups:write",
                "im:history",
                "im:read",
                "im:write",
                "pins:read",
                "pins:write",
                "reactions:read",
                "reactions:write",
                "usergroups:read",
                "users:read",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            refresh_grace: Duration::from_secs(1),
            connection_lifetime: Duration::from_secs(18_060),
            socket_url: None,
        }
    }
}

/// Failures of the test-facing API (acting as people, waiting).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmulatorError {
    /// No Socket Mode connection: Slack shows the user `dispatch_failed`.
    #[error("dispatch_failed: no Socket Mode connection is open")]
    NoConnection,
    /// The app did not ack an interactive envelope within `ack_timeout`.
    #[error("the app did not acknowledge the envelope within the ack timeout")]
    AckTimeout,
    #[error("not found: {0}")]
    NotFound(String),
    /// A `wait_*` deadline passed before the condition held.
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("{0}")]
    Other(String),
}

/// What the app answered to a slash command.
#[derive(Debug, Clone, PartialEq)]
pub enum SlashOutcome {
    /// Acked in time; `payload` is the ack's `payload` (e.g. `{"text":…,"response_type":…}`).
    Acked { payload: Option<serde_json::Value> },
}

impl SlashOutcome {
    pub fn payload(&self) -> Option<&serde_json::Value> {
        match self {
            SlashOutcome::Acked { payload } => payload.as_ref(),
        }
    }
}

/// What the app answered to a button click or a view submission.
#[derive(Debug, Clone, PartialEq)]
pub enum InteractionOutcome {
    /// Acked in time; `payload` is the ack's `payload` (e.g. `{"response_action":"errors",…}`).
    Acked { payload: Option<serde_json::Value> },
}

impl InteractionOutcome {
    pub fn payload(&self) -> Option<&serde_json::Value> {
        match self {
            InteractionOutcome::Acked { payload } => payload.as_ref(),
        }
    }
}

/// State shared by the handle, the HTTP handlers and the socket tasks.
pub(crate) struct Shared {
    config: EmulatorConfig,
    /// `http://127.0.0.1:PORT`
    base_url: String,
    state: Mutex<State>,
    /// Bumped after every mutation; `wait_until` re-checks on each bump.
    version: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
    runtime: tokio::runtime::Handle,
    /// What an ack shows the person waiting (`people::apply_ack`), called by `socket_mode`
    /// when the app acks: passed in so the connection layer does not import the people
    /// who sit above it.
    on_ack: AckHook,
}

/// See [`Shared::on_ack`].
type AckHook = fn(&Arc<Shared>, &mut State, state::AckAction, Option<&serde_json::Value>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a mutation atomically, then wakes every waiter.
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let out = {
            let mut guard = self.lock();
            f(&mut guard)
        };
        self.version.send_modify(|v| *v = v.wrapping_add(1));
        out
    }

    fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    fn ws_url_base(&self) -> String {
        self.base_url.replacen("http://", "ws://", 1)
    }

    fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn stop(&self) {
        self.shutdown.send_replace(true);
        self.with(socket_mode::abort_all);
    }

    async fn wait_state<T>(
        &self,
        deadline: Duration,
        what: &str,
        mut f: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, EmulatorError> {
        let mut rx = self.version.subscribe();
        let until = tokio::time::Instant::now() + deadline;
        loop {
            rx.borrow_and_update();
            if let Some(v) = self.read(&mut f) {
                return Ok(v);
            }
            match tokio::time::timeout_at(until, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(EmulatorError::Other("emulator stopped".into())),
                Err(_) => {
                    return Err(EmulatorError::Timeout(format!(
                        "{what} not reached within {deadline:?}"
                    )))
                }
            }
        }
    }
}

/// Stops the server when the last [`SlackEmulator`] clone is dropped (tasks hold only
/// `Arc<Shared>`, so they do not keep it alive).
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Handle to a running emulator. Cheap to clone; the server stops on [`SlackEmulator::shutdown`]
/// or when the last clone is dropped.
#[derive(Clone)]
pub struct SlackEmulator {
    shared: Arc<Shared>,
    _stop: Arc<StopOnDrop>,
}

impl std::fmt::Debug for SlackEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackEmulator")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

impl SlackEmulator {
    /// Binds 127.0.0.1 on an ephemeral port and serves until shut down.
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<SlackEmulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the Slack emulator to 127.0.0.1")?;
        let port = listener
            .local_addr()
            .context("reading the emulator's local address")?
            .port();
        let (version, _) = watch::channel(0u64);
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(&config)),
            config,
            base_url: format!("http://127.0.0.1:{port}"),
            version,
            shutdown,
            runtime: tokio::runtime::Handle::current(),
            on_ack: people::apply_ack,
        });
        let app = web_api::router(shared.clone());
        let mut stop_rx = shared.shutdown.subscribe();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop_rx.wait_for(|stopped| *stopped).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::warn!(error = %e, "slack emulator server failed");
            }
        });
        tracing::info!(port, "slack emulator listening");
        Ok(SlackEmulator {
            _stop: Arc::new(StopOnDrop(shared.clone())),
            shared,
        })
    }

    /// Base URL for the Web API, with the trailing slash slack-morphism expects.
    pub fn api_url(&self) -> String {
        format!("{}/api/", self.shared.base_url)
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// Stops serving HTTP and closes every WebSocket.
    pub fn shutdown(&self) {
        self.shared.stop();
    }

    // --- workspace set-up ---

    /// Adds a person; `users.info` / `users.list` report them.
    pub fn add_user(&self, id: &str, name: &str) {
        self.shared.with(|st| {
            st.ws.users.retain(|u| u.id != id);
            st.ws.users.push(User {
                id: id.to_string(),
                name: name.to_string(),
                real_name: name.to_string(),
                display_name: name.to_string(),
                tz: "Etc/UTC".into(),
                tz_label: "Coordinated Universal Time".into(),
                tz_offset: 0,
                is_bot: false,
                deleted: false,
            });
        });
    }

    /// Sets a person's time zone as `users.info` reports it.
    pub fn set_user_tz(&self, id: &str, tz: &str, tz_offset_secs: i64) {
        self.shared.with(|st| {
            if let Some(u) = st.ws.users.iter_mut().find(|u| u.id == id) {
                u.tz = tz.to_string();
                u.tz_label = tz.to_string();
                u.tz_offset = tz_offset_secs;
            }
        });
    }

    pub fn add_usergroup(&self, id: &str, handle: &str, members: &[&str]) {
        self.shared.with(|st| {
            st.ws.usergroups.retain(|g| g.id != id);
            st.ws.usergroups.push(Usergroup {
                id: id.to_string(),
                handle: handle.to_string(),
                users: members.iter().map(|m| m.to_string()).collect(),
            });
        });
    }

    /// A public channel some person made earlier; the bot is not a member. Returns its id
    /// (the existing one if the name is taken).
    pub fn create_channel(&self, creator: &str, name: &str) -> String {
        self.shared.with(|st| {
            if let Some(c) = st.ws.channel_by_name(name) {
                return c.id.clone();
            }
            let id = state::random_id("C", 10);
            st.ws.channels.push(Channel {
                id: id.clone(),
                name: name.to_string(),
                creator: creator.to_string(),
                members: vec![creator.to_string()],
                is_archived: false,
                is_private: false,
                is_im: false,
                im_user: None,
                topic: Topic::default(),
                purpose: Topic::default(),
                created: chrono::Utc::now().timestamp(),
            });
            id
        })
    }

    /// Message timestamps (and so the times the app records) come from `now` instead of the
    /// system clock, for tests that need fixed times; `None` goes back to the system clock.
    /// Timestamps still only grow, by a microsecond per message at a fixed time.
    pub fn set_clock(&self, now: Option<chrono::DateTime<chrono::Utc>>) {
        self.shared.with(|st| st.clock = now);
    }

    /// `user` joins `channel` themselves (`inviter` `None`) or is added by `inviter`, as in
    /// Slack's client: `member_joined_channel` goes to the app when the bot is in the channel.
    /// Private channels need an inviter who is a member.
    pub fn member_joins(
        &self,
        channel: &str,
        user: &str,
        inviter: Option<&str>,
    ) -> Result<(), EmulatorError> {
        let shared = self.shared.clone();
        self.shared.with(|st| {
            if st.ws.user(user).is_none() {
                return Err(EmulatorError::NotFound(format!("user {user}")));
            }
            let ch = st
                .ws
                .channel(channel)
                .ok_or_else(|| EmulatorError::NotFound(format!("channel {channel}")))?
                .clone();
            if ch.is_archived {
                return Err(EmulatorError::Other("is_archived".into()));
            }
            if ch.is_member(user) {
                return Err(EmulatorError::Other("already_in_channel".into()));
            }
            match inviter {
                Some(by) if !ch.is_member(by) => {
                    return Err(EmulatorError::Other("not_in_channel".into()))
                }
                None if ch.is_private => {
                    return Err(EmulatorError::Other(
                        "method_not_supported_for_channel_type".into(),
                    ))
                }
                _ => {}
            }
            if let Some(c) = st.ws.channel_mut(channel) {
                c.members.push(user.to_string());
            }
            let event_ts = st.next_ts();
            let event =
                events::member_joined_channel(&shared.config, user, &ch, inviter, &event_ts);
            socket_mode::push_channel_event(&shared, st, channel, event);
            Ok(())
        })
    }

    /// Marks a person deactivated: `users.info` still answers, with `deleted: true`.
    pub fn deactivate_user(&self, id: &str) {
        self.shared.with(|st| {
            if let Some(u) = st.ws.users.iter_mut().find(|u| u.id == id) {
                u.deleted = true;
            }
        });
    }

    /// Sets the names `users.info` reports: `display_name` may be empty, as in Slack when a
    /// person never set one.
    pub fn set_user_names(&self, id: &str, real_name: &str, display_name: &str) {
        self.shared.with(|st| {
            if let Some(u) = st.ws.users.iter_mut().find(|u| u.id == id) {
                u.real_name = real_name.to_string();
                u.display_name = display_name.to_string();
            }
        });
    }

    /// Adds `user` (a person or the bot user) to `channel`, silently (set-up: as if they had
    /// been there before the app; no event). [`Self::member_joins`] is the join Slack tells.
    pub fn join_channel(&self, channel: &str, user: &str) {
        self.shared.with(|st| {
            if let Some(c) = st.ws.channel_mut(channel) {
                if !c.is_member(user) {
                    c.members.push(user.to_string());
                }
            }
        });
    }

    // --- Socket Mode control ---

    /// Open connections that have not been asked to refresh.
    pub fn connection_count(&self) -> usize {
        self.shared.read(socket_mode::live_count)
    }

    pub async fn wait_for_connections(
        &self,
        n: usize,
        deadline: Duration,
    ) -> Result<(), EmulatorError> {
        self.shared
            .wait_state(deadline, &format!("{n} socket connection(s)"), |st| {
                (socket_mode::live_count(st) >= n).then_some(())
            })
            .await
    }

    /// Sends `disconnect` / `refresh_requested` on every connection and closes them after
    /// `refresh_grace`; unacked events are redelivered on the next connection.
    pub fn request_refresh(&self) {
        let shared = self.shared.clone();
        self.shared
            .with(|st| socket_mode::request_refresh(&shared, st));
    }

    /// Closes every WebSocket without a close frame, like a dropped network.
    pub fn drop_connections(&self) {
        self.shared.with(socket_mode::abort_all);
    }

    /// Every open connection goes silent for `how_long`, as behind a broken network path:
    /// nothing is read (pings go unanswered) and nothing is sent (envelopes routed to it
    /// wait). It stays open and keeps getting its share of envelopes meanwhile.
    pub fn stall_connections(&self, how_long: Duration) {
        self.shared.with(|st| socket_mode::stall_all(st, how_long));
    }

    /// Envelopes delivered (or queued) and not acked yet.
    pub fn unacked_envelopes(&self) -> u64 {
        self.shared.read(socket_mode::unacked)
    }

    /// Wait until at most `n` envelopes are unacked.
    pub async fn wait_unacked_at_most(
        &self,
        n: u64,
        deadline: Duration,
    ) -> Result<(), EmulatorError> {
        self.shared
            .wait_state(deadline, &format!("at most {n} unacked envelopes"), |st| {
                (socket_mode::unacked(st) <= n).then_some(())
            })
            .await
    }

    /// Pushes an arbitrary text frame to one connection (not tracked for acks).
    pub async fn push_raw_frame(&self, frame: String) -> Result<(), EmulatorError> {
        self.shared
            .with(|st| socket_mode::send_raw(st, frame))
            .then_some(())
            .ok_or(EmulatorError::NoConnection)
    }

    /// Wraps `event` (the inner event object) in an `events_api` envelope and delivers it
    /// (queued until a connection exists). Returns the `event_id`.
    pub fn push_event(&self, event: serde_json::Value) -> String {
        let shared = self.shared.clone();
        self.shared
            .with(|st| socket_mode::push_event(&shared, st, event))
    }

    /// Resends the event of an already-delivered envelope as Slack does after a late ack:
    /// a new envelope, same `event_id`, `retry_attempt + 1`, `retry_reason: "timeout"`.
    pub fn redeliver(&self, envelope_id: &str) -> Result<(), EmulatorError> {
        let shared = self.shared.clone();
        self.shared
            .with(|st| socket_mode::redeliver(&shared, st, envelope_id))
    }

    // --- fault injection ---

    /// The next `times` calls of `method` (e.g. `"chat.postMessage"`) fail with `fault`.
    pub fn inject_fault(&self, method: &str, fault: Fault, times: u32) {
        self.shared
            .with(|st| faults::inject(&mut st.faults, method, fault, times));
    }

    // --- inspection ---

    /// A copy of the whole workspace.
    pub fn workspace(&self) -> Workspace {
        self.shared.read(|st| st.ws.clone())
    }

    /// Channels (not IMs), in creation order.
    pub fn channels(&self) -> Vec<Channel> {
        self.shared.read(|st| {
            st.ws
                .channels
                .iter()
                .filter(|c| !c.is_im)
                .cloned()
                .collect()
        })
    }

    pub fn channel(&self, id: &str) -> Option<Channel> {
        self.shared.read(|st| st.ws.channel(id).cloned())
    }

    /// What `user`'s own client gets from `conversations.list` with `types` (e.g.
    /// `"public_channel,private_channel"`): the conversation objects, by the same rules as
    /// the Web API (a private channel only for its members).
    pub fn conversations_list_as(&self, user: &str, types: &str) -> Vec<serde_json::Value> {
        let types: Vec<&str> = types.split(',').map(str::trim).collect();
        self.shared.read(|st| {
            api_conversations::listed_for(st, user, &types, false)
                .map(|c| c.to_json(&self.shared.config))
                .collect()
        })
    }

    /// What `user`'s own client gets from `conversations.info`: the conversation object, or
    /// Slack's error code (`channel_not_found` for a private channel they are not in).
    pub fn conversation_info_as(
        &self,
        user: &str,
        channel: &str,
    ) -> Result<serde_json::Value, String> {
        self.shared.read(|st| {
            api_common::visible_to(st, channel, user)
                .map(|c| c.to_json(&self.shared.config))
                .map_err(|e| e.code.clone())
        })
    }

    pub fn channel_by_name(&self, name: &str) -> Option<Channel> {
        self.shared.read(|st| st.ws.channel_by_name(name).cloned())
    }

    /// Live messages in `channel`, ts order, thread replies included.
    pub fn messages(&self, channel: &str) -> Vec<Message> {
        self.shared.read(|st| st.ws.messages_in(channel).to_vec())
    }

    pub fn message(&self, channel: &str, ts: &str) -> Option<Message> {
        self.shared.read(|st| st.ws.message(channel, ts).cloned())
    }

    /// Messages removed by `chat.delete`, a person, or `delete_original`.
    pub fn deleted_messages(&self, channel: &str) -> Vec<Message> {
        self.shared.read(|st| {
            st.ws
                .deleted_messages
                .iter()
                .filter(|m| m.channel == channel)
                .cloned()
                .collect()
        })
    }

    /// Pinned message timestamps in `channel`.
    pub fn pins(&self, channel: &str) -> Vec<String> {
        self.shared.read(|st| {
            st.ws
                .messages_in(channel)
                .iter()
                .filter(|m| m.pinned)
                .map(|m| m.ts.clone())
                .collect()
        })
    }

    pub fn ephemerals(&self, user: &str) -> Vec<Ephemeral> {
        self.shared
            .read(|st| st.ws.ephemerals_for(user).into_iter().cloned().collect())
    }

    /// Messages in the IM between the bot and `user`.
    pub fn dms(&self, user: &str) -> Vec<Message> {
        self.shared.read(|st| match st.ws.im_with(user) {
            Some(im) => st.ws.messages_in(&im.id).to_vec(),
            None => Vec::new(),
        })
    }

    /// Views published to `user`'s App Home, oldest first.
    pub fn views_published(&self, user: &str) -> Vec<serde_json::Value> {
        self.shared.read(|st| {
            st.ws
                .views_published
                .iter()
                .filter(|v| v.user == user)
                .map(|v| v.view.clone())
                .collect()
        })
    }

    pub fn views_opened(&self, user: &str) -> Vec<OpenedView> {
        self.shared.read(|st| {
            st.ws
                .views_opened
                .iter()
                .filter(|v| v.user == user)
                .cloned()
                .collect()
        })
    }

    /// Files shared into `channel` by a completed upload.
    pub fn files(&self, channel: &str) -> Vec<UploadedFile> {
        self.shared.read(|st| {
            st.ws
                .files
                .iter()
                .filter(|f| f.completed && f.channel.as_deref() == Some(channel))
                .cloned()
                .collect()
        })
    }

    /// What the emulator handed the app that works like a password: Socket Mode tickets
    /// (used or not) and `response_url`s. The secrets tests look for them in the app's logs.
    pub fn handed_out_secrets(&self) -> Vec<String> {
        let base = self.shared.base_url.clone();
        self.shared.read(|st| {
            let mut out: Vec<String> = st.used_tickets.iter().cloned().collect();
            out.extend(socket_mode::unused_tickets(st));
            out.extend(
                st.response_urls
                    .keys()
                    .map(|id| format!("{base}/response/{id}")),
            );
            out
        })
    }

    pub fn api_calls(&self) -> Vec<ApiCall> {
        self.shared.read(|st| st.ws.api_calls.clone())
    }

    pub fn envelopes(&self) -> Vec<EnvelopeRecord> {
        self.shared.read(|st| st.ws.envelopes.clone())
    }

    /// Waits until `f` returns `Some`, re-checking after every change to the workspace.
    pub async fn wait_until<T>(
        &self,
        deadline: Duration,
        mut f: impl FnMut(&Workspace) -> Option<T>,
    ) -> Result<T, EmulatorError> {
        self.shared
            .wait_state(deadline, "condition", |st| f(&st.ws))
            .await
    }
}
