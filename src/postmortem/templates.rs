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

use std::collections::{BTreeMap, HashMap};
use std::error::Error as _;
use std::path::{Path, PathBuf};

use tera::{Context, Tera};

use super::model::PostmortemData;
use super::sample;
use super::text::escape_markdown;

pub use crate::config::templates::{HTML, MARKDOWN, SECURITY, SHIPPED};

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
        self.render_with(format, data, None)
    }

    /// Render a draft with `markdown` instead of the default Markdown template (an incident
    /// type's `postmortem_template`); the HTML page always uses its own.
    pub fn render_with(
        &self,
        format: Format,
        data: &PostmortemData,
        markdown: Option<&str>,
    ) -> Result<String, TemplateError> {
        let name = match (format, markdown) {
            (Format::Markdown, Some(custom)) => custom,
            _ => format.template(),
        };
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

    /// Render the Markdown template `name` (an incident type's) against the samples, as
    /// [`Templates::load`] does the defaults: at start and by `check-config`.
    pub fn check_markdown(&self, name: &str) -> Result<(), TemplateError> {
        for data in [sample::full(), sample::empty()] {
            let data = data.map_err(|problem| TemplateError::Render {
                name: "sample".to_string(),
                detail: problem,
            })?;
            if let Err(TemplateError::Render { name, detail }) =
                self.render_with(Format::Markdown, &data, Some(name))
            {
                return Err(TemplateError::Broken {
                    origin: self.origin(&name),
                    name,
                    problem: format!("does not render: {detail}"),
                });
            }
        }
        Ok(())
    }

    /// Render both formats against a full and an empty sample: catches unknown variables,
    /// filters and bad loops that parsing alone does not.
    fn check(&self) -> Result<(), TemplateError> {
        self.check_markdown(SECURITY)?;
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
    // tera registers `get_env` whatever its features: a template could print
    // SLACK_BOT_TOKEN into a draft that is uploaded to Slack. Templates are refused at load
    // when they call it (below); this is the second lock.
    tera.register_function(
        "get_env",
        |_: &HashMap<String, tera::Value>| -> tera::Result<tera::Value> {
            Err(tera::Error::msg(
                "get_env is not available: postmortem templates get no access to the environment",
            ))
        },
    );
    // Parse one by one first, so the error names the template and its line.
    for (name, (text, origin)) in sources.iter().filter(|(n, _)| !n.ends_with(skip)) {
        let parsed = tera::Template::new(name, None, text).map_err(|e| TemplateError::Broken {
            name: name.clone(),
            origin: origin.clone(),
            problem: parse_problem(&e),
        })?;
        if let Some(function) = forbidden_call(&parsed.ast) {
            return Err(TemplateError::Broken {
                name: name.clone(),
                origin: origin.clone(),
                problem: format!(
                    "calls {function}(), which is not allowed: postmortem templates get no access to the environment"
                ),
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

/// Functions a template may not call: they reach outside the incident's data.
const FORBIDDEN_FUNCTIONS: [&str; 1] = ["get_env"];

/// The first forbidden function `ast` calls, wherever the call is (a condition, a loop, a
/// filter's argument, a macro).
fn forbidden_call(ast: &[tera::ast::Node]) -> Option<&'static str> {
    use tera::ast::Node;
    ast.iter().find_map(|node| match node {
        Node::VariableBlock(_, e) => in_expr(e),
        Node::Set(_, set) => in_expr(&set.value),
        Node::FilterSection(_, section, _) => {
            in_call(&section.filter).or_else(|| forbidden_call(&section.body))
        }
        Node::Block(_, block, _) => forbidden_call(&block.body),
        Node::MacroDefinition(_, def, _) => def
            .args
            .values()
            .flatten()
            .find_map(in_expr)
            .or_else(|| forbidden_call(&def.body)),
        Node::Forloop(_, l, _) => in_expr(&l.container)
            .or_else(|| forbidden_call(&l.body))
            .or_else(|| l.empty_body.as_deref().and_then(forbidden_call)),
        Node::If(i, _) => i
            .conditions
            .iter()
            .find_map(|(_, cond, body)| in_expr(cond).or_else(|| forbidden_call(body)))
            .or_else(|| i.otherwise.as_ref().and_then(|(_, b)| forbidden_call(b))),
        _ => None,
    })
}

fn in_call(call: &tera::ast::FunctionCall) -> Option<&'static str> {
    FORBIDDEN_FUNCTIONS
        .iter()
        .find(|f| **f == call.name)
        .copied()
        .or_else(|| call.args.values().find_map(in_expr))
}

fn in_expr(e: &tera::ast::Expr) -> Option<&'static str> {
    in_value(&e.val).or_else(|| e.filters.iter().find_map(in_call))
}

fn in_value(v: &tera::ast::ExprVal) -> Option<&'static str> {
    use tera::ast::ExprVal;
    match v {
        ExprVal::FunctionCall(call) => in_call(call),
        ExprVal::Math(m) => in_expr(&m.lhs).or_else(|| in_expr(&m.rhs)),
        ExprVal::Logic(l) => in_expr(&l.lhs).or_else(|| in_expr(&l.rhs)),
        ExprVal::In(i) => in_expr(&i.lhs).or_else(|| in_expr(&i.rhs)),
        ExprVal::Test(t) => t.args.iter().find_map(in_expr),
        ExprVal::MacroCall(m) => m.args.values().find_map(in_expr),
        ExprVal::Array(items) => items.iter().find_map(in_expr),
        ExprVal::StringConcat(c) => c.values.iter().find_map(in_value),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load_custom(text: &str) -> Result<Templates, TemplateError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MARKDOWN), text).unwrap();
        Templates::load(Some(dir.path()))
    }

    #[test]
    fn a_template_that_reads_the_environment_is_refused_at_load_naming_the_function() {
        for text in [
            "{{ get_env(name=\"SLACK_BOT_TOKEN\") }}",
            // Where the sample incidents never go, so only reading the template finds it.
            "{% if incident.id == 999999 %}{{ get_env(name=\"SLACK_BOT_TOKEN\") }}{% endif %}",
            "{% for p in incident.participants %}{% endfor %}{% set t = get_env(name=\"HOME\", default=\"\") %}",
            "{{ incident.title ~ get_env(name=\"AWS_SECRET_ACCESS_KEY\", default=\"\") }}",
            "{% macro leak() %}{{ get_env(name=\"SLACK_APP_TOKEN\") | upper }}{% endmacro %}x",
            "{{ incident.title | default(value=get_env(name=\"SLACK_BOT_TOKEN\")) }}",
        ] {
            let err = load_custom(text).unwrap_err().to_string();
            assert!(
                err.contains("postmortem template postmortem.md.tera")
                    && err.contains("calls get_env()")
                    && err.contains("no access to the environment"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn get_env_fails_even_where_the_load_check_would_not_look() {
        // The second lock: on the instances drafts are rendered with, the function itself
        // refuses, so a template that got past the load check still prints nothing.
        let mut templates = Templates::load(None).unwrap();
        for tera in [&mut templates.markdown, &mut templates.html] {
            let err = tera
                .render_str("{{ get_env(name=\"PATH\") }}", &Context::new())
                .map(|_| ())
                .unwrap_err();
            assert!(
                describe(&err).contains("no access to the environment"),
                "{err}"
            );
        }
    }
}
