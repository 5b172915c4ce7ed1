//! The `hookvault serve` binary as its own process, for tests that measure the server from
//! outside (its memory) or need it apart from the test's own threads.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use hookvault_store::testing::TestDatabase;

use super::tempdir::TempDir;

/// A running `hookvault serve`, killed when dropped.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub _data: TempDir,
    /// Dropped after the process is killed.
    pub _database: TestDatabase,
}

impl ServerProcess {
    /// Starts the binary on 127.0.0.1:0 against a fresh database of the test server, with
    /// `args` added to `serve`.
    pub async fn start(args: &[&str]) -> ServerProcess {
        Self::start_with(args, &[], None).await.0
    }

    /// [`start`](Self::start) with environment variables, and, with `log` (a `HOOKVAULT_LOG`
    /// filter), every line the server logs collected instead of passed through.
    pub async fn start_with(
        args: &[&str],
        envs: &[(&str, &str)],
        log: Option<&str>,
    ) -> (ServerProcess, Arc<Mutex<String>>) {
        let data = TempDir::new();
        let database = super::fresh_database().await;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookvault"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data.0)
            .args(args)
            .env("DATABASE_URL", super::database_url(&database))
            .env("HOOKVAULT_LOG", log.unwrap_or("warn"))
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if log.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .kill_on_drop(true)
            .spawn()
            .expect("start hookvault serve");
        let logged = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let sink = logged.clone();
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut all = sink.lock().expect("log");
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the server starts within 60 s")
            .expect("read stdout")
            .expect("a start line");
        // "Hookvault is running: dashboard at http://127.0.0.1:PORT/ (listening on …)"
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("the dashboard URL in the start line")
            .trim_end_matches([',', '/'])
            .to_string();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        (
            ServerProcess {
                child,
                url,
                _data: data,
                _database: database,
            },
            logged,
        )
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The process's resident memory in bytes.
    pub fn rss(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS");
        kib * 1024
    }

    /// Signs up an account and returns an API token for it.
    pub async fn account(&self, email: &str) -> String {
        let client = super::browser_client();
        let page = client
            .get(self.at("/signup"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = super::extract_csrf(&page);
        let r = client
            .post(self.at("/signup"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", "correct horse battery"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "sign-up");
        let r = reqwest::Client::new()
            .post(self.at("/api/v1/tokens"))
            .basic_auth(email, Some("correct horse battery"))
            .json(&serde_json::json!({"name": "tests"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    /// Creates an endpoint; returns (id, capture URL).
    pub async fn endpoint(&self, token: &str, name: &str) -> (String, String) {
        let r = reqwest::Client::new()
            .post(self.at("/api/v1/endpoints"))
            .bearer_auth(token)
            .json(&serde_json::json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        (
            v["id"].as_str().unwrap().to_string(),
            v["url"].as_str().unwrap().to_string(),
        )
    }
}
