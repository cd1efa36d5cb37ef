//! A test of the code's shape: no import cycle between the files of `server/src`.
//! A cycle makes the layers of docs/DESIGN.md a fiction (each side must be read
//! to understand the other), so this fails as soon as one appears and names it.
//!
//! The graph is read from the sources: every `crate::…`, `super::…` and
//! `self::…` path outside comments and the trailing `mod tests` block is an
//! edge to the longest module it names. A module's own children and parent are
//! edges like any other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`http::purchase`; the crate root is `""`) → source text.
type Sources = BTreeMap<String, String>;

/// Every `.rs` file under `dir`, by module path.
fn read_sources(dir: &Path) -> Sources {
    let mut sources = Sources::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("server/src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|extension| extension != "rs") {
                continue;
            }
            let relative = path.strip_prefix(dir).expect("under server/src");
            let mut parts: Vec<String> = relative
                .with_extension("")
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("a source file is readable");
            sources.insert(parts.join("::"), text);
        }
    }
    sources
}

/// The code of a file as the compiler sees it outside tests: comments and the
/// trailing `#[cfg(test)] mod tests` block removed.
fn code_of(text: &str) -> String {
    let text = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |start| &text[..start]);
    text.lines()
        .map(|line| line.find("//").map_or(line, |start| &line[..start]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The module paths named in `code` (`crate::a::b`, `super::c`, and each item
/// of a group `crate::{a, b::c}`), as written, one segment list each.
fn named_paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut paths = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let starts_word = at == 0 || !is_ident(chars[at - 1]);
        let rest: String = chars[at..chars.len().min(at + 7)].iter().collect();
        let head = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|head| rest.starts_with(head));
        match head {
            Some(_) if starts_word => {
                let (path, end) = read_path(&chars, at, &mut paths);
                paths.push(path);
                at = end;
            }
            _ => at += 1,
        }
    }
    paths
}

/// Reads `a::b::c` from `at`, then a `::{…}` group if one follows (its items
/// pushed onto `groups` with the prefix); returns the path and where it ended.
fn read_path(chars: &[char], mut at: usize, groups: &mut Vec<Vec<String>>) -> (Vec<String>, usize) {
    let mut segments = Vec::new();
    loop {
        let start = at;
        while at < chars.len() && is_ident(chars[at]) {
            at += 1;
        }
        if at > start {
            segments.push(chars[start..at].iter().collect());
        }
        if chars.get(at) == Some(&':') && chars.get(at + 1) == Some(&':') {
            at += 2;
            if chars.get(at) == Some(&'{') {
                let (items, end) = read_group(chars, at + 1);
                for item in items {
                    let mut inner = Vec::new();
                    let (item_path, _) =
                        read_path(&item.chars().collect::<Vec<_>>(), 0, &mut inner);
                    for path in std::iter::once(item_path).chain(inner) {
                        let mut full = segments.clone();
                        full.extend(path);
                        groups.push(full);
                    }
                }
                return (segments, end);
            }
            continue;
        }
        return (segments, at);
    }
}

/// The items of a `{…}` group starting after its `{`, split at its top-level
/// commas; returns them and the index after the closing `}`.
fn read_group(chars: &[char], mut at: usize) -> (Vec<String>, usize) {
    let mut items = vec![String::new()];
    let mut depth = 0;
    while at < chars.len() {
        match chars[at] {
            '{' => depth += 1,
            '}' if depth == 0 => return (items, at + 1),
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(String::new());
                at += 1;
                continue;
            }
            _ => {}
        }
        items.last_mut().expect("never empty").push(chars[at]);
        at += 1;
    }
    (items, at)
}

