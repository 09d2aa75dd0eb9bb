//! `elevator.v1.BreakGlassService`: break glass, list uses, read a use's evidence, confirm or
//! flag it. The messages of this service are converted here, beside their handlers.

use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};

use super::Api;
use super::convert;
use super::convert::{non_empty, required_duration};
use crate::domain::{
    BreakGlassCheck, BreakGlassId, BreakGlassVerdict, ReviewState, RoleName, Scope, shown,
};
use crate::proto::v1 as pb;
use crate::proto::v1::break_glass_service_server::BreakGlassService;
use crate::service::{BreakGlassListing, BreakGlassView, NewBreakGlass, ServiceError};

/// Longest entry name a request may carry (policy names are at most 64 bytes).
const MAX_ENTRY_BYTES: usize = 64;

#[tonic::async_trait]
impl BreakGlassService for Api {
    async fn break_glass(
        &self,
        request: Request<pb::BreakGlassRequest>,
    ) -> Result<Response<pb::BreakGlassResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = new_break_glass(request.into_inner())?;
        let outcome = self.app.break_glass(&caller, input).await?;
        let view = BreakGlassView {
            state: outcome.used.review_state(self.clock.now()),
            used: outcome.used,
            grant: Some(outcome.grant),
        };
        Ok(Response::new(pb::BreakGlassResponse {
            r#use: Some(break_glass_use(&view, self.clock.now())),
            revision: outcome.revision,
        }))
    }

    async fn list_break_glass(
        &self,
        request: Request<pb::ListBreakGlassRequest>,
    ) -> Result<Response<pb::ListBreakGlassResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.get_ref();
        let listing = match pb::BreakGlassListing::try_from(input.listing) {
            Ok(pb::BreakGlassListing::Unspecified | pb::BreakGlassListing::Mine) => {
                BreakGlassListing::Mine
            }
            Ok(pb::BreakGlassListing::ToReview) => BreakGlassListing::ToReview,
            Ok(pb::BreakGlassListing::All) => BreakGlassListing::All,
            Err(_) => {
                return Err(ServiceError::invalid("listing", "not a known listing").into());
            }
        };
        let page = self
            .app
            .list_break_glass(&caller, listing, input.page_size, &input.page_token)
            .await?;
        let now = self.clock.now();
        let (uses, next_page_token) = convert::page(page, |view| break_glass_use(view, now));
        Ok(Response::new(pb::ListBreakGlassResponse {
            uses,
            next_page_token,
        }))
    }

    async fn get_break_glass_evidence(
        &self,
        request: Request<pb::GetBreakGlassEvidenceRequest>,
    ) -> Result<Response<pb::GetBreakGlassEvidenceResponse>, Status> {
        let caller = self.caller(&request).await?;
        let id = break_glass_id(&request.get_ref().id)?;
        let evidence = self.app.break_glass_evidence(&caller, id).await?;
        Ok(Response::new(pb::GetBreakGlassEvidenceResponse {
            r#use: Some(break_glass_use(&evidence.view, self.clock.now())),
            checks: evidence.checks.iter().map(break_glass_check).collect(),
            checks_capped: evidence.checks_capped,
            writes: evidence.writes.iter().map(convert::audit_event).collect(),
        }))
    }

    async fn review_break_glass(
        &self,
        request: Request<pb::ReviewBreakGlassRequest>,
    ) -> Result<Response<pb::ReviewBreakGlassResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.get_ref();
        let id = break_glass_id(&input.id)?;
        let verdict = match pb::BreakGlassVerdict::try_from(input.verdict) {
            Ok(pb::BreakGlassVerdict::Confirm) => BreakGlassVerdict::Confirmed,
            Ok(pb::BreakGlassVerdict::Flag) => BreakGlassVerdict::Flagged,
            _ => {
                return Err(ServiceError::invalid(
                    "verdict",
                    "is required: BREAK_GLASS_VERDICT_CONFIRM or BREAK_GLASS_VERDICT_FLAG",
                )
                .into());
            }
        };
        let (view, revision) = self
            .app
            .review_break_glass(&caller, id, verdict, &input.comment)
            .await?;
        Ok(Response::new(pb::ReviewBreakGlassResponse {
            r#use: Some(break_glass_use(&view, self.clock.now())),
            revision,
        }))
    }
}

