//! The console's OpenID Connect sign-in against a real OpenID provider: the npm package
//! `oidc-provider` (tests/oidc-provider/provider.mjs) on loopback over HTTPS, and headless
//! Chromium (the driver of `console.rs`). Fatma signs in at the provider and asks for
//! `admin_approver`; Ali signs in in his own browser and approves; the provider's back-channel
//! logout of Fatma's login session ends her grant and her console session; Ali signs out of
//! the console, which ends his session at the provider (RP-initiated logout). Beside it, over
//! plain HTTP: an answer with a wrong `state`, a code used twice and an answer no sign-in in
//! this browser asked for are refused. (Forged, foreign, expired and `alg`-confused ID tokens
//! and malformed logout tokens are refused in `src/console/oidc/tokens.rs`'s tests, with real
//! signatures.)
//!
//! Needs node and `oidc-provider` in target/test-tools/oidc-provider (`bash .ci/test`
//! installs it); without them the tests fail at once and say so.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use elevator::clock::ManualClock;
use elevator::domain::Subject;

use crate::console::{Driver, exchange, http_client};
use crate::harness::*;

/// How long the provider may take to start (a liveness bound, not a speed claim).
const PROVIDER_START: Duration = Duration::from_secs(30);
/// How long to wait for the back-channel logout to arrive.
const PATIENCE: Duration = Duration::from_secs(20);
const CLIENT_SECRET: &str = "elevator-test-client-secret";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `oidc-provider`; stopped when dropped.
struct Provider {
    process: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Provider {
    /// The provider on a free port, with the console at `console_base` as its client.
    fn start(console_base: &str) -> Provider {
        let tools = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target"))
            .join("test-tools/oidc-provider");
        let module = tools.join("node_modules/oidc-provider/lib/index.js");
        assert!(
            module.exists(),
            "the OpenID Connect tests need the npm package oidc-provider in {}: run `bash .ci/test` \
             (it installs it with npm) or `npm install --prefix {} oidc-provider@9.13.3`",
            tools.display(),
            tools.display()
        );
        let port = free_port();
        let log = tools.join(format!("provider-{port}.log"));
        let fixtures = root().join("tests/fixtures/tls");
        let mut process = Command::new("node")
            .arg(root().join("tests/oidc-provider/provider.mjs"))
            .arg(&module)
            .arg(port.to_string())
            .arg(console_base)
            .arg(fixtures.join("server.pem"))
            .arg(fixtures.join("server.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("create the provider's log"))
            .spawn()
            .unwrap_or_else(|error| {
                panic!("the OpenID Connect tests need node on the PATH (apt-get install nodejs npm): {error}")
            });
        let stdout = process.stdout.take().expect("piped stdout");
        let (ready, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("listening") {
                    let _ = ready.send(());
                }
            }
        });
        let provider = Provider {
            process,
            issuer: format!("https://127.0.0.1:{port}"),
        };
        listening
            .recv_timeout(PROVIDER_START)
            .expect("oidc-provider did not say it was listening");
        provider
    }
}

/// The console on a fixed admin port (the provider must know its callback before it starts),
/// signing in through `provider`, on PostgreSQL.
async fn console_with_provider(admin_port: u16, issuer: &str) -> TestApp {
    let secret_file = std::env::temp_dir().join(format!("elevator-oidc-secret-{admin_port}"));
    std::fs::write(&secret_file, CLIENT_SECRET).unwrap();
    let issuer = issuer.to_owned();
    let app = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            configure: Some(Box::new(move |config| {
                config.admin_listen = format!("127.0.0.1:{admin_port}").parse().unwrap();
                config.console.token_login = Some(false);
                let oidc = &mut config.console.oidc;
                oidc.issuer = Some(issuer);
                oidc.client_secret_file = Some(secret_file);
                oidc.redirect_url = Some(format!(
                    "http://127.0.0.1:{admin_port}/console/oidc/callback"
                ));
                oidc.post_logout_redirect_url =
                    Some(format!("http://127.0.0.1:{admin_port}/console/login"));
                oidc.ca_file = Some(root().join("tests/fixtures/tls/ca.pem"));
                oidc.scopes = vec!["openid".into(), "profile".into(), "groups".into()];
            })),
            ..Default::default()
        },
    )
    .await;
    follow_the_wall_clock(app.clock.clone());
    app
}

