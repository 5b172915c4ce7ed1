//! Hex dumps of binary bodies.

use std::fmt::Write as _;

/// Classic hex dump (the `hexdump -C` line layout, without the final offset line):
/// `00000000  7b 22 61 22 3a 31 7d 0a  …  |{"a":1}.|` — offset, 16 bytes in two groups of 8,
/// ASCII column with `.` for non-printables; each line ends with `\n`. Plain text (the caller
/// escapes). Shows at most `max_bytes` bytes and then appends a line `… N more bytes`.
pub fn hex_dump(body: &[u8], max_bytes: usize) -> String {
    let shown = body.get(..max_bytes).unwrap_or(body);
    let mut out = String::with_capacity(shown.len().div_ceil(16) * 80 + 32);
    for (line, chunk) in shown.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", line.saturating_mul(16));
        for i in 0..16 {
            if i == 8 {
                out.push(' ');
            }
            match chunk.get(i) {
                Some(&b) => {
                    push_hex_byte(&mut out, b);
                    out.push(' ');
                }
                None => out.push_str("   "),
            }
        }
        out.push_str(" |");
        for &b in chunk {
            out.push(if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            });
        }
        out.push_str("|\n");
    }
    if body.len() > shown.len() {
        let _ = writeln!(out, "… {} more bytes", body.len() - shown.len());
    }
    out
}

pub(super) fn push_hex_byte(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_dump_matches_the_classic_layout() {
        assert_eq!(
            hex_dump(b"{\"a\":1}\n", 1024),
            "00000000  7b 22 61 22 3a 31 7d 0a                           |{\"a\":1}.|\n"
        );
        assert_eq!(
            hex_dump(b"0123456789abcdefXYZ\x00\xff", 1024),
            "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n\
             00000010  58 59 5a 00 ff                                    |XYZ..|\n"
        );
        assert_eq!(hex_dump(b"", 16), "");
    }

    #[test]
    fn hex_dump_stops_at_max_bytes() {
        let body = vec![b'A'; 40];
        assert_eq!(
            hex_dump(&body, 16),
            "00000000  41 41 41 41 41 41 41 41  41 41 41 41 41 41 41 41  |AAAAAAAAAAAAAAAA|\n\
             … 24 more bytes\n"
        );
        assert_eq!(hex_dump(&body, 0), "… 40 more bytes\n");
    }
}
