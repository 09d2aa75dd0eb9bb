//! Judging a set of rules: deny wins; when the set has `allow if` rules one of them must hold;
//! an evaluation error refuses (fail closed). Each rule's outcome can be traced.

use std::sync::Arc;

use super::input::RuleInput;
use super::rule::{Effect, Rule};

/// The result of a set of rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleVerdict {
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
) -> RuleVerdict {
    let mut first_allow: Option<&Rule> = None;
    let mut any_allow_held = false;
    let mut refusal: Option<RuleVerdict> = None;
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
                refusal.get_or_insert(RuleVerdict::Refused {
                    rule: rule.text.clone(),
                    by_risk: rule.reads_risk(),
                    error: Some(error),
                });
            }
            (Effect::Deny, Ok(true)) => {
                refusal.get_or_insert(RuleVerdict::Refused {
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
        Some(rule) if !any_allow_held => RuleVerdict::Refused {
            rule: rule.text.clone(),
            by_risk: rule.reads_risk(),
            error: None,
        },
        _ => RuleVerdict::Allowed,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeDelta;

    use super::*;
    use crate::domain::risk::RiskPicture;
    use crate::policy::rules::Moment;
    use crate::policy::rules::input::fixtures::grant_input;

    #[test]
    fn deny_wins_and_allow_sets_need_one_that_holds() {
        let calm = RiskPicture::default();
        let input = grant_input(None, TimeDelta::minutes(5), &calm);
        let rule = |text: &str| Arc::new(Rule::parse(text, Moment::Grant).unwrap());
        let allow_true = rule("allow if token.sub == 'fatma'");
        let allow_false = rule("allow if token.sub == 'ali'");
        let deny_true = rule("deny if context.time > 1m");
        assert_eq!(judge([&allow_true], &input, None), RuleVerdict::Allowed);
        assert_eq!(
            judge([&allow_false, &allow_true], &input, None),
            RuleVerdict::Allowed
        );
        assert!(matches!(
            judge([&allow_false], &input, None),
            RuleVerdict::Refused { .. }
        ));
        assert!(matches!(
            judge([&allow_true, &deny_true], &input, None),
            RuleVerdict::Refused { .. }
        ));
        let mut trace = Vec::new();
        judge([&allow_true, &deny_true], &input, Some(&mut trace));
        assert_eq!(trace.len(), 2);
        assert_eq!(trace[1].held, Some(true));
    }
}
