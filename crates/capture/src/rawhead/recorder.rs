//! The recorder: a state machine over the bytes a connection reads, cutting out each request
//! head verbatim and skipping bodies by their framing (length or chunks).

use super::*;

/// Where the recorder is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Between requests or inside a head.
    Head,
    /// Inside a Content-Length body: this many bytes left.
    Fixed(u64),
    /// Inside a chunked body.
    Chunked(Chunk),
    /// Not recording any more.
    Stopped,
}

/// Chunked body states, mirroring hyper's decoder byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    /// First hex digit of a chunk size.
    Start,
    /// More hex digits; the size so far.
    Size(u64),
    /// Whitespace after the size.
    SizeLws(u64),
    /// A chunk extension, up to CR.
    Extension(u64),
    /// LF ending the size line.
    SizeLf(u64),
    /// Chunk data: this many bytes left.
    Data(u64),
    /// CR after chunk data.
    DataCr,
    /// LF after chunk data.
    DataLf,
    /// After the last chunk or a trailer line: CR of the final empty line, or a trailer.
    EndCr,
    /// Inside a trailer line.
    Trailer,
    /// LF ending a trailer line.
    TrailerLf,
    /// LF of the final empty line.
    EndLf,
}

/// How the body after a head is framed.
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    Stop(&'static str),
}

/// The byte-stream state machine behind [`RecordingIo`].
#[derive(Debug)]
pub(super) struct Recorder {
    state: State,
    /// The head read so far (leading empty lines excluded).
    head: Vec<u8>,
    /// End-of-head scan: 0 nothing, 1 after LF, 2 after LF CR.
    eol: u8,
    /// A CR was skipped between requests; the next byte must be LF.
    lead_cr: bool,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            state: State::Head,
            head: Vec::new(),
            eol: 0,
            lead_cr: false,
        }
    }
}

impl Recorder {
    /// Consumes newly read bytes.
    pub(super) fn feed(&mut self, mut input: &[u8], queue: &HeadQueue) {
        if self.state != State::Stopped && !queue.is_recording() {
            self.stop(queue, "queue stopped");
        }
        while !input.is_empty() {
            let used = match self.state {
                State::Stopped => return,
                State::Head => self.feed_head(input, queue),
                State::Fixed(left) => {
                    let n = usize::try_from(left).map_or(input.len(), |l| l.min(input.len()));
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Fixed(left)
                    };
                    n
                }
                State::Chunked(chunk) => self.feed_chunked(chunk, input, queue),
            };
            input = input.get(used..).unwrap_or_default();
        }
    }

    /// Stops recording for good.
    pub(super) fn stop(&mut self, queue: &HeadQueue, reason: &'static str) {
        if self.state != State::Stopped {
            tracing::debug!(reason, "raw head recording stopped for this connection");
        }
        self.state = State::Stopped;
        self.head = Vec::new();
        queue.stop();
    }

    /// Head state: returns how many bytes of `input` were used.
    fn feed_head(&mut self, input: &[u8], queue: &HeadQueue) -> usize {
        let mut i = 0;
        if self.head.is_empty() {
            // Empty lines before a request line are allowed (httparse skips them too).
            while let Some(&b) = input.get(i) {
                if self.lead_cr {
                    if b != b'\n' {
                        self.stop(queue, "CR without LF before a request line");
                        return input.len();
                    }
                    self.lead_cr = false;
                } else if b == b'\r' {
                    self.lead_cr = true;
                } else if b != b'\n' {
                    break;
                }
                i += 1;
            }
            if i == input.len() {
                return i;
            }
            self.eol = 0;
        }

        // Find the empty line ending the head: LF LF or LF CR LF (as hyper's quick check).
        let start = i;
        let mut complete = false;
        while let Some(&b) = input.get(i) {
            i += 1;
            match b {
                b'\n' if self.eol != 0 => {
                    complete = true;
                    break;
                }
                b'\n' => self.eol = 1,
                b'\r' if self.eol == 1 => self.eol = 2,
                _ => self.eol = 0,
            }
        }
        let taken = input.get(start..i).unwrap_or_default();
        if self.head.len().saturating_add(taken.len()) > MAX_HEAD_BYTES {
            self.stop(queue, "request head too large");
            return input.len();
        }
        self.head.extend_from_slice(taken);
        if complete {
            self.finish_head(queue);
        }
        i
    }

    /// Parses the complete head in `self.head`, queues it and sets up the body state.
    fn finish_head(&mut self, queue: &HeadQueue) {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut fields);
        let head = match req.parse(&self.head) {
            Ok(httparse::Status::Complete(len)) if len == self.head.len() => {
                match (req.method, req.path, req.version) {
                    (Some(method), Some(target), Some(version)) => RawHead {
                        method: method.to_owned(),
                        target: target.to_owned(),
                        version: if version == 1 { HTTP_11 } else { HTTP_10 },
                        headers: req
                            .headers
                            .iter()
                            .map(|h| RawHeader::new(h.name, h.value))
                            .collect(),
                    },
                    _ => return self.stop(queue, "incomplete request line"),
                }
            }
            Ok(httparse::Status::Complete(_)) => {
                return self.stop(queue, "head length disagrees with httparse")
            }
            // Cannot happen after an empty line; keep reading to stay safe.
            Ok(httparse::Status::Partial) => {
                self.eol = 0;
                return;
            }
            Err(httparse::Error::TooManyHeaders) => {
                return self.stop(queue, "too many header fields")
            }
            Err(_) => return self.stop(queue, "invalid request head"),
        };

        if self.head.capacity() > KEEP_HEAD_CAPACITY {
            self.head = Vec::new();
        } else {
            self.head.clear();
        }
        self.eol = 0;

        let framing = framing(&head);
        // Queue it even if hyper will reject it: hyper then closes the connection without
        // calling the service, so the extra head is never popped.
        if !queue.push(head) {
            return self.stop(queue, "too many heads queued");
        }
        self.state = match framing {
            Framing::None => State::Head,
            Framing::Length(len) => State::Fixed(len),
            Framing::Chunked => State::Chunked(Chunk::Start),
            Framing::Stop(reason) => return self.stop(queue, reason),
        };
    }

    /// Chunked body: returns how many bytes of `input` were used.
    fn feed_chunked(&mut self, mut chunk: Chunk, input: &[u8], queue: &HeadQueue) -> usize {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            if let Chunk::Data(left) = chunk {
                let avail = input.len() - i;
                let n = usize::try_from(left).map_or(avail, |l| l.min(avail));
                let left = left - n as u64;
                chunk = if left == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data(left)
                };
                i += n;
                continue;
            }
            i += 1;
            let next = match (chunk, b) {
                (Chunk::Data(_), _) => None,
                (Chunk::Start, _) => hex(b).map(Chunk::Size),
                (Chunk::Size(size), _) => match b {
                    b'\t' | b' ' => Some(Chunk::SizeLws(size)),
                    b';' => Some(Chunk::Extension(size)),
                    b'\r' => Some(Chunk::SizeLf(size)),
                    _ => hex(b)
                        .and_then(|d| size.checked_mul(16)?.checked_add(d))
                        .map(Chunk::Size),
                },
                (Chunk::SizeLws(size), b'\t' | b' ') => Some(Chunk::SizeLws(size)),
                (Chunk::SizeLws(size), b';') => Some(Chunk::Extension(size)),
                (Chunk::SizeLws(size), b'\r') => Some(Chunk::SizeLf(size)),
                (Chunk::SizeLws(_), _) => None,
                (Chunk::Extension(size), b'\r') => Some(Chunk::SizeLf(size)),
                (Chunk::Extension(_), b'\n') => None,
                (Chunk::Extension(size), _) => Some(Chunk::Extension(size)),
                (Chunk::SizeLf(0), b'\n') => Some(Chunk::EndCr),
                (Chunk::SizeLf(size), b'\n') => Some(Chunk::Data(size)),
                (Chunk::SizeLf(_), _) => None,
                (Chunk::DataCr, b'\r') => Some(Chunk::DataLf),
                (Chunk::DataCr, _) => None,
                (Chunk::DataLf, b'\n') => Some(Chunk::Start),
                (Chunk::DataLf, _) => None,
                (Chunk::EndCr, b'\r') => Some(Chunk::EndLf),
                (Chunk::EndCr, _) => Some(Chunk::Trailer),
                (Chunk::Trailer, b'\r') => Some(Chunk::TrailerLf),
                (Chunk::Trailer, _) => Some(Chunk::Trailer),
                (Chunk::TrailerLf, b'\n') => Some(Chunk::EndCr),
                (Chunk::TrailerLf, _) => None,
                (Chunk::EndLf, b'\n') => {
                    self.state = State::Head;
                    return i;
                }
                (Chunk::EndLf, _) => None,
            };
            match next {
                Some(next) => chunk = next,
                None => {
                    self.stop(queue, "malformed chunked body");
                    return input.len();
                }
            }
        }
        self.state = State::Chunked(chunk);
        i
    }
}

