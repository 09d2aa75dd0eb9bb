//! `elevator.v1.ApprovalService`: the approvers' side: watch and list what awaits them,
//! approve, deny.

use tonic::{Request, Response, Status};

use super::Api;
use super::convert;
use crate::domain::{Identity, Verdict};
use crate::proto::v1 as pb;
use crate::proto::v1::approval_service_server::ApprovalService;
use crate::service::ElevationOutcome;

#[tonic::async_trait]
impl ApprovalService for Api {
    type WatchApprovalsStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<pb::WatchApprovalsResponse, Status>> + Send>,
    >;

    async fn watch_approvals(
        &self,
        request: Request<pb::WatchApprovalsRequest>,
    ) -> Result<Response<Self::WatchApprovalsStream>, Status> {
        let caller = self.caller(&request).await?;
        let batches = self
            .app
            .watch_approvals(caller, request.get_ref().after_revision);
        Ok(Response::new(self.watch_replies(batches, |batch| {
            convert::approval_batch(&batch)
        })))
    }
    async fn list_pending_approvals(
        &self,
        request: Request<pb::ListPendingApprovalsRequest>,
    ) -> Result<Response<pb::ListPendingApprovalsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.into_inner();
        let page = self
            .app
            .list_pending_approvals(&caller, input.page_size, &input.page_token)
            .await?;
        let (elevations, next_page_token) = convert::page(page, convert::elevation);
        Ok(Response::new(pb::ListPendingApprovalsResponse {
            elevations,
            next_page_token,
        }))
    }

    async fn approve(
        &self,
        request: Request<pb::ApproveRequest>,
    ) -> Result<Response<pb::ApproveResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let outcome = self
            .vote(
                &caller,
                Verdict::Approve,
                &input.elevation_id,
                &input.comment,
                &input.idempotency_key,
            )
            .await?;
        Ok(Response::new(convert::elevation_reply(
            &outcome,
            self.clock.now(),
        )))
    }

    async fn deny(
        &self,
        request: Request<pb::DenyRequest>,
    ) -> Result<Response<pb::DenyResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let outcome = self
            .vote(
                &caller,
                Verdict::Deny,
                &input.elevation_id,
                &input.comment,
                &input.idempotency_key,
            )
            .await?;
        Ok(Response::new(pb::DenyResponse {
            elevation: Some(convert::elevation(&outcome.elevation)),
            revision: outcome.revision,
        }))
    }
}

impl Api {
    /// Approve and Deny: the same vote on an elevation, but for the verdict.
    async fn vote(
        &self,
        caller: &Identity,
        verdict: Verdict,
        elevation_id: &str,
        comment: &str,
        idempotency_key_text: &str,
    ) -> Result<ElevationOutcome, Status> {
        let id = convert::elevation_id("elevation_id", elevation_id)?;
        let outcome = self
            .app
            .decide(
                caller,
                id,
                verdict,
                comment,
                convert::non_empty(idempotency_key_text),
            )
            .await?;
        Ok(outcome)
    }
}
