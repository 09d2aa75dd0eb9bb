//! The Helm chart in `helm/elevator`, the checks Helm and the Kubernetes schemas do not make
//! (those are in [`super::helm_render`]): its metadata, that the templates and values.yaml
//! agree (every `.Values` path a template reads is defined, every top-level value is read by
//! some template), and that every value is documented, by a comment in values.yaml and in the
//! chart's README.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// Top-level values that no template reads, each with the reason it is kept. Empty: every value
/// the chart offers does something.
const DOCUMENTED_ONLY: &[(&str, &str)] = &[];

fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("helm/elevator")
}

/// `path` as the chart knows it (`templates/deployment.yaml`), for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(chart_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

fn parse_yaml_file(path: &Path) -> Value {
    serde_yaml::from_str(&read(path))
        .unwrap_or_else(|error| panic!("{} is not valid YAML: {error}", shown(path)))
}

fn values() -> Value {
    parse_yaml_file(&chart_dir().join("values.yaml"))
}

/// Every file under templates/ (sorted), with its text.
fn template_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let entries =
            fs::read_dir(dir).unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&chart_dir().join("templates"), &mut paths);
    paths.sort();
    assert!(!paths.is_empty(), "helm/elevator/templates holds no file");
    paths
        .into_iter()
        .map(|path| {
            let text = read(&path);
            (path, text)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading templates

/// A piece of template text.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    /// Literal text, copied to the output as it is.
    Text(&'a str),
    /// The inside of an action `{{ ... }}`, trim markers included.
    Action(&'a str),
    /// A comment `{{/* ... */}}`, which renders nothing.
    Comment,
}

/// Splits a template into literal text, actions and comments. Quoted strings inside an action
/// may hold `}}`; a comment runs to its `*/`.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let line_of =
        |rest: &str, open: usize| text[..text.len() - rest.len() + open].matches('\n').count() + 1;
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        let inside = &rest[open + 2..];
        // A trim marker is a dash followed by white space (`{{-3}}` is the number -3).
        let body = match inside.strip_prefix('-') {
            Some(after) if after.starts_with(char::is_whitespace) => after,
            _ => inside,
        };
        let consumed = if let Some(comment) = body.trim_start().strip_prefix("/*") {
            let end = comment.find("*/").ok_or_else(|| {
                format!("line {}: a comment is never closed", line_of(rest, open))
            })?;
            let after = comment[end + 2..].trim_start();
            let after = after.strip_prefix('-').unwrap_or(after);
            if !after.starts_with("}}") {
                return Err(format!(
                    "line {}: a comment must end right after its {:?}",
                    line_of(rest, open),
                    "*/"
                ));
            }
            pieces.push(Piece::Comment);
            // `after` is the tail of `inside` from the closing braces on.
            inside.len() - after.len() + 2
        } else {
            let end = action_end(inside).ok_or_else(|| {
                format!("line {}: an action is never closed", line_of(rest, open))
            })?;
            pieces.push(Piece::Action(&inside[..end]));
            end + 2
        };
        rest = &inside[consumed..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Where the `}}` that closes an action lies in `inside`, skipping quoted strings. A `{{`
/// before it means the action was never closed.
fn action_end(inside: &str) -> Option<usize> {
    let bytes = inside.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'}' if bytes.get(index + 1) == Some(&b'}') => return Some(index),
            b'{' if bytes.get(index + 1) == Some(&b'{') => return None,
            quote @ (b'"' | b'\'' | b'`') => {
                index += 1;
                while index < bytes.len() && bytes[index] != quote {
                    // Only backquoted strings are raw; the others have escapes.
                    if bytes[index] == b'\\' && quote != b'`' {
                        index += 1;
                    }
                    index += 1;
                }
            }
            _ => {}
        }
        index += 1;
    }
    None
}

/// The `.Values` paths an action reads: `.Values.auth.jwks.key` gives `auth.jwks.key` (also as
/// `$.Values...`). Indexing with `index .Values "x"` is not seen.
fn values_paths(action: &str) -> Vec<String> {
    const MARKER: &str = ".Values.";
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = action[from..].find(MARKER) {
        let start = from + at;
        from = start + MARKER.len();
        // `x.Values.y` is a field of x, not the chart's values.
        if action[..start].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let mut segments: Vec<&str> = Vec::new();
        let mut rest = &action[from..];
        loop {
            let starts_ident = rest
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !starts_ident {
                break;
            }
            let length = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
            segments.push(&rest[..length]);
            rest = &rest[length..];
            match rest.strip_prefix('.') {
                Some(after) => rest = after,
                None => break,
            }
        }
        if !segments.is_empty() {
            found.push(segments.join("."));
        }
    }
    found
}

/// Every `.Values` path read by the actions of a template, in order, with duplicates.
fn template_values_paths(path: &Path, text: &str) -> Vec<String> {
    pieces(text)
        .unwrap_or_else(|error| panic!("{}: {error}", shown(path)))
        .into_iter()
        .flat_map(|piece| match piece {
            Piece::Action(action) => values_paths(action),
            Piece::Text(_) | Piece::Comment => Vec::new(),
        })
        .collect()
}

/// The value at a dotted path, or why there is none. A key present with a null value is
/// defined; a path that goes on below a null or a scalar is not.
fn lookup<'a>(values: &'a Value, path: &str) -> Result<&'a Value, String> {
    let mut node = values;
    let mut walked: Vec<&str> = Vec::new();
    for segment in path.split('.') {
        let Some(mapping) = node.as_mapping() else {
            return Err(format!(
                "{} is not a mapping, so it has no key {segment:?}",
                if walked.is_empty() {
                    "the root".to_owned()
                } else {
                    walked.join(".")
                }
            ));
        };
        let Some(next) = mapping.get(segment) else {
            return Err(if walked.is_empty() {
                format!("there is no top-level key {segment:?}")
            } else {
                format!("{} has no key {segment:?}", walked.join("."))
            });
        };
        walked.push(segment);
        node = next;
    }
    Ok(node)
}

