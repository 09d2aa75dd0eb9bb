//! The audit subcommands: `audit list`, `verify` (exit 1 when the chain is broken), `head`,
//! `export` (paged, or following new events) and `trail`.

use std::path::Path;
use std::process::ExitCode;

use super::super::args::AuditCommand;
use super::super::client::{Client, Failure, instant, yes_or_no};
use super::super::output::{self, Printer};
use crate::domain::Toward;
use crate::proto::v1 as pb;

/// Events asked for per page by `audit export`.
const EXPORT_PAGE_SIZE: u32 = 500;

/// Runs one `elevator audit` subcommand.
pub(super) async fn run(
    client: &Client,
    printer: &Printer,
    command: AuditCommand,
) -> Result<ExitCode, Failure> {
    match command {
        AuditCommand::List {
            subject,
            actor,
            action,
            elevation,
            grant,
            since,
            limit,
        } => {
            let query = pb::ListAuditEventsRequest {
                subject: subject.unwrap_or_default(),
                actor: actor.unwrap_or_default(),
                action: action.unwrap_or_default(),
                elevation_id: elevation.unwrap_or_default(),
                grant_id: grant.unwrap_or_default(),
                from: since
                    .as_deref()
                    .map(|at| instant("--since", at, Toward::Past))
                    .transpose()?,
                to: None,
                page_size: limit,
                page_token: String::new(),
            };
            list(client, printer, query).await
        }
        AuditCommand::Verify {
            evidence: Some(evidence),
            csv,
            ..
        } => super::reviews::verify_evidence(client, printer, &evidence, csv.as_deref()).await,
        AuditCommand::Verify { head, .. } => verify(client, printer, head.as_deref()).await,
        AuditCommand::Head => print_head(client).await,
        AuditCommand::Export { after, follow, .. } if follow => follow_events(client, after).await,
        AuditCommand::Export { after, .. } => export_pages(client, after).await,
        AuditCommand::Trail { grant_id } => trail(client, printer, grant_id).await,
    }
}

/// `elevator audit list`: one page of the events `query` selects.
async fn list(
    client: &Client,
    printer: &Printer,
    query: pb::ListAuditEventsRequest,
) -> Result<ExitCode, Failure> {
    let response = client
        .audit()
        .list_audit_events(client.request(query))
        .await?
        .into_inner();
    printer.audit_events(&response.events);
    Ok(ExitCode::SUCCESS)
}

/// The signed head saved at `path` by `audit head`.
fn read_head(path: &Path) -> Result<pb::SignedAuditHead, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| Failure::Usage(format!("reading {}: {error}", path.display())))?;
    output::signed_head_from_json(&text).map_err(Failure::Usage)
}

/// `elevator audit verify`: exit 0 intact, 1 broken.
async fn verify(
    client: &Client,
    printer: &Printer,
    head: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let expected_head = head.map(read_head).transpose()?;
    let verdict = client
        .audit()
        .verify_audit_chain(client.request(pb::VerifyAuditChainRequest { expected_head }))
        .await?
        .into_inner();
    printer.verification(&verdict);
    Ok(yes_or_no(verdict.intact))
}

/// `elevator audit head`: always JSON, to be passed back to `audit verify --head`.
async fn print_head(client: &Client) -> Result<ExitCode, Failure> {
    let response = client
        .audit()
        .get_signed_audit_head(client.request(pb::GetSignedAuditHeadRequest {}))
        .await?
        .into_inner();
    if let Some(head) = response.head {
        println!("{}", output::signed_head_json(&head));
    }
    Ok(ExitCode::SUCCESS)
}

/// `elevator audit export --follow`: every event after `after`, then new ones as they come.
async fn follow_events(client: &Client, after: u64) -> Result<ExitCode, Failure> {
    let mut stream = client
        .audit()
        .watch_audit_events(client.request(pb::WatchAuditEventsRequest { after_seq: after }))
        .await?
        .into_inner();
    while let Some(message) = stream.message().await? {
        if let Some(event) = message.event {
            println!("{}", output::audit_event_json(&event));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `elevator audit export`: every event after `after`, page by page, one JSON line each.
async fn export_pages(client: &Client, after: u64) -> Result<ExitCode, Failure> {
    let mut audit = client.audit();
    // The page token is the sequence number to continue after.
    let mut page_token = if after > 0 {
        after.to_string()
    } else {
        String::new()
    };
    loop {
        let page = audit
            .list_audit_events(client.request(pb::ListAuditEventsRequest {
                page_size: EXPORT_PAGE_SIZE,
                page_token: page_token.clone(),
                ..Default::default()
            }))
            .await?
            .into_inner();
        for event in &page.events {
            println!("{}", output::audit_event_json(event));
        }
        if page.next_page_token.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        page_token = page.next_page_token;
    }
}

/// `elevator audit trail`.
async fn trail(client: &Client, printer: &Printer, grant_id: String) -> Result<ExitCode, Failure> {
    let response = client
        .audit()
        .get_grant_trail(client.request(pb::GetGrantTrailRequest { grant_id }))
        .await?
        .into_inner();
    printer.grant_trail(&response);
    Ok(ExitCode::SUCCESS)
}
