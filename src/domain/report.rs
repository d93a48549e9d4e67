//! The managers' report: how fast incidents are detected, engaged, escalated to AWS,
//! mitigated and resolved over a period, and whether AWS Support answers within its
//! targets. Pure: the store reads the [`ReportFacts`], [`compute`] turns them into the
//! [`Report`] (whose serde form is `warroom report --format json`), the renderers show it.
//!
//! # What each figure measures
//! Only real incidents count (positive ids, opened in `[since, until)`); drills (negative
//! ids) are only counted, in `drills`.
//! - **time to detect**: the incident's first ALARM transition → warroom opened the
//!   incident (someone declared it, or warroom routed the alarm to a new war room; an
//!   incident an alarm opened is dated from the alarm itself, so its `opened_at` cannot
//!   say this). Incidents without an alarm, or whose first alarm came after, have none.
//! - The other times run from the incident's start, `opened_at`: the declaration, or the
//!   alarm that opened it.
//! - **time to engage**: opened → the first message a person wrote in the incident
//!   channel.
//! - **time to escalate**: opened → its first AWS Support case opened at AWS.
//! - **AWS first response**: per case, opened → AWS Support's first reply, against the
//!   target for the case's severity (`[escalation.response_targets]`; AWS's published ones
//!   by default: low 24h, normal 12h, high 4h, urgent 1h, critical 15m). Cases without a
//!   reply are `unanswered`, and missed their target once it has passed at `until`.
//! - **time to mitigate**: opened → the first move to monitoring (or straight to resolved).
//! - **time to resolve**: opened → resolved, for incidents resolved now.
//!
//! # Percentiles
//! Nearest rank: the p-th percentile of n sorted values is the value at rank
//! `ceil(p / 100 × n)` (1-based), so it is always one of the measured durations (the
//! median of 4 values is the 2nd). Minutes are shown to one decimal.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Utc};

use super::incident::IncidentId;
use super::severity::Severity;
use super::support::SupportSeverity;
use super::timeline::UserId;

/// What the report covers: incidents opened from `since` (included) to `until` (excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Shortest period `/incident stats` and the CLI accept.
pub const MIN_WINDOW: Duration = Duration::days(1);
/// Longest period `/incident stats` accepts: a year of incidents is still one message.
pub const MAX_WINDOW: Duration = Duration::days(366);

/// What is known about one incident, as the store read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFacts {
    pub id: IncidentId,
    /// Its severity now.
    pub severity: Severity,
    /// When it started: the declaration, or the ALARM transition that opened it.
    pub opened_at: DateTime<Utc>,
    /// When warroom opened it: the declaration, or when it routed the opening alarm.
    pub declared_at: DateTime<Utc>,
    /// The alarm route that opened it (or of its first alarm); `None` when declared by
    /// hand without alarms.
    pub route: Option<String>,
    /// The AWS service its alarm watches (`EC2`, `RDS`, …), when known.
    pub aws_service: Option<String>,
    /// Its first ALARM transition (CloudWatch's time).
    pub first_alarm_at: Option<DateTime<Utc>>,
    /// The first message a person wrote in its channel.
    pub first_response_at: Option<DateTime<Utc>>,
    /// Its AWS Support cases that AWS opened, oldest first.
    pub cases: Vec<CaseFacts>,
    /// The first move to monitoring or resolved.
    pub mitigated_at: Option<DateTime<Utc>>,
    /// Set while resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Whether a postmortem draft was posted for it.
    pub postmortem_drafted: bool,
}

/// An AWS Support case of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    pub severity: SupportSeverity,
    pub opened_at: DateTime<Utc>,
    /// AWS Support's first reply on the case.
    pub first_aws_reply_at: Option<DateTime<Utc>>,
}

/// An action item not done at the end of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenActionItem {
    pub incident: IncidentId,
    pub number: u32,
    pub owner: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// Everything the report is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFacts {
    pub period: Period,
    /// Real incidents opened in the period, by id.
    pub incidents: Vec<IncidentFacts>,
    /// Action items of real incidents created before `until` and not done by then.
    pub open_action_items: Vec<OpenActionItem>,
    /// Drills opened in the period.
    pub drills: u64,
}

