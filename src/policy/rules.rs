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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
use cel::objects::{Key, Map};
use cel::{Context, Env, Program, Value};
use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::risk::RiskPicture;
use crate::domain::{parse_duration, shown};

mod native;

/// Longest rule text; longer ones are refused before parsing.
pub const MAX_RULE_BYTES: usize = 4096;
/// Deepest bracket nesting a rule may have (the CEL parser recurses on it).
pub const MAX_RULE_NESTING: usize = 32;
/// Most operator characters a rule may have: the parser and checker recurse once per operator,
/// so this bounds their depth (and keeps a hostile rule from overflowing a thread's stack).
pub const MAX_RULE_OPERATORS: usize = 256;

/// The one standard environment every rule compiles and runs against.
static ENVIRONMENT: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// When a rule is evaluated, which decides the variables it may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// When an elevation is requested: `token`, `request`, `risk`, `context`.
    Request,
    /// When a grant is checked: `token`, `grant`, `risk`, `context`.
    Grant,
}

impl Moment {
    fn variables(self) -> &'static [&'static str] {
        match self {
            Moment::Request => &["token", "request", "risk", "context"],
            Moment::Grant => &["token", "grant", "risk", "context"],
        }
    }
}

/// Whether a rule allows or denies when its expression holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `allow if`.
    Allow,
    /// `deny if`.
    Deny,
}

/// A static type, as far as the checker needs one.
#[derive(Debug, Clone, PartialEq)]
enum Type {
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Duration,
    Timestamp,
    Null,
    /// A string that may be null.
    OptionalString,
    List(Box<Type>),
    Map(Box<Type>, Box<Type>),
    Object(&'static str, &'static [(&'static str, FieldType)]),
    Dyn,
}

/// Field types in the variable schemas (a `const`-friendly subset of [`Type`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum FieldType {
    String,
    OptionalString,
    Int,
    Duration,
    Timestamp,
    StringList,
    StringMap,
}

impl FieldType {
    fn as_type(self) -> Type {
        match self {
            FieldType::String => Type::String,
            FieldType::OptionalString => Type::OptionalString,
            FieldType::Int => Type::Int,
            FieldType::Duration => Type::Duration,
            FieldType::Timestamp => Type::Timestamp,
            FieldType::StringList => Type::List(Box::new(Type::String)),
            FieldType::StringMap => Type::Map(Box::new(Type::String), Box::new(Type::Dyn)),
        }
    }
}

const TOKEN_FIELDS: &[(&str, FieldType)] = &[
    ("sub", FieldType::String),
    ("sid", FieldType::OptionalString),
    ("groups", FieldType::StringList),
    ("delegatedBy", FieldType::OptionalString),
    ("amr", FieldType::StringList),
    ("claims", FieldType::StringMap),
];
const REQUEST_FIELDS: &[(&str, FieldType)] = &[
    ("role", FieldType::String),
    ("scope", FieldType::String),
    ("duration", FieldType::Duration),
    ("reason", FieldType::String),
    ("ticket", FieldType::String),
];
const GRANT_FIELDS: &[(&str, FieldType)] = &[
    ("role", FieldType::String),
    ("scope", FieldType::String),
    ("activated_at", FieldType::Timestamp),
    ("expires_at", FieldType::Timestamp),
    ("delegated_by", FieldType::OptionalString),
];
const RISK_FIELDS: &[(&str, FieldType)] =
    &[("score", FieldType::Int), ("flags", FieldType::StringList)];
const CONTEXT_FIELDS: &[(&str, FieldType)] =
    &[("now", FieldType::Timestamp), ("time", FieldType::Duration)];

fn variable_type(name: &str) -> Option<Type> {
    let (name, fields) = match name {
        "token" => ("token", TOKEN_FIELDS),
        "request" => ("request", REQUEST_FIELDS),
        "grant" => ("grant", GRANT_FIELDS),
        "risk" => ("risk", RISK_FIELDS),
        "context" => ("context", CONTEXT_FIELDS),
        _ => return None,
    };
    Some(Type::Object(name, fields))
}

fn type_name(t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::Int => "int".into(),
        Type::Uint => "uint".into(),
        Type::Double => "double".into(),
        Type::String => "string".into(),
        Type::Bytes => "bytes".into(),
        Type::Duration => "duration".into(),
        Type::Timestamp => "timestamp".into(),
        Type::Null => "null".into(),
        Type::OptionalString => "string or null".into(),
        Type::List(element) => format!("list of {}", type_name(element)),
        Type::Map(key, value) => format!("map of {} to {}", type_name(key), type_name(value)),
        Type::Object(name, _) => (*name).into(),
        Type::Dyn => "any".into(),
    }
}

/// Where a rule went wrong, relative to the rule text (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// What is wrong.
    pub message: String,
    /// Line within the rule text.
    pub line: u32,
    /// Column within the rule text.
    pub column: u32,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// What a rule reads: each variable, with the fields it selects (`None`: the whole variable).
type Reads = BTreeMap<&'static str, Option<BTreeSet<&'static str>>>;

/// A compiled rule.
pub struct Rule {
    text: String,
    effect: Effect,
    program: Program,
    /// The same condition run natively, when its form allows (see [`native`]).
    native: Option<native::Native>,
    reads: Reads,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule").field("text", &self.text).finish()
    }
}

