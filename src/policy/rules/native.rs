//! Rule conditions run natively. Most rules compare a field with a literal, test membership or
//! a string prefix, and combine those with `&&`, `||` and `!`. Such a condition is compiled,
//! once, when the policy loads, into a small tree that is evaluated without the CEL interpreter:
//! no context, no value maps, no allocation, a few nanoseconds instead of a couple of
//! microseconds per Check. Anything else (arithmetic, macros, `size`, maps, casts) runs in the
//! interpreter. Both give the same answer for every input, errors included (an ordering of a
//! null, for instance, is an error either way, and an error refuses): a property test in this
//! module holds them to it.
//!
//! A permission's condition reads the access question too (`access`): its fixed fields, and
//! properties whose type only the running condition knows; a value the native form does not
//! judge leaves that one evaluation to the interpreter.

mod access;

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
use chrono::{DateTime, TimeDelta, Utc};

use access::AccessOperand;

use super::input::RuleInput;
use super::rule::Moment;
use super::schema::FieldType;

/// A field a native condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    TokenSub,
    TokenSid,
    TokenGroups,
    TokenDelegatedBy,
    TokenAmr,
    RequestRole,
    RequestScope,
    RequestDuration,
    RequestReason,
    RequestTicket,
    GrantRole,
    GrantScope,
    GrantActivatedAt,
    GrantExpiresAt,
    GrantDelegatedBy,
    RiskScore,
    RiskFlags,
    ContextNow,
    ContextTime,
}

impl Field {
    fn of(variable: &str, field: &str) -> Option<Field> {
        Some(match (variable, field) {
            ("token", "sub") => Field::TokenSub,
            ("token", "sid") => Field::TokenSid,
            ("token", "groups") => Field::TokenGroups,
            ("token", "delegatedBy") => Field::TokenDelegatedBy,
            ("token", "amr") => Field::TokenAmr,
            ("request", "role") => Field::RequestRole,
            ("request", "scope") => Field::RequestScope,
            ("request", "duration") => Field::RequestDuration,
            ("request", "reason") => Field::RequestReason,
            ("request", "ticket") => Field::RequestTicket,
            ("grant", "role") => Field::GrantRole,
            ("grant", "scope") => Field::GrantScope,
            ("grant", "activated_at") => Field::GrantActivatedAt,
            ("grant", "expires_at") => Field::GrantExpiresAt,
            ("grant", "delegated_by") => Field::GrantDelegatedBy,
            ("risk", "score") => Field::RiskScore,
            ("risk", "flags") => Field::RiskFlags,
            ("context", "now") => Field::ContextNow,
            ("context", "time") => Field::ContextTime,
            _ => return None,
        })
    }

    fn kind(self) -> Kind {
        let field_type = match self {
            Field::TokenSub
            | Field::RequestRole
            | Field::RequestScope
            | Field::RequestReason
            | Field::RequestTicket
            | Field::GrantRole
            | Field::GrantScope => FieldType::String,
            Field::TokenSid | Field::TokenDelegatedBy | Field::GrantDelegatedBy => {
                FieldType::OptionalString
            }
            Field::TokenGroups | Field::TokenAmr | Field::RiskFlags => FieldType::StringList,
            Field::RequestDuration | Field::ContextTime => FieldType::Duration,
            Field::GrantActivatedAt | Field::GrantExpiresAt | Field::ContextNow => {
                FieldType::Timestamp
            }
            Field::RiskScore => FieldType::Int,
        };
        match field_type {
            FieldType::String => Kind::String,
            FieldType::OptionalString => Kind::OptionalString,
            FieldType::Int => Kind::Int,
            FieldType::Duration => Kind::Duration,
            FieldType::Timestamp => Kind::Timestamp,
            FieldType::StringList => Kind::StringList,
            FieldType::StringMap => Kind::Other,
        }
    }