/// A duration measured over several incidents.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stat {
    /// How many were measured.
    pub count: usize,
    /// Nearest-rank median, in minutes; `None` when nothing was measured.
    pub p50_minutes: Option<f64>,
    /// Nearest-rank 90th percentile, in minutes.
    pub p90_minutes: Option<f64>,
}

/// AWS Support's first responses.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AwsResponse {
    /// Cases AWS answered.
    pub count: usize,
    pub p50_minutes: Option<f64>,
    pub p90_minutes: Option<f64>,
    /// Answered cases whose first reply came within the target for their severity.
    pub within_target: usize,
    /// Cases AWS has not answered (by the end of the period).
    pub unanswered: usize,
    /// Unanswered cases whose target had passed at the end of the period.
    pub unanswered_past_target: usize,
    /// Per case severity with at least one case, in severity order.
    pub by_case_severity: Vec<AwsResponseBySeverity>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AwsResponseBySeverity {
    /// `low` … `critical`.
    pub severity: String,
    pub target_minutes: f64,
    pub cases: usize,
    pub answered: usize,
    pub within_target: usize,
}

/// Incidents opened in one ISO week (Monday to Sunday, UTC).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WeekCount {
    /// `2026-W47`.
    pub week: String,
    /// Its Monday, `2026-11-16`.
    pub starts: String,
    pub incidents: usize,
}

/// The action items still open, by owner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenActions {
    pub count: usize,
    /// Most open items first, then by owner; the unassigned ones have `owner: null`.
    pub by_owner: Vec<OwnerActions>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OwnerActions {
    pub owner: Option<String>,
    pub count: usize,
    /// Open for less than 7 days at the end of the period.
    pub under_7_days: usize,
    /// Open for 7 to 30 days.
    pub from_7_to_30_days: usize,
    /// Open for more than 30 days.
    pub over_30_days: usize,
    /// Age of the oldest, in whole days.
    pub oldest_days: i64,
    /// The items, oldest first, as `#12/3` (incident 12, item 3).
    pub items: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drills {
    pub count: u64,
}

/// The report: `warroom report --format json` is its serde form.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// RFC 3339, UTC.
    pub since: String,
    pub until: String,
    /// Real incidents opened in the period.
    pub incidents: usize,
    /// Of which resolved now.
    pub resolved: usize,
    /// Every severity, zeros included.
    pub by_severity: BTreeMap<String, usize>,
    /// By alarm route; `(none)` for incidents declared by hand.
    pub by_route: BTreeMap<String, usize>,
    /// By the AWS service their alarm watches; `(unknown)` when none is known.
    pub by_aws_service: BTreeMap<String, usize>,
    /// Every ISO week the period touches, zeros included, oldest first.
    pub by_week: Vec<WeekCount>,
    pub time_to_detect: Stat,
    pub time_to_engage: Stat,
    pub time_to_escalate: Stat,
    pub aws_first_response: AwsResponse,
    pub time_to_mitigate: Stat,
    pub time_to_resolve: Stat,
    /// Resolved incidents without a postmortem draft, by id.
    pub without_postmortem: Vec<i64>,
    pub open_action_items: OpenActions,
    pub drills: Drills,
}

/// Label of incidents without a route.
pub const NO_ROUTE: &str = "(none)";
/// Label of incidents whose AWS service is not known.
pub const UNKNOWN_SERVICE: &str = "(unknown)";

/// The p-th percentile (0 < p ≤ 100) of `sorted` (ascending) by nearest rank; `None` when
/// empty.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: u32) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // ceil(p × n / 100), at least 1.
    let rank = (p as usize * n).div_ceil(100).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// Minutes to one decimal.
fn minutes(d: Duration) -> f64 {
    (d.num_seconds() as f64 / 6.0).round() / 10.0
}

/// The count and nearest-rank p50/p90 of `durations` (negative ones count as zero).
pub fn stat(durations: impl IntoIterator<Item = Duration>) -> Stat {
    let mut all: Vec<Duration> = durations
        .into_iter()
        .map(|d| d.max(Duration::zero()))
        .collect();
    all.sort();
    Stat {
        count: all.len(),
        p50_minutes: nearest_rank(&all, 50).map(minutes),
        p90_minutes: nearest_rank(&all, 90).map(minutes),
    }
}

