//! Plain-text helpers shared by every layer: cutting text to a length and percent-encoding
//! a URL component. Pure functions on `&str`; nothing here knows where the text goes.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Cut `text` to at most `max_chars` characters (not bytes; never splitting a char), adding
/// `…` when cut. Apply it *before* escaping (Slack mrkdwn, Markdown) so entities are never
/// split.
///
/// The `…` counts towards `max_chars`. Whitespace and dangling zero-width joiners before
/// the `…` are dropped, so the ellipsis never glues to half an emoji sequence or a space.
pub fn truncate(text: &str, max_chars: usize) -> String {
    // No char at index `max_chars`: the text already fits.
    if text.chars().nth(max_chars).is_none() {
        return text.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let keep = max_chars - 1;
    let cut = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let head = text
        .get(..cut)
        .unwrap_or_default()
        .trim_end_matches(|c: char| c.is_whitespace() || c == '\u{200D}');
    format!("{head}…")
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encode everything but unreserved characters (RFC 3986), byte by byte of the
/// UTF-8, with upper-case hex, so the result can sit inside a Slack link (`<url|text>`), a
/// query value and a URL fragment safely. The encoder is the `url` crate's own
/// (`percent-encoding`).
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_chars_not_bytes() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello!", 5), "hell…");
        assert_eq!(truncate("", 3), "");
        assert_eq!(truncate("", 0), "");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate("abc", 1), "…");
        assert_eq!(truncate("héllo wörld", 11), "héllo wörld");
        assert_eq!(truncate("héllo wörld", 8), "héllo w…");
        // Whitespace before the ellipsis is dropped.
        assert_eq!(truncate("hello world", 7), "hello…");
    }

    #[test]
    fn truncate_never_cuts_a_multibyte_char() {
        let text = "🔥🔥🔥🔥🔥";
        assert_eq!(truncate(text, 5), text);
        assert_eq!(truncate(text, 4), "🔥🔥🔥…");
        assert_eq!(truncate("数据库宕机了", 3), "数据…");
        for max in 0..20 {
            let out = truncate("a🔥é数\u{200F}b👨‍👩‍👧c", max);
            assert!(out.chars().count() <= max, "{max}: {out}");
        }
        // A ZWJ sequence cut in the middle does not end on a dangling joiner.
        let family = "👨‍👩‍👧";
        let out = truncate(family, 3);
        assert_eq!(out, "👨…");
    }

    #[test]
    fn percent_encode_keeps_only_unreserved() {
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(
            percent_encode("db cpu/high|x>y#1+2*3&é"),
            "db%20cpu%2Fhigh%7Cx%3Ey%231%2B2%2A3%26%C3%A9"
        );
        assert_eq!(percent_encode(""), "");
    }
}
