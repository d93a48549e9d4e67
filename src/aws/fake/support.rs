//! AWS Support in the fake: JSON 1.1 POSTed to `/` with
//! `X-Amz-Target: AWSSupport_20130415.<Operation>`, as the SDK sends it.
//!
//! With a moto backend, CreateCase, DescribeCases and ResolveCase go to moto, and the
//! front learns every case from the CreateCase answers passing through. moto lacks
//! DescribeCommunications and AddCommunicationToCase, so the front answers those itself, for
//! every case it knows, and it corrects what moto makes up (see [`moto_describe_cases`]).
//! The in-memory backend answers all five operations here.
//!
//! Messages are kept oldest first and listed newest first, as AWS lists them.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{json, Value as Json};

use super::{moto, CloudWatchBackend, FakeCall, Shared, ACCOUNT_ID};
use crate::domain::support::fnv1a;

/// The service name in `X-Amz-Target` (and in [`FakeCall::service`]).
pub const SUPPORT: &str = "AWSSupport_20130415";
/// Who the customer side's messages are from.
fn customer() -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:user/warroom")
}
/// How AWS signs its own replies.
const AWS_AUTHOR: &str = "Amazon Web Services";
/// DescribeCommunications' page size when the caller gives none (AWS's smallest).
const DEFAULT_PAGE: usize = 10;
/// How many messages DescribeCases shows under `recentCommunications`.
const RECENT: usize = 5;

/// A case created through the fake, as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCase {
    pub case_id: String,
    /// The 10-digit number the Support Center shows.
    pub display_id: Option<String>,
    pub subject: String,
    pub severity: String,
    pub service_code: Option<String>,
    pub category_code: Option<String>,
    /// The opening message.
    pub body: String,
    pub cc: Vec<String>,
    /// `opened` or `resolved` (AWS's engineers move it otherwise; the fake does not).
    pub status: String,
}

/// One message on a case.
#[derive(Debug, Clone)]
struct Message {
    body: String,
    submitted_by: String,
    at: DateTime<Utc>,
    attachments: Vec<String>,
}

#[derive(Debug, Clone)]
struct Case {
    case: FakeCase,
    created_at: DateTime<Utc>,
    /// Oldest first, the opening message included.
    messages: Vec<Message>,
    /// Bodies of AddCommunicationToCase, oldest first.
    sent: Vec<String>,
}

/// The Support side of the fake's state.
#[derive(Debug, Default)]
pub(super) struct SupportState {
    /// Oldest first.
    cases: Vec<Case>,
    /// Injected failures by operation: the error code and how many calls are left.
    failures: BTreeMap<String, (String, u32)>,
}