/// Compute the report. `target` is AWS's first-response target per case severity.
pub fn compute(facts: &ReportFacts, target: impl Fn(SupportSeverity) -> Duration) -> Report {
    let incidents: Vec<&IncidentFacts> = facts
        .incidents
        .iter()
        .filter(|i| !i.id.is_drill())
        .collect();
    let until = facts.period.until;

    let mut by_severity: BTreeMap<String, usize> =
        Severity::ALL.iter().map(|s| (s.to_string(), 0)).collect();
    let mut by_route = BTreeMap::new();
    let mut by_aws_service = BTreeMap::new();
    for i in &incidents {
        *by_severity.entry(i.severity.to_string()).or_default() += 1;
        *by_route
            .entry(i.route.clone().unwrap_or_else(|| NO_ROUTE.to_string()))
            .or_default() += 1;
        *by_aws_service
            .entry(
                i.aws_service
                    .clone()
                    .unwrap_or_else(|| UNKNOWN_SERVICE.to_string()),
            )
            .or_default() += 1;
    }

    let time_to_detect = stat(incidents.iter().filter_map(|i| {
        i.first_alarm_at
            .filter(|a| *a <= i.declared_at)
            .map(|a| i.declared_at - a)
    }));
    let time_to_engage = stat(
        incidents
            .iter()
            .filter_map(|i| i.first_response_at.map(|r| r - i.opened_at)),
    );
    let time_to_escalate = stat(
        incidents
            .iter()
            .filter_map(|i| i.cases.first().map(|c| c.opened_at - i.opened_at)),
    );
    let time_to_mitigate = stat(
        incidents
            .iter()
            .filter_map(|i| i.mitigated_at.map(|m| m - i.opened_at)),
    );
    let time_to_resolve = stat(
        incidents
            .iter()
            .filter_map(|i| i.resolved_at.map(|r| r - i.opened_at)),
    );

    let cases: Vec<&CaseFacts> = incidents.iter().flat_map(|i| i.cases.iter()).collect();
    let first_response = stat(
        cases
            .iter()
            .filter_map(|c| c.first_aws_reply_at.map(|r| r - c.opened_at)),
    );
    let within = |c: &CaseFacts| {
        c.first_aws_reply_at
            .is_some_and(|r| r - c.opened_at <= target(c.severity))
    };
    let by_case_severity = SupportSeverity::ALL
        .into_iter()
        .filter_map(|s| {
            let of: Vec<&&CaseFacts> = cases.iter().filter(|c| c.severity == s).collect();
            (!of.is_empty()).then(|| AwsResponseBySeverity {
                severity: s.code().to_string(),
                target_minutes: minutes(target(s)),
                cases: of.len(),
                answered: of.iter().filter(|c| c.first_aws_reply_at.is_some()).count(),
                within_target: of.iter().filter(|c| within(c)).count(),
            })
        })
        .collect();
    let aws_first_response = AwsResponse {
        count: first_response.count,
        p50_minutes: first_response.p50_minutes,
        p90_minutes: first_response.p90_minutes,
        within_target: cases.iter().filter(|c| within(c)).count(),
        unanswered: cases
            .iter()
            .filter(|c| c.first_aws_reply_at.is_none())
            .count(),
        unanswered_past_target: cases
            .iter()
            .filter(|c| c.first_aws_reply_at.is_none() && until - c.opened_at > target(c.severity))
            .count(),
        by_case_severity,
    };

    Report {
        since: facts
            .period
            .since
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        until: until.to_rfc3339_opts(SecondsFormat::Secs, true),
        incidents: incidents.len(),
        resolved: incidents.iter().filter(|i| i.resolved_at.is_some()).count(),
        by_severity,
        by_route,
        by_aws_service,
        by_week: by_week(facts.period, &incidents),
        time_to_detect,
        time_to_engage,
        time_to_escalate,
        aws_first_response,
        time_to_mitigate,
        time_to_resolve,
        without_postmortem: incidents
            .iter()
            .filter(|i| i.resolved_at.is_some() && !i.postmortem_drafted)
            .map(|i| i.id.0)
            .collect(),
        open_action_items: open_actions(&facts.open_action_items, until),
        drills: Drills {
            count: facts.drills,
        },
    }
}

