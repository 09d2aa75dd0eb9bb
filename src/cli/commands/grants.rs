//! The subcommands about grants held: `grants`, `revoke`, `end-session`.

use std::process::ExitCode;

use super::super::client::{Client, Failure};
use super::super::output::Printer;
use crate::proto::v1 as pb;

/// `elevator grants`.
pub(super) async fn list(
    client: &Client,
    printer: &Printer,
    subject: Option<String>,
    include_ended: bool,
) -> Result<ExitCode, Failure> {
    let response = client
        .elevations()
        .list_grants(client.request(pb::ListGrantsRequest {
            subject: subject.unwrap_or_default(),
            include_ended,
        }))
        .await?
        .into_inner();
    printer.grants(&response.grants);
    Ok(ExitCode::SUCCESS)
}

/// `elevator revoke`.
pub(super) async fn revoke(
    client: &Client,
    printer: &Printer,
    grant_id: String,
    reason: String,
) -> Result<ExitCode, Failure> {
    let response = client
        .elevations()
        .revoke_grant(client.request(pb::RevokeGrantRequest { grant_id, reason }))
        .await?
        .into_inner();
    printer.revoked(response.grant.as_ref(), response.revision);
    Ok(ExitCode::SUCCESS)
}

/// `elevator end-session`.
pub(super) async fn end_session(
    client: &Client,
    printer: &Printer,
    session: Option<String>,
    subject: Option<String>,
    reason: String,
) -> Result<ExitCode, Failure> {
    let response = client
        .elevations()
        .end_session(client.request(pb::EndSessionRequest {
            subject: subject.unwrap_or_default(),
            session_id: session.unwrap_or_default(),
            reason,
        }))
        .await?
        .into_inner();
    printer.session_ended(&response);
    Ok(ExitCode::SUCCESS)
}