impl SupportState {
    fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.case.case_id == id)
    }

    fn case_mut(&mut self, id: &str) -> Option<&mut Case> {
        self.cases.iter_mut().find(|c| c.case.case_id == id)
    }

    pub(super) fn cases(&self) -> Vec<FakeCase> {
        self.cases.iter().map(|c| c.case.clone()).collect()
    }

    pub(super) fn sent(&self, case_id: &str) -> Vec<String> {
        self.case(case_id)
            .map(|c| c.sent.clone())
            .unwrap_or_default()
    }

    pub(super) fn add_reply(
        &mut self,
        case_id: &str,
        body: &str,
        at: DateTime<Utc>,
        attachments: &[&str],
    ) {
        match self.case_mut(case_id) {
            Some(case) => case.messages.push(Message {
                body: body.to_string(),
                submitted_by: AWS_AUTHOR.to_string(),
                at,
                attachments: attachments.iter().map(|a| a.to_string()).collect(),
            }),
            None => tracing::warn!(case_id, "the AWS fake has no such case; reply dropped"),
        }
    }

    pub(super) fn fail(&mut self, operation: &str, code: &str, times: u32) {
        if times == 0 {
            self.failures.remove(operation);
        } else {
            self.failures
                .insert(operation.to_string(), (code.to_string(), times));
        }
    }

    /// Use up one injected failure of `operation`, if any is left.
    fn take_failure(&mut self, operation: &str) -> Option<String> {
        let (code, left) = self.failures.get_mut(operation)?;
        let code = code.clone();
        *left -= 1;
        if *left == 0 {
            self.failures.remove(operation);
        }
        Some(code)
    }

    /// Record a new case (from CreateCase's input) under `case_id`, created `now`.
    fn open(&mut self, case_id: String, input: &Json, now: DateTime<Utc>) -> &Case {
        let body = text(input, "communicationBody").unwrap_or_default();
        let case = Case {
            case: FakeCase {
                case_id,
                display_id: Some(self.new_display_id(now)),
                subject: text(input, "subject").unwrap_or_default(),
                // AWS's default when CreateCase names none.
                severity: text(input, "severityCode").unwrap_or_else(|| "low".to_string()),
                service_code: text(input, "serviceCode"),
                category_code: text(input, "categoryCode"),
                body: body.clone(),
                cc: input
                    .get("ccEmailAddresses")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Json::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                status: "opened".to_string(),
            },
            created_at: now,
            messages: vec![Message {
                body,
                submitted_by: customer(),
                at: now,
                attachments: Vec::new(),
            }],
            sent: Vec::new(),
        };
        self.cases.push(case);
        let last = self.cases.len() - 1;
        &self.cases[last]
    }

    /// A number that looks like AWS's (10 digits), made from the creation time and the
    /// cases so far: a run on a fixed clock gets the same ids every time (the golden
    /// postmortem shows them), and no two cases share one.
    fn new_display_id(&self, now: DateTime<Utc>) -> String {
        (0u64..)
            .map(|salt| {
                let h = self.digest(now, salt);
                (1_000_000_000 + h % 9_000_000_000).to_string()
            })
            .find(|id| {
                !self
                    .cases
                    .iter()
                    .any(|c| c.case.display_id.as_deref() == Some(id.as_str()))
            })
            .unwrap_or_default()
    }

    /// `case-<account>-muen-<year>-<16 hex digits>`, made like [`SupportState::new_display_id`].
    fn new_case_id(&self, now: DateTime<Utc>) -> String {
        (0u64..)
            .map(|salt| {
                format!(
                    "case-{ACCOUNT_ID}-muen-{}-{:016x}",
                    now.year(),
                    self.digest(now, salt ^ 0x5eed)
                )
            })
            .find(|id| self.case(id).is_none())
            .unwrap_or_default()
    }

    fn digest(&self, now: DateTime<Utc>, salt: u64) -> u64 {
        fnv1a(&[
            &now.timestamp_millis().to_le_bytes(),
            &(self.cases.len() as u64).to_le_bytes(),
            &salt.to_le_bytes(),
        ])
    }
}

/// Answer one Support call.
pub(super) async fn handle(
    shared: &Shared,
    headers: &HeaderMap,
    body: Bytes,
    gzipped: bool,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(operation) = target
        .strip_prefix(SUPPORT)
        .and_then(|op| op.strip_prefix('.'))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("the AWS fake does not serve the target \"{target}\" at /"),
        );
    };
    let input: Json = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
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
    {
        let mut st = shared.state();
        st.calls.push(FakeCall {
            service: SUPPORT.to_string(),
            operation: operation.to_string(),
            region: super::signing_region(headers),
            gzipped,
        });
        if st.subscription_required {
            return error(
                StatusCode::BAD_REQUEST,
                "SubscriptionRequiredException",
                "AWS Premium Support Subscription is required to use this service.",
            );
        }
        if let Some(code) = st.support.take_failure(operation) {
            let status = if code == "InternalServerError" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            return error(status, &code, "injected by the AWS fake");
        }
    }
    match (operation, &shared.backend) {
        ("DescribeCommunications", _) => describe_communications(shared, &input),
        ("AddCommunicationToCase", _) => add_communication(shared, &input),
        ("CreateCase", CloudWatchBackend::Moto(url)) => {
            moto_create_case(shared, url, headers, body, &input).await
        }
        ("DescribeCases", CloudWatchBackend::Moto(url)) => {
            moto_describe_cases(shared, url, headers, body, &input).await
        }
        ("ResolveCase", CloudWatchBackend::Moto(url)) => {
            moto_resolve_case(shared, url, headers, body, &input).await
        }
        (_, CloudWatchBackend::Moto(url)) => match forward(shared, url, headers, body).await {
            Ok((status, bytes)) => json_bytes(status, bytes),
            Err(resp) => resp,
        },
        ("CreateCase", CloudWatchBackend::InMemory) => create_case(shared, &input),
        ("DescribeCases", CloudWatchBackend::InMemory) => describe_cases(shared, &input),
        ("ResolveCase", CloudWatchBackend::InMemory) => resolve_case(shared, &input),
        (other, CloudWatchBackend::InMemory) => error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("the in-memory AWS Support does not implement {other}"),
        ),
    }
}