/// The Monday of `day`'s ISO week.
fn monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// Weeks listed at most (twenty years): a period is a quarter or a year, and a typo in a
/// date must not make a list of millions.
const MAX_WEEKS: usize = 1040;

fn by_week(period: Period, incidents: &[&IncidentFacts]) -> Vec<WeekCount> {
    let first = monday(period.since.date_naive());
    // `until` is excluded: a period ending at a Monday midnight does not touch that week.
    let last_day = (period.until - Duration::nanoseconds(1)).date_naive();
    let mut weeks = Vec::new();
    let mut start = first;
    while start <= last_day && weeks.len() < MAX_WEEKS {
        let iso = start.iso_week();
        weeks.push(WeekCount {
            week: format!("{}-W{:02}", iso.year(), iso.week()),
            starts: start.format("%Y-%m-%d").to_string(),
            incidents: incidents
                .iter()
                .filter(|i| monday(i.opened_at.date_naive()) == start)
                .count(),
        });
        start += Duration::days(7);
    }
    weeks
}

fn open_actions(items: &[OpenActionItem], until: DateTime<Utc>) -> OpenActions {
    let mut owners: BTreeMap<Option<String>, Vec<&OpenActionItem>> = BTreeMap::new();
    for item in items {
        owners
            .entry(item.owner.as_ref().map(|o| o.as_str().to_string()))
            .or_default()
            .push(item);
    }
    let mut by_owner: Vec<OwnerActions> = owners
        .into_iter()
        .map(|(owner, mut items)| {
            items.sort_by_key(|i| (i.created_at, i.incident, i.number));
            let age = |i: &OpenActionItem| (until - i.created_at).max(Duration::zero());
            OwnerActions {
                owner,
                count: items.len(),
                under_7_days: items.iter().filter(|i| age(i) < Duration::days(7)).count(),
                from_7_to_30_days: items
                    .iter()
                    .filter(|i| (Duration::days(7)..=Duration::days(30)).contains(&age(i)))
                    .count(),
                over_30_days: items.iter().filter(|i| age(i) > Duration::days(30)).count(),
                oldest_days: items.first().map(|i| age(i).num_days()).unwrap_or(0),
                items: items
                    .iter()
                    .map(|i| format!("#{}/{}", i.incident.0, i.number))
                    .collect(),
            }
        })
        .collect();
    by_owner.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.owner.cmp(&b.owner)));
    OpenActions {
        count: items.len(),
        by_owner,
    }
}

/// A window like `30d` or `12w` for `/incident stats` and `warroom report --since`: from 1
/// day to a year.
pub fn parse_window(text: &str) -> Result<Duration, String> {
    let not = || format!("\"{text}\" is not a period (like 30d, 12w or 90d)");
    let std = humantime::parse_duration(&text.trim().to_ascii_lowercase()).map_err(|_| not())?;
    let window = Duration::from_std(std).map_err(|_| not())?;
    if !(MIN_WINDOW..=MAX_WINDOW).contains(&window) {
        return Err(format!("\"{text}\" is out of range: 1d to 366d"));
    }
    Ok(window)
}

