//! `elevator loadtest`: a load generator for the decision path, because load testing the
//! decision point is one of the jobs people run elevator for.
//!
//! It drives `CheckService.Check`, Envoy's ext_authz Check, a mixed read/write workload, the
//! gRPC health check (the stack's floor) or a peer PDP (Cerbos' `CheckResources`), over one or
//! more HTTP/2 connections, in a closed loop (N requests in flight) or an open loop (a fixed
//! rate, latency measured from each request's intended send time so that queueing is not
//! hidden by coordinated omission). The workload is shaped by subjects, grants per subject and
//! the shares of cache misses and denials; `--seed-grants` puts the scenario into the server
//! first. Every answer's status is checked: errors are counted apart, never in latency.
//! `--mode invalidation` measures how long a revocation through one replica takes to deny on
//! another.

pub mod raw;
pub mod report;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use envoy_types::pb::envoy::service::auth::v3 as envoy;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Mutex, Semaphore};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::auth::{Claims, DEV_ISSUER, dev};
use crate::domain::parse_duration;
use crate::proto::v1 as pb;
use crate::proto::v1::approval_service_client::ApprovalServiceClient;
use crate::proto::v1::check_service_client::CheckServiceClient;
use crate::proto::v1::elevation_service_client::ElevationServiceClient;
use raw::RawCodec;
use report::{Report, ReportHeader, Tally};

/// What to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// `elevator.v1.CheckService/Check`.
    Check,
    /// Envoy's `envoy.service.auth.v3.Authorization/Check`, as Envoy sends it.
    Envoy,
    /// Checks and, at `--write-share`, writes (a request and its approval, end to end).
    Mixed,
    /// `grpc.health.v1.Health/Check`: the cheapest call the stack answers.
    Health,
    /// Cerbos PDP's `CheckResources`, the same question as `check`.
    Cerbos,
    /// Revocations through `--target` until `--observer` denies: propagation between replicas.
    Invalidation,
}

/// How to print the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Output {
    /// For people.
    #[default]
    Text,
    /// For scripts.
    Json,
}

/// `elevator loadtest`.
#[derive(Debug, clap::Args)]
pub struct LoadtestArgs {
    /// The server to load: the global `--server` (for `cerbos`, Cerbos' gRPC address).
    #[arg(skip)]
    pub target: String,
    /// What to drive.
    #[arg(long, value_enum, default_value = "check")]
    pub mode: Mode,
    /// HTTP/2 connections to spread the load over.
    #[arg(long, default_value_t = 2)]
    pub connections: usize,
    /// Requests in flight (closed loop), or workers sending (open loop).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// An open loop at this many requests per second; without it, a closed loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long to measure (after the warm-up).
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// How long to run before measuring.
    #[arg(long, default_value = "2s")]
    pub warmup: String,
    /// Subjects asked about.
    #[arg(long, default_value_t = 100)]
    pub subjects: usize,
    /// Grants each subject holds (`admin_approver` on `Org:Procurement/Dept:<n>`).
    #[arg(long, default_value_t = 10)]
    pub grants_per_subject: usize,
    /// Share of Checks about a subject never asked about before (a cache miss, read through).
    #[arg(long, default_value_t = 0.0)]
    pub miss_share: f64,
    /// Share of Checks that are denied (a resource outside every grant).
    #[arg(long, default_value_t = 0.0)]
    pub deny_share: f64,
    /// In `mixed`: the share of operations that are writes.
    #[arg(long, default_value_t = 0.1)]
    pub write_share: f64,
    /// Request and approve the grants the workload asks about first (skipping those held).
    #[arg(long)]
    pub seed_grants: bool,
    /// An HS256 secret file to mint tokens with; dev mode's secret when absent.
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// The issuer of minted tokens (with --secret-file).
    #[arg(long)]
    pub issuer: Option<String>,
    /// Dev mode's state directory (where its secret is).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// In `invalidation`: the replica that must see each revocation.
    #[arg(long)]
    pub observer: Option<String>,
    /// In `invalidation`: how many revocations to time.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// The report's format: the global `--output`.
    #[arg(skip)]
    pub output: Output,
    /// No progress line while running.
    #[arg(long)]
    pub quiet: bool,
    /// Write the mode's request, in a gRPC frame (for `h2load -d`), to this file and exit.
    #[arg(long)]
    pub emit_body: Option<PathBuf>,
    /// Make one call with a real client, print what it answered, and exit (non-zero unless
    /// it succeeded): checks a target before a run with a tool that does not read statuses.
    #[arg(long)]
    pub verify: bool,
}

