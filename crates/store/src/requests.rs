//! Captured requests: the batched insert of the capture path and the owner-scoped reads.

use hookvault_core::headers::Headers;
use hookvault_core::ids::{EndpointId, RequestId, UserId};
use hookvault_core::provider::Provider;
use hookvault_core::signing::{Scheme, SignatureStatus};
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::StoreError;

/// A capture ready to be stored. (`Debug` in `redact.rs` hides headers and body.)
#[derive(Clone)]
pub struct NewCapture {
    pub id: RequestId,
    pub endpoint_id: EndpointId,
    pub received_at: OffsetDateTime,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub http_version: String,
    pub remote_addr: String,
    /// Encoded with `hookvault_core::headers::encode`.
    pub headers: Vec<u8>,
    pub content_type: Option<String>,
    /// The body as received (shared with the capture handler, not copied).
    pub body: bytes::Bytes,
    pub provider: Option<Provider>,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub signature_scheme: Option<Scheme>,
    pub signature_status: Option<SignatureStatus>,
    pub signature_reason: Option<String>,
    /// Stripe envelope facts (`hookvault_core::provider::StripeMeta`); `None` for others.
    pub stripe: Option<StripeFacts>,
}

/// Stripe event facts stored next to a capture, derived from its body at capture time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StripeFacts {
    pub livemode: Option<bool>,
    pub api_version: Option<String>,
    /// The event's `created`, Unix seconds.
    pub event_created: Option<i64>,
    pub object_id: Option<String>,
    pub object_type: Option<String>,
}

/// A capture in a list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestSummary {
    pub id: RequestId,
    pub seq: i64,
    pub endpoint_id: EndpointId,
    pub received_at: OffsetDateTime,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body_size: i32,
    pub content_type: Option<String>,
    pub provider: Option<Provider>,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub signature_status: Option<SignatureStatus>,
    pub signature_reason: Option<String>,
    /// The capture this one is an edited copy of (made in the dashboard).
    pub edited_from: Option<RequestId>,
}

/// A capture in full. (`Debug` in `redact.rs` hides headers and body.)
#[derive(Clone)]
pub struct StoredRequest {
    pub id: RequestId,
    pub seq: i64,
    pub endpoint_id: EndpointId,
    pub received_at: OffsetDateTime,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub http_version: String,
    pub remote_addr: String,
    /// Decoded from the stored blob as the row is read (names, order and bytes as received).
    pub headers: Headers,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub body_size: i32,
    pub provider: Option<Provider>,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub signature_scheme: Option<Scheme>,
    pub signature_status: Option<SignatureStatus>,
    pub signature_reason: Option<String>,
    pub livemode: Option<bool>,
    pub api_version: Option<String>,
    pub event_created: Option<i64>,
    pub object_id: Option<String>,
    pub object_type: Option<String>,
    /// The capture this one is an edited copy of (made in the dashboard).
    pub edited_from: Option<RequestId>,
}

/// Inserts a batch of captures and announces them, in one statement (run it outside a
/// transaction and it commits on its own).
///
/// Returns the `seq` given to each capture, in input order, or `None` for a capture whose
/// endpoint no longer exists (it is not stored). The batch's endpoints are locked FOR KEY
/// SHARE until the commit, so an endpoint deletion waits for the batch and then deletes its
/// captures with the others (see the migration `capture_endpoint_check`).
pub async fn insert_captures(
    ex: impl PgExecutor<'_>,
    batch: &[NewCapture],
) -> Result<Vec<Option<i64>>, StoreError> {
    Ok(insert(ex, batch, false)
        .await?
        .into_iter()
        .map(|s| match s {
            Stored::Seq(seq) => Some(seq),
            Stored::OverQuota | Stored::EndpointGone => None,
        })
        .collect())
}

/// What became of one capture of a counted batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Stored with this `seq`.
    Seq(i64),
    /// Not stored: the account's captures this month have reached its plan's limit.
    OverQuota,
    /// Not stored: the endpoint no longer exists.
    EndpointGone,
}

/// [`insert_captures`], counted against the plan: the same statement adds the batch to each
/// account's `capture_usage` row of the month (UTC) and stores only as many of the account's
/// captures as its plan still allows, in batch order. The row is updated with
/// `ON CONFLICT DO UPDATE`, which works on the latest committed count and holds the row until
/// the commit, so batches of every process on the database are counted exactly: the stored
/// captures of a month never exceed the limit.
pub async fn insert_captures_counted(
    ex: impl PgExecutor<'_>,
    batch: &[NewCapture],
) -> Result<Vec<Stored>, StoreError> {
    insert(ex, batch, true).await
}

