//! Users, groups, applications, zones, enrollments, devices, admin tokens and settings.

use gatehouse_core::model::*;
use gatehouse_policy::Cidr;
use gatehouse_store::{AdminTokenBinding, PageRequest, Store, StoreError, UserFilter};

use crate::fixtures::*;
use crate::on_both_backends;

on_both_backends!(
    users_round_trip_and_logins_are_unique_regardless_of_case,
    users_list_filters_and_pages_in_login_order,
    deleting_a_user_removes_what_belongs_to_it,
    everyone_holds_every_user_and_memberships_are_explicit_otherwise,
    a_group_assigned_to_an_app_cannot_be_deleted,
    apps_round_trip_with_assignments_and_unique_client_ids,
    zones_round_trip_with_unique_names,
    enrollment_counters_refuse_replays,
    devices_and_their_enrollments,
    admin_tokens_authenticate_until_revoked,
    console_tokens_carry_their_session_and_end_with_it,
    settings_are_upserted,
);

async fn users_round_trip_and_logins_are_unique_regardless_of_case(store: Store) {
    let alice = user("Alice");
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.users().get(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(
        store.users().by_login("ALICE").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.users().by_login("bob").await.unwrap(), None);

    let mut tx = store.begin().await.unwrap();
    let err = tx.users().insert(&user("alice")).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { field: "login" }), "{err}");
    drop(tx);

    let mut changed = alice.clone();
    changed.login = Login::parse("alice.smith").unwrap();
    changed.transition(LifecycleAction::Suspend, at(60)).unwrap();
    changed.profile = Profile::parse(serde_json::json!({"title": "CFO", "level": 3})).unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.users().update(&changed).await.unwrap());
    assert!(tx.users().record_sign_in(alice.id, at(61)).await.unwrap());
    tx.commit().await.unwrap();
    let stored = store.users().get(alice.id).await.unwrap().unwrap();
    assert_eq!(stored.login.as_str(), "alice.smith");
    assert_eq!(stored.status, UserStatus::Suspended);
    assert_eq!(stored.status_changed_at, at(60));
    assert_eq!(stored.last_sign_in_at, Some(at(61)));
    assert_eq!(stored.profile.as_map()["title"], "CFO");
    assert_eq!(store.users().by_login("alice").await.unwrap(), None);
    assert_eq!(store.users().count().await.unwrap(), 1);
}

