//! Watching the Socket Mode connections' lifecycle, which slack-morphism keeps to itself.
//!
//! slack-morphism reconnects on its own and tells its callers neither about a dropped
//! connection nor about which connection a `hello` came on. Its listener does, however,
//! build its connection manager through the HTTP connector type
//! (`SlackSocketModeClientsManagerFactory`), and every frame and every disconnect of every
//! connection passes through the manager's `SlackSocketModeClientListener` with the
//! connection's id. [`ObservedConnector`] is a connector that delegates all HTTP to the
//! real one and hands out a manager wrapping slack-morphism's own, so that:
//!
//! - a `hello` on connection `id` marks `id` live, and a disconnect or restart of `id` marks
//!   it dead ([`SocketStatus`]), which is what `/readyz` reports;
//! - every envelope is counted when it arrives and, when the reply is an ack, the time spent
//!   before acking (recording included) goes to the ack latency histogram ([`Metrics`]).
//!
//! Nothing else changes: the wrapped manager connects, pings, reconnects and acks exactly as
//! before.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde::Deserialize;
use slack_morphism::errors::SlackClientError;
use slack_morphism::listener::SlackClientEventsListenerEnvironment;
use slack_morphism::multipart_form::FileMultipartData;
use slack_morphism::prelude::*;
use slack_morphism::socket_mode::clients_manager::{
    SlackSocketModeClientsManager, SlackSocketModeClientsManagerFactory,
};
use slack_morphism::{
    SlackClientApiCallContext, SlackSocketModeClientListener, SlackSocketModeWssClientId,
};
use url::Url;

use super::socket::SocketStatus;
use super::web::{Client, Connector};
use crate::ops::metrics::Metrics;

type ClientResult<T> = Result<T, SlackClientError>;
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The HTTP connector of the Socket Mode listener: the Web API connector, plus lifecycle
/// observation (see the module docs).
#[derive(Clone)]
pub struct ObservedConnector {
    /// The client whose connector does the HTTP, also given to slack-morphism's manager.
    client: Arc<Client>,
    status: Arc<SocketStatus>,
    metrics: Arc<Metrics>,
}

impl ObservedConnector {
    pub fn new(client: Arc<Client>, status: Arc<SocketStatus>, metrics: Arc<Metrics>) -> Self {
        ObservedConnector {
            client,
            status,
            metrics,
        }
    }

    fn inner(&self) -> &Connector {
        &self.client.http_api.connector
    }
}

impl SlackClientHttpConnector for ObservedConnector {
    fn create_method_uri_path(&self, method_relative_uri: &str) -> ClientResult<Url> {
        self.inner().create_method_uri_path(method_relative_uri)
    }

    fn http_get_uri<'a, RS>(
        &'a self,
        full_uri: Url,
        context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a + 'a + Send,
    {
        self.inner().http_get_uri(full_uri, context)
    }

    fn http_get_with_client_secret<'a, RS>(
        &'a self,
        full_uri: Url,
        client_id: &'a SlackClientId,
        client_secret: &'a SlackClientSecret,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a + 'a + Send,
    {
        self.inner()
            .http_get_with_client_secret(full_uri, client_id, client_secret)
    }

    fn http_post_uri<'a, RQ, RS>(
        &'a self,
        full_uri: Url,
        request_body: &'a RQ,
        context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RQ: serde::ser::Serialize + Send + Sync,
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a + Send + 'a,
    {
        self.inner().http_post_uri(full_uri, request_body, context)
    }

