//! Incident channel names: `inc-YYYYMMDD-<slug>` (drills: `drill-YYYYMMDD-<slug>`), within
//! Slack's naming rules (lowercase, at most 80 characters, only `a-z 0-9 - _`).

use chrono::{DateTime, Datelike, Utc};

/// Slack's maximum channel name length.
pub const MAX_LEN: usize = 80;

/// The slug used when the title has no ASCII letters or digits at all.
const FALLBACK_SLUG: &str = "incident";

/// `inc-20261121-db-connection-exhaustion` from the open time (UTC date) and title.
/// The slug lowercases ASCII letters and digits, folds every other run of characters
/// (spaces, punctuation, non-ASCII) into a single `-`, trims `-` at both ends, and is cut
/// (at a `-` boundary when possible) so the whole name is at most [`MAX_LEN`]. An empty slug
/// becomes `incident`.
pub fn channel_name(opened_at: DateTime<Utc>, title: &str) -> String {
    named("inc", opened_at, title)
}

/// `inc-20261121-private` for a private incident: the name of a private channel still
/// shows in places (invitations, links shared by mistake), so it never carries the title.
/// A second private incident on the same day gets `-2`, … from the `name_taken` retry.
pub fn private_channel_name(opened_at: DateTime<Utc>) -> String {
    named("inc", opened_at, "private")
}

/// `drill-20261121-checkout` for a drill on the `checkout` route: the same rules as
/// [`channel_name`], with the `drill-` prefix so nobody mistakes the rehearsal's channel
/// for a real war room.
pub fn drill_channel_name(opened_at: DateTime<Utc>, route: &str) -> String {
    named("drill", opened_at, route)
}

fn named(kind: &str, opened_at: DateTime<Utc>, title: &str) -> String {
    let date = opened_at.date_naive();
    let prefix = format!(
        "{kind}-{:04}{:02}{:02}-",
        date.year(),
        date.month(),
        date.day()
    );
    let slug = slugify(title);
    let slug = cut_slug(&slug, MAX_LEN.saturating_sub(prefix.len()));
    let slug = if slug.is_empty() { FALLBACK_SLUG } else { slug };
    let name = format!("{prefix}{slug}");
    debug_assert!(is_valid(&name), "{name}");
    name
}

/// Lowercase ASCII alphanumerics; every run of anything else becomes one `-`; no `-` at
/// either end. The result is pure ASCII.
fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    let mut pending_dash = false;
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    slug
}

/// Cut an ASCII slug to at most `max` bytes, preferring to cut at a `-` so no word is
/// split, and never leaving a trailing `-`.
fn cut_slug(slug: &str, max: usize) -> &str {
    if slug.len() <= max {
        return slug;
    }
    // The slug is ASCII, so every byte index is a char boundary; `get` keeps it panic-free.
    let head = slug.get(..max).unwrap_or_default();
    let next_is_dash = slug.as_bytes().get(max) == Some(&b'-');
    let cut = if next_is_dash {
        head
    } else {
        match head.rfind('-') {
            Some(i) if i > 0 => &head[..i],
            _ => head,
        }
    };
    cut.trim_end_matches('-')
}

/// The name to try after `name_taken`: `base-2`, `base-3`, … (`attempt` starts at 2),
/// cutting `base` so the result is still at most [`MAX_LEN`] and never ends in `--`.
/// (Trailing `-` are trimmed from the cut base, so there is never a `--` before the
/// number; an empty base becomes `incident`.)
pub fn with_suffix(base: &str, attempt: u32) -> String {
    let suffix = format!("-{attempt}");
    let room = MAX_LEN.saturating_sub(suffix.len());
    let cut_at = base.char_indices().nth(room).map_or(base.len(), |(i, _)| i);
    let head = base.get(..cut_at).unwrap_or(base).trim_end_matches('-');
    let head = if head.is_empty() { FALLBACK_SLUG } else { head };
    format!("{head}{suffix}")
}

