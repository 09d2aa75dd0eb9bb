//! The token settings (the `tokens` section): who elevator says it is when it signs, with
//! which keys, for which audiences, and for how long at most.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Most audiences that may be configured.
const MAX_AUDIENCES: usize = 64;

/// Longest audience, in bytes.
const MAX_AUDIENCE_BYTES: usize = 256;

/// Longest lifetime a minted token may be configured to, in minutes: a day. An elevation
/// carried in a token is meant to be short-lived; revocation reaches it through
/// introspection and Check, not through a verifier that only reads `exp`.
const MAX_LIFETIME_MINUTES: u64 = 24 * 60;

/// Token settings (the `tokens` section).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// The issuer (`iss`) of minted tokens and the identifier of the metadata document: an
    /// http(s) URL. Unset: `authzen.policy_decision_point`, else the HTTP port's own URL.
    pub issuer: Option<String>,
    /// PKCS#8 PEM files with Ed25519 or P-256 private keys, oldest first: the last one signs,
    /// all are published. Unset: a key made at start-up (tokens die with the process).
    pub signing_key_files: Vec<PathBuf>,
    /// The audiences a token may be minted for.
    pub audiences: Vec<String>,
    /// Longest life of a minted token, in minutes (never past its grant's end).
    pub max_lifetime_minutes: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            issuer: None,
            signing_key_files: Vec::new(),
            audiences: Vec::new(),
            max_lifetime_minutes: 15,
        }
    }
}

impl TokenConfig {
    /// Refuses settings that cannot work: a zero or day-long lifetime, blank, duplicate or
    /// overlong audiences.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_lifetime_minutes == 0 || self.max_lifetime_minutes > MAX_LIFETIME_MINUTES {
            return Err(format!(
                "tokens.max_lifetime_minutes must be between 1 and {MAX_LIFETIME_MINUTES}"
            ));
        }
        if self.audiences.len() > MAX_AUDIENCES {
            return Err(format!(
                "tokens.audiences: at most {MAX_AUDIENCES} audiences"
            ));
        }
        for (index, audience) in self.audiences.iter().enumerate() {
            let usable = !audience.is_empty()
                && audience.len() <= MAX_AUDIENCE_BYTES
                && audience.bytes().all(|b| b.is_ascii_graphic());
            if !usable {
                return Err(format!(
                    "tokens.audiences[{index}] must be 1 to {MAX_AUDIENCE_BYTES} printable ASCII characters without spaces"
                ));
            }
            if self.audiences[..index].contains(audience) {
                return Err(format!("tokens.audiences[{index}] is listed twice"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_token_settings_say_what_to_fix() {
        assert!(TokenConfig::default().validate().is_ok());
        let with = |change: fn(&mut TokenConfig)| {
            let mut config = TokenConfig::default();
            change(&mut config);
            config.validate()
        };
        assert!(with(|c| c.max_lifetime_minutes = 0).is_err());
        assert!(with(|c| c.max_lifetime_minutes = 24 * 60 + 1).is_err());
        assert!(
            with(|c| c.audiences = vec!["orders".into(), "orders".into()])
                .unwrap_err()
                .contains("tokens.audiences[1]")
        );
        assert!(with(|c| c.audiences = vec!["two words".into()]).is_err());
        assert!(with(|c| c.audiences = vec![String::new()]).is_err());
        assert!(with(|c| c.audiences = vec!["orders".into(), "billing".into()]).is_ok());
    }
}