async fn users_list_filters_and_pages_in_login_order(store: Store) {
    let finance = group("finance");
    let mut tx = store.begin().await.unwrap();
    tx.groups().insert(&finance).await.unwrap();
    for login in ["dave", "Carol", "bob", "alice", "erin_x", "erinx"] {
        let mut u = user(login);
        if login == "bob" {
            u.status = UserStatus::Staged;
        }
        tx.users().insert(&u).await.unwrap();
        if login == "alice" || login == "dave" {
            tx.groups().add_member(finance.id, u.id, at(1)).await.unwrap();
        }
    }
    tx.commit().await.unwrap();

    let all = UserFilter::default();
    let first = store.users().list(&all, &PageRequest::first(4)).await.unwrap();
    let logins: Vec<&str> = first.items.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(logins, ["alice", "bob", "Carol", "dave"]);
    let after = PageRequest::parse(Some(4), first.next.as_deref()).unwrap();
    let second = store.users().list(&all, &after).await.unwrap();
    let logins: Vec<&str> = second.items.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(logins, ["erin_x", "erinx"]);
    assert_eq!(second.next, None);

    let staged = UserFilter {
        status: Some(UserStatus::Staged),
        ..UserFilter::default()
    };
    let page = store
        .users()
        .list(&staged, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].login.as_str(), "bob");

    let in_finance = UserFilter {
        group: Some(finance.id),
        ..UserFilter::default()
    };
    let page = store
        .users()
        .list(&in_finance, &PageRequest::first(10))
        .await
        .unwrap();
    let logins: Vec<&str> = page.items.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(logins, ["alice", "dave"]);

    // `q` is a case-insensitive prefix of login, email or display name; `_` is literal.
    let search = |q: &str| UserFilter {
        q: Some(q.to_owned()),
        ..UserFilter::default()
    };
    let page = store
        .users()
        .list(&search("CAR"), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let page = store
        .users()
        .list(&search("erin_"), &PageRequest::first(10))
        .await
        .unwrap();
    let logins: Vec<&str> = page.items.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(logins, ["erin_x"]);
    let page = store
        .users()
        .list(&search("%"), &PageRequest::first(10))
        .await
        .unwrap();
    assert!(page.items.is_empty());
    let everyone = UserFilter {
        group: Some(EVERYONE_ID),
        ..UserFilter::default()
    };
    assert_eq!(
        store
            .users()
            .list(&everyone, &PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        6
    );
}

async fn deleting_a_user_removes_what_belongs_to_it(store: Store) {
    let alice = user("alice");
    let staff = group("staff");
    let mut portal = app("portal");
    let enrollment = enrollment(alice.id, AuthenticatorKey::Totp);
    let session = session(alice.id, &"cd".repeat(32));
    portal.assignments.users.push(alice.id);
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.groups().insert(&staff).await.unwrap();
    tx.groups().add_member(staff.id, alice.id, at(1)).await.unwrap();
    tx.apps().insert(&portal).await.unwrap();
    tx.enrollments().insert(&enrollment).await.unwrap();
    tx.sessions().insert(&session).await.unwrap();
    tx.sessions()
        .add_record(&record(
            session.id,
            AuthenticatorKey::Password,
            Method::Password,
            11,
        ))
        .await
        .unwrap();
    tx.log()
        .append(&event(event_types::USER_CREATE, 1).user(alice.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert!(tx.users().delete(alice.id).await.unwrap());
    assert!(!tx.users().delete(alice.id).await.unwrap());
    tx.commit().await.unwrap();

    assert_eq!(store.enrollments().get(enrollment.id).await.unwrap(), None);
    assert_eq!(store.sessions().get(session.id).await.unwrap(), None);
    assert!(store.sessions().records(session.id).await.unwrap().is_empty());
    assert!(!store.groups().is_member(staff.id, alice.id).await.unwrap());
    assert!(
        store
            .apps()
            .get(portal.id)
            .await
            .unwrap()
            .unwrap()
            .assignments
            .users
            .is_empty()
    );
    assert_eq!(
        store.log().count().await.unwrap(),
        1,
        "the log keeps the user's events"
    );
}

async fn everyone_holds_every_user_and_memberships_are_explicit_otherwise(store: Store) {
    let everyone = store.groups().get(EVERYONE_ID).await.unwrap().unwrap();
    assert!(everyone.builtin);
    assert_eq!(everyone.name.as_str(), "everyone");
    assert_eq!(
        store.groups().by_name("EVERYONE").await.unwrap().unwrap().id,
        EVERYONE_ID
    );

    let (alice, bob) = (user("alice"), user("bob"));
    let employees = group("employees");
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.users().insert(&bob).await.unwrap();
    tx.groups().insert(&employees).await.unwrap();
    assert!(
        tx.groups()
            .add_member(employees.id, alice.id, at(1))
            .await
            .unwrap()
    );
    assert!(
        !tx.groups()
            .add_member(employees.id, alice.id, at(2))
            .await
            .unwrap(),
        "already a member"
    );
    assert!(
        !tx.groups().add_member(EVERYONE_ID, bob.id, at(2)).await.unwrap(),
        "implied"
    );
    let err = tx.groups().insert(&group("Employees")).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { field: "name" }), "{err}");
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.users().insert(&bob).await.unwrap();
    tx.groups().insert(&employees).await.unwrap();
    tx.groups()
        .add_member(employees.id, alice.id, at(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let names = |groups: Vec<Group>| {
        groups
            .into_iter()
            .map(|g| g.name.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.groups().of_user(alice.id).await.unwrap()),
        ["employees", "everyone"]
    );
    assert_eq!(names(store.groups().of_user(bob.id).await.unwrap()), ["everyone"]);
    assert_eq!(
        store.groups().names_of_user(alice.id).await.unwrap(),
        ["employees", "everyone"],
        "the names alone, in the same order"
    );
    assert_eq!(store.groups().names_of_user(bob.id).await.unwrap(), ["everyone"]);
    assert!(store.groups().is_member(EVERYONE_ID, bob.id).await.unwrap());
    assert!(!store.groups().is_member(employees.id, bob.id).await.unwrap());
    let members = store
        .groups()
        .members(EVERYONE_ID, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(members.items.len(), 2);
    let members = store
        .groups()
        .members(employees.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(members.items.len(), 1);
    assert_eq!(members.items[0].id, alice.id);

    let mut renamed = employees.clone();
    renamed.name = GroupName::parse("staff").unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.groups().update(&renamed).await.unwrap());
    let mut everyone_renamed = everyone.clone();
    everyone_renamed.name = GroupName::parse("all").unwrap();
    assert!(
        !tx.groups().update(&everyone_renamed).await.unwrap(),
        "built-in groups are not renamed"
    );
    assert!(
        !tx.groups().delete(EVERYONE_ID).await.unwrap(),
        "built-in groups are not deleted"
    );
    assert!(tx.groups().remove_member(employees.id, alice.id).await.unwrap());
    assert!(!tx.groups().remove_member(employees.id, alice.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        store.groups().by_name("staff").await.unwrap().unwrap().id,
        employees.id
    );
    let listed = store.groups().list(&PageRequest::first(10)).await.unwrap();
    assert_eq!(names(listed.items), ["everyone", "staff"]);
}

async fn a_group_assigned_to_an_app_cannot_be_deleted(store: Store) {
    let contractors = group("contractors");
    let mut portal = app("portal");
    portal.assignments.groups = vec![contractors.id, EVERYONE_ID];
    let mut tx = store.begin().await.unwrap();
    tx.groups().insert(&contractors).await.unwrap();
    tx.apps().insert(&portal).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.groups().assigned_apps(contractors.id).await.unwrap(),
        ["portal"]
    );

    let mut tx = store.begin().await.unwrap();
    let err = tx.groups().delete(contractors.id).await.unwrap_err();
    assert!(matches!(err, StoreError::InUse { what: "group" }), "{err}");
    drop(tx);

    portal.assignments.groups = vec![EVERYONE_ID];
    let mut tx = store.begin().await.unwrap();
    assert!(tx.apps().update(&portal).await.unwrap());
    assert!(tx.groups().delete(contractors.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.groups().get(contractors.id).await.unwrap(), None);
}

async fn apps_round_trip_with_assignments_and_unique_client_ids(store: Store) {
    let alice = user("alice");
    let dashboard_policy = policy(PolicyKind::Authentication, "dashboard");
    let mut dashboard = app("dashboard");
    dashboard.policy_id = Some(dashboard_policy.id);
    dashboard.post_logout_redirect_uris = vec!["http://127.0.0.1:9000/".into()];
    dashboard.assignments = Assignments {
        groups: vec![EVERYONE_ID],
        users: vec![alice.id],
    };
    let mut cli = app("cli");
    cli.kind = ClientKind::Public;
    cli.secret_digest = None;
    cli.token_endpoint_auth_method = TokenAuthMethod::None;
    cli.grant_types = vec![GrantType::AuthorizationCode];

    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.policies().insert(&dashboard_policy).await.unwrap();
    tx.apps().insert(&dashboard).await.unwrap();
    tx.apps().insert(&cli).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        store.apps().get(dashboard.id).await.unwrap(),
        Some(dashboard.clone())
    );
    assert_eq!(store.apps().by_client_id("cli").await.unwrap(), Some(cli.clone()));
    assert_eq!(
        store.apps().by_client_id("CLI").await.unwrap(),
        None,
        "client ids are exact"
    );
    assert_eq!(store.apps().count().await.unwrap(), 2);
    let using = store.apps().using_policy(dashboard_policy.id).await.unwrap();
    assert_eq!(
        using.iter().map(|a| a.client_id.as_str()).collect::<Vec<_>>(),
        ["dashboard"]
    );
    let first = store.apps().list(&PageRequest::first(1)).await.unwrap();
    assert_eq!(first.items[0].client_id.as_str(), "cli");
    let rest = store
        .apps()
        .list(&PageRequest::parse(Some(1), first.next.as_deref()).unwrap())
        .await
        .unwrap();
    assert_eq!(rest.items[0].client_id.as_str(), "dashboard");

    let mut tx = store.begin().await.unwrap();
    let err = tx.apps().insert(&app("dashboard")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "client_id" }),
        "{err}"
    );
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    let err = tx.policies().delete(dashboard_policy.id).await.unwrap_err();
    assert!(matches!(err, StoreError::InUse { what: "policy" }), "{err}");
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.apps()
            .set_secret_digest(dashboard.id, &"ef".repeat(32), at(5))
            .await
            .unwrap()
    );
    assert!(tx.apps().set_policy(dashboard.id, None, at(5)).await.unwrap());
    assert!(tx.policies().delete(dashboard_policy.id).await.unwrap());
    assert!(tx.apps().delete(cli.id).await.unwrap());
    tx.commit().await.unwrap();
    let stored = store.apps().get(dashboard.id).await.unwrap().unwrap();
    assert_eq!(stored.secret_digest.as_deref(), Some("ef".repeat(32).as_str()));
    assert_eq!(stored.policy_id, None);
    assert_eq!(stored.assignments.users, [alice.id]);
    assert_eq!(store.apps().get(cli.id).await.unwrap(), None);
}

async fn zones_round_trip_with_unique_names(store: Store) {
    let corp = NetworkZone {
        id: gatehouse_store::new_id(),
        name: ZoneName::parse("corp").unwrap(),
        cidrs: vec![
            Cidr::parse("127.0.0.0/8").unwrap(),
            Cidr::parse("::1/128").unwrap(),
        ],
        blocked_cidrs: vec![],
        location: Some(gatehouse_policy::GeoPoint::new(51.5072, -0.1276).unwrap()),
        created_at: at(0),
        updated_at: at(0),
    };
    let mut tx = store.begin().await.unwrap();
    tx.zones().insert(&corp).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.zones().by_name("CORP").await.unwrap(), Some(corp.clone()));

    let mut dup = corp.clone();
    dup.id = gatehouse_store::new_id();
    dup.name = ZoneName::parse("Corp").unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.zones().insert(&dup).await,
        Err(StoreError::Duplicate { field: "name" })
    ));
    drop(tx);

    let mut changed = corp.clone();
    changed.blocked_cidrs = vec![Cidr::parse("127.0.0.9").unwrap()];
    let mut tx = store.begin().await.unwrap();
    assert!(tx.zones().update(&changed).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.zones().list().await.unwrap(), vec![changed]);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.zones().delete(corp.id).await.unwrap());
    tx.commit().await.unwrap();
    assert!(store.zones().list().await.unwrap().is_empty());
}

