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

use std::collections::HashMap;
use std::sync::Arc;

use envoy_types::ext_authz::v3::pb::{
    Authorization, AuthorizationServer, CheckRequest, CheckResponse, DeniedHttpResponse,
    HeaderAppendAction, HeaderValue, HeaderValueOption, HttpResponse, HttpStatus, HttpStatusCode,
    OkHttpResponse,
};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;
use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use envoy_types::pb::google::rpc;
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

use super::Api;
use crate::auth::{AuthError, bearer_token};
use crate::domain::{CheckQuery, SubjectRef};
use crate::domain::{Decision, Identity, Permission, Scope};

/// The filter whose metadata holds the payload `jwt_authn` verified.
const JWT_AUTHN_FILTER: &str = "envoy.filters.http.jwt_authn";

/// Headers elevator sets for the upstream; client-sent headers with this prefix are removed.
const HEADER_PREFIX: &str = "x-elevator-";

/// A route in elevator's configuration: requests matching `method` and `path` ask for
/// `permission` on `resource`. Used when Envoy's route carries no context extensions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// An HTTP method, or empty for any.
    #[serde(default)]
    pub method: String,
    /// A path template: `/purchase-orders/{po}/approve`. A `{name}` matches one segment.
    pub path: String,
    /// The permission asked for.
    pub permission: String,
    /// The resource, with `{name}` placeholders from the path: `Org:Procurement/PO:{po}`.
    pub resource: String,
}

/// How Envoy's requests are understood.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtAuthzConfig {
    /// When set, the end user is the payload Envoy's `jwt_authn` filter verified and stored
    /// under this key (its `payload_in_metadata`); the `authorization` header is the fallback.
    pub jwt_authn_payload_key: Option<String>,
    /// Routes for requests whose Envoy route carries no `permission` context extension.
    pub routes: Vec<RouteConfig>,
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Capture(String),
}

/// A compiled route: a path template and what a matching request asks.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    segments: Vec<Segment>,
    permission: String,
    resource: String,
}

/// Why a request could not be turned into a question; each is a deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unanswerable {
    /// Nothing says what this request asks for.
    NoRoute,
    /// The route's extensions are malformed (a configuration error in Envoy).
    RouteMisconfigured,
    /// The path fills the resource with something that is not a scope.
    BadResource,
}

impl Unanswerable {
    fn reason(self) -> &'static str {
        match self {
            Unanswerable::NoRoute => "no_route",
            Unanswerable::RouteMisconfigured => "route_misconfigured",
            Unanswerable::BadResource => "bad_resource",
        }
    }
}

impl Route {
    /// Compiles a route, checking that the permission is well formed and that every
    /// placeholder in the resource is captured by the path.
    fn compile(
        method: &str,
        path: &str,
        permission: &str,
        resource: &str,
    ) -> Result<Route, String> {
        if !path.starts_with('/') {
            return Err(format!("path template {path:?} must start with /"));
        }
        let mut segments = Vec::new();
        for segment in path[1..].split('/') {
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if is_placeholder_name(name) => {
                    if segments.contains(&Segment::Capture(name.to_owned())) {
                        return Err(format!("path template {path:?} captures {{{name}}} twice"));
                    }
                    segments.push(Segment::Capture(name.to_owned()));
                }
                Some(name) => {
                    return Err(format!(
                        "path template {path:?}: {{{name}}} is not a placeholder (letters, digits and _)"
                    ));
                }
                None if segment.contains(['{', '}']) => {
                    return Err(format!(
                        "path template {path:?}: a placeholder must be a whole segment"
                    ));
                }
                None => segments.push(Segment::Literal(segment.to_owned())),
            }
        }
        Permission::validate(permission)
            .map_err(|error| format!("permission {permission:?}: {}", error.0))?;
        for name in placeholders(resource)? {
            if !segments.contains(&Segment::Capture(name.to_owned())) {
                return Err(format!(
                    "resource {resource:?} uses {{{name}}}, which the path template {path:?} does not capture"
                ));
            }
        }
        Ok(Route {
            method: method.to_ascii_uppercase(),
            segments,
            permission: permission.to_owned(),
            resource: resource.to_owned(),
        })
    }

    /// The resource for `path` (query string already removed), or `None` when the path does
    /// not match the template.
    fn resource_for(&self, method: &str, path: &str) -> Option<Result<String, Unanswerable>> {
        if !self.method.is_empty() && !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut captured: Vec<(&str, &str)> = Vec::new();
        for (segment, part) in self.segments.iter().zip(&parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Capture(name) => captured.push((name, part)),
            }
        }
        let mut resource = self.resource.clone();
        for (name, value) in captured {
            // A captured segment is data from the client: it may only fill a scope segment's
            // id, never add separators that would reach another scope.
            if value.is_empty() || value.contains(['/', ':', '{', '}', '*']) {
                return Some(Err(Unanswerable::BadResource));
            }
            resource = resource.replace(&format!("{{{name}}}"), value);
        }
        if Scope::validate(&resource).is_err() {
            return Some(Err(Unanswerable::BadResource));
        }
        Some(Ok(resource))
    }
}

fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The `{name}` placeholders in a resource template.
fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("resource {template:?} has an unclosed {{"))?;
        let name = &after[..close];
        if !is_placeholder_name(name) {
            return Err(format!(
                "resource {template:?}: {{{name}}} is not a placeholder (letters, digits and _)"
            ));
        }
        names.push(name);
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("resource {template:?} has a stray }}"));
    }
    Ok(names)
}

/// [`ExtAuthzConfig`], checked: its routes compiled.
#[derive(Debug, Clone)]
pub struct ExtAuthzSettings {
    routes: Arc<[Route]>,
    jwt_authn_payload_key: Option<Arc<str>>,
}

impl ExtAuthzConfig {
    /// Compiles the configured routes; fails on one that does not compile, naming it.
    pub fn compile(&self) -> Result<ExtAuthzSettings, String> {
        let routes = self
            .routes
            .iter()
            .enumerate()
            .map(|(index, route)| {
                Route::compile(
                    &route.method,
                    &route.path,
                    &route.permission,
                    &route.resource,
                )
                .map_err(|error| format!("ext_authz.routes[{index}]: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ExtAuthzSettings {
            routes: routes.into(),
            jwt_authn_payload_key: self.jwt_authn_payload_key.as_deref().map(Arc::from),
        })
    }
}

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
        self.api.auth.verify_refreshing(token).await
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

/// The request's path without its query string.
fn request_path(http: &HttpRequest) -> &str {
    http.path.split(['?', '#']).next().unwrap_or_default()
}

/// A request header: from the `headers` map, or the `header_map` Envoy sends when configured
/// with `encode_raw_headers`.
fn header<'a>(http: &'a HttpRequest, name: &str) -> Option<&'a str> {
    if let Some(value) = http.headers.get(name) {
        return Some(value);
    }
    let map = http.header_map.as_ref()?;
    let entry = map
        .headers
        .iter()
        .find(|entry| entry.key.eq_ignore_ascii_case(name))?;
    if entry.value.is_empty() {
        std::str::from_utf8(&entry.raw_value).ok()
    } else {
        Some(&entry.value)
    }
}

fn header_names(http: &HttpRequest) -> Vec<String> {
    let mut names: Vec<String> = http.headers.keys().cloned().collect();
    if let Some(map) = &http.header_map {
        names.extend(
            map.headers
                .iter()
                .map(|entry| entry.key.to_ascii_lowercase()),
        );
    }
    names
}

/// A protobuf `Struct` as JSON, with whole numbers as integers (claims such as `exp` are).
fn struct_to_json(value: &Struct) -> serde_json::Value {
    serde_json::Value::Object(
        value
            .fields
            .iter()
            .map(|(key, value)| (key.clone(), value_to_json(value)))
            .collect(),
    )
}

