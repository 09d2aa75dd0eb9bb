//! The storage contract for the directory, run against both stores: entities put, found by
//! any of their names, replaced whole and deleted, with their audit events and revision; names
//! unique per type whatever the write; properties kept exactly; listings by type in pages;
//! and directory writes announced on the change feed.

use std::sync::Arc;
use std::time::Duration;

use crate::store_contract_cases;
use chrono::Utc;
use elevator::domain::{
    AuditAction, AuditEvent, Entity, EntityId, EntityKey, EntityType, GroupName, Properties,
    RoleName, Scope, StandingRole, Value,
};
use elevator::store::{
    Change, Committed, DirectoryWrite, EntityFilter, Store, StoreError, StoreEvent,
};

store_contract_cases!(
    entities_are_put_found_by_any_name_replaced_whole_and_deleted,
    a_name_never_names_two_entities_of_a_type,
    properties_roles_groups_and_scope_are_kept_exactly,
    entities_list_by_type_then_id_in_pages,
    directory_writes_are_announced_on_the_change_feed,
    entities_are_read_by_canonical_key_only,
);

fn key(entity_type: &str, id: &str) -> EntityKey {
    EntityKey {
        entity_type: EntityType::parse(entity_type).unwrap(),
        id: EntityId::parse(id).unwrap(),
    }
}

fn entity(entity_type: &str, id: &str, aliases: &[&str]) -> Entity {
    Entity {
        key: key(entity_type, id),
        aliases: aliases
            .iter()
            .map(|a| EntityId::parse(a).unwrap())
            .collect(),
        properties: Properties::default(),
        roles: vec![],
        groups: vec![],
        scope: None,
    }
}

fn audited(writes: Vec<DirectoryWrite>) -> Change {
    Change {
        events: vec![AuditEvent::new(
            AuditAction::DirectoryImported,
            "alice",
            0,
            elevator::clock::truncate_to_micros(Utc::now()),
        )],
        directory: writes,
        ..Default::default()
    }
}

/// Writes `writes` unconditionally, announcing `names`; returns what the decision was shown.
async fn write(
    store: &Arc<dyn Store>,
    names: &[EntityKey],
    writes: Vec<DirectoryWrite>,
) -> Result<(Committed, Vec<Entity>), StoreError> {
    let seen = std::sync::Mutex::new(Vec::new());
    let committed = store
        .update_directory(names, &|named| {
            *seen.lock().unwrap() = named;
            Ok(audited(writes.clone()))
        })
        .await?;
    Ok((committed, seen.into_inner().unwrap()))
}

async fn put(store: &Arc<dyn Store>, entity: &Entity) -> Result<Committed, StoreError> {
    let names: Vec<EntityKey> = elevator::store::entity_names(entity).collect();
    Ok(
        write(store, &names, vec![DirectoryWrite::Put(entity.clone())])
            .await?
            .0,
    )
}

async fn entities_are_put_found_by_any_name_replaced_whole_and_deleted(store: Arc<dyn Store>) {
    let rick = entity("user", "rick@the-citadel.com", &["CiRmZDA2", "rick"]);
    let first = put(&store, &rick).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), first.revision);
    for name in ["rick@the-citadel.com", "CiRmZDA2", "rick"] {
        assert_eq!(
            store.get_entity(&key("user", name)).await.unwrap().as_ref(),
            Some(&rick),
            "found by {name}"
        );
    }
    assert_eq!(store.get_entity(&key("todo", "rick")).await.unwrap(), None);

    // The decision sees the stored entity any announced name names, once.
    let mut replaced = entity("user", "rick@the-citadel.com", &["CiRmZDA2"]);
    replaced.groups = vec![GroupName::parse("admins").unwrap()];
    let (second, seen) = write(
        &store,
        &[key("user", "rick"), key("user", "CiRmZDA2")],
        vec![DirectoryWrite::Put(replaced.clone())],
    )
    .await
    .unwrap();
    assert_eq!(seen, vec![rick.clone()]);
    assert!(second.revision > first.revision);
    assert_eq!(
        store.get_entity(&key("user", "rick")).await.unwrap(),
        None,
        "alias dropped"
    );
    assert_eq!(
        store.get_entity(&key("user", "CiRmZDA2")).await.unwrap(),
        Some(replaced.clone())
    );
    let snapshot = store.load_directory().await.unwrap();
    assert_eq!(snapshot.value, vec![replaced.clone()]);
    assert_eq!(snapshot.revision, second.revision);

    let (third, _) = write(
        &store,
        &[replaced.key.clone()],
        vec![DirectoryWrite::Delete(replaced.key.clone())],
    )
    .await
    .unwrap();
    assert_eq!(
        store.get_entity(&key("user", "CiRmZDA2")).await.unwrap(),
        None
    );
    assert!(store.load_directory().await.unwrap().value.is_empty());
    let audit = store.audit_events(0, 100).await.unwrap();
    let revisions: Vec<u64> = audit.iter().map(|event| event.revision).collect();
    assert_eq!(
        revisions,
        vec![first.revision, second.revision, third.revision]
    );
    assert!(
        audit
            .iter()
            .all(|e| e.event.action == AuditAction::DirectoryImported)
    );
}

