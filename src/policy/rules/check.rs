//! The static checker: types every sub-expression of a condition against the variables its
//! moment offers, records what the condition reads, and reports the first problem with the id
//! of the expression at fault. Calls are typed in `overloads`.

use std::collections::BTreeSet;

use cel::common::ast::{
    ComprehensionExpr, EntryExpr, Expr, IdedExpr, ListExpr, LiteralValue, MapExpr,
};

use super::rule::Moment;
use super::schema::{Type, VariablesRead, type_name, variable_type_at};
use crate::domain::shown;

/// Types `condition` for `moment`: its type, and what it reads.
pub(super) fn check_condition(
    condition: &IdedExpr,
    moment: Moment,
) -> Result<(Type, VariablesRead), TypeProblem> {
    let mut checker = Checker {
        moment,
        scopes: Vec::new(),
        reads: VariablesRead::new(),
    };
    let condition_type = checker.check(condition)?;
    Ok((condition_type, checker.reads))
}

/// The checker's state while it walks one condition.
pub(super) struct Checker {
    moment: Moment,
    /// Comprehension variables in scope, innermost last.
    scopes: Vec<(String, Type)>,
    reads: VariablesRead,
}

/// A problem the checker found, at the expression with `id`.
pub(super) struct TypeProblem {
    pub(super) id: u64,
    pub(super) message: String,
    /// Calls are positioned at their parenthesis; this steps back over the function's name.
    pub(super) step_back: usize,
}

impl TypeProblem {
    pub(super) fn at(id: u64, message: impl Into<String>) -> Self {
        TypeProblem {
            id,
            message: message.into(),
            step_back: 0,
        }
    }
}

/// The type of an expression, or why it has none.
pub(super) type CheckResult = Result<Type, TypeProblem>;

/// Whether `t` is a number.
pub(super) fn numeric(t: &Type) -> bool {
    matches!(t, Type::Int | Type::Uint | Type::Double)
}

/// Whether values of `a` and `b` may be compared for equality (or passed where the other is
/// expected).
pub(super) fn compatible(a: &Type, b: &Type) -> bool {
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

/// Whether values of `a` and `b` may be ordered (`<`, `>=`, ...).
pub(super) fn orderable(a: &Type, b: &Type) -> bool {
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
    /// The type of `expression`.
    pub(super) fn check(&mut self, expression: &IdedExpr) -> CheckResult {
        let id = expression.id;
        match &expression.expr {
            Expr::Unspecified => Err(TypeProblem::at(id, "empty expression")),
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
            Expr::List(list) => self.list(list),
            Expr::Map(map) => self.map(map),
            Expr::Struct(_) => Err(TypeProblem::at(
                id,
                "message literals are not supported in rules",
            )),
            Expr::Comprehension(comprehension) => self.comprehension(comprehension),
            Expr::Call(call) => self.call(id, call),
        }
    }

    /// A list literal: a list of its elements' type when they share one.
    fn list(&mut self, list: &ListExpr) -> CheckResult {
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

    /// A map literal: its entries are checked, its type is a map of anything.
    fn map(&mut self, map: &MapExpr) -> CheckResult {
        for entry in &map.entries {
            if let EntryExpr::MapEntry(entry) = &entry.expr {
                self.check(&entry.key)?;
                self.check(&entry.value)?;
            }
        }
        Ok(Type::Map(Box::new(Type::Dyn), Box::new(Type::Dyn)))
    }

    /// A macro's comprehension (`exists`, `all`, `map`, ...): its loop variables are in scope
    /// while its loop and result are checked.
    fn comprehension(&mut self, comprehension: &ComprehensionExpr) -> CheckResult {
        let range = self.check(&comprehension.iter_range)?;
        let element = match range {
            Type::List(element) => *element,
            Type::Map(key, _) => *key,
            Type::Dyn => Type::Dyn,
            other => {
                return Err(TypeProblem::at(
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
        self.scopes
            .truncate(self.scopes.len() - 2 - usize::from(comprehension.iter_var2.is_some()));
        result
    }

    /// A variable: a comprehension variable in scope, or one the moment offers.
    fn identifier(&mut self, id: u64, name: &str) -> CheckResult {
        if let Some((_, t)) = self.scopes.iter().rev().find(|(scoped, _)| scoped == name) {
            return Ok(t.clone());
        }
        let allowed = self.moment.variables();
        match variable_type_at(name, self.moment) {
            Some(t) if allowed.contains(&name) => {
                // `allowed` holds `name`; its entry is the `'static` spelling the reads keep.
                let variable = allowed
                    .iter()
                    .find(|v| **v == name)
                    .copied()
                    .unwrap_or("token");
                // A variable used whole binds every field.
                self.reads.insert(variable, None);
                Ok(t)
            }
            Some(_) => Err(TypeProblem::at(
                id,
                format!(
                    "{name} is not known {}; rules here can read {}",
                    match self.moment {
                        Moment::Request => "when a request is made",
                        Moment::Grant => "when a grant is checked",
                        Moment::Permission => "in a permission's condition",
                    },
                    allowed.join(", ")
                ),
            )),
            None => Err(TypeProblem::at(
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

    /// The type of `field` selected from a value of type `operand`.
    fn field(&mut self, id: u64, operand: &Type, field: &str) -> CheckResult {
        match operand {
            Type::Object(name, schema) => schema
                .iter()
                .find(|(known, _)| *known == field)
                .map(|(_, t)| t.as_type())
                .ok_or_else(|| {
                    let names: Vec<&str> = schema.iter().map(|(known, _)| *known).collect();
                    TypeProblem::at(
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
            other => Err(TypeProblem::at(
                id,
                format!(
                    "{} has no fields (selecting {})",
                    type_name(other),
                    shown(field)
                ),
            )),
        }
    }
}
