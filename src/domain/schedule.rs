//! When periodic things are due: pure functions over a config and `now`.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A repeating schedule: every `every`, and/or at fixed local times of day in `tz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub every: Option<Duration>,
    pub at: Vec<NaiveTime>,
    pub tz: Tz,
}

impl Schedule {
    /// The first due time strictly after `after`: the earliest of `after + every` and the
    /// next fixed time of day. `None` when the schedule has neither.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let periodic = self.every.map(|e| after + e);
        let fixed = self.next_fixed_after(after);
        match (periodic, fixed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn next_fixed_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local_today = after.with_timezone(&self.tz).date_naive();
        // Today, tomorrow, and the day after (a DST gap can remove one local time).
        (0..3)
            .flat_map(|days| {
                let day = local_today + Duration::days(days);
                self.at.iter().filter_map(move |t| {
                    // An ambiguous local time (DST fall-back) takes its first occurrence; a
                    // skipped one (spring-forward) does not occur that day.
                    self.tz.from_local_datetime(&day.and_time(*t)).earliest()
                })
            })
            .map(|local| local.with_timezone(&Utc))
            .filter(|t| *t > after)
            .min()
    }
}

/// Once a week, on `weekday` at the local time `at` in `tz` (`[summary] weekly`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weekly {
    pub weekday: chrono::Weekday,
    pub at: NaiveTime,
    pub tz: Tz,
}

impl Weekly {
    /// Parse `mon 09:00` (a weekday, three letters or in full, any case, then HH:MM).
    pub fn parse(text: &str, tz: Tz) -> Result<Weekly, String> {
        let bad = || format!("\"{text}\" is not a weekday and a time; write e.g. \"mon 09:00\"");
        let (day, time) = text
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(bad)?;
        let weekday = day.parse::<chrono::Weekday>().map_err(|_| bad())?;
        let at = NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| bad())?;
        Ok(Weekly { weekday, at, tz })
    }

    /// The first due time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local_today = after.with_timezone(&self.tz).date_naive();
        // This week's and the next two: a DST gap can remove one local time.
        (0..22)
            .map(|days| local_today + Duration::days(days))
            .filter(|day| day.weekday() == self.weekday)
            .filter_map(|day| {
                self.tz
                    .from_local_datetime(&day.and_time(self.at))
                    .earliest()
            })
            .map(|local| local.with_timezone(&Utc))
            .find(|t| *t > after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hm(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    #[test]
    fn every_adds_the_period() {
        let s = Schedule {
            every: Some(Duration::hours(1)),
            at: vec![],
            tz: Tz::UTC,
        };
        assert_eq!(
            s.next_after(utc("2026-11-21T10:15:00Z")),
            Some(utc("2026-11-21T11:15:00Z"))
        );
    }

    #[test]
    fn fixed_times_are_local_to_the_zone() {
        let s = Schedule {
            every: None,
            at: vec![hm("09:00"), hm("17:00")],
            tz: chrono_tz::Europe::Berlin,
        };
        // 07:30 UTC is 08:30 in Berlin (CET, UTC+1): next is 09:00 Berlin = 08:00 UTC.
        assert_eq!(
            s.next_after(utc("2026-11-21T07:30:00Z")),
            Some(utc("2026-11-21T08:00:00Z"))
        );
        // Exactly at a due time: the next one, not the same one again.
        assert_eq!(
            s.next_after(utc("2026-11-21T08:00:00Z")),
            Some(utc("2026-11-21T16:00:00Z"))
        );
        // After the last one of the day: tomorrow's first.
        assert_eq!(
            s.next_after(utc("2026-11-21T18:00:00Z")),
            Some(utc("2026-11-22T08:00:00Z"))
        );
    }

    #[test]
    fn the_earliest_of_both_wins() {
        let s = Schedule {
            every: Some(Duration::hours(4)),
            at: vec![hm("09:00")],
            tz: Tz::UTC,
        };
        assert_eq!(
            s.next_after(utc("2026-11-21T08:00:00Z")),
            Some(utc("2026-11-21T09:00:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-11-21T09:00:00Z")),
            Some(utc("2026-11-21T13:00:00Z"))
        );
    }

    #[test]
    fn a_time_skipped_by_dst_moves_to_the_next_day() {
        // 2026-03-29: Berlin jumps from 02:00 to 03:00.
        let s = Schedule {
            every: None,
            at: vec![hm("02:30")],
            tz: chrono_tz::Europe::Berlin,
        };
        let next = s.next_after(utc("2026-03-28T23:00:00Z")).unwrap();
        assert_eq!(next, utc("2026-03-30T00:30:00Z"));
    }

    #[test]
    fn an_empty_schedule_is_never_due() {
        let s = Schedule {
            every: None,
            at: vec![],
            tz: Tz::UTC,
        };
        assert_eq!(s.next_after(utc("2026-11-21T08:00:00Z")), None);
    }

    #[test]
    fn weekly_is_the_next_such_weekday_at_the_local_time() {
        let w = Weekly::parse("mon 09:00", chrono_tz::Europe::Berlin).unwrap();
        assert_eq!(w.weekday, chrono::Weekday::Mon);
        // Thursday 2026-11-19: next Monday the 23rd, 09:00 Berlin (CET) = 08:00 UTC.
        assert_eq!(
            w.next_after(utc("2026-11-19T12:00:00Z")),
            Some(utc("2026-11-23T08:00:00Z"))
        );
        // Monday before nine: today; exactly at it: a week later.
        assert_eq!(
            w.next_after(utc("2026-11-23T07:59:00Z")),
            Some(utc("2026-11-23T08:00:00Z"))
        );
        assert_eq!(
            w.next_after(utc("2026-11-23T08:00:00Z")),
            Some(utc("2026-11-30T08:00:00Z"))
        );
        // Summer time: 09:00 Berlin (CEST) is 07:00 UTC.
        assert_eq!(
            w.next_after(utc("2026-06-01T00:00:00Z")),
            Some(utc("2026-06-01T07:00:00Z"))
        );
        assert!(Weekly::parse("Friday 17:30", Tz::UTC).is_ok());
        for bad in ["mon", "9:00 mon", "someday 09:00", "mon 9am", ""] {
            let err = Weekly::parse(bad, Tz::UTC).unwrap_err();
            assert!(err.contains("mon 09:00"), "{bad}: {err}");
        }
    }
}