/// Checks are asked in this session.
const SESSION: &str = "load";
/// The manager who approves the load subjects.
const MANAGER: &str = "load-manager";

/// Mints tokens for the workload's subjects.
struct Minter {
    secret: Vec<u8>,
    issuer: Option<String>,
}

impl Minter {
    fn load(args: &LoadtestArgs) -> Result<Minter, String> {
        match &args.secret_file {
            Some(path) => Ok(Minter {
                secret: crate::auth::read_secret_file(path)
                    .map_err(|error| format!("--secret-file {}: {error}", path.display()))?,
                issuer: args.issuer.clone(),
            }),
            None => {
                let dir = args.state_dir.clone().unwrap_or_else(dev::state_dir);
                Ok(Minter {
                    secret: dev::load_secret(&dir).map_err(|error| {
                        format!("{error} (or pass --secret-file for a server not in dev mode)")
                    })?,
                    issuer: Some(DEV_ISSUER.into()),
                })
            }
        }
    }

    fn token(&self, sub: &str, groups: &[&str], roles: &[&str], manager: Option<&str>) -> String {
        let now = Utc::now();
        dev::sign_hs256(
            &self.secret,
            &Claims {
                sub: sub.into(),
                sid: Some(SESSION.into()),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                manager: manager.map(Into::into),
                exp: (now + chrono::TimeDelta::hours(4)).timestamp(),
                iat: Some(now.timestamp()),
                iss: self.issuer.clone(),
                ..Default::default()
            },
        )
    }

    fn subject(&self, name: &str) -> String {
        self.token(name, &["procurement-staff"], &[], Some(MANAGER))
    }
}

fn bearer(token: &str) -> MetadataValue<Ascii> {
    format!("Bearer {token}")
        .parse()
        .expect("a token is header text")
}

fn with_token<T>(token: &MetadataValue<Ascii>, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request
}

fn load_subject(index: usize) -> String {
    format!("load-{index}")
}

fn department(index: usize) -> String {
    format!("Org:Procurement/Dept:{index}")
}

/// One operation of the workload.
enum Operation {
    /// A Check.
    Check(pb::CheckRequest),
    /// The same question as Envoy asks it, with the subject's token.
    Envoy(Box<envoy::CheckRequest>),
    /// A raw call (health, Cerbos).
    Raw,
    /// Request and approve an elevation for a fresh subject.
    Write(u64),
}

/// How an operation went.
enum Outcome {
    Allowed,
    Denied,
    Done,
}

/// The workload and everything needed to run it.
struct Workload {
    mode: Mode,
    subjects: usize,
    grants: usize,
    miss_share: f64,
    deny_share: f64,
    write_share: f64,
    pep: MetadataValue<Ascii>,
    pep_token: String,
    minter: Option<Minter>,
    subject_tokens: Vec<String>,
    raw_path: http::uri::PathAndQuery,
    raw_body: Bytes,
    run: u64,
    writes: AtomicU64,
}

impl Workload {
    fn check_question(&self, rng: &mut StdRng) -> pb::CheckRequest {
        let po = rng.random_range(1..100_000u32);
        let (subject, resource) = if rng.random_bool(self.miss_share) {
            (
                format!("load-miss-{:016x}", rng.random::<u64>()),
                format!("{}/PO:{po}", department(0)),
            )
        } else {
            let subject = load_subject(rng.random_range(0..self.subjects));
            let resource = if rng.random_bool(self.deny_share) {
                format!("Org:Sales/PO:{po}")
            } else {
                format!(
                    "{}/PO:{po}",
                    department(rng.random_range(0..self.grants.max(1)))
                )
            };
            (subject, resource)
        };
        pb::CheckRequest {
            subject,
            session_id: SESSION.into(),
            permission: "purchase_orders.approve".into(),
            resource,
            ..Default::default()
        }
    }

