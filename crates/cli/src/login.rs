//! `hookvault login` and `hookvault logout`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};
use hookvault_core::api::{ErrorJson, NewTokenJson};

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
        .json(&hookvault_core::api::NameJson {
            name: name.trim().to_owned(),
        })
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let status = resp.status();
    if status.as_u16() != 201 {
        let msg = resp
            .json::<ErrorJson>()
            .await
            .map_or_else(|_| "login failed".to_string(), |e| e.error.message);
        bail!("{msg} ({status})");
    }
    let created: NewTokenJson = resp.json().await.context("the server sent no token")?;
    let token = created.token;
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

/// Revokes the stored token on the server it came from, then forgets it. When the server
/// cannot be reached (or refuses for another reason than "this token is not valid"), the token
/// is kept so that logging out can be tried again; `local_only` forgets it without revoking.
pub async fn logout(local_only: bool) -> anyhow::Result<()> {
    let Some(stored) = config::load_credentials()? else {
        println!("Not logged in.");
        return Ok(());
    };
    let server = stored.server.trim_end_matches('/');
    if local_only {
        config::remove_credentials()?;
        println!(
            "Logged out locally: the token was removed from this computer but still works on {server}. Revoke it in Settings → API tokens."
        );
        return Ok(());
    }
    let revoked = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?
        .delete(format!("{server}/api/v1/tokens/current"))
        .bearer_auth(&stored.token)
        .send()
        .await;
    let outcome = match revoked {
        Ok(r) if r.status().is_success() => "the token was revoked",
        // Unknown to the server already (revoked in Settings, account deleted): nothing to revoke.
        Ok(r) if r.status().as_u16() == 401 => "the token was no longer valid",
        Ok(r) => bail!(
            "{server} did not revoke the token ({}); it was kept, so you can try again. \
             `hookvault logout --local-only` removes it without revoking it.",
            r.status()
        ),
        Err(e) => bail!(
            "cannot reach {server} to revoke the token ({e}); it was kept, so you can try again. \
             `hookvault logout --local-only` removes it without revoking it."
        ),
    };
    config::remove_credentials()?;
    println!("Logged out of {server}: {outcome} and removed from this computer.");
    Ok(())
}
