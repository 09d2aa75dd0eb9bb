//! The console's directory pages in a real browser (headless Chromium, driven as in
//! `console.rs`): an administrator creates an entity, is told what to fix when the form is
//! wrong (and nothing changes), gives it a standing role, finds it by text, and deletes it
//! after the confirm step; a Check over gRPC sees each change. Someone without the admin or
//! auditor role does not reach the pages. Screenshots go under `target/console-screenshots/`.

use crate::console::{Browser, Driver, console_app};
use crate::harness::*;

const RICK: &str = "rick@the-citadel.com";

/// Whether a Check (asked at least at `revision`) lets rick approve PO 4711.
async fn rick_may_approve(app: &TestApp, revision: u64) -> bool {
    app.check(
        RICK,
        "s1",
        "purchase_orders.approve",
        "Org:Procurement/PO:4711",
        revision,
    )
    .await
    .allowed
}

/// Waits until the browser shows a page whose URL contains `part` (so that the next lookup
/// cannot find an element of the page being left).
async fn arrived(browser: &Browser<'_>, part: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !browser.url().await.contains(part) {
        assert!(std::time::Instant::now() < deadline, "never reached {part}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The revision in a notice such as "Created at revision 12".
async fn notice_revision(browser: &Browser<'_>, says: &str) -> u64 {
    let notice = browser.wait_for_text("#notice", says).await;
    notice
        .rsplit(' ')
        .next()
        .and_then(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("no revision in the notice {notice:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_edits_finds_and_deletes_an_entity_and_checks_see_each_change() {
    let driver = Driver::start().await;
    let app = console_app().await;
    let base = format!("http://{}", app.admin_address);
    let root = driver.browser("root").await;
    root.sign_in(&base, &app.admin(), None).await;
    assert!(!rick_may_approve(&app, 0).await);

    // Create rick, known also by an opaque id, with a property.
    root.goto(&format!("{base}/console/directory")).await;
    root.find("#no-entities").await;
    root.click("#new-entity").await;
    root.fill("#type", "user").await;
    root.fill("#id", RICK).await;
    root.fill("#aliases", "CiRmZDA2").await;
    root.fill(
        "#properties",
        r#"{"email": "rick@the-citadel.com", "level": 7}"#,
    )
    .await;
    root.screenshot("directory-01-new").await;
    root.click("#save-entity").await;
    let created = notice_revision(&root, "Created at revision").await;
    assert_eq!(root.text("#entity-aliases").await, "CiRmZDA2");
    assert!(
        root.text("#entity-properties")
            .await
            .contains("\"level\": 7")
    );
    assert!(!rick_may_approve(&app, created).await, "no role yet");

    // A form that does not parse says which field to fix, and changes nothing.
    root.click("#edit-entity").await;
    arrived(&root, "/console/directory/edit?").await;
    root.fill("#roles", "admin_approver@Org:Procurement").await;
    root.fill("#properties", "{\"email\": ").await;
    root.click("#save-entity").await;
    let error = root.wait_for_text("#entity-error", "properties").await;
    assert!(error.contains("nothing was changed"), "{error}");
    root.screenshot("directory-02-refused").await;
    assert!(
        root.attribute("#roles", "value")
            .await
            .contains("admin_approver")
            || root.text("#roles").await.contains("admin_approver"),
        "the form keeps what was typed"
    );
    assert!(
        !rick_may_approve(&app, created).await,
        "the refused form changed nothing"
    );

    // Fixed, it gives rick the standing role, and a Check sees it.
    root.fill("#properties", r#"{"email": "rick@the-citadel.com"}"#)
        .await;
    root.click("#save-entity").await;
    let edited = notice_revision(&root, "Replaced at revision").await;
    assert!(edited > created);
    assert_eq!(
        root.text("#entity-roles").await,
        "admin_approver@Org:Procurement"
    );
    assert!(rick_may_approve(&app, edited).await);

    // Found by text (part of the alias, any case), not under another type.
    root.goto(&format!("{base}/console/directory")).await;
    root.fill("#filter-text", "cirm").await;
    root.click("#filter").await;
    arrived(&root, "q=cirm").await;
    root.wait_for_text("#search-summary", "1 match").await;
    assert!(root.text("#entities").await.contains(RICK));
    root.screenshot("directory-03-found").await;
    root.fill("#filter-type", "todo").await;
    root.click("#filter").await;
    arrived(&root, "type=todo").await;
    root.wait_for_text("#search-summary", "0 matches").await;
    root.find("#no-entities").await;

    // Deleted after the confirm step; a Check no longer sees the role.
    root.fill("#filter-type", "user").await;
    root.fill("#filter-text", "CiRmZDA2").await;
    root.click("#filter").await;
    arrived(&root, "q=CiRmZDA2").await;
    root.click("#entities a").await;
    arrived(&root, "/console/directory/entity?").await;
    root.click("#delete-entity").await;
    arrived(&root, "/console/directory/delete?").await;
    root.wait_for_text("#delete-question", RICK).await;
    root.screenshot("directory-04-confirm-delete").await;
    assert!(
        rick_may_approve(&app, 0).await,
        "nothing is deleted before the confirm"
    );
    root.click("#confirm-delete").await;
    arrived(&root, "notice=Deleted").await;
    let deleted = notice_revision(&root, "Deleted").await;
    assert!(!rick_may_approve(&app, deleted).await);
    root.find("#no-entities").await;

    // Every change is in the audit log.
    let filter = elevator::store::AuditFilter {
        limit: 1000,
        ..Default::default()
    };
    let audit = app.store.list_audit(&filter).await.unwrap();
    let actions: Vec<String> = audit
        .iter()
        .filter(|event| event.event.action.as_str().starts_with("directory"))
        .map(|event| event.event.action.as_str().to_owned())
        .collect();
    assert_eq!(actions.len(), 3, "{actions:?}");
    root.quit().await;

    // Fatma holds neither the admin nor the auditor role: the pages refuse her.
    let fatma = driver.browser("fatma").await;
    fatma.sign_in(&base, &app.fatma(), None).await;
    fatma.goto(&format!("{base}/console/directory")).await;
    fatma.wait_for_text("main", "ROLE_REQUIRED").await;
    fatma.goto(&format!("{base}/console/directory/edit")).await;
    fatma.wait_for_text("main", "ROLE_REQUIRED").await;
    fatma.quit().await;
}
