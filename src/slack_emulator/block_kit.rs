//! Slack's Block Kit limits, enforced the way Slack enforces them: a message that breaks
//! one is refused with `invalid_blocks` (and its `errors`, each naming the field by JSON
//! pointer), a modal or Home tab with `invalid_arguments`. Lengths are characters of the
//! JSON string as sent, so escaped text counts with its entities (`&lt;` is four).
//!
//! From Slack's Block Kit reference: section text 3,000 characters, at most 10 fields of
//! 2,000; header text 150; context at most 10 elements; actions at most 25 elements, a
//! button's text 75 and value 2,000; an input's label and hint 2,000, a plain-text input's
//! `max_length` 1 to 3,000 and its `initial_value` no longer than that; `block_id` and
//! `action_id` 255; 50 blocks in a message, 100 in a modal or the Home tab; a modal's title,
//! submit and close 24, its `private_metadata` 3,000.

use serde_json::Value;

/// Blocks in a message.
pub const MESSAGE_BLOCKS: usize = 50;
/// Blocks in a modal or the Home tab.
pub const VIEW_BLOCKS: usize = 100;

/// What is wrong, one line per problem, as Slack lists them in `errors`.
pub type Problems = Vec<String>;

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

struct Check {
    problems: Problems,
}

impl Check {
    fn max(&mut self, v: Option<&Value>, max: usize, pointer: &str) {
        if let Some(v) = v {
            let n = chars(v);
            if n > max {
                self.problems.push(format!(
                    "must be less than {} characters [json-pointer:{pointer}]",
                    max + 1
                ));
            }
        }
    }

    fn text_object(&mut self, v: Option<&Value>, max: usize, pointer: &str) {
        self.max(
            v.and_then(|t| t.get("text")),
            max,
            &format!("{pointer}/text"),
        );
    }

    fn count(&mut self, v: Option<&Value>, max: usize, pointer: &str) {
        if let Some(items) = v.and_then(Value::as_array) {
            if items.len() > max {
                self.problems.push(format!(
                    "must have at most {max} items [json-pointer:{pointer}]"
                ));
            }
        }
    }

    fn block(&mut self, b: &Value, at: &str) {
        self.max(b.get("block_id"), 255, &format!("{at}/block_id"));
        match b.get("type").and_then(Value::as_str).unwrap_or("") {
            "section" => {
                if b.get("text").is_none() && b.get("fields").is_none() {
                    self.problems
                        .push(format!("must provide text or fields [json-pointer:{at}]"));
                }
                self.text_object(b.get("text"), 3_000, &format!("{at}/text"));
                self.count(b.get("fields"), 10, &format!("{at}/fields"));
                for (i, f) in b
                    .get("fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    self.text_object(Some(f), 2_000, &format!("{at}/fields/{i}"));
                }
            }
            "header" => self.text_object(b.get("text"), 150, &format!("{at}/text")),
            "context" => {
                self.count(b.get("elements"), 10, &format!("{at}/elements"));
                for (i, e) in elements(b).enumerate() {
                    if e.get("text").is_some() {
                        self.text_object(Some(e), 3_000, &format!("{at}/elements/{i}"));
                    }
                }
            }
            "actions" => {
                self.count(b.get("elements"), 25, &format!("{at}/elements"));
                for (i, e) in elements(b).enumerate() {
                    let at = format!("{at}/elements/{i}");
                    self.max(e.get("action_id"), 255, &format!("{at}/action_id"));
                    if e.get("type").and_then(Value::as_str) == Some("button") {
                        self.text_object(e.get("text"), 75, &format!("{at}/text"));
                        self.max(e.get("value"), 2_000, &format!("{at}/value"));
                        self.max(e.get("url"), 3_000, &format!("{at}/url"));
                    }
                }
            }
            "input" => {
                self.text_object(b.get("label"), 2_000, &format!("{at}/label"));
                self.text_object(b.get("hint"), 2_000, &format!("{at}/hint"));
                if let Some(e) = b.get("element") {
                    self.input(e, &format!("{at}/element"));
                }
            }
            _ => {}
        }
    }