/// A period bound for `warroom report`: a window back from `now` (`90d`), a date
/// (`2026-10-01`, midnight UTC) or an RFC 3339 time.
pub fn parse_bound(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("\"{text}\" is not a date"));
    }
    parse_window(text)
        .map(|w| now - w)
        .map_err(|_| format!("\"{text}\" is neither a period back from now (90d), a date (2026-10-01) nor a time (2026-10-01T09:00:00Z)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, h, m, 0).unwrap()
    }

    fn mins(m: i64) -> Duration {
        Duration::minutes(m)
    }

    fn incident(id: i64, sev: Severity, opened: DateTime<Utc>) -> IncidentFacts {
        IncidentFacts {
            id: IncidentId(id),
            severity: sev,
            opened_at: opened,
            declared_at: opened,
            route: None,
            aws_service: None,
            first_alarm_at: None,
            first_response_at: None,
            cases: Vec::new(),
            mitigated_at: None,
            resolved_at: None,
            postmortem_drafted: false,
        }
    }

    fn aws_targets(s: SupportSeverity) -> Duration {
        match s {
            SupportSeverity::Low => Duration::hours(24),
            SupportSeverity::Normal => Duration::hours(12),
            SupportSeverity::High => Duration::hours(4),
            SupportSeverity::Urgent => Duration::hours(1),
            SupportSeverity::Critical => Duration::minutes(15),
        }
    }

    #[test]
    fn nearest_rank_on_small_hand_computed_sets() {
        assert_eq!(nearest_rank::<i32>(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        // n = 2: ranks ceil(1) = 1 and ceil(1.8) = 2.
        assert_eq!(nearest_rank(&[3, 9], 50), Some(3));
        assert_eq!(nearest_rank(&[3, 9], 90), Some(9));
        // n = 4: ranks ceil(2) = 2 and ceil(3.6) = 4.
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 90), Some(4));
        // n = 5: ranks ceil(2.5) = 3 and ceil(4.5) = 5.
        assert_eq!(nearest_rank(&[15, 20, 35, 40, 50], 50), Some(35));
        assert_eq!(nearest_rank(&[15, 20, 35, 40, 50], 90), Some(50));
        // n = 10: ranks 5 and 9.
        let ten: Vec<i32> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 50), Some(5));
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        assert_eq!(nearest_rank(&ten, 100), Some(10));
    }

    #[test]
    fn stat_sorts_and_shows_minutes_to_one_decimal() {
        let s = stat([mins(40), Duration::seconds(90), mins(10), mins(-5)]);
        // Sorted: 0, 1.5, 10, 40 → p50 rank 2, p90 rank 4.
        assert_eq!(
            s,
            Stat {
                count: 4,
                p50_minutes: Some(1.5),
                p90_minutes: Some(40.0)
            }
        );
        assert_eq!(
            stat([]),
            Stat {
                count: 0,
                p50_minutes: None,
                p90_minutes: None
            }
        );
    }

    /// Three incidents and a drill with hand-picked times; every figure checked.
    #[test]
    fn the_report_of_three_incidents_number_by_number() {
        let period = Period {
            since: t(9, 0, 0),
            until: t(30, 0, 0),
        };
        // #1, SEV2, opened by the checkout alarm 4 minutes after it fired; Bob spoke after
        // 2m; a case (urgent) after 20m, AWS answered 10m later; monitoring after 35m;
        // resolved after 110m; postmortem drafted.
        let mut one = incident(1, Severity::Sev2, t(16, 13, 0));
        one.route = Some("checkout".into());
        one.aws_service = Some("ELASTICLOADBALANCING".into());
        one.first_alarm_at = Some(t(16, 12, 56));
        one.first_response_at = Some(t(16, 13, 2));
        one.cases = vec![CaseFacts {
            severity: SupportSeverity::Urgent,
            opened_at: t(16, 13, 20),
            first_aws_reply_at: Some(t(16, 13, 30)),
        }];
        one.mitigated_at = Some(t(16, 13, 35));
        one.resolved_at = Some(t(16, 14, 50));
        one.postmortem_drafted = true;
        // #2, SEV1, declared by hand; first message after 6m; a high case after 10m that
        // AWS answered after 5h (target 4h); resolved straight away after 60m (mitigated
        // by the resolve); no draft.
        let mut two = incident(2, Severity::Sev1, t(18, 9, 0));
        two.first_response_at = Some(t(18, 9, 6));
        two.cases = vec![CaseFacts {
            severity: SupportSeverity::High,
            opened_at: t(18, 9, 10),
            first_aws_reply_at: Some(t(18, 14, 10)),
        }];
        two.mitigated_at = Some(t(18, 10, 0));
        two.resolved_at = Some(t(18, 10, 0));
        // #3, SEV2, opened by an RDS alarm 1 minute after it fired, still open: nobody
        // spoke, a normal case unanswered for 13h by the end of the period.
        let mut three = incident(3, Severity::Sev2, t(29, 10, 0));
        three.route = Some("database".into());
        three.aws_service = Some("RDS".into());
        three.first_alarm_at = Some(t(29, 9, 59));
        three.cases = vec![CaseFacts {
            severity: SupportSeverity::Normal,
            opened_at: t(29, 10, 30),
            first_aws_reply_at: None,
        }];
        // An alarm that came after a declared incident opened does not detect it.
        let mut four = incident(4, Severity::Sev4, t(23, 8, 0));
        four.first_alarm_at = Some(t(23, 8, 5));
        four.first_response_at = Some(t(23, 8, 1));
        let facts = ReportFacts {
            period,
            incidents: vec![one, two, three, four],
            open_action_items: vec![
                OpenActionItem {
                    incident: IncidentId(1),
                    number: 1,
                    owner: Some(UserId::parse("U0CAROL").unwrap()),
                    created_at: t(16, 13, 21),
                },
                OpenActionItem {
                    incident: IncidentId(2),
                    number: 2,
                    owner: Some(UserId::parse("U0CAROL").unwrap()),
                    created_at: t(28, 0, 0),
                },
                OpenActionItem {
                    incident: IncidentId(2),
                    number: 1,
                    owner: None,
                    created_at: t(9, 12, 0),
                },
            ],
            drills: 2,
        };
        let r = compute(&facts, aws_targets);
        assert_eq!(r.since, "2026-11-09T00:00:00Z");
        assert_eq!(r.until, "2026-11-30T00:00:00Z");
        assert_eq!(r.incidents, 4);
        assert_eq!(r.resolved, 2);
        assert_eq!(
            r.by_severity,
            BTreeMap::from([
                ("SEV1".to_string(), 1),
                ("SEV2".to_string(), 2),
                ("SEV3".to_string(), 0),
                ("SEV4".to_string(), 1)
            ])
        );
        assert_eq!(
            r.by_route,
            BTreeMap::from([
                ("(none)".to_string(), 2),
                ("checkout".to_string(), 1),
                ("database".to_string(), 1)
            ])
        );
        assert_eq!(r.by_aws_service.get("RDS"), Some(&1));
        assert_eq!(r.by_aws_service.get("(unknown)"), Some(&2));
        // Weeks from Monday the 9th (W46): #1 on the 16th and #2 on the 18th in W47, #4 on
        // the 23rd and #3 on Sunday the 29th in W48.
        let weeks: Vec<(&str, &str, usize)> = r
            .by_week
            .iter()
            .map(|w| (w.week.as_str(), w.starts.as_str(), w.incidents))
            .collect();
        assert_eq!(
            weeks,
            [
                ("2026-W46", "2026-11-09", 0),
                ("2026-W47", "2026-11-16", 2),
                ("2026-W48", "2026-11-23", 2),
            ]
        );
        let s = |count, p50: f64, p90: f64| Stat {
            count,
            p50_minutes: Some(p50),
            p90_minutes: Some(p90),
        };
        // Detect: 4, 1 → sorted 1, 4.
        assert_eq!(r.time_to_detect, s(2, 1.0, 4.0));
        // Engage: 2, 6, 1 → sorted 1, 2, 6: ranks 2 and 3.
        assert_eq!(r.time_to_engage, s(3, 2.0, 6.0));
        // Escalate: 20, 10, 30 → 10, 20, 30.
        assert_eq!(r.time_to_escalate, s(3, 20.0, 30.0));
        // Mitigate: 35, 60; resolve: 110, 60.
        assert_eq!(r.time_to_mitigate, s(2, 35.0, 60.0));
        assert_eq!(r.time_to_resolve, s(2, 60.0, 110.0));
        // AWS: 10m (urgent, within 1h), 300m (high, over 4h); the normal case has waited
        // 13h 30m at the end of the period, past its 12h.
        let a = &r.aws_first_response;
        assert_eq!(
            (a.count, a.p50_minutes, a.p90_minutes),
            (2, Some(10.0), Some(300.0))
        );
        assert_eq!(
            (a.within_target, a.unanswered, a.unanswered_past_target),
            (1, 1, 1)
        );
        let by: Vec<(&str, f64, usize, usize, usize)> = a
            .by_case_severity
            .iter()
            .map(|b| {
                (
                    b.severity.as_str(),
                    b.target_minutes,
                    b.cases,
                    b.answered,
                    b.within_target,
                )
            })
            .collect();
        assert_eq!(
            by,
            [
                ("normal", 720.0, 1, 0, 0),
                ("high", 240.0, 1, 1, 0),
                ("urgent", 60.0, 1, 1, 1)
            ]
        );
        assert_eq!(r.without_postmortem, [2]);
        assert_eq!(r.open_action_items.count, 3);
        let carol = &r.open_action_items.by_owner[0];
        assert_eq!(carol.owner.as_deref(), Some("U0CAROL"));
        // #1/1 open 13 days (7–30), #2/1... #2/2 open 2 days.
        assert_eq!(
            (
                carol.count,
                carol.under_7_days,
                carol.from_7_to_30_days,
                carol.over_30_days,
                carol.oldest_days
            ),
            (2, 1, 1, 0, 13)
        );
        assert_eq!(carol.items, ["#1/1", "#2/2"]);
        let nobody = &r.open_action_items.by_owner[1];
        assert_eq!(
            (nobody.owner.as_deref(), nobody.count, nobody.oldest_days),
            (None, 1, 20)
        );
        assert_eq!(r.drills, Drills { count: 2 });
    }

    #[test]
    fn an_empty_period_has_zeros_and_no_percentiles() {
        let facts = ReportFacts {
            period: Period {
                since: t(2, 0, 0),
                until: t(9, 0, 0),
            },
            incidents: Vec::new(),
            open_action_items: Vec::new(),
            drills: 0,
        };
        let r = compute(&facts, aws_targets);
        assert_eq!(r.incidents, 0);
        assert_eq!(r.by_severity.values().sum::<usize>(), 0);
        // The 2nd to the 8th of November 2026 is exactly ISO week 45.
        assert_eq!(r.by_week.len(), 1);
        assert_eq!(r.by_week[0].week, "2026-W45");
        assert_eq!(r.time_to_resolve.p50_minutes, None);
        let json = serde_json::to_value(&r).unwrap();
        for field in [
            "incidents",
            "by_severity",
            "time_to_detect",
            "time_to_engage",
            "time_to_escalate",
            "aws_first_response",
            "time_to_mitigate",
            "time_to_resolve",
            "open_action_items",
            "drills",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
        assert_eq!(
            json["time_to_detect"]["p50_minutes"],
            serde_json::Value::Null
        );
        assert_eq!(json["drills"], serde_json::json!({"count": 0}));
    }

    #[test]
    fn drills_never_count_as_incidents() {
        let facts = ReportFacts {
            period: Period {
                since: t(2, 0, 0),
                until: t(9, 0, 0),
            },
            incidents: vec![incident(-1, Severity::Sev1, t(3, 0, 0))],
            open_action_items: Vec::new(),
            drills: 1,
        };
        let r = compute(&facts, aws_targets);
        assert_eq!((r.incidents, r.drills.count), (0, 1));
    }

    #[test]
    fn windows_and_bounds() {
        assert_eq!(parse_window("30d"), Ok(Duration::days(30)));
        assert_eq!(parse_window("12W"), Ok(Duration::weeks(12)));
        assert!(parse_window("12h").unwrap_err().contains("out of range"));
        assert!(parse_window("400d").unwrap_err().contains("out of range"));
        assert!(parse_window("soon").unwrap_err().contains("not a period"));
        let now = t(30, 12, 0);
        assert_eq!(parse_bound("90d", now), Ok(now - Duration::days(90)));
        assert_eq!(parse_bound("2026-11-02", now), Ok(t(2, 0, 0)));
        assert_eq!(
            parse_bound("2026-11-02T10:30:00+01:00", now),
            Ok(t(2, 9, 30))
        );
        assert!(parse_bound("yesterday", now).is_err());
    }
}
