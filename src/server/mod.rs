//! Wiring: builds the store, policy, caches, authenticator and services from a [`Config`], and
//! runs them until the shutdown future completes (the caller decides what shutdown means:
//! SIGTERM for the binary, a channel in tests). Background work (the change feed and the
//! expiry sweep) stops with the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::TimeDelta;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};
use uuid::Uuid;

use crate::admin::{self, READINESS_SERVICE, Readiness};
use crate::api::Api;
use crate::api::ext_authz::EnvoyAuthorization;
use crate::api::limits::InFlightLimitLayer;
use crate::auth::jwks::JwksSource;
use crate::auth::{AuthOptions, Authenticator, dev, read_jwks_file};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::console::{Console, ConsoleOptions};
use crate::decision::log::{DecisionLog, DecisionLogOptions, DecisionLogWriter};
use crate::decision::{CacheOptions, Decider};
use crate::policy::{DEMO_POLICY, Policy};
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::service::{AuditSigner, Elevator, ServiceRoles};
use crate::store::memory::MemoryStore;
use crate::store::postgres::{PostgresOptions, PostgresStore};
use crate::store::{Store, StoreEvent};
use crate::telemetry::metrics::Metrics;
use crate::tls::{PepCertificates, ServerTls};

/// The actor recorded for policy versions put from the configured file.
pub const CONFIGURED_POLICY_ACTOR: &str = "system:policy-file";

/// A built server, bound to its ports, not yet serving.
pub struct Server {
    listener: TcpListener,
    admin_listener: TcpListener,
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
    background: Background,
}

/// Background tasks, stopped when the server is dropped.
struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn auth_options(config: &Config) -> anyhow::Result<AuthOptions> {
    let mut secrets = Vec::new();
    if let Some(secret) = &config.auth.hs256_secret {
        secrets.push(secret.as_bytes().to_vec());
    }
    if let Some(path) = &config.auth.hs256_secret_file {
        let secret = std::fs::read_to_string(path)
            .with_context(|| format!("reading auth.hs256_secret_file {}", path.display()))?;
        secrets.push(secret.trim().as_bytes().to_vec());
    }
    let mut jwks = Vec::new();
    if let Some(path) = &config.auth.jwks_file {
        jwks.push(read_jwks_file(path).map_err(anyhow::Error::msg)?);
    }
    if config.dev_mode() {
        let dir = config.state_dir.clone().unwrap_or_else(dev::state_dir);
        let secret = dev::load_or_create_secret(&dir)
            .with_context(|| format!("creating the dev secret in {}", dir.display()))?;
        secrets.push(secret);
        tracing::warn!(
            state_dir = %dir.display(),
            "DEV MODE: in-memory store, NOTHING IS PERSISTED; dev tokens (elevator dev-token) are accepted. Set a database URL for production."
        );
    }
    let jwks_url = match &config.auth.jwks_url {
        None => None,
        Some(url) => {
            let ca_pem = match &config.auth.jwks_ca_file {
                Some(path) => Some(
                    std::fs::read(path)
                        .with_context(|| format!("reading auth.jwks_ca_file {}", path.display()))?,
                ),
                None => None,
            };
            let source = JwksSource::new(url, ca_pem.as_deref()).map_err(anyhow::Error::msg)?;
            let refresh = match config.auth.jwks_refresh_seconds {
                0 => Duration::from_secs(300),
                seconds => Duration::from_secs(seconds),
            };
            Some((source, refresh))
        }
    };
    Ok(AuthOptions {
        hs256_secrets: secrets,
        jwks,
        jwks_url,
        issuer: config.auth.issuer.clone(),
        audience: config.auth.audience.clone(),
        leeway: Duration::from_secs(config.auth.leeway_seconds),
        dev_mode: config.dev_mode(),
    })
}

/// The policy document named by the configuration: the file, or in dev mode the demo.
fn configured_policy(config: &Config) -> anyhow::Result<Option<String>> {
    match &config.policy_file {
        Some(path) => {
            let source = std::fs::read_to_string(path)
                .with_context(|| format!("reading policy file {}", path.display()))?;
            Policy::parse(&source, 0).map_err(|problems| {
                anyhow::anyhow!("policy file {}: {problems}", path.display())
            })?;
            Ok(Some(source))
        }
        None if config.dev_mode() => Ok(Some(DEMO_POLICY.to_owned())),
        None => Ok(None),
    }
}