/// A use, as the caller asked for it.
fn new_break_glass(request: pb::BreakGlassRequest) -> Result<NewBreakGlass, ServiceError> {
    if request.entry.is_empty() {
        return Err(ServiceError::invalid(
            "entry",
            "is required: the name of a break_glass entry in policy",
        ));
    }
    if request.entry.len() > MAX_ENTRY_BYTES {
        return Err(ServiceError::invalid(
            "entry",
            format!(
                "{} is longer than {MAX_ENTRY_BYTES} bytes",
                shown(&request.entry)
            ),
        ));
    }
    Ok(NewBreakGlass {
        role: convert::required("role", &request.role, RoleName::parse)?,
        scope: convert::required("scope", &request.scope, Scope::parse)?,
        duration: match request.duration.as_ref() {
            Some(_) => Some(required_duration("duration", request.duration.as_ref())?),
            None => None,
        },
        entry: request.entry,
        reason: request.reason,
        incident: request.incident,
    })
}

fn break_glass_id(text: &str) -> Result<BreakGlassId, ServiceError> {
    convert::required("id", text, BreakGlassId::parse)
}

/// A use as the API shows it.
pub(crate) fn break_glass_use(view: &BreakGlassView, now: DateTime<Utc>) -> pb::BreakGlassUse {
    let used = &view.used;
    let review = used.review.as_ref();
    pb::BreakGlassUse {
        id: used.id.to_string(),
        entry: used.entry.clone(),
        subject: used.subject.to_string(),
        session_id: used.session.to_string(),
        role: used.role.to_string(),
        scope: used.scope.to_string(),
        reason: used.reason.clone(),
        incident: used.incident.clone(),
        used_at: Some(convert::timestamp(used.used_at)),
        ends_at: Some(convert::timestamp(used.ends_at)),
        elevation_id: used.elevation_id.to_string(),
        grant: view.grant.as_ref().map(|grant| convert::grant(grant, now)),
        reviewer_users: used
            .reviewers
            .users
            .iter()
            .map(ToString::to_string)
            .collect(),
        reviewer_groups: used
            .reviewers
            .groups
            .iter()
            .map(ToString::to_string)
            .collect(),
        review_due_at: Some(convert::timestamp(used.review_due_at)),
        overridden_rules: used.overridden_rules.clone(),
        review_state: review_state(view.state) as i32,
        reviewed_by: review.map(|r| r.by.to_string()).unwrap_or_default(),
        reviewed_at: review.map(|r| convert::timestamp(r.at)),
        review_comment: review.map(|r| r.comment.clone()).unwrap_or_default(),
    }
}

fn review_state(state: ReviewState) -> pb::BreakGlassReviewState {
    match state {
        ReviewState::Pending => pb::BreakGlassReviewState::Pending,
        ReviewState::Overdue => pb::BreakGlassReviewState::Overdue,
        ReviewState::Confirmed => pb::BreakGlassReviewState::Confirmed,
        ReviewState::Flagged => pb::BreakGlassReviewState::Flagged,
    }
}

fn break_glass_check(check: &BreakGlassCheck) -> pb::BreakGlassCheck {
    pb::BreakGlassCheck {
        at: Some(convert::timestamp(check.at)),
        session_id: non_empty(check.session.clone().unwrap_or_default()).unwrap_or_default(),
        permission: check.permission.clone(),
        resource: check.resource.clone(),
        request_id: check.request_id.clone().unwrap_or_default(),
    }
}
