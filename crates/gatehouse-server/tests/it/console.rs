//! The admin console's sign-in (`/admin`) and the admin API token it trades a session for
//! (`POST /admin/session-token`): administrators only, CSRF refused, and the token dies with its
//! session (sign-out, admin revocation), its expiry, or its user leaving `admins`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestServer;

/// A browser signed in through `/admin`, with the anti-CSRF token of the console page.
struct Console {
    client: reqwest::Client,
    base: String,
}

impl Console {
    /// Opens `/admin`, signs in with login and password through the flow it starts, and comes
    /// back to `/admin`.
    async fn sign_in(server: &TestServer, login: &str, password: &str) -> Self {
        let client = server.client();
        let res = client.get(server.url("/admin")).send().await.unwrap();
        assert_eq!(res.status(), 303, "no session: /admin starts a sign-in");
        let flow = res.headers()["location"]
            .to_str()
            .unwrap()
            .strip_prefix("/signin/")
            .expect("redirect to /signin/{id}")
            .to_owned();
        for (step, body) in [
            ("identify", json!({"login": login})),
            ("challenge-authenticator", json!({"password": password})),
        ] {
            let res = client
                .post(server.url(&format!("/api/v1/flows/{flow}/{step}")))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let state: Value = res.json().await.unwrap();
            if step == "challenge-authenticator" {
                assert_eq!(state["status"], "success", "{state}");
                assert_eq!(state["redirect"], "/admin", "the sign-in returns to the console");
            }
        }
        Self {
            client,
            base: server.base.clone(),
        }
    }

