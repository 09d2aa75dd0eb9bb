//! Who is calling, and the sign-in that says so: the proxy's bearer token or the login cookie,
//! each verified by the same [`Authenticator`](crate::auth::Authenticator) as gRPC; the CSRF
//! tokens derived from the caller's token; and the token login page (dev mode), which keeps a
//! pasted token in an `HttpOnly`, `SameSite=Strict` cookie and signs out by forgetting it. A
//! sign-in through the identity provider (`oidc`) keeps a sealed session in the same cookie.

use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, StatusCode, header};
use sha2::Sha256;

use super::forms::{self, Fields};
use super::html::{self, Page, plain, see_other};
use super::oidc::SEALED_PREFIX;
use super::{Caller, Console, LOGIN_COOKIE, SESSION_COOKIE};

type HmacSha256 = Hmac<Sha256>;

/// Whether `left` and `right` are equal, in a time that does not depend on where they differ.
pub(super) fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    crate::auth::bearer_token(value)
}

pub(super) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| forms::cookie(value, name))
}

/// Whether a token can be kept in a cookie as it is (a JWT always can).
fn cookie_safe(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'='))
}

/// The `Set-Cookie` that makes the browser forget cookie `name`.
pub(super) fn forget(name: &str) -> http::HeaderValue {
    format!("{name}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict")
        .parse()
        .expect("an ASCII cookie")
}

