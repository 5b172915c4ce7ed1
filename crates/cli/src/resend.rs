//! `hookvault resend ID`: delivers a capture again to wherever the endpoint's running `hookvault
//! listen` forwards, through the server (a replay `{"to_cli":true}`: the listener receives it on
//! its stream, delivers it and reports the answer, which this command then prints). With no
//! listener connected the replay waits on the server (up to a day) for one to connect.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hookvault_core::api::{ErrorJson, ReplayJson, ReplayStateJson, ReplayToCliJson};
use hookvault_core::stored::ReplayStatus;

use crate::config;

/// What `hookvault resend` was asked to do.
pub struct ResendOptions {
    pub request_id: String,
    pub server: Option<String>,
    pub token: Option<String>,
    /// How long to wait for the listener's answer; zero = do not wait.
    pub wait: Duration,
}

/// How long a queued replay may go untaken before this command says it is waiting.
const QUIET: Duration = Duration::from_secs(2);

/// Queues the replay and, unless told not to wait, prints the local server's answer. Fails
/// (exit status 1) when the delivery failed or no answer came in time.
pub async fn resend(opts: ResendOptions) -> anyhow::Result<()> {
    let (server, token) = config::server_and_token(opts.server.as_deref(), opts.token.as_deref())?;
    let id = opts.request_id.trim();
    if id.is_empty() || id.contains('/') {
        bail!("expected a capture id (as shown on its page or by GET /api/v1/requests/{{id}})");
    }
    let api = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let resp = api
        .post(format!("{server}/api/v1/requests/{id}/replays"))
        .bearer_auth(&token)
        .json(&ReplayToCliJson { to_cli: true })
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let status = resp.status().as_u16();
    let replay = match status {
        202 => {
            resp.json::<ReplayStateJson>()
                .await
                .context("the server's answer has no replay id")?
                .id
        }
        401 => bail!("the server refused the token: run `hookvault login` again"),
        404 => bail!("no capture {id} on {server}"),
        _ => bail!(
            "the server refused the resend ({status}): {}",
            resp.json::<ErrorJson>()
                .await
                .map_or_else(|_| "no reason given".to_owned(), |e| e.error.message)
        ),
    };
    println!("Resending capture {id} through hookvault listen (replay {replay})");
    if opts.wait.is_zero() {
        return Ok(());
    }
    let started = Instant::now();
    let mut said_waiting = false;
    loop {
        let v: ReplayJson = api
            .get(format!("{server}/api/v1/replays/{replay}"))
            .bearer_auth(&token)
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?
            .error_for_status()?
            .json()
            .await?;
        match v.status {
            ReplayStatus::Succeeded => {
                println!("Delivered: {}", outcome(&v));
                return Ok(());
            }
            ReplayStatus::Failed => bail!("not delivered: {}", outcome(&v)),
            ReplayStatus::Queued if !said_waiting && started.elapsed() >= QUIET => {
                println!(
                    "Waiting for a hookvault listen on this endpoint to take it (the replay waits up to a day)"
                );
                said_waiting = true;
            }
            _ => {}
        }
        if started.elapsed() >= opts.wait {
            bail!(
                "no answer within {} s; the replay {replay} is still {} (see GET /api/v1/replays/{replay})",
                opts.wait.as_secs(),
                v.status.as_str()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `200 (12 ms) from http://localhost:8000/hooks`, or the error, from a finished replay.
fn outcome(replay: &ReplayJson) -> String {
    let what = match replay.attempts.last() {
        Some(a) => match (&a.error, a.status_code) {
            (Some(e), _) => format!("error: {e}"),
            (None, Some(code)) => format!("{code} ({} ms)", a.duration_ms.unwrap_or(0)),
            (None, None) => "no answer recorded".to_string(),
        },
        None => "no answer recorded".to_string(),
    };
    if replay.target_url.is_empty() {
        what
    } else {
        format!("{what} from {}", replay.target_url)
    }
}
