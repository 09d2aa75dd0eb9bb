//! The request page: what policy lets the caller request and the form to ask, the form's live
//! preview, and the POST that asks.

use http::StatusCode;

use super::Handled;
use crate::console::forms::{Fields, encode};
use crate::console::html::{self, esc, see_other};
use crate::console::input::new_elevation;
use crate::console::{Caller, Console};

impl Console {
    /// `GET /console/request`.
    pub(crate) async fn request_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let identity = &caller.identity;
        let entries = self.app.requestable_roles(identity);
        let body = html::request::page(
            &entries,
            identity.manager.as_ref(),
            &caller.csrf,
            query.get("notice"),
        );
        Ok(self.page(caller, "Request a role", "/console/request", &body))
    }

    /// `GET /console/request/preview`: what policy would say of the form as it stands.
    pub(crate) async fn request_preview(&self, caller: &Caller, query: &Fields) -> Handled {
        let fragment = match new_elevation(query, self.clock.now()) {
            Err(error) => format!("<p class=\"error\">{}</p>", esc(error.to_string())),
            Ok(request) => {
                let assessment = self
                    .app
                    .simulate_elevation(&caller.identity, None, request, None, None)
                    .await?;
                html::assessment(&assessment)
            }
        };
        Ok(html::html(StatusCode::OK, fragment))
    }

    /// `POST /console/request`.
    pub(crate) async fn submit_request(&self, caller: &Caller, form: &Fields) -> Handled {
        let request = new_elevation(form, self.clock.now())?;
        let outcome = self
            .app
            .request_elevation(&caller.identity, request)
            .await?;
        tracing::info!(subject = %caller.identity.subject, elevation = %outcome.elevation.id, "console: elevation requested");
        Ok(see_other(&format!(
            "/console/elevations?notice={}#e-{}",
            encode(&format!(
                "Requested: elevation {} is {}",
                outcome.elevation.id,
                outcome.elevation.state()
            )),
            outcome.elevation.id
        )))
    }
}
