//! `POST /oauth2/token`: OAuth 2.0 Token Exchange (RFC 8693). A policy enforcement point
//! (authenticated as for AuthZEN: a bearer token with the PEP role, or its client certificate)
//! trades a user's token for a short-lived one carrying one elevated role on one scope, for one
//! configured audience. elevator mints only when a live grant of that user covers the role
//! and scope in the token's session; the token never outlives the grant, nor
//! `tokens.max_lifetime_minutes`.
//!
//! The scope is one `role@Scope` (the spelling of standing roles in a token's `roles`):
//! `scope=admin_approver@Org:Procurement/PO:4711`. A delegated grant's trail goes into nested
//! `act` claims (the latest delegator outermost) and `delegatedBy`, so a policy's
//! `token.delegatedBy` means the same inside and outside elevator; an `actor_token` names who
//! acts now and becomes the outermost `act`.

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Map, Value as Json, json};

use super::caller;
use super::oauth_form::{Form, OAuthError, form_content_type, no_store_json};
use super::router::{Connection, HttpEdge, read_body};
use crate::domain::{Grant, Identity, RoleName, Scope, shown};
use crate::service::MintedToken;

/// The grant type of RFC 8693.
pub(super) const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Token types a subject or actor token may be: both mean a JWT elevator verifies.
const ACCEPTED_TOKEN_TYPES: [&str; 2] = [
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:access_token",
];

/// The token type elevator issues.
const ISSUED_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The JOSE `typ` of a minted token (RFC 9068).
pub(super) const MINTED_TOKEN_TYPE: &str = "at+jwt";

/// What was asked for, validated.
struct Exchange {
    holder: std::sync::Arc<Identity>,
    actor: Option<std::sync::Arc<Identity>>,
    audience: String,
    role: RoleName,
    scope: Scope,
    requested: String,
}

impl HttpEdge {
    /// Answers a token exchange: the new token, or an RFC 6749 error; nothing is minted on
    /// any error.
    pub(super) async fn token_exchange(
        &self,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Response<Full<Bytes>> {
        match self.try_token_exchange(request, connection).await {
            Ok(answer) => no_store_json(StatusCode::OK, &answer),
            Err(error) => error.response(),
        }
    }

    async fn try_token_exchange(
        &self,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Result<Json, OAuthError> {
        let (client, form) = self.oauth_request(request, connection).await?;
        let exchange = self.read_exchange(&form).await?;
        let grant = self
            .app
            .grant_to_carry(&client, &exchange.holder, &exchange.role, &exchange.scope)
            .await
            .map_err(server_error)?
            .ok_or_else(|| {
                OAuthError::new(
                    "invalid_scope",
                    format!(
                        "{} holds no active grant of {} covering {} in this session: request an elevation first",
                        exchange.holder.subject,
                        exchange.role,
                        exchange.scope.as_str()
                    ),
                )
            })?;
        let now = self.app.clock_now();
        let expires_at = grant
            .not_after
            .min(now + TimeDelta::minutes(self.tokens.max_lifetime_minutes as i64));
        let token_id = uuid::Uuid::new_v4().to_string();
        let claims = minted_claims(&exchange, &grant, &client, &token_id, now, expires_at);
        let token = self
            .key_ring
            .sign(MINTED_TOKEN_TYPE, &claims)
            .map_err(|error| {
                tracing::error!(%error, "token exchange: signing failed");
                OAuthError::new("server_error", "the token could not be signed")
            })?;
        let minted = MintedToken {
            id: &token_id,
            audience: &exchange.audience,
            scope: &exchange.scope,
            expires_at,
            actor: exchange.actor.as_deref(),
        };
        (self.app)
            .record_minted_token(&client, &exchange.holder, &grant, minted)
            .await
            .map_err(server_error)?;
        Ok(json!({
            "access_token": token,
            "issued_token_type": ISSUED_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": (expires_at - now).num_seconds().max(0),
            "scope": exchange.requested,
        }))
    }

    /// What every OAuth endpoint reads first: the enforcement point calling it, then its form
    /// body (`application/x-www-form-urlencoded`, within the body limit).
    pub(super) async fn oauth_request(
        &self,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Result<(std::sync::Arc<Identity>, Form), OAuthError> {
        let client = self.oauth_client(&request, connection).await?;
        form_content_type(request.headers())?;
        let body = read_body(request)
            .await
            .map_err(|error| OAuthError::invalid_request(error.detail))?;
        Ok((client, Form::parse(&body)?))
    }

    /// The enforcement point calling an OAuth endpoint, refused as `invalid_client`.
    async fn oauth_client(
        &self,
        request: &Request<Incoming>,
        connection: &Connection,
    ) -> Result<std::sync::Arc<Identity>, OAuthError> {
        caller::enforcement_point(
            &self.auth,
            request.headers(),
            connection.certificate.as_ref(),
            &self.app.roles().pep,
        )
        .await
        .map_err(|_| {
            OAuthError::new(
                "invalid_client",
                format!(
                    "authenticate as a policy enforcement point: a bearer token with the {} role, or a PEP client certificate",
                    self.app.roles().pep
                ),
            )
        })
    }

    /// The parameters, each checked, and the subject (and actor) token verified.
    async fn read_exchange(&self, form: &Form) -> Result<Exchange, OAuthError> {
        let grant_type = form.required("grant_type")?;
        if grant_type != TOKEN_EXCHANGE_GRANT {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type must be {TOKEN_EXCHANGE_GRANT}"),
            ));
        }
        if form.optional("resource").is_some() {
            return Err(OAuthError::new(
                "invalid_target",
                "name the token's audience with the audience parameter, not resource",
            ));
        }
        if let Some(requested) = form.optional("requested_token_type")
            && !ACCEPTED_TOKEN_TYPES.contains(&requested)
        {
            return Err(OAuthError::new(
                "invalid_request",
                format!("requested_token_type must be one of {ACCEPTED_TOKEN_TYPES:?}"),
            ));
        }
        let audience = self.audience(form)?;
        let requested = form.required("scope")?;
        let (role, scope) = role_and_scope(requested)?;
        let holder = self.verified_token(form, "subject_token").await?;
        let actor = match form.optional("actor_token") {
            Some(_) => Some(self.verified_token(form, "actor_token").await?),
            None if form.optional("actor_token_type").is_some() => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type is given without an actor_token",
                ));
            }
            None => None,
        };
        Ok(Exchange {
            holder,
            actor,
            audience,
            role,
            scope,
            requested: requested.to_owned(),
        })
    }

    /// The one configured audience asked for.
    fn audience(&self, form: &Form) -> Result<String, OAuthError> {
        let audience = form.required("audience")?;
        if !self.tokens.audiences.iter().any(|known| known == audience) {
            return Err(OAuthError::new(
                "invalid_target",
                format!(
                    "the audience {} is not one tokens are minted for (tokens.audiences)",
                    shown(audience)
                ),
            ));
        }
        Ok(audience.to_owned())
    }

    /// The token in parameter `name` (with its `_type`), verified like any caller's token.
    async fn verified_token(
        &self,
        form: &Form,
        name: &str,
    ) -> Result<std::sync::Arc<Identity>, OAuthError> {
        let token = form.required(name)?;
        let type_name = format!("{name}_type");
        let token_type = form.required(&type_name)?;
        if !ACCEPTED_TOKEN_TYPES.contains(&token_type) {
            return Err(OAuthError::new(
                "unsupported_token_type",
                format!("{type_name} must be one of {ACCEPTED_TOKEN_TYPES:?}"),
            ));
        }
        self.auth
            .verify_refreshing(token)
            .await
            .map_err(|error| OAuthError::invalid_request(format!("{name}: {error}")))
    }
}

