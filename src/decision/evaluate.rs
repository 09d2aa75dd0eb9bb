//! The evaluation, pure: a subject's grants (and risk picture) against the compiled policy,
//! for one Check question, at one instant. No I/O and, for the common grant, no allocation.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::entries::SubjectGrants;
use crate::domain::decision::DecisionReason;
use crate::domain::risk::RiskPicture;
use crate::domain::scope::scope_covers;
use crate::domain::{CheckQuery, Decision, Grant, GrantTerms, StandingRole};
use crate::policy::rules::{
    self, AccessFacts, GrantFacts, Rule, RuleInput, RuleOutcome, TokenFacts,
};
use crate::policy::{Holding, Policy};

/// How one grant fared in an explained decision.
#[derive(Debug, Clone)]
pub struct GrantTrace {
    /// The grant.
    pub grant: Arc<Grant>,
    /// Whether its role carries the permission asked for.
    pub carries_permission: bool,
    /// Why it allows, or why not.
    pub reason: DecisionReason,
    /// The rule that decided, when a rule did.
    pub rule: Option<String>,
    /// Every rule evaluated for it.
    pub rules: Vec<RuleOutcome>,
}

/// The checks every grant gets on every call, whatever the cache holds: scope, revocation,
/// window and session. Cheap and allocation-free; most grants stop here.
#[inline(always)]
fn base_verdict(grant: &GrantTerms, query: &CheckQuery<'_>, now: DateTime<Utc>) -> DecisionReason {
    if !scope_covers(grant.scope.as_str(), query.resource) {
        return DecisionReason::ScopeMismatch;
    }
    if grant.revoked {
        return DecisionReason::Revoked;
    }
    if now >= grant.not_after {
        return DecisionReason::Expired;
    }
    if now < grant.not_before {
        return DecisionReason::NotYetActive;
    }
    if let Some(bound) = &grant.session
        && query.session != Some(bound.as_str())
    {
        return DecisionReason::OtherSession;
    }
    // A delegation not yet taken up in a session is bound to none and counts in none.
    if grant.awaiting_acceptance {
        return DecisionReason::DelegationNotAccepted;
    }
    DecisionReason::Allowed
}

/// Why one grant (whose role carries the permission) does or does not allow the question:
/// the base checks first, then separation of duties, then its rules. Returns the reason and,
/// when a rule (or a separation set) decided, its text. Always inlined: it is the Check's
/// inner loop and most grants stop at the base checks, which must cost no call.
#[inline(always)]
fn judge_grant(
    judge: &Judge<'_, '_>,
    grant: &GrantTerms,
    trace: Option<&mut Vec<RuleOutcome>>,
) -> (DecisionReason, Option<String>) {
    let Judge {
        policy,
        grants,
        query,
        facts,
        now,
        risk,
    } = *judge;
    let base = base_verdict(grant, query, now);
    if base != DecisionReason::Allowed {
        return (base, None);
    }
    if !policy.separations().is_empty()
        && let Some(conflict) = separation_conflict(policy, grants, grant, query, facts, now)
    {
        return (DecisionReason::SodConflict, Some(conflict));
    }
    if !policy.has_grant_rules(grant.role.as_str()) {
        return (DecisionReason::Allowed, None);
    }
    let no_risk = RiskPicture::default();
    let delegated_by = grant.delegated_by().map(|s| s.as_str());
    let input = RuleInput {
        token: token_facts(query, delegated_by),
        request: None,
        grant: Some(GrantFacts {
            role: grant.role.as_str(),
            scope: grant.scope.as_str(),
            activated_at: grant.not_before,
            expires_at: grant.not_after,
            delegated_by,
        }),
        risk: risk.unwrap_or(&no_risk),
        now,
        time: now - grant.not_before,
        access: None,
    };
    let verdict = rules::judge(
        policy.grant_rules_for(&grant.role, &grant.scope, grant.delegated),
        &input,
        trace,
    );
    match verdict {
        rules::RuleVerdict::Allowed => (DecisionReason::Allowed, None),
        rules::RuleVerdict::Refused { rule, by_risk, .. } => {
            let reason = if by_risk {
                DecisionReason::RiskSuspended
            } else {
                DecisionReason::RuleDenied
            };
            (reason, Some(rule))
        }
    }
}

