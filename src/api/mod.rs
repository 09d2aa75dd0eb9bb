//! The gRPC edge: tonic services for `elevator.v1`, plus health and reflection. Handlers are
//! thin: authenticate the caller, convert the request into domain values (naming any bad
//! field), call one use case, convert the result back. Errors map to statuses in one place,
//! [`status::status`]. Envoy's `ext_authz` protocol is served from [`ext_authz`] on the same
//! decision path.

pub mod context;
pub mod convert;
pub mod ext_authz;
pub mod limits;
pub mod status;
pub(crate) mod too_large;

use std::sync::Arc;

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;
use crate::clock::SharedClock;
use crate::domain::CheckQuery;
use crate::domain::{Identity, Permission, RoleName, Scope, SessionId, Subject, Verdict};
use crate::proto::v1 as pb;
use crate::proto::v1::approval_service_server::{ApprovalService, ApprovalServiceServer};
use crate::proto::v1::audit_service_server::{AuditService, AuditServiceServer};
use crate::proto::v1::check_service_server::{CheckService, CheckServiceServer};
use crate::proto::v1::elevation_service_server::{ElevationService, ElevationServiceServer};
use crate::proto::v1::policy_service_server::{PolicyService, PolicyServiceServer};
use crate::service::{Elevator, NewDelegation, NewElevation, NewRiskSignal, ServiceError};
use convert::optional;
use status::status;

/// Most questions in one BatchCheck.
pub const MAX_BATCH_CHECKS: usize = 100;

/// Every `elevator.v1` service, ready to add to a server.
pub struct Services {
    /// `ElevationService`.
    pub elevation: ElevationServiceServer<Api>,
    /// `ApprovalService`.
    pub approval: ApprovalServiceServer<Api>,
    /// `CheckService`.
    pub check: CheckServiceServer<Api>,
    /// `PolicyService`.
    pub policy: PolicyServiceServer<Api>,
    /// `AuditService`.
    pub audit: AuditServiceServer<Api>,
}

/// The handlers of every `elevator.v1` service.
#[derive(Clone)]
pub struct Api {
    app: Arc<Elevator>,
    auth: Arc<Authenticator>,
    clock: SharedClock,
    stopping: watch::Receiver<bool>,
    write_rate: Arc<limits::WriteRate>,
    pep_certificates: Option<Arc<crate::tls::PepCertificates>>,
}

impl Api {
    /// Handlers over `app`, authenticating with `auth`; streams end when `stopping` turns
    /// true (shutdown), so that they do not hold it up.
    pub fn new(
        app: Arc<Elevator>,
        auth: Arc<Authenticator>,
        clock: SharedClock,
        stopping: watch::Receiver<bool>,
        limits: &limits::LimitsConfig,
    ) -> Self {
        Api {
            app,
            auth,
            clock,
            stopping,
            write_rate: Arc::new(limits::WriteRate::new(limits)),
            pep_certificates: None,
        }
    }

    /// Callers without a bearer token may be known by their client certificate.
    pub fn with_pep_certificates(mut self, peps: Option<crate::tls::PepCertificates>) -> Self {
        self.pep_certificates = peps.map(Arc::new);
        self
    }