fn value_to_json(value: &Value) -> serde_json::Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(flag)) => serde_json::Value::Bool(*flag),
        Some(Kind::StringValue(text)) => serde_json::Value::String(text.clone()),
        Some(Kind::NumberValue(number)) => {
            if number.fract() == 0.0 && number.abs() < 9.0e15 {
                serde_json::Value::from(*number as i64)
            } else {
                serde_json::Number::from_f64(*number).map_or(serde_json::Value::Null, Into::into)
            }
        }
        Some(Kind::StructValue(inner)) => struct_to_json(inner),
        Some(Kind::ListValue(list)) => list.values.iter().map(value_to_json).collect(),
    }
}

fn string_value(text: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(text.to_owned())),
    }
}

fn set_header(name: &str, value: &str) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.to_owned(),
            value: value.to_owned(),
            ..Default::default()
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..Default::default()
    }
}

fn rpc_status(code: tonic::Code, message: &str) -> rpc::Status {
    rpc::Status {
        code: code as i32,
        message: message.to_owned(),
        details: Vec::new(),
    }
}

/// Metadata for Envoy's access log: who, why, with what.
fn decision_metadata(subject: &str, reason: &str, decision: Option<&Decision>) -> Struct {
    let mut fields = HashMap::from([
        ("subject".to_owned(), string_value(subject)),
        ("reason".to_owned(), string_value(reason)),
    ]);
    if let Some(grant) = decision.and_then(|decision| decision.grant.as_ref()) {
        fields.insert("grant".to_owned(), string_value(&grant.id.to_string()));
    }
    Struct { fields }
}

/// The answer for an allowed request: OK, with elevator's headers set and any client-sent
/// `x-elevator-*` header removed.
fn allowed(http: &HttpRequest, identity: &Identity, decision: &Decision) -> CheckResponse {
    let mut headers = vec![set_header("x-elevator-subject", identity.subject.as_str())];
    if let Some(role) = decision.role() {
        headers.push(set_header("x-elevator-role", role));
    }
    if let Some(grant) = &decision.grant {
        headers.push(set_header("x-elevator-grant", &grant.id.to_string()));
        if let Some(delegator) = grant.delegated_by() {
            headers.push(set_header("x-elevator-delegated-by", delegator.as_str()));
        }
    }
    let headers_to_remove = header_names(http)
        .into_iter()
        .filter(|name| name.starts_with(HEADER_PREFIX))
        .filter(|name| {
            !headers
                .iter()
                .any(|set| set.header.as_ref().is_some_and(|h| &h.key == name))
        })
        .collect();
    CheckResponse {
        status: Some(rpc_status(tonic::Code::Ok, "")),
        dynamic_metadata: Some(decision_metadata(
            identity.subject.as_str(),
            decision.reason.as_str(),
            Some(decision),
        )),
        http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
            headers,
            headers_to_remove,
            ..Default::default()
        })),
    }
}

/// The answer for a refused request: `http_status` with a small JSON body.
fn refused(
    http_status: HttpStatusCode,
    code: tonic::Code,
    subject: &str,
    reason: &str,
    message: Option<&str>,
    decision: Option<&Decision>,
) -> CheckResponse {
    let mut body = serde_json::json!({ "allowed": false, "reason": reason });
    if let Some(message) = message {
        body["message"] = message.into();
    }
    let mut headers = vec![set_header("content-type", "application/json")];
    if http_status == HttpStatusCode::Unauthorized {
        headers.push(set_header("www-authenticate", "Bearer"));
    }
    CheckResponse {
        status: Some(rpc_status(code, reason)),
        dynamic_metadata: Some(decision_metadata(subject, reason, decision)),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus {
                code: http_status as i32,
            }),
            headers,
            body: body.to_string(),
        })),
    }
}

fn forbidden(subject: &str, reason: &str, decision: Option<&Decision>) -> CheckResponse {
    refused(
        HttpStatusCode::Forbidden,
        tonic::Code::PermissionDenied,
        subject,
        reason,
        None,
        decision,
    )
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
