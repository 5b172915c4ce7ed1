//! `hookvault listen`: streams an endpoint's new captures (and the replays the dashboard hands
//! to the CLI) from the server, posts each one byte for byte to a local URL — re-signed with the
//! developer's own secret when asked, but only when the server found the capture's signature
//! valid (or with `--sign-unverified`) — prints one line per delivery, and reports what the
//! local server answered. The last delivered event id is remembered on disk, so a restart catches up
//! exactly once, in order, on what was captured while the laptop was away.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use hookvault_core::api::{CliReplayJson, DeliveryJson, RequestJson};
use hookvault_core::search::wildcard_match as matches;
use hookvault_core::signing::{self, Scheme, SignatureStatus};

use crate::config;
use crate::endpoint;
use crate::sse::{Parser, SseEvent};

/// What `hookvault listen` was asked to do.
#[derive(Clone)]
pub struct ListenOptions {
    pub server: Option<String>,
    pub token: Option<String>,
    pub endpoint: Option<String>,
    /// `URL` or `PATTERN=URL` (e.g. `invoice.*=http://localhost:8000/invoices`); the first
    /// matching route wins, a plain URL matches everything.
    pub forward_to: Vec<String>,
    /// Event type patterns (`*` wildcard); empty = every event.
    pub events: Vec<String>,
    pub sign: Option<Scheme>,
    pub secret: Option<String>,
    /// Re-sign every capture, not only those whose signature the server found `valid` when it
    /// captured them.
    pub sign_unverified: bool,
    /// How many times a failed local delivery (connection error, timeout, 5xx) is tried again;
    /// 0 = never (`--no-retry`).
    pub retries: u32,
    /// The wait before the first retry; each further retry waits twice as long (at most
    /// [`MAX_RETRY_DELAY`]).
    pub retry_delay: Duration,
}

/// The longest wait between two tries of one local delivery.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// One forwarding rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub pattern: Option<String>,
    pub url: String,
}

/// Parses `--forward-to` values.
pub fn parse_routes(values: &[String]) -> anyhow::Result<Vec<Route>> {
    if values.is_empty() {
        bail!("--forward-to is required, e.g. --forward-to http://localhost:8000/webhooks");
    }
    values
        .iter()
        .map(|v| {
            let (pattern, url) = match v.find("=http://").or_else(|| v.find("=https://")) {
                Some(i) => (Some(v[..i].to_string()), v[i + 1..].to_string()),
                None => (None, v.clone()),
            };
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("--forward-to {v}: expected an http:// or https:// URL (optionally PATTERN=URL)");
            }
            Ok(Route { pattern, url })
        })
        .collect()
}

/// Runs until Ctrl-C.
pub async fn listen(opts: ListenOptions) -> anyhow::Result<()> {
    let (server, token) = config::server_and_token(opts.server.as_deref(), opts.token.as_deref())?;
    let routes = parse_routes(&opts.forward_to)?;
    if opts.sign.is_some_and(Scheme::signs) && opts.secret.as_deref().unwrap_or("").is_empty() {
        bail!("--sign needs --secret (the signing secret your local handler verifies with)");
    }
    let api = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let chosen = endpoint::resolve(&api, &server, &token, opts.endpoint.as_deref()).await?;
    for line in chosen.lines() {
        println!("{line}");
    }
    let endpoint = chosen.endpoint;
    let endpoint_id = endpoint.id.to_string();
    println!("Ready! Capture URL: {}", endpoint.url);
    for r in &routes {
        match &r.pattern {
            Some(p) => println!("Forwarding {p} events to {}", r.url),
            None => println!("Forwarding events to {}", r.url),
        }
    }
    if opts.retries == 0 {
        println!("A failed local delivery is not retried (--no-retry)");
    } else {
        println!(
            "A failed local delivery (connection error, timeout, 5xx) is retried up to {} times, waiting {} ms, then twice as long each time",
            opts.retries,
            opts.retry_delay.as_millis()
        );
    }
    if let Some(s) = opts.sign.filter(|s| s.signs()) {
        let checked = endpoint::checks_signatures(&api, &server, &token, &endpoint_id).await?;
        if opts.sign_unverified {
            println!("Re-signing every delivery with scheme {s} (--sign-unverified), whether or not its signature was valid at capture");
        } else {
            println!("Re-signing deliveries with scheme {s} when their signature was valid at capture; others are forwarded without a signature");
        }
        if !checked {
            eprintln!(
                "Warning: endpoint {:?} has no signature check configured, so no capture counts as verified{}. \
                 Set a signing scheme and secret in the endpoint's settings.",
                endpoint.name,
                if opts.sign_unverified {
                    ": --sign-unverified gives anything sent to the capture URL a valid signature for your handler"
                } else {
                    " and deliveries are forwarded without a fresh signature (--sign-unverified signs them anyway)"
                }
            );
        }
    } else if let Some(s) = opts.sign {
        println!("Forwarding with scheme {s}");
    }
    println!("Press Ctrl-C to stop.");

    let local = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    // Ctrl-C stops the CLI between deliveries, never in the middle of one: a delivery that
    // reached the local server is always remembered. (It does cut short the wait before a
    // retry: the last answer is then reported.)
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    let listener = Listener {
        api,
        local,
        server,
        token,
        endpoint_id,
        routes,
        opts,
        stop: stop.clone(),
    };
    listener.run(stop).await?;
    println!("Stopped.");
    Ok(())
}

