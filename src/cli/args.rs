//! The command line's grammar: every subcommand, its flags and their help text, as clap
//! types. Nothing here runs anything; `super::run` dispatches on [`Command`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) use super::oversight_args::{BreakGlassCommand, ReviewsCommand};

/// Just-in-time role elevation and delegation: a gRPC authorization decision point.
#[derive(Debug, Parser)]
#[command(name = "elevator", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) client: ClientArgs,
}

/// Options shared by the client subcommands.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClientArgs {
    /// The server to talk to.
    #[arg(
        long,
        global = true,
        env = "ELEVATOR_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub(crate) server: String,
    /// For an `https://` server: the CA certificate (PEM) to trust instead of the system's.
    #[arg(long, global = true, env = "ELEVATOR_CA_FILE")]
    pub(crate) ca_file: Option<std::path::PathBuf>,
    /// The bearer token to send.
    #[arg(long, global = true, env = "ELEVATOR_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the server (dev mode without a database URL).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit (for a deployment job; see `serve --no-migrate`).
    Migrate(MigrateArgs),
    /// Mint a token signed with dev mode's secret (dev mode only).
    DevToken(DevTokenArgs),
    // Every other subcommand is a client of a running server (`policy validate` excepted: it
    // reads a file).
    #[command(flatten)]
    Client(ClientCommand),
}

/// The subcommands that talk to a running server.
#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
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
    Delegate(DelegateArgs),
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
    /// Manage the stored directory of subjects and resources.
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Report risk signals (needs the risk-reporter role).
    #[command(subcommand)]
    Risk(RiskCommand),
    /// Read, export and verify the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Emergency access without approval, and the review each use owes afterwards.
    #[command(subcommand)]
    BreakGlass(BreakGlassCommand),
    /// Access review campaigns: start, list, review, export signed evidence.
    #[command(subcommand)]
    Reviews(ReviewsCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
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
        /// Signed review evidence written by `elevator reviews export`: checks its signature
        /// and the audit head it was taken at (and, with --csv, the CSV it came with).
        #[arg(long, conflicts_with = "head")]
        evidence: Option<PathBuf>,
        /// The CSV exported with --evidence.
        #[arg(long, requires = "evidence")]
        csv: Option<PathBuf>,
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
pub(crate) enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
}

/// `elevator serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Listen address (default 127.0.0.1:50051).
    #[arg(long)]
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// The PEP-facing HTTP address for AuthZEN (default: none).
    #[arg(long)]
    pub(crate) http_listen: Option<std::net::SocketAddr>,
    /// PostgreSQL URL; without one, dev mode (in-memory, demo policy, dev tokens).
    #[arg(long)]
    pub(crate) database_url: Option<String>,
    /// Policy document (YAML).
    #[arg(long)]
    pub(crate) policy: Option<PathBuf>,
    /// Configuration file (YAML); see the README for every setting.
    #[arg(long, env = "ELEVATOR_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Do not apply migrations at start-up: `elevator migrate` (a deployment job) does, and
    /// serving refuses a database that lacks any.
    #[arg(long)]
    pub(crate) no_migrate: bool,
}

/// `elevator migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// PostgreSQL URL (or `database_url` in the configuration).
    #[arg(long)]
    pub(crate) database_url: Option<String>,
    /// Configuration file (YAML).
    #[arg(long, env = "ELEVATOR_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

/// `elevator dev-token`.
#[derive(Debug, Args)]
pub(crate) struct DevTokenArgs {
    /// Subject (user id).
    #[arg(long)]
    pub(crate) sub: String,
    /// Groups, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub(crate) groups: Vec<String>,
    /// Roles, comma-separated (`elevator:check`, `admin_approver@Org:Procurement`, ...).
    #[arg(long, value_delimiter = ',')]
    pub(crate) roles: Vec<String>,
    /// The subject's manager.
    #[arg(long)]
    pub(crate) manager: Option<String>,
    /// Login session id.
    #[arg(long)]
    pub(crate) sid: Option<String>,
    /// Lifetime (e.g. 8h).
    #[arg(long, default_value = "8h")]
    pub(crate) ttl: String,
    /// Dev mode's state directory (default: ~/.local/state/elevator).
    #[arg(long, env = "ELEVATOR_STATE_DIR")]
    pub(crate) state_dir: Option<PathBuf>,
}

/// `elevator request`.
#[derive(Debug, Args)]
pub(crate) struct RequestArgs {
    /// The role.
    #[arg(long)]
    pub(crate) role: String,
    /// The scope (e.g. Org:Procurement).
    #[arg(long)]
    pub(crate) scope: String,
    /// How long (e.g. 2h, 30m).
    #[arg(long)]
    pub(crate) duration: String,
    /// Why.
    #[arg(long, default_value = "")]
    pub(crate) reason: String,
    /// A ticket reference.
    #[arg(long, default_value = "")]
    pub(crate) ticket: String,
    /// Repeat-safe key.
    #[arg(long, default_value = "")]
    pub(crate) idempotency_key: String,
    /// Start later: an RFC 3339 time, or a duration from now (e.g. 2h).
    #[arg(long)]
    pub(crate) start: Option<String>,
}

