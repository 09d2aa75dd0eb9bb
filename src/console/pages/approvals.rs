//! The approvals inbox: the page, its rows alone (the script polls them), and the verdicts.

use http::StatusCode;

use super::Handled;
use crate::console::forms::{Fields, encode};
use crate::console::html::{self, see_other};
use crate::console::input::field;
use crate::console::{Caller, Console};
use crate::domain::{ElevationId, Verdict};
use crate::service::ServiceError;

impl Console {
    /// The inbox rows: what waits for the caller, each with its requester's risk and, when it
    /// came through the Access Request profile, its client and actor chain.
    async fn inbox_rows(&self, caller: &Caller) -> Result<String, ServiceError> {
        let page = self
            .app
            .list_pending_approvals(&caller.identity, 100, "")
            .await?;
        let origins = self
            .app
            .access_request_origins(&caller.identity, &page.items)
            .await?;
        let mut pending = Vec::with_capacity(page.items.len());
        for elevation in page.items {
            let risk = match self.app.requester_risk(&elevation).await {
                Ok(picture) => Some(picture),
                Err(error) => {
                    tracing::warn!(%error, "console: cannot read risk for the inbox");
                    None
                }
            };
            pending.push((elevation, risk));
        }
        Ok(html::approvals::rows(&pending, &origins, &caller.csrf))
    }

    /// `GET /console/approvals`.
    pub(crate) async fn approvals_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let rows = self.inbox_rows(caller).await?;
        let body = html::approvals::page(&rows, query.get("notice"));
        Ok(self.page(caller, "Approvals inbox", "/console/approvals", &body))
    }

    /// `GET /console/approvals/rows`.
    pub(crate) async fn approval_rows_fragment(&self, caller: &Caller) -> Handled {
        Ok(html::html(StatusCode::OK, self.inbox_rows(caller).await?))
    }

    /// `POST /console/approvals/{id}/approve` and `.../deny`.
    pub(crate) async fn decide(
        &self,
        caller: &Caller,
        id: &str,
        verdict: Verdict,
        form: &Fields,
    ) -> Handled {
        let id = field("id", ElevationId::parse(id))?;
        let outcome = self
            .app
            .decide(&caller.identity, id, verdict, form.get("comment"), None)
            .await?;
        tracing::info!(approver = %caller.identity.subject, elevation = %id, verdict = verdict.as_str(), "console: verdict recorded");
        Ok(see_other(&format!(
            "/console/approvals?notice={}",
            encode(&format!(
                "{} {}: elevation of {} is now {}",
                match verdict {
                    Verdict::Approve => "Approved",
                    Verdict::Deny => "Denied",
                },
                id,
                outcome.elevation.requester,
                outcome.elevation.state()
            ))
        )))
    }
}