// ---------------------------------------------------------------------------------------------
// Reading values.yaml as lines

/// A key of values.yaml as written on its line.
#[derive(Debug)]
struct KeyLine {
    /// 1-based line number.
    line: usize,
    /// Dotted path from the root.
    path: String,
    /// Whether the line directly above is a comment.
    commented: bool,
}

/// The key of a `key: value` or `key:` line (already trimmed), if it is one.
fn line_key(trimmed: &str) -> Option<&str> {
    if trimmed.starts_with(['#', '-', '{', '[', '|', '>']) {
        return None;
    }
    if let Some(quote) = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let close = trimmed[1..].find(quote)? + 1;
        let after = &trimmed[close + 1..];
        return (after == ":" || after.starts_with(": ")).then(|| &trimmed[1..close]);
    }
    let colon = trimmed
        .find(": ")
        .or_else(|| trimmed.strip_suffix(':').map(str::len))?;
    let key = &trimmed[..colon];
    (!key.is_empty() && !key.contains(" #")).then_some(key)
}

/// Every mapping key of values.yaml reachable through mappings only: keys inside lists and
/// block scalars are data, not values, and need no comment of their own.
fn key_lines(text: &str) -> Vec<KeyLine> {
    let mut keys = Vec::new();
    // (indent, key) of the mappings the current line is nested in.
    let mut parents: Vec<(usize, String)> = Vec::new();
    // Lines indented deeper than this belong to a list item or a block scalar.
    let mut skip_deeper_than: Option<usize> = None;
    let mut comment_above = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let indent = line.len() - line.trim_start().len();
        if trimmed.is_empty() {
            comment_above = false;
            continue;
        }
        if let Some(limit) = skip_deeper_than {
            if indent > limit {
                continue;
            }
            skip_deeper_than = None;
        }
        if trimmed.starts_with('#') {
            comment_above = true;
            continue;
        }
        if trimmed == "-" || trimmed.starts_with("- ") {
            skip_deeper_than = Some(indent);
            comment_above = false;
            continue;
        }
        let Some(key) = line_key(trimmed) else {
            comment_above = false;
            continue;
        };
        while parents.last().is_some_and(|(depth, _)| *depth >= indent) {
            parents.pop();
        }
        let path = parents
            .iter()
            .map(|(_, parent)| parent.as_str())
            .chain([key])
            .collect::<Vec<_>>()
            .join(".");
        keys.push(KeyLine {
            line: index + 1,
            path,
            commented: comment_above,
        });
        comment_above = false;
        let value = trimmed[trimmed.find(':').map_or(trimmed.len(), |at| at + 1)..].trim_start();
        if value.starts_with(['|', '>']) {
            skip_deeper_than = Some(indent);
        }
        parents.push((indent, key.to_owned()));
    }
    keys
}

/// The dotted paths of every mapping key reachable through mappings only, from parsed YAML.
fn mapping_paths(value: &Value, prefix: &str, paths: &mut BTreeSet<String>) {
    let Some(mapping) = value.as_mapping() else {
        return;
    };
    for (key, child) in mapping {
        let key = match key {
            Value::String(text) => text.clone(),
            other => serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_owned(),
        };
        let path = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        mapping_paths(child, &path, paths);
        paths.insert(path);
    }
}

// ---------------------------------------------------------------------------------------------
// The checks

#[test]
fn chart_yaml_is_a_v2_chart_named_elevator_with_versions() {
    let path = chart_dir().join("Chart.yaml");
    let chart = parse_yaml_file(&path);
    let text_field = |field: &str| -> String {
        match chart.get(field) {
            Some(Value::String(text)) if !text.trim().is_empty() => text.clone(),
            Some(Value::String(_)) | None => panic!("Chart.yaml: {field} is missing or empty"),
            Some(other) => panic!("Chart.yaml: {field} must be a string (quote it), not {other:?}"),
        }
    };
    assert_eq!(
        text_field("apiVersion"),
        "v2",
        "Chart.yaml: apiVersion must be v2 (Helm 3)"
    );
    assert_eq!(text_field("name"), "elevator", "Chart.yaml: name");
    text_field("version");
    assert_eq!(
        text_field("appVersion"),
        env!("CARGO_PKG_VERSION"),
        "Chart.yaml: appVersion must follow the crate's version; the image tag defaults to it"
    );

    let values_path = chart_dir().join("values.yaml");
    assert!(
        parse_yaml_file(&values_path).is_mapping(),
        "values.yaml must be a mapping at the top"
    );
}

