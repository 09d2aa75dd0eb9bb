//! Grants carried in tokens: which live grant a token exchange may put in a token, and whether
//! the grant a minted token carries still holds (introspection). Both read the store, so a
//! revocation, an expiry or the end of the session is seen at the next call.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Elevator, ServiceError};
use crate::domain::{
    AuditAction, AuditEvent, Grant, GrantId, GrantStatus, Identity, RoleName, Scope,
};
use crate::store::Change;

/// What a minted token says beyond the grant it carries, for the audit log.
#[derive(Debug)]
pub struct MintedToken<'a> {
    /// The token's `jti`.
    pub id: &'a str,
    /// Its one audience.
    pub audience: &'a str,
    /// Its `scope` (`role@Scope`).
    pub scope: &'a Scope,
    /// Its `exp`.
    pub expires_at: DateTime<Utc>,
    /// Who acts now, from an actor token.
    pub actor: Option<&'a Identity>,
}

impl Elevator {
    /// Now, by the injected clock: when a token minted over a grant starts and ends.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The live grant of the subject token's holder that carries `role` on `scope` in the
    /// token's session (or unbound), the one that lasts longest; `None` when no grant covers
    /// it. Only a policy enforcement point (the caller) may ask.
    #[tracing::instrument(skip_all)]
    pub async fn grant_to_carry(
        &self,
        caller: &Identity,
        holder: &Identity,
        role: &RoleName,
        scope: &Scope,
    ) -> Result<Option<Grant>, ServiceError> {
        self.require_role(caller, &self.roles.pep, "token exchange")?;
        let now = self.clock.now();
        let grants = self.store.list_grants(&holder.subject, false, now).await?;
        Ok(grants
            .into_iter()
            .filter(|grant| grant.status(now) == GrantStatus::Active)
            .filter(|grant| !grant.awaiting_acceptance)
            .filter(|grant| grant.session.is_none() || grant.session == holder.session)
            .filter(|grant| grant.role == *role && grant.scope.covers(scope.as_str()))
            .max_by_key(|grant| grant.not_after))
    }

    /// The grant `id` when it is active now (not revoked, not expired, its session not
    /// ended); `None` otherwise, or when there is no such grant. Only a policy enforcement
    /// point (the caller) may ask.
    #[tracing::instrument(skip_all)]
    pub async fn grant_in_force(
        &self,
        caller: &Identity,
        id: GrantId,
    ) -> Result<Option<Grant>, ServiceError> {
        self.require_role(caller, &self.roles.pep, "token introspection")?;
        let now = self.clock.now();
        Ok(self
            .store
            .get_grant(id)
            .await?
            .filter(|grant| grant.status(now) == GrantStatus::Active && !grant.awaiting_acceptance))
    }

    /// Records in the audit log that the enforcement point `caller` was given a token carrying
    /// `grant` for `holder`. The token is handed out only once this is written: no token
    /// leaves elevator unaudited.
    #[tracing::instrument(skip_all)]
    pub async fn record_minted_token(
        &self,
        caller: &Identity,
        holder: &Identity,
        grant: &Grant,
        token: MintedToken<'_>,
    ) -> Result<(), ServiceError> {
        let mut event = AuditEvent::new(
            AuditAction::TokenMinted,
            caller.subject.as_str(),
            self.decider.policy().version(),
            self.clock.now(),
        )
        .with_details(json!({
            "jti": token.id,
            "audience": token.audience,
            "expires_at": token.expires_at,
            "session": holder.session.as_ref().map(|session| session.as_str()),
            "actor": token.actor.map(|actor| actor.subject.as_str()),
        }));
        event.subject = Some(holder.subject.clone());
        event.role = Some(grant.role.clone());
        event.scope = Some(token.scope.clone());
        event.grant_id = Some(grant.id);
        event.elevation_id = grant.elevation_id;
        let change = Change {
            events: vec![event],
            ..Default::default()
        };
        let committed = self.store.append(self.ready_to_commit(change)).await?;
        self.after_commit(&committed).await;
        Ok(())
    }
}
