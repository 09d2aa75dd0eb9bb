//! The log of `elevator serve` as a log shipper or `grep` reads it: through a pipe. Text mode
//! carries no ANSI escapes there; `log.format: json` writes one JSON object per line, and an
//! event inside a call carries that call's span fields.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use elevator::auth::Claims;
use elevator::proto::v1 as pb;
use elevator::proto::v1::policy_service_client::PolicyServiceClient;

use crate::harness::*;

/// `elevator serve` in dev mode with its standard output and error on pipes, killed on drop.
struct Piped {
    child: Child,
    state_dir: std::path::PathBuf,
    address: std::net::SocketAddr,
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn free_address() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Starts dev mode with `env` and waits until its gRPC port answers.
async fn serve_piped(env: &[(&str, &str)]) -> Piped {
    let state_dir =
        std::env::temp_dir().join(format!("elevator-logs-{}", uuid::Uuid::new_v4().simple()));
    let (address, admin) = (free_address(), free_address());
    let mut command = Command::new(env!("CARGO_BIN_EXE_elevator"));
    command
        .arg("serve")
        .env("ELEVATOR_LISTEN", address.to_string())
        .env("ELEVATOR_ADMIN_LISTEN", admin.to_string())
        .env("ELEVATOR_STATE_DIR", &state_dir)
        .env("RUST_LOG", "info")
        .env_remove("ELEVATOR_CONFIG")
        .env_remove("ELEVATOR_DATABASE_URL")
        .env_remove("ELEVATOR_LOG_FORMAT")
        .env_remove("NO_COLOR")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut served = Piped {
        child: command.spawn().expect("start elevator serve"),
        state_dir,
        address,
    };
    let started = Instant::now();
    while tokio::net::TcpStream::connect(address).await.is_err() {
        if let Some(status) = served.child.try_wait().unwrap() {
            panic!("elevator serve exited with {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "elevator serve did not listen within 30s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served
}

/// Stops the server (SIGTERM, so it logs its shutdown) and returns what it wrote to its
/// standard output and standard error.
fn stop_and_read(mut served: Piped) -> (String, String) {
    crate::harness::send_sigterm(&served.child);
    let (mut out, mut err) = (String::new(), String::new());
    served
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    served
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = served.child.wait().unwrap();
    assert!(
        status.success(),
        "elevator serve exited with {status}\n{out}\n{err}"
    );
    (out, err)
}

/// Puts the demo policy through the API as a dev-mode admin: an event inside a call.
async fn put_policy_as_admin(served: &Piped) {
    let secret = elevator::auth::dev::load_secret(&served.state_dir).expect("the dev secret");
    let admin = token_signed(
        &secret,
        &elevator::clock::ManualClock::starting_now(),
        Claims {
            sub: "ops-admin".into(),
            roles: vec!["elevator:admin".into()],
            iss: Some(elevator::auth::DEV_ISSUER.into()),
            ..Default::default()
        },
    );
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", served.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    PolicyServiceClient::new(channel)
        .put_policy(authed(
            &admin,
            pb::PutPolicyRequest {
                source: elevator::policy::DEMO_POLICY.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("PutPolicy as a dev-mode admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_logging_into_a_pipe_writes_no_colour_codes() {
    let served = serve_piped(&[]).await;
    put_policy_as_admin(&served).await;
    let (out, err) = stop_and_read(served);
    let log = format!("{out}{err}");
    assert!(log.contains("serving gRPC"), "{log}");
    assert!(log.contains("policy put through the API"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escape codes in a piped log:\n{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_calls_span_fields() {
    let served = serve_piped(&[("ELEVATOR_LOG_FORMAT", "json")]).await;
    put_policy_as_admin(&served).await;
    let (out, _) = stop_and_read(served);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not one JSON object ({error}): {line:?}"));
            assert!(value.is_object(), "{line}");
            value
        })
        .collect();
    let message = |text: &str| {
        lines
            .iter()
            .find(|line| line["message"] == text)
            .unwrap_or_else(|| panic!("no line {text:?} in {out}"))
    };
    let serving = message("serving gRPC");
    assert_eq!(serving["level"], "INFO");
    assert!(serving["timestamp"].is_string(), "{serving}");
    assert!(serving["address"].is_string(), "{serving}");
    let put = message("policy put through the API");
    assert_eq!(put["by"], "ops-admin", "{put}");
    assert_eq!(put["span"]["name"], "grpc", "{put}");
    assert_eq!(
        put["span"]["rpc.service"], "elevator.v1.PolicyService",
        "{put}"
    );
    assert_eq!(put["span"]["rpc.method"], "PutPolicy", "{put}");
    assert!(put["span"]["request_id"].is_string(), "{put}");
    message("stopped");
}