struct Listener {
    api: reqwest::Client,
    local: reqwest::Client,
    server: String,
    token: String,
    endpoint_id: String,
    routes: Vec<Route>,
    opts: ListenOptions,
    /// Turns true on Ctrl-C.
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Listener {
    /// Streams until `stop` turns true, reconnecting with backoff.
    async fn run(&self, mut stop: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<()> {
        let key = config::state_key(&self.server, &self.endpoint_id);
        let mut backoff = Duration::from_millis(500);
        loop {
            let last = config::load_state()?.last_event_ids.get(&key).cloned();
            match self.stream_once(&key, last, &mut stop).await {
                Ok(Ended::Stopped) => return Ok(()),
                Ok(Ended::Refused) => bail!(
                    "the server refused the token (revoked, or signed out): run `hookvault login` again"
                ),
                Ok(Ended::Closed) => {
                    eprintln!("the server closed the stream; reconnecting");
                    backoff = Duration::from_millis(500);
                }
                Err(e) => eprintln!(
                    "connection lost: {e:#}; reconnecting in {} ms",
                    backoff.as_millis()
                ),
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// One connection: delivers events until the stream ends or `stop` turns true (checked
    /// only between deliveries).
    async fn stream_once(
        &self,
        key: &str,
        last: Option<String>,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Ended> {
        let forward: Vec<&str> = self.routes.iter().map(|r| r.url.as_str()).collect();
        let mut req = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/endpoints/{}/stream",
                self.server, self.endpoint_id
            ))
            .query(&[("client", "cli"), ("forward_to", &forward.join(" "))])
            .bearer_auth(&self.token)
            .header("accept", "text/event-stream");
        if let Some(id) = last {
            req = req.header("last-event-id", id);
        }
        let resp = tokio::select! {
            r = req.send() => r?,
            _ = stop.wait_for(|s| *s) => return Ok(Ended::Stopped),
        };
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Ok(Ended::Refused);
        }
        if !resp.status().is_success() {
            bail!("stream refused: {}", resp.status());
        }
        let mut body = resp.bytes_stream();
        let mut parser = Parser::default();
        loop {
            // A silent connection (no heartbeat for 45 s) is treated as lost.
            let chunk = tokio::select! {
                c = tokio::time::timeout(Duration::from_secs(45), body.next()) => {
                    c.context("no heartbeat from the server for 45 s")?
                }
                _ = stop.wait_for(|s| *s) => return Ok(Ended::Stopped),
            };
            let Some(chunk) = chunk else {
                return Ok(Ended::Closed);
            };
            for ev in parser.push(&chunk?) {
                self.handle(key, ev).await?;
            }
        }
    }

    async fn handle(&self, key: &str, ev: SseEvent) -> anyhow::Result<()> {
        match ev.event.as_str() {
            "request" => {
                let request: RequestJson = serde_json::from_str(&ev.data)?;
                let result = self.deliver(&request).await;
                // Remember the position as soon as the local server has it, before anything
                // else can fail or be interrupted: a restart must not deliver it again.
                remember(key, ev.id.as_deref())?;
                if let Some(result) = result {
                    println!("{}", result.line);
                    let id = request.id;
                    self.report(&format!("/api/v1/requests/{id}/deliveries"), &result)
                        .await;
                }
            }
            "replay" => {
                let msg: CliReplayJson = serde_json::from_str(&ev.data)?;
                let result = self.deliver(&msg.request).await.unwrap_or_else(|| {
                    Delivery::failed("no --forward-to route matches this event", String::new())
                });
                let id = msg.replay_id;
                if !result.line.is_empty() {
                    // The id names the replay asked from the dashboard, the API or
                    // `hookvault resend`.
                    println!("{}  [replay {id}]", result.line);
                }
                self.report(&format!("/api/v1/replays/{id}/result"), &result)
                    .await;
            }
            // The stream's opening position (`hello`) and anything else with an id.
            _ => remember(key, ev.id.as_deref())?,
        }
        Ok(())
    }

    /// Forwards one captured request; `None` when filtered out.
    async fn deliver(&self, request: &RequestJson) -> Option<Delivery> {
        let event_type = request.event_type.as_deref().unwrap_or("");
        let event_id = request.event_id.as_deref().unwrap_or("");
        if !self.opts.events.is_empty() && !self.opts.events.iter().any(|p| matches(p, event_type))
        {
            return None;
        }
        let route = self.routes.iter().find(|r| match &r.pattern {
            Some(p) => matches(p, event_type),
            None => true,
        })?;
        let method = request.method.as_str();
        let mut headers = request.raw_headers();
        let now = time::OffsetDateTime::now_utc();
        let label = [event_type, event_id]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let clock = clock_now();
        let body = match self.body_of(request).await {
            Ok(body) => body,
            Err(e) => {
                let reason = format!("could not fetch the body from the server: {e:#}");
                let mut d = Delivery::failed(&reason, route.url.clone());
                d.line = format!("{clock}  {method}  {label}  →  error: {reason}");
                return Some(d);
            }
        };
        // Only a capture whose signature the server found valid is vouched for: signing anything
        // else would hand a forged or unchecked request a signature the local handler trusts.
        let mut unsigned_note = None;
        if let Some(scheme) = self.opts.sign.filter(|s| s.signs()) {
            let status = request.signature.status;
            if status != SignatureStatus::Valid && !self.opts.sign_unverified {
                let owned = signing::signature_header_names(scheme);
                headers.retain(|h| !owned.iter().any(|n| h.name.eq_ignore_ascii_case(n)));
                unsigned_note = Some(format!(
                    "  [not re-signed: signature {} at capture]",
                    status.as_str().replace('_', " ")
                ));
            }
        }
        if let (Some(scheme), None) = (self.opts.sign, &unsigned_note) {
            match signing::resign(
                scheme,
                &headers,
                &body,
                self.opts.secret.as_deref().unwrap_or(""),
                now.unix_timestamp(),
            ) {
                Ok(h) => headers = h,
                Err(e) => {
                    let mut d = Delivery::failed(&e.to_string(), route.url.clone());
                    d.line = format!("{clock}  {method}  {label}  →  error: {e}");
                    return Some(d);
                }
            }
        }
        let note = unsigned_note.as_deref().unwrap_or("");
        let catch_up = if request.catch_up {
            "  [catch-up: captured while offline]"
        } else {
            ""
        };
        // A failed delivery (refused, timed out, 5xx) is tried again after a growing wait;
        // each try gets a line, and the last one says how many it took.
        let tries = self.opts.retries.saturating_add(1);
        let mut delay = self.opts.retry_delay;
        let mut stop = self.stop.clone();
        let mut attempt = 1;
        loop {
            if attempt > 1 {
                // A retry carries a signature made now, so a long backoff cannot make it stale.
                if let (Some(scheme), None) = (self.opts.sign, &unsigned_note) {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    let secret = self.opts.secret.as_deref().unwrap_or("");
                    if let Ok(h) = signing::resign(scheme, &headers, &body, secret, now) {
                        headers = h;
                    }
                }
            }
            let mut d = self.send_once(method, &route.url, &headers, &body).await;
            let outcome = format!("{}{note}{catch_up}", d.outcome());
            let clock = clock_now();
            if d.retryable() && attempt < tries && !*stop.borrow() {
                println!(
                    "{clock}  {method}  {label}  →  {outcome}  [try {attempt} of {tries} failed; retrying in {} ms]",
                    delay.as_millis()
                );
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
                attempt += 1;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
                continue;
            }
            let tail = match (attempt, d.succeeded()) {
                (1, _) => String::new(),
                (n, true) => format!("  [delivered on try {n} of {tries}]"),
                (n, false) => format!("  [gave up after {n} tries]"),
            };
            d.line = format!("{clock}  {method}  {label}  →  {outcome}{tail}");
            return Some(d);
        }
    }

    /// One try of a local delivery.
    async fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[hookvault_core::headers::RawHeader],
        body: &[u8],
    ) -> Delivery {
        let started = Instant::now();
        let mut req = self
            .local
            .request(method.parse().unwrap_or(reqwest::Method::POST), url);
        for h in headers
            .iter()
            .filter(|h| !hookvault_core::headers::is_hop_by_hop(&h.name))
        {
            req = req.header(h.name.as_str(), h.value.as_slice());
        }
        match req.body(body.to_vec()).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let response_headers: Vec<(String, String)> = resp
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let bytes = resp.bytes().await.unwrap_or_default();
                let excerpt =
                    String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).into_owned();
                Delivery {
                    line: String::new(),
                    forward_to: url.to_string(),
                    status_code: Some(status),
                    duration_ms: started.elapsed().as_millis() as u64,
                    response_headers,
                    response_body: excerpt,
                    error: None,
                }
            }
            Err(e) => {
                let mut d = Delivery::failed(&describe(&e), url.to_string());
                d.duration_ms = started.elapsed().as_millis() as u64;
                d
            }
        }
    }

    /// The captured body: inline (`body_base64`), or fetched from `body_url` when the server
    /// sends a large body by reference.
    async fn body_of(&self, request: &RequestJson) -> anyhow::Result<Vec<u8>> {
        if let Some(body) = request.inline_body() {
            return Ok(body?);
        }
        let Some(path) = request.body_url.as_deref() else {
            return Ok(Vec::new());
        };
        let resp = self
            .api
            .get(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?;
        Ok(resp.bytes().await?.to_vec())
    }

    async fn report(&self, path: &str, d: &Delivery) {
        let body = DeliveryJson {
            forward_to: d.forward_to.clone(),
            status_code: d.status_code,
            duration_ms: d.duration_ms,
            response_headers: d.response_headers.clone(),
            response_body: d.response_body.clone(),
            error: d.error.clone(),
        };
        let sent = self
            .api
            .post(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await;
        if let Err(e) = sent.and_then(|r| r.error_for_status()) {
            eprintln!("could not report the result to the server: {e}");
        }
    }
}

/// How a stream connection ended without an error.
enum Ended {
    /// Ctrl-C.
    Stopped,
    /// The server closed it (e.g. restarting, or the token was revoked); reconnect.
    Closed,
    /// The server no longer accepts the token: stop.
    Refused,
}

/// Stores the stream position `id` (if the event has one) for this endpoint.
fn remember(key: &str, id: Option<&str>) -> anyhow::Result<()> {
    if let Some(id) = id.filter(|i| !i.is_empty()) {
        let mut state = config::load_state()?;
        state.last_event_ids.insert(key.to_string(), id.to_string());
        config::save_state(&state)?;
    }
    Ok(())
}

/// What the local server answered.
struct Delivery {
    /// The line printed for it.
    line: String,
    forward_to: String,
    status_code: Option<u16>,
    duration_ms: u64,
    response_headers: Vec<(String, String)>,
    response_body: String,
    error: Option<String>,
}

impl Delivery {
    /// `200 (34 ms)`, or `error: reason`.
    fn outcome(&self) -> String {
        match (&self.error, self.status_code) {
            (Some(e), _) => format!("error: {e}"),
            (None, Some(status)) => format!("{status} ({} ms)", self.duration_ms),
            (None, None) => "error: no answer".to_string(),
        }
    }

    fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|s| (200..300).contains(&s))
    }

    /// Worth trying again: the local server was not reached, did not answer in time, or
    /// answered 5xx (a 4xx is its considered answer).
    fn retryable(&self) -> bool {
        self.error.is_some() || self.status_code.is_some_and(|s| s >= 500)
    }

    fn failed(reason: &str, forward_to: String) -> Self {
        Delivery {
            line: String::new(),
            forward_to,
            status_code: None,
            duration_ms: 0,
            response_headers: Vec::new(),
            response_body: String::new(),
            error: Some(reason.to_string()),
        }
    }
}

/// The local time of day, as each delivery line starts.
fn clock_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second())
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out after 30 s".into()
    } else if e.is_connect() {
        "connection refused (is your local server running?)".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_to_accepts_a_url_or_a_pattern_and_url() {
        let routes = parse_routes(&[
            "invoice.*=http://localhost:8000/invoices".into(),
            "http://localhost:8000/hooks?x=1".into(),
        ])
        .unwrap();
        assert_eq!(routes[0].pattern.as_deref(), Some("invoice.*"));
        assert_eq!(routes[0].url, "http://localhost:8000/invoices");
        assert_eq!(routes[1].pattern, None);
        assert_eq!(routes[1].url, "http://localhost:8000/hooks?x=1");
        assert!(parse_routes(&["localhost:8000".into()]).is_err());
        assert!(parse_routes(&[]).is_err());
    }
}
