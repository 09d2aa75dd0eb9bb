//! The audit log for auditors: listing with filters, a resumable stream, verification of the
//! hash chain (the first broken link, or the verified head), signed chain heads that a copy
//! kept elsewhere can later be checked against, and the whole story of a grant.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use tokio::sync::mpsc;

use super::watch::wait_for_changes;
use super::{Elevator, MAX_PAGE_SIZE, Page, ServiceError, page_size};
use crate::domain::audit::{GENESIS_HASH, chain_hash};
use crate::domain::{AuditAction, ElevationId, Grant, GrantId, Identity, Subject};
use crate::store::{AuditFilter, Checkpoint, StoredAuditEvent};

/// Events read per page while verifying or streaming.
const PAGE: usize = 1000;

/// The key that signs chain heads.
pub struct AuditSigner {
    key: SigningKey,
}

impl AuditSigner {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        AuditSigner {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The public half, for verifiers.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `message` with the audit chain's key (signed review evidence).
    pub(super) fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).to_bytes().to_vec()
    }

    fn sign(
        &self,
        seq: u64,
        hash: [u8; 32],
        revision: u64,
        signed_at: DateTime<Utc>,
    ) -> Checkpoint {
        let message = head_message(seq, &hash, revision, signed_at);
        Checkpoint {
            seq,
            hash,
            revision,
            signed_at,
            public_key: self.public_key(),
            signature: self.key.sign(message.as_bytes()).to_bytes().to_vec(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What a chain head's signature covers.
fn head_message(seq: u64, hash: &[u8; 32], revision: u64, signed_at: DateTime<Utc>) -> String {
    format!(
        "elevator-audit-head/v1 seq={seq} hash={} revision={revision} signed_at={}",
        hex(hash),
        signed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
}

/// Whether `checkpoint`'s signature is valid for the key it names.
fn signature_is_valid(checkpoint: &Checkpoint) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(&checkpoint.public_key) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&checkpoint.signature) else {
        return false;
    };
    let message = head_message(
        checkpoint.seq,
        &checkpoint.hash,
        checkpoint.revision,
        checkpoint.signed_at,
    );
    key.verify(message.as_bytes(), &signature).is_ok()
}

/// The outcome of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerification {
    /// Whether every link holds (and, when a signed head was given, it matches).
    pub intact: bool,
    /// The last event verified (0 when the log is empty).
    pub verified_seq: u64,
    /// Its hash.
    pub verified_hash: [u8; 32],
    /// The first event whose link is broken, when one is.
    pub broken_seq: Option<u64>,
    /// What is wrong there.
    pub problem: String,
    /// How many events were checked.
    pub events_checked: u64,
}

/// Where and why `stored` breaks the chain, expected at `expected_seq` after `previous`:
/// missing, mislinked, changed, or (given a signed head at its place) rewritten.
fn chain_break(
    stored: &StoredAuditEvent,
    expected_seq: u64,
    previous: &[u8; 32],
    expected_head: Option<&Checkpoint>,
) -> Option<(u64, String)> {
    if stored.seq != expected_seq {
        return Some((expected_seq, format!("event {expected_seq} is missing")));
    }
    if stored.prev_hash != *previous {
        return Some((
            stored.seq,
            "its link does not point at the previous event's hash".into(),
        ));
    }
    if chain_hash(stored.seq, stored.revision, previous, &stored.event) != stored.hash {
        return Some((
            stored.seq,
            "its content does not match its hash: it was changed".into(),
        ));
    }
    if let Some(head) = expected_head
        && head.seq == stored.seq
        && head.hash != stored.hash
    {
        return Some((
            stored.seq,
            "the chain no longer passes through the signed head: it was rewritten".into(),
        ));
    }
    None
}

fn broken(verification: &mut ChainVerification, seq: u64, problem: String) {
    verification.intact = false;
    verification.broken_seq = Some(seq);
    verification.problem = problem;
}

/// One grant's whole story: its delegation chain from the root, and every event about any of
/// them, in order.
#[derive(Debug, Clone)]
pub struct GrantTrail {
    /// The grant and its ancestors, root first.
    pub grants: Vec<Grant>,
    /// Every event about them or the elevations that created them.
    pub events: Vec<StoredAuditEvent>,
}

/// Filters a caller gives when listing.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only about this subject.
    pub subject: Option<Subject>,
    /// Only by this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only about this elevation.
    pub elevation: Option<ElevationId>,
    /// Only about this grant.
    pub grant: Option<GrantId>,
    /// From this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
}

