//! AWS Support cases: CreateCase, DescribeCases, DescribeCommunications (every page),
//! AddCommunicationToCase and ResolveCase, in warroom's terms ([`CaseRequest`], [`CaseInfo`],
//! [`Communication`]).
//!
//! The Support API is served from us-east-1 only and speaks JSON 1.1. It needs a Business,
//! Enterprise On-Ramp or Enterprise support plan: other accounts get
//! `SubscriptionRequiredException` on every call. Its timestamps are ISO 8601 strings, not
//! epoch numbers, in more than one shape, so they are parsed leniently here.

use aws_sdk_support::types::{AttachmentDetails, CaseDetails};
use aws_sdk_support::Client;
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

use super::{sdk_error, AwsError};
use crate::domain::support::{CaseInfo, CaseRequest, Communication};

/// The language warroom writes cases in (the API accepts a few; English everywhere).
const LANGUAGE: &str = "en";
/// `issueType` for cases about AWS services (the other is `customer-service`).
const ISSUE_TYPE: &str = "technical";
/// The AWS error code for a case id the account does not have.
const CASE_ID_NOT_FOUND: &str = "CaseIdNotFound";

pub(super) async fn create_case(client: &Client, req: &CaseRequest) -> Result<String, AwsError> {
    let out = client
        .create_case()
        .subject(&req.subject)
        .severity_code(req.severity.code())
        .set_service_code(req.service_code.clone())
        .set_category_code(req.category_code.clone())
        .communication_body(&req.body)
        .set_cc_email_addresses((!req.cc.is_empty()).then(|| req.cc.clone()))
        .language(LANGUAGE)
        .issue_type(ISSUE_TYPE)
        .send()
        .await
        .map_err(|e| sdk_error("CreateCase", e))?;
    out.case_id()
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| AwsError::Transport {
            operation: "CreateCase",
            detail: "the answer has no caseId".to_string(),
        })
}

pub(super) async fn describe_case(
    client: &Client,
    case_id: &str,
) -> Result<Option<CaseInfo>, AwsError> {
    let result = client
        .describe_cases()
        .case_id_list(case_id)
        .include_resolved_cases(true)
        .include_communications(false)
        .send()
        .await;
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            let err = sdk_error("DescribeCases", e);
            if err.code() == Some(CASE_ID_NOT_FOUND) {
                return Ok(None);
            }
            return Err(err);
        }
    };
    let cases = out.cases();
    // Asked for one id; prefer the matching entry should AWS ever answer with more.
    let Some(case) = cases
        .iter()
        .find(|c| c.case_id() == Some(case_id))
        .or_else(|| cases.first())
    else {
        return Ok(None);
    };
    Ok(Some(case_info(case, case_id)))
}

pub(super) async fn case_with_subject(
    client: &Client,
    subject: &str,
    since: DateTime<Utc>,
) -> Result<Option<CaseInfo>, AwsError> {
    let mut pages = client
        .describe_cases()
        .after_time(iso8601(since))
        .include_resolved_cases(true)
        .include_communications(false)
        .into_paginator()
        .send();
    let mut newest: Option<(Option<DateTime<Utc>>, CaseInfo)> = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("DescribeCases", e))?;
        for case in page.cases() {
            let (Some(id), Some(subject_seen)) = (case.case_id(), case.subject()) else {
                continue;
            };
            if subject_seen != subject {
                continue;
            }
            let created = case.time_created().and_then(parse_time);
            if newest.as_ref().is_some_and(|(t, _)| *t >= created) {
                continue;
            }
            newest = Some((created, case_info(case, id)));
        }
    }
    Ok(newest.map(|(_, info)| info))
}

fn case_info(case: &CaseDetails, case_id: &str) -> CaseInfo {
    CaseInfo {
        case_id: case.case_id().unwrap_or(case_id).to_string(),
        display_id: case.display_id().map(str::to_string),
        status: case.status().unwrap_or("unknown").to_string(),
        severity: case.severity_code().map(str::to_string),
        subject: case.subject().map(str::to_string),
    }
}

