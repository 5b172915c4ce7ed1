//! More test helpers: a second browser (its own cookie jar) for tests with two accounts, API
//! calls with a bearer token, and direct looks into the test database.

use std::time::Duration;

use sqlx::Row;

use super::{browser_client, extract_csrf, TestApp};

/// The password every helper-created account uses.
pub const PASSWORD: &str = "correct horse battery";

/// A browser: a cookie-keeping client that does not follow redirects, on one server.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.at(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// The CSRF token in a page's forms.
    pub async fn csrf(&self, path: &str) -> String {
        extract_csrf(&self.get_html(path).await)
    }

    /// Submits a form with the given CSRF token (or none, with `None`).
    pub async fn post_form_with(
        &self,
        path: &str,
        csrf: Option<&str>,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = Vec::new();
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        form.extend_from_slice(fields);
        self.client
            .post(self.at(path))
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    /// Submits a form with the CSRF token of page `csrf_from`.
    pub async fn post_form(
        &self,
        path: &str,
        csrf_from: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = self.csrf(csrf_from).await;
        self.post_form_with(path, Some(&csrf), fields).await
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
}

/// The value of cookie `name` in a response's `Set-Cookie` headers, with its attributes.
pub fn set_cookie<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The `Location` header of a redirect.
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A client for API and capture calls: no cookies, no redirects, bounded in time.
pub fn api_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

impl TestApp {
    /// A new browser with its own cookies.
    pub fn browser(&self) -> Browser {
        Browser {
            client: browser_client(),
            base: self.url.clone(),
        }
    }

    /// The app's own client as a [`Browser`] (same cookies).
    pub fn own_browser(&self) -> Browser {
        Browser {
            client: self.client.clone(),
            base: self.url.clone(),
        }
    }

    /// Signs up `email` in a new browser; returns the browser (signed in) and an API token.
    pub async fn account(&self, email: &str) -> (Browser, String) {
        let b = self.browser();
        let r = b.signup(email, PASSWORD).await;
        assert_eq!(r.status(), 303, "sign-up of {email} redirects");
        let token = self.token(email, PASSWORD).await;
        (b, token)
    }

    /// An API request with a bearer token.
    pub fn api(&self, method: reqwest::Method, token: &str, path: &str) -> reqwest::RequestBuilder {
        api_client()
            .request(method, self.at(path))
            .bearer_auth(token)
    }

    /// `GET` an API path as JSON, asserting 200.
    pub async fn api_json(&self, token: &str, path: &str) -> serde_json::Value {
        let r = self.api_get(token, path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("json")
    }

    /// Number of captures stored in the whole test database.
    pub async fn stored_requests(&self) -> i64 {
        sqlx::query("SELECT count(*) AS n FROM requests")
            .fetch_one(&self.server.pool)
            .await
            .expect("count requests")
            .get::<i64, _>("n")
    }

    /// The request-target of a capture URL on this server (`/in/{token}`).
    pub fn capture_path(&self, capture_url: &str) -> String {
        capture_url
            .strip_prefix(&self.url)
            .unwrap_or_else(|| panic!("{capture_url} is not on {}", self.url))
            .to_string()
    }

    /// `Host` header value for raw requests to this server.
    pub fn host(&self) -> String {
        self.server.addr.to_string()
    }
}
