//! The client subcommands: each builds one request, sends it with the caller's token, and
//! prints the answer.

use std::process::ExitCode;

use chrono::Utc;
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use super::output::{self, Printer};
use super::{
    AuditCommand, CheckArgs, ClientArgs, Command, DevTokenArgs, EXIT_ERROR, PolicyCommand,
    RequestArgs, RiskCommand, SimulateCommand,
};
use crate::auth::{Claims, DEV_ISSUER, dev};
use crate::domain::{ElevationState, parse_duration};
use crate::proto::v1 as pb;
use crate::proto::v1::approval_service_client::ApprovalServiceClient;
use crate::proto::v1::audit_service_client::AuditServiceClient;
use crate::proto::v1::check_service_client::CheckServiceClient;
use crate::proto::v1::elevation_service_client::ElevationServiceClient;
use crate::proto::v1::policy_service_client::PolicyServiceClient;

/// What went wrong on the client side.
enum Failure {
    Usage(String),
    Status(tonic::Status),
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Failure::Status(status)
    }
}

struct Client {
    channel: Channel,
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
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

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        request
    }

    fn elevations(&self) -> ElevationServiceClient<Channel> {
        ElevationServiceClient::new(self.channel.clone())
    }

    fn approvals(&self) -> ApprovalServiceClient<Channel> {
        ApprovalServiceClient::new(self.channel.clone())
    }

    fn checks(&self) -> CheckServiceClient<Channel> {
        CheckServiceClient::new(self.channel.clone())
    }

    fn policies(&self) -> PolicyServiceClient<Channel> {
        PolicyServiceClient::new(self.channel.clone())
    }
}

/// A point in time given as RFC 3339 or as a duration from now.
fn instant(flag: &str, text: &str) -> Result<prost_types::Timestamp, Failure> {
    let at = match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => {
            let offset = parse_duration(text).map_err(|_| {
                Failure::Usage(format!(
                    "{flag}: {text:?} is neither an RFC 3339 time nor a duration like 2h"
                ))
            })?;
            Utc::now() + offset
        }
    };
    Ok(crate::api::convert::timestamp(at))
}

fn risk(score: Option<u32>, flags: Vec<String>) -> Option<pb::RiskOverride> {
    score.map(|score| pb::RiskOverride { score, flags })
}

fn request_message(args: RequestArgs) -> Result<pb::RequestElevationRequest, Failure> {
    Ok(pb::RequestElevationRequest {
        role: args.role,
        scope: args.scope,
        duration: Some(duration("--duration", &args.duration)?),
        reason: args.reason,
        ticket: args.ticket,
        idempotency_key: args.idempotency_key,
        not_before: args
            .start
            .as_deref()
            .map(|start| instant("--start", start))
            .transpose()?,
    })
}

fn check_message(args: CheckArgs) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: args.subject,
        session_id: args.session,
        permission: args.permission,
        resource: args.resource,
        min_revision: args.min_revision,
        subject_token: String::new(),
    }
}

fn duration(flag: &str, text: &str) -> Result<prost_types::Duration, Failure> {
    let parsed =
        parse_duration(text).map_err(|error| Failure::Usage(format!("{flag}: {error}")))?;
    Ok(crate::api::convert::duration(parsed))
}

