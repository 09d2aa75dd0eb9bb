//! Typing calls: the operators and standard functions a rule may use, each with the argument
//! types it accepts and the type it gives.
//!
//! Each group of overloads answers `None` when the call is not one of its own (by name and
//! shape), `Some(Ok(type))` when it is and the types fit, and `Some(Err(what))` when it is but
//! the types do not fit (`what` names the operator or function for the message).

use cel::common::ast::{CallExpr, operators};

use super::check::{CheckResult, Checker, TypeProblem, compatible, numeric, orderable};
use super::schema::{Type, type_name};
use crate::domain::shown;

/// What a group of overloads says of a call.
type Overload<'c> = Option<Result<Type, &'c str>>;

/// The name of a call and the types of its receiver and arguments.
struct CallTypes<'c> {
    name: &'c str,
    target: Option<&'c Type>,
    args: &'c [Type],
}

/// The standard functions that exist, whatever their arguments.
const KNOWN_FUNCTIONS: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "duration",
    "timestamp",
    "int",
    "uint",
    "double",
    "string",
];

impl Checker {
    /// The type of a call, after typing its arguments and then its receiver.
    pub(super) fn call(&mut self, id: u64, call: &CallExpr) -> CheckResult {
        let name = call.func_name.as_str();
        let mut args = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            args.push(self.check(arg)?);
        }
        let target = match &call.target {
            Some(target) => Some(self.check(target)?),
            None => None,
        };
        let types = CallTypes {
            name,
            target: target.as_ref(),
            args: &args,
        };
        let overload = logical(&types)
            .or_else(|| comparison(&types))
            .or_else(|| arithmetic(&types))
            .or_else(|| container(&types))
            .or_else(|| function(&types));
        match overload {
            Some(Ok(result)) => Ok(result),
            Some(Err(what)) => {
                let described: Vec<String> =
                    target.iter().chain(args.iter()).map(type_name).collect();
                Err(TypeProblem::at(
                    id,
                    format!("{what} cannot take {}", described.join(" and ")),
                ))
            }
            // Calls are positioned at their parenthesis; point at the name instead.
            None => Err(TypeProblem {
                step_back: name.len(),
                ..TypeProblem::at(id, format!("unknown function {}", shown(name)))
            }),
        }
    }
}

/// `Ok(result)` when `fits`, otherwise the mismatch named `what`.
fn fits<'c>(fits: bool, result: Type, what: &'c str) -> Overload<'c> {
    Some(if fits { Ok(result) } else { Err(what) })
}

/// `!`, `&&`, `||`, the macros' not-strictly-false, and `? :`.
fn logical<'c>(call: &CallTypes<'c>) -> Overload<'c> {
    match (call.name, call.target, call.args) {
        (operators::LOGICAL_NOT, None, [a]) => fits(compatible(a, &Type::Bool), Type::Bool, "!"),
        (operators::LOGICAL_AND, None, [a, b]) => fits(
            compatible(a, &Type::Bool) && compatible(b, &Type::Bool),
            Type::Bool,
            "&&",
        ),
        (operators::LOGICAL_OR, None, [a, b]) => fits(
            compatible(a, &Type::Bool) && compatible(b, &Type::Bool),
            Type::Bool,
            "||",
        ),
        (operators::NOT_STRICTLY_FALSE, None, [_]) => Some(Ok(Type::Bool)),
        (operators::CONDITIONAL, None, [condition, yes, no]) => {
            if !compatible(condition, &Type::Bool) {
                return Some(Err("a condition ?:"));
            }
            Some(Ok(if yes == no { yes.clone() } else { Type::Dyn }))
        }
        _ => None,
    }
}

/// `==`, `!=`, `<`, `<=`, `>`, `>=`.
fn comparison<'c>(call: &CallTypes<'c>) -> Overload<'c> {
    match (call.name, call.target, call.args) {
        (operators::EQUALS | operators::NOT_EQUALS, None, [a, b]) => {
            fits(compatible(a, b), Type::Bool, "== and !=")
        }
        (
            operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS,
            None,
            [a, b],
        ) => fits(orderable(a, b), Type::Bool, "comparison"),
        _ => None,
    }
}