    fn read<'a>(self, input: &'a RuleInput<'a>) -> NativeValue<'a> {
        let optional =
            |value: Option<&'a str>| value.map_or(NativeValue::Null, NativeValue::String);
        match self {
            Field::TokenSub => NativeValue::String(input.token.sub),
            Field::TokenSid => optional(input.token.sid),
            Field::TokenGroups => NativeValue::List(StringList::Slices(&input.token.groups)),
            Field::TokenDelegatedBy => optional(input.token.delegated_by),
            Field::TokenAmr => NativeValue::List(StringList::Slices(&input.token.amr)),
            Field::RequestRole => input
                .request
                .as_ref()
                .map_or(NativeValue::Null, |r| NativeValue::String(r.role)),
            Field::RequestScope => input
                .request
                .as_ref()
                .map_or(NativeValue::Null, |r| NativeValue::String(r.scope)),
            Field::RequestDuration => input
                .request
                .as_ref()
                .map_or(NativeValue::Null, |r| NativeValue::Duration(r.duration)),
            Field::RequestReason => input
                .request
                .as_ref()
                .map_or(NativeValue::Null, |r| NativeValue::String(r.reason)),
            Field::RequestTicket => input
                .request
                .as_ref()
                .map_or(NativeValue::Null, |r| NativeValue::String(r.ticket)),
            Field::GrantRole => input
                .grant
                .as_ref()
                .map_or(NativeValue::Null, |g| NativeValue::String(g.role)),
            Field::GrantScope => input
                .grant
                .as_ref()
                .map_or(NativeValue::Null, |g| NativeValue::String(g.scope)),
            Field::GrantActivatedAt => input.grant.as_ref().map_or(NativeValue::Null, |g| {
                NativeValue::Timestamp(g.activated_at)
            }),
            Field::GrantExpiresAt => input
                .grant
                .as_ref()
                .map_or(NativeValue::Null, |g| NativeValue::Timestamp(g.expires_at)),
            Field::GrantDelegatedBy => input
                .grant
                .as_ref()
                .map_or(NativeValue::Null, |g| optional(g.delegated_by)),
            Field::RiskScore => NativeValue::Int(i64::from(input.risk.score)),
            Field::RiskFlags => NativeValue::List(StringList::Strings(&input.risk.flags)),
            Field::ContextNow => NativeValue::Timestamp(input.now),
            Field::ContextTime => NativeValue::Duration(input.time),
        }
    }
}

/// The static kind of an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    OptionalString,
    Int,
    Bool,
    Duration,
    Timestamp,
    StringList,
    /// A property: its type is known when the condition runs.
    Dynamic,
    Other,
}

/// What a comparison's side is.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Field(Field),
    String(String),
    Int(i64),
    Bool(bool),
    Duration(TimeDelta),
    Timestamp(DateTime<Utc>),
    Strings(Vec<String>),
    Access(AccessOperand),
}

impl Operand {
    fn kind(&self) -> Kind {
        match self {
            Operand::Field(field) => field.kind(),
            Operand::String(_) => Kind::String,
            Operand::Int(_) => Kind::Int,
            Operand::Bool(_) => Kind::Bool,
            Operand::Duration(_) => Kind::Duration,
            Operand::Timestamp(_) => Kind::Timestamp,
            Operand::Strings(_) => Kind::StringList,
            Operand::Access(access) if access.is_dynamic() => Kind::Dynamic,
            Operand::Access(_) => Kind::String,
        }
    }

    fn read<'a>(&'a self, input: &'a RuleInput<'a>) -> NativeValue<'a> {
        match self {
            Operand::Field(field) => field.read(input),
            Operand::String(value) => NativeValue::String(value),
            Operand::Int(value) => NativeValue::Int(*value),
            Operand::Bool(value) => NativeValue::Bool(*value),
            Operand::Duration(value) => NativeValue::Duration(*value),
            Operand::Timestamp(value) => NativeValue::Timestamp(*value),
            Operand::Strings(values) => NativeValue::List(StringList::Strings(values)),
            Operand::Access(access) => access.read(input),
        }
    }
}

