//! The sign-in flow end to end: gateway, test IdP and provisioning service as real servers.

use std::time::Duration;

use serde_json::json;

use crate::idp::{Key, TestIdp};
use crate::provsvc::ProvService;
use crate::support::{Browser, Db, Options, Prov, TestApp, assert_signed_in};

const POLICY_FAILED: &str = "Policy evaluation failed for this request.";

async fn app_and_idp() -> (TestApp, TestIdp) {
    let app = TestApp::sqlite().await;
    let idp = TestIdp::es256(vec![app.redirect_uri("acme-corp")]).await;
    app.register("acme-corp", &idp, &["https://app.acme.example"])
        .await;
    (app, idp)
}

#[tokio::test]
async fn first_login_provisions_and_later_users_join_as_members() {
    let (app, idp) = app_and_idp().await;
    let alice = Browser::new();
    let step = alice.login(&app, "acme-corp", "alice").await;
    assert_signed_in(&step, &app);
    let (status, me) = alice.dashboard(&app).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], "alice@example.com");
    assert_eq!(me["user"]["subject"], "sub-alice");
    assert_eq!(me["user"]["role"], "partner");
    assert_eq!(me["user"]["project_role"], "owner");
    assert_eq!(me["tenant"]["slug"], "acme-corp");
    let project_id = me["project_id"].as_str().unwrap().to_owned();
    assert!(project_id.starts_with("prj_"), "{me}");
    assert_eq!(me["subscription"]["plan"], "advanced");

    let bob = Browser::new();
    assert_signed_in(&bob.login(&app, "acme-corp", "bob").await, &app);
    let (_, bob_view) = bob.dashboard(&app).await;
    assert_eq!(bob_view["user"]["project_role"], "member");
    assert_eq!(bob_view["project_id"], project_id.as_str());

    // The embedded services hold one project, one subscription and both members.
    let store = &app.state.store;
    assert_eq!(store.svc_projects().await.unwrap().len(), 1);
    assert_eq!(store.svc_subscriptions().await.unwrap().len(), 1);
    let members = store.svc_members(&project_id).await.unwrap();
    let mut roles: Vec<_> = members
        .iter()
        .map(|m| (m.project_role.clone(), m.role.clone()))
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        vec![
            ("member".into(), "partner".into()),
            ("owner".into(), "partner".into())
        ]
    );

    // The dashboard page for browsers.
    let page = alice
        .send(
            alice
                .client
                .get(app.url("/dashboard"))
                .header("accept", "text/html"),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&project_id) && page.body.contains("advanced") && page.body.contains("acme-corp")
    );

    let kinds = app.audit_kinds("acme-corp").await;
    for kind in [
        "sso.started",
        "sso.login.succeeded",
        "provision.requested",
        "provision.project_created",
        "provision.succeeded",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "missing {kind} in {kinds:?}");
    }
    assert!(idp.token_calls() >= 2);

    // Logout ends the session.
    let out = alice.send(alice.client.post(app.url("/logout"))).await;
    assert_eq!(out.status, 303);
    assert_eq!(alice.dashboard(&app).await.0, 401);
}

#[tokio::test]
async fn rs256_providers_work_too() {
    let app = TestApp::sqlite().await;
    let idp = TestIdp::start(Key::load("rs256-a", "rsa-1"), vec![app.redirect_uri("rsa-co")]).await;
    app.register("rsa-co", &idp, &[]).await;
    let browser = Browser::new();
    assert_signed_in(&browser.login(&app, "rsa-co", "carol").await, &app);
    assert_eq!(
        browser.dashboard(&app).await.1["user"]["email"],
        "carol@example.com"
    );
}

