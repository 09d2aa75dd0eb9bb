//! The stored directory over gRPC (`DirectoryService`) and the CLI: round trips on both stores,
//! audit events, validation errors that change nothing, imports all or nothing, who may do
//! what, and a directory change reaching another replica's decisions through the change feed
//! (also after that replica lost its feed).

use std::time::{Duration, Instant};

use elevator::proto::v1 as pb;
use elevator::proto::v1::directory_service_client::DirectoryServiceClient;
use prost_types::value::Kind;
use tonic::transport::Channel;

use crate::harness::*;
use crate::on_both_backends;

fn directory(app: &TestApp) -> DirectoryServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{}", app.address))
        .unwrap()
        .connect_lazy();
    DirectoryServiceClient::new(channel)
}

fn number(value: f64) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::NumberValue(value)),
    }
}

fn text(value: &str) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StringValue(value.into())),
    }
}

fn properties(entries: &[(&str, prost_types::Value)]) -> prost_types::Struct {
    prost_types::Struct {
        fields: entries
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect(),
    }
}

fn user(id: &str, aliases: &[&str]) -> pb::DirectoryEntity {
    pb::DirectoryEntity {
        r#type: "user".into(),
        id: id.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        properties: Some(properties(&[])),
        ..Default::default()
    }
}

fn rick() -> pb::DirectoryEntity {
    pb::DirectoryEntity {
        properties: Some(properties(&[
            ("email", text("rick@the-citadel.com")),
            ("age", number(70.0)),
            ("ratio", number(0.25)),
        ])),
        roles: vec![pb::DirectoryRole {
            role: "admin_approver".into(),
            scope: "Org:Procurement".into(),
        }],
        groups: vec!["evil-genius".into()],
        ..user("rick@the-citadel.com", &["CiRmZDA2"])
    }
}

