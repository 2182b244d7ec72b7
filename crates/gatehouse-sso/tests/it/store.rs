//! The storage conformance suite: every test runs on SQLite and on PostgreSQL (a database created
//! and dropped for the test).

use std::collections::HashSet;

use gatehouse_sso::SsoError;
use gatehouse_sso::domain::TenantSlug;
use gatehouse_sso::store::{
    self, LoginRecord, LoginStateRecord, NewAudit, SessionRecord, Store, SvcMember, TenantRecord,
};
use serde_json::json;

use crate::support::{Db, TestDb};

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(crate::support::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(crate::support::Db::Postgres).await })*
        }
    };
}

on_both_backends!(
    tenants_round_trip_and_slugs_are_unique,
    deleting_a_tenant_removes_everything_of_it,
    login_state_is_consumed_once_and_only_by_its_browser_in_time,
    racing_first_logins_make_exactly_one_owner,
    a_returning_user_keeps_their_role,
    provisioning_claims_are_exclusive_and_leases_expire,
    a_member_joining_during_a_run_sends_the_run_round_again,
    failures_are_recorded_with_the_next_attempt,
    embedded_services_create_each_thing_once,
    sessions_expire,
    admin_tokens_and_audit_filters,
);

const NOW: i64 = 1_800_000_000;

async fn open(db: Db) -> (Store, TestDb) {
    let test_db = TestDb::create(db).await;
    let store = store::connect(&test_db.url)
        .await
        .expect("store opens and migrates");
    (store, test_db)
}

