//! The sign-in page's HTML: the form that takes a pasted bearer token (dev mode).

use super::common::{csrf_field, esc};

/// The sign-in form under the login CSRF token `csrf`, with `problem` above it when the last
/// attempt failed.
pub(crate) fn form(csrf: &str, problem: Option<&str>) -> String {
    let problem = problem
        .map(|problem| format!("<p class=\"error\" id=\"error\">{}</p>", esc(problem)))
        .unwrap_or_default();
    format!(
        "{problem}<form method=\"post\" action=\"/console/login\" class=\"card\">{}\
         <label for=\"token\">Bearer token</label>\
         <textarea id=\"token\" name=\"token\" rows=\"5\" autocomplete=\"off\" required></textarea>\
         <p class=\"muted\">Paste a token, for instance from <code>elevator dev-token --sub fatma --groups procurement-staff --manager ali --sid s1</code>. \
         It is verified like any gRPC caller's and kept in an HttpOnly cookie for this browser only.</p>\
         <button id=\"sign-in\">Sign in</button></form>",
        csrf_field(csrf)
    )
}

/// The link to sign in through the identity provider, above the token form when both are on.
pub(crate) const PROVIDER_SIGN_IN: &str = "<p class=\"card\"><a id=\"oidc-sign-in\" href=\"/console/oidc/login\">Sign in with your identity provider</a></p>";
