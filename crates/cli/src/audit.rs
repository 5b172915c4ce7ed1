//! `hookvault audit`: checks a webhook handler against the production checklist by sending it
//! nine probes built from one event (a capture, a fixture file or a built-in sample), and prints
//! a scorecard (or the report as JSON with `--json`). Runs on the developer's machine, so it
//! reaches `localhost`; no Hookvault server is needed except to fetch a capture.
//!
//! The probes and their verdicts live in `hookvault_core::audit`, shared with the dashboard;
//! this module supplies the event and a [`Transport`] over a plain HTTP client that sends to the
//! target URL only, follows no redirects and uses no proxy.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use hookvault_core::audit::{
    self, Audit, AuditEvent, EventSource, ProbeError, ProbeRequest, ProbeResponse, Transport,
};
use hookvault_core::signing::Scheme;

use crate::config;

/// What `hookvault audit` was asked to do. (No `Debug`: it holds the secret and the token.)
#[derive(Clone)]
pub struct AuditOptions {
    /// The handler's URL.
    pub target: String,
    pub sign: Scheme,
    /// The secret the handler verifies with.
    pub secret: String,
    /// Capture id (needs `hookvault login` or `--token`).
    pub from_capture: Option<String>,
    /// A capture's fixture download.
    pub from_file: Option<PathBuf>,
    /// `provider:event` (e.g. `stripe:invoice.paid`); the default is the scheme's sample.
    pub sample: Option<String>,
    /// Print the report as JSON instead of the scorecard.
    pub json: bool,
    /// Pause between two probes.
    pub spacing: Duration,
    /// Longest wait for one answer.
    pub timeout: Duration,
    pub server: Option<String>,
    pub token: Option<String>,
}

/// Returned (as an error) when a must-pass probe failed: the exit status is 1 and the scorecard
/// has already said why.
#[derive(Debug, thiserror::Error)]
#[error("a must-pass probe failed")]
pub struct MustPassFailed;

/// Context of every error that kept the audit from running (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("the audit could not run")]
pub struct CouldNotRun;

/// The exit status for an error returned by [`command`]: 1 when a must-pass probe failed, 2 when
/// the audit could not run; `None` for other errors.
pub fn exit_code(e: &anyhow::Error) -> Option<std::process::ExitCode> {
    if e.is::<MustPassFailed>() {
        Some(std::process::ExitCode::from(1))
    } else if e.is::<CouldNotRun>() {
        Some(std::process::ExitCode::from(2))
    } else {
        None
    }
}

/// Runs the audit and prints the result; `Err(MustPassFailed)` when a must-pass probe failed.
pub async fn command(opts: AuditOptions) -> anyhow::Result<()> {
    let (audit, target) = prepare(&opts).await.context(CouldNotRun)?;
    let transport = HttpTransport::new(target.clone(), opts.timeout).context(CouldNotRun)?;
    let spacing_ms = u64::try_from(opts.spacing.as_millis()).unwrap_or(u64::MAX);
    let said = audit::announcement(&audit, target.as_str(), spacing_ms);
    // With --json, stdout carries the report alone.
    if opts.json {
        eprintln!("{said}");
    } else {
        println!("{said}\n");
    }
    let json = opts.json;
    let report = audit::run(&audit, target.as_str(), &transport, opts.spacing, |r| {
        if !json {
            for line in audit::probe_lines(r) {
                println!("{line}");
            }
        }
    })
    .await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!();
        for note in &report.notes {
            println!("{note}");
        }
        println!("{}", audit::summary_line(&report));
    }
    if report.passed {
        Ok(())
    } else {
        Err(MustPassFailed.into())
    }
}

