//! Postmortem drafts: the incident writes its own first draft, good enough that the lead
//! edits it rather than starts over.
//!
//! - [`model`]: the draft as data, computed from the recorded facts (durations, severity
//!   history, gaps, participants, the retrospective questions with what the data says).
//! - [`picture`]: the incident's shape on a time axis (phases, alarms, the AWS case,
//!   updates, quiet spells), laid out for an inline SVG.
//! - [`templates`]: tera templates in `templates/` (embedded), overridable from
//!   `[postmortem] template_dir`, checked at start.
//! - [`text`]: Slack markup to plain text, and Markdown escaping.
//! - [`sample`]: the sample incidents templates are checked against.
//!
//! Pure: the service loads a [`crate::store::PostmortemSource`] and uploads the result.

pub mod model;
pub mod picture;
pub mod sample;
pub mod templates;
pub mod text;

pub use model::{build, Options, PostmortemData};
pub use templates::{Format, TemplateError, Templates};

use chrono::{DateTime, Utc};

use crate::store::PostmortemSource;

/// Build the draft and render it in `format`.
pub fn draft(
    templates: &Templates,
    source: &PostmortemSource,
    options: &Options,
    now: DateTime<Utc>,
    format: Format,
) -> Result<String, TemplateError> {
    templates.render(format, &build(source, options, now))
}

/// `postmortem-inc-20261121-checkout-errors.md`: the channel name says which incident.
pub fn file_name(source: &PostmortemSource, format: Format) -> String {
    format!(
        "postmortem-{}.{}",
        source.record.channel_name,
        format.extension()
    )
}

#[cfg(test)]
mod tests;