impl Console {
    /// The HMAC of `value` for `purpose` under the console's key, in hex.
    pub(super) fn keyed(&self, purpose: &str, value: &str) -> String {
        let mut mac =
            HmacSha256::new_from_slice(&self.options.csrf_key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The CSRF token of the session holding `token`.
    fn csrf_for_token(&self, token: &str) -> String {
        self.keyed("elevator-console-csrf", token)
    }

    /// The caller: the proxy's bearer token, else the session cookie (a pasted token, or a
    /// sign-in through the identity provider, sealed).
    pub(super) async fn identify(
        &self,
        headers: &HeaderMap,
        method: &Method,
    ) -> Result<Caller, Box<Page>> {
        if let Some(token) = bearer(headers) {
            return match self.auth.verify(token) {
                Ok(identity) => Ok(Caller {
                    identity,
                    csrf: self.csrf_for_token(token),
                    via_proxy: true,
                }),
                Err(error) => Err(Box::new(plain(
                    StatusCode::UNAUTHORIZED,
                    &format!("the forwarded token is not accepted: {error}"),
                ))),
            };
        }
        let Some(token) = cookie_value(headers, SESSION_COOKIE) else {
            return Err(Box::new(self.sign_in_first(method, None)));
        };
        let identity = if token.starts_with(SEALED_PREFIX) {
            self.oidc_identity(token).await
        } else {
            self.auth.verify(token).map_err(|error| error.to_string())
        };
        match identity {
            Ok(identity) => Ok(Caller {
                identity,
                csrf: self.csrf_for_token(token),
                via_proxy: false,
            }),
            Err(problem) => Err(Box::new(self.sign_in_first(method, Some(problem)))),
        }
    }

    /// `POST /console/logout` (its CSRF token checked): a sign-in through the identity
    /// provider ends its login session and goes on to the provider; a pasted token is
    /// forgotten.
    pub(super) async fn sign_out(&self, headers: &HeaderMap, caller: &Caller) -> Page {
        let sealed = cookie_value(headers, SESSION_COOKIE)
            .is_some_and(|cookie| cookie.starts_with(SEALED_PREFIX));
        match &self.oidc {
            Some(oidc) if sealed && !caller.via_proxy => {
                self.oidc_sign_out(oidc, &caller.identity).await
            }
            _ => logout(),
        }
    }

    fn sign_in_first(&self, method: &Method, problem: Option<String>) -> Page {
        if self.oidc.is_some() && !self.options.token_login && *method != Method::POST {
            let mut page = see_other("/console/oidc/login");
            if problem.is_some() {
                page.headers_mut()
                    .append(header::SET_COOKIE, forget(SESSION_COOKIE));
            }
            return page;
        }
        if !self.options.token_login && self.oidc.is_none() {
            return plain(
                StatusCode::UNAUTHORIZED,
                "sign in through the identity proxy in front of the console (it forwards an Authorization: Bearer token)",
            );
        }
        if *method == Method::POST {
            return plain(
                StatusCode::UNAUTHORIZED,
                "not signed in (or the session expired); sign in at /console/login",
            );
        }
        let mut page = see_other("/console/login");
        if problem.is_some() {
            // An expired or no longer accepted token: forget it.
            page.headers_mut()
                .append(header::SET_COOKIE, forget(SESSION_COOKIE));
        }
        page
    }

    /// `GET /console/login`: the token login form, with `problem` when the last try failed.
    pub(super) fn login_page(&self, headers: &HeaderMap, problem: Option<&str>) -> Page {
        if !self.options.token_login {
            if self.oidc.is_some() {
                return see_other("/console/oidc/login");
            }
            return plain(
                StatusCode::NOT_FOUND,
                "the token login is off (console.token_login); sign in through the identity proxy",
            );
        }
        // Reuse the browser's nonce if it has one, so two tabs do not invalidate each other.
        let nonce = cookie_value(headers, LOGIN_COOKIE)
            .filter(|nonce| nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let mut bytes = [0u8; 16];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
                bytes.iter().map(|byte| format!("{byte:02x}")).collect()
            });
        let csrf = self.keyed("elevator-console-login", &nonce);
        let mut body = html::login::form(&csrf, problem);
        if self.oidc.is_some() {
            body.insert_str(0, html::login::PROVIDER_SIGN_IN);
        }
        let status = if problem.is_none() {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        let mut page = html::html(status, html::document("Sign in", "", None, &body));
        page.headers_mut().append(
            header::SET_COOKIE,
            format!("{LOGIN_COOKIE}={nonce}; Path=/console; HttpOnly; SameSite=Strict")
                .parse()
                .expect("an ASCII cookie"),
        );
        page
    }

    /// `POST /console/login`: checks the login CSRF token and the pasted token, then keeps the
    /// token in the session cookie until it expires.
    pub(super) fn login(&self, headers: &HeaderMap, form: &Fields) -> Page {
        if !self.options.token_login {
            return self.login_page(headers, None);
        }
        let expected = cookie_value(headers, LOGIN_COOKIE)
            .map(|nonce| self.keyed("elevator-console-login", nonce));
        let genuine = expected.is_some_and(|expected| {
            constant_time_equal(form.get("csrf").as_bytes(), expected.as_bytes())
        });
        if !genuine {
            tracing::warn!("console login refused: missing or wrong csrf token");
            return plain(
                StatusCode::FORBIDDEN,
                "this login form did not come from this console (missing or wrong CSRF token); open /console/login again",
            );
        }
        let token = form.get("token");
        if !cookie_safe(token) {
            return self.login_page(headers, Some("that is not a bearer token (a JWT)"));
        }
        let identity = match self.auth.verify(token) {
            Ok(identity) => identity,
            Err(error) => {
                tracing::info!(%error, "console login refused: token not accepted");
                return self.login_page(headers, Some(&format!("token not accepted: {error}")));
            }
        };
        tracing::info!(subject = %identity.subject, "console login");
        let lifetime = (identity.expires_at - self.clock.now())
            .num_seconds()
            .max(1);
        let mut page = see_other("/console/request");
        let cookies = page.headers_mut();
        cookies.append(
            header::SET_COOKIE,
            format!(
                "{SESSION_COOKIE}={token}; Path=/console; Max-Age={lifetime}; HttpOnly; SameSite=Strict"
            )
            .parse()
            .expect("a cookie-safe token"),
        );
        cookies.append(header::SET_COOKIE, forget(LOGIN_COOKIE));
        page
    }
}

/// `POST /console/logout`: the session cookie forgotten, back to the login page.
pub(super) fn logout() -> Page {
    let mut page = see_other("/console/login");
    page.headers_mut()
        .append(header::SET_COOKIE, forget(SESSION_COOKIE));
    page
}