    fn envoy_question(&self, rng: &mut StdRng) -> envoy::CheckRequest {
        let question = self.check_question(rng);
        let token = match question.subject.strip_prefix("load-miss-") {
            Some(_) => self
                .minter
                .as_ref()
                .map(|minter| minter.subject(&question.subject))
                .unwrap_or_default(),
            None => {
                let index: usize = question.subject["load-".len()..].parse().unwrap_or(0);
                self.subject_tokens.get(index).cloned().unwrap_or_default()
            }
        };
        envoy_request(&question.resource, &token)
    }

    fn next(&self, rng: &mut StdRng) -> Operation {
        match self.mode {
            Mode::Check => Operation::Check(self.check_question(rng)),
            Mode::Envoy => Operation::Envoy(Box::new(self.envoy_question(rng))),
            Mode::Mixed if rng.random_bool(self.write_share) => {
                Operation::Write(self.writes.fetch_add(1, Ordering::Relaxed))
            }
            Mode::Mixed => Operation::Check(self.check_question(rng)),
            Mode::Health | Mode::Cerbos => Operation::Raw,
            Mode::Invalidation => unreachable!("invalidation runs its own loop"),
        }
    }

    async fn execute(
        &self,
        operation: Operation,
        channel: &Channel,
    ) -> Result<Outcome, tonic::Status> {
        match operation {
            Operation::Check(question) => {
                let answer = CheckServiceClient::new(channel.clone())
                    .check(with_token(&self.pep, question))
                    .await?
                    .into_inner();
                Ok(if answer.allowed {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                })
            }
            Operation::Envoy(question) => {
                let answer = AuthorizationClient::new(channel.clone())
                    .check(with_token(&self.pep, *question))
                    .await?
                    .into_inner();
                let allowed = answer.status.is_some_and(|status| status.code == 0);
                Ok(if allowed {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                })
            }
            Operation::Raw => {
                let answer = raw_call(channel, &self.raw_path, self.raw_body.clone()).await?;
                if self.mode == Mode::Cerbos {
                    let allowed = raw::cerbos_allows(&answer).map_err(|error| {
                        tonic::Status::internal(format!("unreadable Cerbos answer: {error}"))
                    })?;
                    return Ok(if allowed {
                        Outcome::Allowed
                    } else {
                        Outcome::Denied
                    });
                }
                Ok(Outcome::Done)
            }
            Operation::Write(number) => {
                let minter = self.minter.as_ref().expect("writes need a token minter");
                let subject = format!("load-writer-{:x}-{number}", self.run);
                request_and_approve(channel, minter, &subject, &department(0)).await?;
                Ok(Outcome::Done)
            }
        }
    }
}

async fn raw_call(
    channel: &Channel,
    path: &http::uri::PathAndQuery,
    body: Bytes,
) -> Result<Bytes, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    Ok(grpc
        .unary(tonic::Request::new(body), path.clone(), RawCodec)
        .await?
        .into_inner())
}

