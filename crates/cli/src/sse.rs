//! A minimal Server-Sent-Events parser over a byte stream (the subset the server emits:
//! `event:`, `id:`, `data:` lines and comments).

/// One dispatched event. `Debug` hides `data`: it is a captured request (headers, body).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl std::fmt::Debug for SseEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseEvent")
            .field("event", &self.event)
            .field("id", &self.id)
            .field("data", &hookvault_core::headers::Redacted(self.data.len()))
            .finish()
    }
}

/// Feeds bytes in, gets complete events out.
#[derive(Default)]
pub struct Parser {
    buf: Vec<u8>,
    current: SseEvent,
    has_data: bool,
}

impl Parser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.is_empty() {
                if self.has_data {
                    out.push(std::mem::take(&mut self.current));
                } else {
                    self.current = SseEvent::default();
                }
                self.has_data = false;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()),
                None => (line.clone(), String::new()),
            };
            match field.as_str() {
                "event" => self.current.event = value,
                "id" => self.current.id = Some(value),
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(&value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let mut p = Parser::default();
        assert!(p.push(b": heartbeat\n\nevent: req").is_empty());
        let out = p.push(b"uest\nid: 7\ndata: {\"a\":\ndata: 1}\n\n");
        assert_eq!(
            out,
            vec![SseEvent {
                event: "request".into(),
                id: Some("7".into()),
                data: "{\"a\":\n1}".into()
            }]
        );
    }

    #[test]
    fn crlf_lines_are_accepted() {
        let mut p = Parser::default();
        let out = p.push(b"event: x\r\ndata: y\r\n\r\n");
        assert_eq!(out[0].event, "x");
        assert_eq!(out[0].data, "y");
    }
}
