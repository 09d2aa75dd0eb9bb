//! The policy subcommands: `policy validate` (locally, no server), `policy show`, `policy put`.

use std::path::Path;
use std::process::ExitCode;

use super::super::EXIT_ERROR;
use super::super::client::{Client, Failure};
use super::super::output::Printer;
use crate::proto::v1 as pb;

/// `elevator policy validate`: every problem of the document, with its place.
pub(in super::super) fn validate_locally(file: &Path, printer: &Printer) -> ExitCode {
    let source = match std::fs::read_to_string(file) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("error: reading {}: {error}", file.display());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match crate::policy::Policy::parse(&source, 0) {
        Ok(_) => {
            printer.policy_valid(file);
            ExitCode::SUCCESS
        }
        Err(problems) => {
            printer.policy_problems(file, &problems.0);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `elevator policy show`.
pub(super) async fn show(client: &Client, printer: &Printer) -> Result<ExitCode, Failure> {
    let response = client
        .policies()
        .get_policy(client.request(pb::GetPolicyRequest {}))
        .await?
        .into_inner();
    printer.policy(&response);
    Ok(ExitCode::SUCCESS)
}

/// `elevator policy put`.
pub(super) async fn put(
    client: &Client,
    printer: &Printer,
    file: &Path,
    expected_version: Option<u64>,
) -> Result<ExitCode, Failure> {
    let source = std::fs::read_to_string(file)
        .map_err(|error| Failure::Usage(format!("reading {}: {error}", file.display())))?;
    let response = client
        .policies()
        .put_policy(client.request(pb::PutPolicyRequest {
            source,
            expected_version: expected_version.unwrap_or(0),
        }))
        .await?
        .into_inner();
    printer.policy_put(&response);
    Ok(ExitCode::SUCCESS)
}
