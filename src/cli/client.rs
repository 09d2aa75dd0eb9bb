//! The client side of the subcommands: one connection with the caller's token, the failures a
//! subcommand can end in, and the readers of flag values the requests share. Each subcommand
//! itself is in `commands`.

use std::process::ExitCode;

use chrono::Utc;
use tonic::Request;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use super::EXIT_ERROR;
use super::args::{ClientArgs, ClientCommand, PolicyCommand};
use super::commands;
use super::output::{self, Printer};
use crate::domain::{Toward, parse_duration, parse_moment};
use crate::proto::v1::approval_service_client::ApprovalServiceClient;
use crate::proto::v1::audit_service_client::AuditServiceClient;
use crate::proto::v1::check_service_client::CheckServiceClient;
use crate::proto::v1::elevation_service_client::ElevationServiceClient;
use crate::proto::v1::policy_service_client::PolicyServiceClient;

/// What went wrong on the client side.
pub(super) enum Failure {
    /// The caller's input (a flag, a file) is unusable, or the server cannot be reached.
    Usage(String),
    /// The server refused.
    Status(tonic::Status),
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Failure::Status(status)
    }
}

/// A channel to the server and the bearer token every request carries.
pub(super) struct Client {
    channel: Channel,
    token: Option<MetadataValue<Ascii>>,
}

impl Client {
    async fn connect(args: &ClientArgs) -> Result<Client, Failure> {
        let mut endpoint = Channel::from_shared(args.server.clone())
            .map_err(|error| Failure::Usage(format!("--server {:?}: {error}", args.server)))?;
        if args.server.starts_with("https://") {
            let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
            if let Some(path) = &args.ca_file {
                let pem = std::fs::read(path).map_err(|error| {
                    Failure::Usage(format!("--ca-file {}: {error}", path.display()))
                })?;
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|error| Failure::Usage(format!("--server {}: {error}", args.server)))?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|error| Failure::Usage(format!("cannot reach {}: {error}", args.server)))?;
        let token = args
            .token
            .as_ref()
            .map(|token| {
                format!("Bearer {token}")
                    .parse()
                    .map_err(|_| Failure::Usage("the token is not valid header text".into()))
            })
            .transpose()?;
        Ok(Client { channel, token })
    }

    /// `message` with the caller's token.
    pub(super) fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        request
    }

    pub(super) fn elevations(&self) -> ElevationServiceClient<Channel> {
        ElevationServiceClient::new(self.channel.clone())
    }

    pub(super) fn approvals(&self) -> ApprovalServiceClient<Channel> {
        ApprovalServiceClient::new(self.channel.clone())
    }

    pub(super) fn checks(&self) -> CheckServiceClient<Channel> {
        CheckServiceClient::new(self.channel.clone())
    }

    pub(super) fn policies(&self) -> PolicyServiceClient<Channel> {
        PolicyServiceClient::new(self.channel.clone())
    }

    /// The channel, for clients of services a command module builds itself.
    pub(super) fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub(super) fn audit(&self) -> AuditServiceClient<Channel> {
        AuditServiceClient::new(self.channel.clone())
    }

    pub(super) fn reviews(
        &self,
    ) -> crate::proto::v1::review_service_client::ReviewServiceClient<Channel> {
        crate::proto::v1::review_service_client::ReviewServiceClient::new(self.channel.clone())
    }

    pub(super) fn directory(
        &self,
    ) -> crate::proto::v1::directory_service_client::DirectoryServiceClient<Channel> {
        crate::proto::v1::directory_service_client::DirectoryServiceClient::new(
            self.channel.clone(),
        )
    }
}

/// A point in time given as RFC 3339, a `datetime-local` value in UTC, or a duration from now
/// (`toward` the future) or ago (`toward` the past).
pub(super) fn instant(
    flag: &str,
    text: &str,
    toward: Toward,
) -> Result<prost_types::Timestamp, Failure> {
    let at = parse_moment(text, Utc::now(), toward).map_err(|_| {
        Failure::Usage(format!(
            "{flag}: {text:?} is neither an RFC 3339 time nor a duration like 2h"
        ))
    })?;
    Ok(crate::api::convert::timestamp(at))
}

/// A duration literal (`2h`, `30m`) given to `flag`.
pub(super) fn duration(flag: &str, text: &str) -> Result<prost_types::Duration, Failure> {
    let parsed =
        parse_duration(text).map_err(|error| Failure::Usage(format!("{flag}: {error}")))?;
    Ok(crate::api::convert::duration(parsed))
}

/// 0 when the answer was yes (allowed, eligible, intact), 1 when it was no.
pub(super) fn yes_or_no(yes: bool) -> ExitCode {
    if yes {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs one client subcommand.
pub(super) async fn run(command: ClientCommand, args: ClientArgs) -> ExitCode {
    let printer = Printer::new(args.output);
    if let ClientCommand::Policy(PolicyCommand::Validate { file }) = &command {
        return commands::validate_locally(file, &printer);
    }
    let outcome = async {
        let client = Client::connect(&args).await?;
        commands::execute(command, &client, &printer).await
    }
    .await;
    match outcome {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
        Err(Failure::Status(status)) => {
            eprintln!("error: {}", output::describe_status(&status));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