/// Decides the body framing the way hyper's HTTP/1 server does (RFC 9112 section 6.3).
pub(super) fn framing(head: &RawHead) -> Framing {
    let http_11 = head.version == HTTP_11;
    let mut upgrade = head.method == "CONNECT";
    let mut is_te = false;
    let mut te_chunked = false;
    let mut is_cl = false;
    let mut content_length: Option<u64> = None;

    for h in &head.headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !http_11 {
                return Framing::Stop("Transfer-Encoding on HTTP/1.0");
            }
            is_te = true;
            content_length = None;
            te_chunked = is_chunked(&h.value);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            is_cl = true;
            if is_te {
                continue;
            }
            let Some(len) = decimal(&h.value) else {
                return Framing::Stop("invalid Content-Length");
            };
            match content_length {
                Some(prev) if prev != len => {
                    return Framing::Stop("conflicting Content-Length headers");
                }
                Some(_) => {}
                None => content_length = Some(len),
            }
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            upgrade |= http_11;
        }
    }

    if is_te && !te_chunked {
        Framing::Stop("Transfer-Encoding without final chunked")
    } else if is_te && is_cl {
        // hyper reads the chunked body, answers, then closes the connection.
        Framing::Stop("both Transfer-Encoding and Content-Length")
    } else if upgrade {
        Framing::Stop("upgrade or CONNECT")
    } else if is_te {
        Framing::Chunked
    } else {
        match content_length {
            None | Some(0) => Framing::None,
            // hyper refuses lengths that collide with its internal markers.
            Some(len) if len >= u64::MAX - 1 => Framing::Stop("Content-Length too large"),
            Some(len) => Framing::Length(len),
        }
    }
}

/// Whether a Transfer-Encoding value ends in `chunked` (hyper's rule: visible ASCII only).
pub(super) fn is_chunked(value: &[u8]) -> bool {
    if !value.iter().all(|&b| b == b'\t' || (32..127).contains(&b)) {
        return false;
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
}

/// A non-empty run of decimal digits that fits in a `u64` (no sign, no spaces).
pub(super) fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

pub(super) fn hex(b: u8) -> Option<u64> {
    char::from(b).to_digit(16).map(u64::from)
}
