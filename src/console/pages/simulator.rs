//! The simulator: what a request or a Check would come to, changing nothing (simulating for
//! someone else needs the admin or PEP role, as over gRPC).

use chrono::{DateTime, Utc};

use super::Handled;
use crate::console::forms::Fields;
use crate::console::html;
use crate::console::input::{CheckFields, moment, new_elevation, risk, simulated_requester};
use crate::console::{Caller, Console};
use crate::domain::risk::RiskPicture;
use crate::service::ServiceError;

/// When to simulate at, and with what risk signals (both optional, shared by both forms).
struct Conditions {
    at: Option<DateTime<Utc>>,
    risk: Option<RiskPicture>,
}

impl Console {
    /// `GET /console/simulator`: the forms, and the result of the one submitted (`kind`).
    pub(crate) async fn simulator_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let now = self.clock.now();
        let mut body = html::simulator::forms(query);
        let conditions = Conditions {
            at: moment(query, "at", now)?,
            risk: risk(query)?,
        };
        let result = match query.get("kind") {
            "request" => {
                self.simulated_request(caller, query, now, conditions)
                    .await?
            }
            "check" => self.simulated_check(caller, query, conditions).await?,
            _ => String::new(),
        };
        body.push_str(&result);
        Ok(self.page(caller, "Simulator", "/console/simulator", &body))
    }

    /// The assessment of the request form's request.
    async fn simulated_request(
        &self,
        caller: &Caller,
        query: &Fields,
        now: DateTime<Utc>,
        conditions: Conditions,
    ) -> Result<String, ServiceError> {
        let requester = simulated_requester(query)?;
        let request = new_elevation(query, now)?;
        let assessment = self
            .app
            .simulate_elevation(
                &caller.identity,
                requester,
                request,
                conditions.at,
                conditions.risk,
            )
            .await?;
        Ok(html::simulator::request_result(&assessment))
    }

    /// The decision on the Check form's question, with every grant's trace.
    async fn simulated_check(
        &self,
        caller: &Caller,
        query: &Fields,
        conditions: Conditions,
    ) -> Result<String, ServiceError> {
        let check = CheckFields::parse(query)?;
        let simulation = self
            .app
            .simulate_check(
                &caller.identity,
                &check.query(),
                conditions.at,
                conditions.risk,
            )
            .await?;
        Ok(html::simulator::check_result(&simulation))
    }
}
