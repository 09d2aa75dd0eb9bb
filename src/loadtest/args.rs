//! The load generator's command line: what to drive, how hard, for how long, and with which
//! tokens, as clap types.

use std::path::PathBuf;

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people.
    #[default]
    Text,
    /// For scripts.
    Json,
}

/// The command line of `elevator-loadtest`.
#[derive(Debug, clap::Args)]
pub struct LoadtestArgs {
    /// The server to load (for `cerbos`, Cerbos' gRPC address).
    #[arg(
        long = "server",
        value_name = "URL",
        env = "ELEVATOR_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
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
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = Output::Text)]
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
