//! Issue 13, deleting an account, checked in the database: every table that holds account data
//! (found from `information_schema`, so a new table is caught), for two accounts that both have
//! rows in all of them (and the export before it); the bounded steps of the deletion; its
//! finishing in the background and at the next start, with the confirmation mail (the real
//! SMTP sink).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::Row;

use crate::common::browser::{Browser, PASSWORD};
use crate::common::mail::SmtpSink;
use crate::common::stripe::{deliver, now, signed, subscription, StripeStandIn};
use crate::common::TestApp;

/// One seeded account.
struct Seeded {
    email: String,
    id: uuid::Uuid,
    customer: String,
    subscription: String,
    browser: Browser,
}

async fn app_with_mail_and_billing(sink: &SmtpSink, standin: &StripeStandIn) -> TestApp {
    let smtp = sink.url();
    let billing = standin.config(Duration::from_secs(3600));
    TestApp::spawn_with(|c| {
        c.accounts.smtp_url = Some(smtp);
        c.billing = Some(billing);
    })
    .await
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "waited 30 s for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(pool: &sqlx::PgPool, sql: &str, id: uuid::Uuid) -> i64 {
    sqlx::query(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

async fn billing_status(pool: &sqlx::PgPool, event_id: &str) -> Option<String> {
    hookvault_store::billing::event_status(pool, event_id)
        .await
        .unwrap()
        .map(|s| s.as_str().to_owned())
}

/// Gives an account a row in every table that holds account data: `endpoints` endpoints, each
/// with a saved target with a secret, three captures (with usage and search documents), a
/// signature check (a re-check of the captures), a replay from the dashboard (with its
/// attempt, usage and the endpoint's last target, its secret sealed) and a CLI session; an
/// audit; a Stripe subscription with a linked event, an ignored and a failed event of its
/// customer; sessions, an API token and a mailed link.
async fn seed(
    app: &TestApp,
    standin: &StripeStandIn,
    target: &str,
    email: &str,
    endpoints: usize,
) -> Seeded {
    let pool = &app.server.pool;
    let (b, token) = app.account(email).await;
    let account: Value = app.api_json(&token, "/api/v1/account").await;
    let id: uuid::Uuid = account["id"].as_str().unwrap().parse().unwrap();
    let tag = id.simple().to_string();
    let mut first_request = None;
    for n in 0..endpoints {
        let (endpoint, url) = app.create_endpoint(&token, &format!("hooks {n}")).await;
        let r = app
            .api(
                reqwest::Method::POST,
                &token,
                &format!("/api/v1/endpoints/{endpoint}/targets"),
            )
            .json(&json!({"name": "dev", "url": target,
                          "signing": {"scheme": "stripe", "secret": "whsec_saved_target"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        for _ in 0..3 {
            let r = reqwest::Client::new()
                .post(&url)
                .body(r#"{"id":"evt_1","type":"invoice.paid"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let r = app
            .api(
                reqwest::Method::PATCH,
                &token,
                &format!("/api/v1/endpoints/{endpoint}"),
            )
            .json(&json!({"signing": {"scheme": "stripe", "secret": "whsec_check"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let list = app
            .api_json(&token, &format!("/api/v1/endpoints/{endpoint}/requests"))
            .await;
        let request = list["requests"][0]["id"].as_str().unwrap().to_string();
        let page = format!("/requests/{request}/replay");
        let r = b
            .post_form(
                &page,
                &page,
                &[
                    ("mode", "url"),
                    ("target_url", target),
                    ("scheme", "stripe"),
                    ("secret", "whsec_replayed"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let endpoint_id: uuid::Uuid = endpoint.parse().unwrap();
        assert!(hookvault_store::cli::insert_cli_session(
            pool,
            uuid::Uuid::new_v4().into(),
            id.into(),
            endpoint_id.into(),
            "http://127.0.0.1:9/hook",
            100,
        )
        .await
        .unwrap());
        first_request.get_or_insert(request);
    }
    let request = first_request.expect("an endpoint");
    let r = app
        .api(
            reqwest::Method::POST,
            &token,
            &format!("/api/v1/requests/{request}/audits"),
        )
        .json(&json!({"target_url": target, "signing": {"scheme": "stripe", "secret": "whsec_audit"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());

    // Billing: a subscription linked by an applied event; an ignored event and a failed one
    // that name the customer only.
    let (customer, sub) = (format!("cus_{tag}"), format!("sub_{tag}"));
    standin.add_subscription(&sub, &customer, "active");
    let account_id = id.to_string();
    let linked = signed(
        "customer.subscription.created",
        now() - 30,
        subscription(&sub, &customer, "active", &account_id),
    );
    let ignored = signed(
        "charge.succeeded",
        now() - 20,
        json!({"id": format!("ch_{tag}"), "object": "charge", "customer": customer,
               "billing_details": {"email": email}}),
    );
    let failed = signed(
        "customer.subscription.updated",
        now() - 10,
        json!({"id": format!("sub_other_{tag}"), "object": "subscription", "customer": customer}),
    );
    for (e, status) in [
        (&linked, "done"),
        (&ignored, "ignored"),
        (&failed, "failed"),
    ] {
        assert_eq!(deliver(&app.url, e).await.status(), 200);
        wait_until(&format!("{} {status}", e.id), async || {
            billing_status(pool, &e.id).await.as_deref() == Some(status)
        })
        .await;
    }

    // The background work of the seed is done: replay attempts, the audit, search documents.
    wait_until("a replay attempt", async || {
        count(
            pool,
            "SELECT count(*) FROM replay_attempts a JOIN replays r ON r.id = a.replay_id
             WHERE r.user_id = $1",
            id,
        )
        .await
            >= endpoints as i64
    })
    .await;
    wait_until("search documents", async || {
        count(
            pool,
            "SELECT count(*) FROM request_search s JOIN endpoints e ON e.id = s.endpoint_id
             WHERE e.user_id = $1",
            id,
        )
        .await
            >= 3 * endpoints as i64
    })
    .await;
    wait_until("the audit to finish", async || {
        count(
            pool,
            "SELECT count(*) FROM audits WHERE user_id = $1 AND status <> 'running'",
            id,
        )
        .await
            == 1
    })
    .await;
    Seeded {
        email: email.to_string(),
        id,
        customer,
        subscription: sub,
        browser: b,
    }
}

/// Every base table with a column that ties its rows to an account.
async fn account_tables(pool: &sqlx::PgPool) -> Vec<(String, Vec<String>)> {
    let rows = sqlx::query(
        "SELECT format('%I.%I', c.table_schema, c.table_name) AS t,
                array_agg(c.column_name::text ORDER BY c.column_name) AS cols
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE t.table_type = 'BASE TABLE'
           AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
           AND c.column_name IN ('user_id', 'endpoint_id', 'request_id', 'replay_id')
         GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.iter()
        .map(|r| (r.get::<String, _>("t"), r.get::<Vec<String>, _>("cols")))
        .collect()
}

/// Every column holding a sealed secret.
async fn sealed_columns(pool: &sqlx::PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT format('%I.%I', table_schema, table_name), column_name::text
         FROM information_schema.columns
         WHERE column_name LIKE '%sealed%' AND table_schema = 'public' ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The ids that tie rows to one account (read before it is deleted).
struct Ids {
    user: uuid::Uuid,
    customer: String,
    endpoints: Vec<uuid::Uuid>,
    requests: Vec<uuid::Uuid>,
    replays: Vec<uuid::Uuid>,
}

async fn ids_of(pool: &sqlx::PgPool, s: &Seeded) -> Ids {
    let ids = |sql: &'static str| async move {
        sqlx::query_scalar::<_, uuid::Uuid>(sql)
            .bind(s.id)
            .fetch_all(pool)
            .await
            .unwrap()
    };
    Ids {
        user: s.id,
        customer: s.customer.clone(),
        endpoints: ids("SELECT id FROM endpoints WHERE user_id = $1").await,
        requests: ids(
            "SELECT r.id FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
             WHERE e.user_id = $1",
        )
        .await,
        replays: ids("SELECT id FROM replays WHERE user_id = $1").await,
    }
}

fn uuid_array(ids: &[uuid::Uuid]) -> String {
    let list: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    format!("'{{{}}}'::uuid[]", list.join(","))
}

/// The account's rows in every table that holds account data, and its sealed secrets and
/// billing payloads, by name.
async fn rows_of(pool: &sqlx::PgPool, ids: &Ids) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let matches = |cols: &[String]| {
        cols.iter()
            .map(|c| match c.as_str() {
                "user_id" => format!("user_id = '{}'", ids.user),
                "endpoint_id" => format!("endpoint_id = ANY({})", uuid_array(&ids.endpoints)),
                "request_id" => format!("request_id = ANY({})", uuid_array(&ids.requests)),
                "replay_id" => format!("replay_id = ANY({})", uuid_array(&ids.replays)),
                other => panic!("{other}"),
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let tables = account_tables(pool).await;
    for (table, cols) in &tables {
        let sql = format!("SELECT count(*) FROM {table} WHERE {}", matches(cols));
        out.push((table.clone(), count(pool, &sql, ids.user).await));
    }
    for (table, column) in sealed_columns(pool).await {
        let cols = &tables
            .iter()
            .find(|(t, _)| *t == table)
            .unwrap_or_else(|| panic!("{table} holds a secret but is tied to no account"))
            .1;
        let sql = format!(
            "SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND ({}) AND $1 IS NOT NULL",
            matches(cols)
        );
        out.push((
            format!("{table}.{column} (sealed)"),
            count(pool, &sql, ids.user).await,
        ));
    }
    for (what, sql) in [
        ("users", "SELECT count(*) FROM users WHERE id = $1"),
        (
            "tower_sessions.session",
            "SELECT count(*) FROM tower_sessions.session
             WHERE position(convert_to($1::text, 'UTF8') in data) > 0",
        ),
    ] {
        out.push((what.to_string(), count(pool, sql, ids.user).await));
    }
    let payloads: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM billing_events
         WHERE strpos(payload::text, $1::text) > 0 OR strpos(payload::text, $2) > 0",
    )
    .bind(ids.user)
    .bind(&ids.customer)
    .fetch_one(pool)
    .await
    .unwrap();
    out.push(("billing_events.payload naming it".into(), payloads));
    out
}

/// Sum of the rows of every table that holds account data (all accounts).
async fn all_rows(pool: &sqlx::PgPool) -> i64 {
    let mut total = 0;
    let mut tables: Vec<String> = account_tables(pool)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    tables.extend(["public.users".to_string(), "tower_sessions.session".into()]);
    for table in tables {
        total += sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap();
    }
    total
}

fn assert_all_present(rows: &[(String, i64)], who: &str) {
    for (table, n) in rows {
        assert!(
            *n > 0,
            "the {who} account has no row in {table}: the seed must cover every table"
        );
    }
    for known in [
        "public.replay_attempts",
        "public.request_search",
        "public.capture_usage",
        "public.replay_usage",
        "public.signature_rechecks",
        "public.endpoint_last_targets",
        "public.billing_subscriptions",
        "public.account_tokens",
    ] {
        assert!(
            rows.iter().any(|(t, _)| t == known),
            "{known} is found in information_schema: {rows:?}"
        );
    }
}

#[tokio::test]
async fn deleting_an_account_removes_its_rows_from_every_table_and_nothing_of_another() {
    let sink = SmtpSink::start();
    let standin = StripeStandIn::start().await;
    let (target, _) = crate::common::target::recording_target().await;
    let app = app_with_mail_and_billing(&sink, &standin).await;
    let pool = &app.server.pool;
    let gone = seed(&app, &standin, &target, "gone@example.com", 2).await;
    let kept = seed(&app, &standin, &target, "kept@example.com", 2).await;
    let (gone_ids, kept_ids) = (ids_of(pool, &gone).await, ids_of(pool, &kept).await);
    let gone_before = rows_of(pool, &gone_ids).await;
    let kept_before = rows_of(pool, &kept_ids).await;
    assert_all_present(&gone_before, "deleted");
    assert_all_present(&kept_before, "other");

    // Export first: endpoints and captures as NDJSON.
    let export = gone.browser.get("/settings/export.ndjson").await;
    assert_eq!(export.status(), 200);
    let text = export.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().filter(|l| l["type"] == "endpoint").count(), 2);
    assert_eq!(
        lines.len(),
        2 + 6,
        "two endpoints and their six captures: {text}"
    );

    let r = gone
        .browser
        .post_form(
            "/settings/delete",
            "/settings",
            &[("confirm", "yes"), ("current_password", "wrong password")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        rows_of(pool, &gone_ids).await,
        gone_before,
        "a wrong password deletes nothing"
    );

    let r = gone
        .browser
        .post_form(
            "/settings/delete",
            "/settings",
            &[("confirm", "yes"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        gone.browser.get("/").await.status(),
        303,
        "signed out at once"
    );
    let mails = sink.wait_for(&gone.email, 2).await;
    assert!(mails[1].subject.contains("deleted"), "{mails:?}");
    // The mail goes out when the last row is gone.
    for (table, n) in rows_of(pool, &gone_ids).await {
        assert_eq!(n, 0, "no {table} row of the deleted account is left");
    }
    assert_eq!(
        standin.status_of(&gone.subscription).as_deref(),
        Some("canceled"),
        "its subscription was cancelled at Stripe"
    );
    assert_eq!(
        standin.status_of(&kept.subscription).as_deref(),
        Some("active")
    );
    assert_eq!(
        rows_of(pool, &kept_ids).await,
        kept_before,
        "the other account is untouched"
    );
    assert_eq!(
        app.browser().login(&gone.email, PASSWORD).await.status(),
        401
    );
    assert_eq!(kept.browser.get("/").await.status(), 200);
    app.server.stop().await;
}

#[tokio::test]
async fn each_step_of_a_deletion_changes_at_most_its_batch_and_leaves_another_account_alone() {
    use hookvault_store::accounts::{begin_deletion, delete_account_step, DeleteStep};
    let standin = StripeStandIn::start().await;
    let (target, _) = crate::common::target::recording_target().await;
    let billing = standin.config(Duration::from_secs(3600));
    let app = TestApp::spawn_with(|c| c.billing = Some(billing)).await;
    let pool = &app.server.pool;
    let gone = seed(&app, &standin, &target, "batched@example.com", 3).await;
    let kept = seed(&app, &standin, &target, "other@example.com", 1).await;
    let (gone_ids, kept_ids) = (ids_of(pool, &gone).await, ids_of(pool, &kept).await);
    let kept_before = rows_of(pool, &kept_ids).await;
    assert_all_present(&rows_of(pool, &gone_ids).await, "deleted");

    begin_deletion(pool, gone.id.into()).await.unwrap();
    let mut steps = 0;
    let mut several = 0;
    loop {
        let before = all_rows(pool).await;
        let step = delete_account_step(pool, gone.id.into(), 2).await.unwrap();
        let after = all_rows(pool).await;
        steps += 1;
        assert!(steps < 500, "the deletion ends");
        match step {
            DeleteStep::Rows(n) => {
                assert!((1..=2).contains(&n), "a step of {n} rows");
                assert!(
                    before - after <= 2,
                    "a step deleted {} rows (cascades included), more than its batch",
                    before - after
                );
                several += u64::from(n == 2);
            }
            DeleteStep::AccountDeleted => {
                assert_eq!(before - after, 1, "the last step deletes the account alone");
                break;
            }
            DeleteStep::Gone => panic!("the account was deleted by nobody"),
        }
    }
    assert!(several > 5, "the account was larger than one batch");
    assert_eq!(
        delete_account_step(pool, gone.id.into(), 2).await.unwrap(),
        DeleteStep::Gone
    );
    for (table, n) in rows_of(pool, &gone_ids).await {
        assert_eq!(n, 0, "no {table} row of the deleted account is left");
    }
    assert_eq!(rows_of(pool, &kept_ids).await, kept_before);
}

#[tokio::test]
async fn a_deletion_cut_short_is_finished_and_mailed_at_the_next_start() {
    let sink = SmtpSink::start();
    let db = crate::common::fresh_database().await;
    let options = db.options();
    let smtp = sink.url();
    let start = |options: sqlx::postgres::PgConnectOptions, smtp: String| {
        TestApp::spawn_with(move |c| {
            c.database = hookvault_server::Database::External(options);
            c.accounts.smtp_url = Some(smtp);
        })
    };
    let app = start(options.clone(), smtp.clone()).await;
    let (_, token) = app.account("cut@example.com").await;
    let (_, url) = app.create_endpoint(&token, "hooks").await;
    for _ in 0..3 {
        let r = reqwest::Client::new()
            .post(&url)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let id: uuid::Uuid = app.api_json(&token, "/api/v1/account").await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The deletion started and did one step when the server stopped.
    hookvault_store::accounts::begin_deletion(&app.server.pool, id.into())
        .await
        .unwrap();
    hookvault_store::accounts::delete_account_step(&app.server.pool, id.into(), 1)
        .await
        .unwrap();
    app.server.stop().await;
    assert_eq!(
        sink.to("cut@example.com").len(),
        1,
        "only the verification so far"
    );

    let app = start(options, smtp).await;
    let mail = sink.nth("cut@example.com", 2).await;
    assert_eq!(mail.subject, "Your Hookvault account was deleted");
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM users WHERE id = $1)
              + (SELECT count(*) FROM endpoints WHERE user_id = $1)
              + (SELECT count(*) FROM requests)",
    )
    .bind(id)
    .fetch_one(&app.server.pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    app.server.stop().await;
}