    /// `GET /admin`: status and page.
    async fn page(&self) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}/admin", self.base))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// The anti-CSRF token the console page carries.
    async fn csrf(&self) -> String {
        let (_, html) = self.page().await;
        let (_, rest) = html
            .split_once(r#"name="gatehouse-csrf" content=""#)
            .or_else(|| html.split_once(r#"name="csrf" value=""#))
            .expect("the page carries an anti-CSRF token");
        rest.split('"').next().unwrap().to_owned()
    }

    /// `POST /admin/session-token` with the given anti-CSRF header and extra headers.
    async fn token(&self, csrf: Option<&str>, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.client.post(format!("{}/admin/session-token", self.base));
        if let Some(csrf) = csrf {
            req = req.header("x-csrf-token", csrf);
        }
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// The status of `GET /api/v1/users` with `token`.
async fn api_status(server: &TestServer, token: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url("/api/v1/users"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn user_id(server: &TestServer, login: &str) -> String {
    let users: Value = server
        .admin(Method::GET, &format!("/api/v1/users?q={login}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    users["items"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_administrators_session_gets_a_short_lived_token_that_ends_with_it() {
    let server = TestServer::demo().await;
    let admin = Console::sign_in(&server, "admin", "admin-password-123").await;
    let (status, html) = admin.page().await;
    assert_eq!(status, 200);
    assert!(html.contains("/assets/console/console.js"), "the console shell");
    let csrf = admin.csrf().await;

    // CSRF: without the page's token, with a wrong one, or from another site: refused.
    let (status, body) = admin.token(None, &[]).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("csrf")));
    let (status, _) = admin.token(Some("0".repeat(64).as_str()), &[]).await;
    assert_eq!(status, 403);
    let (status, _) = admin
        .token(
            Some(&csrf),
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(status, 403, "a cross-site request is refused even with the token");
    // Without a session there is nothing to trade.
    let stranger = reqwest::Client::new()
        .post(server.url("/admin/session-token"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);

    let (status, body) = admin.token(Some(&csrf), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["login"], "admin");
    assert_eq!(body["expires_in"], 600);
    let first = body["token"].as_str().unwrap().to_owned();
    assert!(first.starts_with("gha_"));
    assert_eq!(
        api_status(&server, &first).await,
        200,
        "the token works on the admin API"
    );

    // The token expires; the session can trade again while it lives.
    server.clock.advance(Duration::from_secs(601));
    assert_eq!(api_status(&server, &first).await, 401, "expired");
    let (_, body) = admin.token(Some(&csrf), &[]).await;
    let second = body["token"].as_str().unwrap().to_owned();
    assert_eq!(api_status(&server, &second).await, 200);

    // The creation is in the system log, by the administrator, naming the session.
    let log: Value = server
        .admin(Method::GET, "/api/v1/logs?type=admin.token.create&user=admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = &log["items"][0];
    assert_eq!(event["actor"]["type"], "user");
    assert!(event["details"]["session_id"].is_string(), "{event}");

    // Signing out of the console ends the session and revokes its token.
    let res = admin
        .client
        .post(format!("{}/admin/logout", server.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        api_status(&server, &second).await,
        401,
        "revoked with its session"
    );
    let (status, _) = admin.page().await;
    assert_eq!(status, 303, "signed out: /admin asks to sign in again");

    // An administrator's sessions ended through the API take the console's token with them.
    let again = Console::sign_in(&server, "admin", "admin-password-123").await;
    let csrf = again.csrf().await;
    let (_, body) = again.token(Some(&csrf), &[]).await;
    let third = body["token"].as_str().unwrap().to_owned();
    assert_eq!(api_status(&server, &third).await, 200);
    let admin_id = user_id(&server, "admin").await;
    let ended: Value = server
        .admin(Method::DELETE, &format!("/api/v1/users/{admin_id}/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ended["ended"].as_u64().unwrap() >= 1);
    assert_eq!(api_status(&server, &third).await, 401);
    let (status, _) = again.token(Some(&csrf), &[]).await;
    assert_eq!(status, 401, "no live session, no token");

    // The CLI's admin tokens are not bound to any session and keep working.
    assert_eq!(api_status(&server, &server.admin_token).await, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_token_stops_working_when_its_user_leaves_admins() {
    let server = TestServer::demo().await;
    let admin = Console::sign_in(&server, "admin", "admin-password-123").await;
    let csrf = admin.csrf().await;
    let (_, body) = admin.token(Some(&csrf), &[]).await;
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(api_status(&server, &token).await, 200);
    let groups: Value = server
        .admin(Method::GET, "/api/v1/groups?limit=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admins = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "admins")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin_id = user_id(&server, "admin").await;
    let res = server
        .admin(
            Method::DELETE,
            &format!("/api/v1/groups/{admins}/users/{admin_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        api_status(&server, &token).await,
        401,
        "no longer an administrator"
    );
    let (status, body) = admin.token(Some(&csrf), &[]).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("not_admin")));
    server.stop().await;
}

#[tokio::test]
async fn someone_who_is_not_an_administrator_is_told_so_and_can_switch_account() {
    let server = TestServer::demo().await;
    let bob = Console::sign_in(&server, "bob", "bob-password-123").await;
    let (status, html) = bob.page().await;
    assert_eq!(status, 403);
    assert!(html.contains("You are not an administrator"), "{html}");
    assert!(html.contains("bob"));
    assert!(html.contains(r#"href="/app""#), "a way to the user's own apps");
    assert!(!html.contains("console.js"), "no console for a non-administrator");
    let csrf = bob.csrf().await;
    let (status, body) = bob.token(Some(&csrf), &[]).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("not_admin")));
    assert!(body["message"].as_str().unwrap().contains("not an administrator"));
    let log: Value = server
        .admin(Method::GET, "/api/v1/logs?type=admin.token.create&user=bob")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        log["items"][0]["outcome"], "deny",
        "the refusal is in the system log"
    );
    assert_eq!(log["items"][0]["details"]["reason"], "not_admin");

    // "Sign in as someone else" ends bob's session and starts over.
    let res = bob
        .client
        .post(format!("{}/admin/logout", server.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (status, _) = bob.page().await;
    assert_eq!(status, 303);
    server.stop().await;
}
