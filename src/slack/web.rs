//! Outbound Web API calls, through slack-morphism, with errors in warroom's terms.
//!
//! The HTTP connector accepts `http://` as well as `https://` so `[slack] api_url` can point
//! at the emulator; rate control honours `Retry-After` on 429 (and, unless turned off,
//! spaces calls by Slack's published tiers). Errors carry the method and Slack's error code,
//! never the token.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

pub use super::outgoing::Outgoing;
use crate::domain::{ChannelId, OutboxDestination, Ts};
use crate::lease::Gate;
use crate::metrics::Metrics;

/// The connector type used for every Slack call.
pub type Connector = SlackClientHyperHttpsConnector;
/// The slack-morphism client over [`Connector`].
pub type Client = SlackClient<Connector>;

/// A failed Web API call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SlackError {
    /// Slack answered `{"ok":false,"error":code}`.
    #[error("Slack {method} failed: {code}")]
    Api { method: &'static str, code: String },
    /// Still rate limited after the retries rate control allows.
    #[error("Slack {method} is rate limited (retry after {retry_after:?})")]
    RateLimited {
        method: &'static str,
        retry_after: Option<Duration>,
    },
    /// Network, HTTP 5xx, or an unreadable answer.
    #[error("Slack {method} did not answer properly: {detail}")]
    Transport {
        method: &'static str,
        detail: String,
    },
    /// Not called (or cut short): this replica does not lead, so another one makes it.
    #[error("Slack {method} not called: this replica does not lead")]
    NotLeading { method: &'static str },
}

impl SlackError {
    /// Slack's error code for API errors (`name_taken`, `channel_not_found`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            SlackError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether trying again later can help (as opposed to a permanent refusal).
    pub fn is_transient(&self) -> bool {
        match self {
            SlackError::Api { code, .. } => matches!(
                code.as_str(),
                "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
                    | "ratelimited"
            ),
            SlackError::RateLimited { .. }
            | SlackError::Transport { .. }
            | SlackError::NotLeading { .. } => true,
        }
    }

    fn from_client(method: &'static str, e: SlackClientError) -> SlackError {
        match e {
            SlackClientError::ApiError(api) => SlackError::Api {
                method,
                code: api.code,
            },
            SlackClientError::RateLimitError(rl) => SlackError::RateLimited {
                method,
                retry_after: rl.retry_after,
            },
            SlackClientError::HttpError(h) => SlackError::Transport {
                method,
                detail: format!("HTTP {}", h.status_code),
            },
            other => SlackError::Transport {
                method,
                detail: redact_detail(&other.to_string()),
            },
        }
    }
}

/// Keep error details short and free of anything token-like.
fn redact_detail(s: &str) -> String {
    let mut out: String = s
        .split_whitespace()
        .map(|w| {
            if w.contains("xoxb-") || w.contains("xapp-") || w.contains("xoxp-") {
                "[redacted]"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if out.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|i| out.is_char_boundary(*i))
            .unwrap_or(0);
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Who the bot is in the workspace (from `auth.test`).
#[derive(Debug, Clone)]
pub struct BotIdentity {
    pub user_id: String,
    pub team_id: String,
    pub bot_id: Option<String>,
}

/// A channel found by name.
#[derive(Debug, Clone)]
pub struct ChannelInfo {
    pub id: ChannelId,
    pub name: String,
    pub creator: Option<String>,
}

impl Outgoing {
    /// What Slack is sent: within its limits ([`super::limits::fit_message`]).
    fn content(&self) -> SlackMessageContent {
        let fitted = super::limits::fit_message(self);
        let blocks =
            fitted
                .blocks
                .and_then(|b| match serde_json::from_value::<Vec<SlackBlock>>(b) {
                    Ok(blocks) => Some(blocks),
                    Err(e) => {
                        tracing::error!(error = %e, "dropping blocks that do not fit Block Kit");
                        None
                    }
                });
        SlackMessageContent::new()
            .with_text(fitted.text)
            .opt_blocks(blocks)
    }
}

/// A message found by [`SlackWeb::messages_since`]: who posted it and its fallback text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    pub ts: Ts,
    pub user: Option<String>,
    pub bot_id: Option<String>,
    pub text: String,
}

/// The part of `conversations.history`'s answer warroom reads. Its own type rather than
/// slack-morphism's, whose strictly typed blocks would turn one unusual message (a block
/// type it does not know) into a failed call.
#[derive(Debug, serde::Deserialize)]
struct HistoryPage {
    #[serde(default)]
    messages: Vec<HistoryItem>,
    response_metadata: Option<HistoryCursor>,
}

#[derive(Debug, serde::Deserialize)]
struct HistoryItem {
    ts: String,
    user: Option<String>,
    bot_id: Option<String>,
    #[serde(default)]
    text: String,
}

#[derive(Debug, serde::Deserialize)]
struct HistoryCursor {
    next_cursor: Option<String>,
}

/// `conversations.invite` as Slack documents it: `users` comma-separated.
#[derive(Debug, serde::Serialize)]
struct InviteRequest {
    channel: String,
    users: String,
}

/// Pages of history read at most by [`SlackWeb::messages_since`] (200 messages each).
const MAX_HISTORY_PAGES: usize = 10;

/// A file to share in a channel with [`SlackWeb::upload_file`].
#[derive(Debug, Clone)]
pub struct FileUpload {
    pub filename: String,
    pub title: String,
    /// `text/markdown; charset=utf-8`, `image/png`, …
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    /// The message the file is shared with (mrkdwn, already escaped).
    pub comment: String,
}

/// A file Slack took: its id and, when Slack says it, its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    pub id: String,
    pub permalink: Option<String>,
}

/// Build the HTTP client: http-or-https connector, API base URL, rate control.
pub fn build_client(api_url: &str, proactive_rate_limits: bool) -> anyhow::Result<Arc<Client>> {
    let mut rate = SlackApiRateControlConfig::new().with_max_retries(5);
    if !proactive_rate_limits {
        rate = rate.with_tiers_limits(Default::default());
    }
    // slack-morphism joins base and method with a '/', so the base goes without one.
    let connector = SlackClientHyperConnector::with_connector(https_connector()?)
        .with_slack_api_url(api_url.trim_end_matches('/'))
        .with_rate_control(rate);
    Ok(Arc::new(SlackClient::new(connector)))
}

/// A client for `response_url` replies only. slack-morphism paces every webhook at one per
/// second per workspace, which would hold the ordered worker up a second per private reply;
/// Slack limits response URLs per invocation (5 uses in 30 minutes), not per second.
pub fn build_reply_client() -> anyhow::Result<Arc<Client>> {
    Ok(Arc::new(SlackClient::new(
        SlackClientHyperConnector::with_connector(https_connector()?),
    )))
}

fn https_connector(
) -> anyhow::Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>>
{
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .context("cannot load the system's TLS root certificates")?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    Ok(https)
}

/// The bot's Web API surface: the calls warroom makes, each with the bot token.
#[derive(Clone)]
pub struct SlackWeb {
    client: Arc<Client>,
    /// For `response_url` replies: unthrottled (see [`build_reply_client`]); the main client
    /// when not set.
    replies: Option<Arc<Client>>,
    token: SlackApiToken,
    /// Where every call is counted (`/metrics`).
    metrics: Arc<Metrics>,
    /// Every call goes through it: only the leader calls Slack ([`Gate`]).
    gate: Gate,
    /// Space `chat.postMessage` per channel ([`post_pacing`]). Off with
    /// `[slack] proactive_rate_limits = false`: the emulator-backed demo and tests run at
    /// full speed, and a real 429 is still waited out.
    pace_posts: bool,
}

impl std::fmt::Debug for SlackWeb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackWeb { token: [redacted] }")
    }
}

