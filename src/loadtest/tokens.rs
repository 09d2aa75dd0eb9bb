//! Tokens for the workload: [`Minter`] signs them (with a given HS256 secret or dev mode's),
//! and requests carry them as bearer metadata.

use chrono::Utc;
use tonic::metadata::{Ascii, MetadataValue};

use super::args::LoadtestArgs;
use super::scenario::{MANAGER, SESSION};
use crate::auth::{Claims, DEV_ISSUER, dev};

/// Mints tokens for the workload's subjects.
#[derive(Clone)]
pub(super) struct Minter {
    secret: Vec<u8>,
    issuer: Option<String>,
}

impl Minter {
    /// The minter `--secret-file` (and `--issuer`) describe, or dev mode's.
    pub(super) fn load(args: &LoadtestArgs) -> Result<Minter, String> {
        match &args.secret_file {
            Some(path) => Ok(Minter {
                secret: crate::auth::read_secret_file(path)
                    .map_err(|error| format!("--secret-file {}: {error}", path.display()))?,
                issuer: args.issuer.clone(),
            }),
            None => {
                let dir = args.state_dir.clone().unwrap_or_else(dev::state_dir);
                Ok(Minter {
                    secret: dev::load_secret(&dir).map_err(|error| {
                        format!("{error} (or pass --secret-file for a server not in dev mode)")
                    })?,
                    issuer: Some(DEV_ISSUER.into()),
                })
            }
        }
    }

    /// A four-hour token for `sub` in the load session.
    pub(super) fn token(
        &self,
        sub: &str,
        groups: &[&str],
        roles: &[&str],
        manager: Option<&str>,
    ) -> String {
        let now = Utc::now();
        dev::sign_hs256(
            &self.secret,
            &Claims {
                sub: sub.into(),
                sid: Some(SESSION.into()),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                manager: manager.map(Into::into),
                exp: (now + chrono::TimeDelta::hours(4)).timestamp(),
                iat: Some(now.timestamp()),
                iss: self.issuer.clone(),
                ..Default::default()
            },
        )
    }

    /// A load subject's token: procurement staff, managed by [`MANAGER`].
    pub(super) fn subject(&self, name: &str) -> String {
        self.token(name, &["procurement-staff"], &[], Some(MANAGER))
    }
}

/// `token` as an `authorization` header value.
pub(super) fn bearer(token: &str) -> MetadataValue<Ascii> {
    format!("Bearer {token}")
        .parse()
        // A JWT is base64url segments joined by dots (or empty without a minter): header text.
        .expect("a token is header text")
}

/// `message` with `token` as its bearer.
pub(super) fn with_token<T>(token: &MetadataValue<Ascii>, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request
}
