//! Socket Mode's wire format: the frames Slack sends and the acks warroom sends back.
//!
//! After the WebSocket opens, Slack sends `hello` (with how long the connection will
//! last), then envelopes `{"envelope_id", "type", "payload", "accepts_response_payload",
//! "retry_attempt", "retry_reason"}`, each answered on the same connection with
//! `{"envelope_id"}` or `{"envelope_id", "payload"}`. `disconnect` (with a `reason`) says
//! Slack is about to close the connection. Anything else is logged and skipped.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One frame from Slack, classified.
#[derive(Debug)]
pub enum Frame {
    Hello(Hello),
    Disconnect(DisconnectReason),
    Envelope(Envelope),
    /// JSON that is neither of the above (a type warroom does not know, or no envelope id).
    Unknown {
        kind: String,
    },
}

/// What `hello` tells about the new connection.
#[derive(Debug, Clone, Default)]
pub struct Hello {
    /// `debug_info.approximate_connection_time`: how long Slack means to keep the
    /// connection before it refreshes it.
    pub lifetime: Option<Duration>,
    /// `num_connections`: how many connections the app has open, this one included.
    pub connections: Option<u64>,
}

/// Why Slack is about to close a connection (`disconnect.reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The connection will be closed in about ten seconds.
    Warning,
    /// The connection is being refreshed: open a new one.
    RefreshRequested,
    /// Socket Mode was turned off in the app's settings.
    LinkDisabled,
    /// A reason Slack has not documented (kept for the log, cut to 64 characters).
    Other(String),
}

impl DisconnectReason {
    fn parse(reason: &str) -> DisconnectReason {
        match reason {
            "warning" => DisconnectReason::Warning,
            "refresh_requested" => DisconnectReason::RefreshRequested,
            "link_disabled" => DisconnectReason::LinkDisabled,
            other => DisconnectReason::Other(other.chars().take(64).collect()),
        }
    }

    /// A fixed label (metrics must not take free text from the network).
    pub fn label(&self) -> &'static str {
        match self {
            DisconnectReason::Warning => "warning",
            DisconnectReason::RefreshRequested => "refresh_requested",
            DisconnectReason::LinkDisabled => "link_disabled",
            DisconnectReason::Other(_) => "other_disconnect",
        }
    }
}

/// One delivery, to be acked by its id.
#[derive(Debug)]
pub struct Envelope {
    pub id: String,
    pub kind: EnvelopeKind,
    /// `None` when Slack sent none (or `null`): such an envelope is acked and skipped.
    pub payload: Option<Value>,
    /// 0 for the first delivery of an event, then 1, 2, … on Slack's retries.
    pub retry_attempt: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeKind {
    EventsApi,
    SlashCommands,
    Interactive,
    /// A type warroom does not handle (acked, so Slack does not retry it).
    Other(String),
}

impl EnvelopeKind {
    pub fn label(&self) -> &str {
        match self {
            EnvelopeKind::EventsApi => "events_api",
            EnvelopeKind::SlashCommands => "slash_commands",
            EnvelopeKind::Interactive => "interactive",
            EnvelopeKind::Other(kind) => kind,
        }
    }
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type")]
    kind: Option<String>,
    envelope_id: Option<String>,
    payload: Option<Value>,
    reason: Option<String>,
    num_connections: Option<u64>,
    debug_info: Option<DebugInfo>,
    retry_attempt: Option<u64>,
}

#[derive(Deserialize)]
struct DebugInfo {
    approximate_connection_time: Option<u64>,
}

/// Read one text frame. An error means it is not a JSON object (or nests too deeply).
pub fn parse(text: &str) -> Result<Frame, serde_json::Error> {
    let raw: RawFrame = serde_json::from_str(text)?;
    let kind = raw.kind.unwrap_or_default();
    Ok(match (kind.as_str(), raw.envelope_id) {
        ("hello", _) => Frame::Hello(Hello {
            lifetime: raw
                .debug_info
                .and_then(|d| d.approximate_connection_time)
                .map(Duration::from_secs),
            connections: raw.num_connections,
        }),
        ("disconnect", _) => Frame::Disconnect(DisconnectReason::parse(
            raw.reason.as_deref().unwrap_or_default(),
        )),
        (_, Some(id)) => Frame::Envelope(Envelope {
            kind: match kind.as_str() {
                "events_api" => EnvelopeKind::EventsApi,
                "slash_commands" => EnvelopeKind::SlashCommands,
                "interactive" => EnvelopeKind::Interactive,
                _ => EnvelopeKind::Other(kind.chars().take(64).collect()),
            },
            id,
            payload: raw.payload.filter(|p| !p.is_null()),
            retry_attempt: raw.retry_attempt.unwrap_or(0),
        }),
        (_, None) => Frame::Unknown {
            kind: kind.chars().take(64).collect(),
        },
    })
}

#[derive(Serialize)]
struct Ack<'a> {
    envelope_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a Value>,
}