/// A list of strings, as the input holds it.
#[derive(Debug, Clone, Copy)]
enum StringList<'a> {
    /// As the token's claims hold it.
    Slices(&'a [&'a str]),
    /// As risk signals and list literals hold it.
    Strings(&'a [String]),
}

impl StringList<'_> {
    fn contains(self, wanted: &str) -> bool {
        match self {
            StringList::Slices(values) => values.contains(&wanted),
            StringList::Strings(values) => values.iter().any(|value| value == wanted),
        }
    }
}

/// A value read at evaluation: a field of the input or a literal of the condition.
#[derive(Debug, Clone, Copy)]
enum NativeValue<'a> {
    String(&'a str),
    Null,
    Int(i64),
    Bool(bool),
    Duration(TimeDelta),
    Timestamp(DateTime<Utc>),
    List(StringList<'a>),
    /// A property's list.
    Values(&'a [crate::domain::Value]),
    /// A value the native form does not judge: the interpreter decides.
    Undecided,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StringTest {
    StartsWith,
    EndsWith,
    Contains,
}

/// A condition the interpreter need not run.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NativeCondition(Node);

impl NativeCondition {
    /// Evaluates the condition on `input`, as CEL would; `None` when a value it read is one
    /// the native form does not judge (the interpreter then decides).
    pub(super) fn holds(&self, input: &RuleInput<'_>) -> Option<Result<bool, String>> {
        self.0.holds(input)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Constant(bool),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Compare(Comparison, Operand, Operand),
    In(Operand, Operand),
    Test(StringTest, Operand, Operand),
}

/// Compiles `expression` for `moment`, or `None` when it uses anything the native form does
/// not cover (the interpreter then runs it).
pub(super) fn compile(expression: &IdedExpr, moment: Moment) -> Option<NativeCondition> {
    node(expression, moment).map(NativeCondition)
}

fn node(expression: &IdedExpr, moment: Moment) -> Option<Node> {
    match &expression.expr {
        Expr::Literal(LiteralValue::Boolean(value)) => Some(Node::Constant(**value)),
        Expr::Call(call) => {
            let name = call.func_name.as_str();
            match (name, call.target.as_deref(), call.args.as_slice()) {
                (operators::LOGICAL_AND, None, [left, right]) => Some(Node::And(
                    Box::new(node(left, moment)?),
                    Box::new(node(right, moment)?),
                )),
                (operators::LOGICAL_OR, None, [left, right]) => Some(Node::Or(
                    Box::new(node(left, moment)?),
                    Box::new(node(right, moment)?),
                )),
                (operators::LOGICAL_NOT, None, [inner]) => {
                    Some(Node::Not(Box::new(node(inner, moment)?)))
                }
                (operators::IN, None, [element, list]) => {
                    let (element, list) = (operand(element, moment)?, operand(list, moment)?);
                    (matches!(element.kind(), Kind::String | Kind::Dynamic)
                        && matches!(list.kind(), Kind::StringList | Kind::Dynamic))
                    .then_some(Node::In(element, list))
                }
                ("startsWith" | "endsWith" | "contains", Some(receiver), [argument]) => {
                    let test = match name {
                        "startsWith" => StringTest::StartsWith,
                        "endsWith" => StringTest::EndsWith,
                        _ => StringTest::Contains,
                    };
                    let (receiver, argument) =
                        (operand(receiver, moment)?, operand(argument, moment)?);
                    let stringy = |kind| matches!(kind, Kind::String | Kind::Dynamic);
                    (stringy(receiver.kind()) && stringy(argument.kind()))
                        .then_some(Node::Test(test, receiver, argument))
                }
                (_, None, [left, right]) => {
                    let comparison = match name {
                        operators::EQUALS => Comparison::Equal,
                        operators::NOT_EQUALS => Comparison::NotEqual,
                        operators::LESS => Comparison::Less,
                        operators::LESS_EQUALS => Comparison::LessOrEqual,
                        operators::GREATER => Comparison::Greater,
                        operators::GREATER_EQUALS => Comparison::GreaterOrEqual,
                        _ => return None,
                    };
                    let (left, right) = (operand(left, moment)?, operand(right, moment)?);
                    comparable(comparison, left.kind(), right.kind())
                        .then_some(Node::Compare(comparison, left, right))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether the native comparison of these kinds is defined the way CEL defines it.
fn comparable(comparison: Comparison, left: Kind, right: Kind) -> bool {
    if left == Kind::Dynamic || right == Kind::Dynamic {
        // Decided when the condition runs, and only for values of one plain kind.
        let plain = |kind| matches!(kind, Kind::String | Kind::Int | Kind::Bool | Kind::Dynamic);
        return plain(left) && plain(right);
    }
    let scalar = |kind| {
        matches!(
            kind,
            Kind::String | Kind::Int | Kind::Bool | Kind::Duration | Kind::Timestamp
        )
    };
    match comparison {
        Comparison::Equal | Comparison::NotEqual => {
            (left == right && (scalar(left) || left == Kind::OptionalString))
                || matches!(
                    (left, right),
                    (Kind::String, Kind::OptionalString) | (Kind::OptionalString, Kind::String)
                )
        }
        _ => {
            left == right
                && matches!(
                    left,
                    Kind::String | Kind::Int | Kind::Duration | Kind::Timestamp
                )
        }
    }
}

fn operand(expression: &IdedExpr, moment: Moment) -> Option<Operand> {
    match &expression.expr {
        Expr::Literal(LiteralValue::String(value)) => Some(Operand::String(value.to_string())),
        Expr::Literal(LiteralValue::Int(value)) => Some(Operand::Int(**value)),
        Expr::Literal(LiteralValue::Boolean(value)) => Some(Operand::Bool(**value)),
        Expr::Select(select) if !select.test => {
            let Expr::Ident(variable) = &select.operand.expr else {
                return AccessOperand::property(select, moment).map(Operand::Access);
            };
            if !moment.variables().contains(&variable.as_str()) {
                return None;
            }
            match AccessOperand::of(variable, &select.field, moment) {
                Some(access) => Some(Operand::Access(access)),
                None => Field::of(variable, &select.field).map(Operand::Field),
            }
        }
        Expr::Call(call) if call.target.is_none() && call.args.len() == 1 => {
            let Expr::Literal(LiteralValue::String(text)) = &call.args[0].expr else {
                return None;
            };
            match call.func_name.as_str() {
                "duration" => plain_duration(text).map(Operand::Duration),
                "timestamp" => DateTime::parse_from_rfc3339(text)
                    .ok()
                    .map(|at| Operand::Timestamp(at.with_timezone(&Utc))),
                _ => None,
            }
        }
        Expr::List(list) if list.optional_indices.is_empty() => list
            .elements
            .iter()
            .map(|element| match &element.expr {
                Expr::Literal(LiteralValue::String(value)) => Some(value.to_string()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(Operand::Strings),
        _ => None,
    }
}

/// `duration("<n>s")` or `duration("<n>ms")`, the forms the duration sugar writes; other
/// spellings are left to the interpreter.
fn plain_duration(text: &str) -> Option<TimeDelta> {
    if let Some(millis) = text.strip_suffix("ms") {
        return digits(millis).map(TimeDelta::milliseconds);
    }
    text.strip_suffix('s')
        .and_then(digits)
        .and_then(TimeDelta::try_seconds)
}

fn digits(text: &str) -> Option<i64> {
    (!text.is_empty() && text.len() <= 15 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

impl Node {
    fn holds(&self, input: &RuleInput<'_>) -> Option<Result<bool, String>> {
        Some(match self {
            Node::Constant(value) => Ok(*value),
            // CEL's logical operators absorb an error (or anything) when the other side
            // decides; otherwise an undecided side leaves the whole to the interpreter.
            Node::And(left, right) => match (left.holds(input), right.holds(input)) {
                (Some(Ok(false)), _) | (_, Some(Ok(false))) => Ok(false),
                (None, _) | (_, None) => return None,
                (Some(Err(error)), _) | (_, Some(Err(error))) => Err(error),
                (Some(Ok(true)), Some(Ok(true))) => Ok(true),
            },
            Node::Or(left, right) => match (left.holds(input), right.holds(input)) {
                (Some(Ok(true)), _) | (_, Some(Ok(true))) => Ok(true),
                (None, _) | (_, None) => return None,
                (Some(Err(error)), _) | (_, Some(Err(error))) => Err(error),
                (Some(Ok(false)), Some(Ok(false))) => Ok(false),
            },
            Node::Not(inner) => inner.holds(input)?.map(|held| !held),
            Node::Compare(comparison, left, right) => {
                let dynamic = left.kind() == Kind::Dynamic || right.kind() == Kind::Dynamic;
                let (left, right) = (left.read(input), right.read(input));
                if dynamic && !plainly_comparable(*comparison, left, right) {
                    return None;
                }
                compare(*comparison, left, right)
            }
            Node::In(element, list) => {
                let dynamic = element.kind() == Kind::Dynamic || list.kind() == Kind::Dynamic;
                match (element.read(input), list.read(input)) {
                    (NativeValue::String(element), NativeValue::List(list)) => {
                        Ok(list.contains(element))
                    }
                    (NativeValue::String(element), NativeValue::Values(values)) => {
                        let mut found = false;
                        for value in values {
                            match value {
                                crate::domain::Value::String(text) => found |= **text == *element,
                                _ => return None,
                            }
                        }
                        Ok(found)
                    }
                    _ if dynamic => return None,
                    (NativeValue::Null, NativeValue::List(_)) => Ok(false),
                    _ => Err("no such overload for `in`".into()),
                }
            }
            Node::Test(test, receiver, argument) => {
                match (receiver.read(input), argument.read(input)) {
                    (NativeValue::String(receiver), NativeValue::String(argument)) => {
                        Ok(match test {
                            StringTest::StartsWith => receiver.starts_with(argument),
                            StringTest::EndsWith => receiver.ends_with(argument),
                            StringTest::Contains => receiver.contains(argument),
                        })
                    }
                    _ if receiver.kind() == Kind::Dynamic || argument.kind() == Kind::Dynamic => {
                        return None;
                    }
                    _ => Err("no such overload for a string test on null".into()),
                }
            }
        })
    }
}

/// Whether a comparison with a property is one the native form judges as CEL does: two
/// strings, two whole numbers, or two booleans compared for (in)equality.
fn plainly_comparable(
    comparison: Comparison,
    left: NativeValue<'_>,
    right: NativeValue<'_>,
) -> bool {
    match (left, right) {
        (NativeValue::String(_), NativeValue::String(_))
        | (NativeValue::Int(_), NativeValue::Int(_)) => true,
        (NativeValue::Bool(_), NativeValue::Bool(_)) => {
            matches!(comparison, Comparison::Equal | Comparison::NotEqual)
        }
        _ => false,
    }
}

fn compare(
    comparison: Comparison,
    left: NativeValue<'_>,
    right: NativeValue<'_>,
) -> Result<bool, String> {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (left, right) {
        (NativeValue::String(a), NativeValue::String(b)) => Some(a.cmp(b)),
        (NativeValue::Int(a), NativeValue::Int(b)) => Some(a.cmp(&b)),
        (NativeValue::Bool(a), NativeValue::Bool(b)) => Some(a.cmp(&b)),
        (NativeValue::Duration(a), NativeValue::Duration(b)) => Some(a.cmp(&b)),
        (NativeValue::Timestamp(a), NativeValue::Timestamp(b)) => Some(a.cmp(&b)),
        (NativeValue::Null, NativeValue::Null) => {
            return match comparison {
                Comparison::Equal => Ok(true),
                Comparison::NotEqual => Ok(false),
                _ => Err("no such overload: null cannot be ordered".into()),
            };
        }
        _ => None,
    };
    match (comparison, ordering) {
        (Comparison::Equal, ordering) => Ok(ordering == Some(Ordering::Equal)),
        (Comparison::NotEqual, ordering) => Ok(ordering != Some(Ordering::Equal)),
        (_, None) => Err("no such overload: these values cannot be ordered".into()),
        (Comparison::Less, Some(ordering)) => Ok(ordering == Ordering::Less),
        (Comparison::LessOrEqual, Some(ordering)) => Ok(ordering != Ordering::Greater),
        (Comparison::Greater, Some(ordering)) => Ok(ordering == Ordering::Greater),
        (Comparison::GreaterOrEqual, Some(ordering)) => Ok(ordering != Ordering::Less),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{GrantFacts, RequestFacts, Rule, TokenFacts};
    use super::*;
    use crate::domain::risk::RiskPicture;

    fn compiled(text: &str, moment: Moment) -> Rule {
        Rule::parse(text, moment).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn common_rules_run_natively_and_the_rest_in_the_interpreter() {
        for text in [
            "allow if context.time < 2h",
            "deny if risk.score > 70 || 'vpn' in risk.flags",
            "allow if token.sub.startsWith('svc-') && !(grant.scope == 'Org:Finance')",
            "allow if token.delegatedBy == 'ali' || grant.delegated_by != 'bob'",
            "allow if grant.expires_at > context.now && token.sub in ['fatma', 'ali']",
            "allow if context.now < timestamp('2030-01-01T00:00:00Z')",
        ] {
            assert!(compiled(text, Moment::Grant).native.is_some(), "{text}");
        }
        for text in [
            "allow if size(token.groups) > 1",
            "allow if has(token.claims.department)",
            "allow if context.now - grant.activated_at < 1h",
            "allow if token.groups.exists(g, g == 'managers')",
            "allow if risk.score > 70 ? false : true",
        ] {
            assert!(compiled(text, Moment::Grant).native.is_none(), "{text}");
        }
        assert!(
            compiled("deny if request.duration > 4h", Moment::Request)
                .native
                .is_some()
        );
    }

    const NAMES: &[&str] = &["fatma", "ali", "svc-batch", "", "Org:Finance", "vpn"];

    fn name() -> impl Strategy<Value = &'static str> {
        prop::sample::select(NAMES)
    }

    fn literal() -> impl Strategy<Value = String> {
        name().prop_map(|name| format!("'{name}'"))
    }

    fn comparison() -> impl Strategy<Value = &'static str> {
        prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..])
    }

    /// Leaves of the native form, for the grant moment.
    fn leaf() -> impl Strategy<Value = String> {
        prop_oneof![
            (
                prop::sample::select(&["token.sub", "grant.role", "grant.scope"][..]),
                comparison(),
                literal()
            )
                .prop_map(|(field, op, lit)| format!("{field} {op} {lit}")),
            (
                prop::sample::select(&["token.sid", "token.delegatedBy", "grant.delegated_by"][..]),
                prop::sample::select(&["==", "!="][..]),
                literal()
            )
                .prop_map(|(field, op, lit)| format!("{field} {op} {lit}")),
            (comparison(), 0..=100i64).prop_map(|(op, n)| format!("risk.score {op} {n}")),
            (comparison(), 0..=240i64).prop_map(|(op, m)| format!("context.time {op} {m}m")),
            comparison().prop_map(|op| format!("grant.expires_at {op} context.now")),
            (
                literal(),
                prop::sample::select(&["token.groups", "risk.flags", "token.amr"][..])
            )
                .prop_map(|(lit, list)| format!("{lit} in {list}")),
            (literal(), literal()).prop_map(|(a, b)| format!("token.sub in [{a}, {b}]")),
            (
                prop::sample::select(&["startsWith", "endsWith", "contains"][..]),
                literal()
            )
                .prop_map(|(test, lit)| format!("token.sub.{test}({lit})")),
            any::<bool>().prop_map(|value| value.to_string()),
        ]
    }

    fn condition() -> impl Strategy<Value = String> {
        leaf().prop_recursive(3, 16, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) && ({b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || ({b})")),
                inner.prop_map(|a| format!("!({a})")),
            ]
        })
    }

    #[derive(Debug, Clone)]
    struct Facts {
        sub: &'static str,
        sid: Option<&'static str>,
        delegated_by: Option<&'static str>,
        groups: Vec<&'static str>,
        amr: Vec<&'static str>,
        role: &'static str,
        scope: &'static str,
        score: u32,
        flags: Vec<String>,
        minutes: i64,
        expires_in_minutes: i64,
    }

    fn facts() -> impl Strategy<Value = Facts> {
        (
            name(),
            prop::option::of(name()),
            prop::option::of(name()),
            prop::collection::vec(name(), 0..3),
            prop::collection::vec(name(), 0..2),
            (name(), name()),
            0..=100u32,
            prop::collection::vec(name().prop_map(String::from), 0..3),
            (0..=240i64, -60..=60i64),
        )
            .prop_map(
                |(sub, sid, delegated_by, groups, amr, (role, scope), score, flags, times)| Facts {
                    sub,
                    sid,
                    delegated_by,
                    groups,
                    amr,
                    role,
                    scope,
                    score,
                    flags,
                    minutes: times.0,
                    expires_in_minutes: times.1,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// The native evaluation and the interpreter agree on every condition of the native
        /// form and every input: the same answer, or an error from both.
        #[test]
        fn native_and_interpreted_evaluation_agree(text in condition(), facts in facts()) {
            let rule = compiled(&format!("allow if {text}"), Moment::Grant);
            prop_assert!(rule.native.is_some(), "{} should run natively", text);
            let risk = RiskPicture { score: facts.score, flags: facts.flags.clone() };
            let now = Utc::now();
            let input = RuleInput {
                token: TokenFacts {
                    sub: facts.sub,
                    sid: facts.sid,
                    groups: facts.groups.clone(),
                    delegated_by: facts.delegated_by,
                    amr: facts.amr.clone(),
                },
                request: None,
                grant: Some(GrantFacts {
                    role: facts.role,
                    scope: facts.scope,
                    activated_at: now - TimeDelta::minutes(facts.minutes),
                    expires_at: now + TimeDelta::minutes(facts.expires_in_minutes),
                    delegated_by: facts.delegated_by,
                }),
                risk: &risk,
                now,
                time: TimeDelta::minutes(facts.minutes),
                access: None,
            };
            let native = rule.native.as_ref().unwrap().holds(&input).expect("no property: decided natively");
            let interpreted = rule.holds_interpreted(&input);
            match (&native, &interpreted) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", text),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "{}: native {:?}, interpreted {:?}", text, native, interpreted),
            }
        }
    }

    #[test]
    fn request_time_rules_read_the_request() {
        let rule = compiled(
            "deny if request.duration > 4h || request.ticket == ''",
            Moment::Request,
        );
        let risk = RiskPicture::default();
        let input = |duration: TimeDelta, ticket: &'static str| RuleInput {
            token: TokenFacts::default(),
            request: Some(RequestFacts {
                role: "admin_approver",
                scope: "Org:Procurement",
                duration,
                reason: "close",
                ticket,
            }),
            grant: None,
            risk: &risk,
            now: Utc::now(),
            time: TimeDelta::zero(),
            access: None,
        };
        for (duration, ticket) in [
            (TimeDelta::hours(5), "T-1"),
            (TimeDelta::hours(1), ""),
            (TimeDelta::hours(1), "T-1"),
        ] {
            let given = input(duration, ticket);
            assert_eq!(
                rule.native.as_ref().unwrap().holds(&given).unwrap(),
                rule.holds_interpreted(&given),
                "{duration} {ticket:?}"
            );
        }
    }
}
