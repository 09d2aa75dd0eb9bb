//! Compiling the sections that constrain or announce rather than give access:
//! separation-of-duties sets and webhook subscriptions.

use super::Compiler;
use crate::domain::{AuditAction, RoleName, shown};
use crate::policy::document::{SeparationDocument, WebhookDocument};
use crate::policy::entries::{Separation, SeparationMode, Webhook};

/// Longest webhook URL accepted.
const MAX_WEBHOOK_URL_BYTES: usize = 2048;

impl Compiler<'_> {
    /// One separation-of-duties set at `path`; `None` when it has any problem.
    pub(super) fn separation(
        &mut self,
        set: &SeparationDocument,
        path: &str,
    ) -> Option<Separation> {
        let problems_before = self.problems.count();
        if set.name.trim().is_empty() {
            self.problems.add(
                format!("{path}.name"),
                "a separation-of-duties set needs a name",
            );
        }
        let mode = match set.mode.as_str() {
            "static" => SeparationMode::Static,
            "dynamic" => SeparationMode::Dynamic,
            other => {
                self.problems.add(
                    format!("{path}.mode"),
                    format!("{} is not a mode; use static or dynamic", shown(other)),
                );
                SeparationMode::Dynamic
            }
        };
        if set.roles.len() < 2 {
            self.problems
                .add(format!("{path}.roles"), "a set needs at least two roles");
        }
        let mut members = Vec::new();
        for (index, role) in set.roles.iter().enumerate() {
            let role_path = format!("{path}.roles[{index}]");
            if let Some(role) = self
                .problems
                .valid(role_path.clone(), RoleName::parse(role))
            {
                self.require_defined_role(&role_path, &role);
                members.push(role);
            }
        }
        if self.problems.count() > problems_before {
            return None;
        }
        Some(Separation {
            name: set.name.clone(),
            roles: members,
            mode,
        })
    }

    /// Reports at `path` a URL that is not a webhook's: http or https, bounded, no spaces.
    pub(super) fn webhook_url(&mut self, path: &str, url: &str) {
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok
            || url.len() > MAX_WEBHOOK_URL_BYTES
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            self.problems
                .add(path, "must be an http:// or https:// URL without spaces");
        }
    }

    /// One webhook subscription at `path`; `None` when it has any problem.
    pub(super) fn webhook(&mut self, hook: &WebhookDocument, path: &str) -> Option<Webhook> {
        let problems_before = self.problems.count();
        self.webhook_url(&format!("{path}.url"), &hook.url);
        if hook.events.is_empty() {
            self.problems.add(
                format!("{path}.events"),
                "list the audit actions to announce, or \"*\"",
            );
        }
        for (index, event) in hook.events.iter().enumerate() {
            if event != "*" && AuditAction::parse(event).is_none() {
                self.problems.add(
                    format!("{path}.events[{index}]"),
                    format!(
                        "{} is not an audit action (e.g. elevation.requested, grant.activated)",
                        shown(event)
                    ),
                );
            }
        }
        if self.problems.count() > problems_before {
            return None;
        }
        Some(Webhook {
            url: hook.url.clone(),
            events: hook.events.clone(),
        })
    }
}
