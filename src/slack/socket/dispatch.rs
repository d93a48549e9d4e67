//! What each envelope does before its ack: record it durably, or answer it at once.
//!
//! An envelope warroom acts on is handed to the [`EventSink`] (the service's intake,
//! which writes it to the inbox); its ack is only produced once that write has committed.
//! If the write fails, there is no ack and Slack delivers the envelope again (the inbox key
//! makes the repeat a no-op). Envelopes warroom does not act on, or cannot read, are acked
//! at once, so Slack does not retry them forever.

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::frame::{Envelope, EnvelopeKind};
use super::translate::{
    command_invocation, event_callback, translate_event, translate_interaction,
};
use super::EventSink;
use crate::slack::web::Outgoing;

/// How an envelope is answered.
pub(super) enum Handling {
    /// Ack now (nothing to record), with this payload if any.
    Now(Option<Value>),
    /// Ack once this resolves to `Some(payload)`; `None` means "not recorded: no ack".
    Later(BoxFuture<'static, Option<Option<Value>>>),
}

/// Decide what `envelope` needs. Cheap and synchronous: the slow part (the database) is
/// the returned future.
pub(super) fn dispatch(envelope: &Envelope, sink: &Arc<dyn EventSink>, bot_user: &str) -> Handling {
    let Some(payload) = envelope.payload.as_ref() else {
        tracing::warn!(envelope_id = %envelope.id, kind = envelope.kind.label(), "envelope without a payload skipped");
        return Handling::Now(None);
    };
    match &envelope.kind {
        EnvelopeKind::EventsApi => event(envelope, payload, sink, bot_user),
        EnvelopeKind::SlashCommands => command(envelope, payload, sink),
        EnvelopeKind::Interactive => interaction(envelope, payload, sink),
        EnvelopeKind::Other(kind) => {
            tracing::debug!(envelope_id = %envelope.id, kind, "envelope of a type warroom does not handle");
            Handling::Now(None)
        }
    }
}

fn event(
    envelope: &Envelope,
    payload: &Value,
    sink: &Arc<dyn EventSink>,
    bot_user: &str,
) -> Handling {
    let Some((key, at, event)) = event_callback(payload) else {
        tracing::warn!(envelope_id = %envelope.id, "skipping an event envelope that cannot be read");
        return Handling::Now(None);
    };
    let Some(inbound) = translate_event(event, bot_user, at) else {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("?");
        tracing::debug!(key, kind, "ignoring event");
        return Handling::Now(None);
    };
    if envelope.retry_attempt > 0 {
        tracing::debug!(
            key,
            retry_attempt = envelope.retry_attempt,
            "event delivered again"
        );
    }
    let sink = sink.clone();
    Handling::Later(Box::pin(async move {
        match sink.record(key.clone(), inbound).await {
            Ok(()) => Some(None),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), key, "event not recorded; not acking so Slack redelivers");
                None
            }
        }
    }))
}

fn command(envelope: &Envelope, payload: &Value, sink: &Arc<dyn EventSink>) -> Handling {
    let Some(inv) = command_invocation(payload, Utc::now()) else {
        tracing::warn!(envelope_id = %envelope.id, "skipping a slash command that cannot be read");
        return Handling::Now(None);
    };
    let sink = sink.clone();
    Handling::Later(Box::pin(async move {
        match sink.command(inv).await {
            Ok(Some(reply)) => Some(Some(ephemeral(reply))),
            Ok(None) => Some(None),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "slash command not recorded; Slack will show the user an error");
                None
            }
        }
    }))
}

/// Button clicks and modal submissions are recorded like events, one inbox row per
/// action, and acked empty; whatever they do happens in the worker.
fn interaction(envelope: &Envelope, payload: &Value, sink: &Arc<dyn EventSink>) -> Handling {
    let clicks = translate_interaction(payload, Utc::now());
    if clicks.is_empty() {
        let kind = payload.get("type").and_then(Value::as_str).unwrap_or("?");
        tracing::debug!(envelope_id = %envelope.id, kind, "ignoring interaction");
        return Handling::Now(None);
    }
    let sink = sink.clone();
    Handling::Later(Box::pin(async move {
        for (key, inbound) in clicks {
            if let Err(e) = sink.record(key, inbound).await {
                tracing::error!(error = %format!("{e:#}"), "click not recorded; Slack will show the user an error");
                return None;
            }
        }
        Some(None)
    }))
}

/// An answer in the ack, shown to the caller only.
fn ephemeral(reply: Outgoing) -> Value {
    let mut answer = json!({"text": reply.text, "response_type": "ephemeral"});
    if let Some(blocks) = reply.blocks {
        answer["blocks"] = blocks;
    }
    answer
}
