//! The walls between the engine's rooms (`ARCHITECTURE.md`): no top-level module
//! of `engine/src` imports one that imports it back, the composition root
//! (`engine.rs`) is imported by none, and the floors (`error`, `util`, `model`,
//! `store`) import no room. Read from the sources: a module's references are the
//! `crate::<module>` paths (and `super::` chains that reach the crate root) in its
//! files, outside comments, string literals and `#[cfg(test)]` items.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that hold behaviour; the floors below them must not reach up into these.
const ROOMS: &[&str] =
    &["engine", "auth", "admin", "flows", "tokens", "proxy", "webhooks", "actors", "sharding"];
const FLOORS: &[&str] = &["error", "util", "model", "store"];

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.contains_key("engine") && graph.contains_key("tokens"), "modules found: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("modules import each other: {}", cycle.join(" -> "));
    }
    let importers: Vec<_> = graph.iter().filter(|(_, to)| to.contains("engine")).map(|(m, _)| m).collect();
    assert!(importers.is_empty(), "the composition root is imported by {importers:?}");
    for floor in FLOORS {
        let up: Vec<_> = graph[*floor].iter().filter(|to| ROOMS.contains(&to.as_str())).collect();
        assert!(up.is_empty(), "`{floor}` reaches up into {up:?}");
    }
}

#[test]
fn a_cycle_is_found_and_named() {
    let edges = |list: &[(&str, &[&str])]| -> Graph {
        list.iter().map(|(m, to)| (m.to_string(), to.iter().map(|t| t.to_string()).collect())).collect()
    };
    let acyclic = edges(&[("engine", &["auth", "tokens"]), ("tokens", &["auth"]), ("auth", &[])]);
    assert_eq!(find_cycle(&acyclic), None);
    let cyclic = edges(&[("engine", &["tokens"]), ("tokens", &["actors"]), ("actors", &["tokens"])]);
    assert_eq!(find_cycle(&cyclic).unwrap(), ["actors", "tokens", "actors"]);
}

#[test]
fn references_are_read_from_code_only() {
    let source = r#"
        use crate::auth::Principal;
        use crate::{error::EngineError, model::{self, keys}};
        // use crate::commented;
        /* crate::block_commented */
        const TEXT: &str = "crate::in_a_string {";
        const BRACE: char = '{';
        fn f<'a>(x: &'a str) -> &'a str { super::sibling::g(x) }
        #[cfg(test)]
        mod tests {
            use crate::test_only;
        }
        #[cfg(test)]
        mod more_tests;
    "#;
    let (found, test_files) = references(source, 1);
    let found: Vec<_> = found.into_iter().collect();
    assert_eq!(found, ["auth", "error", "model", "sibling"]);
    assert_eq!(test_files, ["more_tests"]);
}

/// Each top-level module (a file `x.rs` or a folder `x/`) and the others it names.
fn module_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "main" || !(path.is_dir() || path.extension().is_some_and(|e| e == "rs"))
        {
            continue;
        }
        let mut found = BTreeSet::new();
        collect(&path, 1, &mut found);
        found.remove(&name);
        graph.insert(name, found);
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for to in graph.values_mut() {
        to.retain(|m| modules.contains(m));
    }
    graph
}

/// Adds the references of the file at `path` (or of every file under a folder),
/// `depth` modules below the crate root, skipping files declared `#[cfg(test)]`.
fn collect(path: &Path, depth: usize, found: &mut BTreeSet<String>) {
    if path.is_dir() {
        let mod_rs = path.join("mod.rs");
        let skipped = if mod_rs.exists() { file_references(&mod_rs, depth, found) } else { Vec::new() };
        for entry in std::fs::read_dir(path).unwrap() {
            let child = entry.unwrap().path();
            let stem = child.file_stem().unwrap().to_string_lossy().into_owned();
            if child == mod_rs || skipped.contains(&stem) {
                continue;
            }
            if child.is_dir() || child.extension().is_some_and(|e| e == "rs") {
                collect(&child, depth + 1, found);
            }
        }
    } else {
        let skipped = file_references(path, depth, found);
        // `x.rs` may keep its submodules in `x/`.
        let folder: PathBuf = path.with_extension("");
        if folder.is_dir() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let child = entry.unwrap().path();
                let stem = child.file_stem().unwrap().to_string_lossy().into_owned();
                if !skipped.contains(&stem) {
                    collect(&child, depth + 1, found);
                }
            }
        }
    }
}