impl Server {
    /// Builds everything `config` describes and binds the listen address (port 0 picks a free
    /// port; see [`Server::local_addr`]).
    pub async fn build(config: Config, clock: SharedClock) -> anyhow::Result<Server> {
        let ext_authz = config.ext_authz.compile().map_err(anyhow::Error::msg)?;
        config.limits.validate().map_err(anyhow::Error::msg)?;
        let tls = ServerTls::load(&config.tls).map_err(anyhow::Error::msg)?;

        let instance_id = Uuid::now_v7().simple().to_string()[20..].to_owned();
        let store: Arc<dyn Store> = match &config.database_url {
            Some(url) => {
                let options = postgres_options(&config, url, &instance_id);
                if config.database.migrate_on_start {
                    migrate(&config, &options).await?;
                }
                Arc::new(
                    PostgresStore::connect(options)
                        .await
                        .context("connecting to PostgreSQL")?,
                )
            }
            None => Arc::new(MemoryStore::new()),
        };
        let metrics = Metrics::new();

        let authenticator = Arc::new(
            Authenticator::new(&auth_options(&config)?, clock.clone())
                .map_err(anyhow::Error::msg)?,
        );
        // Start with the identity provider's keys when it answers; if it does not, tokens
        // are refused until a refresh succeeds (in the background, or on an unknown key id).
        if let Err(error) = authenticator.refresh_keys(None).await {
            tracing::error!(%error, "jwks: the first fetch failed; tokens signed by its keys are refused until one succeeds");
        }

        let configured = configured_policy(&config)?;
        let stored = store.latest_policy().await?;
        let initial = match (&configured, &stored) {
            (_, Some(stored)) => Policy::parse(&stored.source, stored.version)
                .map_err(|problems| anyhow::anyhow!("the stored policy is invalid: {problems}"))?,
            (Some(source), None) => Policy::parse(source, 0).expect("validated above"),
            (None, None) => bail!(
                "no policy: pass --policy FILE (or set ELEVATOR_POLICY_FILE); the database holds none yet"
            ),
        };
        let decider = Arc::new(Decider::new(
            initial,
            store.clone(),
            clock.clone(),
            CacheOptions {
                ttl: Duration::from_secs(config.cache.ttl_seconds.max(1)),
                max_subjects: config.cache.max_subjects,
                ended_grant_lookback: TimeDelta::seconds(
                    config.cache.ended_grant_lookback_seconds as i64,
                ),
                outage_grace: TimeDelta::milliseconds(
                    config.cache.outage_grace_ms.min(i64::MAX as u64) as i64,
                ),
            },
        ));
        let mut app = Elevator::new(
            store.clone(),
            decider.clone(),
            clock.clone(),
            ServiceRoles {
                pep: config.roles.pep.clone(),
                admin: config.roles.admin.clone(),
                risk_reporter: config.roles.risk_reporter.clone(),
                auditor: config.roles.auditor.clone(),
            },
            audit_signer(&config)?,
            metrics.clone(),
        );
        let mut background = Vec::new();
        background.extend(authenticator.spawn_key_refresher());
        let mut decision_log_writer = None;
        let mut logged = None;
        if let Some(options) = decision_log(&config) {
            let (log, writer) = DecisionLog::start(&options);
            decision_log_writer = Some(writer);
            logged = Some(log.clone());
            app = app.with_decision_log(log);
        }
        metrics.observe(&decider, &store, logged.as_ref());
        let app = Arc::new(app);
        // The configured document is put in force when it changed since it was last put from
        // configuration (a new deploy); policies put through the API since then otherwise stand.
        if let Some(source) = configured {
            let last_configured = store.latest_policy_by(CONFIGURED_POLICY_ACTOR).await?;
            if last_configured.is_none_or(|last| last.source != source) {
                let (version, _) = app
                    .put_policy_as(CONFIGURED_POLICY_ACTOR, &source, None)
                    .await?;
                tracing::info!(version, "policy from configuration put in force");
            }
        }

        let webhook_secret = match (&config.webhooks.secret, &config.webhooks.secret_file) {
            (Some(secret), _) => Some(secret.as_bytes().to_vec()),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading webhooks.secret_file {}", path.display()))?
                    .trim()
                    .as_bytes()
                    .to_vec(),
            ),
            (None, None) => None,
        };
        let deliverer = crate::webhooks::Deliverer::new(
            store.clone(),
            clock.clone(),
            metrics.clone(),
            crate::webhooks::WebhookOptions {
                secret: webhook_secret,
                timeout: Duration::from_millis(config.webhooks.timeout_ms.max(1)),
                max_attempts: config.webhooks.max_attempts.max(1),
                poll_interval: Duration::from_millis(config.webhooks.poll_interval_ms.max(10)),
            },
        );

