//! `elevator.v1.CheckService`: the decision path for policy enforcement points (Check and
//! BatchCheck), the Check simulator, and risk signals.
//!
//! A Check is parsed once, here at the edge, into a [`CheckQuery`] borrowing the request's
//! strings, and goes straight to the use case: handler -> [`Elevator::check`] ->
//! [`Decider::check`](crate::decision::Decider::check) -> the evaluation.
//!
//! [`Elevator::check`]: crate::service::Elevator::check

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::Api;
use super::convert;
use crate::domain::{AccessQuery, CheckQuery, Decision, Identity};
use crate::proto::v1 as pb;
use crate::proto::v1::check_service_server::CheckService;
use crate::service::{NewRiskSignal, ServiceError};

/// Most questions in one BatchCheck.
const MAX_BATCH_CHECKS: usize = 100;

impl Api {
    /// The end-user token a PEP passed along with a question (empty: none), verified. Whether
    /// it belongs to the subject asked about is the use case's to check.
    fn verified_subject_token(&self, token: &str) -> Result<Option<Arc<Identity>>, ServiceError> {
        if token.is_empty() {
            return Ok(None);
        }
        self.auth
            .verify_end_user_now(token)
            .map(Some)
            .map_err(|error| ServiceError::invalid("subject_token", error.to_string()))
    }
}

impl Api {
    /// Decides one question: a Check on a scope, or, when it names a resource type, the same
    /// question AuthZEN asks (`Elevator::evaluate_access`), so both answer it alike.
    async fn decide(
        &self,
        caller: &Identity,
        question: &pb::CheckRequest,
    ) -> Result<Decision, ServiceError> {
        if convert::asks_in_access_form(question) {
            let query = AccessQuery::try_from(question)?;
            let token = self.verified_subject_token(&question.subject_token)?;
            let query = AccessQuery {
                token: token.as_deref(),
                ..query
            };
            return self.app.evaluate_access(caller, &query).await;
        }
        let query = CheckQuery::try_from(question)?;
        let token = self.verified_subject_token(&question.subject_token)?;
        let query = CheckQuery {
            token: token.as_deref(),
            ..query
        };
        self.app.check(caller, &query).await
    }
}

impl Api {
    /// The requestable denial of a Check that opted in to the AuthZEN Access Request profile
    /// (`access_request_profile`), by the same use case as the HTTP edge's: only for a deny
    /// the subject may request a role for, and only when the HTTP port serves the endpoint.
    async fn access_request_hint(
        &self,
        caller: &Identity,
        question: &pb::CheckRequest,
        decision: &Decision,
    ) -> Result<Option<pb::AccessRequestHint>, ServiceError> {
        let Some(ring) = &self.access_requests else {
            return Ok(None);
        };
        if !question.access_request_profile
            || decision.allowed
            || !convert::asks_in_access_form(question)
        {
            return Ok(None);
        }
        let query = AccessQuery::try_from(question)?;
        let bound = convert::bound_check(question);
        let offer = self
            .app
            .requestable_denial(caller, &query, decision, bound)
            .await?;
        Ok(offer.map(|offer| convert::access_request_hint(&offer, ring)))
    }
}

/// An invalid argument of the `index`th question of a batch, named as `checks[index].field`.
fn in_batch(index: usize) -> impl Fn(ServiceError) -> ServiceError {
    move |error| match error {
        ServiceError::InvalidArgument { field, message } => {
            ServiceError::invalid(format!("checks[{index}].{field}"), message)
        }
        other => other,
    }
}

#[tonic::async_trait]
impl CheckService for Api {
    async fn simulate_check(
        &self,
        request: Request<pb::SimulateCheckRequest>,
    ) -> Result<Response<pb::SimulateCheckResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.into_inner();
        let question = input.check.unwrap_or_default();
        let query = CheckQuery::try_from(&question)?;
        let token = self.verified_subject_token(&question.subject_token)?;
        let at = convert::optional_timestamp("at", input.at.as_ref())?;
        let risk = convert::risk_override(input.risk.as_ref())?;
        let query = CheckQuery {
            token: token.as_deref(),
            ..query
        };
        let simulation = self.app.simulate_check(&caller, &query, at, risk).await?;
        Ok(Response::new(convert::check_simulation(
            &simulation,
            self.clock.now(),
        )))
    }

    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let caller = self.enforcement_point(&request).await?;
        let question = request.get_ref();
        let decision = self.decide(&caller, question).await?;
        let mut response = convert::check_response(&decision);
        response.access_request = self
            .access_request_hint(&caller, question, &decision)
            .await?;
        Ok(Response::new(response))
    }

    async fn batch_check(
        &self,
        request: Request<pb::BatchCheckRequest>,
    ) -> Result<Response<pb::BatchCheckResponse>, Status> {
        let caller = self.enforcement_point(&request).await?;
        let checks = &request.get_ref().checks;
        if checks.len() > MAX_BATCH_CHECKS {
            return Err(ServiceError::invalid(
                "checks",
                format!("at most {MAX_BATCH_CHECKS} questions per batch"),
            )
            .into());
        }
        let mut results = Vec::with_capacity(checks.len());
        for (index, question) in checks.iter().enumerate() {
            let decision = self
                .decide(&caller, question)
                .await
                .map_err(in_batch(index))?;
            let mut result = convert::check_response(&decision);
            result.access_request = self
                .access_request_hint(&caller, question, &decision)
                .await
                .map_err(in_batch(index))?;
            results.push(result);
        }
        Ok(Response::new(pb::BatchCheckResponse { results }))
    }

    async fn report_risk_signal(
        &self,
        request: Request<pb::ReportRiskSignalRequest>,
    ) -> Result<Response<pb::ReportRiskSignalResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = NewRiskSignal::try_from(request.into_inner())?;
        let (signal, revision) = self.app.report_risk(&caller, input).await?;
        Ok(Response::new(pb::ReportRiskSignalResponse {
            signal_id: signal.id.to_string(),
            expires_at: Some(convert::timestamp(signal.expires_at)),
            revision,
        }))
    }
}
