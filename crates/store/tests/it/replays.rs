//! Replay history (one query, by capture or by endpoint) and attempt records.

use hookvault_core::ids::{EndpointId, ReplayId, RequestId, UserId};
use hookvault_core::signing::Scheme;
use hookvault_store::cli::{finish_cli_replay, insert_cli_delivery};
use hookvault_store::replays::{
    insert_replays, list_replay_attempts, list_replays, HistoryScope, NewReplay, ReplayAttempt,
    ReplayStatus,
};
use hookvault_store::requests::insert_captures;
use hookvault_store::PgPool;
use time::OffsetDateTime;

use crate::common::{fresh, Fresh};
use crate::feed::capture;

fn replay(user: UserId, endpoint: EndpointId, request: RequestId) -> NewReplay {
    NewReplay {
        id: ReplayId::now_v7(),
        user_id: user,
        endpoint_id: endpoint,
        request_id: request,
        target_id: None,
        target_url: "http://127.0.0.1:9/hook".into(),
        scheme: Scheme::Original,
        secret_sealed: None,
        max_attempts: 1,
        batch_id: None,
        position: 0,
        unordered: false,
        to_cli: false,
    }
}

async fn ids(
    pool: &PgPool,
    user: UserId,
    scope: HistoryScope,
    before: Option<ReplayId>,
    limit: i64,
) -> Vec<ReplayId> {
    list_replays(pool, user, scope, before, limit)
        .await
        .expect("history")
        .iter()
        .map(|r| r.id)
        .collect()
}

#[tokio::test]
async fn a_capture_s_history_and_an_endpoint_s_history_list_their_own_replays_newest_first_in_pages(
) {
    let Fresh {
        pool,
        user,
        endpoint,
        db: _db,
    } = fresh().await;
    let other_endpoint = EndpointId::now_v7();
    hookvault_store::endpoints::insert_endpoint(&pool, other_endpoint, user, "other", "other")
        .await
        .expect("endpoint");
    let (a, b, elsewhere) = (
        capture(endpoint, b"a"),
        capture(endpoint, b"b"),
        capture(other_endpoint, b"c"),
    );
    insert_captures(&pool, &[a.clone(), b.clone(), elsewhere.clone()])
        .await
        .expect("captures");
    // One at a time, so that every replay is newer than the one before.
    let mut of_a = Vec::new();
    let mut all = Vec::new();
    for (i, request) in [a.id, b.id, a.id, elsewhere.id, a.id]
        .into_iter()
        .enumerate()
    {
        let target = if i == 3 { other_endpoint } else { endpoint };
        let r = replay(user, target, request);
        insert_replays(&pool, std::slice::from_ref(&r))
            .await
            .expect("replay");
        if request == a.id {
            of_a.push(r.id);
        }
        if target == endpoint {
            all.push(r.id);
        }
    }
    of_a.reverse();
    all.reverse();

    let scope = HistoryScope::Request(a.id);
    assert_eq!(
        ids(&pool, user, scope, None, 10).await,
        of_a,
        "the capture's, newest first"
    );
    let first = ids(&pool, user, scope, None, 2).await;
    assert_eq!(first, of_a[..2], "a page stops at its limit");
    let rest = ids(&pool, user, scope, first.last().copied(), 2).await;
    assert_eq!(rest, of_a[2..], "the next page starts after the cursor");

    let scope = HistoryScope::Endpoint(endpoint);
    assert_eq!(
        ids(&pool, user, scope, None, 10).await,
        all,
        "the endpoint's, newest first, not another endpoint's"
    );
    let rest = ids(&pool, user, scope, Some(all[1]), 10).await;
    assert_eq!(rest, all[2..], "after the cursor");

    let stranger = UserId::now_v7();
    assert!(
        ids(&pool, stranger, HistoryScope::Endpoint(endpoint), None, 10)
            .await
            .is_empty()
    );
    assert!(ids(&pool, stranger, HistoryScope::Request(a.id), None, 10)
        .await
        .is_empty());
    pool.close().await;
}

#[tokio::test]
async fn a_cli_result_is_recorded_as_one_attempt_and_shows_in_the_history() {
    let Fresh {
        pool,
        user,
        endpoint,
        db: _db,
    } = fresh().await;
    let c = capture(endpoint, b"x");
    insert_captures(&pool, std::slice::from_ref(&c))
        .await
        .expect("capture");
    let answer = ReplayAttempt {
        started_at: OffsetDateTime::now_utc(),
        duration_ms: Some(12),
        status_code: Some(418),
        response_headers: vec![("X-Teapot".into(), "yes".into())],
        response_body: b"short and stout".to_vec(),
        response_truncated: false,
        error: None,
    };
    let id = insert_cli_delivery(&pool, user, c.id, "http://localhost:8000/", &answer, false)
        .await
        .expect("delivery")
        .expect("the user's capture");
    let attempts = list_replay_attempts(&pool, user, id)
        .await
        .expect("attempts");
    assert_eq!(attempts.len(), 1, "one attempt");
    assert_eq!(attempts[0].status_code, Some(418));
    assert_eq!(attempts[0].duration_ms, Some(12));
    assert_eq!(attempts[0].response_headers, answer.response_headers);
    assert_eq!(attempts[0].response_body, answer.response_body);
    let history = list_replays(&pool, user, HistoryScope::Request(c.id), None, 10)
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, ReplayStatus::Failed);
    assert_eq!(history[0].last_status_code, Some(418));
    assert_eq!(
        history[0].last_response_excerpt.as_deref(),
        Some(&b"short and stout"[..])
    );

    // Not the user's capture, or not a running CLI replay: nothing is recorded.
    let none = insert_cli_delivery(&pool, UserId::now_v7(), c.id, "", &answer, true)
        .await
        .expect("delivery");
    assert_eq!(none, None);
    let finished = finish_cli_replay(&pool, user, id, &answer, true, "")
        .await
        .expect("finish");
    assert!(!finished, "a finished replay is not finished again");
    let attempts = list_replay_attempts(&pool, user, id)
        .await
        .expect("attempts");
    assert_eq!(attempts.len(), 1, "and gets no second attempt");
    pool.close().await;
}
