//! One-shot uses of a workload instead of a run: `--emit-body` writes its request for a tool
//! that sends a fixed body, `--verify` makes one call with a real client and says what came
//! back.

use prost::Message;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::args::LoadtestArgs;
use super::raw;
use super::run::connect;
use super::workload::{Operation, Outcome, Workload};

/// Writes the mode's request in a gRPC frame to `path`; prints the PEP token it needs.
pub(super) fn emit_body(workload: &Workload, path: &std::path::Path) -> Result<(), String> {
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
pub(super) async fn verify(args: &LoadtestArgs, workload: &Workload) -> Result<u8, String> {
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
