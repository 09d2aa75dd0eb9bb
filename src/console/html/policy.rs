//! The policy page's HTML: the document in an editor form, with the validation verdict above
//! it and, when there are problems, the document again with each problem under its line.

use std::fmt::Write as _;

use super::common::{csrf_field, esc};
use crate::service::PolicyProblems;

/// The editor for `source` (expected to replace `version`), with `problems` when it was
/// validated; `admin` callers also get the button that puts it in force.
pub(crate) fn editor(
    csrf: &str,
    source: &str,
    version: u64,
    problems: Option<&PolicyProblems>,
    admin: bool,
) -> String {
    let verdict = match problems {
        None => String::new(),
        Some(problems) if problems.0.is_empty() => {
            "<p class=\"notice\" id=\"policy-valid\">The document is valid.</p>".to_owned()
        }
        Some(problems) => annotated_source(source, problems),
    };
    format!(
        "{verdict}<form method=\"post\" action=\"/console/policy/validate\" class=\"card\">{csrf}\
         <input type=\"hidden\" name=\"expected_version\" value=\"{version}\">\
         <label for=\"source\">Policy document (YAML)</label>\
         <textarea id=\"source\" name=\"source\" rows=\"28\" spellcheck=\"false\">{source}</textarea>\
         <button id=\"validate\">Validate</button>{put}</form>",
        csrf = csrf_field(csrf),
        source = esc(source),
        put = if admin {
            "<button class=\"danger\" id=\"put-policy\" formaction=\"/console/policy/put\">Put in force</button>"
        } else {
            "<span class=\"muted\"> Putting a policy in force needs the admin role.</span>"
        },
    )
}

/// The document with every problem shown under its line (those without a line first).
fn annotated_source(source: &str, problems: &PolicyProblems) -> String {
    let mut out = format!(
        "<section class=\"card\" id=\"policy-problems\"><p class=\"error\">{} problem{} found; nothing was changed.</p><ul>",
        problems.0.len(),
        if problems.0.len() == 1 { "" } else { "s" }
    );
    for problem in &problems.0 {
        let place = if problem.line > 0 {
            format!(" (line {}, column {})", problem.line, problem.column)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<li class=\"problem\"><code>{}</code>{}: {}</li>",
            esc(&problem.path),
            place,
            esc(&problem.message)
        );
    }
    out.push_str("</ul><pre>");
    for (index, line) in source.lines().enumerate() {
        let number = index as u32 + 1;
        let _ = writeln!(
            out,
            "<span class=\"source-line\">{number:>4} {}</span>",
            esc(line)
        );
        for problem in problems.0.iter().filter(|problem| problem.line == number) {
            // A block of its own: no newline after it, or the listing gains a blank line.
            let _ = write!(
                out,
                "<span class=\"problem\">     {}^ {}: {}</span>",
                " ".repeat(problem.column.saturating_sub(1) as usize),
                esc(&problem.path),
                esc(&problem.message)
            );
        }
    }
    out.push_str("</pre></section>");
    out
}
