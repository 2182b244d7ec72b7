//! The end-user dashboard `/app` (issue 5): assigned apps with launch links, authenticators
//! renamed and removed only after re-verifying, devices, open sessions and "sign out everywhere".

use std::time::Duration;

use serde_json::json;

use crate::flows::{Browser, remediation, signed_in};
use crate::support::TestServer;

async fn page(browser: &Browser, path: &str) -> String {
    let res = browser
        .client
        .get(format!("{}{path}", browser.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

async fn form(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    browser
        .client
        .post(format!("{}{path}", browser.base))
        .form(fields)
        .send()
        .await
        .unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

async fn totp_of_alice(server: &TestServer) -> gatehouse_core::model::Enrollment {
    let alice = server
        .state
        .store()
        .users()
        .by_login("alice")
        .await
        .unwrap()
        .unwrap();
    server
        .state
        .store()
        .enrollments()
        .of_user(alice.id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.authenticator.as_str() == "totp")
        .expect("the demo enrolls alice's TOTP")
}

#[tokio::test]
async fn the_dashboard_lists_assigned_apps_with_launch_links_and_the_open_sessions() {
    let server = TestServer::demo().await;
    let browser = signed_in(&server, "alice", "correct-horse-battery").await;
    let html = page(&browser, "/app").await;
    assert!(
        html.contains(r#"<li data-app="dashboard"><a href="http://127.0.0.1:9000/">Dashboard</a></li>"#),
        "the dashboard app, launched at its home: {html}"
    );
    assert!(html.contains(r#"data-app="finance""#), "{html}");
    assert!(
        !html.contains(r#"data-app="reports-service""#),
        "a machine's app (client credentials only) is not listed"
    );
    assert!(
        !html.contains(r#"data-app="gatehouse-verify""#),
        "nor Gatehouse Verify's own client"
    );
    assert!(html.contains("(this browser)"), "{html}");
    assert!(html.contains(r#"id="devices""#), "{html}");
    assert!(html.contains("Sign out everywhere"), "{html}");
    server.stop().await;
}

#[tokio::test]
async fn an_authenticator_is_renamed_and_a_bad_name_is_refused() {
    let server = TestServer::demo().await;
    let browser = signed_in(&server, "alice", "correct-horse-battery").await;
    let totp = totp_of_alice(&server).await;
    let res = form(
        &browser,
        &format!("/app/enrollments/{}/rename", totp.id),
        &[("name", "  Phone app ")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/app?notice=renamed");
    let html = page(&browser, "/app?notice=renamed").await;
    assert!(html.contains("Authenticator app code — Phone app"), "{html}");
    assert!(html.contains("Saved the new name."), "{html}");

    let long = "x".repeat(65);
    let res = form(
        &browser,
        &format!("/app/enrollments/{}/rename", totp.id),
        &[("name", long.as_str())],
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["field"], "name", "{body}");
    assert_eq!(
        totp_of_alice(&server).await.name.as_deref(),
        Some("Phone app"),
        "a refused name changes nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn removing_an_authenticator_after_a_while_asks_to_verify_again_first() {
    let server = TestServer::demo().await;
    let browser = signed_in(&server, "alice", "correct-horse-battery").await;
    let totp = totp_of_alice(&server).await;
    server.clock.advance(Duration::from_secs(10 * 60));

    let res = form(&browser, &format!("/app/enrollments/{}/remove", totp.id), &[]).await;
    assert_eq!(res.status(), 303);
    let flow = location(&res)
        .strip_prefix("/signin/")
        .expect("a re-verification flow, not a removal")
        .to_owned();
    assert_eq!(totp_of_alice(&server).await.id, totp.id, "nothing removed yet");

    let (_, state) = browser.state(&flow).await;
    let challenge = remediation(&state, "challenge-authenticator").unwrap_or_else(|| panic!("{state}"));
    assert!(
        remediation(&state, "identify").is_none(),
        "the person is known: {state}"
    );
    assert_eq!(challenge["authenticator"]["key"], "password", "{state}");
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "correct-horse-battery"}),
        )
        .await;
    assert_eq!(state["status"], "success", "{state}");
    let back = state["redirect"].as_str().unwrap().to_owned();
    assert_eq!(back, format!("/app?remove={}", totp.id));

    let html = page(&browser, &back).await;
    assert!(html.contains(r#"id="confirm-remove""#), "{html}");
    let res = form(&browser, &format!("/app/enrollments/{}/remove", totp.id), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/app?notice=removed");
    let alice = server
        .state
        .store()
        .users()
        .by_login("alice")
        .await
        .unwrap()
        .unwrap();
    let left = server
        .state
        .store()
        .enrollments()
        .of_user(alice.id)
        .await
        .unwrap();
    assert!(
        left.iter().all(|e| e.authenticator.as_str() != "totp"),
        "removed after re-verifying"
    );
    server.stop().await;
}

#[tokio::test]
async fn sign_out_everywhere_ends_the_sessions_of_every_browser() {
    let server = TestServer::demo().await;
    let laptop = signed_in(&server, "alice", "correct-horse-battery").await;
    let phone = signed_in(&server, "alice", "correct-horse-battery").await;
    let html = page(&laptop, "/app").await;
    assert_eq!(html.matches("data-session=").count(), 2, "{html}");

    let res = form(&laptop, "/app/sessions/end-all", &[]).await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("gh_session=;"),
        "this browser's cookie is cleared"
    );
    for browser in [&laptop, &phone] {
        let res = browser
            .client
            .get(format!("{}/app", browser.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "signed out: /app starts a sign-in");
        assert!(location(&res).starts_with("/signin/"));
    }
    server.stop().await;
}
