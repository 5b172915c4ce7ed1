//! Test harness: the real server on 127.0.0.1:0 against a fresh database per test
//! (`hookvault_store::testing`: `DATABASE_URL`, or the shared embedded test cluster), dropped
//! when the test's `TestApp` is.

pub mod browser;
pub mod mail;
pub mod official;
pub mod process;
pub mod raw_http;
pub mod sse;
pub mod stripe;
pub mod target;
pub mod wait;

use std::time::Duration;

use hookvault_server::{Database, Role, ServeConfig, Server};
use hookvault_store::testing::TestDatabase;
use hookvault_store::PgConnectOptions;

/// An empty database of the test's own, dropped when the returned value is.
pub async fn fresh_database() -> TestDatabase {
    TestDatabase::create("server").await
}

/// A URL of a test database (for tests that run the `hookvault` binary itself).
pub fn database_url(db: &TestDatabase) -> String {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let mut url = reqwest::Url::parse(&url).expect("DATABASE_URL is a URL");
        url.set_path(db.name());
        return url.to_string();
    }
    let options = db.options();
    let socket = options.get_socket().expect("the test cluster's socket");
    format!(
        "postgres://{}@localhost/{}?host={}",
        options.get_username(),
        db.name(),
        socket.display()
    )
}

/// A running server and a browser-like client (keeps cookies, does not follow redirects).
pub struct TestApp {
    pub server: Server,
    pub url: String,
    pub client: reqwest::Client,
    pub data_dir: tempdir::TempDir,
    /// The test's database (none for [`TestApp::attach`]: its caller owns it); dropped after the
    /// server, with the `TestApp`.
    pub database: Option<TestDatabase>,
}

pub mod tempdir {
    /// A directory in the temp directory (reachable by the `postgres` user, for tests that
    /// run their own cluster in it), removed on drop.
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!(
                "hookvault-test-data-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&p).expect("temp dir");
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn config(options: PgConnectOptions, data_dir: &std::path::Path) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        public_url: None,
        capture_url: None,
        shared_capture_origin: false,
        data_dir: data_dir.to_path_buf(),
        database: Database::External(options),
        role: Role::All,
        max_body_bytes: 10 * 1024 * 1024,
        trusted_proxies: Vec::new(),
        secret_key: None,
        writer_tasks: 2,
        capture_quota_per_minute: None,
        max_connections: 8,
        capture_db_connections: 3,
        body_deadline: Duration::from_secs(30),
        body_budget_bytes: 256 * 1024 * 1024,
        connection_limits: Default::default(),
        max_streams_per_account: 10,
        // Tests replay to local servers on 127.0.0.1.
        private_targets: Some(hookvault_replay::guard::PrivateTargets::Allow),
        replay_timeout: Duration::from_secs(20),
        replay_workers: 2,
        replay_host_concurrency: 4,
        replay_account_concurrency: 2,
        search_share: hookvault_web::HeavyShare::default(),
        replay_host_rate: None,
        // Accounts (issue 13): mails to the log unless a test starts an SMTP sink.
        accounts: Default::default(),
        plans: Default::default(),
        plan_quotas: true,
        metrics_listen: None,
        billing: None,
    }
}

pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut ServeConfig)) -> TestApp {
        let data_dir = tempdir::TempDir::new();
        let database = fresh_database().await;
        let mut cfg = config(database.options(), &data_dir.0);
        tweak(&mut cfg);
        let server = Server::start(cfg).await.expect("server starts");
        let url = server.public_url.clone();
        TestApp {
            server,
            url,
            client: browser_client(),
            data_dir,
            database: Some(database),
        }
    }

    /// Wraps an already started server (its data dir is owned by the caller).
    pub fn attach(server: Server) -> TestApp {
        let url = server.public_url.clone();
        TestApp {
            server,
            url,
            client: browser_client(),
            data_dir: tempdir::TempDir::new(),
            database: None,
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// The CSRF token in a page's forms.
    pub async fn csrf(&self, path: &str) -> String {
        let html = self.get_html(path).await;
        extract_csrf(&html)
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.client
            .get(self.at(path))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body")
    }

    /// Submits a form with the page's CSRF token.
    pub async fn post_form(
        &self,
        path: &str,
        csrf_from: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = self.csrf(csrf_from).await;
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend_from_slice(fields);
        self.client
            .post(self.at(path))
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    pub async fn signup(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/signup",
            "/signup",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Signs up a new account with this client and returns an API token for it.
    pub async fn signup_with_token(&self, email: &str) -> String {
        let r = self.signup(email, "correct horse battery").await;
        assert_eq!(r.status(), 303, "sign-up redirects to /");
        self.token(email, "correct horse battery").await
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        let r = reqwest::Client::new()
            .post(self.at("/api/v1/tokens"))
            .basic_auth(email, Some(password))
            .json(&serde_json::json!({"name": "tests"}))
            .send()
            .await
            .expect("POST tokens");
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.expect("json");
        v["token"].as_str().expect("token").to_string()
    }

    /// Creates an endpoint through the API; returns (id, capture URL).
    pub async fn create_endpoint(&self, token: &str, name: &str) -> (String, String) {
        let r = reqwest::Client::new()
            .post(self.at("/api/v1/endpoints"))
            .bearer_auth(token)
            .json(&serde_json::json!({"name": name}))
            .send()
            .await
            .expect("POST endpoints");
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.expect("json");
        (
            v["id"].as_str().expect("id").to_string(),
            v["url"].as_str().expect("url").to_string(),
        )
    }

    pub async fn api_get(&self, token: &str, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.at(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }
}

pub fn extract_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_string()
}

/// The `Content-Security-Policy` every capture response carries.
pub const CAPTURE_CSP: &str = "sandbox; default-src 'none'; frame-ancestors 'none'";

/// Asserts that a capture response is inert in a browser: sandboxing CSP and `nosniff`.
pub fn assert_inert(headers: &reqwest::header::HeaderMap, what: &str) {
    assert_eq!(
        headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok()),
        Some(CAPTURE_CSP),
        "{what}: the capture response carries the sandboxing CSP"
    );
    assert_eq!(
        headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff"),
        "{what}: the capture response carries nosniff"
    );
}

/// [`assert_inert`] for a response read off the wire.
pub fn assert_inert_raw(r: &raw_http::RawResponse, what: &str) {
    assert_eq!(
        r.header("content-security-policy"),
        Some(CAPTURE_CSP),
        "{what}: the capture response carries the sandboxing CSP"
    );
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}: the capture response carries nosniff"
    );
}

impl TestApp {
    /// A server with a capture origin of its own: the dashboard at `http://127.0.0.1:PORT`,
    /// capture URLs at `http://localhost:PORT` (both names reach this one process, which routes
    /// by `Host`). The port is picked free first, since both URLs name it.
    pub async fn spawn_two_origins() -> TestApp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self::spawn_with(|c| {
            c.listen = format!("127.0.0.1:{port}").parse().expect("addr");
            c.public_url = Some(format!("http://127.0.0.1:{port}"));
            c.capture_url = Some(format!("http://localhost:{port}"));
        })
        .await
    }
}
