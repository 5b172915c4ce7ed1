use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// In-memory IO that yields its bytes in reads of the given sizes (cycled).
struct ChunkedReader {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl ChunkedReader {
    fn new(data: &[u8], sizes: &[usize]) -> Self {
        Self {
            data: data.to_vec(),
            pos: 0,
            sizes: sizes.to_vec(),
            turn: 0,
        }
    }
}

impl AsyncRead for ChunkedReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let size = this.sizes[this.turn % this.sizes.len()].max(1);
        this.turn += 1;
        let n = size.min(buf.remaining()).min(this.data.len() - this.pos);
        buf.put_slice(&this.data[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

async fn record(input: &[u8], sizes: &[usize]) -> (Vec<RawHead>, bool) {
    let queue = HeadQueue::new();
    let mut io = RecordingIo::new(ChunkedReader::new(input, sizes), queue.clone());
    let mut seen = Vec::new();
    io.read_to_end(&mut seen).await.unwrap();
    assert_eq!(seen, input, "reads must pass through untouched");
    (drain(&queue), queue.is_recording())
}

fn drain(queue: &HeadQueue) -> Vec<RawHead> {
    std::iter::from_fn(|| queue.pop()).collect()
}

fn targets(heads: &[RawHead]) -> Vec<&str> {
    heads.iter().map(|h| h.target.as_str()).collect()
}

fn header(name: &str, value: &[u8]) -> RawHeader {
    RawHeader::new(name, value)
}

const TARGET: &str = "/in/tok/hooks/1/a%2Fb%20c?x=1&x=2&empty=&flag";

/// Three keep-alive requests in one write: Content-Length body, chunked body with
/// extensions and trailers (after an empty line), and no body.
fn pipelined() -> Vec<u8> {
    let mut raw = Vec::new();
    raw.extend_from_slice(format!("POST {TARGET} HTTP/1.1\r\n").as_bytes());
    raw.extend_from_slice(b"Host: example.test\r\nX-Dup: 1\r\nContent-Type: application/json\r\n");
    raw.extend_from_slice(b"x-dup: 2\r\nX-Latin: caf\xE9\r\nContent-Length: 11\r\n\r\n");
    raw.extend_from_slice(b"hello world");
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(b"PUT /in/tok/second HTTP/1.1\r\nHost: example.test\r\n");
    raw.extend_from_slice(b"Transfer-Encoding: gzip, Chunked\r\nTrailer: X-Checksum\r\n\r\n");
    raw.extend_from_slice(b"5;name=value\r\nhello\r\n6 ; ext\r\n world\r\n");
    raw.extend_from_slice(b"a\r\nGET / HTTP\r\n0\r\nX-Checksum: abc\r\n\r\n");
    raw.extend_from_slice(b"GET /in/tok/third?q=%7E HTTP/1.1\r\nHost: example.test\r\n");
    raw.extend_from_slice(b"Connection: close\r\n\r\n");
    raw
}

fn pipelined_heads() -> Vec<RawHead> {
    vec![
        RawHead {
            method: "POST".into(),
            target: TARGET.into(),
            version: "HTTP/1.1",
            headers: vec![
                header("Host", b"example.test"),
                header("X-Dup", b"1"),
                header("Content-Type", b"application/json"),
                header("x-dup", b"2"),
                header("X-Latin", b"caf\xE9"),
                header("Content-Length", b"11"),
            ],
        },
        RawHead {
            method: "PUT".into(),
            target: "/in/tok/second".into(),
            version: "HTTP/1.1",
            headers: vec![
                header("Host", b"example.test"),
                header("Transfer-Encoding", b"gzip, Chunked"),
                header("Trailer", b"X-Checksum"),
            ],
        },
        RawHead {
            method: "GET".into(),
            target: "/in/tok/third?q=%7E".into(),
            version: "HTTP/1.1",
            headers: vec![
                header("Host", b"example.test"),
                header("Connection", b"close"),
            ],
        },
    ]
}

#[tokio::test]
async fn keeps_original_header_case_interleaved_order_and_raw_bytes() {
    let raw =
        b"POST /h HTTP/1.1\r\nX-Dup: 1\r\nContent-Type: text/plain\r\nx-dup: 2\r\nX-Raw: \xE9t\xE9\r\n\r\n";
    let (heads, recording) = record(raw, &[usize::MAX]).await;
    assert!(recording);
    assert_eq!(
        heads,
        vec![RawHead {
            method: "POST".into(),
            target: "/h".into(),
            version: "HTTP/1.1",
            headers: vec![
                header("X-Dup", b"1"),
                header("Content-Type", b"text/plain"),
                header("x-dup", b"2"),
                header("X-Raw", b"\xE9t\xE9"),
            ],
        }]
    );
}

#[tokio::test]
async fn keeps_the_raw_request_target_with_its_percent_encoding() {
    let raw = format!("GET {TARGET} HTTP/1.1\r\nHost: a\r\n\r\n");
    let (heads, _) = record(raw.as_bytes(), &[7]).await;
    assert_eq!(targets(&heads), vec![TARGET]);
}

#[tokio::test]
async fn records_pipelined_heads_across_length_and_chunked_bodies() {
    let (heads, recording) = record(&pipelined(), &[usize::MAX]).await;
    assert_eq!(heads, pipelined_heads());
    assert!(recording);
}

#[tokio::test]
async fn byte_at_a_time_delivery_gives_the_same_heads() {
    let (heads, recording) = record(&pipelined(), &[1]).await;
    assert_eq!(heads, pipelined_heads());
    assert!(recording);
}

#[tokio::test]
async fn every_read_size_and_split_gives_the_same_heads() {
    let raw = pipelined();
    for size in 1..=raw.len() {
        let (heads, _) = record(&raw, &[size]).await;
        assert_eq!(heads, pipelined_heads(), "read size {size}");
    }
    let (heads, _) = record(&raw, &[3, 1, 17, 2, 64, 5]).await;
    assert_eq!(heads, pipelined_heads());
}

#[tokio::test]
async fn records_http_1_0_version() {
    let raw = b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /new HTTP/1.1\r\n\r\n";
    let (heads, _) = record(raw, &[4]).await;
    let versions: Vec<_> = heads.iter().map(|h| h.version).collect();
    assert_eq!(versions, vec!["HTTP/1.0", "HTTP/1.1"]);
}

#[tokio::test]
async fn accepts_bare_lf_line_endings_and_leading_empty_lines() {
    let raw = b"\r\n\nGET /a HTTP/1.1\nHost: x\n\n\r\n\r\nGET /b HTTP/1.1\r\n\n";
    let (heads, recording) = record(raw, &[1]).await;
    assert_eq!(targets(&heads), vec!["/a", "/b"]);
    assert_eq!(heads[0].headers, vec![header("Host", b"x")]);
    assert!(recording);
}

#[tokio::test]
async fn expect_continue_body_is_skipped_like_any_other() {
    let raw =
        b"POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n";
    let (heads, _) = record(raw, &[5]).await;
    assert_eq!(targets(&heads), vec!["/a", "/b"]);
}

#[tokio::test]
async fn duplicate_equal_content_lengths_are_one_body() {
    let raw =
        b"POST /a HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nxyGET /b HTTP/1.1\r\n\r\n";
    let (heads, recording) = record(raw, &[usize::MAX]).await;
    assert_eq!(targets(&heads), vec!["/a", "/b"]);
    assert!(recording);
}

#[tokio::test]
async fn stops_after_a_head_hyper_would_reject_or_close() {
    let cases: [&[u8]; 7] = [
        b"POST /a HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nxyz",
        b"POST /a HTTP/1.1\r\nContent-Length: +2\r\n\r\nxy",
        b"POST /a HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n0\r\n\r\n",
        b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ];
    for case in cases {
        let mut raw = case.to_vec();
        raw.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
        let (heads, recording) = record(&raw, &[usize::MAX]).await;
        assert_eq!(targets(&heads), vec!["/a"], "{}", raw.escape_ascii());
        assert!(!recording);
    }
}

#[tokio::test]
async fn stops_after_an_upgrade_or_connect_head() {
    let cases: [&[u8]; 2] = [
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n",
    ];
    for case in cases {
        let mut raw = case.to_vec();
        raw.extend_from_slice(b"GET /tunnelled HTTP/1.1\r\n\r\n");
        let (heads, recording) = record(&raw, &[usize::MAX]).await;
        assert_eq!(heads.len(), 1);
        assert!(!recording);
    }
}

#[tokio::test]
async fn stops_on_malformed_heads_and_bodies() {
    let mut many = b"GET /a HTTP/1.1\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let mut huge = b"GET /a HTTP/1.1\r\nX-Big: ".to_vec();
    huge.resize(MAX_HEAD_BYTES + 10, b'a');
    let cases: Vec<(Vec<u8>, usize)> = vec![
        (many, 0),
        (huge, 0),
        (b"GET /a HTTP/1.1\r\nBad Name: x\r\n\r\n".to_vec(), 0),
        (b"\rGET /a HTTP/1.1\r\n\r\n".to_vec(), 0),
        (b"GET /a HTTP/1.1\r\n Folded: x\r\n\r\n".to_vec(), 0),
        (
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1FFFFFFFFFFFFFFFF\r\n".to_vec(),
            1,
        ),
        (
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX".to_vec(),
            1,
        ),
        (
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;ext\nab\r\n".to_vec(),
            1,
        ),
        (
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n".to_vec(),
            1,
        ),
    ];
    for (mut raw, expected) in cases {
        raw.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
        for sizes in [&[usize::MAX][..], &[1]] {
            let (heads, recording) = record(&raw, sizes).await;
            assert_eq!(heads.len(), expected, "{}", raw.escape_ascii());
            assert!(!recording, "{}", raw.escape_ascii());
        }
    }
}

#[tokio::test]
async fn a_full_queue_stops_recording_but_keeps_queued_heads() {
    let raw = b"GET / HTTP/1.1\r\n\r\n".repeat(MAX_QUEUED_HEADS + 5);
    let (heads, recording) = record(&raw, &[usize::MAX]).await;
    assert_eq!(heads.len(), MAX_QUEUED_HEADS);
    assert!(!recording);
}

#[tokio::test]
async fn writes_pass_through_untouched() {
    let (ours, mut theirs) = tokio::io::duplex(64);
    let queue = HeadQueue::new();
    let mut io = RecordingIo::new(ours, queue.clone());
    theirs.write_all(b"GET /a HTTP/1.1\r\n\r\n").await.unwrap();
    let mut got = [0u8; 19];
    io.read_exact(&mut got).await.unwrap();
    io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
    io.flush().await.unwrap();
    let mut back = [0u8; 19];
    theirs.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(queue.pop().map(|h| h.target), Some("/a".to_owned()));
}

#[test]
fn pop_for_returns_the_matching_head() {
    let queue = HeadQueue::new();
    let mut recorder = Recorder::default();
    let raw = format!("GET {TARGET} HTTP/1.1\r\n\r\nGET http://h.test/x?y HTTP/1.1\r\n\r\n");
    recorder.feed(raw.as_bytes(), &queue);
    let uri: http::Uri = TARGET.parse().unwrap();
    let head = queue.pop_for(&http::Method::GET, &uri).unwrap();
    assert_eq!(head.target, TARGET);
    let uri: http::Uri = "http://h.test/x?y".parse().unwrap();
    assert!(queue.pop_for(&http::Method::GET, &uri).is_some());
    assert!(queue.is_recording());
}

#[test]
fn pop_for_a_mismatch_drops_the_queue_and_stops_recording() {
    let queue = HeadQueue::new();
    let mut recorder = Recorder::default();
    recorder.feed(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", &queue);
    let uri: http::Uri = "/b".parse().unwrap();
    assert_eq!(queue.pop_for(&http::Method::GET, &uri), None);
    assert!(!queue.is_recording());
    assert_eq!(queue.pop(), None);
    recorder.feed(b"GET /c HTTP/1.1\r\n\r\n", &queue);
    assert_eq!(queue.pop(), None);
}

#[test]
fn pop_for_on_an_empty_recording_queue_stops_recording() {
    let queue = HeadQueue::new();
    let uri: http::Uri = "/a".parse().unwrap();
    assert_eq!(queue.pop_for(&http::Method::GET, &uri), None);
    assert!(!queue.is_recording());
}

/// A tiny deterministic generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn garbage_and_truncated_input_never_panics() {
    const FRAGMENTS: &[&[u8]] = &[
        b"GET ",
        b"POST ",
        b"CONNECT ",
        b"/",
        b"/a%2F?x",
        b" HTTP/1.1",
        b" HTTP/1.0",
        b"\r\n",
        b"\n",
        b"\r",
        b": ",
        b"Content-Length: ",
        b"Transfer-Encoding: chunked",
        b"Upgrade: x",
        b"0",
        b"1",
        b"f",
        b"FFFFFFFFFFFFFFFFFFFF",
        b"99999999999999999999",
        b";",
        b" ",
        b"\t",
        b"\xE9",
        b"\0",
        b"X-A",
    ];
    let valid = pipelined();
    let mut rng = Lcg(0x5eed_cafe_f00d_0001);
    for round in 0..3000 {
        let input: Vec<u8> = match round % 3 {
            0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            1 => {
                let mut out = Vec::new();
                for _ in 0..rng.below(60) {
                    out.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())]);
                }
                out
            }
            _ => {
                let mut out = valid[..rng.below(valid.len() + 1)].to_vec();
                for _ in 0..rng.below(4) {
                    let at = rng.below(out.len());
                    if let Some(b) = out.get_mut(at) {
                        *b = rng.next() as u8;
                    }
                }
                out
            }
        };
        let queue = HeadQueue::new();
        let mut recorder = Recorder::default();
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(32));
            recorder.feed(&rest[..n], &queue);
            rest = &rest[n..];
        }
        let heads = drain(&queue);
        assert!(heads.len() <= input.len());
    }

    // Random splits of valid input always give the same heads.
    for _ in 0..200 {
        let queue = HeadQueue::new();
        let mut recorder = Recorder::default();
        let mut rest = &valid[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(40));
            recorder.feed(&rest[..n], &queue);
            rest = &rest[n..];
        }
        assert_eq!(drain(&queue), pipelined_heads());
    }
}

