//! The architecture's invariants (ARCHITECTURE.md, "Layers and invariants"), checked by
//! reading `src/`:
//!
//! 1. `domain/` imports no IO crate (tokio, sqlx, reqwest, hyper, axum, the AWS SDK,
//!    slack-morphism, tera, `std::fs`, `std::net`, `std::process`).
//! 2. Only `store/` holds SQL text (and `migrations/`, which is not Rust); only `store/`
//!    imports sqlx, only `slack/` slack-morphism, only `aws/` the AWS SDK.
//! 3. No import runs from a lower layer to a higher one ([`LAYERS`]).
//! 4. No import circle between files: every loop of `use` stays inside one file.
//!
//! The file graph is built from paths in the code (`use` trees and inline paths starting at
//! `crate::`, `super::`, `self::` or a child module's name); test code (`#[cfg(test)]`
//! items and the files of `#[cfg(test)]` modules) is left out. Arrows that another part of
//! the work still has to remove are listed ONCE, in [`KNOWN_EXCEPTIONS`], with the reason.
//!
//! The checker itself is tested on small planted trees at the bottom of this file, so a
//! check that stops finding anything fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, lowest first. A module may import modules of its own layer or of a lower one,
/// never of a higher one. Same-layer imports are allowed as long as they make no circle.
const LAYERS: &[&[&str]] = &[
    // The pure core and process-wide leaves.
    &[
        "domain",
        "clock",
        "backoff",
        "tls",
        "metrics",
        "pg_cluster",
        "startup_pages",
    ],
    // The operator contract, parsed into domain types.
    &["config"],
    // Adapters: the database, Slack, AWS, the lease; the local Slack for tests and demo.
    &["store", "slack", "aws", "lease", "slack_emulator"],
    // Products built on the adapters.
    &["postmortem", "report", "ops", "fuzz_properties"],
    // The application layer.
    &["service"],
    // Assembly.
    &["app"],
    // Entry points.
    &["demo", "cli"],
];

/// Arrows (from file -> to file, paths under `src/`) that break a rule today and are
/// another helper's to remove, with the reason. Delete an entry when its arrow is gone: the
/// test fails on an entry that no longer matches anything, so the list cannot go stale.
const KNOWN_EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// Crates (and `std` modules) that do IO; the domain imports none of them.
const IO_PATHS: &[&str] = &[
    "tokio",
    "sqlx",
    "reqwest",
    "hyper",
    "hyper_util",
    "hyper_rustls",
    "axum",
    "slack_morphism",
    "tera",
    "rustls",
    "tokio_tungstenite",
    "std::fs",
    "std::net",
    "std::process",
];

// ---------------------------------------------------------------------------------------
// The checks on the real tree.

#[test]
fn domain_imports_no_io_crate() {
    let tree = Tree::read(&src_dir());
    let found = io_imports(&tree, "domain");
    assert!(
        found.is_empty(),
        "domain/ must do no IO, but it names:\n{}",
        found.join("\n")
    );
}

