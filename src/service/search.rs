//! The search use cases of the AuthZEN port: which resources, subjects or actions a question
//! would permit. Each candidate is decided as a single evaluation would decide it, but a
//! search is one question to the PEP: it is counted and written to the decision log once, not
//! once per candidate. A resource search runs in one pass over the directory's entities of the
//! type asked for (`Decider::search_resources`).

use super::checks::subject_token_matches;
use super::{Elevator, ServiceError};
use crate::decision::{ResourcePage, SearchWindow};
use crate::domain::decision::DecisionReason;
use crate::domain::{AccessQuery, CheckQuery, Decision, Identity, SubjectRef};

impl Elevator {
    /// The resources of `query`'s resource type on which its subject may do its action (for
    /// the PEP role, as an evaluation), from `window.offset` on; `query`'s resource id is not
    /// read. Written to the decision log as one line whose resource is `<type>:*`.
    #[tracing::instrument(
        name = "search_resources",
        skip_all,
        fields(
            subject = query.subject.id(),
            permission = query.action.name(),
            resource_type = query.resource.entity_type(),
        )
    )]
    pub async fn search_resources(
        &self,
        caller: &Identity,
        query: &AccessQuery<'_>,
        window: SearchWindow,
    ) -> Result<ResourcePage, ServiceError> {
        self.require_role(caller, &self.roles.pep, "Search")?;
        let subject = SubjectRef::parse(query.subject.id())
            .map_err(|error| ServiceError::invalid("subject.id", error.0))?;
        self.decider
            .stored_directory_at_least(query.min_revision)
            .await;
        let searched = format!("{}:*", query.resource.entity_type());
        let check = CheckQuery {
            subject,
            session: query.session.as_ref().map(|session| session.as_str()),
            permission: query.action.name(),
            resource: &searched,
            token: query.token,
            min_revision: query.min_revision,
        };
        subject_token_matches(&check)?;
        let started = std::time::Instant::now();
        let page = self.decider.search_resources(&check, query, window).await;
        let decision = Decision {
            allowed: !page.found.is_empty(),
            reason: if page.found.is_empty() {
                DecisionReason::NoGrant
            } else {
                DecisionReason::Allowed
            },
            grant: None,
            standing_role: None,
            rule: None,
            revision: page.revision,
        };
        self.record_decision(&check, &decision, started);
        Ok(page)
    }

    /// Decides one candidate of a subject or action search: [`Elevator::evaluate_access`]
    /// without counting or logging it (the search is recorded once, by
    /// [`Elevator::record_search`]).
    pub async fn evaluate_search_candidate(
        &self,
        caller: &Identity,
        query: &AccessQuery<'_>,
    ) -> Result<Decision, ServiceError> {
        self.decide_access(caller, query, false).await
    }

    /// Counts a subject or action search once and writes its one decision-log line, `check`
    /// naming what was searched (`<type>:*` where the subject or resource was the unknown, `*`
    /// for the action of an action search), allowed when anything was found.
    pub fn record_search(&self, check: &CheckQuery<'_>, found: usize) {
        let (allowed, reason) = if found > 0 {
            (true, DecisionReason::Allowed)
        } else {
            (false, DecisionReason::NoGrant)
        };
        let decision = Decision {
            allowed,
            reason,
            grant: None,
            standing_role: None,
            rule: None,
            revision: 0,
        };
        self.record_decision(check, &decision, std::time::Instant::now());
    }
}
