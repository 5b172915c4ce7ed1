//! Form bodies and query strings decoded into name/value pairs.

use std::borrow::Cow;

/// Decoded `application/x-www-form-urlencoded` pairs (`+` as space, percent-decoding, lossy
/// UTF-8), in order, duplicates kept. Empty segments (`a=1&&b=2`) are skipped; a key without
/// `=` gets an empty value.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => {
                let (k, v) = pair.split_at(i);
                (
                    decode_component(k),
                    decode_component(v.get(1..).unwrap_or_default()),
                )
            }
            None => (decode_component(pair), String::new()),
        })
        .collect()
}

/// Decoded query string pairs (same rules as [`form_fields`]) from a raw query (without `?`);
/// a key without `=` gives an empty value.
pub fn query_params(raw_query: &str) -> Vec<(String, String)> {
    form_fields(raw_query.as_bytes())
}

/// One decoded form component (a name or a value): `+` as space, percent-decoding, lossy
/// UTF-8. The one form decoder: form fields and query strings here, and provider detection's
/// form bodies.
pub fn decode_component(raw: &[u8]) -> String {
    let spaced: Cow<'_, [u8]> = if raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let decoded: Cow<'_, [u8]> = percent_encoding::percent_decode(&spaced).into();
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_decode_plus_percent_and_keep_duplicates() {
        assert_eq!(
            form_fields(
                b"path=a%2Fb%20c&msg=hello+world%21&plus=%2B&x=1&x=2&empty=&flag&&bad=%zz%e9"
            ),
            vec![
                ("path".into(), "a/b c".into()),
                ("msg".into(), "hello world!".into()),
                ("plus".into(), "+".into()),
                ("x".into(), "1".into()),
                ("x".into(), "2".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
                ("bad".into(), "%zz\u{fffd}".into()),
            ]
        );
        assert!(form_fields(b"").is_empty());
    }

    #[test]
    fn query_params_follow_the_same_rules() {
        assert_eq!(
            query_params("x=1&x=2&empty=&flag&a%2Fb%20c=d%3De"),
            vec![
                ("x".into(), "1".into()),
                ("x".into(), "2".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
                ("a/b c".into(), "d=e".into()),
            ]
        );
    }
}