async fn put(
    app: &TestApp,
    entity: pb::DirectoryEntity,
) -> Result<pb::PutEntityResponse, tonic::Status> {
    directory(app)
        .put_entity(authed(
            &app.admin(),
            pb::PutEntityRequest {
                entity: Some(entity),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn get(
    app: &TestApp,
    token: &str,
    entity_type: &str,
    id: &str,
) -> Result<pb::DirectoryEntity, tonic::Status> {
    directory(app)
        .get_entity(authed(
            token,
            pb::GetEntityRequest {
                r#type: entity_type.into(),
                id: id.into(),
            },
        ))
        .await
        .map(|response| response.into_inner().entity.unwrap())
}

async fn import(
    app: &TestApp,
    messages: Vec<Vec<pb::DirectoryEntity>>,
) -> Result<pb::ImportEntitiesResponse, tonic::Status> {
    let messages: Vec<pb::ImportEntitiesRequest> = messages
        .into_iter()
        .map(|entities| pb::ImportEntitiesRequest { entities })
        .collect();
    directory(app)
        .import_entities(authed(&app.admin(), tokio_stream::iter(messages)))
        .await
        .map(tonic::Response::into_inner)
}

async fn list_all(app: &TestApp, entity_type: &str, page_size: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = directory(app)
            .list_entities(authed(
                &app.admin(),
                pb::ListEntitiesRequest {
                    r#type: entity_type.into(),
                    page_size,
                    page_token,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.entities.len() <= page_size as usize);
        ids.extend(page.entities.into_iter().map(|e| e.id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        page_token = page.next_page_token;
    }
}

fn field_violations(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

async fn an_entity_round_trips_over_grpc_and_every_write_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let put_first = put(&app, rick()).await.unwrap();
    assert!(put_first.created);
    assert_eq!(put_first.entity.as_ref(), Some(&rick()));
    // Found by its id and by its alias, as stored (70 stays a whole number, 0.25 a fraction).
    assert_eq!(
        get(&app, &app.admin(), "user", "CiRmZDA2").await.unwrap(),
        rick()
    );
    assert_eq!(
        get(&app, &app.pep(), "user", "rick@the-citadel.com")
            .await
            .unwrap(),
        rick()
    );

    let replaced = pb::DirectoryEntity {
        groups: vec![],
        ..user("rick@the-citadel.com", &["rick"])
    };
    let put_again = put(&app, replaced.clone()).await.unwrap();
    assert!(!put_again.created);
    assert!(put_again.revision > put_first.revision);
    let gone = get(&app, &app.admin(), "user", "CiRmZDA2")
        .await
        .unwrap_err();
    assert_eq!(
        gone.code(),
        tonic::Code::NotFound,
        "the dropped alias names nothing"
    );
    assert_eq!(
        list_all(&app, "user", 10).await,
        vec!["rick@the-citadel.com"]
    );

    let deleted = directory(&app)
        .delete_entity(authed(
            &app.admin(),
            pb::DeleteEntityRequest {
                r#type: "user".into(),
                id: "rick".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.revision > put_again.revision);
    assert!(list_all(&app, "", 10).await.is_empty());
    let again = directory(&app)
        .delete_entity(authed(
            &app.admin(),
            pb::DeleteEntityRequest {
                r#type: "user".into(),
                id: "rick".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::NotFound);

    let events = app.store.audit_events(0, 100).await.unwrap();
    let directory_events: Vec<_> = events
        .iter()
        .filter(|stored| stored.event.action.as_str().starts_with("directory."))
        .collect();
    let actions: Vec<&str> = directory_events
        .iter()
        .map(|s| s.event.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "directory.entity_put",
            "directory.entity_put",
            "directory.entity_deleted"
        ]
    );
    assert!(
        directory_events
            .iter()
            .all(|s| s.event.actor == "root" && s.event.request_id.is_some())
    );
    let replaced_event = &directory_events[1].event.details;
    assert_eq!(replaced_event["created"], false);
    assert_eq!(
        replaced_event["before"]["aliases"],
        serde_json::json!(["CiRmZDA2"])
    );
    assert_eq!(
        replaced_event["after"]["aliases"],
        serde_json::json!(["rick"])
    );
    assert_eq!(
        replaced_event["before"]["properties"],
        serde_json::json!(["age", "email", "ratio"]),
        "property names, never their values"
    );
    assert_eq!(
        directory_events[2].event.details["entity"]["id"],
        "rick@the-citadel.com"
    );
    assert_eq!(
        (directory_events
            .iter()
            .map(|s| s.revision)
            .collect::<Vec<_>>()),
        vec![put_first.revision, put_again.revision, deleted.revision]
    );
}
on_both_backends!(
    an_entity_round_trips_over_grpc_and_every_write_is_audited,
    an_entity_round_trips_over_grpc_and_every_write_is_audited
);

async fn bad_input_is_refused_naming_the_field_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, user("rick", &["pid-1"])).await.unwrap();
    let revision = app.store.revision().await.unwrap();
    let mut deep = prost_types::Value {
        kind: Some(Kind::StringValue("bottom".into())),
    };
    for _ in 0..9 {
        deep = prost_types::Value {
            kind: Some(Kind::StructValue(properties(&[("d", deep)]))),
        };
    }
    let many: Vec<(String, prost_types::Value)> = (0..300)
        .map(|at| (format!("p{at}"), number(at as f64)))
        .collect();
    let cases: Vec<(pb::DirectoryEntity, &str)> = vec![
        (
            pb::DirectoryEntity {
                r#type: "1user".into(),
                ..user("x", &[])
            },
            "entity.type",
        ),
        (
            pb::DirectoryEntity {
                r#type: String::new(),
                ..user("x", &[])
            },
            "entity.type",
        ),
        (user("", &[]), "entity.id"),
        (user("x", &["ok", "bad\nalias"]), "entity.aliases[1]"),
        (user("x", &vec!["a"; 33]), "entity.aliases"),
        (
            pb::DirectoryEntity {
                roles: vec![pb::DirectoryRole {
                    role: "no such role!".into(),
                    scope: String::new(),
                }],
                ..user("x", &[])
            },
            "entity.roles[0].role",
        ),
        (
            pb::DirectoryEntity {
                roles: vec![pb::DirectoryRole {
                    role: "editor".into(),
                    scope: "not a scope".into(),
                }],
                ..user("x", &[])
            },
            "entity.roles[0].scope",
        ),
        (
            pb::DirectoryEntity {
                groups: vec![String::new()],
                ..user("x", &[])
            },
            "entity.groups[0]",
        ),
        (
            pb::DirectoryEntity {
                scope: "::".into(),
                ..user("x", &[])
            },
            "entity.scope",
        ),
        (
            pb::DirectoryEntity {
                properties: Some(properties(&[("n", number(f64::NAN))])),
                ..user("x", &[])
            },
            "entity.properties.\"n\"",
        ),
        (
            pb::DirectoryEntity {
                properties: Some(properties(&[("deep", deep)])),
                ..user("x", &[])
            },
            "entity.properties",
        ),
        (
            pb::DirectoryEntity {
                properties: Some(prost_types::Struct {
                    fields: many.into_iter().collect(),
                }),
                ..user("x", &[])
            },
            "entity.properties",
        ),
        (
            pb::DirectoryEntity {
                properties: Some(properties(&[("long", text(&"x".repeat(5000)))])),
                ..user("x", &[])
            },
            "entity.properties.\"long\"",
        ),
    ];
    for (entity, field) in cases {
        let status = put(&app, entity.clone()).await.unwrap_err();
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{field}: {status:?}"
        );
        let violations = field_violations(&status);
        assert!(
            violations.iter().any(|v| v.starts_with(field)),
            "{field}: {violations:?} {status:?}"
        );
        assert!(status.message().len() < 1024, "the message is bounded");
    }
    let missing = directory(&app)
        .put_entity(authed(&app.admin(), pb::PutEntityRequest { entity: None }))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&missing), vec!["entity"]);
    // A name another entity holds is a conflict, named, and changes nothing.
    let clash = put(&app, user("morty", &["pid-1"])).await.unwrap_err();
    assert_eq!(clash.code(), tonic::Code::FailedPrecondition, "{clash:?}");
    assert_eq!(error_reason(&clash), "CONFLICT");
    assert!(clash.message().contains("pid-1"), "{clash:?}");
    let bad_token = directory(&app)
        .list_entities(authed(
            &app.admin(),
            pb::ListEntitiesRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&bad_token), vec!["page_token"]);
    assert_eq!(app.store.revision().await.unwrap(), revision);
    assert_eq!(list_all(&app, "", 50).await, vec!["rick"]);
}
on_both_backends!(
    bad_input_is_refused_naming_the_field_and_changes_nothing,
    bad_input_is_refused_naming_the_field_and_changes_nothing
);

async fn an_import_is_all_or_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, user("rick", &["pid-1"])).await.unwrap();
    let revision = app.store.revision().await.unwrap();
    let batch = |from: usize, to: usize| -> Vec<pb::DirectoryEntity> {
        (from..to)
            .map(|at| user(&format!("user-{at:04}"), &[&format!("pid-{at}-x")]))
            .collect()
    };

    // An invalid entity in the last message: named by its place in the whole import.
    let mut last = batch(400, 450);
    last.push(user("", &[]));
    let invalid = import(&app, vec![batch(0, 200), batch(200, 400), last])
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
    assert_eq!(field_violations(&invalid), vec!["entities[450].id"]);
    // Two imported entities sharing a name.
    let shared = import(&app, vec![vec![user("a", &["same"]), user("b", &["same"])]])
        .await
        .unwrap_err();
    assert_eq!(shared.code(), tonic::Code::InvalidArgument, "{shared:?}");
    // An imported name naming a stored entity the import does not replace.
    let mut clashing = batch(0, 300);
    clashing.push(user("morty", &["pid-1"]));
    let conflict = import(&app, vec![clashing]).await.unwrap_err();
    assert_eq!(error_reason(&conflict), "CONFLICT", "{conflict:?}");
    assert_eq!(
        app.store.revision().await.unwrap(),
        revision,
        "nothing written"
    );
    assert_eq!(list_all(&app, "user", 500).await, vec!["rick"]);

    // A valid import, streamed in several messages, replacing rick (who gives pid-1 up) and
    // giving pid-1 to morty in the same transaction.
    let mut entities = batch(0, 1200);
    entities.push(user("rick", &[]));
    entities.push(user("morty", &["pid-1"]));
    let messages: Vec<Vec<pb::DirectoryEntity>> = entities.chunks(250).map(<[_]>::to_vec).collect();
    let imported = import(&app, messages).await.unwrap();
    assert_eq!(imported.imported, 1202);
    assert_eq!(list_all(&app, "user", 500).await.len(), 1202);
    assert_eq!(
        get(&app, &app.admin(), "user", "pid-1").await.unwrap().id,
        "morty"
    );
    let events = app.store.audit_events(0, 100).await.unwrap();
    let last = &events.last().unwrap().event;
    assert_eq!(last.action.as_str(), "directory.imported");
    assert_eq!(last.details["entities"], 1202);
    assert_eq!(last.details["replaced"], 1);
}
on_both_backends!(an_import_is_all_or_nothing, an_import_is_all_or_nothing);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_admin_role_and_reads_the_admin_auditor_or_pep_role() {
    let app = spawn_app(Backend::Memory).await;
    put(&app, user("rick", &[])).await.unwrap();
    let fatma = app.fatma();
    let auditor = app.token("audrey", &[], &["elevator:auditor"], None, None);
    let refused = directory(&app)
        .put_entity(authed(
            &fatma,
            pb::PutEntityRequest {
                entity: Some(user("x", &[])),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let refused_import = directory(&app)
        .import_entities(authed(
            &app.pep(),
            tokio_stream::iter(vec![pb::ImportEntitiesRequest {
                entities: vec![user("x", &[])],
            }]),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused_import.code(), tonic::Code::PermissionDenied);
    let refused_delete = directory(&app)
        .delete_entity(authed(
            &auditor,
            pb::DeleteEntityRequest {
                r#type: "user".into(),
                id: "rick".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused_delete.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        get(&app, &fatma, "user", "rick").await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    for reader in [&auditor, &app.pep()] {
        assert_eq!(get(&app, reader, "user", "rick").await.unwrap().id, "rick");
    }
    let pep_list = directory(&app)
        .list_entities(authed(&app.pep(), pb::ListEntitiesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        pep_list.code(),
        tonic::Code::PermissionDenied,
        "a PEP looks up, never lists"
    );
    let unauthenticated = directory(&app)
        .get_entity(pb::GetEntityRequest {
            r#type: "user".into(),
            id: "rick".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), tonic::Code::Unauthenticated);
    assert_eq!(list_all(&app, "", 10).await, vec!["rick"]);
}

/// Whether `b` allows rick `purchase_orders.approve` on PO 4711 (his directory role), asked
/// at least at `revision`.
async fn rick_may_approve(b: &TestApp, revision: u64) -> bool {
    b.check(
        "rick@the-citadel.com",
        "s1",
        "purchase_orders.approve",
        "Org:Procurement/PO:4711",
        revision,
    )
    .await
    .allowed
}

async fn until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_change_through_one_replica_reaches_the_other_replicas_decisions() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    assert!(!rick_may_approve(&b, 0).await);
    let put_rick = put(&a, rick()).await.unwrap();
    // Asked at the put's revision, B already decides with the new directory.
    assert!(rick_may_approve(&b, put_rick.revision).await);
    assert_eq!(
        b.app
            .decider()
            .directory()
            .find("user", "CiRmZDA2")
            .map(|e| e.key.id.to_string()),
        Some("rick@the-citadel.com".to_owned())
    );
    let dropped = put(&a, user("rick@the-citadel.com", &[])).await.unwrap();
    assert!(
        !rick_may_approve(&b, dropped.revision).await,
        "the role is gone on B"
    );
    // An import through B reaches A.
    let imported = import(&b, vec![vec![rick(), user("morty", &[])]])
        .await
        .unwrap();
    assert!(rick_may_approve(&a, imported.revision).await);
    until("A sees morty", async || {
        a.app.decider().directory().find("user", "morty").is_some()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_put_reaches_the_other_replica_by_its_key_without_a_whole_reload() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    until("B listens and has read the directory", async || {
        b.app.decider().freshness().is_listening() && b.app.decider().directory_refreshes().full > 0
    })
    .await;
    put(&a, user("morty", &[])).await.unwrap();
    until("B sees morty", async || {
        b.app.decider().directory().find("user", "morty").is_some()
    })
    .await;
    let before = b.app.decider().directory_refreshes();
    put(&a, rick()).await.unwrap();
    until("B sees rick by his alias", async || {
        b.app
            .decider()
            .directory()
            .find("user", "CiRmZDA2")
            .is_some()
    })
    .await;
    let after = b.app.decider().directory_refreshes();
    assert_eq!(
        after.full, before.full,
        "B did not reload the whole directory"
    );
    assert_eq!(
        after.incremental,
        before.incremental + 1,
        "B read only rick"
    );
    assert!(rick_may_approve(&b, 0).await);
    assert!(
        b.app.decider().directory().find("user", "morty").is_some(),
        "what the put did not name stays"
    );
    // A delete travels the same way.
    let deleted = directory(&a)
        .delete_entity(authed(
            &a.admin(),
            pb::DeleteEntityRequest {
                r#type: "user".into(),
                id: "CiRmZDA2".into(),
            },
        ))
        .await;
    assert!(deleted.is_ok(), "{deleted:?}");
    until("B forgets rick", async || {
        b.app
            .decider()
            .directory()
            .find("user", "rick@the-citadel.com")
            .is_none()
    })
    .await;
    let last = b.app.decider().directory_refreshes();
    assert_eq!(
        (last.full, last.incremental),
        (before.full, before.incremental + 2)
    );
    assert!(!rick_may_approve(&b, 0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_lost_its_feed_reloads_the_directory_when_it_listens_again() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    until("B listens", async || {
        b.app.decider().freshness().is_listening()
    })
    .await;
    // An entity written behind the feed's back (no notification, no revision): only a reload
    // finds it, and B reloads when it listens again after losing its feed. (Written before
    // the feed is cut, so that B cannot have reconnected before it was there.)
    let url = a.database_url.as_deref().unwrap();
    sql(
        url,
        "INSERT INTO directory_entities (entity_type, entity_id, roles, revision) \
            VALUES ('user', 'rick@the-citadel.com', '{admin_approver@Org:Procurement}', 0); \
         INSERT INTO directory_names VALUES ('user', 'rick@the-citadel.com', 'rick@the-citadel.com')",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!rick_may_approve(&b, 0).await, "B has not heard of it");
    let pid = crate::replicas::listener_pid(&b)
        .await
        .expect("B's listener");
    sql(url, &format!("SELECT pg_terminate_backend({pid})")).await;
    until("B listens again", async || {
        crate::replicas::listener_pid(&b)
            .await
            .is_some_and(|new| new != pid)
            && b.app.decider().freshness().is_listening()
    })
    .await;
    until("B reloaded the directory", async || {
        b.app
            .decider()
            .directory()
            .find("user", "rick@the-citadel.com")
            .is_some()
    })
    .await;
    assert!(rick_may_approve(&b, 0).await);
}

async fn cli(
    app: &TestApp,
    token: &str,
    args: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let (app_args, token): (Vec<String>, String) = (
        args.iter().map(|a| a.to_string()).collect(),
        token.to_owned(),
    );
    let server = format!("http://{}", app.address);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_elevator"))
            .args(&app_args)
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
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (
        output.status.code(),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_imports_puts_gets_lists_and_deletes_entities() {
    let app = spawn_app(Backend::Memory).await;
    let scratch = std::env::temp_dir().join(format!(
        "elevator-directory-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&scratch).unwrap();
    let import_file = scratch.join("directory.yaml");
    let mut yaml = String::from("directory:\n");
    for at in 0..700 {
        yaml.push_str(&format!(
            "  - {{ type: todo, id: \"/todos/{at}\", properties: {{ ownerID: \"user{at}@example.com\", n: {at} }} }}\n"
        ));
    }
    yaml.push_str(
        "  - type: user\n    id: rick@the-citadel.com\n    aliases: [CiRmZDA2]\n    roles: [\"admin_approver@Org:Procurement\", editor]\n    groups: [evil-genius]\n    properties: { email: rick@the-citadel.com, nested: { list: [1, 2.5, null, true] } }\n",
    );
    std::fs::write(&import_file, yaml).unwrap();
    let admin = app.admin();
    let (code, imported, stderr) = cli(
        &app,
        &admin,
        &["directory", "import", import_file.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(imported["imported"], 701);

    let (code, rick, stderr) = cli(&app, &admin, &["directory", "get", "user", "CiRmZDA2"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(rick["id"], "rick@the-citadel.com");
    assert_eq!(
        rick["roles"],
        serde_json::json!(["admin_approver@Org:Procurement", "editor"])
    );
    assert_eq!(
        rick["properties"]["nested"]["list"],
        serde_json::json!([1, 2.5, null, true])
    );

    let (code, listed, _) = cli(
        &app,
        &admin,
        &[
            "directory",
            "list",
            "--type",
            "todo",
            "--all",
            "--page-size",
            "200",
        ],
    )
    .await;
    assert_eq!(code, Some(0));
    assert_eq!(listed["entities"].as_array().unwrap().len(), 700);

    // `get`'s output is `put`'s input.
    let entity_file = scratch.join("rick.json");
    let mut changed = rick.clone();
    changed["groups"] = serde_json::json!(["admins"]);
    std::fs::write(&entity_file, serde_json::to_string(&changed).unwrap()).unwrap();
    let (code, put_back, stderr) = cli(
        &app,
        &admin,
        &["directory", "put", entity_file.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(put_back["created"], false);
    assert_eq!(put_back["entity"]["groups"], serde_json::json!(["admins"]));

    let (code, _, _) = cli(
        &app,
        &admin,
        &["directory", "delete", "user", "rick@the-citadel.com"],
    )
    .await;
    assert_eq!(code, Some(0));
    let (code, _, stderr) = cli(
        &app,
        &admin,
        &["directory", "get", "user", "rick@the-citadel.com"],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("NotFound"), "{stderr}");
    // A file entry the command cannot read is named by its place; nothing is sent.
    let broken = scratch.join("broken.yaml");
    std::fs::write(
        &broken,
        "- { type: user, id: a }\n- { type: user, idd: b }\n",
    )
    .unwrap();
    let (code, _, stderr) = cli(
        &app,
        &admin,
        &["directory", "import", broken.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("entry 1"), "{stderr}");
    // Refused by the server: exit 2 with the field named.
    std::fs::write(
        &broken,
        "- { type: user, id: a }\n- { type: \"1bad\", id: b }\n",
    )
    .unwrap();
    let (code, _, stderr) = cli(
        &app,
        &app.fatma(),
        &["directory", "import", broken.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("PermissionDenied"), "{stderr}");
    let (code, _, stderr) = cli(
        &app,
        &admin,
        &["directory", "import", broken.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("entities[1].type"), "{stderr}");
    // A policy file's directory section imports as it is.
    let (code, imported, stderr) = cli(
        &app,
        &admin,
        &[
            "directory",
            "import",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/authzen/todo.yaml"),
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(imported["imported"].as_u64().unwrap() >= 5, "{imported}");
    let (code, rick, _) = cli(
        &app,
        &admin,
        &["directory", "get", "user", "rick@the-citadel.com"],
    )
    .await;
    assert_eq!(code, Some(0));
    assert_eq!(rick["properties"]["name"], "Rick Sanchez");
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_service_is_listed_by_reflection_and_reported_serving() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let app = spawn_app(Backend::Memory).await;
    let channel = Channel::from_shared(format!("http://{}", app.address))
        .unwrap()
        .connect_lazy();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "elevator.v1.DirectoryService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("a list of services: {answer:?}");
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "elevator.v1.DirectoryService"),
        "{list:?}"
    );
}
