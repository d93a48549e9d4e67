//! Raw Slack checks for `warroom doctor`: what slack-morphism does not show.
//!
//! Slack reports a token's granted scopes only in the `x-oauth-scopes` response header,
//! which slack-morphism drops, and the Socket Mode check wants the first frame of a fresh
//! connection. So these make plain HTTP requests (hyper-util with rustls, like the bot's
//! own client) and one WebSocket connection (tokio-tungstenite). Tokens go only into the
//! `Authorization` header; no error carries them or the WebSocket ticket.

use std::time::{Duration, Instant};

use axum::http::{header, Request};
use futures::StreamExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Each probe gives up after this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Slack answered `{"ok":false,"error":code}`.
    #[error("Slack refused {method}: {code}")]
    Refused { method: &'static str, code: String },
    /// No proper answer: network, TLS, HTTP status, timeout, unreadable body.
    #[error("{method}: {detail}")]
    Unreachable {
        method: &'static str,
        detail: String,
    },
}

/// What `auth.test` said about the bot token.
#[derive(Debug, Clone)]
pub struct AuthTest {
    pub user_id: String,
    pub user: String,
    pub team_id: String,
    pub team: String,
    /// From `x-oauth-scopes`; `None` when Slack sent no such header.
    pub scopes: Option<Vec<String>>,
}

/// `auth.test` with the bot token, reading the granted scopes from the response header.
pub async fn auth_test(api_url: &str, bot_token: &str) -> Result<AuthTest, ProbeError> {
    let (scopes, body) = call(api_url, "auth.test", bot_token).await?;
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(AuthTest {
        user_id: field("user_id"),
        user: field("user"),
        team_id: field("team_id"),
        team: field("team"),
        scopes: scopes.map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        }),
    })
}

/// `apps.connections.open` with the app-level token; returns the WebSocket URL to use once.
pub async fn connections_open(api_url: &str, app_token: &str) -> Result<String, ProbeError> {
    const METHOD: &str = "apps.connections.open";
    let (_, body) = call(api_url, METHOD, app_token).await?;
    body.get("url")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or(ProbeError::Unreachable {
            method: METHOD,
            detail: "the answer has no url".into(),
        })
}

/// Connect to a Socket Mode URL, wait for `hello`, close. Returns how long `hello` took.
pub async fn socket_hello(url: &str) -> Result<Duration, ProbeError> {
    const WHAT: &str = "Socket Mode";
    let unreachable = |detail: String| ProbeError::Unreachable {
        method: WHAT,
        detail,
    };
    let started = Instant::now();
    let attempt = async {
        let mut ws = crate::slack::socket::connect(url)
            .await
            .map_err(|e| unreachable(format!("cannot open the WebSocket: {e:#}")))?;
        while let Some(frame) = ws.next().await {
            let frame =
                frame.map_err(|e| unreachable(format!("the WebSocket failed: {}", short(&e))))?;
            if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
                let kind = serde_json::from_str::<Value>(text.as_str())
                    .ok()
                    .and_then(|v| v.get("type").and_then(Value::as_str).map(String::from));
                let _ = ws.close(None).await;
                return match kind.as_deref() {
                    Some("hello") => Ok(started.elapsed()),
                    other => Err(unreachable(format!(
                        "expected hello as the first frame, got {}",
                        other.unwrap_or("something unreadable")
                    ))),
                };
            }
        }
        Err(unreachable("the WebSocket closed before hello".into()))
    };
    tokio::time::timeout(PROBE_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err(unreachable(format!("no hello within {PROBE_TIMEOUT:?}"))))
}

/// POST `{api_url}{method}` with a bearer token; returns `x-oauth-scopes` and the body of
/// an `ok:true` answer.
async fn call(
    api_url: &str,
    method: &'static str,
    token: &str,
) -> Result<(Option<String>, Value), ProbeError> {
    let unreachable = |detail: String| ProbeError::Unreachable { method, detail };
    crate::tls::install_crypto_provider();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| unreachable(format!("cannot load the system's TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, String> = Client::builder(TokioExecutor::new()).build(https);
    let url = format!("{}{method}", with_slash(api_url));
    let request = Request::post(url.as_str())
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(String::new())
        .map_err(|e| unreachable(format!("cannot build the request to {url}: {e}")))?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| unreachable(format!("cannot reach {url}: {}", short(&e))))?;
        let status = response.status();
        let scopes = response
            .headers()
            .get("x-oauth-scopes")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = axum::body::to_bytes(axum::body::Body::new(response.into_body()), 1 << 20)
            .await
            .map_err(|e| unreachable(format!("cannot read the answer from {url}: {e}")))?;
        Ok::<_, ProbeError>((status, scopes, body))
    };
    let (status, scopes, body) = tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(unreachable(format!(
                "no answer from {url} within {PROBE_TIMEOUT:?}"
            )))
        })?;
    let json: Value = serde_json::from_slice(&body).map_err(|_| {
        unreachable(format!(
            "HTTP {status} from {url} without a Slack answer (is [slack] api_url right?)"
        ))
    })?;
    if json.get("ok").and_then(Value::as_bool) == Some(true) {
        Ok((scopes, json))
    } else {
        let code = json
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error")
            .to_string();
        Err(ProbeError::Refused { method, code })
    }
}

fn with_slash(api_url: &str) -> String {
    if api_url.ends_with('/') {
        api_url.to_string()
    } else {
        format!("{api_url}/")
    }
}

/// An error and its causes on one bounded line. These errors come from the network stack
/// and name hosts and causes, never request headers.
fn short(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `wss://` Socket Mode URL is opened over TLS (as the bot's own client does), and
    /// when that fails the error names the TLS problem, never the URL's ticket.
    #[tokio::test]
    async fn a_wss_probe_speaks_tls_and_keeps_the_ticket_out_of_its_error() {
        crate::tls::install_crypto_provider();
        // A server that answers whatever it is sent with plain HTTP, not TLS.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut first = [0u8; 512];
                let _ = tcp.read(&mut first).await;
                let _ = tcp
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let url = format!("wss://{addr}/link/?ticket=c0ffee-ticket-1234&app_id=A1");
        let Err(ProbeError::Unreachable { detail, .. }) = socket_hello(&url).await else {
            panic!("a plain-HTTP server passed for Slack");
        };
        assert!(
            detail.contains("cannot open the WebSocket") && detail.contains("corrupt message"),
            "{detail}"
        );
        assert!(!detail.contains("c0ffee"), "{detail}");
    }
}
