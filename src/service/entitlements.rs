//! What the policy in force lets someone do, asked by the edge: the roles a caller may
//! request and how a held grant may be delegated. The edge shows these; deciding them stays
//! here, beside the use cases that enforce them, so the console never reads the policy itself.

use super::Elevator;
use crate::domain::{Identity, RoleName, Scope};
use crate::policy::{DelegationEntry, Eligibility, NotDelegable};

impl Elevator {
    /// The eligibility entries of the policy in force that admit `identity`, in document
    /// order: what it may request.
    pub fn requestable_roles(&self, identity: &Identity) -> Vec<Eligibility> {
        let policy = self.decider.policy();
        policy
            .eligibility()
            .iter()
            .filter(|entry| entry.admits(identity))
            .cloned()
            .collect()
    }

    /// The delegation entry of the policy in force that lets a grant of `role` on `scope` be
    /// delegated, or why none does.
    pub fn delegation_limits(
        &self,
        role: &RoleName,
        scope: &Scope,
    ) -> Result<DelegationEntry, NotDelegable> {
        self.decider.policy().delegation_for(role, scope).cloned()
    }
}
