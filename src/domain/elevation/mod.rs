//! Elevations and their state machine:
//! `PENDING -> APPROVED -> ACTIVE -> EXPIRED | REVOKED`, `PENDING -> DENIED | CANCELLED |
//! TIMED_OUT`, and `APPROVED -> SCHEDULED -> ACTIVE` when the requested start lies ahead.
//!
//! Every transition is a pure function from the current elevation to the next one (or a
//! [`TransitionError`] saying why not); the store applies the result atomically, under a lock
//! on the row, so two replicas racing cannot both win. The state itself is private to this
//! module: outside it, it is read through [`Elevation::state`] and moved only by these
//! functions.
//!
//! | file              | what lives there |
//! | ----------------- | ---------------- |
//! | `state.rs`        | the states and the moves allowed between them |
//! | `chain.rs`        | approval steps, approvers, verdicts, the requester's snapshot |
//! | `record.rs`       | the elevation itself, its status, and a new request |
//! | `voting.rs`       | the open step, recording verdicts, approval when every step is met |
//! | `transitions.rs`  | activation (grant, extension, delegation), denial, start, end |
//! | `error.rs`        | why a transition was refused |

mod chain;
mod error;
mod record;
mod state;
mod transitions;
mod voting;

pub use chain::{ApprovalStep, ApproverSpec, RequesterSnapshot, Verdict, Vote};
pub use error::TransitionError;
pub use record::{DelegationTerms, Elevation, ElevationRequest, ElevationStatus};
pub use state::ElevationState;

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;
    use crate::domain::identity::Identity;
    use crate::domain::ids::ElevationId;
    use crate::domain::names::{GroupName, RoleName, SessionId, Subject};
    use crate::domain::scope::Scope;

    pub(crate) fn identity(subject: &str, groups: &[&str]) -> Identity {
        Identity {
            subject: Subject::parse(subject).unwrap(),
            session: Some(SessionId::parse("s1").unwrap()),
            groups: groups
                .iter()
                .map(|g| GroupName::parse(g).unwrap())
                .collect(),
            roles: vec![],
            standing_roles: vec![],
            manager: None,
            amr: vec![],
            expires_at: Utc::now() + TimeDelta::hours(1),
            issuer: None,
        }
    }

    pub(crate) fn pending_elevation(steps: Vec<ApprovalStep>) -> Elevation {
        let now = Utc::now();
        Elevation {
            id: ElevationId::generate(),
            requester: Subject::parse("fatma").unwrap(),
            session: Some(SessionId::parse("s1").unwrap()),
            role: RoleName::parse("admin_approver").unwrap(),
            scope: Scope::parse("Org:Procurement").unwrap(),
            duration: TimeDelta::hours(2),
            reason: "Q4 close".into(),
            ticket: None,
            status: ElevationStatus::restored(ElevationState::Pending, String::new()),
            created_at: now,
            updated_at: now,
            request_expires_at: now + TimeDelta::hours(1),
            not_before: None,
            steps,
            votes: vec![],
            requester_claims: RequesterSnapshot {
                manager: Some(Subject::parse("ali").unwrap()),
                ..Default::default()
            },
            policy_version: 1,
            grant_id: None,
            idempotency_key: None,
            extends_grant: None,
            delegation: None,
            excluded_approvers: vec![],
        }
    }

    fn manager_step() -> ApprovalStep {
        ApprovalStep {
            name: "manager".into(),
            approvers: ApproverSpec {
                manager_of_requester: true,
                ..Default::default()
            },
            quorum: 1,
            deny_threshold: 1,
            auto_approve: None,
        }
    }

    fn group_step(quorum: u32) -> ApprovalStep {
        ApprovalStep {
            name: "risk".into(),
            approvers: ApproverSpec {
                groups: vec![GroupName::parse("risk-officers").unwrap()],
                ..Default::default()
            },
            quorum,
            deny_threshold: 1,
            auto_approve: None,
        }
    }

    #[test]
    fn the_manager_approves_and_the_elevation_activates_with_a_session_bound_grant() {
        let elevation = pending_elevation(vec![manager_step()]);
        let now = Utc::now();
        let approved = elevation
            .vote(&identity("ali", &[]), Verdict::Approve, "ok", None, now)
            .unwrap()
            .unwrap();
        assert_eq!(approved.state(), ElevationState::Approved);
        let (active, grant) = approved.activate(now).unwrap();
        assert_eq!(active.state(), ElevationState::Active);
        assert_eq!(grant.not_after - grant.not_before, TimeDelta::hours(2));
        assert_eq!(grant.session, elevation.session);
        assert_eq!(active.grant_id, Some(grant.id));
    }

    #[test]
    fn the_requester_never_approves() {
        let mut elevation = pending_elevation(vec![manager_step()]);
        // Even when the requester is named as their own manager.
        elevation.requester_claims.manager = Some(elevation.requester.clone());
        let error = elevation
            .vote(
                &identity("fatma", &[]),
                Verdict::Approve,
                "",
                None,
                Utc::now(),
            )
            .unwrap_err();
        assert_eq!(error, TransitionError::SelfApproval);
    }

    #[test]
    fn someone_outside_the_step_cannot_approve() {
        let elevation = pending_elevation(vec![manager_step()]);
        let error = elevation
            .vote(
                &identity("mallory", &["managers"]),
                Verdict::Approve,
                "",
                None,
                Utc::now(),
            )
            .unwrap_err();
        assert!(matches!(error, TransitionError::NotAnApprover { .. }));
    }

    #[test]
    fn a_retried_vote_changes_nothing_a_repeated_one_says_so_and_a_changed_one_is_refused() {
        let elevation = pending_elevation(vec![group_step(2)]);
        let officer = identity("rita", &["risk-officers"]);
        let once = elevation
            .vote(&officer, Verdict::Approve, "", Some("k1"), Utc::now())
            .unwrap()
            .unwrap();
        assert_eq!(once.state(), ElevationState::Pending);
        assert_eq!(
            once.vote(&officer, Verdict::Approve, "", Some("k1"), Utc::now())
                .unwrap(),
            None
        );
        for key in [None, Some("k2")] {
            let repeated = once
                .vote(&officer, Verdict::Approve, "", key, Utc::now())
                .unwrap_err();
            assert!(
                matches!(&repeated, TransitionError::AlreadyCounted { step, .. } if step == "risk"),
                "{repeated:?}"
            );
            assert!(
                repeated.to_string().contains("counted nothing"),
                "{repeated}"
            );
        }
        assert!(matches!(
            once.vote(&officer, Verdict::Deny, "", None, Utc::now()),
            Err(TransitionError::AlreadyVoted { .. })
        ));
    }

    #[test]
    fn steps_open_in_order_and_quorum_counts_distinct_people() {
        let elevation = pending_elevation(vec![manager_step(), group_step(2)]);
        let now = Utc::now();
        let rita = identity("rita", &["risk-officers"]);
        assert!(matches!(
            elevation.vote(&rita, Verdict::Approve, "", None, now),
            Err(TransitionError::NotAnApprover { .. })
        ));
        let after_manager = elevation
            .vote(&identity("ali", &[]), Verdict::Approve, "", None, now)
            .unwrap()
            .unwrap();
        assert_eq!(after_manager.current_step(), Some(1));
        let after_rita = after_manager
            .vote(&rita, Verdict::Approve, "", None, now)
            .unwrap()
            .unwrap();
        assert_eq!(after_rita.state(), ElevationState::Pending);
        let done = after_rita
            .vote(
                &identity("rob", &["risk-officers"]),
                Verdict::Approve,
                "",
                None,
                now,
            )
            .unwrap()
            .unwrap();
        assert_eq!(done.state(), ElevationState::Approved);
    }

    #[test]
    fn one_denial_denies_by_default() {
        let elevation = pending_elevation(vec![manager_step()]);
        let denied = elevation
            .vote(
                &identity("ali", &[]),
                Verdict::Deny,
                "not now",
                None,
                Utc::now(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(denied.state(), ElevationState::Denied);
        assert!(denied.state_reason().contains("not now"));
        assert!(matches!(
            denied.cancel("", Utc::now()),
            Err(TransitionError::WrongState { .. })
        ));
    }

    #[test]
    fn a_future_start_schedules_the_grant() {
        let mut elevation = pending_elevation(vec![]);
        let now = Utc::now();
        elevation.status.state = ElevationState::Approved;
        elevation.not_before = Some(now + TimeDelta::hours(3));
        let (scheduled, grant) = elevation.activate(now).unwrap();
        assert_eq!(scheduled.state(), ElevationState::Scheduled);
        assert_eq!(grant.not_before, now + TimeDelta::hours(3));
        assert!(scheduled.start_scheduled(&grant, now).is_none());
        let active = scheduled
            .start_scheduled(&grant, now + TimeDelta::hours(3))
            .unwrap();
        assert_eq!(active.state(), ElevationState::Active);
    }

    #[test]
    fn pending_elevations_time_out_after_their_window() {
        let elevation = pending_elevation(vec![manager_step()]);
        assert!(elevation.time_out(elevation.created_at).is_none());
        let timed_out = elevation.time_out(elevation.request_expires_at).unwrap();
        assert_eq!(timed_out.state(), ElevationState::TimedOut);
    }

    #[test]
    fn a_chain_without_steps_is_approved_by_policy_and_only_then() {
        let now = Utc::now();
        let approved = pending_elevation(vec![])
            .approve_without_steps(now)
            .unwrap();
        assert_eq!(approved.state(), ElevationState::Approved);
        assert_eq!(approved.state_reason(), "no approval step in policy");
        assert!(matches!(
            pending_elevation(vec![manager_step()]).approve_without_steps(now),
            Err(TransitionError::WrongState { .. })
        ));
        assert!(approved.approve_without_steps(now).is_err());
    }

    #[test]
    fn only_an_approved_elevation_is_denied_before_activation() {
        let now = Utc::now();
        let pending = pending_elevation(vec![]);
        assert!(pending.deny_before_activation("late".into(), now).is_err());
        let approved = pending.approve_without_steps(now).unwrap();
        let denied = approved
            .deny_before_activation("no longer eligible".into(), now)
            .unwrap();
        assert_eq!(denied.state(), ElevationState::Denied);
        assert_eq!(denied.state_reason(), "no longer eligible");
        assert!(pending.state().may_become_in_one_write(denied.state()));
    }

    #[test]
    fn an_extension_moves_the_end_of_the_grant_it_extends() {
        let now = Utc::now();
        let original = pending_elevation(vec![])
            .approve_without_steps(now)
            .unwrap();
        let (_, grant) = original.activate(now).unwrap();
        let mut extension = pending_elevation(vec![]);
        extension.extends_grant = Some(grant.id);
        extension.duration = TimeDelta::hours(1);
        let approved = extension.approve_without_steps(now).unwrap();
        let (active, extended) = approved.activate_extension(&grant, now).unwrap();
        assert_eq!(active.state(), ElevationState::Active);
        assert_eq!(active.grant_id, Some(grant.id));
        assert_eq!(extended.id, grant.id);
        assert_eq!(extended.not_before, grant.not_before);
        assert_eq!(extended.not_after, grant.not_after + TimeDelta::hours(1));
        let (_, other) = original.activate(now).unwrap();
        assert!(approved.activate_extension(&other, now).is_err());
    }

    #[test]
    fn a_delegation_activates_with_the_delegatee_grant() {
        let now = Utc::now();
        let mut delegation = pending_elevation(vec![]);
        delegation.delegation = Some(DelegationTerms {
            delegatee: Subject::parse("omar").unwrap(),
            parent_grant: None,
            not_after_cap: now + TimeDelta::hours(8),
        });
        let approved = delegation.approve_without_steps(now).unwrap();
        let (_, grant) = approved.activate(now).unwrap();
        let active = approved.activate_delegation(&grant, now).unwrap();
        assert_eq!(active.state(), ElevationState::Active);
        assert_eq!(active.grant_id, Some(grant.id));
        assert!(active.state_reason().starts_with("delegated to omar until"));
        assert!(delegation.activate_delegation(&grant, now).is_err());
    }

    #[test]
    fn only_listed_transitions_exist() {
        use ElevationState::*;
        assert!(Pending.can_move_to(Approved));
        assert!(!Pending.can_move_to(Active));
        assert!(!Denied.can_move_to(Active));
        assert!(!Expired.can_move_to(Revoked));
        for state in ElevationState::ALL {
            assert_eq!(ElevationState::parse(state.as_str()), Some(state));
            if state.is_final() {
                assert!(
                    ElevationState::ALL
                        .iter()
                        .all(|next| !state.can_move_to(*next))
                );
            }
        }
    }
}
