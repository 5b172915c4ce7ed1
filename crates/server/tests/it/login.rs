//! `hookvault login` and `hookvault logout`, the real binary against a spawned server.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use crate::common::TestApp;

fn hookvault(config_dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookvault"))
        .args(args)
        .env("HOOKVAULT_CONFIG_DIR", config_dir)
        .env_remove("HOOKVAULT_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hookvault");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn login_stores_a_working_token_readable_only_by_the_user_and_logout_revokes_and_removes_it()
{
    let app = TestApp::spawn().await;
    let r = app
        .signup("cli-login@example.com", "correct horse battery")
        .await;
    assert_eq!(r.status(), 303);
    let dir = crate::common::tempdir::TempDir::new();
    let url = app.url.clone();

    let out = tokio::task::spawn_blocking({
        let dir = dir.0.clone();
        let url = url.clone();
        move || {
            hookvault(
                &dir,
                &["login", "--server", &url],
                "cli-login@example.com\ncorrect horse battery\n",
            )
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "login succeeds: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("Logged in to {url} as cli-login@example.com")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("correct horse"),
        "the password is never printed"
    );

    let path = dir.0.join("config.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token file is readable by its owner only");
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let token = stored["token"].as_str().unwrap();
    assert_eq!(
        app.api_get(token, "/api/v1/endpoints").await.status(),
        200,
        "the stored token works"
    );

    // A wrong password stores nothing and says why.
    let other = crate::common::tempdir::TempDir::new();
    let out = tokio::task::spawn_blocking({
        let dir = other.0.clone();
        let url = url.clone();
        move || {
            hookvault(
                &dir,
                &["login", "--server", &url],
                "cli-login@example.com\nwrong\n",
            )
        }
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("email or password is incorrect"));
    assert!(!other.0.join("config.json").exists());

    let out = tokio::task::spawn_blocking({
        let dir = dir.0.clone();
        move || hookvault(&dir, &["logout"], "")
    })
    .await
    .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("the token was revoked"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!path.exists(), "logout removes the token");
    assert_eq!(
        app.api_get(token, "/api/v1/endpoints").await.status(),
        401,
        "logout revoked the token on the server"
    );
}

#[tokio::test]
async fn logout_keeps_the_token_when_the_server_cannot_revoke_it_until_told_local_only() {
    let dir = crate::common::tempdir::TempDir::new();
    let path = dir.0.join("config.json");
    // A server that is not there (nothing listens on the discard port).
    std::fs::write(
        &path,
        r#"{"server":"http://127.0.0.1:9","token":"hv_unreachable"}"#,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking({
        let dir = dir.0.clone();
        move || hookvault(&dir, &["logout"], "")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "logout says it could not revoke");
    assert!(
        stderr.contains("cannot reach http://127.0.0.1:9 to revoke the token")
            && stderr.contains("--local-only"),
        "{stderr}"
    );
    assert!(path.exists(), "the token is kept so logout can be retried");

    let out = tokio::task::spawn_blocking({
        let dir = dir.0.clone();
        move || hookvault(&dir, &["logout", "--local-only"], "")
    })
    .await
    .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("still works on http://127.0.0.1:9"));
    assert!(!path.exists());
}