/// The provider stamps its tokens by the wall clock; the test server's clock follows it.
fn follow_the_wall_clock(clock: Arc<ManualClock>) {
    tokio::spawn(async move {
        loop {
            clock.set(chrono::Utc::now());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Fatma's or Ali's grants as the store has them, ended ones too.
async fn grants_of(app: &TestApp, person: &str) -> Vec<elevator::domain::Grant> {
    app.store
        .list_grants(&Subject::parse(person).unwrap(), true, chrono::Utc::now())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatma_and_ali_sign_in_at_the_provider_and_logout_ends_the_session_and_its_grants() {
    let admin_port = free_port();
    let base = format!("http://127.0.0.1:{admin_port}");
    let provider = Provider::start(&base);
    let driver = Driver::start().await;
    let app = console_with_provider(admin_port, &provider.issuer).await;

    // Fatma opens the console and is sent to her provider; she signs in there.
    let fatma = driver.browser("oidc-fatma").await;
    sign_in_at_provider(&fatma, &base, &provider.issuer, "fatma").await;
    fatma.screenshot("oidc-01-fatma-signed-in").await;

    fatma.goto(&format!("{base}/console/request")).await;
    fatma.click("#role option[value='admin_approver']").await;
    fatma.fill("#scope", "Org:Procurement").await;
    fatma.fill("#duration", "2h").await;
    fatma.fill("#reason", "Q4 close").await;
    fatma.wait_for_text("#preview-verdict", "ELIGIBLE").await;
    fatma.click("#submit-request").await;
    fatma.wait_for_text("#notice", "PENDING").await;

    // Ali, her manager by the provider's claim, signs in and approves.
    let ali = driver.browser("oidc-ali").await;
    sign_in_at_provider(&ali, &base, &provider.issuer, "ali").await;
    ali.goto(&format!("{base}/console/approvals")).await;
    let elevation_id = ali.attribute("#inbox tr[data-id]", "data-id").await;
    ali.click(&format!("#approve-{elevation_id}")).await;
    ali.wait_for_text("#notice", "ACTIVE").await;
    ali.screenshot("oidc-02-ali-approved").await;

    // The grant is bound to Fatma's login session at the provider.
    let grants = grants_of(&app, "fatma").await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    let session = grants[0].session.clone().expect("a session-bound grant");
    assert!(grants[0].revocation.is_none());

    // Fatma's login session ends at the provider (she signs out there): its back-channel
    // logout reaches elevator, which ends every grant of the session and her console session.
    fatma
        .goto(&format!("{}/session/end", provider.issuer))
        .await;
    fatma.click("button[name=logout]").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while grants_of(&app, "fatma").await[0].revocation.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the back-channel logout did not end fatma's grant"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let revoked = grants_of(&app, "fatma").await;
    let revocation = revoked[0].revocation.as_ref().unwrap();
    assert!(
        revocation.reason.contains(session.as_str()) && revocation.reason.contains("back-channel"),
        "{revocation:?}"
    );
    fatma.goto(&format!("{base}/console/grants")).await;
    fatma.find("input[name=login]").await;
    assert!(
        fatma.url().await.starts_with(&provider.issuer),
        "fatma's console session ended with her login session"
    );

    // Ali signs out of the console: his login session ends in elevator and at the provider.
    ali.goto(&format!("{base}/console/request")).await;
    ali.click("#logout").await;
    ali.click("#provider-sign-out").await;
    ali.click("button[name=logout]").await;
    ali.find("input[name=login]").await;
    ali.goto(&format!("{base}/console/approvals")).await;
    ali.find("input[name=login]").await;
    assert!(ali.url().await.starts_with(&provider.issuer));
    ali.screenshot("oidc-03-ali-signed-out").await;
    ali.quit().await;
    fatma.quit().await;
}

/// Opens the console in `browser` and signs in at the provider as `person`.
async fn sign_in_at_provider(
    browser: &crate::console::Browser<'_>,
    base: &str,
    issuer: &str,
    person: &str,
) {
    browser.goto(&format!("{base}/console/request")).await;
    browser.find("input[name=login]").await;
    assert!(browser.url().await.starts_with(issuer));
    browser.fill("input[name=login]", person).await;
    browser.fill("input[name=password]", "any").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("#whoami", person).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_no_sign_in_here_asked_for_are_refused() {
    let admin_port = free_port();
    let base = format!("http://127.0.0.1:{admin_port}");
    let provider = Provider::start(&base);
    let _app = console_with_provider(admin_port, &provider.issuer).await;
    let client = http_client();

    // A sign-in sends the browser to the provider with PKCE, state and nonce.
    let (status, headers, _) = exchange(
        &client,
        "GET",
        &format!("{base}/console/oidc/login"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 303);
    let location = headers["location"].to_str().unwrap();
    for part in [
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "client_id=elevator",
    ] {
        assert!(location.contains(part), "{location}");
    }
    assert!(location.starts_with(&provider.issuer));
    let attempt = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // An answer whose state is not this attempt's.
    let (status, _, body) = exchange(
        &client,
        "GET",
        &format!("{base}/console/oidc/callback?code=abc&state=forged"),
        &[("cookie", &attempt)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("wrong state"), "{body}");

    // An answer to a browser that started no sign-in.
    let (status, _, body) = exchange(
        &client,
        "GET",
        &format!("{base}/console/oidc/callback?code=abc&state=abc"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no sign-in was started"), "{body}");

    // The provider's error is said, not signed in.
    let (status, _, body) = exchange(
        &client,
        "GET",
        &format!("{base}/console/oidc/callback?error=access_denied"),
        &[("cookie", &attempt)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 401, "{body}");

    // A logout token that is not one is refused with the RFC's error and ends nothing.
    let (status, _, body) = exchange(
        &client,
        "POST",
        &format!("{base}/console/oidc/backchannel-logout"),
        &[("content-type", "application/x-www-form-urlencoded")],
        b"logout_token=eyJhbGciOiJub25lIn0.e30.".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid_request"), "{body}");
}

/// An HTTPS exchange with the provider (trusting the test CA), one request per connection:
/// status, headers, body.
async fn provider_exchange(
    url: &str,
    method: &str,
    cookies: &str,
    form: Option<&str>,
) -> (u16, http::HeaderMap, String) {
    use http_body_util::BodyExt;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, pki_types::ServerName};
    let uri: http::Uri = url.parse().unwrap();
    let mut roots = RootCertStore::empty();
    let pem = std::fs::read(root().join("tests/fixtures/tls/ca.pem")).unwrap();
    for certificate in rustls_pemfile_certs(&pem) {
        roots.add(certificate).unwrap();
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect((uri.host().unwrap(), uri.port_u16().unwrap()))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header("host", uri.authority().unwrap().as_str())
        .header("cookie", cookies);
    if form.is_some() {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    let body = http_body_util::Full::new(bytes::Bytes::from(form.unwrap_or("").to_owned()));
    let response = sender
        .send_request(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The certificates of a PEM file.
fn rustls_pemfile_certs(
    pem: &[u8],
) -> Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>> {
    use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};
    CertificateDer::pem_slice_iter(pem)
        .map(|certificate| certificate.unwrap())
        .collect()
}

/// A cookie jar: `Set-Cookie`s taken in, sent back as one `Cookie` header (paths ignored).
#[derive(Default)]
struct Jar(std::collections::BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, headers: &http::HeaderMap) {
        for value in headers.get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.insert(name.to_owned(), value.to_owned());
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Signs in at the provider as `person` without a browser, following the flow that
/// `/console/oidc/login` starts; returns the console's attempt cookie and the provider's
/// answer (the callback URL with its code and state).
async fn code_from_provider(base: &str, issuer: &str, person: &str) -> (String, String) {
    let client = http_client();
    let (_, headers, _) = exchange(
        &client,
        "GET",
        &format!("{base}/console/oidc/login"),
        &[],
        Vec::new(),
    )
    .await;
    let attempt = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut next = headers["location"].to_str().unwrap().to_owned();
    let mut jar = Jar::default();
    for _ in 0..8 {
        if next.starts_with(base) {
            return (attempt, next);
        }
        let url = if next.starts_with('/') {
            format!("{issuer}{next}")
        } else {
            next.clone()
        };
        let (status, headers, _) = if url.contains("/interaction/") {
            let (_, headers, _) = provider_exchange(&url, "GET", &jar.header(), None).await;
            jar.take(&headers);
            let form = format!("prompt=login&login={person}&password=any");
            provider_exchange(&url, "POST", &jar.header(), Some(&form)).await
        } else {
            provider_exchange(&url, "GET", &jar.header(), None).await
        };
        assert!((300..400).contains(&status), "{url} answered {status}");
        jar.take(&headers);
        next = headers["location"].to_str().unwrap().to_owned();
    }
    panic!("the provider never answered the console");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_good_for_one_sign_in_only() {
    let admin_port = free_port();
    let base = format!("http://127.0.0.1:{admin_port}");
    let provider = Provider::start(&base);
    let _app = console_with_provider(admin_port, &provider.issuer).await;
    let client = http_client();

    let (attempt, answer) = code_from_provider(&base, &provider.issuer, "fatma").await;
    let (status, headers, body) =
        exchange(&client, "GET", &answer, &[("cookie", &attempt)], Vec::new()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Signed in as fatma"), "{body}");
    let session = headers
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap())
        .find(|value| value.starts_with("elevator_console=oidc."))
        .expect("a sealed session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, page) = exchange(
        &client,
        "GET",
        &format!("{base}/console/grants"),
        &[("cookie", &session)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"whoami\">fatma<"), "{page}");

    // The same answer again (a replayed code, even with the attempt's cookie) signs no one in.
    let (status, headers, body) =
        exchange(&client, "GET", &answer, &[("cookie", &attempt)], Vec::new()).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("refused the code"), "{body}");
    assert!(
        headers.get_all("set-cookie").iter().all(|value| !value
            .to_str()
            .unwrap()
            .starts_with("elevator_console=oidc.")),
        "a replayed code made a session"
    );

    // A session cookie changed by its holder (another subject) is not accepted.
    let forged = session.replacen("elevator_console=oidc.", "elevator_console=oidc.e", 1);
    let (status, headers, _) = exchange(
        &client,
        "GET",
        &format!("{base}/console/grants"),
        &[("cookie", &forged)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/console/oidc/login");
}
