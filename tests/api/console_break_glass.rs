//! The console's break-glass page in a real browser (a child of `console`, whose WebDriver
//! client it uses): Fatma, on call at night, fills the form, reads the confirm step that says
//! what will happen, and breaks glass; the grant counts at once, named as break-glass. Next
//! morning her use is overdue and shown so; Ali finds it among his reviews and confirms it.

use chrono::TimeDelta;
use elevator::proto::v1 as pb;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatma_breaks_glass_at_night_and_ali_reviews_it_next_morning_in_a_browser() {
    let driver = Driver::start().await;
    let app = console_app().await;
    let base = format!("http://{}", app.admin_address);
    let fatma = driver.browser("fatma").await;
    let ali = driver.browser("ali").await;
    fatma
        .sign_in(&base, &app.fatma_on_call("night"), None)
        .await;
    ali.sign_in(&base, &app.ali(), None).await;

    fatma.goto(&format!("{base}/console/break-glass")).await;
    fatma.find("#mine-empty").await;
    fatma
        .click("#entry option[value='procurement-incident']")
        .await;
    fatma.fill("#role", "admin_approver").await;
    fatma.fill("#scope", "Org:Procurement").await;
    fatma.fill("#incident", "INC-7").await;
    fatma.fill("#reason", "supplier payment run stuck").await;
    fatma.click("#continue").await;

    // The confirm step says what will happen; nothing has happened yet.
    let told = fatma.wait_for_text("#what-will-happen", "at once").await;
    for expected in [
        "admin_approver",
        "1h",
        "this login session only",
        "ali",
        "group security",
    ] {
        assert!(
            told.contains(expected),
            "the confirm step lacks {expected}: {told}"
        );
    }
    fatma.screenshot("bg-01-confirm").await;
    assert!(
        !app.check(
            "fatma",
            "night",
            "purchase_orders.approve",
            "Org:Procurement/PO:1",
            0
        )
        .await
        .allowed
    );
    fatma.click("#break-glass").await;
    fatma
        .wait_for_text("#notice", "You hold admin_approver")
        .await;
    fatma.wait_for_text("#mine", "pending").await;
    fatma.screenshot("bg-02-broken").await;
    let allowed = app
        .check(
            "fatma",
            "night",
            "purchase_orders.approve",
            "Org:Procurement/PO:1",
            0,
        )
        .await;
    assert!(allowed.allowed);
    assert_eq!(allowed.grant_source, pb::GrantSource::BreakGlass as i32);

    // The next morning the review is overdue, and the page says so.
    app.clock.advance(TimeDelta::hours(25));
    fatma.goto(&format!("{base}/console/break-glass")).await;
    fatma
        .wait_for_text("#overdue", "cannot break glass again")
        .await;
    fatma.wait_for_text("#mine", "overdue").await;

    // Ali reviews it among his break-glass reviews.
    ali.goto(&format!("{base}/console/break-glass")).await;
    let use_id = ali.attribute("#to-review tr[id^=use-]", "id").await;
    let use_id = use_id.trim_start_matches("use-").to_owned();
    ali.wait_for_text(&format!("#use-{use_id}"), "INC-7").await;
    ali.screenshot("bg-03-review").await;
    ali.fill(
        &format!("#use-{use_id} input[name=comment]"),
        "INC-7 confirmed",
    )
    .await;
    ali.click(&format!("#confirm-{use_id}")).await;
    ali.wait_for_text("#notice", "Confirmed").await;
    ali.find("#to-review-empty").await;
    fatma.goto(&format!("{base}/console/break-glass")).await;
    fatma.wait_for_text("#mine", "confirmed").await;
    assert_eq!(fatma.count("#overdue").await, 0);
    fatma.quit().await;
    ali.quit().await;
}
