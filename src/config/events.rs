//! `[events]`: the EventBridge → SQS queue warroom reads AWS events from.

use super::*;

/// `[events]`: what AWS pushes (alarm state changes, Health events, Support case updates)
/// through an EventBridge rule into one SQS queue, long-polled by the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// `https://sqs.<region>.amazonaws.com/<account>/<queue>`.
    pub sqs_queue_url: String,
    /// The queue's region, from the URL's host (`[aws] region` for other hosts, such as a
    /// VPC endpoint or a local fake).
    pub region: String,
    /// How long one ReceiveMessage waits for a message (SQS long polling, at most 20 s).
    pub wait: Duration,
    /// Messages asked for per ReceiveMessage (1 to 10, SQS's limit).
    pub batch: u32,
    /// An account-specific AWS Health issue that no open incident watches opens one, on
    /// the `source = "health"` route (else the default).
    pub health_opens_incident: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    pub(super) sqs_queue_url: Option<String>,
    pub(super) wait: Option<String>,
    pub(super) batch: Option<u32>,
    pub(super) health_opens_incident: Option<bool>,
}

/// `[events]`: the queue URL checked for shape (`https://sqs.<region>.amazonaws.com/
/// <12-digit account>/<queue>`; another host, such as a VPC endpoint or a local fake, keeps
/// the account/queue path and takes `[aws] region`), `wait` at most 20 s, `batch` 1 to 10.
pub(super) fn events_config(
    raw: Option<RawEvents>,
    aws_region: &str,
) -> Result<Option<EventsConfig>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let key = "[events] sqs_queue_url";
    let Some(text) = raw.sqs_queue_url else {
        return Err(invalid(
            key,
            "is missing (the SQS queue the EventBridge rule targets)",
        ));
    };
    let url = url::Url::parse(&text).map_err(|e| invalid(key, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid(key, "must be an https:// URL"));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(invalid(key, "must be https:// (http only on this machine)"));
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            key,
            "must be the queue URL alone, without a query or credentials",
        ));
    }
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let shape_ok = matches!(segments.as_slice(),
        [account, queue] if account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !queue.is_empty()
            && queue.len() <= 80
            && queue.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
    if !shape_ok {
        return Err(invalid(
            key,
            "must look like https://sqs.<region>.amazonaws.com/<12-digit account>/<queue name>",
        ));
    }
    let host = url.host_str().unwrap_or_default();
    let region = match host
        .strip_prefix("sqs.")
        .and_then(|h| h.split_once('.'))
        .filter(|(_, rest)| rest.starts_with("amazonaws."))
    {
        Some((region, _)) => {
            check_region(key, region)?;
            region.to_string()
        }
        None => aws_region.to_string(),
    };
    let wait = duration("[events] wait", raw.wait, Duration::from_secs(20))?;
    if wait > Duration::from_secs(20) || wait.subsec_nanos() != 0 {
        return Err(invalid(
            "[events] wait",
            "must be whole seconds, at most 20s (SQS's longest long poll)",
        ));
    }
    let batch = raw.batch.unwrap_or(10);
    if !(1..=10).contains(&batch) {
        return Err(invalid(
            "[events] batch",
            "must be between 1 and 10 (SQS's limit)",
        ));
    }
    Ok(Some(EventsConfig {
        sqs_queue_url: text,
        region,
        wait,
        batch,
        health_opens_incident: raw.health_opens_incident.unwrap_or(false),
    }))
}
