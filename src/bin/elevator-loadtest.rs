//! The `elevator-loadtest` binary: puts load on a decision point (elevator, its health check,
//! or Cerbos) and reports throughput and latency percentiles. Everything lives in the library;
//! see `elevator::loadtest`.

use std::process::ExitCode;

use clap::Parser;
use elevator::loadtest::LoadtestArgs;

/// mimalloc, as in the server: the generator allocates per request, and its own allocator must
/// not be what a run measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Put load on a decision point (elevator, its health check, or Cerbos) and report throughput
/// and latency percentiles.
#[derive(Debug, Parser)]
#[command(name = "elevator-loadtest", version)]
struct Cli {
    #[command(flatten)]
    args: LoadtestArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    elevator::cli::exit_quietly_on_closed_pipe();
    let Some(runtime) = elevator::cli::start_runtime() else {
        return ExitCode::from(1);
    };
    ExitCode::from(runtime.block_on(elevator::loadtest::run(cli.args)))
}
