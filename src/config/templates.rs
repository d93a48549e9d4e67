//! The postmortem templates shipped inside the binary, by file name: what a
//! `postmortem_template` key may name without a `[postmortem] template_dir`, and what
//! `postmortem::templates` loads (it re-exports these). Kept here, below both, so the
//! config does not import the postmortem module that reads it.

/// The Markdown draft (uploaded to Slack).
pub const MARKDOWN: &str = "postmortem.md.tera";
/// The self-contained HTML page.
pub const HTML: &str = "postmortem.html.tera";

/// An example type template (`[[incident.types]] postmortem_template`): a security
/// incident's draft.
pub const SECURITY: &str = "security.md.tera";

/// The shipped templates, by name.
pub const SHIPPED: [(&str, &str); 3] = [
    (MARKDOWN, include_str!("../../templates/postmortem.md.tera")),
    (HTML, include_str!("../../templates/postmortem.html.tera")),
    (SECURITY, include_str!("../../templates/security.md.tera")),
];