// --- the in-memory backend ----------------------------------------------------------------

fn create_case(shared: &Shared, input: &Json) -> Response {
    if let Some(missing) = ["subject", "communicationBody"]
        .into_iter()
        .find(|k| text(input, k).is_none_or(|v| v.is_empty()))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            &format!("{missing} is required"),
        );
    }
    let now = shared.clock.now();
    let mut st = shared.state();
    let id = st.support.new_case_id(now);
    let case = st.support.open(id, input, now);
    ok(&json!({ "caseId": case.case.case_id }))
}

fn describe_cases(shared: &Shared, input: &Json) -> Response {
    let st = shared.state();
    let ids = strings(input, "caseIdList");
    if let Some(unknown) = ids.iter().find(|id| st.support.case(id).is_none()) {
        return case_not_found(unknown);
    }
    let window = match Window::from(input) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, "ValidationException", &e),
    };
    let include_resolved = flag(input, "includeResolvedCases", false);
    let include_messages = flag(input, "includeCommunications", true);
    let display_id = text(input, "displayId");
    let cases: Vec<Json> = st
        .support
        .cases
        .iter()
        .filter(|c| ids.is_empty() || ids.contains(&c.case.case_id))
        .filter(|c| display_id.is_none() || c.case.display_id == display_id)
        .filter(|c| include_resolved || c.case.status != "resolved")
        .filter(|c| window.holds(c.created_at))
        .map(|c| case_json(c, include_messages))
        .collect();
    let (page, next) = page(cases, input, 100);
    let mut out = json!({ "cases": page });
    if let Some(next) = next {
        out["nextToken"] = next.into();
    }
    ok(&out)
}

fn resolve_case(shared: &Shared, input: &Json) -> Response {
    let id = text(input, "caseId").unwrap_or_default();
    let mut st = shared.state();
    let Some(case) = st.support.case_mut(&id) else {
        return case_not_found(&id);
    };
    let initial = std::mem::replace(&mut case.case.status, "resolved".to_string());
    ok(&json!({ "initialCaseStatus": initial, "finalCaseStatus": "resolved" }))
}

// --- both backends ------------------------------------------------------------------------

fn describe_communications(shared: &Shared, input: &Json) -> Response {
    let id = text(input, "caseId").unwrap_or_default();
    let st = shared.state();
    let Some(case) = st.support.case(&id) else {
        return case_not_found(&id);
    };
    let window = match Window::from(input) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, "ValidationException", &e),
    };
    let messages: Vec<Json> = newest_first(case)
        .filter(|m| window.holds(m.at))
        .map(|m| message_json(&case.case.case_id, m))
        .collect();
    let (page, next) = page(messages, input, DEFAULT_PAGE);
    let mut out = json!({ "communications": page });
    if let Some(next) = next {
        out["nextToken"] = next.into();
    }
    ok(&out)
}

fn add_communication(shared: &Shared, input: &Json) -> Response {
    let id = text(input, "caseId").unwrap_or_default();
    let body = text(input, "communicationBody").unwrap_or_default();
    let now = shared.clock.now();
    let mut st = shared.state();
    let Some(case) = st.support.case_mut(&id) else {
        return case_not_found(&id);
    };
    if body.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "communicationBody is required",
        );
    }
    case.messages.push(Message {
        body: body.clone(),
        submitted_by: customer(),
        at: now,
        attachments: Vec::new(),
    });
    case.sent.push(body);
    ok(&json!({ "result": true }))
}

// --- moto -----------------------------------------------------------------------------------

/// Forward the call to moto, or the error answer to give when moto cannot be reached.
async fn forward(
    shared: &Shared,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Bytes), Response> {
    moto::forward_json11(&shared.http, url, headers, body)
        .await
        .map_err(|e| {
            error(
                StatusCode::BAD_GATEWAY,
                "InternalServerError",
                &format!("moto did not answer: {e:#}"),
            )
        })
}

