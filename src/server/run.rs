//! [`Server::run`]: serving until the shutdown future completes, then stopping in order: no
//! new calls, unready everywhere, streams ended, in-flight calls given the grace period, the
//! decision log written out, background work stopped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tonic_health::server::HealthReporter;

use super::Server;
use super::grpc::{self, Serving};
use crate::admin::{self, READINESS_SERVICE, Readiness};
use crate::decision::log::DecisionLogWriter;

/// How long the decision log may take to write out what it queued, once calls have stopped.
const DECISION_LOG_FINISH: Duration = Duration::from_secs(10);

impl Server {
    /// Serves until `shutdown` completes; then stops accepting calls, turns unready (gRPC
    /// health and `/readyz`), ends streams, finishes in-flight calls within the grace period,
    /// and writes out the decision log.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Server {
            listener,
            admin_listener,
            http,
            api,
            envoy,
            metrics,
            readiness,
            console,
            stopping,
            shutdown_grace,
            decision_log_writer,
            instance_id,
            health,
            health_service,
            in_flight_limit,
            tls,
            mut background,
            ..
        } = self;
        let address = listener.local_addr()?;
        let admin_address = admin_listener.local_addr()?;
        grpc::set_serving(&health).await;
        background.push(tokio::spawn(admin::serve(
            admin_listener,
            metrics,
            readiness.clone(),
            tls.clone(),
            console,
        )));
        let http_address = match http {
            Some(port) => {
                let http_address = port.listener.local_addr()?;
                background.push(tokio::spawn(crate::http::serve(
                    port.listener,
                    port.edge,
                    tls.clone(),
                    port.peps,
                    stopping.subscribe(),
                )));
                Some(http_address)
            }
            None => None,
        };
        tracing::info!(
            %address,
            %admin_address,
            http_address = http_address.map(tracing::field::display),
            instance = %instance_id,
            tls = tls.is_some(),
            "serving gRPC"
        );

        let stop_seen = stopping.subscribe();
        let stop = begin_shutdown(shutdown, shutdown_grace, readiness, stopping, health);
        let router = grpc::router(api, envoy, health_service, in_flight_limit)?;
        let serving = grpc::serve(router, listener, tls.as_ref(), stop);
        serve_within_grace(serving, stop_seen, shutdown_grace).await?;
        finish_decision_log(decision_log_writer).await;
        drop(background);
        tracing::info!("stopped");
        Ok(())
    }
}

/// Waits for `shutdown`, then turns the server unready (`/readyz` and every gRPC health
/// service) and tells streams to end; the router stops accepting calls when this completes.
async fn begin_shutdown(
    shutdown: impl Future<Output = ()> + Send,
    shutdown_grace: Duration,
    readiness: Arc<Readiness>,
    stopping: watch::Sender<bool>,
    health: HealthReporter,
) {
    shutdown.await;
    tracing::info!(
        grace_ms = shutdown_grace.as_millis() as u64,
        "shutting down: no new calls, finishing in-flight ones"
    );
    readiness.begin_shutdown();
    let _ = stopping.send(true);
    for service in ["", READINESS_SERVICE] {
        health
            .set_service_status(service, tonic_health::ServingStatus::NotServing)
            .await;
    }
}

/// Runs `serving` to its end, or until the grace period after shutdown began is over, when
/// calls still in flight are abandoned.
async fn serve_within_grace(
    serving: Serving<'_>,
    mut stop_seen: watch::Receiver<bool>,
    shutdown_grace: Duration,
) -> anyhow::Result<()> {
    let grace_over = async {
        let _ = stop_seen.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(shutdown_grace).await;
    };
    tokio::select! {
        served = serving => served?,
        () = grace_over => tracing::warn!(
            grace_ms = shutdown_grace.as_millis() as u64,
            "calls still in flight when the grace period ended; stopping anyway"
        ),
    }
    Ok(())
}

/// Writes out the decisions the log still queues, waiting at most [`DECISION_LOG_FINISH`].
async fn finish_decision_log(writer: Option<DecisionLogWriter>) {
    if let Some(writer) = writer
        && tokio::time::timeout(DECISION_LOG_FINISH, writer.finish())
            .await
            .is_err()
    {
        tracing::warn!("the decision log did not finish writing within 10s");
    }
}
