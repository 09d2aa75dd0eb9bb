//! The test harness: a real PostgreSQL (a throwaway server started from the installed binaries
//! when `DATABASE_URL` is unset, one fresh database per test), and `spawn_app`, which builds a
//! real server on port 0 with an injected clock and returns typed gRPC clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::TimeDelta;
use elevator::auth::{Claims, dev};
use elevator::clock::{Clock, ManualClock};
use elevator::config::Config;
use elevator::proto::v1 as pb;
use elevator::proto::v1::approval_service_client::ApprovalServiceClient;
use elevator::proto::v1::check_service_client::CheckServiceClient;
use elevator::proto::v1::elevation_service_client::ElevationServiceClient;
use elevator::proto::v1::policy_service_client::PolicyServiceClient;
use elevator::server::Server;
use elevator::service::Elevator;
use elevator::store::Store;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use tokio::sync::oneshot;
use tonic::Request;
use tonic::transport::Channel;

/// The HS256 secret every test server accepts.
pub(crate) const TEST_SECRET: &str = "integration-test-secret";

/// The HMAC key every test server signs webhook posts with.
pub(crate) const TEST_WEBHOOK_SECRET: &str = "integration-webhook-secret";

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The in-memory store (dev mode).
    Memory,
    /// PostgreSQL, a fresh database.
    Postgres,
}

// ----- PostgreSQL --------------------------------------------------------------------------

static POSTGRES_ADMIN_URL: OnceLock<String> = OnceLock::new();

/// The throwaway server and its watchdog live as long as this process; they are kept here,
/// never waited for, and the watchdog stops the server once the process is gone.
static BACKGROUND_PROCESSES: std::sync::Mutex<Vec<std::process::Child>> =
    std::sync::Mutex::new(Vec::new());

/// A URL with administrative rights on a PostgreSQL server: `DATABASE_URL`, or a throwaway
/// server this process started.
pub(crate) fn postgres_admin_url() -> &'static str {
    POSTGRES_ADMIN_URL.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => start_throwaway_postgres(),
    })
}

pub(crate) fn postgres_bin_dir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if has_server(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|dir| has_server(dir))
        .collect();
    versions.sort_by_key(|dir| {
        dir.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(dir) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| has_server(dir)))
}

/// uid and gid of the `postgres` user, read from /etc/passwd.
pub(crate) fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres"))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
            .flatten()
    })
}

/// Whether this process runs as root: its effective user id, the second field of `Uid:` in
/// `/proc/self/status` (Linux, where the throwaway PostgreSQL runs), is 0.
pub(crate) fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let uid_line = status.lines().find(|line| line.starts_with("Uid:"))?;
            uid_line
                .split_whitespace()
                .nth(2)
                .map(|effective| effective == "0")
        })
        .unwrap_or(false)
}

/// Sends SIGTERM to a child process (with `kill`, so the tests need no unsafe libc call).
pub(crate) fn send_sigterm(child: &std::process::Child) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "SIGTERM could not be sent");
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free local port")
}

