//! Captures related to a capture: other deliveries of the same event, other events about the
//! same object, the neighbour in arrival order, and an endpoint's Stripe events for the
//! event-order view. All scoped by owner.

use hookvault_core::ids::{EndpointId, RequestId, UserId};
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::StoreError;

/// One delivery of an event.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: RequestId,
    pub seq: i64,
    pub received_at: OffsetDateTime,
}

/// A capture listed with its event facts.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: RequestId,
    pub seq: i64,
    pub received_at: OffsetDateTime,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub event_created: Option<i64>,
    pub object_id: Option<String>,
    pub livemode: Option<bool>,
}

/// The first `limit` deliveries of `event_id` at the endpoint, in arrival order (the first one
/// is the original; the others are duplicates).
pub async fn list_deliveries_of_event(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    event_id: &str,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    Ok(sqlx::query_as!(
        Delivery,
        r#"SELECT r.id, r.seq, r.received_at
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.endpoint_id = $1 AND e.user_id = $2 AND r.event_id = $3
           ORDER BY r.seq ASC LIMIT $4"#,
        endpoint_id as _,
        user_id as _,
        event_id,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// The newest `limit` captures at the endpoint about `object_id`, newest first.
pub async fn list_events_about_object(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    object_id: &str,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(sqlx::query_as!(
        EventRow,
        r#"SELECT r.id, r.seq, r.received_at, r.event_type, r.event_id, r.event_created,
                  r.object_id, r.livemode
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.endpoint_id = $1 AND e.user_id = $2 AND r.object_id = $3
           ORDER BY r.seq DESC LIMIT $4"#,
        endpoint_id as _,
        user_id as _,
        object_id,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// The newest `limit` captures at the endpoint that carry an event `created` time (Stripe
/// events), newest arrival first.
pub async fn list_timed_events(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(sqlx::query_as!(
        EventRow,
        r#"SELECT r.id, r.seq, r.received_at, r.event_type, r.event_id, r.event_created,
                  r.object_id, r.livemode
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.endpoint_id = $1 AND e.user_id = $2 AND r.event_created IS NOT NULL
           ORDER BY r.seq DESC LIMIT $3"#,
        endpoint_id as _,
        user_id as _,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// The capture that arrived at the endpoint just before the one with `seq`.
pub async fn find_previous_request_id(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    seq: i64,
) -> Result<Option<RequestId>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT r.id AS "id: RequestId"
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.endpoint_id = $1 AND e.user_id = $2 AND r.seq < $3
           ORDER BY r.seq DESC LIMIT 1"#,
        endpoint_id as _,
        user_id as _,
        seq
    )
    .fetch_optional(ex)
    .await?)
}
