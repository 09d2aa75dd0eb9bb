//! Grants carried in tokens: which live grant a token exchange may put in a token, and whether
//! the grant a minted token carries still holds (introspection). Both read the store, so a
//! revocation, an expiry or the end of the session is seen at the next call.

use super::{Elevator, ServiceError};
use crate::domain::{Grant, GrantId, GrantStatus, Identity, RoleName, Scope};

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
}