fn start_throwaway_postgres() -> String {
    let bin = postgres_bin_dir().unwrap_or_else(|| {
        panic!(
            "DATABASE_URL is not set and no PostgreSQL server binaries (initdb, postgres) were found. \
             Install the server (Debian/Ubuntu: `apt install postgresql`) or point DATABASE_URL at a \
             server where the user may CREATE DATABASE."
        )
    });
    let as_postgres_user = if running_as_root() {
        Some(postgres_user().expect(
            "running as root, the throwaway PostgreSQL must run as the `postgres` user, which does not exist",
        ))
    } else {
        None
    };
    let base = std::env::temp_dir().join(format!("elevator-test-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("create the throwaway PostgreSQL directory");
    if let Some((uid, gid)) = as_postgres_user {
        std::os::unix::fs::chown(&base, Some(uid), Some(gid))
            .expect("chown the PostgreSQL directory");
    }
    let data = base.join("data");
    let command = |program: &str| {
        let mut command = Command::new(bin.join(program));
        if let Some((uid, gid)) = as_postgres_user {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        command.env("LC_ALL", "C").current_dir(&base);
        command
    };
    let initdb = command("initdb")
        .args([
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ])
        .args(["--locale=C", "--no-sync"])
        .stdout(Stdio::null())
        .output()
        .expect("run initdb");
    assert!(
        initdb.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&initdb.stderr)
    );
    let port = free_port();
    let log = std::fs::File::create(base.join("postgres.log")).expect("create the server log");
    if let Some((uid, gid)) = as_postgres_user {
        std::os::unix::fs::chown(base.join("postgres.log"), Some(uid), Some(gid)).ok();
    }
    let server = command("postgres")
        .args([
            "-D",
            data.to_str().unwrap(),
            "-p",
            &port.to_string(),
            "-k",
            base.to_str().unwrap(),
        ])
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
        ])
        .args([
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=400",
            "-c",
            "shared_buffers=128MB",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start postgres");
    // The server outlives no test run: a watchdog stops it and removes its files once this
    // process is gone.
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -INT {pg} 2>/dev/null; \
             for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 {pg} 2>/dev/null || break; sleep 0.5; done; \
             kill -9 {pg} 2>/dev/null; rm -rf '{dir}'",
            me = std::process::id(),
            pg = server.id(),
            dir = base.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the PostgreSQL watchdog");
    BACKGROUND_PROCESSES
        .lock()
        .unwrap()
        .extend([server, watchdog]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if ready {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the throwaway PostgreSQL did not start; see {}",
            base.join("postgres.log").display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

/// `url` with its database name replaced by `database`.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = match base.rsplit_once('/') {
        Some((prefix, _))
            if prefix.contains("://")
                && prefix
                    .split("://")
                    .nth(1)
                    .is_some_and(|rest| !rest.is_empty()) =>
        {
            prefix
        }
        _ => base,
    };
    match query {
        Some(query) => format!("{prefix}/{database}?{query}"),
        None => format!("{prefix}/{database}"),
    }
}

/// Runs SQL on `url` (retrying while the server is still starting).
pub(crate) async fn sql(url: &str, statements: &str) -> Vec<tokio_postgres::SimpleQueryMessage> {
    let client = connect(url).await;
    client.simple_query(statements).await.expect("test SQL")
}

/// A connection to `url`, retried for a while while the server starts.
pub(crate) async fn connect(url: &str) -> tokio_postgres::Client {
    let mut attempts = 0;
    loop {
        match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                return client;
            }
            Err(error) if attempts < 100 => {
                attempts += 1;
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("cannot connect to {url}: {error}"),
        }
    }
}

/// A new, empty database; returns its URL.
pub(crate) async fn fresh_database() -> String {
    let admin = postgres_admin_url();
    let name = format!("elevator_test_{}", uuid::Uuid::new_v4().simple());
    connect(admin)
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    with_database(admin, &name)
}

// ----- servers -----------------------------------------------------------------------------

/// A running server with typed clients.
pub(crate) struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// Where its admin port listens (`/metrics`, `/healthz`, `/readyz`).
    pub admin_address: SocketAddr,
    /// Where its PEP-facing HTTP port (AuthZEN) listens.
    pub http_address: SocketAddr,
    /// Its clock.
    pub clock: Arc<ManualClock>,
    /// Its use cases.
    pub app: Arc<Elevator>,
    /// Its store.
    pub store: Arc<dyn Store>,
    /// Its database, on PostgreSQL.
    pub database_url: Option<String>,
    /// Its replica id.
    pub instance_id: String,
    channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Its policy file and state directory, removed with it.
    scratch: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// A last adjustment to a test server's configuration.
pub(crate) type ConfigureFn = Box<dyn FnOnce(&mut Config) + Send>;

/// How to build a test server.
#[derive(Default)]
pub(crate) struct AppOptions {
    /// Run on this database (a second replica) instead of a fresh one.
    pub database_url: Option<String>,
    /// Policy document; the demo policy when absent.
    pub policy: Option<String>,
    /// Share a clock with another replica.
    pub clock: Option<Arc<ManualClock>>,
    /// Adjusts the configuration last.
    pub configure: Option<ConfigureFn>,
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "elevator-test-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// A server on `backend` with the demo policy.
pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, AppOptions::default()).await
}

/// A server on `backend` as `options` say.
pub(crate) async fn spawn_app_with(backend: Backend, options: AppOptions) -> TestApp {
    let scratch = scratch_dir();
    let policy_file = scratch.join("policy.yaml");
    std::fs::write(
        &policy_file,
        options
            .policy
            .as_deref()
            .unwrap_or(elevator::policy::DEMO_POLICY),
    )
    .expect("write the test policy");
    let database_url = match backend {
        Backend::Memory => None,
        Backend::Postgres => Some(match options.database_url {
            Some(url) => url,
            None => fresh_database().await,
        }),
    };
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: database_url.clone(),
        policy_file: Some(policy_file),
        state_dir: Some(scratch.join("state")),
        sweep_interval_ms: 3_600_000,
        ..Default::default()
    };
    config.auth.hs256_secret = Some(TEST_SECRET.into());
    config.database.max_connections = 24;
    config.database.listener_backoff_ms = 300;
    config.webhooks.secret = Some(TEST_WEBHOOK_SECRET.into());
    config.webhooks.poll_interval_ms = 50;
    config.webhooks.timeout_ms = 2000;
    // Tests write as fatma and ali far faster than people do; tests/api/limits.rs sets the
    // per-caller write rate it tests explicitly.
    config.limits.writes_per_minute_per_caller = 100_000_000;
    config.limits.write_burst_per_caller = 1_000_000;
    if let Some(configure) = options.configure {
        configure(&mut config);
    }
    let clock = options
        .clock
        .unwrap_or_else(|| Arc::new(ManualClock::starting_now()));
    let server = Server::build(config, clock.clone())
        .await
        .expect("build the test server");
    let address = server.local_addr();
    let admin_address = server.admin_addr();
    let http_address = server
        .http_addr()
        .expect("test servers serve the HTTP port");
    let app = server.app();
    let store = server.store();
    let instance_id = server.instance_id().to_owned();
    let (shutdown, shutdown_signal) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        let _ = shutdown_signal.await;
    }));
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_lazy();
    TestApp {
        address,
        admin_address,
        http_address,
        clock,
        app,
        store,
        database_url,
        instance_id,
        channel,
        shutdown: Some(shutdown),
        serving: Some(serving),
        scratch,
    }
}

