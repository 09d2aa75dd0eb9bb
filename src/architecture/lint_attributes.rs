//! No lint is silenced: no `#[allow(...)]` anywhere in the crate's code (its source, tests,
//! benchmarks and build script) but the generated protobuf code. The one lint that may be
//! opted out of is `unsafe_code`, which `Cargo.toml` denies crate-wide, and only in the places
//! [`UNSAFE_CODE`] lists with their reason, each with `#[expect(unsafe_code, reason = "…")]`
//! on the one item that needs it (an `expect` fails the build when the item stops needing it).

use std::path::Path;

use super::handwritten_sources;
use super::sizes::code_only;

/// The only places that may use `unsafe`, relative to the crate root, and why each must.
const UNSAFE_CODE: &[(&str, &str)] = &[
    (
        "src/telemetry/heap.rs",
        "a global allocator that counts live bytes implements the unsafe `GlobalAlloc` trait",
    ),
    (
        "src/cli/mod.rs",
        "restoring SIGPIPE's default action for client commands is a libc call",
    ),
    (
        "src/loadtest/pacing.rs",
        "the load generator's precise schedule lowers its thread's timer slack with prctl",
    ),
];

/// The lint attributes in `source` (`#[allow(`, `#![allow(`, `#[expect(`, `#![expect(`), each
/// with its 1-based line and its text up to the `)]` that closes it, however many lines it
/// spans. Comments and string literals are not code, so an attribute spelled inside one is not
/// found.
fn lint_attributes(source: &str) -> Vec<(usize, String)> {
    let code = code_only(source);
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(source.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    code.lines()
        .enumerate()
        .filter_map(|(index, code)| {
            let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            let is_lint_attribute = ["#[allow(", "#![allow(", "#[expect(", "#![expect("]
                .iter()
                .any(|opening| compact.contains(opening));
            if !is_lint_attribute {
                return None;
            }
            let rest = &source[*line_starts.get(index)?..];
            let end = rest.find(")]").map_or(rest.len(), |at| at + 2);
            Some((index + 1, rest[..end].trim().to_owned()))
        })
        .collect()
}

/// Whether `attribute` is the one permitted form: `#[expect(unsafe_code, reason = "…")]`.
fn is_unsafe_code_expectation(attribute: &str) -> bool {
    let compact: String = attribute.chars().filter(|c| !c.is_whitespace()).collect();
    compact
        .strip_prefix("#[expect(unsafe_code,reason=\"")
        .is_some_and(|rest| rest.len() > "\")]".len() && rest.ends_with("\")]"))
}

#[test]
fn no_lint_is_silenced_and_unsafe_code_is_expected_only_where_listed() {
    let listed: Vec<&str> = UNSAFE_CODE.iter().map(|(file, _)| *file).collect();
    let mut wrong = Vec::new();
    let mut used = Vec::new();
    for (file, source) in handwritten_sources(&["build.rs", "src", "tests", "benches"]) {
        for (line, attribute) in lint_attributes(&source) {
            if is_unsafe_code_expectation(&attribute) && listed.contains(&file.as_str()) {
                used.push(file.clone());
            } else {
                wrong.push(format!("{file}:{line}: {attribute}"));
            }
        }
    }
    for file in listed {
        if !used.iter().any(|u| u == file) {
            wrong.push(format!(
                "UNSAFE_CODE lists {file}, which no longer uses unsafe: remove it"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "fix the code the lint points at instead of silencing it; only the places in \
         UNSAFE_CODE may expect `unsafe_code`, with a reason:\n{}",
        wrong.join("\n")
    );
    assert!(
        UNSAFE_CODE
            .iter()
            .all(|(file, why)| Path::new(file).starts_with("src") && !why.is_empty())
    );
}

#[test]
fn an_allow_in_any_spelling_is_found_and_an_expectation_needs_a_reason() {
    let source = "#[allow(dead_code)]\nfn a() {}\n  #![ allow ( clippy::all ) ]\n// #[allow(x)] in a comment\n\
                  #[expect(unsafe_code, reason = \"a libc call\")]\n#[expect(unsafe_code)]\n";
    let found: Vec<usize> = lint_attributes(source)
        .iter()
        .map(|(line, _)| *line)
        .collect();
    assert_eq!(found, [1, 3, 5, 6]);
    assert!(is_unsafe_code_expectation(
        "#[expect(unsafe_code, reason = \"a libc call\")]"
    ));
    assert!(!is_unsafe_code_expectation("#[expect(unsafe_code)]"));
    assert!(!is_unsafe_code_expectation(
        "#[expect(dead_code, reason = \"later\")]"
    ));
    assert!(!is_unsafe_code_expectation(
        "#[expect(unsafe_code, reason = \"\")]"
    ));
}

#[test]
fn an_attribute_formatted_over_several_lines_is_read_whole() {
    let source =
        "fn a() {}\n#[expect(\n    unsafe_code,\n    reason = \"a libc call\"\n)]\nfn f() {}\n";
    let found = lint_attributes(source);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, 2);
    assert!(is_unsafe_code_expectation(&found[0].1));
}