fn file_references(path: &Path, depth: usize, found: &mut BTreeSet<String>) -> Vec<String> {
    let (names, test_files) = references(&std::fs::read_to_string(path).unwrap(), depth);
    found.extend(names);
    test_files
}

/// The top-level modules `source` names, and the submodule files it declares for
/// tests only. `depth`: how many `super::` reach the crate root from this file.
fn references(source: &str, depth: usize) -> (BTreeSet<String>, Vec<String>) {
    let code = without_tests(&strip(source));
    let mut found = BTreeSet::new();
    let bytes = code.0.as_bytes();
    for (at, _) in code.0.match_indices("crate::") {
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        root_items(&code.0[at + "crate::".len()..], &mut found);
    }
    let supers = "super::".repeat(depth);
    for (at, _) in code.0.match_indices(&supers) {
        let rest = &code.0[at + supers.len()..];
        if at >= 7 && &code.0[at - 7..at] == "super::" {
            continue;
        }
        if !rest.starts_with("super::") {
            root_items(rest, &mut found);
        }
    }
    (found, code.1)
}

/// The first path segment after a crate-root prefix: `auth::…`, or each item of
/// `{error::X, model::{self, keys}}`.
fn root_items(rest: &str, found: &mut BTreeSet<String>) {
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut item_start = true;
        for (at, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && (c.is_alphabetic() || c == '_') => {
                    found.insert(identifier(&group[at..]));
                    item_start = false;
                }
                c if c.is_whitespace() => {}
                _ => item_start = false,
            }
        }
    } else {
        let name = identifier(rest);
        if !name.is_empty() {
            found.insert(name);
        }
    }
}

fn identifier(text: &str) -> String {
    text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The source with comments and the contents of string and character literals
/// blanked out (so their braces and paths count for nothing).
fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
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
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let closing: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            let body_start = i + 2 + hashes;
            let rest: String = chars[body_start..].iter().collect();
            let end = rest.find(&closing).map_or(rest.len(), |e| e + closing.len());
            i = body_start + rest[..end].chars().count();
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && is_char_literal(&chars, i) {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], at: usize) -> bool {
    at > 0 && (chars[at - 1].is_alphanumeric() || chars[at - 1] == '_')
}

/// `'x'` or `'\n'`, not a lifetime `'a`.
fn is_char_literal(chars: &[char], at: usize) -> bool {
    match chars.get(at + 1) {
        Some('\\') => true,
        Some(_) => chars.get(at + 2) == Some(&'\''),
        None => false,
    }
}

/// The code without the items marked `#[cfg(test)]`, and the names of the
/// submodule files declared that way (`#[cfg(test)] mod tests;`).
fn without_tests(code: &str) -> (String, Vec<String>) {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut test_files = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        // The item ends at its `;` or at the brace that closes its first `{`.
        let mut depth = 0;
        let mut end = item.len();
        for (i, c) in item.char_indices() {
            match c {
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let declared = item[..end].trim();
        if let Some(name) = declared.strip_prefix("mod ").or_else(|| declared.strip_prefix("pub(crate) mod "))
            && declared.ends_with(';')
        {
            test_files.push(identifier(name.trim()));
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    (out, test_files)
}

/// A cycle in `graph` as the modules along it (the first repeated at the end), if any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path.iter().position(|m| m == node).unwrap();
                let mut cycle = path[from..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph.keys().find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}