/// The ack of envelope `envelope_id`, with the answer shown to the person when there is one.
pub fn ack(envelope_id: &str, payload: Option<&Value>) -> String {
    let ack = Ack {
        envelope_id,
        payload,
    };
    // A struct of a string and a JSON value always serialises.
    serde_json::to_string(&ack).unwrap_or_else(|_| format!("{{\"envelope_id\":{envelope_id:?}}}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hello_carries_the_connection_lifetime() {
        let hello = r#"{"type":"hello","num_connections":2,"debug_info":{"host":"applink-1","build_number":7,"approximate_connection_time":18060},"connection_info":{"app_id":"A1"}}"#;
        let Ok(Frame::Hello(h)) = parse(hello) else {
            panic!("not a hello")
        };
        assert_eq!(h.lifetime, Some(Duration::from_secs(18060)));
        assert_eq!(h.connections, Some(2));
        let Ok(Frame::Hello(bare)) = parse(r#"{"type":"hello"}"#) else {
            panic!("not a hello")
        };
        assert_eq!(bare.lifetime, None);
    }

    #[test]
    fn disconnect_reasons_are_read_and_unknown_ones_kept_short() {
        for (reason, want) in [
            ("warning", DisconnectReason::Warning),
            ("refresh_requested", DisconnectReason::RefreshRequested),
            ("link_disabled", DisconnectReason::LinkDisabled),
        ] {
            let frame =
                json!({"type": "disconnect", "reason": reason, "debug_info": {"host": "h"}});
            let Ok(Frame::Disconnect(got)) = parse(&frame.to_string()) else {
                panic!("not a disconnect")
            };
            assert_eq!(got, want);
            assert_eq!(got.label(), reason);
        }
        let odd = json!({"type": "disconnect", "reason": "x".repeat(500)});
        let Ok(Frame::Disconnect(DisconnectReason::Other(text))) = parse(&odd.to_string()) else {
            panic!("not a disconnect")
        };
        assert_eq!(text.len(), 64);
    }

    #[test]
    fn envelopes_are_classified_and_null_payloads_dropped() {
        let frame = r#"{"envelope_id":"e1","type":"events_api","payload":{"event_id":"Ev1"},"accepts_response_payload":false,"retry_attempt":2,"retry_reason":"timeout"}"#;
        let Ok(Frame::Envelope(e)) = parse(frame) else {
            panic!("not an envelope")
        };
        assert_eq!(
            (e.id.as_str(), &e.kind, e.retry_attempt),
            ("e1", &EnvelopeKind::EventsApi, 2)
        );
        assert_eq!(e.payload, Some(json!({"event_id": "Ev1"})));
        let Ok(Frame::Envelope(e)) =
            parse(r#"{"envelope_id":"e2","type":"brand_new","payload":null}"#)
        else {
            panic!("not an envelope")
        };
        assert_eq!(e.kind, EnvelopeKind::Other("brand_new".into()));
        assert_eq!(e.payload, None);
        assert!(matches!(
            parse(r#"{"type":"events_api"}"#),
            Ok(Frame::Unknown { .. })
        ));
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        let deep = format!(
            "{{\"type\":\"events_api\",\"envelope_id\":\"e\",\"payload\":{}}}",
            "[".repeat(5000)
        );
        for junk in ["not json", "null", "42", "", "{\"type\":", deep.as_str()] {
            assert!(parse(junk).is_err(), "{junk:.40}");
        }
    }

    #[test]
    fn acks_escape_the_envelope_id_and_carry_the_payload() {
        assert_eq!(ack("e\"1", None), r#"{"envelope_id":"e\"1"}"#);
        let answer = json!({"text": "hi", "response_type": "ephemeral"});
        let v: Value = serde_json::from_str(&ack("e2", Some(&answer))).unwrap();
        assert_eq!(v, json!({"envelope_id": "e2", "payload": answer}));
    }
}
