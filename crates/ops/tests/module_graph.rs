//! The module graph of every crate under `crates/` has no cycle, and in `deployer-ops` the
//! pipeline never reaches back into the commands. Run by `make lint`.
//!
//! A module is a file (`a.rs` and `a/mod.rs` are module `a`, `a/b.rs` is `a::b`); `lib.rs` and
//! `main.rs` are the crate root. A module uses another when its code names it through a
//! `crate::` or `super::` path (in `use` lines or inline). A module also reaches its own
//! submodules. Naming an ancestor (`super::*`, an item re-exported at the crate root) is not
//! counted: a child may always use what its parents hold.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module path inside its crate; the crate root is the empty path.
type Module = Vec<String>;

/// Which modules each module uses.
type Graph = BTreeMap<Module, BTreeSet<Module>>;

/// Cycles allowed for now: none. (A cycle that has to stay while it is being broken is listed
/// here exactly as the test prints it; one that is gone must be deleted.)
const KNOWN: &[&str] = &[];

#[test]
fn no_crate_has_an_import_cycle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cycles = Vec::new();
    for (name, graph) in crate_graphs(&crates) {
        for cycle in find_cycles(&graph) {
            cycles.push(format!("{name}: {}", render_cycle(&cycle)));
        }
    }
    let new: Vec<&String> = cycles
        .iter()
        .filter(|c| !KNOWN.contains(&c.as_str()))
        .collect();
    let gone: Vec<&&str> = KNOWN
        .iter()
        .filter(|k| !cycles.iter().any(|c| c == *k))
        .collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "import cycles:\n  {}\nbroken since (delete from KNOWN): {gone:?}",
        cycles.join("\n  ")
    );
}

#[test]
fn the_ops_pipeline_never_uses_the_commands() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph_of(&src);
    let pipeline = graph
        .keys()
        .filter(|m| m.first().is_some_and(|s| s == "pipeline"));
    let mut arrows = Vec::new();
    for from in pipeline {
        for to in &graph[from] {
            if to.first().is_some_and(|s| s == "commands") {
                arrows.push(format!("{} → {}", render(from), render(to)));
            }
        }
    }
    assert!(
        graph.contains_key(&vec!["pipeline".to_string()]),
        "crates/ops/src/pipeline/ is missing"
    );
    assert!(
        arrows.is_empty(),
        "the pipeline uses commands:\n  {}",
        arrows.join("\n  ")
    );
}

#[test]
fn a_cycle_through_use_lines_is_found() {
    let known: BTreeSet<Module> = [vec![], m("a"), m("b"), m("c"), m("c::d")].into();
    let mut graph = Graph::new();
    let files = [
        (m("a"), "use crate::b::{self, Thing};\n// use crate::c::d;"),
        (m("b"), "fn f() { crate::c::d::run(); }"),
        (
            m("c::d"),
            "use super::super::{a::X, Y};\nmod tests { use super::*; }",
        ),
        (m("c"), "use super::Root;"),
    ];
    for (module, text) in files {
        graph.insert(module.clone(), uses(&module, text, &known));
    }
    add_submodules(&mut graph);
    assert_eq!(graph[&m("a")], [m("b")].into());
    assert_eq!(graph[&m("c")], [m("c::d")].into());
    let cycles = find_cycles(&graph);
    assert_eq!(cycles.len(), 1);
    assert_eq!(render_cycle(&cycles[0]), "a → b → c::d → a");
}

fn m(path: &str) -> Module {
    path.split("::").map(str::to_string).collect()
}

/// The module graph of each crate directory under `crates` that has a `src/`.
fn crate_graphs(crates: &Path) -> Vec<(String, Graph)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = fs::read_dir(crates)
        .expect("read crates/")
        .map(|e| e.expect("crates/ entry").path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        out.push((name, graph_of(&dir.join("src"))));
    }
    out
}

/// The module graph of one crate's `src/` (its `bin/` targets are crates of their own).
fn graph_of(src: &Path) -> Graph {
    let files = rust_files(src);
    let known: BTreeSet<Module> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let module = module_of(src, file);
        let text = fs::read_to_string(file).expect("read source file");
        graph
            .entry(module.clone())
            .or_default()
            .extend(uses(&module, &text, &known));
    }
    add_submodules(&mut graph);
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("source entry").path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "bin") {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).expect("file under src");
    let mut parts: Module = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("file name");
    let stem = last.trim_end_matches(".rs");
    if !(matches!(stem, "mod") || parts.is_empty() && matches!(stem, "lib" | "main")) {
        parts.push(stem.to_string());
    }
    parts
}

/// A module reaches its submodules (its `mod` lines and re-exports).
fn add_submodules(graph: &mut Graph) {
    let modules: Vec<Module> = graph.keys().cloned().collect();
    for child in modules.iter().filter(|c| !c.is_empty()) {
        let parent = child[..child.len() - 1].to_vec();
        graph.entry(parent).or_default().insert(child.clone());
    }
}