/// Maps positions in the rewritten expression back to the rule text.
struct Rewrite {
    text: String,
    /// (position in rewritten text, position in original rule text) at each splice.
    splices: Vec<(usize, usize, usize, usize)>,
    /// Where the expression starts in the rule text.
    expression_offset: usize,
}

impl Rewrite {
    /// The rule-text byte offset of rewritten offset `position`.
    fn original_offset(&self, position: usize) -> usize {
        let mut shift: isize = 0;
        for &(new_start, new_len, old_start, old_len) in &self.splices {
            if position >= new_start + new_len {
                shift += old_len as isize - new_len as isize;
            } else if position >= new_start {
                return self.expression_offset + old_start;
            }
        }
        self.expression_offset + (position as isize + shift).max(0) as usize
    }
}

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

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Replaces bare duration literals with `duration("...")`, leaving strings alone.
fn rewrite_durations(
    expression: &str,
    expression_offset: usize,
) -> Result<Rewrite, (String, usize)> {
    let bytes = expression.as_bytes();
    let mut text = String::with_capacity(expression.len() + 16);
    let mut splices = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let byte = bytes[position];
        if byte == b'"' || byte == b'\'' {
            let start = position;
            position += 1;
            while position < bytes.len() && bytes[position] != byte {
                position += if bytes[position] == b'\\' { 2 } else { 1 };
            }
            position = (position + 1).min(bytes.len());
            text.push_str(&expression[start..position]);
            continue;
        }
        let starts_token = position == 0
            || !(is_identifier_byte(bytes[position - 1]) || bytes[position - 1] == b'.');
        if byte.is_ascii_digit() && starts_token {
            let start = position;
            while position < bytes.len()
                && (is_identifier_byte(bytes[position]) || bytes[position] == b'.')
            {
                position += 1;
            }
            let token = &expression[start..position];
            let has_unit = token.bytes().any(|b| b.is_ascii_alphabetic());
            let is_number = token.parse::<f64>().is_ok()
                || token.ends_with('u') && token[..token.len() - 1].parse::<u64>().is_ok();
            if has_unit && !is_number && !token.starts_with("0x") {
                let duration = parse_duration(token).map_err(|error| (error.0, start))?;
                let literal = if duration.subsec_nanos() == 0 {
                    format!("duration(\"{}s\")", duration.num_seconds())
                } else {
                    format!("duration(\"{}ms\")", duration.num_milliseconds())
                };
                splices.push((text.len(), literal.len(), start, token.len()));
                text.push_str(&literal);
            } else {
                text.push_str(token);
            }
            continue;
        }
        let character_len = expression[position..]
            .chars()
            .next()
            .map_or(1, char::len_utf8);
        text.push_str(&expression[position..position + character_len]);
        position += character_len;
    }
    Ok(Rewrite {
        text,
        splices,
        expression_offset,
    })
}

/// The deepest bracket nesting and the number of operator characters, outside string literals.
fn shape(expression: &str) -> (usize, usize) {
    let mut depth: usize = 0;
    let mut deepest = 0;
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
                deepest = deepest.max(depth);
                operators += 1;
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '!' | '-' | '+' | '*' | '/' | '%' | '&' | '|' | '=' | '<' | '>' | '.' | '?' | ','
            | ':' => operators += 1,
            _ => {}
        }
    }
    (deepest, operators)
}

