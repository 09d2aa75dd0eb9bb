//! Envoy's answers: OK with elevator's headers for the upstream (client-sent `x-elevator-*`
//! headers removed), or a refusal with a small JSON body; both with metadata for Envoy's access
//! log. Also the request-side readers: headers and `jwt_authn`'s payload as JSON.

use std::collections::HashMap;

use envoy_types::ext_authz::v3::pb::{
    CheckResponse, DeniedHttpResponse, HeaderAppendAction, HeaderValue, HeaderValueOption,
    HttpResponse, HttpStatus, HttpStatusCode, OkHttpResponse,
};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;
use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use envoy_types::pb::google::rpc;

use crate::domain::{Decision, Identity};

/// Headers elevator sets for the upstream; client-sent headers with this prefix are removed.
const HEADER_PREFIX: &str = "x-elevator-";

/// A request header: from the `headers` map, or the `header_map` Envoy sends when configured
/// with `encode_raw_headers`.
pub(super) fn header<'a>(http: &'a HttpRequest, name: &str) -> Option<&'a str> {
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
pub(super) fn struct_to_json(value: &Struct) -> serde_json::Value {
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

pub(super) fn string_value(text: &str) -> Value {
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
pub(super) fn allowed(
    http: &HttpRequest,
    identity: &Identity,
    decision: &Decision,
) -> CheckResponse {
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
pub(super) fn refused(
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

pub(super) fn forbidden(subject: &str, reason: &str, decision: Option<&Decision>) -> CheckResponse {
    refused(
        HttpStatusCode::Forbidden,
        tonic::Code::PermissionDenied,
        subject,
        reason,
        None,
        decision,
    )
}
