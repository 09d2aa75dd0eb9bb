//! The workload: the operations a run sends (Checks, Envoy Checks, writes, raw calls), drawn
//! at random in the shares the arguments give, and what each one's answer counts as.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use envoy_types::pb::envoy::service::auth::v3 as envoy;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use rand::Rng;
use rand::rngs::StdRng;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use super::args::{LoadtestArgs, Mode};
use super::raw::{self, RawCodec};
use super::scenario::{PERMISSION, department, load_subject, question};
use super::tokens::{Minter, bearer, with_token};
use super::writes::request_and_approve;
use crate::proto::v1 as pb;
use crate::proto::v1::check_service_client::CheckServiceClient;

/// One operation of the workload.
pub(super) enum Operation {
    /// A Check.
    Check(Box<pb::CheckRequest>),
    /// The same question as Envoy asks it, with the subject's token.
    Envoy(Box<envoy::CheckRequest>),
    /// A raw call (health, Cerbos).
    Raw,
    /// Request and approve an elevation for a fresh subject.
    Write(u64),
}

/// How an operation went.
pub(super) enum Outcome {
    /// A Check answered allowed.
    Allowed,
    /// A Check answered denied.
    Denied,
    /// Any other call, answered without error.
    Done,
}

/// The workload and everything needed to run it.
pub(super) struct Workload {
    mode: Mode,
    /// Subjects asked about.
    pub(super) subjects: usize,
    /// Grants each subject holds.
    pub(super) grants: usize,
    miss_share: f64,
    deny_share: f64,
    write_share: f64,
    /// The PEP's token (`elevator:check`) as a header value.
    pub(super) pep: MetadataValue<Ascii>,
    /// The PEP's token, printed by `--emit-body` for tools that send the body.
    pub(super) pep_token: String,
    /// Signs subjects' tokens; absent when the mode needs none.
    pub(super) minter: Option<Minter>,
    /// In `envoy` mode, each load subject's token, by index.
    subject_tokens: Vec<String>,
    raw_path: http::uri::PathAndQuery,
    /// The pre-encoded request of a raw call (health, Cerbos).
    pub(super) raw_body: Bytes,
    /// A random number naming this run's fresh subjects apart from earlier runs'.
    pub(super) run: u64,
    writes: AtomicU64,
}

impl Workload {
    fn check_question(&self, rng: &mut StdRng) -> pb::CheckRequest {
        let po = rng.random_range(1..100_000u32);
        let (subject, resource) = if rng.random_bool(self.miss_share) {
            (
                format!("load-miss-{:016x}", rng.random::<u64>()),
                format!("{}/PO:{po}", department(0)),
            )
        } else {
            let subject = load_subject(rng.random_range(0..self.subjects));
            let resource = if rng.random_bool(self.deny_share) {
                format!("Org:Sales/PO:{po}")
            } else {
                format!(
                    "{}/PO:{po}",
                    department(rng.random_range(0..self.grants.max(1)))
                )
            };
            (subject, resource)
        };
        question(subject, resource)
    }

    fn envoy_question(&self, rng: &mut StdRng) -> envoy::CheckRequest {
        let question = self.check_question(rng);
        let token = match question.subject.strip_prefix("load-miss-") {
            Some(_) => self
                .minter
                .as_ref()
                .map(|minter| minter.subject(&question.subject))
                .unwrap_or_default(),
            None => {
                let index: usize = question.subject["load-".len()..].parse().unwrap_or(0);
                self.subject_tokens.get(index).cloned().unwrap_or_default()
            }
        };
        envoy_request(&question.resource, &token)
    }

    /// The next operation to send, drawn with `rng`.
    pub(super) fn next(&self, rng: &mut StdRng) -> Operation {
        match self.mode {
            Mode::Check => Operation::Check(Box::new(self.check_question(rng))),
            Mode::Envoy => Operation::Envoy(Box::new(self.envoy_question(rng))),
            Mode::Mixed if rng.random_bool(self.write_share) => {
                Operation::Write(self.writes.fetch_add(1, Ordering::Relaxed))
            }
            Mode::Mixed => Operation::Check(Box::new(self.check_question(rng))),
            Mode::Health | Mode::Cerbos => Operation::Raw,
            Mode::Invalidation => unreachable!("invalidation runs its own loop"),
        }
    }

