//! The in-memory store: the embedded default for dev mode (`elevator serve` without a database)
//! and a second implementation for the contract suite. One mutex guards all state, so every
//! write is atomic and serialized exactly as the PostgreSQL store's transactions are. This file
//! holds the store and its change feed; the contract's parts are implemented beside it.

mod access_requests;
mod break_glass;
mod directory;
mod operations;
mod outbox;
mod reads;
mod reviews;
mod state;
mod writes;

use std::sync::{Mutex, MutexGuard};

use chrono::Utc;
use tokio::sync::broadcast;

use self::state::State;
use super::delivery_ids::DeliveryIds;
use super::{ChangeFeed, Committed, StoreError, StoreEvent};

/// The in-memory store.
pub struct MemoryStore {
    state: Mutex<State>,
    events: broadcast::Sender<StoreEvent>,
    /// Webhook delivery ids unique across restarts (see [`DeliveryIds`]).
    delivery_ids: DeliveryIds,
    /// The access request profile's denials and requests (`access_requests.rs`).
    profile: Mutex<access_requests::ProfileState>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(1024);
        MemoryStore {
            state: Mutex::new(State::default()),
            events,
            delivery_ids: DeliveryIds::random(),
            profile: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: changes are applied
        // only after every decision succeeded. Keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, committed: &Committed) {
        if committed.change.is_empty() {
            return;
        }
        // Nobody listening is fine: there is only this replica.
        let _ = self.events.send(StoreEvent::Changed {
            revision: committed.revision,
            subjects: committed.change.affected_subjects(),
            everyone: false,
            policy_changed: committed.change.policy.is_some(),
            directory_changed: !committed.change.directory.is_empty(),
            directory_keys: committed.change.directory_keys(),
            committed_at: Some(Utc::now()),
        });
    }

    fn commit_with<F>(&self, write: F) -> Result<Committed, StoreError>
    where
        F: FnOnce(&mut State) -> Result<Committed, StoreError>,
    {
        let committed = {
            let mut state = self.lock();
            write(&mut state)?
        };
        self.publish(&committed);
        Ok(committed)
    }
}

impl ChangeFeed for MemoryStore {
    fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    fn is_listening(&self) -> bool {
        true
    }
}
