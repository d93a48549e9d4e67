//! Correlation: whether an alarm that just fired belongs to an incident already open, so an
//! alarm storm yields a handful of incidents rather than hundreds of channels.
//!
//! Rules, in order:
//! 1. The same alarm is already part of an open incident: it joins that incident, however
//!    long ago it fired (a repeat ALARM is a timeline entry, not a new incident).
//! 2. An open incident has an alarm on the same route that fired within `window` of this one:
//!    it joins that incident (the most recently active one if several qualify). The window
//!    slides: every joining alarm extends it.
//! 3. Otherwise a new incident is opened.

use chrono::{DateTime, Duration, Utc};

use super::incident::IncidentId;

/// One alarm already linked to an open incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLink {
    pub incident: IncidentId,
    pub alarm_arn: String,
    pub route: String,
    /// The latest ALARM transition of this alarm in the incident.
    pub last_alarm_at: DateTime<Utc>,
}

/// Why an alarm joins an existing incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinReason {
    SameAlarm,
    SameRoute,
}

/// What to do with an alarm that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Join {
        incident: IncidentId,
        reason: JoinReason,
    },
    Open,
}

/// Decide for the alarm `arn` on `route` that went to ALARM at `at`, given the alarms of
/// the open incidents.
pub fn correlate(
    arn: &str,
    route: &str,
    at: DateTime<Utc>,
    window: Duration,
    open: &[OpenLink],
) -> Decision {
    if let Some(link) = open
        .iter()
        .filter(|l| l.alarm_arn == arn)
        .max_by_key(|l| (l.last_alarm_at, l.incident))
    {
        return Decision::Join {
            incident: link.incident,
            reason: JoinReason::SameAlarm,
        };
    }
    open.iter()
        .filter(|l| l.route == route && (at - l.last_alarm_at).abs() <= window)
        .max_by_key(|l| (l.last_alarm_at, l.incident))
        .map_or(Decision::Open, |l| Decision::Join {
            incident: l.incident,
            reason: JoinReason::SameRoute,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(min)
    }

    fn link(incident: i64, arn: &str, route: &str, at: i64) -> OpenLink {
        OpenLink {
            incident: IncidentId(incident),
            alarm_arn: arn.into(),
            route: route.into(),
            last_alarm_at: t(at),
        }
    }

    fn join(incident: i64, reason: JoinReason) -> Decision {
        Decision::Join {
            incident: IncidentId(incident),
            reason,
        }
    }

    #[test]
    fn decisions() {
        let w = Duration::minutes(30);
        let open = vec![
            link(1, "arn:a", "web", 0),
            link(1, "arn:b", "web", 10),
            link(2, "arn:c", "db", 0),
            link(3, "arn:d", "db", 50),
        ];
        let cases = [
            // The same alarm again, long after: still the same incident.
            ("arn:a", "web", 500, join(1, JoinReason::SameAlarm)),
            // Another alarm on a route with recent activity.
            ("arn:x", "web", 35, join(1, JoinReason::SameRoute)),
            // The window counts from the route's latest alarm (arn:b at 10), not the first.
            ("arn:x", "web", 41, Decision::Open),
            // Two incidents on the route: the most recently active one within the window.
            ("arn:y", "db", 25, join(3, JoinReason::SameRoute)),
            // Only incident 2's alarm (at 0) is within the window of minute 5.
            ("arn:y", "db", 5, join(2, JoinReason::SameRoute)),
            ("arn:y", "db", -40, Decision::Open),
            // Nothing open on the route.
            ("arn:z", "queue", 0, Decision::Open),
        ];
        for (arn, route, at, want) in cases {
            assert_eq!(
                correlate(arn, route, t(at), w, &open),
                want,
                "{arn} {route} {at}"
            );
        }
        assert_eq!(correlate("arn:a", "web", t(0), w, &[]), Decision::Open);
    }

    #[test]
    fn a_storm_on_one_route_keeps_joining_as_the_window_slides() {
        let w = Duration::minutes(5);
        let mut open = vec![link(7, "arn:0", "web", 0)];
        for i in 1..200 {
            let arn = format!("arn:{i}");
            let d = correlate(&arn, "web", t(i), w, &open);
            assert_eq!(d, join(7, JoinReason::SameRoute), "alarm {i}");
            open.push(link(7, &arn, "web", i));
        }
    }
}
