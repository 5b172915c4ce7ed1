//! Following an endpoint's captures by position (see `hookvault_core::position`): the one
//! implementation behind the dashboard's live list and the CLI stream.
//!
//! A capture's position is (writing transaction, seq). A page of the feed holds the captures
//! after a position, in position order, that are below the *horizon* (the oldest transaction
//! still running, read in the same statement): every transaction below it has finished, so no
//! capture can later appear before the end of the page. Captures already committed but above
//! the horizon wait for the older transaction to finish; the page says so (`pending`), and the
//! reader asks again shortly.

use hookvault_core::ids::{EndpointId, RequestId, UserId};
use hookvault_core::position::{Position, Snapshot};
use sqlx::PgExecutor;

use crate::StoreError;

/// A capture in the feed: enough to decide how to fetch it, and where a reader stands once it
/// has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub id: RequestId,
    pub body_size: i32,
    /// The position right after this capture (a stream's event id).
    pub after: Position,
}

/// The captures after a position, and where the reader stands after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// In position order.
    pub entries: Vec<FeedEntry>,
    /// The position after `entries` (further on than the last entry when the reader has caught
    /// up with the horizon).
    pub next: Position,
    /// Committed captures exist after `next` that wait for an older transaction to finish:
    /// ask again soon rather than waiting for the next announcement.
    pub pending: bool,
}

/// "From now on": the position at which every capture committed so far counts as delivered.
/// A page rendered after this call may show some captures that a feed from here also
/// delivers (readers that show both drop repeats by id); none is missed.
pub async fn head(ex: impl PgExecutor<'_>) -> Result<Position, StoreError> {
    let s = sqlx::query!(
        r#"SELECT pg_snapshot_xmin(s)::text::bigint AS "xmin!",
                  pg_snapshot_xmax(s)::text::bigint AS "xmax!",
                  ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x) AS "xip!"
           FROM pg_current_snapshot() AS s"#
    )
    .fetch_one(ex)
    .await?;
    Ok(Position::at_snapshot(Snapshot {
        xmin: s.xmin,
        xmax: s.xmax,
        xip: s.xip,
    }))
}

/// At most `limit` captures of the user's endpoint after `after`, in position order.
pub async fn captures_after(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    after: &Position,
    limit: i64,
) -> Result<FeedPage, StoreError> {
    // A position without a snapshot excludes nothing: xmin = xmax = 0 sees no transaction.
    let seen = after.seen.clone().unwrap_or_default();
    let rows = sqlx::query!(
        r#"WITH h AS MATERIALIZED (
               SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon
           )
           SELECT h.horizon AS "horizon!", c.id AS "id?", c.xid AS "xid?", c.seq AS "seq?",
                  c.body_size AS "body_size?"
           FROM h LEFT JOIN LATERAL (
               SELECT r.id, r.xid, r.seq, r.body_size
               FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
               WHERE r.endpoint_id = $1 AND e.user_id = $2
                 AND (r.xid, r.seq) > ($3, $4)
                 AND NOT (r.xid < $5 OR (r.xid < $6 AND r.xid <> ALL ($7::bigint[])))
               ORDER BY r.xid, r.seq
               LIMIT $8
           ) AS c ON true
           ORDER BY c.xid, c.seq"#,
        endpoint_id as _,
        user_id as _,
        after.xid,
        after.seq,
        seen.xmin,
        seen.xmax,
        &seen.xip,
        limit,
    )
    .fetch_all(ex)
    .await?;

    let horizon = rows.first().map_or(0, |r| r.horizon);
    let returned = rows.iter().filter(|r| r.id.is_some()).count();
    let mut next = after.clone();
    let mut entries = Vec::with_capacity(returned);
    let mut pending = false;
    for r in rows {
        let (Some(id), Some(xid), Some(seq), Some(body_size)) = (r.id, r.xid, r.seq, r.body_size)
        else {
            continue;
        };
        if xid >= horizon {
            pending = true;
            break;
        }
        next = next.after(xid, seq);
        entries.push(FeedEntry {
            id: id.into(),
            body_size,
            after: next.clone(),
        });
    }
    // Unless the page stopped at its limit, every capture below the horizon has been seen.
    if pending || i64::try_from(returned).unwrap_or(i64::MAX) < limit {
        next = next.caught_up_to(horizon);
    }
    Ok(FeedPage {
        entries,
        next,
        pending,
    })
}
