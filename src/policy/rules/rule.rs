//! A compiled rule: its effect, its CEL program (and native form, where one exists), what it
//! reads, and its evaluation against a [`RuleInput`]. [`Rule::parse`] lives in `parse`.

use std::sync::{Arc, LazyLock};

use cel::{Context, Env, Program, Value};

use super::input::RuleInput;
use super::native::NativeCondition;
use super::schema::VariablesRead;

/// The one standard environment every rule compiles and runs against.
pub(super) static ENVIRONMENT: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// When a rule is evaluated, which decides the variables it may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// When an elevation is requested: `token`, `request`, `risk`, `context`.
    Request,
    /// When a grant is checked: `token`, `grant`, `risk`, `context`.
    Grant,
    /// When a role's permission carries a condition: `subject`, `resource`, `action`,
    /// `context` (the request's, with `now` and `time`), `token` and `grant` (null fields when
    /// a standing role, not a grant, carries the permission).
    Permission,
}

impl Moment {
    /// The variables a rule evaluated at this moment may read.
    pub(super) fn variables(self) -> &'static [&'static str] {
        match self {
            Moment::Request => &["token", "request", "risk", "context"],
            Moment::Grant => &["token", "grant", "risk", "context"],
            Moment::Permission => &["subject", "resource", "action", "context", "token", "grant"],
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

/// A compiled rule.
pub struct Rule {
    pub(super) text: String,
    pub(super) effect: Effect,
    pub(super) program: Program,
    /// The same condition run natively, when its form allows (see `native`).
    pub(super) native: Option<NativeCondition>,
    pub(super) reads: VariablesRead,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule").field("text", &self.text).finish()
    }
}

impl Rule {
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
            Some(native) => native
                .holds(input)
                .unwrap_or_else(|| self.holds_interpreted(input)),
            None => self.holds_interpreted(input),
        }
    }

    /// Evaluates the condition in the CEL interpreter.
    pub(super) fn holds_interpreted(&self, input: &RuleInput<'_>) -> Result<bool, String> {
        let mut context = Context::with_env(ENVIRONMENT.clone());
        for (variable, fields) in &self.reads {
            context
                .add_variable_from_value(*variable, input.cel_variable(variable, fields.as_ref()));
        }
        match self.program.execute(&context) {
            Ok(Value::Bool(holds)) => Ok(holds),
            Ok(other) => Err(format!("the condition gave {other:?}, not true or false")),
            Err(error) => Err(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;
    use crate::domain::risk::RiskPicture;
    use crate::policy::rules::input::fixtures::grant_input;
    use crate::policy::rules::{RequestFacts, TokenFacts};

    fn risk(score: u32, flags: &[&str]) -> RiskPicture {
        RiskPicture {
            score,
            flags: flags.iter().map(|f| f.to_string()).collect(),
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
                access: None,
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
}
