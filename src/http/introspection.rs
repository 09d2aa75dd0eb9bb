//! `POST /oauth2/introspect`: Token Introspection (RFC 7662) for the tokens elevator mints.
//! A token is `active` only while its signature, issuer, audience (one of `tokens.audiences`)
//! and lifetime hold **and** the grant it carries is active now, read from the store: after
//! the grant is revoked, expires or its session ends, the next call answers
//! `{"active": false}`. Anything else (another issuer's token, garbage) is inactive too;
//! RFC 7662 §2.2 gives no reasons, so none are given. Callers authenticate as at the token
//! endpoint.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Value as Json, json};

use super::oauth_form::{OAuthError, no_store_json};
use super::router::{Connection, HttpEdge};
use super::token_exchange::server_error;
use crate::domain::GrantId;

/// The claims of a minted token that introspection answers with.
const ANSWERED_CLAIMS: [&str; 14] = [
    "iss",
    "sub",
    "sid",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "role",
    "grant_id",
    "delegatedBy",
    "act",
];

impl HttpEdge {
    /// Answers an introspection request.
    pub(super) async fn introspection(
        &self,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Response<Full<Bytes>> {
        match self.try_introspection(request, connection).await {
            Ok(answer) => no_store_json(StatusCode::OK, &answer),
            Err(error) => error.response(),
        }
    }

    async fn try_introspection(
        &self,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Result<Json, OAuthError> {
        let (client, form) = self.oauth_request(request, connection).await?;
        let token = form.required("token")?;
        let inactive = json!({ "active": false });
        let Ok(claims) = self
            .key_ring
            .verify_for_any::<Json>(token, &self.tokens.audiences)
        else {
            return Ok(inactive);
        };
        let Some(grant_id) = claims
            .get("grant_id")
            .and_then(Json::as_str)
            .and_then(|id| GrantId::parse(id).ok())
        else {
            return Ok(inactive);
        };
        let grant = self
            .app
            .grant_in_force(&client, grant_id)
            .await
            .map_err(server_error)?;
        if grant.is_none() {
            return Ok(inactive);
        }
        let mut answer = serde_json::Map::new();
        answer.insert("active".into(), json!(true));
        answer.insert("token_type".into(), json!("Bearer"));
        for name in ANSWERED_CLAIMS {
            if let Some(value) = claims.get(name) {
                answer.insert(name.into(), value.clone());
            }
        }
        Ok(Json::Object(answer))
    }
}
