//! The audit page: search the audit log or follow one grant's trail, and (for auditors) the
//! verification of the hash chain with its signed head.

use chrono::{DateTime, Utc};

use super::Handled;
use crate::console::forms::Fields;
use crate::console::html;
use crate::console::input::{audit_search, optional};
use crate::console::{Caller, Console};
use crate::domain::GrantId;
use crate::service::ServiceError;

impl Console {
    /// `GET /console/audit`: a grant's trail when `grant` is given, else a search.
    pub(crate) async fn audit_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let identity = &caller.identity;
        let now = self.clock.now();
        let roles = self.app.roles();
        let auditor = identity.has_role(&roles.auditor) || identity.has_role(&roles.admin);
        let mut body = html::audit::search_form(query);
        let found = match optional(query, "grant", GrantId::parse)? {
            Some(grant) => self.grant_trail(caller, grant, now).await?,
            None => self.audit_events(caller, query, now, auditor).await?,
        };
        body.push_str(&found);
        body.push_str(&self.chain_verification(caller, auditor).await?);
        Ok(self.page(caller, "Audit", "/console/audit", &body))
    }

    /// The delegation chain of `grant` and every event about it.
    async fn grant_trail(
        &self,
        caller: &Caller,
        grant: GrantId,
        now: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        let trail = self.app.grant_trail(&caller.identity, grant).await?;
        Ok(html::audit::trail(&trail, now))
    }

    /// The events the search form asks for, as far as the caller may see them.
    async fn audit_events(
        &self,
        caller: &Caller,
        query: &Fields,
        now: DateTime<Utc>,
        auditor: bool,
    ) -> Result<String, ServiceError> {
        let search = audit_search(query, now)?;
        let page = self
            .app
            .list_audit_events(&caller.identity, search, 200, "")
            .await?;
        Ok(html::audit::search_results(&page.items, auditor))
    }

    /// For an auditor, the chain verified and the signed head; for others, the role it needs.
    async fn chain_verification(
        &self,
        caller: &Caller,
        auditor: bool,
    ) -> Result<String, ServiceError> {
        if !auditor {
            return Ok(html::audit::chain_needs_role(&self.app.roles().auditor));
        }
        let verification = self.app.verify_audit_chain(&caller.identity, None).await?;
        let head = self.app.signed_audit_head(&caller.identity).await?;
        Ok(html::audit::chain(&verification, &head))
    }
}
