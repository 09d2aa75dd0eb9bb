//! The gRPC side of the server: the router over elevator's services, health and reflection
//! behind the admission layers, and the connections it serves, plain or TLS.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::server::Router;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};
use tower::layer::util::{Identity, Stack};

use crate::api::Api;
use crate::api::context::RequestContextLayer;
use crate::api::ext_authz::EnvoyAuthorization;
use crate::api::limits::{InFlightLimitLayer, MAX_HEADER_LIST_BYTES};
use crate::api::too_large::MessageTooLargeLayer;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::tls::ServerTls;

/// The admission layers every call passes, as tonic stacks them: the in-flight limit
/// outermost, then the request context, then the message-size answer.
type Admission =
    Stack<MessageTooLargeLayer, Stack<RequestContextLayer, Stack<InFlightLimitLayer, Identity>>>;

/// Serving until the shutdown future completes.
pub(super) type Serving<'stop> =
    Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send + 'stop>>;

/// Every service on the gRPC port, behind the in-flight limit, the request context and the
/// message-size answer.
pub(super) fn router(
    api: Api,
    envoy: EnvoyAuthorization,
    health_service: HealthServer<HealthService>,
    in_flight_limit: InFlightLimitLayer,
) -> anyhow::Result<Router<Admission>> {
    let services = api.services();
    let reflection = reflection_builder().build_v1()?;
    let reflection_v1alpha = reflection_builder().build_v1alpha()?;
    Ok(tonic::transport::Server::builder()
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
        .layer(in_flight_limit)
        .layer(RequestContextLayer)
        .layer(MessageTooLargeLayer)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(services.elevation)
        .add_service(services.approval)
        .add_service(services.check)
        .add_service(services.policy)
        .add_service(services.audit)
        .add_service(services.directory)
        .add_service(services.break_glass)
        .add_service(services.review)
        .add_service(envoy.into_service()))
}

/// `router` serving the connections on `listener`, over TLS when it is configured, until
/// `stop` completes.
pub(super) fn serve<'stop>(
    router: Router<Admission>,
    listener: TcpListener,
    tls: Option<&Arc<ServerTls>>,
    stop: impl Future<Output = ()> + Send + 'stop,
) -> Serving<'stop> {
    match tls {
        Some(tls) => Box::pin(router.serve_with_incoming_shutdown(tls.incoming(listener), stop)),
        None => Box::pin(router.serve_with_incoming_shutdown(accepted(listener), stop)),
    }
}

/// Server reflection over elevator's services and gRPC health, for both protocol versions:
/// `v1`, and `v1alpha`, which the stock Python client and older grpcurl, Postman and grpcui
/// builds speak. Each version lists both reflection services, as grpc-go does.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .include_reflection_service(false)
}

/// The accepted connections, with Nagle's algorithm off: `serve_with_incoming` ignores the
/// builder's `tcp_nodelay`, and a response split over two writes otherwise waited for the
/// client's delayed ACK (40 ms on every write call).
fn accepted(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
}

/// Every service serving; the readiness service follows readiness (see
/// [`super::background::spawn_refresher`]).
pub(super) async fn set_serving(health: &HealthReporter) {
    use crate::proto::v1::{
        approval_service_server::ApprovalServiceServer, audit_service_server::AuditServiceServer,
        break_glass_service_server::BreakGlassServiceServer,
        check_service_server::CheckServiceServer, directory_service_server::DirectoryServiceServer,
        elevation_service_server::ElevationServiceServer,
        policy_service_server::PolicyServiceServer, review_service_server::ReviewServiceServer,
    };
    health.set_serving::<ElevationServiceServer<Api>>().await;
    health.set_serving::<ApprovalServiceServer<Api>>().await;
    health.set_serving::<CheckServiceServer<Api>>().await;
    health.set_serving::<PolicyServiceServer<Api>>().await;
    health.set_serving::<AuditServiceServer<Api>>().await;
    health.set_serving::<DirectoryServiceServer<Api>>().await;
    health.set_serving::<BreakGlassServiceServer<Api>>().await;
    health.set_serving::<ReviewServiceServer<Api>>().await;
    health
        .set_serving::<envoy_types::ext_authz::v3::pb::AuthorizationServer<EnvoyAuthorization>>()
        .await;
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
}
