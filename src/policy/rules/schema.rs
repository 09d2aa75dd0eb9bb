//! The variables rules may read, their fields, and the static types the checker gives them.

use std::collections::{BTreeMap, BTreeSet};

/// A static type, as far as the checker needs one.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Type {
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
pub(super) enum FieldType {
    String,
    OptionalString,
    Int,
    Duration,
    Timestamp,
    StringList,
    StringMap,
}

impl FieldType {
    pub(super) fn as_type(self) -> Type {
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

const SUBJECT_FIELDS: &[(&str, FieldType)] = &[
    ("type", FieldType::String),
    ("id", FieldType::String),
    ("properties", FieldType::StringMap),
];
const RESOURCE_FIELDS: &[(&str, FieldType)] = &[
    ("type", FieldType::String),
    ("id", FieldType::String),
    ("properties", FieldType::StringMap),
];
const ACTION_FIELDS: &[(&str, FieldType)] = &[
    ("name", FieldType::String),
    ("properties", FieldType::StringMap),
];

/// The type of variable `name` at `moment`: a permission's condition reads `context` as the
/// request's context, an open map (with `now` and `time` added), rules elsewhere as its two
/// fixed fields.
pub(super) fn variable_type_at(name: &str, moment: super::rule::Moment) -> Option<Type> {
    if moment == super::rule::Moment::Permission && name == "context" {
        return Some(Type::Map(Box::new(Type::String), Box::new(Type::Dyn)));
    }
    variable_type(name)
}

/// The type of variable `name`, whatever the moment.
pub(super) fn variable_type(name: &str) -> Option<Type> {
    let (name, fields) = match name {
        "subject" => ("subject", SUBJECT_FIELDS),
        "resource" => ("resource", RESOURCE_FIELDS),
        "action" => ("action", ACTION_FIELDS),
        "token" => ("token", TOKEN_FIELDS),
        "request" => ("request", REQUEST_FIELDS),
        "grant" => ("grant", GRANT_FIELDS),
        "risk" => ("risk", RISK_FIELDS),
        "context" => ("context", CONTEXT_FIELDS),
        _ => return None,
    };
    Some(Type::Object(name, fields))
}

/// How a type is named in messages.
pub(super) fn type_name(t: &Type) -> String {
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

/// What a rule reads: each variable, with the fields it selects (`None`: the whole variable).
/// Evaluation binds only these.
pub(super) type VariablesRead = BTreeMap<&'static str, Option<BTreeSet<&'static str>>>;
