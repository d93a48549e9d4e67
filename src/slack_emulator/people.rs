//! The simulated humans: each action changes the workspace the way Slack's client would and
//! pushes the event (or interactive envelope) Slack would send the app.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::api_chat::{
    add_reaction as add_reaction_to, apply_delete, apply_edit, bot_post, push_message_event,
    record_ephemeral, thread_root, BotPost,
};
use super::events::{self, BlockActionArgs, SlashArgs};
use super::socket_mode::{self, NewEnvelope};
use super::state::{
    uuid_like, AckAction, Channel, EnvelopeKind, EphemeralSource, Message, ResponseTarget, State,
    User,
};
use super::{EmulatorError, InteractionOutcome, Shared, SlackEmulator, SlashOutcome};

fn user_of(st: &State, id: &str) -> Result<User, EmulatorError> {
    st.ws
        .user(id)
        .cloned()
        .ok_or_else(|| EmulatorError::NotFound(format!("user {id}")))
}

fn channel_of(st: &State, id: &str) -> Result<Channel, EmulatorError> {
    st.ws
        .channel(id)
        .cloned()
        .ok_or_else(|| EmulatorError::NotFound(format!("channel {id}")))
}

/// A person may only act in a conversation they belong to (and that is not archived).
fn member_channel(st: &State, user: &str, channel: &str) -> Result<Channel, EmulatorError> {
    user_of(st, user)?;
    let ch = channel_of(st, channel)?;
    if ch.is_archived {
        return Err(EmulatorError::Other(format!("is_archived: {channel}")));
    }
    if !ch.is_member(user) {
        return Err(EmulatorError::Other(format!(
            "not_in_channel: {user} is not a member of {channel}"
        )));
    }
    Ok(ch)
}

fn message_of(st: &State, channel: &str, ts: &str) -> Result<Message, EmulatorError> {
    st.ws
        .message(channel, ts)
        .cloned()
        .ok_or_else(|| EmulatorError::NotFound(format!("message {channel}/{ts}")))
}

type Waiter = oneshot::Receiver<Option<Value>>;

impl SlackEmulator {
    /// `user` types `/incident <text>` in `channel`: a `slash_commands` envelope. Waits for the
    /// ack (up to `ack_timeout`) and returns its payload; an ack payload with text/blocks is
    /// shown to the user as Slack would (ephemeral, or in channel for `in_channel`).
    pub async fn slash_command(
        &self,
        user: &str,
        channel: &str,
        text: &str,
    ) -> Result<SlashOutcome, EmulatorError> {
        self.slash_command_named("/incident", user, channel, text)
            .await
    }

    pub async fn slash_command_named(
        &self,
        command: &str,
        user: &str,
        channel: &str,
        text: &str,
    ) -> Result<SlashOutcome, EmulatorError> {
        let shared = self.shared.clone();
        let (envelope_id, rx) =
            self.shared
                .with(|st| -> Result<(String, Waiter), EmulatorError> {
                    if socket_mode::live_count(st) == 0 {
                        return Err(EmulatorError::NoConnection);
                    }
                    let person = user_of(st, user)?;
                    let ch = channel_of(st, channel)?;
                    // A private channel exists only for its members: nobody else can
                    // type a command there.
                    if !ch.is_visible_to(user) {
                        return Err(EmulatorError::Other(format!(
                            "channel_not_found: {user} is not a member of the private channel {channel}"
                        )));
                    }
                    let trigger_id = st.issue_trigger(user);
                    let url_id = st.issue_response_url(ResponseTarget::Slash {
                        channel: channel.to_string(),
                        user: user.to_string(),
                    });
                    let response_url = format!("{}/response/{url_id}", shared.base_url);
                    let payload = events::slash_command(
                        &shared.config,
                        &SlashArgs {
                            command,
                            text,
                            user: &person,
                            channel: &ch,
                            response_url: &response_url,
                            trigger_id: &trigger_id,
                        },
                    );
                    let (tx, rx) = oneshot::channel();
                    let id = socket_mode::create_envelope(
                        &shared,
                        st,
                        NewEnvelope {
                            kind: EnvelopeKind::SlashCommands,
                            payload,
                            accepts_response_payload: true,
                            retry_attempt: 0,
                            retry_reason: "",
                            event_id: None,
                            waiter: Some(tx),
                            on_ack: AckAction::Slash {
                                channel: channel.to_string(),
                                user: user.to_string(),
                            },
                        },
                    );
                    Ok((id, rx))
                })?;
        let payload = self.await_ack(&envelope_id, rx).await?;
        Ok(SlashOutcome::Acked { payload })
    }

