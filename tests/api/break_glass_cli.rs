//! `elevator break-glass` through the binary: the README's night-time incident and the review
//! next morning, with the exit code that tells a script a review is overdue.

use chrono::TimeDelta;

use crate::harness::*;

async fn elevator(app: &TestApp, token: &str, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let (server, token) = (format!("http://{}", app.address), token.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_elevator"))
            .args(&args)
            .args(["--output", "json"])
            .env("ELEVATOR_SERVER", server)
            .env("ELEVATOR_TOKEN", token)
            .env_remove("ELEVATOR_CONFIG")
            .output()
            .expect("run elevator")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (
        output.status.code(),
        serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_breaks_glass_at_night_and_reviews_it_next_morning() {
    let app = spawn_app(Backend::Postgres).await;
    let fatma = app.fatma_on_call("night");
    let (code, used) = elevator(
        &app,
        &fatma,
        &[
            "break-glass",
            "use",
            "--entry",
            "procurement-incident",
            "--role",
            "admin_approver",
            "--scope",
            "Org:Procurement",
            "--incident",
            "INC-7",
            "--reason",
            "supplier payment run stuck",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{used}");
    let id = used["use"]["id"].as_str().expect("an id").to_owned();
    assert_eq!(used["use"]["review_state"], "pending");

    // The next morning, a day and a bit later, the review is overdue: `list` exits 1.
    app.clock.advance(TimeDelta::hours(25));
    let (code, mine) = elevator(&app, &fatma, &["break-glass", "list"]).await;
    assert_eq!(code, Some(1));
    assert_eq!(mine[0]["review_state"], "overdue");
    let (code, todo) = elevator(&app, &app.ali(), &["break-glass", "list", "--to-review"]).await;
    assert_eq!(code, Some(1));
    assert_eq!(todo[0]["id"], id.as_str());

    // Ali reads the evidence and confirms; nothing is overdue any more.
    let (code, evidence) = elevator(&app, &app.ali(), &["break-glass", "show", &id]).await;
    assert_eq!(code, Some(0));
    assert_eq!(evidence["use"]["incident"], "INC-7");
    let (code, refused) =
        elevator(&app, &fatma, &["break-glass", "review", &id, "--confirm"]).await;
    assert_ne!(code, Some(0), "{refused}");
    let (code, reviewed) = elevator(
        &app,
        &app.ali(),
        &[
            "break-glass",
            "review",
            &id,
            "--confirm",
            "--comment",
            "INC-7 confirmed",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{reviewed}");
    assert_eq!(reviewed["use"]["review_state"], "confirmed");
    let (code, _) = elevator(&app, &fatma, &["break-glass", "list"]).await;
    assert_eq!(code, Some(0));
}
