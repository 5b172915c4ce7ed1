//! A minimal Server-Sent-Events reader over reqwest's `bytes_stream()`.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

/// One event: its `id:`, `event:` and joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// The data parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// Reads events from an open `text/event-stream` response.
pub struct SseReader {
    stream: ByteStream,
    buf: String,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> Self {
        Self {
            stream: Box::pin(resp.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event (comments such as heartbeats are skipped), or `None` if the stream ends
    /// or `deadline` passes first.
    pub async fn next_event(&mut self, deadline: Instant) -> Option<SseEvent> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if let Some(ev) = parse_block(&block) {
                    return Some(ev);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??
                .ok()?;
            self.buf
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// Events until one of type `event` satisfies `want`; `None` on deadline or stream end.
    pub async fn wait_for(
        &mut self,
        deadline: Instant,
        event: &str,
        mut want: impl FnMut(&SseEvent) -> bool,
    ) -> Option<SseEvent> {
        while let Some(ev) = self.next_event(deadline).await {
            if ev.event.as_deref() == Some(event) && want(&ev) {
                return Some(ev);
            }
        }
        None
    }
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let mut id = None;
    let mut event = None;
    let mut data: Vec<&str> = Vec::new();
    let mut any = false;
    for line in block.lines() {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_string()),
            "event" => event = Some(value.to_string()),
            "data" => data.push(value),
            _ => continue,
        }
        any = true;
    }
    any.then(|| SseEvent {
        id,
        event,
        data: data.join("\n"),
    })
}