/// A failure of elevator's own (the store), said without its details.
pub(super) fn server_error(error: crate::service::ServiceError) -> OAuthError {
    tracing::error!(%error, "oauth: reading grants failed");
    OAuthError::new(
        "server_error",
        "the grants could not be read: retry shortly",
    )
}

/// `role@Scope`, one of each.
fn role_and_scope(requested: &str) -> Result<(RoleName, Scope), OAuthError> {
    let refused = |why: String| {
        OAuthError::new(
            "invalid_scope",
            format!("scope must be one role@Scope, such as admin_approver@Org:Procurement: {why}"),
        )
    };
    if requested.contains(' ') {
        return Err(refused("one role per token".into()));
    }
    let (role, scope) = requested
        .split_once('@')
        .ok_or_else(|| refused("the @Scope part is missing".into()))?;
    let role = RoleName::parse(role).map_err(|error| refused(error.0))?;
    let scope = Scope::parse(scope).map_err(|error| refused(error.0))?;
    Ok((role, scope))
}

/// The claims of the minted token.
fn minted_claims(
    exchange: &Exchange,
    grant: &Grant,
    client: &Identity,
    token_id: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Json {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(exchange.holder.subject.as_str()));
    if let Some(session) = &exchange.holder.session {
        claims.insert("sid".into(), json!(session.as_str()));
    }
    claims.insert("aud".into(), json!(exchange.audience));
    claims.insert("iat".into(), json!(now.timestamp()));
    claims.insert("nbf".into(), json!(now.timestamp()));
    claims.insert("exp".into(), json!(expires_at.timestamp()));
    claims.insert("jti".into(), json!(token_id));
    claims.insert("client_id".into(), json!(client.subject.as_str()));
    claims.insert("scope".into(), json!(exchange.requested));
    claims.insert("role".into(), json!(grant.role.as_str()));
    claims.insert("resource_scope".into(), json!(exchange.scope.as_str()));
    claims.insert("grant_id".into(), json!(grant.id.to_string()));
    if let Some(elevation) = grant.elevation_id {
        claims.insert("elevation_id".into(), json!(elevation.to_string()));
    }
    if let Some(delegator) = grant.delegated_by() {
        claims.insert("delegatedBy".into(), json!(delegator.as_str()));
    }
    if let Some(act) = actor_chain(grant, exchange.actor.as_deref()) {
        claims.insert("act".into(), act);
    }
    Json::Object(claims)
}

/// The `act` claim: the delegation trail nested from the first delegator inwards to the
/// latest outermost, and the actor token's subject, when given, outermost of all.
fn actor_chain(grant: &Grant, actor: Option<&Identity>) -> Option<Json> {
    let delegators = grant
        .delegation_trail
        .iter()
        .map(|hop| hop.delegator.as_str());
    let actors = delegators.chain(actor.map(|actor| actor.subject.as_str()));
    actors.fold(None, |inner, subject| {
        let mut act = Map::new();
        act.insert("sub".into(), json!(subject));
        if let Some(inner) = inner {
            act.insert("act".into(), inner);
        }
        Some(Json::Object(act))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_one_role_on_one_scope() {
        let (role, scope) = role_and_scope("admin_approver@Org:Procurement/PO:4711").unwrap();
        assert_eq!(role.as_str(), "admin_approver");
        assert_eq!(scope.as_str(), "Org:Procurement/PO:4711");
        for bad in [
            "admin_approver",
            "admin_approver@Org:Procurement other@Org:X",
            "@Org:Procurement",
            "admin_approver@",
        ] {
            let error = role_and_scope(bad).unwrap_err();
            assert_eq!(error.code, "invalid_scope", "{bad}");
        }
    }
}
