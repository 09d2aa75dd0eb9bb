//! The steps of a sign-in through the provider, and its ends: `GET /console/oidc/login` sends
//! the browser to the provider; `GET /console/oidc/callback` takes the provider's answer,
//! exchanges the code and checks the ID token; signing out ends the login session and sends
//! the browser to the provider's end-session endpoint; `POST /console/oidc/backchannel-logout`
//! is the provider telling elevator a login session ended.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, StatusCode, header};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::Oidc;
use super::claims::SignedIn;
use super::fetch::{FetchError, OauthHttp};
use super::provider::Provider;
use super::tokens::{self, Expected, TokenRefused};
use crate::console::Console;
use crate::console::forms::Fields;
use crate::console::html::{self, Page, plain, respond, see_other};
use crate::console::session::{constant_time_equal, cookie_value, forget};
use crate::domain::{Identity, SessionId, Subject, shown};

/// The cookie holding a sign-in attempt's seed, between leaving for the provider and coming
/// back.
const ATTEMPT_COOKIE: &str = "elevator_console_oidc";
/// How long a sign-in at the provider may take.
const MAX_ATTEMPT_AGE: TimeDelta = TimeDelta::minutes(10);

/// The token response: the standard fields and the ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    id_token: String,
}

impl oauth2::ExtraTokenFields for IdTokenField {}

type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// An OAuth 2.0 client with the authorization and token endpoints set.
type CodeFlowClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What one sign-in attempt sends and expects, derived from the seed its browser keeps.
struct Attempt {
    state: String,
    nonce: String,
    verifier: String,
}

impl Oidc {
    fn code_flow_client(&self, provider: &Provider) -> Result<CodeFlowClient, String> {
        let options = &self.options;
        let mut client = oauth2::Client::new(ClientId::new(options.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(provider.authorization_endpoint.clone())
                    .map_err(|error| format!("authorization_endpoint: {error}"))?,
            )
            .set_token_uri(
                TokenUrl::new(provider.token_endpoint.clone())
                    .map_err(|error| format!("token_endpoint: {error}"))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(options.redirect_url.clone())
                    .map_err(|error| format!("console.oidc.redirect_url: {error}"))?,
            );
        if let Some(secret) = &options.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(client)
    }

    fn expected<'a>(&'a self, provider: &'a Provider, now: DateTime<Utc>) -> Expected<'a> {
        Expected {
            issuer: &provider.issuer,
            client_id: &self.options.client_id,
            now,
            leeway: TimeDelta::from_std(self.options.leeway).unwrap_or_default(),
        }
    }

    /// `check` with the provider's keys; when the token names a key the set lacks, once more
    /// after fetching the keys again.
    async fn with_keys<T>(
        &self,
        provider: &Provider,
        check: impl Fn(&[crate::auth::VerificationKey]) -> Result<T, TokenRefused>,
    ) -> Result<T, TokenRefused> {
        match check(&provider.keys()) {
            Err(TokenRefused::UnknownKey(kid)) => {
                if let Err(error) = provider.refresh_keys().await {
                    tracing::warn!(%error, "console oidc: fetching the provider's keys failed");
                }
                check(&provider.keys()).map_err(|_| TokenRefused::UnknownKey(kid))
            }
            checked => checked,
        }
    }
}

fn attempt_cookie(seed: &str) -> http::HeaderValue {
    format!(
        "{ATTEMPT_COOKIE}={seed}; Path=/console/oidc; Max-Age={}; HttpOnly; SameSite=Lax",
        MAX_ATTEMPT_AGE.num_seconds()
    )
    .parse()
    .expect("an ASCII cookie")
}

fn forget_attempt() -> http::HeaderValue {
    format!("{ATTEMPT_COOKIE}=; Path=/console/oidc; Max-Age=0; HttpOnly; SameSite=Lax")
        .parse()
        .expect("an ASCII cookie")
}

/// A refused step of a sign-in: said, and the attempt forgotten.
fn refused(status: StatusCode, message: &str) -> Page {
    let mut page = plain(status, message);
    page.headers_mut()
        .append(header::SET_COOKIE, forget_attempt());
    page
}

/// The provider's answer to a back-channel logout request.
fn logout_answer(status: StatusCode, description: Option<&str>) -> Page {
    let body = description.map_or_else(String::new, |description| {
        serde_json::json!({"error": "invalid_request", "error_description": description})
            .to_string()
    });
    respond(status, "application/json", body)
}

impl Console {
    fn attempt(&self, seed: &str) -> Attempt {
        Attempt {
            state: self.keyed("elevator-console-oidc-state", seed),
            nonce: self.keyed("elevator-console-oidc-nonce", seed),
            verifier: self.keyed("elevator-console-oidc-pkce", seed),
        }
    }

