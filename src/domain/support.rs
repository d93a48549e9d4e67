//! AWS Support cases in warroom's terms: the severity scale AWS uses, what a new case asks
//! for, and what AWS says back. The AWS adapter translates these to and from the Support API;
//! the service decides when to open a case and what to mirror.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::incident::IncidentId;

/// AWS Support's severity codes, least to most urgent. Which ones an account may use
/// depends on its plan (critical needs Enterprise).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum SupportSeverity {
    Low,
    Normal,
    High,
    Urgent,
    Critical,
}

impl SupportSeverity {
    pub const ALL: [SupportSeverity; 5] = [
        SupportSeverity::Low,
        SupportSeverity::Normal,
        SupportSeverity::High,
        SupportSeverity::Urgent,
        SupportSeverity::Critical,
    ];

    /// The API's `severityCode`.
    pub fn code(self) -> &'static str {
        match self {
            SupportSeverity::Low => "low",
            SupportSeverity::Normal => "normal",
            SupportSeverity::High => "high",
            SupportSeverity::Urgent => "urgent",
            SupportSeverity::Critical => "critical",
        }
    }

    /// How AWS's console names the level (shown next to the code).
    pub fn meaning(self) -> &'static str {
        match self {
            SupportSeverity::Low => "general guidance",
            SupportSeverity::Normal => "system impaired",
            SupportSeverity::High => "production system impaired",
            SupportSeverity::Urgent => "production system down",
            SupportSeverity::Critical => "business-critical system down",
        }
    }
}

impl FromStr for SupportSeverity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        SupportSeverity::ALL
            .into_iter()
            .find(|v| v.code() == lower)
            .ok_or_else(|| {
                format!(
                    "unknown AWS Support severity \"{}\": use low, normal, high, urgent or critical",
                    s.trim()
                )
            })
    }
}

impl fmt::Display for SupportSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What `CreateCase` is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRequest {
    pub subject: String,
    pub severity: SupportSeverity,
    /// `serviceCode` (from DescribeServices); AWS picks a default when absent.
    pub service_code: Option<String>,
    pub category_code: Option<String>,
    /// Plain text, at most [`MAX_CASE_BODY_CHARS`].
    pub body: String,
    /// `ccEmailAddresses`.
    pub cc: Vec<String>,
}

/// The Support API's limit on `communicationBody`.
pub const MAX_CASE_BODY_CHARS: usize = 8000;
/// The Support API's limit on `subject`.
pub const MAX_CASE_SUBJECT_CHARS: usize = 250;

/// A case as `DescribeCases` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseInfo {
    pub case_id: String,
    /// The number shown in the Support Center.
    pub display_id: Option<String>,
    /// `opened`, `pending-customer-action`, `reopened`, `resolved`, `unassigned`,
    /// `work-in-progress`.
    pub status: String,
    pub severity: Option<String>,
    pub subject: Option<String>,
}

impl CaseInfo {
    pub fn is_resolved(&self) -> bool {
        self.status == "resolved"
    }
}

/// Who AWS names as the author of its own replies (`submittedBy`).
pub const AWS_AUTHOR: &str = "Amazon Web Services";

/// One message on a case, from AWS or from the customer side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Communication {
    pub case_id: String,
    pub body: String,
    /// `Amazon Web Services` for AWS's replies; an email or IAM ARN otherwise.
    pub submitted_by: String,
    pub time_created: DateTime<Utc>,
    /// File names of attachments (their content is not fetched).
    pub attachments: Vec<String>,
}

impl Communication {
    /// Whether AWS (not the customer) wrote it.
    pub fn from_aws(&self) -> bool {
        self.submitted_by
            .to_ascii_lowercase()
            .contains(&AWS_AUTHOR.to_ascii_lowercase())
    }

    /// A stable identity for "seen already": the API gives communications no id, so the
    /// case, the time and a digest of author and body stand in for one.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{:016x}",
            self.case_id,
            self.time_created.timestamp_millis(),
            fnv1a(&[self.submitted_by.as_bytes(), b"\0", self.body.as_bytes()])
        )
    }
}