/// The one capture statement. With `counted`, the batch is counted against the plans (see
/// [`insert_captures_counted`]); without, `capture_usage` is not touched and every capture of
/// a live endpoint is stored.
async fn insert(
    ex: impl PgExecutor<'_>,
    batch: &[NewCapture],
    counted: bool,
) -> Result<Vec<Stored>, StoreError> {
    let c = Columns::new(batch);
    // One statement, so one round trip and an implicit transaction: the rows, the count and
    // their announcements commit together. One announcement per endpoint and batch: followers
    // read everything after their position from the table, so they need the hint, not every
    // row. (`announced` is referenced so that it runs.) The columns are unnested in the select
    // list, which streams the rows into the insert (`FROM UNNEST(…)` would first copy every
    // body into a tuple store); only the small columns (id, endpoint, position in the batch)
    // go through the counting.
    let rows = sqlx::query!(
        r#"WITH live AS MATERIALIZED (
               SELECT e.id, e.user_id, p.captures_per_month AS lim
               FROM endpoints e JOIN users u ON u.id = e.user_id JOIN plans p ON p.name = u.plan
               WHERE e.id = ANY($2::uuid[]) FOR KEY SHARE OF e
           ), wanted AS MATERIALIZED (
               SELECT c.id, c.n, live.user_id, live.lim,
                      row_number() OVER (PARTITION BY live.user_id ORDER BY c.n) AS rank
               FROM UNNEST($1::uuid[], $2::uuid[]) WITH ORDINALITY AS c(id, endpoint_id, n)
               JOIN live ON live.id = c.endpoint_id
           ), counted AS (
               INSERT INTO capture_usage AS u (user_id, month, captures, quota, granted)
               SELECT user_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date,
                      LEAST(count(*), min(lim)), min(lim), LEAST(count(*), min(lim))
               FROM wanted WHERE $25 GROUP BY user_id
               ON CONFLICT (user_id, month) DO UPDATE SET
                   granted = GREATEST(0, LEAST(excluded.captures, excluded.quota - u.captures)),
                   captures = u.captures
                       + GREATEST(0, LEAST(excluded.captures, excluded.quota - u.captures)),
                   quota = excluded.quota
               RETURNING user_id, granted
           ), allowed AS MATERIALIZED (
               SELECT w.n FROM wanted w LEFT JOIN counted ON counted.user_id = w.user_id
               WHERE NOT $25 OR w.rank <= counted.granted
           ), ins AS (
               INSERT INTO requests (id, endpoint_id, received_at, method, path, query,
                      http_version, remote_addr, headers, content_type, body, body_size, provider,
                      event_type, event_id, signature_scheme, signature_status, signature_reason,
                      livemode, api_version, event_created, object_id, object_type)
               SELECT c.id, c.endpoint_id, c.received_at, c.method, c.path, c.query,
                      c.http_version, c.remote_addr, c.headers, c.content_type, c.body,
                      c.body_size, c.provider, c.event_type, c.event_id, c.signature_scheme,
                      c.signature_status, c.signature_reason, c.livemode, c.api_version,
                      c.event_created, c.object_id, c.object_type
               FROM (
                   SELECT unnest($1::uuid[]) AS id, unnest($2::uuid[]) AS endpoint_id,
                          unnest($3::timestamptz[]) AS received_at, unnest($4::text[]) AS method,
                          unnest($5::text[]) AS path, unnest($6::text[]) AS query,
                          unnest($7::text[]) AS http_version, unnest($8::text[]) AS remote_addr,
                          unnest($9::bytea[]) AS headers, unnest($10::text[]) AS content_type,
                          unnest($11::bytea[]) AS body, unnest($12::int4[]) AS body_size,
                          unnest($13::text[]) AS provider, unnest($14::text[]) AS event_type,
                          unnest($15::text[]) AS event_id, unnest($16::text[]) AS signature_scheme,
                          unnest($17::text[]) AS signature_status,
                          unnest($18::text[]) AS signature_reason, unnest($19::bool[]) AS livemode,
                          unnest($20::text[]) AS api_version, unnest($21::int8[]) AS event_created,
                          unnest($22::text[]) AS object_id, unnest($23::text[]) AS object_type,
                          generate_series(1, cardinality($1::uuid[])) AS n
               ) AS c
               WHERE c.n IN (SELECT n FROM allowed)
               RETURNING id, seq, endpoint_id
           ), announced AS (
               SELECT pg_notify($24, endpoint_id::text)
               FROM (SELECT DISTINCT endpoint_id FROM ins) AS touched
           )
           SELECT w.id AS "id!", ins.seq AS "seq?"
           FROM wanted w LEFT JOIN ins ON ins.id = w.id, (SELECT count(*) FROM announced) AS a"#,
        &c.ids as _,
        &c.endpoint_ids as _,
        &c.received,
        &c.methods as &[&str],
        &c.paths as &[&str],
        &c.queries as &[Option<&str>],
        &c.versions as &[&str],
        &c.addrs as &[&str],
        &c.headers as &[&[u8]],
        &c.ctypes as &[Option<&str>],
        &c.bodies as &[&[u8]],
        &c.sizes,
        &c.providers as _,
        &c.types as &[Option<&str>],
        &c.event_ids as &[Option<&str>],
        &c.schemes as _,
        &c.statuses as _,
        &c.reasons as &[Option<&str>],
        &c.livemodes as &[Option<bool>],
        &c.api_versions as &[Option<&str>],
        &c.created as &[Option<i64>],
        &c.object_ids as &[Option<&str>],
        &c.object_types as &[Option<&str>],
        crate::notify::CAPTURES,
        counted,
    )
    .fetch_all(ex)
    .await?;
    let by_id: std::collections::HashMap<RequestId, Option<i64>> =
        rows.iter().map(|r| (r.id.into(), r.seq)).collect();
    Ok(c.ids
        .iter()
        .map(|id| match by_id.get(id) {
            Some(Some(seq)) => Stored::Seq(*seq),
            Some(None) => Stored::OverQuota,
            None => Stored::EndpointGone,
        })
        .collect())
}

