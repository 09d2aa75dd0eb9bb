//! A person signed in through the provider: the ID token's claims mapped to elevator's
//! identity by the configured claim names, and kept in the console's session cookie, sealed
//! (an HMAC under the console's key, which replicas share), so any replica can read it and
//! none can be handed a changed one.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::{GroupName, Identity, SessionId, StandingRole, Subject};

/// What the session cookie's value starts with when it holds an OpenID Connect sign-in
/// (a pasted token never does: a JWT starts with `ey`).
pub(crate) const SEALED_PREFIX: &str = "oidc.";
/// The longest sealed session kept in a cookie (browsers keep about 4 KiB per cookie).
const MAX_SEALED_BYTES: usize = 3800;

/// Which claims say who the person is.
#[derive(Debug, Clone)]
pub struct ClaimNames {
    /// The subject (`sub`).
    pub subject: String,
    /// The groups (`groups`): a list of strings (or one string).
    pub groups: String,
    /// The manager (`manager`): a subject.
    pub manager: String,
    /// Standing and service roles (`roles`): a list of strings (or one string).
    pub roles: String,
}

/// A sign-in, as the session cookie keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SignedIn {
    /// The provider that signed the person in.
    pub(crate) iss: String,
    /// The subject.
    pub(crate) sub: String,
    /// The provider's login session.
    pub(crate) sid: Option<String>,
    /// Groups.
    pub(crate) groups: Vec<String>,
    /// Roles.
    pub(crate) roles: Vec<String>,
    /// Manager.
    pub(crate) manager: Option<String>,
    /// When the sign-in ends: the ID token's `exp`, seconds since the epoch.
    pub(crate) exp: i64,
    /// When the person signed in, seconds since the epoch.
    pub(crate) at: i64,
}

