//! Envoy external authorization: `envoy.service.auth.v3.Authorization/Check`, served next to
//! `elevator.v1` and answered by the same use case as `CheckService.Check`
//! ([`Elevator::check`](crate::service::Elevator::check)), so a decision through Envoy and a
//! decision asked directly can never differ.
//!
//! Who calls is Envoy, with a policy-enforcement-point token in its gRPC metadata. Who acts is
//! the end user named by the request's own bearer token (verified here like any token), or,
//! when `ext_authz.jwt_authn_payload_key` is set, by the payload Envoy's `jwt_authn` filter
//! verified and put in the metadata. The session is that token's `sid`. Headers a client sets
//! to name itself are never read, and client-sent `x-elevator-*` headers never reach upstream.
//!
//! What is asked comes from the route: `permission` and `resource` in its
//! `context_extensions`, with `{name}` placeholders in the resource filled from the path by
//! the `path_template` extension; routes in elevator's own configuration are the fallback.
//!
//! Allowed: OK, with `x-elevator-subject`, `x-elevator-role`, `x-elevator-grant` and
//! `x-elevator-delegated-by` for the upstream. Denied: 403 with `{"allowed":false,"reason":…}`.
//! No or bad token: 401. Every other failure is a deny, or an error Envoy turns into one
//! (`failure_mode_allow: false`).

mod answers;
mod routes;

use std::collections::HashMap;
use std::sync::Arc;

use envoy_types::ext_authz::v3::pb::{
    Authorization, AuthorizationServer, CheckRequest, CheckResponse, HttpStatusCode,
};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;
use envoy_types::pb::google::protobuf::{Struct, value::Kind};
use tonic::{Request, Response, Status};

use super::Api;
use crate::auth::{AuthError, bearer_token};
use crate::domain::{CheckQuery, Identity, SubjectRef};
use answers::{allowed, forbidden, header, refused, struct_to_json};
use routes::{Route, Unanswerable, request_path};

pub use routes::{ExtAuthzConfig, ExtAuthzSettings, RouteConfig};

/// The filter whose metadata holds the payload `jwt_authn` verified.
const JWT_AUTHN_FILTER: &str = "envoy.filters.http.jwt_authn";

/// The Envoy `Authorization` service.
#[derive(Clone)]
pub struct EnvoyAuthorization {
    api: Api,
    settings: ExtAuthzSettings,
}

impl EnvoyAuthorization {
    /// The service over `api`, understanding requests as `settings` say.
    pub fn new(api: Api, settings: ExtAuthzSettings) -> Self {
        EnvoyAuthorization { api, settings }
    }

    /// The tonic service.
    pub fn into_service(self) -> AuthorizationServer<Self> {
        AuthorizationServer::new(self)
            .max_decoding_message_size(super::limits::MAX_EXT_AUTHZ_MESSAGE_BYTES)
    }

    /// The end user: the payload `jwt_authn` verified when trusted and present, otherwise the
    /// request's bearer token.
    async fn end_user(
        &self,
        request: &CheckRequest,
        http: &HttpRequest,
    ) -> Result<Arc<Identity>, AuthError> {
        if let Some(payload) = self.jwt_authn_payload(request) {
            return self
                .api
                .auth
                .accept_verified_payload(struct_to_json(payload));
        }
        let header = header(http, "authorization").ok_or(AuthError::Missing)?;
        let token = bearer_token(header).ok_or(AuthError::Missing)?;
        self.api.auth.verify_end_user(token).await
    }

    fn jwt_authn_payload<'a>(&self, request: &'a CheckRequest) -> Option<&'a Struct> {
        let key = self.settings.jwt_authn_payload_key.as_deref()?;
        let metadata = request.attributes.as_ref()?.metadata_context.as_ref()?;
        let filter = metadata.filter_metadata.get(JWT_AUTHN_FILTER)?;
        match filter.fields.get(key)?.kind.as_ref()? {
            Kind::StructValue(payload) => Some(payload),
            _ => None,
        }
    }

    /// What the request asks: from the route's context extensions, else the configured routes.
    fn question(
        &self,
        extensions: &HashMap<String, String>,
        http: &HttpRequest,
    ) -> Result<(String, String), Unanswerable> {
        let path = request_path(http);
        if let Some(permission) = extensions.get("permission") {
            let resource = extensions
                .get("resource")
                .ok_or(Unanswerable::RouteMisconfigured)?;
            let template = extensions.get("path_template").map_or(path, String::as_str);
            let route = Route::compile("", template, permission, resource).map_err(|error| {
                tracing::warn!(%error, "envoy route context extensions do not compile");
                Unanswerable::RouteMisconfigured
            })?;
            let resource = route
                .resource_for(&http.method, path)
                .ok_or(Unanswerable::NoRoute)??;
            return Ok((route.permission, resource));
        }
        for route in self.settings.routes.iter() {
            if let Some(resource) = route.resource_for(&http.method, path) {
                return Ok((route.permission.clone(), resource?));
            }
        }
        Err(Unanswerable::NoRoute)
    }
}

