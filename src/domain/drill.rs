//! Drills: rehearsal incidents opened from a synthetic alarm on a route, and the scorecard
//! computed when one is resolved.
//!
//! A drill is an incident with a negative id ([`IncidentId::is_drill`]): numbered -1, -2, …
//! apart from real incidents, shown as `drill #3`. Everything runs as for a real incident
//! except that an AWS Support case is a dry run (see `service::support`) unless the drill
//! was started with `--real-case` by a member of `[escalation] support_usergroup`.
//!
//! The scorecard times five milestones from the drill's opening, read from its timeline:
//! - **first response**: the first message a person (not warroom) posted in the channel;
//! - **lead**: the first time a lead was set;
//! - **identified**: the first status move to `identified` (or straight to `monitoring`);
//! - **AWS decision**: an AWS Support case opened (or shown as a dry run), or someone
//!   saying it is not an AWS issue;
//! - **resolve**: the resolution.
//!
//! Each is compared with its target (`[drills] targets`); a milestone never reached is
//! "missed". Pure: the timeline comes in as data.

use chrono::{DateTime, Duration, Utc};

use super::incident::IncidentId;
use super::time::format_duration;
use super::timeline::{EntryKind, TimelineEntry};

/// The timeline text of "Not an AWS issue" (`/incident aws no` and the button).
pub const NOT_AWS_TEXT: &str = "said this is not an AWS issue";
/// How a dry-run case's timeline entry begins.
pub const DRY_RUN_CASE_TEXT: &str = "DRILL dry run: would have opened AWS Support case";
/// How an opened case's timeline entry begins.
pub const CASE_OPENED_TEXT: &str = "opened AWS Support case";
/// Previous drills on the same route shown for comparison.
pub const COMPARE_WITH: usize = 3;

/// The AWS Support case a drill would have opened (shown and recorded, never sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunCase {
    /// Who asked for it.
    pub by: String,
    pub severity: super::support::SupportSeverity,
    pub subject: String,
    pub body: String,
}

/// The five milestones of the scorecard, in the order a response reaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    FirstResponse,
    Lead,
    Identified,
    AwsDecision,
    Resolve,
}

impl Milestone {
    pub const ALL: [Milestone; 5] = [
        Milestone::FirstResponse,
        Milestone::Lead,
        Milestone::Identified,
        Milestone::AwsDecision,
        Milestone::Resolve,
    ];

    /// How the scorecard names it.
    pub fn label(self) -> &'static str {
        match self {
            Milestone::FirstResponse => "First responder message",
            Milestone::Lead => "Lead set",
            Milestone::Identified => "Status identified",
            Milestone::AwsDecision => "AWS decision (case or not AWS)",
            Milestone::Resolve => "Resolved",
        }
    }

    /// The key in `[drills] targets`.
    pub fn key(self) -> &'static str {
        match self {
            Milestone::FirstResponse => "first_response",
            Milestone::Lead => "lead",
            Milestone::Identified => "identified",
            Milestone::AwsDecision => "aws_decision",
            Milestone::Resolve => "resolve",
        }
    }
}

/// `[drills] targets`: how soon after the drill opens each milestone should be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub first_response: Duration,
    pub lead: Duration,
    pub identified: Duration,
    pub aws_decision: Duration,
    pub resolve: Duration,
}

impl Default for Targets {
    /// 5 minutes to a first response, 10 to a lead, 30 to identified and to the AWS
    /// decision, 2 hours to resolve.
    fn default() -> Self {
        Targets {
            first_response: Duration::minutes(5),
            lead: Duration::minutes(10),
            identified: Duration::minutes(30),
            aws_decision: Duration::minutes(30),
            resolve: Duration::hours(2),
        }
    }
}

impl Targets {
    pub fn of(&self, m: Milestone) -> Duration {
        match m {
            Milestone::FirstResponse => self.first_response,
            Milestone::Lead => self.lead,
            Milestone::Identified => self.identified,
            Milestone::AwsDecision => self.aws_decision,
            Milestone::Resolve => self.resolve,
        }
    }
}

/// When each milestone was first reached, if it was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reached {
    pub first_response: Option<DateTime<Utc>>,
    pub lead: Option<DateTime<Utc>>,
    pub identified: Option<DateTime<Utc>>,
    pub aws_decision: Option<DateTime<Utc>>,
    pub resolve: Option<DateTime<Utc>>,
}

