//! [`Server::build`]: each part of the server built by a step named for what it builds, in
//! the order they depend on each other: the store, the authenticator, the policy and the
//! decider, the use cases, the background tasks, then the ports and what serves on them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};
use uuid::Uuid;

use super::background::{
    Background, spawn_change_feed, spawn_checkpoints, spawn_refresher, spawn_sweeper,
};
use super::database::open_store;
use super::{HttpPort, Server};
use super::{key_ring, options};
use crate::admin::{READINESS_SERVICE, Readiness};
use crate::api::Api;
use crate::api::ext_authz::EnvoyAuthorization;
use crate::api::limits::InFlightLimitLayer;
use crate::auth::Authenticator;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::console::Console;
use crate::decision::Decider;
use crate::decision::log::{DecisionLog, DecisionLogWriter};
use crate::http::HttpEdge;
use crate::policy::Policy;
use crate::service::Elevator;
use crate::store::Store;
use crate::telemetry::metrics::Metrics;
use crate::tls::{PepCertificates, ServerTls};
use crate::webhooks::Deliverer;

/// The actor recorded for policy versions put from the configured file.
const CONFIGURED_POLICY_ACTOR: &str = "system:policy-file";

impl Server {
    /// Builds everything `config` describes and binds the listen address (port 0 picks a free
    /// port; see [`Server::local_addr`]).
    pub async fn build(config: Config, clock: SharedClock) -> anyhow::Result<Server> {
        let ext_authz = config.ext_authz.compile().map_err(anyhow::Error::msg)?;
        config.limits.validate().map_err(anyhow::Error::msg)?;
        config.authzen.validate().map_err(anyhow::Error::msg)?;
        config.tokens.validate().map_err(anyhow::Error::msg)?;
        let tls = ServerTls::load(&config.tls).map_err(anyhow::Error::msg)?;
        let instance_id = new_instance_id();
        let (core, decision_log_writer) = build_core(&config, &instance_id, clock).await?;
        let mut background = start_workers(&config, &core).await?;
        let readiness = Arc::new(Readiness::new(core.app.clone()));
        let (health, health_service) = unready_health().await;
        background.push(spawn_refresher(
            core.store.clone(),
            core.metrics.clone(),
            readiness.clone(),
            health.clone(),
            core.clock.clone(),
        ));
        let (listener, admin_listener) = bind_listeners(&config).await?;
        let console = build_console(&config, &core)?;
        let (stopping, stopping_seen) = watch::channel(false);
        let http = bind_http_port(&config, &core).await?;
        let api = build_api(&config, &core, stopping_seen)
            .with_access_requests(http.as_ref().map(|port| port.key_ring.clone()));
        if let Some(tls) = &tls {
            background.push(tls.spawn_reloader());
        }
        Ok(Server {
            listener,
            admin_listener,
            http,
            envoy: EnvoyAuthorization::new(api.clone(), ext_authz),
            api,
            app: core.app,
            store: core.store,
            metrics: core.metrics,
            readiness,
            console,
            stopping,
            shutdown_grace: Duration::from_millis(config.shutdown_grace_ms),
            decision_log_writer,
            instance_id,
            health,
            health_service,
            in_flight_limit: InFlightLimitLayer::new(config.limits.max_concurrent_calls),
            tls,
            background,
        })
    }
}

/// What the ports and the background work are built over: the store, the authenticator, the
/// decider with the policy in force, and the use cases.
struct Core {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    authenticator: Arc<Authenticator>,
    decider: Arc<Decider>,
    app: Arc<Elevator>,
    clock: SharedClock,
}

