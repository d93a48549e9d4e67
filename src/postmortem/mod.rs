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

use chrono::{DateTime, Duration, Utc};

use crate::slack::render::PostmortemFigures;
use crate::store::PostmortemSource;

impl Options {
    /// The knobs as configured: `[postmortem] gap_minutes`, `appendix_max_bytes` and
    /// `[escalation] aws_support_after`.
    pub fn from_config(config: &crate::config::Config) -> Options {
        Options {
            gap: Duration::minutes(i64::from(config.postmortem.gap_minutes)),
            appendix_max_bytes: config.postmortem.appendix_max_bytes,
            escalation_target: Duration::from_std(config.escalation.aws_support_after)
                .unwrap_or(Duration::MAX),
        }
    }
}

/// What the Slack summary of a draft shows (the renderer sits below this module).
impl From<&PostmortemData> for PostmortemFigures {
    fn from(data: &PostmortemData) -> PostmortemFigures {
        PostmortemFigures {
            severity: data.incident.severity.clone(),
            peak_severity: data.incident.peak_severity.clone(),
            key_events: data.timeline.iter().filter(|t| t.kind == "event").count(),
            people: data.participants.iter().filter(|p| p.messages > 0).count(),
            gaps: data.gaps.len(),
            gap_minutes: data.settings.gap_minutes,
            actions: data.actions.len(),
            actions_open: data.actions_open,
            messages: data.appendix.total,
        }
    }
}

/// Build the draft and render it in `format`.
pub fn draft(
    templates: &Templates,
    source: &PostmortemSource,
    options: &Options,
    now: DateTime<Utc>,
    format: Format,
) -> Result<String, TemplateError> {
    draft_with(templates, source, options, now, format, None)
}

/// [`draft`] with `markdown` (a type's template, [`type_template`]) instead of the default
/// Markdown template.
pub fn draft_with(
    templates: &Templates,
    source: &PostmortemSource,
    options: &Options,
    now: DateTime<Utc>,
    format: Format,
    markdown: Option<&str>,
) -> Result<String, TemplateError> {
    templates.render_with(format, &build(source, options, now), markdown)
}

/// The Markdown template of the incident's type (`[[incident.types]] postmortem_template`),
/// when it has one.
pub fn type_template<'a>(
    config: &'a crate::config::Config,
    record: &crate::domain::IncidentRecord,
) -> Option<&'a str> {
    record
        .incident_type
        .as_deref()
        .and_then(|name| config.incident.incident_type(name))
        .and_then(|t| t.postmortem_template.as_deref())
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
