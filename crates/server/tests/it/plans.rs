//! Plans, quotas, usage, retention and the admin commands (issue 12).

use std::collections::BTreeMap;
use std::time::Duration;

use hookvault_server::plans::{self, PlanLimits};
use hookvault_server::{Role, Server};
use serde_json::{json, Value};

use crate::common::TestApp;

fn free(limits: PlanLimits) -> BTreeMap<String, PlanLimits> {
    BTreeMap::from([("free".to_string(), limits)])
}

async fn account(app: &TestApp, token: &str) -> Value {
    app.api_get(token, "/api/v1/account")
        .await
        .json()
        .await
        .unwrap()
}

async fn stored(app: &TestApp, token: &str, endpoint: &str) -> usize {
    let v: Value = app
        .api_get(
            token,
            &format!("/api/v1/endpoints/{endpoint}/requests?limit=500"),
        )
        .await
        .json()
        .await
        .unwrap();
    v["requests"].as_array().map_or(0, Vec::len)
}

/// Retries `f` for up to 5 s (route changes reach the capture cache by LISTEN/NOTIFY).
async fn eventually(mut f: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..50 {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn two_capture_processes_on_one_database_never_store_more_than_the_monthly_quota() {
    const LIMIT: i64 = 60;
    let app = TestApp::spawn_with(|c| {
        c.plans = free(PlanLimits {
            captures_per_month: Some(LIMIT),
            ..Default::default()
        })
    })
    .await;
    let dir = crate::common::tempdir::TempDir::new();
    let options = app.server.pool.connect_options().as_ref().clone();
    let mut cfg = crate::common::config(options, &dir.0);
    cfg.role = Role::Capture;
    let second = Server::start(cfg).await.expect("second capture process");

    let token = app.signup_with_token("quota-two@example.com").await;
    let (id, url) = app.create_endpoint(&token, "shared").await;
    let path = url
        .strip_prefix(&app.server.capture_url)
        .expect("capture URL on the first process")
        .to_string();
    let urls = [url.clone(), format!("{}{path}", second.capture_url)];
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for n in 0..150 {
        let client = client.clone();
        let url = urls[n % 2].clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(&url)
                .body(format!("capture {n}"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body = r.text().await.unwrap();
            (status, retry, body)
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let (status, retry, body) = t.await.unwrap();
        match status {
            200 => ok += 1,
            429 => {
                refused += 1;
                let secs: i64 = retry.expect("Retry-After").parse().unwrap();
                assert!((1..=3600).contains(&secs), "Retry-After {secs}");
                let v: Value = serde_json::from_str(&body).expect("JSON error body");
                assert_eq!(v["error"]["code"], "quota_exceeded");
                assert!(v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("nothing was stored"));
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    // The count is exact (tolerance 0): the insert statement counts on one row per account.
    assert_eq!(ok, LIMIT, "exactly the quota was accepted");
    assert_eq!(refused, 150 - LIMIT);
    assert_eq!(stored(&app, &token, &id).await as i64, LIMIT);
    let a = account(&app, &token).await;
    assert_eq!(a["usage"]["captures_this_period"], LIMIT);
    second.stop().await;
}

#[tokio::test]
async fn a_capture_over_the_monthly_quota_gets_429_with_retry_after_and_nothing_is_stored() {
    let app = TestApp::spawn_with(|c| {
        c.plans = free(PlanLimits {
            captures_per_month: Some(2),
            ..Default::default()
        })
    })
    .await;
    let token = app.signup_with_token("quota-429@example.com").await;
    let (id, url) = app.create_endpoint(&token, "q").await;
    let client = reqwest::Client::new();
    for _ in 0..2 {
        assert_eq!(
            client.post(&url).body("x").send().await.unwrap().status(),
            200
        );
    }
    let r = client.post(&url).body("over").send().await.unwrap();
    assert_eq!(r.status(), 429);
    crate::common::assert_inert(r.headers(), "429 over the monthly quota");
    let secs: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&secs));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "quota_exceeded");
    assert_eq!(
        stored(&app, &token, &id).await,
        2,
        "nothing more was stored"
    );

    let a = account(&app, &token).await;
    assert_eq!(a["plan"], "free");
    assert_eq!(a["limits"]["captures_per_month"], 2);
    assert_eq!(a["limits"]["endpoints"], 10);
    assert_eq!(a["usage"]["captures_this_period"], 2);
    assert_eq!(a["usage"]["endpoints"], 1);
    assert_eq!(a["usage"]["replays_today"], 0);
    assert!(a["usage"]["storage_bytes"].as_i64().unwrap() > 0);
    assert!(a["usage"]["period_resets_at"]
        .as_str()
        .unwrap()
        .contains("-01T00:00:00"));
    for key in ["id", "email"] {
        assert!(a[key].is_string(), "{key}");
    }
}

#[tokio::test]
async fn endpoints_bodies_and_replays_over_the_plan_are_refused_with_the_reason() {
    let app = TestApp::spawn_with(|c| {
        c.plans = free(PlanLimits {
            endpoints: Some(2),
            max_body_bytes: Some(1000),
            replays_per_day: Some(2),
            ..Default::default()
        })
    })
    .await;
    let token = app.signup_with_token("limits@example.com").await;
    let (id, url) = app.create_endpoint(&token, "one").await;
    app.create_endpoint(&token, "two").await;

    // Endpoints: API and page both 422 with the reason.
    let r = reqwest::Client::new()
        .post(app.at("/api/v1/endpoints"))
        .bearer_auth(&token)
        .json(&json!({"name": "three"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "plan_limit");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allows 2 endpoints"));
    let r = app.post_form("/endpoints", "/", &[("name", "three")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("allows 2 endpoints"));

    // Bodies: 413 over the plan's largest body, nothing stored.
    let client = reqwest::Client::new();
    let r = client
        .post(&url)
        .body(vec![b'a'; 1001])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("1000 bytes"));
    let r = client
        .post(&url)
        .body(vec![b'a'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(stored(&app, &token, &id).await, 1);

    // Replays: two a day, the third is 429 with the reason.
    let list: Value = app
        .api_get(&token, &format!("/api/v1/endpoints/{id}/requests"))
        .await
        .json()
        .await
        .unwrap();
    let request_id = list["requests"][0]["id"].as_str().unwrap().to_string();
    let replay = || {
        reqwest::Client::new()
            .post(app.at(&format!("/api/v1/requests/{request_id}/replays")))
            .bearer_auth(&token)
            .json(&json!({"target_url": "http://127.0.0.1:9/", "signing": {"scheme": "none"}}))
            .send()
    };
    assert_eq!(replay().await.unwrap().status(), 202);
    assert_eq!(replay().await.unwrap().status(), 202);
    let r = replay().await.unwrap();
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "quota_exceeded");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 replays per day"));
    assert_eq!(account(&app, &token).await["usage"]["replays_today"], 2);
}

#[tokio::test]
async fn retention_removes_exactly_the_expired_captures_and_a_live_capture_shows_its_expiry() {
    let app = TestApp::spawn().await;
    app.signup("retention@example.com", "correct horse battery")
        .await;
    let token = app
        .token("retention@example.com", "correct horse battery")
        .await;
    let (id, url) = app.create_endpoint(&token, "old and new").await;
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for n in 0..4 {
        let r = client
            .post(&url)
            .body(format!("c{n}"))
            .send()
            .await
            .unwrap();
        ids.push(
            r.headers()["x-hookvault-request-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    // Free keeps 7 days: two are 8 days old, one is 6 days old, one is new. A capture's id is a
    // UUIDv7 of its receive time, so the aged ones get ids of their new age too.
    for (i, days) in [(0, 8), (1, 8), (2, 6)] {
        let when = std::time::SystemTime::now() - Duration::from_secs(days * 86_400);
        let unix = when.duration_since(std::time::UNIX_EPOCH).unwrap();
        let old_id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            unix.as_secs(),
            unix.subsec_nanos(),
        ));
        // The search indexer may already have a document for it (keyed by the id): while the
        // indexer is held back, the document goes with the old id (this test does not search).
        let mut tx = app.server.pool.begin().await.unwrap();
        sqlx::query("SELECT xid FROM search_progress FOR UPDATE")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("DELETE FROM request_search WHERE request_id = $1::uuid")
            .bind(&ids[i])
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(&format!(
            "UPDATE requests SET id = $2, received_at = now() - interval '{days} days' WHERE id = $1::uuid"
        ))
        .bind(&ids[i])
        .bind(old_id)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        ids[i] = old_id.to_string();
    }
    let deleted = plans::purge_expired(&app.server.pool).await.unwrap();
    assert_eq!(deleted, 2);
    let left: Value = app
        .api_get(&token, &format!("/api/v1/endpoints/{id}/requests"))
        .await
        .json()
        .await
        .unwrap();
    let mut left: Vec<&str> = left["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    left.sort();
    let mut want = vec![ids[2].as_str(), ids[3].as_str()];
    want.sort();
    assert_eq!(left, want, "exactly the expired captures are gone");
    assert_eq!(plans::purge_expired(&app.server.pool).await.unwrap(), 0);

    let html = app.get_html(&format!("/requests/{}", ids[3])).await;
    assert!(
        html.contains("Expires"),
        "the request page says when it expires"
    );
    let gone = app
        .client
        .get(app.at(&format!("/requests/{}", ids[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 410);
    assert!(gone.text().await.unwrap().contains("expired"));
    let r = reqwest::Client::new()
        .post(app.at(&format!("/api/v1/requests/{}/replays", ids[0])))
        .bearer_auth(&token)
        .json(&json!({"target_url": "http://127.0.0.1:9/", "signing": {"scheme": "none"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "expired");
    // Every other way to a capture says the same: its JSON, its body, its audits (API and page).
    for path in [
        format!("/api/v1/requests/{}", ids[0]),
        format!("/api/v1/requests/{}/body", ids[0]),
        format!("/api/v1/requests/{}/audits", ids[0]),
    ] {
        let r = app.api_get(&token, &path).await;
        assert_eq!(r.status(), 410, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "expired", "{path}");
    }
    let audit_page = app
        .client
        .get(app.at(&format!("/requests/{}/audit", ids[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(audit_page.status(), 410);
    // A capture that never existed is still simply not found.
    let unknown = app
        .api_get(
            &token,
            &format!("/api/v1/requests/{}", uuid::Uuid::now_v7()),
        )
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn set_plan_raises_the_limits_at_once() {
    let app = TestApp::spawn_with(|c| {
        c.plans = free(PlanLimits {
            endpoints: Some(1),
            captures_per_month: Some(1),
            max_body_bytes: Some(100),
            ..Default::default()
        })
    })
    .await;
    let token = app.signup_with_token("upgrade@example.com").await;
    let (_, url) = app.create_endpoint(&token, "only").await;
    let client = reqwest::Client::new();
    assert_eq!(
        client.post(&url).body("1").send().await.unwrap().status(),
        200
    );
    assert_eq!(
        client.post(&url).body("2").send().await.unwrap().status(),
        429
    );
    assert_eq!(
        client
            .post(&url)
            .body(vec![b'b'; 200])
            .send()
            .await
            .unwrap()
            .status(),
        413
    );

    let said = plans::admin_set_plan(&app.server.pool, "UPGRADE@example.com", "pro")
        .await
        .unwrap();
    assert!(said.contains("pro"));
    assert!(
        plans::admin_set_plan(&app.server.pool, "upgrade@example.com", "gold")
            .await
            .is_err()
    );

    assert_eq!(
        client.post(&url).body("3").send().await.unwrap().status(),
        200
    );
    assert!(
        eventually(async || client
            .post(&url)
            .body(vec![b'b'; 200])
            .send()
            .await
            .unwrap()
            .status()
            == 200)
        .await,
        "the larger body limit applies"
    );
    app.create_endpoint(&token, "second").await;
    let a = account(&app, &token).await;
    assert_eq!(a["plan"], "pro");
    assert_eq!(a["limits"]["captures_per_month"], 2_000_000);
    let listing = plans::admin_accounts(&app.server.pool).await.unwrap();
    assert!(listing.contains("upgrade@example.com"), "{listing}");
    assert!(listing.contains("pro"), "{listing}");
}

#[tokio::test]
async fn a_suspended_accounts_captures_get_403_and_its_login_says_why() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("suspend@example.com").await;
    let (id, url) = app.create_endpoint(&token, "s").await;
    let client = reqwest::Client::new();
    assert_eq!(
        client.post(&url).body("ok").send().await.unwrap().status(),
        200
    );
    plans::admin_suspend(
        &app.server.pool,
        "suspend@example.com",
        Some("unpaid invoice"),
    )
    .await
    .unwrap();
    let mut last = String::new();
    // Until every process has heard of the suspension (route caches are dropped by NOTIFY), a
    // capture may still be accepted — and then it is stored, as acknowledged.
    let mut accepted = 0;
    let forbidden = eventually(async || {
        let r = client.post(&url).body("no").send().await.unwrap();
        let status = r.status();
        if status == 200 {
            accepted += 1;
        }
        last = r.text().await.unwrap();
        status == 403
    })
    .await;
    assert!(forbidden, "captures of a suspended account get 403");
    assert!(last.contains("unpaid invoice"), "{last}");
    assert_eq!(
        stored(&app, &token, &id).await,
        1 + accepted,
        "nothing refused is stored"
    );

    let browser = crate::common::browser_client();
    let html = browser
        .get(app.at("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::common::extract_csrf(&html);
    let r = browser
        .post(app.at("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "suspend@example.com"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("suspended: unpaid invoice"));

    plans::admin_suspend(&app.server.pool, "suspend@example.com", None)
        .await
        .unwrap();
    assert!(
        eventually(async || client
            .post(&url)
            .body("again")
            .send()
            .await
            .unwrap()
            .status()
            == 200)
        .await
    );
}

#[tokio::test]
async fn in_a_browser_the_capture_meter_moves_after_captures_and_warns_at_80_percent() {
    use crate::browser::{eventually, BrowserTools, ChromeDriver};
    use fantoccini::Locator;
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::spawn_with(|c| {
        c.plans = free(PlanLimits {
            captures_per_month: Some(5),
            ..Default::default()
        })
    })
    .await;
    let token = app.signup_with_token("meter@example.com").await;
    let (_, url) = app.create_endpoint(&token, "metered").await;
    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    c.goto(&app.at("/login")).await.expect("open /login");
    let email = eventually!(
        "the login form",
        crate::browser::input_labelled(&c, "Email", "email").await
    );
    email.send_keys("meter@example.com").await.expect("email");
    crate::browser::input_labelled(&c, "Password", "password")
        .await
        .expect("password")
        .send_keys("correct horse battery")
        .await
        .expect("password");
    crate::browser::button(&c, "Log in")
        .await
        .click()
        .await
        .expect("log in");
    eventually!(
        "the endpoint list",
        crate::browser::at_path(&c, |p| p == "/").await
    );
    let meter = || async {
        let m = c
            .find(Locator::Css("#usage meter"))
            .await
            .map_err(|e| e.to_string())?;
        m.attr("data-used")
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no data-used".to_string())
    };
    assert_eq!(meter().await.expect("the captures meter"), "0");
    let client = reqwest::Client::new();
    for _ in 0..4 {
        assert_eq!(
            client.post(&url).body("x").send().await.unwrap().status(),
            200
        );
    }
    c.refresh().await.expect("reload");
    let used = eventually!("the meter to move", {
        match meter().await {
            Ok(v) if v == "4" => Ok(v),
            Ok(v) => Err(format!("data-used {v}")),
            Err(e) => Err(e),
        }
    });
    assert_eq!(used, "4");
    let warning = crate::browser::text_of(&c, "#usage .meter-warning")
        .await
        .expect("a warning at 80 %");
    assert!(warning.contains("429"), "{warning}");
    c.close().await.ok();
}

#[tokio::test]
async fn a_free_account_gets_three_listen_streams_at_once_and_a_fourth_is_refused_with_the_reason()
{
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("streams-plan@example.com").await;
    let (id, _) = app.create_endpoint(&token, "streams").await;
    let open = |_: usize| {
        reqwest::Client::new()
            .get(app.at(&format!("/api/v1/endpoints/{id}/stream?client=cli")))
            .bearer_auth(&token)
            .send()
    };
    let mut streams = Vec::new();
    for n in 0..3 {
        let r = open(n).await.unwrap();
        assert_eq!(r.status(), 200, "stream {n} of the free plan's 3");
        streams.push(r);
    }
    let r = open(3).await.unwrap();
    assert_eq!(r.status(), 429, "a fourth");
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allows 3 connected hookvault listen streams"),
        "{v}"
    );

    // Closing one frees its place (its row goes when the server notices the stream ended).
    drop(streams.pop());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let r = open(4).await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the place never came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Runs `hookvault admin ARGS…` with no `DATABASE_URL`; (succeeded, stdout and stderr).
async fn admin_without_database_url(args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookvault"))
        .arg("admin")
        .args(args)
        .env_remove("DATABASE_URL")
        .env("HOOKVAULT_LOG", "warn")
        .output()
        .await
        .expect("run hookvault admin");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn admin_commands_work_on_the_embedded_cluster_while_the_server_runs_and_after_it_stopped() {
    let app = TestApp::spawn_with(|c| {
        c.database = hookvault_server::Database::Embedded(c.data_dir.clone())
    })
    .await;
    let token = app.signup_with_token("embedded-admin@example.com").await;
    let dir = app.data_dir.0.to_string_lossy().into_owned();

    let (ok, said) = admin_without_database_url(&[
        "--data-dir",
        &dir,
        "set-plan",
        "embedded-admin@example.com",
        "pro",
    ])
    .await;
    assert!(ok, "{said}");
    assert!(said.contains("is now on plan pro"), "{said}");
    let account: Value = app
        .api_get(&token, "/api/v1/account")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        account["plan"], "pro",
        "the running server sees it: {account}"
    );
    assert!(
        app.data_dir.0.join("pg/postmaster.pid").exists(),
        "the server's cluster is left running"
    );

    app.server.stop().await;
    assert!(!app.data_dir.0.join("pg/postmaster.pid").exists());
    let (ok, listed) = admin_without_database_url(&["--data-dir", &dir, "accounts"]).await;
    assert!(ok, "{listed}");
    let line = listed
        .lines()
        .find(|l| l.contains("embedded-admin@example.com"))
        .unwrap_or_else(|| panic!("the account is listed: {listed}"));
    assert!(line.contains("pro"), "{line}");
    assert!(
        !app.data_dir.0.join("pg/postmaster.pid").exists(),
        "a cluster started for the command is stopped after it"
    );

    // A data directory that cannot be one: a clear one-line reason, no cluster.
    let file = app.data_dir.0.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("data").to_string_lossy().into_owned();
    let (ok, said) = admin_without_database_url(&["--data-dir", &bad, "accounts"]).await;
    assert!(!ok, "{said}");
    assert!(
        said.contains("opening the embedded cluster in") && said.contains("or set DATABASE_URL"),
        "{said}"
    );
}
