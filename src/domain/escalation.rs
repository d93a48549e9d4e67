//! When warroom nudges: the escalation policy as pure functions of what is known about an
//! incident.
//!
//! Teams lose hours diagnosing alone before asking AWS, then miss that AWS has gone quiet.
//! Three clocks run per open incident:
//! - **open a case**: the incident implicates AWS, no Support case was opened, and the
//!   per-severity target has passed;
//! - **AWS quiet**: a case is open and AWS has not answered the customer's latest message
//!   within the response target of the case severity;
//! - **stale update**: no stakeholder update for `update_every`.
//!
//! Each repeats until someone acts. A snooze silences all three until it ends.
//! Timers in the store are only hints to look again: when one fires, [`next_due`] is asked
//! afresh from the facts, so a snooze, a severity change or an opened case needs no timer to
//! be cancelled.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::support::SupportSeverity;
use super::Severity;

/// One of the three nudges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NudgeKind {
    OpenCase,
    AwsQuiet,
    StaleUpdate,
}

impl NudgeKind {
    pub const ALL: [NudgeKind; 3] = [
        NudgeKind::OpenCase,
        NudgeKind::AwsQuiet,
        NudgeKind::StaleUpdate,
    ];

    /// The name stored in timers and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            NudgeKind::OpenCase => "open_case",
            NudgeKind::AwsQuiet => "aws_quiet",
            NudgeKind::StaleUpdate => "stale_update",
        }
    }

    pub fn parse(s: &str) -> Option<NudgeKind> {
        NudgeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for NudgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The knobs, from `[escalation]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Time from opening to the first "open a case" nudge, per incident severity.
    pub support_after: BTreeMap<Severity, Duration>,
    pub renudge_every: Duration,
    /// `None`: no stale-update nudges.
    pub update_every: Option<Duration>,
    /// AWS's first-response target per case severity.
    pub response_targets: BTreeMap<SupportSeverity, Duration>,
}

impl Policy {
    pub fn support_after(&self, severity: Severity) -> Duration {
        self.support_after
            .get(&severity)
            .copied()
            .unwrap_or_else(|| Duration::minutes(30))
    }

    pub fn response_target(&self, severity: SupportSeverity) -> Duration {
        self.response_targets
            .get(&severity)
            .copied()
            .unwrap_or_else(|| Duration::hours(1))
    }
}

/// Whether people said AWS is involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Involvement {
    /// Nobody said: the evidence (an alarm, a Health event) decides.
    #[default]
    Unsaid,
    /// `/incident aws yes`.
    Yes,
    /// "Not an AWS issue" or `/incident aws no`.
    No,
}

/// The incident's Support case, as far as the clocks care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    pub opened_at: DateTime<Utc>,
    pub severity: SupportSeverity,
    pub resolved: bool,
    /// The earliest customer message (the opening counts) that AWS has not answered yet;
    /// `None` when AWS spoke last.
    pub awaiting_aws_since: Option<DateTime<Utc>>,
}

/// Everything the policy looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub opened_at: DateTime<Utc>,
    pub severity: Severity,
    pub resolved: bool,
    pub involvement: Involvement,
    /// Opened from a CloudWatch alarm, or AWS Health reported an event for it.
    pub aws_evidence: bool,
    pub snoozed_until: Option<DateTime<Utc>>,
    /// The latest case (a case opened and resolved still counts: no more "open one" nudges).
    pub case: Option<CaseFacts>,
    pub last_update_at: Option<DateTime<Utc>>,
    pub last_nudge: BTreeMap<NudgeKind, DateTime<Utc>>,
}

impl Facts {
    /// Whether the "open a case" clock runs at all.
    pub fn implicates_aws(&self) -> bool {
        match self.involvement {
            Involvement::Yes => true,
            Involvement::No => false,
            Involvement::Unsaid => self.aws_evidence,
        }
    }
}

/// When the `kind` nudge is next due, or `None` when it is not needed (now or until the
/// facts change).
pub fn next_due(policy: &Policy, facts: &Facts, kind: NudgeKind) -> Option<DateTime<Utc>> {
    if facts.resolved {
        return None;
    }
    let last = facts.last_nudge.get(&kind).copied();
    let due = match kind {
        NudgeKind::OpenCase => {
            if facts.case.is_some() || !facts.implicates_aws() {
                return None;
            }
            let first = facts.opened_at + policy.support_after(facts.severity);
            repeat_after(first, last, policy.renudge_every)
        }
        NudgeKind::AwsQuiet => {
            let case = facts.case.as_ref().filter(|c| !c.resolved)?;
            let since = case.awaiting_aws_since?;
            let first = since + policy.response_target(case.severity);
            // A nudge sent before the customer's latest message does not count for this wait.
            repeat_after(first, last.filter(|l| *l >= since), policy.renudge_every)
        }
        NudgeKind::StaleUpdate => {
            let every = policy.update_every?;
            let since = facts.last_update_at.unwrap_or(facts.opened_at);
            repeat_after(since + every, last.filter(|l| *l >= since), every)
        }
    };
    Some(match facts.snoozed_until {
        Some(until) if until > due => until,
        _ => due,
    })
}

/// The first deadline, or one repeat interval after the last nudge, whichever is later.
fn repeat_after(
    first: DateTime<Utc>,
    last: Option<DateTime<Utc>>,
    every: Duration,
) -> DateTime<Utc> {
    match last {
        Some(l) if l + every > first => l + every,
        _ => first,
    }
}

/// Whether the `kind` nudge should be posted at `now`.
pub fn is_due(policy: &Policy, facts: &Facts, kind: NudgeKind, now: DateTime<Utc>) -> bool {
    next_due(policy, facts, kind).is_some_and(|due| due <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(hm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-21T{hm}:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn policy() -> Policy {
        Policy {
            support_after: [
                (Severity::Sev1, Duration::minutes(15)),
                (Severity::Sev2, Duration::minutes(30)),
                (Severity::Sev3, Duration::hours(2)),
                (Severity::Sev4, Duration::hours(4)),
            ]
            .into(),
            renudge_every: Duration::minutes(15),
            update_every: Some(Duration::hours(1)),
            response_targets: [
                (SupportSeverity::Urgent, Duration::hours(1)),
                (SupportSeverity::Critical, Duration::minutes(15)),
            ]
            .into(),
        }
    }

    fn facts() -> Facts {
        Facts {
            opened_at: t("10:00"),
            severity: Severity::Sev2,
            resolved: false,
            involvement: Involvement::Unsaid,
            aws_evidence: true,
            snoozed_until: None,
            case: None,
            last_update_at: None,
            last_nudge: BTreeMap::new(),
        }
    }

    #[test]
    fn the_case_nudge_comes_at_the_severity_target_then_repeats() {
        let p = policy();
        let mut f = facts();
        assert_eq!(next_due(&p, &f, NudgeKind::OpenCase), Some(t("10:30")));
        assert!(!is_due(&p, &f, NudgeKind::OpenCase, t("10:29")));
        assert!(is_due(&p, &f, NudgeKind::OpenCase, t("10:30")));
        f.last_nudge.insert(NudgeKind::OpenCase, t("10:30"));
        assert_eq!(next_due(&p, &f, NudgeKind::OpenCase), Some(t("10:45")));
        f.severity = Severity::Sev1;
        assert_eq!(
            next_due(&p, &f, NudgeKind::OpenCase),
            Some(t("10:45")),
            "raising the severity does not re-nudge before the repeat interval"
        );
        let mut fresh = facts();
        fresh.severity = Severity::Sev1;
        assert_eq!(next_due(&p, &fresh, NudgeKind::OpenCase), Some(t("10:15")));
    }

    #[test]
    fn the_case_nudge_needs_aws_to_be_implicated_and_no_case() {
        let p = policy();
        let mut f = facts();
        f.aws_evidence = false;
        assert_eq!(next_due(&p, &f, NudgeKind::OpenCase), None);
        f.involvement = Involvement::Yes;
        assert_eq!(next_due(&p, &f, NudgeKind::OpenCase), Some(t("10:30")));
        f.aws_evidence = true;
        f.involvement = Involvement::No;
        assert_eq!(
            next_due(&p, &f, NudgeKind::OpenCase),
            None,
            "not an AWS issue"
        );
        f.involvement = Involvement::Unsaid;
        f.case = Some(CaseFacts {
            opened_at: t("10:20"),
            severity: SupportSeverity::Urgent,
            resolved: true,
            awaiting_aws_since: None,
        });
        assert_eq!(next_due(&p, &f, NudgeKind::OpenCase), None);
        f.case = None;
        f.resolved = true;
        assert_eq!(next_due(&p, &f, NudgeKind::OpenCase), None);
    }

    #[test]
    fn a_snooze_moves_every_nudge_to_its_end() {
        let p = policy();
        let mut f = facts();
        f.snoozed_until = Some(t("11:00"));
        assert_eq!(next_due(&p, &f, NudgeKind::OpenCase), Some(t("11:00")));
        assert_eq!(next_due(&p, &f, NudgeKind::StaleUpdate), Some(t("11:00")));
        f.snoozed_until = Some(t("10:05"));
        assert_eq!(
            next_due(&p, &f, NudgeKind::OpenCase),
            Some(t("10:30")),
            "an ended snooze changes nothing"
        );
    }

    #[test]
    fn aws_quiet_counts_from_the_unanswered_customer_message() {
        let p = policy();
        let mut f = facts();
        assert_eq!(next_due(&p, &f, NudgeKind::AwsQuiet), None, "no case");
        f.case = Some(CaseFacts {
            opened_at: t("10:20"),
            severity: SupportSeverity::Urgent,
            resolved: false,
            awaiting_aws_since: Some(t("10:20")),
        });
        assert_eq!(next_due(&p, &f, NudgeKind::AwsQuiet), Some(t("11:20")));
        f.last_nudge.insert(NudgeKind::AwsQuiet, t("11:20"));
        assert_eq!(next_due(&p, &f, NudgeKind::AwsQuiet), Some(t("11:35")));
        // AWS answered; then the customer wrote again at 11:40.
        if let Some(c) = f.case.as_mut() {
            c.awaiting_aws_since = None;
        }
        assert_eq!(
            next_due(&p, &f, NudgeKind::AwsQuiet),
            None,
            "AWS spoke last"
        );
        if let Some(c) = f.case.as_mut() {
            c.awaiting_aws_since = Some(t("11:40"));
            c.severity = SupportSeverity::Critical;
        }
        assert_eq!(
            next_due(&p, &f, NudgeKind::AwsQuiet),
            Some(t("11:55")),
            "a new wait, on the critical target, ignoring the earlier nudge"
        );
        if let Some(c) = f.case.as_mut() {
            c.resolved = true;
        }
        assert_eq!(next_due(&p, &f, NudgeKind::AwsQuiet), None);
    }

    #[test]
    fn stale_update_counts_from_the_last_update() {
        let mut p = policy();
        let mut f = facts();
        assert_eq!(next_due(&p, &f, NudgeKind::StaleUpdate), Some(t("11:00")));
        f.last_update_at = Some(t("10:40"));
        assert_eq!(next_due(&p, &f, NudgeKind::StaleUpdate), Some(t("11:40")));
        f.last_nudge.insert(NudgeKind::StaleUpdate, t("11:40"));
        assert_eq!(next_due(&p, &f, NudgeKind::StaleUpdate), Some(t("12:40")));
        f.last_update_at = Some(t("12:00"));
        assert_eq!(next_due(&p, &f, NudgeKind::StaleUpdate), Some(t("13:00")));
        p.update_every = None;
        assert_eq!(next_due(&p, &f, NudgeKind::StaleUpdate), None);
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in NudgeKind::ALL {
            assert_eq!(NudgeKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(NudgeKind::parse("nope"), None);
    }
}
