//! A client that is not Rust: stubs generated from `proto/` by grpcio-tools, then
//! `clients/python/fatma.py` runs the Fatma flow against a real server and branches on the
//! `google.rpc` details of its errors. The stock `grpcio-reflection` client (v1alpha) lists the
//! services and resolves their descriptors.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// The interpreter with grpcio: `PYTHON`, the venv `.ci/test` made, or `python3` on the PATH.
fn python() -> PathBuf {
    crate::tools::tool(
        "python3",
        "PYTHON",
        "Python with grpcio, grpcio-tools, grpcio-status, grpcio-reflection",
    )
}

fn run(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot start {}: {error}", python().display()));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Generates the Python stubs for `proto/` into `out`.
fn generate_stubs(root: &Path, out: &Path) {
    let probe = Command::new(python())
        .args(["-c", "import grpc, grpc_tools, grpc_status"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|output| output.status.success()),
        "the Python client tests need grpcio: `bash .ci/test` installs it into a venv under \
         target/test-tools (or set PYTHON to an interpreter that has grpcio, grpcio-tools, \
         grpcio-status and grpcio-reflection)"
    );
    let protos: Vec<PathBuf> = std::fs::read_dir(root.join("proto/elevator/v1"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .map(|path| path.strip_prefix(root).unwrap().to_owned())
        .collect();
    std::fs::create_dir_all(out).unwrap();
    run(
        Command::new(python())
            .current_dir(root)
            .args(["-m", "grpc_tools.protoc", "-I", "proto"])
            .arg(format!("--python_out={}", out.display()))
            .arg(format!("--grpc_python_out={}", out.display()))
            .args(&protos),
        "grpc_tools.protoc",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fatma_flow_from_python() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let stubs =
        std::env::temp_dir().join(format!("elevator-python-{}", uuid::Uuid::new_v4().simple()));
    generate_stubs(&root, &stubs);
    let app = spawn_app(Backend::Postgres).await;
    let (fatma, ali, pep) = (app.fatma(), app.ali(), app.pep());
    let target = app.address.to_string();
    let script_stubs = stubs.clone();
    let stdout = tokio::task::spawn_blocking(move || {
        run(
            Command::new(python())
                .arg(root.join("clients/python/fatma.py"))
                .args(["--target", &target])
                .env("PYTHONPATH", &script_stubs)
                .env("FATMA_TOKEN", fatma)
                .env("ALI_TOKEN", ali)
                .env("PEP_TOKEN", pep),
            "clients/python/fatma.py",
        )
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&stubs);

    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(summary["before_approval"], "DECISION_REASON_NO_GRANT");
    assert_eq!(summary["after_approval"], "DECISION_REASON_ALLOWED");
    assert_eq!(summary["after_revocation"], "DECISION_REASON_REVOKED");
    assert_eq!(
        summary["self_approval"],
        serde_json::json!({"code": "PERMISSION_DENIED", "reason": "SELF_APPROVAL", "fields": []})
    );
    assert_eq!(
        summary["bad_scope"],
        serde_json::json!({"code": "INVALID_ARGUMENT", "reason": "INVALID_ARGUMENT", "fields": ["scope"]})
    );
    // What Python saw is what the server holds.
    let trail = app.audit_actions().await;
    for action in [
        "elevation.requested",
        "approval.approved",
        "grant.activated",
        "grant.revoked",
    ] {
        assert!(trail.iter().any(|a| a == action), "{action} in {trail:?}");
    }
}

/// Lists the services of `target` with the stock `grpcio-reflection` client, which speaks
/// `grpc.reflection.v1alpha` only, and resolves each one's methods through it; prints one JSON
/// object: service name to method names.
const LIST_SERVICES: &str = r#"
import json, sys
import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
with grpc.insecure_channel(sys.argv[1]) as channel:
    database = ProtoReflectionDescriptorDatabase(channel)
    pool = DescriptorPool(database)
    services = {}
    for name in database.get_services():
        service = pool.FindServiceByName(name)
        services[name] = sorted(method.name for method in service.methods)
    print(json.dumps(services))
"#;

/// The services declared in `proto/elevator/v1`.
fn declared_services(root: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root.join("proto/elevator/v1")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("service ") {
                let name = rest.split_whitespace().next().unwrap();
                names.push(format!("elevator.v1.{name}"));
            }
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_python_reflection_client_lists_every_service() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let app = spawn_app(Backend::Memory).await;
    let target = app.address.to_string();
    let stdout = tokio::task::spawn_blocking(move || {
        run(
            Command::new(python()).args(["-c", LIST_SERVICES, &target]),
            "grpc_reflection (v1alpha) listing services",
        )
    })
    .await
    .unwrap();
    let listed: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(stdout.trim()).expect("one JSON object");

    let mut expected = declared_services(&root);
    expected.extend(
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
        .map(String::from),
    );
    expected.sort();
    assert_eq!(listed.keys().cloned().collect::<Vec<_>>(), expected);
    // The descriptors resolve, not only the names.
    assert!(
        listed["elevator.v1.CheckService"].contains(&"Check".to_owned()),
        "{listed:?}"
    );
    assert!(
        listed["elevator.v1.ElevationService"].contains(&"RequestElevation".to_owned()),
        "{listed:?}"
    );
}
