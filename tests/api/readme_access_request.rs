//! The README's "Ask for access from a denial (Access Request profile)" block runs as written:
//! its shell lines (curl, jq and the `elevator` CLI) against a test server holding
//! `examples/authzen/todo-jit.yaml`, with only the addresses replaced and the `serve` line left
//! out (the test server stands in for it). What it prints is checked at each step of the loop.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

const POLICY: &str = include_str!("../../examples/authzen/todo-jit.yaml");
const HEADING: &str = "### Ask for access from a denial (Access Request profile)";

/// The first `sh` block after the section's heading.
fn readme_block() -> String {
    let readme = include_str!("../../README.md");
    let section = &readme[readme
        .find(HEADING)
        .expect("the README has the Access Request section")..];
    let start = section.find("```sh\n").expect("a sh block in the section") + "```sh\n".len();
    let end = start + section[start..].find("```").expect("the block ends");
    section[start..end].to_owned()
}

/// The directory holding `program` (found as the other tests find their tools).
fn directory_of(program: &str, variable: &str, what: &str) -> PathBuf {
    let path = crate::tools::tool(program, variable, what);
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_access_request_loop_runs_as_written() {
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(POLICY.into()),
            ..Default::default()
        },
    )
    .await;
    let block = readme_block();
    assert!(block.starts_with("elevator serve "), "{block}");
    let script = block
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
        .replace("localhost:8443", &app.http_address.to_string());

    let state = std::env::temp_dir().join(format!("elevator-readme-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("dev-secret"), TEST_SECRET).unwrap();
    let elevator = PathBuf::from(env!("CARGO_BIN_EXE_elevator"));
    let mut path = vec![elevator.parent().unwrap().to_owned()];
    path.push(directory_of("jq", "JQ", "jq, for the README's shell lines"));
    path.push(directory_of(
        "curl",
        "CURL",
        "curl, for the README's shell lines",
    ));
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut command = Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", &script])
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("ELEVATOR_SERVER", format!("http://{}", app.address))
        .env("ELEVATOR_STATE_DIR", &state)
        .env_remove("ELEVATOR_TOKEN")
        .env_remove("ELEVATOR_CONFIG");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run bash");
    let _ = std::fs::remove_dir_all(&state);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the README block failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    // Each step printed what the README's comments say it prints, in order.
    let mut rest = stdout.as_str();
    for (step, expected) in [
        ("the requestable denial", "\"reason\":\"approval_required\""),
        ("the schema", "\"required\":[\"business_justification\"]"),
        ("the task", "\"status\":\"pending\""),
        (
            "beth's inbox",
            "PENDING   jerry@the-smiths.com asks for editor",
        ),
        ("the approval", "ACTIVE"),
        ("the re-evaluation", "\"decision\":true"),
        ("another todo", "\"reason\":\"out_of_scope\""),
        ("after the grant", "\"reason\":\"approval_expired\""),
    ] {
        let at = rest
            .find(expected)
            .unwrap_or_else(|| panic!("{step}: no {expected} in what followed:\n{rest}"));
        rest = &rest[at + expected.len()..];
    }
    assert_eq!(stdout.matches("\"next_action\":\"request\"").count(), 2);
}
