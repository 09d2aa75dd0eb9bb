//! The break-glass page: the form, the confirm step that says what will happen, breaking glass,
//! and reviewing the uses that wait for the caller.

use super::Handled;
use crate::console::forms::{Fields, encode};
use crate::console::html::{self, see_other};
use crate::console::input::{field, required};
use crate::console::{Caller, Console};
use crate::domain::{BreakGlassId, BreakGlassVerdict, RoleName, Scope};
use crate::service::{BreakGlassListing, NewBreakGlass, ServiceError};

impl Console {
    /// `GET /console/break-glass`.
    pub(crate) async fn break_glass_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let mine = self
            .app
            .list_break_glass(&caller.identity, BreakGlassListing::Mine, 50, "")
            .await?
            .items;
        let to_review = self
            .app
            .list_break_glass(&caller.identity, BreakGlassListing::ToReview, 50, "")
            .await?
            .items;
        let body = html::break_glass::page(
            &self.app.break_glass_entries(),
            &mine,
            &to_review,
            &caller.csrf,
            query.get("notice"),
        );
        Ok(self.page(caller, "Break-glass", "/console/break-glass", &body))
    }

    /// `GET /console/break-glass/confirm`: what will happen, before it does.
    pub(crate) async fn break_glass_confirm(&self, caller: &Caller, query: &Fields) -> Handled {
        let request = new_break_glass(query)?;
        let entries = self.app.break_glass_entries();
        let entry = entries
            .iter()
            .find(|entry| entry.name == request.entry)
            .ok_or_else(|| ServiceError::invalid("entry", "no break_glass entry has this name"))?;
        let asked = html::break_glass::Asked {
            entry,
            role: request.role.as_str(),
            scope: request.scope.as_str(),
            incident: &request.incident,
            reason: &request.reason,
        };
        let body = html::break_glass::confirm(&asked, self.clock.now(), &caller.csrf);
        Ok(self.page(caller, "Confirm break-glass", "/console/break-glass", &body))
    }

    /// `POST /console/break-glass`.
    pub(crate) async fn use_break_glass(&self, caller: &Caller, form: &Fields) -> Handled {
        let outcome = self
            .app
            .break_glass(&caller.identity, new_break_glass(form)?)
            .await?;
        tracing::info!(subject = %caller.identity.subject, use = %outcome.used.id, "console: glass broken");
        Ok(see_other(&format!(
            "/console/break-glass?notice={}",
            encode(&format!(
                "You hold {} on {} until {} (break-glass {}); it will be reviewed",
                outcome.grant.role,
                outcome.grant.scope,
                html::when(outcome.grant.not_after),
                outcome.used.id
            ))
        )))
    }

    /// `POST /console/break-glass/{id}/review`.
    pub(crate) async fn review_break_glass(
        &self,
        caller: &Caller,
        id: &str,
        form: &Fields,
    ) -> Handled {
        let id = field("id", BreakGlassId::parse(id))?;
        let verdict = match form.get("verdict") {
            "confirm" => BreakGlassVerdict::Confirmed,
            "flag" => BreakGlassVerdict::Flagged,
            _ => return Err(ServiceError::invalid("verdict", "use confirm or flag")),
        };
        let (view, _) = self
            .app
            .review_break_glass(&caller.identity, id, verdict, form.get("comment"))
            .await?;
        Ok(see_other(&format!(
            "/console/break-glass?notice={}",
            encode(&format!(
                "{} break-glass {} by {}",
                match verdict {
                    BreakGlassVerdict::Confirmed => "Confirmed",
                    BreakGlassVerdict::Flagged => "Flagged",
                },
                view.used.id,
                view.used.subject
            ))
        )))
    }
}

/// The use the form (or the confirm step's query) describes.
fn new_break_glass(form: &Fields) -> Result<NewBreakGlass, ServiceError> {
    let entry = form.get("entry");
    if entry.is_empty() || entry.len() > 64 {
        return Err(ServiceError::invalid(
            "entry",
            "pick a break_glass entry (a name of at most 64 bytes)",
        ));
    }
    Ok(NewBreakGlass {
        entry: entry.to_owned(),
        role: required(form, "role", RoleName::parse)?,
        scope: required(form, "scope", Scope::parse)?,
        duration: None,
        reason: form.get("reason").to_owned(),
        incident: form.get("incident").to_owned(),
    })
}