/// What Envoy sends for `POST /depts/.../approve` with the subject's bearer token, the route's
/// extensions naming the permission and the resource.
fn envoy_request(resource: &str, token: &str) -> envoy::CheckRequest {
    use envoy::attribute_context::{HttpRequest, Request};
    envoy::CheckRequest {
        attributes: Some(envoy::AttributeContext {
            request: Some(Request {
                http: Some(HttpRequest {
                    method: "POST".into(),
                    path: "/approve".into(),
                    headers: [("authorization".to_owned(), format!("Bearer {token}"))].into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            context_extensions: [
                ("path_template".to_owned(), "/approve".to_owned()),
                (
                    "permission".to_owned(),
                    "purchase_orders.approve".to_owned(),
                ),
                ("resource".to_owned(), resource.to_owned()),
            ]
            .into(),
            ..Default::default()
        }),
    }
}

/// Requests `admin_approver` on `scope` for `subject` and has the manager approve it.
async fn request_and_approve(
    channel: &Channel,
    minter: &Minter,
    subject: &str,
    scope: &str,
) -> Result<(), tonic::Status> {
    let token = bearer(&minter.subject(subject));
    let elevation = admitted(|| {
        let mut client = ElevationServiceClient::new(channel.clone());
        let request = with_token(
            &token,
            pb::RequestElevationRequest {
                role: "admin_approver".into(),
                scope: scope.into(),
                duration: Some(prost_types::Duration {
                    seconds: 7200,
                    nanos: 0,
                }),
                reason: "load test".into(),
                ..Default::default()
            },
        );
        async move { client.request_elevation(request).await }
    })
    .await?
    .into_inner()
    .elevation
    .ok_or_else(|| tonic::Status::internal("no elevation in the answer"))?;
    let manager = bearer(&minter.token(MANAGER, &["managers"], &[], None));
    admitted(|| {
        let mut client = ApprovalServiceClient::new(channel.clone());
        let request = with_token(
            &manager,
            pb::ApproveRequest {
                elevation_id: elevation.id.clone(),
                comment: "load test".into(),
                idempotency_key: String::new(),
            },
        );
        async move { client.approve(request).await }
    })
    .await?;
    Ok(())
}

/// `call`, again while the server answers `RESOURCE_EXHAUSTED` (its per-caller write rate:
/// seeding approves everything as one manager), for up to two minutes. A server meant for
/// write load tests lifts `limits.writes_per_minute_per_caller` instead.
async fn admitted<T, F, Fut>(mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let pause = Duration::from_millis(250);
    let mut waited = Duration::ZERO;
    loop {
        match call().await {
            Err(status)
                if status.code() == tonic::Code::ResourceExhausted
                    && waited < Duration::from_secs(120) =>
            {
                tokio::time::sleep(pause).await;
                waited += pause;
            }
            answered => return answered,
        }
    }
}

fn duration(flag: &str, text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .ok()
        .and_then(|duration| duration.to_std().ok())
        .ok_or_else(|| format!("--{flag}: {text:?} is not a duration like 10s"))
}

async fn connect(target: &str, connections: usize) -> Result<Vec<Channel>, String> {
    let endpoint = Endpoint::from_shared(target.to_owned())
        .map_err(|error| format!("--target {target:?}: {error}"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5));
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        channels.push(
            endpoint
                .connect()
                .await
                .map_err(|error| format!("cannot reach {target}: {error}"))?,
        );
    }
    Ok(channels)
}

/// Runs `elevator loadtest`; returns the process exit code (0, 1 on a usage or set-up error,
/// 3 when the run had errors).
pub async fn run(args: LoadtestArgs) -> u8 {
    let result = async {
        let workload = prepare(&args)?;
        if let Some(path) = &args.emit_body {
            return emit_body(&workload, path).map(|()| 0);
        }
        if args.verify {
            return verify(&args, &workload).await;
        }
        let report = measure_prepared(&args, workload).await?;
        print_report(&report, args.output);
        Ok(if report.errors.is_empty() { 0 } else { 3 })
    }
    .await;
    result.unwrap_or_else(|error: String| {
        eprintln!("error: {error}");
        1
    })
}

/// Runs the load `args` describe (seeding first if asked) and reports what it measured.
pub async fn measure(args: &LoadtestArgs) -> Result<Report, String> {
    let workload = prepare(args)?;
    measure_prepared(args, workload).await
}

/// Checks the arguments and builds the workload (minting its tokens).
fn prepare(args: &LoadtestArgs) -> Result<Arc<Workload>, String> {
    for (flag, share) in [
        ("miss-share", args.miss_share),
        ("deny-share", args.deny_share),
        ("write-share", args.write_share),
    ] {
        if !(0.0..=1.0).contains(&share) {
            return Err(format!("--{flag}: {share} is not between 0 and 1"));
        }
    }
    if args
        .rate
        .is_some_and(|rate| !(rate > 0.0 && rate.is_finite()))
    {
        return Err("--rate: must be a positive number of requests per second".into());
    }
    if args.subjects == 0 {
        return Err("--subjects: at least 1".into());
    }
    let needs_tokens = matches!(
        args.mode,
        Mode::Check | Mode::Envoy | Mode::Mixed | Mode::Invalidation
    );
    let minter = if needs_tokens || args.seed_grants {
        Some(Minter::load(args)?)
    } else {
        None
    };
    let pep_token = minter
        .as_ref()
        .map(|minter| minter.token("loadtest", &[], &["elevator:check"], None))
        .unwrap_or_default();
    let (raw_path, raw_body) = match args.mode {
        Mode::Health => (raw::HEALTH_CHECK_PATH, Bytes::new()),
        Mode::Cerbos => (raw::CERBOS_CHECK_PATH, raw::cerbos_question()),
        _ => ("/", Bytes::new()),
    };
    let subject_tokens = match (&minter, args.mode) {
        (Some(minter), Mode::Envoy) => (0..args.subjects)
            .map(|index| minter.subject(&load_subject(index)))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Arc::new(Workload {
        mode: args.mode,
        subjects: args.subjects,
        grants: args.grants_per_subject,
        miss_share: args.miss_share,
        deny_share: args.deny_share,
        write_share: if args.mode == Mode::Mixed {
            args.write_share
        } else {
            0.0
        },
        pep: bearer(&pep_token),
        pep_token,
        minter,
        subject_tokens,
        raw_path: http::uri::PathAndQuery::from_static(raw_path),
        raw_body,
        run: rand::random::<u32>() as u64,
        writes: AtomicU64::new(0),
    }))
}

/// Writes the mode's request in a gRPC frame to `path`; prints the PEP token it needs.
fn emit_body(workload: &Workload, path: &std::path::Path) -> Result<(), String> {
    let message = match workload.next(&mut StdRng::seed_from_u64(0)) {
        Operation::Check(question) => question.encode_to_vec(),
        Operation::Envoy(question) => question.encode_to_vec(),
        Operation::Raw => workload.raw_body.to_vec(),
        Operation::Write(_) => return Err("--emit-body: mixed runs have no one body".into()),
    };
    std::fs::write(path, raw::grpc_frame(&message))
        .map_err(|error| format!("--emit-body {}: {error}", path.display()))?;
    if !workload.pep_token.is_empty() {
        println!("{}", workload.pep_token);
    }
    Ok(())
}

/// One call with a real client; says what came back.
async fn verify(args: &LoadtestArgs, workload: &Workload) -> Result<u8, String> {
    let channels = connect(&args.target, 1).await?;
    let operation = workload.next(&mut StdRng::seed_from_u64(0));
    Ok(match workload.execute(operation, &channels[0]).await {
        Ok(Outcome::Allowed) => {
            println!("ok: allowed");
            0
        }
        Ok(Outcome::Denied) => {
            println!("ok: denied");
            0
        }
        Ok(Outcome::Done) => {
            println!("ok");
            0
        }
        Err(status) => {
            println!("failed: {:?} {}", status.code(), status.message());
            3
        }
    })
}

async fn measure_prepared(args: &LoadtestArgs, workload: Arc<Workload>) -> Result<Report, String> {
    let channels = connect(&args.target, args.connections).await?;
    if args.seed_grants {
        seed(&workload, &channels, args.quiet).await?;
    }
    if args.mode == Mode::Invalidation {
        return invalidation(args, &workload, &channels).await;
    }
    let warmup = duration("warmup", &args.warmup)?;
    let measured = duration("duration", &args.duration)?;
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + measured;
    let progress = Arc::new(Progress::default());
    let reporter =
        (!args.quiet).then(|| tokio::spawn(report_progress(progress.clone(), started, end)));
    let tally = match args.rate {
        None => {
            closed_loop(
                &workload,
                &channels,
                args.concurrency,
                measure_from,
                end,
                &progress,
            )
            .await
        }
        Some(rate) => {
            open_loop(
                &workload,
                &channels,
                rate,
                args.concurrency,
                started,
                measure_from,
                end,
                &progress,
            )
            .await
        }
    };
    if let Some(reporter) = reporter {
        reporter.abort();
        eprintln!();
    }
    Ok(Report::new(
        ReportHeader {
            mode: format!("{:?}", args.mode).to_lowercase(),
            target: args.target.clone(),
            pacing: if args.rate.is_some() {
                "open"
            } else {
                "closed"
            }
            .into(),
            rate: args.rate,
            concurrency: args.concurrency,
            connections: channels.len(),
        },
        &tally,
        measured,
        args.mode == Mode::Mixed,
    ))
}

fn print_report(report: &Report, output: Output) {
    match output {
        Output::Text => print!("{}", report.text()),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).expect("a report serializes")
        ),
    }
}

/// Counters the progress line reads.
#[derive(Default)]
struct Progress {
    done: AtomicU64,
    errors: AtomicU64,
}

async fn report_progress(progress: Arc<Progress>, started: Instant, end: Instant) {
    use std::io::{IsTerminal, Write};
    let interactive = std::io::stderr().is_terminal();
    let mut last = 0;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let done = progress.done.load(Ordering::Relaxed);
        let line = format!(
            "{:>5.1}s of {:.0}s  {done} done  {}/s  {} errors",
            started.elapsed().as_secs_f64(),
            (end - started).as_secs_f64(),
            done - last,
            progress.errors.load(Ordering::Relaxed)
        );
        last = done;
        let mut stderr = std::io::stderr();
        if interactive {
            let _ = write!(stderr, "\r{line}   ");
        } else {
            let _ = writeln!(stderr, "{line}");
        }
        let _ = stderr.flush();
    }
}

