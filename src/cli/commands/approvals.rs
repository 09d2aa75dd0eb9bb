//! The approver's subcommands: `pending`, `approve`, `deny`.

use std::process::ExitCode;

use super::super::client::{Client, Failure};
use super::super::output::Printer;
use super::print_change;
use crate::proto::v1 as pb;

/// `elevator pending`.
pub(super) async fn pending(client: &Client, printer: &Printer) -> Result<ExitCode, Failure> {
    let response = client
        .approvals()
        .list_pending_approvals(client.request(pb::ListPendingApprovalsRequest::default()))
        .await?
        .into_inner();
    printer.elevations(&response.elevations);
    Ok(ExitCode::SUCCESS)
}

/// `elevator approve`.
pub(super) async fn approve(
    client: &Client,
    printer: &Printer,
    elevation_id: String,
    comment: String,
) -> Result<ExitCode, Failure> {
    let response = client
        .approvals()
        .approve(client.request(pb::ApproveRequest {
            elevation_id,
            comment,
            idempotency_key: String::new(),
        }))
        .await?
        .into_inner();
    print_change(printer, &response)
}

/// `elevator deny`.
pub(super) async fn deny(
    client: &Client,
    printer: &Printer,
    elevation_id: String,
    comment: String,
) -> Result<ExitCode, Failure> {
    let response = client
        .approvals()
        .deny(client.request(pb::DenyRequest {
            elevation_id,
            comment,
            idempotency_key: String::new(),
        }))
        .await?
        .into_inner();
    print_change(printer, &response)
}
