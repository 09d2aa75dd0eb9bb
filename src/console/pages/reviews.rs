//! Access reviews in the console: the caller's open review items with keep and remove forms,
//! and, for admins and auditors, every campaign's progress.

use super::Handled;
use crate::console::forms::{Fields, encode};
use crate::console::html::{self, see_other};
use crate::console::input::field;
use crate::console::{Caller, Console};
use crate::domain::{ReviewItemId, ReviewVerdict};
use crate::service::ItemSelection;

impl Console {
    /// `GET /console/reviews`.
    pub(crate) async fn reviews_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let items = self
            .app
            .list_review_items(&caller.identity, ItemSelection::Mine)
            .await?;
        // Campaign progress is for admins and auditors; others see only their items.
        let campaigns = self.app.list_campaigns(&caller.identity).await.ok();
        let body = html::reviews::page(
            &items,
            campaigns.as_deref(),
            &caller.csrf,
            self.clock.now(),
            query.get("notice"),
        );
        Ok(self.page(caller, "Reviews", "/console/reviews", &body))
    }

    /// `POST /console/reviews/{id}/keep` and `/remove`.
    pub(crate) async fn decide_review(
        &self,
        caller: &Caller,
        id: &str,
        verdict: ReviewVerdict,
        form: &Fields,
    ) -> Handled {
        let id = field("id", ReviewItemId::parse(id))?;
        let item = self
            .app
            .decide_review_item(&caller.identity, id, verdict, form.get("comment"))
            .await?;
        tracing::info!(subject = %caller.identity.subject, item = %id, "console: review item decided");
        let outcome = item
            .decision
            .as_ref()
            .and_then(|decision| decision.outcome.clone())
            .map(|outcome| format!(": {outcome}"))
            .unwrap_or_default();
        Ok(see_other(&format!(
            "/console/reviews?notice={}",
            encode(&format!(
                "Decided {} on {}{outcome}",
                verdict.as_str(),
                item.target.describe()
            ))
        )))
    }
}
