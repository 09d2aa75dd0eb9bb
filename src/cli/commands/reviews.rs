//! The review subcommands: `reviews start NAME`, `list`, `items [--campaign ID]`,
//! `decide ITEM keep|remove --comment …`, `export CAMPAIGN --json FILE --csv FILE`; and
//! `audit verify --evidence FILE [--csv FILE]`, which checks exported evidence.

use std::path::Path;
use std::process::ExitCode;

use super::super::args::ReviewsCommand;
use super::super::client::{Client, Failure, yes_or_no};
use super::super::output::Printer;
use crate::domain::ReviewEvidence;
use crate::proto::v1 as pb;

/// Runs one `elevator reviews` subcommand.
pub(super) async fn run(
    client: &Client,
    printer: &Printer,
    command: ReviewsCommand,
) -> Result<ExitCode, Failure> {
    let mut reviews = client.reviews();
    match command {
        ReviewsCommand::Start { name } => {
            let response = reviews
                .start_campaign(client.request(pb::StartCampaignRequest { name }))
                .await?
                .into_inner();
            printer.campaigns(response.campaign.as_slice());
        }
        ReviewsCommand::List => {
            let response = reviews
                .list_campaigns(client.request(pb::ListCampaignsRequest {}))
                .await?
                .into_inner();
            printer.campaigns(&response.campaigns);
        }
        ReviewsCommand::Items { campaign } => {
            let request = pb::ListReviewItemsRequest {
                campaign_id: campaign.unwrap_or_default(),
            };
            let response = reviews
                .list_review_items(client.request(request))
                .await?
                .into_inner();
            printer.review_items(&response.items);
        }
        ReviewsCommand::Decide {
            item_id,
            verdict,
            comment,
        } => {
            let request = pb::DecideReviewItemRequest {
                item_id,
                verdict,
                comment,
            };
            let response = reviews
                .decide_review_item(client.request(request))
                .await?
                .into_inner();
            printer.review_items(response.item.as_slice());
        }
        ReviewsCommand::Export {
            campaign_id,
            json,
            csv,
        } => {
            let response = reviews
                .export_campaign(client.request(pb::ExportCampaignRequest { campaign_id }))
                .await?
                .into_inner();
            write(&json, &response.json)?;
            write(&csv, &response.csv)?;
            printer.evidence_written(&json, &csv);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|error| Failure::Usage(format!("writing {}: {error}", path.display())))
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|error| Failure::Usage(format!("reading {}: {error}", path.display())))
}

/// `elevator audit verify --evidence FILE [--csv FILE]`: the evidence's signature and CSV
/// digest (here), its key the server's audit key, and the live chain still passing through
/// the head it was taken at (the server). Exit 0 when all hold, 1 otherwise.
pub(super) async fn verify_evidence(
    client: &Client,
    printer: &Printer,
    evidence: &Path,
    csv: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let text = read(evidence)?;
    let csv_text = csv.map(read).transpose()?;
    let check = match ReviewEvidence::verify(&text, csv_text.as_deref()) {
        Ok(check) => check,
        Err(problem) => {
            printer.evidence_verdict(false, &problem);
            return Ok(yes_or_no(false));
        }
    };
    let mut audit = client.audit();
    let server_head = audit
        .get_signed_audit_head(client.request(pb::GetSignedAuditHeadRequest {}))
        .await?
        .into_inner()
        .head
        .unwrap_or_default();
    if server_head.public_key != check.head.public_key {
        let problem = "the evidence was signed by a key that is not this server's audit key";
        printer.evidence_verdict(false, problem);
        return Ok(yes_or_no(false));
    }
    let expected_head = Some(crate::api::convert::signed_head(&check.head));
    let verdict = audit
        .verify_audit_chain(client.request(pb::VerifyAuditChainRequest { expected_head }))
        .await?
        .into_inner();
    if !verdict.intact {
        let problem = format!(
            "the audit chain does not verify through the evidence's head: event {}: {}",
            verdict.broken_seq, verdict.problem
        );
        printer.evidence_verdict(false, &problem);
        return Ok(yes_or_no(false));
    }
    let summary = format!(
        "campaign {}: {} items, signed at audit head {} which the intact chain passes through",
        check.campaign_id, check.items, check.head.seq
    );
    printer.evidence_verdict(true, &summary);
    Ok(yes_or_no(true))
}