fn count(tally: &mut Tally, write: bool, result: &Result<Outcome, tonic::Status>, took: Duration) {
    match result {
        Ok(outcome) => {
            if write {
                tally.writes.record(took);
            } else {
                tally.reads.record(took);
            }
            match outcome {
                Outcome::Allowed => tally.allowed += 1,
                Outcome::Denied => tally.denied += 1,
                Outcome::Done => {}
            }
        }
        Err(status) => tally.error(status.code()),
    }
}

/// `concurrency` callers, each sending its next request when its last is answered.
async fn closed_loop(
    workload: &Arc<Workload>,
    channels: &[Channel],
    concurrency: usize,
    measure_from: Instant,
    end: Instant,
    progress: &Arc<Progress>,
) -> Tally {
    let mut callers = Vec::with_capacity(concurrency);
    for index in 0..concurrency.max(1) {
        let (workload, progress) = (workload.clone(), progress.clone());
        let channel = channels[index % channels.len()].clone();
        callers.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(index as u64);
            let mut tally = Tally::default();
            while Instant::now() < end {
                let operation = workload.next(&mut rng);
                let write = matches!(operation, Operation::Write(_));
                let sent = Instant::now();
                let result = workload.execute(operation, &channel).await;
                let took = sent.elapsed();
                progress.done.fetch_add(1, Ordering::Relaxed);
                if result.is_err() {
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                }
                if sent >= measure_from && sent < end {
                    count(&mut tally, write, &result, took);
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for caller in callers {
        if let Ok(tally) = caller.await {
            total.merge(&tally);
        }
    }
    total
}

/// Sleeps the calling thread until `at`, with the kernel's timer slack cut to a microsecond
/// (default 50 µs) so that the pacer is late by microseconds, not by a tokio timer tick.
fn sleep_until(at: Instant) {
    loop {
        let now = Instant::now();
        if now >= at {
            return;
        }
        std::thread::sleep(at - now);
    }
}

#[cfg(target_os = "linux")]
fn precise_timers() {
    // SAFETY: changes only this thread's timer slack; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn precise_timers() {}

/// A request every `1 / rate` seconds, whatever the answers do; each latency runs from when
/// its request was due, so a slow answer cannot hide the queueing behind it. The schedule is
/// kept by a thread of its own, sleeping precisely, and each request runs on the runtime. At
/// most `in_flight * 64` wait at once (the pacer then waits for a slot, and the wait shows in
/// the latencies).
#[allow(clippy::too_many_arguments)]
async fn open_loop(
    workload: &Arc<Workload>,
    channels: &[Channel],
    rate: f64,
    in_flight: usize,
    started: Instant,
    measure_from: Instant,
    end: Instant,
    progress: &Arc<Progress>,
) -> Tally {
    const SHARDS: usize = 16;
    let tallies: Arc<Vec<std::sync::Mutex<Tally>>> = Arc::new(
        (0..SHARDS)
            .map(|_| std::sync::Mutex::new(Tally::default()))
            .collect(),
    );
    let slots = Arc::new(Semaphore::new(in_flight.max(1) * 64));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let runtime = tokio::runtime::Handle::current();
    let (workload, progress) = (workload.clone(), progress.clone());
    let channels = channels.to_vec();
    let task_tallies = tallies.clone();
    let pacer = std::thread::spawn(move || {
        precise_timers();
        let mut rng = StdRng::seed_from_u64(0);
        let mut requests = Vec::new();
        for index in 0u64.. {
            let due = started + interval.mul_f64(index as f64);
            if due >= end {
                break;
            }
            sleep_until(due);
            let slot = match slots.clone().try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => match runtime.block_on(slots.clone().acquire_owned()) {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            };
            let operation = workload.next(&mut rng);
            let write = matches!(operation, Operation::Write(_));
            let channel = channels[index as usize % channels.len()].clone();
            let (workload, progress, tallies) =
                (workload.clone(), progress.clone(), task_tallies.clone());
            requests.push(runtime.spawn(async move {
                let result = workload.execute(operation, &channel).await;
                let took = due.elapsed();
                drop(slot);
                progress.done.fetch_add(1, Ordering::Relaxed);
                if result.is_err() {
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                }
                if due >= measure_from {
                    let mut tally = tallies[index as usize % SHARDS]
                        .lock()
                        .expect("a tally lock is never poisoned");
                    count(&mut tally, write, &result, took);
                }
            }));
            if requests.len() >= 4096 {
                requests.retain(|request| !request.is_finished());
            }
        }
        requests
    });
    let requests = tokio::task::spawn_blocking(move || pacer.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    for request in requests {
        let _ = request.await;
    }
    let mut total = Tally::default();
    for tally in tallies.iter() {
        total.merge(&tally.lock().expect("a tally lock is never poisoned"));
    }
    total
}

/// Requests and approves every grant the workload asks about that is not held yet.
async fn seed(workload: &Arc<Workload>, channels: &[Channel], quiet: bool) -> Result<(), String> {
    let minter = workload
        .minter
        .as_ref()
        .ok_or("seeding needs a token minter")?;
    let pending: Vec<(usize, usize)> = (0..workload.subjects)
        .flat_map(|subject| (0..workload.grants).map(move |grant| (subject, grant)))
        .collect();
    let total = pending.len();
    let pending = Arc::new(Mutex::new(pending));
    let seeded = Arc::new(AtomicU64::new(0));
    if !quiet {
        eprintln!("seeding up to {total} grants");
    }
    let mut seeders = Vec::new();
    for index in 0..8 {
        let channel = channels[index % channels.len()].clone();
        let (workload, pending, seeded) = (workload.clone(), pending.clone(), seeded.clone());
        seeders.push(tokio::spawn(async move {
            let minter = workload.minter.as_ref().expect("checked above");
            loop {
                let Some((subject, grant)) = pending.lock().await.pop() else {
                    return Ok::<(), String>(());
                };
                let name = load_subject(subject);
                let held = CheckServiceClient::new(channel.clone())
                    .check(with_token(
                        &workload.pep,
                        pb::CheckRequest {
                            subject: name.clone(),
                            session_id: SESSION.into(),
                            permission: "purchase_orders.approve".into(),
                            resource: format!("{}/PO:1", department(grant)),
                            ..Default::default()
                        },
                    ))
                    .await
                    .map_err(|status| format!("seeding: check: {}", status.message()))?
                    .into_inner()
                    .allowed;
                if !held {
                    request_and_approve(&channel, minter, &name, &department(grant))
                        .await
                        .map_err(|status| {
                            format!(
                                "seeding {name} on {}: {}",
                                department(grant),
                                status.message()
                            )
                        })?;
                    seeded.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for seeder in seeders {
        seeder
            .await
            .map_err(|error| format!("seeding: {error}"))??;
    }
    let _ = minter;
    if !quiet {
        eprintln!(
            "seeded {} grants ({} were held already)",
            seeded.load(Ordering::Relaxed),
            total as u64 - seeded.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

/// Times `--samples` revocations: each grant is revoked through the target, and the clock runs
/// from just before the revoke is sent until the observer's Check denies.
async fn invalidation(
    args: &LoadtestArgs,
    workload: &Arc<Workload>,
    channels: &[Channel],
) -> Result<Report, String> {
    let observer_target = args
        .observer
        .as_deref()
        .ok_or("--mode invalidation needs --observer (another replica's address)")?;
    let observer = connect(observer_target, 1).await?.remove(0);
    let minter = workload.minter.as_ref().ok_or("needs a token minter")?;
    let channel = &channels[0];
    let mut tally = Tally::default();
    let started = Instant::now();
    for sample in 0..args.samples {
        let subject = format!("load-revoked-{:x}-{sample}", workload.run);
        request_and_approve(channel, minter, &subject, &department(0))
            .await
            .map_err(|status| format!("granting {subject}: {}", status.message()))?;
        let question = pb::CheckRequest {
            subject: subject.clone(),
            session_id: SESSION.into(),
            permission: "purchase_orders.approve".into(),
            resource: format!("{}/PO:1", department(0)),
            ..Default::default()
        };
        let ask = |question: pb::CheckRequest| {
            let observer = observer.clone();
            let pep = workload.pep.clone();
            async move {
                CheckServiceClient::new(observer)
                    .check(with_token(&pep, question))
                    .await
                    .map(|answer| answer.into_inner().allowed)
            }
        };
        // The observer must know the grant before its revocation can be timed.
        let waiting = Instant::now();
        while !ask(question.clone())
            .await
            .map_err(|s| s.message().to_owned())?
        {
            if waiting.elapsed() > Duration::from_secs(10) {
                return Err(format!("the observer never saw {subject}'s grant"));
            }
        }
        let token = bearer(&minter.subject(&subject));
        let grants = ElevationServiceClient::new(channel.clone())
            .list_grants(with_token(&token, pb::ListGrantsRequest::default()))
            .await
            .map_err(|status| status.message().to_owned())?
            .into_inner()
            .grants;
        let grant = grants.first().ok_or("the grant is not listed")?.id.clone();
        let sent = Instant::now();
        ElevationServiceClient::new(channel.clone())
            .revoke_grant(with_token(
                &token,
                pb::RevokeGrantRequest {
                    grant_id: grant,
                    reason: "load test".into(),
                },
            ))
            .await
            .map_err(|status| format!("revoking: {}", status.message()))?;
        loop {
            match ask(question.clone()).await {
                Ok(false) => break,
                Ok(true) => {}
                Err(status) => {
                    tally.error(status.code());
                    break;
                }
            }
            if sent.elapsed() > Duration::from_secs(10) {
                tally.error(tonic::Code::DeadlineExceeded);
                break;
            }
        }
        tally.reads.record(sent.elapsed());
    }
    Ok(Report::new(
        ReportHeader {
            mode: "invalidation".into(),
            target: format!("{} -> {observer_target}", args.target),
            pacing: "sequential".into(),
            rate: None,
            concurrency: 1,
            connections: 1,
        },
        &tally,
        started.elapsed(),
        false,
    ))
}