pub(super) async fn communications(
    client: &Client,
    case_id: &str,
    after: Option<DateTime<Utc>>,
) -> Result<Vec<Communication>, AwsError> {
    let mut pages = client
        .describe_communications()
        .case_id(case_id)
        .set_after_time(after.map(iso8601))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("DescribeCommunications", e))?;
        for c in page.communications() {
            let time_created = match c.time_created().and_then(parse_time) {
                Some(t) => t,
                None => {
                    // Keep the message: a fixed fallback keeps its `key()` stable across
                    // polls, and its place in the list comes from AWS's order, not the time.
                    tracing::debug!(
                        case_id,
                        time_created = ?c.time_created(),
                        "a case communication has an unreadable timeCreated; using the epoch"
                    );
                    DateTime::<Utc>::UNIX_EPOCH
                }
            };
            out.push(Communication {
                case_id: c.case_id().unwrap_or(case_id).to_string(),
                body: c.body().unwrap_or_default().to_string(),
                submitted_by: c.submitted_by().unwrap_or_default().to_string(),
                time_created,
                attachments: attachment_names(c.attachments(), c.attachment_set()),
            });
        }
    }
    // AWS lists newest first, page after page; warroom reads a case oldest first.
    out.reverse();
    Ok(out)
}

/// File names from `attachments` (every attachment, newer API) or else `attachmentSet`
/// (those up to 5 MB): the first is a superset of the second when AWS sends both.
fn attachment_names(all: &[AttachmentDetails], small: &[AttachmentDetails]) -> Vec<String> {
    let list = if all.is_empty() { small } else { all };
    list.iter()
        .filter_map(|a| a.file_name())
        .map(str::to_string)
        .collect()
}

pub(super) async fn add_communication(
    client: &Client,
    case_id: &str,
    body: &str,
    cc: &[String],
) -> Result<(), AwsError> {
    let out = client
        .add_communication_to_case()
        .case_id(case_id)
        .communication_body(body)
        .set_cc_email_addresses((!cc.is_empty()).then(|| cc.to_vec()))
        .send()
        .await
        .map_err(|e| sdk_error("AddCommunicationToCase", e))?;
    if out.result() {
        Ok(())
    } else {
        Err(AwsError::Transport {
            operation: "AddCommunicationToCase",
            detail: "AWS answered result=false: the communication was not added".to_string(),
        })
    }
}

pub(super) async fn resolve_case(client: &Client, case_id: &str) -> Result<String, AwsError> {
    let out = client
        .resolve_case()
        .case_id(case_id)
        .send()
        .await
        .map_err(|e| sdk_error("ResolveCase", e))?;
    out.final_case_status()
        .map(str::to_string)
        .ok_or_else(|| AwsError::Transport {
            operation: "ResolveCase",
            detail: "the answer has no finalCaseStatus".to_string(),
        })
}

/// One small DescribeCases call: are the API, the credentials, the permission and the
/// support plan there? (AWS's smallest page is 10.)
pub(super) async fn reachable(client: &Client) -> Result<(), AwsError> {
    client
        .describe_cases()
        .max_results(10)
        .include_resolved_cases(false)
        .include_communications(false)
        .send()
        .await
        .map(drop)
        .map_err(|e| sdk_error("DescribeCases", e))
}

