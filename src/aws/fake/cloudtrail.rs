//! CloudTrail in the fake: LookupEvents, which moto lacks, as JSON 1.1 POSTed to `/` with
//! `X-Amz-Target: CloudTrail_20131101.LookupEvents`, shaped like AWS's answer.
//!
//! Like AWS: events newest first; at most one lookup attribute (`ReadOnly`, `EventName`,
//! `Username`, `ResourceName`, `ResourceType`, `EventSource`, `EventId`, `AccessKeyId`);
//! `StartTime`/`EndTime` bound the window (inclusive); `MaxResults` 1 to 50 (50 by
//! default); `NextToken` continues. `CloudTrailEvent` is the full event as a JSON *string*.
//! Tests add events with [`super::AwsFake::add_trail_event`].

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value as Json};

use super::support::{error, ok};
use super::{FakeCall, Shared, ACCOUNT_ID};

/// The service name in `X-Amz-Target` (and in [`FakeCall::service`]).
pub const CLOUDTRAIL: &str = "CloudTrail_20131101";
/// LookupEvents' largest (and default) page.
const MAX_RESULTS: u64 = 50;

/// A management event CloudTrail recorded, as a test writes it.
#[derive(Debug, Clone)]
pub struct FakeTrailEvent {
    pub region: String,
    pub id: String,
    pub name: String,
    /// `ecs.amazonaws.com`, …
    pub source: String,
    pub at: DateTime<Utc>,
    /// The caller's ARN (`userIdentity.arn`).
    pub who: String,
    /// `Resources`: (type, name).
    pub resources: Vec<(String, String)>,
    /// `requestParameters` of the call.
    pub request_parameters: Json,
    pub read_only: bool,
    /// Set for a call AWS refused.
    pub error_code: Option<String>,
}

impl FakeTrailEvent {
    /// A successful write by `who` in `region`, with no resources or parameters yet.
    pub fn write(region: &str, id: &str, name: &str, at: DateTime<Utc>, who: &str) -> Self {
        FakeTrailEvent {
            region: region.to_string(),
            id: id.to_string(),
            name: name.to_string(),
            source: "example.amazonaws.com".to_string(),
            at,
            who: who.to_string(),
            resources: Vec::new(),
            request_parameters: json!({}),
            read_only: false,
            error_code: None,
        }
    }

    /// The user name LookupEvents shows: the session or user part of the ARN.
    fn username(&self) -> String {
        self.who.rsplit('/').next().unwrap_or(&self.who).to_string()
    }

    /// The full record, as CloudTrail writes it in `CloudTrailEvent`.
    fn record(&self) -> Json {
        let identity_type = if self.who.contains(":assumed-role/") {
            "AssumedRole"
        } else if self.who.ends_with(":root") {
            "Root"
        } else {
            "IAMUser"
        };
        let mut record = json!({
            "eventVersion": "1.09",
            "userIdentity": {
                "type": identity_type,
                "principalId": format!("AROAEXAMPLE:{}", self.username()),
                "arn": self.who,
                "accountId": ACCOUNT_ID,
            },
            "eventTime": self.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "eventSource": self.source,
            "eventName": self.name,
            "awsRegion": self.region,
            "sourceIPAddress": "203.0.113.10",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": self.request_parameters,
            "responseElements": null,
            "requestID": format!("req-{}", self.id),
            "eventID": self.id,
            "readOnly": self.read_only,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": ACCOUNT_ID,
            "eventCategory": "Management",
        });
        if let Some(code) = &self.error_code {
            record["errorCode"] = code.clone().into();
            record["errorMessage"] = "refused".into();
        }
        record
    }

