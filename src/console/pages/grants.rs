//! The caller's grants: the page listing them, and the actions on one (take up a delegation in
//! this session, give it up, delegate it).

use super::Handled;
use crate::console::forms::{Fields, encode};
use crate::console::html::{self, see_other};
use crate::console::input::{field, required};
use crate::console::{Caller, Console};
use crate::domain::{GrantId, RequestedDuration, Scope, Subject};
use crate::service::{NewDelegation, ServiceError};

impl Console {
    /// `GET /console/grants`.
    pub(crate) async fn grants_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let now = self.clock.now();
        let grants: Vec<_> = self
            .app
            .list_grants(&caller.identity, None, false)
            .await?
            .into_iter()
            .map(|grant| {
                let limits = self.app.delegation_limits(&grant.role, &grant.scope);
                (grant, limits)
            })
            .collect();
        let body = html::grants::page(&grants, &caller.csrf, now, query.get("notice"));
        Ok(self.page(caller, "Grants", "/console/grants", &body))
    }

    /// `POST /console/grants/{id}/accept`.
    pub(crate) async fn accept(&self, caller: &Caller, id: &str) -> Handled {
        let id = field("id", GrantId::parse(id))?;
        let (grant, _) = self.app.accept_delegation(&caller.identity, id).await?;
        tracing::info!(subject = %caller.identity.subject, grant = %id, "console: delegation accepted");
        Ok(see_other(&format!(
            "/console/grants?notice={}",
            encode(&format!(
                "Accepted {} on {} in this session ({})",
                grant.role, grant.scope, grant.id
            ))
        )))
    }

    /// `POST /console/grants/{id}/revoke`.
    pub(crate) async fn revoke(&self, caller: &Caller, id: &str, form: &Fields) -> Handled {
        let id = field("id", GrantId::parse(id))?;
        let (grant, _) = self
            .app
            .revoke_grant(&caller.identity, id, form.get("reason"))
            .await?;
        tracing::info!(subject = %caller.identity.subject, grant = %id, "console: grant revoked");
        Ok(see_other(&format!(
            "/console/grants?notice={}",
            encode(&format!(
                "Revoked {} on {} ({})",
                grant.role, grant.scope, grant.id
            ))
        )))
    }

    /// `POST /console/grants/{id}/delegate`: the role is the caller's grant's.
    pub(crate) async fn delegate(&self, caller: &Caller, id: &str, form: &Fields) -> Handled {
        let source = field("id", GrantId::parse(id))?;
        let grants = self.app.list_grants(&caller.identity, None, false).await?;
        let role = grants
            .iter()
            .find(|grant| grant.id == source)
            .map(|grant| grant.role.clone())
            .ok_or_else(|| ServiceError::NotFound {
                what: "grant",
                id: source.to_string(),
            })?;
        let delegation = NewDelegation {
            delegatee: required(form, "delegatee", Subject::parse)?,
            role,
            scope: required(form, "scope", Scope::parse)?,
            duration: required(form, "duration", RequestedDuration::parse)?,
            reason: form.get("reason").to_owned(),
            source_grant: Some(source),
            idempotency_key: None,
        };
        let outcome = self.app.delegate(&caller.identity, delegation).await?;
        Ok(see_other(&format!(
            "/console/grants?notice={}",
            encode(&format!(
                "Delegated to {}: {}",
                outcome
                    .elevation
                    .delegation
                    .as_ref()
                    .map(|terms| terms.delegatee.to_string())
                    .unwrap_or_default(),
                outcome.elevation.state()
            ))
        )))
    }
}
