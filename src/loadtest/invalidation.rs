//! `--mode invalidation`: how long a revocation through one replica takes to deny on another.
//! Each sample grants a fresh subject, waits until the observer allows it, revokes the grant
//! through the target, and times until the observer denies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use super::args::LoadtestArgs;
use super::report::{Report, ReportHeader, Tally};
use super::run::connect;
use super::scenario::{department, held_question};
use super::tokens::{Minter, bearer, with_token};
use super::workload::Workload;
use super::writes::request_and_approve;
use crate::proto::v1 as pb;
use crate::proto::v1::check_service_client::CheckServiceClient;
use crate::proto::v1::elevation_service_client::ElevationServiceClient;

/// How long the observer may take to see a grant, or to deny once it is revoked.
const PATIENCE: Duration = Duration::from_secs(10);

/// The two replicas a sample runs against, and the tokens it needs.
struct Replicas<'a> {
    /// Grants are made and revoked here.
    target: &'a Channel,
    /// Checks are asked here.
    observer: Channel,
    pep: MetadataValue<Ascii>,
    minter: &'a Minter,
}

/// Times `--samples` revocations: each grant is revoked through the target, and the clock runs
/// from just before the revoke is sent until the observer's Check denies.
pub(super) async fn invalidation(
    args: &LoadtestArgs,
    workload: &Arc<Workload>,
    channels: &[Channel],
) -> Result<Report, String> {
    let observer_target = args
        .observer
        .as_deref()
        .ok_or("--mode invalidation needs --observer (another replica's address)")?;
    let replicas = Replicas {
        target: &channels[0],
        observer: connect(observer_target, 1).await?.remove(0),
        pep: workload.pep.clone(),
        minter: workload.minter.as_ref().ok_or("needs a token minter")?,
    };
    let mut tally = Tally::default();
    let started = Instant::now();
    for sample in 0..args.samples {
        let subject = format!("load-revoked-{:x}-{sample}", workload.run);
        replicas.time_one_revocation(&subject, &mut tally).await?;
    }
    Ok(Report::new(
        ReportHeader {
            mode: "invalidation".into(),
            target: format!("{} -> {observer_target}", args.target),
            pacing: "sequential".into(),
            rate: None,
            concurrency: 1,
            connections: 1,
        },
        &tally,
        started.elapsed(),
        false,
    ))
}

impl Replicas<'_> {
    /// One sample: grant `subject`, wait for the observer to allow it, revoke, time the denial.
    async fn time_one_revocation(&self, subject: &str, tally: &mut Tally) -> Result<(), String> {
        request_and_approve(self.target, self.minter, subject, &department(0))
            .await
            .map_err(|status| format!("granting {subject}: {}", status.message()))?;
        let question = held_question(subject.to_owned(), 0);
        self.wait_until_observed(subject, &question).await?;
        let token = bearer(&self.minter.subject(subject));
        let grant = self.first_grant(&token).await?;
        let sent = Instant::now();
        self.revoke(&token, grant).await?;
        self.wait_for_denial(&question, sent, tally).await;
        tally.reads.record(sent.elapsed());
        Ok(())
    }

    /// The observer's answer to `question`.
    async fn observer_allows(&self, question: &pb::CheckRequest) -> Result<bool, tonic::Status> {
        CheckServiceClient::new(self.observer.clone())
            .check(with_token(&self.pep, question.clone()))
            .await
            .map(|answer| answer.into_inner().allowed)
    }

    /// The observer must know the grant before its revocation can be timed.
    async fn wait_until_observed(
        &self,
        subject: &str,
        question: &pb::CheckRequest,
    ) -> Result<(), String> {
        let waiting = Instant::now();
        while !self
            .observer_allows(question)
            .await
            .map_err(|s| s.message().to_owned())?
        {
            if waiting.elapsed() > PATIENCE {
                return Err(format!("the observer never saw {subject}'s grant"));
            }
        }
        Ok(())
    }

    /// The id of the first grant the subject whose `token` this is holds.
    async fn first_grant(&self, token: &MetadataValue<Ascii>) -> Result<String, String> {
        let grants = ElevationServiceClient::new(self.target.clone())
            .list_grants(with_token(token, pb::ListGrantsRequest::default()))
            .await
            .map_err(|status| status.message().to_owned())?
            .into_inner()
            .grants;
        Ok(grants.first().ok_or("the grant is not listed")?.id.clone())
    }

    /// Revokes `grant_id` through the target, as its holder.
    async fn revoke(&self, token: &MetadataValue<Ascii>, grant_id: String) -> Result<(), String> {
        ElevationServiceClient::new(self.target.clone())
            .revoke_grant(with_token(
                token,
                pb::RevokeGrantRequest {
                    grant_id,
                    reason: "load test".into(),
                },
            ))
            .await
            .map_err(|status| format!("revoking: {}", status.message()))?;
        Ok(())
    }

    /// Asks the observer until it denies; a failed Check, or no denial within [`PATIENCE`]
    /// of `sent`, counts as an error.
    async fn wait_for_denial(&self, question: &pb::CheckRequest, sent: Instant, tally: &mut Tally) {
        loop {
            match self.observer_allows(question).await {
                Ok(false) => break,
                Ok(true) => {}
                Err(status) => {
                    tally.error(status.code());
                    break;
                }
            }
            if sent.elapsed() > PATIENCE {
                tally.error(tonic::Code::DeadlineExceeded);
                break;
            }
        }
    }
}
