//! One job per file, one step per function: no source file over [`MAX_FILE_LINES`] lines
//! before its tests, no function over [`MAX_FUNCTION_LINES`] lines outside tests.
//!
//! Lengths are read from the text: comments and string and character literals are blanked
//! first (keeping their line breaks), so braces inside them do not count, and a function runs
//! from the line of its `fn` to the line of the brace that closes its body. Test code (from a
//! file's first `#[cfg(test)]` on) and the generated protobuf code are not held to either rule.

use super::handwritten_sources;

/// The longest a file may be before its `#[cfg(test)]` section.
const MAX_FILE_LINES: usize = 600;
/// The longest a function may be, from its `fn` line to its closing brace.
const MAX_FUNCTION_LINES: usize = 80;

/// The part of a file the size rules apply to: everything before its first `#[cfg(test)]`.
fn before_tests(source: &str) -> &str {
    source
        .find("#[cfg(test)]")
        .map_or(source, |cut| &source[..cut])
}

/// `source` with comments and the contents of string and character literals replaced by
/// spaces, line breaks kept, so that braces and `fn` inside them are not read as code.
pub(super) fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut code = String::with_capacity(source.len());
    let mut at = 0;
    while at < bytes.len() {
        let rest = &source[at..];
        let skipped = if rest.starts_with("//") {
            rest.find('\n').unwrap_or(rest.len())
        } else if rest.starts_with("/*") {
            rest.find("*/").map_or(rest.len(), |end| end + 2)
        } else if let Some(length) = raw_string_length(rest, at, bytes) {
            length
        } else if rest.starts_with('"') {
            quoted_length(rest, '"')
        } else {
            char_literal_length(rest).unwrap_or_default()
        };
        if skipped == 0 {
            let next = rest.chars().next().map_or(1, char::len_utf8);
            code.push_str(&rest[..next]);
            at += next;
        } else {
            code.extend(rest[..skipped].chars().filter(|&c| c == '\n'));
            code.push(' ');
            at += skipped;
        }
    }
    code
}

/// The length of a raw string literal (`r"…"`, `r#"…"#`, also after `b`) starting at `rest`.
fn raw_string_length(rest: &str, at: usize, bytes: &[u8]) -> Option<usize> {
    let after_r = rest.strip_prefix('r')?;
    let part_of_identifier =
        at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
    if part_of_identifier && bytes[at - 1] != b'b' {
        return None;
    }
    let hashes = after_r.len() - after_r.trim_start_matches('#').len();
    let body = after_r[hashes..].strip_prefix('"')?;
    let closing = format!("\"{}", "#".repeat(hashes));
    let opening = 1 + hashes + 1;
    Some(
        body.find(&closing)
            .map_or(rest.len(), |end| opening + end + closing.len()),
    )
}

/// The length of a literal opened by `quote` at the start of `rest`, escapes included.
fn quoted_length(rest: &str, quote: char) -> usize {
    let mut escaped = false;
    for (offset, c) in rest.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            _ if c == quote => return offset + c.len_utf8(),
            _ => {}
        }
    }
    rest.len()
}

/// The length of a character literal (`'{'`, `'\n'`, `'\u{7b}'`) at the start of `rest`;
/// `None` for a lifetime or a label (`'a`, `'outer:`).
fn char_literal_length(rest: &str) -> Option<usize> {
    let body = rest.strip_prefix('\'')?;
    let mut chars = body.char_indices();
    let (_, first) = chars.next()?;
    if first == '\\' {
        let end = body.find('\'')?;
        let end = if body[1..].starts_with('\'') { 2 } else { end };
        return Some(1 + end + 1);
    }
    let (offset, second) = chars.next()?;
    (second == '\'').then_some(1 + offset + 1)
}

/// Each function in `code` (as [`code_only`] returns it) with a body: its name, the line of
/// its `fn` (1-based) and its length in lines.
fn function_lengths(code: &str) -> Vec<(String, usize, usize)> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut search_from = 0;
    while let Some(offset) = code[search_from..].find("fn ") {
        let start = search_from + offset;
        search_from = start + 3;
        let starts_a_word =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if !starts_a_word {
            continue;
        }
        let name: String = code[start + 3..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let Some(body) = code[start..].find(['{', ';']).map(|at| start + at) else {
            break;
        };
        if bytes[body] == b';' {
            continue; // a declaration without a body, as in a trait
        }
        let mut depth = 0usize;
        let mut end = body;
        for (offset, byte) in bytes[body..].iter().enumerate() {
            match byte {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = body + offset;
                        break;
                    }
                }
                _ => {}
            }
        }
        let first_line = code[..start].matches('\n').count() + 1;
        let last_line = code[..end].matches('\n').count() + 1;
        found.push((name, first_line, last_line - first_line + 1));
    }
    found
}

#[test]
fn no_source_file_is_over_600_lines_before_its_tests() {
    let too_long: Vec<String> = handwritten_sources(&["src"])
        .iter()
        .map(|(file, source)| (file, before_tests(source).lines().count()))
        .filter(|(_, lines)| *lines > MAX_FILE_LINES)
        .map(|(file, lines)| format!("{file}: {lines} lines"))
        .collect();
    assert!(
        too_long.is_empty(),
        "split these files along their seams (at most {MAX_FILE_LINES} lines before the tests):\n{}",
        too_long.join("\n")
    );
}

#[test]
fn no_function_outside_tests_is_over_80_lines() {
    let mut too_long = Vec::new();
    for (file, source) in handwritten_sources(&["src"]) {
        for (name, line, length) in function_lengths(&code_only(before_tests(&source))) {
            if length > MAX_FUNCTION_LINES {
                too_long.push(format!("{file}:{line}: `{name}` is {length} lines"));
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "break these into named steps (at most {MAX_FUNCTION_LINES} lines each):\n{}",
        too_long.join("\n")
    );
}

#[test]
fn braces_in_comments_strings_and_characters_do_not_count_towards_a_function() {
    let source = "fn short() {\n    let open = '{';\n    let text = \"}}}\";\n    // }\n    let raw = r#\"}\"#;\n}\n\
                  trait T { fn declared(&self); }\n\
                  fn with_lifetime<'a>(x: &'a str) -> &'a str {\n    x\n}\n";
    let lengths = function_lengths(&code_only(source));
    assert_eq!(
        lengths,
        [
            ("short".to_owned(), 1, 6),
            ("with_lifetime".to_owned(), 8, 3)
        ]
    );
}

#[test]
fn only_the_code_before_the_first_test_section_is_held_to_the_file_limit() {
    let source = "fn a() {}\n#[cfg(test)]\nmod tests {}\n";
    assert_eq!(before_tests(source).lines().count(), 1);
    assert_eq!(before_tests("fn a() {}\nfn b() {}\n").lines().count(), 2);
}