/// `+`, `-` (both), `*`, `/`, `%`: numbers of one type, strings and lists (`+`), durations
/// and timestamps.
fn arithmetic<'c>(call: &CallTypes<'c>) -> Overload<'c> {
    let result = match (call.name, call.target, call.args) {
        (operators::ADD, None, [a, b]) => match (a, b) {
            (Type::Dyn, _) | (_, Type::Dyn) => Ok(Type::Dyn),
            (x, y) if numeric(x) && x == y => Ok(x.clone()),
            (Type::String, Type::String) => Ok(Type::String),
            (Type::List(x), Type::List(_)) => Ok(Type::List(x.clone())),
            (Type::Duration, Type::Duration) => Ok(Type::Duration),
            (Type::Timestamp, Type::Duration) | (Type::Duration, Type::Timestamp) => {
                Ok(Type::Timestamp)
            }
            _ => Err("+"),
        },
        (operators::SUBSTRACT, None, [a, b]) => match (a, b) {
            (Type::Dyn, _) | (_, Type::Dyn) => Ok(Type::Dyn),
            (x, y) if numeric(x) && x == y => Ok(x.clone()),
            (Type::Duration, Type::Duration) | (Type::Timestamp, Type::Timestamp) => {
                Ok(Type::Duration)
            }
            (Type::Timestamp, Type::Duration) => Ok(Type::Timestamp),
            _ => Err("-"),
        },
        (operators::MULTIPLY | operators::DIVIDE | operators::MODULO, None, [a, b]) => {
            match (a, b) {
                (Type::Dyn, _) | (_, Type::Dyn) => Ok(Type::Dyn),
                (x, y) if numeric(x) && x == y => Ok(x.clone()),
                _ => Err("arithmetic"),
            }
        }
        (operators::NEGATE, None, [a]) => match a {
            Type::Int | Type::Double | Type::Duration | Type::Dyn => Ok(a.clone()),
            _ => Err("-"),
        },
        _ => return None,
    };
    Some(result)
}

/// `[ ]` and `in` on lists and maps.
fn container<'c>(call: &CallTypes<'c>) -> Overload<'c> {
    let result = match (call.name, call.target, call.args) {
        (operators::INDEX, None, [container, index]) => match container {
            Type::List(element) if compatible(index, &Type::Int) => Ok((**element).clone()),
            Type::Map(key, value) if compatible(index, key) => Ok((**value).clone()),
            Type::Dyn => Ok(Type::Dyn),
            _ => Err("[ ]"),
        },
        (operators::IN, None, [element, container]) => match container {
            Type::List(item) if compatible(element, item) => Ok(Type::Bool),
            Type::Map(key, _) if compatible(element, key) => Ok(Type::Bool),
            Type::Dyn => Ok(Type::Bool),
            _ => Err("in"),
        },
        _ => return None,
    };
    Some(result)
}

/// The standard functions: `size`, the string tests, the conversions, and the timestamp and
/// duration accessors; a known function with arguments it does not take is a mismatch.
fn function<'c>(call: &CallTypes<'c>) -> Overload<'c> {
    let name = call.name;
    let result = match (name, call.target, call.args) {
        ("size", None, [a]) | ("size", Some(a), []) => match a {
            Type::String | Type::Bytes | Type::List(_) | Type::Map(..) | Type::Dyn => Ok(Type::Int),
            _ => Err("size"),
        },
        ("contains" | "startsWith" | "endsWith", Some(a), [b]) => {
            if compatible(a, &Type::String) && compatible(b, &Type::String) {
                Ok(Type::Bool)
            } else {
                Err(name)
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
        _ if KNOWN_FUNCTIONS.contains(&name) => Err(name),
        _ => return None,
    };
    Some(result)
}
