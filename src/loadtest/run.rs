//! A whole run from its arguments: build the workload, then emit its body, verify the target,
//! or connect, seed if asked, measure, and print the report.

use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use super::args::{LoadtestArgs, Mode, Output};
use super::invalidation::invalidation;
use super::pacing::drive;
use super::probe::{emit_body, verify};
use super::report::Report;
use super::workload::{Workload, prepare};
use super::writes::seed;

/// Runs `elevator-loadtest`; returns the process exit code (0, 1 on a usage or set-up error,
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

async fn measure_prepared(args: &LoadtestArgs, workload: Arc<Workload>) -> Result<Report, String> {
    let channels = connect(&args.target, args.connections).await?;
    if args.seed_grants {
        seed(&workload, &channels, args.quiet).await?;
    }
    if args.mode == Mode::Invalidation {
        return invalidation(args, &workload, &channels).await;
    }
    drive(args, &workload, &channels).await
}

fn print_report(report: &Report, output: Output) {
    match output {
        Output::Text => print!("{}", report.text()),
        Output::Json => println!(
            "{}",
            // Plain numbers, strings and maps: serializing cannot fail.
            serde_json::to_string_pretty(report).expect("a report serializes")
        ),
    }
}

/// `connections` HTTP/2 connections to `target`.
pub(super) async fn connect(target: &str, connections: usize) -> Result<Vec<Channel>, String> {
    let endpoint = Endpoint::from_shared(target.to_owned())
        .map_err(|error| format!("--server {target:?}: {error}"))?
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