impl Reached {
    fn of(&self, m: Milestone) -> Option<DateTime<Utc>> {
        match m {
            Milestone::FirstResponse => self.first_response,
            Milestone::Lead => self.lead,
            Milestone::Identified => self.identified,
            Milestone::AwsDecision => self.aws_decision,
            Milestone::Resolve => self.resolve,
        }
    }

    /// The milestones found on a drill's timeline (deleted messages still count: someone
    /// answered). `bot` is warroom's own user id, whose posts are not a response.
    pub fn from_timeline(entries: &[TimelineEntry], bot: &str) -> Reached {
        let first = |pred: &dyn Fn(&TimelineEntry) -> bool| {
            entries
                .iter()
                .filter(|e| pred(e))
                .map(|e| e.occurred_at)
                .min()
        };
        Reached {
            first_response: first(&|e| {
                e.kind == EntryKind::Message && e.actor.as_deref().is_some_and(|a| a != bot)
            }),
            lead: first(&|e| e.kind == EntryKind::LeadChanged),
            identified: first(&|e| {
                e.kind == EntryKind::StatusChanged
                    && (e.text.contains("→ identified") || e.text.contains("→ monitoring"))
            }),
            aws_decision: first(&|e| {
                (e.kind == EntryKind::SupportCase
                    && (e.text.starts_with(CASE_OPENED_TEXT)
                        || e.text.starts_with(DRY_RUN_CASE_TEXT)))
                    || (e.kind == EntryKind::AwsInvolvement && e.text == NOT_AWS_TEXT)
            }),
            resolve: first(&|e| e.kind == EntryKind::Resolved),
        }
    }
}

/// One line of the scorecard.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    pub milestone: Milestone,
    /// From the drill's opening; `None` when never reached.
    #[serde(with = "opt_seconds")]
    pub took: Option<Duration>,
    #[serde(with = "seconds")]
    pub target: Duration,
}

impl Line {
    /// Reached within its target.
    pub fn met(&self) -> bool {
        self.took.is_some_and(|t| t <= self.target)
    }
}

/// A resolved drill's scorecard. Kept as JSON with the drill, so later drills on the same
/// route compare with it as it was scored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Scorecard {
    pub drill: IncidentId,
    pub route: String,
    pub opened_at: DateTime<Utc>,
    pub lines: Vec<Line>,
}

impl Scorecard {
    /// Score the milestones reached against the targets.
    pub fn score(
        drill: IncidentId,
        route: &str,
        opened_at: DateTime<Utc>,
        reached: &Reached,
        targets: &Targets,
    ) -> Scorecard {
        let lines = Milestone::ALL
            .into_iter()
            .map(|m| Line {
                milestone: m,
                took: reached
                    .of(m)
                    .map(|at| (at - opened_at).max(Duration::zero())),
                target: targets.of(m),
            })
            .collect();
        Scorecard {
            drill,
            route: route.to_string(),
            opened_at,
            lines,
        }
    }

    pub fn line(&self, m: Milestone) -> Option<&Line> {
        self.lines.iter().find(|l| l.milestone == m)
    }

    /// How many milestones met their target.
    pub fn met(&self) -> usize {
        self.lines.iter().filter(|l| l.met()).count()
    }
}

/// `4m 30s` under an hour (a drill is timed to the second), `1h 35m` from there on, or
/// `missed`.
pub fn took_text(took: Option<Duration>) -> String {
    match took {
        None => "missed".to_string(),
        Some(d) if d < Duration::hours(1) => {
            let s = d.num_seconds().max(0);
            format!("{}m {:02}s", s / 60, s % 60)
        }
        Some(d) => format_duration(d),
    }
}

mod seconds {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::seconds(i64::deserialize(d)?))
    }
}

mod opt_seconds {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.num_seconds()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(Duration::seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap()
    }

