//! The policy document as written (YAML): the serde model, before validation. Durations, names
//! and scopes are plain strings here; the compiler (`compile`) checks each and reports every
//! problem with its place.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A whole policy document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyDocument {
    /// Role name -> definition.
    #[serde(default)]
    pub(super) roles: BTreeMap<String, RoleDocument>,
    /// Who may request what.
    #[serde(default)]
    pub(super) eligibility: Vec<EligibilityDocument>,
    /// Limits that apply to every entry.
    #[serde(default)]
    pub(super) limits: LimitsDocument,
    /// Rules every request must pass, whatever the entry.
    #[serde(default)]
    pub(super) request_rules: Vec<String>,
    /// Rules every grant must pass at every Check, whatever the entry.
    #[serde(default)]
    pub(super) grant_rules: Vec<String>,
    /// Sets of roles one subject may not combine.
    #[serde(default)]
    pub(super) separation_of_duties: Vec<SeparationDocument>,
    /// Roles that may be passed on, and how.
    #[serde(default)]
    pub(super) delegation: Vec<DelegationDocument>,
    /// Where change notifications are posted.
    #[serde(default)]
    pub(super) webhooks: Vec<WebhookDocument>,
    /// Resource type -> where its resources live (their scope).
    #[serde(default)]
    pub(super) resources: BTreeMap<String, ResourceTypeDocument>,
    /// The subjects and resources the decision point knows.
    #[serde(default)]
    pub(super) directory: DirectoryDocument,
    /// Emergency access without approval, reviewed afterwards.
    #[serde(default)]
    pub(super) break_glass: Vec<BreakGlassDocument>,
    /// Access review campaigns.
    #[serde(default)]
    pub(super) reviews: super::review_document::ReviewsDocument,
}

/// One break-glass entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BreakGlassDocument {
    /// A name users pick the entry by, unique in the document.
    pub(super) name: String,
    /// The roles it may activate.
    pub(super) roles: Vec<String>,
    /// Scope patterns they may be activated on.
    pub(super) scopes: Vec<String>,
    /// Who may use it: a CEL condition over `token`, `request`, `risk`, `context`.
    pub(super) who: String,
    /// Fields a use must carry: `incident`, `reason` (default: both).
    pub(super) require: Option<Vec<String>>,
    /// The longest window (default 1h).
    pub(super) max_duration: Option<String>,
    /// Who reviews each use afterwards.
    #[serde(default)]
    pub(super) reviewers: WhoDocument,
    /// How long a use may stay unreviewed before it is overdue (default 24h).
    pub(super) review_within: Option<String>,
    /// Security contacts' webhook URLs, told of every use and flag at once.
    #[serde(default)]
    pub(super) notify: Vec<String>,
    /// Whether a use may proceed although a request rule denies it (default false; the audit
    /// names every rule overridden).
    #[serde(default)]
    pub(super) override_deny_rules: bool,
}

/// Where the resources of one type live.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResourceTypeDocument {
    /// A scope, in which `{id}` stands for the resource's id (escaped): `App:Todo`,
    /// `App:Todo/Todo:{id}`.
    pub(super) scope: String,
}

/// The directory section: subjects and resources.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DirectoryDocument {
    /// Who acts: users, identities, services.
    #[serde(default)]
    pub(super) subjects: Vec<EntityDocument>,
    /// What is acted on.
    #[serde(default)]
    pub(super) resources: Vec<EntityDocument>,
}

/// One subject or resource.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EntityDocument {
    /// Its type (`user`, `todo`).
    #[serde(rename = "type")]
    pub(super) entity_type: String,
    /// Its id.
    pub(super) id: String,
    /// Other ids of the same type that name it.
    #[serde(default)]
    pub(super) aliases: Vec<String>,
    /// What is known about it; these win over what a request says.
    #[serde(default)]
    pub(super) properties: BTreeMap<String, serde_yaml::Value>,
    /// Subjects only: standing roles, `role` or `role@Scope`.
    #[serde(default)]
    pub(super) roles: Vec<String>,
    /// Subjects only: groups.
    #[serde(default)]
    pub(super) groups: Vec<String>,
    /// Resources only: the scope it lives at.
    pub(super) scope: Option<String>,
}

/// A permission a role carries: its name, or its name and a condition.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum PermissionDocument {
    /// `can_read_todos`: carried always.
    Plain(String),
    /// `{ permission: can_update_todo, if: "…" }`: carried when the condition holds.
    Conditional(ConditionalPermissionDocument),
}

