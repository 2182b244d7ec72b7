//! The admin API over real HTTP: authentication, every resource's success and error cases, the
//! OpenAPI document and the JSON 404.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use gatehouse_store::Dialect;

use crate::support::{Options, TestServer};

/// One admin API request: the status and the JSON body (`null` when there is none).
pub async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server.admin(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn user_id(server: &TestServer, login: &str) -> String {
    let (status, page) = send(server, Method::GET, &format!("/api/v1/users?q={login}"), None).await;
    assert_eq!(status, StatusCode::OK);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == login)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401_with_www_authenticate() {
    let server = TestServer::demo().await;
    let missing = server
        .client()
        .get(server.url("/api/v1/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    let wrong = server
        .client()
        .get(server.url("/api/v1/users"))
        .bearer_auth("gha_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn users_are_created_read_updated_listed_and_paged() {
    users_are_created_read_updated_listed_and_paged_on(Dialect::Sqlite).await;
}

#[tokio::test]
async fn users_are_created_read_updated_listed_and_paged_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_ok() {
        users_are_created_read_updated_listed_and_paged_on(Dialect::Postgres).await;
    }
}

async fn users_are_created_read_updated_listed_and_paged_on(dialect: Dialect) {
    let server = TestServer::start(Options {
        dialect,
        ..Options::default()
    })
    .await;
    let (status, carol) = send(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(json!({"login": "carol", "email": "carol@example.com", "password": "carol-password-1", "groups": ["employees"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{carol}");
    assert_eq!(carol["status"], "active");
    assert_eq!(carol["display_name"], "carol");
    let id = carol["id"].as_str().unwrap();

    let (status, dup) = send(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(json!({"login": "CAROL", "email": "c@example.com"})),
    )
    .await;
    assert_eq!(
        (status, dup["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_exists"))
    );
    assert_eq!(dup["field"], "login");

    let (status, bad) = send(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(json!({"login": "dave", "email": "d@example.com", "nickname": "d"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["field"], "nickname");
    let (status, bad) = send(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(json!({"login": 5, "email": "d@example.com"})),
    )
    .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("login"))
    );
    let malformed = server
        .admin(Method::POST, "/api/v1/users")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let (status, bad) = send(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(json!({"login": "dave", "email": "d@example.com", "password": "short"})),
    )
    .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("password"))
    );

    let (status, got) = send(&server, Method::GET, &format!("/api/v1/users/{id}"), None).await;
    assert_eq!((status, got["login"].as_str()), (StatusCode::OK, Some("carol")));
    let (status, _) = send(
        &server,
        Method::GET,
        "/api/v1/users/0190a0a0-0000-7000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&server, Method::GET, "/api/v1/users/not-an-id", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, updated) = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        Some(json!({"display_name": "Carol C", "profile": {"dept": "ops"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (updated["display_name"].as_str(), &updated["profile"]["dept"]),
        (Some("Carol C"), &json!("ops"))
    );
    let (status, _) = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        Some(json!({"login": "alice"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (_, groups) = send(&server, Method::GET, &format!("/api/v1/users/{id}/groups"), None).await;
    assert!(
        groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "employees")
    );
    let (_, employees) = send(&server, Method::GET, "/api/v1/users?group=employees", None).await;
    let logins: Vec<&str> = employees["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert!(
        logins.contains(&"carol") && logins.contains(&"alice") && !logins.contains(&"bob"),
        "{logins:?}"
    );
    let (_, staged) = send(&server, Method::GET, "/api/v1/users?status=staged", None).await;
    assert!(staged["items"].as_array().unwrap().is_empty());
    let (status, bad) = send(&server, Method::GET, "/api/v1/users?status=sleepy", None).await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("status"))
    );

    // Paging: one at a time, every user exactly once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=1".to_owned();
    loop {
        let (status, page) = send(&server, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page["items"].as_array().unwrap().len() <= 1);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["login"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/users?limit=1&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["admin", "alice", "bob", "carol"]);
    let (status, bad) = send(&server, Method::GET, "/api/v1/users?limit=0", None).await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
    let (status, bad) = send(&server, Method::GET, "/api/v1/users?after=%%%", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    server.stop().await;
}

#[tokio::test]
async fn lifecycle_transitions_end_sessions_and_guard_deletion() {
    lifecycle_transitions_end_sessions_and_guard_deletion_on(Dialect::Sqlite).await;
}

#[tokio::test]
async fn lifecycle_transitions_end_sessions_and_guard_deletion_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_ok() {
        lifecycle_transitions_end_sessions_and_guard_deletion_on(Dialect::Postgres).await;
    }
}

async fn lifecycle_transitions_end_sessions_and_guard_deletion_on(dialect: Dialect) {
    let server = TestServer::start(Options {
        dialect,
        ..Options::default()
    })
    .await;
    let bob = user_id(&server, "bob").await;
    let (status, body) = send(&server, Method::DELETE, &format!("/api/v1/users/{bob}"), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_transition"))
    );
    let (status, body) = send(
        &server,
        Method::POST,
        &format!("/api/v1/users/{bob}/lifecycle/unlock"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = send(
        &server,
        Method::POST,
        &format!("/api/v1/users/{bob}/lifecycle/fly"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = send(
        &server,
        Method::POST,
        &format!("/api/v1/users/{bob}/lifecycle/suspend"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("suspended"))
    );
    let (status, body) = send(
        &server,
        Method::POST,
        &format!("/api/v1/users/{bob}/lifecycle/unsuspend"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("active"))
    );
    let (status, body) = send(
        &server,
        Method::POST,
        &format!("/api/v1/users/{bob}/lifecycle/deactivate"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("deactivated"))
    );
    let (status, _) = send(&server, Method::DELETE, &format!("/api/v1/users/{bob}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&server, Method::GET, &format!("/api/v1/users/{bob}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every change is in the system log with the admin token as actor.
    let (status, log) = send(&server, Method::GET, "/api/v1/logs?type=user.lifecycle.*", None).await;
    assert_eq!(status, StatusCode::OK);
    let types: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.get(..4).unwrap(),
        [
            "user.lifecycle.delete",
            "user.lifecycle.deactivate",
            "user.lifecycle.unsuspend",
            "user.lifecycle.suspend"
        ]
    );
    assert_eq!(log["items"][0]["actor"]["type"], "admin_token");
    let (_, exact) = send(
        &server,
        Method::GET,
        "/api/v1/logs?type=user.lifecycle.suspend",
        None,
    )
    .await;
    assert_eq!(exact["items"].as_array().unwrap().len(), 1);
    let (status, bad) = send(&server, Method::GET, "/api/v1/logs?since=yesterday", None).await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("since"))
    );
    let future = (server.state.now() + jiff::SignedDuration::from_hours(1)).to_string();
    let (_, none) = send(
        &server,
        Method::GET,
        &format!("/api/v1/logs?since={future}"),
        None,
    )
    .await;
    assert!(none["items"].as_array().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn groups_membership_and_in_use_conflicts() {
    groups_membership_and_in_use_conflicts_on(Dialect::Sqlite).await;
}

#[tokio::test]
async fn groups_membership_and_in_use_conflicts_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_ok() {
        groups_membership_and_in_use_conflicts_on(Dialect::Postgres).await;
    }
}

async fn groups_membership_and_in_use_conflicts_on(dialect: Dialect) {
    let server = TestServer::start(Options {
        dialect,
        ..Options::default()
    })
    .await;
    let (status, group) = send(
        &server,
        Method::POST,
        "/api/v1/groups",
        Some(json!({"name": "auditors"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = group["id"].as_str().unwrap();
    let (status, _) = send(
        &server,
        Method::POST,
        "/api/v1/groups",
        Some(json!({"name": "Auditors"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let alice = user_id(&server, "alice").await;
    let (status, _) = send(
        &server,
        Method::PUT,
        &format!("/api/v1/groups/{gid}/users/{alice}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, members) = send(&server, Method::GET, &format!("/api/v1/groups/{gid}/users"), None).await;
    assert_eq!(members["items"][0]["login"], "alice");
    let (status, _) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/groups/{gid}/users/{alice}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/groups/{gid}/users/{alice}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&server, Method::DELETE, &format!("/api/v1/groups/{gid}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // `employees` is named by the demo's finance policy.
    let (_, groups) = send(&server, Method::GET, "/api/v1/groups", None).await;
    let employees = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "employees")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/groups/{employees}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("in_use")),
        "{body}"
    );
    let everyone = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "everyone")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/groups/{everyone}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    server.stop().await;
}

#[tokio::test]
async fn zones_are_validated_and_guarded() {
    let server = TestServer::demo().await;
    let (status, zone) = send(
        &server,
        Method::POST,
        "/api/v1/zones",
        Some(json!({"name": "lab", "cidrs": ["192.0.2.0/24"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{zone}");
    let (status, bad) = send(
        &server,
        Method::POST,
        "/api/v1/zones",
        Some(json!({"name": "bad", "cidrs": ["10.0.0.0/8", "nope"]})),
    )
    .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cidrs[1]"))
    );
    let zid = zone["id"].as_str().unwrap();
    let (status, updated) = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/zones/{zid}"),
        Some(json!({"blocked_cidrs": ["192.0.2.128/25"]})),
    )
    .await;
    assert_eq!(
        (status, &updated["blocked_cidrs"]),
        (StatusCode::OK, &json!(["192.0.2.128/25"]))
    );
    let (status, _) = send(&server, Method::DELETE, &format!("/api/v1/zones/{zid}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&server, Method::GET, &format!("/api/v1/zones/{zid}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn enrollments_and_sessions_of_a_user() {
    let server = TestServer::demo().await;
    let alice = user_id(&server, "alice").await;
    let (status, list) = send(
        &server,
        Method::GET,
        &format!("/api/v1/users/{alice}/enrollments"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["authenticator"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"password") && kinds.contains(&"totp"),
        "{kinds:?}"
    );
    assert!(!list.to_string().contains("hash"), "no secrets in the answer");
    let totp = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["authenticator"] == "totp")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/users/{alice}/enrollments/{totp}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/users/{alice}/enrollments/{totp}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, sessions) = send(
        &server,
        Method::GET,
        &format!("/api/v1/users/{alice}/sessions"),
        None,
    )
    .await;
    assert_eq!(
        (status, sessions["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let (status, ended) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/users/{alice}/sessions"),
        None,
    )
    .await;
    assert_eq!((status, &ended["ended"]), (StatusCode::OK, &json!(0)));
    server.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_are_json_404_and_flows_still_answer() {
    let server = TestServer::demo().await;
    let (status, body) = send(&server, Method::GET, "/api/v1/nothing/here", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // The flow API's own answer for an unknown flow, not the admin catch-all's.
    let flow = server
        .client()
        .get(server.url("/api/v1/flows/no-such-flow"))
        .send()
        .await
        .unwrap();
    let body: Value = flow.json().await.unwrap();
    assert!(
        !body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no admin API route"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let server = TestServer::demo().await;
    let document: Value = server
        .client()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = document["paths"].as_object().unwrap();
    // The served router and the document come from the same `OpenApiRouter`; check both ways:
    // every documented operation is served (401 without a token, not 404/405) …
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "0190a0a0-0000-7000-8000-000000000000")
                .replace("{user_id}", "0190a0a0-0000-7000-8000-000000000001")
                .replace("{enrollment_id}", "0190a0a0-0000-7000-8000-000000000002")
                .replace("{rule_id}", "0190a0a0-0000-7000-8000-000000000003")
                .replace("{action}", "suspend");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = server
                .client()
                .request(m, server.url(&concrete))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} is documented but not served"
            );
        }
    }
    // … and the routes the admin API promises are documented.
    for (method, path) in [
        ("get", "/api/v1/users"),
        ("post", "/api/v1/users"),
        ("get", "/api/v1/users/{id}"),
        ("patch", "/api/v1/users/{id}"),
        ("delete", "/api/v1/users/{id}"),
        ("post", "/api/v1/users/{id}/lifecycle/{action}"),
        ("get", "/api/v1/users/{id}/enrollments"),
        ("delete", "/api/v1/users/{id}/enrollments/{enrollment_id}"),
        ("get", "/api/v1/users/{id}/sessions"),
        ("delete", "/api/v1/users/{id}/sessions"),
        ("get", "/api/v1/groups"),
        ("post", "/api/v1/groups"),
        ("put", "/api/v1/groups/{id}/users/{user_id}"),
        ("delete", "/api/v1/groups/{id}/users/{user_id}"),
        ("get", "/api/v1/zones"),
        ("post", "/api/v1/zones"),
        ("get", "/api/v1/logs"),
        ("get", "/api/v1/devices"),
        ("get", "/api/v1/devices/{id}"),
        ("delete", "/api/v1/devices/{id}"),
        ("post", "/api/v1/devices/{id}/lifecycle/{action}"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    assert!(paths.len() >= 15, "{}", paths.len());
    server.stop().await;
}

#[tokio::test]
async fn users_work_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_err() {
        return;
    }
    let server = TestServer::start(Options {
        dialect: Dialect::Postgres,
        ..Options::default()
    })
    .await;
    let (status, _) = send(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(json!({"login": "erin", "email": "erin@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(json!({"login": "ERIN", "email": "erin@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, page) = send(&server, Method::GET, "/api/v1/users?q=er", None).await;
    assert_eq!(page["items"][0]["login"], "erin");
    let (_, log) = send(
        &server,
        Method::GET,
        "/api/v1/logs?type=user.lifecycle.create",
        None,
    )
    .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
    server.stop().await;
}

async fn policy_id(server: &TestServer, name: &str) -> String {
    let (status, list) = send(server, Method::GET, "/api/v1/policies", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn policies_and_rules_are_validated_reordered_and_simulated() {
    policies_and_rules_are_validated_reordered_and_simulated_on(Dialect::Sqlite).await;
}

#[tokio::test]
async fn policies_and_rules_are_validated_reordered_and_simulated_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_ok() {
        policies_and_rules_are_validated_reordered_and_simulated_on(Dialect::Postgres).await;
    }
}

async fn policies_and_rules_are_validated_reordered_and_simulated_on(dialect: Dialect) {
    let server = TestServer::start(Options {
        dialect,
        ..Options::default()
    })
    .await;
    let finance = policy_id(&server, "finance").await;
    let (status, policy) = send(&server, Method::GET, &format!("/api/v1/policies/{finance}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(policy["type"], "authentication");
    assert_eq!(policy["apps"], json!(["finance"]));
    let ids: Vec<String> = policy["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);

    // A rule with a bad value: 400 with the policy crate's location.
    let (status, bad) = send(
        &server,
        Method::POST,
        &format!("/api/v1/policies/{finance}/rules"),
        Some(json!({"name": "odd", "access": "maybe"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["error"], "invalid_policy");
    assert!(
        bad["field"].as_str().unwrap_or_default().starts_with("rules[2]"),
        "{bad}"
    );

    // Added above the catch-all by default.
    let (status, rule) = send(
        &server,
        Method::POST,
        &format!("/api/v1/policies/{finance}/rules"),
        Some(json!({"name": "office", "when": {"network": {"include": ["corp"]}}, "access": "deny"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    assert_eq!(rule["position"], 2);
    let office = rule["id"].as_str().unwrap().to_owned();

    // Deleting the catch-all would leave the policy invalid.
    let (status, bad) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/policies/{finance}/rules/{}", ids[2]),
        None,
    )
    .await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_policy"))
    );

    // Atomic re-ordering: the order must name every rule once.
    let (status, _) = send(
        &server,
        Method::PUT,
        &format!("/api/v1/policies/{finance}/rules/order"),
        Some(json!({"rules": [ids[1], ids[0], ids[2]]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, reordered) = send(
        &server,
        Method::PUT,
        &format!("/api/v1/policies/{finance}/rules/order"),
        Some(json!({"rules": [office, ids[1], ids[0], ids[2]]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reordered}");
    let names: Vec<&str> = reordered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["office", "employees", "deny-contractors", "catch-all"]);
    let (_, rules) = send(
        &server,
        Method::GET,
        &format!("/api/v1/policies/{finance}/rules"),
        None,
    )
    .await;
    assert_eq!(rules["items"][0]["name"], "office");

    // The new order is what sign-ins (and the simulator) use at once.
    let context = json!({"user": {"login": "alice", "groups": ["employees"]}, "ip": "127.0.0.1",
        "risk": "low", "enrollments": [{"authenticator": "password"}], "records": [], "now": "2026-11-23T10:00:00Z"});
    let (status, out) = send(
        &server,
        Method::POST,
        "/api/v1/policies/simulate",
        Some(json!({"app": "finance", "context": context})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(
        (out["decision"].as_str(), out["rule"].as_str()),
        (Some("deny"), Some("office"))
    );
    let (status, bad) = send(
        &server,
        Method::POST,
        "/api/v1/policies/simulate",
        Some(json!({"app": "nope", "context": context})),
    )
    .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("app"))
    );
    let (status, bad) = send(&server, Method::POST, "/api/v1/policies/simulate",
        Some(json!({"app": "finance", "context": {"user": {"login": "a"}, "ip": "not-an-ip", "now": "2026-11-23T10:00:00Z"}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    // A new policy, a duplicate, a policy without a catch-all, and deletion.
    let (status, created) = send(
        &server,
        Method::POST,
        "/api/v1/policies",
        Some(json!({"type": "authentication", "name": "hr",
        "rules": [{"name": "all", "access": "allow", "require": {"assurance": {"factors": 1}}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = send(
        &server,
        Method::POST,
        "/api/v1/policies",
        Some(json!({"type": "authentication", "name": "HR",
        "rules": [{"name": "all", "access": "deny"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, bad) = send(
        &server,
        Method::POST,
        "/api/v1/policies",
        Some(json!({"type": "authentication", "name": "nocatch",
        "rules": [{"name": "x", "when": {"risk": ["high"]}, "access": "deny"}]})),
    )
    .await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_policy")),
        "{bad}"
    );
    assert!(bad["diagnostics"].as_array().is_some_and(|d| !d.is_empty()));
    let (status, _) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/policies/{}", created["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/policies/{finance}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("in_use"))
    );
    server.stop().await;
}

#[tokio::test]
async fn apps_show_their_secret_once_and_rotate_it() {
    apps_show_their_secret_once_and_rotate_it_on(Dialect::Sqlite).await;
}

#[tokio::test]
async fn apps_show_their_secret_once_and_rotate_it_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_ok() {
        apps_show_their_secret_once_and_rotate_it_on(Dialect::Postgres).await;
    }
}

async fn apps_show_their_secret_once_and_rotate_it_on(dialect: Dialect) {
    let server = TestServer::start(Options {
        dialect,
        ..Options::default()
    })
    .await;
    let (status, app) = send(&server, Method::POST, "/api/v1/apps", Some(json!({"client_id": "wiki", "name": "Wiki",
        "redirect_uris": ["https://wiki.example.com/callback"], "policy": "dashboard", "assignments": {"groups": ["employees"]}}))).await;
    assert_eq!(status, StatusCode::CREATED, "{app}");
    let secret = app["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "at least 256 bits");
    assert_eq!(
        (app["kind"].as_str(), app["policy"]["name"].as_str()),
        (Some("confidential"), Some("dashboard"))
    );
    let aid = app["id"].as_str().unwrap().to_owned();
    let (status, got) = send(&server, Method::GET, &format!("/api/v1/apps/{aid}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(got.get("client_secret").is_none() && !got.to_string().contains(&secret));
    assert_eq!(got["has_secret"], true);
    // The stored value is the SHA-256 digest, never the secret.
    let stored = server
        .state
        .store()
        .apps()
        .by_client_id("wiki")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.secret_digest.as_deref(),
        Some(gatehouse_crypto::digest::sha256_hex(secret.as_bytes()).as_str())
    );

    let (status, rotated) = send(&server, Method::POST, &format!("/api/v1/apps/{aid}/secret"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rotated["client_secret"].as_str().unwrap(), secret);

    let (status, dup) = send(
        &server,
        Method::POST,
        "/api/v1/apps",
        Some(json!({"client_id": "wiki", "name": "Wiki 2"})),
    )
    .await;
    assert_eq!(
        (status, dup["field"].as_str()),
        (StatusCode::CONFLICT, Some("client_id"))
    );
    let (status, bad) = send(
        &server,
        Method::POST,
        "/api/v1/apps",
        Some(json!({"name": "x", "redirect_uris": ["not a uri"]})),
    )
    .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("redirect_uris[0]")),
        "{bad}"
    );
    let (status, bad) = send(&server, Method::POST, "/api/v1/apps", Some(json!({"name": "x", "kind": "public", "token_endpoint_auth_method": "client_secret_basic", "redirect_uris": ["https://x.example.com/cb"]}))).await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("token_endpoint_auth_method")),
        "{bad}"
    );
    let (status, public) = send(
        &server,
        Method::POST,
        "/api/v1/apps",
        Some(json!({"name": "Mobile", "kind": "public",
        "redirect_uris": ["https://m.example.com/cb"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{public}");
    assert!(public["client_secret"].is_null());
    let (status, _) = send(
        &server,
        Method::POST,
        &format!("/api/v1/apps/{}/secret", public["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, updated) = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/apps/{aid}"),
        Some(json!({"policy": null, "name": "Team wiki"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert!(updated["policy"].is_null());
    let (_, page) = send(&server, Method::GET, "/api/v1/apps?limit=100", None).await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["client_id"] == "wiki")
    );
    let (status, _) = send(&server, Method::DELETE, &format!("/api/v1/apps/{aid}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&server, Method::GET, &format!("/api/v1/apps/{aid}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn access_policy_rules_are_checked_by_the_oidc_crate() {
    let server = TestServer::demo().await;
    let rule = json!({"name": "wiki", "priority": 9, "clients": ["dashboard"], "grant_types": ["*"], "scopes": ["openid"],
        "groups": {"include": ["auditors-x"], "exclude": []}, "access_token_lifetime": "PT5M", "refresh_token_lifetime": "P1D"});
    let (status, created) = send(
        &server,
        Method::POST,
        "/api/v1/authorization-server/rules",
        Some(rule.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let rid = created["id"].as_str().unwrap().to_owned();
    let (status, _) = send(
        &server,
        Method::POST,
        "/api/v1/authorization-server/rules",
        Some(rule.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, bad) = send(
        &server,
        Method::POST,
        "/api/v1/authorization-server/rules",
        Some(json!({"name": "x", "priority": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let mut changed = rule.clone();
    changed["priority"] = json!(0);
    let (status, replaced) = send(
        &server,
        Method::PUT,
        &format!("/api/v1/authorization-server/rules/{rid}"),
        Some(changed),
    )
    .await;
    assert_eq!((status, &replaced["priority"]), (StatusCode::OK, &json!(0)));
    let (_, list) = send(&server, Method::GET, "/api/v1/authorization-server/rules", None).await;
    let stored = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "wiki")
        .unwrap();
    assert_eq!((&stored["priority"], &stored["id"]), (&json!(0), &json!(rid)));
    let (status, _) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/authorization-server/rules/{rid}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(
        &server,
        Method::GET,
        &format!("/api/v1/authorization-server/rules/{rid}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn unlock_clears_failures_and_suspend_ends_sessions() {
    use gatehouse_core::model::{Session, UserId, UserStatus};
    let server = TestServer::demo().await;
    let bob = user_id(&server, "bob").await;
    let bob_id = UserId::parse(&bob).unwrap();
    let now = server.state.now();
    // Bob is locked out after failed sign-ins, and has a live session.
    let mut tx = server.state.store().begin().await.unwrap();
    for _ in 0..3 {
        tx.sign_in_failures().record(bob_id, now).await.unwrap();
    }
    let mut user = tx.users().get(bob_id).await.unwrap().unwrap();
    user.status = UserStatus::LockedOut;
    tx.users().update(&user).await.unwrap();
    tx.sessions()
        .insert(&Session {
            id: gatehouse_store::new_id(),
            token_digest: "0".repeat(64),
            user_id: bob_id,
            device_id: None,
            created_at: now,
            last_seen_at: now,
            expires_at: now + jiff::SignedDuration::from_hours(8),
            max_idle: std::time::Duration::from_secs(7200),
            keep_signed_in: false,
            client_ip: Some("127.0.0.1".into()),
            user_agent: None,
            ended_at: None,
            end_reason: None,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (status, body) = send(
        &server,
        Method::POST,
        &format!("/api/v1/users/{bob}/lifecycle/unlock"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("active")),
        "{body}"
    );
    assert_eq!(
        server.state.store().sign_in_failures().get(bob_id).await.unwrap(),
        None
    );

    let (_, sessions) = send(
        &server,
        Method::GET,
        &format!("/api/v1/users/{bob}/sessions"),
        None,
    )
    .await;
    assert_eq!(sessions["items"].as_array().unwrap().len(), 1, "{sessions}");
    assert_eq!(sessions["items"][0]["client_ip"], "127.0.0.1");
    let (status, _) = send(
        &server,
        Method::POST,
        &format!("/api/v1/users/{bob}/lifecycle/suspend"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, sessions) = send(
        &server,
        Method::GET,
        &format!("/api/v1/users/{bob}/sessions"),
        None,
    )
    .await;
    assert!(sessions["items"].as_array().unwrap().is_empty(), "{sessions}");
    let (_, log) = send(
        &server,
        Method::GET,
        &format!("/api/v1/logs?user={bob}&type=user.lifecycle.suspend"),
        None,
    )
    .await;
    assert_eq!(log["items"][0]["details"]["sessions_ended"], 1);
    let (_, by_login) = send(
        &server,
        Method::GET,
        "/api/v1/logs?user=bob&type=user.lifecycle.unlock",
        None,
    )
    .await;
    assert_eq!(by_login["items"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn bodies_that_are_not_json_are_400_not_500() {
    let server = TestServer::demo().await;
    for (content_type, body) in [
        ("application/json", "{\"login\": "),
        ("application/x-www-form-urlencoded", "login=eve"),
        ("text/plain", ""),
        ("application/json", "[1, 2]"),
        (
            "application/json",
            "{\"login\": \"eve\", \"email\": \"e@example.com\"} trailing",
        ),
    ] {
        let response = server
            .admin(Method::POST, "/api/v1/groups")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{content_type} {body}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_json");
    }
    // Without a Content-Type, a JSON body is still read.
    let response = server
        .admin(Method::POST, "/api/v1/groups")
        .body("{\"name\": \"plain\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    server.stop().await;
}

#[tokio::test]
async fn deleting_a_user_an_app_is_assigned_to_is_not_a_500() {
    let server = TestServer::demo().await;
    let (status, app) = send(
        &server,
        Method::POST,
        "/api/v1/apps",
        Some(json!({"client_id": "crm", "name": "CRM",
        "redirect_uris": ["https://crm.example.com/cb"], "assignments": {"users": ["bob"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{app}");
    assert_eq!(app["assignments"]["users"][0]["login"], "bob");
    let bob = user_id(&server, "bob").await;
    let (status, _) = send(
        &server,
        Method::POST,
        &format!("/api/v1/users/{bob}/lifecycle/deactivate"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(&server, Method::DELETE, &format!("/api/v1/users/{bob}"), None).await;
    assert!(
        status == StatusCode::NO_CONTENT || status == StatusCode::CONFLICT,
        "{status} {body}"
    );
    let (status, _) = send(&server, Method::GET, "/api/v1/users?limit=abc", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, bad) = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/users/{}", user_id(&server, "alice").await),
        Some(json!({"profile": ["not", "an", "object"]})),
    )
    .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("profile")),
        "{bad}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_user_that_rules_name_by_login_is_not_renamed_behind_their_back() {
    let server = TestServer::demo().await;
    let bob = user_id(&server, "bob").await;
    let dashboard = policy_id(&server, "dashboard").await;
    let (status, rule) = send(
        &server,
        Method::POST,
        &format!("/api/v1/policies/{dashboard}/rules"),
        Some(json!({"name": "deny-bob", "access": "deny", "when": {"users": {"include": ["Bob"], "exclude": []}}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");

    // Renaming bob would let him past the rule that denies him by name: refused, nothing saved.
    let (status, body) = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/users/{bob}"),
        Some(json!({"login": "robert", "email": "robert@example.com"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str(), body["field"].as_str()),
        (StatusCode::CONFLICT, Some("in_use"), Some("login")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("`deny-bob`") && message.contains("`dashboard`"),
        "{message}"
    );
    let (_, stored) = send(&server, Method::GET, &format!("/api/v1/users/{bob}"), None).await;
    assert_eq!(
        (stored["login"].as_str(), stored["email"].as_str()),
        (Some("bob"), Some("bob@example.com"))
    );

    // A change of case keeps the rule matching, and other fields change freely.
    let (status, body) = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/users/{bob}"),
        Some(json!({"login": "BOB", "display_name": "Bobby"})),
    )
    .await;
    assert_eq!(
        (status, body["login"].as_str(), body["display_name"].as_str()),
        (StatusCode::OK, Some("BOB"), Some("Bobby")),
        "{body}"
    );

    // Once the rule is gone the rename goes through.
    let rid = rule["id"].as_str().unwrap();
    let (status, _) = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/policies/{dashboard}/rules/{rid}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/users/{bob}"),
        Some(json!({"login": "robert"})),
    )
    .await;
    assert_eq!(
        (status, body["login"].as_str()),
        (StatusCode::OK, Some("robert")),
        "{body}"
    );

    // Access-policy rules name users by login too.
    let (status, access) = send(
        &server,
        Method::POST,
        "/api/v1/authorization-server/rules",
        Some(json!({"name": "not-robert", "priority": 0, "clients": ["dashboard"], "grant_types": ["*"], "scopes": ["*"],
            "users": {"include": [], "exclude": ["robert"]}, "groups": {"include": [], "exclude": []},
            "access_token_lifetime": "PT5M", "refresh_token_lifetime": "P1D"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{access}");
    let (status, body) = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/users/{bob}"),
        Some(json!({"login": "bob"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("in_use")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("`not-robert`"),
        "{body}"
    );
    server.stop().await;
}
