//! The caller's elevations: the page listing them, and the actions on one (cancel, ask to
//! extend).

use std::collections::HashMap;

use super::Handled;
use crate::console::forms::{Fields, encode};
use crate::console::html::{self, see_other};
use crate::console::input::{field, required};
use crate::console::{Caller, Console};
use crate::domain::{ElevationId, Grant, GrantId, RequestedDuration};

impl Console {
    /// `GET /console/elevations`.
    pub(crate) async fn elevations_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let identity = &caller.identity;
        let now = self.clock.now();
        let page = self
            .app
            .list_elevations(
                identity,
                Some(identity.subject.clone()),
                None,
                None,
                100,
                "",
            )
            .await?;
        let grants: HashMap<GrantId, Grant> = self
            .app
            .list_grants(identity, None, true)
            .await?
            .into_iter()
            .map(|grant| (grant.id, grant))
            .collect();
        let origins = self
            .app
            .access_request_origins(identity, &page.items)
            .await?;
        let body = html::elevations::page(
            &page.items,
            &grants,
            &origins,
            &caller.csrf,
            now,
            query.get("notice"),
        );
        Ok(self.page(caller, "My elevations", "/console/elevations", &body))
    }

    /// `POST /console/elevations/{id}/cancel`.
    pub(crate) async fn cancel(&self, caller: &Caller, id: &str, form: &Fields) -> Handled {
        let id = field("id", ElevationId::parse(id))?;
        let reason = form
            .optional("reason")
            .unwrap_or("cancelled in the console");
        let outcome = self
            .app
            .cancel_elevation(&caller.identity, id, reason)
            .await?;
        Ok(see_other(&format!(
            "/console/elevations?notice={}",
            encode(&format!(
                "Elevation {} is {}",
                id,
                outcome.elevation.state()
            ))
        )))
    }

    /// `POST /console/elevations/{id}/extend`.
    pub(crate) async fn extend(&self, caller: &Caller, id: &str, form: &Fields) -> Handled {
        let id = field("id", ElevationId::parse(id))?;
        let by = required(form, "by", RequestedDuration::parse)?;
        let outcome = self
            .app
            .extend_elevation(
                &caller.identity,
                id,
                by,
                form.get("reason").to_owned(),
                None,
            )
            .await?;
        Ok(see_other(&format!(
            "/console/elevations?notice={}",
            encode(&format!(
                "Extension requested: elevation {} is {}",
                outcome.elevation.id,
                outcome.elevation.state()
            ))
        )))
    }
}
