//! The policy: roles and their permissions, eligibility entries with their approval chains and
//! rules, separation-of-duties sets, and limits. A document is parsed and validated as a whole
//! ([`Policy::parse`]): every problem is reported with its place
//! (`eligibility[2].max_duration: ...`, and a line and column where one is known), and a
//! document with any problem never replaces the policy in force. Rules are compiled here, once
//! per policy version.

mod access_model;
mod compile;
mod document;
mod entries;
mod model;
mod problems;
mod review_campaigns;
mod review_document;
pub mod rules;

pub use access_model::{AccessModel, ScopeTemplate};
pub use entries::{
    BreakGlassEntry, DelegationEntry, Eligibility, RoleDefinition, Separation, SeparationMode,
    Webhook,
};
pub use model::{Holding, Ineligible, NotDelegable, Policy, SeparationConflict};
pub use problems::{PolicyProblem, PolicyProblems};
pub use review_campaigns::{CampaignDefinition, ReviewPolicy, ReviewerRule};

/// Largest policy document accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// The demo policy `elevator serve` uses in dev mode.
pub const DEMO_POLICY: &str = include_str!("demo.yaml");