    /// `stream`, ended with `UNAVAILABLE` when the server starts shutting down; the client
    /// resumes from the last revision (or sequence) it saw, on another replica.
    fn until_shutdown<T: Send + 'static>(
        &self,
        stream: impl tokio_stream::Stream<Item = Result<T, Status>> + Send + 'static,
    ) -> std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>> {
        use futures_util::StreamExt;
        let mut stopping = self.stopping.clone();
        let stopped = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        };
        // Said only when the stream ended because of shutdown, not when it ended by itself.
        let stopping_now = self.stopping.clone();
        let farewell = futures_util::stream::once(async move { *stopping_now.borrow() })
            .filter_map(|stopped| {
                std::future::ready(stopped.then(|| {
                    Err(Status::unavailable(
                        "the server is shutting down: reconnect and resume from the last revision seen",
                    ))
                }))
            });
        Box::pin(stream.take_until(Box::pin(stopped)).chain(farewell))
    }

    /// The tonic services.
    pub fn services(self) -> Services {
        use limits::{MAX_MESSAGE_BYTES, MAX_POLICY_MESSAGE_BYTES};
        Services {
            elevation: ElevationServiceServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            approval: ApprovalServiceServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            check: CheckServiceServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            policy: PolicyServiceServer::new(self.clone())
                .max_decoding_message_size(MAX_POLICY_MESSAGE_BYTES),
            audit: AuditServiceServer::new(self).max_decoding_message_size(MAX_MESSAGE_BYTES),
        }
    }

    async fn caller<T>(&self, request: &Request<T>) -> Result<Arc<Identity>, Status> {
        self.auth
            .authenticate(request.metadata())
            .await
            .map_err(|error| status(ServiceError::Unauthenticated(error)))
    }

    /// The caller of a Check: a policy enforcement point known by its client certificate
    /// when it sends no bearer token, otherwise the token's subject. A certificate identity
    /// is only ever used here: it can ask questions, never change anything.
    pub(crate) async fn enforcement_point<T>(
        &self,
        request: &Request<T>,
    ) -> Result<Arc<Identity>, Status> {
        if !request.metadata().contains_key("authorization")
            && let Some(identity) = self.certificate_identity(request)
        {
            return Ok(identity);
        }
        self.caller(request).await
    }

    /// The PEP a verified client certificate names, when the call came over mutual TLS.
    fn certificate_identity<T>(&self, request: &Request<T>) -> Option<Arc<Identity>> {
        use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
        let peps = self.pep_certificates.as_ref()?;
        let certificates = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()?
            .peer_certs()?;
        peps.identify(certificates.first()?)
    }

    /// The caller of a write, admitted by its write rate.
    async fn writer<T>(&self, request: &Request<T>) -> Result<Arc<Identity>, Status> {
        let caller = self.caller(request).await?;
        self.write_rate
            .admit(caller.subject.as_str())
            .map_err(status)?;
        Ok(caller)
    }

    /// Validates a Check question and verifies the subject token it carries, if any: returns
    /// the subject's own identity (whose standing roles and groups then count).
    fn check_question(
        &self,
        request: &pb::CheckRequest,
    ) -> Result<Option<Arc<Identity>>, ServiceError> {
        let field = |name: &str, result: Result<(), crate::domain::InvalidValue>| {
            result.map_err(|error| ServiceError::invalid(name, error.0))
        };
        if request.subject.is_empty() {
            return Err(ServiceError::invalid("subject", "is required"));
        }
        field("subject", Subject::validate(&request.subject))?;
        if !request.session_id.is_empty() {
            field("session_id", SessionId::validate(&request.session_id))?;
        }
        if request.permission.is_empty() {
            return Err(ServiceError::invalid("permission", "is required"));
        }
        field("permission", Permission::validate(&request.permission))?;
        field("resource", Scope::validate(&request.resource))?;
        if request.subject_token.is_empty() {
            return Ok(None);
        }
        let subject_identity = self
            .auth
            .verify(&request.subject_token)
            .map_err(|error| ServiceError::invalid("subject_token", error.to_string()))?;
        self.app
            .check_subject_token(&subject_identity, &request.subject, session_of(request))?;
        Ok(Some(subject_identity))
    }

    async fn decide_one(
        &self,
        caller: &Identity,
        request: &pb::CheckRequest,
    ) -> Result<pb::CheckResponse, ServiceError> {
        let subject_token = self.check_question(request)?;
        let decision = self
            .app
            .check(caller, &check_query(request, subject_token.as_deref()))
            .await?;
        Ok(convert::check_response(&decision))
    }
}

