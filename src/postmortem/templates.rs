//! The postmortem templates: tera files shipped in `templates/` (embedded in the binary)
//! and overridable one by one from `[postmortem] template_dir`.
//!
//! Every `{{ value }}` is escaped for its format by tera's autoescape: Markdown templates
//! through [`escape_markdown`], HTML templates as HTML. A template cannot forget to escape
//! what people typed; deliberate markup is written in the template itself.
//!
//! Templates are parsed and test-rendered (against a full and an empty sample incident)
//! when loaded, at start and by `warroom check-config`, so a broken custom template is
//! reported with the tera error and line long before someone needs a draft.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::path::{Path, PathBuf};

use tera::{Context, Tera};

use super::model::PostmortemData;
use super::sample;
use super::text::escape_markdown;

/// The Markdown draft (uploaded to Slack).
pub const MARKDOWN: &str = "postmortem.md.tera";
/// The self-contained HTML page.
pub const HTML: &str = "postmortem.html.tera";

/// The shipped templates, by name.
pub const SHIPPED: [(&str, &str); 2] = [
    (MARKDOWN, include_str!("../../templates/postmortem.md.tera")),
    (HTML, include_str!("../../templates/postmortem.html.tera")),
];

/// Output format of a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

impl Format {
    pub fn template(self) -> &'static str {
        match self {
            Format::Markdown => MARKDOWN,
            Format::Html => HTML,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }
}

/// `md` (or `markdown`) and `html`, any case.
impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            _ => Err(format!("unknown format \"{s}\": use md or html")),
        }
    }
}

/// A template that cannot be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("config key [postmortem] template_dir: cannot read {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    /// Does not parse (with the line), or does not render against the sample incidents.
    #[error("postmortem template {name} ({origin}) {problem}")]
    Broken {
        name: String,
        /// `built in` or the file it came from.
        origin: String,
        /// `is broken at line 3, column 9: …` or `does not render: …`.
        problem: String,
    },
    #[error("cannot render the postmortem with {name}: {detail}")]
    Render { name: String, detail: String },
}

/// The loaded, checked templates.
#[derive(Debug)]
pub struct Templates {
    markdown: Tera,
    html: Tera,
    /// Where each template came from: `built in` or a path.
    origins: BTreeMap<String, String>,
}

const BUILT_IN: &str = "built in";

impl Templates {
    /// The shipped templates, overridden by the `*.tera` files in `dir` (same name replaces,
    /// new names are available to `include`/`extends`). Parses and test-renders them all.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut sources: BTreeMap<String, (String, String)> = SHIPPED
            .iter()
            .map(|(name, text)| (name.to_string(), (text.to_string(), BUILT_IN.to_string())))
            .collect();
        if let Some(dir) = dir {
            for (name, text, path) in read_dir(dir)? {
                sources.insert(name, (text, path.display().to_string()));
            }
        }
        let origins: BTreeMap<String, String> = sources
            .iter()
            .map(|(name, (_, origin))| (name.clone(), origin.clone()))
            .collect();
        let markdown = build(&sources, &origins, HTML_SUFFIX, |t| {
            t.autoescape_on(vec![".md.tera", ".md"]);
            t.set_escape_fn(escape_markdown);
        })?;
        let html = build(&sources, &origins, MD_SUFFIX, |t| {
            t.autoescape_on(vec![".html.tera", ".html"]);
        })?;
        let templates = Templates {
            markdown,
            html,
            origins,
        };
        templates.check()?;
        Ok(templates)
    }

    /// Templates that came from the custom directory.
    pub fn overridden(&self) -> Vec<&str> {
        self.origins
            .iter()
            .filter(|(_, origin)| *origin != BUILT_IN)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Render a draft.
    pub fn render(&self, format: Format, data: &PostmortemData) -> Result<String, TemplateError> {
        let name = format.template();
        let tera = match format {
            Format::Markdown => &self.markdown,
            Format::Html => &self.html,
        };
        let context = Context::from_serialize(data).map_err(|e| TemplateError::Render {
            name: name.to_string(),
            detail: describe(&e),
        })?;
        tera.render(name, &context)
            .map_err(|e| TemplateError::Render {
                name: name.to_string(),
                detail: describe(&e),
            })
    }

    /// Render both formats against a full and an empty sample: catches unknown variables,
    /// filters and bad loops that parsing alone does not.
    fn check(&self) -> Result<(), TemplateError> {
        for data in [sample::full(), sample::empty()] {
            let data = data.map_err(|problem| TemplateError::Render {
                name: "sample".to_string(),
                detail: problem,
            })?;
            for format in [Format::Markdown, Format::Html] {
                if let Err(TemplateError::Render { name, detail }) = self.render(format, &data) {
                    return Err(TemplateError::Broken {
                        origin: self.origin(&name),
                        name,
                        problem: format!("does not render: {detail}"),
                    });
                }
            }
        }
        Ok(())
    }

    fn origin(&self, name: &str) -> String {
        self.origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| BUILT_IN.to_string())
    }
}

