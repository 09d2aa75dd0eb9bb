//! The facts a rule reads (the token, the request or the grant, risk, the time), and how they
//! become CEL values for the interpreter, binding only the fields a rule reads.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};
use chrono::{DateTime, TimeDelta, Utc};

use super::schema::{Type, variable_type};
use crate::domain::risk::RiskPicture;
use crate::domain::{Properties, Value as AttributeValue};

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

/// Facts about an access question for a permission's condition: the subject, the resource
/// and the action as the question names them, the properties already merged (the directory's
/// over the request's), and the request's context.
#[derive(Debug, Clone, Copy)]
pub struct AccessFacts<'a> {
    /// `subject.type`.
    pub subject_type: &'a str,
    /// `subject.id`.
    pub subject_id: &'a str,
    /// `subject.properties`.
    pub subject_properties: &'a Properties,
    /// `resource.type`.
    pub resource_type: &'a str,
    /// `resource.id`.
    pub resource_id: &'a str,
    /// `resource.properties`.
    pub resource_properties: &'a Properties,
    /// `action.name`.
    pub action_name: &'a str,
    /// `action.properties`.
    pub action_properties: &'a Properties,
    /// `context`, besides `now` and `time`.
    pub context: &'a Properties,
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
    /// `subject`, `resource`, `action` and the request's `context`, in a permission's
    /// condition.
    pub access: Option<AccessFacts<'a>>,
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

/// An attribute value as CEL sees it.
fn attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::Null => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Int(i) => Value::Int(*i),
        AttributeValue::Double(d) => Value::Float(*d),
        AttributeValue::String(text) => string(text),
        AttributeValue::List(items) => Value::List(Arc::new(items.iter().map(attribute).collect())),
        AttributeValue::Map(properties) => properties_map(properties, []),
    }
}

/// Properties as a CEL map, with `extra` entries laid over them.
fn properties_map<const N: usize>(properties: &Properties, extra: [(&str, Value); N]) -> Value {
    let mut map: HashMap<Key, Value> = properties
        .iter()
        .map(|(name, value)| (Key::String(Arc::new(name.to_owned())), attribute(value)))
        .collect();
    for (name, value) in extra {
        map.insert(Key::String(Arc::new(name.to_owned())), value);
    }
    Value::Map(Map { map: Arc::new(map) })
}

impl RuleInput<'_> {
    /// One field as a CEL value (`null` for a field of a variable the moment lacks).
    fn cel_field(&self, variable: &str, field: &str) -> Value {
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
            ("subject" | "resource" | "action", field) => match &self.access {
                None => Value::Null,
                Some(access) => access.cel_field(variable, field),
            },
            ("context", "now") => timestamp(self.now),
            ("context", "time") => Value::Duration(self.time),
            _ => Value::Null,
        }
    }

    /// Variable `variable` as a CEL map holding `fields` (every field when `None`).
    pub(super) fn cel_variable(
        &self,
        variable: &str,
        fields: Option<&BTreeSet<&'static str>>,
    ) -> Value {
        if variable == "context"
            && let Some(access) = &self.access
        {
            return properties_map(
                access.context,
                [
                    ("now", timestamp(self.now)),
                    ("time", Value::Duration(self.time)),
                ],
            );
        }
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
                    self.cel_field(variable, field),
                )
            })
            .collect();
        Value::Map(Map { map: Arc::new(map) })
    }
}

impl AccessFacts<'_> {
    /// One field of `subject`, `resource` or `action`.
    fn cel_field(&self, variable: &str, field: &str) -> Value {
        match (variable, field) {
            ("subject", "type") => string(self.subject_type),
            ("subject", "id") => string(self.subject_id),
            ("subject", "properties") => properties_map(self.subject_properties, []),
            ("resource", "type") => string(self.resource_type),
            ("resource", "id") => string(self.resource_id),
            ("resource", "properties") => properties_map(self.resource_properties, []),
            ("action", "name") => string(self.action_name),
            ("action", "properties") => properties_map(self.action_properties, []),
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
pub(super) mod fixtures {
    use chrono::{TimeDelta, Utc};

    use super::{GrantFacts, RuleInput, TokenFacts};
    use crate::domain::risk::RiskPicture;

    /// The input of a Check of fatma's `admin_approver` grant, active for `time`.
    pub(in crate::policy::rules) fn grant_input<'a>(
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
            access: None,
        }
    }
}