/// A permission carried under a condition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConditionalPermissionDocument {
    /// The permission.
    pub(super) permission: String,
    /// The condition (CEL over `subject`, `resource`, `action`, `context`, `token`, `grant`).
    #[serde(rename = "if")]
    pub(super) condition: String,
}

/// A role that may be delegated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DelegationDocument {
    /// The role.
    pub(super) role: String,
    /// Scope patterns it may be delegated on.
    pub(super) scopes: Vec<String>,
    /// How many delegations one chain may have (1: no re-delegation; default 1).
    pub(super) max_depth: Option<u32>,
    /// The longest a delegation may last (needed for standing roles; otherwise the delegator's
    /// own grant bounds it).
    pub(super) max_duration: Option<String>,
    /// An optional approval chain, as for elevations.
    #[serde(default)]
    pub(super) approval: Vec<StepDocument>,
    /// Rules a delegated grant must pass at every Check.
    #[serde(default)]
    pub(super) grant_rules: Vec<String>,
    /// `session` (default): the delegatee takes the delegation up in one of its login sessions
    /// and it ends with that session; `none`: it counts in any session of the delegatee.
    pub(super) session_binding: Option<String>,
}

/// A webhook subscription.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WebhookDocument {
    /// Where to post (http or https).
    pub(super) url: String,
    /// Audit actions to announce (e.g. `elevation.requested`, `grant.activated`); `["*"]` for
    /// all.
    pub(super) events: Vec<String>,
}

/// A separation-of-duties set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SeparationDocument {
    /// A name for messages and audit.
    pub(super) name: String,
    /// Roles that conflict with each other.
    pub(super) roles: Vec<String>,
    /// `static`: one subject may not be eligible for, or hold, two of them; `dynamic`: may not
    /// have two of them active at the same time.
    pub(super) mode: String,
}

/// A role.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleDocument {
    /// The permissions the role carries, each always or under a condition.
    pub(super) permissions: Vec<PermissionDocument>,
    /// What the role is for, for people.
    #[serde(default)]
    pub(super) description: String,
}

/// Limits over all entries.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsDocument {
    /// No entry may allow more than this (default 24h).
    pub(super) max_duration: Option<String>,
    /// The approval window of entries that do not set `request_ttl` (default 1h).
    pub(super) default_request_ttl: Option<String>,
}

/// One eligibility entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EligibilityDocument {
    /// The role that may be requested.
    pub(super) role: String,
    /// Scope patterns it may be requested on.
    pub(super) scopes: Vec<String>,
    /// Who may request it.
    pub(super) who: WhoDocument,
    /// The longest access window.
    pub(super) max_duration: String,
    /// The shortest access window, if any.
    pub(super) min_duration: Option<String>,
    /// The approval window (default: `limits.default_request_ttl`).
    pub(super) request_ttl: Option<String>,
    /// The approval chain; empty means the grant is created at once.
    #[serde(default)]
    pub(super) approval: Vec<StepDocument>,
    /// Fields the request must carry: `reason`, `ticket`.
    #[serde(default)]
    pub(super) require: Vec<String>,
    /// Rules a request must pass (`allow if ...`, `deny if ...`).
    #[serde(default)]
    pub(super) request_rules: Vec<String>,
    /// Rules the grant must pass at every Check.
    #[serde(default)]
    pub(super) grant_rules: Vec<String>,
    /// `session` (default): the grant is bound to the requester's login session; `none`: it is
    /// not (for non-interactive subjects).
    pub(super) session_binding: Option<String>,
}

/// Who may request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WhoDocument {
    /// Members of any of these groups.
    #[serde(default)]
    pub(super) groups: Vec<String>,
    /// These subjects.
    #[serde(default)]
    pub(super) users: Vec<String>,
}

/// One approval step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepDocument {
    /// The step's name.
    pub(super) step: String,
    /// Who may approve.
    pub(super) approvers: ApproversDocument,
    /// Distinct approvals needed (default 1).
    pub(super) quorum: Option<u32>,
    /// Denials that deny the elevation (default 1).
    pub(super) deny_threshold: Option<u32>,
    /// `auto_approve if <expr>`: the step is met by policy when the rule holds as it opens.
    pub(super) auto_approve: Option<String>,
}

/// Who may approve a step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApproversDocument {
    /// Members of any of these groups.
    #[serde(default)]
    pub(super) groups: Vec<String>,
    /// These subjects.
    #[serde(default)]
    pub(super) users: Vec<String>,
    /// The requester's manager.
    #[serde(default)]
    pub(super) manager_of_requester: bool,
    /// Holders of these roles as standing roles of their own token (never through a grant).
    #[serde(default)]
    pub(super) roles: Vec<String>,
}
