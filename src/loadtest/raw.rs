//! Calls elevator does not define: a gRPC method with a pre-encoded body (the health check, a
//! peer PDP), so that the same load generator drives every target of a side-by-side run, and
//! the body files `h2load` sends.

use std::collections::HashMap;

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// A codec that passes message bytes through untouched.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// A message in a gRPC frame (uncompressed flag, big-endian length, bytes): what `h2load -d`
/// sends as a request body.
pub(super) fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// The gRPC method of Cerbos' check.
pub(super) const CERBOS_CHECK_PATH: &str = "/cerbos.svc.v1.CerbosService/CheckResources";

/// The gRPC method of the standard health check.
pub(super) const HEALTH_CHECK_PATH: &str = "/grpc.health.v1.Health/Check";

// The few fields of Cerbos' API (cerbos.request.v1 / cerbos.engine.v1 / cerbos.response.v1)
// the comparison needs, with Cerbos' field numbers.

/// `cerbos.request.v1.CheckResourcesRequest`.
#[derive(Clone, PartialEq, Message)]
pub(super) struct CerbosCheckResourcesRequest {
    /// Request id.
    #[prost(string, tag = "1")]
    pub(super) request_id: String,
    /// Who asks.
    #[prost(message, optional, tag = "3")]
    pub(super) principal: Option<CerbosPrincipal>,
    /// What for.
    #[prost(message, repeated, tag = "4")]
    pub(super) resources: Vec<CerbosResourceEntry>,
}

/// `cerbos.engine.v1.Principal`.
#[derive(Clone, PartialEq, Message)]
pub(super) struct CerbosPrincipal {
    /// Id.
    #[prost(string, tag = "1")]
    pub(super) id: String,
    /// Roles.
    #[prost(string, repeated, tag = "3")]
    pub(super) roles: Vec<String>,
    /// Attributes.
    #[prost(map = "string, message", tag = "4")]
    pub(super) attr: HashMap<String, prost_types::Value>,
}

/// `cerbos.request.v1.CheckResourcesRequest.ResourceEntry`.
#[derive(Clone, PartialEq, Message)]
pub(super) struct CerbosResourceEntry {
    /// Actions.
    #[prost(string, repeated, tag = "1")]
    pub(super) actions: Vec<String>,
    /// The resource.
    #[prost(message, optional, tag = "2")]
    pub(super) resource: Option<CerbosResource>,
}

/// `cerbos.engine.v1.Resource`.
#[derive(Clone, PartialEq, Message)]
pub(super) struct CerbosResource {
    /// Kind.
    #[prost(string, tag = "1")]
    pub(super) kind: String,
    /// Id.
    #[prost(string, tag = "3")]
    pub(super) id: String,
}

/// `cerbos.response.v1.CheckResourcesResponse`.
#[derive(Clone, PartialEq, Message)]
pub(super) struct CerbosCheckResourcesResponse {
    /// One result per resource.
    #[prost(message, repeated, tag = "2")]
    pub(super) results: Vec<CerbosResultEntry>,
}

/// `cerbos.response.v1.CheckResourcesResponse.ResultEntry`.
#[derive(Clone, PartialEq, Message)]
pub(super) struct CerbosResultEntry {
    /// Effect per action (`EFFECT_ALLOW` = 1).
    #[prost(map = "string, int32", tag = "2")]
    pub(super) actions: HashMap<String, i32>,
}

/// Cerbos' `EFFECT_ALLOW`.
pub(super) const CERBOS_EFFECT_ALLOW: i32 = 1;

/// The question of the comparison, asked of Cerbos: may principal `fatma` (role
/// `admin_approver`, attribute `department: procurement`) `approve` purchase order 4711?
pub(super) fn cerbos_question() -> Bytes {
    let department = prost_types::Value {
        kind: Some(prost_types::value::Kind::StringValue("procurement".into())),
    };
    CerbosCheckResourcesRequest {
        request_id: String::new(),
        principal: Some(CerbosPrincipal {
            id: "fatma".into(),
            roles: vec!["admin_approver".into()],
            attr: HashMap::from([("department".into(), department)]),
        }),
        resources: vec![CerbosResourceEntry {
            actions: vec!["approve".into()],
            resource: Some(CerbosResource {
                kind: "purchase_order".into(),
                id: "4711".into(),
            }),
        }],
    }
    .encode_to_vec()
    .into()
}

/// Whether a Cerbos answer allows every action it lists.
pub(super) fn cerbos_allows(answer: &[u8]) -> Result<bool, prost::DecodeError> {
    let response = CerbosCheckResourcesResponse::decode(answer)?;
    Ok(!response.results.is_empty()
        && response.results.iter().all(|result| {
            !result.actions.is_empty()
                && result
                    .actions
                    .values()
                    .all(|effect| *effect == CERBOS_EFFECT_ALLOW)
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_length_big_endian() {
        assert_eq!(grpc_frame(&[]), vec![0, 0, 0, 0, 0]);
        assert_eq!(grpc_frame(&[7, 8]), vec![0, 0, 0, 0, 2, 7, 8]);
    }

    #[test]
    fn a_cerbos_allow_is_read_from_its_effects() {
        let allow = CerbosCheckResourcesResponse {
            results: vec![CerbosResultEntry {
                actions: HashMap::from([("approve".into(), CERBOS_EFFECT_ALLOW)]),
            }],
        };
        assert!(cerbos_allows(&allow.encode_to_vec()).unwrap());
        let deny = CerbosCheckResourcesResponse {
            results: vec![CerbosResultEntry {
                actions: HashMap::from([("approve".into(), 2)]),
            }],
        };
        assert!(!cerbos_allows(&deny.encode_to_vec()).unwrap());
        assert!(!cerbos_allows(&[]).unwrap());
    }
}
