//! A `curl` command line that replays a captured request byte for byte.

use super::hex::push_hex_byte;
use crate::headers::RawHeader;

/// Bodies at most this long are passed to `curl` inline as one argument; longer ones (and any
/// body containing a NUL byte) are fed through `printf`, because Linux caps a single argument
/// at 128 KiB and a shell string cannot hold NUL.
const CURL_INLINE_MAX: usize = 64 * 1024;

/// A single-line bash command that reproduces the request byte for byte:
/// `curl -X METHOD 'URL' --http1.1 --globoff --path-as-is -H 'Name: value' … --data-binary $'…'`.
///
/// Every argument is quoted: plain single quotes when it is printable ASCII without `'` or `\`,
/// otherwise bash ANSI-C quoting (`$'…'`) with `\'`, `\\` and `\xHH` for every other byte that
/// needs it (also `!`, so history expansion cannot trigger). Headers curl derives itself
/// (`Content-Length`, `Host`, `Transfer-Encoding`, `Connection`) are skipped; an empty header
/// value is sent with curl's `Name;` form. When the request had no `User-Agent`, `Accept` or
/// (with a body) `Content-Type`, the command suppresses the default curl would add. A body that
/// contains NUL or is longer than 64 KiB is fed through `@<(printf '…')` (a shell argument
/// cannot carry NUL, and Linux limits one argument to 128 KiB); a body starting with `@` uses
/// `--data-raw` so curl does not read a file. An empty body sends no data. A `HEAD` request uses
/// `--head`, as `-X HEAD` would make curl wait for a body. A NUL byte in the method, URL or a
/// header value cannot be passed to curl at all; bash cuts that argument there.
pub fn curl_command(method: &str, url: &str, headers: &[RawHeader], body: &[u8]) -> String {
    const SKIP: [&str; 4] = ["content-length", "host", "transfer-encoding", "connection"];

    let mut cmd = String::from("curl");
    if method == "HEAD" {
        cmd.push_str(" --head");
    } else {
        cmd.push_str(" -X ");
        let bare = !method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if bare {
            cmd.push_str(method);
        } else {
            push_quoted(&mut cmd, method.as_bytes());
        }
    }
    // A URL starting with '-' would otherwise be read as an option.
    cmd.push_str(if url.starts_with('-') { " --url " } else { " " });
    push_quoted(&mut cmd, url.as_bytes());
    cmd.push_str(" --http1.1 --globoff --path-as-is");

    let has = |name: &str| headers.iter().any(|h| h.name.eq_ignore_ascii_case(name));
    for h in headers {
        if SKIP.iter().any(|s| h.name.eq_ignore_ascii_case(s)) {
            continue;
        }
        let mut line = Vec::with_capacity(h.name.len() + 2 + h.value.len());
        line.extend_from_slice(h.name.as_bytes());
        if h.value.is_empty() {
            line.push(b';');
        } else {
            line.extend_from_slice(b": ");
            line.extend_from_slice(&h.value);
        }
        cmd.push_str(" -H ");
        push_quoted(&mut cmd, &line);
    }
    if !has("user-agent") {
        cmd.push_str(" -H 'User-Agent:'");
    }
    if !has("accept") {
        cmd.push_str(" -H 'Accept:'");
    }
    if !body.is_empty() && !has("content-type") {
        cmd.push_str(" -H 'Content-Type:'");
    }

    if body.is_empty() {
        return cmd;
    }
    if body.contains(&0) || body.len() > CURL_INLINE_MAX {
        cmd.push_str(" --data-binary @<(printf '");
        push_printf_format(&mut cmd, body);
        cmd.push_str("')");
    } else {
        cmd.push_str(if body.starts_with(b"@") {
            " --data-raw "
        } else {
            " --data-binary "
        });
        push_quoted(&mut cmd, body);
    }
    cmd
}

/// Appends `bytes` as one bash word: `'…'` when every byte is printable ASCII other than `'`
/// and `\`, else `$'…'` with escapes.
fn push_quoted(out: &mut String, bytes: &[u8]) {
    let plain = bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\');
    if plain {
        out.push('\'');
        out.extend(bytes.iter().map(|&b| char::from(b)));
        out.push('\'');
        return;
    }
    out.push_str("$'");
    for &b in bytes {
        match b {
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            b'!' => out.push_str("\\x21"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                out.push_str("\\x");
                push_hex_byte(out, b);
            }
        }
    }
    out.push('\'');
}

/// Appends `bytes` as a `printf` format that prints exactly those bytes, for use inside plain
/// single quotes: `%` doubled; `'`, `\`, non-printables and a leading `-` as 3-digit octal.
fn push_printf_format(out: &mut String, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'%' => out.push_str("%%"),
            b'-' if i == 0 => push_octal(out, b),
            b'\'' | b'\\' => push_octal(out, b),
            0x20..=0x7e => out.push(char::from(b)),
            _ => push_octal(out, b),
        }
    }
}

fn push_octal(out: &mut String, b: u8) {
    out.push('\\');
    out.push(char::from(b'0' + (b >> 6)));
    out.push(char::from(b'0' + ((b >> 3) & 7)));
    out.push(char::from(b'0' + (b & 7)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_command_quotes_and_skips_headers() {
        let headers = vec![
            RawHeader::new("Host", "example.com"),
            RawHeader::new("Content-Type", "application/json"),
            RawHeader::new("Content-Length", "2"),
            RawHeader::new("X-Quote", "it's"),
            RawHeader::new("X-Empty", ""),
            RawHeader::new("User-Agent", "Stripe/1.0"),
        ];
        assert_eq!(
            curl_command("POST", "http://h/p?a[]=1", &headers, b"{}"),
            "curl -X POST 'http://h/p?a[]=1' --http1.1 --globoff --path-as-is \
             -H 'Content-Type: application/json' -H $'X-Quote: it\\'s' -H 'X-Empty;' \
             -H 'User-Agent: Stripe/1.0' -H 'Accept:' --data-binary '{}'"
        );
        assert_eq!(
            curl_command("GET", "http://h/", &[], b""),
            "curl -X GET 'http://h/' --http1.1 --globoff --path-as-is -H 'User-Agent:' -H 'Accept:'"
        );
        let weird = curl_command("P;rm -rf", "-x", &[], b"@/etc/passwd\n!");
        assert!(
            weird.starts_with("curl -X 'P;rm -rf' --url '-x' "),
            "{weird}"
        );
        assert!(
            weird.ends_with(" --data-raw $'@/etc/passwd\\x0a\\x21'"),
            "{weird}"
        );
        let nul = curl_command("POST", "http://h/", &[], b"-a\x00%'\\\xff");
        assert!(
            nul.ends_with(" --data-binary @<(printf '\\055a\\000%%\\047\\134\\377')"),
            "{nul}"
        );
    }
}
