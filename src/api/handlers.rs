//! The handlers' shared state ([`Api`]) and what every handler does first: know the caller
//! (a verified bearer token, or a PEP's client certificate for a Check), admit a write by the
//! caller's write rate, and end streams at shutdown.

use std::sync::Arc;

use tokio::sync::watch;
use tonic::{Request, Status};

use super::limits;
use crate::auth::Authenticator;
use crate::clock::SharedClock;
use crate::domain::Identity;
use crate::proto::v1::approval_service_server::ApprovalServiceServer;
use crate::proto::v1::audit_service_server::AuditServiceServer;
use crate::proto::v1::break_glass_service_server::BreakGlassServiceServer;
use crate::proto::v1::check_service_server::CheckServiceServer;
use crate::proto::v1::directory_service_server::DirectoryServiceServer;
use crate::proto::v1::elevation_service_server::ElevationServiceServer;
use crate::proto::v1::policy_service_server::PolicyServiceServer;
use crate::proto::v1::review_service_server::ReviewServiceServer;
use crate::service::{Elevator, ServiceError};

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
    /// `DirectoryService`.
    pub directory: DirectoryServiceServer<Api>,
    /// `BreakGlassService`.
    pub break_glass: BreakGlassServiceServer<Api>,
    /// `ReviewService`.
    pub review: ReviewServiceServer<Api>,
}

/// The handlers of every `elevator.v1` service.
#[derive(Clone)]
pub struct Api {
    pub(super) app: Arc<Elevator>,
    pub(super) auth: Arc<Authenticator>,
    pub(super) clock: SharedClock,
    stopping: watch::Receiver<bool>,
    write_rate: Arc<limits::WriteRate>,
    pep_certificates: Option<Arc<crate::tls::PepCertificates>>,
    /// The HTTP port's signing key ring, when it serves the access request endpoint: Check
    /// then answers requestable denials (AuthZEN Access Request profile) to PEPs that opt in.
    pub(super) access_requests: Option<Arc<crate::auth::SigningKeyRing>>,
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
            access_requests: None,
        }
    }

    /// Callers without a bearer token may be known by their client certificate.
    pub fn with_pep_certificates(mut self, peps: Option<crate::tls::PepCertificates>) -> Self {
        self.pep_certificates = peps.map(Arc::new);
        self
    }

    /// Lets Check answer requestable denials whose requests go to the access request endpoint
    /// of the HTTP port `ring` signs for (none without an HTTP port).
    pub fn with_access_requests(mut self, ring: Option<Arc<crate::auth::SigningKeyRing>>) -> Self {
        self.access_requests = ring;
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

    /// A Watch stream: each item the use case sends turned into its reply by `reply`, its
    /// errors into statuses, ended at shutdown.
    pub(super) fn watch_replies<T, R>(
        &self,
        items: tokio::sync::mpsc::Receiver<Result<T, ServiceError>>,
        reply: impl Fn(T) -> R + Send + 'static,
    ) -> std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<R, Status>> + Send>>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        use tokio_stream::StreamExt;
        let replies = tokio_stream::wrappers::ReceiverStream::new(items)
            .map(move |item| item.map(&reply).map_err(Status::from));
        self.until_shutdown(replies)
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
            audit: AuditServiceServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            break_glass: BreakGlassServiceServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            directory: DirectoryServiceServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            review: ReviewServiceServer::new(self).max_decoding_message_size(MAX_MESSAGE_BYTES),
        }
    }

    pub(super) async fn caller<T>(&self, request: &Request<T>) -> Result<Arc<Identity>, Status> {
        self.auth
            .authenticate(request.metadata())
            .await
            .map_err(|error| ServiceError::Unauthenticated(error).into())
    }

    /// The caller of a Check: a policy enforcement point known by its client certificate
    /// when it sends no bearer token, otherwise the token's subject. A certificate identity
    /// is only ever used here: it can ask questions, never change anything.
    pub(super) async fn enforcement_point<T>(
        &self,
        request: &Request<T>,
    ) -> Result<Arc<Identity>, Status> {
        let headers: &http::HeaderMap = request.metadata().as_ref();
        if !headers.contains_key(http::header::AUTHORIZATION)
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
    pub(super) async fn writer<T>(&self, request: &Request<T>) -> Result<Arc<Identity>, Status> {
        let caller = self.caller(request).await?;
        self.write_rate.admit(caller.subject.as_str())?;
        Ok(caller)
    }
}
