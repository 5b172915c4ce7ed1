//! A real SMTP server for the mail tests: `tests/receivers/smtp_sink.py` (Python's `aiosmtpd`
//! from `target/test-venv`) on 127.0.0.1, port 0. Delivered messages are read back decoded.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One delivered message.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

impl Mail {
    /// The first link in the body that starts with `prefix` (e.g. `http://…/verify-email?token=`).
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.body.find(prefix)?;
        let rest = &self.body[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }
}

/// The running sink; killed on drop.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    child: std::process::Child,
}

impl Drop for SmtpSink {
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

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let python = python();
        assert!(
            python.exists(),
            "{} is missing: run scripts/install-test-deps.sh (it installs aiosmtpd)",
            python.display()
        );
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/receivers/smtp_sink.py");
        let mut child = std::process::Command::new(&python)
            .arg(script)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the SMTP sink");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("the SMTP sink says its port")
            .expect("read");
        let port: u16 = first
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the SMTP sink: {first}"));
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sink = mails.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(mail) = serde_json::from_str::<Mail>(&line) {
                    sink.lock().expect("lock").push(mail);
                }
            }
        });
        SmtpSink { port, mails, child }
    }

    /// The `--smtp-url` for this sink.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message delivered to `to` so far.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.mails
            .lock()
            .expect("lock")
            .iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .cloned()
            .collect()
    }

    /// Waits (up to 10 s) until `to` has received `count` messages; returns them all.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Mail> {
        let what = format!("{count} mails to {to}");
        super::wait::wait_for(&what, Duration::from_secs(10), async || {
            let got = self.to(to);
            match got.len() >= count {
                true => Ok(got),
                false => Err(format!("{} received", got.len())),
            }
        })
        .await
    }

    /// The latest message to `to`, waiting for the `count`-th.
    pub async fn nth(&self, to: &str, count: usize) -> Mail {
        self.wait_for(to, count)
            .await
            .into_iter()
            .nth(count - 1)
            .expect("mail")
    }
}
