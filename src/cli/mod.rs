//! The `elevator` command line: `serve` runs the server; `dev-token` mints dev-mode tokens;
//! every other subcommand is a gRPC client for people and scripts. Client subcommands take
//! `--server` (`ELEVATOR_SERVER`), `--token` (`ELEVATOR_TOKEN`) and `--output text|json`.
//! Exit codes: 0 success (for `check`: allowed), 1 `check` denied, 2 any error.

mod client;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;

/// Just-in-time role elevation and delegation: a gRPC authorization decision point.
#[derive(Debug, Parser)]
#[command(name = "elevator", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    client: ClientArgs,
}

/// Options shared by the client subcommands.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The server to talk to.
    #[arg(
        long,
        global = true,
        env = "ELEVATOR_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// For an `https://` server: the CA certificate (PEM) to trust instead of the system's.
    #[arg(long, global = true, env = "ELEVATOR_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// The bearer token to send.
    #[arg(long, global = true, env = "ELEVATOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (dev mode without a database URL).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit (for a deployment job; see `serve --no-migrate`).
    Migrate(MigrateArgs),
    /// Put load on a decision point (elevator, its health check, or Cerbos) and report
    /// throughput and latency percentiles.
    Loadtest(crate::loadtest::LoadtestArgs),
    /// Mint a token signed with dev mode's secret (dev mode only).
    DevToken(DevTokenArgs),
    /// Ask for a role on a scope for a time.
    Request(RequestArgs),
    /// Show one elevation.
    Show {
        /// Elevation id.
        id: String,
    },
    /// List elevations (yours; an admin's: everyone's).
    List(ListArgs),
    /// List the elevations waiting for your approval.
    Pending,
    /// Approve an elevation's current step.
    Approve {
        /// Elevation id.
        id: String,
        /// A comment kept with your vote.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Deny an elevation.
    Deny {
        /// Elevation id.
        id: String,
        /// Why (shown to the requester).
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Ask for more time on an active elevation's grant (approved like the elevation).
    Extend {
        /// Elevation id.
        id: String,
        /// How much longer (e.g. 30m).
        #[arg(long)]
        by: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Pass a role you hold on to someone else, for part of its scope and time.
    Delegate {
        /// Who receives it.
        #[arg(long)]
        to: String,
        /// The role.
        #[arg(long)]
        role: String,
        /// The scope (within yours).
        #[arg(long)]
        scope: String,
        /// How long (never past your own grant's end).
        #[arg(long)]
        duration: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Your grant to delegate from (default: the one that covers the scope).
        #[arg(long)]
        grant: Option<String>,
    },
    /// List delegations you gave (default), received, or that were made from one grant.
    Delegations {
        /// Those you received.
        #[arg(long, conflicts_with = "grant")]
        received: bool,
        /// Those made from this grant, at any depth.
        #[arg(long)]
        grant: Option<String>,
        /// Include ended ones.
        #[arg(long)]
        all: bool,
    },
    /// Take up a delegation you received, in your token's session: until then it allows
    /// nothing; from then on it counts in that session only and ends with it.
    AcceptDelegation {
        /// The delegated grant's id (see `elevator delegations --received`).
        grant_id: String,
    },
    /// See what a request or a Check would do, changing nothing.
    #[command(subcommand)]
    Simulate(SimulateCommand),
    /// Withdraw an elevation that is not active yet.
    Cancel {
        /// Elevation id.
        id: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List grants (yours by default).
    Grants {
        /// Another subject's grants (admins).
        #[arg(long)]
        subject: Option<String>,
        /// Include expired and revoked grants.
        #[arg(long)]
        all: bool,
    },
    /// Give up or revoke a grant.
    Revoke {
        /// Grant id.
        grant_id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// End a login session: revoke every grant bound to it.
    EndSession {
        /// The session (default: your token's sid).
        #[arg(long)]
        session: Option<String>,
        /// Another subject's session (admins).
        #[arg(long)]
        subject: Option<String>,
        /// Why.
        #[arg(long, default_value = "logout")]
        reason: String,
    },
    /// Ask a decision (needs the PEP role). Exit 0 allowed, 1 denied, 2 error.
    Check(CheckArgs),
    /// Read, validate and replace the policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Report risk signals (needs the risk-reporter role).
    #[command(subcommand)]
    Risk(RiskCommand),
    /// Read, export and verify the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// List audit events, oldest first.
    List {
        /// Only about this subject.
        #[arg(long)]
        subject: Option<String>,
        /// Only by this actor.
        #[arg(long)]
        actor: Option<String>,
        /// Only this action (e.g. grant.revoked).
        #[arg(long)]
        action: Option<String>,
        /// Only about this elevation.
        #[arg(long)]
        elevation: Option<String>,
        /// Only about this grant.
        #[arg(long)]
        grant: Option<String>,
        /// From this time (RFC 3339, or a duration ago like 2h).
        #[arg(long)]
        since: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Verify the hash chain (and, with --head, that it still passes through a signed head
    /// exported earlier). Exit 0 intact, 1 broken.
    Verify {
        /// A signed head saved by `elevator audit head`.
        #[arg(long)]
        head: Option<PathBuf>,
    },
    /// Sign the chain head now and print it (JSON) for safekeeping elsewhere.
    Head,
    /// Export every event, oldest first, for a SIEM.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Keep streaming new events as they are appended.
        #[arg(long)]
        follow: bool,
    },
    /// The whole story of a grant: request, approvals, delegations, end.
    Trail {
        /// Grant id.
        grant_id: String,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
}

/// `elevator serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (default 127.0.0.1:50051).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// PostgreSQL URL; without one, dev mode (in-memory, demo policy, dev tokens).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Policy document (YAML).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Configuration file (YAML); see the README for every setting.
    #[arg(long, env = "ELEVATOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Do not apply migrations at start-up: `elevator migrate` (a deployment job) does, and
    /// serving refuses a database that lacks any.
    #[arg(long)]
    pub no_migrate: bool,
}

/// `elevator migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// PostgreSQL URL (or `database_url` in the configuration).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Configuration file (YAML).
    #[arg(long, env = "ELEVATOR_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `elevator dev-token`.
#[derive(Debug, Args)]
pub struct DevTokenArgs {
    /// Subject (user id).
    #[arg(long)]
    pub sub: String,
    /// Groups, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub groups: Vec<String>,
    /// Roles, comma-separated (`elevator:check`, `admin_approver@Org:Procurement`, ...).
    #[arg(long, value_delimiter = ',')]
    pub roles: Vec<String>,
    /// The subject's manager.
    #[arg(long)]
    pub manager: Option<String>,
    /// Login session id.
    #[arg(long)]
    pub sid: Option<String>,
    /// Lifetime (e.g. 8h).
    #[arg(long, default_value = "8h")]
    pub ttl: String,
    /// Dev mode's state directory (default: ~/.local/state/elevator).
    #[arg(long, env = "ELEVATOR_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `elevator request`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The role.
    #[arg(long)]
    pub role: String,
    /// The scope (e.g. Org:Procurement).
    #[arg(long)]
    pub scope: String,
    /// How long (e.g. 2h, 30m).
    #[arg(long)]
    pub duration: String,
    /// Why.
    #[arg(long, default_value = "")]
    pub reason: String,
    /// A ticket reference.
    #[arg(long, default_value = "")]
    pub ticket: String,
    /// Repeat-safe key.
    #[arg(long, default_value = "")]
    pub idempotency_key: String,
    /// Start later: an RFC 3339 time, or a duration from now (e.g. 2h).
    #[arg(long)]
    pub start: Option<String>,
}

/// `elevator simulate request`.
#[derive(Debug, Args)]
pub struct SimulateRequestArgs {
    /// The request.
    #[command(flatten)]
    pub request: RequestArgs,
    /// Assess at this time: RFC 3339, or a duration from now.
    #[arg(long)]
    pub at: Option<String>,
    /// Assess under this risk score instead of the stored signals.
    #[arg(long)]
    pub risk_score: Option<u32>,
    /// With --risk-score: these risk flags, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub risk_flags: Vec<String>,
    /// Assess for another subject (admins).
    #[arg(long)]
    pub as_subject: Option<String>,
    /// With --as-subject: its groups, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub as_groups: Vec<String>,
    /// With --as-subject: its manager.
    #[arg(long)]
    pub as_manager: Option<String>,
    /// With --as-subject: its session.
    #[arg(long)]
    pub as_session: Option<String>,
}

/// `elevator simulate check`.
#[derive(Debug, Args)]
pub struct SimulateCheckArgs {
    /// The question.
    #[command(flatten)]
    pub check: CheckArgs,
    /// Decide at this time: RFC 3339, or a duration from now.
    #[arg(long)]
    pub at: Option<String>,
    /// Decide under this risk score instead of the stored signals.
    #[arg(long)]
    pub risk_score: Option<u32>,
    /// With --risk-score: these risk flags, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub risk_flags: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum SimulateCommand {
    /// What RequestElevation would answer: eligibility, rules, steps, conflicts, window.
    Request(SimulateRequestArgs),
    /// What Check would answer, with every grant and why it did or did not count.
    Check(SimulateCheckArgs),
}

/// `elevator list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this requester's (admins).
    #[arg(long)]
    pub requester: Option<String>,
    /// Only in this state (PENDING, ACTIVE, ...).
    #[arg(long)]
    pub state: Option<String>,
    /// Only for this role.
    #[arg(long)]
    pub role: Option<String>,
    /// Page size.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// `elevator check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The subject acting.
    #[arg(long)]
    pub subject: String,
    /// Its login session.
    #[arg(long, default_value = "")]
    pub session: String,
    /// The permission.
    #[arg(long)]
    pub permission: String,
    /// The resource.
    #[arg(long)]
    pub resource: String,
    /// Demand at least this revision.
    #[arg(long, default_value_t = 0)]
    pub min_revision: u64,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a policy document locally; prints every problem with its place.
    Validate {
        /// The file.
        file: PathBuf,
    },
    /// Print the policy in force.
    Show,
    /// Replace the policy (admins).
    Put {
        /// The file.
        file: PathBuf,
        /// Only if this version is still in force.
        #[arg(long)]
        expected_version: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum RiskCommand {
    /// Report a risk signal.
    Report {
        /// Subject.
        #[arg(long)]
        subject: String,
        /// Session (default: all of the subject's).
        #[arg(long, default_value = "")]
        session: String,
        /// Score 0-100.
        #[arg(long)]
        score: u32,
        /// Flags, comma-separated (vpn, new_device, ...).
        #[arg(long, value_delimiter = ',')]
        flags: Vec<String>,
        /// How long it holds (e.g. 15m).
        #[arg(long, default_value = "15m")]
        ttl: String,
        /// Reporting engine.
        #[arg(long, default_value = "")]
        source: String,
    },
}

/// Exit code for errors.
pub const EXIT_ERROR: u8 = 2;

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        exit_quietly_on_closed_pipe();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    runtime.block_on(run(cli))
}

/// `elevator grants | head` should stop when `head` does, not panic on the closed pipe: the
/// client commands get the default SIGPIPE action back (Rust ignores it). Not for `serve`,
/// whose writes to closed sockets must stay errors.
fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called before any thread is started, restoring the default disposition of one
    // signal; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Loadtest(mut args) => {
            args.target = cli.client.server;
            args.output = match cli.client.output {
                OutputFormat::Text => crate::loadtest::Output::Text,
                OutputFormat::Json => crate::loadtest::Output::Json,
            };
            ExitCode::from(crate::loadtest::run(args).await)
        }
        Command::DevToken(args) => client::dev_token(args),
        command => client::run(command, cli.client).await,
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    // The configuration first: it says how to log.
    let mut config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let tracing = match crate::telemetry::init_tracing(config.log.format) {
        Ok(tracing) => tracing,
        Err(error) => {
            eprintln!("error: setting up tracing: {error:#}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(url) = args.database_url {
        config.database_url = Some(url);
    }
    if let Some(policy) = args.policy {
        config.policy_file = Some(policy);
    }
    if args.no_migrate {
        config.database.migrate_on_start = false;
    }
    let served =
        match crate::server::Server::build(config, std::sync::Arc::new(crate::clock::SystemClock))
            .await
        {
            Ok(server) => server.run(shutdown_signal()).await,
            Err(error) => Err(error),
        };
    // Spans still batched are exported before exit; the flush blocks, so not on a worker.
    let _ = tokio::task::spawn_blocking(move || tracing.shutdown()).await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

async fn migrate(args: MigrateArgs) -> ExitCode {
    // Progress to standard error; the outcome, on standard output, is for scripts.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a Job's log or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    if let Some(url) = args.database_url {
        config.database_url = Some(url);
    }
    match crate::server::migrate_database(&config).await {
        Ok(applied) if applied.is_empty() => {
            println!("the database schema is current");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            println!("applied {}", applied.join(", "));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