/// The batch as one array per column (the statements' UNNEST parameters).
struct Columns<'a> {
    ids: Vec<RequestId>,
    endpoint_ids: Vec<EndpointId>,
    received: Vec<OffsetDateTime>,
    methods: Vec<&'a str>,
    paths: Vec<&'a str>,
    queries: Vec<Option<&'a str>>,
    versions: Vec<&'a str>,
    addrs: Vec<&'a str>,
    headers: Vec<&'a [u8]>,
    ctypes: Vec<Option<&'a str>>,
    bodies: Vec<&'a [u8]>,
    sizes: Vec<i32>,
    providers: Vec<Option<Provider>>,
    types: Vec<Option<&'a str>>,
    event_ids: Vec<Option<&'a str>>,
    schemes: Vec<Option<Scheme>>,
    statuses: Vec<Option<SignatureStatus>>,
    reasons: Vec<Option<&'a str>>,
    livemodes: Vec<Option<bool>>,
    api_versions: Vec<Option<&'a str>>,
    created: Vec<Option<i64>>,
    object_ids: Vec<Option<&'a str>>,
    object_types: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn new(batch: &'a [NewCapture]) -> Self {
        let n = batch.len();
        let mut c = Columns {
            ids: Vec::with_capacity(n),
            endpoint_ids: Vec::with_capacity(n),
            received: Vec::with_capacity(n),
            methods: Vec::with_capacity(n),
            paths: Vec::with_capacity(n),
            queries: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            addrs: Vec::with_capacity(n),
            headers: Vec::with_capacity(n),
            ctypes: Vec::with_capacity(n),
            bodies: Vec::with_capacity(n),
            sizes: Vec::with_capacity(n),
            providers: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            event_ids: Vec::with_capacity(n),
            schemes: Vec::with_capacity(n),
            statuses: Vec::with_capacity(n),
            reasons: Vec::with_capacity(n),
            livemodes: Vec::with_capacity(n),
            api_versions: Vec::with_capacity(n),
            created: Vec::with_capacity(n),
            object_ids: Vec::with_capacity(n),
            object_types: Vec::with_capacity(n),
        };
        for b in batch {
            c.ids.push(b.id);
            c.endpoint_ids.push(b.endpoint_id);
            c.received.push(b.received_at);
            c.methods.push(b.method.as_str());
            c.paths.push(b.path.as_str());
            c.queries.push(b.query.as_deref());
            c.versions.push(b.http_version.as_str());
            c.addrs.push(b.remote_addr.as_str());
            c.headers.push(b.headers.as_slice());
            c.ctypes.push(b.content_type.as_deref());
            c.bodies.push(b.body.as_ref());
            c.sizes
                .push(i32::try_from(b.body.len()).unwrap_or(i32::MAX));
            c.providers.push(b.provider);
            c.types.push(b.event_type.as_deref());
            c.event_ids.push(b.event_id.as_deref());
            c.schemes.push(b.signature_scheme);
            c.statuses.push(b.signature_status);
            c.reasons.push(b.signature_reason.as_deref());
            let stripe = b.stripe.as_ref();
            c.livemodes.push(stripe.and_then(|s| s.livemode));
            c.api_versions
                .push(stripe.and_then(|s| s.api_version.as_deref()));
            c.created.push(stripe.and_then(|s| s.event_created));
            c.object_ids
                .push(stripe.and_then(|s| s.object_id.as_deref()));
            c.object_types
                .push(stripe.and_then(|s| s.object_type.as_deref()));
        }
        c
    }
}

