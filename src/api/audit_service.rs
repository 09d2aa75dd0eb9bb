//! `elevator.v1.AuditService`: list, watch and verify the audit log; its signed head; one
//! grant's trail.

use tonic::{Request, Response, Status};

use super::Api;
use super::convert;
use crate::proto::v1 as pb;
use crate::proto::v1::audit_service_server::AuditService;

#[tonic::async_trait]
impl AuditService for Api {
    type WatchAuditEventsStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<pb::WatchAuditEventsResponse, Status>> + Send>,
    >;

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.into_inner();
        let query = convert::audit_query(&input)?;
        let page = self
            .app
            .list_audit_events(&caller, query, input.page_size, &input.page_token)
            .await?;
        let (events, next_page_token) = convert::page(page, convert::audit_event);
        Ok(Response::new(pb::ListAuditEventsResponse {
            events,
            next_page_token,
        }))
    }

    async fn watch_audit_events(
        &self,
        request: Request<pb::WatchAuditEventsRequest>,
    ) -> Result<Response<Self::WatchAuditEventsStream>, Status> {
        let caller = self.caller(&request).await?;
        let events = self
            .app
            .watch_audit_events(caller, request.get_ref().after_seq)?;
        Ok(Response::new(self.watch_replies(events, |event| {
            pb::WatchAuditEventsResponse {
                event: Some(convert::audit_event(&event)),
            }
        })))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        let caller = self.caller(&request).await?;
        let expected = request
            .get_ref()
            .expected_head
            .as_ref()
            .map(convert::checkpoint)
            .transpose()?;
        let verification = self.app.verify_audit_chain(&caller, expected).await?;
        Ok(Response::new(pb::VerifyAuditChainResponse {
            intact: verification.intact,
            verified_seq: verification.verified_seq,
            verified_hash: verification.verified_hash.to_vec(),
            broken_seq: verification.broken_seq.unwrap_or_default(),
            problem: verification.problem,
            events_checked: verification.events_checked,
        }))
    }

    async fn get_signed_audit_head(
        &self,
        request: Request<pb::GetSignedAuditHeadRequest>,
    ) -> Result<Response<pb::GetSignedAuditHeadResponse>, Status> {
        let caller = self.caller(&request).await?;
        let head = self.app.signed_audit_head(&caller).await?;
        Ok(Response::new(pb::GetSignedAuditHeadResponse {
            head: Some(convert::signed_head(&head)),
        }))
    }

    async fn get_grant_trail(
        &self,
        request: Request<pb::GetGrantTrailRequest>,
    ) -> Result<Response<pb::GetGrantTrailResponse>, Status> {
        let caller = self.caller(&request).await?;
        let id = convert::grant_id("grant_id", &request.get_ref().grant_id)?;
        let trail = self.app.grant_trail(&caller, id).await?;
        let now = self.clock.now();
        Ok(Response::new(pb::GetGrantTrailResponse {
            grants: trail
                .grants
                .iter()
                .map(|g| convert::grant(g, now))
                .collect(),
            events: trail.events.iter().map(convert::audit_event).collect(),
        }))
    }
}
