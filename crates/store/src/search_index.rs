//! The search documents behind body search: one row in `request_search` per capture, filled by
//! a background indexer ([`index_next`]) in position order shortly after the capture is stored.
//! `search_progress` says how far it got: every capture at or below that position has its
//! document, so a search uses the documents' indexes there and scans only the bodies above it
//! (see `search::search_requests`).

use hookvault_core::headers::{Headers, RawHeader};
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// The text behind a free-text search's trigram index: every distinct word of the body and
/// of each header name and value, once, each between two spaces (` id object amount `). A word
/// is a maximal run of ASCII letters and digits; every other byte (punctuation, spaces, bytes
/// of other characters, bytes that are not UTF-8, NUL) separates words. [`word_patterns`] turns
/// a searched text into `LIKE` patterns that every document whose capture holds that text
/// matches, so the index finds a superset of the matches and the search then compares the raw
/// bytes exactly. A JSON body repeats its keys and punctuation: its distinct words are about a
/// quarter of its text and give the same trigrams, which is most of what indexing costs.
pub fn search_words(body: &[u8], headers: &[RawHeader]) -> String {
    let sources = std::iter::once(body).chain(
        headers
            .iter()
            .flat_map(|h| [h.name.as_bytes(), h.value.as_slice()]),
    );
    let mut seen = std::collections::HashSet::new();
    let mut words = String::from(" ");
    for word in sources.flat_map(words_of) {
        if seen.insert(word) {
            // Words are ASCII, so each byte is a char.
            words.extend(word.iter().map(|&b| char::from(b)));
            words.push(' ');
        }
    }
    words
}

/// Whether a byte belongs to a word: an ASCII letter or digit.
fn in_word(b: &u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// The words of `bytes` (maximal runs of [`in_word`] bytes), in order.
fn words_of(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|b| !in_word(b)).filter(|w| !w.is_empty())
}

/// `LIKE` patterns, one per distinct word of `text`, that the [`search_words`] of every capture
/// holding `text` (in its body or in one header name or value) matches. A word of `text` that
/// a separator follows ends a word of the capture too, so the pattern has the space after it
/// (`%4242 %`); one that a separator precedes starts one (`% 4242%`); a word at an end of
/// `text` may be part of a longer word there (`%4242%`). Words are letters and digits, so
/// nothing needs escaping. Empty when `text` has no letter or digit.
pub fn word_patterns(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut patterns = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        if !in_word(&bytes[start]) {
            start += 1;
            continue;
        }
        let end = bytes[start..]
            .iter()
            .position(|b| !in_word(b))
            .map_or(bytes.len(), |n| start + n);
        let before = if start > 0 { "% " } else { "%" };
        let after = if end < bytes.len() { " %" } else { "%" };
        // ASCII letters and digits only: a char boundary on both sides.
        patterns.push(format!("{before}{}{after}", &text[start..end]));
        start = end;
    }
    patterns.sort();
    patterns.dedup();
    patterns
}

/// Body bytes read into memory per batch (a single larger capture is still read alone).
pub const BATCH_BYTES: i64 = 8 * 1024 * 1024;

/// What one [`index_next`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// More captures are already waiting (a full batch).
    pub more: bool,
    /// Captures numbered so far on the database (stored or being stored, by every process):
    /// two readings tell how fast captures are arriving.
    pub numbered: i64,
}

