//! Emulator tests, driven the way a client would: reqwest for the Web API, a raw
//! tokio-tungstenite client for Socket Mode. Waits are deadlines on conditions, never sleeps.

mod interactions;
mod socket;
mod web_api;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{EmulatorConfig, SlackEmulator};

/// Generous bound for things that should happen "now".
pub(super) const SOON: Duration = Duration::from_secs(5);

pub(super) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

pub(super) struct Harness {
    pub emu: SlackEmulator,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with(EmulatorConfig::default()).await
    }

    /// A harness whose acks time out quickly, for redelivery tests.
    pub async fn fast() -> Harness {
        Harness::with(EmulatorConfig {
            ack_timeout: Duration::from_millis(200),
            refresh_grace: Duration::from_millis(100),
            ..EmulatorConfig::default()
        })
        .await
    }

    pub async fn with(config: EmulatorConfig) -> Harness {
        let emu = SlackEmulator::start(config).await.expect("emulator starts");
        Harness {
            emu,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, method: &str) -> String {
        format!("{}{method}", self.emu.api_url())
    }

    async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A form-encoded call with an optional bearer token.
    pub async fn call(&self, method: &str, token: Option<&str>, form: &[(&str, &str)]) -> Reply {
        let mut req = self.http.post(self.url(method)).form(form);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        Harness::reply(req.send().await.expect("request")).await
    }

    /// A form-encoded call with the bot token; returns the JSON body.
    pub async fn bot(&self, method: &str, form: &[(&str, &str)]) -> Value {
        let token = self.emu.config().bot_token.clone();
        self.call(method, Some(&token), form).await.body
    }

    /// A JSON-bodied call with the bot token.
    pub async fn bot_json(&self, method: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(self.url(method))
            .bearer_auth(&self.emu.config().bot_token)
            .json(&body)
            .send()
            .await
            .expect("request");
        Harness::reply(resp).await.body
    }

    /// `apps.connections.open` → the WebSocket URL.
    pub async fn ws_url(&self) -> String {
        let token = self.emu.config().app_token.clone();
        let reply = self.call("apps.connections.open", Some(&token), &[]).await;
        assert_eq!(reply.body["ok"], json!(true), "{}", reply.body);
        reply.body["url"].as_str().expect("url").to_string()
    }

    /// Opens a Socket Mode connection and consumes its `hello`.
    pub async fn connect(&self) -> Socket {
        let url = self.ws_url().await;
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        let mut socket = Socket { ws };
        let hello = socket.next_json().await;
        assert_eq!(hello["type"], json!("hello"), "{hello}");
        socket
    }

    /// A channel created by the bot with the given people invited.
    pub async fn war_room(&self, name: &str, people: &[&str]) -> String {
        let created = self.bot("conversations.create", &[("name", name)]).await;
        assert_eq!(created["ok"], json!(true), "{created}");
        let id = created["channel"]["id"].as_str().expect("id").to_string();
        for person in people {
            self.emu.add_user(person, &person.to_lowercase());
        }
        if !people.is_empty() {
            let users = people.join(",");
            let invited = self
                .bot(
                    "conversations.invite",
                    &[("channel", &id), ("users", &users)],
                )
                .await;
            assert_eq!(invited["ok"], json!(true), "{invited}");
        }
        id
    }
}

pub(super) struct Socket {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the next read on a socket produced.
#[derive(Debug)]
pub(super) enum Frame {
    Json(Value),
    Close,
    /// The connection ended without a close frame (or with an error).
    Gone,
    /// Nothing arrived before the deadline.
    Quiet,
}

impl Socket {
    /// The next frame within `deadline`, skipping pings and pongs.
    pub async fn frame(&mut self, deadline: Duration) -> Frame {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            match tokio::time::timeout_at(until, self.ws.next()).await {
                Err(_) => return Frame::Quiet,
                Ok(None) | Ok(Some(Err(_))) => return Frame::Gone,
                Ok(Some(Ok(WsMessage::Text(t)))) => {
                    return Frame::Json(serde_json::from_str(t.as_str()).expect("json frame"))
                }
                Ok(Some(Ok(WsMessage::Close(_)))) => return Frame::Close,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    pub async fn next_json(&mut self) -> Value {
        match self.frame(SOON).await {
            Frame::Json(v) => v,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// The next envelope carrying an inner event of type `event_type` (others are acked
    /// and skipped: the bot's own messages echo back as events).
    pub async fn next_event(&mut self, event_type: &str) -> Value {
        loop {
            let envelope = self.next_json().await;
            if envelope["payload"]["event"]["type"] == json!(event_type) {
                return envelope;
            }
            if let Some(id) = envelope["envelope_id"].as_str() {
                self.ack(id, None).await;
            }
        }
    }

    pub async fn ack(&mut self, envelope_id: &str, payload: Option<Value>) {
        let mut frame = json!({"envelope_id": envelope_id});
        if let Some(payload) = payload {
            frame["payload"] = payload;
        }
        self.ws
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .expect("ack sent");
    }
}
