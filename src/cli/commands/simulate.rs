//! `elevator simulate request` and `simulate check`: what the server would answer, changing
//! nothing. Exit 0 when the request would be eligible or the Check allowed, 1 otherwise.

use std::process::ExitCode;

use super::super::args::{SimulateCheckArgs, SimulateRequestArgs, SimulationOverrides};
use super::super::client::{Client, Failure, instant, yes_or_no};
use super::super::output::Printer;
use super::check::check_message;
use super::elevations::request_message;
use crate::domain::Toward;
use crate::proto::v1 as pb;

/// The risk score and flags to assume, when a score was given.
fn risk(overrides: &SimulationOverrides) -> Option<pb::RiskOverride> {
    overrides.risk_score.map(|score| pb::RiskOverride {
        score,
        flags: overrides.risk_flags.clone(),
    })
}

/// The time to assume, when one was given.
fn at(overrides: &SimulationOverrides) -> Result<Option<prost_types::Timestamp>, Failure> {
    overrides
        .at
        .as_deref()
        .map(|at| instant("--at", at, Toward::Future))
        .transpose()
}

/// `elevator simulate request`.
pub(super) async fn request(
    client: &Client,
    printer: &Printer,
    args: SimulateRequestArgs,
) -> Result<ExitCode, Failure> {
    let requester = args.as_subject.map(|subject| pb::SimulatedRequester {
        subject,
        groups: args.as_groups,
        manager: args.as_manager.unwrap_or_default(),
        session_id: args.as_session.unwrap_or_default(),
    });
    let response = client
        .elevations()
        .simulate_elevation(client.request(pb::SimulateElevationRequest {
            request: Some(request_message(args.request)?),
            at: at(&args.overrides)?,
            risk: risk(&args.overrides),
            requester,
        }))
        .await?
        .into_inner();
    printer.request_simulation(&response);
    Ok(yes_or_no(response.eligible))
}

/// `elevator simulate check`.
pub(super) async fn check(
    client: &Client,
    printer: &Printer,
    args: SimulateCheckArgs,
) -> Result<ExitCode, Failure> {
    let response = client
        .checks()
        .simulate_check(client.request(pb::SimulateCheckRequest {
            check: Some(check_message(args.check)),
            at: at(&args.overrides)?,
            risk: risk(&args.overrides),
        }))
        .await?
        .into_inner();
    printer.check_simulation(&response);
    let allowed = response.decision.as_ref().is_some_and(|d| d.allowed);
    Ok(yes_or_no(allowed))
}