impl Rule {
    /// Parses, checks and compiles `text` for `moment`.
    pub fn parse(text: &str, moment: Moment) -> Result<Rule, RuleError> {
        let at = |offset: usize, message: String| {
            let (line, column) = line_and_column(text, offset);
            RuleError {
                message,
                line,
                column,
            }
        };
        if text.len() > MAX_RULE_BYTES {
            return Err(at(
                0,
                format!("a rule may be at most {MAX_RULE_BYTES} bytes long"),
            ));
        }
        let trimmed_start = text.len() - text.trim_start().len();
        let body = text.trim();
        let (effect, expression) = if let Some(rest) = body.strip_prefix("allow if ") {
            (Effect::Allow, rest)
        } else if let Some(rest) = body.strip_prefix("deny if ") {
            (Effect::Deny, rest)
        } else {
            return Err(at(
                trimmed_start,
                "a rule starts with `allow if` or `deny if`".into(),
            ));
        };
        let expression_offset = trimmed_start + (body.len() - expression.len());
        if expression.trim().is_empty() {
            return Err(at(expression_offset, "the condition is missing".into()));
        }
        let (nesting, operators) = shape(expression);
        if nesting > MAX_RULE_NESTING {
            return Err(at(
                expression_offset,
                format!("brackets nest deeper than {MAX_RULE_NESTING} levels"),
            ));
        }
        if operators > MAX_RULE_OPERATORS {
            return Err(at(
                expression_offset,
                format!(
                    "a rule may have at most {MAX_RULE_OPERATORS} operators; split it into several rules"
                ),
            ));
        }
        let rewrite = rewrite_durations(expression, expression_offset)
            .map_err(|(message, offset)| at(expression_offset + offset, message))?;
        let program = ENVIRONMENT.compile(&rewrite.text).map_err(|errors| {
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
            let offset = rewrite.original_offset(line_start + column_bytes);
            at(
                offset,
                first.map_or_else(
                    || "cannot parse the condition".into(),
                    |error| error.msg.clone(),
                ),
            )
        })?;
        let mut checker = Checker {
            moment,
            scopes: Vec::new(),
            reads: Reads::new(),
        };
        let result = checker.check(program.expression()).map_err(|problem| {
            let offset = program
                .source_info()
                .offset_for(problem.id)
                .map_or(0, |(start, _)| start as usize);
            at(
                rewrite
                    .original_offset(offset)
                    .saturating_sub(problem.step_back),
                problem.message,
            )
        })?;
        if !matches!(result, Type::Bool | Type::Dyn) {
            return Err(at(
                expression_offset,
                format!(
                    "the condition must be true or false, but it is {}",
                    type_name(&result)
                ),
            ));
        }
        Ok(Rule {
            text: text.to_owned(),
            effect,
            native: native::compile(program.expression(), moment),
            program,
            reads: checker.reads,
        })
    }

    /// The rule as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Allow or deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether the rule reads the risk signals.
    pub fn reads_risk(&self) -> bool {
        self.reads.contains_key("risk")
    }

    /// Evaluates the condition; an error is reported, never treated as true or false by the
    /// caller's accident.
    pub fn holds(&self, input: &RuleInput<'_>) -> Result<bool, String> {
        match &self.native {
            Some(native) => native.holds(input),
            None => self.holds_interpreted(input),
        }
    }

    /// Whether the condition runs natively (no interpreter on the hot path).
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }

    /// Evaluates the condition in the CEL interpreter.
    fn holds_interpreted(&self, input: &RuleInput<'_>) -> Result<bool, String> {
        let mut context = Context::with_env(ENVIRONMENT.clone());
        for (variable, fields) in &self.reads {
            context.add_variable_from_value(*variable, input.value_of(variable, fields.as_ref()));
        }
        match self.program.execute(&context) {
            Ok(Value::Bool(holds)) => Ok(holds),
            Ok(other) => Err(format!("the condition gave {other:?}, not true or false")),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// Facts about the token for rules.
#[derive(Debug, Clone, Default)]
pub struct TokenFacts<'a> {
    /// `sub`.
    pub sub: &'a str,
    /// `sid`.
    pub sid: Option<&'a str>,
    /// `groups`.
    pub groups: Vec<&'a str>,
    /// The nearest delegator, when the grant or request came through a delegation.
    pub delegated_by: Option<&'a str>,
    /// `amr`.
    pub amr: Vec<&'a str>,
}

/// Facts about the request for rules.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    /// The role asked for.
    pub role: &'a str,
    /// The scope asked for.
    pub scope: &'a str,
    /// The duration asked for.
    pub duration: TimeDelta,
    /// The reason.
    pub reason: &'a str,
    /// The ticket.
    pub ticket: &'a str,
}

/// Facts about the grant for rules.
#[derive(Debug, Clone)]
pub struct GrantFacts<'a> {
    /// The role.
    pub role: &'a str,
    /// The scope.
    pub scope: &'a str,
    /// When the access window started.
    pub activated_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// The nearest delegator, if any.
    pub delegated_by: Option<&'a str>,
}

