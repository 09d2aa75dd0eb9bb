//! The reviews page's HTML: the caller's open items (what, whose, the usage evidence, the
//! deadline) with keep and remove forms, and every campaign's progress for those who may see it.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::common::{csrf_field, esc, notice, table_head, when};
use super::fragments::countdown;
use crate::domain::{ReviewItem, Reviewer};
use crate::service::CampaignProgress;

/// The page body.
pub(crate) fn page(
    items: &[ReviewItem],
    campaigns: Option<&[CampaignProgress]>,
    csrf: &str,
    now: DateTime<Utc>,
    notice_text: &str,
) -> String {
    let mut body = notice(notice_text);
    body.push_str("<h2>My reviews</h2>");
    if items.is_empty() {
        body.push_str("<p id=\"no-reviews\">Nothing waits for your review.</p>");
    }
    body.push_str(&table_head(
        " id=\"reviews\"",
        &["access", "evidence", "reviewers", "deadline", "decide"],
    ));
    body.push_str("<tbody>");
    for item in items {
        let reviewers: Vec<String> = item.reviewers.iter().map(Reviewer::label).collect();
        let _ = write!(
            body,
            "<tr id=\"item-{id}\" data-id=\"{id}\"><td>{what}</td><td class=\"evidence\">{evidence}</td>\
             <td class=\"muted\">{reviewers}</td><td>{deadline}<br>{countdown}</td>\
             <td><form method=\"post\" action=\"/console/reviews/{id}/keep\" class=\"keep\">{csrf}\
             <input type=\"hidden\" name=\"comment\" value=\"still needed\">\
             <button id=\"keep-{id}\">Keep</button></form>\
             <form method=\"post\" action=\"/console/reviews/{id}/remove\" class=\"remove\">{csrf}\
             <input type=\"text\" name=\"comment\" placeholder=\"why it goes\" class=\"small\" aria-label=\"comment\">\
             <button class=\"danger\" id=\"remove-{id}\">Remove</button></form></td></tr>",
            id = item.id,
            what = esc(item.target.describe()),
            evidence = esc(&item.evidence),
            reviewers = esc(reviewers.join(", ")),
            deadline = when(item.deadline),
            countdown = countdown(item.deadline, now),
            csrf = csrf_field(csrf),
        );
    }
    body.push_str("</tbody></table>");
    if let Some(campaigns) = campaigns {
        body.push_str("<h2>Campaigns</h2>");
        body.push_str(&table_head(
            " id=\"campaigns\"",
            &["campaign", "started", "progress", "deadline"],
        ));
        body.push_str("<tbody>");
        for progress in campaigns {
            let campaign = &progress.campaign;
            let _ = write!(
                body,
                "<tr id=\"campaign-{id}\"><td>{name}<br><span class=\"muted mono\">{id}</span></td>\
                 <td>{started} by {by}</td><td class=\"progress\">{decided} of {items} decided, \
                 {removed} removed, {overdue} overdue</td><td>{deadline}, then {default}</td></tr>",
                id = campaign.id,
                name = esc(&campaign.name),
                started = when(campaign.started_at),
                by = esc(&campaign.started_by),
                decided = progress.decided,
                items = progress.items,
                removed = progress.removed,
                overdue = progress.overdue,
                deadline = when(campaign.deadline),
                default = campaign.on_deadline.default.as_str(),
            );
        }
        body.push_str("</tbody></table>");
    }
    body
}
