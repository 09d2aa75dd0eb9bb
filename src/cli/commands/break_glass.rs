//! `elevator break-glass use|list|show|review`: emergency access without approval, and the
//! review each use owes.

use std::process::ExitCode;

use super::super::args::BreakGlassCommand;
use super::super::client::{Client, Failure, duration};
use super::super::output::Printer;
use crate::proto::v1 as pb;
use crate::proto::v1::break_glass_service_client::BreakGlassServiceClient;
use tonic::transport::Channel;

/// Runs one `break-glass` subcommand. `list` exits 1 when a listed use is overdue, so a
/// script (or a morning cron job) can tell.
pub(super) async fn run(
    client: &Client,
    printer: &Printer,
    command: BreakGlassCommand,
) -> Result<ExitCode, Failure> {
    let mut service = BreakGlassServiceClient::new(client.channel());
    match command {
        BreakGlassCommand::Use {
            entry,
            role,
            scope,
            incident,
            reason,
            duration: window,
        } => {
            let request = pb::BreakGlassRequest {
                entry,
                role,
                scope,
                duration: window
                    .as_deref()
                    .map(|text| duration("--duration", text))
                    .transpose()?,
                reason,
                incident,
            };
            let response = service
                .break_glass(client.request(request))
                .await?
                .into_inner();
            printer.break_glass_use(response.r#use.as_ref(), response.revision);
            Ok(ExitCode::SUCCESS)
        }
        BreakGlassCommand::List { to_review, all } => {
            list(client, &mut service, printer, to_review, all).await
        }
        BreakGlassCommand::Show { id } => {
            let evidence = service
                .get_break_glass_evidence(client.request(pb::GetBreakGlassEvidenceRequest { id }))
                .await?
                .into_inner();
            printer.break_glass_evidence(&evidence);
            Ok(ExitCode::SUCCESS)
        }
        BreakGlassCommand::Review {
            id,
            confirm,
            flag,
            comment,
        } => review(client, &mut service, printer, id, (confirm, flag), comment).await,
    }
}

/// `break-glass list`: exits 1 when a listed use is overdue.
async fn list(
    client: &Client,
    service: &mut BreakGlassServiceClient<Channel>,
    printer: &Printer,
    to_review: bool,
    all: bool,
) -> Result<ExitCode, Failure> {
    let listing = match (to_review, all) {
        (true, _) => pb::BreakGlassListing::ToReview,
        (false, true) => pb::BreakGlassListing::All,
        (false, false) => pb::BreakGlassListing::Mine,
    };
    let uses = service
        .list_break_glass(client.request(pb::ListBreakGlassRequest {
            listing: listing as i32,
            ..Default::default()
        }))
        .await?
        .into_inner()
        .uses;
    printer.break_glass_uses(&uses);
    let overdue = uses
        .iter()
        .any(|used| used.review_state == pb::BreakGlassReviewState::Overdue as i32);
    Ok(if overdue {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `break-glass review ID --confirm|--flag`.
async fn review(
    client: &Client,
    service: &mut BreakGlassServiceClient<Channel>,
    printer: &Printer,
    id: String,
    (confirm, flag): (bool, bool),
    comment: String,
) -> Result<ExitCode, Failure> {
    let verdict = match (confirm, flag) {
        (true, false) => pb::BreakGlassVerdict::Confirm,
        (false, true) => pb::BreakGlassVerdict::Flag,
        _ => {
            return Err(Failure::Usage(
                "say --confirm or --flag (one of them)".into(),
            ));
        }
    };
    let response = service
        .review_break_glass(client.request(pb::ReviewBreakGlassRequest {
            id,
            verdict: verdict as i32,
            comment,
        }))
        .await?
        .into_inner();
    printer.break_glass_use(response.r#use.as_ref(), response.revision);
    Ok(ExitCode::SUCCESS)
}