/// The API's time format: ISO 8601, UTC, milliseconds.
fn iso8601(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// ISO 8601 as AWS (and moto) write it: with `Z` or an offset (`+00:00`, `+0000`), with or
/// without fractional seconds; without any zone it is taken as UTC.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::{AwsFake, CloudWatchBackend, MotoServer};
    use crate::aws::{Aws, AwsAccess, SUPPORT_REGION};
    use crate::config::Config;
    use crate::domain::support::{SupportSeverity, AWS_AUTHOR};
    use chrono::{Duration, TimeZone};

    #[test]
    fn support_timestamps_parse_in_every_shape_aws_and_moto_write() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 15, 0)
            .single()
            .unwrap();
        let ms = t + Duration::milliseconds(123);
        assert_eq!(parse_time("2026-11-21T10:15:00.123Z"), Some(ms));
        assert_eq!(parse_time("2026-11-21T10:15:00Z"), Some(t));
        assert_eq!(parse_time("2026-11-21T11:15:00+01:00"), Some(t));
        assert_eq!(parse_time("2026-11-21T11:15:00.123+0100"), Some(ms));
        // moto: Python's naive isoformat(), microseconds, no zone.
        assert_eq!(
            parse_time("2026-11-21T10:15:00.123000"),
            Some(ms),
            "no zone means UTC"
        );
        assert_eq!(parse_time(" 2026-11-21 10:15:00 "), Some(t));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(iso8601(ms), "2026-11-21T10:15:00.123Z");
    }

    fn request(subject: &str, severity: SupportSeverity) -> CaseRequest {
        CaseRequest {
            subject: subject.to_string(),
            severity,
            service_code: Some("amazon-elastic-compute-cloud-linux".into()),
            category_code: Some("other".into()),
            body: "Checkout is down in eu-west-1 since 10:02 UTC".into(),
            cc: vec!["oncall@example.com".into()],
        }
    }

    /// `Aws` for alarms in eu-west-1, every client pointed at the fake.
    async fn aws(fake: &AwsFake) -> Aws {
        aws_at(&fake.endpoint_url()).await
    }

    async fn aws_at(endpoint_url: &str) -> Aws {
        let mut config = Config::default();
        config.aws.region = "eu-west-1".into();
        config.aws.endpoint_url = Some(endpoint_url.to_string());
        config.alarms.regions = vec!["eu-west-1".into()];
        let access = AwsAccess::Static {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        };
        Aws::connect(&config, &access).await
    }

    /// The whole life of a case, as warroom's escalation uses it.
    async fn a_case_round_trip(fake: &AwsFake) {
        let aws = aws(fake).await;
        let case_id = aws
            .create_case(&request("Checkout down", SupportSeverity::Urgent))
            .await
            .unwrap();
        assert!(case_id.starts_with("case-"), "{case_id}");
        let other = aws
            .create_case(&request("Checkout down in us-west-2", SupportSeverity::Low))
            .await
            .unwrap();

        // A lost CreateCase answer: the case is found again by its exact subject.
        let recently = Utc::now() - Duration::minutes(5);
        let found = aws
            .case_with_subject("Checkout down", recently)
            .await
            .unwrap()
            .expect("the case is found by subject");
        assert_eq!(found.case_id, case_id);
        assert_ne!(found.case_id, other);
        assert_eq!(
            aws.case_with_subject("Checkout down", Utc::now() + Duration::minutes(5))
                .await
                .unwrap(),
            None,
            "only cases created since then"
        );
        assert_eq!(
            aws.case_with_subject("Checkout", recently).await.unwrap(),
            None,
            "the whole subject must match"
        );

        for _ in 0..3 {
            let info = aws.describe_case(&case_id).await.unwrap().expect("known");
            assert_eq!(info.case_id, case_id);
            assert_eq!(info.status, "opened", "AWS does not move a case by itself");
            assert_eq!(info.severity.as_deref(), Some("urgent"));
            assert_eq!(info.subject.as_deref(), Some("Checkout down"));
            assert!(!info.is_resolved());
        }

        aws.add_communication(&case_id, "Error rate back to 2%", &[])
            .await
            .unwrap();
        assert_eq!(
            fake.support_replies_sent(&case_id),
            vec!["Error rate back to 2%".to_string()]
        );
        let reply_at = Utc::now() + Duration::seconds(30);
        fake.add_support_reply(
            &case_id,
            "We see elevated errors on one host",
            reply_at,
            &["trace.txt"],
        );

        let all = aws.communications(&case_id, None).await.unwrap();
        let bodies: Vec<&str> = all.iter().map(|c| c.body.as_str()).collect();
        assert_eq!(
            bodies,
            [
                "Checkout is down in eu-west-1 since 10:02 UTC",
                "Error rate back to 2%",
                "We see elevated errors on one host"
            ],
            "oldest first"
        );
        assert_eq!(
            all.iter().map(|c| c.from_aws()).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert_eq!(all[2].submitted_by, AWS_AUTHOR);
        assert_eq!(all[2].attachments, ["trace.txt"]);
        assert!(all[0].attachments.is_empty());
        assert_eq!(
            all[2].time_created.timestamp_millis(),
            reply_at.timestamp_millis()
        );
        assert!(all.iter().all(|c| c.case_id == case_id));

        let later = aws
            .communications(&case_id, Some(reply_at - Duration::seconds(1)))
            .await
            .unwrap();
        assert_eq!(later.len(), 1, "after filters: {later:?}");
        assert!(later[0].from_aws());

        assert_eq!(aws.resolve_case(&case_id).await.unwrap(), "resolved");
        let info = aws.describe_case(&case_id).await.unwrap().expect("known");
        assert!(info.is_resolved(), "{info:?}");
        let cases = fake.support_cases();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].case_id, case_id, "oldest first");
        assert_eq!(cases[0].status, "resolved");
        assert_eq!(cases[1].status, "opened");
        assert_eq!(cases[0].severity, "urgent");
        assert_eq!(cases[0].cc, ["oncall@example.com"]);

        let calls = fake.calls();
        let support: Vec<_> = calls
            .iter()
            .filter(|c| c.service == "AWSSupport_20130415")
            .collect();
        assert!(support.len() >= 7, "{calls:?}");
        assert!(
            support
                .iter()
                .all(|c| c.region.as_deref() == Some(SUPPORT_REGION)),
            "Support is called in us-east-1 whatever [aws] region says: {support:?}"
        );
    }

    #[tokio::test]
    async fn a_case_round_trip_through_moto() {
        let moto = MotoServer::start().await.expect("moto_server starts");
        let fake = AwsFake::start(CloudWatchBackend::Moto(moto.url().to_string()))
            .await
            .unwrap();
        a_case_round_trip(&fake).await;
    }

    #[tokio::test]
    async fn a_case_round_trip_in_memory() {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        a_case_round_trip(&fake).await;
        let case = &fake.support_cases()[0];
        assert!(case.case_id.starts_with("case-123456789012-muen-"));
        assert!(case
            .display_id
            .as_deref()
            .is_some_and(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit())));
    }

    #[tokio::test]
    async fn every_page_of_communications_is_read() {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        let aws = aws(&fake).await;
        let case_id = aws
            .create_case(&request("Long case", SupportSeverity::High))
            .await
            .unwrap();
        let start = Utc::now() + Duration::minutes(1);
        for i in 0..24 {
            fake.add_support_reply(
                &case_id,
                &format!("update {i}"),
                start + Duration::seconds(i),
                &[],
            );
        }
        let all = aws.communications(&case_id, None).await.unwrap();
        assert_eq!(all.len(), 25, "the opening message and 24 replies");
        assert_eq!(all[1].body, "update 0");
        assert_eq!(all[24].body, "update 23");
        assert!(
            fake.call_count("DescribeCommunications") >= 3,
            "pages of 10 were all fetched"
        );
    }

    #[tokio::test]
    async fn plan_throttling_and_unknown_cases_are_told_apart() {
        let moto = MotoServer::start().await.expect("moto_server starts");
        let fake = AwsFake::start(CloudWatchBackend::Moto(moto.url().to_string()))
            .await
            .unwrap();
        let aws = aws(&fake).await;

        fake.require_subscription(true);
        let err = aws
            .create_case(&request("No plan", SupportSeverity::Low))
            .await
            .unwrap_err();
        assert!(err.is_subscription_required(), "{err}");
        assert!(!err.is_retryable());
        assert!(aws
            .support_reachable()
            .await
            .unwrap_err()
            .is_subscription_required());
        fake.require_subscription(false);
        aws.support_reachable().await.unwrap();

        // More failures than the SDK's own retries absorb.
        fake.fail_support("CreateCase", "ThrottlingException", 100);
        let err = aws
            .create_case(&request("Busy", SupportSeverity::Low))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ThrottlingException"));
        assert!(err.is_retryable() && !err.is_subscription_required());
        fake.fail_support("CreateCase", "ThrottlingException", 0);
        assert!(fake.support_cases().is_empty(), "nothing was created");

        let err = aws
            .communications("case-123456789012-muen-2026-0000000000000000", None)
            .await
            .unwrap_err();
        match &err {
            AwsError::Service { code, .. } => assert_eq!(code, "CaseIdNotFound"),
            other => panic!("expected a service error, got {other:?}"),
        }
        assert!(!err.is_retryable());
        assert_eq!(
            aws.describe_case("case-123456789012-muen-2026-0000000000000000")
                .await
                .unwrap(),
            None,
            "an unknown case is an answer"
        );
    }

    #[tokio::test]
    async fn server_errors_and_dropped_connections_are_worth_retrying() {
        let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
        let aws = aws(&fake).await;
        let case_id = aws
            .create_case(&request("Flaky", SupportSeverity::Normal))
            .await
            .unwrap();
        fake.fail_support("ResolveCase", "InternalServerError", 100);
        let err = aws.resolve_case(&case_id).await.unwrap_err();
        assert_eq!(err.code(), Some("InternalServerError"));
        assert!(err.is_retryable());
        fake.fail_support("ResolveCase", "InternalServerError", 0);
        assert_eq!(fake.support_cases()[0].status, "opened");

        // Nothing listens on the discard port: no answer at all.
        let nowhere = aws_at("http://127.0.0.1:9").await;
        let err = nowhere.describe_case(&case_id).await.unwrap_err();
        assert!(matches!(err, AwsError::Transport { .. }), "{err:?}");
        assert!(err.is_retryable());
    }
}