    fn http_post_uri_multipart_form<'a, 'p, RS, PT, TS>(
        &'a self,
        full_uri: Url,
        file: Option<FileMultipartData<'p>>,
        params: &'p PT,
        context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a + Send + 'a,
        PT: std::iter::IntoIterator<Item = (&'p str, Option<TS>)> + Clone,
        TS: AsRef<str> + 'p + Send,
    {
        self.inner()
            .http_post_uri_multipart_form(full_uri, file, params, context)
    }

    fn http_post_uri_binary<'a, 'p, RS>(
        &'a self,
        full_uri: Url,
        content_type: String,
        data: &'a [u8],
        context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a + Send + 'a,
    {
        self.inner()
            .http_post_uri_binary(full_uri, content_type, data, context)
    }
}

impl SlackSocketModeClientsManagerFactory<ObservedConnector> for ObservedConnector {
    fn new_clients_manager(
        &self,
        _listener_environment: Arc<SlackClientEventsListenerEnvironment<ObservedConnector>>,
    ) -> Arc<dyn SlackSocketModeClientsManager + Send + Sync> {
        // slack-morphism's own manager only uses its environment's client, to call
        // apps.connections.open; frames and callbacks go through the listener it is given in
        // `register_new_token`, which is where the observation happens.
        let inner_env = Arc::new(SlackClientEventsListenerEnvironment::new(
            self.client.clone(),
        ));
        Arc::new(ObservedManager {
            inner: self.inner().new_clients_manager(inner_env),
            status: self.status.clone(),
            metrics: self.metrics.clone(),
        })
    }
}

struct ObservedManager {
    inner: Arc<dyn SlackSocketModeClientsManager + Send + Sync>,
    status: Arc<SocketStatus>,
    metrics: Arc<Metrics>,
}

#[async_trait]
impl SlackSocketModeClientsManager for ObservedManager {
    async fn register_new_token(
        &self,
        config: &SlackClientSocketModeConfig,
        token: SlackApiToken,
        client_listener: Arc<dyn SlackSocketModeClientListener + Sync + Send>,
    ) -> ClientResult<()> {
        let observed = Arc::new(ObservedListener {
            inner: client_listener,
            status: self.status.clone(),
            metrics: self.metrics.clone(),
        });
        self.inner.register_new_token(config, token, observed).await
    }

    /// Called for every connection that ends (dropped, failed pings, or `disconnect`
    /// asking for a refresh) before slack-morphism opens its replacement.
    async fn restart_client(&self, client_id: &SlackSocketModeWssClientId) {
        self.status.connection_down(&client_id.to_string());
        self.inner.restart_client(client_id).await
    }

    async fn start(&self) {
        self.inner.start().await
    }

    async fn shutdown(&self) {
        self.status.all_down();
        self.inner.shutdown().await
    }

    async fn await_term_signals(&self) {
        self.inner.await_term_signals().await
    }
}

struct ObservedListener {
    inner: Arc<dyn SlackSocketModeClientListener + Sync + Send>,
    status: Arc<SocketStatus>,
    metrics: Arc<Metrics>,
}

/// The two fields of a Socket Mode frame needed to classify it.
#[derive(Deserialize)]
struct FrameHead {
    #[serde(rename = "type")]
    kind: Option<String>,
    envelope_id: Option<String>,
}

#[async_trait]
impl SlackSocketModeClientListener for ObservedListener {
    async fn on_message(
        &self,
        client_id: &SlackSocketModeWssClientId,
        message_body: String,
    ) -> Option<String> {
        let head = serde_json::from_str::<FrameHead>(&message_body).ok();
        let is_envelope = head.as_ref().is_some_and(|h| h.envelope_id.is_some());
        let is_hello = head
            .as_ref()
            .is_some_and(|h| h.kind.as_deref() == Some("hello"));
        let started = Instant::now();
        if is_envelope {
            self.metrics.envelope_received();
        }
        let reply = self.inner.on_message(client_id, message_body).await;
        if is_envelope && reply.is_some() {
            self.metrics.envelope_acked(started.elapsed());
        }
        if is_hello {
            self.status.connection_up(client_id.to_string());
        }
        reply
    }

    async fn on_error(&self, error: BoxError) {
        self.inner.on_error(error).await
    }

    async fn on_disconnect(&self, client_id: &SlackSocketModeWssClientId) {
        self.status.connection_down(&client_id.to_string());
        self.inner.on_disconnect(client_id).await
    }
}
