//! One function per client subcommand, grouped by what they act on; [`execute`] picks the
//! one a parsed [`Command`] names.

mod approvals;
mod audit;
mod check;
mod delegations;
mod elevations;
mod grants;
mod policy;
mod simulate;

use std::process::ExitCode;

use super::args::{Command, PolicyCommand, RiskCommand, SimulateCommand};
use super::client::{Client, Failure};
use super::output::Printer;

pub(super) use policy::validate_locally;

/// Runs `command` against the server `client` is connected to.
pub(super) async fn execute(
    command: Command,
    client: &Client,
    printer: &Printer,
) -> Result<ExitCode, Failure> {
    match command {
        Command::Serve(_) | Command::Migrate(_) | Command::DevToken(_) => {
            unreachable!("handled before connecting")
        }
        Command::Request(args) => elevations::request(client, printer, args).await,
        Command::Show { id } => elevations::show(client, printer, id).await,
        Command::List(args) => elevations::list(client, printer, args).await,
        Command::Cancel { id, reason } => elevations::cancel(client, printer, id, reason).await,
        Command::Extend { id, by, reason } => {
            elevations::extend(client, printer, id, &by, reason).await
        }
        Command::Pending => approvals::pending(client, printer).await,
        Command::Approve { id, comment } => approvals::approve(client, printer, id, comment).await,
        Command::Deny { id, comment } => approvals::deny(client, printer, id, comment).await,
        Command::Grants { subject, all } => grants::list(client, printer, subject, all).await,
        Command::Revoke { grant_id, reason } => {
            grants::revoke(client, printer, grant_id, reason).await
        }
        Command::EndSession {
            session,
            subject,
            reason,
        } => grants::end_session(client, printer, session, subject, reason).await,
        Command::Delegate(args) => delegations::delegate(client, printer, args).await,
        Command::Delegations {
            received,
            grant,
            all,
        } => delegations::list(client, printer, received, grant, all).await,
        Command::AcceptDelegation { grant_id } => {
            delegations::accept(client, printer, grant_id).await
        }
        Command::Simulate(SimulateCommand::Request(args)) => {
            simulate::request(client, printer, args).await
        }
        Command::Simulate(SimulateCommand::Check(args)) => {
            simulate::check(client, printer, args).await
        }
        Command::Check(args) => check::check(client, printer, args).await,
        Command::Risk(RiskCommand::Report(args)) => check::report_risk(client, printer, args).await,
        Command::Policy(PolicyCommand::Validate { .. }) => unreachable!("validated locally"),
        Command::Policy(PolicyCommand::Show) => policy::show(client, printer).await,
        Command::Policy(PolicyCommand::Put {
            file,
            expected_version,
        }) => policy::put(client, printer, &file, expected_version).await,
        Command::Audit(command) => audit::run(client, printer, command).await,
    }
}
