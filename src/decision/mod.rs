//! The hot path. A Check reads the subject's grants from a moka cache (loaded from the store on
//! a miss, one load per key however many calls wait), evaluates them against the compiled
//! policy, and answers with a reason, the deciding grant and the revision. `now < not_after`,
//! the session, the scope and revocation are checked on every call, whatever the cache holds;
//! entries live by time-to-live and their grants' own boundaries, never by time-to-idle, so a
//! read never extends a life. Any error is a deny.
//!
//! A replica allows nothing until its change feed has connected once (and the policy was
//! reloaded with it). While the feed is down Checks read through; when the store cannot answer
//! either, an entry loaded less than [`CacheOptions::outage_grace`] ago (by the injected clock)
//! may still answer, and after that the Check fails closed. The grace is zero by default: the
//! caches are dropped the moment the feed is lost.
//!
//! The [`Decider`] (`decider`) answers a Check from its caches (`cache`: read-through, outage
//! grace; `entries`: what an entry holds, lean enough for a million subjects, with role and
//! scope names shared through `intern`) through the pure evaluation (`evaluate`); the change
//! feed (`feed`) drops what a write made stale and puts a new policy in force.

mod access;
mod cache;
mod decider;
mod entries;
mod evaluate;
mod feed;
mod freshness;
mod intern;
pub mod log;
mod search;
mod stored_directory;

pub use crate::domain::CheckQuery;
pub use access::ResolvedAccess;
pub use cache::{CacheOptions, CacheReport, CacheStats};
pub use decider::Decider;
pub use entries::{SubjectGrants, SubjectRisk};
pub use evaluate::GrantTrace;
pub use freshness::Freshness;
pub use search::{ResourcePage, SearchWindow};
pub use stored_directory::DirectoryRefreshes;