/// Prints a dev token for the given claims.
pub fn dev_token(args: DevTokenArgs) -> ExitCode {
    let dir = args.state_dir.clone().unwrap_or_else(dev::state_dir);
    let secret = match dev::load_secret(&dir) {
        Ok(secret) => secret,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let ttl = match parse_duration(&args.ttl) {
        Ok(ttl) => ttl,
        Err(error) => {
            eprintln!("error: --ttl: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let now = Utc::now();
    let claims = Claims {
        sub: args.sub,
        sid: args.sid,
        groups: args.groups,
        roles: args.roles,
        manager: args.manager,
        exp: (now + ttl).timestamp(),
        iat: Some(now.timestamp()),
        iss: Some(DEV_ISSUER.into()),
        ..Default::default()
    };
    println!("{}", dev::sign_hs256(&secret, &claims));
    ExitCode::SUCCESS
}

fn audit_client(client: &Client) -> AuditServiceClient<Channel> {
    AuditServiceClient::new(client.channel.clone())
}

async fn audit(
    command: AuditCommand,
    client: &Client,
    printer: &Printer,
) -> Result<ExitCode, Failure> {
    match command {
        AuditCommand::List {
            subject,
            actor,
            action,
            elevation,
            grant,
            since,
            limit,
        } => {
            let response = audit_client(client)
                .list_audit_events(
                    client.request(pb::ListAuditEventsRequest {
                        subject: subject.unwrap_or_default(),
                        actor: actor.unwrap_or_default(),
                        action: action.unwrap_or_default(),
                        elevation_id: elevation.unwrap_or_default(),
                        grant_id: grant.unwrap_or_default(),
                        from: since
                            .as_deref()
                            .map(|at| past_instant("--since", at))
                            .transpose()?,
                        to: None,
                        page_size: limit,
                        page_token: String::new(),
                    }),
                )
                .await?
                .into_inner();
            printer.audit_events(&response.events);
        }
        AuditCommand::Verify { head } => {
            let expected_head = match head {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|error| {
                        Failure::Usage(format!("reading {}: {error}", path.display()))
                    })?;
                    Some(output::signed_head_from_json(&text).map_err(Failure::Usage)?)
                }
                None => None,
            };
            let verdict = audit_client(client)
                .verify_audit_chain(client.request(pb::VerifyAuditChainRequest { expected_head }))
                .await?
                .into_inner();
            printer.verification(&verdict);
            return Ok(if verdict.intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        AuditCommand::Head => {
            let response = audit_client(client)
                .get_signed_audit_head(client.request(pb::GetSignedAuditHeadRequest {}))
                .await?
                .into_inner();
            if let Some(head) = response.head {
                println!("{}", output::signed_head_json(&head));
            }
        }
        AuditCommand::Export {
            format: _,
            after,
            follow,
        } => {
            let mut audit = audit_client(client);
            if follow {
                let mut stream = audit
                    .watch_audit_events(
                        client.request(pb::WatchAuditEventsRequest { after_seq: after }),
                    )
                    .await?
                    .into_inner();
                while let Some(message) = stream.message().await? {
                    if let Some(event) = message.event {
                        println!("{}", output::audit_event_json(&event));
                    }
                }
            } else {
                let mut page_token = if after > 0 {
                    after.to_string()
                } else {
                    String::new()
                };
                loop {
                    let page = audit
                        .list_audit_events(client.request(pb::ListAuditEventsRequest {
                            page_size: 500,
                            page_token: page_token.clone(),
                            ..Default::default()
                        }))
                        .await?
                        .into_inner();
                    for event in &page.events {
                        println!("{}", output::audit_event_json(event));
                    }
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    page_token = page.next_page_token;
                }
            }
        }
        AuditCommand::Trail { grant_id } => {
            let response = audit_client(client)
                .get_grant_trail(client.request(pb::GetGrantTrailRequest { grant_id }))
                .await?
                .into_inner();
            printer.grant_trail(&response);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A point in the past, as RFC 3339 or a duration ago.
fn past_instant(flag: &str, text: &str) -> Result<prost_types::Timestamp, Failure> {
    let at = match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => {
            let ago = parse_duration(text).map_err(|_| {
                Failure::Usage(format!(
                    "{flag}: {text:?} is neither an RFC 3339 time nor a duration like 2h"
                ))
            })?;
            Utc::now() - ago
        }
    };
    Ok(crate::api::convert::timestamp(at))
}

/// Runs one client subcommand.
pub async fn run(command: Command, args: ClientArgs) -> ExitCode {
    let printer = Printer::new(args.output);
    if let Command::Policy(PolicyCommand::Validate { file }) = &command {
        return validate_locally(file, &printer);
    }
    let outcome = async {
        let client = Client::connect(&args).await?;
        execute(command, &client, &printer).await
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

fn validate_locally(file: &std::path::Path, printer: &Printer) -> ExitCode {
    let source = match std::fs::read_to_string(file) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("error: reading {}: {error}", file.display());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match crate::policy::Policy::parse(&source, 0) {
        Ok(_) => {
            printer.policy_valid(file);
            ExitCode::SUCCESS
        }
        Err(problems) => {
            printer.policy_problems(file, &problems.0);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

async fn execute(
    command: Command,
    client: &Client,
    printer: &Printer,
) -> Result<ExitCode, Failure> {
    match command {
        Command::Serve(_) | Command::Migrate(_) | Command::Loadtest(_) | Command::DevToken(_) => {
            unreachable!("handled before connecting")
        }
        Command::Request(args) => {
            let response = client
                .elevations()
                .request_elevation(client.request(request_message(args)?))
                .await?
                .into_inner();
            printer.elevation_with_grant(
                response.elevation.as_ref(),
                response.grant.as_ref(),
                response.revision,
            );
        }
        Command::Show { id } => {
            let response = client
                .elevations()
                .get_elevation(client.request(pb::GetElevationRequest { id }))
                .await?
                .into_inner();
            printer.elevation_with_grant(response.elevation.as_ref(), None, 0);
        }
        Command::List(args) => {
            let state = match args.state.as_deref() {
                None => pb::ElevationState::Unspecified,
                Some(text) => {
                    let state = ElevationState::parse(&text.to_uppercase()).ok_or_else(|| {
                        Failure::Usage(format!("--state: {text:?} is not a state"))
                    })?;
                    pb::ElevationState::from_str_name(&format!(
                        "ELEVATION_STATE_{}",
                        state.as_str()
                    ))
                    .unwrap_or_default()
                }
            };
            let response = client
                .elevations()
                .list_elevations(client.request(pb::ListElevationsRequest {
                    requester: args.requester.unwrap_or_default(),
                    state: state as i32,
                    role: args.role.unwrap_or_default(),
                    page_size: args.limit,
                    page_token: String::new(),
                }))
                .await?
                .into_inner();
            printer.elevations(&response.elevations);
        }
        Command::Pending => {
            let response = client
                .approvals()
                .list_pending_approvals(client.request(pb::ListPendingApprovalsRequest::default()))
                .await?
                .into_inner();
            printer.elevations(&response.elevations);
        }
        Command::Approve { id, comment } => {
            let response = client
                .approvals()
                .approve(client.request(pb::ApproveRequest {
                    elevation_id: id,
                    comment,
                    idempotency_key: String::new(),
                }))
                .await?
                .into_inner();
            printer.elevation_with_grant(
                response.elevation.as_ref(),
                response.grant.as_ref(),
                response.revision,
            );
        }
        Command::Deny { id, comment } => {
            let response = client
                .approvals()
                .deny(client.request(pb::DenyRequest {
                    elevation_id: id,
                    comment,
                    idempotency_key: String::new(),
                }))
                .await?
                .into_inner();
            printer.elevation_with_grant(response.elevation.as_ref(), None, response.revision);
        }
        Command::Cancel { id, reason } => {
            let response = client
                .elevations()
                .cancel_elevation(client.request(pb::CancelElevationRequest { id, reason }))
                .await?
                .into_inner();
            printer.elevation_with_grant(response.elevation.as_ref(), None, response.revision);
        }
        Command::Grants { subject, all } => {
            let response = client
                .elevations()
                .list_grants(client.request(pb::ListGrantsRequest {
                    subject: subject.unwrap_or_default(),
                    include_ended: all,
                }))
                .await?
                .into_inner();
            printer.grants(&response.grants);
        }
        Command::Revoke { grant_id, reason } => {
            let response = client
                .elevations()
                .revoke_grant(client.request(pb::RevokeGrantRequest { grant_id, reason }))
                .await?
                .into_inner();
            printer.revoked(response.grant.as_ref(), response.revision);
        }
        Command::EndSession {
            session,
            subject,
            reason,
        } => {
            let response = client
                .elevations()
                .end_session(client.request(pb::EndSessionRequest {
                    subject: subject.unwrap_or_default(),
                    session_id: session.unwrap_or_default(),
                    reason,
                }))
                .await?
                .into_inner();
            printer.session_ended(&response);
        }
        Command::Extend { id, by, reason } => {
            let response = client
                .elevations()
                .extend_elevation(client.request(pb::ExtendElevationRequest {
                    id,
                    extension: Some(duration("--by", &by)?),
                    reason,
                    idempotency_key: String::new(),
                }))
                .await?
                .into_inner();
            printer.elevation_with_grant(
                response.elevation.as_ref(),
                response.grant.as_ref(),
                response.revision,
            );
        }
        Command::Delegate {
            to,
            role,
            scope,
            duration: how_long,
            reason,
            grant,
        } => {
            let response = client
                .elevations()
                .delegate(client.request(pb::DelegateRequest {
                    delegatee: to,
                    role,
                    scope,
                    duration: Some(duration("--duration", &how_long)?),
                    reason,
                    source_grant_id: grant.unwrap_or_default(),
                    idempotency_key: String::new(),
                }))
                .await?
                .into_inner();
            printer.elevation_with_grant(
                response.elevation.as_ref(),
                response.grant.as_ref(),
                response.revision,
            );
        }
        Command::Delegations {
            received,
            grant,
            all,
        } => {
            let view = match (&grant, received) {
                (Some(_), _) => pb::DelegationView::FromGrant,
                (None, true) => pb::DelegationView::Received,
                (None, false) => pb::DelegationView::Given,
            };
            let response = client
                .elevations()
                .list_delegations(client.request(pb::ListDelegationsRequest {
                    view: view as i32,
                    grant_id: grant.unwrap_or_default(),
                    subject: String::new(),
                    include_ended: all,
                }))
                .await?
                .into_inner();
            printer.delegations(&response.grants);
        }
        Command::AcceptDelegation { grant_id } => {
            let response = client
                .elevations()
                .accept_delegation(client.request(pb::AcceptDelegationRequest { grant_id }))
                .await?
                .into_inner();
            printer.accepted(response.grant.as_ref(), response.revision);
        }
        Command::Simulate(SimulateCommand::Request(args)) => {
            let requester = args.as_subject.map(|subject| pb::SimulatedRequester {
                subject,
                groups: args.as_groups,
                manager: args.as_manager.unwrap_or_default(),
                session_id: args.as_session.unwrap_or_default(),
            });
            let response = client
                .elevations()
                .simulate_elevation(
                    client.request(pb::SimulateElevationRequest {
                        request: Some(request_message(args.request)?),
                        at: args
                            .at
                            .as_deref()
                            .map(|at| instant("--at", at))
                            .transpose()?,
                        risk: risk(args.risk_score, args.risk_flags),
                        requester,
                    }),
                )
                .await?
                .into_inner();
            printer.request_simulation(&response);
            return Ok(if response.eligible {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        Command::Simulate(SimulateCommand::Check(args)) => {
            let response = client
                .checks()
                .simulate_check(
                    client.request(pb::SimulateCheckRequest {
                        check: Some(check_message(args.check)),
                        at: args
                            .at
                            .as_deref()
                            .map(|at| instant("--at", at))
                            .transpose()?,
                        risk: risk(args.risk_score, args.risk_flags),
                    }),
                )
                .await?
                .into_inner();
            printer.check_simulation(&response);
            let allowed = response.decision.as_ref().is_some_and(|d| d.allowed);
            return Ok(if allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        Command::Check(args) => {
            let response = client
                .checks()
                .check(client.request(check_message(args)))
                .await?
                .into_inner();
            printer.decision(&response);
            return Ok(if response.allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        Command::Policy(PolicyCommand::Validate { .. }) => unreachable!("validated locally"),
        Command::Policy(PolicyCommand::Show) => {
            let response = client
                .policies()
                .get_policy(client.request(pb::GetPolicyRequest {}))
                .await?
                .into_inner();
            printer.policy(&response);
        }
        Command::Policy(PolicyCommand::Put {
            file,
            expected_version,
        }) => {
            let source = std::fs::read_to_string(&file)
                .map_err(|error| Failure::Usage(format!("reading {}: {error}", file.display())))?;
            let response = client
                .policies()
                .put_policy(client.request(pb::PutPolicyRequest {
                    source,
                    expected_version: expected_version.unwrap_or(0),
                }))
                .await?
                .into_inner();
            printer.policy_put(&response);
        }
        Command::Audit(command) => return audit(command, client, printer).await,
        Command::Risk(RiskCommand::Report {
            subject,
            session,
            score,
            flags,
            ttl,
            source,
        }) => {
            let response = client
                .checks()
                .report_risk_signal(client.request(pb::ReportRiskSignalRequest {
                    subject,
                    session_id: session,
                    score,
                    flags,
                    source,
                    ttl: Some(duration("--ttl", &ttl)?),
                }))
                .await?
                .into_inner();
            printer.risk_reported(&response);
        }
    }
    Ok(ExitCode::SUCCESS)
}
