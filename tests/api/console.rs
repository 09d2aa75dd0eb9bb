//! The web console in a real browser: headless Chromium driven through chromedriver's W3C
//! WebDriver JSON protocol (a small client below, over the hyper client the crate already
//! has). Fatma and Ali each sign in in their own browser: Fatma requests `admin_approver`,
//! Ali sees it arrive in his inbox without a reload and approves it, Fatma sees her grant and
//! gives it up, and the audit panel tells the grant's story. Beside it: a POST without the
//! CSRF token is refused and changes nothing, and someone who approves nothing cannot reach
//! the inbox's actions. Every page visited is saved under `target/console-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`); without them the tests fail and say so. No browser is downloaded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::harness::*;

#[path = "console_break_glass.rs"]
mod break_glass;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key under which an element reference travels.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The reference of an element in a WebDriver answer.
fn element_id(element: &Value) -> String {
    element[ELEMENT_KEY]
        .as_str()
        .unwrap_or_else(|| panic!("not a WebDriver element: {element}"))
        .to_owned()
}
/// How long to wait for something to appear on a page (a liveness bound, not a speed claim).
const PATIENCE: Duration = Duration::from_secs(20);

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One HTTP exchange: status, headers, body.
pub(crate) async fn exchange(
    client: &HttpClient,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, String) {
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap_or_else(|error| panic!("{method} {url}: {error}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |byte: u8| -> u32 {
        match byte {
            b'A'..=b'Z' => (byte - b'A') as u32,
            b'a'..=b'z' => (byte - b'a' + 26) as u32,
            b'0'..=b'9' => (byte - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {byte}"),
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace() && *byte != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut bits = 0u32;
        for (index, byte) in chunk.iter().enumerate() {
            bits |= value(*byte) << (18 - 6 * index);
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/console-screenshots");
    dir
}

/// A running chromedriver; stopped (with its browsers) when dropped.
pub(crate) struct Driver {
    process: Child,
    base: String,
    client: HttpClient,
    profiles: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profiles);
    }
}

impl Driver {
    pub(crate) async fn start() -> Driver {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "the console's browser tests need {path}: install the Debian packages \
                 `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver); \
                 {package} is missing. No browser is downloaded."
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profiles = std::env::temp_dir().join(format!(
            "elevator-console-browsers-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let driver = Driver {
            process,
            base: format!("http://127.0.0.1:{port}"),
            client: http_client(),
            profiles,
        };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let url = format!("{}/status", driver.base);
            let ready = match tokio::time::timeout(
                Duration::from_secs(2),
                driver.client.get(url.parse().unwrap()),
            )
            .await
            {
                Ok(Ok(response)) => response.status().is_success(),
                _ => false,
            };
            if ready {
                return driver;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not answer on {}",
                driver.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One WebDriver command; its `value`, or a panic naming the WebDriver error.
    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let payload = body
            .map(|body| body.to_string().into_bytes())
            .unwrap_or_default();
        let (status, _, text) = exchange(
            &self.client,
            method,
            &format!("{}{path}", self.base),
            &[("content-type", "application/json")],
            payload,
        )
        .await;
        let answer: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("WebDriver {method} {path}: not JSON ({status}): {text}"));
        if status != 200 {
            panic!(
                "WebDriver {method} {path} failed ({status}): {}",
                answer["value"]
            );
        }
        answer["value"].clone()
    }

    /// A fresh headless Chromium with its own profile (its own cookies).
    pub(crate) async fn browser(&self, person: &str) -> Browser<'_> {
        let profile = self.profiles.join(person);
        std::fs::create_dir_all(&profile).unwrap();
        let session = self
            .call(
                "POST",
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    // The OpenID provider of tests/api/oidc.rs serves the test CA's certificate.
                    "acceptInsecureCerts": true,
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            "--window-size=1280,1000",
                            format!("--user-data-dir={}", profile.display()),
                        ]
                    }
                }}})),
            )
            .await;
        Browser {
            driver: self,
            session: session["sessionId"]
                .as_str()
                .expect("a WebDriver session id")
                .to_owned(),
            person: person.to_owned(),
        }
    }
}

