//! The `elevator` command line: `serve` runs the server; `dev-token` mints dev-mode tokens;
//! every other subcommand is a gRPC client for people and scripts. Client subcommands take
//! `--server` (`ELEVATOR_SERVER`), `--token` (`ELEVATOR_TOKEN`) and `--output text|json`.
//! Exit codes: 0 success (for `check`: allowed), 1 `check` denied, 2 any error. The load
//! generator is a binary of its own, `elevator-loadtest` (see `crate::loadtest`).

mod args;
mod client;
mod commands;
mod dev_token;
mod output;
mod oversight_args;
mod serve;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Exit code for errors.
const EXIT_ERROR: u8 = 2;

/// Runs the `elevator` command line: parses the arguments, runs one subcommand on a fresh
/// runtime, and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        exit_quietly_on_closed_pipe();
    }
    let Some(runtime) = start_runtime() else {
        return ExitCode::from(EXIT_ERROR);
    };
    runtime.block_on(run(cli))
}

/// The multi-threaded runtime `elevator` and `elevator-loadtest` run on; `None` (the reason
/// already written to stderr) when it cannot start, each binary exiting with its own code.
pub fn start_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .inspect_err(|error| eprintln!("error: cannot start the runtime: {error}"))
        .ok()
}

/// `elevator grants | head` should stop when `head` does, not panic on the closed pipe: the
/// client commands (and `elevator-loadtest`) get the default SIGPIPE action back (Rust ignores
/// it). Not for `serve`, whose writes to closed sockets must stay errors.
#[expect(
    unsafe_code,
    reason = "restoring a signal's default action is a libc call"
)]
pub fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called before any thread is started, restoring the default disposition of one
    // signal; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Migrate(args) => serve::migrate(args).await,
        Command::DevToken(args) => dev_token::dev_token(args),
        Command::Client(command) => client::run(command, cli.client).await,
    }
}
