//! The search documents behind body search: one row in `request_search` per capture, filled by
//! a background indexer ([`index_next`]) in position order shortly after the capture is stored.
//! `search_progress` says how far it got: every capture at or below that position has its
//! document, so a search uses the documents' indexes there and scans only the bodies above it
//! (see `search::search_requests`).

use hookvault_core::headers::{Headers, RawHeader};
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// The text a free-text search looks in: the body as text, then each header name and value on
/// a line of its own. Bytes that are not UTF-8, and NUL (which PostgreSQL text cannot hold),
/// become U+FFFD, so every UTF-8 string found in the raw body or in one header name or value
/// is found in this text too (the search then checks the raw bytes).
pub fn search_words(body: &[u8], headers: &[RawHeader]) -> String {
    let size: usize = headers
        .iter()
        .map(|h| h.name.len() + h.value.len() + 2)
        .sum();
    let mut words = String::with_capacity(body.len() + size);
    words.push_str(&String::from_utf8_lossy(body));
    for h in headers {
        words.push('\n');
        words.push_str(&h.name);
        words.push('\n');
        words.push_str(&h.value_lossy());
    }
    if words.contains('\0') {
        words = words.replace('\0', "\u{FFFD}");
    }
    words
}

/// Body bytes read into memory per batch (a single larger capture is still read alone).
pub const BATCH_BYTES: i64 = 8 * 1024 * 1024;

/// Writes the search documents of the next (at most `limit`) captures after the indexer's
/// progress whose transactions have finished, and moves the progress past them. Returns how
/// many captures were indexed and whether more are already waiting (a full batch). Several processes may run it: each batch moves the progress
/// only from where it read it, so a batch raced by another indexer is dropped.
pub async fn index_next(pool: &PgPool, limit: i64) -> Result<(usize, bool), StoreError> {
    // Below the horizon (the oldest transaction still running) no capture can still appear.
    let start = sqlx::query!(
        r#"SELECT p.xid, p.seq,
                  pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS "horizon!"
           FROM search_progress p"#
    )
    .fetch_one(pool)
    .await?;
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
        return Ok((0, false));
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
        return Ok((0, true));
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
    Ok((ids.len(), full))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_hold_the_body_and_each_header_name_and_value_with_bad_bytes_replaced() {
        let headers = [
            RawHeader::new("Content-Type", b"application/json".to_vec()),
            RawHeader::new("X-Odd", b"a\xffb".to_vec()),
        ];
        let words = search_words(b"{\"a\":\"\x00x\xfe\"}", &headers);
        assert_eq!(
            words,
            "{\"a\":\"\u{FFFD}x\u{FFFD}\"}\nContent-Type\napplication/json\nX-Odd\na\u{FFFD}b"
        );
    }
}