/// A second replica on the same database and clock as `first`.
pub(crate) async fn spawn_replica(first: &TestApp, policy: Option<String>) -> TestApp {
    spawn_app_with(
        Backend::Postgres,
        AppOptions {
            database_url: first.database_url.clone(),
            policy,
            clock: Some(first.clock.clone()),
            ..Default::default()
        },
    )
    .await
}

/// A request for `role` on `scope` for `seconds`, with `reason`.
pub(crate) fn elevation_request(
    role: &str,
    scope: &str,
    seconds: i64,
    reason: &str,
) -> pb::RequestElevationRequest {
    pb::RequestElevationRequest {
        role: role.into(),
        scope: scope.into(),
        duration: Some(prost_types::Duration { seconds, nanos: 0 }),
        reason: reason.into(),
        ..Default::default()
    }
}

/// A request carrying `token`.
pub(crate) fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// A 48-hour HS256 token signed with `secret`, valid by the server's clock.
pub(crate) fn token_signed(secret: &[u8], clock: &ManualClock, claims: Claims) -> String {
    let now = clock.now();
    dev::sign_hs256(
        secret,
        &Claims {
            exp: if claims.exp == 0 {
                (now + TimeDelta::hours(48)).timestamp()
            } else {
                claims.exp
            },
            iat: Some(now.timestamp()),
            ..claims
        },
    )
}