/// One page of an endpoint's captures, newest first, strictly older than `before_seq`.
pub async fn list_requests(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<RequestSummary>, StoreError> {
    Ok(sqlx::query_as!(
        RequestSummary,
        r#"SELECT r.id, r.seq, r.endpoint_id, r.received_at, r.method, r.path, r.query, r.body_size,
                  r.content_type, r.provider AS "provider: _", r.event_type, r.event_id, r.signature_status AS "signature_status: _",
                  r.signature_reason, r.edited_from AS "edited_from: _"
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.endpoint_id = $1 AND e.user_id = $2 AND r.seq < COALESCE($3, 9223372036854775807)
           ORDER BY r.seq DESC LIMIT $4"#,
        endpoint_id as _,
        user_id as _,
        before_seq,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// The user's captures with these ids, in the order of `ids` (ids not found are left out):
/// a page of the feed, as list rows.
pub async fn summaries_by_ids(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    ids: &[RequestId],
) -> Result<Vec<RequestSummary>, StoreError> {
    Ok(sqlx::query_as!(
        RequestSummary,
        r#"SELECT r.id, r.seq, r.endpoint_id, r.received_at, r.method, r.path, r.query, r.body_size,
                  r.content_type, r.provider AS "provider: _", r.event_type, r.event_id, r.signature_status AS "signature_status: _",
                  r.signature_reason, r.edited_from AS "edited_from: _"
           FROM UNNEST($1::uuid[]) WITH ORDINALITY AS wanted(id, n)
           JOIN requests r ON r.id = wanted.id
           JOIN endpoints e ON e.id = r.endpoint_id
           WHERE e.user_id = $2
           ORDER BY wanted.n"#,
        ids as _,
        user_id as _
    )
    .fetch_all(ex)
    .await?)
}

/// The user's captures with these ids, in full, in the order of `ids` (ids not found are left
/// out): a page of the feed for the CLI stream.
pub async fn find_requests_by_ids(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    ids: &[RequestId],
) -> Result<Vec<StoredRequest>, StoreError> {
    Ok(sqlx::query_as!(
        StoredRequest,
        r#"SELECT r.id, r.seq, r.endpoint_id, r.received_at, r.method, r.path, r.query,
                  r.http_version, r.remote_addr, r.headers AS "headers: _", r.content_type, r.body, r.body_size,
                  r.provider AS "provider: _", r.event_type, r.event_id, r.signature_scheme AS "signature_scheme: _", r.signature_status AS "signature_status: _",
                  r.signature_reason, r.livemode, r.api_version, r.event_created, r.object_id,
                  r.object_type, r.edited_from AS "edited_from: _"
           FROM UNNEST($1::uuid[]) WITH ORDINALITY AS wanted(id, n)
           JOIN requests r ON r.id = wanted.id
           JOIN endpoints e ON e.id = r.endpoint_id
           WHERE e.user_id = $2
           ORDER BY wanted.n"#,
        ids as _,
        user_id as _
    )
    .fetch_all(ex)
    .await?)
}

/// One of the user's captures, in full.
pub async fn find_request(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: RequestId,
) -> Result<Option<StoredRequest>, StoreError> {
    Ok(sqlx::query_as!(
        StoredRequest,
        r#"SELECT r.id, r.seq, r.endpoint_id, r.received_at, r.method, r.path, r.query,
                  r.http_version, r.remote_addr, r.headers AS "headers: _", r.content_type, r.body, r.body_size,
                  r.provider AS "provider: _", r.event_type, r.event_id, r.signature_scheme AS "signature_scheme: _", r.signature_status AS "signature_status: _",
                  r.signature_reason, r.livemode, r.api_version, r.event_created, r.object_id,
                  r.object_type, r.edited_from AS "edited_from: _"
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.id = $1 AND e.user_id = $2"#,
        id as _,
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}

/// Stores an edited copy of the capture `original` beside it, as a new capture of the same
/// endpoint (announced to the live list like any capture) marked with `edited_from`; the
/// original is not touched. The caller has checked that `original` is the user's and that
/// `copy.endpoint_id` is its endpoint. False when the endpoint was deleted meanwhile.
pub async fn insert_edited_copy(
    pool: &sqlx::PgPool,
    copy: &NewCapture,
    original: RequestId,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let stored = insert_captures(&mut *tx, std::slice::from_ref(copy)).await?;
    if stored.first().copied().flatten().is_none() {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE requests SET edited_from = $2 WHERE id = $1",
        copy.id as _,
        original as _
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Number of captures stored for an endpoint (tests and the benchmark use it).
pub async fn count_requests(
    ex: impl PgExecutor<'_>,
    endpoint_id: EndpointId,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM requests WHERE endpoint_id = $1"#,
        endpoint_id as _
    )
    .fetch_one(ex)
    .await?)
}