#[test]
fn values_scanner_reads_paths_and_skips_comments() {
    let template = concat!(
        "{{/* .Values.commented.out */}}\n",
        "{{- /* .Values.also.commented */ -}}\n",
        "a: {{ .Values.image.tag | default .Chart.AppVersion }}\n",
        "{{- with $.Values.auth.jwks }}{{ index .Values \"skipped\" }}{{ end }}\n",
        "b: {{ printf \"}}\" .Values.after_quote }}\n",
        "c: {{ $x.Values.not_root }}\n",
    );
    let found = template_values_paths(Path::new("inline"), template);
    assert_eq!(found, ["image.tag", "auth.jwks", "after_quote"]);

    let unclosed = pieces("a: {{ .Values.a }\nb: {{ .Values.b }}\n");
    assert!(unclosed.is_err(), "an action missing its }} was accepted");
}

#[test]
fn values_yaml_defines_every_values_path_the_templates_read() {
    let values = values();
    let mut problems = Vec::new();
    let mut seen = 0;
    for (path, text) in template_files() {
        for reference in template_values_paths(&path, &text) {
            seen += 1;
            if let Err(why) = lookup(&values, &reference) {
                problems.push(format!(
                    "{} reads .Values.{reference}, but values.yaml does not define it: {why}",
                    shown(&path)
                ));
            }
        }
    }
    assert!(
        seen > 0,
        "found no .Values reference in any template; is the scanner broken?"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_top_level_value_is_read_by_a_template() {
    let values = values();
    let mapping = values.as_mapping().expect("values.yaml is a mapping");
    let read: BTreeSet<String> = template_files()
        .iter()
        .flat_map(|(path, text)| template_values_paths(path, text))
        .map(|reference| reference.split('.').next().unwrap_or("").to_owned())
        .collect();
    let documented_only: BTreeSet<&str> = DOCUMENTED_ONLY.iter().map(|(key, _)| *key).collect();

    let mut problems = Vec::new();
    for key in mapping.keys() {
        let key = key
            .as_str()
            .expect("top-level keys of values.yaml are strings");
        if !read.contains(key) && !documented_only.contains(key) {
            problems.push(format!(
                "values.yaml: top-level value {key:?} is read by no template; use it, remove it, \
                 or list it in DOCUMENTED_ONLY with the reason"
            ));
        }
    }
    for key in documented_only {
        if mapping.get(key).is_none() {
            problems.push(format!(
                "DOCUMENTED_ONLY lists {key:?}, which values.yaml lacks"
            ));
        } else if read.contains(key) {
            problems.push(format!(
                "DOCUMENTED_ONLY lists {key:?}, but a template reads it; drop it from the list"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_value_in_values_yaml_has_a_comment_above_it() {
    let path = chart_dir().join("values.yaml");
    let text = read(&path);
    let keys = key_lines(&text);

    // The line scan must see exactly the keys the YAML parser sees, or it could skip some.
    let scanned: BTreeSet<String> = keys.iter().map(|key| key.path.clone()).collect();
    let mut parsed = BTreeSet::new();
    mapping_paths(&values(), "", &mut parsed);
    let unseen: Vec<&String> = parsed.difference(&scanned).collect();
    assert!(
        unseen.is_empty(),
        "values.yaml: these keys are not on lines of their own (flow style?), so they cannot \
         carry a comment: {unseen:?}"
    );
    let phantom: Vec<&String> = scanned.difference(&parsed).collect();
    assert!(
        phantom.is_empty(),
        "values.yaml: the line scan misread {phantom:?} as keys"
    );

    let uncommented: Vec<String> = keys
        .iter()
        .filter(|key| !key.commented)
        .map(|key| {
            format!(
                "values.yaml:{}: {} has no comment line directly above it",
                key.line, key.path
            )
        })
        .collect();
    assert!(uncommented.is_empty(), "{}", uncommented.join("\n"));
}

#[test]
fn chart_readme_lists_every_value() {
    let readme_path = chart_dir().join("README.md");
    let readme = read(&readme_path);
    let values = values();
    let mut paths = BTreeSet::new();
    mapping_paths(&values, "", &mut paths);
    // A mapping with keys of its own is listed through its keys.
    let missing: Vec<String> = paths
        .into_iter()
        .filter(|path| {
            let value = lookup(&values, path).expect("a path read from values.yaml");
            value.as_mapping().is_none_or(|mapping| mapping.is_empty())
        })
        .filter(|path| !readme.contains(&format!("`{path}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "helm/elevator/README.md does not list these values (as `path`): {missing:?}"
    );
}
