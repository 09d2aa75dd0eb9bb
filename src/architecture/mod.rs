//! The house rules, checked mechanically rather than by review: layering here, the size of
//! files and functions in [`sizes`], and lint attributes in [`lint_attributes`].
//!
//! Layering: every `crate::` and `super::` path in `src/` that crosses from one top-level
//! module to another must be an edge [`LAYERS`] allows (or a listed [`KNOWN_EXCEPTIONS`]
//! entry), and the module map in `lib.rs` must say what the table says.
//!
//! It reads the source text rather than the compiler's view, so it is deliberately simple:
//! comment lines are skipped, `use crate::{a, b::c}` groups (over several lines too) yield
//! one edge per top-level name, and a chain of `super::` is resolved from the file's place in
//! the tree (an inline `mod tests { use super::... }` is taken as its file, which never
//! reaches past it). `src/main.rs` is its own crate (it uses `elevator::`) and this folder only
//! holds the checks, so neither is scanned.

mod lint_attributes;
mod sizes;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{KNOWN_EXCEPTIONS, LAYERS};

/// One path from a file in one top-level module into another.
#[derive(Debug)]
struct Edge {
    file: String,
    line: usize,
    from: String,
    to: String,
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The crate's handwritten Rust files in `dirs` (relative to the crate root), with their paths
/// relative to the crate root and their text, sorted; the generated `src/proto.rs` is left out.
pub(super) fn handwritten_sources(dirs: &[&str]) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in dirs {
        let path = root.join(dir);
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(root).ok()?.to_string_lossy().into_owned();
            (relative != "src/proto.rs")
                .then(|| (relative, std::fs::read_to_string(&path).unwrap()))
        })
        .collect()
}

/// The module path of a file under `src/`: `api/mod.rs` is `[api]`, `api/convert.rs` is
/// `[api, convert]`, `clock.rs` is `[clock]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn ident_at(text: &[u8], mut at: usize) -> (usize, usize) {
    while at < text.len() && text[at].is_ascii_whitespace() {
        at += 1;
    }
    let start = at;
    while at < text.len() && is_ident(text[at]) {
        at += 1;
    }
    (start, at)
}