    fn input(&mut self, e: &Value, at: &str) {
        self.max(e.get("action_id"), 255, &format!("{at}/action_id"));
        if e.get("type").and_then(Value::as_str) != Some("plain_text_input") {
            return;
        }
        let max_length = e.get("max_length").and_then(Value::as_u64);
        if let Some(m) = max_length {
            if !(1..=3_000).contains(&m) {
                self.problems.push(format!(
                    "must be between 1 and 3000 [json-pointer:{at}/max_length]"
                ));
            }
        }
        let limit = max_length.map_or(3_000, |m| usize::try_from(m).unwrap_or(usize::MAX));
        self.max(
            e.get("initial_value"),
            limit.min(3_000),
            &format!("{at}/initial_value"),
        );
    }

    fn blocks(&mut self, blocks: &Value, max: usize) {
        let Some(list) = blocks.as_array() else {
            self.problems
                .push("must be an array [json-pointer:/blocks]".to_string());
            return;
        };
        if list.len() > max {
            self.problems.push(format!(
                "must have at most {max} items [json-pointer:/blocks]"
            ));
        }
        for (i, b) in list.iter().enumerate() {
            self.block(b, &format!("/blocks/{i}"));
        }
    }
}

fn elements(b: &Value) -> impl Iterator<Item = &Value> {
    b.get("elements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A message's blocks (`chat.postMessage`, `chat.postEphemeral`, `chat.update`, a
/// `response_url`): the problems, if any.
pub fn message_blocks(blocks: &Value) -> Result<(), Problems> {
    let mut c = Check {
        problems: Vec::new(),
    };
    c.blocks(blocks, MESSAGE_BLOCKS);
    if c.problems.is_empty() {
        Ok(())
    } else {
        Err(c.problems)
    }
}

/// A view (`views.open`, `views.update`, `views.publish`): the problems, if any.
pub fn view(view: &serde_json::Map<String, Value>) -> Result<(), Problems> {
    let mut c = Check {
        problems: Vec::new(),
    };
    if let Some(blocks) = view.get("blocks") {
        c.blocks(blocks, VIEW_BLOCKS);
    }
    for key in ["title", "submit", "close"] {
        c.text_object(view.get(key), 24, &format!("/view/{key}"));
    }
    c.max(
        view.get("private_metadata"),
        3_000,
        "/view/private_metadata",
    );
    c.max(view.get("callback_id"), 255, "/view/callback_id");
    if c.problems.is_empty() {
        Ok(())
    } else {
        Err(c.problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_section_over_3000_characters_after_escaping_is_refused() {
        let escaped = "&lt;".repeat(751); // 3,004 characters: 751 `<` typed
        let err = message_blocks(&json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": escaped}}
        ]))
        .unwrap_err();
        assert_eq!(
            err,
            ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
        );
        let fits = "&lt;".repeat(750);
        assert!(message_blocks(&json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": fits}}
        ]))
        .is_ok());
    }

    #[test]
    fn fields_headers_and_block_counts_are_checked() {
        let field = |n: usize| json!({"type": "mrkdwn", "text": "f".repeat(n)});
        let eleven: Vec<Value> = (0..11).map(|_| field(5)).collect();
        let err = message_blocks(&json!([
            {"type": "section", "fields": eleven},
            {"type": "section", "fields": [field(2_001)]},
            {"type": "header", "text": {"type": "plain_text", "text": "h".repeat(151)}},
            {"type": "section"},
        ]))
        .unwrap_err();
        assert_eq!(err.len(), 4, "{err:?}");
        let many: Vec<Value> = (0..51).map(|_| json!({"type": "divider"})).collect();
        assert!(message_blocks(&Value::Array(many.clone())).is_err());
        let view_ok = json!({"type": "home", "blocks": many});
        assert!(view(view_ok.as_object().unwrap()).is_ok());
    }

    #[test]
    fn a_modal_input_longer_than_3000_is_refused() {
        let modal = json!({
            "type": "modal",
            "title": {"type": "plain_text", "text": "AWS Support case"},
            "blocks": [{
                "type": "input",
                "label": {"type": "plain_text", "text": "Description"},
                "element": {"type": "plain_text_input", "max_length": 8000},
            }],
        });
        let err = view(modal.as_object().unwrap()).unwrap_err();
        assert_eq!(
            err,
            ["must be between 1 and 3000 [json-pointer:/blocks/0/element/max_length]"]
        );
    }
}
