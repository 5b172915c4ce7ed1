//! The FastAPI app in `tests/receivers/official_verifiers.py`, which checks webhooks with the
//! providers' official libraries (stripe.Webhook.construct_event, standardwebhooks, slack_sdk)
//! and documented checks (GitHub, Shopify). It runs from the virtualenv that
//! `scripts/install-test-deps.sh` creates in `target/test-venv`.

use std::path::PathBuf;
use std::time::Duration;

/// Secrets the receiver verifies with.
pub const STRIPE_SECRET: &str = "whsec_dev_local_handler_secret";
pub const STANDARD_WEBHOOKS_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const GITHUB_SECRET: &str = "gh-dev-secret";
pub const SHOPIFY_SECRET: &str = "shopify-dev-secret";
pub const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// A running receiver; killed on drop.
pub struct OfficialReceiver {
    pub base: String,
    child: std::process::Child,
}

impl Drop for OfficialReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("HOOKVAULT_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python")
}

impl OfficialReceiver {
    /// Starts the receiver, or `None` (after printing why) when the virtualenv is missing and
    /// `HOOKVAULT_SKIP_OFFICIAL_TESTS=1`; without that variable a missing virtualenv fails.
    pub async fn start() -> Option<OfficialReceiver> {
        let python = python();
        if !python.exists() {
            if std::env::var("HOOKVAULT_SKIP_OFFICIAL_TESTS").as_deref() == Ok("1") {
                eprintln!(
                    "note: skipping official-verifier checks ({} missing)",
                    python.display()
                );
                return None;
            }
            panic!(
                "{} is missing: run scripts/test.sh (it installs the official verifiers), \
                 or set HOOKVAULT_SKIP_OFFICIAL_TESTS=1",
                python.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/receivers/official_verifiers.py");
        let child = std::process::Command::new(&python)
            .arg(script)
            .arg(port.to_string())
            .env("STRIPE_SECRET", STRIPE_SECRET)
            .env("STANDARD_WEBHOOKS_SECRET", STANDARD_WEBHOOKS_SECRET)
            .env("GITHUB_SECRET", GITHUB_SECRET)
            .env("SHOPIFY_SECRET", SHOPIFY_SECRET)
            .env("SLACK_SECRET", SLACK_SECRET)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the official verifier app");
        let receiver = OfficialReceiver {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        let what = "the official verifier app to start";
        super::wait::wait_until(what, Duration::from_secs(30), async || {
            reqwest::get(format!("{}/received", receiver.base))
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        Some(receiver)
    }

    /// The virtualenv's Python (it also has `jsonschema`).
    pub fn python(&self) -> PathBuf {
        python()
    }

    /// Event ids the `/audit/*` handlers have processed (first deliveries only).
    pub async fn received_audit_ids(&self) -> Vec<String> {
        let v: serde_json::Value = reqwest::get(format!("{}/audit/seen", self.base))
            .await
            .expect("GET /audit/seen")
            .json()
            .await
            .expect("json");
        v["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect()
    }

    /// Bodies received so far, in arrival order.
    pub async fn received(&self) -> Vec<Vec<u8>> {
        use base64::Engine;
        let v: serde_json::Value = reqwest::get(format!("{}/received", self.base))
            .await
            .expect("GET /received")
            .json()
            .await
            .expect("json");
        v["bodies"]
            .as_array()
            .expect("bodies")
            .iter()
            .map(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.as_str().expect("b64"))
                    .expect("b64")
            })
            .collect()
    }
}
