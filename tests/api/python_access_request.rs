//! The AuthZEN Access Request loop (issue 15) driven by an enforcement point written as an
//! outsider would: `clients/python/access_request_pep.py`, standard-library Python that knows
//! only the profile's documents (metadata, requestable denial, request schema, task status,
//! approval). The test plays the rest of the world: Beth approves with the `elevator` CLI when
//! the task appears, and after the script is allowed the grant's hour passes on the injected
//! clock. The script also tries an altered binding token and the approval replayed for another
//! todo.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::{Value as Json, json};

use crate::harness::*;
use elevator::proto::v1 as pb;

const POLICY: &str = include_str!("../../examples/authzen/todo-jit.yaml");
const JERRY: &str = "jerry@the-smiths.com";
const BETH: &str = "beth@the-smiths.com";

/// The interpreter: `PYTHON`, the venv `.ci/test` made, or `python3` on the PATH (only the
/// standard library is used).
fn python() -> PathBuf {
    crate::tools::tool("python3", "PYTHON", "Python 3")
}

/// The next JSON line the script printed (off the runtime's workers: the server runs there).
async fn next_report(stdout: BufReader<ChildStdout>) -> (BufReader<ChildStdout>, Json) {
    tokio::task::spawn_blocking(move || {
        let mut stdout = stdout;
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the script's output");
        let report = serde_json::from_str(line.trim()).unwrap_or(Json::Null);
        (stdout, report)
    })
    .await
    .unwrap()
}

/// Fails with the script's exit status and stderr (its traceback or `unexpected: ...`).
async fn failed(mut child: Child, stderr: PathBuf, waiting_for: &str) -> ! {
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap();
    panic!(
        "the Python PEP stopped before {waiting_for} ({status:?}):\n{}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    )
}

/// Beth approves elevation `id` with the CLI, as the README shows.
async fn beth_approves_with_the_cli(app: &TestApp, id: &str) {
    let beth = app.token(BETH, &[], &[], None, Some("beth-1"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_elevator"));
    command
        .args(["approve", id, "--comment", "go ahead"])
        .env("ELEVATOR_SERVER", format!("http://{}", app.address))
        .env("ELEVATOR_TOKEN", beth)
        .env_remove("ELEVATOR_CONFIG");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run elevator approve");
    assert!(
        output.status.success(),
        "elevator approve: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_python_pep_runs_the_whole_loop_from_the_profiles_documents_alone() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let app = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            policy: Some(POLICY.into()),
            ..Default::default()
        },
    )
    .await;
    let stderr = std::env::temp_dir().join(format!(
        "elevator-pep-{}.err",
        uuid::Uuid::new_v4().simple()
    ));
    let mut child = Command::new(python())
        .arg(root.join("clients/python/access_request_pep.py"))
        .args(["--base", &format!("http://{}", app.http_address)])
        .args(["--subject", JERRY, "--resource-type", "todo"])
        .args(["--resource-id", "todo-1", "--other-resource-id", "todo-2"])
        .args([
            "--action",
            "can_create_todo",
            "--session-id",
            "jerry-laptop",
        ])
        .args([
            "--reason",
            "the release notes need a todo",
            "--wait-for-end",
        ])
        .env("PEP_TOKEN", app.pep())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("start the Python PEP");
    let stdout = BufReader::new(child.stdout.take().unwrap());

    // The task exists: it is an elevation awaiting Jerry's manager like any other.
    let (stdout, submitted) = next_report(stdout).await;
    if submitted["event"] != "submitted" {
        failed(child, stderr, "submitting").await;
    }
    let inbox = app
        .approvals()
        .list_pending_approvals(authed(
            &app.token(BETH, &[], &[], None, Some("beth-1")),
            pb::ListPendingApprovalsRequest::default(),
        ))
        .await
        .expect("beth's inbox")
        .into_inner()
        .elevations;
    assert_eq!(inbox.len(), 1, "one elevation from one submission");
    assert_eq!(inbox[0].requester, JERRY);
    beth_approves_with_the_cli(&app, &inbox[0].id).await;

    // The script saw the approval by polling, and was allowed; then the grant's hour passes.
    let (stdout, allowed) = next_report(stdout).await;
    if allowed["event"] != "allowed" {
        failed(child, stderr, "being allowed").await;
    }
    app.clock.advance(chrono::TimeDelta::minutes(61));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"the grant ended\n")
        .unwrap();
    let (_, summary) = next_report(stdout).await;
    if summary["event"] != "summary" {
        failed(child, stderr, "its summary").await;
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_file(&stderr);

    assert_eq!(summary["denial_reason"], "approval_required");
    assert_eq!(
        summary["required_context"],
        json!(["business_justification"])
    );
    assert_eq!(summary["submitted"], 202);
    assert_eq!(summary["first_status"], "pending");
    assert_eq!(summary["awaiting"], json!([BETH]));
    assert_eq!(summary["location_is_status_endpoint"], true);
    assert_eq!(summary["idempotent_retry_same_task"], true);
    assert_eq!(summary["final_status"], "approved");
    assert_eq!(summary["after_approval"], true);
    assert_eq!(summary["approval_echoed"], true);
    // The attacks from outside: a binding token altered by one character binds nothing, and
    // the approval for todo-1 allows nothing on todo-2.
    assert_eq!(
        summary["altered_binding"],
        json!({"status": 400, "type": "urn:openid:authzen:access-request:error:invalid_denial_binding"})
    );
    assert_eq!(
        summary["replayed_for_other_resource"],
        json!({"decision": false, "reason": "out_of_scope", "next_action": "request"})
    );
    // After the grant's end the approval is spent; the denial says to ask again.
    assert_eq!(
        summary["after_end"],
        json!({"decision": false, "reason": "approval_expired", "next_action": "request", "requestable_again": true})
    );
    // What Python saw is what the server holds: one request, approved, activated.
    let trail = app.audit_actions().await;
    for action in [
        "elevation.requested",
        "approval.approved",
        "grant.activated",
    ] {
        assert!(trail.iter().any(|a| a == action), "{action} in {trail:?}");
    }
}