    /// Sends `operation` on `channel`; what its answer counts as.
    pub(super) async fn execute(
        &self,
        operation: Operation,
        channel: &Channel,
    ) -> Result<Outcome, tonic::Status> {
        match operation {
            Operation::Check(question) => {
                let answer = CheckServiceClient::new(channel.clone())
                    .check(with_token(&self.pep, *question))
                    .await?
                    .into_inner();
                Ok(if answer.allowed {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                })
            }
            Operation::Envoy(question) => {
                let answer = AuthorizationClient::new(channel.clone())
                    .check(with_token(&self.pep, *question))
                    .await?
                    .into_inner();
                let allowed = answer.status.is_some_and(|status| status.code == 0);
                Ok(if allowed {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                })
            }
            Operation::Raw => {
                let answer = raw_call(channel, &self.raw_path, self.raw_body.clone()).await?;
                if self.mode == Mode::Cerbos {
                    let allowed = raw::cerbos_allows(&answer).map_err(|error| {
                        tonic::Status::internal(format!("unreadable Cerbos answer: {error}"))
                    })?;
                    return Ok(if allowed {
                        Outcome::Allowed
                    } else {
                        Outcome::Denied
                    });
                }
                Ok(Outcome::Done)
            }
            Operation::Write(number) => {
                let minter = self.minter.as_ref().ok_or_else(|| {
                    tonic::Status::failed_precondition("writes need a token minter")
                })?;
                let subject = format!("load-writer-{:x}-{number}", self.run);
                request_and_approve(channel, minter, &subject, &department(0)).await?;
                Ok(Outcome::Done)
            }
        }
    }
}

async fn raw_call(
    channel: &Channel,
    path: &http::uri::PathAndQuery,
    body: Bytes,
) -> Result<Bytes, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    Ok(grpc
        .unary(tonic::Request::new(body), path.clone(), RawCodec)
        .await?
        .into_inner())
}

/// What Envoy sends for `POST /depts/.../approve` with the subject's bearer token, the route's
/// extensions naming the permission and the resource.
fn envoy_request(resource: &str, token: &str) -> envoy::CheckRequest {
    use envoy::attribute_context::{HttpRequest, Request};
    envoy::CheckRequest {
        attributes: Some(envoy::AttributeContext {
            request: Some(Request {
                http: Some(HttpRequest {
                    method: "POST".into(),
                    path: "/approve".into(),
                    headers: [("authorization".to_owned(), format!("Bearer {token}"))].into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            context_extensions: [
                ("path_template".to_owned(), "/approve".to_owned()),
                ("permission".to_owned(), PERMISSION.to_owned()),
                ("resource".to_owned(), resource.to_owned()),
            ]
            .into(),
            ..Default::default()
        }),
    }
}

/// Checks the arguments and builds the workload (minting its tokens).
pub(super) fn prepare(args: &LoadtestArgs) -> Result<Arc<Workload>, String> {
    for (flag, share) in [
        ("miss-share", args.miss_share),
        ("deny-share", args.deny_share),
        ("write-share", args.write_share),
    ] {
        if !(0.0..=1.0).contains(&share) {
            return Err(format!("--{flag}: {share} is not between 0 and 1"));
        }
    }
    if args
        .rate
        .is_some_and(|rate| !(rate > 0.0 && rate.is_finite()))
    {
        return Err("--rate: must be a positive number of requests per second".into());
    }
    if args.subjects == 0 {
        return Err("--subjects: at least 1".into());
    }
    let needs_tokens = matches!(
        args.mode,
        Mode::Check | Mode::Envoy | Mode::Mixed | Mode::Invalidation
    );
    let minter = if needs_tokens || args.seed_grants {
        Some(Minter::load(args)?)
    } else {
        None
    };
    let pep_token = minter
        .as_ref()
        .map(|minter| minter.token("loadtest", &[], &["elevator:check"], None))
        .unwrap_or_default();
    let (raw_path, raw_body) = match args.mode {
        Mode::Health => (raw::HEALTH_CHECK_PATH, Bytes::new()),
        Mode::Cerbos => (raw::CERBOS_CHECK_PATH, raw::cerbos_question()),
        _ => ("/", Bytes::new()),
    };
    let subject_tokens = match (&minter, args.mode) {
        (Some(minter), Mode::Envoy) => (0..args.subjects)
            .map(|index| minter.subject(&load_subject(index)))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Arc::new(Workload {
        mode: args.mode,
        subjects: args.subjects,
        grants: args.grants_per_subject,
        miss_share: args.miss_share,
        deny_share: args.deny_share,
        write_share: if args.mode == Mode::Mixed {
            args.write_share
        } else {
            0.0
        },
        pep: bearer(&pep_token),
        pep_token,
        minter,
        subject_tokens,
        raw_path: http::uri::PathAndQuery::from_static(raw_path),
        raw_body,
        run: rand::random::<u32>() as u64,
        writes: AtomicU64::new(0),
    }))
}
