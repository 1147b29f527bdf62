//! The gateway's modules form no import cycle (issue 11): between top-level modules (`app`, `http`,
//! `audit`, `registry`, …) and between sibling modules at every depth (`cli::providers` and
//! `cli::users`, `http::connections` and `http::web`, …).
//!
//! The graph is read from the source: every `crate::…` and `super::…` path in code (comments and
//! string literals skipped, `use` groups expanded) is an edge from the file's module to the module
//! it names. A path into one's own submodules or up to an ancestor is not an edge (a parent lists its
//! children; children use what it defines); a path to a sibling (at the first segment where the two
//! module paths differ) is. Any strongly connected set of more than one module fails, naming the
//! lines that make it.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected value"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges still being removed; each must exist (so the list only shrinks). Empty: every cycle the
/// foundations issue named is gone.
const PENDING: &[(&str, &str, &str)] = &[];

/// What `http` may take from `app`: the state its handlers receive, nothing else.
const HTTP_MAY_USE_FROM_APP: &[&str] = &["App", "AppState"];

type Module = Vec<String>;

/// One reference: from a file's module to a path, and where it is written.
struct Reference {
    from: Module,
    to: Module,
    at: String,
}

#[test]
fn no_two_modules_of_the_gateway_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (modules, references) = read_crate(&src);
    let edges = edges(&modules, &references);
    for (from, to, why) in PENDING {
        let key = (vec![from.to_string()], vec![to.to_string()]);
        assert!(
            edges.contains_key(&key),
            "{from} → {to} is gone ({why}): remove it from PENDING"
        );
    }
    let counted: BTreeMap<_, _> = edges
        .iter()
        .filter(|((from, to), _)| {
            !PENDING
                .iter()
                .any(|(f, t, _)| from == &vec![f.to_string()] && to == &vec![t.to_string()])
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let cycles = cycles(&counted);
    let report: Vec<String> = cycles
        .iter()
        .map(|set| {
            let names: Vec<String> = set.iter().map(|m| m.join("::")).collect();
            let lines: Vec<String> = counted
                .iter()
                .filter(|((f, t), _)| set.contains(f) && set.contains(t))
                .map(|((f, t), at)| format!("    {} → {}  ({})", f.join("::"), t.join("::"), at[0]))
                .collect();
            format!("{{{}}}:\n{}", names.join(", "), lines.join("\n"))
        })
        .collect();
    assert!(
        report.is_empty(),
        "import cycles among the gateway's modules:\n{}",
        report.join("\n")
    );
}

#[test]
fn http_takes_only_the_state_from_app_and_app_does_not_import_http() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (_, references) = read_crate(&src);
    let mut wrong = Vec::new();
    for r in &references {
        let (from, to) = (r.from.first(), r.to.first());
        if from.map(String::as_str) == Some("app") && to.map(String::as_str) == Some("http") {
            wrong.push(format!("app imports http: {}", r.at));
        }
        if from.map(String::as_str) == Some("http")
            && to.map(String::as_str) == Some("app")
            && !r
                .to
                .get(1)
                .is_some_and(|item| HTTP_MAY_USE_FROM_APP.contains(&item.as_str()))
        {
            wrong.push(format!("http takes {} from app: {}", r.to.join("::"), r.at));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The checker itself: it sees a cycle written the ways code writes one, and no false one.
#[test]
fn the_checker_finds_a_cycle_through_groups_super_and_nested_modules() {
    let dir = std::env::temp_dir().join(format!("module-cycles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = [
        ("lib.rs", "pub mod app;\npub mod http;\npub mod quiet;\n"),
        (
            "app.rs",
            "// use crate::quiet; (a comment)\nconst S: &str = \"crate::quiet::X\";\nuse crate::{clock, http::{router, metrics::M}};\n",
        ),
        (
            "http/mod.rs",
            "pub mod web;\npub mod api;\nuse crate::app::AppState;\n",
        ),
        (
            "http/web.rs",
            "use super::api::start;\nfn f<'a>(c: char) -> bool { c == '{' }\n",
        ),
        (
            "http/api.rs",
            "#[cfg(test)]\nmod tests { use super::super::web::page; }\n",
        ),
        ("quiet.rs", "mod inner { use super::super::app::App; }\n"),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let (modules, references) = read_crate(&dir);
    let edges = edges(&modules, &references);
    let names: BTreeSet<(String, String)> = edges
        .keys()
        .map(|(f, t)| (f.join("::"), t.join("::")))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("app", "http"),
        ("http", "app"),
        ("http::web", "http::api"),
        ("http::api", "http::web"),
        ("quiet", "app"),
    ]
    .iter()
    .map(|(f, t)| (f.to_string(), t.to_string()))
    .collect();
    assert_eq!(names, expected);
    let found: Vec<Vec<String>> = cycles(&edges)
        .iter()
        .map(|set| set.iter().map(|m| m.join("::")).collect())
        .collect();
    assert_eq!(found, [vec!["app", "http"], vec!["http::api", "http::web"]]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file's module path, and every reference in its code.
fn read_crate(src: &Path) -> (BTreeSet<Module>, Vec<Reference>) {
    let mut files = Vec::new();
    collect(src, &mut files);
    let mut modules = BTreeSet::new();
    let mut references = Vec::new();
    for file in files {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file.strip_prefix(src).unwrap().display().to_string();
        for (line, path) in paths(&code_only(&text), &module) {
            references.push(Reference {
                from: module.clone(),
                to: path,
                at: format!("src/{shown}:{line}"),
            });
        }
        modules.insert(module);
    }
    (modules, references)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `lib.rs` is the root; `main.rs` is another crate.
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let relative = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    match last.as_str() {
        "main.rs" if parts.is_empty() => None,
        "lib.rs" if parts.is_empty() => Some(parts),
        "mod.rs" => Some(parts),
        name => {
            parts.push(name.trim_end_matches(".rs").to_owned());
            Some(parts)
        }
    }
}

/// The text with comments, string and char literals blanked (newlines kept, so lines still count).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string r#"…"#: ends at a quote followed by as many hashes.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &c in &chars[i..j.min(chars.len())] {
                out.push(blank(c));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\u{..}'); a lifetime ('a) has no closing quote.
            let mut j = i + 1;
            if chars.get(j) == Some(&'\\') {
                j += 1;
            }
            j += 1;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            for _ in i..=j.min(chars.len() - 1) {
                out.push(' ');
            }
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Every absolute module path a `crate::…` or `super::…` path names, with its line. `super` counts
/// inline `mod name { … }` blocks, so `super` in a file's `mod tests` is the file's own module.
fn paths(code: &str, module: &Module) -> Vec<(usize, Module)> {
    let tokens = tokens(code);
    let mut out = Vec::new();
    // Inline modules open at a brace depth: (name, depth inside the block).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let (line, t) = &tokens[i];
        match t.as_str() {
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            "mod" if tokens.get(i + 2).is_some_and(|(_, t)| t == "{") => {
                inline.push((tokens[i + 1].1.clone(), depth + 1));
            }
            "crate" | "super" | "self"
                if tokens.get(i + 1).is_some_and(|(_, t)| t == "::")
                    && !(i > 0 && tokens[i - 1].1 == "::") =>
            {
                let mut here: Module = module.clone();
                here.extend(inline.iter().map(|(n, _)| n.clone()));
                let mut base = if t == "crate" {
                    Vec::new()
                } else {
                    here.clone()
                };
                let mut j = i;
                if t == "super" {
                    base.pop();
                    j += 2;
                    while tokens.get(j).is_some_and(|(_, t)| t == "super")
                        && tokens.get(j + 1).is_some_and(|(_, t)| t == "::")
                    {
                        base.pop();
                        j += 2;
                    }
                } else {
                    j += 2;
                }
                let (end, trees) = tree(&tokens, j);
                for path in trees {
                    let mut full = base.clone();
                    full.extend(path);
                    out.push((*line, full));
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// A use tree from token `i`: `a::b`, `a::{b, c::d}`, `{a, b}`; returns the paths and the next token.
fn tree(tokens: &[(usize, String)], mut i: usize) -> (usize, Vec<Module>) {
    let mut prefix = Vec::new();
    loop {
        match tokens.get(i).map(|(_, t)| t.as_str()) {
            Some("{") => {
                let mut all = Vec::new();
                i += 1;
                loop {
                    match tokens.get(i).map(|(_, t)| t.as_str()) {
                        Some("}") => return (i + 1, all),
                        Some(",") => i += 1,
                        None => return (i, all),
                        _ => {
                            let (next, inner) = tree(tokens, i);
                            for path in inner {
                                let mut full = prefix.clone();
                                full.extend(path);
                                all.push(full);
                            }
                            if next == i {
                                i += 1;
                            } else {
                                i = next;
                            }
                        }
                    }
                }
            }
            Some(t) if is_ident(t) => {
                if t != "self" {
                    prefix.push(t.to_owned());
                }
                if tokens.get(i + 1).is_some_and(|(_, t)| t == "::") {
                    i += 2;
                } else {
                    return (i + 1, vec![prefix]);
                }
            }
            // `*`, `as`, or anything else ends the path where it stands.
            _ => return (i, vec![prefix]),
        }
    }
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && t.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Identifiers, `::`, and single punctuation, each with its line.
fn tokens(code: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((line, chars[start..i].iter().collect()));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push((line, "::".to_owned()));
            i += 2;
        } else {
            out.push((line, c.to_string()));
            i += 1;
        }
    }
    out
}

/// Sibling edges: at the first segment where the two paths differ, when both sides are modules.
fn edges(
    modules: &BTreeSet<Module>,
    references: &[Reference],
) -> BTreeMap<(Module, Module), Vec<String>> {
    let mut edges: BTreeMap<(Module, Module), Vec<String>> = BTreeMap::new();
    for r in references {
        let common = r.from.iter().zip(&r.to).take_while(|(a, b)| a == b).count();
        if common >= r.from.len() || common >= r.to.len() {
            continue; // into one's own submodules, or up to an ancestor
        }
        let from = r.from[..=common].to_vec();
        let to = r.to[..=common].to_vec();
        if modules.contains(&to) {
            edges.entry((from, to)).or_default().push(r.at.clone());
        }
    }
    edges
}

/// Strongly connected sets of more than one module (Tarjan), each sorted, in order.
fn cycles(edges: &BTreeMap<(Module, Module), Vec<String>>) -> Vec<Vec<Module>> {
    let mut graph: BTreeMap<&Module, Vec<&Module>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
        graph.entry(to).or_default();
    }
    struct State<'a> {
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    fn visit<'a>(v: &'a Module, graph: &BTreeMap<&'a Module, Vec<&'a Module>>, s: &mut State<'a>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in &graph[v] {
            if !s.index.contains_key(w) {
                visit(w, graph, s);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                set.push(w.clone());
                if w == v {
                    break;
                }
            }
            if set.len() > 1 {
                set.sort();
                s.found.push(set);
            }
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(v, &graph, &mut s);
        }
    }
    s.found.sort();
    s.found
}
