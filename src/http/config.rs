//! The AuthZEN settings: the identifier this decision point publishes in its metadata.

use serde::{Deserialize, Serialize};

/// Longest `authzen.policy_decision_point`, in bytes.
const MAX_IDENTIFIER_BYTES: usize = 512;

/// AuthZEN settings (the `authzen` section).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthzenConfig {
    /// The policy decision point identifier published in `/.well-known/authzen-configuration`
    /// (an `https` URL without query or fragment, e.g. `https://pdp.example.com`), from which
    /// the endpoint URLs are formed. Unset: the scheme of the port and the `Host` the PEP
    /// asked for, which is right only when nothing in between rewrites it.
    pub policy_decision_point: Option<String>,
}

impl AuthzenConfig {
    /// Refuses an identifier PEPs would refuse: not `https`, with a query or a fragment, or
    /// with a trailing slash (endpoint URLs are the identifier followed by their path).
    pub fn validate(&self) -> Result<(), String> {
        let Some(identifier) = &self.policy_decision_point else {
            return Ok(());
        };
        let problem = if identifier.len() > MAX_IDENTIFIER_BYTES {
            Some(format!("is longer than {MAX_IDENTIFIER_BYTES} bytes"))
        } else if !identifier.starts_with("https://") || identifier.len() == "https://".len() {
            Some("must be an https URL such as https://pdp.example.com".to_owned())
        } else if identifier.contains(['?', '#']) {
            Some("must have no query or fragment".to_owned())
        } else if identifier.ends_with('/') {
            Some("must not end with a slash".to_owned())
        } else if identifier
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            Some("must not contain spaces or control characters".to_owned())
        } else {
            None
        };
        match problem {
            Some(problem) => Err(format!("authzen.policy_decision_point {problem}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(identifier: &str) -> Result<(), String> {
        AuthzenConfig {
            policy_decision_point: Some(identifier.into()),
        }
        .validate()
    }

    #[test]
    fn only_https_identifiers_without_query_fragment_or_trailing_slash_are_accepted() {
        assert!(check("https://pdp.example.com").is_ok());
        assert!(check("https://pdp.example.com/tenant1").is_ok());
        assert!(check("http://pdp.example.com").is_err());
        assert!(check("https://").is_err());
        assert!(check("https://pdp.example.com/?a=b").is_err());
        assert!(check("https://pdp.example.com#top").is_err());
        assert!(check("https://pdp.example.com/").is_err());
        assert!(AuthzenConfig::default().validate().is_ok());
    }
}