#[tonic::async_trait]
impl Authorization for EnvoyAuthorization {
    async fn check(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        // Envoy itself must be a policy enforcement point (by token, or by client certificate
        // over mutual TLS); if not, the error makes Envoy deny.
        let caller = self.api.enforcement_point(&request).await?;
        let check = request.get_ref();
        let Some(attributes) = check.attributes.as_ref() else {
            return Ok(Response::new(forbidden("", "no_route", None)));
        };
        let Some(http) = attributes
            .request
            .as_ref()
            .and_then(|request| request.http.as_ref())
        else {
            return Ok(Response::new(forbidden("", "no_route", None)));
        };
        let identity = match self.end_user(check, http).await {
            Ok(identity) => identity,
            Err(error) => {
                return Ok(Response::new(refused(
                    HttpStatusCode::Unauthorized,
                    tonic::Code::Unauthenticated,
                    "",
                    "unauthenticated",
                    Some(&error.to_string()),
                    None,
                )));
            }
        };
        let subject = identity.subject.as_str();
        let (permission, resource) = match self.question(&attributes.context_extensions, http) {
            Ok(question) => question,
            Err(unanswerable) => {
                return Ok(Response::new(forbidden(
                    subject,
                    unanswerable.reason(),
                    None,
                )));
            }
        };
        let query = CheckQuery {
            subject: SubjectRef::from(&identity.subject),
            session: identity.session.as_ref().map(|session| session.as_str()),
            permission: &permission,
            resource: &resource,
            token: Some(&identity),
            min_revision: 0,
        };
        let decision = self.api.app.check(&caller, &query).await?;
        let response = if decision.allowed {
            allowed(http, &identity, &decision)
        } else {
            forbidden(subject, decision.reason.as_str(), Some(&decision))
        };
        Ok(Response::new(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use answers::string_value;
    use envoy_types::pb::google::protobuf::Value;

    fn http(method: &str, path: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn templates_fill_the_resource_from_the_path() {
        let route = Route::compile(
            "post",
            "/purchase-orders/{po}/approve",
            "purchase_orders.approve",
            "Org:Procurement/PO:{po}",
        )
        .unwrap();
        assert_eq!(
            route.resource_for("POST", "/purchase-orders/4711/approve"),
            Some(Ok("Org:Procurement/PO:4711".into()))
        );
        assert_eq!(
            route.resource_for("GET", "/purchase-orders/4711/approve"),
            None
        );
        assert_eq!(route.resource_for("POST", "/purchase-orders/4711"), None);
        assert_eq!(route.resource_for("POST", "/invoices/4711/approve"), None);
    }

    #[test]
    fn a_path_cannot_smuggle_another_scope_into_the_resource() {
        let route = Route::compile("", "/po/{po}", "p.read", "Org:Procurement/PO:{po}").unwrap();
        for sneaky in ["/po/1:2", "/po/{x}", "/po/*", "/po/"] {
            assert_eq!(
                route.resource_for("GET", sneaky),
                Some(Err(Unanswerable::BadResource)),
                "{sneaky}"
            );
        }
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let cases = [
            ("po/{po}", "Org:A/PO:{po}", "must start with /"),
            ("/po/{po}", "Org:A/PO:{id}", "does not capture"),
            ("/po/x{po}", "Org:A", "whole segment"),
            ("/po/{p-o}", "Org:A", "not a placeholder"),
            ("/po/{po}/{po}", "Org:A", "twice"),
            ("/po/{po}", "Org:A/PO:{po", "unclosed"),
        ];
        for (path, resource, expected) in cases {
            let error = Route::compile("", path, "p.read", resource).unwrap_err();
            assert!(error.contains(expected), "{path} {resource}: {error}");
        }
        let error = Route::compile("", "/po", "not a permission", "Org:A").unwrap_err();
        assert!(error.contains("permission"), "{error}");
    }

    #[test]
    fn query_strings_do_not_change_the_route() {
        let route = Route::compile("", "/po/{po}", "p.read", "Org:A/PO:{po}").unwrap();
        let request = http("GET", "/po/7?next=/po/8#top");
        assert_eq!(request_path(&request), "/po/7");
        assert_eq!(
            route.resource_for(&request.method, request_path(&request)),
            Some(Ok("Org:A/PO:7".into()))
        );
    }

    #[test]
    fn claims_from_metadata_keep_whole_numbers_whole() {
        let payload = Struct {
            fields: HashMap::from([
                ("sub".to_owned(), string_value("fatma")),
                (
                    "exp".to_owned(),
                    Value {
                        kind: Some(Kind::NumberValue(1_900_000_000.0)),
                    },
                ),
            ]),
        };
        let json = struct_to_json(&payload);
        assert_eq!(json["exp"], serde_json::json!(1_900_000_000i64));
        assert_eq!(json["sub"], "fatma");
    }
}
