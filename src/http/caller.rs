//! Who is asking, exactly as for gRPC Check: the verified bearer token in the raw
//! `Authorization` header, or, when none is sent, the PEP a verified client certificate names
//! (mutual TLS). Either way the caller must hold the PEP role; a certificate identity holds it
//! and nothing else.

use std::sync::Arc;

use http::HeaderMap;

use super::problem::HttpError;
use crate::auth::{AuthError, Authenticator, bearer_token};
use crate::domain::Identity;
use crate::service::ServiceError;

/// The enforcement point behind a request: its bearer token when it sends one, else its
/// client certificate's identity; refused with `401` without either and `403` without the PEP
/// role.
pub(super) async fn enforcement_point(
    auth: &Authenticator,
    headers: &HeaderMap,
    certificate: Option<&Arc<Identity>>,
    pep_role: &str,
) -> Result<Arc<Identity>, HttpError> {
    let caller = authenticated(auth, headers, certificate).await?;
    if !caller.has_role(pep_role) {
        return Err(ServiceError::denied(
            "ROLE_REQUIRED",
            format!("AuthZEN evaluations need the {pep_role:?} role in the caller's token"),
        )
        .into());
    }
    Ok(caller)
}

/// Who is behind a request, whatever its roles: its bearer token when it sends one, else its
/// client certificate's identity; refused with `401` without either.
pub(super) async fn authenticated(
    auth: &Authenticator,
    headers: &HeaderMap,
    certificate: Option<&Arc<Identity>>,
) -> Result<Arc<Identity>, HttpError> {
    let caller = match (headers.get(http::header::AUTHORIZATION), certificate) {
        (None, Some(identity)) => identity.clone(),
        (None, None) => return Err(ServiceError::Unauthenticated(AuthError::Missing).into()),
        (Some(value), _) => {
            let text = value.to_str().map_err(|_| {
                ServiceError::Unauthenticated(AuthError::Invalid(
                    "the authorization header is not ASCII".into(),
                ))
            })?;
            let token =
                bearer_token(text).ok_or(ServiceError::Unauthenticated(AuthError::Missing))?;
            auth.verify_refreshing(token)
                .await
                .map_err(ServiceError::Unauthenticated)?
        }
    };
    Ok(caller)
}