/// moto's success answer as JSON, or the answer to pass on as it is.
async fn forward_ok(
    shared: &Shared,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Json, Response> {
    let (status, bytes) = forward(shared, url, headers, body).await?;
    if !status.is_success() {
        return Err(json_bytes(status, bytes));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_GATEWAY,
            "InternalServerError",
            &format!("moto's answer is not JSON: {e}"),
        )
    })
}

async fn moto_create_case(
    shared: &Shared,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
    input: &Json,
) -> Response {
    let out = match forward_ok(shared, url, headers, body).await {
        Ok(out) => out,
        Err(resp) => return resp,
    };
    match text(&out, "caseId") {
        Some(id) => {
            let now = shared.clock.now();
            shared.state().support.open(id, input, now);
        }
        None => tracing::warn!(answer = %out, "moto's CreateCase answer has no caseId"),
    }
    ok(&out)
}

/// DescribeCases through moto, corrected where moto departs from AWS:
/// - an unknown case id makes moto fail with a 500 (a KeyError); AWS says CaseIdNotFound;
/// - moto steps every described case's severity to the next one (low → normal → … →
///   critical → low) on each call, which AWS never does: the severity given at CreateCase
///   is put back;
/// - status: moto's cases are pinned at `opened` (see `moto::pin_support_case_status`),
///   and moto's ResolveCase does not resolve anything, so the front's status is put in and
///   `includeResolvedCases` applied here;
/// - moto gives every case the displayId `foo_display_id` and fake recent communications:
///   the front's are put in;
/// - moto ignores `displayId`, `afterTime` and `beforeTime`: they are applied here.
async fn moto_describe_cases(
    shared: &Shared,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
    input: &Json,
) -> Response {
    let ids = strings(input, "caseIdList");
    {
        let st = shared.state();
        if let Some(unknown) = ids.iter().find(|id| st.support.case(id).is_none()) {
            return case_not_found(unknown);
        }
    }
    let window = match Window::from(input) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, "ValidationException", &e),
    };
    let mut out = match forward_ok(shared, url, headers, body).await {
        Ok(out) => out,
        Err(resp) => return resp,
    };
    let include_resolved = flag(input, "includeResolvedCases", false);
    let include_messages = flag(input, "includeCommunications", true);
    let display_id = text(input, "displayId");
    let st = shared.state();
    let cases: Vec<Json> = out
        .get("cases")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|mut c| {
            let Some(known) = c
                .get("caseId")
                .and_then(Json::as_str)
                .and_then(|id| st.support.case(id))
            else {
                // Not created through the front: moto's answer as it is.
                return Some(c);
            };
            if !include_resolved && known.case.status == "resolved" {
                return None;
            }
            if display_id.is_some() && known.case.display_id != display_id {
                return None;
            }
            if !window.holds(known.created_at) {
                return None;
            }
            let ours = case_json(known, include_messages);
            for key in [
                "status",
                "severityCode",
                "displayId",
                "recentCommunications",
            ] {
                match ours.get(key) {
                    Some(v) => c[key] = v.clone(),
                    None => {
                        if let Some(obj) = c.as_object_mut() {
                            obj.remove(key);
                        }
                    }
                }
            }
            Some(c)
        })
        .collect();
    out["cases"] = Json::Array(cases);
    if out.get("nextToken").is_some_and(Json::is_null) {
        if let Some(obj) = out.as_object_mut() {
            obj.remove("nextToken");
        }
    }
    ok(&out)
}

/// ResolveCase through moto: moto answers but leaves the case as it was, so the front
/// records the resolution (and says what the status was before, which moto cannot).
async fn moto_resolve_case(
    shared: &Shared,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
    input: &Json,
) -> Response {
    let id = text(input, "caseId").unwrap_or_default();
    if shared.state().support.case(&id).is_none() {
        // moto would fail with a 500 (a KeyError).
        return case_not_found(&id);
    }
    let mut out = match forward_ok(shared, url, headers, body).await {
        Ok(out) => out,
        Err(resp) => return resp,
    };
    let mut st = shared.state();
    if let Some(case) = st.support.case_mut(&id) {
        let initial = std::mem::replace(&mut case.case.status, "resolved".to_string());
        out["initialCaseStatus"] = initial.into();
        out["finalCaseStatus"] = "resolved".into();
    }
    ok(&out)
}

