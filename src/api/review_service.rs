//! `elevator.v1.ReviewService`: access review campaigns. Start one from a policy definition,
//! list campaigns and items, keep or remove an item, export a campaign as signed evidence.

use tonic::{Request, Response, Status};

use super::Api;
use super::convert::{optional, required, timestamp};
use crate::domain::{CampaignId, ReviewItem, ReviewItemId, ReviewVerdict};
use crate::proto::v1 as pb;
use crate::proto::v1::review_service_server::ReviewService;
use crate::service::{CampaignProgress, ItemSelection, ServiceError};

fn campaign(progress: &CampaignProgress) -> pb::AccessReviewCampaign {
    let campaign = &progress.campaign;
    pb::AccessReviewCampaign {
        id: campaign.id.to_string(),
        name: campaign.name.clone(),
        started_by: campaign.started_by.clone(),
        started_at: Some(timestamp(campaign.started_at)),
        deadline: Some(timestamp(campaign.deadline)),
        on_deadline: campaign.on_deadline.default.as_str().to_owned(),
        covers: (campaign.covers.iter())
            .map(|kind| kind.as_str().to_owned())
            .collect(),
        roles: campaign.roles.iter().map(ToString::to_string).collect(),
        items: progress.items as u32,
        decided: progress.decided as u32,
        removed: progress.removed as u32,
        overdue: progress.overdue as u32,
    }
}

fn item(item: &ReviewItem) -> pb::AccessReviewItem {
    let target = &item.target;
    let decision = item.decision.as_ref();
    pb::AccessReviewItem {
        id: item.id.to_string(),
        campaign_id: item.campaign_id.to_string(),
        kind: target.kind.as_str().to_owned(),
        subject: target.subject.to_string(),
        role: target.role.to_string(),
        scope: target
            .scope
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        patterns: target.patterns.clone(),
        grant_id: target.grant_id.map(|id| id.to_string()).unwrap_or_default(),
        reviewers: item.reviewers.iter().map(|r| r.label()).collect(),
        evidence: item.evidence.clone(),
        deadline: Some(timestamp(item.deadline)),
        escalated: item.escalated,
        verdict: decision
            .map(|d| d.verdict.as_str().to_owned())
            .unwrap_or_default(),
        decided_by: decision.map(|d| d.by.clone()).unwrap_or_default(),
        decided_at: decision.map(|d| timestamp(d.at)),
        comment: decision.map(|d| d.comment.clone()).unwrap_or_default(),
        by_default: decision.is_some_and(|d| d.by_default),
        outcome: decision.and_then(|d| d.outcome.clone()).unwrap_or_default(),
    }
}

fn verdict(text: &str) -> Result<ReviewVerdict, ServiceError> {
    ReviewVerdict::parse(text)
        .ok_or_else(|| ServiceError::invalid("verdict", "must be keep or remove"))
}

#[tonic::async_trait]
impl ReviewService for Api {
    async fn start_campaign(
        &self,
        request: Request<pb::StartCampaignRequest>,
    ) -> Result<Response<pb::StartCampaignResponse>, Status> {
        let caller = self.writer(&request).await?;
        let name = &request.get_ref().name;
        if name.is_empty() {
            return Err(ServiceError::invalid("name", "is required").into());
        }
        let started = self.app.start_campaign(&caller, name).await?;
        Ok(Response::new(pb::StartCampaignResponse {
            campaign: Some(campaign(&started)),
        }))
    }

    async fn list_campaigns(
        &self,
        request: Request<pb::ListCampaignsRequest>,
    ) -> Result<Response<pb::ListCampaignsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let campaigns = self.app.list_campaigns(&caller).await?;
        Ok(Response::new(pb::ListCampaignsResponse {
            campaigns: campaigns.iter().map(campaign).collect(),
        }))
    }

    async fn list_review_items(
        &self,
        request: Request<pb::ListReviewItemsRequest>,
    ) -> Result<Response<pb::ListReviewItemsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let selection = match optional(
            "campaign_id",
            &request.get_ref().campaign_id,
            CampaignId::parse,
        )? {
            Some(id) => ItemSelection::Campaign(id),
            None => ItemSelection::Mine,
        };
        let items = self.app.list_review_items(&caller, selection).await?;
        Ok(Response::new(pb::ListReviewItemsResponse {
            items: items.iter().map(item).collect(),
        }))
    }

    async fn decide_review_item(
        &self,
        request: Request<pb::DecideReviewItemRequest>,
    ) -> Result<Response<pb::DecideReviewItemResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.get_ref();
        let id = required("item_id", &input.item_id, ReviewItemId::parse)?;
        let verdict = verdict(&input.verdict)?;
        let decided = self
            .app
            .decide_review_item(&caller, id, verdict, &input.comment)
            .await?;
        Ok(Response::new(pb::DecideReviewItemResponse {
            item: Some(item(&decided)),
        }))
    }

    async fn export_campaign(
        &self,
        request: Request<pb::ExportCampaignRequest>,
    ) -> Result<Response<pb::ExportCampaignResponse>, Status> {
        let caller = self.caller(&request).await?;
        let id = required(
            "campaign_id",
            &request.get_ref().campaign_id,
            CampaignId::parse,
        )?;
        let evidence = self.app.export_campaign(&caller, id).await?;
        Ok(Response::new(pb::ExportCampaignResponse {
            json: evidence.json,
            csv: evidence.csv,
        }))
    }
}
