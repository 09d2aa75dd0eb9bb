//! The delegation subcommands: `delegate`, `delegations`, `accept-delegation`.

use std::process::ExitCode;

use super::super::args::DelegateArgs;
use super::super::client::{Client, Failure, duration};
use super::super::output::Printer;
use super::print_change;
use crate::proto::v1 as pb;

/// `elevator delegate`.
pub(super) async fn delegate(
    client: &Client,
    printer: &Printer,
    terms: DelegateArgs,
) -> Result<ExitCode, Failure> {
    let response = client
        .elevations()
        .delegate(client.request(pb::DelegateRequest {
            delegatee: terms.to,
            role: terms.role,
            scope: terms.scope,
            duration: Some(duration("--duration", &terms.duration)?),
            reason: terms.reason,
            source_grant_id: terms.grant.unwrap_or_default(),
            idempotency_key: String::new(),
        }))
        .await?
        .into_inner();
    print_change(printer, &response)
}

/// `elevator delegations`: those given (default), received, or made from one grant.
pub(super) async fn list(
    client: &Client,
    printer: &Printer,
    received: bool,
    grant: Option<String>,
    include_ended: bool,
) -> Result<ExitCode, Failure> {
    let view = match (&grant, received) {
        (Some(_), _) => pb::DelegationView::FromGrant,
        (None, true) => pb::DelegationView::Received,
        (None, false) => pb::DelegationView::Given,
    };
    let response = client
        .elevations()
        .list_delegations(client.request(pb::ListDelegationsRequest {
            view: view as i32,
            grant_id: grant.unwrap_or_default(),
            subject: String::new(),
            include_ended,
        }))
        .await?
        .into_inner();
    printer.delegations(&response.grants);
    Ok(ExitCode::SUCCESS)
}

/// `elevator accept-delegation`.
pub(super) async fn accept(
    client: &Client,
    printer: &Printer,
    grant_id: String,
) -> Result<ExitCode, Failure> {
    let response = client
        .elevations()
        .accept_delegation(client.request(pb::AcceptDelegationRequest { grant_id }))
        .await?
        .into_inner();
    printer.accepted(response.grant.as_ref(), response.revision);
    Ok(ExitCode::SUCCESS)
}
