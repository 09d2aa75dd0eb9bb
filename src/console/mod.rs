//! The web console, served on the admin port under `/console`: server-rendered pages for people
//! who will not type gRPC calls (requesters, approvers, auditors, policy admins). Handlers are
//! thin and call the same use cases as the gRPC services ([`crate::service::Elevator`]) with the
//! caller's verified identity, so every action is authorised exactly as the matching RPC.
//!
//! Identity: an authenticating proxy forwards the verified bearer token (`Authorization:
//! Bearer`), checked by the same [`Authenticator`] as gRPC; with `console.token_login` (on in
//! dev mode) a login page takes a token and keeps it in an `HttpOnly`, `SameSite=Strict`
//! cookie. No secret ever travels in a URL. Every POST carries a CSRF token, the HMAC of the
//! caller's token under a server key, checked before anything else happens; a cross-origin
//! `Origin` is refused too.
//!
//! | module    | what lives there |
//! | --------- | ---------------- |
//! | [`forms`] | form, query-string and cookie parsing |
//! | [`html`]  | escaping, the page frame, responses, the embedded stylesheet and script |
//! | [`pages`] | one handler per page or action: validate, convert, one use case, render |

pub mod forms;
pub mod html;
mod pages;

use std::sync::Arc;

use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use sha2::Sha256;

use crate::auth::Authenticator;
use crate::clock::SharedClock;
use crate::domain::Identity;
use crate::service::context::{self, RequestContext};
use crate::service::{Elevator, ServiceError};
use forms::Fields;
use html::{Page, Viewer, esc, html, respond, see_other};

/// The cookie holding a console session's token.
pub const SESSION_COOKIE: &str = "elevator_console";
/// The cookie holding the login form's nonce (login CSRF).
pub const LOGIN_COOKIE: &str = "elevator_console_login";
/// Largest form body (a policy document fits).
pub const MAX_FORM_BYTES: usize = 1024 * 1024;

/// How the console is set up.
#[derive(Clone)]
pub struct ConsoleOptions {
    /// Whether the login page accepts a pasted token (dev mode; off behind a proxy).
    pub token_login: bool,
    /// The key CSRF tokens are derived with; replicas behind one address must share it.
    pub csrf_key: Vec<u8>,
}

/// The console: the use cases, the authenticator, and its keys.
pub struct Console {
    app: Arc<Elevator>,
    auth: Arc<Authenticator>,
    clock: SharedClock,
    options: ConsoleOptions,
}

/// The verified caller of a console request.
pub struct Caller {
    /// Who.
    pub identity: Arc<Identity>,
    /// The form token of this session.
    pub csrf: String,
    /// Signed in through a proxy's `Authorization` header rather than the login cookie.
    pub via_proxy: bool,
}

