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
