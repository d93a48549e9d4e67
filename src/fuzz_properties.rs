//! The properties the fuzz targets in `fuzz/` check, here so that the main crate's tests can
//! run them too: `tests/fuzz_seeds.rs` replays every seed (and every crash artifact) under
//! `fuzz/`, so a change that breaks a property fails `cargo test`, not only a fuzz run.
//!
//! Each function takes the fuzzer's bytes and panics when the property does not hold, as a
//! fuzz target must.

use crate::slack::inbound::Inbound;
use crate::slack::limits::{cut_mrkdwn, length, CUT_NOTE};
use crate::slack::mrkdwn::{escape, escape_inline, truncate};

/// The `/incident` grammar on arbitrary text: never a panic, and a usage error echoes the
/// text escaped (no `<` reaches Slack).
pub fn command_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = crate::domain::command::parse(text) {
        let shown = crate::slack::render::usage_error(&e);
        assert!(
            !shown.text.contains('<'),
            "unescaped usage error: {:?}",
            shown.text
        );
    }
}

/// Event and interaction decoding on arbitrary JSON: never a panic, and whatever is taken
/// survives the inbox's JSON round trip (it is stored as JSON and read back by the worker).
pub fn translate_event(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let at = chrono::DateTime::from_timestamp(1_763_700_000, 0).unwrap_or_default();
    let event = value.get("event").unwrap_or(&value);
    let mut taken: Vec<Inbound> = Vec::new();
    taken.extend(crate::slack::socket::translate_event(event, "U0WARBOT", at));
    let payload = value.get("payload").unwrap_or(&value);
    taken.extend(
        crate::slack::socket::translate_interaction(payload, at)
            .into_iter()
            .map(|(_, inbound)| inbound),
    );
    for inbound in taken {
        let stored = match serde_json::to_string(&inbound) {
            Ok(s) => s,
            Err(e) => panic!("an inbound does not serialise: {e}"),
        };
        match serde_json::from_str::<Inbound>(&stored) {
            Ok(back) => assert_eq!(back, inbound),
            Err(e) => panic!("the inbox row does not read back: {e}"),
        }
    }
}

/// Escaping into Slack mrkdwn: no `<`/`>` survives, the entities decode back to the input,
/// the inline form has no line breaks, truncation never exceeds its budget, and cutting
/// escaped text to Slack's limits stays within them and keeps every entity whole.
pub fn mrkdwn_escape(data: &[u8]) {
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
    // Slack's limits, after escaping: a budget past the note, from the second byte.
    let max = length(CUT_NOTE) + data.get(1).map_or(0, |b| usize::from(*b) * 8);
    let fitted = cut_mrkdwn(&escaped, max);
    assert!(length(&fitted) <= max, "{} > {max}", length(&fitted));
    let head = fitted.strip_suffix(CUT_NOTE).unwrap_or(&fitted);
    assert!(escaped.starts_with(head), "a cut keeps a prefix");
    for (i, _) in head.match_indices('&') {
        let rest = &head[i..];
        assert!(
            rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"),
            "an entity was cut: {rest:?}"
        );
    }
}
