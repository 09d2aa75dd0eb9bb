//! Printing access review campaigns, items and evidence checks.

use std::path::Path;

use serde_json::json;

use super::super::args::OutputFormat;
use super::printer::Printer;
use crate::proto::v1 as pb;

fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn campaign_json(campaign: &pb::AccessReviewCampaign) -> serde_json::Value {
    json!({
        "id": campaign.id,
        "name": campaign.name,
        "started_by": campaign.started_by,
        "started_at": time(campaign.started_at.as_ref()),
        "deadline": time(campaign.deadline.as_ref()),
        "on_deadline": campaign.on_deadline,
        "covers": campaign.covers,
        "roles": campaign.roles,
        "items": campaign.items,
        "decided": campaign.decided,
        "removed": campaign.removed,
        "overdue": campaign.overdue,
    })
}

fn item_json(item: &pb::AccessReviewItem) -> serde_json::Value {
    json!({
        "id": item.id,
        "campaign_id": item.campaign_id,
        "kind": item.kind,
        "subject": item.subject,
        "role": item.role,
        "scope": item.scope,
        "patterns": item.patterns,
        "grant_id": item.grant_id,
        "reviewers": item.reviewers,
        "evidence": item.evidence,
        "deadline": time(item.deadline.as_ref()),
        "escalated": item.escalated,
        "verdict": item.verdict,
        "decided_by": item.decided_by,
        "decided_at": time(item.decided_at.as_ref()),
        "comment": item.comment,
        "by_default": item.by_default,
        "outcome": item.outcome,
    })
}

impl Printer {
    /// Campaigns with their progress.
    pub(crate) fn campaigns(&self, campaigns: &[pb::AccessReviewCampaign]) {
        if self.format == OutputFormat::Json {
            return self.json(json!(
                campaigns.iter().map(campaign_json).collect::<Vec<_>>()
            ));
        }
        for campaign in campaigns {
            println!(
                "{}  {}  {}/{} decided ({} removed, {} overdue)  deadline {} then {}",
                campaign.id,
                campaign.name,
                campaign.decided,
                campaign.items,
                campaign.removed,
                campaign.overdue,
                time(campaign.deadline.as_ref()),
                campaign.on_deadline
            );
        }
    }

    /// Review items.
    pub(crate) fn review_items(&self, items: &[pb::AccessReviewItem]) {
        if self.format == OutputFormat::Json {
            return self.json(json!(items.iter().map(item_json).collect::<Vec<_>>()));
        }
        for item in items {
            let place = if item.scope.is_empty() {
                item.patterns.join(" ")
            } else {
                item.scope.clone()
            };
            let state = if item.verdict.is_empty() {
                format!("open until {}", time(item.deadline.as_ref()))
            } else {
                format!("{} by {}", item.verdict, item.decided_by)
            };
            println!(
                "{}  {} {} {} {}  [{}]  {}",
                item.id, item.kind, item.subject, item.role, place, state, item.evidence
            );
            if !item.outcome.is_empty() {
                println!("    {}", item.outcome);
            }
        }
    }

    /// Where `reviews export` wrote the evidence.
    pub(crate) fn evidence_written(&self, json_path: &Path, csv_path: &Path) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "json": json_path.display().to_string(),
                "csv": csv_path.display().to_string(),
            })),
            OutputFormat::Text => println!(
                "signed evidence written to {} and {}",
                json_path.display(),
                csv_path.display()
            ),
        }
    }

    /// Whether evidence verified, and what was found.
    pub(crate) fn evidence_verdict(&self, valid: bool, message: &str) {
        match self.format {
            OutputFormat::Json => self.json(json!({ "valid": valid, "message": message })),
            OutputFormat::Text if valid => println!("valid: {message}"),
            OutputFormat::Text => println!("INVALID: {message}"),
        }
    }
}
