//! Role and scope names shared between cached grants: a grant loaded from PostgreSQL brings its
//! own copy of each, while a million cached subjects hold a handful of roles and, mostly, few
//! scopes. One process-wide table per kind, consulted once per load (not per Check).
//!
//! Role names come from the policy, whose own copies are adopted when it is put in force, so
//! their table is small; it stops taking new names at
//! [`MAX_ROLES`] rather than grow with a store that holds stray ones. Scopes can be many over
//! time, so their table is swept of scopes no grant holds any more whenever it has doubled
//! since the last sweep: it stays within twice the scopes in use.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{LazyLock, Mutex, PoisonError};

use crate::domain::{RoleName, Scope};

/// Most role names shared; beyond them a grant keeps its own copy.
const MAX_ROLES: usize = 4096;

/// Fewest entries a scope table is swept at (a sweep visits every entry).
const FIRST_SWEEP: usize = 1024;

/// One table of shared values.
struct Shared<T> {
    values: HashSet<T>,
    sweep_at: usize,
}

impl<T: Hash + Eq + Clone> Shared<T> {
    fn new() -> Self {
        Shared {
            values: HashSet::new(),
            sweep_at: FIRST_SWEEP,
        }
    }

    /// The shared copy of `value`, which becomes it when there is none (and `room` allows).
    fn share(&mut self, value: T, room: impl Fn(&mut Self) -> bool) -> T {
        if let Some(shared) = self.values.get(&value) {
            return shared.clone();
        }
        if room(self) {
            self.values.insert(value.clone());
        }
        value
    }
}

static ROLES: LazyLock<Mutex<Shared<RoleName>>> = LazyLock::new(|| Mutex::new(Shared::new()));
static SCOPES: LazyLock<Mutex<Shared<Scope>>> = LazyLock::new(|| Mutex::new(Shared::new()));

/// Shares the role and scope names of a batch of loaded grants (one lock of each table per
/// batch). `names` yields each grant's role and scope to be replaced by their shared copies.
pub(super) fn share_names<'g>(names: impl Iterator<Item = (&'g mut RoleName, &'g mut Scope)>) {
    let mut roles = ROLES.lock().unwrap_or_else(PoisonError::into_inner);
    let mut scopes = SCOPES.lock().unwrap_or_else(PoisonError::into_inner);
    for (role, scope) in names {
        *role = roles.share(role.clone(), |table| table.values.len() < MAX_ROLES);
        *scope = scopes.share(scope.clone(), sweep_unheld_scopes);
    }
}

/// Makes the policy's role names the shared copies, so that cached grants hold the very names
/// the policy's permission index holds and finding a role's grants compares pointers, not
/// text. Grants cached before keep their copies (equal, only slower to compare).
pub(super) fn adopt_roles<'p>(names: impl Iterator<Item = &'p RoleName>) {
    let mut roles = ROLES.lock().unwrap_or_else(PoisonError::into_inner);
    for name in names {
        if roles.values.len() < MAX_ROLES || roles.values.contains(name) {
            roles.values.replace(name.clone());
        }
    }
}

/// Room for one more scope, after dropping those only the table still holds once it has
/// doubled since the last sweep.
fn sweep_unheld_scopes(table: &mut Shared<Scope>) -> bool {
    if table.values.len() >= table.sweep_at {
        table.values.retain(|scope| scope.holders() > 1);
        table.sweep_at = (table.values.len() * 2).max(FIRST_SWEEP);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loaded_copies_of_one_name_end_up_sharing_one_text() {
        let mut first = (
            RoleName::parse("intern_test_role").unwrap(),
            Scope::parse("Org:InternTest").unwrap(),
        );
        let mut second = (
            RoleName::parse("intern_test_role").unwrap(),
            Scope::parse("Org:InternTest").unwrap(),
        );
        assert_eq!(second.1.holders(), 1);
        share_names([(&mut first.0, &mut first.1), (&mut second.0, &mut second.1)].into_iter());
        // The table, the first grant and the second grant hold one text.
        assert_eq!(second.1.holders(), 3);
        assert_eq!(first, second);
    }

    #[test]
    fn the_scope_table_forgets_scopes_no_grant_holds() {
        let mut table = Shared::<Scope>::new();
        for i in 0..FIRST_SWEEP * 3 {
            let scope = Scope::parse(&format!("Org:Sweep{i}")).unwrap();
            drop(table.share(scope, sweep_unheld_scopes));
        }
        let held = Scope::parse("Org:Kept").unwrap();
        let kept = table.share(held.clone(), sweep_unheld_scopes);
        assert!(
            table.values.len() <= FIRST_SWEEP * 2,
            "{}",
            table.values.len()
        );
        for i in 0..FIRST_SWEEP * 2 {
            let scope = Scope::parse(&format!("Org:Again{i}")).unwrap();
            drop(table.share(scope, sweep_unheld_scopes));
        }
        assert!(
            table.values.contains(&kept),
            "a scope still held stays shared"
        );
    }
}
