//! moto (PyPI `moto[server]`) behind the fake's front: starting `moto_server` on a free
//! loopback port, forwarding one CloudWatch call to it as JSON 1.0 and one Support call as
//! the JSON 1.1 it already is, and pinning the status of moto's Support cases.
//!
//! The binary is found from `MOTO_SERVER`, then `.venv/bin/moto_server` in the crate, then
//! `PATH`. When none is there, it is installed into the crate's `.venv` from PyPI once
//! (`python3 -m venv .venv && .venv/bin/pip install 'moto[server]'`), so `cargo test` works
//! on a fresh machine with Python 3; `.ci/run` does the same up front.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::Response;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HttpClient;
use serde_json::Value as Json;

use super::{error_response, ok_response, CLOUDWATCH};

/// How long moto may take to start answering.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// Ports tried before giving up on starting moto.
const START_ATTEMPTS: usize = 3;

/// A `moto_server` child process on 127.0.0.1; killed when dropped.
pub struct MotoServer {
    child: tokio::process::Child,
    url: String,
}

impl MotoServer {
    /// Start moto on a free port and wait until it answers.
    pub async fn start() -> anyhow::Result<MotoServer> {
        let bin = match find_binary() {
            Some(bin) => bin,
            None => install().await?,
        };
        // The port is free when chosen, but another process (a parallel test binding port
        // 0) may take it before moto binds it; moto then exits. Try again on another port.
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_on_free_port(&bin).await {
                Ok(server) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("moto_server did not start")))
    }

    async fn start_on_free_port(bin: &std::path::Path) -> anyhow::Result<MotoServer> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
            l.local_addr()?.port()
        };
        let child = tokio::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let mut server = MotoServer { child, url };
        server.wait_ready().await?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Wait until moto answers its own API. Something listening on the port is not enough:
    /// it may be another process that took the port first (moto then exits).
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + START_DEADLINE;
        let http: HttpClient<HttpConnector, Body> =
            HttpClient::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let probe = format!(
            "{}/moto-api/state-manager/get-transition?model_name=support::case",
            self.url
        );
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(anyhow!("moto_server exited at start ({status})"));
            }
            let req = Request::get(probe.as_str()).body(Body::empty())?;
            if let Ok(resp) = http.request(req).await {
                if resp.status().is_success() {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(anyhow!(
                    "moto_server did not answer on {} within {START_DEADLINE:?}",
                    self.url
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Install moto into the crate's `.venv`, once per process (tests start many servers).
async fn install() -> anyhow::Result<PathBuf> {
    static INSTALL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = INSTALL.lock().await;
    if let Some(bin) = find_binary() {
        return Ok(bin);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join(".venv");
    let how =
        "install it by hand: `python3 -m venv .venv && .venv/bin/pip install 'moto[server]'`, \
               or set MOTO_SERVER to a moto_server binary";
    tracing::warn!(
        "moto_server not found; installing moto[server] into {}",
        venv.display()
    );
    let status = tokio::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .await
        .with_context(|| format!("moto_server not found and python3 cannot run; {how}"))?;
    if !status.success() {
        return Err(anyhow!("python3 -m venv failed ({status}); {how}"));
    }
    let status = tokio::process::Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "moto[server]",
        ])
        .status()
        .await
        .with_context(|| format!("cannot run pip in {}; {how}", venv.display()))?;
    if !status.success() {
        return Err(anyhow!(
            "pip install 'moto[server]' failed ({status}); {how}"
        ));
    }
    find_binary().ok_or_else(|| anyhow!("moto_server still missing after installing; {how}"))
}

fn find_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    })
}

/// Send one CloudWatch call to moto as JSON 1.0 and translate the answer back to CBOR.
pub(super) async fn forward(
    http: &HttpClient<HttpConnector, Body>,
    base: &str,
    operation: &str,
    headers: &HeaderMap,
    input: &Json,
) -> Response {
    match call(http, base, operation, headers, input).await {
        Ok((status, query_error, body)) => {
            if status.is_success() {
                return ok_response(operation, &body);
            }
            let code = body
                .get("__type")
                .and_then(Json::as_str)
                .unwrap_or("InternalFailure");
            let message = body
                .get("message")
                .or_else(|| body.get("Message"))
                .and_then(Json::as_str)
                .unwrap_or("");
            let mut resp = error_response(status, code, message);
            if let Some(q) = query_error {
                resp.headers_mut().insert("x-amzn-query-error", q);
            }
            resp
        }
        Err(e) => error_response(
            StatusCode::BAD_GATEWAY,
            "InternalFailure",
            &format!("moto did not answer: {e:#}"),
        ),
    }
}

/// Send one Support call (JSON 1.1, `X-Amz-Target`) to moto unchanged; moto's status and
/// body come back as they are.
pub(super) async fn forward_json11(
    http: &HttpClient<HttpConnector, Body>,
    base: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let mut req = Request::post(format!("{base}/"));
    // moto picks the service and region from the SigV4 credential scope, the operation
    // from the target.
    for name in [
        "content-type",
        "x-amz-target",
        "authorization",
        "x-amz-date",
    ] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.clone());
        }
    }
    let resp = http
        .request(req.body(Body::from(body))?)
        .await
        .context("request to moto failed")?;
    let status = resp.status();
    let bytes = axum::body::to_bytes(Body::new(resp.into_body()), 64 * 1024 * 1024)
        .await
        .context("reading moto's answer")?;
    Ok((status, bytes))
}

/// moto moves a Support case one status further on every DescribeCases and ResolveCase
/// (`support::case` progresses "manual"ly, one step per call, by default); AWS never moves
/// a case by itself. With a step only every billion calls, cases stay where they are.
pub(super) async fn pin_support_case_status(
    http: &HttpClient<HttpConnector, Body>,
    base: &str,
) -> anyhow::Result<()> {
    let body = serde_json::json!({
        "model_name": "support::case",
        "transition": {"progression": "manual", "times": 1_000_000_000u64},
    });
    let req = Request::post(format!("{base}/moto-api/state-manager/set-transition"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?;
    let resp = http
        .request(req)
        .await
        .context("moto's state manager did not answer")?;
    if !resp.status().is_success() {
        return Err(anyhow!(
            "moto refused to pin support::case transitions ({})",
            resp.status()
        ));
    }
    Ok(())
}

async fn call(
    http: &HttpClient<HttpConnector, Body>,
    base: &str,
    operation: &str,
    headers: &HeaderMap,
    input: &Json,
) -> anyhow::Result<(StatusCode, Option<HeaderValue>, Json)> {
    let mut req = Request::post(format!("{base}/"))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("{CLOUDWATCH}.{operation}"));
    // moto takes the account's region (and access key) from the SigV4 credential scope.
    for name in ["authorization", "x-amz-date"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.clone());
        }
    }
    let req = req.body(Body::from(input.to_string()))?;
    let resp = http.request(req).await.context("request to moto failed")?;
    let status = resp.status();
    let query_error = resp.headers().get("x-amzn-query-error").cloned();
    let bytes = axum::body::to_bytes(Body::new(resp.into_body()), 64 * 1024 * 1024)
        .await
        .context("reading moto's answer")?;
    let body = if bytes.is_empty() {
        Json::Object(Default::default())
    } else {
        serde_json::from_slice(&bytes).context("moto's answer is not JSON")?
    };
    Ok((status, query_error, body))
}
