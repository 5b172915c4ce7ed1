//! The Stripe API calls billing needs: create a Checkout Session and a billing-portal session,
//! read, list and cancel subscriptions. Form-encoded requests, the secret key as a bearer token
//! (never logged), a deadline on every call, and Stripe's own error message kept in words.

use std::time::Duration;

use serde_json::Value;

/// Connecting to Stripe may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole call (connect, send, read the answer) may take this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest answer read from Stripe.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why a Stripe call failed, in words a user can read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error (its `error.message`).
    #[error("Stripe refused the request: {message}")]
    Api {
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("Stripe could not be reached: {0}")]
    Transport(String),
    #[error("Stripe's answer could not be read: {0}")]
    Answer(String),
    #[error("the Stripe settings cannot be used: {0}")]
    Setup(String),
}

/// A subscription as read from the API.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub status: String,
    pub customer: Option<String>,
}

/// The Stripe API client. Cheap to clone.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    /// Sent as `Authorization: Bearer …`; never logged.
    key: std::sync::Arc<str>,
}

/// Ids put into a path: Stripe's are letters, digits and `_`.
fn path_id(id: &str) -> Result<&str, StripeError> {
    if !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(id)
    } else {
        Err(StripeError::Answer(format!("{id:?} is not a Stripe id")))
    }
}

impl StripeClient {
    pub fn new(base: &str, key: &str) -> Result<StripeClient, StripeError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Hookvault/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StripeError::Setup(e.to_string()))?;
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(StripeError::Setup(
                "--stripe-api-base must be an http:// or https:// URL".into(),
            ));
        }
        Ok(StripeClient {
            http,
            base,
            key: key.into(),
        })
    }

    /// One call; the answer's JSON, or Stripe's error message.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, StripeError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&*self.key);
        if !form.is_empty() {
            req = req.form(form);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| StripeError::Transport(transport_words(&e)))?;
        let status = resp.status();
        let body = read_limited(resp).await?;
        let json: Value = serde_json::from_slice(&body).map_err(|_| {
            StripeError::Answer(format!(
                "HTTP {} with a body that is not JSON",
                status.as_u16()
            ))
        })?;
        if status.is_success() {
            return Ok(json);
        }
        let message = json
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_string();
        Err(StripeError::Api {
            status: status.as_u16(),
            code: json
                .pointer("/error/code")
                .and_then(Value::as_str)
                .map(str::to_string),
            message,
        })
    }

    /// Creates a Checkout Session for the subscription and returns its `url`.
    pub async fn create_checkout_session(
        &self,
        checkout: &Checkout<'_>,
    ) -> Result<String, StripeError> {
        let mut form = vec![
            ("mode", "subscription"),
            ("line_items[0][price]", checkout.price_id),
            ("line_items[0][quantity]", "1"),
            ("client_reference_id", checkout.account_id),
            (
                "subscription_data[metadata][hookvault_account_id]",
                checkout.account_id,
            ),
            ("success_url", checkout.success_url),
            ("cancel_url", checkout.cancel_url),
        ];
        // Stripe takes one or the other: a returning customer keeps its customer object.
        match checkout.customer {
            Some(customer) => form.push(("customer", customer)),
            None => form.push(("customer_email", checkout.email)),
        }
        let session = self
            .call(reqwest::Method::POST, "/v1/checkout/sessions", &form)
            .await?;
        url_of(&session)
    }

    /// Creates a billing-portal session for the customer and returns its `url`.
    pub async fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, StripeError> {
        let session = self
            .call(
                reqwest::Method::POST,
                "/v1/billing_portal/sessions",
                &[("customer", customer), ("return_url", return_url)],
            )
            .await?;
        url_of(&session)
    }

    /// Reads a subscription's current state.
    pub async fn retrieve_subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        let path = format!("/v1/subscriptions/{}", path_id(id)?);
        let s = self.call(reqwest::Method::GET, &path, &[]).await?;
        let status = s
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| StripeError::Answer("the subscription has no status".into()))?;
        let customer = match s.get("customer") {
            Some(Value::String(c)) => Some(c.clone()),
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        Ok(Subscription {
            status: status.to_string(),
            customer,
        })
    }

    /// The customer's subscriptions (`GET /v1/subscriptions?customer=…&status=all`, the first
    /// 100: more than that for one customer is not a case billing creates), as (id, status).
    pub async fn list_subscriptions(
        &self,
        customer: &str,
    ) -> Result<Vec<(String, String)>, StripeError> {
        let path = format!(
            "/v1/subscriptions?customer={}&status=all&limit=100",
            path_id(customer)?
        );
        let list = self.call(reqwest::Method::GET, &path, &[]).await?;
        let data = list
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| StripeError::Answer("the list has no data".into()))?;
        Ok(data
            .iter()
            .filter_map(|s| {
                let id = s.get("id").and_then(Value::as_str)?;
                let status = s.get("status").and_then(Value::as_str)?;
                Some((id.to_string(), status.to_string()))
            })
            .collect())
    }

    /// Cancels a subscription now. One Stripe no longer knows counts as cancelled.
    pub async fn cancel_subscription(&self, id: &str) -> Result<(), StripeError> {
        let path = format!("/v1/subscriptions/{}", path_id(id)?);
        match self.call(reqwest::Method::DELETE, &path, &[]).await {
            Ok(_) => Ok(()),
            Err(StripeError::Api { code: Some(c), .. }) if c == "resource_missing" => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// What a Checkout Session is created with.
pub struct Checkout<'a> {
    pub price_id: &'a str,
    pub account_id: &'a str,
    pub email: &'a str,
    pub customer: Option<&'a str>,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

fn url_of(session: &Value) -> Result<String, StripeError> {
    session
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_string)
        .ok_or_else(|| StripeError::Answer("the session has no url".into()))
}

/// A transport failure in words, without the request URL.
fn transport_words(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "the connection failed".into()
    } else {
        "the request failed".into()
    }
}

async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, StripeError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| StripeError::Transport(transport_words(&e)))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(StripeError::Answer("the answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
