//! Identifier newtypes for the domain's records: elevations and grants. They live apart from
//! the records so that `elevation` and `grant` can each name the other's id without importing
//! each other (an elevation records the grant it created; a grant the elevation it came from).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::names::InvalidValue;

/// An elevation's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ElevationId(pub Uuid);

impl ElevationId {
    /// A new, time-ordered id: ordering ids orders elevations by creation.
    pub fn generate() -> Self {
        ElevationId(Uuid::now_v7())
    }

    /// Parses the textual form.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        Uuid::parse_str(text).map(ElevationId).map_err(|_| {
            InvalidValue(format!(
                "{} is not an elevation id (a UUID)",
                super::shown(text)
            ))
        })
    }
}

impl std::fmt::Display for ElevationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A grant's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GrantId(pub Uuid);

impl GrantId {
    /// A new, time-ordered id.
    pub fn generate() -> Self {
        GrantId(Uuid::now_v7())
    }

    /// Parses the textual form.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        Uuid::parse_str(text)
            .map(GrantId)
            .map_err(|_| InvalidValue(format!("{} is not a grant id (a UUID)", super::shown(text))))
    }
}

impl std::fmt::Display for GrantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