const HTML_SUFFIX: &str = ".html.tera";
const MD_SUFFIX: &str = ".md.tera";

/// One tera instance with every template except those of the other format (`skip` suffix).
fn build(
    sources: &BTreeMap<String, (String, String)>,
    origins: &BTreeMap<String, String>,
    skip: &str,
    configure: impl FnOnce(&mut Tera),
) -> Result<Tera, TemplateError> {
    let mut tera = Tera::default();
    configure(&mut tera);
    // Parse one by one first, so the error names the template and its line.
    for (name, (text, origin)) in sources.iter().filter(|(n, _)| !n.ends_with(skip)) {
        if let Err(e) = tera::Template::new(name, None, text) {
            return Err(TemplateError::Broken {
                name: name.clone(),
                origin: origin.clone(),
                problem: parse_problem(&e),
            });
        }
    }
    let all = sources
        .iter()
        .filter(|(n, _)| !n.ends_with(skip))
        .map(|(name, (text, _))| (name.as_str(), text.as_str()));
    tera.add_raw_templates(all).map_err(|e| {
        // Inheritance and macro problems: name the template the message mentions.
        let detail = describe(&e);
        let name = origins
            .keys()
            .find(|n| detail.contains(n.as_str()))
            .cloned()
            .unwrap_or_else(|| "set".to_string());
        TemplateError::Broken {
            origin: origins
                .get(&name)
                .cloned()
                .unwrap_or_else(|| BUILT_IN.to_string()),
            name,
            problem: format!("cannot be used: {detail}"),
        }
    })?;
    Ok(tera)
}

/// `*.tera` files directly in `dir`, with their names.
fn read_dir(dir: &Path) -> Result<Vec<(String, String, PathBuf)>, TemplateError> {
    let io = |source| TemplateError::Dir {
        path: dir.display().to_string(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".tera") || !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| TemplateError::Dir {
            path: path.display().to_string(),
            source,
        })?;
        found.push((name.to_string(), text, path.clone()));
    }
    Ok(found)
}

/// tera's error and its causes on one line each.
fn describe(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// `is broken at line 3, column 9: expected …` plus the parser's picture of the spot.
fn parse_problem(e: &tera::Error) -> String {
    let detail = e
        .source()
        .map(ToString::to_string)
        .unwrap_or_else(|| e.to_string());
    // pest writes ` --> 3:9` before the picture of the line.
    let position = detail.lines().find_map(|l| {
        let (line, column) = l.trim().strip_prefix("--> ")?.split_once(':')?;
        Some((line.parse::<usize>().ok()?, column.parse::<usize>().ok()?))
    });
    let expected = detail
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .unwrap_or("cannot be parsed");
    match position {
        Some((line, column)) => {
            format!("is broken at line {line}, column {column}: {expected}\n{detail}")
        }
        None => format!("is broken: {detail}"),
    }
}
