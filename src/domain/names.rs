//! How people are shown where Slack does not render `<@U…>` itself (the postmortem, the
//! operator CLI, notification fallbacks, the demo transcript): by the name Slack gave them,
//! or by their id when warroom does not know one.
//!
//! Ids stay the key everywhere; [`Names`] is only a lookup the renderers are handed. The
//! service fills it (`service::people`, from the `user_names` cache and `users.info`).

use std::collections::HashMap;

/// User id → display name. A user missing from the map is shown by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names(HashMap<String, String>);

impl Names {
    pub fn new(map: HashMap<String, String>) -> Names {
        Names(map)
    }

    /// The name of `user`, when known.
    pub fn get(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }

    /// The name, or the id itself when unknown.
    pub fn show(&self, user: &str) -> String {
        self.get(user).unwrap_or(user).to_string()
    }

    /// `Bob Smith (U0BOB)` or `U0BOB`: for operators, who may need the id too.
    pub fn show_with_id(&self, user: &str) -> String {
        match self.get(user) {
            Some(name) => format!("{name} ({user})"),
            None => user.to_string(),
        }
    }

    /// Replace the user ids found in plain text (`lead U0ALICE → U0BOB`) by names. Only
    /// whole words that are known ids are replaced, so other text is left alone.
    pub fn in_text(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            match self.get(word) {
                Some(name) => out.push_str(name),
                None => out.push_str(word),
            }
            word.clear();
        };
        for c in text.chars() {
            if c.is_ascii_alphanumeric() {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new(HashMap::from([(
            "U0BOB".to_string(),
            "Bob Smith".to_string(),
        )]))
    }

    #[test]
    fn known_users_get_their_name_and_others_keep_the_id() {
        let n = names();
        assert_eq!(n.show("U0BOB"), "Bob Smith");
        assert_eq!(n.show("U0GONE"), "U0GONE");
        assert_eq!(n.show_with_id("U0BOB"), "Bob Smith (U0BOB)");
        assert_eq!(n.show_with_id("U0GONE"), "U0GONE");
    }

    #[test]
    fn ids_in_text_are_named_as_whole_words_only() {
        let n = names();
        assert_eq!(
            n.in_text("lead U0ALICE → U0BOB"),
            "lead U0ALICE → Bob Smith"
        );
        assert_eq!(
            n.in_text("XU0BOB and U0BOBX stay"),
            "XU0BOB and U0BOBX stay"
        );
        assert_eq!(
            n.in_text("role comms set to U0BOB."),
            "role comms set to Bob Smith."
        );
        assert_eq!(Names::default().in_text("U0BOB"), "U0BOB");
    }
}