/// hyper's own parser and the recorder see the same bytes: a real server echoes the
/// popped heads back to a raw TCP client.
#[tokio::test]
async fn a_hyper_server_behind_recording_io_gets_every_head_verbatim() {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::{TcpListener, TcpStream};

    fn echo(head: Option<RawHead>, body_len: usize) -> String {
        let Some(head) = head else {
            return "NO HEAD\n".to_owned();
        };
        let mut out = format!("HEAD {} {} {}\n", head.method, head.target, head.version);
        for h in head.headers {
            out.push_str(&format!("{}: {}\n", h.name, h.value.escape_ascii()));
        }
        out.push_str(&format!("BODY {body_len}\n"));
        out
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let queue = HeadQueue::new();
        let io = TokioIo::new(RecordingIo::new(stream, queue.clone()));
        let service = service_fn(move |req: http::Request<Incoming>| {
            let head = queue.pop_for(req.method(), req.uri());
            async move {
                let body = req.into_body().collect().await?.to_bytes();
                let text = echo(head, body.len());
                Ok::<_, hyper::Error>(http::Response::new(Full::new(bytes::Bytes::from(text))))
            }
        });
        http1::Builder::new().serve_connection(io, service).await
    });

    let mut raw = pipelined();
    // Make the first request wait for 100-continue semantics too.
    let at = raw.windows(4).position(|w| w == b"Host").unwrap();
    raw.splice(at..at, b"Expect: 100-continue\r\n".iter().copied());
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(&raw).await.unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    server.await.unwrap().unwrap();
    let out = String::from_utf8_lossy(&out);

    let blocks = [
        format!(
            "HEAD POST {TARGET} HTTP/1.1\nExpect: 100-continue\nHost: example.test\nX-Dup: 1\n\
             Content-Type: application/json\nx-dup: 2\nX-Latin: caf\\xe9\nContent-Length: 11\n\
             BODY 11\n"
        ),
        "HEAD PUT /in/tok/second HTTP/1.1\nHost: example.test\n\
         Transfer-Encoding: gzip, Chunked\nTrailer: X-Checksum\nBODY 21\n"
            .to_owned(),
        "HEAD GET /in/tok/third?q=%7E HTTP/1.1\nHost: example.test\nConnection: close\nBODY 0\n"
            .to_owned(),
    ];
    let mut from = 0;
    for block in &blocks {
        let found = out[from..].find(block.as_str());
        assert!(found.is_some(), "missing {block:?} in {out:?}");
        from += found.unwrap_or_default() + block.len();
    }
    assert!(!out.contains("NO HEAD"), "{out}");
}
