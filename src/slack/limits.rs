//! Slack's published Block Kit limits, measured on what is sent: after escaping, where one
//! `<` typed by a person is four characters (`&lt;`). Every message, App Home and modal
//! warroom sends passes [`fit_message`] or [`fit_view`] on its way out (`slack::web`), so a
//! renderer cannot produce something Slack refuses.
//!
//! Text that does not fit is cut on a character boundary, never inside an entity (`&lt;`)
//! or a `<…>` mention, channel link, date or link, and ends with [`CUT_NOTE`], saying where
//! the whole text is. Lengths are counted in UTF-16 code units, which is never less than
//! the characters Slack counts, so what fits here fits there.
//!
//! Limits (Slack's Block Kit reference): section text 3,000; at most 10 fields of 2,000;
//! header 150; 50 blocks in a message, 100 in a modal or Home tab; a plain-text input's
//! `max_length` at most 3,000; a message's `text` 40,000.

use serde_json::Value;

use super::outgoing::Outgoing;

/// A message's top-level `text`.
pub const MESSAGE_TEXT: usize = 40_000;
/// A section's `text`.
pub const SECTION_TEXT: usize = 3_000;
/// Fields in one section.
pub const SECTION_FIELDS: usize = 10;
/// One field's text.
pub const FIELD_TEXT: usize = 2_000;
/// A header block's text.
pub const HEADER_TEXT: usize = 150;
/// Any other text object (context elements, input labels and hints).
pub const TEXT_OBJECT: usize = 3_000;
/// Elements of a context block.
pub const CONTEXT_ELEMENTS: usize = 10;
/// Blocks in a message.
pub const MESSAGE_BLOCKS: usize = 50;
/// Blocks in a modal or the Home tab.
pub const VIEW_BLOCKS: usize = 100;
/// A plain-text input's `max_length` (and so its `initial_value`).
pub const INPUT_MAX_LENGTH: usize = 3_000;

/// What ends a cut text: the timeline keeps everything people and AWS wrote.
pub const CUT_NOTE: &str = " … _(cut: the full text is on the timeline)_";
/// What ends a cut plain text (headers, labels: no formatting there).
const CUT_PLAIN: &str = "…";

/// Slack's length of `text`, counted so that it is never less than Slack's own count.
pub fn length(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `msg` within the limits of a message; unchanged when it fits.
pub fn fit_message(msg: &Outgoing) -> Outgoing {
    let text = cut_mrkdwn(&msg.text, MESSAGE_TEXT);
    let blocks = msg.blocks.clone().map(|b| fit_blocks(b, MESSAGE_BLOCKS));
    Outgoing { text, blocks }
}

/// A view (`{"type": "modal"|"home", "blocks": […], …}`) or a bare list of blocks, within
/// the limits of a view; unchanged when it fits.
pub fn fit_view(view: Value) -> Value {
    match view {
        Value::Array(_) => fit_blocks(view, VIEW_BLOCKS),
        Value::Object(mut map) => {
            if let Some(blocks) = map.remove("blocks") {
                map.insert("blocks".into(), fit_blocks(blocks, VIEW_BLOCKS));
            }
            Value::Object(map)
        }
        other => other,
    }
}

/// Every block within its limits, and at most `max` of them: the last one kept says that
/// the rest was cut.
fn fit_blocks(blocks: Value, max: usize) -> Value {
    let Value::Array(blocks) = blocks else {
        return blocks;
    };
    let total = blocks.len();
    let mut out: Vec<Value> = blocks.into_iter().map(fit_block).collect();
    if total > max {
        out.truncate(max - 1);
        out.push(serde_json::json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!(
                "_{} more block(s) cut: the full text is on the timeline_",
                total - (max - 1)
            )}],
        }));
    }
    Value::Array(out)
}

fn fit_block(mut block: Value) -> Value {
    let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "section" => {
            fit_text_object(block.get_mut("text"), SECTION_TEXT);
            if let Some(Value::Array(fields)) = block.get_mut("fields") {
                fields.truncate(SECTION_FIELDS);
                for f in fields.iter_mut() {
                    fit_text_object(Some(f), FIELD_TEXT);
                }
            }
        }
        "header" => fit_text_object(block.get_mut("text"), HEADER_TEXT),
        "context" => {
            if let Some(Value::Array(elements)) = block.get_mut("elements") {
                elements.truncate(CONTEXT_ELEMENTS);
                for e in elements.iter_mut() {
                    fit_text_object(Some(e), TEXT_OBJECT);
                }
            }
        }
        "input" => {
            fit_text_object(block.get_mut("label"), TEXT_OBJECT);
            fit_text_object(block.get_mut("hint"), TEXT_OBJECT);
            if let Some(element) = block.get_mut("element") {
                fit_input(element);
            }
        }
        _ => {}
    }
    block
}

