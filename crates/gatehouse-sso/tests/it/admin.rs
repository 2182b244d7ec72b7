//! The tenant admin API: validation, conflicts, secrets sealed at rest and rotated, the
//! connection test, and the redirect-URI guidance shown before any login.

use gatehouse_crypto::Keyring;
use reqwest::Method;
use serde_json::{Value, json};

use crate::idp::TestIdp;
use crate::support::{Browser, Options, TestApp, assert_signed_in};

fn valid() -> Value {
    json!({
        "slug": "acme-corp",
        "company_name": "Acme Corp",
        "issuer": "dev-12345678.okta.com",
        "client_id": "0oa123",
        "client_secret": "s3cret",
        "allowed_origins": ["https://app.acme.example/"],
    })
}

#[tokio::test]
async fn registration_validates_each_field_and_shows_the_redirect_uri() {
    let app = TestApp::sqlite().await;
    let (status, body) = app.admin(Method::POST, "/admin/tenants", Some(valid())).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["issuer"], "https://dev-12345678.okta.com",
        "bare IdP domain becomes https"
    );
    assert_eq!(body["allowed_origins"], json!(["https://app.acme.example"]));
    assert_eq!(body["redirect_uri"], app.redirect_uri("acme-corp"));
    assert!(
        body["redirect_uri_instructions"]
            .as_str()
            .unwrap()
            .contains(&app.redirect_uri("acme-corp"))
    );
    assert!(body.get("client_secret").is_none(), "the secret is never shown");

    let (status, body) = app.admin(Method::POST, "/admin/tenants", Some(valid())).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")));
    assert!(body["message"].as_str().unwrap().contains("`acme-corp`"));

    let cases: Vec<(&str, Value)> = vec![
        ("slug", json!("Acme")),
        ("slug", json!("-acme")),
        ("slug", json!(7)),
        ("company_name", json!("")),
        ("issuer", json!("http://idp.example.com")),
        ("issuer", json!("not a url at all")),
        ("client_id", json!("has space")),
        ("client_secret", json!("")),
        ("allowed_origins", json!(["https://app.example/path"])),
        ("allowed_origins", json!("https://app.example")),
    ];
    for (field, value) in cases {
        let mut body = valid();
        body["slug"] = json!("other-co");
        body[field] = value.clone();
        let (status, answer) = app.admin(Method::POST, "/admin/tenants", Some(body)).await;
        assert_eq!(status, 400, "{field}={value}: {answer}");
        assert_eq!(answer["field"], field, "{field}={value}: {answer}");
        assert_eq!(answer["error"], "invalid_request");
    }
    for missing in ["slug", "company_name", "issuer", "client_id", "client_secret"] {
        let mut body = valid();
        body["slug"] = json!("other-co");
        body.as_object_mut().unwrap().remove(missing);
        let (status, answer) = app.admin(Method::POST, "/admin/tenants", Some(body)).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(missing)),
            "{answer}"
        );
    }
    let mut typo = valid();
    typo["slug"] = json!("other-co");
    typo["issuer_url"] = json!("https://x.example");
    assert_eq!(
        app.admin(Method::POST, "/admin/tenants", Some(typo)).await.1["field"],
        "issuer_url"
    );
    // Not JSON at all.
    let raw = reqwest::Client::new()
        .post(app.url("/admin/tenants"))
        .bearer_auth(crate::support::ADMIN_TOKEN)
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(raw.json::<Value>().await.unwrap()["error"], "invalid_request");
}