impl SignedIn {
    /// The sign-in the verified ID token `claims` of `issuer` stand for, read at `now`.
    pub(crate) fn from_claims(
        claims: &Map<String, Value>,
        names: &ClaimNames,
        issuer: &str,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, String> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let list = |name: &str| -> Result<Vec<String>, String> {
            match claims.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(one)) => Ok(vec![one.clone()]),
                Some(Value::Array(many)) => many
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("claim {name} holds something not a string"))
                    })
                    .collect(),
                Some(_) => Err(format!("claim {name} is not a list of strings")),
            }
        };
        let signed_in = SignedIn {
            iss: issuer.to_owned(),
            sub: text(&names.subject).ok_or_else(|| {
                format!("the ID token has no {} claim (the subject)", names.subject)
            })?,
            sid: text("sid"),
            groups: list(&names.groups)?,
            roles: list(&names.roles)?,
            manager: text(&names.manager),
            exp: claims
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            at: now.timestamp(),
        };
        signed_in.identity()?;
        Ok(signed_in)
    }

    /// The identity the console acts as.
    pub(crate) fn identity(&self) -> Result<Identity, String> {
        let invalid =
            |what: &str, error: crate::domain::InvalidValue| format!("claim {what}: {error}");
        Ok(Identity {
            subject: Subject::parse(&self.sub).map_err(|e| invalid("subject", e))?,
            session: self
                .sid
                .as_deref()
                .map(SessionId::parse)
                .transpose()
                .map_err(|e| invalid("sid", e))?,
            groups: self
                .groups
                .iter()
                .map(|group| GroupName::parse(group))
                .collect::<Result<_, _>>()
                .map_err(|e| invalid("groups", e))?,
            standing_roles: self
                .roles
                .iter()
                .filter_map(|r| StandingRole::parse(r))
                .collect(),
            roles: self.roles.clone(),
            manager: self
                .manager
                .as_deref()
                .map(Subject::parse)
                .transpose()
                .map_err(|e| invalid("manager", e))?,
            amr: Vec::new(),
            expires_at: DateTime::from_timestamp(self.exp, 0)
                .ok_or_else(|| "claim exp is out of range".to_owned())?,
            issuer: Some(self.iss.clone()),
        })
    }

    /// When the person signed in.
    pub(crate) fn signed_in_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.at, 0).unwrap_or_default()
    }

    /// The cookie value: the sign-in, then its seal made by `seal`.
    pub(crate) fn sealed(&self, seal: impl Fn(&str) -> String) -> Result<String, String> {
        let json = serde_json::to_vec(self).map_err(|error| error.to_string())?;
        let body = URL_SAFE_NO_PAD.encode(json);
        let sealed = format!("{SEALED_PREFIX}{body}.{}", seal(&body));
        if sealed.len() > MAX_SEALED_BYTES {
            return Err(format!(
                "the sign-in is too large for a cookie ({} bytes, {} groups); ask for fewer groups in the ID token",
                sealed.len(),
                self.groups.len()
            ));
        }
        Ok(sealed)
    }

    /// The sign-in in `cookie`, when its seal (checked with `seal`) is genuine.
    pub(crate) fn unsealed(cookie: &str, seal: impl Fn(&str) -> String) -> Option<SignedIn> {
        let (body, mac) = cookie.strip_prefix(SEALED_PREFIX)?.rsplit_once('.')?;
        if !crate::console::session::constant_time_equal(seal(body).as_bytes(), mac.as_bytes()) {
            tracing::warn!("console session cookie with a wrong seal");
            return None;
        }
        let json = URL_SAFE_NO_PAD.decode(body).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// The identity, shared.
    pub(crate) fn shared_identity(&self) -> Result<Arc<Identity>, String> {
        self.identity().map(Arc::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> ClaimNames {
        ClaimNames {
            subject: "preferred_username".into(),
            groups: "groups".into(),
            manager: "manager".into(),
            roles: "app_roles".into(),
        }
    }

    fn claims() -> Map<String, Value> {
        json!({
            "sub": "00u1x", "preferred_username": "fatma", "sid": "s-1",
            "groups": ["procurement-staff"], "manager": "ali", "app_roles": "po_creator@Org:Procurement",
            "exp": 2_000_000_000,
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn claims_map_to_the_identity_by_the_configured_names() {
        let now = Utc::now();
        let signed_in = SignedIn::from_claims(&claims(), &names(), "https://idp", now).unwrap();
        let identity = signed_in.identity().unwrap();
        assert_eq!(identity.subject.as_str(), "fatma");
        assert_eq!(identity.session.unwrap().as_str(), "s-1");
        assert_eq!(identity.groups[0].as_str(), "procurement-staff");
        assert_eq!(identity.manager.unwrap().as_str(), "ali");
        assert_eq!(identity.standing_roles.len(), 1);
        assert_eq!(identity.issuer.as_deref(), Some("https://idp"));
    }

    #[test]
    fn claims_that_cannot_be_an_identity_are_refused_naming_the_claim() {
        let now = Utc::now();
        let mut missing = claims();
        missing.remove("preferred_username");
        let error = SignedIn::from_claims(&missing, &names(), "https://idp", now).unwrap_err();
        assert!(error.contains("preferred_username"), "{error}");
        let mut wrong = claims();
        wrong.insert("groups".into(), json!([1, 2]));
        let error = SignedIn::from_claims(&wrong, &names(), "https://idp", now).unwrap_err();
        assert!(error.contains("groups"), "{error}");
    }

    #[test]
    fn a_sealed_session_opens_only_unchanged_and_under_its_key() {
        let now = Utc::now();
        let signed_in = SignedIn::from_claims(&claims(), &names(), "https://idp", now).unwrap();
        let seal = |body: &str| format!("mac-of-{}", body.len());
        let sealed = signed_in.sealed(seal).unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert_eq!(SignedIn::unsealed(&sealed, seal), Some(signed_in.clone()));
        let other_key = |body: &str| format!("other-{}", body.len());
        assert_eq!(SignedIn::unsealed(&sealed, other_key), None);
        let changed = sealed.replacen(SEALED_PREFIX, "oidc.e", 1);
        assert_eq!(SignedIn::unsealed(&changed, seal), None);
        let mut crowded = signed_in;
        crowded.groups = vec!["g".repeat(60); 100];
        assert!(crowded.sealed(seal).unwrap_err().contains("too large"));
    }
}
