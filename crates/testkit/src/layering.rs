//! Import circles between a crate's modules, found from its sources.
//!
//! A circle (`gate.rs` uses `watch.rs`, which uses `gate.rs`) means neither file can be read,
//! changed or tested without the other. [`module_graph`] reads a crate's `src/`: every
//! `crate::…` and `super::…` path, in `use` lines (groups included) and inline in code, is an
//! edge from the module whose file it is in to the module it names; a name the crate root
//! re-exports (`crate::Store`) counts as the module it comes from. Comments and string literals
//! are skipped. Macros that build paths, and items re-exported by a glob, are not followed.
//! [`cycles`] lists the circles. The workspace test `no_import_circles` runs both on every crate.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

/// Module path (`tables::calls`, `crate` for the root) -> the modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The crate root's module path in a [`Graph`].
pub const ROOT: &str = "crate";

/// The modules of the crate whose sources are in `src` and the modules each one names.
pub fn module_graph(src: &Path) -> io::Result<Graph> {
    let mut files = BTreeMap::new();
    collect(src, src, &mut files)?;
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let root_code = files
        .iter()
        .find(|(m, _)| m.as_str() == ROOT)
        .map(|(_, code)| code.clone())
        .unwrap_or_default();
    let reexports = reexports(&root_code, &modules);
    let mut graph = Graph::new();
    for (module, code) in &files {
        let edges = graph.entry(module.clone()).or_default();
        if module == ROOT {
            // The root declares and re-exports every module; that is not a dependency.
            continue;
        }
        for path in named_paths(code, module) {
            let target = resolve(&path, &modules, &reexports);
            if target != *module && target != ROOT {
                edges.insert(target);
            }
        }
    }
    Ok(graph)
}

/// Every `.rs` file under `dir` by module path, as code without comments and literals.
fn collect(src: &Path, dir: &Path, files: &mut BTreeMap<String, String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                collect(src, &path, files)?;
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let Ok(relative) = path.strip_prefix(src) else {
            continue;
        };
        let relative = relative.with_extension("");
        let mut parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        let module = if parts.is_empty() {
            ROOT.to_owned()
        } else {
            parts.join("::")
        };
        let text = std::fs::read_to_string(&path)?;
        files.insert(module, code_only(&text));
    }
    Ok(())
}

/// `src` with comments, string literals and char literals replaced by spaces.
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        let prev = if i > 0 { c[i - 1] } else { ' ' };
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c[i] == 'r'
            && (!ident(prev) || prev == 'b')
            && matches!(next, Some('"' | '#'))
            && c[i + 1..].iter().find(|&&ch| ch != '#') == Some(&'"')
        {
            let hashes = c[i + 1..].iter().take_while(|&&ch| ch == '#').count();
            i += 2 + hashes;
            while i < c.len() {
                if c[i] == '"'
                    && c[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&ch| ch == '#')
                        .count()
                        == hashes
                {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push(' ');
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
        } else if c[i] == '\'' && next == Some('\\') {
            // `'\n'`, `'\''`, `'\u{1f}'`: past the escaped character, then to the quote.
            i += 3;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push(' ');
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The paths `code` names from the crate root, each as its segments from the root.
fn named_paths(code: &str, module: &str) -> Vec<Vec<String>> {
    let c: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let starts_path = i == 0
            || !(c[i - 1].is_alphanumeric()
                || c[i - 1] == '_'
                || c[i - 1] == '$'
                || c[i - 1] == ':');
        if !starts_path {
            i += 1;
            continue;
        }
        let mut base: Vec<String> = Vec::new();
        let mut j = i;
        if matches_word(&c, j, "crate::") {
            j += "crate::".len();
        } else if matches_word(&c, j, "super::") {
            base = module.split("::").map(str::to_owned).collect();
            while matches_word(&c, j, "super::") {
                base.pop();
                j += "super::".len();
            }
        } else {
            i += 1;
            continue;
        }
        let (paths, end) = tree(&c, j);
        for p in paths {
            let mut full = base.clone();
            full.extend(p);
            found.push(full);
        }
        i = end.max(i + 1);
    }
    found
}

fn matches_word(c: &[char], at: usize, word: &str) -> bool {
    word.chars()
        .enumerate()
        .all(|(k, ch)| c.get(at + k) == Some(&ch))
}

/// A use tree at `at`: `a::b`, `a::{b, c::d}`, `a as x`, `*`, `self`. Returns its paths (the
/// leaf names included) and where it ends.
fn tree(c: &[char], mut at: usize) -> (Vec<Vec<String>>, usize) {
    let skip = |c: &[char], mut at: usize| {
        while at < c.len() && c[at].is_whitespace() {
            at += 1;
        }
        at
    };
    at = skip(c, at);
    if c.get(at) == Some(&'{') {
        let mut paths = Vec::new();
        at += 1;
        loop {
            at = skip(c, at);
            match c.get(at) {
                None => return (paths, at),
                Some('}') => return (paths, at + 1),
                Some(',') => at += 1,
                _ => {
                    let (inner, end) = tree(c, at);
                    paths.extend(inner);
                    at = end.max(at + 1);
                }
            }
        }
    }
    let start = at;
    while at < c.len() && (c[at].is_alphanumeric() || c[at] == '_') {
        at += 1;
    }
    let name: String = c[start..at].iter().collect();
    if name.is_empty() {
        // `*` or something that is not a path.
        return (vec![Vec::new()], at + usize::from(c.get(at) == Some(&'*')));
    }
    if c.get(at) == Some(&':') && c.get(at + 1) == Some(&':') {
        let (rest, end) = tree(c, at + 2);
        let paths = rest
            .into_iter()
            .map(|mut p| {
                p.insert(0, name.clone());
                p
            })
            .collect();
        return (paths, end);
    }
    if name == "self" {
        return (vec![Vec::new()], at);
    }
    // `Name as Alias`: the alias is not a path.
    let after = skip(c, at);
    if matches_word(c, after, "as") && c.get(after + 2).is_some_and(|ch| ch.is_whitespace()) {
        at = skip(c, after + 2);
        while at < c.len() && (c[at].is_alphanumeric() || c[at] == '_') {
            at += 1;
        }
    }
    (vec![vec![name]], at)
}

/// Names the crate root re-exports (`pub use store::Store;`) -> the module they come from.
fn reexports(root: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let c: Vec<char> = root.chars().collect();
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < c.len() {
        if matches_word(&c, i, "pub use ") && (i == 0 || c[i - 1].is_whitespace()) {
            let (paths, end) = tree(&c, i + "pub use ".len());
            for path in paths {
                let Some(name) = path.last() else { continue };
                let path = match path.first().map(String::as_str) {
                    Some("crate") => path[1..].to_vec(),
                    _ => path.clone(),
                };
                let module = resolve(&path, modules, &BTreeMap::new());
                if module != ROOT {
                    map.insert(name.clone(), module);
                }
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    map
}

/// The module a path from the root names: its longest prefix that is a module, or for an item
/// of the root, the module the root re-exports it from.
fn resolve(
    path: &[String],
    modules: &BTreeSet<String>,
    reexports: &BTreeMap<String, String>,
) -> String {
    for k in (1..=path.len()).rev() {
        let candidate = path[..k].join("::");
        if modules.contains(&candidate) {
            return candidate;
        }
    }
    path.first()
        .and_then(|name| reexports.get(name))
        .cloned()
        .unwrap_or_else(|| ROOT.to_owned())
}

/// Every circle in `graph`: its strongly connected components of more than one module, each
/// sorted, in order.
pub fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iterative over a small graph.
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found.sort();
    s.found
}
