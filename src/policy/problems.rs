//! What is wrong with a policy document: each problem with its place (a path into the document,
//! and a line and column where one is known), the collector the compiler reports into, and the
//! locator that finds a rule's text in the document to place the rule's own errors.

use chrono::TimeDelta;

use crate::domain::{InvalidValue, parse_duration};

/// One thing wrong with a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// Where: a path into the document, e.g. `eligibility[2].max_duration`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// 1-based line, when known (0 otherwise).
    pub line: u32,
    /// 1-based column, when known (0 otherwise).
    pub column: u32,
}

impl std::fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{} (line {}, column {}): {}",
                self.path, self.line, self.column, self.message
            )
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the policy has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PolicyProblems(pub Vec<PolicyProblem>);

/// Collects problems while the compiler walks the document, so that every problem is reported
/// rather than the first.
pub(super) struct ProblemCollector(Vec<PolicyProblem>);

impl ProblemCollector {
    pub(super) fn new() -> Self {
        ProblemCollector(Vec::new())
    }

    /// Records a problem whose line and column are not known.
    pub(super) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(PolicyProblem {
            path: path.into(),
            message: message.into(),
            line: 0,
            column: 0,
        });
    }

    /// Records a problem that already carries its place.
    pub(super) fn add_placed(&mut self, problem: PolicyProblem) {
        self.0.push(problem);
    }

    /// The value when `result` holds one; otherwise records why not at `path`.
    pub(super) fn valid<T>(
        &mut self,
        path: impl Into<String>,
        result: Result<T, InvalidValue>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(InvalidValue(message)) => {
                self.add(path, message);
                None
            }
        }
    }

    /// A duration longer than zero, read from `text`; otherwise records why not at `path`.
    pub(super) fn positive_duration(&mut self, path: String, text: &str) -> Option<TimeDelta> {
        let duration = self.valid(path.clone(), parse_duration(text))?;
        if duration <= TimeDelta::zero() {
            self.add(path, "must be longer than zero");
            return None;
        }
        Some(duration)
    }

    /// How many problems have been recorded so far (a section compares the count before and
    /// after itself to learn whether it is sound).
    pub(super) fn count(&self) -> usize {
        self.0.len()
    }

    /// The problems recorded, or `None` when the document has none.
    pub(super) fn into_problems(self) -> Option<PolicyProblems> {
        (!self.0.is_empty()).then_some(PolicyProblems(self.0))
    }
}

/// Finds where a rule's text stands in the document, to give its problems a line and column.
pub(super) struct DocumentLocator<'a> {
    source: &'a str,
}

impl<'a> DocumentLocator<'a> {
    pub(super) fn new(source: &'a str) -> Self {
        DocumentLocator { source }
    }

    /// The document position of line `line_in_rule`, column `column_in_rule` of `rule`, when
    /// the rule's text appears verbatim exactly once in the document.
    pub(super) fn position(
        &self,
        rule: &str,
        line_in_rule: u32,
        column_in_rule: u32,
    ) -> Option<(u32, u32)> {
        let mut found = self.source.match_indices(rule);
        let (start, _) = found.next()?;
        if found.next().is_some() {
            return None;
        }
        let before = &self.source[..start];
        let line = before.matches('\n').count() as u32 + 1;
        let column = before
            .rfind('\n')
            .map_or(before.chars().count(), |n| before[n + 1..].chars().count())
            as u32
            + 1;
        Some(if line_in_rule <= 1 {
            (line, column + column_in_rule - 1)
        } else {
            (line + line_in_rule - 1, column_in_rule)
        })
    }
}
