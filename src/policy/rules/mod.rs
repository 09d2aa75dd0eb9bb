//! Policy rules: `allow if <expr>` and `deny if <expr>`, where `<expr>` is CEL plus one sugar,
//! bare duration literals (`2h`, `30m`, `90s`, `1h30m`).
//!
//! A rule is parsed, type-checked against the variables its moment offers, and compiled once,
//! when the policy is loaded; a rule that names an unknown variable or field, calls an unknown
//! function, or mixes types (a duration compared with a number) is refused then, with its line
//! and column. Evaluation binds only the variables and fields the rule reads, on a context that
//! shares one standard environment, so no standard function is registered per call.
//!
//! Within a set of rules deny wins: any `deny if` that holds refuses; when the set has `allow
//! if` rules, one of them must hold. An evaluation error refuses too (fail closed).
//!
//! Each file has one step: `rule` (the compiled rule and its evaluation), `parse` (text to rule),
//! `sugar` (duration literals), `schema` (the variables and their types), `check` and
//! `overloads` (the type checker), `native` (conditions run without the interpreter), `input`
//! (the facts a rule reads), `judge` (a set of rules to one verdict).

mod check;
mod input;
mod judge;
mod native;
mod overloads;
mod parse;
mod rule;
mod schema;
mod sugar;

pub use input::{AccessFacts, GrantFacts, RequestFacts, RuleInput, TokenFacts};
pub use judge::{RuleOutcome, RuleVerdict, judge};
pub use rule::{Effect, Moment, Rule, RuleError};
