//! `elevator.v1.PolicyService`: read, validate and replace the policy document.

use tonic::{Request, Response, Status};

use super::Api;
use super::convert;
use crate::proto::v1 as pb;
use crate::proto::v1::policy_service_server::PolicyService;

#[tonic::async_trait]
impl PolicyService for Api {
    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        self.caller(&request).await?;
        let (policy, stored) = self.app.get_policy().await?;
        Ok(Response::new(pb::GetPolicyResponse {
            version: policy.version(),
            source: policy.source().to_owned(),
            updated_at: stored.as_ref().map(|p| convert::timestamp(p.created_at)),
            updated_by: stored.map(|p| p.created_by).unwrap_or_default(),
        }))
    }

    async fn validate_policy(
        &self,
        request: Request<pb::ValidatePolicyRequest>,
    ) -> Result<Response<pb::ValidatePolicyResponse>, Status> {
        self.caller(&request).await?;
        let problems = match self.app.validate_policy(&request.get_ref().source) {
            Ok(()) => Vec::new(),
            Err(problems) => problems.0,
        };
        Ok(Response::new(pb::ValidatePolicyResponse {
            valid: problems.is_empty(),
            problems: problems
                .into_iter()
                .map(|p| pb::PolicyProblem {
                    path: p.path,
                    message: p.message,
                    line: p.line,
                    column: p.column,
                })
                .collect(),
        }))
    }

    async fn put_policy(
        &self,
        request: Request<pb::PutPolicyRequest>,
    ) -> Result<Response<pb::PutPolicyResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let expected = (input.expected_version != 0).then_some(input.expected_version);
        let (version, revision) = self
            .app
            .put_policy(&caller, &input.source, expected)
            .await?;
        Ok(Response::new(pb::PutPolicyResponse { version, revision }))
    }
}
