//! Searching an endpoint's captures with a parsed `hookvault_core::search::SearchQuery`.
//!
//! The SQL is assembled with `QueryBuilder`; every user value is a bind parameter. Statements
//! are not prepared for reuse (`persistent(false)`): their text varies with the filters, and an
//! unnamed statement is always planned with the actual values, which is what lets
//! `event_type LIKE 'invoice.%'` use the `text_pattern_ops` index.

use hookvault_core::ids::{EndpointId, UserId};
use hookvault_core::search::SearchQuery;
use hookvault_core::signing::SignatureStatus;
use sqlx::{PgExecutor, Postgres, QueryBuilder};

use crate::requests::RequestSummary;
use crate::StoreError;

/// One page of the endpoint's captures matching `q`, newest first, strictly older than
/// `before_seq`; the same page shape as `requests::list_requests`.
pub async fn search_requests(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    q: &SearchQuery,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<RequestSummary>, StoreError> {
    let mut b = QueryBuilder::<Postgres>::new(
        "SELECT r.id, r.seq, r.endpoint_id, r.received_at, r.method, r.path, r.query, \
         r.body_size, r.content_type, r.provider, r.event_type, r.event_id, \
         r.signature_status, r.signature_reason, r.edited_from \
         FROM requests r JOIN endpoints e ON e.id = r.endpoint_id WHERE r.endpoint_id = ",
    );
    b.push_bind(endpoint_id);
    b.push(" AND e.user_id = ");
    b.push_bind(user_id);
    if let Some(seq) = before_seq {
        b.push(" AND r.seq < ");
        b.push_bind(seq);
    }
    push_filters(&mut b, q);
    b.push(" ORDER BY r.seq DESC LIMIT ");
    b.push_bind(limit);
    Ok(b.build_query_as::<RequestSummary>()
        .persistent(false)
        .fetch_all(ex)
        .await?)
}

/// Appends ` AND …` for every filter of `q`.
fn push_filters(b: &mut QueryBuilder<'_, Postgres>, q: &SearchQuery) {
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