async fn enrollment_counters_refuse_replays(store: Store) {
    let alice = user("alice");
    let totp = enrollment(alice.id, AuthenticatorKey::Totp);
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.enrollments().insert(&totp).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.enrollments().get(totp.id).await.unwrap(),
        Some(totp.clone())
    );

    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.enrollments()
            .record_use(totp.id, at(30), Some(100))
            .await
            .unwrap()
    );
    assert!(
        !tx.enrollments()
            .record_use(totp.id, at(31), Some(100))
            .await
            .unwrap(),
        "same step twice"
    );
    assert!(
        !tx.enrollments()
            .record_use(totp.id, at(31), Some(99))
            .await
            .unwrap(),
        "older step"
    );
    assert!(
        tx.enrollments()
            .record_use(totp.id, at(60), Some(101))
            .await
            .unwrap()
    );
    assert!(tx.enrollments().record_use(totp.id, at(61), None).await.unwrap());
    tx.commit().await.unwrap();
    let stored = store.enrollments().get(totp.id).await.unwrap().unwrap();
    assert_eq!(stored.counter, Some(101));
    assert_eq!(stored.last_used_at, Some(at(61)));

    let mut changed = stored.clone();
    changed.status = EnrollmentStatus::Inactive;
    changed.name = Some("phone".into());
    let mut tx = store.begin().await.unwrap();
    assert!(tx.enrollments().update(&changed).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        store.enrollments().of_user(alice.id).await.unwrap(),
        vec![changed]
    );
    let mut tx = store.begin().await.unwrap();
    assert!(tx.enrollments().delete(totp.id).await.unwrap());
    tx.commit().await.unwrap();
    assert!(store.enrollments().of_user(alice.id).await.unwrap().is_empty());
}