/// One person's browser.
pub(crate) struct Browser<'d> {
    driver: &'d Driver,
    session: String,
    person: String,
}

impl Browser<'_> {
    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub(crate) async fn url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The first element matching `css`, waiting for it to appear.
    pub(crate) async fn find(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let found = self
                .call(
                    "POST",
                    "/elements",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Some(element) = found.as_array().and_then(|all| all.first()) {
                return element_id(element);
            }
            if tokio::time::Instant::now() > deadline {
                let page = self.text("body").await;
                panic!(
                    "{}: nothing matches {css:?} on {}:\n{page}",
                    self.person,
                    self.url().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn count(&self, css: &str) -> usize {
        self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .map_or(0, Vec::len)
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        let found = self
            .call(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        let Some(element) = found.as_array().and_then(|all| all.first()) else {
            return String::new();
        };
        let id = element_id(element);
        self.call("GET", &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) async fn attribute(&self, css: &str, name: &str) -> String {
        let element = self.find(css).await;
        self.call("GET", &format!("/element/{element}/attribute/{name}"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the element matching `css` shows `needle`.
    pub(crate) async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let text = self.text(css).await;
            if text.contains(needle) {
                return text;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{}: {css:?} on {} never showed {needle:?}; it shows {text:?}\npage:\n{}",
                    self.person,
                    self.url().await,
                    self.text("body").await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn fill(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        self.call(
            "POST",
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": value })),
        )
        .await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let encoded = self.call("GET", "/screenshot", None).await;
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, decode_base64(encoded.as_str().unwrap()))
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    }

    /// Signs in on the login page with `token`; lands on the request page.
    pub(crate) async fn sign_in(&self, base: &str, token: &str, screenshot: Option<&str>) {
        self.goto(&format!("{base}/console/login")).await;
        self.fill("#token", token).await;
        if let Some(name) = screenshot {
            self.screenshot(name).await;
        }
        self.click("#sign-in").await;
        self.wait_for_text("#whoami", &self.person).await;
    }

    pub(crate) async fn quit(self) {
        self.call("DELETE", "", None).await;
    }
}

/// The demo policy, which lets `admin_approver` be delegated (so the grants page shows its
/// limits).
fn console_policy() -> String {
    elevator::policy::DEMO_POLICY.to_owned()
}

/// A console test server: PostgreSQL, with the login page on (as in dev mode).
pub(crate) async fn console_app() -> TestApp {
    spawn_app_with(
        Backend::Postgres,
        AppOptions {
            policy: Some(console_policy()),
            configure: Some(Box::new(|config| {
                config.console.token_login = Some(true);
            })),
            ..Default::default()
        },
    )
    .await
}

fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form with a csrf field") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatma_and_ali_walk_the_flow_in_a_browser() {
    let driver = Driver::start().await;
    let app = console_app().await;
    let base = format!("http://{}", app.admin_address);

    let fatma = driver.browser("fatma").await;
    let ali = driver.browser("ali").await;
    fatma.sign_in(&base, &app.fatma(), Some("01-login")).await;
    ali.sign_in(&base, &app.ali(), None).await;

    // Ali's inbox is open, and empty, before Fatma asks.
    ali.goto(&format!("{base}/console/approvals")).await;
    ali.find("#inbox-empty").await;

    // Fatma asks, with the live preview saying who would approve.
    fatma.goto(&format!("{base}/console/request")).await;
    fatma.click("#role option[value='admin_approver']").await;
    fatma.fill("#scope", "Org:Procurement").await;
    fatma.fill("#duration", "2h").await;
    fatma.fill("#reason", "Q4 close").await;
    fatma.wait_for_text("#preview-verdict", "ELIGIBLE").await;
    fatma.wait_for_text("#preview", "ali").await;
    fatma.screenshot("02-request").await;
    fatma.click("#submit-request").await;
    fatma.wait_for_text("#notice", "PENDING").await;
    fatma.screenshot("03-my-elevations-pending").await;

    // It arrives in Ali's open inbox without a reload.
    let row = ali.find("#inbox tr[data-id]").await;
    assert!(!row.is_empty());
    let elevation_id = ali.attribute("#inbox tr[data-id]", "data-id").await;
    let shown = ali.text(&format!("#pending-{elevation_id}")).await;
    for expected in [
        "fatma",
        "admin_approver",
        "Org:Procurement",
        "2h",
        "Q4 close",
    ] {
        assert!(
            shown.contains(expected),
            "the inbox row lacks {expected}: {shown}"
        );
    }
    ali.screenshot("04-approvals-inbox").await;
    ali.fill(
        &format!("#pending-{elevation_id} input[name=comment]"),
        "ok for the close",
    )
    .await;
    ali.click(&format!("#approve-{elevation_id}")).await;
    ali.wait_for_text("#notice", "ACTIVE").await;
    ali.find("#inbox-empty").await;

    // Fatma sees her grant, with its countdown, and it counts at a Check.
    fatma.goto(&format!("{base}/console/grants")).await;
    let grant_id = fatma.attribute("#grants tr[data-id]", "data-id").await;
    let grant_row = fatma.text(&format!("#g-{grant_id}")).await;
    assert!(
        grant_row.contains("admin_approver") && grant_row.contains("left"),
        "{grant_row}"
    );
    let limits = fatma.text(&format!("#g-{grant_id} .limits")).await;
    assert!(
        limits.contains("within Org:Procurement") && limits.contains("depth 1 of 1"),
        "{limits}"
    );
    fatma.screenshot("05-grants").await;
    assert!(app.check_fatma("s1").await.allowed);

    // She passes part of it on to Bob, within her limits.
    fatma
        .fill(&format!("#g-{grant_id} input[name=delegatee]"), "bob")
        .await;
    fatma
        .fill(
            &format!("#g-{grant_id} input[name=scope]"),
            "Org:Procurement/Dept:A",
        )
        .await;
    fatma
        .fill(&format!("#g-{grant_id} input[name=duration]"), "30m")
        .await;
    fatma
        .fill(
            &format!("#g-{grant_id} .delegate input[name=reason]"),
            "cover while I am out",
        )
        .await;
    fatma.click(&format!("#delegate-{grant_id}")).await;
    fatma.wait_for_text("#notice", "Delegated to bob").await;
    let bob_checks = || {
        app.check(
            "bob",
            "b1",
            "purchase_orders.approve",
            "Org:Procurement/Dept:A/PO:1",
            0,
        )
    };
    let waiting = bob_checks().await;
    assert_eq!(
        reason(&waiting),
        elevator::proto::v1::DecisionReason::DelegationNotAccepted,
        "a delegation counts only once Bob takes it up"
    );

    // Bob takes it up in his session from his grants page; from then on it counts there.
    let bob = driver.browser("bob").await;
    bob.sign_in(&base, &app.token("bob", &[], &[], None, Some("b1")), None)
        .await;
    bob.goto(&format!("{base}/console/grants")).await;
    let bobs_grant = bob.attribute("#grants tr[data-id]", "data-id").await;
    bob.find(&format!("#not-accepted-{bobs_grant}")).await;
    bob.screenshot("05b-delegation-to-accept").await;
    bob.click(&format!("#accept-{bobs_grant}")).await;
    bob.wait_for_text("#notice", "Accepted").await;
    let row = bob.text(&format!("#g-{bobs_grant}")).await;
    assert!(row.contains("session b1"), "{row}");
    assert!(bob_checks().await.allowed);
    bob.quit().await;

    // The elevation's timeline names the approval.
    fatma.goto(&format!("{base}/console/elevations")).await;
    let timeline = fatma.text(&format!("#e-{elevation_id}")).await;
    assert!(
        timeline.contains("ali approved") && timeline.contains("ACTIVE"),
        "{timeline}"
    );

    // She gives it up early; the next Check denies.
    fatma.goto(&format!("{base}/console/grants")).await;
    fatma
        .fill(
            &format!("#g-{grant_id} .give-up input[name=reason]"),
            "done early",
        )
        .await;
    fatma.click(&format!("#revoke-{grant_id}")).await;
    fatma.wait_for_text("#notice", "Revoked").await;
    fatma.find("#no-grants").await;
    let after = app.check_fatma("s1").await;
    assert!(!after.allowed);
    assert_eq!(reason(&after), elevator::proto::v1::DecisionReason::Revoked);
    assert!(
        !bob_checks().await.allowed,
        "revoking fatma's grant revokes what she delegated"
    );

    // The audit panel tells the grant's story.
    fatma
        .goto(&format!("{base}/console/audit?grant={grant_id}"))
        .await;
    let trail = fatma.text("#trail").await;
    for action in [
        "elevation.requested",
        "approval.approved",
        "grant.activated",
        "grant.revoked",
    ] {
        assert!(trail.contains(action), "the trail lacks {action}:\n{trail}");
    }
    let chain = fatma.text("#delegation-chain").await;
    assert!(
        chain.contains("fatma") && chain.contains("revoked by fatma"),
        "{chain}"
    );
    fatma.screenshot("06-audit-trail").await;

    // An auditor sees the whole log, the chain verified and its signed head.
    let audrey = driver.browser("audrey").await;
    audrey
        .sign_in(
            &base,
            &app.token("audrey", &[], &["elevator:auditor"], None, Some("a1")),
            None,
        )
        .await;
    audrey
        .goto(&format!("{base}/console/audit?subject=fatma"))
        .await;
    audrey.wait_for_text("#chain-status", "intact").await;
    assert!(!audrey.text("#head-signature").await.is_empty());
    assert!(audrey.text("#events").await.contains("grant.revoked"));
    audrey.screenshot("07-audit-panel").await;

    // An admin simulates a Check of the revoked grant, and validates a broken policy.
    let root = driver.browser("root").await;
    root.sign_in(&base, &app.admin(), None).await;
    root.goto(&format!(
        "{base}/console/simulator?kind=check&subject=fatma&session=s1&permission=purchase_orders.approve&resource=Org%3AProcurement%2FPO%3A4711"
    ))
    .await;
    root.wait_for_text("#decision-reason", "revoked").await;
    root.screenshot("08-simulator").await;
    root.goto(&format!("{base}/console/policy")).await;
    root.find("#policy-version").await;
    root.fill("#source", "roles:\n  admin_approver: { permissions: [] }\neligibility:\n  - role: nobody_knows\n    max_duration: 2x\n")
        .await;
    root.click("#validate").await;
    let problems = root.wait_for_text("#policy-problems", "problem").await;
    assert!(
        problems.contains("nobody_knows") || problems.contains("2x"),
        "{problems}"
    );
    root.screenshot("09-policy-problems").await;

    for browser in [fatma, ali, audrey, root] {
        browser.quit().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = console_app().await;
    let base = format!("http://{}", app.admin_address);
    let client = http_client();
    let cookie = format!("elevator_console={}", app.fatma());
    let form = "role=admin_approver&scope=Org%3AProcurement&duration=2h&reason=Q4+close";
    let host = app.admin_address.to_string();
    let headers = |extra: &'static str| {
        vec![
            ("cookie", cookie.clone()),
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("host", host.clone()),
            ("x-extra", extra.to_owned()),
        ]
    };
    let post = |body: String, headers: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = format!("{base}/console/request");
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(name, value)| (*name, value.as_str()))
                .collect();
            exchange(&client, "POST", &url, &headers, body.into_bytes()).await
        }
    };
    let before = app.audit_actions().await.len();

    let (status, _, body) = post(form.to_owned(), headers("none")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("CSRF"), "{body}");
    let (status, _, _) = post(format!("{form}&csrf=0123456789abcdef"), headers("wrong")).await;
    assert_eq!(status, 403);
    // The token of another session does not pass either.
    let (_, _, ali_page) = exchange(
        &client,
        "GET",
        &format!("{base}/console/request"),
        &[("cookie", &format!("elevator_console={}", app.ali()))],
        Vec::new(),
    )
    .await;
    let (status, _, _) = post(
        format!("{form}&csrf={}", csrf_of(&ali_page)),
        headers("ali's"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        app.audit_actions().await.len(),
        before,
        "a refused form changed something"
    );

    // A cross-origin post is refused even with the right token.
    let (_, _, page) = exchange(
        &client,
        "GET",
        &format!("{base}/console/request"),
        &[("cookie", &cookie)],
        Vec::new(),
    )
    .await;
    let csrf = csrf_of(&page);
    let mut cross = headers("cross");
    cross.push(("origin", "https://evil.example".to_owned()));
    let (status, _, _) = post(format!("{form}&csrf={csrf}"), cross).await;
    assert_eq!(status, 403);
    assert_eq!(app.audit_actions().await.len(), before);

    // With its session's token the same form goes through.
    let (status, response_headers, body) =
        post(format!("{form}&csrf={csrf}"), headers("right")).await;
    assert_eq!(status, 303, "{body}");
    assert!(
        response_headers["location"]
            .to_str()
            .unwrap()
            .starts_with("/console/elevations")
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"elevation.requested".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_who_approves_nothing_cannot_reach_the_inbox_actions() {
    let driver = Driver::start().await;
    let app = console_app().await;
    let base = format!("http://{}", app.admin_address);
    let elevation = app.request_fatma().await;
    let bob_token = app.token("bob", &["engineering"], &[], None, Some("b1"));

    let bob = driver.browser("bob").await;
    bob.sign_in(&base, &bob_token, None).await;
    bob.goto(&format!("{base}/console/approvals")).await;
    bob.find("#inbox-empty").await;
    assert_eq!(bob.count("button[id^=approve-]").await, 0);
    bob.screenshot("10-inbox-not-an-approver").await;
    bob.quit().await;

    // Posting the approval by hand, with bob's own valid form token, is refused by the use case.
    let client = http_client();
    let cookie = format!("elevator_console={bob_token}");
    let (_, _, page) = exchange(
        &client,
        "GET",
        &format!("{base}/console/approvals"),
        &[("cookie", &cookie)],
        Vec::new(),
    )
    .await;
    let csrf = csrf_of(&page);
    let (status, _, body) = exchange(
        &client,
        "POST",
        &format!("{base}/console/approvals/{}/approve", elevation.id),
        &[
            ("cookie", &cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        format!("csrf={csrf}&comment=sure").into_bytes(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("NOT_AN_APPROVER"), "{body}");
    let stored = app
        .store
        .get_elevation(elevator::domain::ElevationId::parse(&elevation.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state(), elevator::domain::ElevationState::Pending);
    assert!(stored.votes.is_empty());

    // Fatma cannot approve her own either; the refusal names the rule.
    let fatma_cookie = format!("elevator_console={}", app.fatma());
    let (_, _, page) = exchange(
        &client,
        "GET",
        &format!("{base}/console/approvals"),
        &[("cookie", &fatma_cookie)],
        Vec::new(),
    )
    .await;
    let (status, _, body) = exchange(
        &client,
        "POST",
        &format!("{base}/console/approvals/{}/approve", elevation.id),
        &[
            ("cookie", &fatma_cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        format!("csrf={}", csrf_of(&page)).into_bytes(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("SELF_APPROVAL"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_need_a_verified_caller_and_escape_what_they_show() {
    let app = console_app().await;
    let base = format!("http://{}", app.admin_address);
    let client = http_client();
    // No session: the pages send you to the login page; forms are refused.
    let (status, headers, _) = exchange(
        &client,
        "GET",
        &format!("{base}/console/grants"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/console/login");
    let (status, _, _) = exchange(
        &client,
        "POST",
        &format!("{base}/console/grants/x/revoke"),
        &[("content-type", "application/x-www-form-urlencoded")],
        b"csrf=x".to_vec(),
    )
    .await;
    assert_eq!(status, 401);
    // A forged token is not a session.
    let (status, _, _) = exchange(
        &client,
        "GET",
        &format!("{base}/console/grants"),
        &[("authorization", "Bearer not.a.token")],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 401);
    // A proxy's bearer header works; what a user typed comes back escaped.
    let (status, _, page) = exchange(
        &client,
        "GET",
        &format!("{base}/console/audit?actor=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        &[("authorization", &format!("Bearer {}", app.fatma()))],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)"), "{page}");
    // The metrics and health endpoints are still there.
    let (status, _, _) =
        exchange(&client, "GET", &format!("{base}/healthz"), &[], Vec::new()).await;
    assert_eq!(status, 200);
}

/// The CSRF token of the console session holding `token`, read from a page as a browser would.
async fn csrf_for(client: &HttpClient, base: &str, token: &str) -> String {
    let (status, _, page) = exchange(
        client,
        "GET",
        &format!("{base}/console/grants"),
        &[("cookie", &format!("elevator_console={token}"))],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    csrf_of(&page)
}

/// Posts `form` to `path` as the holder of `token`, with its CSRF token.
async fn post_form(
    client: &HttpClient,
    base: &str,
    token: &str,
    path: &str,
    form: &str,
) -> (u16, String) {
    let csrf = csrf_for(client, base, token).await;
    let (status, headers, body) = exchange(
        client,
        "POST",
        &format!("{base}{path}"),
        &[
            ("cookie", &format!("elevator_console={token}")),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        format!("csrf={csrf}&{form}").into_bytes(),
    )
    .await;
    let location = headers
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, location.unwrap_or(body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_cancel_and_policy_forms_reach_their_use_cases() {
    let app = console_app().await;
    let base = format!("http://{}", app.admin_address);
    let client = http_client();
    let load = |id: &str| {
        let store = app.store.clone();
        let id = elevator::domain::ElevationId::parse(id).unwrap();
        async move { store.get_elevation(id).await.unwrap().unwrap() }
    };

    // Ali denies, with a comment that the requester's timeline shows.
    let denied = app.request_fatma().await;
    let (status, location) = post_form(
        &client,
        &base,
        &app.ali(),
        &format!("/console/approvals/{}/deny", denied.id),
        "comment=not+this+quarter",
    )
    .await;
    assert_eq!(status, 303, "{location}");
    assert!(location.contains("DENIED"), "{location}");
    let stored = load(&denied.id).await;
    assert_eq!(stored.state(), elevator::domain::ElevationState::Denied);
    assert_eq!(stored.votes[0].comment, "not this quarter");

    // Fatma cancels one that is still pending; cancelling it again is refused (409).
    let cancelled = app.request_fatma().await;
    let path = format!("/console/elevations/{}/cancel", cancelled.id);
    let (status, _) = post_form(&client, &base, &app.fatma(), &path, "reason=not+needed").await;
    assert_eq!(status, 303);
    assert_eq!(
        load(&cancelled.id).await.state(),
        elevator::domain::ElevationState::Cancelled
    );
    let (status, body) = post_form(&client, &base, &app.fatma(), &path, "reason=again").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("WRONG_STATE"), "{body}");

    // Bad input names the field and changes nothing.
    let before = app.audit_actions().await.len();
    let (status, body) = post_form(
        &client,
        &base,
        &app.fatma(),
        "/console/request",
        "role=admin_approver&scope=Org%3AProcurement&duration=forever&reason=x",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("duration"), "{body}");
    assert_eq!(app.audit_actions().await.len(), before);

    // Only admins put a policy in force; a broken one is shown with its problems, not stored.
    let policy = console_policy();
    let form = |source: &str| format!("source={}", encode(source));
    let (status, body) = post_form(
        &client,
        &base,
        &app.fatma(),
        "/console/policy/put",
        &form(&policy),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("ROLE_REQUIRED"), "{body}");
    let (status, body) = post_form(
        &client,
        &base,
        &app.admin(),
        "/console/policy/put",
        &form("roles: {}\neligibility: [{ role: ghost }]\n"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("policy-problems"), "{body}");
    let version = app.app.decider().policy().version();
    let changed = policy.replace("max_duration: 8h", "max_duration: 4h");
    let (status, location) = post_form(
        &client,
        &base,
        &app.admin(),
        "/console/policy/put",
        &form(&changed),
    )
    .await;
    assert_eq!(status, 303, "{location}");
    assert_eq!(app.app.decider().policy().version(), version + 1);
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ali_reviews_access_in_the_browser_and_the_admin_sees_the_campaign_progress() {
    let driver = Driver::start().await;
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(crate::reviews::review_policy("")),
            configure: Some(Box::new(|config| {
                config.console.token_login = Some(true);
            })),
            ..Default::default()
        },
    )
    .await;
    let base = format!("http://{}", app.admin_address);
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.address))
        .unwrap()
        .connect_lazy();
    let mut reviews = elevator::proto::v1::review_service_client::ReviewServiceClient::new(channel);
    let campaign = reviews
        .start_campaign(authed(
            &app.admin(),
            elevator::proto::v1::StartCampaignRequest {
                name: "quarterly-admin-approver".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .campaign
        .unwrap();
    let items = reviews
        .list_review_items(authed(
            &app.admin(),
            elevator::proto::v1::ListReviewItemsRequest {
                campaign_id: campaign.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .items;
    let eve_item = items.iter().find(|item| item.subject == "eve").unwrap();

    let ali = driver.browser("ali").await;
    ali.sign_in(&base, &app.ali(), None).await;
    ali.goto(&format!("{base}/console/reviews")).await;
    assert_eq!(ali.count("#reviews tr[data-id]").await, 2);
    let row = ali.text(&format!("#item-{}", eve_item.id)).await;
    assert!(
        row.contains("standing_role admin_approver for eve") && row.contains("no recorded write"),
        "{row}"
    );
    ali.screenshot("20-reviews-mine").await;
    ali.fill(
        &format!("#item-{} form.remove input[name=comment]", eve_item.id),
        "left the procurement team",
    )
    .await;
    ali.click(&format!("#remove-{}", eve_item.id)).await;
    ali.wait_for_text("#notice", "taken off the directory")
        .await;
    assert_eq!(
        ali.count("#reviews tr[data-id]").await,
        1,
        "a decided item leaves the list"
    );
    // Ali is no admin: no campaign progress for him.
    assert_eq!(ali.count("#campaigns").await, 0);

    // Eve is in the reviewing group, yet her own item is not hers to review.
    let eve = driver.browser("eve").await;
    eve.sign_in(
        &base,
        &app.token("eve", &["security"], &[], None, Some("s6")),
        None,
    )
    .await;
    eve.goto(&format!("{base}/console/reviews")).await;
    let mine = eve.text("#reviews").await;
    assert!(!mine.contains("for eve"), "{mine}");

    let root = driver.browser("root").await;
    root.sign_in(&base, &app.admin(), None).await;
    root.goto(&format!("{base}/console/reviews")).await;
    root.wait_for_text(
        &format!("#campaign-{} .progress", campaign.id),
        "1 of 2 decided, 1 removed, 0 overdue",
    )
    .await;
    root.screenshot("21-reviews-campaigns").await;
    ali.quit().await;
    eve.quit().await;
    root.quit().await;
}