/// Everything a rule may read.
#[derive(Debug, Clone)]
pub struct RuleInput<'a> {
    /// `token`.
    pub token: TokenFacts<'a>,
    /// `request`, at request time.
    pub request: Option<RequestFacts<'a>>,
    /// `grant`, at check time.
    pub grant: Option<GrantFacts<'a>>,
    /// `risk`.
    pub risk: &'a RiskPicture,
    /// `context.now`.
    pub now: DateTime<Utc>,
    /// `context.time`: since the grant became active (zero at request time).
    pub time: TimeDelta,
}

fn string(value: &str) -> Value {
    Value::String(Arc::new(value.to_owned()))
}

fn optional_string(value: Option<&str>) -> Value {
    value.map_or(Value::Null, string)
}

fn strings(values: &[&str]) -> Value {
    Value::List(Arc::new(values.iter().map(|v| string(v)).collect()))
}

fn timestamp(value: DateTime<Utc>) -> Value {
    Value::Timestamp(value.fixed_offset())
}

impl RuleInput<'_> {
    fn field(&self, variable: &str, field: &str) -> Value {
        match (variable, field) {
            ("token", "sub") => string(self.token.sub),
            ("token", "sid") => optional_string(self.token.sid),
            ("token", "groups") => strings(&self.token.groups),
            ("token", "delegatedBy") => optional_string(self.token.delegated_by),
            ("token", "amr") => strings(&self.token.amr),
            ("token", "claims") => Value::Map(Map {
                map: Arc::new(HashMap::new()),
            }),
            ("request", field) => match &self.request {
                None => Value::Null,
                Some(request) => match field {
                    "role" => string(request.role),
                    "scope" => string(request.scope),
                    "duration" => Value::Duration(request.duration),
                    "reason" => string(request.reason),
                    "ticket" => string(request.ticket),
                    _ => Value::Null,
                },
            },
            ("grant", field) => match &self.grant {
                None => Value::Null,
                Some(grant) => match field {
                    "role" => string(grant.role),
                    "scope" => string(grant.scope),
                    "activated_at" => timestamp(grant.activated_at),
                    "expires_at" => timestamp(grant.expires_at),
                    "delegated_by" => optional_string(grant.delegated_by),
                    _ => Value::Null,
                },
            },
            ("risk", "score") => Value::Int(i64::from(self.risk.score)),
            ("risk", "flags") => Value::List(Arc::new(
                self.risk.flags.iter().map(|f| string(f)).collect(),
            )),
            ("context", "now") => timestamp(self.now),
            ("context", "time") => Value::Duration(self.time),
            _ => Value::Null,
        }
    }

    fn value_of(&self, variable: &str, fields: Option<&BTreeSet<&'static str>>) -> Value {
        let all: Vec<&str> = match variable_type(variable) {
            Some(Type::Object(_, schema)) => schema.iter().map(|(name, _)| *name).collect(),
            _ => Vec::new(),
        };
        let selected: Vec<&str> = match fields {
            Some(fields) => fields.iter().copied().collect(),
            None => all,
        };
        let map: HashMap<Key, Value> = selected
            .into_iter()
            .map(|field| {
                (
                    Key::String(Arc::new(field.to_owned())),
                    self.field(variable, field),
                )
            })
            .collect();
        Value::Map(Map { map: Arc::new(map) })
    }
}

/// The result of a set of rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing refuses.
    Allowed,
    /// Refused by this rule (a deny that held, or an allow set none of which held: the first
    /// allow rule), and whether risk signals decided it.
    Refused {
        /// The deciding rule's text.
        rule: String,
        /// Whether that rule reads `risk`.
        by_risk: bool,
        /// An evaluation error, if that is why.
        error: Option<String>,
    },
}

/// One rule's outcome, for traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOutcome {
    /// The rule as written.
    pub rule: String,
    /// Whether its condition held (`None` when evaluation failed).
    pub held: Option<bool>,
    /// The evaluation error, if any.
    pub error: Option<String>,
}