async fn devices_and_their_enrollments(store: Store) {
    let alice = user("alice");
    let laptop = device(alice.id);
    let mut verify = enrollment(alice.id, AuthenticatorKey::Device);
    verify.device_id = Some(laptop.id);
    // A device and its enrollment are one transaction.
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.devices().insert(&laptop).await.unwrap();
    tx.enrollments().insert(&verify).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.devices().get(laptop.id).await.unwrap(),
        Some(laptop.clone())
    );
    assert_eq!(
        store.devices().of_user(alice.id).await.unwrap(),
        vec![laptop.clone()]
    );
    assert_eq!(
        store.enrollments().of_device(laptop.id).await.unwrap(),
        vec![verify.clone()]
    );

    let mut deactivated = laptop.clone();
    deactivated.status = DeviceStatus::Deactivated;
    deactivated.uv_public_key = Some("{}".into());
    deactivated.uv_level = Some(UserVerification::Biometric);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.devices().update(&deactivated).await.unwrap());
    assert_eq!(
        tx.enrollments()
            .deactivate_of_device(laptop.id, at(9))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tx.enrollments()
            .deactivate_of_device(laptop.id, at(9))
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
    assert_eq!(store.devices().get(laptop.id).await.unwrap(), Some(deactivated));
    let stored = store.enrollments().get(verify.id).await.unwrap().unwrap();
    assert_eq!(stored.status, EnrollmentStatus::Inactive);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.devices().delete(laptop.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.enrollments().get(verify.id).await.unwrap(), None);
}