fn tenant(slug: &str) -> TenantRecord {
    TenantRecord {
        id: format!("tnt-{slug}"),
        slug: TenantSlug::parse(slug).unwrap(),
        company_name: format!("{slug} Inc"),
        issuer: "https://idp.example".into(),
        client_id: "client".into(),
        client_secret_sealed: "v1.k1.sealed".into(),
        allowed_origins: vec!["https://a.example".into(), "https://b.example".into()],
        enabled: true,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn audit(kind: &str, tenant: &str) -> NewAudit {
    NewAudit {
        at: NOW,
        kind: kind.into(),
        tenant: Some(tenant.into()),
        actor: "test".into(),
        detail: json!({}),
    }
}

fn login(tenant: &TenantRecord, subject: &str) -> LoginRecord {
    LoginRecord {
        tenant_id: tenant.id.clone(),
        tenant_slug: tenant.slug.to_string(),
        issuer: tenant.issuer.clone(),
        subject: subject.into(),
        email: Some(format!("{subject}@example.com")),
        name: None,
        new_user_id: format!("usr-{}", uuid::Uuid::new_v4().simple()),
        now: NOW,
    }
}

async fn tenants_round_trip_and_slugs_are_unique(db: Db) {
    let (store, _db) = open(db).await;
    let t = tenant("acme-corp");
    store
        .insert_tenant(&t, &audit("tenant.created", "acme-corp"))
        .await
        .unwrap();
    assert_eq!(store.tenant_by_slug("acme-corp").await.unwrap(), Some(t.clone()));
    assert_eq!(store.tenant_by_id(&t.id).await.unwrap(), Some(t.clone()));
    let mut dup = tenant("acme-corp");
    dup.id = "other-id".into();
    let err = store
        .insert_tenant(&dup, &audit("tenant.created", "acme-corp"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SsoError::TenantExists(ref s) if s == "acme-corp"),
        "{err:?}"
    );

    let mut changed = t.clone();
    changed.allowed_origins = vec!["https://c.example".into()];
    changed.enabled = false;
    changed.company_name = "Renamed".into();
    assert!(
        store
            .update_tenant(&changed, &audit("tenant.updated", "acme-corp"))
            .await
            .unwrap()
    );
    assert_eq!(
        store.tenant_by_slug("acme-corp").await.unwrap(),
        Some(changed.clone())
    );
    // A disabled tenant's origins allow nothing.
    assert!(
        store
            .tenants_allowing_origin("https://c.example")
            .await
            .unwrap()
            .is_empty()
    );
    changed.enabled = true;
    store
        .update_tenant(&changed, &audit("tenant.enabled", "acme-corp"))
        .await
        .unwrap();
    assert_eq!(
        store.tenants_allowing_origin("https://c.example").await.unwrap(),
        vec!["acme-corp"]
    );
    assert!(
        store
            .tenants_allowing_origin("https://a.example")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_tenants().await.unwrap().len(), 1);
    let kinds: Vec<String> = store
        .audit_events(Some("acme-corp"), Some("tenant."), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["tenant.enabled", "tenant.updated", "tenant.created"]);
}

async fn deleting_a_tenant_removes_everything_of_it(db: Db) {
    let (store, _db) = open(db).await;
    let t = tenant("gone-co");
    store
        .insert_tenant(&t, &audit("tenant.created", "gone-co"))
        .await
        .unwrap();
    let outcome = store.record_login(&login(&t, "alice")).await.unwrap();
    store
        .insert_session(&SessionRecord {
            token_hash: "h".into(),
            user_id: outcome.user.id.clone(),
            tenant_id: t.id.clone(),
            created_at: NOW,
            expires_at: NOW + 100,
        })
        .await
        .unwrap();
    assert!(
        store
            .delete_tenant("gone-co", &audit("tenant.deleted", "gone-co"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_tenant("gone-co", &audit("tenant.deleted", "gone-co"))
            .await
            .unwrap()
    );
    assert_eq!(store.tenant_by_slug("gone-co").await.unwrap(), None);
    assert_eq!(store.user_by_id(&outcome.user.id).await.unwrap(), None);
    assert_eq!(store.provisioning(&t.id).await.unwrap(), None);
    assert_eq!(store.session("h", NOW).await.unwrap(), None);
    assert!(
        store
            .tenants_allowing_origin("https://a.example")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn login_state_is_consumed_once_and_only_by_its_browser_in_time(db: Db) {
    let (store, _db) = open(db).await;
    let t = tenant("acme-corp");
    store
        .insert_tenant(&t, &audit("tenant.created", "acme-corp"))
        .await
        .unwrap();
    let state = |hash: &str, created_at: i64| LoginStateRecord {
        state_hash: hash.into(),
        tenant_id: t.id.clone(),
        browser_hash: "browser".into(),
        pkce_verifier_sealed: "pkce".into(),
        nonce_sealed: "nonce".into(),
        created_at,
    };
    store.insert_login_state(&state("s1", NOW)).await.unwrap();
    // Another browser, another tenant, or a too-old cutoff find nothing and leave it in place.
    assert_eq!(
        store
            .consume_login_state("s1", &t.id, "other-browser", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .consume_login_state("s1", "other-tenant", "browser", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .consume_login_state("s1", &t.id, "browser", NOW + 1)
            .await
            .unwrap(),
        None
    );
    let got = store
        .consume_login_state("s1", &t.id, "browser", NOW)
        .await
        .unwrap()
        .expect("first use");
    assert_eq!(
        (got.pkce_verifier_sealed.as_str(), got.nonce_sealed.as_str()),
        ("pkce", "nonce")
    );
    assert_eq!(
        store
            .consume_login_state("s1", &t.id, "browser", NOW)
            .await
            .unwrap(),
        None,
        "reuse"
    );

    // Twenty racing callbacks with one state: exactly one wins.
    store.insert_login_state(&state("s2", NOW)).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        let tid = t.id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .consume_login_state("s2", &tid, "browser", NOW)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);

    store.insert_login_state(&state("old", NOW - 601)).await.unwrap();
    assert_eq!(store.purge_login_states(NOW - 600).await.unwrap(), 1);
}

async fn racing_first_logins_make_exactly_one_owner(db: Db) {
    let (store, _db) = open(db).await;
    let t = tenant("race-co");
    store
        .insert_tenant(&t, &audit("tenant.created", "race-co"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        let record = login(&t, &format!("user-{i}"));
        tasks.push(tokio::spawn(
            async move { store.record_login(&record).await.unwrap() },
        ));
    }
    let mut owners = 0;
    let mut inserted_projects = 0;
    for task in tasks {
        let outcome = task.await.unwrap();
        assert!(outcome.inserted_user);
        assert_eq!(outcome.user.role, "partner");
        if outcome.user.project_role == "owner" {
            owners += 1;
        }
        if outcome.inserted_project {
            inserted_projects += 1;
            assert_eq!(outcome.user.project_role, "owner");
        }
    }
    assert_eq!((owners, inserted_projects), (1, 1));
    let users = store.users_of_tenant(&t.id).await.unwrap();
    assert_eq!(users.len(), 50);
    let row = store
        .provisioning(&t.id)
        .await
        .unwrap()
        .expect("one provisioning row");
    let owner = users.iter().find(|u| u.project_role == "owner").unwrap();
    assert_eq!(row.owner_user_id, owner.id);
    assert_eq!(row.plan, "advanced");
    assert_eq!(row.state, "pending");
    assert_eq!(
        row.requested_gen, 50,
        "the first login and 49 new members each asked for provisioning"
    );
}

async fn a_returning_user_keeps_their_role(db: Db) {
    let (store, _db) = open(db).await;
    let t = tenant("acme-corp");
    store
        .insert_tenant(&t, &audit("tenant.created", "acme-corp"))
        .await
        .unwrap();
    let first = store.record_login(&login(&t, "alice")).await.unwrap();
    let bob = store.record_login(&login(&t, "bob")).await.unwrap();
    let mut again = login(&t, "alice");
    again.email = None;
    again.now = NOW + 50;
    let second = store.record_login(&again).await.unwrap();
    assert!(first.inserted_project && first.inserted_user);
    assert!(!second.inserted_project && !second.inserted_user);
    assert_eq!(second.user.id, first.user.id);
    assert_eq!(second.user.project_role, "owner");
    assert_eq!(
        second.user.email.as_deref(),
        Some("alice@example.com"),
        "a missing claim keeps the old value"
    );
    assert_eq!(second.user.last_login_at, NOW + 50);
    assert_eq!(bob.user.project_role, "member");
    // Same subject at another tenant is another user.
    let other = tenant("other-co");
    store
        .insert_tenant(&other, &audit("tenant.created", "other-co"))
        .await
        .unwrap();
    let elsewhere = store.record_login(&login(&other, "alice")).await.unwrap();
    assert_ne!(elsewhere.user.id, first.user.id);
    assert_eq!(elsewhere.user.project_role, "owner");
}

async fn provisioning_claims_are_exclusive_and_leases_expire(db: Db) {
    let (store, _db) = open(db).await;
    let t = tenant("acme-corp");
    store
        .insert_tenant(&t, &audit("tenant.created", "acme-corp"))
        .await
        .unwrap();
    store.record_login(&login(&t, "alice")).await.unwrap();
    assert_eq!(store.due_provisioning(NOW, 10).await.unwrap(), vec![t.id.clone()]);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        let tid = t.id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim_provisioning(&tid, NOW, NOW + 60, false)
                .await
                .unwrap()
        }));
    }
    let mut claims = 0;
    for task in tasks {
        if task.await.unwrap().is_some() {
            claims += 1;
        }
    }
    assert_eq!(claims, 1);
    assert!(
        store
            .claim_provisioning(&t.id, NOW + 30, NOW + 90, true)
            .await
            .unwrap()
            .is_none(),
        "held"
    );
    assert!(store.due_provisioning(NOW + 30, 10).await.unwrap().is_empty());
    // A crashed runner's lease runs out.
    assert_eq!(
        store.due_provisioning(NOW + 61, 10).await.unwrap(),
        vec![t.id.clone()]
    );
    assert!(
        store
            .claim_provisioning(&t.id, NOW + 61, NOW + 121, false)
            .await
            .unwrap()
            .is_some()
    );
    store.set_project_id(&t.id, "p1", NOW + 62).await.unwrap();
    store.set_project_id(&t.id, "p2", NOW + 62).await.unwrap();
    store.set_subscription_id(&t.id, "s1", NOW + 62).await.unwrap();
    assert_eq!(store.finish_provisioning(&t.id, NOW + 63).await.unwrap(), "done");
    let row = store.provisioning(&t.id).await.unwrap().unwrap();
    assert_eq!(
        row.project_id.as_deref(),
        Some("p1"),
        "the first project id stays"
    );
    assert_eq!(row.subscription_id.as_deref(), Some("s1"));
    assert!(
        store
            .claim_provisioning(&t.id, NOW + 64, NOW + 124, false)
            .await
            .unwrap()
            .is_none(),
        "done is not due"
    );
    assert!(
        store
            .claim_provisioning(&t.id, NOW + 64, NOW + 124, true)
            .await
            .unwrap()
            .is_some(),
        "forced"
    );
}

async fn a_member_joining_during_a_run_sends_the_run_round_again(db: Db) {
    let (store, _db) = open(db).await;
    let t = tenant("acme-corp");
    store
        .insert_tenant(&t, &audit("tenant.created", "acme-corp"))
        .await
        .unwrap();
    store.record_login(&login(&t, "alice")).await.unwrap();
    store
        .claim_provisioning(&t.id, NOW, NOW + 60, false)
        .await
        .unwrap()
        .unwrap();
    store.record_login(&login(&t, "bob")).await.unwrap();
    assert_eq!(
        store.finish_provisioning(&t.id, NOW + 1).await.unwrap(),
        "pending"
    );
    assert_eq!(store.unsynced_members(&t.id).await.unwrap().len(), 2);
    let claim = store
        .claim_provisioning(&t.id, NOW + 1, NOW + 61, false)
        .await
        .unwrap()
        .unwrap();
    for u in store.unsynced_members(&t.id).await.unwrap() {
        store.mark_member_synced(&u.id, NOW + 2).await.unwrap();
    }
    assert_eq!(claim.claimed_gen, claim.requested_gen);
    assert_eq!(store.finish_provisioning(&t.id, NOW + 2).await.unwrap(), "done");
    assert!(store.unsynced_members(&t.id).await.unwrap().is_empty());
    // A returning user asks for nothing; a new one reopens the row, due at once.
    store.record_login(&login(&t, "carol")).await.unwrap();
    let row = store.provisioning(&t.id).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.next_attempt_at), ("pending", NOW));
}

async fn failures_are_recorded_with_the_next_attempt(db: Db) {
    let (store, _db) = open(db).await;
    let t = tenant("acme-corp");
    store
        .insert_tenant(&t, &audit("tenant.created", "acme-corp"))
        .await
        .unwrap();
    store.record_login(&login(&t, "alice")).await.unwrap();
    store
        .claim_provisioning(&t.id, NOW, NOW + 60, false)
        .await
        .unwrap()
        .unwrap();
    store
        .fail_provisioning(&t.id, "connection refused", NOW + 5, NOW)
        .await
        .unwrap();
    let row = store.provisioning(&t.id).await.unwrap().unwrap();
    assert_eq!(row.state, "pending");
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_error.as_deref(), Some("connection refused"));
    assert_eq!(row.next_attempt_at, NOW + 5);
    assert!(store.due_provisioning(NOW + 4, 10).await.unwrap().is_empty());
    assert!(
        store
            .claim_provisioning(&t.id, NOW + 4, NOW + 64, false)
            .await
            .unwrap()
            .is_none()
    );
    let retry = store
        .claim_provisioning(&t.id, NOW + 5, NOW + 65, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retry.attempts, 1);
    store.finish_provisioning(&t.id, NOW + 6).await.unwrap();
    let row = store.provisioning(&t.id).await.unwrap().unwrap();
    assert_eq!((row.attempts, row.last_error), (0, None));
}

async fn embedded_services_create_each_thing_once(db: Db) {
    let (store, _db) = open(db).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .svc_create_project(&format!("prj-{i}"), "acme-corp", "Acme", NOW)
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    let mut ids = HashSet::new();
    for task in tasks {
        let (project, was_created) = task.await.unwrap();
        ids.insert(project.id);
        created += usize::from(was_created);
    }
    assert_eq!((created, ids.len()), (1, 1));
    let project_id = ids.into_iter().next().unwrap();
    let (sub, first) = store
        .svc_create_subscription("sub-1", &project_id, "advanced", NOW)
        .await
        .unwrap()
        .unwrap();
    let (again, second) = store
        .svc_create_subscription("sub-2", &project_id, "advanced", NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(first && !second);
    assert_eq!(sub.id, again.id);
    assert_eq!(
        store
            .svc_create_subscription("sub-3", "nope", "advanced", NOW)
            .await
            .unwrap(),
        None
    );
    let member = SvcMember {
        project_id: project_id.clone(),
        user_id: "u1".into(),
        email: None,
        name: None,
        role: "partner".into(),
        project_role: "owner".into(),
        updated_at: NOW,
    };
    assert_eq!(store.svc_upsert_member(&member).await.unwrap(), Some(true));
    assert_eq!(store.svc_upsert_member(&member).await.unwrap(), Some(false));
    assert_eq!(store.svc_members(&project_id).await.unwrap().len(), 1);
    assert_eq!(store.svc_projects().await.unwrap().len(), 1);
    assert_eq!(store.svc_subscriptions().await.unwrap().len(), 1);
}

async fn sessions_expire(db: Db) {
    let (store, _db) = open(db).await;
    let t = tenant("acme-corp");
    store
        .insert_tenant(&t, &audit("tenant.created", "acme-corp"))
        .await
        .unwrap();
    let user = store.record_login(&login(&t, "alice")).await.unwrap().user;
    let session = SessionRecord {
        token_hash: "hash".into(),
        user_id: user.id,
        tenant_id: t.id.clone(),
        created_at: NOW,
        expires_at: NOW + 10,
    };
    store.insert_session(&session).await.unwrap();
    assert_eq!(store.session("hash", NOW + 9).await.unwrap(), Some(session));
    assert_eq!(store.session("hash", NOW + 10).await.unwrap(), None);
    assert_eq!(store.purge_sessions(NOW + 10).await.unwrap(), 1);
    store.delete_session("hash").await.unwrap();
}

async fn admin_tokens_and_audit_filters(db: Db) {
    let (store, _db) = open(db).await;
    assert_eq!(store.admin_token_count().await.unwrap(), 0);
    store
        .insert_admin_token("tok-1", "ci", "digest", NOW)
        .await
        .unwrap();
    assert!(store.admin_token_known("digest").await.unwrap());
    assert!(!store.admin_token_known("other").await.unwrap());
    assert_eq!(store.admin_token_count().await.unwrap(), 1);
    store.append_audit(&audit("sso.started", "a-co")).await.unwrap();
    store
        .append_audit(&audit("sso.login.succeeded", "b-co"))
        .await
        .unwrap();
    let all = store.audit_events(None, None, 10).await.unwrap();
    assert_eq!(all.len(), 3, "two events plus the token creation");
    let b = store.audit_events(Some("b-co"), None, 10).await.unwrap();
    assert_eq!(b.len(), 1);
    let sso = store.audit_events(None, Some("sso."), 10).await.unwrap();
    assert_eq!(
        sso.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["sso.login.succeeded", "sso.started"]
    );
    assert_eq!(store.audit_events(None, None, 1).await.unwrap().len(), 1);
}
