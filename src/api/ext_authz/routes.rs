//! What an Envoy request asks: routes (from Envoy's context extensions or elevator's own
//! configuration) that turn a method and path into a permission on a resource, with `{name}`
//! placeholders filled from the path and never allowed to reach another scope.

use std::sync::Arc;

use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;
use serde::{Deserialize, Serialize};

use crate::domain::{Permission, Scope};

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
pub(super) struct Route {
    method: String,
    segments: Vec<Segment>,
    pub(super) permission: String,
    resource: String,
}

/// Why a request could not be turned into a question; each is a deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unanswerable {
    /// Nothing says what this request asks for.
    NoRoute,
    /// The route's extensions are malformed (a configuration error in Envoy).
    RouteMisconfigured,
    /// The path fills the resource with something that is not a scope.
    BadResource,
}

impl Unanswerable {
    pub(super) fn reason(self) -> &'static str {
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
    pub(super) fn compile(
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
    pub(super) fn resource_for(
        &self,
        method: &str,
        path: &str,
    ) -> Option<Result<String, Unanswerable>> {
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
    pub(super) routes: Arc<[Route]>,
    pub(super) jwt_authn_payload_key: Option<Arc<str>>,
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

/// The request's path without its query string.
pub(super) fn request_path(http: &HttpRequest) -> &str {
    http.path.split(['?', '#']).next().unwrap_or_default()
}
