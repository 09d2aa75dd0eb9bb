//! Why a token was refused.

use chrono::{DateTime, Utc};

use super::MAX_TOKEN_BYTES;

/// Why a token was refused. Every variant means `UNAUTHENTICATED`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `authorization: Bearer ...` metadata.
    #[error("missing bearer token: send `authorization: Bearer <token>`")]
    Missing,
    /// Over [`MAX_TOKEN_BYTES`].
    #[error("the bearer token is too large ({0} bytes, limit {MAX_TOKEN_BYTES})")]
    TooLarge(usize),
    /// Not a JWT, wrong signature, wrong algorithm, unknown key, bad claims.
    #[error("the bearer token is not valid: {0}")]
    Invalid(String),
    /// Past `exp`.
    #[error("the bearer token expired at {0}")]
    Expired(DateTime<Utc>),
    /// Before `nbf`.
    #[error("the bearer token is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
    /// A dev token outside dev mode.
    #[error("dev tokens are refused: this server does not run in dev mode")]
    DevTokenRefused,
    /// The token names a key id no configured or fetched key has.
    #[error("the bearer token is not valid: no key has id {}", crate::domain::shown(.0))]
    UnknownKey(String),
}