/// Writes the search documents of the next (at most `limit`) captures after the indexer's
/// progress whose transactions have finished, and moves the progress past them. Several
/// processes may run it: each batch moves the progress only from where it read it, so a batch
/// raced by another indexer is dropped.
pub async fn index_next(pool: &PgPool, limit: i64) -> Result<Pass, StoreError> {
    // Below the horizon (the oldest transaction still running) no capture can still appear.
    let start = sqlx::query!(
        r#"SELECT p.xid, p.seq,
                  pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS "horizon!",
                  (SELECT last_value FROM requests_seq_seq) AS "numbered!"
           FROM search_progress p"#
    )
    .fetch_one(pool)
    .await?;
    let pass = |more| Pass {
        more,
        numbered: start.numbered,
    };
    // At most `limit` captures and BATCH_BYTES of bodies (always the first), so the indexer's
    // memory does not grow with body sizes; `candidates` says whether the byte budget cut the
    // batch short (then more captures are waiting).
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", xid AS "xid!", seq AS "seq!", headers AS "headers!: Headers",
                  body AS "body!", candidates AS "candidates!"
           FROM (SELECT w.*,
                        (sum(w.body_size::int8) OVER (ORDER BY w.xid, w.seq))::int8 AS upto,
                        row_number() OVER (ORDER BY w.xid, w.seq) AS n,
                        count(*) OVER () AS candidates
                 FROM (SELECT id, xid, seq, headers, body, body_size FROM requests
                       WHERE (xid, seq) > ($1, $2) AND xid < $3
                       ORDER BY xid, seq LIMIT $4) w) x
           WHERE n = 1 OR upto <= $5
           ORDER BY xid, seq"#,
        start.xid,
        start.seq,
        start.horizon,
        limit,
        BATCH_BYTES,
    )
    .fetch_all(pool)
    .await?;
    let full = rows.last().is_some_and(|last| {
        let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        n >= limit || last.candidates > n
    });
    // Caught up: everything below the horizon is done.
    let (to_xid, to_seq) = match rows.last() {
        Some(last) if full => (last.xid, last.seq),
        _ => (start.horizon - 1, i64::MAX),
    };
    if rows.is_empty() && (to_xid, to_seq) <= (start.xid, start.seq) {
        return Ok(pass(false));
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let words: Vec<String> = rows
        .iter()
        .map(|r| search_words(&r.body, r.headers.as_slice()))
        .collect();
    drop(rows);
    let mut tx = pool.begin().await?;
    let moved = sqlx::query!(
        "UPDATE search_progress SET xid = $3, seq = $4 WHERE xid = $1 AND seq = $2",
        start.xid,
        start.seq,
        to_xid,
        to_seq,
    )
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() != 1 {
        // Another indexer got here first.
        return Ok(pass(true));
    }
    // The captures are locked against deletion (retention, a deleted endpoint) for the
    // insert's foreign key check; one deleted meanwhile is skipped.
    sqlx::query!(
        "INSERT INTO request_search (request_id, endpoint_id, doc, words)
         SELECT r.id, r.endpoint_id, hookvault_try_jsonb(r.body), t.words
         FROM UNNEST($1::uuid[], $2::text[]) AS t(id, words)
         JOIN requests r ON r.id = t.id
         FOR KEY SHARE OF r
         ON CONFLICT (request_id) DO NOTHING",
        &ids,
        &words,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(pass(full))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_each_distinct_word_of_the_body_and_headers_once_between_spaces() {
        let headers = [
            RawHeader::new("Content-Type", b"application/json".to_vec()),
            RawHeader::new("X-Odd", b"a\xffb".to_vec()),
        ];
        let words = search_words(
            b"{\"a\":\"\x00x\xfe\",\"id\":\"in_1\",\"id2\":\"in_1\"}",
            &headers,
        );
        assert_eq!(
            words,
            " a x id in 1 id2 Content Type application json X Odd b "
        );
        assert_eq!(search_words(b"", &[]), " ");
    }

    #[test]
    fn patterns_put_a_space_where_the_text_itself_ends_a_word() {
        assert_eq!(
            word_patterns("\"order_id\":\"4242\""),
            ["% 4242 %", "% id %", "% order %"]
        );
        assert_eq!(word_patterns("needle"), ["%needle%"]);
        assert_eq!(
            word_patterns("customer4242@example.com"),
            ["% com%", "% example %", "%customer4242 %"]
        );
        assert_eq!(word_patterns("a a"), ["% a%", "%a %"]);
        assert!(word_patterns("{}\u{e9}\"").is_empty());
    }

    /// Every capture holding the text matches every pattern, wherever the text sits in it.
    #[test]
    fn the_words_of_a_body_holding_the_text_match_every_pattern() {
        // `%…%` with no other wildcard: LIKE is containment of the middle.
        fn like(words: &str, pattern: &str) -> bool {
            words.contains(pattern.trim_matches('%'))
        }
        let body =
            b"{\"customer_email\":\"customer4242@example.com\",\"x\":\"caf\xc3\xa9 au lait\"}";
        let words = search_words(body, &[]);
        for text in [
            "customer4242@example.com",
            "ustomer4242@exam",
            "\"customer_email\":\"c",
            "4242@",
            "caf\u{e9} au",
            "\u{e9} au lait\"}",
        ] {
            assert!(body.windows(text.len()).any(|w| w == text.as_bytes()));
            for p in word_patterns(text) {
                assert!(like(&words, &p), "{text:?}: {p:?} against {words:?}");
            }
        }
        assert!(!like(&words, "% 4242 %"));
    }
}