async fn console_tokens_carry_their_session_and_end_with_it(store: Store) {
    let binding = AdminTokenBinding {
        session_id: "s1",
        user_id: "u1",
        expires_at: at(900),
    };
    let mut tx = store.begin().await.unwrap();
    for (id, digest) in [("c1", "a1"), ("c2", "a2")] {
        assert!(
            tx.admin_tokens()
                .insert_for_session(id, "console", &digest.repeat(32), &binding, at(0))
                .await
                .unwrap()
        );
    }
    tx.admin_tokens()
        .insert("cli", "ci", &"a3".repeat(32), at(0))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let token = store
        .admin_tokens()
        .by_digest(&"a1".repeat(32))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.session_id.as_deref(), Some("s1"));
    assert_eq!(token.user_id.as_deref(), Some("u1"));
    assert_eq!(token.expires_at, Some(at(900)));
    let plain = store
        .admin_tokens()
        .by_digest(&"a3".repeat(32))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((plain.session_id, plain.expires_at), (None, None));

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.admin_tokens().revoke_of_session("s1", at(10)).await.unwrap(),
        2
    );
    assert_eq!(
        tx.admin_tokens().revoke_of_session("s1", at(11)).await.unwrap(),
        0
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store.admin_tokens().by_digest(&"a1".repeat(32)).await.unwrap(),
        None
    );
    assert!(
        store
            .admin_tokens()
            .by_digest(&"a3".repeat(32))
            .await
            .unwrap()
            .is_some(),
        "other tokens stay"
    );
}

async fn admin_tokens_authenticate_until_revoked(store: Store) {
    let digest = "12".repeat(32);
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.admin_tokens()
            .insert("t1", "ci", &digest, at(0))
            .await
            .unwrap()
    );
    assert!(
        !tx.admin_tokens()
            .insert("t2", "again", &digest, at(0))
            .await
            .unwrap(),
        "same digest"
    );
    tx.commit().await.unwrap();
    let token = store.admin_tokens().by_digest(&digest).await.unwrap().unwrap();
    assert_eq!((token.id.as_str(), token.name.as_str()), ("t1", "ci"));
    assert_eq!(store.admin_tokens().count_active().await.unwrap(), 1);
    let mut tx = store.begin().await.unwrap();
    tx.admin_tokens().touch("t1", at(5)).await.unwrap();
    assert!(tx.admin_tokens().revoke("t1", at(6)).await.unwrap());
    assert!(!tx.admin_tokens().revoke("t1", at(7)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.admin_tokens().by_digest(&digest).await.unwrap(), None);
    let listed = store.admin_tokens().list().await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(at(5)));
    assert_eq!(listed[0].revoked_at, Some(at(6)));
    assert_eq!(store.admin_tokens().count_active().await.unwrap(), 0);
}

async fn settings_are_upserted(store: Store) {
    assert_eq!(store.settings().get("demo_seeded").await.unwrap(), None);
    let mut tx = store.begin().await.unwrap();
    tx.settings().set("demo_seeded", "1", at(0)).await.unwrap();
    tx.settings().set("demo_seeded", "2", at(1)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.settings().get("demo_seeded").await.unwrap().as_deref(),
        Some("2")
    );
}
