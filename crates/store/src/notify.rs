//! Announcements between server processes over LISTEN/NOTIFY: the one place that names the
//! channels and reads their payloads. Statements that announce something pass the channel from
//! here as a parameter; [`listen`] turns what arrives back into [`Notice`]s.
//!
//! Announcements are hints: whoever acts on one re-reads the store, so a missed or duplicated
//! announcement costs latency, never correctness.

use std::time::Duration;

use hookvault_core::ids::EndpointId;
use sqlx::PgPool;

/// Captures of an endpoint were committed. Payload: the endpoint id.
pub(crate) const CAPTURES: &str = "hookvault_new_request";
/// A capture route (token, custom response, signing settings) changed. Payload: the token.
pub(crate) const ROUTE_CHANGED: &str = "hookvault_route_changed";
/// Replays were queued for the workers. Payload: how many (unused).
pub(crate) const REPLAY_QUEUED: &str = "hookvault_replay_queued";
/// A replay was handed to an endpoint's connected CLI. Payload: the endpoint id.
pub(crate) const CLI_REPLAY: &str = "hookvault_cli_replay";

/// What one server process hears from the others (and from itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Captures of this endpoint were committed.
    Captures { endpoint_id: EndpointId },
    /// The capture route with this token changed: cached copies are stale.
    RouteChanged { token: String },
    /// Replays were queued.
    ReplayQueued,
    /// A replay was handed to this endpoint's connected CLI.
    CliReplay { endpoint_id: EndpointId },
    /// The listening connection was (re)established: announcements made meanwhile were missed,
    /// so every cache and follower should re-read the store.
    Resync,
}

impl Notice {
    /// Reads an announcement; `None` for an unknown channel or a malformed payload.
    fn parse(channel: &str, payload: &str) -> Option<Notice> {
        // Captures used to be announced as `endpoint_id:seq`; the part after `:` is ignored.
        let endpoint = || payload.split(':').next()?.parse().ok();
        Some(match channel {
            CAPTURES => Notice::Captures {
                endpoint_id: endpoint()?,
            },
            ROUTE_CHANGED => Notice::RouteChanged {
                token: payload.to_string(),
            },
            REPLAY_QUEUED => Notice::ReplayQueued,
            CLI_REPLAY => Notice::CliReplay {
                endpoint_id: endpoint()?,
            },
            _ => return None,
        })
    }
}

/// Listens on every channel on one connection of `pool` and hands each notice to `deliver`,
/// until the pool is closed. Reconnects with backoff; each (re)connection is reported as
/// [`Notice::Resync`].
pub async fn listen(pool: PgPool, mut deliver: impl FnMut(Notice) + Send) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if listener
                    .listen_all([CAPTURES, ROUTE_CHANGED, REPLAY_QUEUED, CLI_REPLAY])
                    .await
                    .is_ok()
                {
                    deliver(Notice::Resync);
                    backoff = Duration::from_millis(200);
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(n)) => {
                                if let Some(notice) = Notice::parse(n.channel(), n.payload()) {
                                    deliver(notice);
                                }
                            }
                            // The connection was lost; PgListener reconnects on the next call.
                            Ok(None) => deliver(Notice::Resync),
                            Err(e) => {
                                if pool.is_closed() {
                                    return;
                                }
                                tracing::warn!(error = %e, "notification listener failed");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "notification listener cannot connect"),
        }
        if pool.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_are_read_back_per_channel() {
        let id = EndpointId::now_v7();
        assert_eq!(
            Notice::parse(CAPTURES, &id.to_string()),
            Some(Notice::Captures { endpoint_id: id })
        );
        assert_eq!(
            Notice::parse(CAPTURES, &format!("{id}:42")),
            Some(Notice::Captures { endpoint_id: id }),
            "the older `endpoint:seq` form"
        );
        assert_eq!(
            Notice::parse(CLI_REPLAY, &id.to_string()),
            Some(Notice::CliReplay { endpoint_id: id })
        );
        assert_eq!(
            Notice::parse(ROUTE_CHANGED, "tok"),
            Some(Notice::RouteChanged {
                token: "tok".into()
            })
        );
        assert_eq!(
            Notice::parse(REPLAY_QUEUED, "3"),
            Some(Notice::ReplayQueued)
        );
        assert_eq!(Notice::parse(CAPTURES, "not-a-uuid"), None);
        assert_eq!(Notice::parse("other", ""), None);
    }
}