/// Opens the store, starts the authenticator, puts the policy in force in a new decider and
/// builds the use cases over them; the configured policy document is put in force when it
/// changed. Also returns the decision log's writer, which the server finishes on shutdown.
async fn build_core(
    config: &Config,
    instance_id: &str,
    clock: SharedClock,
) -> anyhow::Result<(Core, Option<DecisionLogWriter>)> {
    let store = open_store(config, instance_id).await?;
    let metrics = Metrics::new();
    let authenticator = start_authenticator(config, clock.clone()).await?;
    let configured_policy = options::configured_policy(config)?;
    let policy = policy_in_force(store.as_ref(), configured_policy.as_deref()).await?;
    let decider = Arc::new(Decider::new(
        policy,
        store.clone(),
        clock.clone(),
        options::cache_options(config),
    ));
    let (app, decision_log_writer) = build_use_cases(config, &store, &decider, &clock, &metrics)?;
    put_configured_policy(&app, store.as_ref(), configured_policy).await?;
    let core = Core {
        store,
        metrics,
        authenticator,
        decider,
        app,
        clock,
    };
    Ok((core, decision_log_writer))
}

/// The work that runs beside the calls: refreshing JWKS keys, delivering webhooks, signing
/// audit checkpoints, the change feed into the decider (connected before this returns, or
/// given up on after a while) and the expiry sweep.
async fn start_workers(config: &Config, core: &Core) -> anyhow::Result<Background> {
    let mut background = Background::default();
    if let Some(refresher) = core.authenticator.spawn_key_refresher() {
        background.push(refresher);
    }
    let deliverer = Deliverer::new(
        core.store.clone(),
        core.clock.clone(),
        core.metrics.clone(),
        options::webhook_options(config)?,
    );
    background.push(tokio::spawn(deliverer.run()));
    background.push(spawn_checkpoints(
        core.app.clone(),
        Duration::from_secs(config.audit.checkpoint_interval_seconds.max(1)),
    ));
    let feed = spawn_change_feed(
        core.store.clone(),
        core.decider.clone(),
        core.metrics.clone(),
    );
    background.push(feed.await?);
    background.push(spawn_sweeper(
        core.app.clone(),
        Duration::from_millis(config.sweep_interval_ms.max(10)),
    ));
    Ok(background)
}

/// The gRPC handlers over the use cases; callers without a token may be known by their client
/// certificate. Streams end when `stopping` turns true.
fn build_api(config: &Config, core: &Core, stopping: watch::Receiver<bool>) -> Api {
    Api::new(
        core.app.clone(),
        core.authenticator.clone(),
        core.clock.clone(),
        stopping,
        &config.limits,
    )
    .with_pep_certificates(PepCertificates::new(&config.tls, &config.roles.pep))
}

/// A short id for this replica, unique enough to tell replicas apart in logs and in
/// PostgreSQL's `pg_stat_activity`.
fn new_instance_id() -> String {
    Uuid::now_v7().simple().to_string()[20..].to_owned()
}

/// The authenticator, with the identity provider's keys when it answers; if it does not,
/// tokens are refused until a refresh succeeds (in the background, or on an unknown key id).
async fn start_authenticator(
    config: &Config,
    clock: SharedClock,
) -> anyhow::Result<Arc<Authenticator>> {
    let authenticator = Arc::new(
        Authenticator::new(&options::auth_options(config)?, clock).map_err(anyhow::Error::msg)?,
    );
    if let Err(error) = authenticator.refresh_keys(None).await {
        tracing::error!(%error, "jwks: the first fetch failed; tokens signed by its keys are refused until one succeeds");
    }
    Ok(authenticator)
}

/// The policy to start with: the store's latest, else the configured document (already
/// validated by [`options::configured_policy`]).
async fn policy_in_force(store: &dyn Store, configured: Option<&str>) -> anyhow::Result<Policy> {
    match (configured, store.latest_policy().await?) {
        (_, Some(stored)) => Policy::parse(&stored.source, stored.version)
            .map_err(|problems| anyhow::anyhow!("the stored policy is invalid: {problems}")),
        (Some(source), None) => Policy::parse(source, 0)
            .map_err(|problems| anyhow::anyhow!("the configured policy is invalid: {problems}")),
        (None, None) => bail!(
            "no policy: pass --policy FILE (or set ELEVATOR_POLICY_FILE); the database holds none yet"
        ),
    }
}

