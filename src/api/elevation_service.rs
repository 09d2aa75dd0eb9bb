//! `elevator.v1.ElevationService`: request, extend, simulate, get, list and cancel
//! elevations; delegate and accept delegations; list and revoke grants; end sessions.

use tonic::{Request, Response, Status};

use super::Api;
use super::convert;
use super::convert::optional;
use crate::domain::{RoleName, SessionId, Subject};
use crate::proto::v1 as pb;
use crate::proto::v1::elevation_service_server::ElevationService;
use crate::service::{NewDelegation, NewElevation};

#[tonic::async_trait]
impl ElevationService for Api {
    async fn delegate(
        &self,
        request: Request<pb::DelegateRequest>,
    ) -> Result<Response<pb::DelegateResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = NewDelegation::try_from(request.into_inner())?;
        let outcome = self.app.delegate(&caller, input).await?;
        Ok(Response::new(convert::elevation_reply(
            &outcome,
            self.clock.now(),
        )))
    }

    async fn list_delegations(
        &self,
        request: Request<pb::ListDelegationsRequest>,
    ) -> Result<Response<pb::ListDelegationsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.into_inner();
        let view = convert::delegation_view(input.view, &input.grant_id)?;
        let subject = optional("subject", &input.subject, Subject::parse)?;
        let grants = self
            .app
            .list_delegations(&caller, view, subject, input.include_ended)
            .await?;
        let now = self.clock.now();
        Ok(Response::new(pb::ListDelegationsResponse {
            grants: grants.iter().map(|g| convert::grant(g, now)).collect(),
        }))
    }

    async fn accept_delegation(
        &self,
        request: Request<pb::AcceptDelegationRequest>,
    ) -> Result<Response<pb::AcceptDelegationResponse>, Status> {
        // The session is the verified token's `sid`, carried in the caller's identity.
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let id = convert::grant_id("grant_id", &input.grant_id)?;
        let (grant, revision) = self.app.accept_delegation(&caller, id).await?;
        Ok(Response::new(pb::AcceptDelegationResponse {
            grant: Some(convert::grant(&grant, self.clock.now())),
            revision,
        }))
    }
    async fn extend_elevation(
        &self,
        request: Request<pb::ExtendElevationRequest>,
    ) -> Result<Response<pb::ExtendElevationResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let id = convert::elevation_id("id", &input.id)?;
        let extension = convert::required_duration("extension", input.extension.as_ref())?;
        let key = convert::non_empty(input.idempotency_key);
        let outcome = self
            .app
            .extend_elevation(&caller, id, extension, input.reason, key)
            .await?;
        Ok(Response::new(convert::elevation_reply(
            &outcome,
            self.clock.now(),
        )))
    }

    async fn simulate_elevation(
        &self,
        request: Request<pb::SimulateElevationRequest>,
    ) -> Result<Response<pb::SimulateElevationResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.into_inner();
        let asked = NewElevation::try_from(input.request.unwrap_or_default())?;
        let requester = input
            .requester
            .map(convert::simulated_requester)
            .transpose()?;
        let at = convert::optional_timestamp("at", input.at.as_ref())?;
        let risk = convert::risk_override(input.risk.as_ref())?;
        let assessment = self
            .app
            .simulate_elevation(&caller, requester, asked, at, risk)
            .await?;
        Ok(Response::new(convert::simulation(&assessment)))
    }

    async fn request_elevation(
        &self,
        request: Request<pb::RequestElevationRequest>,
    ) -> Result<Response<pb::RequestElevationResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = NewElevation::try_from(request.into_inner())?;
        let outcome = self.app.request_elevation(&caller, input).await?;
        Ok(Response::new(convert::elevation_reply(
            &outcome,
            self.clock.now(),
        )))
    }

    async fn get_elevation(
        &self,
        request: Request<pb::GetElevationRequest>,
    ) -> Result<Response<pb::GetElevationResponse>, Status> {
        let caller = self.caller(&request).await?;
        let id = convert::elevation_id("id", &request.get_ref().id)?;
        let elevation = self.app.get_elevation(&caller, id).await?;
        Ok(Response::new(pb::GetElevationResponse {
            elevation: Some(convert::elevation(&elevation)),
        }))
    }

    async fn list_elevations(
        &self,
        request: Request<pb::ListElevationsRequest>,
    ) -> Result<Response<pb::ListElevationsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.into_inner();
        let requester = optional("requester", &input.requester, Subject::parse)?;
        let state = convert::state_filter(input.state)?;
        let role = optional("role", &input.role, RoleName::parse)?;
        let page = self
            .app
            .list_elevations(
                &caller,
                requester,
                state,
                role,
                input.page_size,
                &input.page_token,
            )
            .await?;
        let (elevations, next_page_token) = convert::page(page, convert::elevation);
        Ok(Response::new(pb::ListElevationsResponse {
            elevations,
            next_page_token,
        }))
    }

    async fn cancel_elevation(
        &self,
        request: Request<pb::CancelElevationRequest>,
    ) -> Result<Response<pb::CancelElevationResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let id = convert::elevation_id("id", &input.id)?;
        let outcome = self
            .app
            .cancel_elevation(&caller, id, &input.reason)
            .await?;
        Ok(Response::new(pb::CancelElevationResponse {
            elevation: Some(convert::elevation(&outcome.elevation)),
            revision: outcome.revision,
        }))
    }

    async fn revoke_grant(
        &self,
        request: Request<pb::RevokeGrantRequest>,
    ) -> Result<Response<pb::RevokeGrantResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let id = convert::grant_id("grant_id", &input.grant_id)?;
        let (grant, revision) = self.app.revoke_grant(&caller, id, &input.reason).await?;
        Ok(Response::new(pb::RevokeGrantResponse {
            grant: Some(convert::grant(&grant, self.clock.now())),
            revision,
        }))
    }

    async fn list_grants(
        &self,
        request: Request<pb::ListGrantsRequest>,
    ) -> Result<Response<pb::ListGrantsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.into_inner();
        let subject = optional("subject", &input.subject, Subject::parse)?;
        let grants = self
            .app
            .list_grants(&caller, subject, input.include_ended)
            .await?;
        let now = self.clock.now();
        Ok(Response::new(pb::ListGrantsResponse {
            grants: grants.iter().map(|g| convert::grant(g, now)).collect(),
        }))
    }

    async fn end_session(
        &self,
        request: Request<pb::EndSessionRequest>,
    ) -> Result<Response<pb::EndSessionResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let subject = optional("subject", &input.subject, Subject::parse)?;
        let session = optional("session_id", &input.session_id, SessionId::parse)?;
        let (revoked, revision) = self
            .app
            .end_session(&caller, subject, session, &input.reason)
            .await?;
        Ok(Response::new(pb::EndSessionResponse {
            revoked_grant_ids: revoked.iter().map(ToString::to_string).collect(),
            revision,
        }))
    }
}