/// The first names of a path starting at `at`: one name, or each top-level name of a
/// `{a, b::c, d::{e}}` group. Returns (offset, name) pairs.
fn path_heads(text: &[u8], at: usize) -> Vec<(usize, String)> {
    let name =
        |(start, end): (usize, usize)| String::from_utf8_lossy(&text[start..end]).into_owned();
    if text.get(at) != Some(&b'{') {
        let span = ident_at(text, at);
        return vec![(span.0, name(span))];
    }
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    let mut i = at;
    while i < text.len() {
        match text[i] {
            b'{' => {
                depth += 1;
                expect_head = depth == 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expect_head = true,
            byte if expect_head && is_ident(byte) => {
                let span = ident_at(text, i);
                heads.push((span.0, name(span)));
                expect_head = false;
                i = span.1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    heads
}

/// Every edge out of one file, to any name; the caller keeps those naming a module.
fn edges_of(relative: &Path, source: &str) -> Vec<Edge> {
    let module = module_path(relative);
    // Comment lines become blank (keeping line numbers) so doc links are not edges.
    let code: String = source
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let text = code.as_bytes();
    let line_of = |offset: usize| text[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
    let mut edges = Vec::new();
    let mut push = |offset: usize, to: String| {
        edges.push(Edge {
            file: format!("src/{}", relative.display()),
            line: line_of(offset),
            from: module[0].clone(),
            to,
        })
    };
    for (at, _) in code.match_indices("crate::") {
        let before = at.checked_sub(1).map(|i| text[i]);
        if before.is_some_and(|b| is_ident(b) || b == b'$' || b == b':') {
            continue;
        }
        for (offset, head) in path_heads(text, at + "crate::".len()) {
            push(offset, head);
        }
    }
    for (at, _) in code.match_indices("super::") {
        let before = at.checked_sub(1).map(|i| text[i]);
        if before.is_some_and(|b| is_ident(b) || b == b':') {
            continue; // the middle of a chain, counted from its start
        }
        let mut rest = at;
        let mut levels = 0;
        while code[rest..].starts_with("super::") {
            levels += 1;
            rest += "super::".len();
        }
        if levels < module.len() {
            continue; // stays inside this top-level module
        }
        for (offset, head) in path_heads(text, rest) {
            push(offset, head);
        }
    }
    edges
}

fn all_edges() -> Vec<Edge> {
    let root = source_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut edges = Vec::new();
    for path in files {
        let relative = path.strip_prefix(&root).unwrap().to_path_buf();
        let skipped = ["lib.rs", "main.rs"];
        let top_level_file = relative.components().count() == 1;
        if (top_level_file && skipped.iter().any(|s| relative == Path::new(s)))
            || relative.starts_with("architecture")
        {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        edges.extend(edges_of(&relative, &source));
    }
    edges
}

fn layers() -> BTreeMap<&'static str, &'static [&'static str]> {
    LAYERS.iter().copied().collect()
}

/// The top-level modules on disk: `src/x.rs` and `src/x/mod.rs`.
fn modules_on_disk() -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(source_root()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let is_module = if path.is_dir() {
            path.join("mod.rs").exists()
        } else {
            path.extension().is_some_and(|ext| ext == "rs")
        };
        if is_module {
            modules.insert(name);
        }
    }
    for not_a_layer in ["lib", "main", "architecture"] {
        modules.remove(not_a_layer);
    }
    modules
}

#[test]
fn every_edge_between_top_level_modules_is_one_the_module_map_allows() {
    let layers = layers();
    let mut forbidden = Vec::new();
    let mut excused = BTreeSet::new();
    for edge in all_edges() {
        let Some(allowed) = layers.get(edge.from.as_str()) else {
            continue;
        };
        if edge.to == edge.from || !layers.contains_key(edge.to.as_str()) {
            continue; // inside the module, or an item of the crate root rather than a module
        }
        if allowed.contains(&edge.to.as_str()) {
            continue;
        }
        let exception = KNOWN_EXCEPTIONS
            .iter()
            .find(|(from, to, _)| *from == edge.from && *to == edge.to);
        match exception {
            Some(_) => {
                excused.insert((edge.from, edge.to));
            }
            None => forbidden.push(format!(
                "{}:{}: `{}` -> `{}` is forbidden (`{}` may use: {})",
                edge.file,
                edge.line,
                edge.from,
                edge.to,
                edge.from,
                if allowed.is_empty() {
                    "nothing".to_owned()
                } else {
                    allowed.join(", ")
                }
            )),
        }
    }
    for (from, to, _) in KNOWN_EXCEPTIONS {
        if !excused.contains(&(from.to_string(), to.to_string())) {
            forbidden.push(format!(
                "KNOWN_EXCEPTIONS lists `{from}` -> `{to}`, which no longer occurs: remove it"
            ));
        }
    }
    assert!(
        forbidden.is_empty(),
        "layering broken:\n{}",
        forbidden.join("\n")
    );
}

#[test]
fn the_table_names_every_module_once_and_only_points_downwards() {
    let on_disk = modules_on_disk();
    let listed: Vec<&str> = LAYERS.iter().map(|(module, _)| *module).collect();
    let listed_set: BTreeSet<String> = listed.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        listed.len(),
        listed_set.len(),
        "a module is listed twice in LAYERS"
    );
    assert_eq!(
        listed_set, on_disk,
        "LAYERS must list exactly the top-level modules in src/"
    );
    for (rank, (module, allowed)) in LAYERS.iter().enumerate() {
        for dependency in *allowed {
            let below = listed.iter().position(|m| m == dependency);
            assert!(
                below.is_some_and(|below| below > rank),
                "`{module}` may use `{dependency}`, which is not a module listed below it"
            );
        }
    }
    for (from, to, why) in KNOWN_EXCEPTIONS {
        assert!(
            !why.is_empty(),
            "the exception `{from}` -> `{to}` needs a reason"
        );
        let allowed = layers()[from];
        assert!(
            !allowed.contains(to),
            "`{from}` -> `{to}` is allowed; it is no exception"
        );
    }
}

#[test]
fn the_module_map_in_the_crate_docs_says_what_the_table_says() {
    let lib = std::fs::read_to_string(source_root().join("lib.rs")).unwrap();
    let mut documented = BTreeMap::new();
    for row in lib.lines().filter_map(|line| line.strip_prefix("//! | [`")) {
        let module = row.split('`').next().unwrap().to_owned();
        let last = row
            .trim_end()
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap();
        let uses: Vec<String> = last
            .split(',')
            .map(|name| name.trim().trim_matches('`').to_owned())
            .filter(|name| !name.is_empty() && name != "(nothing)")
            .collect();
        documented.insert(module, uses);
    }
    let table: BTreeMap<String, Vec<String>> = LAYERS
        .iter()
        .map(|(module, uses)| {
            (
                module.to_string(),
                uses.iter().map(|u| u.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        documented, table,
        "the module map in lib.rs and LAYERS disagree"
    );
}

#[test]
fn a_use_group_over_several_lines_and_a_super_chain_each_yield_their_modules() {
    let source = "use crate::{\n    domain::Grant,\n    store::{Store, Change},\n};\n\
                  // crate::policy in a comment is no edge\n\
                  fn f() { super::super::decision::x(); super::super::super::decision::y(); $crate::clock::now(); }\n";
    let edges = edges_of(Path::new("api/inner/file.rs"), source);
    let found: Vec<(usize, &str)> = edges.iter().map(|e| (e.line, e.to.as_str())).collect();
    assert_eq!(found, [(2, "domain"), (3, "store"), (6, "decision")]);
    assert!(edges.iter().all(|edge| edge.from == "api"));
}