/// A plain-text input: `max_length` at most Slack's, and an initial value that fits it.
fn fit_input(element: &mut Value) {
    if element.get("type").and_then(Value::as_str) != Some("plain_text_input") {
        return;
    }
    let max = element
        .get("max_length")
        .and_then(Value::as_u64)
        .map_or(INPUT_MAX_LENGTH, |m| {
            usize::try_from(m).map_or(INPUT_MAX_LENGTH, |m| m.min(INPUT_MAX_LENGTH))
        });
    if element.get("max_length").is_some() {
        element["max_length"] = max.into();
    }
    if let Some(Value::String(initial)) = element.get_mut("initial_value") {
        // Plain text: shown as typed, so no entities to respect.
        *initial = cut_plain(initial, max);
    }
}

/// A text object (`{"type": "mrkdwn"|"plain_text", "text": …}`) within `max`.
fn fit_text_object(object: Option<&mut Value>, max: usize) {
    let Some(object) = object else { return };
    let plain = object.get("type").and_then(Value::as_str) == Some("plain_text");
    if let Some(Value::String(text)) = object.get_mut("text") {
        *text = if plain {
            cut_plain(text, max)
        } else {
            cut_mrkdwn(text, max)
        };
    }
}

/// Plain text within `max`, ending with `…` when cut.
fn cut_plain(text: &str, max: usize) -> String {
    if length(text) <= max {
        return text.to_string();
    }
    let budget = max.saturating_sub(length(CUT_PLAIN));
    let cut = cut_point(text, budget, |_| true);
    format!("{}{CUT_PLAIN}", trim_cut(&text[..cut]))
}

/// Escaped mrkdwn within `max`, cut outside every entity and `<…>` sequence and ending
/// with [`CUT_NOTE`] when cut.
pub fn cut_mrkdwn(text: &str, max: usize) -> String {
    if length(text) <= max {
        return text.to_string();
    }
    let budget = max.saturating_sub(length(CUT_NOTE));
    let whole = whole_spans(text);
    let cut = cut_point(text, budget, |i| {
        !whole.iter().any(|&(start, end)| start < i && i < end)
    });
    format!("{}{CUT_NOTE}", trim_cut(&text[..cut]))
}

/// The byte ranges that must stay whole: `&…;` entities and `<…>` sequences.
fn whole_spans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'<' => text[i..].find('>').map(|n| i + n + 1),
            b'&' => text[i..]
                .char_indices()
                .take(10)
                .find(|(_, c)| *c == ';')
                .map(|(n, _)| i + n + 1),
            _ => None,
        };
        match end {
            Some(end) => {
                spans.push((i, end));
                i = end;
            }
            None => i += 1,
        }
    }
    spans
}

/// The largest char boundary at most `budget` UTF-16 units into `text` where `allowed`.
fn cut_point(text: &str, budget: usize, allowed: impl Fn(usize) -> bool) -> usize {
    let mut used = 0;
    let mut best = 0;
    for (i, c) in text.char_indices() {
        if used > budget {
            break;
        }
        if allowed(i) {
            best = i;
        }
        used += c.len_utf16();
    }
    if used <= budget && allowed(text.len()) {
        best = text.len();
    }
    best
}