macro_rules! call {
    ($self:ident, $method:literal, |$s:ident| $body:expr) => {{
        let $s = $self.client.open_session(&$self.token);
        match $self.gate.run($body).await {
            Ok(result) => {
                crate::slack::web::count_call(&$self.metrics, $method, result.is_ok());
                result.map_err(|e| SlackError::from_client($method, e))
            }
            Err(crate::lease::NotLeading) => Err(SlackError::NotLeading { method: $method }),
        }
    }};
}

/// Every Web API call ends here: counted per method for `/metrics`.
pub(crate) fn count_call(metrics: &Metrics, method: &'static str, ok: bool) {
    tracing::trace!(method, ok, "slack call");
    metrics.slack_call(method, ok);
}

/// How `chat.postMessage` is paced: Slack allows about one message per second *per
/// channel*. slack-morphism's own `chat_post_message` paces it per workspace, so with two
/// incidents (or an alarm storm) every channel waited for every other (BENCHMARKS.md,
/// findings 5 and 9). Keyed by channel, the same throttler paces each channel alone.
fn post_pacing(channel: &str) -> SlackApiMethodRateControlConfig {
    SlackApiMethodRateControlConfig::new().with_special_rate_limit(
        SlackApiRateControlSpecialLimit::new(
            format!("chat.postMessage:{channel}").into(),
            SlackApiRateControlLimit::new(1, Duration::from_secs(1)),
        ),
    )
}

