//! The decision point's own subcommands: `check` asks a decision, `risk report` feeds it a
//! risk signal.

use std::process::ExitCode;

use super::super::args::{CheckArgs, RiskReportArgs};
use super::super::client::{Client, Failure, duration, yes_or_no};
use super::super::output::Printer;
use crate::proto::v1 as pb;

/// The Check message `args` describe (also what `simulate check` asks about).
pub(super) fn check_message(args: CheckArgs) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: args.subject,
        session_id: args.session,
        permission: args.permission,
        resource: args.resource,
        min_revision: args.min_revision,
        subject_token: String::new(),
        ..Default::default()
    }
}

/// `elevator check`: exit 0 allowed, 1 denied.
pub(super) async fn check(
    client: &Client,
    printer: &Printer,
    args: CheckArgs,
) -> Result<ExitCode, Failure> {
    let response = client
        .checks()
        .check(client.request(check_message(args)))
        .await?
        .into_inner();
    printer.decision(&response);
    Ok(yes_or_no(response.allowed))
}

/// `elevator risk report`.
pub(super) async fn report_risk(
    client: &Client,
    printer: &Printer,
    signal: RiskReportArgs,
) -> Result<ExitCode, Failure> {
    let response = client
        .checks()
        .report_risk_signal(client.request(pb::ReportRiskSignalRequest {
            subject: signal.subject,
            session_id: signal.session,
            score: signal.score,
            flags: signal.flags,
            source: signal.source,
            ttl: Some(duration("--ttl", &signal.ttl)?),
        }))
        .await?
        .into_inner();
    printer.risk_reported(&response);
    Ok(ExitCode::SUCCESS)
}