/// Evaluates `rules` (deny wins; with allow rules one must hold), recording each outcome in
/// `trace` when given.
pub fn judge<'r>(
    rules: impl IntoIterator<Item = &'r Arc<Rule>>,
    input: &RuleInput<'_>,
    mut trace: Option<&mut Vec<RuleOutcome>>,
) -> Verdict {
    let mut first_allow: Option<&Rule> = None;
    let mut any_allow_held = false;
    let mut refusal: Option<Verdict> = None;
    for rule in rules {
        let outcome = rule.holds(input);
        if let Some(trace) = trace.as_deref_mut() {
            trace.push(RuleOutcome {
                rule: rule.text.clone(),
                held: outcome.as_ref().ok().copied(),
                error: outcome.as_ref().err().cloned(),
            });
        }
        match (rule.effect, outcome) {
            (_, Err(error)) => {
                refusal.get_or_insert(Verdict::Refused {
                    rule: rule.text.clone(),
                    by_risk: rule.reads_risk(),
                    error: Some(error),
                });
            }
            (Effect::Deny, Ok(true)) => {
                refusal.get_or_insert(Verdict::Refused {
                    rule: rule.text.clone(),
                    by_risk: rule.reads_risk(),
                    error: None,
                });
            }
            (Effect::Deny, Ok(false)) => {}
            (Effect::Allow, Ok(held)) => {
                any_allow_held |= held;
                first_allow.get_or_insert(rule);
            }
        }
        if refusal.is_some() && trace.is_none() {
            break;
        }
    }
    if let Some(refusal) = refusal {
        return refusal;
    }
    match first_allow {
        Some(rule) if !any_allow_held => Verdict::Refused {
            rule: rule.text.clone(),
            by_risk: rule.reads_risk(),
            error: None,
        },
        _ => Verdict::Allowed,
    }
}

/// The static checker: types every sub-expression, records what is read, and reports the first
/// problem with the id of the expression at fault.
struct Checker {
    moment: Moment,
    /// Comprehension variables in scope, innermost last.
    scopes: Vec<(String, Type)>,
    reads: Reads,
}

/// A problem the checker found, at the expression with `id`.
struct Problem {
    id: u64,
    message: String,
    /// Calls are positioned at their parenthesis; this steps back over the function's name.
    step_back: usize,
}

impl Problem {
    fn at(id: u64, message: impl Into<String>) -> Self {
        Problem {
            id,
            message: message.into(),
            step_back: 0,
        }
    }
}

type CheckResult = Result<Type, Problem>;

fn numeric(t: &Type) -> bool {
    matches!(t, Type::Int | Type::Uint | Type::Double)
}

fn compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Dyn, _) | (_, Type::Dyn) => true,
        (Type::OptionalString, Type::String | Type::Null | Type::OptionalString)
        | (Type::String | Type::Null, Type::OptionalString) => true,
        (Type::List(x), Type::List(y)) => compatible(x, y),
        (Type::Map(k1, v1), Type::Map(k2, v2)) => compatible(k1, k2) && compatible(v1, v2),
        (x, y) if numeric(x) && numeric(y) => true,
        (x, y) => x == y,
    }
}

fn orderable(a: &Type, b: &Type) -> bool {
    let plain = |t: &Type| {
        if *t == Type::OptionalString {
            Type::String
        } else {
            t.clone()
        }
    };
    let (a, b) = (plain(a), plain(b));
    match (&a, &b) {
        (Type::Dyn, _) | (_, Type::Dyn) => true,
        (x, y) if numeric(x) && numeric(y) => true,
        (x, y) => {
            x == y
                && matches!(
                    x,
                    Type::String | Type::Bytes | Type::Duration | Type::Timestamp | Type::Bool
                )
        }
    }
}