/// Checks the options and builds the audit.
async fn prepare(opts: &AuditOptions) -> anyhow::Result<(Audit, reqwest::Url)> {
    if !opts.sign.signs() {
        return Err(audit::AuditError::NotSigning(opts.sign).into());
    }
    let target = reqwest::Url::parse(&opts.target)
        .with_context(|| format!("--target {:?} is not a URL", opts.target))?;
    if !matches!(target.scheme(), "http" | "https") || target.host_str().is_none() {
        bail!("--target must be an http:// or https:// URL with a host");
    }
    let sources = [
        opts.from_capture.is_some(),
        opts.from_file.is_some(),
        opts.sample.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() > 1 {
        bail!("choose one of --from-capture, --from-file and --sample");
    }
    let (event, source) = if let Some(id) = &opts.from_capture {
        (
            fetch_capture(opts, id).await?,
            EventSource::Capture(id.clone()),
        )
    } else if let Some(path) = &opts.from_file {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let event =
            AuditEvent::from_file(&text).with_context(|| format!("reading {}", path.display()))?;
        (event, EventSource::File(path.display().to_string()))
    } else {
        let now = unix_now();
        match &opts.sample {
            Some(name) => (
                audit::samples::sample(name, now)?,
                EventSource::Sample(name.clone()),
            ),
            None => {
                let event = audit::samples::sample_for(opts.sign, now)
                    .with_context(|| format!("no built-in sample is signed with {}", opts.sign))?;
                let name = audit::samples::SAMPLES
                    .iter()
                    .find(|(_, s)| *s == opts.sign)
                    .map_or("", |(n, _)| n);
                (event, EventSource::Sample(name.to_owned()))
            }
        }
    };
    let audit = Audit::new(opts.sign, &opts.secret, event, source)?;
    Ok((audit, target))
}

/// Fetches a capture from the Hookvault server the user logged in to.
async fn fetch_capture(opts: &AuditOptions, id: &str) -> anyhow::Result<AuditEvent> {
    let stored = config::load_credentials()?;
    let server = opts
        .server
        .clone()
        .or_else(|| stored.as_ref().map(|c| c.server.clone()))
        .unwrap_or_else(|| config::DEFAULT_SERVER.to_string())
        .trim_end_matches('/')
        .to_string();
    let token = opts
        .token
        .clone()
        .or_else(|| stored.as_ref().map(|c| c.token.clone()))
        .context("--from-capture needs a login: run `hookvault login` or pass --token")?;
    let resp = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?
        .get(format!("{server}/api/v1/requests/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    match resp.status().as_u16() {
        401 => bail!("the server refused the token: run `hookvault login` again"),
        404 => bail!("no capture {id} on {server}"),
        s if s >= 400 => {
            // The server's one-line reason (an expired capture says when and why).
            let reason = resp
                .json::<hookvault_core::api::ErrorJson>()
                .await
                .map_or_else(|_| format!("the server answered {s}"), |e| e.error.message);
            bail!("capture {id}: {reason}")
        }
        _ => {}
    }
    let detail: hookvault_core::api::RequestDetailJson = resp
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("capture {id}: the server's answer is not a capture"))?;
    Ok(AuditEvent::from_request(&detail.request)?)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Sends probes to one URL with a plain client: no redirects, no proxy, a time limit.
struct HttpTransport {
    target: reqwest::Url,
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpTransport {
    fn new(target: reqwest::Url, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .build()?;
        Ok(HttpTransport {
            target,
            client,
            timeout,
        })
    }

    async fn exchange(&self, request: ProbeRequest) -> Result<ProbeResponse, String> {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut req = self.client.request(method, self.target.clone());
        for h in request
            .headers
            .iter()
            .filter(|h| !hookvault_core::headers::is_hop_by_hop(&h.name))
        {
            req = req.header(h.name.as_str(), h.value.as_slice());
        }
        let started = Instant::now();
        let resp = req
            .body(request.body)
            .send()
            .await
            .map_err(|e| self.describe(&e))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| self.describe(&e))?;
        Ok(ProbeResponse {
            status,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            body_excerpt: String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).into_owned(),
        })
    }

    fn describe(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            format!("timed out after {} s", self.timeout.as_secs())
        } else if e.is_connect() {
            format!(
                "could not connect to {} (is the handler running?)",
                self.target.host_str().unwrap_or("the target")
            )
        } else if e.is_builder() {
            format!("could not build the request: {e}")
        } else {
            e.to_string()
        }
    }
}

impl Transport for HttpTransport {
    async fn send(&self, request: ProbeRequest) -> Result<ProbeResponse, ProbeError> {
        let started = Instant::now();
        self.exchange(request).await.map_err(|message| ProbeError {
            message,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    async fn pause(&self, pause: Duration) {
        tokio::time::sleep(pause).await;
    }

    fn now(&self) -> i64 {
        unix_now()
    }
}
