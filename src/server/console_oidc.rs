//! The console's OpenID Connect options, read from `console.oidc`: the client secret and CA
//! file read at start-up (a missing one stops the server before it serves), the provider's TLS
//! roots chosen, and the settings that must go together checked together.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::auth::read_secret_file;
use crate::config::Config;
use crate::console::{ClaimNames, OidcOptions};

/// The console's sign-in through an OpenID provider, when `console.oidc.issuer` is set.
pub(super) fn oidc_options(config: &Config) -> anyhow::Result<Option<OidcOptions>> {
    let settings = &config.console.oidc;
    let Some(issuer) = &settings.issuer else {
        return Ok(None);
    };
    if !issuer.starts_with("https://") {
        bail!("console.oidc.issuer {issuer:?}: must be an https URL");
    }
    let Some(redirect_url) = &settings.redirect_url else {
        bail!(
            "console.oidc.redirect_url is needed with console.oidc.issuer: the console's callback as browsers reach it, ending in /console/oidc/callback"
        );
    };
    if !redirect_url.ends_with("/console/oidc/callback") {
        bail!("console.oidc.redirect_url {redirect_url:?}: must end in /console/oidc/callback");
    }
    if settings.client_id.trim().is_empty() {
        bail!("console.oidc.client_id is empty: set the client id elevator has at the provider");
    }
    let client_secret = settings
        .client_secret_file
        .as_ref()
        .map(|path| {
            read_secret_file(path)
                .with_context(|| {
                    format!("reading console.oidc.client_secret_file {}", path.display())
                })
                .and_then(|secret| {
                    String::from_utf8(secret)
                        .context("console.oidc.client_secret_file is not UTF-8")
                })
        })
        .transpose()?;
    let ca_pem = settings
        .ca_file
        .as_ref()
        .map(|path| {
            std::fs::read(path)
                .with_context(|| format!("reading console.oidc.ca_file {}", path.display()))
        })
        .transpose()?;
    let roots = match &ca_pem {
        Some(pem) => {
            crate::tls::root_store(pem, "console.oidc.ca_file").map_err(anyhow::Error::msg)?
        }
        None => {
            let mut roots = RootCertStore::empty();
            for certificate in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(certificate);
            }
            if roots.is_empty() {
                bail!(
                    "console.oidc: no system CA certificates were found; set console.oidc.ca_file"
                );
            }
            roots
        }
    };
    let tls = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tracing::info!(%issuer, "console: sign-in through the identity provider");
    Ok(Some(OidcOptions {
        issuer: issuer.clone(),
        client_id: settings.client_id.clone(),
        client_secret,
        redirect_url: redirect_url.clone(),
        post_logout_redirect_url: settings.post_logout_redirect_url.clone(),
        tls: Arc::new(tls),
        ca_pem,
        scopes: settings.scopes.clone(),
        claims: ClaimNames {
            subject: settings.subject_claim.clone(),
            groups: settings.groups_claim.clone(),
            manager: settings.manager_claim.clone(),
            roles: settings.roles_claim.clone(),
        },
        leeway: Duration::from_secs(config.auth.leeway_seconds.min(30)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str, redirect: Option<&str>) -> Config {
        let mut config = Config::default();
        config.console.oidc.issuer = Some(issuer.into());
        config.console.oidc.redirect_url = redirect.map(Into::into);
        config
    }

    #[test]
    fn settings_that_cannot_work_stop_the_server_and_say_what_to_fix() {
        let callback = Some("https://elevator.example.com/console/oidc/callback");
        let plain = oidc_options(&config("http://idp.example.com", callback)).unwrap_err();
        assert!(plain.to_string().contains("https"), "{plain}");
        let no_redirect = oidc_options(&config("https://idp.example.com", None)).unwrap_err();
        assert!(
            no_redirect.to_string().contains("redirect_url"),
            "{no_redirect}"
        );
        let wrong = oidc_options(&config(
            "https://idp.example.com",
            Some("https://elevator.example.com/console/login"),
        ))
        .unwrap_err();
        assert!(
            wrong.to_string().contains("/console/oidc/callback"),
            "{wrong}"
        );
        assert!(oidc_options(&Config::default()).unwrap().is_none());
    }
}