// --- shapes ---------------------------------------------------------------------------------

/// `afterTime` and `beforeTime`, both inclusive.
struct Window {
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
}

impl Window {
    /// The window, or the ValidationException to answer.
    fn from(input: &Json) -> Result<Window, String> {
        let bound = |key: &str| match text(input, key) {
            None => Ok(None),
            Some(t) => parse_time(&t)
                .map(Some)
                .ok_or_else(|| format!("{key} is not an ISO 8601 time: {t}")),
        };
        Ok(Window {
            after: bound("afterTime")?,
            before: bound("beforeTime")?,
        })
    }

    fn holds(&self, t: DateTime<Utc>) -> bool {
        self.after.is_none_or(|a| t >= a) && self.before.is_none_or(|b| t <= b)
    }
}

fn newest_first(case: &Case) -> impl Iterator<Item = &Message> {
    let mut order: Vec<(usize, &Message)> = case.messages.iter().enumerate().collect();
    // Newest first; of two at the same instant, the later added first.
    order.sort_by(|(i, a), (j, b)| b.at.cmp(&a.at).then(j.cmp(i)));
    order.into_iter().map(|(_, m)| m)
}

fn case_json(case: &Case, include_messages: bool) -> Json {
    let c = &case.case;
    let mut out = json!({
        "caseId": c.case_id,
        "displayId": c.display_id,
        "subject": c.subject,
        "status": c.status,
        "serviceCode": c.service_code,
        "categoryCode": c.category_code,
        "severityCode": c.severity,
        "submittedBy": customer(),
        "timeCreated": iso(case.created_at),
        "ccEmailAddresses": c.cc,
        "language": "en",
    });
    if include_messages {
        let recent: Vec<Json> = newest_first(case)
            .take(RECENT)
            .map(|m| message_json(&c.case_id, m))
            .collect();
        let mut recent = json!({ "communications": recent });
        if case.messages.len() > RECENT {
            recent["nextToken"] = RECENT.to_string().into();
        }
        out["recentCommunications"] = recent;
    }
    out
}

fn message_json(case_id: &str, m: &Message) -> Json {
    json!({
        "caseId": case_id,
        "body": m.body,
        "submittedBy": m.submitted_by,
        "timeCreated": iso(m.at),
        "attachmentSet": m.attachments.iter().enumerate().map(|(i, name)| json!({
            "attachmentId": format!("attachment-{i}"),
            "fileName": name,
        })).collect::<Vec<_>>(),
    })
}

/// One page of `items` by `maxResults` (10 to 100, as AWS allows) and an offset `nextToken`.
fn page(items: Vec<Json>, input: &Json, default: usize) -> (Vec<Json>, Option<String>) {
    let size = input
        .get("maxResults")
        .and_then(Json::as_u64)
        .map(|n| n.clamp(10, 100) as usize)
        .unwrap_or(default);
    let start: usize = text(input, "nextToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let next = (start + size < items.len()).then(|| (start + size).to_string());
    (items.into_iter().skip(start).take(size).collect(), next)
}

fn text(v: &Json, key: &str) -> Option<String> {
    v.get(key).and_then(Json::as_str).map(str::to_string)
}

fn strings(v: &Json, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn flag(v: &Json, key: &str, default: bool) -> bool {
    v.get(key).and_then(Json::as_bool).unwrap_or(default)
}

/// ISO 8601 in UTC with milliseconds, as AWS writes Support times.
fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// ISO 8601 with a zone, or without one (taken as UTC).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

pub(super) fn ok(body: &Json) -> Response {
    json_bytes(StatusCode::OK, Bytes::from(body.to_string()))
}

fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

/// A JSON 1.1 error: `{"__type": code, "message": …}`.
pub(super) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "__type": code, "message": message });
    json_bytes(status, Bytes::from(body.to_string()))
}