#[tokio::test]
async fn the_admin_api_needs_the_admin_token() {
    let app = TestApp::sqlite().await;
    let client = reqwest::Client::new();
    let none = client.get(app.url("/admin/tenants")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let wrong = client
        .get(app.url("/admin/tenants"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // A token created like `gatehouse-sso admin token create` (digest stored) works too.
    let token = "ghsso_cli-token";
    app.state
        .store
        .insert_admin_token(
            "tok-x",
            "cli",
            &gatehouse_crypto::digest::sha256_hex(token.as_bytes()),
            0,
        )
        .await
        .unwrap();
    let ok = client
        .get(app.url("/admin/tenants"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn read_update_disable_delete() {
    let app = TestApp::sqlite().await;
    app.admin(Method::POST, "/admin/tenants", Some(valid())).await;
    let (status, view) = app.admin(Method::GET, "/admin/tenants/acme-corp", None).await;
    assert_eq!(status, 200);
    assert_eq!(view["redirect_uri"], app.redirect_uri("acme-corp"));
    assert_eq!(view["enabled"], true);
    let (status, view) = app
        .admin(
            Method::PATCH,
            "/admin/tenants/acme-corp",
            Some(json!({ "company_name": "Acme Corporation", "allowed_origins": ["http://127.0.0.1:3000"] })),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["company_name"], "Acme Corporation");
    assert_eq!(view["allowed_origins"], json!(["http://127.0.0.1:3000"]));
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/admin/tenants/acme-corp",
            Some(json!({ "slug": "acme-2" })),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("slug")));
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/admin/tenants/acme-corp",
            Some(json!({ "enabled": "no" })),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("enabled")));
    let (_, view) = app
        .admin(Method::POST, "/admin/tenants/acme-corp/disable", None)
        .await;
    assert_eq!(view["enabled"], false);
    let (_, view) = app
        .admin(Method::POST, "/admin/tenants/acme-corp/enable", None)
        .await;
    assert_eq!(view["enabled"], true);
    let (status, list) = app.admin(Method::GET, "/admin/tenants", None).await;
    assert_eq!((status, list["tenants"].as_array().unwrap().len()), (200, 1));
    let (status, _) = app.admin(Method::DELETE, "/admin/tenants/acme-corp", None).await;
    assert_eq!(status, 204);
    let (status, body) = app.admin(Method::GET, "/admin/tenants/acme-corp", None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("SSO config not found"))
    );
    let kinds = app.audit_kinds("acme-corp").await;
    for kind in [
        "tenant.created",
        "tenant.updated",
        "tenant.disabled",
        "tenant.enabled",
        "tenant.deleted",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "missing {kind}");
    }
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_rotation_takes_effect() {
    let app = TestApp::sqlite().await;
    let idp = TestIdp::es256(vec![app.redirect_uri("acme-corp")]).await;
    app.register("acme-corp", &idp, &[]).await;
    let stored = app
        .state
        .store
        .tenant_by_slug("acme-corp")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.client_secret_sealed.starts_with("v1.k1."));
    assert!(!stored.client_secret_sealed.contains(&idp.client_secret()));

    // The IdP rotates the client secret: logins fail until the operator stores the new one.
    idp.set_client_secret("rotated-secret");
    let failed = Browser::new().login(&app, "acme-corp", "alice").await;
    assert_eq!(failed.status, 502);
    assert_eq!(failed.json()["error"], "code_exchange_failed");
    assert_eq!(failed.json()["who_must_act"], "operator");
    let (status, body) = app
        .admin(
            Method::POST,
            "/admin/tenants/acme-corp/rotate-secret",
            Some(json!({ "client_secret": "rotated-secret" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_signed_in(&Browser::new().login(&app, "acme-corp", "alice").await, &app);
    assert!(
        app.audit_kinds("acme-corp")
            .await
            .iter()
            .any(|k| k == "tenant.secret_rotated")
    );
}

#[tokio::test]
async fn a_keyring_rotation_reseals_secrets_at_start() {
    let old_spec = Keyring::generate_spec("k1").unwrap();
    let app = TestApp::spawn(Options {
        keyring: Some(Keyring::parse(&old_spec).unwrap()),
        ..Options::default()
    })
    .await;
    let idp = TestIdp::es256(vec![app.redirect_uri("acme-corp")]).await;
    app.register("acme-corp", &idp, &[]).await;
    let db = app.stop().await;
    // Restart with a new active key in front of the old one.
    let rotated = format!("{},{old_spec}", Keyring::generate_spec("k2").unwrap());
    let app = TestApp::spawn(Options {
        keyring: Some(Keyring::parse(&rotated).unwrap()),
        database: Some(db),
        ..Options::default()
    })
    .await;
    let stored = app
        .state
        .store
        .tenant_by_slug("acme-corp")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.client_secret_sealed.starts_with("v1.k2."),
        "{}",
        stored.client_secret_sealed
    );
    idp.set_redirect_uris(vec![app.redirect_uri("acme-corp")]);
    assert_signed_in(&Browser::new().login(&app, "acme-corp", "alice").await, &app);
}

#[tokio::test]
async fn connection_test_checks_discovery_credentials_and_redirect_uri() {
    let app = TestApp::sqlite().await;
    let idp = TestIdp::es256(vec![app.redirect_uri("acme-corp")]).await;
    app.register("acme-corp", &idp, &[]).await;
    let run = || app.admin(Method::POST, "/admin/tenants/acme-corp/test", None);
    let (status, report) = run().await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["redirect_uri"], app.redirect_uri("acme-corp"));
    let names: Vec<_> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, vec!["discovery", "client_credentials", "redirect_uri"]);
    assert!(report["checks"][0]["message"].as_str().unwrap().contains("ES256"));

    idp.set_client_secret("changed-at-the-idp");
    let (_, report) = run().await;
    assert_eq!(report["ok"], false);
    assert_eq!(report["checks"][1]["ok"], false);
    assert_eq!(report["checks"][1]["who_must_act"], "operator");
    idp.set_client_secret("idp-secret");

    idp.set_redirect_uris(vec!["http://127.0.0.1:1/elsewhere".into()]);
    let (_, report) = run().await;
    let redirect = &report["checks"][2];
    assert_eq!(redirect["ok"], false, "{report}");
    assert!(
        redirect["expected"]
            .as_str()
            .unwrap()
            .contains(&app.redirect_uri("acme-corp"))
    );
    assert!(redirect["received"].as_str().unwrap().contains("400"));

    // A wrong issuer: expected versus received.
    let (_, _) = app
        .admin(
            Method::PATCH,
            "/admin/tenants/acme-corp",
            Some(json!({ "issuer": format!("{}/wrong", idp.issuer()) })),
        )
        .await;
    let (_, report) = run().await;
    assert_eq!(report["checks"][0]["ok"], false);
    assert!(
        report["checks"][0]["received"].as_str().unwrap().contains("404"),
        "{report}"
    );
    assert_eq!(report["checks"][1]["message"], "skipped: discovery failed");
    assert!(
        app.audit_kinds("acme-corp")
            .await
            .iter()
            .any(|k| k == "tenant.tested")
    );
}

#[tokio::test]
async fn an_unreachable_idp_says_who_must_act() {
    let app = TestApp::sqlite().await;
    let (status, _) = app
        .admin(
            Method::POST,
            "/admin/tenants",
            Some(json!({
                "slug": "down-co", "company_name": "Down", "issuer": "http://127.0.0.1:9",
                "client_id": "c", "client_secret": "s",
            })),
        )
        .await;
    assert_eq!(status, 201);
    let browser = Browser::new();
    let step = browser
        .send(
            browser
                .client
                .get(app.url("/sso/start?tenant=down-co"))
                .header("accept", "text/html"),
        )
        .await;
    assert_eq!(step.status, 502);
    assert!(step.body.contains("Who must act"));
    assert!(
        step.body
            .contains("http://127.0.0.1:9/.well-known/openid-configuration")
    );
}