        background.push(tokio::spawn(deliverer.run()));
        background.push(spawn_checkpoints(
            app.clone(),
            Duration::from_secs(config.audit.checkpoint_interval_seconds.max(1)),
        ));
        background.push(spawn_change_feed(store.clone(), decider.clone(), metrics.clone()).await?);
        let readiness = Arc::new(Readiness::new(app.clone()));
        let health = HealthReporter::new();
        let health_service = HealthServer::new(HealthService::from_health_reporter(health.clone()));
        // Known from the start, unready until the refresher has looked.
        health
            .set_service_status(READINESS_SERVICE, tonic_health::ServingStatus::NotServing)
            .await;
        background.push(spawn_refresher(
            store.clone(),
            metrics.clone(),
            readiness.clone(),
            health.clone(),
        ));
        background.push(spawn_sweeper(
            app.clone(),
            Duration::from_millis(config.sweep_interval_ms.max(10)),
        ));

        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let admin_listener = TcpListener::bind(config.admin_listen)
            .await
            .with_context(|| format!("binding the admin port {}", config.admin_listen))?;
        let console = if config.console.enabled {
            Some(Arc::new(Console::new(
                app.clone(),
                authenticator.clone(),
                clock.clone(),
                console_options(&config)?,
            )))
        } else {
            None
        };
        let (stopping, stopping_seen) = watch::channel(false);
        let api = Api::new(
            app.clone(),
            authenticator,
            clock,
            stopping_seen,
            &config.limits,
        )
        .with_pep_certificates(PepCertificates::new(&config.tls, &config.roles.pep));
        if let Some(tls) = &tls {
            background.push(tls.spawn_reloader());
        }
        let envoy = EnvoyAuthorization::new(api.clone(), ext_authz);
        Ok(Server {
            listener,
            admin_listener,
            api,
            envoy,
            app,
            store,
            metrics,
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
            background: Background(background),
        })
    }

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

    /// Serves until `shutdown` completes; then stops accepting calls, turns unready (gRPC
    /// health and `/readyz`), ends streams, finishes in-flight calls within the grace period,
    /// and writes out the decision log.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Server {
            listener,
            admin_listener,
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
        let services = api.services();
        set_serving(&health).await;
        let reflection = reflection_builder().build_v1()?;
        let reflection_v1alpha = reflection_builder().build_v1alpha()?;
        let admin_address = admin_listener.local_addr()?;
        background.0.push(tokio::spawn(admin::serve(
            admin_listener,
            metrics,
            readiness.clone(),
            tls.clone(),
            console,
        )));
        tracing::info!(%address, %admin_address, instance = %instance_id, tls = tls.is_some(), "serving gRPC");

        let mut stop_seen = stopping.subscribe();
        let stop = async move {
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
        };
        let router = tonic::transport::Server::builder()
            .http2_max_header_list_size(crate::api::limits::MAX_HEADER_LIST_BYTES)
            .layer(in_flight_limit)
            .layer(crate::api::context::RequestContextLayer)
            .layer(crate::api::too_large::MessageTooLargeLayer)
            .add_service(health_service)
            .add_service(reflection)
            .add_service(reflection_v1alpha)
            .add_service(services.elevation)
            .add_service(services.approval)
            .add_service(services.check)
            .add_service(services.policy)
            .add_service(services.audit)
            .add_service(envoy.into_service());
        let serving: std::pin::Pin<
            Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>,
        > = match &tls {
            Some(tls) => {
                Box::pin(router.serve_with_incoming_shutdown(tls.incoming(listener), stop))
            }
            None => Box::pin(router.serve_with_incoming_shutdown(accepted(listener), stop)),
        };
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
        if let Some(writer) = decision_log_writer
            && tokio::time::timeout(Duration::from_secs(10), writer.finish())
                .await
                .is_err()
        {
            tracing::warn!("the decision log did not finish writing within 10s");
        }
        drop(background);
        tracing::info!("stopped");
        Ok(())
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

