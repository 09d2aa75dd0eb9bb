//! One function per client subcommand, grouped by what they act on; [`execute`] picks the
//! one a parsed [`ClientCommand`] names.

mod approvals;
mod audit;
mod break_glass;
mod check;
mod delegations;
mod directory;
mod elevations;
mod grants;
mod policy;
mod reviews;
mod simulate;

use std::process::ExitCode;

use super::args::{ClientCommand, PolicyCommand, RiskCommand, SimulateCommand};
use super::client::{Client, Failure};
use super::output::Printer;
use crate::proto::v1 as pb;

pub(super) use policy::validate_locally;

/// Runs `command` against the server `client` is connected to.
pub(super) async fn execute(
    command: ClientCommand,
    client: &Client,
    printer: &Printer,
) -> Result<ExitCode, Failure> {
    match command {
        ClientCommand::Request(args) => elevations::request(client, printer, args).await,
        ClientCommand::Show { id } => elevations::show(client, printer, id).await,
        ClientCommand::List(args) => elevations::list(client, printer, args).await,
        ClientCommand::Cancel { id, reason } => {
            elevations::cancel(client, printer, id, reason).await
        }
        ClientCommand::Extend { id, by, reason } => {
            elevations::extend(client, printer, id, &by, reason).await
        }
        ClientCommand::Pending => approvals::pending(client, printer).await,
        ClientCommand::Approve { id, comment } => {
            approvals::approve(client, printer, id, comment).await
        }
        ClientCommand::Deny { id, comment } => approvals::deny(client, printer, id, comment).await,
        ClientCommand::Grants { subject, all } => grants::list(client, printer, subject, all).await,
        ClientCommand::Revoke { grant_id, reason } => {
            grants::revoke(client, printer, grant_id, reason).await
        }
        ClientCommand::EndSession {
            session,
            subject,
            reason,
        } => grants::end_session(client, printer, session, subject, reason).await,
        ClientCommand::Delegate(args) => delegations::delegate(client, printer, args).await,
        ClientCommand::Delegations {
            received,
            grant,
            all,
        } => delegations::list(client, printer, received, grant, all).await,
        ClientCommand::AcceptDelegation { grant_id } => {
            delegations::accept(client, printer, grant_id).await
        }
        ClientCommand::Simulate(SimulateCommand::Request(args)) => {
            simulate::request(client, printer, args).await
        }
        ClientCommand::Simulate(SimulateCommand::Check(args)) => {
            simulate::check(client, printer, args).await
        }
        ClientCommand::Check(args) => check::check(client, printer, args).await,
        ClientCommand::Risk(RiskCommand::Report(args)) => {
            check::report_risk(client, printer, args).await
        }
        ClientCommand::Policy(PolicyCommand::Validate { .. }) => unreachable!("validated locally"),
        ClientCommand::Policy(PolicyCommand::Show) => policy::show(client, printer).await,
        ClientCommand::Policy(PolicyCommand::Put {
            file,
            expected_version,
        }) => policy::put(client, printer, &file, expected_version).await,
        ClientCommand::Audit(command) => audit::run(client, printer, command).await,
        ClientCommand::Directory(command) => directory::run(client, printer, command).await,
        ClientCommand::BreakGlass(command) => break_glass::run(client, printer, command).await,
        ClientCommand::Reviews(command) => reviews::run(client, printer, command).await,
    }
}

/// The answer to a write on an elevation: the elevation as it now is, the grant the write made
/// (none unless the write can make one) and the revision it committed at.
trait ElevationChange {
    fn elevation(&self) -> Option<&pb::Elevation>;
    fn grant(&self) -> Option<&pb::Grant> {
        None
    }
    fn revision(&self) -> u64;
}

/// Implements [`ElevationChange`] for an answer with `elevation` and `revision` fields, and
/// the grant field named after it, for answers that have one.
macro_rules! elevation_change {
    ($response:ty $(, $grant:ident)?) => {
        impl ElevationChange for $response {
            fn elevation(&self) -> Option<&pb::Elevation> {
                self.elevation.as_ref()
            }
            $(fn grant(&self) -> Option<&pb::Grant> {
                self.$grant.as_ref()
            })?
            fn revision(&self) -> u64 {
                self.revision
            }
        }
    };
}

elevation_change!(pb::RequestElevationResponse, grant);
elevation_change!(pb::ApproveResponse, grant);
elevation_change!(pb::DelegateResponse, grant);
elevation_change!(pb::ExtendElevationResponse, grant);
elevation_change!(pb::DenyResponse);
elevation_change!(pb::CancelElevationResponse);

/// Prints the elevation a write changed, with the grant it made, and reports success.
fn print_change(printer: &Printer, change: &impl ElevationChange) -> Result<ExitCode, Failure> {
    printer.elevation_with_grant(change.elevation(), change.grant(), change.revision());
    Ok(ExitCode::SUCCESS)
}