/// The module a path written in `module` points into: `crate`, `super` and
/// `self` resolved, then the longest prefix that is a file of the crate.
fn resolve(module: &str, path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    let mut full: Vec<String> = Vec::new();
    let mut segments = path.iter().peekable();
    match segments.peek().map(|segment| segment.as_str()) {
        Some("crate") => {
            segments.next();
        }
        Some("super" | "self") => {
            full = module
                .split("::")
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect();
            while let Some(segment) =
                segments.next_if(|segment| *segment == "super" || *segment == "self")
            {
                if segment == "super" {
                    full.pop();
                }
            }
        }
        _ => return None,
    }
    full.extend(segments.cloned());
    (0..=full.len())
        .rev()
        .map(|len| full[..len].join("::"))
        .find(|candidate| modules.contains(candidate))
}

/// The child modules of `module` that `code` names by a bare path
/// (`state::AppState`, `openapi::frame()`), as a parent does without `self::`.
fn children_named(module: &str, code: &str, modules: &BTreeSet<String>) -> Vec<String> {
    let prefix = if module.is_empty() {
        String::new()
    } else {
        format!("{module}::")
    };
    modules
        .iter()
        .filter_map(|candidate| {
            let child = candidate.strip_prefix(&prefix)?;
            (!child.is_empty() && !child.contains("::")).then_some((candidate, child))
        })
        .filter(|(_, child)| {
            let named = format!("{child}::");
            code.match_indices(&named).any(|(at, _)| {
                let before = code[..at].chars().next_back();
                before.is_none_or(|c| !is_ident(c) && c != ':')
            })
        })
        .map(|(candidate, _)| candidate.clone())
        .collect()
}

/// Module → the modules it names (the crate root left out: `lib.rs` declares
/// every top module and is above them all).
fn edges(sources: &Sources) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .filter(|(module, _)| !module.is_empty())
        .map(|(module, text)| {
            let code = code_of(text);
            let targets = named_paths(&code)
                .iter()
                .filter_map(|path| resolve(module, path, &modules))
                .chain(children_named(module, &code, &modules))
                .filter(|target| !target.is_empty() && target != module)
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

/// One cycle of the graph, as the modules along it (first repeated at the end),
/// or `None` when there is none.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    fn visit<'a>(
        module: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        marks.insert(module, Mark::OnPath);
        path.push(module);
        for next in edges.get(module).into_iter().flatten() {
            match marks.get(next.as_str()) {
                Some(Mark::OnPath) => {
                    let start = path.iter().position(|m| *m == next).expect("on the path");
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|m| m.to_string()).collect();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, marks, path) {
                        return Some(cycle);
                    }
                }
            }
        }
        path.pop();
        marks.insert(module, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for module in edges.keys() {
        if !marks.contains_key(module.as_str()) {
            if let Some(cycle) = visit(module, edges, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn no_module_of_the_server_imports_itself_through_others() {
    let sources = read_sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let edges = edges(&sources);
    // The graph was read: the buy route names the stock, the stock the keys.
    assert!(
        edges["http::purchase"].contains("sales::stock"),
        "{:?}",
        edges["http::purchase"]
    );
    assert!(
        edges["sales::stock"].contains("keys"),
        "{:?}",
        edges["sales::stock"]
    );
    if let Some(cycle) = find_cycle(&edges) {
        panic!(
            "an import cycle between server modules: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn a_cycle_through_a_group_import_or_a_parent_is_found() {
    let sources = Sources::from([
        (String::new(), "pub mod config; pub mod net;".to_owned()),
        (
            "config".to_owned(),
            "use crate::{net::{Target, Other}, x};".to_owned(),
        ),
        ("net".to_owned(), "pub mod tls;".to_owned()),
        (
            "net::tls".to_owned(),
            "// use crate::nothing;\nfn f(s: super::super::config::Secret) {}".to_owned(),
        ),
    ]);
    // net::tls → config → net: not a cycle yet (net names no one).
    assert_eq!(find_cycle(&edges(&sources)), None);
    let mut cyclic = sources.clone();
    cyclic.insert(
        "net".to_owned(),
        "pub mod tls; use self::tls::Tls;".to_owned(),
    );
    assert_eq!(
        find_cycle(&edges(&cyclic)),
        Some(vec![
            "config".to_owned(),
            "net".to_owned(),
            "net::tls".to_owned(),
            "config".to_owned()
        ])
    );
}
