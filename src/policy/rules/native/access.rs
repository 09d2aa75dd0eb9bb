//! The native form of a permission's condition: what it reads of the access question.
//! `subject.type`, `subject.id`, `resource.type`, `resource.id` and `action.name` are strings;
//! `subject.properties.x`, `resource.properties.x`, `action.properties.x` and `context.x` are
//! whatever the directory or the request says, so their type is known only when the condition
//! runs. The native form judges them only when CEL's answer is plain (strings, whole numbers
//! and booleans compared with their own kind, a string in a list of strings); any other value
//! (a missing property, a null, a number with a fraction, a map, a mixed list) leaves the
//! condition to the interpreter, so both always agree.

use std::sync::Arc;

use cel::common::ast::{Expr, SelectExpr};

use super::super::input::RuleInput;
use super::super::rule::Moment;
use super::NativeValue;
use crate::domain::{Properties, Value};

/// Whose properties a property operand reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Subject,
    Resource,
    Action,
}

/// What a permission's condition reads of the access question.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum AccessOperand {
    SubjectType,
    SubjectId,
    ResourceType,
    ResourceId,
    ActionName,
    /// `<owner>.properties.<name>`.
    Property(Owner, Arc<str>),
    /// `context.<name>` (not `now` or `time`): the request's context.
    Context(Arc<str>),
}

impl AccessOperand {
    /// `variable.field`, when it is one of the question's fixed fields or a context entry.
    pub(super) fn of(variable: &str, field: &str, moment: Moment) -> Option<AccessOperand> {
        if moment != Moment::Permission {
            return None;
        }
        Some(match (variable, field) {
            ("subject", "type") => AccessOperand::SubjectType,
            ("subject", "id") => AccessOperand::SubjectId,
            ("resource", "type") => AccessOperand::ResourceType,
            ("resource", "id") => AccessOperand::ResourceId,
            ("action", "name") => AccessOperand::ActionName,
            ("context", "now" | "time") => return None,
            ("context", name) => AccessOperand::Context(Arc::from(name)),
            _ => return None,
        })
    }

    /// `<owner>.properties.<name>`, when `select` is that.
    pub(super) fn property(select: &SelectExpr, moment: Moment) -> Option<AccessOperand> {
        if moment != Moment::Permission || select.test {
            return None;
        }
        let Expr::Select(properties) = &select.operand.expr else {
            return None;
        };
        let Expr::Ident(variable) = &properties.operand.expr else {
            return None;
        };
        if properties.test || properties.field != "properties" {
            return None;
        }
        let owner = match variable.as_str() {
            "subject" => Owner::Subject,
            "resource" => Owner::Resource,
            "action" => Owner::Action,
            _ => return None,
        };
        Some(AccessOperand::Property(
            owner,
            Arc::from(select.field.as_str()),
        ))
    }

    /// Whether the operand's type is known only when the condition runs.
    pub(super) fn is_dynamic(&self) -> bool {
        matches!(
            self,
            AccessOperand::Property(..) | AccessOperand::Context(_)
        )
    }

    /// The operand's value in `input`.
    pub(super) fn read<'a>(&self, input: &'a RuleInput<'a>) -> NativeValue<'a> {
        let Some(access) = &input.access else {
            // The interpreter reads the variables as null: it says what that gives.
            return NativeValue::Undecided;
        };
        let entry = |properties: &'a Properties, name: &str| {
            properties
                .get(name)
                .map_or(NativeValue::Undecided, attribute)
        };
        match self {
            AccessOperand::SubjectType => NativeValue::String(access.subject_type),
            AccessOperand::SubjectId => NativeValue::String(access.subject_id),
            AccessOperand::ResourceType => NativeValue::String(access.resource_type),
            AccessOperand::ResourceId => NativeValue::String(access.resource_id),
            AccessOperand::ActionName => NativeValue::String(access.action_name),
            AccessOperand::Property(Owner::Subject, name) => entry(access.subject_properties, name),
            AccessOperand::Property(Owner::Resource, name) => {
                entry(access.resource_properties, name)
            }
            AccessOperand::Property(Owner::Action, name) => entry(access.action_properties, name),
            AccessOperand::Context(name) => entry(access.context, name),
        }
    }
}

