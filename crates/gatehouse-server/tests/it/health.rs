use crate::support::{Options, TestServer};
use gatehouse_store::Dialect;

#[tokio::test]
async fn healthz_answers_ok_once_the_demo_is_seeded_on_both_backends() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let server = TestServer::start(Options {
            dialect,
            ..Options::default()
        })
        .await;
        let res = server.client().get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        let doc = gatehouse_server::directory::load_document(server.state.store())
            .await
            .unwrap();
        let names: Vec<&str> = doc
            .authentication_policies
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        let finance = doc.policy_for_app("finance").unwrap();
        assert_eq!(finance.name, "finance");
        assert_eq!(finance.rules.len(), 3);
        server.stop().await;
    }
}

async fn readyz(server: &TestServer) -> (u16, serde_json::Value) {
    let res = server.client().get(server.url("/readyz")).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn readyz_is_ready_on_a_migrated_database_and_503_when_the_schema_or_the_database_is_missing() {
    // SQLite: a migration the binary knows but the database lacks is "not migrated".
    let server = TestServer::demo().await;
    assert_eq!(
        readyz(&server).await,
        (200, serde_json::json!({"status": "ready"}))
    );
    server
        .execute_sql("DELETE FROM _sqlx_migrations WHERE version = 4")
        .await;
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 503);
    assert_eq!(body["reason"], "database schema not migrated");
    server.stop().await;

    // PostgreSQL: the database disappears under the running server.
    let mut server = TestServer::start(Options {
        dialect: Dialect::Postgres,
        ..Options::default()
    })
    .await;
    assert_eq!(readyz(&server).await.0, 200);
    server.lose_database().await;
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 503);
    assert_eq!(body["reason"], "database unreachable");
    server.stop().await;
}

/// The value of a Prometheus series (`name{labels}`) in a text exposition, 0 when absent.
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_sign_ins_policy_decisions_requests_and_open_sessions() {
    let server = TestServer::demo().await;
    let scrape = || async {
        let res = server.client().get(server.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
            "Prometheus text format"
        );
        res.text().await.unwrap()
    };
    let before = scrape().await;
    assert_eq!(
        series(&before, r#"gatehouse_signins_total{outcome="success"}"#),
        0.0
    );
    // bob: a wrong password, then the right one, to /app (the dashboard policy).
    let browser = crate::flows::Browser::new(&server);
    let flow = browser.start_dashboard().await;
    browser
        .post(&flow, "identify", serde_json::json!({"login": "bob"}))
        .await;
    browser
        .post(
            &flow,
            "challenge-authenticator",
            serde_json::json!({"password": "wrong-password-1"}),
        )
        .await;
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            serde_json::json!({"password": "bob-password-123"}),
        )
        .await;
    assert_eq!(state["status"], "success", "{state:#}");
    let after = scrape().await;
    assert_eq!(
        series(&after, r#"gatehouse_signins_total{outcome="success"}"#),
        1.0,
        "{after}"
    );
    assert_eq!(
        series(&after, r#"gatehouse_signins_total{outcome="failed_attempt"}"#),
        1.0
    );
    assert!(
        after
            .lines()
            .any(|l| l.starts_with("gatehouse_policy_decisions_total{")
                && l.contains(r#"policy="dashboard""#)
                && l.contains(r#"decision="allow""#)),
        "{after}"
    );
    assert!(series(&after, r#"gatehouse_http_requests_total{status="2xx"}"#) >= 4.0);
    assert!(
        after.contains("gatehouse_http_request_duration_seconds_bucket{le=\"0.005\"}"),
        "{after}"
    );
    assert!(series(&after, "gatehouse_sessions_active") >= 1.0, "{after}");
    server.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let server = TestServer::demo().await;
    let res = server.client().get(server.url("/healthz")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a new UUID: {id}");
    let again = server.client().get(server.url("/healthz")).send().await.unwrap();
    assert_ne!(
        again.headers()["x-request-id"].to_str().unwrap(),
        id,
        "one id per request"
    );
    let res = server
        .client()
        .get(server.url("/readyz"))
        .header("x-request-id", "lb-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-request-id"],
        "lb-7f3a",
        "the caller's id is kept"
    );
    server.stop().await;
}

#[tokio::test]
async fn system_log_events_carry_the_request_id_of_their_request() {
    let server = TestServer::demo().await;
    let res = server
        .admin(reqwest::Method::POST, "/api/v1/groups")
        .header("x-request-id", "lb-req-42")
        .json(&serde_json::json!({"name": "auditors"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let page = server
        .state
        .store()
        .log()
        .query(
            &gatehouse_store::LogFilter {
                type_prefix: Some("group.lifecycle.create".to_owned()),
                ..gatehouse_store::LogFilter::default()
            },
            &gatehouse_store::PageRequest::first(1),
        )
        .await
        .unwrap();
    let event = &page.items[0];
    assert_eq!(event.details["name"], "auditors", "{event:?}");
    assert_eq!(event.request_id.as_deref(), Some("lb-req-42"));
    server.stop().await;
}

/// The `gatehouse` binary of this workspace (built on demand).
fn gatehouse_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("gatehouse");
    if !bin.exists() {
        let status = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-p", "gatehouse", "--bin", "gatehouse"])
            .status()
            .unwrap();
        assert!(status.success(), "building gatehouse");
    }
    bin
}

#[tokio::test]
async fn sigterm_during_a_slow_request_still_answers_it_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    // Costly argon2id makes the password step slow (the request under test).
    let mut child = tokio::process::Command::new(gatehouse_binary())
        .args(["serve", "--demo", "--no-demo-apps", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "--issuer",
            &base,
            "--password-memory-kib",
            "65536",
            "--password-iterations",
            "16",
        ])
        .current_dir(dir.path())
        .env("GATEHOUSE_ADMIN_TOKEN", "shutdown-test-token")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut up = false;
    for _ in 0..600 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the server became ready");
    let res = client.get(format!("{base}/app")).send().await.unwrap();
    let flow = res.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let step = |name: &str, body: serde_json::Value| {
        client
            .post(format!("{base}/api/v1/flows/{flow}/{name}"))
            .json(&body)
            .send()
    };
    assert_eq!(
        step("identify", serde_json::json!({"login": "alice"}))
            .await
            .unwrap()
            .status(),
        200
    );
    let started = std::time::Instant::now();
    let slow = tokio::spawn(step(
        "challenge-authenticator",
        serde_json::json!({"password": "correct-horse-battery"}),
    ));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let signalled = started.elapsed();
    let res = slow.await.unwrap().expect("the request in flight is answered");
    let answered = started.elapsed();
    assert_eq!(res.status(), 200);
    let state: serde_json::Value = res.json().await.unwrap();
    assert_eq!(state["status"], "success", "{state:#}");
    assert!(
        answered > signalled,
        "the answer came after SIGTERM ({answered:?} vs {signalled:?})"
    );
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("the server exits after the request")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        client.get(format!("{base}/healthz")).send().await.is_err(),
        "nothing listens any more"
    );
}