/// `elevator simulate request`.
#[derive(Debug, Args)]
pub(crate) struct SimulateRequestArgs {
    /// The request.
    #[command(flatten)]
    pub(crate) request: RequestArgs,
    /// The time and risk to assess under.
    #[command(flatten)]
    pub(crate) overrides: SimulationOverrides,
    /// Assess for another subject (admins).
    #[arg(long)]
    pub(crate) as_subject: Option<String>,
    /// With --as-subject: its groups, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub(crate) as_groups: Vec<String>,
    /// With --as-subject: its manager.
    #[arg(long)]
    pub(crate) as_manager: Option<String>,
    /// With --as-subject: its session.
    #[arg(long)]
    pub(crate) as_session: Option<String>,
}

/// `elevator simulate check`.
#[derive(Debug, Args)]
pub(crate) struct SimulateCheckArgs {
    /// The question.
    #[command(flatten)]
    pub(crate) check: CheckArgs,
    /// The time and risk to decide under.
    #[command(flatten)]
    pub(crate) overrides: SimulationOverrides,
}

/// What `simulate request` and `simulate check` may assume instead of now and the stored risk
/// signals.
#[derive(Debug, Args)]
pub(crate) struct SimulationOverrides {
    /// Assess or decide at this time: RFC 3339, or a duration from now.
    #[arg(long)]
    pub(crate) at: Option<String>,
    /// Assess or decide under this risk score instead of the stored signals.
    #[arg(long)]
    pub(crate) risk_score: Option<u32>,
    /// With --risk-score: these risk flags, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub(crate) risk_flags: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SimulateCommand {
    /// What RequestElevation would answer: eligibility, rules, steps, conflicts, window.
    Request(SimulateRequestArgs),
    /// What Check would answer, with every grant and why it did or did not count.
    Check(SimulateCheckArgs),
}

/// `elevator list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only this requester's (admins).
    #[arg(long)]
    pub(crate) requester: Option<String>,
    /// Only in this state (PENDING, ACTIVE, ...).
    #[arg(long)]
    pub(crate) state: Option<String>,
    /// Only for this role.
    #[arg(long)]
    pub(crate) role: Option<String>,
    /// Page size.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: u32,
}

/// `elevator check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The subject acting.
    #[arg(long)]
    pub(crate) subject: String,
    /// Its login session.
    #[arg(long, default_value = "")]
    pub(crate) session: String,
    /// The permission.
    #[arg(long)]
    pub(crate) permission: String,
    /// The resource.
    #[arg(long)]
    pub(crate) resource: String,
    /// Demand at least this revision.
    #[arg(long, default_value_t = 0)]
    pub(crate) min_revision: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
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
pub(crate) enum DirectoryCommand {
    /// Create or replace one entity (admins), from a YAML or JSON file holding it.
    Put {
        /// The file.
        file: PathBuf,
    },
    /// Delete an entity (admins).
    Delete {
        /// Its type.
        entity_type: String,
        /// Its id or one of its aliases.
        id: String,
    },
    /// Print an entity.
    Get {
        /// Its type.
        entity_type: String,
        /// Its id or one of its aliases.
        id: String,
    },
    /// List entities, by type then id.
    List {
        /// Only this type.
        #[arg(long = "type")]
        entity_type: Option<String>,
        /// At most this many per page.
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        /// Every page, not only the first.
        #[arg(long)]
        all: bool,
    },
    /// Import every entity of a YAML or JSON file at once, all or nothing (admins). The file is
    /// a list of entities, or a document whose `directory` (or `entities`) is that list.
    Import {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RiskCommand {
    /// Report a risk signal.
    Report(RiskReportArgs),
}

/// `elevator delegate`.
#[derive(Debug, Args)]
pub(crate) struct DelegateArgs {
    /// Who receives it.
    #[arg(long)]
    pub(crate) to: String,
    /// The role.
    #[arg(long)]
    pub(crate) role: String,
    /// The scope (within yours).
    #[arg(long)]
    pub(crate) scope: String,
    /// How long (never past your own grant's end).
    #[arg(long)]
    pub(crate) duration: String,
    /// Why.
    #[arg(long)]
    pub(crate) reason: String,
    /// Your grant to delegate from (default: the one that covers the scope).
    #[arg(long)]
    pub(crate) grant: Option<String>,
}

/// `elevator risk report`.
#[derive(Debug, Args)]
pub(crate) struct RiskReportArgs {
    /// Subject.
    #[arg(long)]
    pub(crate) subject: String,
    /// Session (default: all of the subject's).
    #[arg(long, default_value = "")]
    pub(crate) session: String,
    /// Score 0-100.
    #[arg(long)]
    pub(crate) score: u32,
    /// Flags, comma-separated (vpn, new_device, ...).
    #[arg(long, value_delimiter = ',')]
    pub(crate) flags: Vec<String>,
    /// How long it holds (e.g. 15m).
    #[arg(long, default_value = "15m")]
    pub(crate) ttl: String,
    /// Reporting engine.
    #[arg(long, default_value = "")]
    pub(crate) source: String,
}