async fn fifty_first_logins(db: Db) {
    let service = ProvService::start().await;
    let app = TestApp::spawn(Options {
        db,
        provisioning: Prov::External(service.url()),
        ..Options::default()
    })
    .await;
    let idp = TestIdp::es256(vec![app.redirect_uri("race-co")]).await;
    app.register("race-co", &idp, &[]).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let browser = Browser::new();
            let step = browser.login(&app, "race-co", &format!("user{i}")).await;
            assert_signed_in(&step, &app);
            browser.dashboard(&app).await.1["user"]["project_role"]
                .as_str()
                .unwrap()
                .to_owned()
        }));
    }
    let mut owners = 0;
    for task in tasks {
        if task.await.unwrap() == "owner" {
            owners += 1;
        }
    }
    assert_eq!(owners, 1);
    // Finish whatever the logins left (members that arrived during a run).
    app.state.provisioner.run_due().await.unwrap();
    assert_eq!(service.project_calls(), 1, "the project was requested once");
    assert_eq!(
        service.subscription_calls(),
        1,
        "the subscription was requested once"
    );
    service.with_data(|d| {
        assert_eq!(d.projects.len(), 1);
        assert_eq!(d.subscriptions.len(), 1);
        assert_eq!(d.subscriptions[0].2, "advanced");
        assert_eq!(d.members.len(), 50);
        assert_eq!(d.members.iter().filter(|m| m.2 == "owner").count(), 1);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_first_logins_make_one_project_on_sqlite() {
    fifty_first_logins(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_first_logins_make_one_project_on_postgres() {
    fifty_first_logins(Db::Postgres).await;
}

#[tokio::test]
async fn provisioning_down_still_signs_in_and_reprovision_completes_once() {
    let service = ProvService::start().await;
    let app = TestApp::spawn(Options {
        provisioning: Prov::External(service.url()),
        ..Options::default()
    })
    .await;
    let idp = TestIdp::es256(vec![app.redirect_uri("acme-corp")]).await;
    app.register("acme-corp", &idp, &[]).await;
    service.go_down().await;

    let alice = Browser::new();
    assert_signed_in(&alice.login(&app, "acme-corp", "alice").await, &app);
    let (_, me) = alice.dashboard(&app).await;
    assert_eq!(me["project_id"], "", "login succeeds with an empty project_id");
    assert_eq!(me["user"]["project_role"], "owner");
    assert_eq!(me["provisioning"]["status"], "failed");
    assert!(
        me["provisioning"]["last_error"]
            .as_str()
            .unwrap()
            .contains("/projects"),
        "{me}"
    );
    assert!(
        app.audit_kinds("acme-corp")
            .await
            .iter()
            .any(|k| k == "provision.failed")
    );

    // Reprovisioning while still down fails loudly and keeps the record.
    let (status, body) = app
        .admin(
            reqwest::Method::POST,
            "/admin/tenants/acme-corp/reprovision",
            None,
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"], "provisioning_failed");

    service.come_back().await;
    let (status, body) = app
        .admin(
            reqwest::Method::POST,
            "/admin/tenants/acme-corp/reprovision",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provisioning"]["status"], "done");
    let project_id = body["provisioning"]["project_id"].as_str().unwrap().to_owned();
    assert!(!project_id.is_empty());
    assert_eq!(alice.dashboard(&app).await.1["project_id"], project_id.as_str());

    // Again: nothing new is created.
    let (status, _) = app
        .admin(
            reqwest::Method::POST,
            "/admin/tenants/acme-corp/reprovision",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(service.project_calls(), 1);
    service.with_data(|d| {
        assert_eq!(d.projects.len(), 1);
        assert_eq!(d.subscriptions.len(), 1);
        assert_eq!(d.members.len(), 1);
    });
}

#[tokio::test]
async fn failed_provisioning_is_retried_automatically_with_backoff() {
    let service = ProvService::start().await;
    let app = TestApp::spawn(Options {
        provisioning: Prov::External(service.url()),
        ..Options::default()
    })
    .await;
    let idp = TestIdp::es256(vec![app.redirect_uri("acme-corp")]).await;
    app.register("acme-corp", &idp, &[]).await;
    service.go_down().await;
    let alice = Browser::new();
    assert_signed_in(&alice.login(&app, "acme-corp", "alice").await, &app);
    service.come_back().await;
    // Not due before the first backoff (5 s) has passed.
    assert_eq!(app.state.provisioner.run_due().await.unwrap(), 0);
    app.clock.advance(Duration::from_secs(6));
    assert_eq!(app.state.provisioner.run_due().await.unwrap(), 1);
    let (_, me) = alice.dashboard(&app).await;
    assert!(!me["project_id"].as_str().unwrap().is_empty(), "{me}");
    assert_eq!(me["provisioning"]["status"], "done");
    assert!(
        app.audit_kinds("acme-corp")
            .await
            .iter()
            .any(|k| k == "provision.retried")
    );
}

#[tokio::test]
async fn state_expires_after_ten_minutes() {
    let (app, idp) = app_and_idp().await;
    let browser = Browser::new();
    let callback = browser
        .authorize(&browser.start(&app, "acme-corp").await, "alice")
        .await;
    app.clock.advance(Duration::from_secs(9 * 60 + 59));
    let other = Browser::new();
    let early = other
        .authorize(&other.start(&app, "acme-corp").await, "bob")
        .await;
    app.clock.advance(Duration::from_secs(2));
    let late = browser.get(&callback).await;
    assert_eq!(late.status, 401, "{late:?}");
    assert_eq!(late.json()["message"], "invalid or expired sso state");
    assert_eq!(late.json()["error"], "invalid_state");
    // The other login's state is only two seconds old (the IdP's clock moves with ours).
    idp.set_clock_offset(601);
    assert_signed_in(&other.get(&early).await, &app);
}

#[tokio::test]
async fn state_just_under_ten_minutes_old_is_accepted() {
    let (app, idp) = app_and_idp().await;
    let browser = Browser::new();
    let callback = browser
        .authorize(&browser.start(&app, "acme-corp").await, "alice")
        .await;
    // Just under ten minutes (a few seconds of margin: the clock keeps running).
    app.clock.advance(Duration::from_secs(9 * 60 + 56));
    idp.set_clock_offset(596);
    assert_signed_in(&browser.get(&callback).await, &app);
}

#[tokio::test]
async fn reused_missing_and_foreign_state_are_one_401() {
    let (app, _idp) = app_and_idp().await;
    let browser = Browser::new();
    let callback = browser
        .authorize(&browser.start(&app, "acme-corp").await, "alice")
        .await;
    // Another browser (no binding cookie) cannot use it, and does not burn it.
    let thief = Browser::new();
    let stolen = thief.get(&callback).await;
    assert_eq!(stolen.status, 401);
    assert_signed_in(&browser.get(&callback).await, &app);
    let reused = browser.get(&callback).await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.json()["message"], "invalid or expired sso state");
    let missing = browser.get(&app.url("/okta-login/acme-corp?code=abc")).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["message"], "invalid or expired sso state");
    let made_up = browser
        .get(&app.url("/okta-login/acme-corp?code=abc&state=made-up"))
        .await;
    assert_eq!(made_up.status, 401);
    // Browsers get the page saying who acts.
    let page = browser
        .send(browser.client.get(&callback).header("accept", "text/html"))
        .await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("invalid or expired sso state") && page.body.contains("Who must act"));
    assert!(
        app.audit_kinds("acme-corp")
            .await
            .iter()
            .any(|k| k == "sso.state.rejected")
    );
}

#[tokio::test]
async fn unknown_or_disabled_tenant_is_sso_config_not_found() {
    let (app, _idp) = app_and_idp().await;
    let browser = Browser::new();
    for tenant in ["nobody-here", "Bad_Slug", "x"] {
        let step = browser
            .send(
                browser
                    .client
                    .post(app.url("/sso/start"))
                    .json(&json!({ "tenant": tenant })),
            )
            .await;
        assert_eq!(step.status, 404, "{tenant}");
        assert_eq!(step.json()["message"], "SSO config not found");
    }
    let get = browser.get(&app.url("/sso/start?tenant=nobody-here")).await;
    assert_eq!(
        (get.status, get.json()["message"].as_str()),
        (404, Some("SSO config not found"))
    );
    let callback = browser
        .get(&app.url("/okta-login/nobody-here?code=a&state=b"))
        .await;
    assert_eq!(
        (callback.status, callback.json()["message"].as_str()),
        (404, Some("SSO config not found"))
    );
    let (status, _) = app
        .admin(reqwest::Method::POST, "/admin/tenants/acme-corp/disable", None)
        .await;
    assert_eq!(status, 200);
    let disabled = browser
        .send(
            browser
                .client
                .post(app.url("/sso/start"))
                .json(&json!({ "tenant": "acme-corp" })),
        )
        .await;
    assert_eq!(
        (disabled.status, disabled.json()["message"].as_str()),
        (404, Some("SSO config not found"))
    );
    let missing = browser
        .send(browser.client.post(app.url("/sso/start")).json(&json!({})))
        .await;
    assert_eq!(
        (missing.status, missing.json()["field"].as_str()),
        (400, Some("tenant"))
    );
}

#[tokio::test]
async fn idp_access_denied_is_passed_through_with_advice() {
    let (app, idp) = app_and_idp().await;
    idp.deny(Some(("access_denied", POLICY_FAILED)));
    let browser = Browser::new();
    let step = browser.login(&app, "acme-corp", "alice").await;
    assert_eq!(step.status, 403, "{step:?}");
    let body = step.json();
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["error_description"], POLICY_FAILED);
    assert_eq!(body["who_must_act"], "idp_admin");
    assert!(body["message"].as_str().unwrap().contains(POLICY_FAILED));
    assert!(body["advice"].as_str().unwrap().contains("access policy"));

    let page = {
        let authorize = browser.start(&app, "acme-corp").await;
        let callback = browser.authorize(&authorize, "alice").await;
        browser
            .send(browser.client.get(&callback).header("accept", "text/html"))
            .await
    };
    assert_eq!(page.status, 403);
    assert!(page.body.contains(POLICY_FAILED));
    assert!(page.body.contains("identity provider administrator"));
    assert!(
        page.body.contains("an authorization code"),
        "expected vs received shown"
    );
    assert!(
        app.audit_kinds("acme-corp")
            .await
            .iter()
            .any(|k| k == "sso.idp_error")
    );
}

#[tokio::test]
async fn an_idp_complaining_about_the_redirect_uri_gets_the_exact_uri_shown() {
    let (app, idp) = app_and_idp().await;
    idp.deny(Some((
        "invalid_request",
        "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings",
    )));
    let browser = Browser::new();
    let step = browser.login(&app, "acme-corp", "alice").await;
    let body = step.json();
    assert_eq!(body["who_must_act"], "idp_admin");
    assert_eq!(body["details"][0]["expected"], app.redirect_uri("acme-corp"));
    assert!(
        body["advice"]
            .as_str()
            .unwrap()
            .contains(&app.redirect_uri("acme-corp"))
    );
}

#[tokio::test]
async fn jwks_rotation_at_the_idp_is_followed() {
    let (app, idp) = app_and_idp().await;
    assert_signed_in(&Browser::new().login(&app, "acme-corp", "alice").await, &app);
    let fetches = idp.jwks_fetches();
    // The IdP rotates: publishes the new key and signs with it.
    let new_key = Key::load("es256-b", "key-b");
    idp.publish(vec![Key::load("es256-a", "key-a"), new_key.clone()]);
    idp.sign_with(new_key);
    assert_signed_in(&Browser::new().login(&app, "acme-corp", "bob").await, &app);
    assert_eq!(idp.jwks_fetches(), fetches + 1, "one refetch for the unknown kid");
    // Later logins use the refreshed set without fetching.
    assert_signed_in(&Browser::new().login(&app, "acme-corp", "carol").await, &app);
    assert_eq!(idp.jwks_fetches(), fetches + 1);
}

#[tokio::test]
async fn a_token_signed_by_a_never_published_key_is_refused() {
    let (app, idp) = app_and_idp().await;
    assert_signed_in(&Browser::new().login(&app, "acme-corp", "alice").await, &app);
    let fetches = idp.jwks_fetches();

    // Same kid as the published key, different key: the signature check fails.
    idp.sign_with(Key::load("es256-rogue", "key-a"));
    let spoofed = Browser::new().login(&app, "acme-corp", "mallory").await;
    assert_eq!(spoofed.status, 502, "{spoofed:?}");
    assert_eq!(spoofed.json()["error"], "id_token_invalid");

    // An unknown kid: one JWKS refetch, then refused; a second try within a minute refetches
    // nothing; after a minute one refetch is allowed again.
    idp.sign_with(Key::load("es256-rogue", "rogue"));
    let unknown = Browser::new().login(&app, "acme-corp", "mallory").await;
    assert_eq!(unknown.status, 502);
    assert_eq!(unknown.json()["error"], "id_token_invalid");
    assert_eq!(idp.jwks_fetches(), fetches + 1);
    let again = Browser::new().login(&app, "acme-corp", "mallory").await;
    assert_eq!(again.status, 502);
    assert_eq!(idp.jwks_fetches(), fetches + 1, "refetch is rate-limited");
    app.clock.advance(Duration::from_secs(61));
    let later = Browser::new().login(&app, "acme-corp", "mallory").await;
    assert_eq!(later.status, 502);
    assert!(idp.jwks_fetches() > fetches + 1);
    let users = app
        .admin(reqwest::Method::GET, "/admin/tenants/acme-corp/users", None)
        .await
        .1;
    assert_eq!(
        users["users"].as_array().unwrap().len(),
        1,
        "mallory never got in"
    );
    assert!(
        app.audit_kinds("acme-corp")
            .await
            .iter()
            .any(|k| k == "sso.login.failed")
    );
}

#[tokio::test]
async fn clock_skew_within_the_leeway_passes_and_beyond_it_fails() {
    let (app, idp) = app_and_idp().await;
    // IdP clock ahead: iat in our future.
    idp.set_clock_offset(45);
    assert_signed_in(&Browser::new().login(&app, "acme-corp", "ahead-ok").await, &app);
    idp.set_clock_offset(120);
    let ahead = Browser::new().login(&app, "acme-corp", "ahead-bad").await;
    assert_eq!(ahead.status, 502, "{ahead:?}");
    assert!(
        ahead.json()["message"]
            .as_str()
            .unwrap()
            .contains("in the future"),
        "{}",
        ahead.body
    );
    // IdP clock behind: a short-lived token already expired by our clock.
    idp.set_token_ttl(60);
    idp.set_clock_offset(-90);
    assert_signed_in(&Browser::new().login(&app, "acme-corp", "behind-ok").await, &app);
    idp.set_clock_offset(-200);
    let behind = Browser::new().login(&app, "acme-corp", "behind-bad").await;
    assert_eq!(behind.status, 502);
    assert!(
        behind.json()["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("expired"),
        "{}",
        behind.body
    );
}

#[tokio::test]
async fn cors_allows_only_the_tenants_origins() {
    let (app, idp) = app_and_idp().await;
    let other = TestIdp::es256(vec![app.redirect_uri("other-co")]).await;
    app.register("other-co", &other, &["https://other.example"]).await;
    let _ = idp;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let preflight = |origin: &'static str, query: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, app.url(&format!("/sso/start{query}")))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allow = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let ok = preflight("https://app.acme.example", "").await.unwrap();
    assert_eq!(allow(&ok).as_deref(), Some("https://app.acme.example"));
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let ok_for_tenant = preflight("https://app.acme.example", "?tenant=acme-corp")
        .await
        .unwrap();
    assert_eq!(allow(&ok_for_tenant).as_deref(), Some("https://app.acme.example"));
    let wrong_tenant = preflight("https://app.acme.example", "?tenant=other-co")
        .await
        .unwrap();
    assert_eq!(allow(&wrong_tenant), None);
    let refused = preflight("https://evil.example", "").await.unwrap();
    assert_eq!(allow(&refused), None);

    // The request itself: the origin must belong to the tenant named in the body.
    let post = |origin: &'static str, tenant: &'static str| {
        client
            .post(app.url("/sso/start"))
            .header("origin", origin)
            .json(&json!({ "tenant": tenant }))
            .send()
    };
    let fine = post("https://app.acme.example", "acme-corp").await.unwrap();
    assert_eq!(fine.status(), 303);
    assert_eq!(allow(&fine).as_deref(), Some("https://app.acme.example"));
    let cross = post("https://other.example", "acme-corp").await.unwrap();
    assert_eq!(cross.status(), 403);
    assert_eq!(
        cross.json::<serde_json::Value>().await.unwrap()["error"],
        "origin_not_allowed"
    );
    let evil = post("https://evil.example", "acme-corp").await.unwrap();
    assert_eq!(evil.status(), 403);
    assert_eq!(allow(&evil), None);
    // The gateway's own pages need no CORS.
    let own = client
        .post(app.url("/sso/start"))
        .header("origin", app.base.clone())
        .json(&json!({ "tenant": "acme-corp" }))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 303);
}

#[tokio::test]
async fn start_page_and_form_post_work_for_browsers() {
    let (app, _idp) = app_and_idp().await;
    let browser = Browser::new();
    let page = browser
        .send(
            browser
                .client
                .get(app.url("/sso/start"))
                .header("accept", "text/html"),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!("{}/okta-login/{{tenant_slug}}", app.base)),
        "redirect URI shown"
    );
    let home = browser.get(&app.url("/")).await;
    assert!(home.body.contains("name=\"tenant\""));
    let form = browser
        .send(
            browser
                .client
                .post(app.url("/sso/start"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "text/html")
                .body("tenant=acme-corp"),
        )
        .await;
    assert_eq!(form.status, 303);
    let location = form.location.unwrap();
    let url = url::Url::parse(&location).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["redirect_uri"], app.redirect_uri("acme-corp"));
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].contains("openid"));
    assert!(q.contains_key("state") && q.contains_key("nonce"));
    // GET with the tenant redirects (302) the same way.
    let get = browser.get(&app.url("/sso/start?tenant=acme-corp")).await;
    assert_eq!(get.status, 302);
    let not_found = browser
        .send(
            browser
                .client
                .get(app.url("/sso/start?tenant=nope"))
                .header("accept", "text/html"),
        )
        .await;
    assert_eq!(not_found.status, 404);
    assert!(not_found.body.contains("SSO config not found"));
    assert_eq!(browser.get(&app.url("/healthz")).await.json()["status"], "ok");
    assert_eq!(browser.get(&app.url("/no/such/page")).await.status, 404);
}

#[tokio::test]
async fn a_login_started_on_another_loopback_name_moves_to_the_public_url_first() {
    let (app, _idp) = app_and_idp().await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let browser = Browser::new();
    let step = browser
        .get(&format!("http://localhost:{port}/sso/start?tenant=acme-corp"))
        .await;
    assert_eq!(step.status, 303);
    assert_eq!(step.location.unwrap(), app.url("/sso/start?tenant=acme-corp"));
}