/// FNV-1a, 64 bit: stable across Rust versions (unlike `DefaultHasher`), so keys written
/// by one build are recognised by the next.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The Support Center page of a case.
pub fn console_url(case_id: &str, display_id: Option<&str>) -> String {
    match display_id {
        Some(d) if d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => format!(
            "https://support.console.aws.amazon.com/support/home#/case/?displayId={d}&language=en"
        ),
        _ => {
            let safe: String = case_id
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            format!("https://support.console.aws.amazon.com/support/home#/case/?caseId={safe}")
        }
    }
}

/// Where to open a case by hand, or call/chat, when the API cannot be used.
pub const SUPPORT_CENTER_URL: &str =
    "https://support.console.aws.amazon.com/support/home#/case/create";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_from_their_codes_only() {
        for s in SupportSeverity::ALL {
            assert_eq!(s.code().parse::<SupportSeverity>(), Ok(s));
            assert_eq!(s.code().to_uppercase().parse::<SupportSeverity>(), Ok(s));
        }
        let err = "sev1".parse::<SupportSeverity>().unwrap_err();
        assert!(
            err.contains("low, normal, high, urgent or critical"),
            "{err}"
        );
        assert!(SupportSeverity::Low < SupportSeverity::Critical);
    }

    #[test]
    fn aws_replies_are_told_from_customer_messages() {
        let mut c = Communication {
            case_id: "case-1".into(),
            body: "We are looking into it".into(),
            submitted_by: "Amazon Web Services".into(),
            time_created: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
            attachments: vec![],
        };
        assert!(c.from_aws());
        let aws_key = c.key();
        c.submitted_by = "arn:aws:iam::123456789012:user/warroom".into();
        assert!(!c.from_aws());
        assert_ne!(c.key(), aws_key, "author is part of the identity");
        assert_eq!(c.key(), c.clone().key(), "stable");
    }

    #[test]
    fn console_links_cannot_be_bent_into_other_links() {
        assert!(
            console_url("case-1", Some("1234567890")).ends_with("displayId=1234567890&language=en")
        );
        let odd = console_url("case-1|<!channel>", Some("x|y"));
        assert!(!odd.contains('|') && !odd.contains('<'), "{odd}");
        assert!(odd.ends_with("caseId=case-1channel"));
    }
}

/// An AWS Support case as warroom recorded it (the row is written before CreateCase is
/// called, so `case_id` is `None` until AWS answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportCase {
    /// The row id (stable even before AWS gave a case id).
    pub row: i64,
    pub incident_id: IncidentId,
    pub source_key: String,
    pub case_id: Option<String>,
    pub display_id: Option<String>,
    pub subject: String,
    pub severity: SupportSeverity,
    pub body: String,
    pub service_code: Option<String>,
    pub category_code: Option<String>,
    /// CreateCase attempts that failed and may be retried.
    pub attempts: i64,
    /// `requested`, `failed`, or AWS's status.
    pub status: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl SupportCase {
    /// Open at AWS: created and not resolved.
    pub fn is_open(&self) -> bool {
        self.case_id.is_some() && self.resolved_at.is_none()
    }
}

/// Where an open incident's AWS Support case stands, at a glance: what managers and
/// `/incident list` show beside the incident (AWS going quiet was one of the costly
/// blind spots in the reference write-ups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseGlance {
    /// The number AWS shows people (the case id when AWS gave none).
    pub display_id: String,
    pub severity: SupportSeverity,
    pub resolved: bool,
    /// Since when a customer message has waited for AWS; `None` when AWS answered last.
    pub awaiting_aws_since: Option<DateTime<Utc>>,
}

/// One message on a case, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseCorrespondence {
    pub from_aws: bool,
    pub submitted_by: String,
    pub body: String,
    pub at: DateTime<Utc>,
    /// Sent through warroom (the opening or `/incident aws reply`), not read back from AWS.
    pub sent_by_warroom: bool,
    /// The description warroom opened the case with.
    pub opening: bool,
}