impl TestApp {
    /// Shuts the server down and waits until it stopped serving (its port is closed).
    pub(crate) async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(serving) = self.serving.take() {
            tokio::time::timeout(Duration::from_secs(15), serving)
                .await
                .expect("the server stops within 15s")
                .expect("the server task")
                .expect("the server stops cleanly");
        }
    }

    /// A token for `sub` with the given claims.
    pub(crate) fn token(
        &self,
        sub: &str,
        groups: &[&str],
        roles: &[&str],
        manager: Option<&str>,
        sid: Option<&str>,
    ) -> String {
        token_signed(
            TEST_SECRET.as_bytes(),
            &self.clock,
            Claims {
                sub: sub.into(),
                sid: sid.map(Into::into),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                manager: manager.map(Into::into),
                ..Default::default()
            },
        )
    }

    /// Fatma: procurement staff, manager ali, session s1.
    pub(crate) fn fatma(&self) -> String {
        self.token(
            "fatma",
            &["procurement-staff"],
            &[],
            Some("ali"),
            Some("s1"),
        )
    }

    /// Ali: a manager, session s9.
    pub(crate) fn ali(&self) -> String {
        self.token("ali", &["managers"], &[], None, Some("s9"))
    }

    /// A policy enforcement point.
    pub(crate) fn pep(&self) -> String {
        self.token("gateway", &[], &["elevator:check"], None, None)
    }

    /// An administrator.
    pub(crate) fn admin(&self) -> String {
        self.token(
            "root",
            &[],
            &["elevator:admin"],
            None,
            Some("admin-session"),
        )
    }

    /// The gRPC channel to the server, for clients a test module builds itself.
    pub(crate) fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// ElevationService client.
    pub(crate) fn elevations(&self) -> ElevationServiceClient<Channel> {
        ElevationServiceClient::new(self.channel.clone())
    }

    /// ApprovalService client.
    pub(crate) fn approvals(&self) -> ApprovalServiceClient<Channel> {
        ApprovalServiceClient::new(self.channel.clone())
    }

    /// CheckService client.
    pub(crate) fn checks(&self) -> CheckServiceClient<Channel> {
        CheckServiceClient::new(self.channel.clone())
    }

    /// Envoy's `envoy.service.auth.v3.Authorization` client.
    pub(crate) fn envoy_authorization(&self) -> AuthorizationClient<Channel> {
        AuthorizationClient::new(self.channel.clone())
    }

    /// PolicyService client.
    pub(crate) fn policies(&self) -> PolicyServiceClient<Channel> {
        PolicyServiceClient::new(self.channel.clone())
    }

    /// Fatma asks for admin_approver on Org:Procurement for 2h.
    pub(crate) async fn request_fatma(&self) -> pb::Elevation {
        self.elevations()
            .request_elevation(authed(
                &self.fatma(),
                pb::RequestElevationRequest {
                    role: "admin_approver".into(),
                    scope: "Org:Procurement".into(),
                    duration: Some(prost_types::Duration {
                        seconds: 7200,
                        nanos: 0,
                    }),
                    reason: "Q4 close".into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("fatma's request")
            .into_inner()
            .elevation
            .unwrap()
    }

    /// Ali approves `elevation_id`; returns the response.
    pub(crate) async fn ali_approves(&self, elevation_id: &str) -> pb::ApproveResponse {
        self.approvals()
            .approve(authed(
                &self.ali(),
                pb::ApproveRequest {
                    elevation_id: elevation_id.into(),
                    comment: "ok".into(),
                    idempotency_key: String::new(),
                },
            ))
            .await
            .expect("ali's approval")
            .into_inner()
    }

    /// Asks the PEP question for fatma's `purchase_orders.approve` on PO 4711.
    pub(crate) async fn check_fatma(&self, session: &str) -> pb::CheckResponse {
        self.check(
            "fatma",
            session,
            "purchase_orders.approve",
            "Org:Procurement/PO:4711",
            0,
        )
        .await
    }

    /// Asks a Check as the PEP.
    pub(crate) async fn check(
        &self,
        subject: &str,
        session: &str,
        permission: &str,
        resource: &str,
        min_revision: u64,
    ) -> pb::CheckResponse {
        self.checks()
            .check(authed(
                &self.pep(),
                pb::CheckRequest {
                    subject: subject.into(),
                    session_id: session.into(),
                    permission: permission.into(),
                    resource: resource.into(),
                    min_revision,
                    subject_token: String::new(),
                    ..Default::default()
                },
            ))
            .await
            .expect("check")
            .into_inner()
    }

    /// Every audit event so far.
    pub(crate) async fn audit_actions(&self) -> Vec<String> {
        self.store
            .audit_events(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|stored| stored.event.action.as_str().to_owned())
            .collect()
    }

    /// Waits until the outbox has nothing pending: a delivery is finished once the receiver's
    /// answer is back, a moment after the receiver recorded the post.
    pub(crate) async fn wait_until_no_delivery_is_pending(&self) {
        let started = std::time::Instant::now();
        while self.store.pending_deliveries().await.unwrap() != 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "deliveries stay pending"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A grant written straight to a store (no elevation behind it): `role` on `scope` for
/// `subject`, bound to `session` if given, active from five minutes before `now` for an hour
/// after it.
pub(crate) fn active_grant(
    subject: &str,
    role: &str,
    scope: &str,
    session: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> elevator::domain::Grant {
    use elevator::domain::{Grant, GrantId, RoleName, Scope, SessionId, Subject};
    Grant {
        id: GrantId::generate(),
        subject: Subject::parse(subject).unwrap(),
        session: session.map(|s| SessionId::parse(s).unwrap()),
        role: RoleName::parse(role).unwrap(),
        scope: Scope::parse(scope).unwrap(),
        not_before: now - TimeDelta::minutes(5),
        not_after: now + TimeDelta::hours(1),
        elevation_id: None,
        parent_grant_id: None,
        delegation_trail: Vec::new(),
        revocation: None,
        awaiting_acceptance: false,
        break_glass: false,
    }
}

/// The reason code of a decision.
pub(crate) fn reason(response: &pb::CheckResponse) -> pb::DecisionReason {
    pb::DecisionReason::try_from(response.reason).unwrap()
}

/// The `ErrorInfo` reason of a status.
pub(crate) fn error_reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// Runs `test` against both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                $body($crate::harness::Backend::Memory).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body($crate::harness::Backend::Postgres).await;
            }
        }
    };
}
