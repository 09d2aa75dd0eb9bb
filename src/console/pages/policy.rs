//! The policy page: the document in force in an editor, validating an edited one, and putting
//! it in force (admins only; the use case checks).

use http::StatusCode;

use super::Handled;
use crate::console::forms::{Fields, encode};
use crate::console::html::{self, document, esc, see_other, when};
use crate::console::{Caller, Console};
use crate::service::{PolicyProblems, ServiceError};

impl Console {
    /// `GET /console/policy`.
    pub(crate) async fn policy_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let (policy, stored) = self.app.get_policy().await?;
        let origin = stored
            .map(|stored| {
                format!(
                    ", put by {} at {}",
                    esc(&stored.created_by),
                    when(stored.created_at)
                )
            })
            .unwrap_or_default();
        let body = format!(
            "{}<p id=\"policy-version\">Version <b>{}</b> in force{origin}.</p>{}",
            html::notice(query.get("notice")),
            policy.version(),
            self.policy_editor(caller, policy.source(), policy.version(), None)
        );
        Ok(self.page(caller, "Policy", "/console/policy", &body))
    }

    fn policy_editor(
        &self,
        caller: &Caller,
        source: &str,
        version: u64,
        problems: Option<&PolicyProblems>,
    ) -> String {
        let admin = caller.identity.has_role(&self.app.roles().admin);
        html::policy::editor(&caller.csrf, source, version, problems, admin)
    }

    /// The editor again with `problems`, answered with `status`.
    fn policy_checked(
        &self,
        caller: &Caller,
        status: StatusCode,
        source: &str,
        version: u64,
        problems: &PolicyProblems,
    ) -> Handled {
        let body = self.policy_editor(caller, source, version, Some(problems));
        Ok(html::html(
            status,
            document("Policy", "/console/policy", Some(&caller.viewer()), &body),
        ))
    }

    /// `POST /console/policy/validate`.
    pub(crate) async fn validate_policy(&self, caller: &Caller, form: &Fields) -> Handled {
        let source = form.raw("source").replace("\r\n", "\n");
        let version = form.get("expected_version").parse().unwrap_or(0);
        let problems = match self.app.validate_policy(&source) {
            Ok(()) => PolicyProblems(Vec::new()),
            Err(problems) => problems,
        };
        let status = if problems.0.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        self.policy_checked(caller, status, &source, version, &problems)
    }

    /// `POST /console/policy/put`.
    pub(crate) async fn put_policy(&self, caller: &Caller, form: &Fields) -> Handled {
        let source = form.raw("source").replace("\r\n", "\n");
        let expected = form.get("expected_version").parse::<u64>().ok();
        match self
            .app
            .put_policy(&caller.identity, &source, expected)
            .await
        {
            Ok((version, _)) => Ok(see_other(&format!(
                "/console/policy?notice={}",
                encode(&format!("Version {version} is in force"))
            ))),
            Err(ServiceError::InvalidPolicy(problems)) => self.policy_checked(
                caller,
                StatusCode::UNPROCESSABLE_ENTITY,
                &source,
                expected.unwrap_or(0),
                &problems,
            ),
            Err(other) => Err(other),
        }
    }
}
