//! The web console, served on the admin port under `/console`: server-rendered pages for people
//! who will not type gRPC calls (requesters, approvers, auditors, policy admins). Handlers are
//! thin and call the same use cases as the gRPC services ([`crate::service::Elevator`]) with the
//! caller's verified identity, so every action is authorised exactly as the matching RPC. This
//! file routes: it reads a request, has `session` say who is calling, checks the CSRF token
//! of a POST, and hands the request to its page.
//!
//! Identity: an authenticating proxy forwards the verified bearer token (`Authorization:
//! Bearer`), checked by the same [`Authenticator`] as gRPC; with `console.token_login` (on in
//! dev mode) a login page takes a token and keeps it in an `HttpOnly`, `SameSite=Strict`
//! cookie. No secret ever travels in a URL. Every POST carries a CSRF token, the HMAC of the
//! caller's token under a server key, checked before anything else happens; a cross-origin
//! `Origin` is refused too.
//!
//! Each page is two files of the same name: its handler in `pages/<page>.rs` (read the form,
//! call one use case, pick what to show) and its HTML in `html/<page>.rs` (render the values
//! the handler loaded, no I/O). What several pages share is in one place: form fields to
//! domain values in `input`, escaping, the frame, tables, the CSRF field and responses in
//! `html/common.rs`, fragments several pages show in `html/fragments.rs`.
//!
//! | module    | what lives there |
//! | --------- | ---------------- |
//! | `session` | who is calling: bearer token or login cookie, CSRF tokens, sign in and out |
//! | `oidc`    | sign-in through an OpenID provider: code flow, ID tokens, logout (RP-initiated, back-channel) |
//! | `forms`   | form, query-string and cookie parsing |
//! | `input`   | form fields turned into domain values, errors naming the field |
//! | `entity_input` | the directory's entity form turned into an entity, within the API's bounds |
//! | `pages`   | one file per page: its handlers (validate, convert, one use case, render) |
//! | `html`    | one file per page: its HTML; and the HTML every page shares |

mod entity_input;
mod forms;
mod html;
mod input;
mod oidc;
mod pages;
mod session;

pub use html::Page;
pub use oidc::{ClaimNames, OidcOptions};

use std::sync::Arc;

use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};

use crate::auth::Authenticator;
use crate::clock::SharedClock;
use crate::domain::{Identity, ReviewVerdict, Verdict};
use crate::service::Elevator;
use crate::service::context::{self, RequestContext};
use forms::Fields;
use html::{Viewer, plain, respond, see_other};
use session::constant_time_equal;

/// The cookie holding a console session's token.
const SESSION_COOKIE: &str = "elevator_console";
/// The cookie holding the login form's nonce (login CSRF).
const LOGIN_COOKIE: &str = "elevator_console_login";
/// Largest form body (a policy document fits).
const MAX_FORM_BYTES: usize = 1024 * 1024;
/// How the console is set up.
#[derive(Clone)]
pub struct ConsoleOptions {
    /// Whether the login page accepts a pasted token (dev mode; off behind a proxy).
    pub token_login: bool,
    /// The key CSRF tokens are derived with; replicas behind one address must share it.
    pub csrf_key: Vec<u8>,
    /// Sign-in through an OpenID provider, when configured.
    pub oidc: Option<OidcOptions>,
}

/// The console: the use cases, the authenticator, and its keys.
pub struct Console {
    app: Arc<Elevator>,
    auth: Arc<Authenticator>,
    clock: SharedClock,
    options: ConsoleOptions,
    oidc: Option<oidc::Oidc>,
}