impl Checker {
    fn check(&mut self, expression: &IdedExpr) -> CheckResult {
        let id = expression.id;
        match &expression.expr {
            Expr::Unspecified => Err(Problem::at(id, "empty expression")),
            Expr::Literal(literal) => Ok(match literal {
                LiteralValue::Boolean(_) => Type::Bool,
                LiteralValue::Bytes(_) => Type::Bytes,
                LiteralValue::Double(_) => Type::Double,
                LiteralValue::Int(_) => Type::Int,
                LiteralValue::Null => Type::Null,
                LiteralValue::String(_) => Type::String,
                LiteralValue::UInt(_) => Type::Uint,
            }),
            Expr::Ident(name) => self.identifier(id, name),
            Expr::Select(select) => {
                let operand = self.select_operand(&select.operand, &select.field)?;
                let field_type = self.field(id, &operand, &select.field)?;
                Ok(if select.test { Type::Bool } else { field_type })
            }
            Expr::List(list) => {
                let mut element = None;
                for item in &list.elements {
                    let item_type = self.check(item)?;
                    element = Some(match element {
                        None => item_type,
                        Some(previous) if previous == item_type => previous,
                        Some(_) => Type::Dyn,
                    });
                }
                Ok(Type::List(Box::new(element.unwrap_or(Type::Dyn))))
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(entry) = &entry.expr {
                        self.check(&entry.key)?;
                        self.check(&entry.value)?;
                    }
                }
                Ok(Type::Map(Box::new(Type::Dyn), Box::new(Type::Dyn)))
            }
            Expr::Struct(_) => Err(Problem::at(
                id,
                "message literals are not supported in rules",
            )),
            Expr::Comprehension(comprehension) => {
                let range = self.check(&comprehension.iter_range)?;
                let element = match range {
                    Type::List(element) => *element,
                    Type::Map(key, _) => *key,
                    Type::Dyn => Type::Dyn,
                    other => {
                        return Err(Problem::at(
                            comprehension.iter_range.id,
                            format!("cannot iterate over {}", type_name(&other)),
                        ));
                    }
                };
                let accumulator = self.check(&comprehension.accu_init)?;
                self.scopes
                    .push((comprehension.accu_var.clone(), accumulator));
                self.scopes.push((comprehension.iter_var.clone(), element));
                if let Some(second) = &comprehension.iter_var2 {
                    self.scopes.push((second.clone(), Type::Dyn));
                }
                let result = (|| {
                    self.check(&comprehension.loop_cond)?;
                    self.check(&comprehension.loop_step)?;
                    self.check(&comprehension.result)
                })();
                self.scopes.truncate(
                    self.scopes.len() - 2 - usize::from(comprehension.iter_var2.is_some()),
                );
                result
            }
            Expr::Call(call) => self.call(id, call),
        }
    }

    fn identifier(&mut self, id: u64, name: &str) -> CheckResult {
        if let Some((_, t)) = self.scopes.iter().rev().find(|(scoped, _)| scoped == name) {
            return Ok(t.clone());
        }
        let allowed = self.moment.variables();
        match variable_type(name) {
            Some(t) if allowed.contains(&name) => {
                let key = allowed
                    .iter()
                    .find(|v| **v == name)
                    .copied()
                    .unwrap_or("token");
                // A variable used whole binds every field.
                self.reads.insert(key, None);
                Ok(t)
            }
            Some(_) => Err(Problem::at(
                id,
                format!(
                    "{name} is not known {}; rules here can read {}",
                    match self.moment {
                        Moment::Request => "when a request is made",
                        Moment::Grant => "when a grant is checked",
                    },
                    allowed.join(", ")
                ),
            )),
            None => Err(Problem::at(
                id,
                format!(
                    "unknown variable {}; rules can read {}",
                    shown(name),
                    allowed.join(", ")
                ),
            )),
        }
    }

    /// Types the operand of a field selection; a bare variable records only the field read.
    fn select_operand(&mut self, operand: &IdedExpr, field: &str) -> CheckResult {
        if let Expr::Ident(name) = &operand.expr {
            let in_scope = self.scopes.iter().any(|(scoped, _)| scoped == name);
            if !in_scope {
                let before = self.reads.get(name.as_str()).cloned();
                let t = self.identifier(operand.id, name)?;
                if let Type::Object(variable, schema) = &t
                    && let Some((known, _)) = schema.iter().find(|(known, _)| *known == field)
                {
                    let entry = match before {
                        Some(None) => None,
                        Some(Some(mut fields)) => {
                            fields.insert(known);
                            Some(fields)
                        }
                        None => Some(BTreeSet::from([*known])),
                    };
                    self.reads.insert(variable, entry);
                }
                return Ok(t);
            }
        }
        self.check(operand)
    }

    fn field(&mut self, id: u64, operand: &Type, field: &str) -> CheckResult {
        match operand {
            Type::Object(name, schema) => schema
                .iter()
                .find(|(known, _)| *known == field)
                .map(|(_, t)| t.as_type())
                .ok_or_else(|| {
                    let names: Vec<&str> = schema.iter().map(|(known, _)| *known).collect();
                    Problem::at(
                        id,
                        format!(
                            "{name} has no field {}; it has {}",
                            shown(field),
                            names.join(", ")
                        ),
                    )
                }),
            Type::Map(_, value) => Ok((**value).clone()),
            Type::Dyn => Ok(Type::Dyn),
            other => Err(Problem::at(
                id,
                format!(
                    "{} has no fields (selecting {})",
                    type_name(other),
                    shown(field)
                ),
            )),
        }
    }

    fn call(&mut self, id: u64, call: &cel::common::ast::CallExpr) -> CheckResult {
        let name = call.func_name.as_str();
        let mut args = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            args.push(self.check(arg)?);
        }
        let target = match &call.target {
            Some(target) => Some(self.check(target)?),
            None => None,
        };
        let mismatch = |what: &str| {
            let described: Vec<String> = target.iter().chain(args.iter()).map(type_name).collect();
            Err(Problem::at(
                id,
                format!("{what} cannot take {}", described.join(" and ")),
            ))
        };
        match (name, target.as_ref(), args.as_slice()) {
            (operators::LOGICAL_NOT, None, [a]) => {
                if compatible(a, &Type::Bool) {
                    Ok(Type::Bool)
                } else {
                    mismatch("!")
                }
            }
            (operators::LOGICAL_AND | operators::LOGICAL_OR, None, [a, b]) => {
                if compatible(a, &Type::Bool) && compatible(b, &Type::Bool) {
                    Ok(Type::Bool)
                } else {
                    mismatch(if name == operators::LOGICAL_AND {
                        "&&"
                    } else {
                        "||"
                    })
                }
            }
            (operators::NOT_STRICTLY_FALSE, None, [_]) => Ok(Type::Bool),
            (operators::CONDITIONAL, None, [condition, yes, no]) => {
                if !compatible(condition, &Type::Bool) {
                    return mismatch("a condition ?:");
                }
                Ok(if yes == no { yes.clone() } else { Type::Dyn })
            }
            (operators::EQUALS | operators::NOT_EQUALS, None, [a, b]) => {
                if compatible(a, b) {
                    Ok(Type::Bool)
                } else {
                    mismatch("== and !=")
                }
            }
            (
                operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                None,
                [a, b],
            ) => {
                if orderable(a, b) {
                    Ok(Type::Bool)
                } else {
                    mismatch("comparison")
                }
            }
            (operators::ADD, None, [a, b]) => match (a, b) {
                (Type::Dyn, _) | (_, Type::Dyn) => Ok(Type::Dyn),
                (x, y) if numeric(x) && x == y => Ok(x.clone()),
                (Type::String, Type::String) => Ok(Type::String),
                (Type::List(x), Type::List(_)) => Ok(Type::List(x.clone())),
                (Type::Duration, Type::Duration) => Ok(Type::Duration),
                (Type::Timestamp, Type::Duration) | (Type::Duration, Type::Timestamp) => {
                    Ok(Type::Timestamp)
                }
                _ => mismatch("+"),
            },
            (operators::SUBSTRACT, None, [a, b]) => match (a, b) {
                (Type::Dyn, _) | (_, Type::Dyn) => Ok(Type::Dyn),
                (x, y) if numeric(x) && x == y => Ok(x.clone()),
                (Type::Duration, Type::Duration) | (Type::Timestamp, Type::Timestamp) => {
                    Ok(Type::Duration)
                }
                (Type::Timestamp, Type::Duration) => Ok(Type::Timestamp),
                _ => mismatch("-"),
            },
            (operators::MULTIPLY | operators::DIVIDE | operators::MODULO, None, [a, b]) => {
                match (a, b) {
                    (Type::Dyn, _) | (_, Type::Dyn) => Ok(Type::Dyn),
                    (x, y) if numeric(x) && x == y => Ok(x.clone()),
                    _ => mismatch("arithmetic"),
                }
            }
            (operators::NEGATE, None, [a]) => match a {
                Type::Int | Type::Double | Type::Duration | Type::Dyn => Ok(a.clone()),
                _ => mismatch("-"),
            },
            (operators::INDEX, None, [container, index]) => match container {
                Type::List(element) if compatible(index, &Type::Int) => Ok((**element).clone()),
                Type::Map(key, value) if compatible(index, key) => Ok((**value).clone()),
                Type::Dyn => Ok(Type::Dyn),
                _ => mismatch("[ ]"),
            },
            (operators::IN, None, [element, container]) => match container {
                Type::List(item) if compatible(element, item) => Ok(Type::Bool),
                Type::Map(key, _) if compatible(element, key) => Ok(Type::Bool),
                Type::Dyn => Ok(Type::Bool),
                _ => mismatch("in"),
            },
            ("size", None, [a]) | ("size", Some(a), []) => match a {
                Type::String | Type::Bytes | Type::List(_) | Type::Map(..) | Type::Dyn => {
                    Ok(Type::Int)
                }
                _ => mismatch("size"),
            },
            ("contains" | "startsWith" | "endsWith", Some(a), [b]) => {
                if compatible(a, &Type::String) && compatible(b, &Type::String) {
                    Ok(Type::Bool)
                } else {
                    mismatch(name)
                }
            }
            ("duration", None, [Type::String | Type::Dyn]) => Ok(Type::Duration),
            ("timestamp", None, [Type::String | Type::Dyn]) => Ok(Type::Timestamp),
            ("int", None, [_]) => Ok(Type::Int),
            ("uint", None, [_]) => Ok(Type::Uint),
            ("double", None, [_]) => Ok(Type::Double),
            ("string", None, [_]) => Ok(Type::String),
            (
                "getFullYear" | "getMonth" | "getDayOfYear" | "getDayOfMonth" | "getDate"
                | "getDayOfWeek" | "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds",
                Some(Type::Timestamp | Type::Duration | Type::Dyn),
                [] | [Type::String],
            ) => Ok(Type::Int),
            (
                "size" | "contains" | "startsWith" | "endsWith" | "duration" | "timestamp" | "int"
                | "uint" | "double" | "string",
                _,
                _,
            ) => mismatch(name),
            // Calls are positioned at their parenthesis; point at the name instead.
            _ => Err(Problem {
                step_back: name.len(),
                ..Problem::at(id, format!("unknown function {}", shown(name)))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn risk(score: u32, flags: &[&str]) -> RiskPicture {
        RiskPicture {
            score,
            flags: flags.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn grant_input<'a>(
        delegated_by: Option<&'a str>,
        time: TimeDelta,
        risk: &'a RiskPicture,
    ) -> RuleInput<'a> {
        let now = Utc::now();
        RuleInput {
            token: TokenFacts {
                sub: "fatma",
                sid: Some("s1"),
                delegated_by,
                ..Default::default()
            },
            request: None,
            grant: Some(GrantFacts {
                role: "admin_approver",
                scope: "Org:Procurement",
                activated_at: now - time,
                expires_at: now + TimeDelta::hours(1),
                delegated_by,
            }),
            risk,
            now,
            time,
        }
    }

    #[test]
    fn the_seed_rule_loads_verbatim_and_means_what_it_says() {
        let rule = Rule::parse(
            "allow if token.delegatedBy != null && context.time < 2h",
            Moment::Grant,
        )
        .unwrap();
        assert_eq!(rule.effect(), Effect::Allow);
        let calm = RiskPicture::default();
        assert_eq!(
            rule.holds(&grant_input(Some("ali"), TimeDelta::minutes(30), &calm)),
            Ok(true)
        );
        assert_eq!(
            rule.holds(&grant_input(Some("ali"), TimeDelta::hours(2), &calm)),
            Ok(false)
        );
        assert_eq!(
            rule.holds(&grant_input(None, TimeDelta::minutes(30), &calm)),
            Ok(false)
        );
    }

    #[test]
    fn risk_rules_read_score_and_flags() {
        let rule = Rule::parse(
            "deny if risk.flags.exists(f, f == \"vpn\") || risk.score > 70",
            Moment::Request,
        )
        .unwrap();
        assert!(rule.reads_risk());
        let input = |risk: &RiskPicture| -> bool {
            let request = RequestFacts {
                role: "admin_approver",
                scope: "Org:Procurement",
                duration: TimeDelta::hours(1),
                reason: "x",
                ticket: "",
            };
            rule.holds(&RuleInput {
                token: TokenFacts {
                    sub: "fatma",
                    ..Default::default()
                },
                request: Some(request),
                grant: None,
                risk,
                now: Utc::now(),
                time: TimeDelta::zero(),
            })
            .unwrap()
        };
        assert!(!input(&risk(10, &[])));
        assert!(input(&risk(71, &[])));
        assert!(input(&risk(0, &["vpn"])));
        let in_form = Rule::parse(
            "deny if risk.score > 70 || 'vpn' in risk.flags",
            Moment::Request,
        )
        .unwrap();
        assert!(in_form.reads_risk());
    }

    #[test]
    fn duration_sugar_leaves_strings_and_numbers_alone() {
        let rewrite =
            rewrite_durations("context.time < 1h30m && token.sub == '2h' && 70 > 1", 0).unwrap();
        assert_eq!(
            rewrite.text,
            "context.time < duration(\"5400s\") && token.sub == '2h' && 70 > 1"
        );
        assert!(rewrite_durations("x < 2x", 0).is_err());
    }

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
    fn deny_wins_and_allow_sets_need_one_that_holds() {
        let calm = RiskPicture::default();
        let input = grant_input(None, TimeDelta::minutes(5), &calm);
        let rule = |text: &str| Arc::new(Rule::parse(text, Moment::Grant).unwrap());
        let allow_true = rule("allow if token.sub == 'fatma'");
        let allow_false = rule("allow if token.sub == 'ali'");
        let deny_true = rule("deny if context.time > 1m");
        assert_eq!(judge([&allow_true], &input, None), Verdict::Allowed);
        assert_eq!(
            judge([&allow_false, &allow_true], &input, None),
            Verdict::Allowed
        );
        assert!(matches!(
            judge([&allow_false], &input, None),
            Verdict::Refused { .. }
        ));
        assert!(matches!(
            judge([&allow_true, &deny_true], &input, None),
            Verdict::Refused { .. }
        ));
        let mut trace = Vec::new();
        judge([&allow_true, &deny_true], &input, Some(&mut trace));
        assert_eq!(trace.len(), 2);
        assert_eq!(trace[1].held, Some(true));
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
