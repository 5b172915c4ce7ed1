//! `render::curl_command` run for real: the generated command goes through `bash -c` to `curl`,
//! which sends it to a listener on 127.0.0.1, and the bytes that arrive are compared.

use hookvault_core::headers::RawHeader;
use hookvault_core::render::curl_command;

/// One raw HTTP/1.1 request as received by [`capture_one_request`].
struct Received {
    head: String,
    body: Vec<u8>,
}

/// Accepts one connection, reads the head and `Content-Length` body bytes, answers 200.
fn capture_one_request(
    listener: std::net::TcpListener,
) -> std::thread::JoinHandle<std::io::Result<Received>> {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept()?;
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = conn.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let len = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let n = conn.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        Ok(Received {
            head,
            body: buf[head_end..].to_vec(),
        })
    })
}

fn have(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs the generated command with `bash -c` against a local listener.
fn replay(method: &str, headers: &[RawHeader], body: &[u8]) -> Received {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = capture_one_request(listener);
    let url = format!("http://127.0.0.1:{port}/hook?a[]=1&b=%2F");
    let cmd = curl_command(method, &url, headers, body);
    assert!(!cmd.contains('\n'), "{cmd}");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{cmd} --noproxy '*' --silent --show-error --max-time 10 -o /dev/null"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.join().unwrap().unwrap()
}

#[test]
fn curl_command_replays_bytes_exactly() {
    if !have("bash") || !have("curl") {
        eprintln!("note: bash or curl not found; skipping the curl replay test");
        return;
    }
    let mut all_bytes: Vec<u8> = (0..=255u8).collect();
    all_bytes.extend_from_slice(b"\r\n");
    let bodies: Vec<Vec<u8>> = vec![
        b"hello\n".to_vec(),
        b"it's a \\ $HOME `id` $(rm -rf /) \"q\" !! %s %% \x00 \xff end".to_vec(),
        b"no nul but quotes ' \\ $(echo hi) `echo hi` !event \xff\xfe\ttab".to_vec(),
        b"{\n  \"a\": [1, 2],\n  \"b\": \"\\u00e9 caf\xc3\xa9\"\n}\n".to_vec(),
        b"@/etc/passwd".to_vec(),
        b"-d x".to_vec(),
        all_bytes,
        // Over the inline limit: goes through printf (kept printable so `bash -c`'s own
        // argument stays under the 128 KiB limit).
        (0..70_000u32)
            .map(|i| {
                if i % 1000 == 0 {
                    b'\''
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect(),
    ];
    for body in &bodies {
        let headers = vec![
            RawHeader::new("Content-Type", "application/octet-stream"),
            RawHeader::new("X-Sig", "t=1,v1=\"abc\" it's $(id) `id` \\ !x"),
        ];
        let got = replay("POST", &headers, body);
        assert_eq!(&got.body, body, "body mismatch; head:\n{}", got.head);
        assert!(
            got.head
                .contains("\r\nX-Sig: t=1,v1=\"abc\" it's $(id) `id` \\ !x\r\n"),
            "{}",
            got.head
        );
        assert!(
            got.head.starts_with("POST /hook?a[]=1&b=%2F HTTP/1.1\r\n"),
            "{}",
            got.head
        );
        let lower = got.head.to_ascii_lowercase();
        assert!(!lower.contains("user-agent"), "{}", got.head);
        assert!(!lower.contains("\r\naccept:"), "{}", got.head);
    }
}

#[test]
fn curl_command_replays_an_empty_body_without_data() {
    if !have("bash") || !have("curl") {
        eprintln!("note: bash or curl not found; skipping the curl replay test");
        return;
    }
    let got = replay("DELETE", &[RawHeader::new("X-Empty", "")], b"");
    assert!(got.body.is_empty());
    assert!(got.head.starts_with("DELETE /hook"), "{}", got.head);
    assert!(got.head.contains("\r\nX-Empty:"), "{}", got.head);
    assert!(
        !got.head.to_ascii_lowercase().contains("content-type"),
        "{}",
        got.head
    );
}
