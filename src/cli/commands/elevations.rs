//! The subcommands about one's elevations: `request`, `show`, `list`, `cancel`, `extend`.

use std::process::ExitCode;

use super::super::args::{ListArgs, RequestArgs};
use super::super::client::{Client, Failure, duration, instant};
use super::super::output::Printer;
use super::print_change;
use crate::domain::{ElevationState, Toward};
use crate::proto::v1 as pb;

/// The RequestElevation message `args` describe (also what `simulate request` asks about).
pub(super) fn request_message(args: RequestArgs) -> Result<pb::RequestElevationRequest, Failure> {
    Ok(pb::RequestElevationRequest {
        role: args.role,
        scope: args.scope,
        duration: Some(duration("--duration", &args.duration)?),
        reason: args.reason,
        ticket: args.ticket,
        idempotency_key: args.idempotency_key,
        not_before: args
            .start
            .as_deref()
            .map(|start| instant("--start", start, Toward::Future))
            .transpose()?,
    })
}

/// `elevator request`.
pub(super) async fn request(
    client: &Client,
    printer: &Printer,
    args: RequestArgs,
) -> Result<ExitCode, Failure> {
    let response = client
        .elevations()
        .request_elevation(client.request(request_message(args)?))
        .await?
        .into_inner();
    print_change(printer, &response)
}

/// `elevator show`.
pub(super) async fn show(
    client: &Client,
    printer: &Printer,
    id: String,
) -> Result<ExitCode, Failure> {
    let response = client
        .elevations()
        .get_elevation(client.request(pb::GetElevationRequest { id }))
        .await?
        .into_inner();
    printer.elevation_with_grant(response.elevation.as_ref(), None, 0);
    Ok(ExitCode::SUCCESS)
}

/// The `--state` filter as the protocol's enum; unspecified without one.
fn state_filter(text: Option<&str>) -> Result<pb::ElevationState, Failure> {
    let Some(text) = text else {
        return Ok(pb::ElevationState::Unspecified);
    };
    let state = ElevationState::parse(&text.to_uppercase())
        .ok_or_else(|| Failure::Usage(format!("--state: {text:?} is not a state")))?;
    Ok(
        pb::ElevationState::from_str_name(&format!("ELEVATION_STATE_{}", state.as_str()))
            .unwrap_or_default(),
    )
}

/// `elevator list`.
pub(super) async fn list(
    client: &Client,
    printer: &Printer,
    args: ListArgs,
) -> Result<ExitCode, Failure> {
    let state = state_filter(args.state.as_deref())?;
    let response = client
        .elevations()
        .list_elevations(client.request(pb::ListElevationsRequest {
            requester: args.requester.unwrap_or_default(),
            state: state as i32,
            role: args.role.unwrap_or_default(),
            page_size: args.limit,
            page_token: String::new(),
        }))
        .await?
        .into_inner();
    printer.elevations(&response.elevations);
    Ok(ExitCode::SUCCESS)
}

/// `elevator cancel`.
pub(super) async fn cancel(
    client: &Client,
    printer: &Printer,
    id: String,
    reason: String,
) -> Result<ExitCode, Failure> {
    let response = client
        .elevations()
        .cancel_elevation(client.request(pb::CancelElevationRequest { id, reason }))
        .await?
        .into_inner();
    print_change(printer, &response)
}

/// `elevator extend`.
pub(super) async fn extend(
    client: &Client,
    printer: &Printer,
    id: String,
    by: &str,
    reason: String,
) -> Result<ExitCode, Failure> {
    let response = client
        .elevations()
        .extend_elevation(client.request(pb::ExtendElevationRequest {
            id,
            extension: Some(duration("--by", by)?),
            reason,
            idempotency_key: String::new(),
        }))
        .await?
        .into_inner();
    print_change(printer, &response)
}
