//! Text for the postmortem: Slack's message markup turned into plain words, and escaping
//! for Markdown so that what people typed can never break a table, a heading or a list.

/// Escape `text` for any inline Markdown position: a table cell, a heading, a list item or
/// a paragraph. Used as the Markdown templates' autoescape function, so every `{{ value }}`
/// goes through it.
///
/// - Characters that start Markdown or HTML constructs (`\` `` ` `` `*` `_` `[` `]` `<`
///   `>` `#` `|` `~` `&`) get a backslash.
/// - Line breaks become `<br>` (understood in GFM table cells and list items), so no value
///   can start a new block.
/// - Leading whitespace is dropped and a leading `-`, `+`, `=` or `1.` is escaped, in case a
///   template puts a value at the start of a line.
pub fn escape_markdown(text: &str) -> String {
    let text = text.trim_start();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    if text.starts_with(['-', '+', '=']) {
        out.push('\\');
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let mut chars = text.chars().peekable();
    let mut index = 0;
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')'
                if digits > 0
                    && index == digits
                    && chars.peek().is_none_or(|n| n.is_whitespace()) =>
            {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
        index += c.len_utf8();
    }
    out
}

/// Slack message text as a person reads it: `<@U1>` → `@U1`, `<@U1|ann>` → `@ann`,
/// `<#C1|ops>` → `#ops`, `<!here>` → `@here`, `<https://x|docs>` → `docs (https://x)`,
/// `<!date^…|fallback>` → fallback, and the `&amp;` `&lt;` `&gt;` entities back to
/// characters. Only for text that came from Slack events; command text is already plain.
pub fn slack_to_plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..start]));
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            out.push_str(&decode_entities(&rest[start..]));
            rest = "";
            break;
        };
        out.push_str(&plain_token(&after[..end]));
        rest = &after[end + 1..];
    }
    out.push_str(&decode_entities(rest));
    out
}

/// One `<…>` token of Slack markup, without its brackets.
fn plain_token(inner: &str) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(decode_entities(l))),
        None => (inner, None),
    };
    match (target.chars().next(), label) {
        (Some('@'), Some(label)) => format!("@{}", label.trim_start_matches('@')),
        (Some('#'), Some(label)) => format!("#{}", label.trim_start_matches('#')),
        (Some('@' | '#'), None) => target.to_string(),
        (Some('!'), Some(label)) if target.starts_with("!date") => label,
        (Some('!'), Some(label)) => label,
        (Some('!'), None) => format!("@{}", &target[1..]),
        (_, Some(label)) => format!("{label} ({})", decode_entities(target)),
        (_, None) => decode_entities(target),
    }
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_specials_are_escaped() {
        let cases = [
            ("plain words, 1h 25m", "plain words, 1h 25m"),
            ("a | b", "a \\| b"),
            ("`rm -rf`", "\\`rm -rf\\`"),
            ("# not a heading", "\\# not a heading"),
            ("see #4", "see \\#4"),
            ("*bold* _it_ ~s~", "\\*bold\\* \\_it\\_ \\~s\\~"),
            ("[x](http://evil)", "\\[x\\](http://evil)"),
            ("<script>&amp;", "\\<script\\>\\&amp;"),
            ("back\\slash", "back\\\\slash"),
            (
                "line one\nline two\r\nthree\rfour",
                "line one<br>line two<br>three<br>four",
            ),
            ("- not a list", "\\- not a list"),
            ("+ x", "\\+ x"),
            ("=== x", "\\=== x"),
            ("1. not a list", "1\\. not a list"),
            ("12) not a list", "12\\) not a list"),
            ("1.5 seconds", "1.5 seconds"),
            ("1.", "1\\."),
            ("v1.2", "v1.2"),
            ("    code block", "code block"),
            ("🔥 émoji ✅", "🔥 émoji ✅"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(escape_markdown(input), expected, "{input:?}");
        }
    }

    #[test]
    fn escaped_text_never_spans_lines_or_opens_a_cell() {
        let nasty = "| a | b |\n|---|---|\n# H\n```\ncode\n```";
        let out = escape_markdown(nasty);
        assert!(!out.contains('\n'));
        // Every pipe is escaped.
        for (i, _) in out.match_indices('|') {
            assert_eq!(&out[i - 1..i], "\\", "{out}");
        }
    }

    #[test]
    fn slack_markup_reads_as_plain_text() {
        let cases = [
            ("hi <@U0BOB>", "hi @U0BOB"),
            ("hi <@U0BOB|bob>", "hi @bob"),
            ("in <#C123|ops> and <#C9>", "in #ops and #C9"),
            ("<!here> <!channel>", "@here @channel"),
            ("<!subteam^S1|@oncall> look", "@oncall look"),
            (
                "see <https://x.io/a?b=1&amp;c=2|the graph>",
                "see the graph (https://x.io/a?b=1&c=2)",
            ),
            ("<https://x.io>", "https://x.io"),
            ("at <!date^1700000000^{time}|13:50 UTC>", "at 13:50 UTC"),
            ("5 &lt; 6 &amp;&amp; 7 &gt; 2", "5 < 6 && 7 > 2"),
            ("typed &lt;!channel&gt;", "typed <!channel>"),
            ("unclosed <@U1", "unclosed <@U1"),
            ("no markup", "no markup"),
        ];
        for (input, expected) in cases {
            assert_eq!(slack_to_plain(input), expected, "{input:?}");
        }
    }
}