/// What rules read of the subject's token (or, without one, of the question).
fn token_facts<'q>(query: &CheckQuery<'q>, delegated_by: Option<&'q str>) -> TokenFacts<'q> {
    TokenFacts {
        sub: query.subject.as_str(),
        sid: query.session,
        groups: query
            .token
            .map(|token| token.groups.iter().map(|g| g.as_str()).collect())
            .unwrap_or_default(),
        delegated_by,
        amr: query
            .token
            .map(|token| token.amr.iter().map(String::as_str).collect())
            .unwrap_or_default(),
    }
}

/// What a question brings beyond a Check's fields: the subject's standing roles from the
/// directory and, for permissions' conditions, the subject, resource, action and context.
#[derive(Clone, Copy, Default)]
pub(super) struct QuestionFacts<'q> {
    /// The subject's standing roles from the directory.
    pub(super) directory_roles: &'q [StandingRole],
    /// What conditions read; `None` when the policy has no conditions.
    pub(super) access: Option<AccessFacts<'q>>,
}

/// Whether the condition under which a role carries the permission holds for the question,
/// with `grant` when a grant (not a standing role) carries it. An evaluation error is false.
fn condition_holds(
    condition: &Rule,
    query: &CheckQuery<'_>,
    facts: &QuestionFacts<'_>,
    grant: Option<&GrantTerms>,
    now: DateTime<Utc>,
) -> bool {
    let no_risk = RiskPicture::default();
    let delegated_by = grant.and_then(|g| g.delegated_by()).map(|s| s.as_str());
    let input = RuleInput {
        token: token_facts(query, delegated_by),
        request: None,
        grant: grant.map(|grant| GrantFacts {
            role: grant.role.as_str(),
            scope: grant.scope.as_str(),
            activated_at: grant.not_before,
            expires_at: grant.not_after,
            delegated_by,
        }),
        risk: &no_risk,
        now,
        time: grant.map_or(TimeDelta::zero(), |grant| now - grant.not_before),
        access: facts.access,
    };
    // Without the question's facts (a policy whose conditions appeared after the facts were
    // gathered) the condition cannot be judged: fail closed.
    facts.access.is_some() && condition.holds(&input) == Ok(true)
}

/// A conflict between the grant's role and another role the subject has active now (a grant,
/// or a standing role from its token), under a separation-of-duties set.
fn separation_conflict(
    policy: &Policy,
    grants: &SubjectGrants,
    grant: &GrantTerms,
    query: &CheckQuery<'_>,
    facts: &QuestionFacts<'_>,
    now: DateTime<Utc>,
) -> Option<String> {
    // Grants of the same role never conflict with it (the policy skips them too), and with
    // many of them this scan was most of an allowed Check.
    let active_grants = grants
        .other_roles_than(grant.role.as_str())
        .filter(|other| !other.revoked)
        .filter(|other| other.not_before <= now && now < other.not_after)
        .map(|other| Holding::Grant(other.id, &other.role));
    let standing = query
        .token
        .into_iter()
        .flat_map(|token| token.standing_roles.iter())
        .chain(facts.directory_roles)
        .map(|standing| Holding::Standing(&standing.role));
    policy
        .separation_conflict(&grant.role, active_grants.chain(standing))
        .map(|conflict| conflict.to_string())
}

/// Everything a grant is judged against: the policy, the subject's grants, the question and
/// what it brings, the instant and the risk picture.
#[derive(Clone, Copy)]
struct Judge<'a, 'q> {
    policy: &'a Policy,
    grants: &'a SubjectGrants,
    query: &'a CheckQuery<'q>,
    facts: &'a QuestionFacts<'q>,
    now: DateTime<Utc>,
    risk: Option<&'a RiskPicture>,
}

/// A grant judged (`judge_grant`), then, when it would allow, held to the condition under
/// which its role carries the permission.
#[inline(always)]
fn judge_with_condition(
    judge: &Judge<'_, '_>,
    grant: &GrantTerms,
    condition: Option<&Arc<Rule>>,
    trace: Option<&mut Vec<RuleOutcome>>,
) -> (DecisionReason, Option<String>) {
    let (reason, rule) = judge_grant(judge, grant, trace);
    if reason == DecisionReason::Allowed
        && let Some(condition) = condition
        && !condition_holds(condition, judge.query, judge.facts, Some(grant), judge.now)
    {
        return (
            DecisionReason::RuleDenied,
            Some(condition.text().to_owned()),
        );
    }
    (reason, rule)
}

