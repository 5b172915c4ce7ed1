//! `hookvault login` and `hookvault logout`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};

use crate::config::{self, Credentials};

/// Asks for email and password (no echo on a terminal; from stdin otherwise, one line each),
/// creates an API token and stores it.
pub async fn login(server: &str) -> anyhow::Result<()> {
    let server = server.trim_end_matches('/').to_string();
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut lines = stdin.lock().lines();
    if interactive {
        print!("Email: ");
        std::io::stdout().flush()?;
    }
    let email = lines.next().context("no email given")??.trim().to_string();
    let password = if interactive {
        rpassword::prompt_password("Password: ")?
    } else {
        lines.next().context("no password given")??
    };
    drop(lines);
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let name = format!("hookvault CLI on {}", host.trim());
    let resp = reqwest::Client::new()
        .post(format!("{server}/api/v1/tokens"))
        .basic_auth(&email, Some(&password))
        .json(&serde_json::json!({ "name": name.trim() }))
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if status.as_u16() != 201 {
        let msg = body["error"]["message"].as_str().unwrap_or("login failed");
        bail!("{msg} ({status})");
    }
    let token = body["token"].as_str().context("the server sent no token")?;
    let path = config::save_credentials(&Credentials {
        server: server.clone(),
        token: token.to_string(),
    })?;
    println!(
        "Logged in to {server} as {email}. Token stored in {}.",
        path.display()
    );
    Ok(())
}

/// Forgets the stored token.
pub fn logout() -> anyhow::Result<()> {
    if config::remove_credentials()? {
        println!("Logged out: the stored token was removed.");
    } else {
        println!("Not logged in.");
    }
    Ok(())
}
