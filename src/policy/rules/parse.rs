//! [`Rule::parse`]: a rule's text becomes a compiled rule in named steps (bound the size, split
//! off the effect, bound the nesting and operators, rewrite the duration sugar, compile the
//! CEL, type-check it), each error placed at a line and column of the text as written.

use cel::Program;

use super::check::check_condition;
use super::native;
use super::rule::{ENVIRONMENT, Effect, Moment, Rule, RuleError};
use super::schema::{Type, VariablesRead, type_name};
use super::sugar::{Rewrite, rewrite_durations};

/// Longest rule text; longer ones are refused before parsing.
const MAX_RULE_BYTES: usize = 4096;
/// Deepest bracket nesting a rule may have (the CEL parser recurses on it).
const MAX_RULE_NESTING: usize = 32;
/// Most operator characters a rule may have: the parser and checker recurse once per operator,
/// so this bounds their depth (and keeps a hostile rule from overflowing a thread's stack).
const MAX_RULE_OPERATORS: usize = 256;

impl Rule {
    /// Parses, checks and compiles `text` for `moment`.
    pub fn parse(text: &str, moment: Moment) -> Result<Rule, RuleError> {
        if text.len() > MAX_RULE_BYTES {
            return Err(error_at(
                text,
                0,
                format!("a rule may be at most {MAX_RULE_BYTES} bytes long"),
            ));
        }
        let (effect, condition) = split_effect(text)?;
        check_complexity(text, &condition)?;
        let rewrite = rewrite_durations(condition.text, condition.offset)
            .map_err(|(message, offset)| error_at(text, condition.offset + offset, message))?;
        let program = compile_program(text, &rewrite)?;
        let reads = type_check(text, &condition, &rewrite, &program, moment)?;
        Ok(Rule {
            text: text.to_owned(),
            effect,
            native: native::compile(program.expression(), moment),
            program,
            reads,
        })
    }
}

impl Rule {
    /// Parses, checks and compiles a bare condition (no `allow if`), such as a permission's
    /// `if:`; it holds as an `allow if` rule with the same condition would.
    pub fn parse_condition(text: &str, moment: Moment) -> Result<Rule, RuleError> {
        if text.len() > MAX_RULE_BYTES {
            return Err(error_at(
                text,
                0,
                format!("a condition may be at most {MAX_RULE_BYTES} bytes long"),
            ));
        }
        if text.trim().is_empty() {
            return Err(error_at(text, 0, "the condition is empty"));
        }
        let condition = Condition { text, offset: 0 };
        check_complexity(text, &condition)?;
        let rewrite = rewrite_durations(condition.text, condition.offset)
            .map_err(|(message, offset)| error_at(text, condition.offset + offset, message))?;
        let program = compile_program(text, &rewrite)?;
        let reads = type_check(text, &condition, &rewrite, &program, moment)?;
        Ok(Rule {
            text: text.to_owned(),
            effect: Effect::Allow,
            native: native::compile(program.expression(), moment),
            program,
            reads,
        })
    }
}

/// A rule's condition: the text after `allow if` or `deny if`, and where it starts in the rule.
struct Condition<'t> {
    text: &'t str,
    offset: usize,
}

/// A [`RuleError`] at byte `offset` of the rule `text`.
fn error_at(text: &str, offset: usize, message: impl Into<String>) -> RuleError {
    let (line, column) = line_and_column(text, offset);
    RuleError {
        message: message.into(),
        line,
        column,
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_and_column(text: &str, offset: usize) -> (u32, u32) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.chars().count(), |newline| {
            before[newline + 1..].chars().count()
        })
        + 1;
    (line as u32, column as u32)
}

/// The effect the rule starts with, and its (non-empty) condition.
fn split_effect(text: &str) -> Result<(Effect, Condition<'_>), RuleError> {
    let trimmed_start = text.len() - text.trim_start().len();
    let body = text.trim();
    let (effect, expression) = if let Some(rest) = body.strip_prefix("allow if ") {
        (Effect::Allow, rest)
    } else if let Some(rest) = body.strip_prefix("deny if ") {
        (Effect::Deny, rest)
    } else {
        return Err(error_at(
            text,
            trimmed_start,
            "a rule starts with `allow if` or `deny if`",
        ));
    };
    let offset = trimmed_start + (body.len() - expression.len());
    if expression.trim().is_empty() {
        return Err(error_at(text, offset, "the condition is missing"));
    }
    Ok((
        effect,
        Condition {
            text: expression,
            offset,
        },
    ))
}

/// Refuses a condition that nests brackets too deeply or has too many operators, before the
/// recursive parser sees it.
fn check_complexity(text: &str, condition: &Condition<'_>) -> Result<(), RuleError> {
    let complexity = Complexity::of(condition.text);
    if complexity.deepest_nesting > MAX_RULE_NESTING {
        return Err(error_at(
            text,
            condition.offset,
            format!("brackets nest deeper than {MAX_RULE_NESTING} levels"),
        ));
    }
    if complexity.operators > MAX_RULE_OPERATORS {
        return Err(error_at(
            text,
            condition.offset,
            format!(
                "a rule may have at most {MAX_RULE_OPERATORS} operators; split it into several rules"
            ),
        ));
    }
    Ok(())
}