    /// One element of LookupEvents' `Events`.
    fn lookup_item(&self) -> Json {
        json!({
            "EventId": self.id,
            "EventName": self.name,
            "ReadOnly": self.read_only.to_string(),
            "AccessKeyId": "ASIAEXAMPLEKEY",
            "EventTime": self.at.timestamp_millis() as f64 / 1000.0,
            "EventSource": self.source,
            "Username": self.username(),
            "Resources": self.resources.iter().map(|(t, n)| json!({"ResourceType": t, "ResourceName": n})).collect::<Vec<_>>(),
            "CloudTrailEvent": self.record().to_string(),
        })
    }

    fn matches(&self, key: &str, value: &str) -> bool {
        match key {
            "ReadOnly" => self.read_only.to_string() == value,
            "EventName" => self.name == value,
            "Username" => self.username() == value,
            "EventSource" => self.source == value,
            "EventId" => self.id == value,
            "AccessKeyId" => value == "ASIAEXAMPLEKEY",
            "ResourceName" => self.resources.iter().any(|(_, n)| n == value),
            "ResourceType" => self.resources.iter().any(|(t, _)| t == value),
            _ => false,
        }
    }
}

/// Answer one CloudTrail call (`operation` from the target).
pub(super) fn handle(
    shared: &Shared,
    headers: &HeaderMap,
    operation: &str,
    body: &Bytes,
    gzipped: bool,
) -> Response {
    let region = super::signing_region(headers).unwrap_or_else(|| "us-east-1".to_string());
    let mut st = shared.state();
    st.calls.push(FakeCall {
        service: CLOUDTRAIL.to_string(),
        operation: operation.to_string(),
        region: Some(region.clone()),
        gzipped,
    });
    if let Some(code) = st.take_failure(operation) {
        return error(super::status_of(&code), &code, "injected by the AWS fake");
    }
    if operation != "LookupEvents" {
        return error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("the AWS fake does not implement CloudTrail {operation}"),
        );
    }
    let input: Json = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "SerializationException",
                    &format!("the body is not JSON: {e}"),
                )
            }
        }
    };
    lookup_events(&st.trail_events, &region, &input)
}

fn lookup_events(events: &[FakeTrailEvent], region: &str, input: &Json) -> Response {
    let attributes = input
        .get("LookupAttributes")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    if attributes.len() > 1 {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute",
        );
    }
    let attribute = attributes.first().map(|a| {
        (
            a.get("AttributeKey").and_then(Json::as_str).unwrap_or(""),
            a.get("AttributeValue").and_then(Json::as_str).unwrap_or(""),
        )
    });
    let secs = |key: &str| input.get(key).and_then(Json::as_f64);
    let (start, end) = (secs("StartTime"), secs("EndTime"));
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidTimeRangeException",
                "Start time must be earlier than end time",
            );
        }
    }
    let max = input
        .get("MaxResults")
        .and_then(Json::as_u64)
        .unwrap_or(MAX_RESULTS);
    if !(1..=MAX_RESULTS).contains(&max) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidMaxResultsException",
            "MaxResults must be between 1 and 50",
        );
    }
    let from: usize = match input.get("NextToken").and_then(Json::as_str) {
        None => 0,
        Some(t) => match t.strip_prefix("page-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidNextTokenException",
                    "Invalid NextToken",
                )
            }
        },
    };
    let mut found: Vec<&FakeTrailEvent> = events
        .iter()
        .filter(|e| e.region == region)
        .filter(|e| attribute.is_none_or(|(k, v)| e.matches(k, v)))
        .filter(|e| {
            let t = e.at.timestamp_millis() as f64 / 1000.0;
            start.is_none_or(|s| t >= s) && end.is_none_or(|en| t <= en)
        })
        .collect();
    found.sort_by(|a, b| b.at.cmp(&a.at).then(a.id.cmp(&b.id)));
    let page: Vec<Json> = found
        .iter()
        .skip(from)
        .take(max as usize)
        .map(|e| e.lookup_item())
        .collect();
    let mut out = json!({ "Events": page });
    if from + (max as usize) < found.len() {
        out["NextToken"] = format!("page-{}", from + max as usize).into();
    }
    ok(&out)
}
