//! The change feed as the decider sees it: a write announced by any replica drops the
//! entries it made stale and may put a new policy or a new stored directory in force; losing
//! the feed drops the caches (or, with an outage grace, stops trusting them); getting it back
//! reloads the policy and the stored directory.

use chrono::TimeDelta;

use super::Decider;
use super::cache::drop_if_loaded_before;
use crate::domain::Subject;
use crate::policy::Policy;
use crate::store::StoreEvent;
use std::sync::Arc;

impl Decider {
    /// Applies what the store says changed: drops stale entries, then advances the known
    /// revision (in that order, so a Check that demands the revision sees the change).
    pub async fn observe(&self, event: &StoreEvent) {
        match event {
            StoreEvent::Changed {
                revision,
                subjects,
                everyone,
                policy_changed,
                directory_changed,
                directory_keys,
                ..
            } => {
                if *policy_changed {
                    self.reload_policy().await;
                }
                if *directory_changed {
                    self.refresh_stored_directory(*revision, directory_keys)
                        .await;
                } else {
                    self.stored_directory_unchanged_at(*revision);
                }
                if *everyone {
                    self.freshness.mark_everything_changed(*revision);
                    self.grants.invalidate_all();
                    self.risk.invalidate_all();
                }
                for subject in subjects {
                    self.forget_subject(subject, *revision).await;
                }
                self.freshness.advance_known(*revision);
            }
            StoreEvent::Lost => {
                self.freshness.lose_feed();
                self.stored_directory_may_be_stale();
                if self.options.outage_grace <= TimeDelta::zero() {
                    self.grants.invalidate_all();
                    self.risk.invalidate_all();
                    tracing::warn!("change feed lost: caches dropped, checks read through");
                } else {
                    tracing::warn!(
                        "change feed lost: checks read through; cached entries answer only while the store cannot, within the outage grace"
                    );
                }
            }
            StoreEvent::Restored { revision } => {
                self.reload_policy().await;
                self.reload_stored_directory(*revision).await;
                self.grants.invalidate_all();
                self.risk.invalidate_all();
                self.freshness.restore_feed(*revision);
                tracing::info!(revision, "change feed restored: caching again");
            }
        }
    }

    /// Drops what this replica cached about the subjects a local write changed from before it,
    /// at once (the change feed tells the other replicas).
    pub async fn forget(&self, subjects: &[Subject], revision: u64) {
        for subject in subjects {
            self.forget_subject(subject, revision).await;
        }
    }

    async fn forget_subject(&self, subject: &Subject, revision: u64) {
        self.freshness.mark_changed(subject.as_str(), revision);
        drop_if_loaded_before(&self.grants, subject, revision).await;
        drop_if_loaded_before(&self.risk, subject, revision).await;
    }

    /// Loads the latest stored policy and puts it in force when it is newer.
    async fn reload_policy(&self) {
        match self.store.latest_policy().await {
            Ok(Some(stored)) => match Policy::parse(&stored.source, stored.version) {
                Ok(policy) => self.set_policy(Arc::new(policy)),
                Err(problems) => {
                    tracing::error!(version = stored.version, %problems, "stored policy is invalid; keeping the one in force");
                }
            },
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not reload the policy"),
        }
    }
}