/// An optional idempotency key (empty means none).
fn key(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

fn session_of(request: &pb::CheckRequest) -> Option<&str> {
    (!request.session_id.is_empty()).then_some(request.session_id.as_str())
}

fn check_query<'a>(request: &'a pb::CheckRequest, token: Option<&'a Identity>) -> CheckQuery<'a> {
    CheckQuery {
        subject: &request.subject,
        session: session_of(request),
        permission: &request.permission,
        resource: &request.resource,
        token,
        min_revision: request.min_revision,
    }
}

#[tonic::async_trait]
impl ElevationService for Api {
    async fn delegate(
        &self,
        request: Request<pb::DelegateRequest>,
    ) -> Result<Response<pb::DelegateResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = NewDelegation::try_from(request.into_inner()).map_err(status)?;
        let outcome = self.app.delegate(&caller, input).await.map_err(status)?;
        Ok(Response::new(pb::DelegateResponse {
            elevation: Some(convert::elevation(&outcome.elevation)),
            grant: outcome
                .grant
                .as_ref()
                .map(|g| convert::grant(g, self.clock.now())),
            revision: outcome.revision,
        }))
    }

    async fn list_delegations(
        &self,
        request: Request<pb::ListDelegationsRequest>,
    ) -> Result<Response<pb::ListDelegationsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.into_inner();
        let view = convert::delegation_view(input.view, &input.grant_id).map_err(status)?;
        let subject = optional("subject", &input.subject, Subject::parse).map_err(status)?;
        let grants = self
            .app
            .list_delegations(&caller, view, subject, input.include_ended)
            .await
            .map_err(status)?;
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
        let id = convert::grant_id("grant_id", &input.grant_id).map_err(status)?;
        let (grant, revision) = self
            .app
            .accept_delegation(&caller, id)
            .await
            .map_err(status)?;
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
        let id = convert::elevation_id("id", &input.id).map_err(status)?;
        let extension =
            convert::required_duration("extension", input.extension.as_ref()).map_err(status)?;
        let key = (!input.idempotency_key.is_empty()).then_some(input.idempotency_key);
        let outcome = self
            .app
            .extend_elevation(&caller, id, extension, input.reason, key)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ExtendElevationResponse {
            elevation: Some(convert::elevation(&outcome.elevation)),
            grant: outcome
                .grant
                .as_ref()
                .map(|g| convert::grant(g, self.clock.now())),
            revision: outcome.revision,
        }))
    }

    async fn simulate_elevation(
        &self,
        request: Request<pb::SimulateElevationRequest>,
    ) -> Result<Response<pb::SimulateElevationResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.into_inner();
        let asked = NewElevation::try_from(input.request.unwrap_or_default()).map_err(status)?;
        let requester = input
            .requester
            .map(convert::simulated_requester)
            .transpose()
            .map_err(status)?;
        let at = convert::optional_timestamp("at", input.at.as_ref()).map_err(status)?;
        let risk = convert::risk_override(input.risk.as_ref()).map_err(status)?;
        let assessment = self
            .app
            .simulate_elevation(&caller, requester, asked, at, risk)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::simulation(&assessment)))
    }

    async fn request_elevation(
        &self,
        request: Request<pb::RequestElevationRequest>,
    ) -> Result<Response<pb::RequestElevationResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = NewElevation::try_from(request.into_inner()).map_err(status)?;
        let outcome = self
            .app
            .request_elevation(&caller, input)
            .await
            .map_err(status)?;
        let now = self.clock.now();
        Ok(Response::new(pb::RequestElevationResponse {
            elevation: Some(convert::elevation(&outcome.elevation)),
            grant: outcome.grant.as_ref().map(|g| convert::grant(g, now)),
            revision: outcome.revision,
        }))
    }

    async fn get_elevation(
        &self,
        request: Request<pb::GetElevationRequest>,
    ) -> Result<Response<pb::GetElevationResponse>, Status> {
        let caller = self.caller(&request).await?;
        let id = convert::elevation_id("id", &request.get_ref().id).map_err(status)?;
        let elevation = self.app.get_elevation(&caller, id).await.map_err(status)?;
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
        let requester = optional("requester", &input.requester, Subject::parse).map_err(status)?;
        let state = convert::state_filter(input.state).map_err(status)?;
        let role = optional("role", &input.role, RoleName::parse).map_err(status)?;
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
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListElevationsResponse {
            elevations: page.items.iter().map(convert::elevation).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }

    async fn cancel_elevation(
        &self,
        request: Request<pb::CancelElevationRequest>,
    ) -> Result<Response<pb::CancelElevationResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let id = convert::elevation_id("id", &input.id).map_err(status)?;
        let outcome = self
            .app
            .cancel_elevation(&caller, id, &input.reason)
            .await
            .map_err(status)?;
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
        let id = convert::grant_id("grant_id", &input.grant_id).map_err(status)?;
        let (grant, revision) = self
            .app
            .revoke_grant(&caller, id, &input.reason)
            .await
            .map_err(status)?;
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
        let subject = optional("subject", &input.subject, Subject::parse).map_err(status)?;
        let grants = self
            .app
            .list_grants(&caller, subject, input.include_ended)
            .await
            .map_err(status)?;
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
        let subject = optional("subject", &input.subject, Subject::parse).map_err(status)?;
        let session =
            optional("session_id", &input.session_id, SessionId::parse).map_err(status)?;
        let (revoked, revision) = self
            .app
            .end_session(&caller, subject, session, &input.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::EndSessionResponse {
            revoked_grant_ids: revoked.iter().map(ToString::to_string).collect(),
            revision,
        }))
    }
}