    fn seal(&self, body: &str) -> String {
        self.keyed("elevator-console-oidc-session", body)
    }

    /// `GET /console/oidc/login`: a new attempt, and the browser sent to the provider.
    pub(in crate::console) async fn oidc_sign_in(&self, oidc: &Oidc) -> Page {
        let provider = match oidc.provider().await {
            Ok(provider) => provider,
            Err(error) => {
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "the identity provider cannot be reached; try again shortly ({error})"
                    ),
                );
            }
        };
        let client = match oidc.code_flow_client(&provider) {
            Ok(client) => client,
            Err(error) => return plain(StatusCode::INTERNAL_SERVER_ERROR, &error),
        };
        let mut random = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
        let random: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
        let seed = format!("{}.{random}", self.clock.now().timestamp());
        let attempt = self.attempt(&seed);
        let state = attempt.state.clone();
        let verifier = PkceCodeVerifier::new(attempt.verifier);
        let mut request = client
            .authorize_url(move || CsrfToken::new(state))
            .add_extra_param("nonce", attempt.nonce)
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
        if !oidc.options.scopes.iter().any(|scope| scope == "openid") {
            request = request.add_scope(Scope::new("openid".into()));
        }
        for scope in &oidc.options.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _) = request.url();
        let mut page = see_other(url.as_str());
        page.headers_mut()
            .append(header::SET_COOKIE, attempt_cookie(&seed));
        page
    }

    /// The attempt this browser started, if it is still young enough.
    fn current_attempt(&self, headers: &HeaderMap) -> Option<Attempt> {
        let seed = cookie_value(headers, ATTEMPT_COOKIE)?;
        let (time, random) = seed.split_once('.')?;
        let well_formed = random.len() == 32 && random.bytes().all(|byte| byte.is_ascii_hexdigit());
        let started = DateTime::from_timestamp(time.parse().ok()?, 0)?;
        let age = self.clock.now() - started;
        (well_formed && age >= TimeDelta::zero() && age <= MAX_ATTEMPT_AGE)
            .then(|| self.attempt(seed))
    }

    /// `GET /console/oidc/callback`: the provider's answer. The state must be this browser's
    /// attempt's, the code is exchanged with the attempt's PKCE verifier, and the ID token
    /// must carry its nonce; then the person is signed in.
    pub(in crate::console) async fn oidc_callback(
        &self,
        oidc: &Oidc,
        headers: &HeaderMap,
        query: &Fields,
    ) -> Page {
        if let Some(error) = query.optional("error") {
            return refused(
                StatusCode::UNAUTHORIZED,
                &format!(
                    "the identity provider did not sign you in: {}",
                    shown(error)
                ),
            );
        }
        let Some(attempt) = self.current_attempt(headers) else {
            return refused(
                StatusCode::BAD_REQUEST,
                "no sign-in was started in this browser in the last 10 minutes; start again at /console/oidc/login",
            );
        };
        if !constant_time_equal(query.get("state").as_bytes(), attempt.state.as_bytes()) {
            tracing::warn!("console oidc: a callback with a wrong state was refused");
            return refused(
                StatusCode::FORBIDDEN,
                "this answer does not belong to the sign-in this browser started (wrong state); nothing was signed in",
            );
        }
        let code = query.get("code");
        if code.is_empty() {
            return refused(StatusCode::BAD_REQUEST, "the answer carries no code");
        }
        match self.signed_in_by_code(oidc, code, attempt).await {
            Ok(signed_in) => self.signed_in_page(signed_in),
            Err((status, message)) => {
                tracing::warn!(%message, "console oidc: sign-in refused");
                refused(status, &format!("sign-in refused: {message}"))
            }
        }
    }

    async fn signed_in_by_code(
        &self,
        oidc: &Oidc,
        code: &str,
        attempt: Attempt,
    ) -> Result<SignedIn, (StatusCode, String)> {
        let unavailable = |error: String| (StatusCode::SERVICE_UNAVAILABLE, error);
        let provider = oidc.provider().await.map_err(unavailable)?;
        let client = oidc.code_flow_client(&provider).map_err(unavailable)?;
        let http = OauthHttp(&oidc.client);
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.verifier))
            .request_async(&http)
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(answer) => (
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "the identity provider refused the code: {}",
                        shown(&answer.to_string())
                    ),
                ),
                RequestTokenError::Request(FetchError(error)) => unavailable(error),
                RequestTokenError::Parse(error, _) => unavailable(format!(
                    "the identity provider's token response is unreadable: {error}"
                )),
                RequestTokenError::Other(error) => unavailable(error),
            })?;
        let id_token = &answer.extra_fields().id_token;
        let now = self.clock.now();
        let expected = oidc.expected(&provider, now);
        let claims = oidc
            .with_keys(&provider, |keys| {
                tokens::verify_id_token(id_token, keys, &expected, &attempt.nonce)
            })
            .await
            .map_err(|refusal| (StatusCode::UNAUTHORIZED, format!("the ID token: {refusal}")))?;
        SignedIn::from_claims(&claims, &oidc.options.claims, &provider.issuer, now)
            .map_err(|error| (StatusCode::UNAUTHORIZED, error))
    }

    /// The session cookie set, and a page that goes on to the console. (A page, not a
    /// redirect: the session cookie is `SameSite=Strict`, and a redirect chain that began at
    /// the provider would not carry it.)
    fn signed_in_page(&self, signed_in: SignedIn) -> Page {
        let sealed = match signed_in.sealed(|body| self.seal(body)) {
            Ok(sealed) => sealed,
            Err(error) => return refused(StatusCode::UNPROCESSABLE_ENTITY, &error),
        };
        tracing::info!(subject = %signed_in.sub, "console login through the identity provider");
        let lifetime = (signed_in.exp - self.clock.now().timestamp()).max(1);
        let body = format!(
            "<p id=\"signed-in\">Signed in as {}. <a href=\"/console/request\">Continue</a>.</p>",
            html::esc(&signed_in.sub)
        );
        let mut page = html::html(
            StatusCode::OK,
            html::document("Signed in", "", None, &body).replacen(
                "<head>",
                "<head><meta http-equiv=\"refresh\" content=\"0;url=/console/request\">",
                1,
            ),
        );
        let cookies = page.headers_mut();
        cookies.append(
            header::SET_COOKIE,
            format!(
                "{}={sealed}; Path=/console; Max-Age={lifetime}; HttpOnly; SameSite=Strict",
                crate::console::SESSION_COOKIE
            )
            .parse()
            .expect("a sealed session is ASCII"),
        );
        cookies.append(header::SET_COOKIE, forget_attempt());
        page
    }

    /// The identity a sealed session cookie holds, unless it expired or its login session
    /// was ended since the person signed in.
    pub(in crate::console) async fn oidc_identity(
        &self,
        cookie: &str,
    ) -> Result<Arc<Identity>, String> {
        if self.oidc.is_none() {
            return Err("sign-in through an identity provider is not configured".into());
        }
        let signed_in = SignedIn::unsealed(cookie, |body| self.seal(body))
            .ok_or("the session cookie was not made by this console")?;
        let identity = signed_in.shared_identity()?;
        if self.clock.now() >= identity.expires_at {
            return Err("the sign-in expired; sign in again".into());
        }
        if let Some(session) = &identity.session {
            let ended = self
                .app
                .session_ended_since(&identity.subject, session, signed_in.signed_in_at())
                .await
                .map_err(|error| {
                    format!("whether the login session still holds is unknown: {error}")
                })?;
            if ended {
                return Err("the login session was ended; sign in again".into());
            }
        }
        Ok(identity)
    }

    /// Signing out of a sealed session: the login session ended in elevator (its grants end),
    /// the cookie forgotten, and the browser sent on to the provider to end its session there.
    pub(in crate::console) async fn oidc_sign_out(&self, oidc: &Oidc, identity: &Identity) -> Page {
        if identity.session.is_some()
            && let Err(error) = self
                .app
                .end_session(identity, None, None, "signed out of the console")
                .await
        {
            tracing::warn!(%error, subject = %identity.subject, "console oidc: ending the login session failed");
        }
        let provider_sign_out = match oidc.provider().await {
            Ok(provider) => provider
                .end_session_endpoint
                .as_deref()
                .and_then(|endpoint| {
                    let mut url = oauth2::url::Url::parse(endpoint).ok()?;
                    url.query_pairs_mut()
                        .append_pair("client_id", &oidc.options.client_id);
                    if let Some(back) = &oidc.options.post_logout_redirect_url {
                        url.query_pairs_mut()
                            .append_pair("post_logout_redirect_uri", back);
                    }
                    Some(url.to_string())
                }),
            Err(_) => None,
        };
        let body = match &provider_sign_out {
            Some(url) => format!(
                "<p>Signed out of the console. <a id=\"provider-sign-out\" href=\"{}\">Sign out at your identity provider</a>.</p>",
                html::esc(url)
            ),
            None => "<p>Signed out of the console. <a href=\"/console/oidc/login\">Sign in again</a>.</p>".into(),
        };
        let mut page = html::html(
            StatusCode::OK,
            html::document("Signed out", "", None, &body),
        );
        page.headers_mut()
            .append(header::SET_COOKIE, forget(crate::console::SESSION_COOKIE));
        page
    }

    /// `POST /console/oidc/backchannel-logout`: the provider says a login session ended; its
    /// grants end (EndSession) and its console sessions stop being accepted, on every replica.
    pub(in crate::console) async fn oidc_backchannel_logout(
        &self,
        oidc: &Oidc,
        form: &Fields,
    ) -> Page {
        let token = form.get("logout_token");
        if token.is_empty() {
            return logout_answer(
                StatusCode::BAD_REQUEST,
                Some("the form has no logout_token"),
            );
        }
        let provider = match oidc.provider().await {
            Ok(provider) => provider,
            Err(error) => return logout_answer(StatusCode::SERVICE_UNAVAILABLE, Some(&error)),
        };
        let now = self.clock.now();
        let expected = oidc.expected(&provider, now);
        let logged_out = match oidc
            .with_keys(&provider, |keys| {
                tokens::verify_logout_token(token, keys, &expected)
            })
            .await
        {
            Ok(logged_out) => logged_out,
            Err(refusal) => {
                tracing::warn!(%refusal, "console oidc: a back-channel logout was refused");
                return logout_answer(StatusCode::BAD_REQUEST, Some(&refusal.to_string()));
            }
        };
        let (Some(subject), Some(session)) = (logged_out.subject, logged_out.session) else {
            return logout_answer(
                StatusCode::BAD_REQUEST,
                Some(
                    "elevator ends a login session by its sub and sid; the logout token lacks one",
                ),
            );
        };
        let (subject, session) = match (Subject::parse(&subject), SessionId::parse(&session)) {
            (Ok(subject), Ok(session)) => (subject, session),
            _ => {
                return logout_answer(StatusCode::BAD_REQUEST, Some("the sub or sid is not valid"));
            }
        };
        let person = Identity {
            subject,
            session: Some(session),
            groups: Vec::new(),
            roles: Vec::new(),
            standing_roles: Vec::new(),
            manager: None,
            amr: Vec::new(),
            expires_at: now + TimeDelta::minutes(1),
            issuer: Some(provider.issuer.clone()),
        };
        match self
            .app
            .end_session(
                &person,
                None,
                None,
                "back-channel logout by the identity provider",
            )
            .await
        {
            Ok((revoked, _)) => {
                tracing::info!(subject = %person.subject, revoked = revoked.len(), "console oidc: back-channel logout ended a login session");
                logout_answer(StatusCode::OK, None)
            }
            Err(error) => logout_answer(StatusCode::BAD_REQUEST, Some(&error.to_string())),
        }
    }
}