/// The reason closest to an allow so far, with the grant and the rule behind it.
type Closest<'g> = Option<(DecisionReason, Option<&'g GrantTerms>, Option<String>)>;

/// Keeps the grant's reason when it comes closer to an allow than the closest so far.
fn keep_closest<'g>(
    closest: &mut Closest<'g>,
    reason: DecisionReason,
    grant: &'g GrantTerms,
    rule: Option<String>,
) {
    if closest
        .as_ref()
        .is_none_or(|(best, _, _)| reason.closeness() > best.closeness())
    {
        *closest = Some((reason, Some(grant), rule));
    }
}

/// The decision itself, pure: which grant (or standing role) carries the permission on the
/// resource now, or the closest reason why none does.
pub(super) fn evaluate(
    policy: &Policy,
    grants: &SubjectGrants,
    query: &CheckQuery<'_>,
    facts: &QuestionFacts<'_>,
    now: DateTime<Utc>,
    risk: Option<&RiskPicture>,
) -> Decision {
    let roles = policy.roles_with_permission(query.permission);
    let access = policy.access();
    let judge = Judge {
        policy,
        grants,
        query,
        facts,
        now,
        risk,
    };
    let mut closest: Closest<'_> = None;
    for role in roles {
        let condition = access.condition(role.as_str(), query.permission);
        for grant in grants.with_role(role.as_str()) {
            let (reason, rule) = judge_with_condition(&judge, grant, condition, None);
            if reason == DecisionReason::Allowed {
                return Decision {
                    allowed: true,
                    reason,
                    grant: grants.shared(grant),
                    standing_role: None,
                    rule: None,
                    revision: grants.revision(),
                };
            }
            keep_closest(&mut closest, reason, grant, rule);
        }
    }
    let token_roles = query
        .token
        .map_or(&[][..], |token| token.standing_roles.as_slice());
    for standing in token_roles.iter().chain(facts.directory_roles) {
        if !roles.contains(&standing.role) || !standing.covers(query.resource) {
            continue;
        }
        if let Some(condition) = access.condition(standing.role.as_str(), query.permission)
            && !condition_holds(condition, query, facts, None, now)
        {
            if closest.is_none() {
                closest = Some((
                    DecisionReason::RuleDenied,
                    None,
                    Some(condition.text().to_owned()),
                ));
            }
            continue;
        }
        return Decision {
            allowed: true,
            reason: DecisionReason::Allowed,
            grant: None,
            standing_role: Some(standing.role.to_string()),
            rule: None,
            revision: grants.revision(),
        };
    }
    match closest {
        Some((reason, grant, rule)) => Decision {
            allowed: false,
            reason,
            grant: grant.and_then(|grant| grants.shared(grant)),
            standing_role: None,
            rule,
            revision: grants.revision(),
        },
        None => Decision::deny(DecisionReason::NoGrant, grants.revision()),
    }
}

/// How every grant the subject holds fares on `query` at `at`, for an explained decision
/// ("why denied"), ordered by grant id; `whole` are the same grants as stored, which the
/// traces show.
pub(super) fn explain_grants(
    policy: &Policy,
    grants: &SubjectGrants,
    whole: &[Arc<Grant>],
    query: &CheckQuery<'_>,
    facts: &QuestionFacts<'_>,
    at: DateTime<Utc>,
    risk: &RiskPicture,
) -> Vec<GrantTrace> {
    let judge = Judge {
        policy,
        grants,
        query,
        facts,
        now: at,
        risk: Some(risk),
    };
    let mut traces: Vec<GrantTrace> = grants
        .all()
        .filter_map(|grant| {
            let loaded = whole.iter().find(|loaded| loaded.id == grant.id)?;
            let carries_permission = policy
                .roles_with_permission(query.permission)
                .contains(&grant.role);
            let mut rules = Vec::new();
            let (reason, rule) = if carries_permission {
                let condition = policy
                    .access()
                    .condition(grant.role.as_str(), query.permission);
                judge_with_condition(&judge, grant, condition, Some(&mut rules))
            } else {
                (DecisionReason::NoGrant, None)
            };
            Some(GrantTrace {
                grant: loaded.clone(),
                carries_permission,
                reason,
                rule,
                rules,
            })
        })
        .collect();
    traces.sort_by_key(|trace| trace.grant.id);
    traces
}
