//! `elevator dev-token`: mints a token signed with dev mode's secret, offline.

use std::process::ExitCode;

use chrono::Utc;

use super::EXIT_ERROR;
use super::args::DevTokenArgs;
use crate::auth::{Claims, DEV_ISSUER, dev};
use crate::domain::parse_duration;

/// Prints a dev token for the given claims.
pub(super) fn dev_token(args: DevTokenArgs) -> ExitCode {
    let dir = args.state_dir.clone().unwrap_or_else(dev::state_dir);
    let secret = match dev::load_secret(&dir) {
        Ok(secret) => secret,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let ttl = match parse_duration(&args.ttl) {
        Ok(ttl) => ttl,
        Err(error) => {
            eprintln!("error: --ttl: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let now = Utc::now();
    let claims = Claims {
        sub: args.sub,
        sid: args.sid,
        groups: args.groups,
        roles: args.roles,
        manager: args.manager,
        exp: (now + ttl).timestamp(),
        iat: Some(now.timestamp()),
        iss: Some(DEV_ISSUER.into()),
        ..Default::default()
    };
    println!("{}", dev::sign_hs256(&secret, &claims));
    ExitCode::SUCCESS
}