/// Whether `name` obeys Slack's rules (used by tests and as a debug assertion):
/// 1..=80 characters, each one of `a-z`, `0-9`, `-`, `_`.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 23, 59, 59).unwrap()
    }

    #[test]
    fn private_channel_names_carry_no_title() {
        assert_eq!(private_channel_name(day()), "inc-20261121-private");
        assert!(is_valid(&private_channel_name(day())));
    }

    #[test]
    fn drills_have_their_own_prefix_within_the_limit() {
        assert_eq!(
            drill_channel_name(day(), "Checkout API"),
            "drill-20261121-checkout-api"
        );
        let long = drill_channel_name(day(), &"very long route name ".repeat(10));
        assert!(is_valid(&long), "{long}");
        assert!(long.starts_with("drill-20261121-very-long"), "{long}");
        assert_eq!(drill_channel_name(day(), "!!!"), "drill-20261121-incident");
    }

    #[test]
    fn date_prefix_uses_the_utc_date() {
        assert_eq!(
            channel_name(day(), "DB connection exhaustion"),
            "inc-20261121-db-connection-exhaustion"
        );
        let jan = Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap();
        assert_eq!(channel_name(jan, "x"), "inc-20270102-x");
    }

    #[test]
    fn slugging_table() {
        let cases = [
            ("Checkout errors", "checkout-errors"),
            ("  Checkout   errors  ", "checkout-errors"),
            ("DB down!!!", "db-down"),
            ("--already-dashed--", "already-dashed"),
            ("API 5xx: us-east-1 (prod)", "api-5xx-us-east-1-prod"),
            ("snake_case_title", "snake-case-title"),
            ("Café déjà vu", "caf-d-j-vu"),
            ("Paiements échoués à Zürich", "paiements-chou-s-z-rich"),
            ("🔥 fire 🔥 in prod 🚒", "fire-in-prod"),
            ("👨‍👩‍👧 family", "family"),
            ("<!channel> everyone look", "channel-everyone-look"),
            ("a\tb\nc", "a-b-c"),
            ("ＡＢＣ fullwidth", "fullwidth"),
            ("123", "123"),
            ("", "incident"),
            ("   ", "incident"),
            ("!!!", "incident"),
            ("🔥🔥🔥", "incident"),
            ("数据库宕机", "incident"),
            ("\u{202E}RTL override", "rtl-override"),
        ];
        for (title, slug) in cases {
            let name = channel_name(day(), title);
            assert_eq!(name, format!("inc-20261121-{slug}"), "{title:?}");
            assert!(is_valid(&name), "{name}");
        }
    }

    #[test]
    fn long_titles_are_cut_at_a_dash_to_80_chars() {
        let title = "Elevated error rates on the checkout service after the payment provider \
                     rotated certificates and the retry storm exhausted the database pool";
        let name = channel_name(day(), title);
        assert!(name.len() <= MAX_LEN, "{} {name}", name.len());
        assert!(is_valid(&name));
        assert!(!name.ends_with('-'));
        assert!(name.starts_with("inc-20261121-elevated-error-rates"));
        // Cut at a word boundary: the name is a prefix of the full slug followed by '-'.
        let full = format!("inc-20261121-{}", slugify(title));
        assert!(full.starts_with(&format!("{name}-")), "{name}");
    }

    #[test]
    fn cut_exactly_at_a_word_end_keeps_the_word() {
        // 67 chars of slug room: a 67-char word then more words fits exactly.
        let word = "a".repeat(67);
        let name = channel_name(day(), &format!("{word} more words"));
        assert_eq!(name, format!("inc-20261121-{word}"));
        assert_eq!(name.len(), MAX_LEN);
    }

    #[test]
    fn one_huge_word_is_hard_cut() {
        let name = channel_name(day(), &"x".repeat(500));
        assert_eq!(name.len(), MAX_LEN);
        assert!(is_valid(&name));
        assert_eq!(name, format!("inc-20261121-{}", "x".repeat(67)));
    }

    #[test]
    fn never_ends_with_dash_for_any_length() {
        for n in 0..200 {
            let title: String = (0..n).map(|i| if i % 3 == 2 { ' ' } else { 'q' }).collect();
            let name = channel_name(day(), &title);
            assert!(is_valid(&name), "{name}");
            assert!(!name.ends_with('-'), "{name}");
            assert!(!name.contains("--"), "{name}");
        }
        let mixed = "é".repeat(100) + &"b-".repeat(100);
        let name = channel_name(day(), &mixed);
        assert!(is_valid(&name) && !name.ends_with('-'), "{name}");
    }

    #[test]
    fn with_suffix_appends_the_attempt() {
        assert_eq!(
            with_suffix("inc-20261121-db-down", 2),
            "inc-20261121-db-down-2"
        );
        assert_eq!(
            with_suffix("inc-20261121-db-down", 3),
            "inc-20261121-db-down-3"
        );
        assert_eq!(
            with_suffix("inc-20261121-db-down", 10),
            "inc-20261121-db-down-10"
        );
        assert_eq!(with_suffix("", 2), "incident-2");
        assert_eq!(with_suffix("---", 2), "incident-2");
    }

    #[test]
    fn with_suffix_at_the_length_limit() {
        let base = format!("inc-20261121-{}", "x".repeat(67));
        assert_eq!(base.len(), MAX_LEN);
        let two = with_suffix(&base, 2);
        assert_eq!(two.len(), MAX_LEN);
        assert!(two.ends_with("x-2"), "{two}");
        assert!(is_valid(&two));
        let hundred = with_suffix(&base, 100);
        assert_eq!(hundred.len(), MAX_LEN);
        assert!(hundred.ends_with("x-100"));
        assert!(is_valid(&hundred));

        // The cut lands right after a '-': it is trimmed, so no "--2".
        let base = format!("{}-abc", "x".repeat(77));
        let name = with_suffix(&base, 2);
        assert_eq!(name, format!("{}-2", "x".repeat(77)));
        assert!(!name.contains("--"));

        // Whatever the base length, the result fits and has no "--".
        for n in 0..100 {
            let base = format!("inc-20261121-{}", "ab-".repeat(n));
            let base = base.trim_end_matches('-');
            for attempt in [2, 9, 10, 999, u32::MAX] {
                let name = with_suffix(base, attempt);
                assert!(name.chars().count() <= MAX_LEN, "{name}");
                assert!(!name.contains("--"), "{name}");
                assert!(name.ends_with(&format!("-{attempt}")), "{name}");
            }
        }
    }

    #[test]
    fn with_suffix_never_splits_a_char() {
        let base = "é".repeat(100);
        let name = with_suffix(&base, 2);
        assert_eq!(name.chars().count(), MAX_LEN);
        assert!(name.ends_with("é-2"));
    }

    #[test]
    fn is_valid_rules() {
        assert!(is_valid("inc-20261121-db-down"));
        assert!(is_valid("a"));
        assert!(is_valid("with_underscore-and-123"));
        assert!(is_valid(&"a".repeat(80)));
        assert!(!is_valid(&"a".repeat(81)));
        assert!(!is_valid(""));
        assert!(!is_valid("Upper"));
        assert!(!is_valid("has space"));
        assert!(!is_valid("dot.name"));
        assert!(!is_valid("café"));
        assert!(!is_valid("#general"));
    }
}