impl Elevator {
    fn is_auditor(&self, caller: &Identity) -> bool {
        caller.has_role(&self.roles.auditor) || self.is_admin(caller)
    }

    fn require_auditor(&self, caller: &Identity, what: &str) -> Result<(), ServiceError> {
        if self.is_auditor(caller) {
            return Ok(());
        }
        self.require_role(caller, &self.roles.auditor, what)
    }

    /// Audit events, oldest first: all of them for auditors and admins, otherwise those by or
    /// about the caller.
    #[tracing::instrument(skip_all)]
    pub async fn list_audit_events(
        &self,
        caller: &Identity,
        query: AuditQuery,
        page_size_requested: u32,
        page_token: &str,
    ) -> Result<Page<StoredAuditEvent>, ServiceError> {
        let after_seq = match page_token {
            "" => 0,
            token => token.parse().map_err(|_| {
                ServiceError::invalid("page_token", "not a token returned by this listing")
            })?,
        };
        let limit = page_size(page_size_requested);
        let filter = AuditFilter {
            subject: query.subject,
            actor: query.actor,
            involving: (!self.is_auditor(caller)).then(|| caller.subject.clone()),
            action: query.action,
            elevations: query.elevation.into_iter().collect(),
            grants: query.grant.into_iter().collect(),
            from: query.from,
            to: query.to,
            after_seq,
            limit,
        };
        let items = self.store.list_audit(&filter).await?;
        let next_page_token = (items.len() == limit)
            .then(|| items.last().map(|event| event.seq.to_string()))
            .flatten();
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Streams audit events as they are appended, after `after_seq` (auditors).
    pub fn watch_audit_events(
        self: &Arc<Self>,
        caller: Arc<Identity>,
        after_seq: u64,
    ) -> Result<mpsc::Receiver<Result<StoredAuditEvent, ServiceError>>, ServiceError> {
        self.require_auditor(&caller, "WatchAuditEvents")?;
        let (sender, receiver) = mpsc::channel(PAGE);
        let app = self.clone();
        tokio::spawn(async move {
            let mut changes = app.store.subscribe();
            let mut cursor = after_seq;
            loop {
                if app.clock.now() >= caller.expires_at {
                    return;
                }
                let events = match app.store.audit_events(cursor, PAGE).await {
                    Ok(events) => events,
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        return;
                    }
                };
                let read_everything = events.len() < PAGE;
                for event in events {
                    cursor = event.seq;
                    if sender.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                if read_everything && !wait_for_changes(&mut changes, &sender).await {
                    return;
                }
            }
        });
        Ok(receiver)
    }

    /// Recomputes the chain from the first event: every sequence number present, every link
    /// pointing at the previous hash, every hash matching its event, the store's head matching
    /// the last event; and, given a signed head exported earlier, its signature valid and the
    /// chain still passing through it.
    #[tracing::instrument(skip_all)]
    pub async fn verify_audit_chain(
        &self,
        caller: &Identity,
        expected_head: Option<Checkpoint>,
    ) -> Result<ChainVerification, ServiceError> {
        self.require_auditor(caller, "VerifyAuditChain")?;
        let mut verification = ChainVerification {
            intact: true,
            verified_seq: 0,
            verified_hash: GENESIS_HASH,
            broken_seq: None,
            problem: String::new(),
            events_checked: 0,
        };
        if let Some(head) = &expected_head
            && !signature_is_valid(head)
        {
            broken(
                &mut verification,
                head.seq,
                "the signed head's signature is not valid".into(),
            );
            return Ok(verification);
        }
        self.walk_audit_chain(&mut verification, expected_head.as_ref())
            .await?;
        if verification.intact {
            let (head_seq, head_hash, _) = self.store.audit_head().await?;
            if head_seq != verification.verified_seq || head_hash != verification.verified_hash {
                let last = verification.verified_seq;
                broken(
                    &mut verification,
                    last + 1,
                    format!(
                        "the log ends at {last} but its head says {head_seq}: events were removed"
                    ),
                );
            } else if let Some(head) = &expected_head
                && head.seq > verification.verified_seq
            {
                broken(
                    &mut verification,
                    head.seq,
                    "the signed head lies beyond the end of the log: events were removed".into(),
                );
            }
        }
        Ok(verification)
    }

    /// Reads the log from the first event, page by page, recording each event that links up
    /// in `verification`, and stops at the first that does not.
    async fn walk_audit_chain(
        &self,
        verification: &mut ChainVerification,
        expected_head: Option<&Checkpoint>,
    ) -> Result<(), ServiceError> {
        let mut expected_seq = 1;
        let mut previous = GENESIS_HASH;
        loop {
            let events = self.store.audit_events(expected_seq - 1, PAGE).await?;
            let last_page = events.len() < PAGE;
            for stored in events {
                if let Some((seq, problem)) =
                    chain_break(&stored, expected_seq, &previous, expected_head)
                {
                    broken(verification, seq, problem);
                    return Ok(());
                }
                previous = stored.hash;
                verification.verified_seq = stored.seq;
                verification.verified_hash = stored.hash;
                verification.events_checked += 1;
                expected_seq += 1;
            }
            if last_page {
                return Ok(());
            }
        }
    }

    /// Signs the current chain head now, keeps it, and returns it (auditors).
    #[tracing::instrument(skip_all)]
    pub async fn signed_audit_head(&self, caller: &Identity) -> Result<Checkpoint, ServiceError> {
        self.require_auditor(caller, "GetSignedAuditHead")?;
        self.checkpoint().await
    }

    /// Signs and keeps the current chain head (also run periodically).
    #[tracing::instrument(skip_all)]
    pub async fn checkpoint(&self) -> Result<Checkpoint, ServiceError> {
        let (seq, hash, revision) = self.store.audit_head().await?;
        let checkpoint = self.signer.sign(seq, hash, revision, self.clock.now());
        self.store.save_checkpoint(&checkpoint).await?;
        Ok(checkpoint)
    }

    /// A grant's whole story: who requested, who approved at which step, who delegated to
    /// whom, each reason and scope, and when and why it ended. For its holder, anyone who
    /// delegated along its chain, and auditors.
    #[tracing::instrument(skip_all)]
    pub async fn grant_trail(
        &self,
        caller: &Identity,
        id: GrantId,
    ) -> Result<GrantTrail, ServiceError> {
        let not_found = || ServiceError::NotFound {
            what: "grant",
            id: id.to_string(),
        };
        let grant = self.store.get_grant(id).await?.ok_or_else(not_found)?;
        let visible = grant.subject == caller.subject
            || grant
                .delegation_trail
                .iter()
                .any(|hop| hop.delegator == caller.subject)
            || self.is_auditor(caller);
        if !visible {
            return Err(not_found());
        }
        let mut grants = vec![grant];
        while let Some(parent) = grants.last().and_then(|g| g.parent_grant_id) {
            match self.store.get_grant(parent).await? {
                Some(parent) if grants.len() < 64 => grants.push(parent),
                _ => break,
            }
        }
        grants.reverse();
        let mut events = Vec::new();
        let mut after_seq = 0;
        loop {
            let page = self
                .store
                .list_audit(&AuditFilter {
                    grants: grants.iter().map(|g| g.id).collect(),
                    elevations: grants.iter().filter_map(|g| g.elevation_id).collect(),
                    after_seq,
                    limit: MAX_PAGE_SIZE,
                    ..Default::default()
                })
                .await?;
            let done = page.len() < MAX_PAGE_SIZE;
            after_seq = page.last().map_or(after_seq, |event| event.seq);
            events.extend(page);
            if done {
                break;
            }
        }
        Ok(GrantTrail { grants, events })
    }
}
