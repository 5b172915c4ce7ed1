//! HTTP/1.1 over a plain TCP stream, byte for byte. reqwest and hyper lowercase and regroup
//! header names, so tests that check what the server recorded write the request themselves.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one raw exchange may take before the test fails.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(30);

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Header fields in the order received, names as sent by the server.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// First header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The bytes of one HTTP/1.1 request: request line, `Host`, `headers` in the given order,
/// `Content-Length`, then the body.
pub fn request_bytes(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n").into_bytes();
    for (n, v) in headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// Sends `bytes` on a new connection and reads one response.
pub async fn send(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<RawResponse> {
    tokio::time::timeout(RAW_TIMEOUT, async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(bytes).await?;
        stream.flush().await?;
        read_response(&mut stream).await
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "raw HTTP exchange timed out"))?
}

/// Sends `bytes` and then closes the sending half, as a client that gives up mid-request;
/// returns whatever the server answered (possibly nothing).
pub async fn send_and_close(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    tokio::time::timeout(RAW_TIMEOUT, async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(bytes).await?;
        stream.shutdown().await?;
        let mut out = Vec::new();
        // A reset after the server gave up is an acceptable end, too.
        let _ = stream.read_to_end(&mut out).await;
        Ok(out)
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "raw HTTP exchange timed out"))?
}

/// Sends `head`, then keeps writing `body` (errors ignored: the server may stop reading once it
/// has answered) while reading the response.
pub async fn send_streaming(
    addr: SocketAddr,
    head: Vec<u8>,
    body: Vec<u8>,
) -> std::io::Result<RawResponse> {
    tokio::time::timeout(RAW_TIMEOUT, async {
        let stream = TcpStream::connect(addr).await?;
        let (mut rd, mut wr) = stream.into_split();
        let writer = tokio::spawn(async move {
            if wr.write_all(&head).await.is_err() {
                return;
            }
            for chunk in body.chunks(64 * 1024) {
                if wr.write_all(chunk).await.is_err() {
                    return;
                }
            }
            let _ = wr.flush().await;
            // Keep the write half open until the reader is done.
            std::future::pending::<()>().await;
        });
        let resp = read_response(&mut rd).await;
        writer.abort();
        resp
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "raw HTTP exchange timed out"))?
}

/// Reads one response (status line, headers, a Content-Length or chunked body).
pub async fn read_response<R: AsyncReadExt + Unpin>(rd: &mut R) -> std::io::Result<RawResponse> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 8192];
        let n = rd.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed before a full response head ({} bytes read)",
                    buf.len()
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(&format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_string(), v.trim().to_string()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = get("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        while rest.len() < len {
            let mut chunk = [0u8; 8192];
            let n = rd.read(&mut chunk).await?;
            if n == 0 {
                return Err(bad("connection closed inside the response body"));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        rest
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&rest, b"\r\n") {
                    break i;
                }
                let mut chunk = [0u8; 8192];
                let n = rd.read(&mut chunk).await?;
                if n == 0 {
                    return Err(bad("connection closed inside a chunked body"));
                }
                rest.extend_from_slice(&chunk[..n]);
            };
            let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            rest.drain(..line_end + 2);
            if size == 0 {
                break;
            }
            while rest.len() < size + 2 {
                let mut chunk = [0u8; 8192];
                let n = rd.read(&mut chunk).await?;
                if n == 0 {
                    return Err(bad("connection closed inside a chunk"));
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            body.extend_from_slice(&rest[..size]);
            rest.drain(..size + 2);
        }
        body
    } else {
        // No framing: the body runs to the end of the connection.
        let _ = rd.read_to_end(&mut rest).await;
        rest
    };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