/// A property's value, as far as the native form judges it.
fn attribute(value: &Value) -> NativeValue<'_> {
    match value {
        Value::String(text) => NativeValue::String(text),
        Value::Int(number) => NativeValue::Int(*number),
        Value::Bool(flag) => NativeValue::Bool(*flag),
        Value::List(items) => NativeValue::Values(items),
        Value::Null | Value::Double(_) | Value::Map(_) => NativeValue::Undecided,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};
    use proptest::prelude::*;

    use super::super::super::{AccessFacts, Rule, TokenFacts};
    use super::*;
    use crate::domain::risk::RiskPicture;

    const NAMES: &[&str] = &["email", "ownerID", "dept", "level", "tags", "missing"];
    const TEXTS: &[&str] = &["ali@x", "eu", "sales", "", "a"];

    fn text() -> impl Strategy<Value = &'static str> {
        prop::sample::select(TEXTS)
    }

    fn property() -> impl Strategy<Value = String> {
        (
            prop::sample::select(&["subject", "resource", "action"][..]),
            prop::sample::select(NAMES),
        )
            .prop_map(|(owner, name)| format!("{owner}.properties.{name}"))
    }

    fn comparison() -> impl Strategy<Value = &'static str> {
        prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..])
    }

    /// Leaves of the native form of a permission's condition.
    fn leaf() -> impl Strategy<Value = String> {
        prop_oneof![
            (
                property(),
                prop::sample::select(&["==", "!="][..]),
                property()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            (property(), comparison(), text()).prop_map(|(a, op, t)| format!("{a} {op} '{t}'")),
            (property(), comparison(), 0..3i64).prop_map(|(a, op, n)| format!("{a} {op} {n}")),
            (property(), any::<bool>()).prop_map(|(a, b)| format!("{a} == {b}")),
            (property(), text(), text()).prop_map(|(a, x, y)| format!("{a} in ['{x}', '{y}']")),
            (text(), property()).prop_map(|(t, a)| format!("'{t}' in {a}")),
            (
                prop::sample::select(&["subject.type", "resource.id", "action.name"][..]),
                text()
            )
                .prop_map(|(field, t)| format!("{field} == '{t}'")),
            text().prop_map(|t| format!("context.region == '{t}'")),
            (property(), text()).prop_map(|(a, t)| format!("{a}.startsWith('{t}')")),
            text().prop_map(|t| format!("resource.id in ['{t}', 'b']")),
        ]
    }

    fn condition() -> impl Strategy<Value = String> {
        leaf().prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) && ({b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || ({b})")),
                inner.prop_map(|a| format!("!({a})")),
            ]
        })
    }

    /// A property value of every kind a directory or request may hold.
    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            text().prop_map(|t| Value::String(t.into())),
            (0..3i64).prop_map(Value::Int),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
            Just(Value::Double(1.5)),
            prop::collection::vec(text().prop_map(|t| Value::String(t.into())), 0..3)
                .prop_map(|items| Value::List(items.into())),
            Just(Value::List(
                vec![Value::String("eu".into()), Value::Int(1)].into()
            )),
        ]
    }

    fn properties() -> impl Strategy<Value = Properties> {
        prop::collection::vec((prop::sample::select(&NAMES[..5]), value()), 0..5).prop_map(
            |entries| {
                entries
                    .into_iter()
                    .map(|(name, value)| (Arc::from(name), value))
                    .collect()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        /// Conditions over the access question run natively (falling back to the interpreter
        /// only for the values the native form does not judge) and agree with the interpreter
        /// on every input: the same answer, or an error from both.
        #[test]
        fn native_and_interpreted_permission_conditions_agree(
            text in condition(),
            subject in properties(),
            resource in properties(),
            action in properties(),
            context in properties(),
            (id, region) in (text(), prop::option::of(text())),
        ) {
            let rule = Rule::parse(&format!("allow if {text}"), Moment::Permission)
                .unwrap_or_else(|error| panic!("{text}: {error}"));
            prop_assert!(rule.native.is_some(), "{} should run natively", text);
            let mut context = context;
            if let Some(region) = region {
                context = std::iter::once((Arc::from("region"), Value::String(region.into())))
                    .collect::<Properties>()
                    .over(&context);
            }
            let risk = RiskPicture::default();
            let input = RuleInput {
                token: TokenFacts { sub: "ali", ..Default::default() },
                request: None,
                grant: None,
                risk: &risk,
                now: Utc::now(),
                time: TimeDelta::zero(),
                access: Some(AccessFacts {
                    subject_type: "user",
                    subject_id: "ali",
                    subject_properties: &subject,
                    resource_type: "todo",
                    resource_id: id,
                    resource_properties: &resource,
                    action_name: "read",
                    action_properties: &action,
                    context: &context,
                }),
            };
            let native = rule.holds(&input);
            let interpreted = rule.holds_interpreted(&input);
            match (&native, &interpreted) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", text),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "{}: native {:?}, interpreted {:?}", text, native, interpreted),
            }
        }
    }

    #[test]
    fn the_todo_rule_and_plain_property_comparisons_run_natively() {
        let native = |text: &str| {
            let rule = Rule::parse(&format!("allow if {text}"), Moment::Permission).unwrap();
            rule.native.is_some()
        };
        assert!(native(
            "resource.properties.ownerID == subject.properties.email"
        ));
        assert!(native(
            "resource.properties.status != 'archived' && action.properties.soft == true"
        ));
        assert!(native("resource.id in ['/users/{userId}', '/todos']"));
        assert!(native(
            "subject.properties.level >= 2 || context.region == 'eu'"
        ));
        assert!(!native("has(resource.properties.ownerID)"));
        assert!(!native("size(subject.properties.tags) > 1"));
        assert!(!native("resource.properties['ownerID'] == subject.id"));
    }

    #[test]
    fn a_value_the_native_form_does_not_judge_is_left_to_the_interpreter() {
        let rule = Rule::parse(
            "allow if resource.properties.level == 1",
            Moment::Permission,
        )
        .unwrap();
        let risk = RiskPicture::default();
        let empty = Properties::default();
        let resource: Properties =
            std::iter::once((Arc::from("level"), Value::Double(1.0))).collect();
        let input = RuleInput {
            token: TokenFacts::default(),
            request: None,
            grant: None,
            risk: &risk,
            now: Utc::now(),
            time: TimeDelta::zero(),
            access: Some(AccessFacts {
                subject_type: "user",
                subject_id: "ali",
                subject_properties: &empty,
                resource_type: "todo",
                resource_id: "t1",
                resource_properties: &resource,
                action_name: "read",
                action_properties: &empty,
                context: &empty,
            }),
        };
        assert_eq!(rule.native.as_ref().unwrap().holds(&input), None);
        assert_eq!(rule.holds(&input), rule.holds_interpreted(&input));
    }
}