#[tonic::async_trait]
impl ApprovalService for Api {
    type WatchApprovalsStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<pb::WatchApprovalsResponse, Status>> + Send>,
    >;

    async fn watch_approvals(
        &self,
        request: Request<pb::WatchApprovalsRequest>,
    ) -> Result<Response<Self::WatchApprovalsStream>, Status> {
        use tokio_stream::StreamExt;
        let caller = self.caller(&request).await?;
        let batches = self
            .app
            .watch_approvals(caller, request.get_ref().after_revision);
        let stream = tokio_stream::wrappers::ReceiverStream::new(batches).map(|batch| {
            batch
                .map(|batch| convert::approval_batch(&batch))
                .map_err(status)
        });
        Ok(Response::new(self.until_shutdown(stream)))
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
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListPendingApprovalsResponse {
            elevations: page.items.iter().map(convert::elevation).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }

    async fn approve(
        &self,
        request: Request<pb::ApproveRequest>,
    ) -> Result<Response<pb::ApproveResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let id = convert::elevation_id("elevation_id", &input.elevation_id).map_err(status)?;
        let outcome = self
            .app
            .decide(
                &caller,
                id,
                Verdict::Approve,
                &input.comment,
                key(&input.idempotency_key),
            )
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ApproveResponse {
            elevation: Some(convert::elevation(&outcome.elevation)),
            grant: outcome
                .grant
                .as_ref()
                .map(|g| convert::grant(g, self.clock.now())),
            revision: outcome.revision,
        }))
    }

    async fn deny(
        &self,
        request: Request<pb::DenyRequest>,
    ) -> Result<Response<pb::DenyResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.into_inner();
        let id = convert::elevation_id("elevation_id", &input.elevation_id).map_err(status)?;
        let outcome = self
            .app
            .decide(
                &caller,
                id,
                Verdict::Deny,
                &input.comment,
                key(&input.idempotency_key),
            )
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DenyResponse {
            elevation: Some(convert::elevation(&outcome.elevation)),
            revision: outcome.revision,
        }))
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
        let subject_token = self.check_question(&question).map_err(status)?;
        let at = convert::optional_timestamp("at", input.at.as_ref()).map_err(status)?;
        let risk = convert::risk_override(input.risk.as_ref()).map_err(status)?;
        let simulation = self
            .app
            .simulate_check(
                &caller,
                &check_query(&question, subject_token.as_deref()),
                at,
                risk,
            )
            .await
            .map_err(status)?;
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
        let response = self
            .decide_one(&caller, request.get_ref())
            .await
            .map_err(status)?;
        Ok(Response::new(response))
    }

    async fn batch_check(
        &self,
        request: Request<pb::BatchCheckRequest>,
    ) -> Result<Response<pb::BatchCheckResponse>, Status> {
        let caller = self.enforcement_point(&request).await?;
        let checks = &request.get_ref().checks;
        if checks.len() > MAX_BATCH_CHECKS {
            return Err(status(ServiceError::invalid(
                "checks",
                format!("at most {MAX_BATCH_CHECKS} questions per batch"),
            )));
        }
        let mut results = Vec::with_capacity(checks.len());
        for (index, check) in checks.iter().enumerate() {
            let result = self
                .decide_one(&caller, check)
                .await
                .map_err(|error| match error {
                    ServiceError::InvalidArgument { field, message } => {
                        ServiceError::invalid(format!("checks[{index}].{field}"), message)
                    }
                    other => other,
                });
            results.push(result.map_err(status)?);
        }
        Ok(Response::new(pb::BatchCheckResponse { results }))
    }

    async fn report_risk_signal(
        &self,
        request: Request<pb::ReportRiskSignalRequest>,
    ) -> Result<Response<pb::ReportRiskSignalResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = NewRiskSignal::try_from(request.into_inner()).map_err(status)?;
        let (signal, revision) = self.app.report_risk(&caller, input).await.map_err(status)?;
        Ok(Response::new(pb::ReportRiskSignalResponse {
            signal_id: signal.id.to_string(),
            expires_at: Some(convert::timestamp(signal.expires_at)),
            revision,
        }))
    }
}