fn case_not_found(id: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "CaseIdNotFound",
        &format!("Case ID {id} does not exist"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{AwsFake, MotoServer};
    use super::*;
    use aws_sdk_support::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_support::error::ProvideErrorMetadata;

    fn client(fake: &AwsFake) -> aws_sdk_support::Client {
        let conf = aws_sdk_support::Config::builder()
            .http_client(crate::aws::https_client())
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(fake.endpoint_url())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build();
        aws_sdk_support::Client::from_conf(conf)
    }

    /// A raw JSON 1.1 call, to see the wire answer the SDK would hide.
    async fn raw(fake: &AwsFake, operation: &str, body: Json) -> (u16, Json) {
        let resp = reqwest::Client::new()
            .post(format!("{}/", fake.endpoint_url()))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("{SUPPORT}.{operation}"))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert_eq!(
            resp.headers()["content-type"],
            "application/x-amz-json-1.1",
            "{operation}"
        );
        (status, resp.json().await.unwrap())
    }

    #[tokio::test]
    async fn errors_have_aws_json_shape_and_status() {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        let (status, body) = raw(
            &fake,
            "DescribeCommunications",
            json!({"caseId": "case-nope"}),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["__type"], "CaseIdNotFound");
        assert!(body["message"].as_str().unwrap().contains("case-nope"));

        let (_, created) = raw(
            &fake,
            "CreateCase",
            json!({"subject": "s", "communicationBody": "b"}),
        )
        .await;
        let id = created["caseId"].as_str().unwrap().to_string();
        fake.fail_support("ResolveCase", "InternalServerError", 1);
        let (status, body) = raw(&fake, "ResolveCase", json!({"caseId": id})).await;
        assert_eq!(
            (status, body["__type"].as_str()),
            (500, Some("InternalServerError"))
        );
        fake.fail_support("AddCommunicationToCase", "ThrottlingException", 1);
        let (status, _) = raw(
            &fake,
            "AddCommunicationToCase",
            json!({"caseId": id, "communicationBody": "x"}),
        )
        .await;
        assert_eq!(status, 400);
        let (status, body) = raw(&fake, "ResolveCase", json!({"caseId": id})).await;
        assert_eq!(status, 200, "one failure only: {body}");
        assert_eq!(body["initialCaseStatus"], "opened");

        fake.require_subscription(true);
        let (status, body) = raw(&fake, "DescribeCases", json!({})).await;
        assert_eq!(
            (status, body["__type"].as_str()),
            (400, Some("SubscriptionRequiredException"))
        );
        assert_eq!(fake.call_count("DescribeCases"), 1, "calls are recorded");
    }

    #[tokio::test]
    async fn communications_page_newest_first_within_the_window() {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        let (_, created) = raw(
            &fake,
            "CreateCase",
            json!({"subject": "s", "communicationBody": "opening"}),
        )
        .await;
        let id = created["caseId"].as_str().unwrap().to_string();
        let t0 = Utc::now() + chrono::Duration::hours(1);
        for i in 0..12 {
            fake.add_support_reply(
                &id,
                &format!("r{i}"),
                t0 + chrono::Duration::minutes(i),
                &[],
            );
        }
        let (_, first) = raw(&fake, "DescribeCommunications", json!({"caseId": id})).await;
        let bodies: Vec<&str> = first["communications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap())
            .collect();
        assert_eq!(bodies.len(), 10, "a page is 10 by default");
        assert_eq!(bodies[0], "r11", "newest first");
        let (_, second) = raw(
            &fake,
            "DescribeCommunications",
            json!({"caseId": id, "nextToken": first["nextToken"]}),
        )
        .await;
        let rest: Vec<&str> = second["communications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap())
            .collect();
        assert_eq!(rest, ["r1", "r0", "opening"]);
        assert!(second.get("nextToken").is_none());

        let after = iso(t0 + chrono::Duration::minutes(10));
        let (_, late) = raw(
            &fake,
            "DescribeCommunications",
            json!({"caseId": id, "afterTime": after}),
        )
        .await;
        assert_eq!(late["communications"].as_array().unwrap().len(), 2);
        assert_eq!(late["communications"][1]["timeCreated"], after);
    }

    #[tokio::test]
    async fn cases_and_messages_carry_the_time_of_the_clock_the_fake_is_given() {
        use crate::clock::ManualClock;
        let t0 = DateTime::parse_from_rfc3339("2026-11-20T13:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = ManualClock::new(t0);
        let fake = AwsFake::start_with_clock(
            CloudWatchBackend::InMemory,
            std::sync::Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        let (_, created) = raw(
            &fake,
            "CreateCase",
            json!({"subject": "s", "communicationBody": "opening"}),
        )
        .await;
        let id = created["caseId"].as_str().unwrap().to_string();
        assert!(id.contains("-2026-"), "{id}");
        clock.advance(chrono::Duration::minutes(31));
        let (status, _) = raw(
            &fake,
            "AddCommunicationToCase",
            json!({"caseId": id, "communicationBody": "more"}),
        )
        .await;
        assert_eq!(status, 200);
        let (_, listed) = raw(&fake, "DescribeCommunications", json!({"caseId": id})).await;
        let times: Vec<(&str, &str)> = listed["communications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["body"].as_str().unwrap(),
                    c["timeCreated"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            times,
            [
                ("more", "2026-11-20T13:31:00.000Z"),
                ("opening", "2026-11-20T13:00:00.000Z")
            ],
            "the moved clock's times, not the wall clock's"
        );
        let (_, cases) = raw(&fake, "DescribeCases", json!({"caseIdList": [id]})).await;
        assert_eq!(cases["cases"][0]["timeCreated"], "2026-11-20T13:00:00.000Z");

        // Ids come from the clock and the cases so far: the same run gives the same ids,
        // and two cases never share one.
        let again = AwsFake::start_with_clock(
            CloudWatchBackend::InMemory,
            std::sync::Arc::new(ManualClock::new(t0)),
        )
        .await
        .unwrap();
        let (_, same) = raw(
            &again,
            "CreateCase",
            json!({"subject": "s", "communicationBody": "opening"}),
        )
        .await;
        assert_eq!(same["caseId"].as_str(), Some(id.as_str()));
        assert_eq!(
            again.support_cases()[0].display_id,
            fake.support_cases()[0].display_id
        );
        let (_, second) = raw(
            &again,
            "CreateCase",
            json!({"subject": "t", "communicationBody": "opening"}),
        )
        .await;
        assert_ne!(second["caseId"].as_str(), Some(id.as_str()));
        let shown: Vec<String> = again
            .support_cases()
            .into_iter()
            .map(|c| c.display_id.unwrap())
            .collect();
        assert_ne!(shown[0], shown[1]);
        assert!(shown
            .iter()
            .all(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit())));
    }

    #[tokio::test]
    async fn moto_cases_keep_their_status_and_severity_and_resolved_ones_can_be_hidden() {
        let moto = MotoServer::start().await.expect("moto_server starts");
        let fake = AwsFake::start(CloudWatchBackend::Moto(moto.url().to_string()))
            .await
            .unwrap();
        let support = client(&fake);
        let mut ids = Vec::new();
        for (subject, severity) in [("one", "high"), ("two", "low")] {
            let out = support
                .create_case()
                .subject(subject)
                .severity_code(severity)
                .communication_body("help")
                .send()
                .await
                .unwrap();
            ids.push(out.case_id().unwrap().to_string());
        }
        for _ in 0..7 {
            let out = support.describe_cases().send().await.unwrap();
            let seen: Vec<(&str, &str, &str)> = out
                .cases()
                .iter()
                .map(|c| {
                    (
                        c.subject().unwrap(),
                        c.status().unwrap(),
                        c.severity_code().unwrap(),
                    )
                })
                .collect();
            assert_eq!(seen, [("one", "opened", "high"), ("two", "opened", "low")]);
            let recent = out.cases()[0].recent_communications().unwrap();
            assert_eq!(recent.communications()[0].body(), Some("help"));
        }
        let resolved = support
            .resolve_case()
            .case_id(&ids[0])
            .send()
            .await
            .unwrap();
        assert_eq!(resolved.initial_case_status(), Some("opened"));
        let open = support.describe_cases().send().await.unwrap();
        assert_eq!(
            open.cases().len(),
            1,
            "resolved cases are hidden by default"
        );
        assert_eq!(open.cases()[0].case_id(), Some(ids[1].as_str()));
        let all = support
            .describe_cases()
            .include_resolved_cases(true)
            .send()
            .await
            .unwrap();
        assert_eq!(all.cases()[0].status(), Some("resolved"));
        let display = all.cases()[0].display_id().unwrap();
        assert!(display.len() == 10 && display.bytes().all(|b| b.is_ascii_digit()));

        let err = support
            .resolve_case()
            .case_id("case-unknown")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("CaseIdNotFound"), "not moto's KeyError");
    }
}
