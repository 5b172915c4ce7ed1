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

#[tokio::test]
async fn two_retries_of_the_same_failures_at_once_queue_them_once() {
    use hookvault_core::ids::BatchId;
    use hookvault_store::replays::{insert_retry_within_plan, Retry};
    let Fresh {
        pool,
        user,
        endpoint,
        db: _db,
    } = fresh().await;
    let (a, b) = (capture(endpoint, b"a"), capture(endpoint, b"b"));
    insert_captures(&pool, &[a.clone(), b.clone()])
        .await
        .expect("captures");
    let failed_batch = BatchId::now_v7();
    let failed: Vec<NewReplay> = [a.id, b.id]
        .into_iter()
        .enumerate()
        .map(|(i, request)| NewReplay {
            batch_id: Some(failed_batch),
            position: i as i32,
            ..replay(user, endpoint, request)
        })
        .collect();
    insert_replays(&pool, &failed).await.expect("queue");
    sqlx::query("UPDATE replays SET status = 'failed' WHERE batch_id = $1")
        .bind(failed_batch.into_uuid())
        .execute(&pool)
        .await
        .expect("fail them");
    let originals: Vec<ReplayId> = failed.iter().map(|r| r.id).collect();
    let retry_of = |batch: BatchId| -> Vec<NewReplay> {
        failed
            .iter()
            .map(|f| NewReplay {
                id: ReplayId::now_v7(),
                batch_id: Some(batch),
                ..f.clone()
            })
            .collect()
    };
    let (first, second) = (BatchId::now_v7(), BatchId::now_v7());
    let (first_replays, second_replays) = (retry_of(first), retry_of(second));
    let (x, y) = tokio::join!(
        insert_retry_within_plan(&pool, user, first, &originals, &first_replays),
        insert_retry_within_plan(&pool, user, second, &originals, &second_replays),
    );
    let mut outcomes = [x.expect("first"), y.expect("second")];
    outcomes.sort_by_key(|o| *o != Retry::Queued);
    assert_eq!(outcomes, [Retry::Queued, Retry::AlreadyRetried]);
    let (total, retried_by): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM replays WHERE endpoint_id = $1),
                (SELECT count(DISTINCT retried_by) FROM replays WHERE batch_id = $2)",
    )
    .bind(endpoint.into_uuid())
    .bind(failed_batch.into_uuid())
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!(total, 4, "two failed replays and one retry of each");
    assert_eq!(
        retried_by, 1,
        "both marked by the one retry that was queued"
    );
}