/// Every service serving; the readiness service follows readiness (see [`spawn_refresher`]).
async fn set_serving(health: &HealthReporter) {
    use crate::proto::v1::{
        approval_service_server::ApprovalServiceServer, audit_service_server::AuditServiceServer,
        check_service_server::CheckServiceServer, elevation_service_server::ElevationServiceServer,
        policy_service_server::PolicyServiceServer,
    };
    health.set_serving::<ElevationServiceServer<Api>>().await;
    health.set_serving::<ApprovalServiceServer<Api>>().await;
    health.set_serving::<CheckServiceServer<Api>>().await;
    health.set_serving::<PolicyServiceServer<Api>>().await;
    health.set_serving::<AuditServiceServer<Api>>().await;
    health
        .set_serving::<envoy_types::ext_authz::v3::pb::AuthorizationServer<EnvoyAuthorization>>()
        .await;
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
}

/// Keeps readiness (and its gRPC health service) and the gauges that need the database
/// current, every second: three small queries on partial indexes.
fn spawn_refresher(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    health: HealthReporter,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_ready = None;
        loop {
            ticks.tick().await;
            refresh_from_store(store.as_ref(), &metrics, &readiness).await;
            let ready = readiness.report().ready;
            if last_ready != Some(ready) && !readiness.is_shutting_down() {
                let status = if ready {
                    tonic_health::ServingStatus::Serving
                } else {
                    tonic_health::ServingStatus::NotServing
                };
                health.set_service_status(READINESS_SERVICE, status).await;
                last_ready = Some(ready);
            }
        }
    })
}

async fn refresh_from_store(store: &dyn Store, metrics: &Metrics, readiness: &Readiness) {
    match store.missing_migrations().await {
        Ok(missing) => {
            if !missing.is_empty() {
                tracing::warn!(
                    ?missing,
                    "the database schema lacks migrations this build needs"
                );
            }
            readiness.set_schema_current(missing.is_empty());
        }
        Err(error) => tracing::warn!(%error, "cannot check the database schema"),
    }
    let backlogs = metrics.backlogs();
    match store.pending_elevations().await {
        Ok(count) => backlogs.pending_approvals.store(count, Ordering::Relaxed),
        Err(error) => tracing::warn!(%error, "cannot count pending approvals"),
    }
    match store.pending_deliveries().await {
        Ok(count) => backlogs.webhook_outbox.store(count, Ordering::Relaxed),
        Err(error) => tracing::warn!(%error, "cannot count the webhook outbox"),
    }
}

/// The PostgreSQL store's settings from `config`.
fn postgres_options(config: &Config, url: &str, instance_id: &str) -> PostgresOptions {
    PostgresOptions {
        url: url.to_owned(),
        max_connections: config.database.max_connections,
        connect_timeout: Duration::from_millis(config.database.connect_timeout_ms),
        listener_backoff: Duration::from_millis(config.database.listener_backoff_ms),
        listener_name: format!("elevator-listener-{instance_id}"),
    }
}

/// Applies pending migrations to the configured database (`elevator migrate`, and `serve`
/// unless told not to); returns the names of those applied.
pub async fn migrate_database(config: &Config) -> anyhow::Result<Vec<&'static str>> {
    let url = config
        .database_url
        .as_deref()
        .context("no database URL: set --database-url or ELEVATOR_DATABASE_URL")?;
    migrate(config, &postgres_options(config, url, "migrate")).await
}

/// Applies pending migrations, then grants the runtime role (if configured) what it needs.
async fn migrate(config: &Config, options: &PostgresOptions) -> anyhow::Result<Vec<&'static str>> {
    let applied = PostgresStore::migrate(options)
        .await
        .context("migrating the database")?;
    if let Some(role) = &config.database.runtime_role {
        PostgresStore::grant_runtime_role(options, role)
            .await
            .with_context(|| format!("granting database.runtime_role {role:?} its privileges"))?;
        tracing::info!(role = %role, "runtime role granted its privileges");
    }
    Ok(applied)
}

/// How long start-up waits for the change feed's first connection. Until it connects the
/// decider allows nothing, so a replica that served before it would only deny.
const FIRST_LISTEN_WAIT: Duration = Duration::from_secs(10);

