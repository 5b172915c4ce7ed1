//! Form (`application/x-www-form-urlencoded`) and multipart bodies as a list of fields, read
//! from at most the first `MAX_PARSE_BYTES` of a body.

use super::clean;
use crate::render::decode_component;

/// At most this many form or multipart fields are read.
const MAX_FIELDS: usize = 1024;

/// Multipart field values larger than this are recorded as present but not kept.
const MAX_PART_VALUE: usize = 64 * 1024;

/// `multipart/form-data; boundary=x` → `multipart/form-data` (lower-cased).
pub(super) fn mime_essence(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The `boundary` parameter of a Content-Type value.
pub(super) fn boundary_param(ct: &str) -> Option<String> {
    ct.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty() && v.len() <= 200).then(|| v.to_owned())
    })
}

/// A body that starts with `--boundary` followed by part headers is multipart even
/// without a Content-Type (fixture bodies usually come without headers).
pub(super) fn sniff_boundary(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"--")?;
    let eol = rest.iter().take(200).position(|&b| b == b'\n')?;
    let line = rest.get(..eol)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let next = rest.get(eol + 1..)?;
    let is_header = |name: &[u8]| {
        next.get(..name.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(name))
    };
    let ok = !line.is_empty()
        && line.iter().all(|&b| b.is_ascii_graphic() || b == b' ')
        && (is_header(b"content-disposition:") || is_header(b"content-type:"));
    ok.then(|| String::from_utf8_lossy(line).into_owned())
}

/// `a=b&c=d` without whitespace or non-ASCII bytes, starting with a plausible key.
pub(super) fn looks_like_form(body: &[u8]) -> bool {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let Some(eq) = body.iter().position(|&b| b == b'=') else {
        return false;
    };
    let key = body.get(..eq).unwrap_or_default();
    !key.is_empty()
        && key.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']' | b'%')
        })
        && body.iter().all(u8::is_ascii_graphic)
}

/// Form or multipart fields, in order. A value is `None` when it was too large to keep
/// (multipart files and big parts).
#[derive(Default)]
pub(super) struct Fields(pub(super) Vec<(String, Option<String>)>);

impl Fields {
    pub(super) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    pub(super) fn text(&self, name: &str) -> Option<String> {
        self.get(name).and_then(clean)
    }

    pub(super) fn starts_with(&self, name: &str, prefixes: &[&str]) -> bool {
        self.get(name)
            .is_some_and(|v| v.len() > 2 && prefixes.iter().any(|p| v.starts_with(p)))
    }
}

pub(super) fn parse_form(body: &[u8], truncated: bool) -> Fields {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let mut out = Vec::new();
    let mut last_has_value = false;
    let mut complete = true;
    for (i, seg) in body.split(|&b| b == b'&').enumerate() {
        if i >= MAX_FIELDS {
            complete = false;
            break;
        }
        if seg.is_empty() {
            continue;
        }
        let (k, v) = match seg.iter().position(|&b| b == b'=') {
            Some(eq) => (seg.get(..eq).unwrap_or_default(), seg.get(eq + 1..)),
            None => (seg, None),
        };
        last_has_value = v.is_some();
        out.push((
            decode_component(k),
            Some(decode_component(v.unwrap_or_default())),
        ));
    }
    if truncated && complete {
        // The last field was cut off at the parse limit: keep its name only if the name
        // itself is complete.
        if last_has_value {
            if let Some(last) = out.last_mut() {
                last.1 = None;
            }
        } else {
            out.pop();
        }
    }
    Fields(out)
}

/// Position of the next `delim` that starts a line, at or after `from` (which must be 0
/// or a line start). Linear in the input length.
fn find_delimiter(bytes: &[u8], delim: &[u8], mut from: usize) -> Option<usize> {
    loop {
        if bytes.get(from..)?.starts_with(delim) {
            return Some(from);
        }
        let off = bytes.get(from..)?.iter().position(|&b| b == b'\n')?;
        from += off + 1;
    }
}

pub(super) fn parse_multipart(body: &[u8], boundary: &[u8]) -> Fields {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut out = Vec::new();
    let Some(mut pos) = find_delimiter(body, &delim, 0) else {
        return Fields(out);
    };
    while out.len() < MAX_FIELDS {
        let after = pos + delim.len();
        let Some(rest) = body.get(after..) else { break };
        if rest.starts_with(b"--") {
            break;
        }
        let Some(eol) = rest.iter().position(|&b| b == b'\n') else {
            break;
        };
        let part_start = after + eol + 1;
        let next = find_delimiter(body, &delim, part_start);
        let part_end = next.unwrap_or(body.len());
        let Some(part) = body.get(part_start..part_end.max(part_start)) else {
            break;
        };
        let part = part.strip_suffix(b"\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r").unwrap_or(part);
        if let Some(field) = parse_part(part, next.is_some()) {
            out.push(field);
        }
        match next {
            Some(n) => pos = n,
            None => break,
        }
    }
    Fields(out)
}

/// One multipart part → (field name, value if small, textual and complete).
fn parse_part(part: &[u8], complete: bool) -> Option<(String, Option<String>)> {
    let (head, value) = if part.starts_with(b"\r\n") || part.starts_with(b"\n") {
        (&b""[..], part)
    } else {
        let crlf = find_bytes(part, b"\r\n\r\n").map(|i| (i, 4));
        let lf = find_bytes(part, b"\n\n").map(|i| (i, 2));
        let (i, n) = match (crlf, lf) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        (part.get(..i)?, part.get(i + n..)?)
    };
    let head = String::from_utf8_lossy(head.get(..head.len().min(8192))?);
    let mut name = None;
    let mut is_file = false;
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if !k.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        for param in v.split(';').skip(1) {
            let Some((pk, pv)) = param.split_once('=') else {
                continue;
            };
            let pk = pk.trim();
            if pk.eq_ignore_ascii_case("name") {
                name = Some(pv.trim().trim_matches('"').to_owned());
            } else if pk.eq_ignore_ascii_case("filename") {
                is_file = true;
            }
        }
    }
    let value = (complete && !is_file && value.len() <= MAX_PART_VALUE)
        .then(|| String::from_utf8_lossy(value).into_owned());
    Some((name?, value))
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