#[test]
fn each_outside_library_has_one_adapter() {
    let tree = Tree::read(&src_dir());
    let mut found = crate_paths(&tree, |file, first| {
        let module = top_module(file);
        let module = module.as_deref();
        (first == "slack_morphism" && module != Some("slack"))
            || (is_aws_sdk(first) && module != Some("aws"))
            // The tests' throwaway cluster creates databases before any store exists.
            || (first == "sqlx" && module != Some("store") && file != "pg_cluster.rs")
    });
    found.dedup();
    assert!(
        found.is_empty(),
        "slack-morphism belongs in src/slack/, the AWS SDK in src/aws/, sqlx in src/store/; found:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_store_holds_sql() {
    let tree = Tree::read(&src_dir());
    let found = sql_outside_store(&tree);
    assert!(
        found.is_empty(),
        "SQL text belongs in src/store/ only; found:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_import_runs_back_up_the_layers() {
    let tree = Tree::read(&src_dir());
    let graph = tree.graph();
    let (found, used) = upward_arrows(&graph, KNOWN_EXCEPTIONS);
    assert!(
        found.is_empty(),
        "imports from a lower layer to a higher one (LAYERS in tests/architecture.rs):\n{}",
        found.join("\n")
    );
    stale_exceptions(&graph, &used);
}

#[test]
fn no_import_circle_between_files() {
    let tree = Tree::read(&src_dir());
    let graph = tree.graph();
    let circles = circles(&graph, KNOWN_EXCEPTIONS);
    assert!(
        circles.is_empty(),
        "files that import each other in a loop (a circle must stay inside one file):\n{}",
        circles
            .iter()
            .map(|c| describe_circle(&graph, c))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_module_has_a_layer() {
    let tree = Tree::read(&src_dir());
    let missing: BTreeSet<String> = tree
        .files
        .keys()
        .filter_map(|f| top_module(f))
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "give these modules a layer in LAYERS (tests/architecture.rs) and ARCHITECTURE.md: {missing:?}"
    );
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// An exception that matches no arrow any more must be deleted.
fn stale_exceptions(graph: &Graph, used: &BTreeSet<(String, String)>) {
    let stale: Vec<String> = KNOWN_EXCEPTIONS
        .iter()
        .filter(|(from, to, _)| {
            let key = (from.to_string(), to.to_string());
            !used.contains(&key) && !graph.edges.contains_key(&key)
        })
        .map(|(from, to, why)| format!("{from} -> {to} ({why})"))
        .collect();
    assert!(
        stale.is_empty(),
        "KNOWN_EXCEPTIONS lists arrows that are gone; delete them:\n{}",
        stale.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Reading the tree.

/// The non-test code of every file under `src/`, as tokens, by path relative to `src/`.
struct Tree {
    files: BTreeMap<String, Vec<Token>>,
}

/// A file -> file arrow, with the paths that make it (for messages).
struct Graph {
    edges: BTreeMap<(String, String), Vec<String>>,
}

impl Tree {
    fn read(src: &Path) -> Tree {
        let mut sources = BTreeMap::new();
        collect(src, src, &mut sources);
        Tree::from_sources(sources)
    }

    /// `sources`: path relative to `src/` -> text.
    fn from_sources(sources: BTreeMap<String, String>) -> Tree {
        let mut files = BTreeMap::new();
        let mut test_modules: BTreeSet<Vec<String>> = BTreeSet::new();
        for (path, text) in &sources {
            if path == "main.rs" {
                continue;
            }
            let (tokens, test_children) = strip_tests(tokenize(text));
            let module = module_of(path);
            for child in test_children {
                let mut m = module.clone();
                m.push(child);
                test_modules.insert(m);
            }
            files.insert(path.clone(), tokens);
        }
        files.retain(|path, _| {
            let m = module_of(path);
            !test_modules.iter().any(|t| m.starts_with(t))
        });
        Tree { files }
    }

    fn modules(&self) -> BTreeMap<Vec<String>, String> {
        self.files
            .keys()
            .map(|f| (module_of(f), f.clone()))
            .collect()
    }

    /// Every file -> file arrow: the longest module prefix of each path names the file.
    fn graph(&self) -> Graph {
        let modules = self.modules();
        let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (file, tokens) in &self.files {
            let here = module_of(file);
            for path in paths(tokens, &here, &modules) {
                let Some(target) = resolve(&path, &modules) else {
                    continue;
                };
                if &target != file {
                    edges
                        .entry((file.clone(), target))
                        .or_default()
                        .push(path.join("::"));
                }
            }
        }
        for names in edges.values_mut() {
            names.sort();
            names.dedup();
        }
        Graph { edges }
    }
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// `domain/alarm.rs` -> `[domain, alarm]`; `store/mod.rs` -> `[store]`; `lib.rs` -> `[]`.
fn module_of(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

fn top_module(path: &str) -> Option<String> {
    module_of(path).into_iter().next()
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The file that holds the longest module prefix of `path`.
fn resolve(path: &[String], modules: &BTreeMap<Vec<String>, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]).cloned())
}

// ---------------------------------------------------------------------------------------
// Tokens.

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
    /// A string literal's contents (raw or not; escapes left as written).
    Str(String),
}

/// Rust source to tokens, without comments, char literals, lifetimes or numbers' meaning.
fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            let (s, end) = plain_string(&chars, i + 1);
            out.push(Token::Str(s));
            i = end;
        } else if c == 'r' && matches!(next, Some('"') | Some('#')) && raw_start(&chars, i + 1) {
            let (s, end) = raw_string(&chars, i + 1);
            out.push(Token::Str(s));
            i = end;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F525}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            // b"…", br"…": the prefix is not an identifier.
            if (ident == "b" || ident == "br") && matches!(chars.get(i), Some('"') | Some('#')) {
                continue;
            }
            out.push(Token::Ident(ident.trim_start_matches("r#").to_string()));
        } else if c == ':' && next == Some(':') {
            out.push(Token::Sep);
            i += 2;
        } else if c.is_whitespace() || c.is_ascii_digit() {
            i += 1;
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

fn plain_string(chars: &[char], mut i: usize) -> (String, usize) {
    let mut s = String::new();
    while i < chars.len() && chars[i] != '"' {
        if chars[i] == '\\' {
            s.push(chars[i]);
            i += 1;
        }
        if let Some(&c) = chars.get(i) {
            s.push(c);
        }
        i += 1;
    }
    (s, i + 1)
}

/// Whether `r` at `i - 1` starts a raw string (`r"`, `r#"`, `r##"`), not an identifier.
fn raw_start(chars: &[char], mut i: usize) -> bool {
    while chars.get(i) == Some(&'#') {
        i += 1;
    }
    chars.get(i) == Some(&'"')
}

fn raw_string(chars: &[char], mut i: usize) -> (String, usize) {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    i += 1; // the opening quote
    let start = i;
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            let s: String = chars[start..i].iter().collect();
            return (s, i + 1 + hashes);
        }
        i += 1;
    }
    (chars[start..].iter().collect(), chars.len())
}

/// Drop every item under `#[cfg(test)]`; return the rest and the names of `#[cfg(test)]
/// mod NAME;` children (whose files are test code).
fn strip_tests(tokens: Vec<Token>) -> (Vec<Token>, Vec<String>) {
    let mut out = Vec::with_capacity(tokens.len());
    let mut test_children = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if is_cfg_test(&tokens[i..]) {
            i += 7;
            // Further attributes on the same item.
            while tokens.get(i) == Some(&Token::Punct('#')) {
                i = skip_group(&tokens, i + 1);
            }
            // `mod NAME;` (possibly `pub` or `pub(crate)`): the child file is test code.
            let mut j = i;
            if tokens.get(j) == Some(&Token::Ident("pub".into())) {
                j += 1;
                if tokens.get(j) == Some(&Token::Punct('(')) {
                    j = skip_group(&tokens, j);
                }
            }
            if let (Some(Token::Ident(m)), Some(Token::Ident(name)), Some(Token::Punct(';'))) =
                (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
            {
                if m == "mod" {
                    test_children.push(name.clone());
                }
            }
            // Skip the item: to its `;` or through its `{ … }` block.
            while i < tokens.len() {
                match &tokens[i] {
                    Token::Punct(';') => {
                        i += 1;
                        break;
                    }
                    Token::Punct('{') => {
                        i = skip_group(&tokens, i);
                        break;
                    }
                    _ => i += 1,
                }
            }
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    (out, test_children)
}

/// `# [ cfg ( test ) ]`
fn is_cfg_test(t: &[Token]) -> bool {
    t.len() >= 7
        && t[0] == Token::Punct('#')
        && t[1] == Token::Punct('[')
        && t[2] == Token::Ident("cfg".into())
        && t[3] == Token::Punct('(')
        && t[4] == Token::Ident("test".into())
        && t[5] == Token::Punct(')')
        && t[6] == Token::Punct(']')
}

/// From an opening bracket at `i` (`(`, `[`, `{`), the index after its match.
fn skip_group(tokens: &[Token], mut i: usize) -> usize {
    let mut depth = 0i32;
    while i < tokens.len() {
        match tokens[i] {
            Token::Punct('(' | '[' | '{') => depth += 1,
            Token::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

// ---------------------------------------------------------------------------------------
// Paths.

/// Every crate-internal path in `tokens`, absolute (from the crate root): `use` trees and
/// inline paths that start at `crate::`, `super::`, `self::` or at a child module of
/// `here` (the file's module).
fn paths(
    tokens: &[Token],
    here: &[String],
    modules: &BTreeMap<Vec<String>, String>,
) -> Vec<Vec<String>> {
    let is_child = |name: &str| {
        let mut m = here.to_vec();
        m.push(name.to_string());
        modules.contains_key(&m)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let after_sep = i > 0 && tokens[i - 1] == Token::Sep;
        if let (Token::Ident(first), Some(Token::Sep), false) =
            (&tokens[i], tokens.get(i + 1), after_sep)
        {
            let base: Option<Vec<String>> = match first.as_str() {
                "crate" => Some(Vec::new()),
                "self" => Some(here.to_vec()),
                "super" => Some(here.to_vec()),
                name if is_child(name) => {
                    let mut m = here.to_vec();
                    m.push(name.to_string());
                    Some(m)
                }
                _ => None,
            };
            if let Some(mut base) = base {
                let mut j = i + 2;
                if first == "super" {
                    base.pop();
                    // super::super::…
                    while tokens.get(j) == Some(&Token::Ident("super".into()))
                        && tokens.get(j + 1) == Some(&Token::Sep)
                    {
                        base.pop();
                        j += 2;
                    }
                }
                j = use_tree(tokens, j, &base, &mut out);
                i = j.max(i + 1);
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Parse `a::b::{c, d::e, *}` from `i` under `prefix`, pushing every leaf path. Returns the
/// index after the tree.
fn use_tree(
    tokens: &[Token],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(i) {
            // `path as Name`: the rename is not part of the path.
            Some(Token::Ident(name)) if name == "as" => {
                out.push(path);
                return i + 2;
            }
            Some(Token::Ident(name)) if name != "self" => {
                path.push(name.clone());
                i += 1;
            }
            Some(Token::Ident(_)) => i += 1, // `{self, …}`: the prefix itself
            Some(Token::Punct('{')) => {
                i += 1;
                loop {
                    match tokens.get(i) {
                        Some(Token::Punct('}')) => return i + 1,
                        Some(Token::Punct(',')) => i += 1,
                        None => return i,
                        _ => {
                            let before = i;
                            i = use_tree(tokens, i, &path, out);
                            if i == before {
                                i += 1;
                            }
                        }
                    }
                }
            }
            _ => {
                out.push(path);
                return i;
            }
        }
        if tokens.get(i) == Some(&Token::Sep) {
            i += 1;
        } else {
            out.push(path);
            return i;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The rules.

fn io_imports(tree: &Tree, module: &str) -> Vec<String> {
    let mut found = crate_paths(tree, |file, first| {
        top_module(file).as_deref() == Some(module)
            && (is_aws_sdk(first) || IO_PATHS.contains(&first))
    });
    // `std::fs`, `std::net`, `std::process`.
    found.extend(
        crate_paths(tree, |file, first| {
            top_module(file).as_deref() == Some(module) && first == "std"
        })
        .into_iter()
        .filter(|f| {
            IO_PATHS
                .iter()
                .any(|p| p.contains("::") && f.ends_with(&format!(": {p}")))
        }),
    );
    found.sort();
    found.dedup();
    found
}

/// The AWS SDK's crates: aws_config, aws_sdk_*, aws_smithy_*, aws_types, aws_credential_types.
fn is_aws_sdk(name: &str) -> bool {
    name.starts_with("aws_")
}

/// `file: a::b` for every path whose first segment (a crate, not after `::`) `hit` picks.
fn crate_paths(tree: &Tree, hit: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for (file, tokens) in &tree.files {
        for (i, t) in tokens.iter().enumerate() {
            let Token::Ident(name) = t else { continue };
            if (i > 0 && tokens[i - 1] == Token::Sep) || tokens.get(i + 1) != Some(&Token::Sep) {
                continue;
            }
            if hit(file, name) {
                let second = match tokens.get(i + 2) {
                    Some(Token::Ident(s)) => format!("{name}::{s}"),
                    _ => name.clone(),
                };
                found.push(format!("{file}: {second}"));
            }
        }
    }
    found
}

/// String literals that read as SQL statements.
fn looks_like_sql(s: &str) -> bool {
    let u = s.to_ascii_uppercase();
    let u: String = u.split_whitespace().collect::<Vec<_>>().join(" ");
    (u.contains("SELECT ") && u.contains(" FROM "))
        || u.contains("INSERT INTO ")
        || u.contains("DELETE FROM ")
        || (u.contains("UPDATE ") && u.contains(" SET "))
        || u.contains("CREATE TABLE ")
        || u.contains("ALTER TABLE ")
        || u.contains("DROP TABLE ")
        || u.contains("CREATE INDEX ")
}

fn sql_outside_store(tree: &Tree) -> Vec<String> {
    let mut found = Vec::new();
    for (file, tokens) in &tree.files {
        // The store; and the tests' throwaway PostgreSQL cluster, which creates and drops
        // whole databases (`CREATE DATABASE`) before any store exists.
        if top_module(file).as_deref() == Some("store") || file == "pg_cluster.rs" {
            continue;
        }
        for (i, t) in tokens.iter().enumerate() {
            if let Token::Str(s) = t {
                if looks_like_sql(s) {
                    let short: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
                    found.push(format!(
                        "{file}: \"{}\"",
                        short.chars().take(60).collect::<String>()
                    ));
                }
            }
            // sqlx::query / query_as / query_scalar called outside the store.
            if let (Token::Ident(a), Some(Token::Sep), Some(Token::Ident(b))) =
                (t, tokens.get(i + 1), tokens.get(i + 2))
            {
                if a == "sqlx" && b.starts_with("query") {
                    found.push(format!("{file}: sqlx::{b}"));
                }
            }
        }
    }
    found
}

fn excepted(exceptions: &[(&str, &str, &str)], from: &str, to: &str) -> bool {
    exceptions.iter().any(|(f, t, _)| *f == from && *t == to)
}

/// Arrows from a lower layer to a higher one, and the exceptions that excused one.
fn upward_arrows(
    graph: &Graph,
    exceptions: &[(&str, &str, &str)],
) -> (Vec<String>, BTreeSet<(String, String)>) {
    let mut found = Vec::new();
    let mut used = BTreeSet::new();
    for ((from, to), names) in &graph.edges {
        let (Some(fm), Some(tm)) = (top_module(from), top_module(to)) else {
            continue;
        };
        let (Some(fl), Some(tl)) = (layer_of(&fm), layer_of(&tm)) else {
            continue;
        };
        if tl > fl {
            if excepted(exceptions, from, to) {
                used.insert((from.clone(), to.clone()));
            } else {
                found.push(format!(
                    "{from} (layer {fl}, {fm}) -> {to} (layer {tl}, {tm}): {}",
                    names.join(", ")
                ));
            }
        }
    }
    (found, used)
}

/// Strongly connected components of more than one file (Tarjan), after dropping excepted
/// arrows.
fn circles(graph: &Graph, exceptions: &[(&str, &str, &str)]) -> Vec<Vec<String>> {
    let mut adj: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in graph.edges.keys() {
        if excepted(exceptions, from, to) || to_own_folder(from, to) {
            continue;
        }
        adj.entry(from).or_default().push(to);
        adj.entry(to).or_default();
    }
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(v: &'a str, adj: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in &adj[v] {
            if !s.index.contains_key(w) {
                visit(w, adj, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for &v in adj.keys() {
        if !s.index.contains_key(v) {
            visit(v, &adj, &mut s);
        }
    }
    s.out
}

/// Whether `to` is the `mod.rs` of a folder that holds `from` (a child naming its parent's
/// items, such as `store/alarms.rs` -> `store/mod.rs` for `Db`). Rust's privacy runs down
/// the module tree, and a folder's `mod.rs` is its face: such an arrow stays inside the
/// folder and is not counted as a circle (the same reading as `farm-studio look`). Arrows
/// between siblings, and from a `mod.rs` down into its children, are.
fn to_own_folder(from: &str, to: &str) -> bool {
    to.strip_suffix("mod.rs")
        .is_some_and(|folder| !folder.is_empty() && from.starts_with(folder))
}

fn describe_circle(graph: &Graph, files: &[String]) -> String {
    let mut lines = vec![format!("circle of {} files:", files.len())];
    for ((from, to), names) in &graph.edges {
        if files.contains(from) && files.contains(to) {
            lines.push(format!("  {from} -> {to}: {}", names.join(", ")));
        }
    }
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------
// The checker on planted trees: each rule finds what it must.

fn planted(files: &[(&str, &str)]) -> Tree {
    Tree::from_sources(
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect(),
    )
}

#[test]
fn checker_finds_an_io_crate_in_the_domain() {
    let tree = planted(&[
        ("domain/mod.rs", "pub mod a;"),
        (
            "domain/a.rs",
            "use std::fs::read;\nfn f() { let _ = tokio::spawn(async {}); }",
        ),
        ("store/mod.rs", "use sqlx::AnyPool;"),
    ]);
    let found = io_imports(&tree, "domain");
    assert_eq!(
        found,
        vec!["domain/a.rs: std::fs", "domain/a.rs: tokio::spawn"]
    );
}

#[test]
fn checker_finds_sql_outside_the_store_but_not_in_comments_or_tests() {
    let tree = planted(&[
        ("store/mod.rs", r#"const Q: &str = "SELECT id FROM incidents";"#),
        (
            "service/mod.rs",
            "// SELECT id FROM incidents\nfn f() { let q = \"DELETE FROM inbox WHERE id = $1\"; }\n#[cfg(test)]\nmod tests { const Q: &str = \"INSERT INTO x VALUES (1)\"; }",
        ),
    ]);
    let found = sql_outside_store(&tree);
    assert_eq!(
        found,
        vec!["service/mod.rs: \"DELETE FROM inbox WHERE id = $1\""]
    );
}

#[test]
fn checker_finds_an_upward_arrow_and_honours_an_exception() {
    let tree = planted(&[
        ("domain/mod.rs", "pub mod alarm;"),
        (
            "domain/alarm.rs",
            "use crate::service::Service;\n#[cfg(test)]\nuse crate::app::App;",
        ),
        ("service/mod.rs", "pub struct Service;"),
        ("app.rs", "pub struct App;"),
        (
            "store/mod.rs",
            "use crate::{domain::alarm, config::Config};",
        ),
        ("config.rs", "pub struct Config;"),
    ]);
    let graph = tree.graph();
    let (found, _) = upward_arrows(&graph, &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("domain/alarm.rs (layer 0, domain) -> service/mod.rs"),
        "{found:?}"
    );
    let (found, used) = upward_arrows(&graph, &[("domain/alarm.rs", "service/mod.rs", "planted")]);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(used.len(), 1);
}

#[test]
fn checker_finds_a_circle_through_super_child_and_grouped_paths() {
    let tree = planted(&[
        (
            "slack/mod.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub fn f() {}",
        ),
        // a -> b (super::), b -> c (grouped crate path), c -> a (child of the parent via use).
        ("slack/a.rs", "use super::b::Thing;"),
        (
            "slack/b.rs",
            "pub struct Thing;\nuse crate::slack::{c::{self, More}};",
        ),
        (
            "slack/c.rs",
            "pub struct More;\nfn g() { crate::slack::a::h(); }",
        ),
        // A test module's imports make no arrow.
        (
            "slack/d.rs",
            "#[cfg(test)]\nmod tests { use crate::slack::a; }",
        ),
    ]);
    let graph = tree.graph();
    let found = circles(&graph, &[]);
    assert_eq!(found, vec![vec!["slack/a.rs", "slack/b.rs", "slack/c.rs"]]);
    assert!(!graph.edges.keys().any(|(f, _)| f == "slack/d.rs"));
    // An excepted arrow breaks the circle.
    assert!(circles(&graph, &[("slack/c.rs", "slack/a.rs", "planted")]).is_empty());
}

#[test]
fn checker_resolves_the_child_modules_of_a_folder() {
    let tree = planted(&[
        (
            "emulator/mod.rs",
            "mod state;\nmod api;\npub use state::Shared;\nfn run() { api::serve(); }",
        ),
        ("emulator/state.rs", "pub struct Shared;"),
        ("emulator/api.rs", "use super::Shared;\npub fn serve() {}"),
    ]);
    let graph = tree.graph();
    let edges: Vec<_> = graph.edges.keys().cloned().collect();
    assert_eq!(
        edges,
        vec![
            ("emulator/api.rs".to_string(), "emulator/mod.rs".to_string()),
            ("emulator/mod.rs".to_string(), "emulator/api.rs".to_string()),
            (
                "emulator/mod.rs".to_string(),
                "emulator/state.rs".to_string()
            ),
        ]
    );
}