    async fn await_ack(
        &self,
        envelope_id: &str,
        rx: Waiter,
    ) -> Result<Option<Value>, EmulatorError> {
        match tokio::time::timeout(self.shared.config.ack_timeout, rx).await {
            Ok(Ok(payload)) => Ok(payload),
            _ => {
                self.shared.with(|st| socket_mode::expire(st, envelope_id));
                Err(EmulatorError::AckTimeout)
            }
        }
    }

    /// `user` posts `text` (in the thread `thread_ts` if given); returns the message ts.
    pub fn post_message(
        &self,
        user: &str,
        channel: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> Result<String, EmulatorError> {
        let shared = self.shared.clone();
        self.shared.with(|st| {
            member_channel(st, user, channel)?;
            let thread_ts = match thread_ts {
                Some(t) => {
                    message_of(st, channel, t)?;
                    Some(thread_root(st, channel, t))
                }
                None => None,
            };
            let msg = Message {
                channel: channel.to_string(),
                ts: st.next_ts(),
                user: user.to_string(),
                bot_id: None,
                text: text.to_string(),
                blocks: Some(rich_text(text)),
                thread_ts,
                edited: None,
                deleted: false,
                pinned: false,
                metadata: None,
                files: Vec::new(),
                reactions: Vec::new(),
                client_msg_id: Some(uuid_like()),
            };
            st.store_message(msg.clone());
            push_message_event(&shared, st, &msg);
            Ok(msg.ts)
        })
    }

    /// `user` writes to the bot in their IM (opened if needed); returns the message ts.
    pub fn post_dm(&self, user: &str, text: &str) -> Result<String, EmulatorError> {
        let channel = self.shared.with(|st| -> Result<String, EmulatorError> {
            user_of(st, user)?;
            Ok(st.open_im(&self.shared.config, user))
        })?;
        self.post_message(user, &channel, text, None)
    }

    /// `user` edits their own message: `message_changed`.
    pub fn edit_message(
        &self,
        user: &str,
        channel: &str,
        ts: &str,
        new_text: &str,
    ) -> Result<(), EmulatorError> {
        let shared = self.shared.clone();
        self.shared.with(|st| {
            user_of(st, user)?;
            let msg = message_of(st, channel, ts)?;
            if msg.user != user || msg.bot_id.is_some() {
                return Err(EmulatorError::Other("cant_update_message".into()));
            }
            let blocks = Some(rich_text(new_text));
            apply_edit(
                &shared,
                st,
                channel,
                ts,
                user,
                Some(new_text.into()),
                blocks,
            )
            .map(|_| ())
            .ok_or_else(|| EmulatorError::NotFound(format!("message {channel}/{ts}")))
        })
    }

    /// `user` deletes their own message: `message_deleted`.
    pub fn delete_message(&self, user: &str, channel: &str, ts: &str) -> Result<(), EmulatorError> {
        let shared = self.shared.clone();
        self.shared.with(|st| {
            user_of(st, user)?;
            let msg = message_of(st, channel, ts)?;
            if msg.user != user || msg.bot_id.is_some() {
                return Err(EmulatorError::Other("cant_delete_message".into()));
            }
            apply_delete(&shared, st, channel, ts)
                .map(|_| ())
                .ok_or_else(|| EmulatorError::NotFound(format!("message {channel}/{ts}")))
        })
    }

    /// `user` reacts with `:reaction:`: `reaction_added`.
    pub fn add_reaction(
        &self,
        user: &str,
        channel: &str,
        ts: &str,
        reaction: &str,
    ) -> Result<(), EmulatorError> {
        let shared = self.shared.clone();
        self.shared.with(|st| {
            member_channel(st, user, channel)?;
            let name = reaction.trim_matches(':').to_string();
            let event_ts = st.next_ts();
            let msg = st
                .ws
                .message_mut(channel, ts)
                .ok_or_else(|| EmulatorError::NotFound(format!("message {channel}/{ts}")))?;
            add_reaction_to(msg, &name, user).map_err(EmulatorError::Other)?;
            let event = events::reaction_added(user, &name, &msg.clone(), &event_ts);
            socket_mode::push_channel_event(&shared, st, channel, event);
            Ok(())
        })
    }

    /// `user` pins a message: `pin_added`.
    pub fn pin_message(&self, user: &str, channel: &str, ts: &str) -> Result<(), EmulatorError> {
        let shared = self.shared.clone();
        self.shared.with(|st| {
            member_channel(st, user, channel)?;
            let event_ts = st.next_ts();
            let msg = st
                .ws
                .message_mut(channel, ts)
                .ok_or_else(|| EmulatorError::NotFound(format!("message {channel}/{ts}")))?;
            if msg.pinned {
                return Err(EmulatorError::Other("already_pinned".into()));
            }
            msg.pinned = true;
            let msg = msg.clone();
            let now = Utc::now().timestamp();
            let event = events::pin("pin_added", &shared.config, user, &msg, now, &event_ts);
            socket_mode::push_channel_event(&shared, st, channel, event);
            Ok(())
        })
    }

    /// `user` opens the app's Home tab: `app_home_opened` (with the published view, if any).
    pub fn open_app_home(&self, user: &str) {
        let shared = self.shared.clone();
        self.shared.with(|st| {
            let channel = st.open_im(&shared.config, user);
            let event_ts = st.next_ts();
            let view = st
                .ws
                .views_published
                .iter()
                .rev()
                .find(|v| v.user == user)
                .map(|v| v.view.clone());
            let event = events::app_home_opened(user, &channel, &event_ts, view.as_ref());
            socket_mode::push_event(&shared, st, event);
        });
    }

    /// `user` clicks the element `action_id` on the bot's message `message_ts`: an
    /// `interactive` envelope with a `block_actions` payload. Waits for the ack.
    pub async fn click_button(
        &self,
        user: &str,
        channel: &str,
        message_ts: &str,
        action_id: &str,
    ) -> Result<InteractionOutcome, EmulatorError> {
        self.click_button_valued(user, channel, message_ts, action_id, None)
            .await
    }

    /// [`SlackEmulator::click_button`] on the element `action_id` whose `value` is `value`
    /// (one of several buttons sharing an action id, like a checklist's); the first with
    /// that action id when `value` is `None`.
    pub async fn click_button_valued(
        &self,
        user: &str,
        channel: &str,
        message_ts: &str,
        action_id: &str,
        value: Option<&str>,
    ) -> Result<InteractionOutcome, EmulatorError> {
        let shared = self.shared.clone();
        let (envelope_id, rx) =
            self.shared
                .with(|st| -> Result<(String, Waiter), EmulatorError> {
                    if socket_mode::live_count(st) == 0 {
                        return Err(EmulatorError::NoConnection);
                    }
                    let person = user_of(st, user)?;
                    let ch = channel_of(st, channel)?;
                    let msg = message_of(st, channel, message_ts)?;
                    let action = find_action(&msg, action_id, value, st.next_ts())
                        .ok_or_else(|| EmulatorError::NotFound(format!("action {action_id}")))?;
                    let trigger_id = st.issue_trigger(user);
                    let url_id = st.issue_response_url(ResponseTarget::Message {
                        channel: channel.to_string(),
                        message_ts: message_ts.to_string(),
                        user: user.to_string(),
                    });
                    let response_url = format!("{}/response/{url_id}", shared.base_url);
                    let payload = events::block_actions(
                        &shared.config,
                        BlockActionArgs {
                            user: &person,
                            channel: &ch,
                            message: &msg,
                            action,
                            response_url: &response_url,
                            trigger_id: &trigger_id,
                        },
                    );
                    Ok(interactive(&shared, st, payload, false, AckAction::Nothing))
                })?;
        let payload = self.await_ack(&envelope_id, rx).await?;
        Ok(InteractionOutcome::Acked { payload })
    }

    /// `user` submits the open modal `view_id`: a `view_submission` with `state.values`
    /// built from `values` (`{block_id: {action_id: value}}`). Waits for the ack, whose
    /// `response_action` (errors/update/push/clear) is applied to the modal.
    pub async fn submit_view(
        &self,
        user: &str,
        view_id: &str,
        values: Value,
    ) -> Result<InteractionOutcome, EmulatorError> {
        let shared = self.shared.clone();
        let (envelope_id, rx) =
            self.shared
                .with(|st| -> Result<(String, Waiter), EmulatorError> {
                    if socket_mode::live_count(st) == 0 {
                        return Err(EmulatorError::NoConnection);
                    }
                    let person = user_of(st, user)?;
                    let opened = st
                        .ws
                        .views_opened
                        .iter()
                        .rev()
                        .find(|v| v.view_id == view_id && v.user == user && !v.closed)
                        .cloned()
                        .ok_or_else(|| EmulatorError::NotFound(format!("open view {view_id}")))?;
                    let mut view = opened.view.clone();
                    view["state"] = json!({"values": events::state_values(&opened.view, &values)});
                    let trigger_id = st.issue_trigger(user);
                    let payload =
                        events::view_submission(&shared.config, &person, view, &trigger_id);
                    let action = AckAction::ViewSubmission {
                        view_id: view_id.to_string(),
                        user: user.to_string(),
                    };
                    Ok(interactive(&shared, st, payload, true, action))
                })?;
        let payload = self.await_ack(&envelope_id, rx).await?;
        Ok(InteractionOutcome::Acked { payload })
    }
}

fn interactive(
    shared: &Arc<Shared>,
    st: &mut State,
    payload: Value,
    accepts_response_payload: bool,
    on_ack: AckAction,
) -> (String, Waiter) {
    let (tx, rx) = oneshot::channel();
    let id = socket_mode::create_envelope(
        shared,
        st,
        NewEnvelope {
            kind: EnvelopeKind::Interactive,
            payload,
            accepts_response_payload,
            retry_attempt: 0,
            retry_reason: "",
            event_id: None,
            waiter: Some(tx),
            on_ack,
        },
    );
    (id, rx)
}

/// The `rich_text` block Slack's clients attach to what people type.
fn rich_text(text: &str) -> Value {
    json!([{
        "type": "rich_text",
        "block_id": super::state::random_token(5),
        "elements": [{
            "type": "rich_text_section",
            "elements": [{"type": "text", "text": text}],
        }],
    }])
}

/// The `actions[]` entry for clicking `action_id` in `msg`'s blocks.
fn find_action(
    msg: &Message,
    action_id: &str,
    value: Option<&str>,
    action_ts: String,
) -> Option<Value> {
    let blocks = msg.blocks.as_ref()?.as_array()?;
    for block in blocks {
        let candidates: Vec<&Value> = match block["type"].as_str() {
            Some("actions") => block["elements"].as_array()?.iter().collect(),
            _ if block["accessory"].is_object() => vec![&block["accessory"]],
            _ => continue,
        };
        if let Some(element) = candidates.into_iter().find(|e| {
            e["action_id"].as_str() == Some(action_id)
                && value.is_none_or(|v| e["value"].as_str() == Some(v))
        }) {
            let mut action = json!({
                "action_id": action_id,
                "block_id": block["block_id"],
                "type": element["type"],
                "action_ts": action_ts,
            });
            for key in ["text", "value", "style"] {
                if !element[key].is_null() {
                    action[key] = element[key].clone();
                }
            }
            return Some(action);
        }
    }
    None
}

/// What Slack shows people when the app acks: slash command ack text, modal fates.
pub(super) fn apply_ack(
    shared: &Arc<Shared>,
    st: &mut State,
    action: AckAction,
    payload: Option<&Value>,
) {
    match action {
        AckAction::Nothing => {}
        AckAction::Slash { channel, user } => {
            let Some(payload) = payload else { return };
            let text = payload["text"].as_str().map(String::from);
            let blocks = payload["blocks"]
                .as_array()
                .filter(|b| !b.is_empty())
                .map(|b| Value::Array(b.clone()));
            if text.as_deref().is_none_or(str::is_empty) && blocks.is_none() {
                return;
            }
            if payload["response_type"].as_str() == Some("in_channel") {
                bot_post(
                    shared,
                    st,
                    BotPost {
                        channel,
                        text: text.unwrap_or_default(),
                        blocks,
                        thread_ts: None,
                        metadata: None,
                        files: Vec::new(),
                    },
                );
            } else {
                let text = text.unwrap_or_default();
                record_ephemeral(
                    st,
                    &channel,
                    &user,
                    text,
                    blocks,
                    EphemeralSource::AckPayload,
                );
            }
        }
        AckAction::ViewSubmission { view_id, user } => {
            let response_action = payload.and_then(|p| p["response_action"].as_str());
            let Some(opened) = st
                .ws
                .views_opened
                .iter_mut()
                .rev()
                .find(|v| v.view_id == view_id)
            else {
                return;
            };
            match response_action {
                // Validation errors keep the modal open for another try.
                Some("errors") => {}
                Some("update") => {
                    if let Some(new_view) =
                        payload.map(|p| p["view"].clone()).filter(Value::is_object)
                    {
                        let mut merged = new_view;
                        merged["id"] = json!(view_id);
                        opened.view = merged;
                    }
                }
                Some("push") => {
                    if let Some(mut new_view) =
                        payload.map(|p| p["view"].clone()).filter(Value::is_object)
                    {
                        let id = super::state::random_id("V", 10);
                        new_view["id"] = json!(id);
                        new_view["root_view_id"] = json!(view_id);
                        st.ws.views_opened.push(super::OpenedView {
                            view_id: id,
                            trigger_id: String::new(),
                            user,
                            view: new_view,
                            closed: false,
                        });
                    }
                }
                _ => opened.closed = true,
            }
        }
    }
}