/// The use cases over the store and decider, logging decisions when the decision log is on,
/// with the metrics observing them; also the log's writer, which the server finishes on
/// shutdown.
fn build_use_cases(
    config: &Config,
    store: &Arc<dyn Store>,
    decider: &Arc<Decider>,
    clock: &SharedClock,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<(Arc<Elevator>, Option<DecisionLogWriter>)> {
    let mut app = Elevator::new(
        store.clone(),
        decider.clone(),
        clock.clone(),
        options::service_roles(config),
        options::audit_signer(config)?,
        metrics.clone(),
    )
    .with_callback_rules(options::callback_rules(config));
    let mut decision_log_writer = None;
    let mut logged: Option<Arc<DecisionLog>> = None;
    if let Some(log_options) = options::decision_log_options(config) {
        let (log, writer) = DecisionLog::start(&log_options);
        decision_log_writer = Some(writer);
        logged = Some(log.clone());
        app = app.with_decision_log(log);
    }
    metrics.observe(decider, store, logged.as_ref());
    Ok((Arc::new(app), decision_log_writer))
}

/// Puts the configured document in force when it changed since it was last put from
/// configuration (a new deploy); policies put through the API since then otherwise stand.
async fn put_configured_policy(
    app: &Elevator,
    store: &dyn Store,
    configured: Option<String>,
) -> anyhow::Result<()> {
    let Some(source) = configured else {
        return Ok(());
    };
    let last_configured = store.latest_policy_by(CONFIGURED_POLICY_ACTOR).await?;
    if last_configured.is_none_or(|last| last.source != source) {
        let (version, _) = app
            .put_policy_as(CONFIGURED_POLICY_ACTOR, &source, None)
            .await?;
        tracing::info!(version, "policy from configuration put in force");
    }
    Ok(())
}

/// gRPC health, with the readiness service known from the start and not serving until the
/// refresher has looked.
async fn unready_health() -> (HealthReporter, HealthServer<HealthService>) {
    let health = HealthReporter::new();
    let health_service = HealthServer::new(HealthService::from_health_reporter(health.clone()));
    health
        .set_service_status(READINESS_SERVICE, tonic_health::ServingStatus::NotServing)
        .await;
    (health, health_service)
}

/// The gRPC port and the admin port, bound.
async fn bind_listeners(config: &Config) -> anyhow::Result<(TcpListener, TcpListener)> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let admin_listener = TcpListener::bind(config.admin_listen)
        .await
        .with_context(|| format!("binding the admin port {}", config.admin_listen))?;
    Ok((listener, admin_listener))
}

/// The PEP-facing HTTP port (AuthZEN), bound, when `http_listen` is set: the same use cases,
/// authenticator and PEP certificates as gRPC Check.
async fn bind_http_port(config: &Config, core: &Core) -> anyhow::Result<Option<HttpPort>> {
    let Some(address) = config.http_listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the HTTP port {address} (http_listen)"))?;
    let bound = listener
        .local_addr()
        .context("reading the HTTP port's address")?;
    let key_ring = Arc::new(key_ring::key_ring(config, bound, core.clock.clone())?);
    core.authenticator
        .trust_own_tokens(key_ring.clone(), config.tokens.audiences.clone());
    let edge = HttpEdge::new(
        core.app.clone(),
        core.authenticator.clone(),
        config.authzen.clone(),
        config.limits.max_concurrent_calls,
        key_ring.clone(),
        config.tokens.clone(),
    );
    Ok(Some(HttpPort {
        listener,
        edge: Arc::new(edge),
        key_ring,
        peps: PepCertificates::new(&config.tls, &config.roles.pep).map(Arc::new),
    }))
}

/// The web console, when it is enabled.
fn build_console(config: &Config, core: &Core) -> anyhow::Result<Option<Arc<Console>>> {
    if !config.console.enabled {
        return Ok(None);
    }
    Ok(Some(Arc::new(Console::new(
        core.app.clone(),
        core.authenticator.clone(),
        core.clock.clone(),
        options::console_options(config)?,
    ))))
}
