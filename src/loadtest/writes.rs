//! The writes a run makes: requesting a grant and having the manager approve it, retried
//! while the server limits the caller's write rate, and seeding every grant the workload asks
//! about before it starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use super::scenario::{MANAGER, department, held_question, load_subject};
use super::tokens::{Minter, bearer, with_token};
use super::workload::Workload;
use crate::proto::v1 as pb;
use crate::proto::v1::approval_service_client::ApprovalServiceClient;
use crate::proto::v1::check_service_client::CheckServiceClient;
use crate::proto::v1::elevation_service_client::ElevationServiceClient;

/// Requests `admin_approver` on `scope` for `subject` and has the manager approve it.
pub(super) async fn request_and_approve(
    channel: &Channel,
    minter: &Minter,
    subject: &str,
    scope: &str,
) -> Result<(), tonic::Status> {
    let token = bearer(&minter.subject(subject));
    let elevation = admitted(|| {
        let mut client = ElevationServiceClient::new(channel.clone());
        let request = with_token(
            &token,
            pb::RequestElevationRequest {
                role: "admin_approver".into(),
                scope: scope.into(),
                duration: Some(prost_types::Duration {
                    seconds: 7200,
                    nanos: 0,
                }),
                reason: "load test".into(),
                ..Default::default()
            },
        );
        async move { client.request_elevation(request).await }
    })
    .await?
    .into_inner()
    .elevation
    .ok_or_else(|| tonic::Status::internal("no elevation in the answer"))?;
    let manager = bearer(&minter.token(MANAGER, &["managers"], &[], None));
    admitted(|| {
        let mut client = ApprovalServiceClient::new(channel.clone());
        let request = with_token(
            &manager,
            pb::ApproveRequest {
                elevation_id: elevation.id.clone(),
                comment: "load test".into(),
                idempotency_key: String::new(),
            },
        );
        async move { client.approve(request).await }
    })
    .await?;
    Ok(())
}

/// `call`, again while the server answers `RESOURCE_EXHAUSTED` (its per-caller write rate:
/// seeding approves everything as one manager), for up to two minutes. A server meant for
/// write load tests lifts `limits.writes_per_minute_per_caller` instead.
async fn admitted<T, F, Fut>(mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let pause = Duration::from_millis(250);
    let mut waited = Duration::ZERO;
    loop {
        match call().await {
            Err(status)
                if status.code() == tonic::Code::ResourceExhausted
                    && waited < Duration::from_secs(120) =>
            {
                tokio::time::sleep(pause).await;
                waited += pause;
            }
            answered => return answered,
        }
    }
}

/// Seeding tasks working through the grants at once.
const SEEDERS: usize = 8;

/// Requests and approves every grant the workload asks about that is not held yet.
pub(super) async fn seed(
    workload: &Arc<Workload>,
    channels: &[Channel],
    quiet: bool,
) -> Result<(), String> {
    let minter = workload
        .minter
        .clone()
        .ok_or("seeding needs a token minter")?;
    let pending: Vec<(usize, usize)> = (0..workload.subjects)
        .flat_map(|subject| (0..workload.grants).map(move |grant| (subject, grant)))
        .collect();
    let total = pending.len();
    let pending = Arc::new(Mutex::new(pending));
    let seeded = Arc::new(AtomicU64::new(0));
    if !quiet {
        eprintln!("seeding up to {total} grants");
    }
    let mut seeders = Vec::new();
    for index in 0..SEEDERS {
        let channel = channels[index % channels.len()].clone();
        let (pep, minter) = (workload.pep.clone(), minter.clone());
        let (pending, seeded) = (pending.clone(), seeded.clone());
        seeders.push(tokio::spawn(async move {
            loop {
                // The lock is released at the end of this statement, before the calls.
                let Some((subject, grant)) = pending.lock().await.pop() else {
                    return Ok::<(), String>(());
                };
                if seed_one(&channel, &pep, &minter, subject, grant).await? {
                    seeded.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for seeder in seeders {
        seeder
            .await
            .map_err(|error| format!("seeding: {error}"))??;
    }
    if !quiet {
        eprintln!(
            "seeded {} grants ({} were held already)",
            seeded.load(Ordering::Relaxed),
            total as u64 - seeded.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

/// Grants the `subject`th load subject its `grant`th grant unless it holds it already; says
/// whether it had to.
async fn seed_one(
    channel: &Channel,
    pep: &MetadataValue<Ascii>,
    minter: &Minter,
    subject: usize,
    grant: usize,
) -> Result<bool, String> {
    let name = load_subject(subject);
    let held = CheckServiceClient::new(channel.clone())
        .check(with_token(pep, held_question(name.clone(), grant)))
        .await
        .map_err(|status| format!("seeding: check: {}", status.message()))?
        .into_inner()
        .allowed;
    if held {
        return Ok(false);
    }
    request_and_approve(channel, minter, &name, &department(grant))
        .await
        .map_err(|status| {
            format!(
                "seeding {name} on {}: {}",
                department(grant),
                status.message()
            )
        })?;
    Ok(true)
}
