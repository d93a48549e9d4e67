//! Time helpers shared by the domain: backdating and human durations.

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};

/// The UTC instant for a `note at HH:MM`: today at that time, or yesterday when that
/// would be in the future relative to `now`. A time equal to `now` is today.
pub fn backdate(now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let today = now.date_naive().and_time(at).and_utc();
    if today > now {
        today
            .checked_sub_signed(TimeDelta::days(1))
            .unwrap_or(today)
    } else {
        today
    }
}

/// `0m`, `45m`, `1h 25m`, `2d 3h 4m`: minutes resolution, seconds dropped; negative
/// durations are rendered as `0m`.
///
/// Rule: the largest non-zero unit (days, hours, minutes) comes first and every smaller
/// unit follows, zeros included, so `26h` is `1d 2h 0m` and `1h` is `1h 0m`. Days are
/// the largest unit (no weeks).
pub fn format_duration(d: chrono::Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, mins) = (minutes / (24 * 60), (minutes / 60) % 24, minutes % 60);
    if days > 0 {
        format!("{days}d {hours}h {mins}m")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else {
        format!("{mins}m")
    }
}

/// Minutes for people: `4m`, `1.5m`, `1h 25m`, `2d 3h 0m`; `–` when not measured.
pub fn human_minutes(minutes: Option<f64>) -> String {
    match minutes {
        None => "–".to_string(),
        Some(m) if m < 10.0 && m.fract() != 0.0 => format!("{m:.1}m"),
        Some(m) => format_duration(chrono::Duration::seconds((m * 60.0).round() as i64)),
    }
}

/// Parse a Slack message timestamp (`"1732150000.000100"`) into UTC.
pub fn ts_to_time(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let micros: u32 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    DateTime::from_timestamp(secs, micros * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn backdate_same_day_when_in_the_past() {
        let now = utc(2026, 11, 21, 14, 5, 30);
        assert_eq!(backdate(now, hm(13, 50)), utc(2026, 11, 21, 13, 50, 0));
        assert_eq!(backdate(now, hm(0, 0)), utc(2026, 11, 21, 0, 0, 0));
        assert_eq!(backdate(now, hm(14, 5)), utc(2026, 11, 21, 14, 5, 0));
    }

    #[test]
    fn backdate_previous_day_when_in_the_future() {
        let now = utc(2026, 11, 21, 0, 10, 0);
        assert_eq!(backdate(now, hm(23, 55)), utc(2026, 11, 20, 23, 55, 0));
        assert_eq!(backdate(now, hm(0, 11)), utc(2026, 11, 20, 0, 11, 0));
        // Across a month and a year boundary.
        let now = utc(2027, 1, 1, 0, 1, 0);
        assert_eq!(backdate(now, hm(23, 59)), utc(2026, 12, 31, 23, 59, 0));
        // Across a leap day.
        let now = utc(2028, 3, 1, 8, 0, 0);
        assert_eq!(backdate(now, hm(9, 0)), utc(2028, 2, 29, 9, 0, 0));
    }

    #[test]
    fn backdate_exactly_now_is_today() {
        let now = utc(2026, 11, 21, 13, 50, 0);
        assert_eq!(backdate(now, hm(13, 50)), now);
        // One second later than `now` would be the future: yesterday.
        let at = NaiveTime::from_hms_opt(13, 50, 1).unwrap();
        assert_eq!(backdate(now, at), utc(2026, 11, 20, 13, 50, 1));
    }

    #[test]
    fn format_duration_table() {
        let cases = [
            (TimeDelta::zero(), "0m"),
            (TimeDelta::seconds(59), "0m"),
            (TimeDelta::seconds(60), "1m"),
            (TimeDelta::seconds(119), "1m"),
            (TimeDelta::minutes(45), "45m"),
            (TimeDelta::minutes(59) + TimeDelta::seconds(59), "59m"),
            (TimeDelta::minutes(60), "1h 0m"),
            (TimeDelta::minutes(85), "1h 25m"),
            (TimeDelta::hours(23) + TimeDelta::minutes(59), "23h 59m"),
            (TimeDelta::hours(24), "1d 0h 0m"),
            (TimeDelta::hours(26), "1d 2h 0m"),
            (
                TimeDelta::days(2) + TimeDelta::hours(3) + TimeDelta::minutes(4),
                "2d 3h 4m",
            ),
            (TimeDelta::days(400) + TimeDelta::minutes(1), "400d 0h 1m"),
            (TimeDelta::seconds(-1), "0m"),
            (TimeDelta::hours(-5), "0m"),
        ];
        for (d, expected) in cases {
            assert_eq!(format_duration(d), expected, "{d:?}");
        }
    }

    #[test]
    fn format_duration_extremes_do_not_panic() {
        assert_eq!(format_duration(TimeDelta::MIN), "0m");
        assert!(format_duration(TimeDelta::MAX).ends_with('m'));
    }

    #[test]
    fn human_minutes_reads_well() {
        assert_eq!(human_minutes(None), "–");
        assert_eq!(human_minutes(Some(4.0)), "4m");
        assert_eq!(human_minutes(Some(1.5)), "1.5m");
        assert_eq!(human_minutes(Some(85.0)), "1h 25m");
    }

    #[test]
    fn slack_ts_parses_to_utc() {
        let t = ts_to_time("1732150000.000100").unwrap();
        assert_eq!(t.timestamp(), 1732150000);
        assert_eq!(t.timestamp_subsec_micros(), 100);
        assert!(ts_to_time("nonsense").is_none());
        assert_eq!(ts_to_time("1732150000").unwrap().timestamp(), 1732150000);
    }
}
