//! The order in which a bulk replay sends its captures.
//!
//! * `received` — capture order (the order Hookvault stored them);
//! * `created` — the event's own `created` field (Stripe events carry Unix seconds there) when
//!   the body is a JSON object that has one, else the receive time; ties in capture order;
//! * `reversed` — newest capture first;
//! * `none` — no order: the jobs are sent concurrently (queued in capture order, but a later
//!   one may arrive first), as Hookdeck and Svix deliver.

use std::cmp::Ordering;
use std::str::FromStr;

use hookvault_core::ids::RequestId;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How a bulk replay orders its captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplayOrder {
    /// Capture order, oldest first.
    #[default]
    Received,
    /// By the event's own `created` time, falling back to the receive time.
    Created,
    /// Newest capture first.
    Reversed,
    /// No order guarantee: sent concurrently, up to the limits (API name `none`).
    Unordered,
}

impl ReplayOrder {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayOrder::Received => "received",
            ReplayOrder::Created => "created",
            ReplayOrder::Reversed => "reversed",
            ReplayOrder::Unordered => "none",
        }
    }

    /// Whether the batch's jobs are sent one after the other in this order (all but `none`).
    pub fn is_ordered(self) -> bool {
        self != ReplayOrder::Unordered
    }
}

impl FromStr for ReplayOrder {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "received" => Ok(ReplayOrder::Received),
            "created" => Ok(ReplayOrder::Created),
            "reversed" => Ok(ReplayOrder::Reversed),
            "none" => Ok(ReplayOrder::Unordered),
            other => Err(format!(
                "order must be \"received\", \"created\", \"reversed\" or \"none\", not {other:?}"
            )),
        }
    }
}

/// A capture to be ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The capture's id.
    pub id: RequestId,
    /// Capture order (the store's `seq`).
    pub seq: i64,
    /// When it was captured.
    pub received_at: OffsetDateTime,
    /// The event's own creation time, from [`event_created`]; only used by `created`.
    pub created: Option<OffsetDateTime>,
}

/// Sorts captures for a bulk replay (a stable order: ties fall back to capture order). `none`
/// queues them in capture order.
pub fn arrange(candidates: &mut [Candidate], order: ReplayOrder) {
    match order {
        ReplayOrder::Received | ReplayOrder::Unordered => candidates.sort_by_key(|c| c.seq),
        ReplayOrder::Reversed => candidates.sort_by_key(|c| std::cmp::Reverse(c.seq)),
        ReplayOrder::Created => candidates.sort_by(|a, b| {
            let at = a.created.unwrap_or(a.received_at);
            let bt = b.created.unwrap_or(b.received_at);
            match at.cmp(&bt) {
                Ordering::Equal => a.seq.cmp(&b.seq),
                other => other,
            }
        }),
    }
}

/// The top-level `created` field of a JSON object body: Unix seconds (an integer, a
/// fractional number, or digits in a string) or an RFC 3339 string. `None` for anything else,
/// including bodies that are not JSON.
pub fn event_created(body: &[u8]) -> Option<OffsetDateTime> {
    #[derive(serde::Deserialize)]
    struct Event {
        created: Option<serde_json::Value>,
    }
    let event: Event = serde_json::from_slice(body).ok()?;
    match event.created? {
        serde_json::Value::Number(n) => {
            if let Some(secs) = n.as_i64() {
                OffsetDateTime::from_unix_timestamp(secs).ok()
            } else {
                let secs = n.as_f64()?;
                if !secs.is_finite() {
                    return None;
                }
                // i128 nanoseconds cover every representable OffsetDateTime; larger values
                // saturate and are then refused as out of range.
                OffsetDateTime::from_unix_timestamp_nanos((secs * 1e9) as i128).ok()
            }
        }
        serde_json::Value::String(s) => match s.trim().parse::<i64>() {
            Ok(secs) => OffsetDateTime::from_unix_timestamp(secs).ok(),
            Err(_) => OffsetDateTime::parse(s.trim(), &Rfc3339).ok(),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn cand(seq: i64, received: OffsetDateTime, created: Option<OffsetDateTime>) -> Candidate {
        Candidate {
            id: RequestId::from(uuid::Uuid::from_u128(seq as u128)),
            seq,
            received_at: received,
            created,
        }
    }

    fn seqs(c: &[Candidate]) -> Vec<i64> {
        c.iter().map(|c| c.seq).collect()
    }

    #[test]
    fn stripe_created_seconds_are_read_from_a_pretty_printed_event() {
        let body = b"{\n  \"id\": \"evt_1\",\n  \"object\": \"event\",\n  \"created\": 1700000000,\n  \"data\": {\"object\": {\"created\": 5}}\n}";
        assert_eq!(
            event_created(body),
            Some(datetime!(2023-11-14 22:13:20 UTC))
        );
    }

    #[test]
    fn created_may_be_a_string_of_digits_or_rfc3339_and_anything_else_is_ignored() {
        assert_eq!(
            event_created(br#"{"created":"1700000000"}"#),
            Some(datetime!(2023-11-14 22:13:20 UTC))
        );
        assert_eq!(
            event_created(br#"{"created":"2024-01-02T03:04:05Z"}"#),
            Some(datetime!(2024-01-02 03:04:05 UTC))
        );
        assert_eq!(
            event_created(br#"{"created":1.5}"#),
            Some(datetime!(1970-01-01 00:00:01.5 UTC))
        );
        assert_eq!(event_created(br#"{"created":true}"#), None);
        assert_eq!(event_created(br#"{"created":1e300}"#), None);
        assert_eq!(event_created(br#"[1,2]"#), None);
        assert_eq!(event_created(b"payload=not-json"), None);
        assert_eq!(event_created(br#"{"id":"evt_1"}"#), None);
    }

    #[test]
    fn created_order_sorts_by_event_time_and_falls_back_to_receive_time() {
        let r = datetime!(2024-01-01 00:00:00 UTC);
        let mut c = vec![
            cand(1, r, Some(datetime!(2024-01-01 00:00:30 UTC))),
            cand(2, r + time::Duration::seconds(10), None),
            cand(3, r, Some(datetime!(2024-01-01 00:00:05 UTC))),
            cand(4, r, Some(datetime!(2024-01-01 00:00:05 UTC))),
        ];
        arrange(&mut c, ReplayOrder::Created);
        assert_eq!(seqs(&c), vec![3, 4, 2, 1]);
    }

    #[test]
    fn received_order_is_capture_order_and_reversed_is_newest_first() {
        let r = datetime!(2024-01-01 00:00:00 UTC);
        let mut c = vec![cand(7, r, None), cand(2, r, None), cand(5, r, None)];
        arrange(&mut c, ReplayOrder::Received);
        assert_eq!(seqs(&c), vec![2, 5, 7]);
        arrange(&mut c, ReplayOrder::Reversed);
        assert_eq!(seqs(&c), vec![7, 5, 2]);
    }

    #[test]
    fn order_names_parse_and_unknown_ones_are_explained() {
        assert_eq!("Created".parse(), Ok(ReplayOrder::Created));
        assert_eq!("none".parse(), Ok(ReplayOrder::Unordered));
        assert_eq!(ReplayOrder::Unordered.as_str(), "none");
        assert!(!ReplayOrder::Unordered.is_ordered() && ReplayOrder::Reversed.is_ordered());
        assert_eq!(ReplayOrder::default(), ReplayOrder::Received);
        assert!("random"
            .parse::<ReplayOrder>()
            .unwrap_err()
            .contains("\"received\""));
    }
}
