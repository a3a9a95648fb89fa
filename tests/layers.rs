//! The house in layers, checked: every file of `src/` is read for the modules it imports
//! (`use crate::…`, inline `crate::…` paths, `super::…`, and a folder's own children), and
//! the graph must have no cycle and point only downward through the layers below, the
//! same table `docs/architecture.md` draws. A new module must be given a layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first. A module may import only modules of its own layer or below,
/// and never so as to close a cycle.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "the lock, and leaves that know nothing of toy",
        &[
            "gil",
            "signal",
            "format",
            "os_error",
            "thread_room",
            "output",
            "method",
            "wire",
            "stdin",
            "family",
            "link",
        ],
    ),
    ("syntax and values", &["ast", "error", "value", "dict", "bytecode"]),
    (
        "objects and the heap",
        &["object", "list", "heap", "compare", "display", "wait_graph"],
    ),
    ("the front end", &["lexer", "parser", "compiler", "disasm"]),
    ("the machine", &["vm"]),
    (
        "the runtime's services",
        &["threads", "sync", "net", "process", "interpreters"],
    ),
    ("builtins", &["builtins"]),
    (
        "the embedding API",
        &[
            "embed",
            "native",
            "modules",
            "interpreter",
            "svg",
            "timeline",
            "exploration",
            "comparison",
            "fuzzing",
        ],
    ),
];

/// Files that belong to the binary, not the library.
const BINARY: &[&str] = &["main.rs", "lib.rs", "repl.rs"];

struct Graph {
    /// Module path (`vm::eval`) → the modules it imports.
    edges: BTreeMap<String, BTreeSet<String>>,
}

/// The code of a file without its comments, its inline test module, and visibility
/// paths (`pub(in crate::gil)` names a module but imports nothing).
fn strip_comments_and_tests(src: &str) -> String {
    let src = match src.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &src[..i],
        None => src,
    };
    let code = src
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::with_capacity(code.len());
    let mut rest = code.as_str();
    while let Some(i) = rest.find("pub(in ") {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        rest = rest.find(')').map_or("", |j| &rest[j + 1..]);
        out.push_str("pub ");
    }
    out.push_str(rest);
    out
}

/// The path segments after each occurrence of `prefix` (`crate::`, `super::`).
fn paths_after(src: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut from = 0;
    while let Some(i) = src[from..].find(prefix) {
        let at = from + i;
        from = at + prefix.len();
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':') {
            continue;
        }
        let rest = &src[from..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let segments: Vec<String> = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        out.push(segments);
    }
    out
}

fn read_graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .to_string();
            if !rel.ends_with(".rs") || BINARY.contains(&rel.as_str()) {
                continue;
            }
            let is_folder = rel.ends_with("/mod.rs");
            let module = rel.trim_end_matches(".rs").trim_end_matches("/mod").replace('/', "::");
            let src = strip_comments_and_tests(&std::fs::read_to_string(&path).expect("a source file"));
            sources.insert(module, (src, is_folder));
        }
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    let longest_module = |segments: &[String]| -> Option<String> {
        (1..=segments.len())
            .rev()
            .map(|k| segments[..k].join("::"))
            .find(|m| modules.contains(m))
    };
    let mut edges = BTreeMap::new();
    for (module, (src, is_folder)) in &sources {
        let here: Vec<String> = module.split("::").map(String::from).collect();
        let mut deps = BTreeSet::new();
        for segments in paths_after(src, "crate::") {
            deps.extend(longest_module(&segments));
        }
        for segments in paths_after(src, "super::") {
            let mut full = here[..here.len() - 1].to_vec();
            full.extend(segments.into_iter().filter(|s| s != "*"));
            deps.extend(longest_module(&full));
        }
        if *is_folder {
            for line in src.lines() {
                let line = line.trim_start();
                let line = line.strip_prefix("pub ").unwrap_or(line);
                if let Some(rest) = line.strip_prefix("use ") {
                    let first = rest.split("::").next().unwrap_or("");
                    let child = format!("{module}::{first}");
                    if modules.contains(&child) {
                        deps.insert(child);
                    }
                }
            }
        }
        deps.remove(module);
        edges.insert(module.clone(), deps);
    }
    Graph { edges }
}

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or(module);
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

#[test]
fn every_module_has_a_layer() {
    let graph = read_graph();
    let missing: Vec<&String> = graph.edges.keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        missing.is_empty(),
        "modules without a layer in tests/layers.rs: {missing:?}"
    );
}

#[test]
fn imports_point_only_downward() {
    let graph = read_graph();
    let mut upward = Vec::new();
    for (module, deps) in &graph.edges {
        let (Some(mine), top) = (layer_of(module), module.split("::").next().unwrap_or("")) else {
            continue;
        };
        for dep in deps {
            let same_top = dep.split("::").next() == Some(top);
            if let Some(theirs) = layer_of(dep)
                && theirs > mine
                && !same_top
            {
                upward.push(format!(
                    "{module} ({}) imports {dep} ({})",
                    LAYERS[mine].0, LAYERS[theirs].0
                ));
            }
        }
    }
    assert!(upward.is_empty(), "imports that point up:\n{}", upward.join("\n"));
}

/// The modules that lie on a cycle or depend on one (Kahn's algorithm: whatever cannot be
/// put in order).
fn unordered(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut indegree: BTreeMap<&String, usize> = edges.keys().map(|m| (m, 0)).collect();
    for deps in edges.values() {
        for d in deps {
            if let Some(n) = indegree.get_mut(d) {
                *n += 1;
            }
        }
    }
    let mut ready: Vec<&String> = indegree.iter().filter(|(_, n)| **n == 0).map(|(m, _)| *m).collect();
    while let Some(m) = ready.pop() {
        for d in &edges[m] {
            if let Some(n) = indegree.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    ready.push(d);
                }
            }
        }
    }
    indegree
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(m, _)| format!("{m} -> {:?}", edges[*m]))
        .collect()
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = read_graph();
    let stuck = unordered(&graph.edges);
    assert!(
        stuck.is_empty(),
        "the import graph has a cycle among:\n{}",
        stuck.join("\n")
    );
}

/// The checker itself can fail: paths are read, comments ignored, and a made-up cycle is
/// found while a chain is not.
#[test]
fn the_checker_sees_imports_and_cycles() {
    let src = "use crate::b::X;\nfn f() { super::c::g() }\n";
    assert_eq!(
        paths_after(src, "crate::"),
        vec![vec!["b".to_string(), "X".to_string()]]
    );
    assert_eq!(
        paths_after(src, "super::"),
        vec![vec!["c".to_string(), "g".to_string()]]
    );
    assert_eq!(strip_comments_and_tests("use a; // crate::x\n"), "use a; ");
    assert_eq!(strip_comments_and_tests("pub(in crate::gil) fn f()"), "pub  fn f()");
    let graph = |pairs: &[(&str, &str)]| {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            edges.entry(a.to_string()).or_default().insert(b.to_string());
            edges.entry(b.to_string()).or_default();
        }
        edges
    };
    assert!(unordered(&graph(&[("a", "b"), ("b", "c")])).is_empty());
    assert_eq!(unordered(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])).len(), 3);
}