/// Feeds the store's change events into the decider. The memory store is always "listening";
/// a PostgreSQL store may have connected its listener before we subscribed, so its current
/// state is observed once first. Returns once the feed connected (or after
/// [`FIRST_LISTEN_WAIT`]; Checks deny until it does).
async fn spawn_change_feed(
    store: Arc<dyn Store>,
    decider: Arc<Decider>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut events = store.subscribe();
    if store.is_listening() {
        let revision = store.revision().await?;
        decider.observe(&StoreEvent::Restored { revision }).await;
    }
    let feeding = tokio::spawn({
        let decider = decider.clone();
        async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        if let StoreEvent::Changed { committed_at, .. } = &event {
                            let lag = committed_at.and_then(|committed| {
                                (chrono::Utc::now() - committed).to_std().ok()
                            });
                            metrics.record_invalidation(lag);
                        }
                        decider.observe(&event).await;
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "change feed lagged; resynchronising");
                        decider.observe(&StoreEvent::Lost).await;
                        if store.is_listening() {
                            match store.revision().await {
                                Ok(revision) => {
                                    decider.observe(&StoreEvent::Restored { revision }).await
                                }
                                Err(error) => tracing::warn!(%error, "cannot read the revision"),
                            }
                        }
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
    let waiting_since = std::time::Instant::now();
    while !decider.freshness().has_listened() {
        if waiting_since.elapsed() >= FIRST_LISTEN_WAIT {
            tracing::warn!("the change feed has not connected yet; Checks deny until it does");
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(feeding)
}

/// The console's options: whether its login page takes tokens, and its CSRF key (the
/// configured file, or one made now, which only this replica knows).
fn console_options(config: &Config) -> anyhow::Result<ConsoleOptions> {
    let csrf_key = match &config.console.csrf_secret_file {
        Some(path) => {
            let key = std::fs::read_to_string(path)
                .with_context(|| format!("reading console.csrf_secret_file {}", path.display()))?
                .trim()
                .as_bytes()
                .to_vec();
            if key.len() < 16 {
                bail!(
                    "console.csrf_secret_file {}: the key needs at least 16 characters",
                    path.display()
                );
            }
            key
        }
        None => {
            let mut key = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
            key
        }
    };
    let token_login = config.console_token_login();
    if token_login {
        tracing::info!(
            "console: the login page takes pasted tokens (console.token_login; off behind a proxy)"
        );
    }
    Ok(ConsoleOptions {
        token_login,
        csrf_key,
    })
}

/// The decision log's options, when it is enabled.
fn decision_log(config: &Config) -> Option<DecisionLogOptions> {
    let settings = &config.decision_log;
    settings.enabled.then(|| DecisionLogOptions {
        path: settings
            .path
            .as_deref()
            .filter(|path| *path != "-")
            .map(std::path::PathBuf::from),
        sample_allows: settings.sample_allows,
        queue_size: settings.queue_size,
    })
}

/// Signs and keeps the audit chain head now and then, so a copy exported elsewhere can later
/// prove the log was not rewritten.
fn spawn_checkpoints(app: Arc<Elevator>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = app.checkpoint().await {
                tracing::warn!(%error, "could not sign the audit chain head");
            }
        }
    })
}

/// The key that signs audit chain heads: the configured file, dev mode's own, or one made now.
fn audit_signer(config: &Config) -> anyhow::Result<AuditSigner> {
    let from_hex = |text: &str, origin: &str| -> anyhow::Result<[u8; 32]> {
        let text = text.trim();
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            })
            .collect::<Option<_>>()
            .ok_or_else(|| anyhow::anyhow!("{origin}: not hex"))?;
        bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{origin}: an Ed25519 seed is 32 bytes (64 hex digits)"))
    };
    if let Some(path) = &config.audit.signing_key_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading audit.signing_key_file {}", path.display()))?;
        return Ok(AuditSigner::from_seed(from_hex(
            &text,
            "audit.signing_key_file",
        )?));
    }
    if config.dev_mode() {
        let dir = config.state_dir.clone().unwrap_or_else(dev::state_dir);
        let seed = dev::load_or_create_secret_file(&dir, "audit-signing-key")
            .with_context(|| format!("creating the audit signing key in {}", dir.display()))?;
        return Ok(AuditSigner::from_seed(from_hex(
            &String::from_utf8_lossy(&seed),
            "the dev audit key",
        )?));
    }
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let signer = AuditSigner::from_seed(seed);
    tracing::warn!(
        public_key = %signer.public_key().iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "no audit.signing_key_file: signing audit chain heads with a key made at start-up"
    );
    Ok(signer)
}

/// Sweeps every `interval`, the first time one interval after start (a server sweeping the
/// moment it starts would race whoever drives time by hand, as tests do).
fn spawn_sweeper(app: Arc<Elevator>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = app.sweep().await {
                tracing::warn!(%error, "expiry sweep failed");
            }
        }
    })
}