impl Caller {
    fn viewer(&self) -> Viewer<'_> {
        Viewer {
            identity: &self.identity,
            csrf: &self.csrf,
            via_proxy: self.via_proxy,
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
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

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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

/// The HTTP status a refused use case answers with.
pub fn http_status(error: &ServiceError) -> StatusCode {
    match error {
        ServiceError::InvalidArgument { .. } | ServiceError::InvalidPolicy(_) => {
            StatusCode::BAD_REQUEST
        }
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ServiceError::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
        ServiceError::FailedPrecondition { .. } | ServiceError::Aborted(_) => StatusCode::CONFLICT,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::ResourceExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl Console {
    /// A console over the use cases `app`, authenticating with `auth`.
    pub fn new(
        app: Arc<Elevator>,
        auth: Arc<Authenticator>,
        clock: SharedClock,
        options: ConsoleOptions,
    ) -> Self {
        Console {
            app,
            auth,
            clock,
            options,
        }
    }

    /// Whether `path` belongs to the console (the admin port's root redirects to it).
    pub fn serves(path: &str) -> bool {
        path == "/" || path == "/console" || path.starts_with("/console/")
    }

    fn keyed(&self, purpose: &str, value: &str) -> String {
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

    /// Answers one console request, as serving its own request id (stamped on audit events).
    pub async fn handle(&self, request: Request<hyper::body::Incoming>) -> Page {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty() && value.len() <= 128)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let serving = RequestContext {
            request_id,
            trace_id: None,
        };
        context::serving(serving, self.route(request)).await
    }

    async fn route(&self, request: Request<hyper::body::Incoming>) -> Page {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let query = match Fields::parse(parts.uri.query().unwrap_or("")) {
            Ok(query) => query,
            Err(error) => return plain(StatusCode::BAD_REQUEST, &error.0),
        };
        let method = parts.method.clone();
        if method != Method::GET && method != Method::HEAD && method != Method::POST {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and POST");
        }
        match (&method, path.as_str()) {
            (_, "/") | (_, "/console") | (_, "/console/") if method != Method::POST => {
                return see_other("/console/request");
            }
            (_, "/console/assets/console.css") => {
                return respond(StatusCode::OK, "text/css; charset=utf-8", html::STYLESHEET);
            }
            (_, "/console/assets/console.js") => {
                return respond(
                    StatusCode::OK,
                    "text/javascript; charset=utf-8",
                    html::SCRIPT,
                );
            }
            _ => {}
        }
        let form = if method == Method::POST {
            if let Some(refusal) = cross_origin(&parts.headers) {
                return refusal;
            }
            let bytes = match Limited::new(body, MAX_FORM_BYTES).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    return plain(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the form is too large or was cut off",
                    );
                }
            };
            match std::str::from_utf8(&bytes)
                .map_err(|_| forms::BadForm("the form is not UTF-8".into()))
                .and_then(Fields::parse)
            {
                Ok(form) => form,
                Err(error) => return plain(StatusCode::BAD_REQUEST, &error.0),
            }
        } else {
            drop(body);
            Fields::default()
        };
        match (&method, path.as_str()) {
            (&Method::POST, "/console/login") => return self.login(&parts.headers, &form),
            (_, "/console/login") => return self.login_page(&parts.headers, None),
            _ => {}
        }
        let caller = match self.identify(&parts.headers, &method) {
            Ok(caller) => caller,
            Err(response) => return *response,
        };
        if method == Method::POST {
            let sent = form.get("csrf");
            if !constant_time_equal(sent.as_bytes(), caller.csrf.as_bytes()) {
                tracing::warn!(subject = %caller.identity.subject, path, "console form refused: missing or wrong csrf token");
                return self.refusal(
                    &caller,
                    StatusCode::FORBIDDEN,
                    "CSRF_TOKEN_INVALID",
                    "this form did not come from a console page of this session (missing or wrong CSRF token); nothing was changed",
                );
            }
            if path == "/console/logout" {
                return logout();
            }
        }
        pages::dispatch(self, &caller, &method, &path, &query, &form).await
    }

    /// The caller: the proxy's bearer token, else the login cookie.
    fn identify(&self, headers: &HeaderMap, method: &Method) -> Result<Caller, Box<Page>> {
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
        match self.auth.verify(token) {
            Ok(identity) => Ok(Caller {
                identity,
                csrf: self.csrf_for_token(token),
                via_proxy: false,
            }),
            Err(error) => Err(Box::new(
                self.sign_in_first(method, Some(error.to_string())),
            )),
        }
    }

    fn sign_in_first(&self, method: &Method, problem: Option<String>) -> Page {
        if !self.options.token_login {
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
            page.headers_mut().append(
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict")
                    .parse()
                    .expect("an ASCII cookie"),
            );
        }
        page
    }

    fn login_page(&self, headers: &HeaderMap, problem: Option<&str>) -> Page {
        if !self.options.token_login {
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
        let problem = problem
            .map(|problem| format!("<p class=\"error\" id=\"error\">{}</p>", esc(problem)))
            .unwrap_or_default();
        let body = format!(
            "{problem}<form method=\"post\" action=\"/console/login\" class=\"card\">{}\
             <label for=\"token\">Bearer token</label>\
             <textarea id=\"token\" name=\"token\" rows=\"5\" autocomplete=\"off\" required></textarea>\
             <p class=\"muted\">Paste a token, for instance from <code>elevator dev-token --sub fatma --groups procurement-staff --manager ali --sid s1</code>. \
             It is verified like any gRPC caller's and kept in an HttpOnly cookie for this browser only.</p>\
             <button id=\"sign-in\">Sign in</button></form>",
            html::csrf_field(&csrf)
        );
        let status = if problem.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        let mut page = html(status, html::document("Sign in", "", None, &body));
        page.headers_mut().append(
            header::SET_COOKIE,
            format!("{LOGIN_COOKIE}={nonce}; Path=/console; HttpOnly; SameSite=Strict")
                .parse()
                .expect("an ASCII cookie"),
        );
        page
    }

    fn login(&self, headers: &HeaderMap, form: &Fields) -> Page {
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
        cookies.append(
            header::SET_COOKIE,
            format!("{LOGIN_COOKIE}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict")
                .parse()
                .expect("an ASCII cookie"),
        );
        page
    }

    /// A refusal page: what was refused and why, with the stable code.
    fn refusal(&self, caller: &Caller, status: StatusCode, code: &str, message: &str) -> Page {
        let body = format!(
            "<p class=\"error\" id=\"error\"><b class=\"mono\" id=\"error-code\">{}</b>: {}</p>\
             <p><a href=\"javascript:history.back()\">Back</a></p>",
            esc(code),
            esc(message)
        );
        html(
            status,
            html::document("Refused", "", Some(&caller.viewer()), &body),
        )
    }

    /// The refusal page for a use case's error.
    fn refused(&self, caller: &Caller, error: ServiceError) -> Page {
        let status = http_status(&error);
        let message = match &error {
            ServiceError::Internal(detail) => {
                tracing::error!(error = %detail, "console: internal error");
                "internal error; details are in the server log".to_owned()
            }
            other => other.to_string(),
        };
        self.refusal(caller, status, error.code(), &message)
    }
}

fn plain(status: StatusCode, message: &str) -> Page {
    respond(status, "text/plain; charset=utf-8", format!("{message}\n"))
}

/// A POST whose `Origin` names another site: refused before its body is read.
fn cross_origin(headers: &HeaderMap) -> Option<Page> {
    let origin = headers.get(header::ORIGIN)?.to_str().unwrap_or("invalid");
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("");
    let same = origin == format!("http://{host}") || origin == format!("https://{host}");
    if same {
        return None;
    }
    tracing::warn!(origin, host, "console form refused: cross-origin post");
    Some(plain(
        StatusCode::FORBIDDEN,
        "cross-origin form posts are refused; nothing was changed",
    ))
}

fn logout() -> Page {
    let mut page = see_other("/console/login");
    page.headers_mut().append(
        header::SET_COOKIE,
        format!("{SESSION_COOKIE}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict")
            .parse()
            .expect("an ASCII cookie"),
    );
    page
}
