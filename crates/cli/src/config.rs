//! The CLI's files in the user's config directory: the API token (`config.json`, mode 0600)
//! and the last delivered event id per endpoint (`listen-state.json`).
//! `HOOKVAULT_CONFIG_DIR` overrides the directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The server URL used when none is given.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// What `hookvault login` stores. (No `Debug`: it holds the token.)
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub server: String,
    pub token: String,
}

/// The directory holding the CLI's files.
pub fn dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("HOOKVAULT_CONFIG_DIR") {
        return Ok(PathBuf::from(d));
    }
    directories::ProjectDirs::from("dev", "hookvault", "hookvault")
        .map(|p| p.config_dir().to_path_buf())
        .context("cannot find a config directory for this user (set HOOKVAULT_CONFIG_DIR)")
}

fn credentials_path() -> anyhow::Result<PathBuf> {
    Ok(dir()?.join("config.json"))
}

/// The stored credentials, if `hookvault login` was run.
pub fn load_credentials() -> anyhow::Result<Option<Credentials>> {
    let path = credentials_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Stores credentials readable by the user only.
pub fn save_credentials(c: &Credentials) -> anyhow::Result<PathBuf> {
    let path = credentials_path()?;
    write_private(&path, &serde_json::to_vec_pretty(c)?)?;
    Ok(path)
}

/// Removes stored credentials; false when there were none.
pub fn remove_credentials() -> anyhow::Result<bool> {
    let path = credentials_path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Writes a file with mode 0600 (replacing it atomically).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let parent = path.parent().context("config path has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The stream position after the last delivered capture, per `server|endpoint_id`: the id of
/// the stream's last event, sent back as `Last-Event-ID`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ListenState {
    #[serde(deserialize_with = "positions_only")]
    pub last_event_ids: BTreeMap<String, String>,
}

/// Reads the saved positions, dropping the bare numbers older versions saved (a capture number,
/// which the server no longer takes as a position): such a stream starts from now on.
fn positions_only<'de, D>(d: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let all: BTreeMap<String, serde_json::Value> = BTreeMap::deserialize(d)?;
    Ok(all
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect())
}

fn state_path() -> anyhow::Result<PathBuf> {
    Ok(dir()?.join("listen-state.json"))
}

/// The key under which a stream's position is remembered.
pub fn state_key(server: &str, endpoint_id: &str) -> String {
    format!("{}|{endpoint_id}", server.trim_end_matches('/'))
}

pub fn load_state() -> anyhow::Result<ListenState> {
    let path = state_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(serde_json::from_str(&text).unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ListenState::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

pub fn save_state(state: &ListenState) -> anyhow::Result<()> {
    write_private(&state_path()?, &serde_json::to_vec_pretty(state)?)
}

/// The server and token a command talks to: the options when given, else what `hookvault
/// login` stored. (The token is returned, never printed.)
pub fn server_and_token(
    server: Option<&str>,
    token: Option<&str>,
) -> anyhow::Result<(String, String)> {
    let stored = load_credentials()?;
    let server = server
        .map(str::to_string)
        .or_else(|| stored.as_ref().map(|c| c.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_string())
        .trim_end_matches('/')
        .to_string();
    let token = token
        .map(str::to_string)
        .or_else(|| stored.as_ref().map(|c| c.token.clone()))
        .context("not logged in: run `hookvault login` or pass --token (or HOOKVAULT_TOKEN)")?;
    Ok((server, token))
}