/// The verified caller of a console request.
pub(crate) struct Caller {
    /// Who.
    pub(crate) identity: Arc<Identity>,
    /// The form token of this session.
    pub(crate) csrf: String,
    /// Signed in through a proxy's `Authorization` header rather than the login cookie.
    pub(crate) via_proxy: bool,
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
            oidc: options.oidc.clone().map(oidc::Oidc::new),
            options,
        }
    }

    /// Whether `path` belongs to the console (the admin port's root redirects to it).
    pub fn serves(path: &str) -> bool {
        path == "/" || path == "/console" || path.starts_with("/console/")
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
        if let Some(page) = before_sign_in(&method, &path) {
            return page;
        }
        let form = match read_form(&method, &parts.headers, body).await {
            Ok(form) => form,
            Err(refusal) => return *refusal,
        };
        match (&method, path.as_str()) {
            (&Method::POST, "/console/login") => return self.login(&parts.headers, &form),
            (_, "/console/login") => return self.login_page(&parts.headers, None),
            (_, path) if path.starts_with("/console/oidc/") => {
                return self
                    .oidc_route(&method, path, &parts.headers, &query, &form)
                    .await;
            }
            _ => {}
        }
        let caller = match self.identify(&parts.headers, &method).await {
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
                return self.sign_out(&parts.headers, &caller).await;
            }
        }
        self.dispatch(&caller, &method, &path, &query, &form).await
    }

    /// The sign-in through the identity provider: its steps need no signed-in caller.
    async fn oidc_route(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        query: &Fields,
        form: &Fields,
    ) -> Page {
        let Some(oidc) = &self.oidc else {
            return plain(
                StatusCode::NOT_FOUND,
                "sign-in through an identity provider is not configured (console.oidc.issuer)",
            );
        };
        match (method, path) {
            (&Method::GET, "/console/oidc/login") => self.oidc_sign_in(oidc).await,
            (&Method::GET, "/console/oidc/callback") => {
                self.oidc_callback(oidc, headers, query).await
            }
            (&Method::POST, "/console/oidc/backchannel-logout") => {
                self.oidc_backchannel_logout(oidc, form).await
            }
            _ => plain(StatusCode::NOT_FOUND, "no such console page"),
        }
    }

    /// Routes a signed-in request (the CSRF token of a POST is already checked) to its page.
    async fn dispatch(
        &self,
        caller: &Caller,
        method: &Method,
        path: &str,
        query: &Fields,
        form: &Fields,
    ) -> Page {
        let segments: Vec<&str> = path
            .trim_start_matches("/console/")
            .split('/')
            .filter(|segment| !segment.is_empty())
            .collect();
        let post = *method == Method::POST;
        let handled = match (post, segments.as_slice()) {
            (false, ["request"]) => self.request_page(caller, query).await,
            (false, ["request", "preview"]) => self.request_preview(caller, query).await,
            (true, ["request"]) => self.submit_request(caller, form).await,
            (false, ["elevations"]) => self.elevations_page(caller, query).await,
            (true, ["elevations", id, "cancel"]) => self.cancel(caller, id, form).await,
            (true, ["elevations", id, "extend"]) => self.extend(caller, id, form).await,
            (false, ["approvals"]) => self.approvals_page(caller, query).await,
            (false, ["approvals", "rows"]) => self.approval_rows_fragment(caller).await,
            (true, ["approvals", id, "approve"]) => {
                self.decide(caller, id, Verdict::Approve, form).await
            }
            (true, ["approvals", id, "deny"]) => self.decide(caller, id, Verdict::Deny, form).await,
            (false, ["grants"]) => self.grants_page(caller, query).await,
            (true, ["grants", id, "revoke"]) => self.revoke(caller, id, form).await,
            (true, ["grants", id, "delegate"]) => self.delegate(caller, id, form).await,
            (true, ["grants", id, "accept"]) => self.accept(caller, id).await,
            (false, ["reviews"]) => self.reviews_page(caller, query).await,
            (true, ["reviews", id, "keep"]) => {
                self.decide_review(caller, id, ReviewVerdict::Keep, form)
                    .await
            }
            (true, ["reviews", id, "remove"]) => {
                self.decide_review(caller, id, ReviewVerdict::Remove, form)
                    .await
            }
            (false, ["audit"]) => self.audit_page(caller, query).await,
            (false, ["simulator"]) => self.simulator_page(caller, query).await,
            (false, ["policy"]) => self.policy_page(caller, query).await,
            (true, ["policy", "validate"]) => self.validate_policy(caller, form).await,
            (true, ["policy", "put"]) => self.put_policy(caller, form).await,
            (false, ["directory"]) => self.directory_page(caller, query).await,
            (false, ["directory", "entity"]) => self.entity_page(caller, query).await,
            (false, ["directory", "edit"]) => self.entity_form(caller, query).await,
            (true, ["directory", "put"]) => self.put_entity_form(caller, form).await,
            (false, ["directory", "delete"]) => self.delete_confirm(caller, query).await,
            (true, ["directory", "delete"]) => self.delete_entity_form(caller, form).await,
            (false, ["break-glass"]) => self.break_glass_page(caller, query).await,
            (false, ["break-glass", "confirm"]) => self.break_glass_confirm(caller, query).await,
            (true, ["break-glass"]) => self.use_break_glass(caller, form).await,
            (true, ["break-glass", id, "review"]) => {
                self.review_break_glass(caller, id, form).await
            }
            _ => Ok(self.refusal(
                caller,
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no such console page",
            )),
        };
        handled.unwrap_or_else(|error| {
            tracing::info!(subject = %caller.identity.subject, path, code = error.code(), "console action refused");
            self.refused(caller, error)
        })
    }
}

/// What is answered before anyone signs in: a method the console does not take, the redirect
/// from the root, and the stylesheet and script.
fn before_sign_in(method: &Method, path: &str) -> Option<Page> {
    if method != Method::GET && method != Method::HEAD && method != Method::POST {
        return Some(plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and POST"));
    }
    match path {
        "/" | "/console" | "/console/" if method != Method::POST => {
            Some(see_other("/console/request"))
        }
        "/console/assets/console.css" => Some(respond(
            StatusCode::OK,
            "text/css; charset=utf-8",
            html::STYLESHEET,
        )),
        "/console/assets/console.js" => Some(respond(
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            html::SCRIPT,
        )),
        _ => None,
    }
}

/// The form of a POST (refused when cross-origin, too large or malformed); empty otherwise.
async fn read_form(
    method: &Method,
    headers: &HeaderMap,
    body: hyper::body::Incoming,
) -> Result<Fields, Box<Page>> {
    if *method != Method::POST {
        drop(body);
        return Ok(Fields::default());
    }
    if let Some(refusal) = cross_origin(headers) {
        return Err(Box::new(refusal));
    }
    let bytes = match Limited::new(body, MAX_FORM_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(Box::new(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the form is too large or was cut off",
            )));
        }
    };
    std::str::from_utf8(&bytes)
        .map_err(|_| forms::BadForm("the form is not UTF-8".into()))
        .and_then(Fields::parse)
        .map_err(|error| Box::new(plain(StatusCode::BAD_REQUEST, &error.0)))
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
