//! What the request page adds on top of the stored bytes: the Stripe view (mode, object
//! summary, other events about the same object), duplicate deliveries of the same event, and
//! the entry points to compare and export. Everything is derived; nothing changes the capture.

use hookvault_core::ids::{RequestId, UserId};
use hookvault_core::provider::Provider;
use hookvault_core::stripe::{self, ObjectSummary};
use hookvault_store::related;
use hookvault_store::requests::StoredRequest;
use time::OffsetDateTime;

use crate::error::AppError;
use crate::state::AppState;
use crate::views::rfc3339;

/// Bodies larger than this get no object summary (it would mean parsing them on every view).
const SUMMARY_LIMIT: usize = 2 * 1024 * 1024;
/// Most deliveries of one event listed.
const MAX_DELIVERIES: i64 = 20;
/// Most events about one object listed.
const MAX_RELATED: i64 = 50;

/// A link to another capture.
pub struct CaptureLink {
    pub id: RequestId,
    pub received_at: String,
}

/// Another event about the same object.
pub struct RelatedEvent {
    pub id: RequestId,
    pub event_type: String,
    pub event_id: String,
    /// The event's `created`, RFC 3339 (empty when unknown).
    pub created: String,
    pub received_at: String,
    /// True for the capture being viewed.
    pub this: bool,
}

/// The derived facts shown on the request page.
pub struct Insight {
    /// `Some(true)` live mode, `Some(false)` test mode.
    pub livemode: Option<bool>,
    pub api_version: String,
    /// The event's `created`, RFC 3339 (empty when unknown).
    pub created: String,
    pub object_type: String,
    pub object_id: String,
    pub summary: Option<ObjectSummary>,
    /// The first delivery of this event, when this capture is a later one.
    pub duplicate_of: Option<CaptureLink>,
    /// Every other delivery of this event at the endpoint, in arrival order.
    pub other_deliveries: Vec<CaptureLink>,
    /// Events about the same object, ordered by `created` (this one included).
    pub related: Vec<RelatedEvent>,
    /// The capture that arrived just before this one, to compare with.
    pub previous: Option<RequestId>,
}

impl Insight {
    pub async fn load(
        state: &AppState,
        user_id: UserId,
        req: &StoredRequest,
    ) -> Result<Self, AppError> {
        let pool = &state.pool;
        let (mut duplicate_of, mut other_deliveries) = (None, Vec::new());
        if let Some(event_id) = &req.event_id {
            let deliveries = related::list_deliveries_of_event(
                pool,
                user_id,
                req.endpoint_id,
                event_id,
                MAX_DELIVERIES,
            )
            .await?;
            if let Some(first) = deliveries.first().filter(|d| d.seq < req.seq) {
                duplicate_of = Some(link(first.id, &first.received_at));
            }
            other_deliveries = deliveries
                .iter()
                .filter(|d| d.id != req.id)
                .map(|d| link(d.id, &d.received_at))
                .collect();
        }
        let mut related_events = Vec::new();
        if let Some(object_id) = &req.object_id {
            let mut rows = related::list_events_about_object(
                pool,
                user_id,
                req.endpoint_id,
                object_id,
                MAX_RELATED,
            )
            .await?;
            rows.sort_by_key(|r| (r.event_created, r.seq));
            if rows.len() > 1 {
                related_events = rows
                    .into_iter()
                    .map(|r| RelatedEvent {
                        this: r.id == req.id,
                        id: r.id,
                        event_type: r.event_type.unwrap_or_default(),
                        event_id: r.event_id.unwrap_or_default(),
                        created: unix_rfc3339(r.event_created),
                        received_at: rfc3339(&r.received_at),
                    })
                    .collect();
            }
        }
        let previous =
            related::find_previous_request_id(pool, user_id, req.endpoint_id, req.seq).await?;
        let summary = (req.provider == Some(Provider::Stripe) && req.body.len() <= SUMMARY_LIMIT)
            .then(|| stripe::object_summary(&req.body))
            .flatten();
        Ok(Insight {
            livemode: req.livemode,
            api_version: req.api_version.clone().unwrap_or_default(),
            created: unix_rfc3339(req.event_created),
            object_type: req.object_type.clone().unwrap_or_default(),
            object_id: req.object_id.clone().unwrap_or_default(),
            summary,
            duplicate_of,
            other_deliveries,
            related: related_events,
            previous,
        })
    }
}

fn link(id: RequestId, at: &OffsetDateTime) -> CaptureLink {
    CaptureLink {
        id,
        received_at: rfc3339(at),
    }
}

/// Unix seconds as RFC 3339 UTC; empty for `None` or out-of-range values.
pub(crate) fn unix_rfc3339(t: Option<i64>) -> String {
    t.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| rfc3339(&t))
        .unwrap_or_default()
}