impl SlackWeb {
    pub fn new(client: Arc<Client>, bot_token: &secrecy::SecretString) -> SlackWeb {
        SlackWeb {
            client,
            replies: None,
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.expose_secret().to_string())),
            metrics: Arc::default(),
            gate: Gate::always_open(),
            pace_posts: true,
        }
    }

    /// Make every call through `gate` (a replica calls Slack only while it leads).
    pub fn with_gate(mut self, gate: Gate) -> SlackWeb {
        self.gate = gate;
        self
    }

    /// Whether to space `chat.postMessage` per channel before Slack has to say 429
    /// (`[slack] proactive_rate_limits`).
    pub fn with_post_pacing(mut self, pace: bool) -> SlackWeb {
        self.pace_posts = pace;
        self
    }

    /// Send `response_url` replies through `client` (built by [`build_reply_client`]).
    pub fn with_reply_client(mut self, client: Arc<Client>) -> SlackWeb {
        self.replies = Some(client);
        self
    }

    /// Count calls into `metrics` (the running bot's) instead of a private set.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> SlackWeb {
        self.metrics = metrics;
        self
    }

    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    pub async fn auth_test(&self) -> Result<BotIdentity, SlackError> {
        let r = call!(self, "auth.test", |s| s.auth_test())?;
        Ok(BotIdentity {
            user_id: r.user_id.0,
            team_id: r.team_id.0,
            bot_id: r.bot_id.map(|b| b.0),
        })
    }

    /// `conversations.create`, a private channel when `private` (`groups:write`; the bot,
    /// as its creator, is a member). Returns the new channel id.
    pub async fn create_channel(&self, name: &str, private: bool) -> Result<ChannelId, SlackError> {
        let req = SlackApiConversationsCreateRequest::new(name.to_string())
            .opt_is_private(private.then_some(true));
        let r = call!(self, "conversations.create", |s| s
            .conversations_create(&req))?;
        Ok(ChannelId::new(r.channel.id.0))
    }

    /// `conversations.members`: every member of a channel the bot is in (pages through).
    pub async fn channel_members(&self, channel: &ChannelId) -> Result<Vec<String>, SlackError> {
        let mut members = Vec::new();
        let mut cursor: Option<SlackCursorId> = None;
        loop {
            let req = SlackApiConversationsMembersRequest::new()
                .with_channel(SlackChannelId(channel.to_string()))
                .with_limit(200)
                .opt_cursor(cursor.clone());
            let r = call!(self, "conversations.members", |s| s
                .conversations_members(&req))?;
            members.extend(r.members.into_iter().map(|u| u.0));
            cursor = r
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.0.is_empty());
            if cursor.is_none() {
                return Ok(members);
            }
        }
    }

    /// `conversations.archive`. A channel archived already counts as done (the archive is
    /// retried after a crash between Slack's answer and its record).
    pub async fn archive_channel(&self, channel: &ChannelId) -> Result<(), SlackError> {
        let req = SlackApiConversationsArchiveRequest::new(SlackChannelId(channel.to_string()));
        match call!(self, "conversations.archive", |s| s
            .conversations_archive(&req))
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("already_archived") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Find a non-archived channel by exact name (pages through conversations.list): a
    /// public one, or with `private` a private one the bot is in.
    pub async fn find_channel(
        &self,
        name: &str,
        private: bool,
    ) -> Result<Option<ChannelInfo>, SlackError> {
        let mut cursor: Option<SlackCursorId> = None;
        let kind = if private {
            SlackConversationType::Private
        } else {
            SlackConversationType::Public
        };
        loop {
            let req = SlackApiConversationsListRequest::new()
                .with_exclude_archived(true)
                .with_limit(200)
                .with_types(vec![kind.clone()])
                .opt_cursor(cursor.clone());
            let r = call!(self, "conversations.list", |s| s.conversations_list(&req))?;
            if let Some(c) = r.channels.iter().find(|c| c.name.as_deref() == Some(name)) {
                return Ok(Some(ChannelInfo {
                    id: ChannelId::new(c.id.0.clone()),
                    name: name.to_string(),
                    creator: c.creator.as_ref().map(|u| u.0.clone()),
                }));
            }
            cursor = r
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.0.is_empty());
            if cursor.is_none() {
                return Ok(None);
            }
        }
    }

    /// Invite users; users already in the channel (and the bot itself) are not an error.
    pub async fn invite(&self, channel: &ChannelId, users: &[String]) -> Result<(), SlackError> {
        if users.is_empty() {
            return Ok(());
        }
        // Slack documents `users` as a comma-separated string; slack-morphism's request
        // sends a JSON array, which Slack has refused before (`no_user`).
        let req = InviteRequest {
            channel: channel.to_string(),
            users: users.join(","),
        };
        let invited: Result<SlackApiConversationsInviteResponse, _> =
            call!(self, "conversations.invite", |s| s
                .http_session_api
                .http_post(
                    "conversations.invite",
                    &req,
                    Some(&SLACK_TIER3_METHOD_CONFIG)
                ));
        match invited {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), Some("already_in_channel" | "cant_invite_self")) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The members of a user group (`usergroups.users.list`), e.g. a route's on-call group.
    pub async fn usergroup_members(&self, usergroup: &str) -> Result<Vec<String>, SlackError> {
        let req = SlackApiUserGroupsUsersListRequest::new(SlackUserGroupId(usergroup.to_string()));
        let r = call!(self, "usergroups.users.list", |s| s
            .usergroups_users_list(&req))?;
        Ok(r.users.into_iter().map(|u| u.0).collect())
    }

    /// How Slack shows a person (`users.info`): the display name, else the full name, else
    /// the handle. `Ok(None)` when Slack does not know the user (`user_not_found`,
    /// `user_not_visible`), or knows no name for them.
    pub async fn user_name(&self, user: &str) -> Result<Option<String>, SlackError> {
        let req = SlackApiUsersInfoRequest::new(SlackUserId(user.to_string()));
        match call!(self, "users.info", |s| s.users_info(&req)) {
            Ok(r) => {
                let u = r.user;
                let profile = u.profile.as_ref();
                let name = [
                    profile.and_then(|p| p.display_name.clone()),
                    profile.and_then(|p| p.real_name.clone()),
                    u.real_name.clone(),
                    u.name.clone(),
                ]
                .into_iter()
                .flatten()
                .map(|n| n.trim().to_string())
                .find(|n| !n.is_empty());
                Ok(name)
            }
            Err(e) if matches!(e.code(), Some("user_not_found" | "user_not_visible")) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `chat.postMessage`; returns the message ts.
    pub async fn post(&self, channel: &ChannelId, msg: &Outgoing) -> Result<Ts, SlackError> {
        let req =
            SlackApiChatPostMessageRequest::new(SlackChannelId(channel.to_string()), msg.content())
                .with_unfurl_links(false)
                .with_unfurl_media(false);
        let pacing = self.pace_posts.then(|| post_pacing(channel));
        let r: SlackApiChatPostMessageResponse = call!(self, "chat.postMessage", |s| s
            .http_session_api
            .http_post("chat.postMessage", &req, pacing.as_ref()))?;
        Ok(Ts::new(r.ts.0))
    }

    pub async fn update(
        &self,
        channel: &ChannelId,
        ts: &Ts,
        msg: &Outgoing,
    ) -> Result<(), SlackError> {
        let req = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_string()),
            msg.content(),
            SlackTs(ts.to_string()),
        );
        call!(self, "chat.update", |s| s.chat_update(&req)).map(drop)
    }

    /// Pin a message; an already pinned message is fine.
    pub async fn pin(&self, channel: &ChannelId, ts: &Ts) -> Result<(), SlackError> {
        let req = SlackApiPinsAddRequest::new(
            SlackChannelId(channel.to_string()),
            SlackTs(ts.to_string()),
        );
        match call!(self, "pins.add", |s| s.pins_add(&req)) {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("already_pinned") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A direct message to `user`: `conversations.open`, then `chat.postMessage` to the IM.
    pub async fn post_dm(&self, user: &str, msg: &Outgoing) -> Result<Ts, SlackError> {
        let im = self.open_dm(user).await?;
        self.post(&im, msg).await
    }

    /// The bot's IM with `user` (`conversations.open`: the same channel every time).
    async fn open_dm(&self, user: &str) -> Result<ChannelId, SlackError> {
        let req =
            SlackApiConversationsOpenRequest::new().with_users(vec![SlackUserId(user.to_string())]);
        let im = call!(self, "conversations.open", |s| s.conversations_open(&req))?;
        Ok(ChannelId::new(im.channel.id.0))
    }

    /// Top-level messages posted in `destination` at or after `since`, newest first
    /// (`conversations.history`, up to 2,000): a channel's, or the bot's DM with a person.
    /// Used to tell whether a post interrupted by a crash or a lost answer reached Slack.
    pub async fn messages_since(
        &self,
        destination: &OutboxDestination,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<PostedMessage>, SlackError> {
        let channel = match destination {
            OutboxDestination::Dm(user) => self.open_dm(user.as_str()).await?,
            OutboxDestination::Channel(c) => c.clone(),
        };
        let oldest = format!(
            "{}.{:06}",
            since.timestamp(),
            since.timestamp_subsec_micros()
        );
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_HISTORY_PAGES {
            let params = vec![
                ("channel", Some(channel.to_string())),
                ("oldest", Some(oldest.clone())),
                ("inclusive", Some("true".to_string())),
                ("limit", Some("200".to_string())),
                ("cursor", cursor.clone()),
            ];
            let page: HistoryPage = call!(self, "conversations.history", |s| s
                .http_session_api
                .http_get(
                    "conversations.history",
                    &params,
                    Some(&SLACK_TIER3_METHOD_CONFIG)
                ))?;
            found.extend(page.messages.into_iter().map(|m| PostedMessage {
                ts: Ts::new(m.ts),
                user: m.user,
                bot_id: m.bot_id,
                text: m.text,
            }));
            cursor = page
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// Publish `blocks` as `user`'s App Home tab (`views.publish`).
    pub async fn publish_home(
        &self,
        user: &str,
        blocks: serde_json::Value,
    ) -> Result<(), SlackError> {
        let blocks: Vec<SlackBlock> = serde_json::from_value(super::limits::fit_view(blocks))
            .map_err(|e| SlackError::Transport {
                method: "views.publish",
                detail: format!("home view does not fit Block Kit: {e}"),
            })?;
        let req = SlackApiViewsPublishRequest::new(
            SlackUserId(user.to_string()),
            SlackView::Home(SlackHomeView::new(blocks)),
        );
        call!(self, "views.publish", |s| s.views_publish(&req)).map(drop)
    }

    /// A message in `channel` only `user` sees (`chat.postEphemeral`), for answers where
    /// there is no response_url (modal submissions).
    pub async fn post_ephemeral(
        &self,
        channel: &ChannelId,
        user: &str,
        msg: &Outgoing,
    ) -> Result<(), SlackError> {
        let req = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId(channel.to_string()),
            SlackUserId(user.to_string()),
            msg.content(),
        );
        call!(self, "chat.postEphemeral", |s| s.chat_post_ephemeral(&req)).map(drop)
    }

    /// Open a modal for the person whose click gave `trigger_id` (`views.open`; Slack
    /// accepts a trigger for 3 seconds after the click).
    pub async fn open_view(
        &self,
        trigger_id: &str,
        view: serde_json::Value,
    ) -> Result<(), SlackError> {
        let view: SlackView =
            serde_json::from_value(super::limits::fit_view(view)).map_err(|e| {
                SlackError::Transport {
                    method: "views.open",
                    detail: format!("modal does not fit Block Kit: {e}"),
                }
            })?;
        let req = SlackApiViewsOpenRequest::new(SlackTriggerId(trigger_id.to_string()), view);
        call!(self, "views.open", |s| s.views_open(&req)).map(drop)
    }

    /// Share a file in `channel` with a message: `files.getUploadURLExternal`, the bytes to
    /// the upload URL it returns, then `files.completeUploadExternal`. Returns the file.
    pub async fn upload_file(
        &self,
        channel: &ChannelId,
        file: &FileUpload,
    ) -> Result<SharedFile, SlackError> {
        let req =
            SlackApiFilesGetUploadUrlExternalRequest::new(file.filename.clone(), file.bytes.len());
        let target = call!(self, "files.getUploadURLExternal", |s| s
            .get_upload_url_external(&req))?;
        let upload = SlackApiFilesUploadViaUrlRequest::new(
            target.upload_url,
            file.bytes.clone(),
            file.content_type.to_string(),
        );
        call!(self, "upload_url", |s| s.files_upload_via_url(&upload))?;
        let complete =
            SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                target.file_id.clone(),
            )
            .with_title(file.title.clone())])
            .with_channel_id(SlackChannelId(channel.to_string()))
            .with_initial_comment(file.comment.clone());
        let done = call!(self, "files.completeUploadExternal", |s| s
            .files_complete_upload_external(&complete))?;
        let permalink = done
            .files
            .iter()
            .find(|f| f.id == target.file_id)
            .and_then(|f| f.permalink.as_ref())
            .map(|u| u.to_string());
        Ok(SharedFile {
            id: target.file_id.0,
            permalink,
        })
    }

    /// Reply to the person who ran a command, visible to them only (the command's
    /// `response_url`, which works in any channel, even ones the bot is not in).
    pub async fn respond_ephemeral(
        &self,
        response_url: &str,
        msg: &Outgoing,
    ) -> Result<(), SlackError> {
        self.respond(response_url, msg, false).await
    }

    /// Redraw the message a button was on (a click's `response_url`, `replace_original`),
    /// for everyone in the channel: an answered prompt loses its buttons.
    pub async fn replace_clicked(
        &self,
        response_url: &str,
        msg: &Outgoing,
    ) -> Result<(), SlackError> {
        self.respond(response_url, msg, true).await
    }

    async fn respond(
        &self,
        response_url: &str,
        msg: &Outgoing,
        replace_original: bool,
    ) -> Result<(), SlackError> {
        let url = url::Url::parse(response_url).map_err(|e| SlackError::Transport {
            method: "response_url",
            detail: format!("bad response_url: {e}"),
        })?;
        let req = SlackApiPostWebhookMessageRequest::new(msg.content())
            .opt_replace_original(replace_original.then_some(true));
        let client = self.replies.as_ref().unwrap_or(&self.client);
        let result = self
            .gate
            .run(client.respond_to_event(&SlackResponseUrl(url), &req))
            .await
            .map_err(|_| SlackError::NotLeading {
                method: "response_url",
            })?;
        count_call(&self.metrics, "response_url", result.is_ok());
        result
            .map(drop)
            .map_err(|e| SlackError::from_client("response_url", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_never_carry_tokens() {
        let d = redact_detail("failed calling https://x with xoxb-123-secret and xapp-1-abc");
        assert!(!d.contains("xoxb-") && !d.contains("xapp-"), "{d}");
    }

    #[test]
    fn transient_errors_are_told_apart() {
        let api = |code: &str| SlackError::Api {
            method: "chat.postMessage",
            code: code.to_string(),
        };
        assert!(!api("channel_not_found").is_transient());
        assert!(!api("is_archived").is_transient());
        assert!(api("internal_error").is_transient());
        assert!(SlackError::RateLimited {
            method: "x",
            retry_after: None
        }
        .is_transient());
    }
}