/// Whitespace and dangling zero-width joiners are dropped before the note.
fn trim_cut(head: &str) -> &str {
    head.trim_end_matches(|c: char| c.is_whitespace() || c == '\u{200D}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::mrkdwn::escape;
    use serde_json::json;

    fn section(text: &str) -> Value {
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    }

    #[test]
    fn text_that_fits_is_left_alone() {
        let msg = Outgoing {
            text: "short".into(),
            blocks: Some(json!([section("a &lt; b")])),
        };
        let fitted = fit_message(&msg);
        assert_eq!(fitted.text, msg.text);
        assert_eq!(fitted.blocks, msg.blocks);
    }

    #[test]
    fn an_update_of_angle_brackets_is_measured_after_escaping_and_cut_whole() {
        // 2,800 `<` are 11,200 characters once escaped: four times the section limit.
        let body = escape(&"<".repeat(2_800));
        let fitted = fit_message(&Outgoing {
            text: body.clone(),
            blocks: Some(json!([section(&body)])),
        });
        let text = fitted.blocks.unwrap()[0]["text"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(length(&text) <= SECTION_TEXT, "{}", length(&text));
        assert!(text.ends_with(CUT_NOTE));
        let head = text.strip_suffix(CUT_NOTE).unwrap();
        assert!(!head.is_empty());
        assert_eq!(head.replace("&lt;", ""), "", "only whole entities: {head}");
        // The fallback text is under 40,000 and stays whole.
        assert_eq!(fitted.text, body);
    }

    #[test]
    fn a_cut_never_splits_a_mention_link_or_date() {
        let link = "<https://console.aws.amazon.com/support/home#/case/?displayId=1|case 1>";
        for pad in 0..120 {
            let text = format!(
                "{}{link} and <@U0ALICE> {}",
                "x".repeat(pad),
                "y".repeat(200)
            );
            let cut = cut_mrkdwn(&text, 150);
            assert!(length(&cut) <= 150, "{pad}: {}", length(&cut));
            let head = cut.strip_suffix(CUT_NOTE).unwrap();
            assert_eq!(
                head.matches('<').count(),
                head.matches('>').count(),
                "{pad}: {head}"
            );
        }
    }

    #[test]
    fn multibyte_and_joined_emoji_are_cut_on_boundaries() {
        let text = "👨‍👩‍👧".repeat(1_000);
        let cut = cut_mrkdwn(&text, 100);
        assert!(length(&cut) <= 100);
        let head = cut.strip_suffix(CUT_NOTE).unwrap();
        assert!(!head.ends_with('\u{200D}'), "{head:?}");
        let plain = cut_plain(&"数据".repeat(200), HEADER_TEXT);
        assert!(length(&plain) <= HEADER_TEXT);
        assert!(plain.ends_with('…'));
    }

    #[test]
    fn fields_headers_and_blocks_are_kept_within_their_limits() {
        let fields: Vec<Value> = (0..14)
            .map(|i| json!({"type": "mrkdwn", "text": format!("{i} {}", "&amp;".repeat(600))}))
            .collect();
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": "h".repeat(400)}}),
            json!({"type": "section", "fields": fields}),
        ];
        blocks.extend((0..80).map(|i| section(&format!("block {i}"))));
        let fitted = fit_message(&Outgoing {
            text: "x".repeat(50_000),
            blocks: Some(Value::Array(blocks.clone())),
        });
        assert!(length(&fitted.text) <= MESSAGE_TEXT);
        let out = fitted.blocks.unwrap();
        let out = out.as_array().unwrap();
        assert_eq!(out.len(), MESSAGE_BLOCKS);
        assert!(length(out[0]["text"]["text"].as_str().unwrap()) <= HEADER_TEXT);
        let fields = out[1]["fields"].as_array().unwrap();
        assert_eq!(fields.len(), SECTION_FIELDS);
        for f in fields {
            let t = f["text"].as_str().unwrap();
            assert!(length(t) <= FIELD_TEXT, "{}", length(t));
            assert!(t.strip_suffix(CUT_NOTE).unwrap().ends_with("&amp;"));
        }
        let last = out[MESSAGE_BLOCKS - 1]["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert!(last.contains("33 more block(s) cut"), "{last}");
        // A view keeps up to 100.
        let view = fit_view(json!({"type": "home", "blocks": blocks}));
        assert_eq!(view["blocks"].as_array().unwrap().len(), 82);
    }

    #[test]
    fn an_input_s_max_length_and_initial_value_fit_slack() {
        let view = json!({"type": "modal", "blocks": [{
            "type": "input",
            "label": {"type": "plain_text", "text": "Description"},
            "element": {
                "type": "plain_text_input",
                "max_length": 8_000,
                "initial_value": "z".repeat(5_000),
            },
        }]});
        let fitted = fit_view(view);
        let element = &fitted["blocks"][0]["element"];
        assert_eq!(element["max_length"], INPUT_MAX_LENGTH);
        assert!(length(element["initial_value"].as_str().unwrap()) <= INPUT_MAX_LENGTH);
    }

    #[test]
    fn fitting_twice_changes_nothing_more() {
        let msg = Outgoing {
            text: escape(&"<&>".repeat(20_000)),
            blocks: Some(json!([section(&escape(&"<b>".repeat(3_000)))])),
        };
        let once = fit_message(&msg);
        let twice = fit_message(&once);
        assert_eq!(once.text, twice.text);
        assert_eq!(once.blocks, twice.blocks);
    }
}
