//! Searching an endpoint's captures with a parsed `hookvault_core::search::SearchQuery`.
//!
//! The SQL is assembled with `QueryBuilder`; every user value is a bind parameter. Statements
//! are not prepared for reuse (`persistent(false)`): their text varies with the filters, and an
//! unnamed statement is always planned with the actual values, which is what lets
//! `event_type LIKE 'invoice.%'` use the `text_pattern_ops` index.

use hookvault_core::ids::{EndpointId, UserId};
use hookvault_core::search::{JsonMatch, SearchQuery};
use hookvault_core::signing::SignatureStatus;
use sqlx::{PgExecutor, Postgres, QueryBuilder};

use crate::requests::RequestSummary;
use crate::search_index::word_patterns;
use crate::StoreError;

const COLUMNS: &str = "SELECT r.id, r.seq, r.endpoint_id, r.received_at, r.method, r.path, \
     r.query, r.body_size, r.content_type, r.provider, r.event_type, r.event_id, \
     r.signature_status, r.signature_reason, r.edited_from";

/// One page of the endpoint's captures matching `q`, newest first, strictly older than
/// `before_seq`; the same page shape as `requests::list_requests`.
///
/// Body filters (JSON paths, free text) use the search documents for captures at or below the
/// indexer's progress (their indexes find candidates, the exact test is then made on the
/// document or the raw bytes) and scan the bodies of the captures above it; the two parts are
/// merged newest first.
///
/// The progress is read first and bound as values, so both parts split at the same position and
/// the planner sees how few captures lie above it: the scan then walks this endpoint's entries
/// of the `(endpoint_id, xid, seq)` index from there, never other endpoints' captures that the
/// indexer has not reached yet (with the position as a subquery it could not tell, and read
/// every capture of the table above the progress).
///
/// A term found in most captures (a common word, `livemode:false`) gives the documents' indexes
/// most of the endpoint as candidates, which then all have to be fetched and sorted: seconds at
/// a million captures. So a body search first reads the [`FIRST_READ`] newest captures from the
/// cursor directly, newest first, and answers from them when they hold a full page: those are
/// the newest matches. Otherwise the indexes are used.
pub async fn search_requests(
    ex: impl PgExecutor<'_> + Copy,
    user_id: UserId,
    endpoint_id: EndpointId,
    q: &SearchQuery,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<RequestSummary>, StoreError> {
    if q.json.is_empty() && q.text.is_empty() {
        return read(ex, user_id, endpoint_id, q, before_seq, Fence::None, limit).await;
    }
    let newest = read(
        ex,
        user_id,
        endpoint_id,
        q,
        before_seq,
        Fence::Newest(FIRST_READ),
        limit,
    )
    .await?;
    if i64::try_from(newest.len()).unwrap_or(i64::MAX) >= limit {
        return Ok(newest);
    }
    let progress = sqlx::query_as!(
        Progress,
        r#"SELECT xid AS "xid!", seq AS "seq!" FROM search_progress"#
    )
    .fetch_one(ex)
    .await?;
    let mut b = QueryBuilder::<Postgres>::new("SELECT * FROM ((");
    b.push(COLUMNS);
    b.push(
        " FROM request_search d JOIN requests r ON r.id = d.request_id \
         JOIN endpoints e ON e.id = r.endpoint_id WHERE d.endpoint_id = ",
    );
    b.push_bind(endpoint_id);
    b.push(" AND ");
    push_page(&mut b, user_id, endpoint_id, before_seq);
    b.push(" AND (r.xid, r.seq) <= (");
    b.push_bind(progress.xid);
    b.push(", ");
    b.push_bind(progress.seq);
    b.push(")");
    push_filters(&mut b, q, Some("d"));
    b.push(" ORDER BY r.seq DESC LIMIT ");
    b.push_bind(limit);
    b.push(") UNION ALL (");
    push_scan(
        &mut b,
        user_id,
        endpoint_id,
        q,
        before_seq,
        Fence::Above(progress),
    );
    b.push(" ORDER BY r.seq DESC LIMIT ");
    b.push_bind(limit);
    b.push(")) found ORDER BY seq DESC LIMIT ");
    b.push_bind(limit);
    Ok(b.build_query_as::<RequestSummary>()
        .persistent(false)
        .fetch_all(ex)
        .await?)
}

/// How many of the endpoint's newest captures (from the cursor) a body search reads directly
/// before it turns to the search documents' indexes (see [`search_requests`]). Reading one
/// 4 KB body takes a few microseconds, so a term found in few captures costs a few
/// milliseconds more; one found in more than a tenth of them is answered here.
pub const FIRST_READ: i64 = 500;

/// One page of the endpoint's captures matching `q`, read directly within `fence`.
async fn read(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    q: &SearchQuery,
    before_seq: Option<i64>,
    fence: Fence,
    limit: i64,
) -> Result<Vec<RequestSummary>, StoreError> {
    let mut b = QueryBuilder::<Postgres>::new("");
    push_scan(&mut b, user_id, endpoint_id, q, before_seq, fence);
    b.push(" ORDER BY r.seq DESC LIMIT ");
    b.push_bind(limit);
    Ok(b.build_query_as::<RequestSummary>()
        .persistent(false)
        .fetch_all(ex)
        .await?)
}

/// Which of the endpoint's captures [`push_scan`] reads.
#[derive(Debug, Clone, Copy)]
enum Fence {
    /// All of them.
    None,
    /// Those above the indexer's progress.
    Above(Progress),
    /// The newest this many (older than the cursor).
    Newest(i64),
}

/// How far the search indexer got (see `search_index`).
#[derive(Debug, Clone, Copy)]
struct Progress {
    xid: i64,
    seq: i64,
}

/// The endpoint's captures matching `q` by reading them (no search documents), within `fence`.
/// Above the indexer's progress, they are found through the endpoint's position index first
/// (a fence, so the planner does not walk the whole endpoint newest first instead); the newest
/// N through the `(endpoint_id, seq)` index.
fn push_scan(
    b: &mut QueryBuilder<'_, Postgres>,
    user_id: UserId,
    endpoint_id: EndpointId,
    q: &SearchQuery,
    before_seq: Option<i64>,
    fence: Fence,
) {
    b.push(COLUMNS);
    match fence {
        Fence::Above(p) => {
            // The row comparison starts with the endpoint, so it bounds a range of
            // `requests_endpoint_position_idx` rather than filtering the entries of the global
            // position index (every endpoint's captures not indexed yet). `xid >=` is implied
            // by it but is what the planner can estimate (a row comparison is estimated by its
            // first column alone, which made it expect a quarter of the table and read all of
            // it).
            b.push(" FROM (SELECT * FROM requests f WHERE f.endpoint_id = ");
            b.push_bind(endpoint_id);
            b.push(" AND f.xid >= ");
            b.push_bind(p.xid);
            b.push(" AND (f.endpoint_id, f.xid, f.seq) > (");
            b.push_bind(endpoint_id);
            b.push(", ");
            b.push_bind(p.xid);
            b.push(", ");
            b.push_bind(p.seq);
            b.push(") OFFSET 0) r");
        }
        Fence::Newest(n) => {
            b.push(" FROM (SELECT * FROM requests f WHERE f.endpoint_id = ");
            b.push_bind(endpoint_id);
            if let Some(seq) = before_seq {
                b.push(" AND f.seq < ");
                b.push_bind(seq);
            }
            b.push(" ORDER BY f.seq DESC LIMIT ");
            b.push_bind(n);
            b.push(") r");
        }
        Fence::None => {
            b.push(" FROM requests r");
        }
    }
    b.push(" JOIN endpoints e ON e.id = r.endpoint_id WHERE ");
    push_page(b, user_id, endpoint_id, before_seq);
    push_filters(b, q, None);
}

/// The conditions every part of a search shares: captures `r` of this endpoint, which belongs
/// to this user (`e`), older than the page's cursor.
fn push_page(
    b: &mut QueryBuilder<'_, Postgres>,
    user_id: UserId,
    endpoint_id: EndpointId,
    before_seq: Option<i64>,
) {
    b.push("r.endpoint_id = ");
    b.push_bind(endpoint_id);
    b.push(" AND e.user_id = ");
    b.push_bind(user_id);
    if let Some(seq) = before_seq {
        b.push(" AND r.seq < ");
        b.push_bind(seq);
    }
}

/// Appends ` AND …` for every filter of `q`. With `doc` (the alias of the captures' search
/// documents), body filters find candidates through the documents' indexes and are then
/// tested exactly on the document (JSON) or on the raw bytes (text).
fn push_filters(b: &mut QueryBuilder<'_, Postgres>, q: &SearchQuery, doc: Option<&str>) {
    if !q.providers.is_empty() {
        b.push(" AND r.provider = ANY(");
        b.push_bind(q.providers.clone());
        b.push(")");
    }
    if !q.event_types.is_empty() {
        b.push(" AND (");
        for (i, t) in q.event_types.iter().enumerate() {
            if i > 0 {
                b.push(" OR ");
            }
            match &t.like {
                Some(pattern) => {
                    b.push("r.event_type LIKE ");
                    b.push_bind(pattern.clone());
                }
                None => {
                    b.push("r.event_type = ");
                    b.push_bind(t.raw.clone());
                }
            }
        }
        b.push(")");
    }
    if !q.methods.is_empty() {
        b.push(" AND r.method = ANY(");
        b.push_bind(q.methods.clone());
        b.push(")");
    }
    if !q.signatures.is_empty() {
        let names: Vec<String> = q
            .signatures
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        b.push(" AND (r.signature_status = ANY(");
        b.push_bind(names);
        b.push(")");
        if q.signatures.contains(&SignatureStatus::Unchecked) {
            // Endpoints without a signature check store no status at all.
            b.push(" OR r.signature_status IS NULL");
        }
        b.push(")");
    }
    if let Some(t) = q.received_after {
        b.push(" AND r.received_at >= ");
        b.push_bind(t);
    }
    if let Some(t) = q.received_before {
        b.push(" AND r.received_at < ");
        b.push_bind(t);
    }
    if !q.event_ids.is_empty() {
        b.push(" AND r.event_id = ANY(");
        b.push_bind(q.event_ids.clone());
        b.push(")");
    }
    for m in &q.json {
        if let Some(d) = doc {
            let candidates = containment(m);
            for (i, c) in candidates.iter().enumerate() {
                b.push(if i == 0 { " AND (" } else { " OR " });
                b.push(format_args!("{d}.doc @> "));
                b.push_bind(c.clone());
                if i + 1 == candidates.len() {
                    b.push(")");
                }
            }
            b.push(format_args!(" AND {d}.doc #>> "));
            b.push_bind(m.path.clone());
            b.push("::text[] = ");
            b.push_bind(m.value.clone());
            continue;
        }
        if m.literal_prefilter() {
            // Cheap byte test first, so only bodies that can match are parsed. A matching
            // body either holds the value's bytes or spells it with a \u escape.
            b.push(" AND (position(");
            b.push_bind(m.value.as_bytes().to_vec());
            b.push("::bytea in r.body) > 0 OR position('\\x5c75'::bytea in r.body) > 0)");
        }
        b.push(" AND hookvault_try_jsonb(r.body) #>> ");
        b.push_bind(m.path.clone());
        b.push("::text[] = ");
        b.push_bind(m.value.clone());
    }
    for t in &q.text {
        if let Some(d) = doc {
            // The words of every capture holding the text match each pattern (see
            // `search_index::word_patterns`); the raw bytes are then compared exactly.
            for pattern in word_patterns(t) {
                b.push(format_args!(" AND {d}.words LIKE "));
                b.push_bind(pattern);
            }
        }
        // Raw bytes, so non-UTF-8 bodies never make the query fail. The header blob stores
        // names and values verbatim, so a substring of one header is found there too.
        let bytes = t.as_bytes().to_vec();
        b.push(" AND (position(");
        b.push_bind(bytes.clone());
        b.push("::bytea in r.body) > 0 OR position(");
        b.push_bind(bytes);
        b.push("::bytea in r.headers) > 0)");
    }
}

/// JSON documents one of which a body must contain (`@>`) for `m` to match: the path's
/// objects around the value as a string, and as the number or boolean it spells. Empty when
/// the path has an array index (the key may be an index or an object key) or the value could
/// be an object or array: the document is then tested without its index.
fn containment(m: &JsonMatch) -> Vec<serde_json::Value> {
    if m.path.is_empty()
        || m.path.iter().any(|p| p.bytes().all(|c| c.is_ascii_digit()))
        || m.value.starts_with(['{', '['])
    {
        return Vec::new();
    }
    let mut leaves = vec![serde_json::Value::String(m.value.clone())];
    if let Ok(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) =
        serde_json::from_str::<serde_json::Value>(&m.value)
    {
        // A number only when it is written as it would be stored; otherwise (`2.0e3`, more
        // digits than a double holds) its stored spelling cannot be predicted.
        let spelled = v.to_string();
        if spelled != m.value {
            return Vec::new();
        }
        leaves.push(v);
    }
    leaves
        .into_iter()
        .map(|mut v| {
            for key in m.path.iter().rev() {
                let mut object = serde_json::Map::new();
                object.insert(key.clone(), v);
                v = serde_json::Value::Object(object);
            }
            v
        })
        .collect()
}