#[tonic::async_trait]
impl PolicyService for Api {
    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        self.caller(&request).await?;
        let (policy, stored) = self.app.get_policy().await.map_err(status)?;
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
            .await
            .map_err(status)?;
        Ok(Response::new(pb::PutPolicyResponse { version, revision }))
    }
}

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
        let query = convert::audit_query(&input).map_err(status)?;
        let page = self
            .app
            .list_audit_events(&caller, query, input.page_size, &input.page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: page.items.iter().map(convert::audit_event).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }

    async fn watch_audit_events(
        &self,
        request: Request<pb::WatchAuditEventsRequest>,
    ) -> Result<Response<Self::WatchAuditEventsStream>, Status> {
        use tokio_stream::StreamExt;
        let caller = self.caller(&request).await?;
        let events = self
            .app
            .watch_audit_events(caller, request.get_ref().after_seq)
            .map_err(status)?;
        let stream = tokio_stream::wrappers::ReceiverStream::new(events).map(|event| {
            event
                .map(|event| pb::WatchAuditEventsResponse {
                    event: Some(convert::audit_event(&event)),
                })
                .map_err(status)
        });
        Ok(Response::new(self.until_shutdown(stream)))
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
            .transpose()
            .map_err(status)?;
        let verification = self
            .app
            .verify_audit_chain(&caller, expected)
            .await
            .map_err(status)?;
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
        let head = self.app.signed_audit_head(&caller).await.map_err(status)?;
        Ok(Response::new(pb::GetSignedAuditHeadResponse {
            head: Some(convert::signed_head(&head)),
        }))
    }

    async fn get_grant_trail(
        &self,
        request: Request<pb::GetGrantTrailRequest>,
    ) -> Result<Response<pb::GetGrantTrailResponse>, Status> {
        let caller = self.caller(&request).await?;
        let id = convert::grant_id("grant_id", &request.get_ref().grant_id).map_err(status)?;
        let trail = self.app.grant_trail(&caller, id).await.map_err(status)?;
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