async fn a_name_never_names_two_entities_of_a_type(store: Arc<dyn Store>) {
    put(&store, &entity("user", "rick", &["pid-1"]))
        .await
        .unwrap();
    let revision = store.revision().await.unwrap();
    let clashes = [
        vec![entity("user", "morty", &["pid-1"])],
        vec![entity("user", "pid-1", &[])],
        vec![entity("user", "morty", &["rick"])],
        // A bulk write is refused whole when one of its entities clashes.
        vec![
            entity("user", "summer", &[]),
            entity("user", "beth", &["pid-1"]),
        ],
        // Two written entities sharing a name.
        vec![
            entity("user", "summer", &["x"]),
            entity("user", "beth", &["x"]),
        ],
    ];
    for writes in clashes {
        let writes: Vec<DirectoryWrite> = writes.into_iter().map(DirectoryWrite::Put).collect();
        // Announced names that miss the clash do not hide it: the store checks every name.
        let error = write(&store, &[], writes.clone()).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Conflict(message) if message.contains("name")),
            "{writes:?}: {error:?}"
        );
        assert_eq!(store.revision().await.unwrap(), revision, "{writes:?}");
    }
    assert_eq!(
        store.get_entity(&key("user", "summer")).await.unwrap(),
        None
    );
    assert_eq!(store.audit_events(0, 100).await.unwrap().len(), 1);

    // The same name under another type is another name.
    put(&store, &entity("todo", "pid-1", &["rick"]))
        .await
        .unwrap();
    // An alias moves in one write: the entity giving it up is replaced in the same change.
    write(
        &store,
        &[],
        vec![
            DirectoryWrite::Put(entity("user", "rick", &[])),
            DirectoryWrite::Put(entity("user", "morty", &["pid-1"])),
        ],
    )
    .await
    .unwrap();
    let morty = store
        .get_entity(&key("user", "pid-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(morty.key, key("user", "morty"));
    // A deleted entity's names are free again.
    write(
        &store,
        &[],
        vec![DirectoryWrite::Delete(key("user", "morty"))],
    )
    .await
    .unwrap();
    put(&store, &entity("user", "summer", &["pid-1"]))
        .await
        .unwrap();
}

fn text(value: &str) -> Value {
    Value::String(value.into())
}

async fn properties_roles_groups_and_scope_are_kept_exactly(store: Arc<dyn Store>) {
    let nested: Properties = [
        (
            "deep".into(),
            Value::List(vec![Value::Int(1), Value::Null].into()),
        ),
        ("flag".into(), Value::Bool(false)),
    ]
    .into_iter()
    .collect();
    let properties: Properties = [
        ("email".into(), text("rick@the-citadel.com")),
        ("age".into(), Value::Int(70)),
        ("big".into(), Value::Int(i64::MAX)),
        ("ratio".into(), Value::Double(0.5)),
        ("whole_double".into(), Value::Double(2.0)),
        ("nothing".into(), Value::Null),
        (
            "tags".into(),
            Value::List(vec![text("a"), text("é")].into()),
        ),
        ("nested".into(), Value::Map(nested)),
        ("".into(), text("an empty name is a name")),
    ]
    .into_iter()
    .collect();
    let mut rick = entity("user", "rick", &["Rick Sanchez"]);
    rick.properties = properties;
    rick.roles = vec![
        StandingRole {
            role: RoleName::parse("editor").unwrap(),
            scope: None,
        },
        StandingRole {
            role: RoleName::parse("admin_approver").unwrap(),
            scope: Some(Scope::parse("Org:Procurement/PO:4711").unwrap()),
        },
    ];
    rick.groups = vec![
        GroupName::parse("evil-genius").unwrap(),
        GroupName::parse("admins").unwrap(),
    ];
    let mut todo = entity("todo", "/todos/1", &[]);
    todo.scope = Some(Scope::parse("Org:Citadel/Todo:1").unwrap());
    put(&store, &rick).await.unwrap();
    put(&store, &todo).await.unwrap();
    assert_eq!(
        store.get_entity(&key("user", "rick")).await.unwrap(),
        Some(rick.clone())
    );
    assert_eq!(
        store.get_entity(&todo.key).await.unwrap(),
        Some(todo.clone())
    );
    let mut loaded = store.load_directory().await.unwrap().value;
    loaded.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(loaded, vec![todo, rick]);
}

async fn entities_list_by_type_then_id_in_pages(store: Arc<dyn Store>) {
    let ids = ["b", "B", "a", "é", "z", "Z9"];
    let writes = (ids.iter())
        .map(|id| DirectoryWrite::Put(entity("user", id, &[])))
        .chain([DirectoryWrite::Put(entity("todo", "1", &[]))])
        .chain([DirectoryWrite::Put(entity("route", "/x", &[]))])
        .collect();
    write(&store, &[], writes).await.unwrap();
    let mut bytewise: Vec<&str> = ids.to_vec();
    bytewise.sort();
    let mut listed = Vec::new();
    let mut filter = EntityFilter {
        entity_type: Some(EntityType::parse("user").unwrap()),
        after: None,
        limit: 4,
    };
    loop {
        let page = store.list_entities(&filter).await.unwrap();
        assert!(page.len() <= 4);
        listed.extend(page.iter().map(|e| e.key.id.as_str().to_owned()));
        if page.len() < filter.limit {
            break;
        }
        filter.after = page.last().map(|e| e.key.clone());
    }
    assert_eq!(listed, bytewise);
    let everything = store
        .list_entities(&EntityFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let types: Vec<&str> = everything
        .iter()
        .map(|e| e.key.entity_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "route", "todo", "user", "user", "user", "user", "user", "user"
        ]
    );
}

async fn directory_writes_are_announced_on_the_change_feed(store: Arc<dyn Store>) {
    let mut feed = store.subscribe();
    for _ in 0..200 {
        if store.is_listening() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let committed = put(&store, &entity("user", "rick", &[])).await.unwrap();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), feed.recv())
            .await
            .expect("a change event")
            .unwrap();
        if let StoreEvent::Changed {
            revision,
            directory_changed,
            directory_keys,
            policy_changed,
            ..
        } = event
        {
            assert_eq!(revision, committed.revision);
            assert!(directory_changed);
            assert_eq!(
                directory_keys
                    .iter()
                    .map(|key| format!("{}/{}", key.entity_type.as_str(), key.id.as_str()))
                    .collect::<Vec<_>>(),
                vec!["user/rick"],
                "the feed names the entity written"
            );
            assert!(!policy_changed);
            break;
        }
    }
}

async fn entities_are_read_by_canonical_key_only(store: Arc<dyn Store>) {
    put(&store, &entity("user", "rick", &["pid-1"]))
        .await
        .unwrap();
    put(&store, &entity("user", "morty", &[])).await.unwrap();
    let mut found: Vec<String> = store
        .entities_with_keys(&[
            key("user", "rick"),
            key("user", "morty"),
            key("user", "pid-1"),
            key("user", "summer"),
            key("todo", "rick"),
        ])
        .await
        .unwrap()
        .into_iter()
        .map(|entity| entity.key.id.to_string())
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec!["morty", "rick"],
        "an alias or a missing key finds nothing"
    );
    assert!(store.entities_with_keys(&[]).await.unwrap().is_empty());
}