/// How hard a condition is on the recursive parser and checker.
struct Complexity {
    /// The deepest bracket nesting.
    deepest_nesting: usize,
    /// The number of operator characters (brackets included).
    operators: usize,
}

impl Complexity {
    /// Measures `expression`, outside its string literals.
    fn of(expression: &str) -> Complexity {
        let mut depth: usize = 0;
        let mut deepest_nesting = 0;
        let mut operators = 0;
        let mut quote: Option<char> = None;
        let mut escaped = false;
        for character in expression.chars() {
            if let Some(open) = quote {
                if escaped {
                    escaped = false;
                } else if character == '\\' {
                    escaped = true;
                } else if character == open {
                    quote = None;
                }
                continue;
            }
            match character {
                '"' | '\'' => quote = Some(character),
                '(' | '[' | '{' => {
                    depth += 1;
                    deepest_nesting = deepest_nesting.max(depth);
                    operators += 1;
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                '!' | '-' | '+' | '*' | '/' | '%' | '&' | '|' | '=' | '<' | '>' | '.' | '?'
                | ',' | ':' => operators += 1,
                _ => {}
            }
        }
        Complexity {
            deepest_nesting,
            operators,
        }
    }
}

/// Compiles the rewritten condition, placing a syntax error at the rule text's position.
fn compile_program(text: &str, rewrite: &Rewrite) -> Result<Program, RuleError> {
    ENVIRONMENT.compile(&rewrite.text).map_err(|errors| {
        let first = errors.errors.first();
        let column = first.map_or(0, |error| error.pos.1.max(0) as usize);
        let line = first.map_or(1, |error| error.pos.0.max(1) as usize);
        // The rewritten expression is one line per line of the original.
        let line_start = rewrite
            .text
            .split_inclusive('\n')
            .take(line - 1)
            .map(str::len)
            .sum::<usize>();
        // The parser counts columns in characters.
        let column_bytes = rewrite.text[line_start..]
            .char_indices()
            .nth(column)
            .map_or(rewrite.text.len() - line_start, |(index, _)| index);
        error_at(
            text,
            rewrite.original_offset(line_start + column_bytes),
            first.map_or_else(
                || "cannot parse the condition".into(),
                |error| error.msg.clone(),
            ),
        )
    })
}

/// Type-checks the program for `moment`, which must give true or false, and returns what it
/// reads.
fn type_check(
    text: &str,
    condition: &Condition<'_>,
    rewrite: &Rewrite,
    program: &Program,
    moment: Moment,
) -> Result<VariablesRead, RuleError> {
    let (result, reads) = check_condition(program.expression(), moment).map_err(|problem| {
        let offset = program
            .source_info()
            .offset_for(problem.id)
            .map_or(0, |(start, _)| start as usize);
        error_at(
            text,
            rewrite
                .original_offset(offset)
                .saturating_sub(problem.step_back),
            problem.message,
        )
    })?;
    if !matches!(result, Type::Bool | Type::Dyn) {
        return Err(error_at(
            text,
            condition.offset,
            format!(
                "the condition must be true or false, but it is {}",
                type_name(&result)
            ),
        ));
    }
    Ok(reads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_and_type_errors_are_refused_with_their_place() {
        let cases = [
            ("allow if user.name == 'x'", "unknown variable", 10),
            ("allow if token.nickname == 'x'", "has no field", 15),
            ("allow if context.time < 5", "comparison", 23),
            (
                "allow if grant.role == 'x'",
                "not known when a request is made",
                10,
            ),
            ("deny if risk.score > '70'", "comparison", 20),
            ("allow if frobnicate(token.sub)", "unknown function", 10),
            ("allow if risk.score", "must be true or false", 10),
            ("permit if true", "starts with", 1),
            ("allow if (", "", 11),
        ];
        for (text, message, column) in cases {
            let error = Rule::parse(text, Moment::Request).expect_err(text);
            assert!(error.message.contains(message), "{text}: {}", error.message);
            assert_eq!((error.line, error.column), (1, column), "{text}: {error}");
        }
    }

    #[test]
    fn deep_nesting_and_huge_rules_are_refused_before_parsing() {
        let deep = format!("allow if {}true{}", "(".repeat(200), ")".repeat(200));
        assert!(
            Rule::parse(&deep, Moment::Grant)
                .unwrap_err()
                .message
                .contains("nest")
        );
        let huge = format!("allow if {}", "true && ".repeat(1000));
        assert!(Rule::parse(&huge, Moment::Grant).is_err());
    }
}