    fn entry(kind: EntryKind, minutes: i64, actor: &str, text: &str) -> TimelineEntry {
        TimelineEntry {
            id: minutes,
            incident_id: IncidentId(-1),
            kind,
            occurred_at: t0() + Duration::minutes(minutes),
            recorded_at: t0() + Duration::minutes(minutes),
            actor: Some(actor.to_string()),
            text: text.to_string(),
            slack_ts: None,
            thread_ts: None,
            key_event: false,
            edited_at: None,
            deleted_at: None,
            revisions: Vec::new(),
        }
    }

    #[test]
    fn milestones_come_from_the_first_matching_entries() {
        let entries = vec![
            entry(EntryKind::Declared, 0, "UBOT", "declared SEV2 drill"),
            entry(EntryKind::AlarmFired, 0, "UBOT", "synthetic alarm"),
            entry(EntryKind::Message, 1, "UBOT", "warroom's own post"),
            entry(EntryKind::Message, 3, "UALICE", "looking"),
            entry(EntryKind::Message, 4, "UBOB", "me too"),
            entry(EntryKind::LeadChanged, 7, "UALICE", "lead set to UALICE"),
            entry(
                EntryKind::SupportCase,
                9,
                "UALICE",
                "the AWS Support case could not be opened",
            ),
            entry(
                EntryKind::StatusChanged,
                20,
                "UALICE",
                "status investigating → identified: db",
            ),
            entry(EntryKind::AwsInvolvement, 25, "UALICE", NOT_AWS_TEXT),
            entry(EntryKind::LeadChanged, 30, "UBOB", "lead UALICE → UBOB"),
            entry(EntryKind::Resolved, 90, "UBOB", "resolved"),
        ];
        let r = Reached::from_timeline(&entries, "UBOT");
        let m = |n: i64| Some(t0() + Duration::minutes(n));
        assert_eq!(
            r,
            Reached {
                first_response: m(3),
                lead: m(7),
                identified: m(20),
                aws_decision: m(25),
                resolve: m(90),
            }
        );
    }

    #[test]
    fn a_dry_run_case_or_an_opened_case_is_the_aws_decision() {
        let dry = format!("{DRY_RUN_CASE_TEXT} (high): subject");
        let r = Reached::from_timeline(&[entry(EntryKind::SupportCase, 12, "U1", &dry)], "UBOT");
        assert_eq!(r.aws_decision, Some(t0() + Duration::minutes(12)));
        let real = format!("{CASE_OPENED_TEXT} 123 (high): subject");
        let r = Reached::from_timeline(&[entry(EntryKind::SupportCase, 14, "U1", &real)], "UBOT");
        assert_eq!(r.aws_decision, Some(t0() + Duration::minutes(14)));
        let skipped = "status investigating → monitoring";
        let r =
            Reached::from_timeline(&[entry(EntryKind::StatusChanged, 5, "U1", skipped)], "UBOT");
        assert_eq!(r.identified, Some(t0() + Duration::minutes(5)));
    }

    #[test]
    fn the_scorecard_measures_against_the_targets() {
        let reached = Reached {
            first_response: Some(t0() + Duration::minutes(4)),
            lead: Some(t0() + Duration::minutes(11)),
            identified: None,
            aws_decision: Some(t0() + Duration::minutes(30)),
            resolve: Some(t0() + Duration::minutes(95)),
        };
        let card = Scorecard::score(IncidentId(-2), "api", t0(), &reached, &Targets::default());
        let took = |m| card.line(m).unwrap().took;
        assert_eq!(took(Milestone::FirstResponse), Some(Duration::minutes(4)));
        assert_eq!(took(Milestone::Lead), Some(Duration::minutes(11)));
        assert_eq!(took(Milestone::Identified), None);
        let met: Vec<bool> = card.lines.iter().map(Line::met).collect();
        // 4m ≤ 5m; 11m > 10m; missed; 30m ≤ 30m (at the target is met); 95m ≤ 2h.
        assert_eq!(met, vec![true, false, false, true, true]);
        assert_eq!(card.met(), 3);
        assert_eq!(took_text(None), "missed");
        assert_eq!(took_text(Some(Duration::seconds(270))), "4m 30s");
        assert_eq!(took_text(Some(Duration::minutes(95))), "1h 35m");
        // Kept as JSON and read back for later comparisons.
        let json = serde_json::to_string(&card).unwrap();
        assert_eq!(serde_json::from_str::<Scorecard>(&json).unwrap(), card);
    }
}