/// The modules that `text`, the source of `module`, names through `crate::` or `super::`
/// paths, ancestors of `module` left out. Comment lines are skipped; everything after the
/// first inline `mod name {` is read as one level deeper (where `super` is the file's module).
fn uses(module: &Module, text: &str, known: &BTreeSet<Module>) -> BTreeSet<Module> {
    let mut code = String::new();
    let mut depth_at = Vec::new();
    let mut inline = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "mod");
        if at.is_some_and(|i| words.get(i + 2) == Some(&"{")) {
            inline = true;
        }
        depth_at.push((code.len(), inline));
        code.push_str(line);
        code.push('\n');
    }
    let inline_from = depth_at.iter().find(|(_, i)| *i).map(|(pos, _)| *pos);
    let mut out = BTreeSet::new();
    for (pos, path) in paths(&code) {
        let deeper = inline_from.is_some_and(|start| pos >= start);
        if let Some(target) = resolve(module, deeper, &path, known)
            && !module.starts_with(&target)
        {
            out.insert(target);
        }
    }
    out
}

/// Every `crate::…` / `super::…` path in `code` with its position, use groups expanded.
fn paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        for (pos, _) in code.match_indices(start) {
            let before = pos.checked_sub(1).map(|i| bytes[i]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$') {
                continue;
            }
            let head = start.trim_end_matches("::").to_string();
            let mut at = pos + start.len();
            for tail in use_tree(code, &mut at) {
                let mut path = vec![head.clone()];
                path.extend(tail);
                out.push((pos, path));
            }
        }
    }
    out
}

/// Parses a use tree (`a::b`, `a::{b, c::d}`, `self`, `*`) starting at `*at`.
fn use_tree(code: &str, at: &mut usize) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let skip_ws = |at: &mut usize| {
        while *at < bytes.len() && bytes[*at].is_ascii_whitespace() {
            *at += 1;
        }
    };
    let mut prefix = Vec::new();
    loop {
        skip_ws(at);
        if *at < bytes.len() && bytes[*at] == b'{' {
            *at += 1;
            let mut out = Vec::new();
            loop {
                skip_ws(at);
                if *at >= bytes.len() || bytes[*at] == b'}' {
                    *at += 1;
                    return out;
                }
                for tail in use_tree(code, at) {
                    let mut path = prefix.clone();
                    path.extend(tail.into_iter().filter(|s| s != "self"));
                    out.push(path);
                }
                skip_ws(at);
                if *at < bytes.len() && bytes[*at] == b',' {
                    *at += 1;
                }
            }
        }
        let begin = *at;
        while *at < bytes.len() && (bytes[*at].is_ascii_alphanumeric() || bytes[*at] == b'_') {
            *at += 1;
        }
        if *at == begin {
            // `*` or the end of the path.
            if *at < bytes.len() && bytes[*at] == b'*' {
                *at += 1;
            }
            return vec![prefix];
        }
        prefix.push(code[begin..*at].to_string());
        if code[*at..].starts_with("::") {
            *at += 2;
        } else {
            if code[*at..].trim_start().starts_with("as ") {
                // `x as y`: skip the alias.
                *at += code[*at..].find("as ").unwrap() + 3;
                skip_ws(at);
                while *at < bytes.len()
                    && (bytes[*at].is_ascii_alphanumeric() || bytes[*at] == b'_')
                {
                    *at += 1;
                }
            }
            return vec![prefix];
        }
    }
}

/// The longest known module that `path` (from `module`'s file) lies in.
fn resolve(
    module: &Module,
    deeper: bool,
    path: &[String],
    known: &BTreeSet<Module>,
) -> Option<Module> {
    let mut base: Module = Vec::new();
    let mut rest = path;
    if path[0] == "super" {
        // In the file, `super` is the parent; inside an inline module, the file's module.
        base = module.clone();
        let mut ups = 0;
        while rest.first().is_some_and(|s| s == "super") {
            ups += 1;
            rest = &rest[1..];
        }
        if deeper {
            ups -= 1;
        }
        base.truncate(base.len().checked_sub(ups)?);
    } else {
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    (0..=base.len())
        .rev()
        .map(|n| base[..n].to_vec())
        .find(|p| known.contains(p))
}

/// One cycle per back edge met in a depth-first walk.
fn find_cycles(graph: &Graph) -> Vec<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &Module,
        graph: &Graph,
        marks: &mut BTreeMap<Module, Mark>,
        stack: &mut Vec<Module>,
        cycles: &mut Vec<Vec<Module>>,
    ) {
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::New => visit(next, graph, marks, stack, cycles),
                Mark::Open => {
                    let from = stack
                        .iter()
                        .position(|m| m == next)
                        .expect("open node on stack");
                    cycles.push(stack[from..].to_vec());
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut cycles = Vec::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            visit(node, graph, &mut marks, &mut Vec::new(), &mut cycles);
        }
    }
    cycles
}

fn render(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

fn render_cycle(cycle: &[Module]) -> String {
    let mut names: Vec<String> = cycle.iter().map(render).collect();
    names.push(render(&cycle[0]));
    names.join(" → ")
}

#[test]
fn no_command_file_is_over_300_lines() {
    let commands = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let long: Vec<String> = rust_files(&commands)
        .into_iter()
        .map(|f| {
            (
                fs::read_to_string(&f)
                    .expect("read command")
                    .lines()
                    .count(),
                f,
            )
        })
        .filter(|(lines, _)| *lines > 300)
        .map(|(lines, f)| format!("{} ({lines} lines)", f.display()))
        .collect();
    assert!(long.is_empty(), "command files over 300 lines: {long:?}");
}
