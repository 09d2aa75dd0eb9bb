//! The words a decision point can be asked about: every permission the policy in force gives
//! a role, for an AuthZEN action search (which asks each of them in turn).

use super::Elevator;

impl Elevator {
    /// Every permission some role of the policy in force carries, each once, sorted.
    pub fn known_permissions(&self) -> Vec<String> {
        let policy = self.decider.policy();
        let mut names: Vec<String> = policy
            .roles()
            .flat_map(|role| role.permissions.iter().map(|p| p.as_str().to_owned()))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
