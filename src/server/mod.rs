//! Wiring: builds the store, policy, caches, authenticator and services from a
//! [`Config`](crate::config::Config), and runs them until the shutdown future completes (the
//! caller decides what shutdown means: SIGTERM for the binary, a channel in tests). Background
//! work (the change feed, the expiry sweep, webhook delivery, checkpoints, readiness) stops
//! with the server.
//!
//! [`Server::build`] is in `build.rs`, one named step per part it builds; [`Server::run`] in
//! `run.rs`; the settings each part takes, read from the configuration, in `options.rs`; the
//! database in `database.rs`; the background tasks in `background.rs`; the gRPC router in
//! `grpc.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

use crate::admin::Readiness;
use crate::api::Api;
use crate::api::ext_authz::EnvoyAuthorization;
use crate::api::limits::InFlightLimitLayer;
use crate::console::Console;
use crate::decision::log::DecisionLogWriter;
use crate::http::HttpEdge;
use crate::service::Elevator;
use crate::store::Store;
use crate::telemetry::metrics::Metrics;
use crate::tls::ServerTls;

mod background;
mod build;
mod console_oidc;
mod database;
mod grpc;
mod key_ring;
mod options;
mod run;

pub use database::migrate_database;

/// A built server, bound to its ports, not yet serving.
pub struct Server {
    listener: TcpListener,
    admin_listener: TcpListener,
    http: Option<HttpPort>,
    api: Api,
    envoy: EnvoyAuthorization,
    app: Arc<Elevator>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    console: Option<Arc<Console>>,
    stopping: watch::Sender<bool>,
    shutdown_grace: Duration,
    decision_log_writer: Option<DecisionLogWriter>,
    instance_id: String,
    health: HealthReporter,
    health_service: HealthServer<HealthService>,
    in_flight_limit: InFlightLimitLayer,
    tls: Option<Arc<ServerTls>>,
    background: background::Background,
}

/// The PEP-facing HTTP port, bound, with what serves it.
struct HttpPort {
    listener: TcpListener,
    edge: Arc<HttpEdge>,
    /// Its signing key ring (binding tokens of requestable denials, also those Check answers).
    key_ring: Arc<crate::auth::SigningKeyRing>,
    peps: Option<Arc<crate::tls::PepCertificates>>,
}

impl Server {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The bound admin address (`/metrics`, `/healthz`, `/readyz`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The bound PEP-facing HTTP address (AuthZEN), when `http_listen` is set.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|port| {
            port.listener
                .local_addr()
                .expect("a bound listener has an address")
        })
    }

    /// The use cases (for tests and the console).
    pub fn app(&self) -> Arc<Elevator> {
        self.app.clone()
    }

    /// The store.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// This replica's id; its LISTEN connection is named `elevator-listener-<id>`.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }
}
