//! Unordered bulk replays (`"order":"none"`): every job of the batch is a chain of its own, so
//! the jobs go out concurrently up to the limits (per destination, per account), while an
//! ordered batch still has one send in flight and arrives in order.

use std::collections::BTreeSet;
use std::time::Duration;

use hookvault_core::signing::{self, Scheme, SignatureStatus};
use hookvault_store::replays;
use serde_json::{json, Value};

use crate::common::wait::wait_for;
use crate::common::TestApp;
use crate::replay::{now, post, wait_finished, Reply, Target, DEADLINE, STRIPE_SECRET};

/// Captures `n` small Stripe-like events (`{"n":…}`) at a new endpoint; returns the endpoint id
/// and the capture ids in capture order.
async fn captures(app: &TestApp, token: &str, n: usize) -> (String, Vec<String>) {
    let (endpoint_id, capture_url) = app.create_endpoint(token, "bulk").await;
    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let r = client
            .post(&capture_url)
            .header("content-type", "application/json")
            .header(
                "stripe-signature",
                signing::stripe_header(STRIPE_SECRET, now() - 86_400, b"stale"),
            )
            .body(format!("{{\"object\":\"event\",\"n\":{i}}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        ids.push(
            r.headers()["x-hookvault-request-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    (endpoint_id, ids)
}

/// Queues a bulk replay of `ids` in `order`, re-signed for Stripe, to `url`; returns the batch id.
async fn bulk(
    app: &TestApp,
    token: &str,
    endpoint: &str,
    ids: &[String],
    order: &str,
    url: &str,
) -> uuid::Uuid {
    let (status, queued) = post(
        &app.url,
        token,
        &format!("/api/v1/endpoints/{endpoint}/replays"),
        json!({"request_ids": ids, "order": order, "target_url": url,
               "signing": {"scheme": "stripe", "secret": STRIPE_SECRET}}),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    queued["batch_id"].as_str().unwrap().parse().unwrap()
}

/// Waits until every replay of the batch is `succeeded`; returns how many attempts were made.
async fn wait_batch(app: &TestApp, batch: uuid::Uuid, n: usize) -> i64 {
    let what = format!("{n} replays of the batch to succeed");
    wait_for(&what, DEADLINE, async || {
        let (attempts, succeeded): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM replay_attempts a JOIN replays r ON r.id = a.replay_id
                     WHERE r.batch_id = $1),
                    (SELECT count(*) FROM replays WHERE batch_id = $1 AND status = 'succeeded')",
        )
        .bind(batch)
        .fetch_one(&app.server.pool)
        .await
        .unwrap();
        match succeeded == n as i64 {
            true => Ok(attempts),
            false => Err(format!("{succeeded} of {n} succeeded")),
        }
    })
    .await
}

/// The `n` of each body, in arrival order.
fn numbers(got: &[crate::replay::Received]) -> Vec<u64> {
    got.iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn an_unordered_bulk_replay_sends_each_capture_once_re_signed_several_at_once_and_an_ordered_one_one_at_a_time_in_order(
) {
    const N: usize = 40;
    let app = TestApp::spawn_with(|c| {
        c.replay_workers = 8;
        c.replay_host_concurrency = 8;
        c.replay_account_concurrency = 8;
    })
    .await;
    let token = app.signup_with_token("unordered@example.com").await;
    let (endpoint, ids) = captures(&app, &token, N).await;
    // The target holds every request a while, so concurrent sends overlap there.
    let target = Target::spawn(|_| Reply::new(200, "ok").after(Duration::from_millis(100))).await;

    let batch = bulk(&app, &token, &endpoint, &ids, "none", &target.url("/none")).await;
    let got = target.wait_for(N).await;
    assert_eq!(
        wait_batch(&app, batch, N).await,
        N as i64,
        "one attempt each"
    );
    assert_eq!(target.received().len(), N, "a capture was sent twice");
    let seen: BTreeSet<u64> = numbers(&got).into_iter().collect();
    assert_eq!(
        seen,
        (0..N as u64).collect(),
        "every capture arrives exactly once"
    );
    for r in &got {
        let check = signing::verify(
            Scheme::Stripe,
            &r.raw_headers(),
            &r.body,
            STRIPE_SECRET,
            now(),
        );
        assert_eq!(check.status, SignatureStatus::Valid, "{}", check.reason);
    }
    let most = target.most_in_flight();
    assert!(
        most > 1,
        "an unordered batch had only {most} send in flight at once"
    );
    assert!(
        most <= 8,
        "{most} in flight, over the host concurrency of 8"
    );
    let unordered: Vec<bool> =
        sqlx::query_scalar("SELECT DISTINCT unordered FROM replays WHERE batch_id = $1")
            .bind(batch)
            .fetch_all(&app.server.pool)
            .await
            .unwrap();
    assert_eq!(unordered, vec![true]);

    // The same captures, ordered, to a fresh target under the same limits.
    let ordered = Target::spawn(|_| Reply::new(200, "ok").after(Duration::from_millis(20))).await;
    let batch = bulk(
        &app,
        &token,
        &endpoint,
        &ids,
        "received",
        &ordered.url("/ordered"),
    )
    .await;
    let got = ordered.wait_for(N).await;
    wait_batch(&app, batch, N).await;
    assert_eq!(
        numbers(&got),
        (0..N as u64).collect::<Vec<_>>(),
        "not in capture order"
    );
    assert_eq!(
        ordered.most_in_flight(),
        1,
        "an ordered batch sends one at a time"
    );
}

#[tokio::test]
async fn an_unordered_bulk_replay_never_exceeds_the_host_concurrency_and_reuses_its_connections() {
    const N: usize = 60;
    let app = TestApp::spawn_with(|c| {
        c.replay_workers = 8;
        c.replay_host_concurrency = 2;
        c.replay_account_concurrency = 8;
    })
    .await;
    let token = app.signup_with_token("hostcap@example.com").await;
    let (endpoint, ids) = captures(&app, &token, N).await;
    let target = Target::spawn(|_| Reply::new(200, "ok").after(Duration::from_millis(30))).await;
    let batch = bulk(&app, &token, &endpoint, &ids, "none", &target.url("/hook")).await;
    target.wait_for(N).await;
    assert_eq!(wait_batch(&app, batch, N).await, N as i64);
    assert_eq!(target.most_in_flight(), 2, "two at once, never more");
    let connections = target.connections();
    assert!(
        connections <= 4,
        "{N} replays at two at a time opened {connections} connections: keep-alive connections are not reused"
    );
}

#[tokio::test]
async fn an_unordered_bulk_replay_never_exceeds_the_account_concurrency_and_another_account_is_served_meanwhile(
) {
    // 1,200 jobs queued for one account (two batches over the same 600 captures): more than the
    // old claim ever looked at, so another account's replay must not wait behind them.
    const N: usize = 600;
    let app = TestApp::spawn_with(|c| {
        c.replay_workers = 8;
        c.replay_host_concurrency = 8;
        c.replay_account_concurrency = 3;
    })
    .await;
    let busy = app.signup_with_token("busy@example.com").await;
    let (endpoint, ids) = captures(&app, &busy, N).await;
    let target = Target::spawn(|_| Reply::new(200, "ok").after(Duration::from_millis(50))).await;
    let first = bulk(&app, &busy, &endpoint, &ids, "none", &target.url("/busy")).await;
    let second = bulk(&app, &busy, &endpoint, &ids, "none", &target.url("/busy")).await;
    target.wait_for(20).await;

    let other = app.signup_with_token("other@example.com").await;
    let (_, other_ids) = captures(&app, &other, 1).await;
    let quick = Target::ok().await;
    let id = crate::replay::replay(
        &app.url,
        &other,
        &other_ids[0],
        json!({"target_url": quick.url("/other")}),
    )
    .await;
    let done = wait_finished(&app.url, &other, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM replays WHERE batch_id IN ($1, $2) AND status = 'queued'",
    )
    .bind(first)
    .bind(second)
    .fetch_one(&app.server.pool)
    .await
    .unwrap();
    assert!(
        pending > 1000,
        "the other account's replay waited until only {pending} jobs of the busy account were left"
    );
    let most = target.most_in_flight();
    assert!(
        most <= 3,
        "{most} replays of one account in flight, over its concurrency of 3"
    );
    assert!(
        most > 1,
        "only {most} in flight: the batch was not sent concurrently"
    );
}

#[tokio::test]
async fn a_crashed_worker_s_jobs_of_an_unordered_batch_are_each_charged_the_attempt_they_may_have_made(
) {
    // No workers: the test plays a worker that claims and dies.
    let app = TestApp::spawn_with(|c| c.replay_workers = 0).await;
    let token = app.signup_with_token("crashnone@example.com").await;
    let (endpoint, ids) = captures(&app, &token, 3).await;
    let batch = bulk(
        &app,
        &token,
        &endpoint,
        &ids,
        "none",
        "http://127.0.0.1:9/run",
    )
    .await;
    let pool = &app.server.pool;
    let claimed = replays::claim_replays(pool, 10, 10, 32, 1 << 20)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let chains: BTreeSet<_> = claimed.iter().map(|j| j.chain).collect();
    assert_eq!(
        chains.len(),
        3,
        "each job of an unordered batch is a chain of its own"
    );
    sqlx::query("UPDATE replays SET locked_at = now() - interval '1 hour' WHERE batch_id = $1")
        .bind(batch)
        .execute(pool)
        .await
        .unwrap();
    replays::recover_stale_replays(pool, Duration::from_secs(60))
        .await
        .unwrap();
    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT r.status, r.attempts_made,
                (SELECT count(*) FROM replay_attempts a WHERE a.replay_id = r.id)
         FROM replays r WHERE r.batch_id = $1 ORDER BY r.position",
    )
    .bind(batch)
    .fetch_all(pool)
    .await
    .unwrap();
    for row in rows {
        assert_eq!(
            row,
            ("failed".to_string(), 1, 1),
            "each may have been sent: its one attempt is recorded as interrupted"
        );
    }
}

#[tokio::test]
async fn an_unknown_order_is_refused_with_the_choices_including_none() {
    let app = TestApp::spawn_with(|c| c.replay_workers = 0).await;
    let token = app.signup_with_token("badorder@example.com").await;
    let (endpoint, ids) = captures(&app, &token, 1).await;
    let (status, body) = post(
        &app.url,
        &token,
        &format!("/api/v1/endpoints/{endpoint}/replays"),
        json!({"request_ids": ids, "order": "random", "target_url": "http://127.0.0.1:9/"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("\"none\""), "{message}");
}

#[tokio::test]
async fn the_bulk_replay_page_offers_no_order_and_queues_the_batch_unordered() {
    let app = TestApp::spawn_with(|c| {
        c.replay_workers = 4;
        c.replay_account_concurrency = 4;
    })
    .await;
    let token = app.signup_with_token("pagenone@example.com").await;
    let (endpoint, ids) = captures(&app, &token, 3).await;
    let target = Target::ok().await;
    let mut query: Vec<(&str, &str)> = ids.iter().map(|id| ("request_id", id.as_str())).collect();
    let page = app
        .client
        .get(app.at(&format!("/endpoints/{endpoint}/bulk-replay")))
        .query(&query)
        .query(&[("order", "none")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<option value=\"none\" selected>"), "{page}");
    assert!(
        page.contains("sent concurrently in no particular order"),
        "{page}"
    );
    let csrf = crate::common::extract_csrf(&page);
    let url = target.url("/page");
    query.extend([
        ("csrf", csrf.as_str()),
        ("order", "none"),
        ("mode", "url"),
        ("target_url", url.as_str()),
        ("scheme", "none"),
        ("secret", ""),
    ]);
    let r = app
        .client
        .post(app.at(&format!("/endpoints/{endpoint}/bulk-replay")))
        .form(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let replays_page = app
        .get_html(&format!("/endpoints/{endpoint}/replays"))
        .await;
    assert!(
        replays_page
            .contains("Bulk replay queued: 3 captures, sent concurrently in no particular order."),
        "{replays_page}"
    );
    target.wait_for(3).await;
    let unordered: Vec<bool> = sqlx::query_scalar(
        "SELECT unordered FROM replays r JOIN endpoints e ON e.id = r.endpoint_id
         WHERE e.id = $1",
    )
    .bind(endpoint.parse::<uuid::Uuid>().unwrap())
    .fetch_all(&app.server.pool)
    .await
    .unwrap();
    assert_eq!(unordered, vec![true; 3]);
}
