//! The audit log as kept: each event with its place in the hash chain, and the signed
//! checkpoints over the chain's head. The store writes and reads them; the edge shows them;
//! they live in the domain so that every layer may name them.

use chrono::{DateTime, Utc};

use super::Revision;
use super::audit::AuditEvent;

/// One stored audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAuditEvent {
    /// Position in the log, from 1.
    pub seq: u64,
    /// The revision of the write that appended it.
    pub revision: Revision,
    /// The event.
    pub event: AuditEvent,
    /// The previous event's chain hash (all zero before the first).
    pub prev_hash: [u8; 32],
    /// This event's chain hash.
    pub hash: [u8; 32],
}

/// A signed audit chain head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last event's sequence number.
    pub seq: u64,
    /// Its chain hash.
    pub hash: [u8; 32],
    /// The revision then.
    pub revision: Revision,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
    /// The Ed25519 public key that signed it.
    pub public_key: [u8; 32],
    /// The signature.
    pub signature: Vec<u8>,
}
