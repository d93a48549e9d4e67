//! A message warroom sends: fallback text and optional Block Kit blocks. Its own module,
//! below both the renderers and the Web API client, so that [`super::limits`] (which fits
//! a message to Slack's limits) and [`super::web`] (which sends it) need not import each
//! other. Re-exported as `slack::web::Outgoing`.

/// A message to send: fallback text (notifications, screen readers) and optional blocks
/// (Block Kit JSON, built by [`super::render`]).
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub text: String,
    pub blocks: Option<serde_json::Value>,
}

impl Outgoing {
    pub fn text(text: impl Into<String>) -> Outgoing {
        Outgoing {
            text: text.into(),
            blocks: None,
        }
    }
}
