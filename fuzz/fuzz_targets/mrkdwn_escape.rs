//! Escaping into Slack mrkdwn: no `<`/`>` survives, the entities decode back to the input,
//! the inline form has no line breaks, and truncation never exceeds its budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warroom::slack::mrkdwn::{escape, escape_inline, truncate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let escaped = escape(text);
    assert!(!escaped.contains('<') && !escaped.contains('>'));
    let back = escaped
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    assert_eq!(back, text);
    let inline = escape_inline(text);
    assert!(!inline.contains('<') && !inline.contains('\n') && !inline.contains('\r'));
    let budget = data.first().map_or(0, |b| usize::from(*b));
    let cut = truncate(text, budget);
    assert!(cut.chars().count() <= budget);
    assert!(escape(&cut).chars().all(|c| c != '<'));
});
