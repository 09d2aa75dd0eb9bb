//! The seed's example end to end: Fatma asks for admin_approver, Ali approves, the PEP's Check
//! allows in her session and denies in another, and a revoke denies again; and the README's
//! walk-through (with its delegation under the seed's rule and its request refused for risk)
//! run command by command through the `elevator` binary, exactly as the README shows it.

use crate::harness::*;
use crate::on_both_backends;
use elevator::proto::v1 as pb;

async fn fatma_flow(backend: Backend) {
    let app = spawn_app(backend).await;

    // Before anything, nothing is allowed.
    let before = app.check_fatma("s1").await;
    assert!(!before.allowed);
    assert_eq!(reason(&before), pb::DecisionReason::NoGrant);

    let elevation = app.request_fatma().await;
    assert_eq!(elevation.state, pb::ElevationState::Pending as i32);
    assert_eq!(elevation.requester, "fatma");
    assert_eq!(elevation.session_id, "s1");

    // Pending is not enough.
    assert!(!app.check_fatma("s1").await.allowed);

    // Ali sees it in his inbox; Fatma does not see her own there.
    let inbox = app
        .approvals()
        .list_pending_approvals(authed(
            &app.ali(),
            pb::ListPendingApprovalsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inbox.elevations.len(), 1);
    assert_eq!(inbox.elevations[0].id, elevation.id);
    let own_inbox = app
        .approvals()
        .list_pending_approvals(authed(
            &app.fatma(),
            pb::ListPendingApprovalsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(own_inbox.elevations.is_empty());

    let approved = app.ali_approves(&elevation.id).await;
    let active = approved.elevation.unwrap();
    assert_eq!(active.state, pb::ElevationState::Active as i32);
    let grant = approved.grant.expect("the approval created a grant");
    assert_eq!(grant.session_id, "s1");
    assert_eq!(grant.subject, "fatma");
    let window = grant.not_after.unwrap().seconds - grant.not_before.unwrap().seconds;
    assert_eq!(window, 7200);

    // Fatma's grants show it, with its id and expiry.
    let grants = app
        .elevations()
        .list_grants(authed(&app.fatma(), pb::ListGrantsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].id, grant.id);
    assert_eq!(grants[0].status, pb::GrantStatus::Active as i32);

    // Allowed in her session (reading the approval's write), denied in another one.
    let allowed = app
        .check(
            "fatma",
            "s1",
            "purchase_orders.approve",
            "Org:Procurement/PO:4711",
            approved.revision,
        )
        .await;
    assert!(allowed.allowed, "{allowed:?}");
    assert_eq!(reason(&allowed), pb::DecisionReason::Allowed);
    assert_eq!(allowed.grant_id, grant.id);
    assert_eq!(allowed.role, "admin_approver");
    assert!(allowed.revision >= approved.revision);
    let other_session = app.check_fatma("s2").await;
    assert!(!other_session.allowed);
    assert_eq!(reason(&other_session), pb::DecisionReason::OtherSession);
    assert_eq!(other_session.grant_id, grant.id);

    // A permission the role does not carry, and a resource outside the scope, are denied.
    let other_permission = app
        .check(
            "fatma",
            "s1",
            "purchase_orders.create",
            "Org:Procurement/PO:4711",
            0,
        )
        .await;
    assert_eq!(reason(&other_permission), pb::DecisionReason::NoGrant);
    let outside = app
        .check(
            "fatma",
            "s1",
            "purchase_orders.approve",
            "Org:Procurement2/PO:4711",
            0,
        )
        .await;
    assert_eq!(reason(&outside), pb::DecisionReason::ScopeMismatch);

    // Fatma gives it up; the next Check denies.
    let revoked = app
        .elevations()
        .revoke_grant(authed(
            &app.fatma(),
            pb::RevokeGrantRequest {
                grant_id: grant.id.clone(),
                reason: "done".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        revoked.grant.unwrap().status,
        pb::GrantStatus::Revoked as i32
    );
    let after = app.check_fatma("s1").await;
    assert!(!after.allowed);
    assert_eq!(reason(&after), pb::DecisionReason::Revoked);

    let shown = app
        .elevations()
        .get_elevation(authed(
            &app.fatma(),
            pb::GetElevationRequest {
                id: elevation.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .elevation
        .unwrap();
    assert_eq!(shown.state, pb::ElevationState::Revoked as i32);

    assert_eq!(
        app.audit_actions().await,
        [
            "policy.changed",
            "elevation.requested",
            "approval.approved",
            "elevation.approved",
            "grant.activated",
            "grant.revoked"
        ]
    );
}
on_both_backends!(the_fatma_flow_works_end_to_end, fatma_flow);

async fn ending_the_session_revokes_its_grants(backend: Backend) {
    let app = spawn_app(backend).await;
    let elevation = app.request_fatma().await;
    let grant = app.ali_approves(&elevation.id).await.grant.unwrap();
    assert!(app.check_fatma("s1").await.allowed);

    let ended = app
        .elevations()
        .end_session(authed(&app.fatma(), pb::EndSessionRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.revoked_grant_ids, vec![grant.id.clone()]);
    let after = app.check_fatma("s1").await;
    assert_eq!(reason(&after), pb::DecisionReason::Revoked);
}
on_both_backends!(end_session, ending_the_session_revokes_its_grants);

async fn a_repeated_idempotency_key_returns_the_first_elevation(backend: Backend) {
    let app = spawn_app(backend).await;
    let request = || pb::RequestElevationRequest {
        role: "admin_approver".into(),
        scope: "Org:Procurement".into(),
        duration: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        reason: "Q4 close".into(),
        idempotency_key: "req-1".into(),
        ..Default::default()
    };
    let first = app
        .elevations()
        .request_elevation(authed(&app.fatma(), request()))
        .await
        .unwrap()
        .into_inner();
    let second = app
        .elevations()
        .request_elevation(authed(&app.fatma(), request()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.elevation.unwrap().id, second.elevation.unwrap().id);
    let listed = app
        .elevations()
        .list_elevations(authed(&app.fatma(), pb::ListElevationsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.elevations.len(), 1);
}
on_both_backends!(
    idempotency,
    a_repeated_idempotency_key_returns_the_first_elevation
);

async fn cancel_and_deny_end_pending_elevations(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.request_fatma().await;
    let cancelled = app
        .elevations()
        .cancel_elevation(authed(
            &app.fatma(),
            pb::CancelElevationRequest {
                id: first.id.clone(),
                reason: "not needed".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        cancelled.elevation.unwrap().state,
        pb::ElevationState::Cancelled as i32
    );

    let second = app.request_fatma().await;
    let denied = app
        .approvals()
        .deny(authed(
            &app.ali(),
            pb::DenyRequest {
                elevation_id: second.id.clone(),
                comment: "use the team account".into(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .elevation
        .unwrap();
    assert_eq!(denied.state, pb::ElevationState::Denied as i32);
    assert!(denied.state_reason.contains("use the team account"));

    // A decided elevation cannot be approved any more.
    let late = app
        .approvals()
        .approve(authed(
            &app.ali(),
            pb::ApproveRequest {
                elevation_id: first.id.clone(),
                comment: String::new(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(late.code(), tonic::Code::FailedPrecondition);
    assert_eq!(error_reason(&late), "WRONG_STATE");
    assert!(!app.check_fatma("s1").await.allowed);
}
on_both_backends!(cancel_and_deny, cancel_and_deny_end_pending_elevations);

#[tokio::test]
async fn health_and_reflection_are_served() {
    let app = spawn_app(Backend::Memory).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "elevator.v1.CheckService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn postgres_mode_refuses_dev_tokens() {
    let app = spawn_app(Backend::Postgres).await;
    let dev_token = token_signed(
        TEST_SECRET.as_bytes(),
        &app.clock,
        elevator::auth::Claims {
            sub: "fatma".into(),
            sid: Some("s1".into()),
            groups: vec!["procurement-staff".into()],
            manager: Some("ali".into()),
            iss: Some(elevator::auth::DEV_ISSUER.into()),
            ..Default::default()
        },
    );
    let refused = app
        .elevations()
        .list_grants(authed(&dev_token, pb::ListGrantsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(refused.message().contains("dev tokens are refused"));
}

/// The README's walk-through, run command by command exactly as written there (its first `sh`
/// block after the heading), through the `elevator` binary against a dev-mode server: every
/// command must end with the exit code its comment names (0 when it names none), and a comment
/// naming a reason or code must find it in the output. Placeholders (`<grant-id>`, the sample
/// elevation id) take the ids the earlier commands printed; "Two hours later" moves the
/// server's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walk_through_runs_as_written() {
    let app = spawn_app(Backend::Memory).await;
    let state = std::env::temp_dir().join(format!("elevator-walk-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("dev-secret"), TEST_SECRET).unwrap();
    let server = format!("http://{}", app.address);

    let mut shell = WalkThrough {
        vars: HashMap::new(),
        ids: HashMap::new(),
    };
    let mut ran = Vec::new();
    for (comments, line) in walk_through_commands(include_str!("../../README.md")) {
        if comments.contains("Two hours later") {
            app.clock.advance(chrono::TimeDelta::hours(2));
        }
        let step = shell.parse(&line);
        let mut command = Command::new(env!("CARGO_BIN_EXE_elevator"));
        command
            .args(&step.args)
            .env("ELEVATOR_SERVER", &server)
            .env("ELEVATOR_TOKEN", step.token.clone().unwrap_or_default())
            .env("ELEVATOR_STATE_DIR", &state)
            .env_remove("ELEVATOR_CONFIG");
        // The server runs on this runtime: wait for the command off its workers.
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("run elevator");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let expected = expected_exit(&step.comment);
        assert_eq!(
            output.status.code(),
            Some(expected),
            "`{line}`\nstdout: {stdout}\nstderr: {stderr}"
        );
        if let Some(word) = named_outcome(&step.comment) {
            assert!(
                stdout.contains(word) || stderr.contains(word),
                "`{line}` should say {word}\nstdout: {stdout}\nstderr: {stderr}"
            );
        }
        shell.remember(&step, stdout.trim());
        ran.push(step.args.first().cloned().unwrap_or_default());
    }
    for command in [
        "dev-token",
        "request",
        "pending",
        "approve",
        "grants",
        "check",
        "revoke",
        "delegate",
        "delegations",
        "accept-delegation",
        "risk",
    ] {
        assert!(
            ran.iter().any(|ran| ran == command),
            "the walk-through no longer runs `elevator {command}`: {ran:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&state);
}

use std::collections::HashMap;
use std::process::Command;

/// The walk-through's commands: continuation lines joined, each with the comment lines just
/// before it.
fn walk_through_commands(readme: &str) -> Vec<(String, String)> {
    let section = &readme[readme
        .find("## Walk-through: Fatma asks for")
        .expect("the walk-through section")..];
    let start = section.find("```sh\n").expect("its sh block") + "```sh\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let mut commands = Vec::new();
    let mut comments = String::new();
    let mut pending = String::new();
    for line in block.lines() {
        let line = line.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
            comments.push_str(line);
            comments.push('\n');
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                commands.push((std::mem::take(&mut comments), std::mem::take(&mut pending)));
            }
        }
    }
    commands
}

/// One command, parsed: what to run, with which token, and what its comment promises.
struct Step {
    /// Set the variable to the command's output (`NAME=$(...)`).
    assign: Option<String>,
    token: Option<String>,
    args: Vec<String>,
    comment: String,
}

/// The little of a shell the walk-through uses: variables from `NAME=$(elevator ...)`, an
/// `ELEVATOR_TOKEN=$NAME` prefix, quotes, trailing comments, and the ids earlier commands
/// printed in place of the README's placeholders.
struct WalkThrough {
    vars: HashMap<String, String>,
    ids: HashMap<&'static str, String>,
}

impl WalkThrough {
    fn parse(&self, line: &str) -> Step {
        let (words, comment) = split_words(line);
        let mut words = words.into_iter().peekable();
        let mut assign = None;
        let mut token = self.vars.get("ELEVATOR_TOKEN").cloned();
        if words.peek().map(String::as_str) == Some("export") {
            words.next();
        }
        let mut args: Vec<String> = Vec::new();
        for word in words {
            if args.is_empty()
                && let Some((name, value)) = word.split_once('=')
            {
                match value.strip_prefix("$(") {
                    Some(command) => {
                        assign = Some(name.to_owned());
                        args.push(command.to_owned());
                    }
                    None => token = Some(self.vars[value.trim_start_matches('$')].clone()),
                }
                continue;
            }
            let word = word
                .strip_suffix(')')
                .filter(|_| assign.is_some())
                .unwrap_or(&word);
            args.push(self.substitute(word));
        }
        assert_eq!(args.first().map(String::as_str), Some("elevator"), "{line}");
        args.remove(0);
        Step {
            assign,
            token,
            args,
            comment,
        }
    }

    fn substitute(&self, word: &str) -> String {
        let placeholder = match word {
            "01a21acc-8ab3-7186-b5e3-12569be7a8b4" => "elevation",
            "<grant-id>" => "grant",
            "<delegated-grant-id>" => "delegated",
            _ => return word.to_owned(),
        };
        self.ids
            .get(placeholder)
            .cloned()
            .unwrap_or_else(|| panic!("no {placeholder} id printed before {word}"))
    }

    /// Keeps a variable's value, or the id a listing printed first.
    fn remember(&mut self, step: &Step, stdout: &str) {
        if let Some(name) = &step.assign {
            self.vars.insert(name.clone(), stdout.to_owned());
            return;
        }
        let kind = match step.args.first().map(String::as_str) {
            Some("request") => "elevation",
            Some("grants") => "grant",
            Some("delegations") => "delegated",
            _ => return,
        };
        let first_id = stdout
            .split_whitespace()
            .find(|word| uuid::Uuid::parse_str(word).is_ok());
        if let Some(id) = first_id {
            self.ids.entry(kind).or_insert_with(|| id.to_owned());
        }
    }
}

/// Splits a command line into words (double quotes group, an unquoted `#` starts the comment).
fn split_words(line: &str) -> (Vec<String>, String) {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for (at, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted && word.is_empty() => {
                return (words, line[at..].to_owned());
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    (words, String::new())
}

/// The exit code a comment names (`exit 1`), else 0.
fn expected_exit(comment: &str) -> i32 {
    comment
        .split("exit ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The reason or code a comment names (`denied: other_session`, `refused: RISK_DENIED`).
fn named_outcome(comment: &str) -> Option<&str> {
    ["denied: ", "refused: "].iter().find_map(|marker| {
        let rest = &comment[comment.find(marker)? + marker.len()..];
        rest.split([',', ' '])
            .next()
            .filter(|word| !word.is_empty())
    })
}
