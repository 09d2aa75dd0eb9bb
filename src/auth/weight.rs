//! What a verified token costs the verified-token cache, in bytes: the token (the key), the
//! identity with every string it holds, and the cache's own bookkeeping. The cache is bounded
//! by the sum of these, not by a number of entries: a token may be 8 KiB and name thousands of
//! groups, so a bound on entries alone would be a bound on nothing.

use crate::domain::Identity;

/// The cache's own bookkeeping per entry (moka's entry, deque and timer nodes, hash slot),
/// as measured for the decision cache in BENCHMARKS.md, rounded up.
const PER_ENTRY: usize = 384;

/// A string held behind a pointer: the pointer, a reference-count header and the allocator's
/// rounding, beside the bytes themselves.
const PER_STRING: usize = 48;

/// The approximate bytes one cached token holds, saturating at `u32::MAX`.
pub(crate) fn cached_token_bytes(token: &str, identity: &Identity) -> u32 {
    let strings = [identity.subject.as_str()]
        .into_iter()
        .chain(identity.session.as_ref().map(|session| session.as_str()))
        .chain(identity.groups.iter().map(|group| group.as_str()))
        .chain(identity.roles.iter().map(String::as_str))
        .chain(identity.standing_roles.iter().flat_map(|standing| {
            [standing.role.as_str()]
                .into_iter()
                .chain(standing.scope.as_ref().map(|scope| scope.as_str()))
        }))
        .chain(identity.manager.as_ref().map(|manager| manager.as_str()))
        .chain(identity.amr.iter().map(String::as_str))
        .chain(identity.issuer.as_deref());
    let held: usize = strings.map(|text| text.len() + PER_STRING).sum();
    let total = PER_ENTRY + token.len() + std::mem::size_of::<Identity>() + held;
    u32::try_from(total).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{GroupName, Subject};

    fn identity(groups: usize) -> Identity {
        Identity {
            subject: Subject::parse("fatma").unwrap(),
            session: None,
            groups: (0..groups)
                .map(|index| GroupName::parse(&format!("g{index}")).unwrap())
                .collect(),
            roles: Vec::new(),
            standing_roles: Vec::new(),
            manager: None,
            amr: Vec::new(),
            expires_at: chrono::DateTime::UNIX_EPOCH,
            issuer: None,
        }
    }

    #[test]
    fn a_token_naming_many_groups_weighs_more_than_its_text() {
        let token = "t".repeat(8 * 1024);
        let light = cached_token_bytes(&token, &identity(1));
        let heavy = cached_token_bytes(&token, &identity(2000));
        assert!(light as usize > token.len(), "{light}");
        assert!(heavy as usize > 2000 * PER_STRING + token.len(), "{heavy}");
    }
}
